//! What darling-nix's tools know of Nix's store, in one place:
//!
//! * [`base32`]: Nix's base-32 (store path hashes, printed hashes);
//! * [`wire`]: the worker protocol's encoding (u64s, padded strings);
//! * [`nar`]: NAR serialisation, hashing, canonicalisation;
//! * [`refs`]: scanning bytes for references to store paths;
//! * [`drv`]: reading `.drv` files;
//! * [`db`]: opening a store's database read-only.
//!
//! The build hook writes stores; nix-install and nix-verify read them.

pub mod base32;
pub mod db;
pub mod drv;
pub mod nar;
pub mod refs;
pub mod wire;

//! What darling-nix's tools know of Nix's store, in one place:
//!
//! * [`base32`]: Nix's base-32 (store path hashes, printed hashes);
//! * [`wire`]: the worker protocol's encoding (u64s, padded strings);
//! * [`nar`]: NAR serialisation, hashing, canonicalisation;
//! * [`refs`]: scanning bytes for references to store paths;
//! * [`drv`]: reading `.drv` files;
//! * [`store`]: where a store's files are (`StoreLoc`, from Nix's `store`
//!   setting), the Nix at hand (`NixVersion`), registering built outputs
//!   (the store database, `nix-store --import`, `--register-validity`), and
//!   [`store::db`]: the database itself, written as Nix writes it or opened
//!   read-only.
//!
//! The build hook writes stores; nix-install and nix-verify read them.

#![warn(missing_docs)]

pub mod base32;
pub mod drv;
pub mod nar;
pub mod refs;
pub mod store;
pub mod wire;

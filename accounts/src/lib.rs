//! The local directory node of a Darling prefix: user and group records as
//! `dscl`, `dseditgroup` and `sysadminctl` see them, stored where Darling's
//! Libinfo reads them (`/etc/master.passwd` as root, `/etc/passwd` otherwise,
//! `/etc/group`), plus a sidecar for what those files cannot hold.
//!
//! See `docs/accounts.md` for the storage format and the mapping.

#![warn(missing_docs)]

pub mod attr;
pub mod ds;
pub mod files;
mod kind;
mod mapping;
mod record;
mod sidecar;
mod store;
mod tracked;
pub mod validate;

pub use ds::DsStatus;
pub use store::{Kind, Record, Store, StoreError};

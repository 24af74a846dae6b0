//! Shared plumbing for the in-prefix tools.
//!
//! * [`Prefix`]: where the Darling prefix root is. Darling execs our ELF tools
//!   natively, so they see the *host* root and `DPREFIX` is unset; each tool
//!   has to find the prefix itself (see `docs/architecture.md`).
//! * [`FileSet`]: replace several files so that a crash at any point leaves
//!   either all old or all new contents (lock, write+fsync, journal, rename).
//! * [`privileged`]: whether the caller counts as root the way Darling's own
//!   `geteuid` emulation decides it.
//! * [`sysexits`]: the BSD exit statuses the tools share.
//! * [`run_tool`], [`text_args`]: the macOS tools' one `main` shape, and
//!   their argv as text, never a panic.

#![warn(missing_docs)]

mod args;
mod commit;
mod prefix;
pub mod sysexits;
mod uuid;

pub use args::{run_tool, text_args, NOT_UTF8};
pub use commit::{write_atomic, FileSet, Lock, PendingWrite};
pub use prefix::{overlay_mounts, privileged, Prefix, PrefixError, SYSTEM_ROOT};
pub use uuid::new_uuid;

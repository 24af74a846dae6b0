//! `getattrlist`, `fgetattrlist` and `getattrlistat`, packed the way XNU
//! packs them: a u32 length, then ATTR_CMN_RETURNED_ATTRS (if asked) first,
//! then common, directory and file attributes in ascending bit order, every
//! field 4-byte aligned, variable data (the name) after the fixed area and
//! reached through an attrreference whose offset is relative to itself.
//!
//! Attributes we cannot answer at all give EINVAL, as Darling's own code
//! does, so callers such as Libc's `realpath` fall back to `lstat`.
//!
//! - [`abi`]: Darwin's structures, bits and sizes; request validation;
//! - [`pack`](mod@pack): laying out an answer from gathered facts (pure);
//! - [`gather`]: asking Linux for the facts;
//! - [`exports`]: the C entry points.

pub mod abi;
pub mod exports;
pub mod gather;
pub mod pack;

pub use abi::*;
pub use exports::*;
pub use gather::{getattr, Target};
pub use pack::{deliver, pack, Facts, MAX_PACKED};

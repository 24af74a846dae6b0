//! darling-nix's Nix build hook: answers Nix's build-hook protocol, runs
//! x86_64-darwin builders inside a Darling prefix that shares the host
//! store ("direct mode"), and registers their outputs.
//!
//! Module map: [`wire`] and [`protocol`] speak to Nix; [`decide`] and
//! [`slots`] answer `try`; [`drv`], [`env`](mod@env), [`runner`] and [`build`] run a
//! build; [`nar`], [`refs`] and [`store`] register it; [`forward`] chains
//! another hook; [`external`] is the Nix 2.32+ external-builders entry;
//! [`check`] is `--check`; [`error`] is the one error type all of them
//! return, with the exit status each failure ends in.

#![warn(missing_docs)]

// The store formats live in the nixstore library; kept at their old paths
// inside this crate.
pub use nixstore::{base32, drv, nar, refs, store, wire};

pub mod build;
pub mod check;
pub mod cli;
pub mod config;
pub mod decide;
pub mod env;
pub mod error;
pub mod external;
pub mod flood;
pub mod forward;
pub mod hook;
pub mod log;
pub mod nixconf;
pub mod protocol;
pub mod runner;
pub mod serve;
pub mod sign;
pub mod slots;

//! Apple's sandbox profile language (SBPL) as Nix and nixpkgs write it:
//! [`reader`] turns text into data with positions, [`eval`] runs the small
//! Scheme subset into a [`Policy`] (ordered rules, last match wins), and
//! [`plan`](mod@plan) maps a policy onto what Linux can enforce (Landlock paths, a
//! socket rule, a setuid rule) plus a list of what it cannot. No OS state is
//! touched except reading imported files.

#![warn(missing_docs)]

pub mod error;
pub mod eval;
pub mod fasthash;
pub mod plan;
pub mod policy;
pub mod reader;

pub use error::{Error, Kind, Pos};
pub use eval::{evaluate, evaluate_file, Options};
pub use plan::{plan, Plan};
pub use policy::{Action, Filter, Policy, Resource, Rule};

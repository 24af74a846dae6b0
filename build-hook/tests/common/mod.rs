//! Shared by the build-hook tests. (Each test binary uses part of it.)
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// The build-hook binary under test.
pub(crate) fn hook() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_build-hook"))
}

/// `mk NAME SCRIPT`: a darwin derivation whose builder is busybox sh.
pub(crate) const PRELUDE: &str = r#"
let mk = name: script: derivation {
  inherit name; system = "x86_64-darwin"; builder = "/bin/sh";
  args = [ "-c" script ]; PATH = "/bin";
};
in "#;

/// A Nix expression: [`PRELUDE`] then `body`.
pub(crate) fn expr(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

/// Checks what the builds of a parallel test left in `counts`: one file
/// each, holding how many builds were running when it started. All
/// `builds` ran, never more than `slots` at once, and at some point all
/// `slots` together.
pub(crate) fn assert_slots_used(counts: &Path, builds: usize, slots: u32) {
    let n: Vec<u32> = fs::read_dir(counts)
        .unwrap()
        .map(|e| {
            fs::read_to_string(e.unwrap().path())
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(n.len(), builds);
    let max = *n.iter().max().unwrap();
    assert!(
        max <= slots,
        "{max} builds ran at once with {slots} slots: {n:?}"
    );
    assert_eq!(
        max, slots,
        "the {slots} slots were never used together: {n:?}"
    );
}

//! Shared by the build-hook tests. (Each test binary uses part of it.)
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::Out;

/// The build-hook binary under test.
pub(crate) fn hook() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_build-hook"))
}

/// Runs the hook with `input` on stdin (then EOF) and fails the test if it
/// does not exit within 10 s: a hook that hangs blocks all of Nix.
pub(crate) fn session(config: &Path, args: &[&str], input: &[u8]) -> Out {
    let mut child = Command::new(hook())
        .args(args)
        .env("DARLING_NIX_HOOK_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the hook hung on {} bytes of input", input.len());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap().into()
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

//! Shared by the fixture and live tests.

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether `jq -e filter` holds for `json`: the checks are written as a
/// user of `nix-verify --json` would script them.
pub(crate) fn jq(json: &str, filter: &str) -> bool {
    let mut c = Command::new("jq")
        .args(["-e", filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("jq (installed by .ci/run)");
    c.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
    c.wait().unwrap().success()
}

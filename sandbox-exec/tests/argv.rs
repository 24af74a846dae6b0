//! Any command line gets an answer, and the command's own arguments reach
//! it as the very bytes given (a Nix builder's arguments are not text).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use e2e::argv::{arg, argv, check_answer, config};
use proptest::prelude::*;

mod common;
use common::bin;

/// Options and their values; the operands are harmless commands (the
/// shell builtin `true` and `/bin/true`), so a random case runs nothing
/// else.
const WORDS: &[&str] = &[
    "-p",
    "-f",
    "-n",
    "-D",
    "-M",
    "-v",
    "-vn",
    "--",
    "-",
    "no-network",
    "no-write",
    "pure-computation",
    "(version 1)(allow default)",
    "(version 1)(deny default)",
    "(version 1",
    "X=1",
    "=",
    "off",
    "best-effort",
    "strict",
    "/nonexistent.sb",
    "true",
    "/bin/true",
];

fn sandbox_exec() -> Command {
    let mut c = Command::new(bin());
    c.env_remove("DARLING_PREFIX").env("PATH", "/usr/bin:/bin");
    c
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_argv_gets_an_answer(args in argv(WORDS, 7)) {
        let out = sandbox_exec().args(&args).output().unwrap();
        check_answer(&args, &out)?;
    }

    #[test]
    fn the_commands_arguments_pass_through_byte_for_byte(
        args in prop::collection::vec(arg(WORDS), 0..6)
    ) {
        // The child prints each argument followed by a NUL.
        let out = sandbox_exec()
            .args(["-p", "(version 1)(allow default)", "/bin/sh", "-c"])
            .arg("for a; do printf '%s\\0' \"$a\"; done")
            .arg("sh")
            .args(&args)
            .output()
            .unwrap();
        check_answer(&args, &out)?;
        let mut want = Vec::new();
        for a in &args {
            want.extend_from_slice(a.as_bytes());
            want.push(0);
        }
        prop_assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        prop_assert_eq!(out.stdout, want);
    }
}

/// The case from the field: a builder argument that is not UTF-8.
#[test]
fn a_builder_argument_that_is_not_utf8_reaches_the_builder() {
    use std::os::unix::ffi::OsStringExt;
    let raw = OsString::from_vec(b"\xff-arg".to_vec());
    let out = sandbox_exec()
        .args(["-n", "no-network", "/bin/echo"])
        .arg(&raw)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"\xff-arg\n");
}

//! Any command line gets an answer: an exit code and a message, never an
//! abort, and nothing changed when the answer is a failure.

use e2e::argv::{answers_in_fixture, argv, config};
use e2e::Fixture;
use proptest::prelude::*;

const WORDS: &[&str] = &[
    ".",
    "localhost",
    "/Local/Default",
    "-read",
    "-readall",
    "-list",
    "-search",
    "-create",
    "-append",
    "-merge",
    "-delete",
    "-change",
    "-changei",
    "-plist",
    "-raw",
    "-url",
    "-q",
    "/Users",
    "/Groups",
    "/Users/_nixbld1",
    "/Groups/nixbld",
    "/Users/root",
    "UniqueID",
    "PrimaryGroupID",
    "RealName",
    "GroupMembership",
    "NFSHomeDirectory",
    "351",
    "-2",
    "x",
];

proptest! {
    #![proptest_config(config())]
    #[test]
    fn any_argv_gets_an_answer(args in argv(WORDS, 6)) {
        answers_in_fixture(env!("CARGO_BIN_EXE_dscl"), &args)?;
    }
}

/// A record name that is not UTF-8 is refused as a bad name, not written.
#[test]
fn a_name_that_is_not_utf8_is_refused() {
    use std::os::unix::ffi::OsStringExt;
    let f = Fixture::new();
    let before = f.snapshot();
    let name = std::ffi::OsString::from_vec(b"/Users/a\xffb".to_vec());
    let out: e2e::Out = f
        .command(env!("CARGO_BIN_EXE_dscl"))
        .args([".", "-create"])
        .arg(&name)
        .args(["UniqueID", "400"])
        .output()
        .unwrap()
        .into();
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("eDSInvalidRecordName"), "{out:?}");
    assert_eq!(f.snapshot(), before);
    let read: e2e::Out = f
        .command(env!("CARGO_BIN_EXE_dscl"))
        .args([".", "-read"])
        .arg(&name)
        .output()
        .unwrap()
        .into();
    assert_ne!(read.code, 0, "{read:?}");
    assert!(!read.stderr.is_empty());
}

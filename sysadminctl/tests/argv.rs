//! Any command line gets an answer: an exit code and a message, never an
//! abort, and nothing changed when the answer is a failure.

use e2e::argv::{answers_in_fixture, argv, config};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "-addUser",
    "-deleteUser",
    "-fullName",
    "-UID",
    "-GID",
    "-shell",
    "-home",
    "-password",
    "-admin",
    "-roleAccount",
    "-keepHome",
    "-secure",
    "_nixbld1",
    "_nixbld2",
    "root",
    "Nix build user",
    "351",
    "-2",
    "/sbin/nologin",
    "/var/empty",
    "x",
];

proptest! {
    #![proptest_config(config())]
    #[test]
    fn any_argv_gets_an_answer(args in argv(WORDS, 8)) {
        answers_in_fixture(env!("CARGO_BIN_EXE_sysadminctl"), &args)?;
    }
}

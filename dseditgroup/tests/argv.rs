//! Any command line gets an answer: an exit code and a message, never an
//! abort, and nothing changed when the answer is a failure.

use e2e::argv::{answers_in_fixture, argv, config};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "-o",
    "-q",
    "-r",
    "-x",
    "-t",
    "-a",
    "-d",
    "-n",
    "-i",
    "-u",
    "-p",
    "-T",
    "-qo",
    "read",
    "create",
    "delete",
    "edit",
    "checkmember",
    "user",
    "group",
    ".",
    "/Local/Default",
    "nixbld",
    "_nixbld1",
    "root",
    "wheel",
    "350",
    "Nix build group",
    "x",
];

proptest! {
    #![proptest_config(config())]
    #[test]
    fn any_argv_gets_an_answer(args in argv(WORDS, 8)) {
        answers_in_fixture(env!("CARGO_BIN_EXE_dseditgroup"), &args)?;
    }
}

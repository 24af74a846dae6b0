//! Any command line gets an answer: an exit code and a message, never an
//! abort, and nothing changed when the answer is a failure.

use e2e::argv::{answers_in_fixture, argv, config};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "info",
    "-plist",
    "list",
    "apfs",
    "addVolume",
    "deleteVolume",
    "mount",
    "unmount",
    "umount",
    "force",
    "enableOwnership",
    "/",
    "disk1",
    "disk1s1",
    "disk1s7",
    "/dev/disk1",
    "APFS",
    "APFSX",
    "Nix Store",
    "-nomount",
    "-mountpoint",
    "/nix",
    "-quiet",
    "x",
];

proptest! {
    #![proptest_config(config())]
    #[test]
    fn any_argv_gets_an_answer(args in argv(WORDS, 6)) {
        answers_in_fixture(env!("CARGO_BIN_EXE_diskutil"), &args)?;
    }
}

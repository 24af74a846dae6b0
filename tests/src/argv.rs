//! Hostile command lines for every binary's property test: argument
//! vectors mixing the tool's own words (so the cases reach past the first
//! check), those words with bytes that are not UTF-8 inside, and random
//! bytes. Every binary must answer each with an exit code and a message,
//! never a signal (a panic aborts) and never a change on a failure.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use proptest::prelude::*;

/// One argument: a word of the tool's, the word with a non-UTF-8 byte
/// spliced in, or 0 to 12 random bytes (no NUL: argv cannot carry it).
pub fn arg(words: &'static [&'static str]) -> impl Strategy<Value = OsString> {
    let word = proptest::sample::select(words);
    prop_oneof![
        3 => word.clone().prop_map(OsString::from),
        2 => (word, any::<prop::sample::Index>(), 0x80u8..=0xff).prop_map(|(w, at, b)| {
            let mut v = w.as_bytes().to_vec();
            v.insert(at.index(v.len() + 1), b);
            OsString::from_vec(v)
        }),
        1 => prop::collection::vec(1u8..=0xff, 0..12).prop_map(OsString::from_vec),
    ]
}

/// 0 to `max` arguments built by [`arg`].
pub fn argv(words: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<OsString>> {
    prop::collection::vec(arg(words), 0..=max)
}

/// What every answer must be: an exit status (not a signal, so not an
/// abort), no Rust panic message, and something said on a failure.
pub fn check_answer(args: &[OsString], out: &Output) -> Result<i32, TestCaseError> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    prop_assert!(
        out.status.signal().is_none(),
        "{args:?}: killed by signal {:?}\n{stderr}",
        out.status.signal()
    );
    prop_assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    let code = out.status.code().expect("an exit code");
    if code != 0 {
        prop_assert!(
            !out.stderr.is_empty() || !out.stdout.is_empty(),
            "{args:?}: exit {code} without a word"
        );
    }
    Ok(code)
}

/// Test cases per binary: each one starts a process.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `program` with `args` in a fresh fixture prefix (stdin empty):
/// the answer must pass [`check_answer`], and a failure must leave the
/// prefix as it was.
pub fn answers_in_fixture(program: &str, args: &[OsString]) -> Result<(), TestCaseError> {
    let f = crate::Fixture::new();
    let before = data_tree(&f);
    let out = f.command(program).args(args).output().unwrap();
    if check_answer(args, &out)? != 0 {
        prop_assert!(
            data_tree(&f) == before,
            "{args:?} failed and changed the prefix"
        );
    }
    Ok(())
}

/// The prefix's files without the tools' lock files (and the state
/// directory holding them): a write that fails after taking its lock
/// leaves an empty lock file, which holds no data.
fn data_tree(f: &crate::Fixture) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let state = std::path::Path::new("private/var/db/darling-nix");
    f.tree()
        .into_iter()
        .filter(|(p, data)| {
            let lock = p.starts_with(state)
                && p.extension().is_some_and(|e| e == "lock")
                && data.is_empty();
            !lock && p != state && p != std::path::Path::new("private/var/db")
        })
        .collect()
}

//! Shared by the build-hook tests.

use std::fs;
use std::path::Path;

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

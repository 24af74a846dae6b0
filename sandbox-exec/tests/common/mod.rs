//! Shared by the sandbox-exec tests (each uses part of it).
#![allow(dead_code)]

use std::path::PathBuf;

pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sandbox-exec"))
}

/// A scratch directory outside /tmp and /var/tmp (temporary directories
/// are writable under some named profiles, and the checkout itself may be
/// under /tmp), and its path.
pub(crate) fn workdir() -> (tempfile::TempDir, PathBuf) {
    workdir_in(&["/dev/shm", "/root", "/var/lib"])
}

/// A scratch directory in the first of `bases` where one can be made, and
/// its path.
pub(crate) fn workdir_in(bases: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let base = bases
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir() && tempfile::tempdir_in(p).is_ok())
        .expect("a writable directory outside the temporary ones");
    let d = tempfile::tempdir_in(base).unwrap();
    let w = d.path().to_path_buf();
    (d, w)
}

//! Builds the staticlib the way Darling's build would (release, fat LTO,
//! the `staticlib` feature) into the test scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds `libxnu_fixes.a` with `features`; returns its path.
pub fn staticlib(variant: &str, features: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("xnu-staticlib-{variant}"));
    let out = Command::new(env!("CARGO"))
        .args([
            "rustc",
            "-q",
            "-p",
            "xnu-fixes",
            "--release",
            "--locked",
            "--crate-type",
            "staticlib",
            "--features",
            features,
        ])
        .arg("--manifest-path")
        .arg(workspace().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .output()
        .expect("cargo");
    assert!(
        out.status.success(),
        "building the staticlib failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = target.join("release/libxnu_fixes.a");
    assert!(lib.exists());
    lib
}

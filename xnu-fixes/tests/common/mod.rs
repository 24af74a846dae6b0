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

/// Builds `libxnu_fixes.a` with `features` for the host; returns its path.
#[allow(dead_code)] // not every test binary builds for the host
pub fn staticlib(variant: &str, features: &str) -> PathBuf {
    staticlib_for(variant, features, None)
}

/// Builds `libxnu_fixes.a` with `features`, for `triple` (a Rust target
/// that must be installed) or the host; returns its path.
pub fn staticlib_for(variant: &str, features: &str, triple: Option<&str>) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("xnu-staticlib-{variant}"));
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
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
    ]);
    if let Some(t) = triple {
        cmd.args(["--target", t]);
    }
    let out = cmd
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
    let lib = match triple {
        Some(t) => target.join(t).join("release/libxnu_fixes.a"),
        None => target.join("release/libxnu_fixes.a"),
    };
    assert!(lib.exists());
    lib
}

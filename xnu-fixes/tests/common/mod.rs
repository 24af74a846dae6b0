//! Builds the staticlib the way Darling's build would (release, fat LTO,
//! the `staticlib` feature) into the test scratch directory, for the host
//! or for Darwin; and the tools the Mach-O tests need.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds `libxnu_fixes.a` with `features` for the host; returns its path.
#[allow(dead_code)] // not every test binary builds for the host
pub(crate) fn staticlib(variant: &str, features: &str) -> PathBuf {
    staticlib_for(variant, features, None)
}

/// Builds `libxnu_fixes.a` with `features`, for `triple` (a Rust target
/// that must be installed) or the host; returns its path.
pub(crate) fn staticlib_for(variant: &str, features: &str, triple: Option<&str>) -> PathBuf {
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

/// The Rust target Darling's libsystem_kernel needs.
#[allow(dead_code)]
pub(crate) const DARWIN: &str = "x86_64-apple-darwin";

/// Makes sure the Rust target for Darwin is installed (running `rustup
/// target add` if it is not). `Err` says why it cannot be.
#[allow(dead_code)]
pub(crate) fn ensure_darwin_target() -> Result<(), String> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let have = |s: &str| {
        std::path::Path::new(s)
            .join("lib/rustlib")
            .join(DARWIN)
            .join("lib")
            .is_dir()
    };
    if have(&sysroot) {
        return Ok(());
    }
    let out = Command::new("rustup")
        .args(["target", "add", DARWIN])
        .output()
        .map_err(|e| format!("the {DARWIN} target is missing and rustup cannot run: {e}"))?;
    if out.status.success() && have(&sysroot) {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add {DARWIN}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Skips a test that needs a tool this machine lacks, with one line saying
/// why, unless `DARLING_NIX_LIVE=require` (CI), where that is a failure.
#[allow(dead_code)]
pub(crate) fn skip(test: &str, why: &str) {
    assert!(
        !e2e::live::required(),
        "{test} required (DARLING_NIX_LIVE=require) but {why}"
    );
    e2e::skip_line(&format!("skipped {test}: {why}"));
}

/// Darling's install root (`<root>/bin/darling`): its Mach-O toolchain and
/// the prefix's read-only layer are under `<root>/libexec`.
#[allow(dead_code)] // only the tests that use an installed Darling
pub(crate) fn darling_root() -> Option<PathBuf> {
    let bin = std::fs::canonicalize(e2e::live::darling_bin()?).ok()?;
    Some(bin.parent()?.parent()?.to_path_buf())
}

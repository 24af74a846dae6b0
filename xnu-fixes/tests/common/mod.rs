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
/// why; a failure where CI requires the tools (`DARLING_NIX_TOOLS=require`)
/// or the live tier (`DARLING_NIX_LIVE=require`).
#[allow(dead_code)]
pub(crate) fn skip(test: &str, why: &str) {
    assert!(
        !e2e::live::required(),
        "{test} required (DARLING_NIX_LIVE=require) but {why}"
    );
    e2e::skip_tool(test, why);
}

/// Darling's installed `libsystem_kernel.dylib`, found next to the
/// `darling` on PATH (`<root>/bin/darling`, `<root>/libexec/darling/...`).
#[allow(dead_code)] // only the tests that use an installed Darling
pub(crate) fn darling_kernel() -> Option<PathBuf> {
    let bin = std::fs::canonicalize(e2e::live::darling_bin()?).ok()?;
    Some(
        bin.parent()?
            .parent()?
            .join("libexec/darling/usr/lib/system/libsystem_kernel.dylib"),
    )
    .filter(|k| k.exists())
}

/// The zig pinned for Mach-O test programs (PyPI `ziglang`; `.ci/run`
/// installs it).
#[allow(dead_code)]
pub(crate) const ZIG_VERSION: &str = "0.12.0";

/// zig, found as `$ZIG`, `zig` on PATH, or the `ziglang` Python package
/// (`pip install ziglang==0.12.0`). `Err` says why none is usable.
#[allow(dead_code)]
pub(crate) fn zig() -> Result<PathBuf, String> {
    static ZIG: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    ZIG.get_or_init(|| {
        let from_python = || -> Option<PathBuf> {
            let out = Command::new("python3")
                .args(["-c", "import ziglang, os; print(os.path.dirname(ziglang.__file__))"])
                .output()
                .ok()?;
            let dir = String::from_utf8(out.stdout).ok()?;
            Some(Path::new(dir.trim()).join("zig")).filter(|z| out.status.success() && z.exists())
        };
        let zig = std::env::var_os("ZIG")
            .map(PathBuf::from)
            .or_else(|| which::which("zig").ok())
            .or_else(from_python)
            .ok_or_else(|| {
                format!("no zig (`pip install ziglang=={ZIG_VERSION}`, or ZIG=/path/to/zig)")
            })?;
        let out = Command::new(&zig)
            .arg("version")
            .output()
            .map_err(|e| format!("{}: {e}", zig.display()))?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if version != ZIG_VERSION {
            return Err(format!(
                "{} is zig {version:?}; the tests pin {ZIG_VERSION} (`pip install ziglang=={ZIG_VERSION}`)",
                zig.display()
            ));
        }
        Ok(zig)
    })
    .clone()
}

/// Builds a Mach-O program for x86_64 macOS 11 from `sources` (C files and
/// archives) with zig and its own libSystem stubs: no SDK, no Darling.
/// Symbols only Darling exports are looked up at run time by the programs
/// themselves, so the link fails on anything the stubs lack.
#[allow(dead_code)]
pub(crate) fn build_macho(sources: &[PathBuf], exe: &Path) -> Result<(), String> {
    let zig = zig()?;
    // zig keeps its caches under $HOME by default, which may be another
    // user's 0700 home: keep them with the build.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zig-cache");
    let out = Command::new(zig)
        .args(["cc", "-target", "x86_64-macos.11.0"])
        .args(["-O1", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(workspace().join("xnu-fixes/include"))
        .args(sources)
        .arg("-o")
        .arg(exe)
        .env("ZIG_GLOBAL_CACHE_DIR", cache.join("global"))
        .env("ZIG_LOCAL_CACHE_DIR", cache.join("local"))
        .output()
        .map_err(|e| format!("zig: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "zig cc (Mach-O) failed for {}:\n{}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The test C sources, by file name.
/// libxnu_fixes.dylib (and xnu-fixes-probe beside it), built by
/// `dylib/build.sh` into `<CARGO_TARGET_TMPDIR>/<dir>`; needs the Darwin
/// target and zig.
#[allow(dead_code)]
pub(crate) fn build_dylib(dir: &str) -> Result<PathBuf, String> {
    ensure_darwin_target()?;
    let zig = zig()?;
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let dylib = target.join("libxnu_fixes.dylib");
    let out = Command::new("bash")
        .arg(workspace().join("xnu-fixes/dylib/build.sh"))
        .arg(&dylib)
        .env("CARGO_TARGET_DIR", &target)
        .env("ZIG", &zig)
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if !out.status.success() {
        panic!("build.sh: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(dylib)
}

#[allow(dead_code)]
pub(crate) fn c_source(name: &str) -> PathBuf {
    workspace().join("xnu-fixes/tests/c").join(name)
}

/// The Mach-O test programs: (name, sources). `live_suite` carries the
/// Darwin archive and the glue that finds Darling's hooks at run time.
#[allow(dead_code)]
pub(crate) fn macho_programs() -> Vec<(&'static str, Vec<PathBuf>)> {
    vec![
        ("darling-today", vec![c_source("darling_today.c")]),
        (
            "live-suite",
            vec![
                c_source("live_suite.c"),
                workspace().join("xnu-fixes/dylib/darling_hooks.c"),
                staticlib_for("prod-darwin", "staticlib", Some(DARWIN)),
            ],
        ),
    ]
}

/// An LLVM tool (`llvm-objdump`, `llvm-nm`), under the plain or a
/// versioned name.
#[allow(dead_code)]
pub(crate) fn llvm(tool: &str) -> Option<PathBuf> {
    which::which(tool).ok().or_else(|| {
        (10..=30)
            .rev()
            .find_map(|v| which::which(format!("{tool}-{v}")).ok())
    })
}

/// A tool's standard output, which must succeed.
#[allow(dead_code)]
pub(crate) fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("llvm tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

//! The handlers called from Mach-O code inside a live Darling, compared with
//! the same calls on Linux.
//!
//! `tests/c/live_suite.c` is built twice: as a Mach-O program (Debian's
//! clang, Darling's linker and SDK, the `x86_64-apple-darwin` archive and a
//! small glue over Darling's exported `__darling_vchroot_expand`), and as a
//! Linux program against the linux-shim archive. Inside one prefix both run
//! on a directory under the prefix and on one under `/Volumes/SystemRoot`
//! (the host), each with a second directory on another filesystem. The
//! Linux program runs inside Darling's mount namespace too, so both see the
//! same filesystems (the prefix is an overlay there). Each prints a
//! transcript: return values, what its platform's own calls observe, and
//! consistency checks against its own `lstat`. The transcripts must be
//! equal line by line, and every check must say "yes".

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Darling's install root (`<root>/bin/darling`): its Mach-O toolchain and
/// the prefix's read-only layer are under `<root>/libexec`.
fn darling_root() -> Option<PathBuf> {
    let bin = e2e::live::darling_bin()?;
    let bin = fs::canonicalize(bin).ok()?;
    Some(bin.parent()?.parent()?.to_path_buf())
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the Mach-O suite as `/work/shared/darling/README.md` shows.
fn build_macho(root: &Path, lib: &Path, exe: &Path) {
    let ws = common::workspace();
    let tc = root.join("libexec/darling-toolchain");
    let sys = root.join("libexec/darling");
    let mut ld_root = std::ffi::OsString::from("-Wl,-syslibroot,");
    ld_root.push(&sys);
    let mut fuse_ld = std::ffi::OsString::from("--ld-path=");
    fuse_ld.push(tc.join("bin/x86_64-apple-darwin20-ld"));
    run(
        Command::new("clang")
            .args(["-target", "x86_64-apple-darwin20", "-DPLATFORM_MacOSX"])
            .args(["-O1", "-Wall", "-Wextra", "-Werror", "-isysroot"])
            .arg(tc.join("SDKs/MacOSX.sdk"))
            .arg(fuse_ld)
            .arg(ld_root)
            .arg(format!("-L{}", sys.join("usr/lib").display()))
            .arg(format!("-L{}", sys.join("usr/lib/system").display()))
            .arg("-I")
            .arg(ws.join("xnu-fixes/include"))
            .arg(ws.join("xnu-fixes/tests/c/live_suite.c"))
            .arg(ws.join("xnu-fixes/tests/c/darling_glue.c"))
            .arg(lib)
            .arg("-lsystem_kernel")
            .arg("-o")
            .arg(exe),
        "clang (Mach-O)",
    );
}

fn build_linux(lib: &Path, exe: &Path) {
    let ws = common::workspace();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    run(
        Command::new(cc)
            .args([
                "-std=c11",
                "-D_GNU_SOURCE",
                "-O1",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-I",
            ])
            .arg(ws.join("xnu-fixes/include"))
            .arg(ws.join("xnu-fixes/tests/c/live_suite.c"))
            .arg(lib)
            .arg("-o")
            .arg(exe),
        "cc (Linux)",
    );
}

/// One run of the suite: where its transcript goes, its base and other
/// directories as the program sees them.
struct Run {
    name: &'static str,
    program: String,
    base: String,
    other: String,
}

#[test]
fn handlers_from_macho_code_inside_darling_match_linux() {
    const TEST: &str = "xnu-fixes live suite";
    let Some(p) = e2e::live::LivePrefix::new("xnu_fixes_macho") else {
        return;
    };
    if let Err(why) = common::ensure_darwin_target() {
        return common::skip(TEST, &why);
    }
    let Some(root) = darling_root().filter(|r| {
        r.join("libexec/darling-toolchain/bin/x86_64-apple-darwin20-ld")
            .exists()
    }) else {
        return common::skip(
            TEST,
            "no Darling Mach-O toolchain (libexec/darling-toolchain, from ../shared/darling/install.sh)",
        );
    };
    if which::which("clang").is_err() {
        return common::skip(TEST, "no clang (Debian package `clang`)");
    }

    let scratch = p.scratch();
    let macho = scratch.join("suite-macho");
    let linux = scratch.join("suite-linux");
    build_macho(
        &root,
        &common::staticlib_for("prod-darwin", "staticlib", Some(common::DARWIN)),
        &macho,
    );
    build_linux(&common::staticlib("shim", "staticlib,linux-shim"), &linux);

    // Directories on the host side (under /Volumes/SystemRoot inside); the
    // ones under the prefix are made inside, by Darling's own mkdir.
    for d in [
        "macho/other",
        "macho-sys/base",
        "linux/other",
        "linux-sys/base",
    ] {
        fs::create_dir_all(scratch.join(d)).unwrap();
    }
    let host = |rel: &str| scratch.join(rel).display().to_string();
    let inside = |rel: &str| p.inside(&scratch.join(rel));
    let in_prefix = "/private/tmp/xnu-live";
    let prefix_host = format!("{}{in_prefix}", p.prefix().display());
    let runs = [
        Run {
            name: "macho-prefix",
            program: p.inside(&macho),
            base: format!("{in_prefix}/macho/base"),
            other: inside("macho/other"),
        },
        Run {
            name: "macho-sysroot",
            program: p.inside(&macho),
            base: inside("macho-sys/base"),
            other: format!("{in_prefix}/macho-sys/other"),
        },
        Run {
            name: "linux-prefix",
            program: p.inside(&linux),
            base: format!("{prefix_host}/linux/base"),
            other: host("linux/other"),
        },
        Run {
            name: "linux-sysroot",
            program: p.inside(&linux),
            base: host("linux-sys/base"),
            other: format!("{prefix_host}/linux-sys/other"),
        },
    ];
    let mut script = format!(
        "mkdir -p {d}/macho/base {d}/macho-sys/other {d}/linux/base {d}/linux-sys/other || exit 99\n",
        d = in_prefix
    );
    for r in &runs {
        script += &format!(
            "'{prog}' '{base}' '{other}' > '{out}' 2> '{err}'; echo $? > '{rc}'\n",
            prog = r.program,
            base = r.base,
            other = r.other,
            out = inside(&format!("{}.out", r.name)),
            err = inside(&format!("{}.err", r.name)),
            rc = inside(&format!("{}.rc", r.name)),
        );
    }
    let out = p.shell(&script);
    assert_eq!(out.code, 0, "darling shell: {out:?}");

    let read = |name: &str| -> Vec<String> {
        let rc = fs::read_to_string(scratch.join(format!("{name}.rc"))).unwrap_or_default();
        let err = fs::read_to_string(scratch.join(format!("{name}.err"))).unwrap_or_default();
        let text = fs::read_to_string(scratch.join(format!("{name}.out"))).unwrap_or_default();
        assert_eq!(rc.trim(), "0", "{name} exited {rc}: {err}\n{text}");
        let lines: Vec<String> = text.lines().map(String::from).collect();
        // The program counts its own lines: a transcript cut short fails.
        let last = lines.last().cloned().unwrap_or_default();
        assert_eq!(last, format!("done {}", lines.len()), "{name} incomplete");
        assert!(lines.len() > 450, "{name}: only {} lines", lines.len());
        let failed: Vec<_> = lines
            .iter()
            .filter(|l| l.split_whitespace().any(|w| w == "no"))
            .collect();
        assert!(
            failed.is_empty(),
            "{name}: consistency checks failed: {failed:#?}"
        );
        lines
    };
    for (darwin, linux) in [
        ("macho-prefix", "linux-prefix"),
        ("macho-sysroot", "linux-sysroot"),
    ] {
        let (d, l) = (read(darwin), read(linux));
        let diff: Vec<String> = d
            .iter()
            .zip(&l)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("Darling: {a}\n  Linux: {b}"))
            .collect();
        assert!(
            diff.is_empty() && d.len() == l.len(),
            "{darwin} differs from {linux} in {} lines:\n{}",
            diff.len(),
            diff.join("\n")
        );
    }
    // The Mach-O program really ran on the two filesystems it was given:
    // the cross-filesystem cases saw EXDEV from the kernel.
    let d = read("macho-prefix");
    assert!(
        d.iter()
            .any(|l| l.starts_with("fclonefileat cross-fs rc=-18 ")),
        "no EXDEV across filesystems: {d:#?}"
    );
}

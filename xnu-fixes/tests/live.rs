//! The handlers called from Mach-O code inside a live Darling, compared with
//! the same calls on Linux.
//!
//! `tests/c/live_suite.c` is built twice: as a Mach-O program (zig from
//! PyPI, the `x86_64-apple-darwin` archive and a small glue that finds
//! Darling's exported `__linux_syscall` and `__darling_vchroot_expand` at
//! run time), and as a
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
use std::time::Duration;

/// No core files: a prefix's Darling processes (darlingserver, launchd,
/// shellspawn) inherit this process's limits and cwd, which is the checkout,
/// and Darling's shellspawn dumps core when the sandbox_init case crashes.
fn no_core_dumps() {
    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(Resource::RLIMIT_CORE, 0, 0).expect("setrlimit(RLIMIT_CORE, 0)");
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

/// Builds one of `common::macho_programs()` into `dir`, or says why not.
fn build_macho(name: &str, dir: &Path) -> Result<PathBuf, String> {
    let sources = common::macho_programs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s)
        .expect("a known program");
    let exe = dir.join(name);
    common::build_macho(&sources, &exe)?;
    Ok(exe)
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
    no_core_dumps();
    let Some(p) = e2e::live::LivePrefix::new("xnu_fixes_macho") else {
        return;
    };
    if let Err(why) = common::ensure_darwin_target() {
        return common::skip(TEST, &why);
    }
    let scratch = p.scratch();
    let macho = match build_macho("live-suite", &scratch) {
        Ok(exe) => exe,
        Err(why) => return common::skip(TEST, &why),
    };
    let linux = scratch.join("suite-linux");
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
    // In the scratch directory (not the checkout, which is the inherited
    // cwd), without core dumps.
    let mut script = format!(
        "ulimit -c 0; cd '{}' || exit 99\nmkdir -p {d}/macho/base {d}/macho-sys/other {d}/linux/base {d}/linux-sys/other || exit 99\n",
        p.inside(&scratch),
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

/// Darling's own answers (its libSystem and syscall table, no xnu-fixes)
/// for the requests the handlers take over, as docs/tools/xnu-fixes.md's
/// "Darling today" column says. Each assertion is that Darling still gets
/// it wrong where our handler gets it right; when one fails, Darling has
/// fixed that call and the handler and the doc row need another look.
#[test]
fn unpatched_darling_still_needs_each_handler() {
    const TEST: &str = "xnu-fixes Darling-today check";
    no_core_dumps();
    let Some(p) = e2e::live::LivePrefix::new("xnu_fixes_today") else {
        return;
    };
    let scratch = p.scratch();
    let prog = match build_macho("darling-today", &scratch) {
        Ok(exe) => exe,
        Err(why) => return common::skip(TEST, &why),
    };
    let inside = p.inside(&prog);
    // Darling's programs inherit this test's cwd (the checkout): run in the
    // scratch directory, and without core dumps (one case crashes).
    let script = |args: &str| {
        format!(
            "ulimit -c 0; rm -rf /private/tmp/today; mkdir -p /private/tmp/today && cd '{}' && '{inside}' {args}",
            p.inside(&scratch)
        )
    };
    let today = |args: &str| p.shell(&script(args));
    let out = today("/private/tmp/today");
    eprintln!("Darling today:\n{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{out:?}");
    let result = |case: &str| -> (i64, i32) {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{case} rc=")))
            .unwrap_or_else(|| panic!("no {case} in {out:?}"));
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap()
                .to_string()
        };
        (
            field("rc=").parse().unwrap(),
            field("errno=").parse().unwrap(),
        )
    };
    const ENOSYS: i32 = 78;
    // Ours: SWAP exchanges, EXCL gives EEXIST. Darling: syscall 488 missing.
    assert_eq!(result("renamex_np swap"), (-1, ENOSYS));
    assert_eq!(result("renamex_np excl"), (-1, ENOSYS));
    // Ours: ENOTSUP or EXDEV, on which callers copy. Darling: ENOSYS.
    assert_eq!(result("clonefile"), (-1, ENOSYS));
    // Ours: answered. Darling: refused (realpath falls back to lstat).
    assert_eq!(result("getattrlist realpath-attrs").0, -1);
    // Ours: 0 (Nix's lchflags). Darling: refused.
    assert_eq!(result("setattrlist flags-0-nofollow").0, -1);
    assert_eq!(result("chflags 0").0, -1);
    // Ours: EINVAL above 256 bytes. Darling: no limit.
    assert_eq!(result("getentropy 257"), (0, 0));
    // Ours: returns 0. Darling's libsandbox writes through the NULL
    // errorbuf: the program dies before printing (the same call with an
    // errorbuf works).
    let buf = today("--sandbox-buf");
    assert!(
        buf.code == 0 && buf.stdout.contains("sandbox_init errorbuf rc=0"),
        "{buf:?}"
    );
    // Its crash ends the session: run once, not again as for a lost one.
    let null = p.shell_single(
        &format!("{}\nexit $?", script("--sandbox-null")),
        Duration::from_secs(300),
    );
    eprintln!("sandbox_init(NULL errorbuf): {null:?}");
    assert!(
        null.code != 0 && !null.stdout.contains("rc="),
        "Darling's sandbox_init now survives a NULL errorbuf: {null:?}"
    );
}

/// The failures behind zig's hang and crashes in Darling, measured with
/// Darling's own libSystem and then with libxnu_fixes.dylib loaded: a soft
/// `RLIMIT_NOFILE` lowered under Darling's darlingserver sockets breaks the
/// next fork (Darling) or is kept at its start-up value (xnu-fixes);
/// `os_unfair_lock_lock` excludes nobody (Darling) or does (xnu-fixes); the
/// ulock calls answer as XNU does only with the dylib.
#[test]
fn the_dylib_keeps_fork_and_ulock_working_where_darling_does_not() {
    const TEST: &str = "xnu-fixes dylib in Darling";
    no_core_dumps();
    let Some(p) = e2e::live::LivePrefix::new("xnu_fixes_dylib") else {
        return;
    };
    let scratch = p.scratch();
    let (prog, dylib) = match (
        build_macho("darling-today", &scratch),
        common::build_dylib("live-dylib"),
    ) {
        (Ok(prog), Ok(dylib)) => (prog, dylib),
        (Err(why), _) | (_, Err(why)) => return common::skip(TEST, &why),
    };
    let (prog, dylib) = (p.inside(&prog), p.inside(&dylib));
    // Darling's own fork after a lowered limit never ends: a time limit,
    // after which the prefix is shut down (so that run comes last).
    let run = |args: &str, interpose: bool, limit: u64| {
        let env = if interpose {
            format!("DYLD_INSERT_LIBRARIES='{dylib}' ")
        } else {
            String::new()
        };
        let out = p.shell_timeout(
            &format!("ulimit -c 0; {env}'{prog}' {args}"),
            Duration::from_secs(limit),
        );
        eprintln!("{args} (dylib: {interpose}):\n{}{}", out.stdout, out.stderr);
        out
    };
    let line = |out: &e2e::Out, key: &str| -> Option<String> {
        out.stdout
            .lines()
            .find(|l| l.starts_with(key))
            .map(str::to_string)
    };
    let want = |out: &e2e::Out, key: &str, expect: &str| {
        assert_eq!(line(out, key).as_deref(), Some(expect), "{out:?}");
    };

    let ours = run("--nofile", true, 300);
    want(
        &ours,
        "fork-after-nofile",
        "fork-after-nofile child=exited:0",
    );

    let ours = run("--unfair-lock", true, 300);
    want(
        &ours,
        "os_unfair_lock trylock-held",
        "os_unfair_lock trylock-held rc=0 errno=0",
    );
    want(
        &ours,
        "os_unfair_lock counted",
        "os_unfair_lock counted=400000 of 400000",
    );

    let ours = run("--ulock", true, 300);
    want(
        &ours,
        "ulock_wait2 value-differs",
        "ulock_wait2 value-differs rc=1 errno=0",
    );
    want(
        &ours,
        "ulock_wait no-errno-null",
        "ulock_wait no-errno-null rc=-22 errno=0",
    );
    want(
        &ours,
        "ulock_wake no-waiter",
        "ulock_wake no-waiter rc=-2 errno=0",
    );
    want(
        &ours,
        "ulock_wait timeout-1ms",
        "ulock_wait timeout-1ms rc=-60 errno=0",
    );

    // Darling's own answers, each still wrong (when one is right, Darling
    // has fixed the call and the handler needs another look).
    // Darling's os_unfair_lock_lock is libsystem_kernel's empty one.
    let darling = run("--unfair-lock", false, 300);
    want(
        &darling,
        "os_unfair_lock trylock-held",
        "os_unfair_lock trylock-held rc=1 errno=0",
    );
    let darling = run("--ulock", false, 300);
    assert_ne!(
        line(&darling, "ulock_wait timeout-1ms").as_deref(),
        Some("ulock_wait timeout-1ms rc=-60 errno=0"),
        "Darling's 1 ms ulock timeout now ends in time"
    );
    let darling = run("--nofile", false, 60);
    assert_ne!(
        line(&darling, "fork-after-nofile").as_deref(),
        Some("fork-after-nofile child=exited:0"),
        "Darling now forks after a lowered NOFILE: the setrlimit floor needs another look"
    );
    assert!(
        darling
            .stdout
            .contains("dserver_rpc_interrupt_enter failed with code -9"),
        "{darling:?}"
    );
}

//! sandbox-exec as a process: the macOS command line and exit codes, and
//! real children confined by Landlock and seccomp.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::Out;

mod common;
use common::bin;

fn run(args: &[&str]) -> Out {
    Command::new(bin())
        .args(args)
        .env_remove("DARLING_PREFIX")
        .output()
        .unwrap()
        .into()
}

const USAGE: &str = "Usage: sandbox-exec [options] command [args]\nOptions:\n  -f profile-file     Read profile from file.\n  -n profile-name     Use pre-defined profile.\n  -p profile-string   Specify a profile on the command line.\n  -D key=value        Define a profile parameter.\nExactly one of -f, -n, -p must be specified.\n";

/// Everything a child shell needs to start, readable and executable.
const SYSTEM: &str = "(allow file-read* process-exec (subpath \"/usr\") (subpath \"/bin\") (subpath \"/lib\") (subpath \"/lib64\") (subpath \"/etc\") (subpath \"/proc\") (literal \"/\"))\n(allow file* (literal \"/dev/null\"))\n";

#[test]
fn usage_errors_exit_64_with_the_usage_text() {
    assert_eq!(run(&[]).all(), (64, "", USAGE));
    assert_eq!(
        run(&["-h"]).all(),
        (
            64,
            "",
            &*format!("sandbox-exec: illegal option -- h\n{USAGE}")
        )
    );
    assert_eq!(run(&["-p", "(version 1)"]).all(), (64, "", USAGE));
    assert_eq!(
        run(&["-p", "(version 1)", "-n", "no-write", "true"]).all(),
        (64, "", USAGE)
    );
    assert_eq!(
        run(&["-f"]).all(),
        (
            64,
            "",
            &*format!("sandbox-exec: option requires an argument -- f\n{USAGE}")
        )
    );
}

#[test]
fn runaway_profiles_are_profile_errors() {
    let d = tempfile::tempdir().unwrap();
    let deep = d.path().join("deep.sb");
    let body = "(begin ".repeat(250) + "(f 1)" + &")".repeat(250);
    fs::write(&deep, format!("(version 1)(define (f x) {body})(f 1)")).unwrap();
    let o = run(&["-M", "off", "-f", deep.to_str().unwrap(), "true"]);
    assert_eq!(o.all().0, 65);
    assert!(
        o.all().2.starts_with("sandbox-exec: deep.sb:1:"),
        "{:?}",
        o.all()
    );
    assert!(
        o.all().2.contains("nested more than 512 deep"),
        "{:?}",
        o.all()
    );
    let big = d.path().join("big.sb");
    let src = String::from("(version 1)(define a \"xxxxxxxxxxxxxxxx\")")
        + &"(define a (string-append a a))".repeat(40);
    fs::write(&big, src).unwrap();
    let o = run(&["-M", "off", "-f", big.to_str().unwrap(), "true"]);
    assert_eq!(o.all().0, 65);
    assert!(
        o.all().2.starts_with("sandbox-exec: big.sb:1:"),
        "{:?}",
        o.all()
    );
    assert!(
        o.all().2.contains("longer than 1048576 bytes"),
        "{:?}",
        o.all()
    );
}

#[test]
fn profile_errors_exit_65_with_positions() {
    let o = run(&["-p", "(version 1)\n(allow bogus-op)", "true"]);
    assert_eq!(
        o.all(),
        (
            65,
            "",
            "sandbox-exec: unbound variable: bogus-op at <input string>, line 2\n"
        )
    );
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("bad.sb");
    fs::write(
        &f,
        "(version 1)\n(allow file-read* (subpath (param \"X\")))\n",
    )
    .unwrap();
    let o = run(&["-f", f.to_str().unwrap(), "true"]);
    assert_eq!(o.all(), (65, "", "sandbox-exec: bad.sb:2:28: invalid data type of path filter; expected pattern, got boolean\n"));
    let o = run(&["-f", "/nonexistent/p.sb", "true"]);
    assert_eq!(
        o.all(),
        (
            65,
            "",
            "sandbox-exec: /nonexistent/p.sb: No such file or directory\n"
        )
    );
    assert_eq!(
        run(&["-n", "bogus", "true"]).all(),
        (65, "", "sandbox-exec: unable to find profile: bogus\n")
    );
}

/// `-p` errors in macOS's shapes: a syntax error has no place, an unbound
/// variable only its line; other errors keep `file:line:column`. `-f`
/// keeps `file:line:column` for all of them.
#[test]
fn string_profile_errors_are_shown_as_macos_shows_them() {
    assert_eq!(
        run(&["-p", "(version 1", "/bin/true"]).all(),
        (65, "", "sandbox-exec: syntax error: expecting ')'\n")
    );
    assert_eq!(
        run(&["-p", "(version 1)(allow bogus)", "/bin/true"]).all(),
        (
            65,
            "",
            "sandbox-exec: unbound variable: bogus at <input string>, line 1\n"
        )
    );
    assert_eq!(
        run(&["-p", "(version 2)", "/bin/true"]).all(),
        (
            65,
            "",
            "sandbox-exec: <input string>:1:1: unsupported SBPL version 2 (only 1)\n"
        )
    );
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("bad.sb");
    for (text, want) in [
        (
            "(version 1",
            "sandbox-exec: bad.sb:1:11: syntax error: expecting ')'\n",
        ),
        (
            "(version 1)(allow bogus)",
            "sandbox-exec: bad.sb:1:19: unbound variable: bogus\n",
        ),
    ] {
        fs::write(&f, text).unwrap();
        assert_eq!(
            run(&["-f", f.to_str().unwrap(), "/bin/true"]).all(),
            (65, "", want),
            "{text}"
        );
    }
}

/// libsandbox implements `import` in its prelude, so a missing import is
/// located there, for `-f` and `-p` alike.
#[test]
fn a_missing_import_is_located_in_the_prelude() {
    const WANT: &str = "sandbox-exec: <internal init prelude>:292:47: unable to open sandbox-minimal.sb: not found\n";
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("imp.sb");
    let text = "(version 1)\n(import \"sandbox-minimal.sb\")\n";
    fs::write(&f, text).unwrap();
    assert_eq!(
        run(&["-f", f.to_str().unwrap(), "/bin/true"]).all(),
        (65, "", WANT)
    );
    assert_eq!(run(&["-p", text, "/bin/true"]).all(), (65, "", WANT));
}

/// A sandbox-exec beneath another refuses as macOS refuses nesting, before
/// running anything; the marker is an environment variable, so unsetting
/// it allows nesting again.
#[test]
fn nesting_is_refused_with_71() {
    const REFUSED: &str = "sandbox-exec: sandbox_apply: Operation not permitted\n";
    let d = tempfile::tempdir().unwrap();
    let made = d.path().join("made");
    let me = bin();
    let me = me.to_str().unwrap();
    let allow = "(version 1)(allow default)";
    // The inner one would create `made`; it exits 71 and never runs it.
    let script = "\"$0\" -p \"$1\" touch \"$2\"; echo \"inner $? $DARLING_NIX_SANDBOXED\"";
    for mode in ["best-effort", "off"] {
        let o = run(&[
            "-M",
            mode,
            "-p",
            allow,
            "sh",
            "-c",
            script,
            me,
            allow,
            made.to_str().unwrap(),
        ]);
        assert_eq!(o.all(), (0, "inner 71 1\n", REFUSED), "{mode}");
        assert!(!made.exists(), "{mode}");
    }
    // Directly: the marker alone refuses, whatever the inner mode.
    let marked = |args: &[&str]| -> Out {
        Command::new(bin())
            .args(args)
            .env_remove("DARLING_PREFIX")
            .env("DARLING_NIX_SANDBOXED", "1")
            .output()
            .unwrap()
            .into()
    };
    assert_eq!(
        marked(&["-M", "off", "-n", "no-network", "/bin/true"]).all(),
        (71, "", REFUSED)
    );
    // As on macOS, options and the profile are checked first.
    assert_eq!(
        marked(&["-p", "(version 1", "/bin/true"]).all(),
        (65, "", "sandbox-exec: syntax error: expecting ')'\n")
    );
    // Unsetting the marker allows nesting again.
    let o = run(&[
        "-p",
        allow,
        "sh",
        "-c",
        "unset DARLING_NIX_SANDBOXED; \"$0\" -p \"$1\" touch \"$2\"; echo \"inner $?\"",
        me,
        allow,
        made.to_str().unwrap(),
    ]);
    assert_eq!(o.all(), (0, "inner 0\n", ""));
    assert!(made.exists());
    // Inside a prefix the command gets the marker too.
    let p = d.path().join("prefix");
    fs::create_dir_all(p.join("usr/bin")).unwrap();
    fs::create_dir_all(p.join("private/etc")).unwrap();
    fs::copy("/usr/bin/env", p.join("usr/bin/env")).unwrap();
    let o = in_prefix(&p, &["-p", allow, "/usr/bin/env"], |c| c);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.lines().any(|l| l == "DARLING_NIX_SANDBOXED=1"),
        "{o:?}"
    );
}

#[test]
fn exec_failure_exits_71_and_success_is_the_commands_status() {
    let o = run(&["-n", "no-write", "no-such-command-xyz"]);
    assert_eq!(
        o.all(),
        (
            71,
            "",
            "sandbox-exec: execvp() of 'no-such-command-xyz' failed: No such file or directory\n"
        )
    );
    let o = run(&[
        "-p",
        "(version 1)(allow default)(deny file-write-setugid)",
        "sh",
        "-c",
        "echo \"$0 $1\"; exit 7",
        "-x",
        "y",
    ]);
    assert_eq!(o.all(), (7, "-x y\n", ""));
}

/// The command is found as execvp(3) finds it: along PATH, past a match it
/// may not execute, and an executable without `#!` runs under /bin/sh.
#[test]
fn the_command_is_found_as_execvp_finds_it() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("dn-tool"), "echo not executable\n").unwrap();
    fs::set_permissions(a.join("dn-tool"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(b.join("dn-tool"), "echo \"plain script $1\"\nexit 3\n").unwrap();
    fs::set_permissions(b.join("dn-tool"), fs::Permissions::from_mode(0o755)).unwrap();
    let o: Out = Command::new(bin())
        .args(["-p", "(version 1)(allow default)", "dn-tool", "x"])
        .env_remove("DARLING_PREFIX")
        .env(
            "PATH",
            format!("{}:{}:/usr/bin:/bin", a.display(), b.display()),
        )
        .output()
        .unwrap()
        .into();
    assert_eq!(o.all(), (3, "plain script x\n", ""));
}

/// sandbox-exec with `args` in the fixture prefix `prefix`, after `setup`
/// has adjusted the command.
fn in_prefix(
    prefix: &Path,
    args: &[&str],
    setup: impl FnOnce(&mut Command) -> &mut Command,
) -> Out {
    let mut c = Command::new(bin());
    c.args(args).env("DARLING_PREFIX", prefix);
    setup(&mut c).output().unwrap().into()
}

/// In a prefix, the command, PATH, `-f` and a `#!` interpreter are Mac
/// paths whose links are followed inside the prefix, as Darling follows
/// them: an absolute link names a path in the prefix, not on the host.
#[test]
fn absolute_links_in_the_prefix_resolve_inside_it() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for dir in ["usr/bin", "opt/dn", "private/etc"] {
        fs::create_dir_all(p.join(dir)).unwrap();
    }
    // An ELF program at a path the host does not have.
    fs::copy("/bin/echo", p.join("opt/dn/tool")).unwrap();
    symlink("/opt/dn/tool", p.join("usr/bin/dn-tool")).unwrap();
    symlink("/private/etc", p.join("etc")).unwrap();
    fs::write(p.join("private/etc/p.sb"), "(version 1)(allow default)\n").unwrap();
    let run = |args: &[&str]| in_prefix(p, args, |c| c.env("PATH", "/usr/bin"));
    let allow = "(version 1)(allow default)";
    assert_eq!(
        run(&["-p", allow, "dn-tool", "by PATH"]).all(),
        (0, "by PATH\n", "")
    );
    assert_eq!(
        run(&["-p", allow, "/usr/bin/dn-tool", "by path"]).all(),
        (0, "by path\n", "")
    );
    assert_eq!(
        run(&["-f", "/etc/p.sb", "dn-tool", "by -f"]).all(),
        (0, "by -f\n", "")
    );
    // A `#!` interpreter too: the prefix's /bin/sh links to an ELF shell
    // at a path the host does not have. The script is named relative to
    // the working directory, a host path, so the ELF shell can open it.
    fs::create_dir_all(p.join("bin")).unwrap();
    fs::copy("/bin/sh", p.join("opt/dn/sh")).unwrap();
    symlink("/opt/dn/sh", p.join("bin/sh")).unwrap();
    fs::write(p.join("opt/dn/script"), "#!/bin/sh\necho \"script $1\"\n").unwrap();
    fs::set_permissions(p.join("opt/dn/script"), fs::Permissions::from_mode(0o755)).unwrap();
    let o = in_prefix(p, &["-p", allow, "./script", "by #!"], |c| {
        c.current_dir(p.join("opt/dn"))
    });
    assert_eq!(o.all(), (0, "script by #!\n", ""));
}

/// In a prefix, a profile that restricts only some classes still runs:
/// the paths every program is granted (read and execute) carry no right
/// the ruleset does not handle, which Landlock would refuse.
#[test]
fn partial_profiles_apply_in_a_prefix() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    fs::create_dir_all(p.join("private/etc")).unwrap();
    let run = |args: &[&str]| in_prefix(p, args, |c| c);
    let echo = "/Volumes/SystemRoot/bin/echo";
    assert_eq!(run(&["-n", "no-write", echo, "hi"]).all(), (0, "hi\n", ""));
    assert_eq!(
        run(&[
            "-p",
            "(version 1)(deny default)(allow process-exec)(allow file-read*)",
            echo,
            "hi"
        ])
        .all(),
        (0, "hi\n", "")
    );
    // And it still restricts what it handles.
    let out = p.join("w");
    let o = run(&[
        "-n",
        "no-write",
        "/Volumes/SystemRoot/bin/sh",
        "-c",
        &format!("echo x > {}", out.display()),
    ]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(!out.exists());
}

/// A configuration that cannot be used stops sandbox-exec before the
/// command runs, naming the file (exit 71).
#[test]
fn a_bad_configuration_exits_71_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let etc = d.path().join("private/etc/darling-nix");
    fs::create_dir_all(&etc).unwrap();
    let f = etc.join("sandbox-exec.toml");
    fs::write(&f, "mode = \"bogus\"\n").unwrap();
    let o: Out = Command::new(bin())
        .args(["-n", "no-write", "/bin/echo", "ran"])
        .env("DARLING_PREFIX", d.path())
        .output()
        .unwrap()
        .into();
    assert_eq!(
        o.all(),
        (
            71,
            "",
            &*format!(
                "sandbox-exec: {}: mode `bogus`: expected off, best-effort or strict\n",
                f.display()
            )
        )
    );
}

/// The command gets the signal dispositions sandbox-exec was started
/// with: Rust programs ignore SIGPIPE, and an ignored signal would stay
/// ignored across exec, so a writer into a closed pipe would fail with
/// EPIPE instead of being killed as in any shell pipeline.
#[test]
fn the_command_inherits_sigpipe_untouched() {
    let o = run(&[
        "-p",
        "(version 1)(allow default)(deny file-write-setugid)",
        "bash",
        "-c",
        "yes | head -n1 >/dev/null; echo \"${PIPESTATUS[0]}\"",
    ]);
    assert_eq!(o.all(), (0, "141\n", ""));
}

/// A scratch directory outside the temporary ones, with an input, an
/// output directory, another one and a secret.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let (d, w) = common::workdir();
    for sub in ["in", "out", "other"] {
        fs::create_dir(w.join(sub)).unwrap();
    }
    fs::write(w.join("in/f"), "input\n").unwrap();
    fs::write(w.join("secret"), "secret\n").unwrap();
    (d, w)
}

fn confined(w: &Path, script: &str) -> Out {
    let profile = format!(
        "(version 1)\n(deny default)\n{SYSTEM}(allow file-read* (subpath (param \"IN\")))\n(allow file* (subpath (param \"OUT\")))\n"
    );
    run(&[
        "-p",
        &profile,
        "-D",
        &format!("IN={}", w.join("in").display()),
        "-D",
        &format!("OUT={}", w.join("out").display()),
        "sh",
        "-c",
        script,
    ])
}

#[test]
fn landlock_confines_a_real_child() {
    let (_d, w) = workdir();
    let wd = w.display();
    let o = confined(&w, &format!("cat {wd}/in/f"));
    assert_eq!((o.code, o.stdout.as_str()), (0, "input\n"), "{}", o.stderr);
    let o = confined(
        &w,
        &format!("echo built > {wd}/out/x && mkdir {wd}/out/d && mv {wd}/out/x {wd}/out/d/y"),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(fs::read_to_string(w.join("out/d/y")).unwrap(), "built\n");
    let o = confined(&w, &format!("echo no > {wd}/other/y"));
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
    assert!(!w.join("other/y").exists());
    let o = confined(&w, &format!("cat {wd}/secret"));
    assert_ne!(o.code, 0);
    assert!(!o.stdout.contains("secret"));
    let o = confined(&w, &format!("echo no > {wd}/in/new"));
    assert_ne!(o.code, 0, "inputs are read-only");
}

#[test]
fn seccomp_refuses_setuid_bits_and_ip_sockets() {
    let (_d, w) = workdir();
    let f = w.join("out/f");
    fs::write(&f, "").unwrap();
    let minimal = "(version 1)\n(allow default)\n(deny file-write-setugid)\n";
    let o = run(&["-p", minimal, "chmod", "u+s", f.to_str().unwrap()]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Operation not permitted"), "{}", o.stderr);
    let o = run(&["-p", minimal, "chmod", "640", f.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // bash's /dev/tcp: refused at socket() under no-network, merely
    // refused by the port without it.
    let probe = "exec 3<>/dev/tcp/127.0.0.1/9";
    let o = run(&["-n", "no-network", "bash", "-c", probe]);
    assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
    let o = run(&["-n", "no-write", "bash", "-c", probe]);
    assert!(o.stderr.contains("Connection refused"), "{}", o.stderr);
}

#[test]
fn named_profiles_in_both_spellings() {
    let (_d, w) = workdir();
    for n in ["no-write", "no_write"] {
        let o = run(&[
            "-n",
            n,
            "sh",
            "-c",
            &format!("cat {0}/in/f; touch {0}/out/x", w.display()),
        ]);
        assert_eq!(o.stdout, "input\n");
        assert_ne!(o.code, 0, "{n}");
    }
    assert!(!w.join("out/x").exists());
    let o = run(&[
        "-n",
        "no-write-except-temporary",
        "sh",
        "-c",
        &format!("touch {}/out/x", w.display()),
    ]);
    assert_ne!(o.code, 0);
}

#[test]
fn strict_refuses_what_it_cannot_enforce_and_off_enforces_nothing() {
    let (_d, w) = workdir();
    let marker = w.join("out/ran");
    let touch = format!("touch {}", marker.display());
    // mach-lookup denial cannot be enforced on Linux.
    let profile = format!(
        "(version 1)\n(deny default)\n{SYSTEM}(allow file* (subpath \"{}\"))\n",
        w.display()
    );
    let o = run(&["-M", "strict", "-p", &profile, "sh", "-c", &touch]);
    assert_eq!(o.code, 71, "{}", o.stderr);
    assert!(
        o.stderr
            .starts_with("sandbox-exec: sandbox_apply: profile cannot be fully enforced here: "),
        "{}",
        o.stderr
    );
    assert!(
        !marker.exists(),
        "the command ran although strict mode refused"
    );
    // Strict accepts a profile it can enforce in full.
    let o = run(&[
        "-M",
        "strict",
        "-p",
        "(version 1)(allow default)(deny file-write-setugid)",
        "sh",
        "-c",
        &touch,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(marker.exists());
    // Off: parsed, not applied.
    let o = run(&[
        "-M",
        "off",
        "-p",
        "(version 1)(deny default)",
        "sh",
        "-c",
        &format!("cat {}/secret", w.display()),
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "secret\n"), "{}", o.stderr);
    // -v says what is not enforced; best-effort is otherwise quiet.
    let o = run(&["-v", "-p", &profile, "true"]);
    assert!(
        o.stderr.contains("sandbox-exec: not enforced: mach-lookup"),
        "{}",
        o.stderr
    );
    let o = run(&["-p", &profile, "true"]);
    assert_eq!(o.all(), (0, "", ""));
    assert_eq!(run(&["-M", "bogus", "-p", "(version 1)", "true"]).code, 64);
}

/// A profile that leaves writing unrestricted leaves moving files alone: a
/// rename across directories works (Landlock refuses it unless a rule
/// grants REFER, which the kernel always handles). perl's rename(2) is
/// used because mv would copy on the EXDEV.
#[test]
fn renames_across_directories_are_free_when_writing_is() {
    let (_d, w) = workdir();
    let o = run(&[
        "-p",
        &format!(
            "(version 1)(deny default){SYSTEM}(allow file-read* (subpath \"{}\"))(allow file-write*)",
            w.display()
        ),
        "perl",
        "-e",
        "rename($ARGV[0], $ARGV[1]) or die \"rename: $!\\n\"; print \"moved\\n\"",
        &w.join("in/f").display().to_string(),
        &w.join("out/f").display().to_string(),
    ]);
    assert_eq!(o.all(), (0, "moved\n", ""));
    assert!(w.join("out/f").exists());
}

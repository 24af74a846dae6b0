//! What a Nix build needs from sandbox-exec beyond the command line: its
//! standard streams as pipes, files or a terminal; outputs that do not exist
//! yet; and a seccomp filter that 32-bit system calls cannot slip past.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e::Out;

mod common;
use common::{bin, workdir};

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).env_remove("DARLING_PREFIX");
    c
}

/// What a shell needs to start, and the devices as Nix's
/// sandbox-defaults.sb grants them (the standard streams by name).
const SYSTEM: &str = "(allow file-read* process-exec (subpath \"/usr\") (subpath \"/bin\") (subpath \"/lib\") (subpath \"/lib64\") (subpath \"/etc\") (subpath \"/proc\") (literal \"/\"))\n\
(allow file* (literal \"/dev/null\") (literal \"/dev/random\") (literal \"/dev/stderr\") (literal \"/dev/stdin\") (literal \"/dev/stdout\") (literal \"/dev/tty\") (literal \"/dev/urandom\") (literal \"/dev/zero\") (subpath \"/dev/fd\"))\n";

fn profile(extra: &str) -> String {
    format!("(version 1)\n(deny default)\n{SYSTEM}{extra}")
}

/// Writes to and reads from the standard streams by name, and through a
/// pipe bash reopens as /dev/fd/N (process substitution).
const STREAMS: &str = "echo out; echo err >&2; echo out2 > /dev/stdout; echo err2 > /dev/stderr; \
echo fd1 > /dev/fd/1; read l < /dev/stdin; echo \"in=$l\"; cat <(echo sub)";

#[test]
fn standard_streams_as_pipes() {
    let p = profile("");
    let mut child = cmd(&["-p", &p, "bash", "-c", STREAMS])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"line\n").unwrap();
    let o: Out = child.wait_with_output().unwrap().into();
    assert_eq!(
        o.all(),
        (0, "out\nout2\nfd1\nin=line\nsub\n", "err\nerr2\n"),
        "{}",
        o.stderr
    );
}

#[test]
fn standard_streams_as_files() {
    let (_d, w) = workdir();
    let (i, so, se) = (w.join("in"), w.join("out"), w.join("err"));
    fs::write(&i, "from a file\n").unwrap();
    let p = profile("");
    let st = cmd(&["-p", &p, "bash", "-c", STREAMS])
        .stdin(fs::File::open(&i).unwrap())
        .stdout(fs::File::create(&so).unwrap())
        .stderr(fs::File::create(&se).unwrap())
        .status()
        .unwrap();
    let (out, err) = (
        fs::read_to_string(&so).unwrap(),
        fs::read_to_string(&se).unwrap(),
    );
    assert_eq!(st.code(), Some(0), "{err}");
    // Reopening a file by name truncates it (as on macOS): the later
    // writes through /dev/stdout start it again.
    assert!(out.ends_with("in=from a file\nsub\n"), "{out:?}");
    assert!(err.ends_with("err2\n"), "{err:?}");
    // The grant covers the stream's own file, not its neighbours.
    fs::write(w.join("neighbour"), "private\n").unwrap();
    let o: Out = cmd(&["-p", &p, "cat", w.join("neighbour").to_str().unwrap()])
        .stdin(fs::File::open(&i).unwrap())
        .output()
        .unwrap()
        .into();
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
}

#[test]
fn standard_streams_as_a_terminal() {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave: OwnedFd = pty.slave;
    let p = profile("");
    // A session of its own with the terminal as its controlling one, so
    // that /dev/tty works as in a terminal.
    let script = "echo out; echo err >&2; echo tty > /dev/tty; echo out2 > /dev/stdout; \
        read l < /dev/stdin; echo \"in=$l\"";
    // The Command holds copies of the slave until it is dropped: built and
    // spawned in one expression, so that only the child keeps the terminal.
    let mut child = Command::new("setsid")
        .args(["-w", "-c"])
        .arg(bin())
        .args(["-p", &p, "bash", "-c", script])
        .env_remove("DARLING_PREFIX")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let mut master = fs::File::from(pty.master);
    master.write_all(b"typed\n").unwrap();
    let st = child.wait().unwrap();
    // The slave is closed on our side and in the exited child: reading the
    // master drains what was written, then fails with EIO.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let got = String::from_utf8_lossy(&got).replace('\r', "");
    assert_eq!(st.code(), Some(0), "{got}");
    for want in ["out\n", "err\n", "tty\n", "out2\n", "in=typed\n"] {
        assert!(got.contains(want), "{want:?} missing from {got:?}");
    }
}

/// Nix grants its outputs before they exist: `mkdir -p $out`, files in it,
/// a single-file output, all from a builder run by sandbox-exec.
#[test]
fn outputs_that_do_not_exist_yet_can_be_made() {
    let (_d, w) = workdir();
    let store = w.join("store");
    fs::create_dir(&store).unwrap();
    fs::create_dir(store.join("aaa-input")).unwrap();
    fs::write(store.join("aaa-input/data"), "input\n").unwrap();
    let (out, file, deep) = (
        store.join("bbb-out"),
        store.join("ccc-file"),
        w.join("new/deeper/ddd-out"),
    );
    let p = profile(&format!(
        "(allow file-read* process-exec (subpath \"{}\"))\n\
         (allow file-read* file-write* process-exec (subpath \"{}\") (literal \"{}\") (subpath \"{}\"))\n",
        store.join("aaa-input").display(),
        out.display(),
        file.display(),
        deep.display(),
    ));
    let script = format!(
        "set -e; mkdir -p {o}/bin; cat {i}/data > {o}/bin/x; cat {o}/bin/x; echo f > {f}; mkdir -p {d}; echo d > {d}/y",
        o = out.display(),
        i = store.join("aaa-input").display(),
        f = file.display(),
        d = deep.display(),
    );
    let o: Out = cmd(&["-p", &p, "bash", "-c", &script])
        .output()
        .unwrap()
        .into();
    assert_eq!(o.all(), (0, "input\n", ""));
    assert_eq!(fs::read_to_string(out.join("bin/x")).unwrap(), "input\n");
    assert_eq!(fs::read_to_string(&file).unwrap(), "f\n");
    assert_eq!(fs::read_to_string(deep.join("y")).unwrap(), "d\n");
    // Inputs stay read-only, and nothing outside the parents is writable.
    fs::create_dir(w.join("other")).unwrap();
    for bad in [
        format!("echo no > {}/aaa-input/new", store.display()),
        format!("echo no > {}/other/x", w.display()),
    ] {
        let o: Out = cmd(&["-p", &p, "bash", "-c", &bad])
            .output()
            .unwrap()
            .into();
        assert_ne!(o.code, 0, "{bad}");
        assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
    }
    // -v says that the grant was widened to the parent.
    fs::remove_dir_all(&out).unwrap();
    let o: Out = cmd(&["-v", "-p", &p, "true"]).output().unwrap().into();
    let want = format!(
        "sandbox-exec: not enforced: file-write: {} does not exist yet; its rights are granted on everything beneath {} (wider than the profile)\n",
        out.display(),
        store.display()
    );
    assert!(o.stderr.contains(&want), "{}", o.stderr);
    // Strict mode refuses the widening.
    let o: Out = cmd(&[
        "-M",
        "strict",
        "-p",
        &format!(
            "(version 1)(allow default)(deny file-write*)(allow file-write* (subpath \"{}\"))",
            out.display()
        ),
        "true",
    ])
    .output()
    .unwrap()
    .into();
    assert_eq!(o.code, 71, "{}", o.stderr);
    assert!(!out.exists());
}

/// A write grant on a missing path whose nearest existing parent is `/` is
/// never widened onto the whole filesystem: it is left denied, and said so.
#[test]
fn a_missing_output_under_the_root_is_left_denied_not_widened() {
    let (_d, w) = workdir();
    let missing = "/no-such-darling-nix-dir/out";
    assert!(!Path::new(missing).exists());
    let p = format!(
        "(version 1)(allow default)(deny file-write*)(allow file-write* (subpath \"{missing}\"))"
    );
    let script = format!("echo no > {}/x", w.display());
    let o: Out = cmd(&["-v", "-p", &p, "bash", "-c", &script])
        .output()
        .unwrap()
        .into();
    assert!(
        o.stderr.contains(&format!(
            "sandbox-exec: not enforced: file-write: {missing} does not exist and its nearest parent is a root; left denied\n"
        )),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
    assert_ne!(o.code, 0);
    assert!(
        !w.join("x").exists(),
        "a write outside the grant got through"
    );
}

/// Builds a tiny static i386 program that makes 32-bit system calls with
/// `int $0x80`: socket(AF_INET), socketcall(SOCKET, AF_INET) and
/// chmod(path, 04755), printing each raw result.
fn i386_prober(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("m32.c");
    fs::write(
        &src,
        r#"#include <stdio.h>
static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}
int main(int argc, char **argv) {
  long args[3] = {2, 1, 0};
  printf("socket %ld\n", sys3(359, 2, 1, 0));
  printf("socketcall %ld\n", sys3(102, 1, (long)args, 0));
  printf("chmod %ld\n", sys3(15, (long)argv[1], 04755, 0));
  return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.join("m32");
    let ok = Command::new("gcc")
        .args(["-m32", "-static", "-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(exe)
}

#[test]
fn seccomp_holds_for_32_bit_system_calls() {
    let (_d, w) = workdir();
    let Some(exe) = i386_prober(&w) else {
        // Building the prober needs gcc-multilib, which `.ci/run` installs.
        return e2e::skip_tool(
            "seccomp_holds_for_32_bit_system_calls",
            "gcc -m32 -static failed (gcc-multilib missing?)",
        );
    };
    let target = w.join("f");
    fs::write(&target, "").unwrap();
    let run = |args: &[&str]| -> Out {
        let mut a: Vec<&str> = args.to_vec();
        a.push(exe.to_str().unwrap());
        a.push(target.to_str().unwrap());
        cmd(&a).output().unwrap().into()
    };
    // Unconfined, the calls work: the prober is real.
    let o: Out = Command::new(&exe).arg(&target).output().unwrap().into();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines[0].starts_with("socket ") && !lines[0].contains('-'),
        "{}",
        o.stdout
    );
    fs::write(&target, "").unwrap();
    fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    // no-network and the setuid denial hold for i386 calls too.
    let o = run(&[
        "-p",
        "(version 1)(allow default)(deny network*)(deny file-write-setugid)",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let eacces = format!("-{}", libc::EACCES);
    let eperm = format!("-{}", libc::EPERM);
    assert_eq!(
        o.stdout,
        format!("socket {eacces}\nsocketcall {eacces}\nchmod {eperm}\n")
    );
    let mode = fs::metadata(&target).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777,
        0o644
    );
}

/// Grants beneath a widened output's parent are folded into it, but not
/// one that is a link to somewhere else: its rule must stay.
#[test]
fn grants_through_links_survive_the_output_widening() {
    let (_d, w) = workdir();
    let store = w.join("store");
    fs::create_dir_all(w.join("elsewhere")).unwrap();
    fs::create_dir_all(&store).unwrap();
    fs::write(w.join("elsewhere/f"), "through the link\n").unwrap();
    std::os::unix::fs::symlink(w.join("elsewhere"), store.join("aaa-link")).unwrap();
    let p = profile(&format!(
        "(allow file-read* file-write* process-exec (subpath \"{}\") (subpath \"{}\"))\n",
        store.join("bbb-out").display(),
        store.join("aaa-link").display(),
    ));
    let o: Out = cmd(&["-p", &p, "cat", store.join("aaa-link/f").to_str().unwrap()])
        .output()
        .unwrap()
        .into();
    assert_eq!(o.all(), (0, "through the link\n", ""));
}

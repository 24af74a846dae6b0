//! Every way of starting the binary wrongly ends with the status the help
//! documents (2 usage, 1 anything else) and one message on stderr naming
//! the problem; nothing on stdout, which Nix may be reading.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e::Out;

mod common;
use common::{hook, session as run};

fn valid_config(dir: &Path) -> PathBuf {
    let p = dir.join("hook.toml");
    fs::write(
        &p,
        format!(
            "runner = \"chroot\"\nprefix = \"{}\"\nstate-dir = \"{}\"\n",
            dir.display(),
            dir.join("state").display()
        ),
    )
    .unwrap();
    p
}

#[track_caller]
fn assert_fails(o: &Out, code: i32, message: &str) {
    assert_eq!(o.code, code, "{o:?}");
    assert!(o.stdout.is_empty(), "stdout must stay empty: {o:?}");
    assert!(
        o.stderr.starts_with("build-hook") && o.stderr.contains(message),
        "expected `{message}`: {o:?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let cfg = valid_config(d.path());
    assert_fails(&run(&cfg, &[], b""), 2, "this program is run by Nix");
    assert_fails(
        &run(&cfg, &["seven"], b""),
        2,
        "expected Nix's verbosity (0-7) as the last argument, got `seven`",
    );
    assert_fails(
        &run(&cfg, &["--store", "/tmp/s", "7"], b""),
        2,
        "--store goes with --serve or --nix-conf",
    );
}

#[test]
fn configuration_errors_exit_1_in_every_mode() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.toml");
    fs::write(&bad, "systems = []\n").unwrap();
    let empty = "`systems` is empty: the hook would decline everything";
    assert_fails(&run(&bad, &["--serve", "--write"], b""), 1, empty);
    assert_fails(&run(&bad, &["--nix-conf"], b""), 1, empty);
    let bj = d.path().join("build.json");
    assert_fails(
        &run(&bad, &["--external-builder", bj.to_str().unwrap()], b""),
        1,
        empty,
    );
    let cfg = valid_config(d.path());
    assert_fails(
        &run(&cfg, &["--set", "max-jobs", "--nix-conf"], b""),
        1,
        "--set: `max-jobs` = ``: expected KEY=VALUE",
    );
}

#[test]
fn an_environment_that_is_not_utf8_is_no_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let cfg = valid_config(d.path());
    let bad = OsStr::from_bytes(b"\xff");
    let with_env = |k: &str| -> Out {
        Command::new(hook())
            .args(["--nix-conf", "--route", "serve"])
            .env("DARLING_NIX_HOOK_CONFIG", &cfg)
            .env(k, bad)
            .output()
            .unwrap()
            .into()
    };
    // Someone else's variable is not read at all.
    let o = with_env("LANGUAGE_X");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("builders = "), "{o:?}");
    // One of ours is a configuration error that names it.
    let o = with_env("DARLING_NIX_HOOK_PREFIX");
    assert_fails(
        &o,
        1,
        "$DARLING_NIX_HOOK_PREFIX: `prefix` = ``: not valid UTF-8",
    );
}

#[test]
fn nix_conf_refuses_a_program_that_is_not_nix() {
    let d = tempfile::tempdir().unwrap();
    let cfg = valid_config(d.path());
    let o = run(&cfg, &["--nix-conf", "--nix", "/bin/true"], b"");
    assert_fails(&o, 1, "/bin/true does not answer `--version` as Nix does");
}

#[test]
fn external_builder_names_the_bad_build_json() {
    let d = tempfile::tempdir().unwrap();
    let cfg = valid_config(d.path());
    let bj = d.path().join("build.json");
    let arg = bj.to_str().unwrap();
    assert_fails(
        &run(&cfg, &["--external-builder", arg], b""),
        1,
        &format!("reading {arg}: "),
    );
    fs::write(&bj, "{").unwrap();
    assert_fails(
        &run(&cfg, &["--external-builder", arg], b""),
        1,
        &format!("{arg}: EOF while parsing"),
    );
    fs::write(
        &bj,
        r#"{"version": 2, "builder": "/bin/sh", "tmpDir": "/tmp", "tmpDirInSandbox": "/build"}"#,
    )
    .unwrap();
    assert_fails(
        &run(&cfg, &["--external-builder", arg], b""),
        1,
        &format!("{arg}: build.json version 2 is not supported (only 1)"),
    );
}

#[test]
fn serve_refuses_a_peer_that_is_not_nix() {
    let d = tempfile::tempdir().unwrap();
    let cfg = valid_config(d.path());
    let store = d.path().join("store");
    let o = run(
        &cfg,
        &["--serve", "--write", "--store", store.to_str().unwrap()],
        &7u64.to_le_bytes(),
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr
            .contains("build-hook --serve: not Nix's `ssh://` store protocol (first word 0x7)"),
        "{o:?}"
    );
}

/// A `BuildDerivation` whose output path climbs out of the store is a
/// failed build with a message, and nothing outside the store is touched
/// (the output paths decide what the hook removes before building).
#[test]
fn serve_refuses_output_paths_outside_the_store() {
    use build_hook::wire::{WireReader, WireWriter};
    let d = tempfile::tempdir().unwrap();
    let cfg = valid_config(d.path());
    let store = d.path().join("store");
    fs::create_dir_all(store.join("nix/store")).unwrap();
    let victim = d.path().join("victim");
    fs::write(&victim, "keep").unwrap();
    let mut w = WireWriter::new();
    w.u64(0x390c_9deb).u64(0x207);
    w.u64(8) // BuildDerivation
        .str("/nix/store/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxx-x.drv")
        .u64(1)
        .str("out")
        .str("/nix/store/../../../victim")
        .str("")
        .str("")
        .strings::<&str>(&[])
        .str("x86_64-darwin")
        .str("/bin/sh")
        .strings(&["-c", "echo built > $out"])
        .u64(0);
    w.u64(0)
        .u64(0)
        .u64(0) // max-silent-time, timeout, max-build-log-size
        .u64(0)
        .u64(0) // repeat, enforce-determinism
        .u64(0); // keep-failed
    let mut child = Command::new(hook())
        .args(["--serve", "--write", "--store", store.to_str().unwrap()])
        .env("DARLING_NIX_HOOK_CONFIG", &cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&w.buf).unwrap();
    let o = child.wait_with_output().unwrap();
    let mut r = WireReader::new(&o.stdout[..]);
    assert_eq!(r.read_u64("magic").unwrap(), 0x5452_eecb);
    assert_eq!(r.read_u64("version").unwrap(), 0x207);
    let status = r.read_u64("status").unwrap();
    let message = r.read_string("message").unwrap();
    assert_eq!(status, 9, "a misc failure: {message}");
    assert!(
        message.contains("`/nix/store/../../../victim` is not a store path of this store"),
        "{message}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `forward` names its program as the hook starts it: a command on PATH
/// (the docs' `["nix", "__build-remote"]`) is found, a missing one named.
#[test]
fn check_finds_the_forward_target_on_path() {
    let d = tempfile::tempdir().unwrap();
    let cfg = valid_config(d.path());
    let finding = |forward: &str| -> serde_json::Value {
        let o: Out = Command::new(hook())
            .args(["--check", "--json", "--set"])
            .arg(format!("forward={forward}"))
            .env("DARLING_NIX_HOOK_CONFIG", &cfg)
            .output()
            .unwrap()
            .into();
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "forward")
            .unwrap_or_else(|| panic!("no forward finding: {}", o.stdout))
            .clone()
    };
    let on_path = finding("sh -c true");
    assert_eq!(on_path["level"], "ok", "{on_path}");
    let missing = finding("no-such-program-here");
    assert_eq!(missing["level"], "error", "{missing}");
    assert_eq!(
        missing["message"],
        "`no-such-program-here` is neither an executable file nor a command on PATH"
    );
}

//! The `--external-builder BUILD_JSON` entry (Nix 2.32+ external-builders)
//! on edge cases real Nix does not produce (a failing builder, a bad file).
//! The test writes build.json as Nix's ExternalDerivationBuilder does
//! (version 1, tmpDirInSandbox "/build") and checks what Nix relies on:
//! the "ready" line, the outputs, the log on stdout, and the exit status.
//! Real Nix 2.34 driving it: tests/nix_versions.rs `external_builders`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use e2e::Out;

mod common;
use common::hook;

#[test]
fn runs_build_json_through_the_runner() {
    e2e::nix::require_nix();
    let s = e2e::nix::NixStore::new();
    let cfg = s.hook_config("ext", "");
    let top = s.root().join("tmp/nix-1234");
    let tmp = top.join("build");
    fs::create_dir_all(&tmp).unwrap();
    fs::create_dir_all(s.root().join("nix/store")).unwrap();
    let out = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-ext";
    let write = |script: &str| {
        let j = serde_json::json!({
            "version": 1,
            "builder": "/bin/sh",
            "args": ["-c", script],
            "env": {"out": out, "PATH": "/bin", "NIX_BUILD_TOP": "/build", "TMPDIR": "/build", "HOME": "/homeless-shelter"},
            "topTmpDir": top, "tmpDir": tmp, "tmpDirInSandbox": "/build",
            "storeDir": "/nix/store", "realStoreDir": s.root().join("nix/store"),
            "system": "x86_64-darwin", "inputPaths": [], "outputs": {"out": out},
        });
        let p = top.join("build.json");
        fs::write(&p, j.to_string()).unwrap();
        p
    };
    let run = |bj: &PathBuf| -> Out {
        Command::new(hook())
            .arg("--external-builder")
            .arg(bj)
            .env("DARLING_NIX_HOOK_CONFIG", &cfg)
            .output()
            .unwrap()
            .into()
    };
    let o = run(&write("echo log line; pwd > $out; echo $TMPDIR >> $out"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "\x02\nlog line\n");
    // "/build" was rewritten to where the runner shows Nix's tmpDir.
    assert_eq!(
        fs::read_to_string(s.real(out)).unwrap(),
        "/tmp/nix-1234/build\n/tmp/nix-1234/build\n"
    );

    let o = run(&write("echo failing >&2; exit 7"));
    assert_eq!((o.code, o.stdout.as_str()), (7, "\x02\nfailing\n"));

    let bad = top.join("bad.json");
    fs::write(&bad, "{\"version\": 2}").unwrap();
    let o = run(&bad);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("bad.json"), "{}", o.stderr);
}

/// An fd the caller leaves open (Nix's own, from fd 3 up) never reaches
/// the builder.
#[test]
fn the_builder_inherits_no_fd_beyond_stdio() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    e2e::nix::require_nix();
    let s = e2e::nix::NixStore::new();
    let cfg = s.hook_config("ext-fds", "");
    let top = s.root().join("tmp/nix-fds");
    let tmp = top.join("build");
    fs::create_dir_all(&tmp).unwrap();
    fs::create_dir_all(s.root().join("nix/store")).unwrap();
    let out = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-ext-fds";
    let script = "for fd in 3 4 5 6 7 8 9; do if ( : >&$fd ) 2>/dev/null; then echo fd $fd is open; exit 1; fi; done; echo none > $out";
    let j = serde_json::json!({
        "version": 1, "builder": "/bin/sh", "args": ["-c", script],
        "env": {"out": out, "PATH": "/bin"},
        "tmpDir": tmp, "tmpDirInSandbox": "/build",
    });
    let bj = top.join("build.json");
    fs::write(&bj, j.to_string()).unwrap();
    let (r, w) = std::io::pipe().unwrap();
    let (r, w) = (r.as_raw_fd(), w.as_raw_fd());
    let mut c = Command::new(hook());
    c.arg("--external-builder")
        .arg(&bj)
        .env("DARLING_NIX_HOOK_CONFIG", &cfg);
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        c.pre_exec(move || {
            for (from, to) in [(r, 4), (w, 5)] {
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let o: Out = c.output().unwrap().into();
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(fs::read_to_string(s.real(out)).unwrap(), "none\n");
}

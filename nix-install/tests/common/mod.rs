//! Shared by the fixture and live tests: a Nix binary tarball built by the
//! test.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::Out;

/// `--skip` for the store actions, which need a Nix tarball.
pub(crate) const SKIP_STORE: [&str; 8] = [
    "--skip",
    "fetch-tarball",
    "--skip",
    "unpack-store",
    "--skip",
    "load-db",
    "--skip",
    "profile",
];

pub(crate) struct Tarball {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub sha256: String,
}

/// A Nix binary tarball laid out as the real ones are
/// (`nix-<version>-x86_64-darwin/{store,.reginfo}`), made with the host's
/// Nix: a `nix-<version>` store path whose `bin/nix-store` is `nix_store`
/// (a script standing in for the darwin binary) and one data path. Its
/// `.reginfo` is real (`nix-store --dump-db`).
pub(crate) fn tarball(version: &str, nix_store: &str) -> Tarball {
    e2e::nix::require_nix();
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    let src = dir.path().join(format!("nix-{version}"));
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::write(src.join("bin/nix-store"), nix_store).unwrap();
    fs::set_permissions(src.join("bin/nix-store"), fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("hello-data");
    fs::write(&data, "hello\n").unwrap();
    let add = |p: &Path| -> String {
        let o: Out = Command::new("nix-store")
            .arg("--store")
            .arg(&s)
            .arg("--add")
            .arg(p)
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout.trim().to_string()
    };
    let paths = [add(&src), add(&data)];
    let top = dir
        .path()
        .join("t")
        .join(format!("nix-{version}-x86_64-darwin"));
    fs::create_dir_all(top.join("store")).unwrap();
    for p in &paths {
        let st = Command::new("cp")
            .arg("-a")
            .arg(s.join(p.trim_start_matches('/')))
            .arg(top.join("store"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let o: Out = Command::new("nix-store")
        .arg("--store")
        .arg(&s)
        .arg("--dump-db")
        .args(&paths)
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{}", o.stderr);
    fs::write(top.join(".reginfo"), &o.stdout).unwrap();
    let path = dir.path().join(format!("nix-{version}-x86_64-darwin.tar"));
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&path)
        .arg("-C")
        .arg(dir.path().join("t"))
        .arg(format!("nix-{version}-x86_64-darwin"))
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("sha256sum").arg(&path).output().unwrap();
    let sha256 = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    Tarball {
        _dir: dir,
        path,
        sha256,
    }
}

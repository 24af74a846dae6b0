//! nix-verify against a fixture prefix where Debian's Nix 2.8 plays the
//! Nix inside: real commands, a real store database, real account files.

use std::process::Command;

use e2e::nix::NixPrefix;
use e2e::Out;

mod common;
use common::jq;

fn verify(p: &NixPrefix, extra: &[&str]) -> Out {
    Command::new(env!("CARGO_BIN_EXE_nix-verify"))
        .args(["--runner", "fixture", "--prefix"])
        .arg(p.root())
        .args(extra)
        .env_remove("DARLING_PREFIX")
        .output()
        .unwrap()
        .into()
}

/// Every path under `root` with its size and modification time.
fn listing(root: &std::path::Path) -> Vec<(String, u64, std::time::SystemTime)> {
    fn walk(p: &std::path::Path, v: &mut Vec<(String, u64, std::time::SystemTime)>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            v.push((p.display().to_string(), m.len(), m.modified().unwrap()));
            if m.is_dir() {
                walk(&p, v);
            }
        }
    }
    let mut v = Vec::new();
    walk(root, &mut v);
    v.sort();
    v
}

fn status(json: &str, id: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_healthy_prefix_passes_and_json_is_jq_friendly() {
    let p = NixPrefix::new();
    // Checking changes nothing (a build, asked for below, may).
    let before = listing(p.root());
    let o = verify(&p, &["--json"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        listing(p.root()),
        before,
        "nix-verify wrote into the prefix"
    );
    let o = verify(&p, &["--json", "--build"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        jq(
            &o.stdout,
            r#".version == 1 and .ok == true and .summary.fail == 0 and ([.checks[] | select(.id == "current-system")][0].status == "ok")"#
        ),
        "{}",
        o.stdout
    );
    for id in [
        "prefix",
        "tools",
        "nix-version",
        "current-system",
        "store-db",
        "nix-conf",
        "accounts",
        "build",
        "unimplemented",
    ] {
        assert_eq!(status(&o.stdout, id), "ok", "{id}: {}", o.stdout);
    }
    let o = verify(&p, &[]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("ok    store-db        integrity ok, "),
        "{}",
        o.stdout
    );
    assert!(o.stdout.trim_end().ends_with("healthy"));
}

#[test]
fn a_corrupted_store_database_fails() {
    let p = NixPrefix::new();
    let db = p.root().join("nix/var/nix/db/db.sqlite");
    let mut bytes = std::fs::read(&db).unwrap();
    // Garbage over the schema page (after the 100-byte file header).
    for b in &mut bytes[100..4096] {
        *b = 0xA5;
    }
    std::fs::write(&db, bytes).unwrap();
    let o = verify(&p, &["--json"]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert_eq!(status(&o.stdout, "store-db"), "fail", "{}", o.stdout);
    assert!(jq(&o.stdout, ".ok == false"));
}

#[test]
fn a_broken_build_group_fails() {
    let p = NixPrefix::new();
    for u in ["_nixbld1", "_nixbld2"] {
        let o = p.fx.run(
            p.root().join("usr/sbin/dseditgroup"),
            &["-o", "edit", "-t", "user", "-d", u, "nixbld"],
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let o = verify(&p, &["--json"]);
    assert_eq!(o.code, 1);
    assert_eq!(status(&o.stdout, "accounts"), "fail");
    assert!(o.stdout.contains("has no members"), "{}", o.stdout);
    // A passwd that disagrees with master.passwd fails too.
    let passwd = p.root().join("private/etc/passwd");
    let text = std::fs::read_to_string(&passwd)
        .unwrap()
        .replace("_nixbld2:*:352", "_nixbld2:*:999");
    std::fs::write(&passwd, text).unwrap();
    let o = verify(&p, &["--json"]);
    assert!(
        o.stdout
            .contains("passwd and master.passwd disagree about: _nixbld2"),
        "{}",
        o.stdout
    );
}

#[test]
fn missing_tools_and_nix_conf_are_reported() {
    let p = NixPrefix::new();
    std::fs::remove_file(p.root().join("usr/sbin/diskutil")).unwrap();
    std::fs::write(
        p.root().join("private/etc/nix/nix.conf"),
        "build-users-group = nixbld\nsystem = x86_64-darwin\nsandbox = true\n",
    )
    .unwrap();
    let o = verify(&p, &["--json"]);
    assert_eq!(o.code, 1);
    assert_eq!(status(&o.stdout, "tools"), "fail");
    assert!(o.stdout.contains("/usr/sbin/diskutil"));
    assert_eq!(status(&o.stdout, "nix-conf"), "warn");
}

/// A verifier changes nothing: on a prefix without a store, running Nix
/// inside would create `nix/var/nix/db` (and the store-db check would then
/// pass on the database Nix just made).
#[test]
fn a_prefix_without_a_store_fails_store_db_and_is_not_written() {
    e2e::nix::require_nix();
    let f = e2e::Fixture::new();
    let before = listing(f.root());
    let o: Out = Command::new(env!("CARGO_BIN_EXE_nix-verify"))
        .args(["--runner", "fixture", "--json", "--build", "--prefix"])
        .arg(f.root())
        .env_remove("DARLING_PREFIX")
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(status(&o.stdout, "store-db"), "fail", "{}", o.stdout);
    assert!(
        !f.root().join("nix").exists(),
        "nix-verify created {}/nix: {}",
        f.root().display(),
        o.stdout
    );
    assert_eq!(
        listing(f.root()),
        before,
        "nix-verify wrote into the prefix"
    );
}

/// A `--darling` that cannot be used is named in the darling check, not
/// reported as "not found on PATH"; the host-side checks still run, and
/// the ones that run inside the prefix are skipped.
#[test]
fn a_bad_darling_is_named_in_the_report() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("no-such-darling");
    let o: Out = Command::new(env!("CARGO_BIN_EXE_nix-verify"))
        .args([
            "--runner",
            "darling",
            "--json",
            "--build",
            "--online",
            "--darling",
        ])
        .arg(&bad)
        .arg("--prefix")
        .arg(d.path().join("prefix"))
        .env_remove("DARLING_PREFIX")
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 1, "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let check = |id: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id} check: {}", o.stdout))
            .clone()
    };
    let darling = check("darling");
    assert_eq!(darling["status"], "fail");
    assert_eq!(
        darling["message"],
        format!(
            "{}: not an executable file, nor a command on PATH (--darling); checks that run inside the prefix were skipped",
            bad.display()
        )
    );
    assert_eq!(check("prefix")["status"], "fail");
    // Nothing of the host's is reported as the prefix's: the host's own
    // `nix` would answer these.
    for id in [
        "nix-version",
        "current-system",
        "build",
        "online",
        "unimplemented",
    ] {
        assert_eq!(check(id)["status"], "skip", "{id}: {}", o.stdout);
        assert_eq!(check(id)["message"], "needs Darling, which was not found");
    }

    assert!(!d.path().join("prefix").exists(), "nothing created");
}

/// The xnu-fixes check: a warning without the dylib; with the dylib and its
/// probe installed, the Mach-O probe is skipped under the fixture runner
/// (it needs Darling), and nothing is written either way.
#[test]
fn the_xnu_fixes_dylib_is_reported() {
    let p = NixPrefix::new();
    let o = verify(&p, &["--json"]);
    assert_eq!(status(&o.stdout, "xnu-fixes"), "warn", "{}", o.stdout);
    for (at, data) in [
        ("usr/local/lib/libxnu_fixes.dylib", &b"dylib"[..]),
        (
            "usr/local/libexec/darling-nix/xnu-fixes-probe",
            &b"probe"[..],
        ),
    ] {
        let f = p.root().join(at);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, data).unwrap();
    }
    let before = listing(p.root());
    let o = verify(&p, &["--json"]);
    assert_eq!(status(&o.stdout, "xnu-fixes"), "skip", "{}", o.stdout);
    assert_eq!(
        listing(p.root()),
        before,
        "nix-verify wrote into the prefix"
    );
}

//! nix-install's plan, install, re-run and uninstall on a fixture prefix,
//! with a Nix binary tarball built by the test from Debian's Nix 2.8
//! (its store paths and `.reginfo` are real; its "nix-2.8.0/bin/nix-store"
//! hands over to the host's nix-store, which the fixture runner points at
//! the prefix).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{tarball as build_tarball, Tarball};
use e2e::{Fixture, Out};

mod common;

/// A tarball whose nix-store hands over to the host's, which the fixture
/// runner points at the prefix.
fn tarball(version: &str) -> Tarball {
    build_tarball(version, "#!/bin/sh\nexec nix-store \"$@\"\n")
}

/// nix-install with the fixture runner on `f`, taking our tools from
/// `tools`.
fn nix_install(f: &Fixture, tools: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nix-install"));
    c.args(["--runner", "fixture", "--prefix"])
        .arg(f.root())
        .arg("--tools-dir")
        .arg(tools)
        .env_remove("DARLING_PREFIX");
    c
}

fn install(f: &Fixture, t: &Tarball, extra: &[&str]) -> Out {
    nix_install(f, &e2e::bin_dir())
        .args(["--mode", "daemon", "--users", "3", "--tarball"])
        .arg(&t.path)
        .args(["--sha256", &t.sha256])
        .args(extra)
        .output()
        .unwrap()
        .into()
}

/// nix-install in daemon mode with 2 users, the store actions skipped,
/// JSON out, tools from `tools`.
fn daemon_no_store(f: &Fixture, tools: &Path, extra: &[&str]) -> Out {
    nix_install(f, tools)
        .args(["--mode", "daemon", "--users", "2", "--json"])
        .args(common::SKIP_STORE)
        .args(extra)
        .output()
        .unwrap()
        .into()
}

fn step_ids(v: &serde_json::Value) -> Vec<&str> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

/// Every directory, file and symlink under the prefix with its content, minus the
/// account tools' own bookkeeping (lock and sidecar).
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    fn walk(root: &Path, p: &Path, m: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                // Directories count too: uninstall must not leave empty
                // ones behind (except where the account tools keep their
                // bookkeeping).
                if !rel.starts_with("private/var/db") {
                    m.insert(rel, b"<dir>".to_vec());
                }
                walk(root, &p, m);
            } else if !rel.contains("darling-nix/accounts.") {
                let v = if meta.file_type().is_symlink() {
                    fs::read_link(&p)
                        .unwrap()
                        .display()
                        .to_string()
                        .into_bytes()
                } else {
                    fs::read(&p).unwrap()
                };
                m.insert(rel, v);
            }
        }
    }
    walk(root, root, &mut m);
    m
}

/// The paths that differ between two snapshots (contents are too long to
/// print).
/// Fails the test, naming the files, when `f` differs from the snapshot
/// `then`.
fn assert_unchanged(f: &Fixture, then: &BTreeMap<String, Vec<u8>>, why: &str) {
    assert_eq!(
        changed(&snapshot(f.root()), then),
        Vec::<String>::new(),
        "{why}"
    );
}

fn changed(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn plan_install_rerun_uninstall() {
    let f = Fixture::new();
    let t = tarball("2.8.0");
    let before = snapshot(f.root());

    // Plan: nothing done yet, nothing changed.
    let o = install(&f, &t, &["--plan", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let ids = step_ids(&v);
    assert_eq!(
        ids,
        [
            "check-darling",
            "install-tools",
            "stock-accounts",
            "build-users",
            "fetch-tarball",
            "unpack-store",
            "load-db",
            "profile",
            "nix-conf",
            "daemon"
        ]
    );
    assert!(v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == "install-tools")
        .all(|s| s["status"] == "pending"));
    assert_unchanged(&f, &before, "--plan changed the prefix");

    // Install.
    let o = install(&f, &t, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Done."), "{}", o.stdout);
    for (_, at) in e2e::nix::TOOL_PATHS {
        assert!(f.root().join(at).is_file(), "{at}");
    }
    let group = fs::read_to_string(f.root().join("private/etc/group")).unwrap();
    assert!(
        group.contains("nixbld:*:350:_nixbld1,_nixbld2,_nixbld3"),
        "{group}"
    );
    let conf = fs::read_to_string(f.root().join("private/etc/nix/nix.conf")).unwrap();
    assert!(conf.contains("build-users-group = nixbld") && conf.contains("sandbox = false"));
    assert!(
        fs::read_to_string(f.root().join("private/etc/nix/nix-darling.sh"))
            .unwrap()
            .contains("_NIX_TEST_NO_SANDBOX=1")
    );
    assert!(fs::read_to_string(
        f.root()
            .join("Library/LaunchDaemons/org.nixos.nix-daemon.plist")
    )
    .unwrap()
    .contains("org.nixos.nix-daemon"));
    let profile = fs::read_link(f.root().join("nix/var/nix/profiles/default-1-link")).unwrap();
    assert!(profile.display().to_string().ends_with("-nix-2.8.0"));
    // The database is real: Nix sees the paths as valid.
    let o: Out = Command::new("nix-store")
        .args(["-q", "--hash"])
        .arg(&profile)
        .env("NIX_REMOTE", f.root())
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{}", o.stderr);
    // And nix-verify agrees with the accounts and the database.
    let o: Out = Command::new(e2e::tool("nix-verify"))
        .args(["--runner", "fixture", "--json", "--prefix"])
        .arg(f.root())
        .output()
        .unwrap()
        .into();
    let r: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    for id in ["tools", "store-db", "accounts", "nix-conf"] {
        let st = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["status"]
            .clone();
        assert_eq!(st, "ok", "{id}: {}", o.stdout);
    }

    // Again: nothing to do, nothing changed.
    let installed = snapshot(f.root());
    let o = install(&f, &t, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("Nothing to do"), "{}", o.stdout);
    assert_unchanged(&f, &installed, "a second install changed files");

    // The uninstall plan lists what would be undone, newest first, and changes nothing.
    let o = install(&f, &t, &["uninstall", "--plan", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let ids = step_ids(&v);
    assert_eq!(ids.first(), Some(&"daemon"), "{ids:?}");
    assert!(
        ids.contains(&"build-users") && ids.contains(&"install-tools"),
        "{ids:?}"
    );
    assert_unchanged(&f, &installed, "the uninstall plan changed files");

    // Uninstall: back to the files we started with.
    let o = install(&f, &t, &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_unchanged(&f, &before, "uninstall left changes behind");

    // Again: the receipt is gone, so there is nothing to undo.
    let o = install(&f, &t, &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        o.stdout,
        "Nothing to undo: no install is recorded in this prefix.\n"
    );
    assert_unchanged(&f, &before, "a second uninstall changed files");
}

#[test]
fn refusals() {
    let f = Fixture::new();
    let t = tarball("2.8.0");
    let o: Out = nix_install(&f, &e2e::bin_dir())
        .arg("--tarball")
        .arg(&t.path)
        .args(["--sha256", "00"])
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("sha256 is"), "{}", o.stderr);
    // Nix 2.35 cannot install in Darling's macOS 11.
    let t35 = tarball("2.35.0");
    let o: Out = nix_install(&f, &e2e::bin_dir())
        .arg("--tarball")
        .arg(&t35.path)
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("refuses macOS older than 14"),
        "{}",
        o.stderr
    );
    // URLs need a hash.
    let o: Out = nix_install(&f, &e2e::bin_dir())
        .args([
            "--tarball",
            "https://example.invalid/nix-2.34.1-x86_64-darwin.tar.xz",
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("needs --sha256"), "{}", o.stderr);
}

#[test]
fn a_corrupt_receipt_is_an_error_that_names_it_and_changes_nothing() {
    let f = Fixture::new();
    let receipt = f
        .root()
        .join("private/var/db/darling-nix/install-receipt.json");
    fs::create_dir_all(receipt.parent().unwrap()).unwrap();
    fs::write(
        &receipt,
        "{\"version\": 1, \"records\": [{\"id\": \"install-to",
    )
    .unwrap();
    let before = snapshot(f.root());
    for args in [&["uninstall"][..], &["uninstall", "--plan"], &["install"]] {
        let o: Out = nix_install(&f, &e2e::bin_dir())
            .args(args)
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 1, "{args:?}: {}{}", o.stdout, o.stderr);
        assert!(
            o.stderr.contains(&receipt.display().to_string())
                && o.stderr.contains("corrupt receipt"),
            "{args:?}: {}",
            o.stderr
        );
        assert_unchanged(&f, &before, &format!("{args:?} changed the prefix"));
    }
}

/// A receipt is a file in the prefix, which anything in it can write: one
/// that records a path outside the prefix, a backup outside nix-install's
/// backup directory, or a `..`, is refused, naming it, and nothing changes
/// (uninstall deleted and overwrote files outside the prefix).
#[test]
fn a_receipt_naming_paths_outside_the_prefix_is_refused_and_changes_nothing() {
    let f = Fixture::new();
    let receipt = f
        .root()
        .join("private/var/db/darling-nix/install-receipt.json");
    fs::create_dir_all(receipt.parent().unwrap()).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, "not the prefix's\n").unwrap();
    fs::write(f.root().join("evil"), "evil\n").unwrap();
    let backup = f.root().join("private/var/db/darling-nix/backup/group");
    fs::create_dir_all(backup.parent().unwrap()).unwrap();
    fs::write(&backup, "a backup\n").unwrap();
    let (v, p) = (victim.display(), f.root().display());
    for (record, entry) in [
        (format!(r#""created":["{v}"]"#), v.to_string()),
        (
            format!(r#""dirs":["{}"]"#, outside.path().display()),
            outside.path().display().to_string(),
        ),
        (format!(r#""replaced":[["{v}","{p}/evil"]]"#), v.to_string()),
        (
            format!(r#""replaced":[["{p}/private/etc/group","{p}/evil"]]"#),
            format!("{p}/evil"),
        ),
        (
            format!(
                r#""replaced":[["{p}/../{}","{}"]]"#,
                victim.strip_prefix("/").unwrap().display(),
                backup.display()
            ),
            format!("{p}/../"),
        ),
        (
            format!(
                r#""created":["{p}/../{}"]"#,
                victim.strip_prefix("/").unwrap().display()
            ),
            format!("{p}/../"),
        ),
    ] {
        fs::write(
            &receipt,
            format!(r#"{{"version": 1, "records": [{{"id": "install-tools", {record}}}]}}"#),
        )
        .unwrap();
        let before = snapshot(f.root());
        for args in [&["uninstall"][..], &["uninstall", "--plan"], &["install"]] {
            let o: Out = nix_install(&f, &e2e::bin_dir())
                .args(args)
                .output()
                .unwrap()
                .into();
            assert_eq!(o.code, 1, "{record} {args:?}: {}{}", o.stdout, o.stderr);
            assert!(
                o.stderr
                    .contains(&format!("{}: refused receipt: {entry}", receipt.display()))
                    && o.stderr.contains("nothing was changed"),
                "{record} {args:?}: {}",
                o.stderr
            );
            assert_unchanged(
                &f,
                &before,
                &format!("{record} {args:?} changed the prefix"),
            );
            assert_eq!(fs::read_to_string(&victim).unwrap(), "not the prefix's\n");
            assert!(outside.path().is_dir());
        }
    }
}

#[test]
fn skipped_store_actions_need_no_tarball_and_uninstall_still_reverts() {
    let f = Fixture::new();
    let before = snapshot(f.root());
    let run = |extra: &[&str]| daemon_no_store(&f, &e2e::bin_dir(), extra);
    let o = run(&[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let status: BTreeMap<&str, &str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    for id in ["fetch-tarball", "unpack-store", "load-db", "profile"] {
        assert_eq!(status[id], "skipped", "{}", o.stdout);
    }
    for id in ["install-tools", "build-users", "nix-conf", "daemon"] {
        assert_eq!(status[id], "ran", "{}", o.stdout);
    }
    // The plist is a real one.
    let plist = plist::Value::from_file(
        f.root()
            .join("Library/LaunchDaemons/org.nixos.nix-daemon.plist"),
    )
    .unwrap();
    let d = plist.as_dictionary().unwrap();
    assert_eq!(d["Label"].as_string(), Some("org.nixos.nix-daemon"));
    assert_eq!(
        d["EnvironmentVariables"].as_dictionary().unwrap()["_NIX_TEST_NO_SANDBOX"].as_string(),
        Some("1")
    );
    let o = run(&["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_unchanged(&f, &before, "uninstall left changes behind");
    // Nothing recorded any more: a second uninstall has nothing to do.
    let o = run(&["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stdout.matches("\"id\"").count(), 0, "{}", o.stdout);
}

/// An action that fails half-way keeps what it did in the receipt, and
/// uninstall undoes it.
#[test]
fn a_half_done_action_is_recorded_and_uninstalled() {
    let f = Fixture::new();
    let before = snapshot(f.root());
    // Only the first two tools are there.
    let tools = tempfile::tempdir().unwrap();
    for name in ["dscl", "dseditgroup"] {
        fs::copy(e2e::tool(name), tools.path().join(name)).unwrap();
    }
    let run = |extra: &[&str]| -> Out {
        nix_install(&f, tools.path())
            .args(extra)
            .output()
            .unwrap()
            .into()
    };
    let o = run(&[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let missing = tools.path().join("sysadminctl").display().to_string();
    assert!(
        o.stderr.contains("install-tools: ")
            && o.stderr.contains(&missing)
            && o.stderr.contains("(build the tools, or pass --tools-dir)"),
        "{}",
        o.stderr
    );
    assert!(f.root().join("usr/sbin/dseditgroup").is_file());
    let o = run(&["uninstall", "--plan", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(step_ids(&v), ["install-tools"], "{}", o.stdout);
    let o = run(&["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// What a fresh Darling prefix has in its account files: root, and the
/// groups wheel and root.
const DARLING_GROUP: &str = "wheel:*:0:root,root\nroot:*:0:root\n";
const DARLING_MASTER: &str = "root:*:0:0::0:0:System Administrator:/var/root:/bin/sh\n";
const DARLING_PASSWD: &str = "root:*:0:0:System Administrator:/var/root:/bin/sh\n";

/// A fixture prefix whose account files are Darling's, plus `extra_group`.
fn darling_accounts(extra_group: &str) -> Fixture {
    let f = Fixture::new();
    fs::write(f.etc("group"), format!("{DARLING_GROUP}{extra_group}")).unwrap();
    fs::write(f.etc("master.passwd"), DARLING_MASTER).unwrap();
    fs::write(f.etc("passwd"), DARLING_PASSWD).unwrap();
    f
}

/// nix-install in single-user mode with only the actions that need no
/// tarball.
fn install_no_store(f: &Fixture, extra: &[&str]) -> Out {
    nix_install(f, &e2e::bin_dir())
        .args(["--mode", "single", "--json"])
        .args(common::SKIP_STORE)
        .args(extra)
        .output()
        .unwrap()
        .into()
}

/// [`install_no_store`], which must succeed.
#[track_caller]
fn install_ok(f: &Fixture, extra: &[&str]) -> Out {
    let o = install_no_store(f, extra);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    o
}

#[track_caller]
fn assert_stock(o: &Out, want: &str) {
    assert_eq!(status_of(&o.stdout, "stock-accounts"), want, "{}", o.stdout);
}

fn status_of(json: &str, id: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn stock_accounts_added_to_a_darling_prefix_and_removed_again() {
    // staff exists already, with Darling-specific members: kept as it is.
    // A group of another name holds gid 80: no second record for it.
    let f = darling_accounts("staff:*:20:root,alice\nlocaladmins:*:80:\n");
    f.tool_path(); // for f.sh below, before the snapshot
    let mut before = snapshot(f.root());
    // Darling lists root twice in wheel. Our account tools, on any write,
    // keep such a duplicate in their sidecar only and write the line with
    // each member once (as build-users does too): the one change to an
    // existing line.
    let group = before.get_mut("private/etc/group").unwrap();
    *group = String::from_utf8(group.clone())
        .unwrap()
        .replacen("wheel:*:0:root,root\n", "wheel:*:0:root\n", 1)
        .into_bytes();
    let darling_group = "wheel:*:0:root\nroot:*:0:root\n";
    let o = install_no_store(&f, &["--plan"]);
    assert_stock(&o, "pending");

    let o = install_ok(&f, &[]);
    assert_stock(&o, "ran");
    let group = f.read_etc("group");
    assert!(
        group.starts_with(&format!(
            "{darling_group}staff:*:20:root,alice\nlocaladmins:*:80:\n"
        )),
        "the existing records are untouched:\n{group}"
    );
    let added: Vec<&str> = group.lines().skip(4).collect();
    assert_eq!(
        added,
        [
            "nobody:*:-2:",
            "nogroup:*:-1:",
            "daemon:*:1:root",
            "kmem:*:2:root",
            "sys:*:3:root",
            "tty:*:4:root",
            "operator:*:5:root",
            "everyone:*:12:",
        ],
        "{group}"
    );
    let master = f.read_etc("master.passwd");
    assert_eq!(
        master,
        format!(
            "{DARLING_MASTER}nobody:*:-2:-2::0:0:Unprivileged User:/var/empty:/usr/bin/false\n\
             daemon:*:1:1::0:0:System Services:/var/root:/usr/bin/false\n"
        )
    );
    // The RealNames and Password, as dscl reads them back; wheel's members
    // as Darling wrote them.
    let o = f.sh(
        "dscl . -read /Groups/nogroup RealName; dscl . -read /Users/nobody Password; \
         dscl . -read /Groups/wheel GroupMembership",
    );
    assert_eq!(
        o.stdout, "RealName:\n Unprivileged Group\nPassword: *\nGroupMembership: root root\n",
        "{o:?}"
    );
    // A real passwd/group reader inside the prefix sees them (busybox
    // reads no negative ids: daemon, not nobody).
    if let Some(o) = f.id_inside(&["daemon"]) {
        assert_eq!(
            o.stdout, "uid=1(daemon) gid=1(daemon) groups=1(daemon)\n",
            "{o:?}"
        );
    }
    // The receipt names exactly what was made.
    let receipt: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(
            f.root()
                .join("private/var/db/darling-nix/install-receipt.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let rec = receipt["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "stock-accounts")
        .unwrap();
    assert_eq!(rec["users"], serde_json::json!(["nobody", "daemon"]));
    assert_eq!(
        rec["groups"],
        serde_json::json!([
            "nobody", "nogroup", "daemon", "kmem", "sys", "tty", "operator", "everyone"
        ])
    );

    // Again: done, nothing changed.
    let installed = snapshot(f.root());
    let o = install_ok(&f, &[]);
    assert_stock(&o, "done");
    assert_unchanged(&f, &installed, "a second install changed files");

    // Uninstall removes exactly what it added.
    install_ok(&f, &["uninstall"]);
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

#[test]
fn stock_accounts_already_there_are_done_and_never_recorded() {
    // Fixture::new has macOS's users and most groups; only the missing ones
    // are made, and a prefix that has them all is left alone.
    let f = Fixture::new();
    install_ok(&f, &[]);
    let group = f.read_etc("group");
    assert!(group.ends_with("admin:*:80:root\nkmem:*:2:root\nsys:*:3:root\ntty:*:4:root\noperator:*:5:root\neveryone:*:12:\n"), "{group}");
    install_ok(&f, &["uninstall"]);

    let mut all = f.read_etc("group");
    all.push_str("kmem:*:2:root\nsys:*:3:root\ntty:*:4:root\noperator:*:5:root\neveryone:*:12:\n");
    fs::write(f.etc("group"), &all).unwrap();
    let before = snapshot(f.root());
    let o = install_ok(&f, &[]);
    assert_stock(&o, "done");
    let receipt = fs::read_to_string(
        f.root()
            .join("private/var/db/darling-nix/install-receipt.json"),
    )
    .unwrap();
    assert!(!receipt.contains("stock-accounts"), "{receipt}");
    install_ok(&f, &["uninstall"]);
    assert_unchanged(&f, &before, "uninstall changed the stock records");
}

/// A tools directory carrying libxnu_fixes.dylib: install-tools puts it in
/// the prefix, the daemon plist loads it, a re-run has nothing to do, and
/// uninstall takes it away again.
#[test]
fn the_xnu_fixes_dylib_goes_into_the_prefix_and_the_daemon_environment() {
    let f = Fixture::new();
    let before = snapshot(f.root());
    // Our tools plus a dylib, in a directory of their own.
    let tools = tempfile::tempdir().unwrap();
    for (name, _) in nix_install::TOOLS {
        std::fs::copy(e2e::bin_dir().join(name), tools.path().join(name)).unwrap();
    }
    let dylib = b"\xcf\xfa\xed\xfe stand-in bytes: only copied, never run here";
    std::fs::write(tools.path().join("libxnu_fixes.dylib"), dylib).unwrap();
    std::fs::write(tools.path().join("xnu-fixes-probe"), b"probe stand-in").unwrap();
    let run = |extra: &[&str]| daemon_no_store(&f, tools.path(), extra);
    let o = run(&[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(status_of(&o.stdout, "install-tools"), "ran", "{}", o.stdout);
    let at = f.root().join("usr/local/lib/libxnu_fixes.dylib");
    assert_eq!(std::fs::read(&at).unwrap(), dylib);
    let probe = f
        .root()
        .join("usr/local/libexec/darling-nix/xnu-fixes-probe");
    assert_eq!(std::fs::read(&probe).unwrap(), b"probe stand-in");
    let plist = plist::Value::from_file(
        f.root()
            .join("Library/LaunchDaemons/org.nixos.nix-daemon.plist"),
    )
    .unwrap();
    let env = plist.as_dictionary().unwrap()["EnvironmentVariables"]
        .as_dictionary()
        .unwrap()
        .clone();
    assert_eq!(
        env["DYLD_INSERT_LIBRARIES"].as_string(),
        Some("/usr/local/lib/libxnu_fixes.dylib")
    );
    let again = run(&[]);
    assert_eq!(
        status_of(&again.stdout, "install-tools"),
        "done",
        "{}",
        again.stdout
    );
    let o = run(&["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(!at.exists() && !probe.exists());
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// Whether the host tools a test needs are on PATH; a skip line otherwise.
fn have_tools(test: &str, tools: &[&str]) -> bool {
    match tools.iter().find(|t| which(t).is_none()) {
        Some(t) => {
            e2e::skip_tool(test, &format!("`{t}` is not on PATH"));
            false
        }
        None => true,
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// The host store shared into the prefix (a bind mount at `<prefix>/nix`,
/// as nix/darling-prefix.sh makes with SHARE_STORE=1) over the `/nix` that
/// unpack-store created and recorded: uninstall refuses to go into the
/// mount, names it, and leaves everything in it; once it is unmounted,
/// uninstall removes the prefix's own `/nix`.
#[test]
fn uninstall_never_goes_into_a_mount_in_the_prefix() {
    let test = "nix-install's mount-point test";
    if !e2e::is_root() {
        e2e::skip_tool(
            test,
            "it needs root (a bind mount in a private mount namespace)",
        );
        return;
    }
    if !have_tools(test, &["unshare", "mount"]) {
        return;
    }
    let f = Fixture::new();
    let t = tarball("2.8.0");
    let before = snapshot(f.root());
    let o = install(&f, &t, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let receipt = fs::read_to_string(
        f.root()
            .join("private/var/db/darling-nix/install-receipt.json"),
    )
    .unwrap();
    let nix = f.root().join("nix");
    assert!(
        receipt.contains(&format!("\"{}\"", nix.display())),
        "unpack-store recorded /nix as its own: {receipt}"
    );
    // The "host store": a file, and store paths of the same names as the
    // prefix's.
    let host = tempfile::tempdir().unwrap();
    fs::create_dir_all(host.path().join("store")).unwrap();
    fs::write(host.path().join("keep"), "the host's\n").unwrap();
    for e in fs::read_dir(nix.join("store")).unwrap() {
        let p = host.path().join("store").join(e.unwrap().file_name());
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("marker"), "the host's\n").unwrap();
    }
    let host_before = snapshot(host.path());

    let uninstall = nix_install(&f, &e2e::bin_dir());
    let o: Out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "--", "sh", "-ec"])
        .arg("mount --bind \"$1\" \"$2\"; shift 2; exec \"$@\"")
        .arg("sh")
        .arg(host.path())
        .arg(&nix)
        .arg(uninstall.get_program())
        .args(uninstall.get_args())
        .arg("uninstall")
        .env_remove("DARLING_PREFIX")
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "{}: a mount point (for example the host store",
            nix.display()
        )),
        "{}",
        o.stderr
    );
    assert_eq!(
        changed(&snapshot(host.path()), &host_before),
        Vec::<String>::new(),
        "uninstall changed the store mounted in the prefix"
    );

    // Unmounted (the namespace is gone): the prefix's own /nix goes.
    let o = install(&f, &t, &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_unchanged(&f, &before, "uninstall left changes behind");
    assert_eq!(
        changed(&snapshot(host.path()), &host_before),
        Vec::<String>::new()
    );
}

/// A directory of the prefix that is a symlink to one outside (here
/// `/etc/nix`): nix-conf refuses to write through it, names the file and
/// where it leads, and the outside directory is left as it was.
#[test]
fn writes_never_follow_a_symlink_out_of_the_prefix() {
    let f = Fixture::new();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("nix.conf"), "the host's own\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), f.etc("nix")).unwrap();
    let before = snapshot(f.root());
    let outside_before = snapshot(outside.path());
    let o = install_no_store(&f, &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let want = format!(
        "nix-conf: {}: resolves to {}, outside the prefix",
        f.etc("nix/nix.conf").display(),
        fs::canonicalize(outside.path()).unwrap().display()
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let error = v["error"].as_str().unwrap_or_default();
    assert!(error.starts_with(&want), "{want}\n{}", o.stdout);
    assert_eq!(status_of(&o.stdout, "nix-conf"), "failed", "{}", o.stdout);
    assert_eq!(
        changed(&snapshot(outside.path()), &outside_before),
        Vec::<String>::new(),
        "nix-conf wrote outside the prefix"
    );
    // What did run is undone; the symlink is as it was.
    install_ok(&f, &["uninstall"]);
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// Our tools, with `diskutil` replaced by `diskutil_text`, in a directory
/// of their own.
fn tools_with_diskutil(diskutil_text: &str) -> tempfile::TempDir {
    let tools = tempfile::tempdir().unwrap();
    for (name, _) in nix_install::TOOLS {
        fs::copy(e2e::bin_dir().join(name), tools.path().join(name)).unwrap();
    }
    fs::write(tools.path().join("diskutil"), diskutil_text).unwrap();
    tools
}

/// Installing new tools over ours (v1, then v2) keeps the backup of
/// Darling's own diskutil: uninstall brings that back, not our v1 (a second
/// install used to back up v1 over it).
#[test]
fn a_second_install_keeps_the_backup_of_the_original() {
    let f = Fixture::new();
    let diskutil = f.root().join("usr/sbin/diskutil");
    fs::write(&diskutil, "Darling's own diskutil\n").unwrap();
    fs::set_permissions(&diskutil, fs::Permissions::from_mode(0o750)).unwrap();
    let before = snapshot(f.root());
    for v in ["v1", "v2"] {
        let tools = tools_with_diskutil(&format!("our diskutil {v}\n"));
        let o = daemon_no_store(&f, tools.path(), &[]);
        assert_eq!(o.code, 0, "{v}: {}{}", o.stdout, o.stderr);
        assert_eq!(status_of(&o.stdout, "install-tools"), "ran", "{}", o.stdout);
        assert_eq!(
            fs::read_to_string(&diskutil).unwrap(),
            format!("our diskutil {v}\n")
        );
    }
    let backups: Vec<String> = fs::read_dir(f.root().join("private/var/db/darling-nix/backup"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(backups, ["diskutil"], "one backup, the original's");
    let o = daemon_no_store(&f, &e2e::bin_dir(), &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        fs::read_to_string(&diskutil).unwrap(),
        "Darling's own diskutil\n"
    );
    assert_eq!(
        fs::metadata(&diskutil).unwrap().permissions().mode() & 0o7777,
        0o750
    );
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// Each change is in the receipt before it is made: nix-install killed in
/// the middle of load-db (its `nix-store --load-db` has made the database
/// directory and hangs) leaves nothing that uninstall does not undo. (The
/// receipt used to be saved only once an action returned.)
#[test]
fn a_run_killed_half_way_through_an_action_is_undone_by_uninstall() {
    let f = Fixture::new();
    // A /nix that was there (so unpack-store does not own all of it).
    fs::create_dir_all(f.root().join("nix/var/nix")).unwrap();
    let before = snapshot(f.root());
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("pid");
    let t = build_tarball(
        "2.8.0",
        &format!(
            "#!/bin/sh\necho $$ > '{}'\nmkdir -p \"$NIX_STATE_DIR/db\"\necho half > \"$NIX_STATE_DIR/db/db.sqlite\"\nexec sleep 600\n",
            pid_file.display()
        ),
    );
    let mut child = nix_install(&f, &e2e::bin_dir())
        .args(["--mode", "daemon", "--users", "2", "--tarball"])
        .arg(&t.path)
        .args(["--sha256", &t.sha256])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let db = f.root().join("nix/var/nix/db/db.sqlite");
    let start = std::time::Instant::now();
    while !(db.exists() && pid_file.exists()) {
        assert!(
            start.elapsed().as_secs() < 120,
            "load-db's nix-store never ran"
        );
        assert!(child.try_wait().unwrap().is_none(), "nix-install ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let pid = fs::read_to_string(&pid_file).unwrap();
    let _ = Command::new("kill").args(["-9", pid.trim()]).status();

    let o = install(&f, &t, &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// An uninstall cut short half-way through a record (here: /etc/nix made a
/// symlink out of the prefix after install, so removing nix.conf is
/// refused after /etc/bashrc was restored) keeps that record's backups, so
/// that uninstall, run again once /etc/nix is back, finishes the job. (The
/// backup of /etc/bashrc used to be removed at once, and every later
/// uninstall failed on it.)
#[test]
fn an_uninstall_cut_short_can_run_again() {
    let f = Fixture::new();
    fs::write(f.etc("bashrc"), "Darling's bashrc\n").unwrap();
    let before = snapshot(f.root());
    install_ok(&f, &[]);
    assert!(f.read_etc("bashrc").contains("# darling-nix"));
    let moved = tempfile::tempdir().unwrap();
    let away = moved.path().join("nix");
    fs::rename(f.etc("nix"), &away).unwrap();
    std::os::unix::fs::symlink(&away, f.etc("nix")).unwrap();
    let o = install_no_store(&f, &["uninstall"]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(status_of(&o.stdout, "nix-conf"), "failed", "{}", o.stdout);
    assert_eq!(f.read_etc("bashrc"), "Darling's bashrc\n");
    assert!(away.join("nix.conf").is_file(), "nothing removed outside");

    fs::remove_file(f.etc("nix")).unwrap();
    fs::rename(&away, f.etc("nix")).unwrap();
    let o = install_no_store(&f, &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// A backup already gone while its file is there (an uninstall cut short by
/// an earlier version, which removed each backup at once) counts as
/// restored.
#[test]
fn a_missing_backup_of_a_file_that_is_there_counts_as_restored() {
    let f = Fixture::new();
    fs::write(f.etc("bashrc"), "Darling's bashrc\n").unwrap();
    let before = snapshot(f.root());
    install_ok(&f, &[]);
    fs::write(f.etc("bashrc"), "Darling's bashrc\n").unwrap();
    fs::remove_file(f.root().join("private/var/db/darling-nix/backup/bashrc")).unwrap();
    let o = install_no_store(&f, &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// One run at a time: while another holds nix-install's lock (a flock on
/// the prefix directory), install and uninstall wait, saying so, and change
/// nothing; the plan waits too. Once the lock is free they go on.
#[test]
fn runs_wait_for_the_lock_on_the_prefix() {
    let f = Fixture::new();
    let before = snapshot(f.root());
    for args in [&[][..], &["--plan"], &[], &["uninstall"]] {
        let held = fs::File::open(f.root()).unwrap();
        held.lock().unwrap();
        let then = snapshot(f.root());
        let child = nix_install(&f, &e2e::bin_dir())
            .args(["--mode", "single"])
            .args(common::SKIP_STORE)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let mut child = child;
        assert!(
            child.try_wait().unwrap().is_none(),
            "{args:?} did not wait for the lock"
        );
        assert_unchanged(
            &f,
            &then,
            &format!("{args:?} changed the prefix while locked out"),
        );
        drop(held);
        let o: Out = child.wait_with_output().unwrap().into();
        assert_eq!(o.code, 0, "{args:?}: {}{}", o.stdout, o.stderr);
        assert!(
            o.stderr.contains(&format!(
                "nix-install: waiting for another nix-install in {} to finish",
                f.root().display()
            )),
            "{args:?}: {}",
            o.stderr
        );
    }
    assert_unchanged(&f, &before, "uninstall left changes behind");
}

/// A URL as a tarball server with a token wants it.
const SECRET_URL: (&str, &str) = ("user:pw-s3cret@", "?token=t0k3n-s3cret");

/// Whether `text` shows any part of [`SECRET_URL`]'s secrets.
fn shows_secret(text: &str) -> bool {
    text.contains("s3cret")
}

/// A tarball URL's token (userinfo, query) shows nowhere: not in the plan,
/// the steps or the error, not in the cache's file names or the receipt,
/// and not on curl's command line (curl reads the URL from its stdin).
#[test]
fn a_token_in_the_tarball_url_is_never_shown() {
    let test = "nix-install's URL token test";
    if !have_tools(test, &["curl", "python3"]) {
        return;
    }
    let f = Fixture::new();
    let t = tarball("2.8.0");
    let cache = tempfile::tempdir().unwrap();
    let run = |url: &str, path: Option<&std::ffi::OsStr>, extra: &[&str]| -> Out {
        let mut c = nix_install(&f, &e2e::bin_dir());
        c.args(["--mode", "single", "--tarball", url, "--sha256", &t.sha256])
            .args(extra)
            .env("XDG_CACHE_HOME", cache.path());
        if let Some(p) = path {
            c.env("PATH", p);
        }
        c.output().unwrap().into()
    };
    let url_at = |port: u16| {
        format!(
            "http://{}127.0.0.1:{port}/nix-2.8.0-x86_64-darwin.tar{}",
            SECRET_URL.0, SECRET_URL.1
        )
    };
    let shown = |port: u16| {
        format!("http://<redacted>@127.0.0.1:{port}/nix-2.8.0-x86_64-darwin.tar?<redacted>")
    };

    // The plan.
    let o = run(&url_at(1), None, &["--plan"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        !shows_secret(&o.stdout) && !shows_secret(&o.stderr),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains(&shown(1)), "{}", o.stdout);

    // A stand-in curl on PATH: its command line and its stdin.
    let fake = tempfile::tempdir().unwrap();
    let log = fake.path().join("log");
    fs::write(
        fake.path().join("curl"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{0}.argv'\ncat > '{0}.stdin'\nexit 22\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(fake.path().join("curl"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut path = std::ffi::OsString::from(fake.path());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let o = run(&url_at(1), Some(&path), &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let argv = fs::read_to_string(log.with_extension("argv")).unwrap();
    assert!(
        !shows_secret(&argv) && argv.contains("--config\n-\n"),
        "{argv}"
    );
    assert_eq!(
        fs::read_to_string(log.with_extension("stdin")).unwrap(),
        format!("url = \"{}\"\n", url_at(1))
    );
    let want = format!("fetch-tarball: downloading {} failed", shown(1));
    assert!(o.stderr.contains(&want), "{want}\n{}", o.stderr);
    assert!(
        !shows_secret(&o.stdout) && !shows_secret(&o.stderr),
        "{}{}",
        o.stdout,
        o.stderr
    );

    // A real download, from a server on 127.0.0.1.
    let mut server = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(t.path.parent().unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let port: u16 = first
        .split(" port ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    let o = run(&url_at(port), None, &[]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        !shows_secret(&o.stdout) && !shows_secret(&o.stderr),
        "{}{}",
        o.stdout,
        o.stderr
    );
    let names: Vec<String> = fs::read_dir(cache.path().join("darling-nix"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].ends_with("-nix-2.8.0-x86_64-darwin.tar"),
        "{names:?}"
    );
    assert!(!shows_secret(&names[0]));
    let receipt = fs::read_to_string(
        f.root()
            .join("private/var/db/darling-nix/install-receipt.json"),
    )
    .unwrap();
    assert!(!shows_secret(&receipt), "{receipt}");
    assert!(
        receipt.contains(&names[0]),
        "the download is recorded: {receipt}"
    );
    // Uninstall removes the download with the rest.
    let o = run(&url_at(port), None, &["uninstall"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        fs::read_dir(cache.path().join("darling-nix"))
            .unwrap()
            .count(),
        0
    );
}

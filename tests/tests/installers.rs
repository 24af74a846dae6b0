//! Scenario tests: the client call sequences of shared/spec/macos-tools.md §2,
//! replayed call by call through our tools (as a POSIX shell script, the way
//! the installers run them), with the files checked after each scenario by
//! our consistency check and by busybox `id` chrooted into the prefix.

use e2e::{Fixture, Out};

mod common;
use common::*;

/// `id NAME` inside the prefix must agree with the files (when we can chroot).
fn assert_id(f: &Fixture, user: &str, expect_prefix: &str) {
    if let Some(o) = f.id_inside(&[user]) {
        assert_eq!(o.code, 0, "id {user}: {}", o.stderr);
        assert!(
            o.stdout.starts_with(expect_prefix),
            "id {user}: {}",
            o.stdout
        );
    } else {
        assert!(
            !e2e::is_root(),
            "running as root, the chroot check must run"
        );
    }
}

fn ok(o: Out) -> Out {
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    o
}

#[test]
fn nix_shell_installer_twice_then_uninstall() {
    let f = Fixture::new();
    let first = ok(f.sh(NIX_SHELL_INSTALLER));
    assert_eq!(first.stdout, "group created\n");
    let after_first = f.snapshot();
    let second = ok(f.sh(NIX_SHELL_INSTALLER));
    assert_eq!(second.stdout, "group exists\n");
    // The second run re-sets RealName to the same value: nothing changes.
    assert_eq!(f.snapshot(), after_first);

    let a = f.assert_consistent();
    assert_eq!(
        a.groups["nixbld"],
        (
            "350".into(),
            vec!["_nixbld1".into(), "_nixbld2".into(), "_nixbld3".into()]
        )
    );
    assert_eq!(
        a.users["_nixbld2"].join(":"),
        "_nixbld2:*:352:350::0:0:Nix build user 2:/var/empty:/sbin/nologin"
    );
    assert_id(&f, "_nixbld3", "uid=353(_nixbld3) gid=350(nixbld)");

    // `nix` installer docs' uninstall step.
    ok(f.sh(NIX_UNINSTALL));
    let a = f.assert_consistent();
    assert!(!a.groups.contains_key("nixbld"));
    assert!(a.users.keys().all(|u| !u.starts_with("_nixbld")));
}

#[test]
fn sequoia_migration_moves_uids() {
    let f = Fixture::new();
    // Pre-Sequoia layout: gid 350 group, users at 301+.
    ok(f.sh(SEQUOIA_SETUP));
    // The migration script's loop (scripts/sequoia-nixbld-user-migration.sh).
    let o = ok(f.sh(SEQUOIA_MIGRATION));
    assert_eq!(o.stdout, SEQUOIA_MIGRATION_OUT);
    let a = f.assert_consistent();
    for i in 1..=3 {
        assert_eq!(a.users[&format!("_nixbld{i}")][2], (350 + i).to_string());
    }
    assert_id(&f, "_nixbld1", "uid=351(_nixbld1) gid=350(nixbld)");
}

#[test]
fn bigsur_migration_renames_records() {
    let f = Fixture::new();
    ok(f.sh(BIGSUR_SETUP));
    // scripts/bigsur-nixbld-user-migration.sh, per user.
    ok(f.sh(BIGSUR_MIGRATION));
    let a = f.assert_consistent();
    assert_eq!(a.groups["nixbld"].1, ["_nixbld1", "_nixbld2"]);
    assert_eq!(
        a.users["_nixbld2"].join(":"),
        "_nixbld2:*:302:30000::0:0::/var/empty:/usr/bin/false"
    );
    assert!(!a.users.contains_key("nixbld1"));
    let o = f.run(
        e2e::tool("dscl"),
        &[
            ".",
            "-read",
            "/Users/_nixbld1",
            "dsAttrTypeNative:_writers_passwd",
        ],
    );
    assert_eq!(o.stderr, "No such key: dsAttrTypeNative:_writers_passwd\n");
    assert_id(&f, "_nixbld2", "uid=302(_nixbld2) gid=30000(nixbld)");
}

/// The Rust installers (DeterminateSystems / NixOS nix-installer): plan
/// checks, creation with a bare record first, membership twice, repair's
/// plist read, uninstall with its tolerated exit codes.
#[test]
fn rust_installer_create_repair_uninstall() {
    let f = Fixture::new();
    let dscl = e2e::tool("dscl");
    let deg = e2e::tool("dseditgroup");
    // Plan: checkmember before the group exists.
    let o = f.run(&deg, &["-o", "checkmember", "-m", "_nixbld1", "nixbld"]);
    assert!(
        o.code == 64 && o.stderr.contains("Group not found"),
        "{o:?}"
    );
    ok(f.run(
        &deg,
        &[
            "-o",
            "create",
            "-r",
            "Nix build group for nix-daemon",
            "-i",
            "350",
            "nixbld",
        ],
    ));
    for i in 1..=3 {
        let user = format!("_nixbld{i}");
        let path = format!("/Users/{user}");
        let uid = (350 + i).to_string();
        ok(f.run(&dscl, &[".", "-create", &path]));
        for (k, v) in [
            ("UniqueID", uid.as_str()),
            ("PrimaryGroupID", "350"),
            ("NFSHomeDirectory", "/var/empty"),
            ("UserShell", "/sbin/nologin"),
            ("RealName", user.as_str()),
            ("IsHidden", "1"),
        ] {
            ok(f.run(&dscl, &[".", "-create", &path, k, v]));
        }
        let o = f.run(&deg, &["-o", "checkmember", "-m", &user, "nixbld"]);
        assert_eq!(o.code, 67);
        ok(f.run(
            &dscl,
            &[".", "-append", "/Groups/nixbld", "GroupMembership", &user],
        ));
        ok(f.run(&deg, &["-o", "edit", "-a", &user, "nixbld"]));
        assert_eq!(
            f.run(&deg, &["-o", "checkmember", "-m", &user, "nixbld"])
                .code,
            0
        );
    }
    let a = f.assert_consistent();
    assert_eq!(
        a.groups["nixbld"].1,
        ["_nixbld1", "_nixbld2", "_nixbld3"],
        "one gr_mem entry each"
    );
    assert_id(&f, "_nixbld2", "uid=352(_nixbld2) gid=350(nixbld)");

    // repair sequoia: the plist read, parsed as the installer's serde does.
    let o = ok(f.run(&dscl, &["-plist", ".", "-read", "/Groups/nixbld"]));
    let r = plist_record(&o.stdout);
    // dseditgroup's add after -append finds the member already there.
    assert_eq!(
        r["dsAttrTypeStandard:GroupMembership"],
        ["_nixbld1", "_nixbld2", "_nixbld3"]
    );
    assert_eq!(r["dsAttrTypeStandard:PrimaryGroupID"], ["350"]);

    // Uninstall: users (a second delete is "already deleted"), then the group.
    for i in 1..=3 {
        ok(f.run(&dscl, &[".", "-delete", &format!("/Users/_nixbld{i}")]));
    }
    let o = f.run(&dscl, &[".", "-delete", "/Users/_nixbld1"]);
    assert!(
        o.code == 185 && o.stderr.contains("-14009 (eDSUnknownNodeName)"),
        "{o:?}"
    );
    let a = f.assert_consistent();
    assert!(
        a.groups["nixbld"].1.is_empty(),
        "deleting users cleaned gr_mem"
    );
    ok(f.run(&dscl, &[".", "-delete", "/Groups/nixbld"]));
    f.assert_consistent();
}

#[test]
fn nix_darwin_activation_twice() {
    let f = Fixture::new();
    assert_eq!(ok(f.sh(NIX_DARWIN_ACTIVATION)).stdout, "activated\n");
    let first = f.snapshot();
    assert_eq!(ok(f.sh(NIX_DARWIN_ACTIVATION)).stdout, "activated\n");
    assert_eq!(f.snapshot(), first, "second activation changes nothing");
    let o = f.run(
        e2e::tool("dscl"),
        &[".", "-read", "/Groups/nixbld", "GroupMembership"],
    );
    assert_eq!(o.stdout, "GroupMembership: _nixbld1 _nixbld2 _nixbld3\n");
    let a = f.assert_consistent();
    assert_eq!(
        a.users["_nixbld3"].join(":"),
        "_nixbld3:*:353:350::0:0:Nix build user 3:/var/empty:/usr/bin/false"
    );
    assert_id(&f, "_nixbld1", "uid=351(_nixbld1) gid=350(nixbld)");
    // The uninstaller's shell reset.
    ok(f.sh(NIX_DARWIN_UNINSTALL_SHELLS));
}

/// The Rust installers' sequence as the shell transcript the live tier
/// compares against (live_accounts.rs): same commands, same codes.
#[test]
fn rust_installer_script_transcript() {
    let f = Fixture::new();
    assert_eq!(ok(f.sh(RUST_INSTALLER)).stdout, RUST_INSTALLER_OUT);
    assert_eq!(
        f.assert_consistent().groups["nixbld"].1,
        ["_nixbld1", "_nixbld2", "_nixbld3"]
    );
    assert_eq!(ok(f.sh(RUST_UNINSTALL)).stdout, RUST_UNINSTALL_OUT);
    let a = f.assert_consistent();
    assert!(!a.groups.contains_key("nixbld"));
    assert!(a.users.keys().all(|u| !u.starts_with("_nixbld")));
}

/// The uninstaller's shell reset finds a user whose shell is under /run.
#[test]
fn nix_darwin_uninstall_resets_run_shells() {
    let f = Fixture::new();
    ok(f.sh("dscl . -create /Users/_nixbld2 UniqueID 352 && dscl . -create /Users/_nixbld2 UserShell /run/current-system/sw/bin/fish"));
    ok(f.sh(NIX_DARWIN_UNINSTALL_SHELLS));
    let o = f.run(
        e2e::tool("dscl"),
        &[".", "-read", "/Users/_nixbld2", "UserShell"],
    );
    assert_eq!(o.stdout, "UserShell: /bin/zsh\n");
}

/// diskutil as the installers call it, the transcript the live tier
/// compares against.
#[test]
fn diskutil_installers_script_transcript() {
    let f = Fixture::new();
    assert_eq!(
        ok(f.sh(DISKUTIL_INSTALLERS)).stdout,
        DISKUTIL_INSTALLERS_OUT
    );
    assert!(f.root().join("nix").is_dir());
}

//! nix-install with the `darling` runner on a live Darling prefix: every
//! action that needs no darwin Nix tarball (none can be fetched here), the
//! accounts read back by Darling's own Libinfo, a re-run, and the uninstall.

use std::fs;
use std::path::Path;
use std::process::Command;

use e2e::live::LivePrefix;

mod common;
use e2e::Out;

use common::SKIP_STORE;

fn nix_install(p: &LivePrefix, extra: &[&str], name: &str) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nix-install"));
    c.args(["--runner", "darling", "--mode", "daemon", "--users", "3"])
        .args(SKIP_STORE)
        .arg("--prefix")
        .arg(p.prefix())
        .arg("--tools-dir")
        .arg(e2e::bin_dir())
        .args(extra);
    p.run_host(c, name)
}

fn statuses(json: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn file_inside(p: &LivePrefix, mac: &str) -> Vec<u8> {
    fs::read(darling_host::file_view(p.prefix()).join(mac.trim_start_matches('/'))).unwrap()
}

#[test]
fn install_rerun_uninstall_on_a_live_prefix() {
    let Some(p) = LivePrefix::new("nix-install") else {
        return;
    };
    // What Darling's own files look like before (this also creates the
    // prefix).
    let before = p
        .shell("cat /etc/bashrc; echo ---; cat /usr/sbin/diskutil | cksum; ls /etc/nix 2>&1; true");
    assert_eq!(before.code, 0, "{before:?}");
    assert!(before.stdout.contains("CLICOLOR"), "{before:?}");

    let o = nix_install(&p, &["--json"], "install");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let want: Vec<(String, String)> = [
        ("check-darling", "done"),
        ("install-tools", "ran"),
        ("stock-accounts", "ran"),
        ("build-users", "ran"),
        ("fetch-tarball", "skipped"),
        ("unpack-store", "skipped"),
        ("load-db", "skipped"),
        ("profile", "skipped"),
        ("nix-conf", "ran"),
        ("daemon", "ran"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(statuses(&o.stdout), want, "{}", o.stdout);

    // Our tools are where the installers call them.
    for (name, at) in darling_host::TOOLS {
        assert_eq!(
            file_inside(&p, at),
            fs::read(e2e::bin_dir().join(name)).unwrap(),
            "{at}"
        );
    }
    // Darling's Libinfo and bash see the accounts our dscl/dseditgroup made
    // inside; the shell environment reaches zsh; Darling's bashrc is kept.
    let o = p.shell(
        "id _nixbld1; echo ~_nixbld3; dscl . -read /Users/_nixbld2 UniqueID; \
         grep '^nixbld:' /etc/group; /bin/zsh -c 'echo sandbox=$_NIX_TEST_NO_SANDBOX'; \
         grep -c CLICOLOR /etc/bashrc; tail -1 /etc/bashrc; cat /etc/nix/nix.conf",
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout,
        "uid=351(_nixbld1) gid=350(nixbld) groups=350(nixbld)\n\
         /var/empty\n\
         UniqueID: 352\n\
         nixbld:*:350:_nixbld1,_nixbld2,_nixbld3\n\
         sandbox=1\n\
         1\n\
         [ -r /etc/nix/nix-darling.sh ] && . /etc/nix/nix-darling.sh # darling-nix\n\
         # Written by darling-nix nix-install.\n\
         build-users-group = nixbld\n\
         sandbox = false\n\
         system = x86_64-darwin\n",
        "{o:?}"
    );
    let plist = plist::Value::from_reader_xml(
        &file_inside(&p, "/Library/LaunchDaemons/org.nixos.nix-daemon.plist")[..],
    )
    .unwrap();
    assert_eq!(
        plist.as_dictionary().unwrap()["Label"].as_string(),
        Some("org.nixos.nix-daemon")
    );

    // Again: nothing to do.
    let o = nix_install(&p, &[], "again");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Nothing to do"), "{}", o.stdout);

    // Uninstall: Darling's files as they were, the accounts gone.
    let o = nix_install(&p, &["uninstall"], "uninstall");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let after = p
        .shell("cat /etc/bashrc; echo ---; cat /usr/sbin/diskutil | cksum; ls /etc/nix 2>&1; true");
    assert_eq!(after.stdout, before.stdout, "{after:?}");
    let o = p.shell("id _nixbld1; grep -c '^nixbld:' /etc/group; ls /usr/bin/dscl");
    assert_eq!(
        (
            o.stdout.as_str(),
            o.stderr.contains("_nixbld1: no such user")
        ),
        ("0\n", true),
        "{o:?}"
    );
    assert!(!Path::new(&darling_host::file_view(p.prefix()))
        .join("private/var/db/darling-nix/install-receipt.json")
        .exists());
}

/// The store actions on a live prefix, with one stand-in: the tarball's
/// `bin/nix-store` is a script that runs the host's (ELF) nix-store, which
/// Darling executes natively, on the prefix as a chroot store. Everything
/// else is real: the darling runner creates the prefix, the tarball is
/// checked and unpacked into the running prefix, `--load-db` gets the
/// `.reginfo` on stdin inside Darling, and Darling's own `cat` and
/// `readlink` read the result.
#[test]
fn store_actions_on_a_live_prefix_with_a_stand_in_nix_store() {
    e2e::nix::require_nix();
    let Some(p) = LivePrefix::new("nix-install-store") else {
        return;
    };
    let host_nix_store = which::which("nix-store").unwrap();
    let t = common::tarball(
        "2.8.0",
        &format!(
            "#!/bin/sh\nexec /Volumes/SystemRoot{} --store {} \"$@\"\n",
            host_nix_store.display(),
            p.prefix().display()
        ),
    );
    assert!(!p.prefix().exists());
    let mut c = Command::new(env!("CARGO_BIN_EXE_nix-install"));
    c.args(["--runner", "darling", "--json", "--prefix"])
        .arg(p.prefix())
        .arg("--tarball")
        .arg(&t.path)
        .args(["--sha256", &t.sha256, "--tools-dir"])
        .arg(e2e::bin_dir());
    let o = p.run_host(c, "store-install");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let ran: Vec<String> = statuses(&o.stdout)
        .into_iter()
        .filter(|(_, st)| st == "ran")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ran,
        [
            "install-tools",
            "stock-accounts",
            "unpack-store",
            "load-db",
            "profile",
            "nix-conf"
        ],
        "{}",
        o.stdout
    );
    // Darling's own programs see the store and the profile.
    let o = p.shell(
        "cat /nix/store/*-hello-data; readlink /nix/var/nix/profiles/default; \
         basename $(readlink /nix/var/nix/profiles/default-1-link)",
    );
    assert_eq!(o.code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[..2], ["hello", "default-1-link"], "{o:?}");
    assert!(lines[2].ends_with("-nix-2.8.0"), "{o:?}");
    // nix-verify reads the database nix-store loaded inside.
    let mut c = Command::new(e2e::tool("nix-verify"));
    c.args(["--runner", "darling", "--json", "--prefix"])
        .arg(p.prefix());
    let o = p.run_host(c, "store-verify");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let db = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "store-db")
        .unwrap();
    assert_eq!(
        (db["status"].as_str(), db["message"].as_str()),
        (Some("ok"), Some("integrity ok, 2 valid paths, all present")),
        "{}",
        o.stdout
    );
    // Uninstall takes /nix away again.
    let mut c = Command::new(env!("CARGO_BIN_EXE_nix-install"));
    c.args(["uninstall", "--runner", "darling", "--prefix"])
        .arg(p.prefix());
    let o = p.run_host(c, "store-uninstall");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let o = p.shell("ls -d /nix 2>&1; ls -d /etc/nix 2>&1; true");
    assert_eq!(
        o.stdout, "ls: /nix: No such file or directory\nls: /etc/nix: No such file or directory\n",
        "{o:?}"
    );
}

/// The account files as the host sees them in the running prefix.
fn account_files(p: &LivePrefix) -> Vec<String> {
    ["passwd", "master.passwd", "group"]
        .iter()
        .map(|f| String::from_utf8(file_inside(p, &format!("/etc/{f}"))).unwrap())
        .collect()
}

/// nix-darwin's activation (tests/scenarios/nix-darwin-activation.sh)
/// needs `nobody`, which a fresh Darling prefix lacks (it fails with exit
/// 56, see tests/tests/live_accounts.rs). After nix-install it runs as on a
/// Mac, with no stock records added by the test, and Darling's own `id` and
/// bash read the records stock-accounts made.
#[test]
fn stock_accounts_let_nix_darwin_activate_on_a_live_prefix() {
    let Some(p) = LivePrefix::new("nix-stock") else {
        return;
    };
    let o = p.shell("id nobody; id -gn daemon");
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("id: nobody: no such user"), "{o:?}");
    let before = account_files(&p);
    assert!(
        !before.concat().contains("nobody") && before[2].contains("wheel:"),
        "a fresh Darling prefix: {before:?}"
    );

    let o = nix_install(&p, &["--json"], "install");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        statuses(&o.stdout).contains(&("stock-accounts".into(), "ran".into())),
        "{}",
        o.stdout
    );
    // Darling's Libinfo (id, getpwnam and getgrgid) and bash's ~NAME. Its
    // `id` prints a group-list complaint on stderr for users in no member
    // list: stdout only.
    let o = p.shell(
        "id nobody; id -gn daemon; echo ~nobody ~daemon; id -Gn root; \
         dscl . -read /Users/nobody RealName UserShell",
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout,
        "uid=4294967294(nobody) gid=4294967294(nobody)\n\
         daemon\n\
         /var/empty /var/root\n\
         wheel daemon kmem sys tty operator staff admin\n\
         RealName:\n Unprivileged User\nUserShell: /usr/bin/false\n",
        "{o:?}"
    );
    // nix-darwin's activation as it runs on a Mac, twice.
    let activation = include_str!("../../tests/scenarios/nix-darwin-activation.sh");
    let run = |name| p.shell(&format!("unset DARLING_PREFIX\n{activation}\n# {name}"));
    let o = run("first");
    assert_eq!((o.code, o.stdout.as_str()), (0, "activated\n"), "{o:?}");
    let o = run("again");
    assert_eq!((o.code, o.stdout.as_str()), (0, "activated\n"), "{o:?}");

    // Uninstall takes exactly those records away again: the files are
    // Darling's (wheel's duplicate member written once, as any write of our
    // account tools does).
    let o = nix_install(&p, &["uninstall"], "uninstall");
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let mut want = before.clone();
    want[2] = want[2].replacen("wheel:*:0:root,root\n", "wheel:*:0:root\n", 1);
    assert_eq!(account_files(&p), want);
    let o = p.shell("id nobody");
    assert!(o.stderr.contains("id: nobody: no such user"), "{o:?}");
}

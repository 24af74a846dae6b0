//! sysadminctl: NSLog lines on stderr, exit 0, and the records it leaves.

use e2e::Fixture;

fn lines(stderr: &str) -> Vec<String> {
    // Drop the "YYYY-MM-DD HH:MM:SS.mmm sysadminctl[pid:tid] " prefix.
    stderr
        .lines()
        .map(|l| {
            assert!(l.len() > 24 && l[24..].starts_with("sysadminctl["), "{l}");
            l.split_once("] ").unwrap().1.to_string()
        })
        .collect()
}

#[test]
fn add_user_as_nix_darwin_does() {
    let f = Fixture::new();
    let o = f.run(
        env!("CARGO_BIN_EXE_sysadminctl"),
        &[
            "-addUser",
            "_nixbld1",
            "-UID",
            "351",
            "-GID",
            "350",
            "-fullName",
            "Nix build user 1",
            "-home",
            "/var/empty",
            "-shell",
            "/usr/bin/false",
        ],
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    let l = lines(&o.stderr);
    assert_eq!(
        l.last().unwrap(),
        "Home directory is assigned (not created!) at /var/empty"
    );
    assert!(l.contains(&"Assigning UID: 351 GID: 350".to_string()));
    assert!(f
        .read_etc("master.passwd")
        .contains("\n_nixbld1:*:351:350::0:0:Nix build user 1:/var/empty:/usr/bin/false\n"));
    f.assert_consistent();
    if let Some(id) = f.id_inside(&["_nixbld1"]) {
        assert_eq!(id.code, 0, "{}", id.stderr);
        assert!(
            id.stdout.starts_with("uid=351(_nixbld1) gid=350"),
            "{}",
            id.stdout
        );
    }
}

#[test]
fn failures_still_exit_zero() {
    let f = Fixture::new();
    let o = f.run(env!("CARGO_BIN_EXE_sysadminctl"), &["-addUser", "root"]);
    assert_eq!(o.code, 0);
    assert_eq!(lines(&o.stderr), ["User record root already exists"]);
    let o = f.run(
        env!("CARGO_BIN_EXE_sysadminctl"),
        &["-addUser", "svc", "-roleAccount", "-UID", "900"],
    );
    assert_eq!(o.code, 0);
    assert!(lines(&o.stderr)[0].starts_with("Role account names must start with"));
    let o = f.run(env!("CARGO_BIN_EXE_sysadminctl"), &[]);
    assert_eq!(o.code, 0);
    assert!(o.stderr.starts_with("Usage: sysadminctl\n"));
}

#[test]
fn password_is_never_stored_or_logged() {
    let f = Fixture::new();
    let o = f.run(
        env!("CARGO_BIN_EXE_sysadminctl"),
        &["-addUser", "alice", "-password", "hunter2-secret", "-admin"],
    );
    assert_eq!(o.code, 0);
    assert!(!o.stderr.contains("hunter2"));
    for s in f.snapshot() {
        assert!(!s.contains("hunter2"));
    }
    let a = f.assert_consistent();
    assert_eq!(a.users["alice"][2], "501", "first free uid from 501");
    assert!(a.groups["admin"].1.contains(&"alice".to_string()));
    assert!(
        f.root().join("Users/alice").is_dir(),
        "home created inside the prefix"
    );
    if e2e::is_root() {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(f.root().join("Users/alice")).unwrap();
        assert_eq!((m.uid(), m.gid()), (501, 20), "a new home is the user's");
    }
}

#[test]
fn delete_user_leaves_groups_clean() {
    let f = Fixture::new();
    // sysadminctl exits 0 whatever happens: check that bob is there first.
    f.run(
        env!("CARGO_BIN_EXE_sysadminctl"),
        &["-addUser", "bob", "-admin"],
    );
    let a = f.assert_consistent();
    assert!(a.users.contains_key("bob"));
    assert!(a.groups["admin"].1.contains(&"bob".to_string()));
    let o = f.run(env!("CARGO_BIN_EXE_sysadminctl"), &["-deleteUser", "bob"]);
    assert_eq!(o.code, 0);
    assert!(
        lines(&o.stderr).contains(&"Deleting record for bob".to_string()),
        "{}",
        o.stderr
    );
    let a = f.assert_consistent();
    assert!(!a.users.contains_key("bob"));
    assert!(!a.groups["admin"].1.contains(&"bob".to_string()));
}

#[test]
fn missing_prefix_is_logged_and_still_exits_zero() {
    if !e2e::is_root() {
        return e2e::skip_tool(
            "missing_prefix_is_logged_and_still_exits_zero",
            "needs root (a non-root caller is refused before the prefix is looked up)",
        );
    }
    // sysadminctl reports every failure in its log and exits 0; the
    // sysexits code other tools give would break that contract.
    let o = e2e::run_without_prefix(env!("CARGO_BIN_EXE_sysadminctl"), &["-addUser", "x"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");
    let l = lines(&o.stderr);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].starts_with("cannot find the Darling prefix"), "{l:?}");
}

/// `<prefix>/private/etc` planted as a link out of the prefix: logged like
/// a prefix that cannot be found, exit 0, nothing changed on either side.
/// `<prefix>/Users` planted the same way: the user is made, but no home
/// directory is created (or chowned) outside.
#[test]
fn links_out_of_the_prefix_are_refused() {
    if !e2e::is_root() {
        return e2e::skip_tool(
            "links_out_of_the_prefix_are_refused",
            "needs root (a non-root caller is refused before the prefix is looked up)",
        );
    }
    let (f, outside) = (Fixture::new(), Fixture::new());
    let etc = f.root().join("private/etc");
    std::fs::remove_dir_all(&etc).unwrap();
    std::os::unix::fs::symlink(outside.root().join("private/etc"), &etc).unwrap();
    let (before, outside_before) = (f.tree(), outside.tree());
    let o = f.run(env!("CARGO_BIN_EXE_sysadminctl"), &["-addUser", "bob"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");
    let l = lines(&o.stderr);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].contains("is not inside the Darling prefix"), "{l:?}");
    assert!(f.tree() == before, "the prefix changed");
    assert!(outside.tree() == outside_before, "outside changed");

    let (f, outside) = (Fixture::new(), Fixture::new());
    let users = f.root().join("Users");
    std::fs::remove_dir_all(&users).unwrap();
    std::os::unix::fs::symlink(outside.root().join("Users"), &users).unwrap();
    let outside_before = outside.tree();
    let o = f.run(env!("CARGO_BIN_EXE_sysadminctl"), &["-addUser", "bob"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");
    let l = lines(&o.stderr);
    assert!(
        l.last()
            .unwrap()
            .starts_with("Failed to create home directory at /Users/bob: ")
            && l.last()
                .unwrap()
                .contains("is not inside the Darling prefix"),
        "{l:?}"
    );
    assert!(f.read_etc("passwd").contains("\nbob:"));
    assert!(outside.tree() == outside_before, "home made outside");
}

/// User names that would read back as a comment (`#`) or a NIS entry
/// (`+`) are refused like any other invalid name; nothing is written.
#[test]
fn comment_and_nis_names_are_refused() {
    if !e2e::is_root() {
        return e2e::skip_tool(
            "comment_and_nis_names_are_refused",
            "needs root (a non-root caller is refused before the name is checked)",
        );
    }
    let f = Fixture::new();
    let before = f.snapshot();
    for name in ["#x", "+", "+foo"] {
        let o = f.run(env!("CARGO_BIN_EXE_sysadminctl"), &["-addUser", name]);
        assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");
        let want = format!("Failed to create user {name}: eDSInvalidRecordName (-14133)");
        assert!(lines(&o.stderr).contains(&want), "{name}: {}", o.stderr);
    }
    assert_eq!(f.snapshot(), before, "a refused name changed the accounts");
}

//! dseditgroup messages and exit codes, driving the real binary.

use e2e::{Fixture, Out};

fn deg(f: &Fixture, args: &[&str]) -> Out {
    f.run(env!("CARGO_BIN_EXE_dseditgroup"), args)
}

fn with_group() -> Fixture {
    let f = Fixture::new();
    let o = deg(
        &f,
        &[
            "-o",
            "create",
            "-r",
            "Nix build group for nix-daemon",
            "-i",
            "350",
            "nixbld",
        ],
    );
    assert_eq!(o.all(), (0, "", ""));
    let o = f.run(
        e2e::tool("dscl"),
        &[".", "-create", "/Users/_nixbld1", "UniqueID", "351"],
    );
    assert_eq!(o.code, 0);
    f
}

#[test]
fn create_sets_gid_and_realname() {
    let f = with_group();
    assert!(f.read_etc("group").contains("\nnixbld:*:350:\n"));
    let o = f.run(
        e2e::tool("dscl"),
        &[".", "-read", "/Groups/nixbld", "RealName", "PrimaryGroupID"],
    );
    assert_eq!(
        o.stdout,
        "PrimaryGroupID: 350\nRealName:\n Nix build group for nix-daemon\n"
    );
}

#[test]
fn checkmember_codes() {
    let f = with_group();
    assert_eq!(
        deg(&f, &["-o", "checkmember", "-m", "_nixbld1", "nixbld"]).all(),
        (67, "no _nixbld1 is NOT a member of nixbld\n", "")
    );
    assert_eq!(
        deg(
            &f,
            &["-o", "edit", "-t", "user", "-a", "_nixbld1", "nixbld"]
        )
        .all(),
        (0, "", "")
    );
    assert_eq!(
        deg(&f, &["-o", "checkmember", "-m", "_nixbld1", "nixbld"]).all(),
        (0, "yes _nixbld1 is a member of nixbld\n", "")
    );
    assert_eq!(
        deg(&f, &["-o", "checkmember", "-m", "_nixbld1", "nogroup-here"]).all(),
        (64, "", "Group not found.\n")
    );
    assert_eq!(
        deg(&f, &["-o", "checkmember", "-m", "ghost", "nixbld"]).all(),
        (64, "", "Unable to find the user record\n")
    );
}

#[test]
fn membership_is_member_list_only() {
    // A user whose primary gid is the group's is still not a member.
    let f = with_group();
    let o = f.run(
        e2e::tool("dscl"),
        &[".", "-create", "/Users/_nixbld1", "PrimaryGroupID", "350"],
    );
    assert_eq!(o.code, 0);
    assert_eq!(
        deg(&f, &["-o", "checkmember", "-m", "_nixbld1", "nixbld"]).code,
        67
    );
}

#[test]
fn edit_errors() {
    let f = with_group();
    assert_eq!(
        deg(&f, &["-o", "edit", "-a", "ghost", "nixbld"]).all(),
        (200, "", "Record was not found.\n")
    );
    assert_eq!(
        deg(&f, &["-o", "edit", "-a", "_nixbld1", "ghostgroup"]).all(),
        (64, "", "Group not found.\n")
    );
    // Adding twice leaves one gr_mem entry.
    for _ in 0..2 {
        assert_eq!(deg(&f, &["-o", "edit", "-a", "_nixbld1", "nixbld"]).code, 0);
    }
    assert!(f.read_etc("group").contains("\nnixbld:*:350:_nixbld1\n"));
    assert_eq!(
        deg(
            &f,
            &["-o", "edit", "-t", "user", "-d", "_nixbld1", "nixbld"]
        )
        .code,
        0
    );
    assert!(f.read_etc("group").contains("\nnixbld:*:350:\n"));
}

#[test]
fn create_existing_prompts_and_q_replaces() {
    let f = with_group();
    let o = deg(&f, &["-o", "create", "-i", "351", "nixbld"]);
    assert_eq!(
        o.all(),
        (
            73,
            "Create called on existing record - do you want to overwrite, y or n : \n",
            "Operation cancelled because record could not be replaced\n"
        )
    );
    assert_eq!(
        deg(&f, &["-q", "-o", "create", "-i", "352", "nixbld"]).all(),
        (0, "", "")
    );
    assert!(f.read_etc("group").contains("\nnixbld:*:352:\n"));
}

#[test]
fn gid_clash_leaves_record_without_gid() {
    let f = with_group();
    assert_eq!(
        deg(&f, &["-o", "create", "-i", "350", "other"]).all(),
        (64, "", "GID already exists\n")
    );
    assert_eq!(
        f.run(
            e2e::tool("dscl"),
            &[".", "-read", "/Groups/other", "PrimaryGroupID"]
        )
        .stderr,
        "No such key: PrimaryGroupID\n"
    );
    f.assert_consistent();
}

#[test]
fn usage_and_option_errors() {
    let f = Fixture::new();
    let o = deg(&f, &[]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("\ndseditgroup ("));
    let o = deg(&f, &["-o", "create", "-i", "35x", "g"]);
    assert_eq!(o.all(), (64, "GID contains non-numeric characters\n", ""));
    let o = deg(&f, &["-o", "create"]);
    assert_eq!(o.all(), (64, "", "No group name provided\n"));
    let o = deg(&f, &["-Z", "g"]);
    assert_eq!(o.code, 64);
    assert_eq!(o.stderr, "dseditgroup: illegal option -- Z\n");
    assert!(o
        .stdout
        .contains("Usage: dseditgroup [-qv] -o checkmember [-m membername] groupname\n"));
}

#[test]
fn read_and_delete() {
    let f = with_group();
    let o = deg(&f, &["-o", "read", "nixbld"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains("dsAttrTypeStandard:PrimaryGroupID -\n\t\t350\n"),
        "{}",
        o.stdout
    );
    let o = deg(&f, &["-o", "delete", "nixbld"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (0, "Group record below will be deleted:\n")
    );
    assert!(!f.read_etc("group").contains("nixbld"));
    assert_eq!(deg(&f, &["nixbld"]).all(), (64, "", "Group not found.\n"));
}

#[test]
fn non_root_edit_needs_credentials() {
    if !e2e::is_root() {
        return e2e::skip_tool(
            "non_root_edit_needs_credentials",
            "needs root to switch to an unprivileged uid",
        );
    }
    let f = with_group();
    let before = f.snapshot();
    let o = f.run_as_nobody(
        env!("CARGO_BIN_EXE_dseditgroup"),
        &["-o", "edit", "-a", "_nixbld1", "nixbld"],
    );
    assert_eq!(
        o.all(),
        (64, "", "Username and password must be provided.\n")
    );
    let o = f.run_as_nobody(
        env!("CARGO_BIN_EXE_dseditgroup"),
        &["-o", "checkmember", "-m", "_nixbld1", "nixbld"],
    );
    assert_eq!(o.code, 67, "checkmember works without root");
    assert_eq!(f.snapshot(), before);
}

#[test]
fn missing_prefix_is_ex_unavailable() {
    let o = e2e::run_without_prefix(env!("CARGO_BIN_EXE_dseditgroup"), &["-o", "read", "nixbld"]);
    assert_eq!((o.code, o.stdout.as_str()), (69, ""), "{o:?}");
    assert!(
        o.stderr
            .starts_with("dseditgroup: cannot find the Darling prefix"),
        "{o:?}"
    );
}

/// `<prefix>/private/etc` planted as a link to a directory outside the
/// prefix: refused like a prefix that cannot be found (69), nothing
/// changed on either side.
#[test]
fn etc_linked_out_of_the_prefix_is_refused() {
    let (f, outside) = (Fixture::new(), Fixture::new());
    let etc = f.root().join("private/etc");
    std::fs::remove_dir_all(&etc).unwrap();
    std::os::unix::fs::symlink(outside.root().join("private/etc"), &etc).unwrap();
    let (before, outside_before) = (f.tree(), outside.tree());
    let o = deg(&f, &["-o", "create", "-i", "350", "nixbld"]);
    assert_eq!((o.code, o.stdout.as_str()), (69, ""), "{o:?}");
    assert!(
        o.stderr.starts_with("dseditgroup: ")
            && o.stderr.contains("is not inside the Darling prefix"),
        "{o:?}"
    );
    assert!(f.tree() == before, "the prefix changed");
    assert!(outside.tree() == outside_before, "outside changed");
}

/// Group names that would read back as a comment (`#`) or a NIS entry
/// (`+`, `-`) are refused like any other invalid name.
#[test]
fn comment_and_nis_names_are_refused() {
    let f = Fixture::new();
    let before = f.snapshot();
    for name in ["#x", "+", "+foo"] {
        assert_eq!(
            deg(&f, &["-o", "create", "-i", "351", name]).all(),
            (64, "", "Unable to create the record\n"),
            "{name}"
        );
    }
    assert_eq!(f.snapshot(), before, "a refused name changed the accounts");
}

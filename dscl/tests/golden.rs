//! Golden tests: every output format and error path of dscl, byte for byte,
//! driving the real binary against a fixture prefix.

use e2e::{Fixture, Out};

fn dscl(f: &Fixture, args: &[&str]) -> Out {
    f.run(env!("CARGO_BIN_EXE_dscl"), args)
}

fn seeded() -> Fixture {
    let f = Fixture::new();
    for args in [
        &[".", "-create", "/Groups/nixbld", "PrimaryGroupID", "350"][..],
        &[
            ".",
            "-create",
            "/Groups/nixbld",
            "RealName",
            "Nix build group for nix-daemon",
        ],
        &[".", "-create", "/Users/_nixbld1", "UniqueID", "351"],
        &[".", "-create", "/Users/_nixbld1", "PrimaryGroupID", "350"],
        &[
            ".",
            "-create",
            "/Users/_nixbld1",
            "RealName",
            "Nix build user 1",
        ],
        &[".", "-create", "/Users/_nixbld1", "IsHidden", "1"],
        &[
            ".",
            "-create",
            "/Users/_nixbld1",
            "NFSHomeDirectory",
            "/var/empty",
        ],
        &[
            ".",
            "-create",
            "/Users/_nixbld1",
            "UserShell",
            "/sbin/nologin",
        ],
        &[".", "-create", "/Users/_nixbld10", "UniqueID", "360"],
        &[
            ".",
            "-append",
            "/Groups/nixbld",
            "GroupMembership",
            "_nixbld1",
        ],
        &[
            ".",
            "-append",
            "/Groups/nixbld",
            "GroupMembership",
            "_nixbld10",
        ],
    ] {
        assert_eq!(dscl(&f, args).all(), (0, "", ""), "{args:?}");
    }
    f
}

fn guid(f: &Fixture, path: &str) -> String {
    let o = dscl(f, &[".", "-read", path, "GeneratedUID"]);
    o.stdout
        .trim()
        .strip_prefix("GeneratedUID: ")
        .unwrap()
        .to_string()
}

#[test]
fn read_whole_user_record() {
    let f = seeded();
    let g = guid(&f, "/Users/_nixbld1");
    let expected = format!(
        "dsAttrTypeNative:IsHidden: 1\nAppleMetaNodeLocation: /Local/Default\nGeneratedUID: {g}\n\
         NFSHomeDirectory: /var/empty\nPrimaryGroupID: 350\nRealName:\n Nix build user 1\nRecordName: _nixbld1\n\
         RecordType: dsRecTypeStandard:Users\nUniqueID: 351\nUserShell: /sbin/nologin\n"
    );
    assert_eq!(
        dscl(&f, &[".", "-read", "/Users/_nixbld1"]).all(),
        (0, expected.as_str(), "")
    );
}

#[test]
fn read_file_only_record_has_macos_builtin_guid() {
    let f = seeded();
    let o = dscl(&f, &[".", "-read", "/Users/root"]);
    assert_eq!(
        o.all(),
        (0, "AppleMetaNodeLocation: /Local/Default\nGeneratedUID: FFFFEEEE-DDDD-CCCC-BBBB-AAAA00000000\nNFSHomeDirectory: /var/root\nPassword: *\nPrimaryGroupID: 0\nRealName:\n System Administrator\nRecordName: root\nRecordType: dsRecTypeStandard:Users\nUniqueID: 0\nUserShell: /bin/sh\n", "")
    );
}

#[test]
fn read_keys_sorted_missing_on_stderr_exit_zero() {
    let f = seeded();
    let o = dscl(
        &f,
        &[
            ".",
            "-read",
            "/Users/_nixbld1",
            "UniqueID",
            "PrimaryGroupID",
            "Nope",
            "IsHidden",
        ],
    );
    assert_eq!(
        o.all(),
        (
            0,
            "dsAttrTypeNative:IsHidden: 1\nPrimaryGroupID: 350\nUniqueID: 351\n",
            "No such key: Nope\n"
        )
    );
    // RecordName only when asked for; native aliases resolve.
    let o = dscl(&f, &[".", "-read", "/Users/_nixbld1", "RecordName", "uid"]);
    assert_eq!(o.all(), (0, "RecordName: _nixbld1\nUniqueID: 351\n", ""));
}

#[test]
fn read_group_membership_one_line() {
    let f = seeded();
    let o = dscl(&f, &[".", "-read", "/Groups/nixbld", "GroupMembership"]);
    assert_eq!(o.all(), (0, "GroupMembership: _nixbld1 _nixbld10\n", ""));
}

#[test]
fn raw_keeps_prefixes() {
    let f = seeded();
    let o = dscl(&f, &["-raw", ".", "-read", "/Users/_nixbld1", "UniqueID"]);
    assert_eq!(o.all(), (0, "dsAttrTypeStandard:UniqueID: 351\n", ""));
}

#[test]
fn missing_record_is_56() {
    let f = seeded();
    assert_eq!(
        dscl(&f, &[".", "-read", "/Users/nobody-here"]).all(),
        (56, "", "<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)\n")
    );
}

#[test]
fn invalid_path_is_185_on_stdout_and_stderr() {
    let f = seeded();
    for (cmd, shown) in [
        ("-delete", "delete"),
        ("delete", "delete"),
        ("-append", "append"),
        ("-change", "change"),
        ("-merge", "merge"),
    ] {
        let mut args = vec![".", cmd, "/Users/missing"];
        if cmd != "-delete" && cmd != "delete" {
            args.extend(["RealName", "a", "b"]);
        }
        let o = dscl(&f, &args);
        let stdout = format!("{shown}: Invalid Path\n");
        assert_eq!(
            o.all(),
            (
                185,
                stdout.as_str(),
                "<dscl_cmd> DS Error: -14009 (eDSUnknownNodeName)\n"
            ),
            "{cmd}"
        );
    }
    let o = dscl(&f, &[".", "-list", "/Nowhere"]);
    assert_eq!(
        o.all(),
        (
            185,
            "list: Invalid Path\n",
            "<dscl_cmd> DS Error: -14009 (eDSUnknownNodeName)\n"
        )
    );
}

#[test]
fn list_and_list_with_key_padding() {
    let f = seeded();
    let o = dscl(&f, &[".", "-list", "/Users"]);
    assert_eq!(
        o.all(),
        (0, "_nixbld1\n_nixbld10\ndaemon\nnobody\nroot\n", "")
    );
    let o = dscl(&f, &[".", "list", "/Users", "UniqueID"]);
    assert_eq!(
        o.all(),
        (
            0,
            "_nixbld1    351\n_nixbld10   360\ndaemon      1\nnobody      -2\nroot        0\n",
            ""
        )
    );
    // Only records that have the key are listed; padding follows them.
    let o = dscl(&f, &[".", "-list", "/Users", "IsHidden"]);
    assert_eq!(o.all(), (0, "_nixbld1   1\n", ""));
}

#[test]
fn plist_read_is_cf_xml_and_parses() {
    let f = seeded();
    let o = dscl(&f, &["-plist", ".", "-read", "/Groups/nixbld"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n\t<key>"));
    assert!(o.stdout.ends_with("</dict>\n</plist>\n"));
    assert!(o.stdout.contains("\t<key>dsAttrTypeStandard:GroupMembership</key>\n\t<array>\n\t\t<string>_nixbld1</string>\n\t\t<string>_nixbld10</string>\n\t</array>\n"));
    let v: plist::Value = plist::from_bytes(o.stdout.as_bytes()).unwrap();
    let d = v.as_dictionary().unwrap();
    let gid = d["dsAttrTypeStandard:PrimaryGroupID"].as_array().unwrap()[0]
        .as_string()
        .unwrap();
    assert_eq!(gid.parse::<u32>().unwrap(), 350);
    // -plist after the datasource is an argument, not an option.
    let o = dscl(&f, &[".", "-read", "/Groups/nixbld", "-plist"]);
    assert_eq!(o.stderr, "No such key: -plist\n");
}

#[test]
fn readall_separates_with_dash_lines() {
    let f = seeded();
    let o = dscl(&f, &[".", "-readall", "/Groups", "PrimaryGroupID"]);
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        "PrimaryGroupID: 80\nRecordName: admin\n-\nPrimaryGroupID: 1\nRecordName: daemon\n-\nPrimaryGroupID: 350\nRecordName: nixbld\n-\nPrimaryGroupID: -2\nRecordName: nobody\n-\nPrimaryGroupID: -1\nRecordName: nogroup\n-\nPrimaryGroupID: 20\nRecordName: staff\n-\nPrimaryGroupID: 0\nRecordName: wheel\n"
    );
}

#[test]
fn search_prints_nsarray_description() {
    let f = seeded();
    let o = dscl(&f, &[".", "-search", "/Users", "UniqueID", "351"]);
    assert_eq!(o.all(), (0, "_nixbld1\t\tUniqueID = (\n    351\n)\n", ""));
}

#[test]
fn usage_errors() {
    let f = seeded();
    let o = dscl(&f, &[".", "-read"]);
    assert_eq!(o.code, 64);
    assert!(o
        .stderr
        .starts_with("Too few parameters for read operation\ndscl (v"));
    let o = dscl(&f, &[".", "-frobnicate"]);
    assert_eq!(o.code, 0);
    assert!(o
        .stderr
        .contains("usage: dscl [options] [<datasource> [<command>]]\n"));
    let o = dscl(&f, &["/LDAPv3/ldap.example", "-list", "/Users"]);
    assert_eq!(
        o.all(),
        (69, "Data source (/LDAPv3/ldap.example) is not valid.\n", "")
    );
}

#[test]
fn write_errors_have_main_and_dscl_cmd_lines() {
    let f = seeded();
    let o = dscl(&f, &[".", "-create", "/Users/_nixbld10", "UniqueID", "351"]);
    assert_eq!(o.all(), (55, "", "<main> attribute status: eDSRecordAlreadyExists\n<dscl_cmd> DS Error: -14135 (eDSRecordAlreadyExists)\n"));
    let o = dscl(&f, &[".", "-delete", "/Users/_nixbld10", "UserShell"]);
    assert_eq!(o.all(), (54, "", "<main> attribute status: eDSAttributeNotFound\n<dscl_cmd> DS Error: -14134 (eDSAttributeNotFound)\n"));
    let o = dscl(
        &f,
        &[
            ".",
            "-change",
            "/Users/_nixbld1",
            "UserShell",
            "/bin/bash",
            "/bin/zsh",
        ],
    );
    assert_eq!(o.all(), (63, "", "<main> attribute status: eDSAttributeValueNotFound\n<dscl_cmd> DS Error: -14143 (eDSAttributeValueNotFound)\n"));
    let o = dscl(&f, &[".", "-create", "/Users/bad:name"]);
    assert_eq!(o.all(), (53, "", "<main> attribute status: eDSInvalidRecordName\n<dscl_cmd> DS Error: -14133 (eDSInvalidRecordName)\n"));
    let before = f.snapshot();
    let o = dscl(&f, &[".", "-create", "/Users/_nixbld1", "UniqueID", "abc"]);
    assert_eq!(o.code, 62);
    assert_eq!(f.snapshot(), before, "rejected input changes nothing");
}

#[test]
fn non_root_reads_work_and_writes_fail_with_40() {
    if !e2e::is_root() {
        return e2e::skip_tool(
            "non_root_reads_work_and_writes_fail_with_40",
            "needs root to switch to an unprivileged uid",
        );
    }
    let f = seeded();
    let before = f.snapshot();
    let bin = env!("CARGO_BIN_EXE_dscl");
    let o = f.run_as_nobody(bin, &[".", "-read", "/Users/_nixbld1", "UniqueID"]);
    assert_eq!(o.all(), (0, "UniqueID: 351\n", ""));
    let o = f.run_as_nobody(bin, &[".", "-create", "/Users/_nixbld1", "UniqueID", "999"]);
    assert_eq!(o.all(), (40, "", "<main> attribute status: eDSPermissionError\n<dscl_cmd> DS Error: -14120 (eDSPermissionError)\n"));
    let o = f.run_as_nobody(bin, &[".", "-delete", "/Users/_nixbld1"]);
    assert_eq!(o.all(), (40, "", "<main> delete status: eDSPermissionError\n<dscl_cmd> DS Error: -14120 (eDSPermissionError)\n"));
    assert_eq!(f.snapshot(), before, "a refused write changes nothing");
}

#[test]
fn change_record_name_renames() {
    let f = seeded();
    assert_eq!(
        dscl(
            &f,
            &[
                ".",
                "change",
                "/Users/_nixbld10",
                "RecordName",
                "_nixbld10",
                "nixbld10x"
            ]
        )
        .all(),
        (0, "", "")
    );
    assert_eq!(dscl(&f, &[".", "-read", "/Users/_nixbld10"]).code, 56);
    assert_eq!(
        dscl(&f, &[".", "-read", "/Users/nixbld10x", "UniqueID"]).stdout,
        "UniqueID: 360\n"
    );
    assert!(f.read_etc("master.passwd").contains("\nnixbld10x:*:360:"));
}

#[test]
fn missing_prefix_is_ex_unavailable() {
    let o = e2e::run_without_prefix(env!("CARGO_BIN_EXE_dscl"), &[".", "-read", "/Users/root"]);
    assert_eq!((o.code, o.stdout.as_str()), (69, ""), "{o:?}");
    assert!(o.stderr.contains("cannot find the Darling prefix"), "{o:?}");
}

/// Replace `<f>/private/<name>` with a link to the same directory of
/// another fixture: a prefix planted by someone else, whose `/etc` (or
/// `/var`) leads out of it.
fn link_out(f: &Fixture, outside: &Fixture, name: &str) {
    let dir = f.root().join("private").join(name);
    std::fs::remove_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(outside.root().join("private").join(name), dir).unwrap();
}

/// The audit's case: `<prefix>/private/etc` (or `private/var`) is a link to
/// a directory outside the prefix. A write is refused like a prefix that
/// cannot be found (69), before anything is read, locked or written, here
/// or there; so is a read.
#[test]
fn prefix_dirs_linked_out_of_the_prefix_are_refused() {
    for name in ["etc", "var"] {
        let (f, outside) = (Fixture::new(), Fixture::new());
        link_out(&f, &outside, name);
        let (before, outside_before) = (f.tree(), outside.tree());
        for args in [
            &[".", "-create", "/Users/_nixbld1", "UniqueID", "351"][..],
            &[".", "-read", "/Users/root"],
        ] {
            let o = dscl(&f, args);
            assert_eq!((o.code, o.stdout.as_str()), (69, ""), "{name}: {o:?}");
            assert!(
                o.stderr.starts_with("dscl: ")
                    && o.stderr.contains("is not inside the Darling prefix"),
                "{name}: {o:?}"
            );
        }
        assert!(f.tree() == before, "{name}: the prefix changed");
        assert!(outside.tree() == outside_before, "{name}: outside changed");
    }
}

/// A `<file>.darling-nix.tmp` planted as a link is replaced, not written
/// through, and the Darling layout (`etc -> private/etc`) keeps working.
#[test]
fn planted_tmp_links_are_not_followed() {
    let (f, outside) = (Fixture::new(), Fixture::new());
    let target = outside.etc("passwd");
    let outside_before = outside.tree();
    for file in ["passwd", "master.passwd"] {
        std::os::unix::fs::symlink(&target, f.etc(&format!("{file}.darling-nix.tmp"))).unwrap();
    }
    let o = dscl(&f, &[".", "-create", "/Users/_nixbld1", "UniqueID", "351"]);
    assert_eq!(o.all(), (0, "", ""));
    assert!(outside.tree() == outside_before, "written through the link");
    for file in ["passwd", "master.passwd"] {
        let meta = std::fs::symlink_metadata(f.etc(file)).unwrap();
        assert!(meta.file_type().is_file(), "{file}");
        assert!(f.read_etc(file).contains("_nixbld1:"), "{file}");
        assert!(!f.etc(&format!("{file}.darling-nix.tmp")).exists());
    }
    assert_eq!(
        dscl(&f, &[".", "-read", "/Users/_nixbld1", "UniqueID"]).code,
        0
    );
}

/// A name starting with `#` would read back as a comment line (the record
/// vanishes, a re-create adds dead lines); `+` and `-` are NIS entries to
/// Libinfo. Refused as invalid names, as a record or a new RecordName.
#[test]
fn comment_and_nis_names_are_invalid() {
    let f = Fixture::new();
    let before = f.snapshot();
    let invalid = "<main> attribute status: eDSInvalidRecordName\n<dscl_cmd> DS Error: -14133 (eDSInvalidRecordName)\n";
    for name in ["#x", "+", "+foo", "-"] {
        for kind in ["Users", "Groups"] {
            let path = format!("/{kind}/{name}");
            let o = dscl(&f, &[".", "-create", &path, "UniqueID", "351"]);
            assert_eq!(o.all(), (53, "", invalid), "{path}");
        }
        let o = dscl(&f, &[".", "-create", "/Users/root", "RecordName", name]);
        assert_eq!(o.all(), (53, "", invalid), "RecordName {name}");
        let o = dscl(
            &f,
            &[".", "-append", "/Groups/wheel", "GroupMembership", name],
        );
        assert_eq!(o.all(), (53, "", invalid), "GroupMembership {name}");
    }
    assert_eq!(f.snapshot(), before, "a refused name changed the accounts");
}

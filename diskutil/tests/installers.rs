//! diskutil as the installers drive it, parsed with a plist library: every
//! key the Rust installers read (shared/spec/macos-tools.md 2.2), the shell
//! installer's GlobalPermissionsEnabled query, and the full install and
//! uninstall sequence.

use e2e::{Fixture, Out};
use plist::Value;

fn du(f: &Fixture, args: &[&str]) -> Out {
    f.run(env!("CARGO_BIN_EXE_diskutil"), args)
}

fn plist_of(o: &Out) -> plist::Dictionary {
    Value::from_reader_xml(o.stdout.as_bytes())
        .unwrap_or_else(|e| panic!("not a plist ({e}): {}", o.stdout))
        .into_dictionary()
        .expect("a dict")
}

fn string(d: &plist::Dictionary, k: &str) -> String {
    d.get(k)
        .and_then(Value::as_string)
        .unwrap_or_else(|| panic!("{k} missing or not a string: {d:?}"))
        .to_string()
}

fn boolean(d: &plist::Dictionary, k: &str) -> bool {
    d.get(k)
        .and_then(Value::as_boolean)
        .unwrap_or_else(|| panic!("{k} missing or not a bool"))
}

#[test]
fn root_volume_info_has_what_the_installers_need() {
    let f = Fixture::new();
    let o = du(&f, &["info", "-plist", "/"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let d = plist_of(&o);
    assert_eq!(string(&d, "ParentWholeDisk"), "disk1");
    assert!(boolean(&d, "GlobalPermissionsEnabled"));
    assert_eq!(string(&d, "MountPoint"), "/");
    assert_eq!(string(&d, "FilesystemType"), "apfs");
    // Real numbers from statfs of the prefix.
    let size = d
        .get("TotalSize")
        .and_then(Value::as_unsigned_integer)
        .unwrap();
    let free = d
        .get("FreeSpace")
        .and_then(Value::as_unsigned_integer)
        .unwrap();
    assert!(size > 0 && free <= size);
    assert!(o
        .stdout
        .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist"));
    // Text mode and the device forms.
    let o = du(&f, &["info", "/dev/disk1s1"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains("   Volume Name:                     Macintosh HD\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn not_found_is_the_error_plist_and_exit_1() {
    let f = Fixture::new();
    let o = du(&f, &["info", "-plist", "Nix Store"]);
    assert_eq!(o.code, 1);
    let d = plist_of(&o);
    assert!(boolean(&d, "Error"));
    assert_eq!(string(&d, "ErrorMessage"), "Could not find disk: Nix Store");
    assert_eq!(
        d.get("ExitCode").and_then(Value::as_unsigned_integer),
        Some(1)
    );
    let o = du(&f, &["info", "/nix"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (1, "", "Could not find disk: /nix\n")
    );
}

/// The shell installer: `diskutil info -plist /nix | xmllint --xpath
/// "(/plist/dict/key[text()='GlobalPermissionsEnabled'])/following-sibling::*[1]"`;
/// it aborts only on exactly `<false/>`.
fn global_permissions_xpath(o: &Out) -> String {
    let Ok(v) = Value::from_reader_xml(o.stdout.as_bytes()) else {
        return String::new();
    };
    match v
        .as_dictionary()
        .and_then(|d| d.get("GlobalPermissionsEnabled"))
    {
        Some(Value::Boolean(true)) => "<true/>".into(),
        Some(Value::Boolean(false)) => "<false/>".into(),
        _ => String::new(),
    }
}

#[test]
fn shell_installer_query_passes_before_and_after_nix_exists() {
    let f = Fixture::new();
    assert_ne!(
        global_permissions_xpath(&du(&f, &["info", "-plist", "/nix"])),
        "<false/>"
    );
    std::fs::create_dir_all(f.root().join("nix/store")).unwrap();
    let o = du(&f, &["info", "-plist", "/nix"]);
    assert_eq!(
        o.code, 0,
        "a directory inside the root volume resolves to it"
    );
    assert_eq!(global_permissions_xpath(&o), "<true/>");
}

#[test]
fn rust_installer_install_and_uninstall_sequence() {
    let f = Fixture::new();
    // plan: root disk and ownership
    let root = plist_of(&du(&f, &["info", "-plist", "/"]));
    let disk = string(&root, "ParentWholeDisk");
    // get_disk_info_for_label: no volume yet
    let o = du(&f, &["info", "-plist", "Nix Store"]);
    assert!(string(&plist_of(&o), "ErrorMessage").contains("Could not find disk: Nix Store"));
    // apfs list: no "Nix Store" volume
    let list = plist_of(&du(&f, &["apfs", "list", "-plist"]));
    let containers = list["Containers"].as_array().unwrap();
    let names: Vec<String> = containers[0].as_dictionary().unwrap()["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| string(v.as_dictionary().unwrap(), "Name"))
        .collect();
    assert_eq!(names, vec!["Macintosh HD"]);
    for v in containers[0].as_dictionary().unwrap()["Volumes"]
        .as_array()
        .unwrap()
    {
        assert!(!boolean(v.as_dictionary().unwrap(), "FileVault"));
    }
    // create
    let o = du(
        &f,
        &["apfs", "addVolume", &disk, "APFS", "Nix Store", "-nomount"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let created: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("Created new APFS Volume"))
        .collect();
    assert_eq!(created.len(), 1);
    let dev = created[0].split_whitespace().nth(4).unwrap(); // awk '{print $5}'
    assert_eq!(dev, "disk1s7");
    assert!(!o.stdout.contains("Mounting APFS Volume"), "-nomount");
    // poll for rc 0, then read UUID, FileVault, ParentWholeDisk, MountPoint
    assert_eq!(du(&f, &["info", "-plist", "Nix Store"]).code, 0);
    let info = plist_of(&du(&f, &["info", "-plist", "Nix Store"]));
    let uuid = string(&info, "VolumeUUID");
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid, uuid.to_uppercase());
    assert!(!boolean(&info, "FileVault"));
    assert_eq!(string(&info, "ParentWholeDisk"), disk);
    assert_eq!(string(&info, "MountPoint"), "");
    // the apfs list now shows it
    let list = plist_of(&du(&f, &["apfs", "list", "-plist"]));
    assert!(format!("{list:?}").contains("Nix Store"));
    // the mount daemon: diskutil mount -mountPoint /nix <UUID>
    let o = du(&f, &["mount", "-mountPoint", "/nix", &uuid]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Volume Nix Store on disk1s7 mounted\n")
    );
    assert!(f.root().join("nix").is_dir());
    assert_eq!(du(&f, &["info", "/nix"]).code, 0);
    let info = plist_of(&du(&f, &["info", "-plist", "/nix"]));
    assert_eq!(string(&info, "DeviceIdentifier"), "disk1s7");
    assert_eq!(string(&info, "MountPoint"), "/nix");
    // Ownership is on from the start (the shell installer aborts on
    // `<false/>`); enableOwnership, which the Rust installers call when it
    // is off, is still accepted.
    assert!(boolean(&info, "GlobalPermissionsEnabled"));
    let o = du(&f, &["enableOwnership", "/nix"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "File system user/group ownership enabled\n")
    );
    assert!(boolean(
        &plist_of(&du(&f, &["info", "-plist", "/nix"])),
        "GlobalPermissionsEnabled"
    ));
    // EC2 mode: list -plist internal virtual
    let l = plist_of(&du(&f, &["list", "-plist", "internal", "virtual"]));
    for d in l["AllDisksAndPartitions"].as_array().unwrap() {
        let d = d.as_dictionary().unwrap();
        assert!(boolean(d, "OSInternal"));
        string(d, "DeviceIdentifier");
        assert!(d.get("Size").and_then(Value::as_unsigned_integer).is_some());
    }
    // uninstall: MountPoint, unmount force, deleteVolume
    assert_eq!(
        string(
            &plist_of(&du(&f, &["info", "-plist", "Nix Store"])),
            "MountPoint"
        ),
        "/nix"
    );
    let o = du(&f, &["unmount", "force", "Nix Store"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Volume Nix Store on disk1s7 force-unmounted\n")
    );
    let o = du(&f, &["apfs", "deleteVolume", "Nix Store"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(du(&f, &["info", "-plist", "Nix Store"]).code, 1);
    // deleting a volume never deletes the files under its mount point
    assert!(f.root().join("nix").is_dir());
    // and the shell installer's volume path: deleteVolume by mount point
    let o = du(
        &f,
        &[
            "apfs",
            "addVolume",
            "disk1",
            "Case-sensitive APFS",
            "Nix Store",
        ],
    );
    assert!(o.stdout.contains("Mounting APFS Volume"), "{}", o.stdout);
    let info = plist_of(&du(&f, &["info", "-plist", "Nix Store"]));
    assert_eq!(string(&info, "MountPoint"), "/Volumes/Nix Store");
    assert_eq!(string(&info, "FilesystemName"), "Case-sensitive APFS");
}

#[test]
fn refusals_change_nothing() {
    let f = Fixture::new();
    let before = f.tree();
    assert_eq!(du(&f, &["apfs", "addVolume", "disk9", "APFS", "X"]).code, 1);
    assert_eq!(du(&f, &["apfs", "addVolume", "disk1", "HFS+", "X"]).code, 1);
    assert_eq!(
        du(&f, &["apfs", "addVolume", "disk1", "APFS", "a/b"]).code,
        1
    );
    assert_eq!(
        du(
            &f,
            &[
                "apfs",
                "addVolume",
                "disk1",
                "APFS",
                "X",
                "-mountpoint",
                "/../etc"
            ]
        )
        .code,
        1
    );
    assert_eq!(du(&f, &["apfs", "deleteVolume", "/"]).code, 1);
    assert_eq!(du(&f, &["unmount", "/"]).code, 1);
    assert_eq!(
        du(&f, &["bogusverb"]).all(),
        (
            1,
            "",
            "diskutil: did not recognize verb \"bogusverb\"; type \"diskutil\" for a list\n"
        )
    );
    assert!(f.tree() == before, "a refused command changed the prefix");
    assert!(
        !f.root()
            .join("private/var/db/darling-nix/diskutil.json")
            .exists(),
        "no state written"
    );
    // The installer greps this for APFSCryptoUserUUID: an answer without one.
    let o = du(&f, &["apfs", "listCryptoUsers", "-plist", "disk1s1"]);
    assert_eq!(o.code, 0, "{o:?}");
    let users = plist_of(&o);
    assert!(
        users
            .get("Users")
            .and_then(|u| u.as_array())
            .is_some_and(|a| a.is_empty()),
        "{}",
        o.stdout
    );
    assert!(f.tree() == before, "listCryptoUsers changed the prefix");
}

#[test]
fn missing_prefix_is_ex_unavailable() {
    let o = e2e::run_without_prefix(env!("CARGO_BIN_EXE_diskutil"), &["info", "-plist", "/"]);
    assert_eq!((o.code, o.stdout.as_str()), (69, ""), "{o:?}");
    assert!(
        o.stderr
            .starts_with("diskutil: cannot find the Darling prefix"),
        "{o:?}"
    );
    let o = Fixture::new()
        .command(env!("CARGO_BIN_EXE_diskutil"))
        .env("DARLING_PREFIX", "/nonexistent/prefix")
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(69));
}

/// A state file of ours that cannot be read: a query exits 74 (EX_IOERR)
/// naming the file, which is not one of diskutil's answers; a change is
/// refused in diskutil's own `Error:` line (exit 1), naming the file too.
/// Neither touches the file.
#[test]
fn unreadable_state_is_named_and_left_alone() {
    let f = Fixture::new();
    let state = f.root().join("private/var/db/darling-nix/diskutil.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, "not json\n").unwrap();
    let o = du(&f, &["list"]);
    assert_eq!((o.code, o.stdout.as_str()), (74, ""), "{o:?}");
    assert!(
        o.stderr
            .starts_with(&format!("diskutil: {}: ", state.display())),
        "{o:?}"
    );
    let o = du(&f, &["apfs", "addVolume", "disk1", "APFS", "Nix Store"]);
    assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{o:?}");
    assert!(
        o.stderr
            .starts_with(&format!("Error: {}: ", state.display())),
        "{o:?}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "not json\n");
}

/// diskutil's state directory, or a mount point, leading out of the
/// prefix: the state is refused like a prefix that cannot be found (69);
/// a mount point in diskutil's own `Error:` line (exit 1). Nothing is
/// written on either side.
#[test]
fn links_out_of_the_prefix_are_refused() {
    let (f, outside) = (Fixture::new(), Fixture::new());
    let var = f.root().join("private/var");
    std::fs::remove_dir_all(&var).unwrap();
    std::os::unix::fs::symlink(outside.root().join("private/var"), &var).unwrap();
    let (before, outside_before) = (f.tree(), outside.tree());
    for args in [
        &["apfs", "addVolume", "disk1", "APFS", "Nix Store"][..],
        &["list"],
    ] {
        let o = du(&f, args);
        assert_eq!((o.code, o.stdout.as_str()), (69, ""), "{o:?}");
        assert!(
            o.stderr.starts_with("diskutil: ")
                && o.stderr.contains("is not inside the Darling prefix"),
            "{o:?}"
        );
    }
    assert!(f.tree() == before, "the prefix changed");
    assert!(outside.tree() == outside_before, "outside changed");

    let (f, outside) = (Fixture::new(), Fixture::new());
    std::os::unix::fs::symlink(outside.root().join("Users"), f.root().join("Volumes")).unwrap();
    let (before, outside_before) = (f.tree(), outside.tree());
    let host_dir = outside.root().join("Users/escaped");
    let system_root = format!("/Volumes/SystemRoot{}", host_dir.display());
    for args in [
        &["apfs", "addVolume", "disk1", "APFS", "Nix Store"][..],
        &[
            "apfs",
            "addVolume",
            "disk1",
            "APFS",
            "X",
            "-mountpoint",
            &system_root,
        ],
    ] {
        let o = du(&f, args);
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{o:?}");
        assert!(
            o.stderr.starts_with("Error: ")
                && o.stderr.contains("is not inside the Darling prefix"),
            "{o:?}"
        );
    }
    assert!(f.tree() == before, "the prefix changed");
    assert!(outside.tree() == outside_before, "outside changed");
    // A volume made without a mount point cannot be mounted outside either.
    assert_eq!(
        du(&f, &["apfs", "addVolume", "disk1", "APFS", "X", "-nomount"]).code,
        0
    );
    let o = du(&f, &["mount", "-mountPoint", &system_root, "X"]);
    assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{o:?}");
    assert!(
        o.stderr.starts_with("Volume on disk1s7 failed to mount: ")
            && o.stderr.contains("is not inside the Darling prefix"),
        "{o:?}"
    );
    assert!(outside.tree() == outside_before, "mounted outside");
}

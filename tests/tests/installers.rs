//! Scenario tests: the client call sequences of shared/spec/macos-tools.md §2,
//! replayed call by call through our tools (as a POSIX shell script, the way
//! the installers run them), with the files checked after each scenario by
//! our consistency check and by busybox `id` chrooted into the prefix.

use e2e::{Fixture, Out};

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

/// The NixOS/nix shell installer's create_build_group / create_build_user_for_core
/// sequence (scripts/install-darwin-multi-user.sh, 2.34), with its checks.
const NIX_SHELL_INSTALLER: &str = r#"
set -e
NIX_BUILD_GROUP_NAME=nixbld; NIX_BUILD_GROUP_ID=350; NIX_USER_COUNT=3; NIX_FIRST_BUILD_UID=351
dscl_create() {
  # retry while eNotYetImplemented, as the installer does
  while ! out=$(dscl . -create "$@" 2>&1); do
    case "$out" in *"-14988 (eNotYetImplemented)"*) continue;; esac
    echo "$out" >&2; return 1
  done
}
if dscl . -read /Groups/$NIX_BUILD_GROUP_NAME > /dev/null 2>&1; then
  gid=$(dscl . -read /Groups/$NIX_BUILD_GROUP_NAME | awk '/PrimaryGroupID/ {print $2}')
  [ "$gid" -ne "$NIX_BUILD_GROUP_ID" ] && { echo "gid mismatch $gid" >&2; exit 1; }
  echo "group exists"
else
  dseditgroup -o create -r "Nix build group for nix-daemon" -i "$NIX_BUILD_GROUP_ID" "$NIX_BUILD_GROUP_NAME" >&2
  echo "group created"
fi
i=1
while [ $i -le $NIX_USER_COUNT ]; do
  username=_nixbld$i; uid=$((NIX_FIRST_BUILD_UID + i - 1)); dsclpath=/Users/$username
  if ! dscl . -read "$dsclpath" > /dev/null 2>&1; then
    dscl . create "$dsclpath" UniqueID "$uid"
  fi
  actual=$(dscl . -read "$dsclpath" | awk '/UniqueID/ {print $2}')
  [ "$actual" = "$uid" ] || { echo "uid mismatch for $username: $actual" >&2; exit 1; }
  [ "$(dscl . -read "$dsclpath" | awk '/IsHidden/ {print $2}')" = "1" ] || dscl_create "$dsclpath" IsHidden 1
  [ "$(dscl . -read "$dsclpath" | awk '/NFSHomeDirectory/ {print $2}')" = "/var/empty" ] || dscl_create "$dsclpath" NFSHomeDirectory /var/empty
  dscl . -read "$dsclpath" | awk '/RealName/ {print $2}' | grep -q "Nix build user $i" || dscl_create "$dsclpath" RealName "Nix build user $i"
  [ "$(dscl . -read "$dsclpath" | awk '/UserShell/ {print $2}')" = "/sbin/nologin" ] || dscl_create "$dsclpath" UserShell /sbin/nologin
  if dseditgroup -o checkmember -m "$username" "$NIX_BUILD_GROUP_NAME" > /dev/null 2>&1; then :; else
    dseditgroup -o edit -t user -a "$username" "$NIX_BUILD_GROUP_NAME"
  fi
  [ "$(dscl . -read "$dsclpath" | awk '/PrimaryGroupID/ {print $2}')" = "$NIX_BUILD_GROUP_ID" ] || dscl . -create "$dsclpath" PrimaryGroupID "$NIX_BUILD_GROUP_ID"
  i=$((i + 1))
done
"#;

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
    ok(f.sh(r#"set -e
        dscl . -delete /Groups/nixbld
        for u in $(dscl . -list /Users | grep _nixbld); do dscl . -delete /Users/$u; done"#));
    let a = f.assert_consistent();
    assert!(!a.groups.contains_key("nixbld"));
    assert!(a.users.keys().all(|u| !u.starts_with("_nixbld")));
}

#[test]
fn sequoia_migration_moves_uids() {
    let f = Fixture::new();
    // Pre-Sequoia layout: gid 350 group, users at 301+.
    ok(f.sh(r#"set -e
        dseditgroup -o create -r "Nix build group for nix-daemon" -i 350 nixbld
        for i in 1 2 3; do
          dscl . -create /Users/_nixbld$i UniqueID $((300 + i))
          dscl . -create /Users/_nixbld$i PrimaryGroupID 350
          dseditgroup -o edit -t user -a _nixbld$i nixbld
        done"#));
    // The migration script's loop (scripts/sequoia-nixbld-user-migration.sh).
    let o = ok(f.sh(r#"set -e
        old=301; new=351
        while [ $old -le 303 ]; do
          dscl . list /Users UniqueID | grep -E "\b$old\b" | grep _nixbld | sort -n -k2 | while read -r name uid; do
            dscl . read /Users/$name > /dev/null
            gid=$(dscl . read /Groups/nixbld PrimaryGroupID | awk '{print $2}')
            dscl . -create /Users/$name UniqueID $new
            dscl . -create /Users/$name IsHidden 1
            dscl . -create /Users/$name NFSHomeDirectory /var/empty
            dscl . -create /Users/$name RealName "Nix build user $name"
            dscl . -create /Users/$name UserShell /sbin/nologin
            dscl . -create /Users/$name PrimaryGroupID $gid
            echo "$name $uid -> $new"
          done
          old=$((old + 1)); new=$((new + 1))
        done"#));
    assert_eq!(
        o.stdout,
        "_nixbld1 301 -> 351\n_nixbld2 302 -> 352\n_nixbld3 303 -> 353\n"
    );
    let a = f.assert_consistent();
    for i in 1..=3 {
        assert_eq!(a.users[&format!("_nixbld{i}")][2], (350 + i).to_string());
    }
    assert_id(&f, "_nixbld1", "uid=351(_nixbld1) gid=350(nixbld)");
}

#[test]
fn bigsur_migration_renames_records() {
    let f = Fixture::new();
    ok(f.sh(r#"set -e
        dseditgroup -o create -i 30000 nixbld
        for i in 1 2; do
          dscl . -create /Users/nixbld$i UniqueID $((30000 + i))
          dscl . -create /Users/nixbld$i PrimaryGroupID 30000
          dscl . -create /Users/nixbld$i dsAttrTypeNative:_writers_passwd nixbld$i
          dscl . -create /Users/nixbld$i NFSHomeDirectory "/private/var/empty 1"
          dseditgroup -o edit -t user -a nixbld$i nixbld
        done"#));
    // scripts/bigsur-nixbld-user-migration.sh, per user.
    ok(f.sh(r#"set -e
        for i in 1 2; do
          n=nixbld$i
          dscl . delete /Users/$n dsAttrTypeNative:_writers_passwd 2>/dev/null || true
          dscl . change /Users/$n NFSHomeDirectory "/private/var/empty 1" "/var/empty" 2>/dev/null || true
          dseditgroup -o edit -t user -d $n nixbld
          dscl . change /Users/$n UniqueID $((30000 + i)) $((300 + i))
          dscl . change /Users/$n RecordName $n _$n
          dseditgroup -o edit -t user -a _$n nixbld
        done"#));
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
    let v: plist::Value = plist::from_bytes(o.stdout.as_bytes()).unwrap();
    let d = v.as_dictionary().unwrap();
    let members: Vec<&str> = d["dsAttrTypeStandard:GroupMembership"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_string().unwrap())
        .collect();
    // dseditgroup's add after -append finds the member already there.
    assert_eq!(members, ["_nixbld1", "_nixbld2", "_nixbld3"]);
    let gid: u32 = d["dsAttrTypeStandard:PrimaryGroupID"].as_array().unwrap()[0]
        .as_string()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(gid, 350);

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

/// nix-darwin's checks and activation scripts (modules/users, checks.nix),
/// run twice.
const NIX_DARWIN_ACTIVATION: &str = r#"
set -e
# groups
g=$(dscl . -read /Groups/nixbld PrimaryGroupID 2>/dev/null) || true
g=${g#PrimaryGroupID: }
if [ -z "$g" ]; then
  dscl . -create /Groups/nixbld PrimaryGroupID 350
  dscl . -create /Groups/nixbld RealName "Nix build group for nix-daemon"
elif [ "$g" -ne 350 ]; then echo "wrong gid $g" >&2; exit 2; fi
members=$(dscl . -read /Groups/nixbld GroupMembership 2>/dev/null) || true
if [ "$members" != "GroupMembership: _nixbld1 _nixbld2 _nixbld3" ]; then
  dscl . -create /Groups/nixbld GroupMembership _nixbld1 _nixbld2 _nixbld3
fi
# users
for i in 1 2 3; do
  u=_nixbld$i
  if ! id -u $u >/dev/null 2>&1 && ! dscl . -read /Users/$u UniqueID >/dev/null 2>&1; then
    sysadminctl -addUser $u -UID $((350 + i)) -GID 350 -fullName "Nix build user $i" -home /var/empty -shell /usr/bin/false 2>/dev/null
    dscl . -create /Users/$u IsHidden 1
  fi
  dscl . -create /Users/$u PrimaryGroupID 350
  dscl . -create /Users/$u RealName "Nix build user $i"
  dscl . -create /Users/$u UserShell /usr/bin/false
done
# ensurePerms: the nobody probe must succeed
h=$(dscl . -read /Users/nobody NFSHomeDirectory); h=${h#NFSHomeDirectory: }
dscl . -change /Users/nobody NFSHomeDirectory "$h" "$h" >/dev/null 2>&1
# checks
[ "$(dscl . -read /Users/_nixbld1 UniqueID | awk '{print $2}')" = 351 ]
[ "$(dscl . -read /Groups/nixbld PrimaryGroupID | awk '{print $2}')" = 350 ]
if dscl . -list /Users | grep -q '^nixbld'; then echo "old users left" >&2; exit 3; fi
echo activated
"#;

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
    ok(f.sh(r#"for u in $(dscl . -list /Users UserShell | grep "\s/run/" | awk '{print $1}'); do dscl . -create /Users/$u UserShell /bin/zsh; done"#));
}

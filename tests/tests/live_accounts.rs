//! The account tools and diskutil on a live Darling: installed in a fresh
//! prefix at their macOS paths, called by Darling's own Mach-O bash (no
//! `DARLING_PREFIX`: they must find the prefix themselves) in the sequences
//! the installers use (tests/scenarios/, the same scripts the fixture tier in
//! installers.rs runs with busybox), and what they wrote read back by
//! Darling's Libinfo: `id NAME` (getpwnam, getgrgid, getgrouplist), `id UID`
//! (getpwuid) and bash's `~NAME`. Darling has no `dscacheutil`.
//!
//! Darling's `id` prints `id: failed to retrieve group list: Undefined
//! error: 0` on stderr (exit 0) for a user that is in no group's member
//! list, also for users written by hand, so only its stdout is compared.

use std::fs;

use e2e::live::LivePrefix;
use e2e::Out;

mod common;
use common::*;

/// A live prefix with our tools copied in at their macOS paths.
struct Live {
    p: LivePrefix,
}

impl Live {
    /// `test` is kept short: it is part of the prefix path, and Darling's
    /// sockets under the prefix must fit `sun_path` (108 bytes).
    fn new(test: &str) -> Option<Live> {
        let p = LivePrefix::new(test)?;
        let ours: Vec<&str> = e2e::nix::TOOL_PATHS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| *name != "sandbox-exec")
            .collect();
        p.install_tools(&ours);
        Some(Live { p })
    }

    /// Runs `script` with Darling's bash, our tools found on its own PATH.
    ///
    /// The script never ends in a command bash could `exec` in place: when
    /// a Mach-O process execs an ELF program (ours), `darling shell`
    /// returns at once with status 0 while the program still runs
    /// (see `darling_shell_does_not_wait_for_an_execd_elf`).
    fn run(&self, script: &str) -> Out {
        self.p.shell(&format!("unset DARLING_PREFIX\n{script}"))
    }

    fn ok(&self, script: &str) -> Out {
        let o = self.run(script);
        assert_eq!(o.code, 0, "script:\n{script}\n{o:?}");
        o
    }

    /// stdout of `script`, which must succeed.
    fn stdout(&self, script: &str) -> String {
        self.ok(script).stdout
    }

    fn etc(&self, name: &str) -> String {
        e2e::read_etc(self.p.prefix(), name)
    }

    /// The files the tools own, as the host sees them in the prefix.
    fn snapshot(&self) -> Vec<String> {
        e2e::accounts_snapshot(self.p.prefix())
    }

    /// The lines Darling put in the account files when it made the prefix.
    fn darling_lines(&self) -> Vec<String> {
        ["passwd", "master.passwd"]
            .iter()
            .flat_map(|f| self.etc(f).lines().map(String::from).collect::<Vec<_>>())
            .filter(|l| l.starts_with("root:"))
            .collect()
    }
}

#[test]
fn nix_shell_installer_twice_then_uninstall() {
    let Some(l) = Live::new("acct-shell") else {
        return;
    };
    let darling_roots = l.darling_lines();
    assert!(!darling_roots.is_empty(), "Darling wrote root records");
    // Our tools are what bash finds, and Libinfo does not know the users yet.
    let o = l.run("type -p dscl dseditgroup sysadminctl diskutil; id _nixbld1");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (
            1,
            "/usr/bin/dscl\n/usr/sbin/dseditgroup\n/usr/sbin/sysadminctl\n/usr/sbin/diskutil\n"
        ),
        "{o:?}"
    );
    assert!(o.stderr.contains("id: _nixbld1: no such user"), "{o:?}");

    assert_eq!(l.stdout(NIX_SHELL_INSTALLER), "group created\n");
    let after_first = l.snapshot();
    assert_eq!(l.stdout(NIX_SHELL_INSTALLER), "group exists\n");
    assert_eq!(l.snapshot(), after_first, "the second run changes nothing");

    // What the tools wrote, read by Darling's Libinfo.
    assert_eq!(
        l.stdout("id _nixbld3; id 352; id -Gn _nixbld1; echo ~_nixbld2"),
        "uid=353(_nixbld3) gid=350(nixbld) groups=350(nixbld)\n\
         uid=352(_nixbld2) gid=350(nixbld) groups=350(nixbld)\n\
         nixbld\n\
         /var/empty\n"
    );
    // ... and on the host, in the prefix the tools found themselves.
    assert!(l
        .etc("group")
        .contains("\nnixbld:*:350:_nixbld1,_nixbld2,_nixbld3\n"));
    assert!(l
        .etc("master.passwd")
        .contains("\n_nixbld2:*:352:350::0:0:Nix build user 2:/var/empty:/sbin/nologin\n"));
    assert_eq!(l.darling_lines(), darling_roots, "Darling's records kept");

    l.ok(NIX_UNINSTALL);
    let o = l.run("id _nixbld1; id 351; dscl . -list /Groups");
    assert!(o.stderr.contains("id: _nixbld1: no such user"), "{o:?}");
    assert!(o.stderr.contains("id: 351: no such user"), "{o:?}");
    assert!(!o.stdout.contains("nixbld"), "{o:?}");
    assert!(!l.etc("group").contains("nixbld"));
    assert!(!l.etc("master.passwd").contains("_nixbld"));
    assert_eq!(l.darling_lines(), darling_roots, "Darling's records kept");
}

#[test]
fn sequoia_migration_moves_uids() {
    let Some(l) = Live::new("acct-seq") else {
        return;
    };
    l.ok(SEQUOIA_SETUP);
    assert_eq!(
        l.stdout("id _nixbld1"),
        "uid=301(_nixbld1) gid=350(nixbld) groups=350(nixbld)\n"
    );
    assert_eq!(l.stdout(SEQUOIA_MIGRATION), SEQUOIA_MIGRATION_OUT);
    assert_eq!(
        l.stdout("id _nixbld1; id -un 353; echo ~_nixbld2"),
        "uid=351(_nixbld1) gid=350(nixbld) groups=350(nixbld)\n_nixbld3\n/var/empty\n"
    );
    let o = l.run("id 301");
    assert!(o.stderr.contains("id: 301: no such user"), "{o:?}");
}

#[test]
fn bigsur_migration_renames_records() {
    let Some(l) = Live::new("acct-bigsur") else {
        return;
    };
    l.ok(BIGSUR_SETUP);
    assert_eq!(
        l.stdout("id nixbld1; echo ~nixbld2"),
        "uid=30001(nixbld1) gid=30000(nixbld) groups=30000(nixbld)\n/private/var/empty 1\n"
    );
    l.ok(BIGSUR_MIGRATION);
    assert_eq!(
        l.stdout("id _nixbld2; id -un 301; echo ~_nixbld1"),
        "uid=302(_nixbld2) gid=30000(nixbld) groups=30000(nixbld)\n_nixbld1\n/var/empty\n"
    );
    let o = l.run("id nixbld1; dscl . -read /Users/_nixbld1 dsAttrTypeNative:_writers_passwd");
    assert!(o.stderr.contains("id: nixbld1: no such user"), "{o:?}");
    assert!(
        o.stderr
            .contains("No such key: dsAttrTypeNative:_writers_passwd"),
        "{o:?}"
    );
    assert!(l
        .etc("group")
        .contains("\nnixbld:*:30000:_nixbld1,_nixbld2\n"));
}

#[test]
fn rust_installer_create_repair_uninstall() {
    let Some(l) = Live::new("acct-rust") else {
        return;
    };
    assert_eq!(l.stdout(RUST_INSTALLER), RUST_INSTALLER_OUT);
    assert_eq!(
        l.stdout("id _nixbld2; id -Gn _nixbld3"),
        "uid=352(_nixbld2) gid=350(nixbld) groups=350(nixbld)\nnixbld\n"
    );
    // repair: the plist read, parsed as the installer's serde does.
    let o = l.ok("dscl -plist . -read /Groups/nixbld");
    let r = plist_record(&o.stdout);
    assert_eq!(
        r["dsAttrTypeStandard:GroupMembership"],
        ["_nixbld1", "_nixbld2", "_nixbld3"]
    );
    assert_eq!(r["dsAttrTypeStandard:PrimaryGroupID"], ["350"]);
    assert_eq!(l.stdout(RUST_UNINSTALL), RUST_UNINSTALL_OUT);
    let o = l.run("id _nixbld2");
    assert!(o.stderr.contains("id: _nixbld2: no such user"), "{o:?}");
    assert!(!l.etc("group").contains("nixbld"), "{}", l.etc("group"));
}

#[test]
fn nix_darwin_activation_twice() {
    let Some(l) = Live::new("acct-darwin") else {
        return;
    };
    // A Darling prefix has no `nobody`, which nix-darwin's ensurePerms probe
    // reads: activation fails there exactly as on a Mac without it.
    let o = l.run(NIX_DARWIN_ACTIVATION);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (56, "<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)\n"),
        "{o:?}"
    );
    // macOS's stock records, made with our tools (what a prefix setup does).
    l.ok(MACOS_STOCK_ACCOUNTS);
    assert_eq!(
        l.stdout("id nobody; echo ~nobody; id -gn daemon"),
        "uid=4294967294(nobody) gid=4294967294(nobody)\n/var/empty\ndaemon\n"
    );
    assert_eq!(l.stdout(NIX_DARWIN_ACTIVATION), "activated\n");
    let first = l.snapshot();
    assert_eq!(l.stdout(NIX_DARWIN_ACTIVATION), "activated\n");
    assert_eq!(l.snapshot(), first, "second activation changes nothing");
    assert_eq!(
        l.stdout(
            "id _nixbld1; id -un 353; echo ~_nixbld3; dscl . -read /Groups/nixbld GroupMembership"
        ),
        "uid=351(_nixbld1) gid=350(nixbld) groups=350(nixbld)\n_nixbld3\n/var/empty\n\
         GroupMembership: _nixbld1 _nixbld2 _nixbld3\n"
    );
    assert!(l
        .etc("master.passwd")
        .contains("\n_nixbld3:*:353:350::0:0:Nix build user 3:/var/empty:/usr/bin/false\n"));

    // The uninstaller's shell reset. Darling's /bin/grep is GNU grep 2.5.1,
    // which has no `\s` (macOS's BSD grep has): the script as written finds
    // nothing there, so it runs with the POSIX class instead.
    l.ok("dscl . -create /Users/_nixbld2 UserShell /run/current-system/sw/bin/fish");
    let o = l.run("echo 'a  /run/x' | grep -c '\\s/run/'");
    assert_eq!(
        o.stdout, "0\n",
        "Darling's grep learnt \\s: drop the rewrite"
    );
    l.ok(&NIX_DARWIN_UNINSTALL_SHELLS.replace("\\s", "[[:space:]]"));
    assert_eq!(
        l.stdout("dscl . -read /Users/_nixbld2 UserShell"),
        "UserShell: /bin/zsh\n"
    );

    // sysadminctl -addUser with its defaults: a home of the user's own on
    // the host. (Darling's stat shows every file as root's, whatever its
    // owner on the host, so that cannot be checked from inside.)
    let o = l.ok("sysadminctl -addUser alice -fullName 'Alice A'");
    assert!(
        o.stderr.contains("Creating home directory at /Users/alice"),
        "{o:?}"
    );
    assert_eq!(
        l.stdout("id -un 501; echo ~alice; stat -f '%Su %Lp' ~alice"),
        "alice\n/Users/alice\nroot 755\n"
    );
    {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(l.p.prefix().join("Users/alice")).unwrap();
        assert_eq!((m.uid(), m.gid()), (501, 20));
    }

    // sysadminctl -deleteUser, then Libinfo no longer finds the user.
    let o = l.ok("sysadminctl -deleteUser _nixbld3");
    assert!(o.stderr.contains("Deleting record for _nixbld3"), "{o:?}");
    let o = l.run("id _nixbld3");
    assert!(o.stderr.contains("id: _nixbld3: no such user"), "{o:?}");
    assert!(l
        .etc("group")
        .contains("\nnixbld:*:350:_nixbld1,_nixbld2\n"));
}

#[test]
fn diskutil_as_the_installers_call_it() {
    let Some(l) = Live::new("acct-disk") else {
        return;
    };
    assert_eq!(l.stdout(DISKUTIL_INSTALLERS), DISKUTIL_INSTALLERS_OUT);
    // The mount point was made in the prefix the tool found itself.
    assert!(l.p.prefix().join("nix").is_dir());
    // A prefix that is not there is EX_UNAVAILABLE, through Darling's bash.
    let o = l.run(
        "export DARLING_PREFIX=/nonexistent
         diskutil list > /dev/null 2>&1; echo \"diskutil $?\"
         dscl . -list /Users > /dev/null 2>&1; echo \"dscl $?\"
         dseditgroup -o read nixbld > /dev/null 2>&1; echo \"dseditgroup $?\"
         dscl . -list /Users 2>&1 >/dev/null",
    );
    assert_eq!(
        o.stdout,
        "diskutil 69\ndscl 69\ndseditgroup 69\n\
         dscl: DARLING_PREFIX=\"/nonexistent\" is not a directory\n",
        "{o:?}"
    );
    // Darling's own shell-script diskutil is shadowed, not changed.
    let o = l.ok("head -c 2 /usr/sbin/diskutil | LC_ALL=C tr -c '#!' '?'; echo");
    assert_eq!(o.stdout, "??\n", "our ELF binary, not Darling's script");
}

/// Pins down the Darling behaviour `Live::run` works around, so that callers
/// know it: a Mach-O process that execs an ELF program (bash running its
/// last command in place, or `darling shell ELF`) looks finished, status 0,
/// to `darling shell`, while the program runs on. A command after it (here
/// `exit $?`) makes bash fork and wait, and the real status comes back.
#[test]
fn darling_shell_does_not_wait_for_an_execd_elf() {
    let Some(l) = Live::new("acct-exec") else {
        return;
    };
    let elf = "/Volumes/SystemRoot/bin/sh -c 'sleep 2; exit 7'";
    let t = std::time::Instant::now();
    let o = l.p.shell_exact(elf, std::time::Duration::from_secs(60));
    let early = t.elapsed();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(early < std::time::Duration::from_millis(1500), "{early:?}");
    let t = std::time::Instant::now();
    let o = l.p.shell(elf);
    assert_eq!(o.code, 7, "{o:?}");
    assert!(t.elapsed() >= std::time::Duration::from_secs(2));
}

//! nix-verify with the `darling` runner on a live Darling prefix that has
//! our tools, build users made inside by them, and a nix.conf, but no Nix
//! (no darwin Nix can be fetched here): its JSON through jq.

use std::process::Command;

use e2e::live::LivePrefix;
use e2e::Out;

mod common;
use common::jq;

fn verify(p: &LivePrefix, name: &str) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nix-verify"));
    c.args(["--runner", "darling", "--json", "--prefix"])
        .arg(p.prefix());
    p.run_host(c, name)
}

fn status_of(id: &str) -> String {
    format!(r#"[.checks[] | select(.id == "{id}")][0].status"#)
}

#[test]
fn verify_a_live_prefix_without_nix() {
    let Some(p) = LivePrefix::new("nix-verify") else {
        return;
    };
    // Started, so its files are seen merged (darling_host::file_view).
    assert_eq!(p.shell("true").code, 0);

    // Nothing of ours yet: tools and accounts fail, nix-version fails
    // (no Nix inside), and the verifier wrote no store.
    let o = verify(&p, "bare");
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        jq(
            &o.stdout,
            &format!(
                r#".version == 1 and .ok == false and {} == "ok" and {} == "ok" and {} == "fail" and {} == "fail" and {} == "skip" and {} == "fail""#,
                status_of("prefix"),
                status_of("darling"),
                status_of("tools"),
                status_of("nix-version"),
                status_of("current-system"),
                status_of("store-db"),
            )
        ),
        "{}",
        o.stdout
    );
    let files = darling_host::file_view(p.prefix());
    assert!(!files.join("nix").exists(), "nix-verify created /nix");
    // Darling's own /usr/sbin/diskutil (a script) is not taken for ours.
    assert!(
        jq(
            &o.stdout,
            r#"[.checks[] | select(.id == "tools")][0].message | test("/usr/bin/dscl, .*/usr/sbin/diskutil")"#
        ),
        "{}",
        o.stdout
    );
    // Darling itself found no nix: exit 127 from the prefix's own bash.
    assert!(
        jq(
            &o.stdout,
            r#"[.checks[] | select(.id == "nix-version")][0].message | test("exited 127")"#
        ),
        "{}",
        o.stdout
    );

    // Our tools in the prefix, build users made inside by them, nix.conf.
    p.install_all_tools();
    let o = p.shell(
        "set -e; dseditgroup -o create -i 350 nixbld; \
         for i in 1 2; do u=_nixbld$i; dscl . -create /Users/$u; \
         dscl . -create /Users/$u UniqueID $((350 + i)); \
         dscl . -create /Users/$u PrimaryGroupID 350; \
         dseditgroup -o edit -t user -a $u nixbld; done; \
         mkdir -p /etc/nix; printf 'build-users-group = nixbld\\nsandbox = false\\n' > /etc/nix/nix.conf",
    );
    assert_eq!(o.code, 0, "{o:?}");
    let o = verify(&p, "ours");
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    for (id, st) in [
        ("tools", "ok"),
        ("accounts", "ok"),
        ("nix-conf", "ok"),
        ("nix-version", "fail"),
        ("store-db", "fail"),
        ("unimplemented", "ok"),
    ] {
        assert!(
            jq(&o.stdout, &format!(r#"{} == "{st}""#, status_of(id))),
            "{id}: {}",
            o.stdout
        );
    }
    assert!(
        jq(
            &o.stdout,
            r#".summary.fail == 2 and ([.checks[] | select(.id == "accounts")][0].message | test("has 2 members"))"#
        ),
        "{}",
        o.stdout
    );
    // Messages name the prefix, not /proc/<pid>/root.
    assert!(!o.stdout.contains("/proc/"), "{}", o.stdout);
}

//! Concurrency and crash safety of the account files.

use std::process::Stdio;
use std::time::Duration;

use e2e::Fixture;

#[test]
fn thirty_two_parallel_writers_lose_nothing() {
    let f = Fixture::new();
    let dscl = e2e::tool("dscl");
    let children: Vec<_> = (0..32)
        .map(|n| {
            let script = format!(
                "{d} . -create /Users/u{n} UniqueID {uid} && {d} . -append /Groups/staff GroupMembership u{n}",
                d = dscl.display(),
                uid = 1000 + n
            );
            f.command("/bin/sh").arg("-c").arg(script).stdout(Stdio::null()).spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let a = f.assert_consistent();
    for n in 0..32 {
        assert_eq!(a.users[&format!("u{n}")][2], (1000 + n).to_string());
        assert!(
            a.groups["staff"].1.contains(&format!("u{n}")),
            "u{n} in staff"
        );
    }
}

/// A tiny deterministic PRNG (no extra dependency for one test).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn writer_killed_at_random_points_leaves_old_or_new_state() {
    let f = Fixture::new();
    let dscl = e2e::tool("dscl");
    let mut rng = Lcg(0x5eed);
    let mut outcomes = [0usize; 2];
    // Kills that left a journal: the commit point was passed and the next
    // run must roll the commit forward (the case this test exists for).
    let mut mid_commit = 0usize;
    let journal = f.root().join("private/var/db/darling-nix/accounts.journal");
    // At least 40 kills; keep going (bounded) until both outcomes and a
    // roll-forward were seen, so a slow or loaded machine only makes the
    // test longer.
    for n in 0..300u64 {
        if n >= 40 && outcomes[0] > 0 && outcomes[1] > 0 && mid_commit > 0 {
            break;
        }
        let user = format!("k{n}");
        let mut child = f
            .command(&dscl)
            .args([
                ".",
                "-create",
                &format!("/Users/{user}"),
                "UniqueID",
                &(2000 + n).to_string(),
            ])
            // Widen each commit step to 1.5 ms so kills land inside commits.
            .env("PREFIXFS_TEST_STEP_DELAY_US", "1500")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next(25_000 + n * 500)));
        let _ = child.kill();
        let _ = child.wait();
        mid_commit += usize::from(journal.exists());
        // The next tool run finishes or discards the interrupted commit.
        let o = f.run(&dscl, &[".", "-list", "/Users"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let a = f.assert_consistent();
        let in_files = a.users.contains_key(&user);
        let listed = o.stdout.lines().any(|l| l == user);
        let sidecar = f.snapshot()[3].contains(&format!("\"{user}\""));
        assert_eq!(in_files, listed, "{user}: files and dscl agree");
        assert_eq!(in_files, sidecar, "{user}: files and sidecar agree");
        assert!(
            !journal.exists(),
            "{user}: the journal outlived the next run"
        );
        outcomes[usize::from(in_files)] += 1;
    }
    // Both outcomes, and a kill past the commit point, must have happened
    // for the test to mean anything.
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0 && mid_commit > 0,
        "old/new outcomes: {outcomes:?}, kills past the commit point: {mid_commit}"
    );
}

#[test]
fn rejected_input_changes_nothing() {
    let f = Fixture::new();
    let dscl = e2e::tool("dscl");
    let before = f.snapshot();
    for args in [
        &[".", "-create", "/Users/a,b", "UniqueID", "5"][..],
        &[
            ".",
            "-create",
            "/Users/root",
            "UserShell",
            "/bin/sh\nevil:x:0:0::/:/bin/sh",
        ],
        &[".", "-create", "/Users/root", "UniqueID", "99999999999"],
        &[".", "-create", "/Users/root", "RecordName", "daemon"],
        &[".", "-append", "/Groups/staff", "GroupMembership", "x:y"],
    ] {
        let o = f.run(&dscl, args);
        assert_ne!(o.code, 0, "{args:?} must be refused");
    }
    assert_eq!(f.snapshot(), before);
}

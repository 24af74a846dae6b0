//! The job guard as a helper process (`darling-nix-guard`), without
//! Darling: a prefix stand-in whose "darlingserver" is a process in mount
//! and pid namespaces of its own, as a real prefix's is.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use darling_host::procs::{self, Guard};

/// `unshare --mount --pid --fork --kill-child setsid sleep 600`: the sleep is pid 1 and
/// process group 1 of its own namespaces. Killed and reaped on drop, so a
/// failing test leaves nothing behind.
struct NamespacedSleep {
    unshare: Child,
    /// The sleep's host pid.
    pid: i32,
}

impl NamespacedSleep {
    fn start() -> NamespacedSleep {
        let unshare = Command::new("unshare")
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "setsid",
                "sleep",
                "600",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let mut s = NamespacedSleep { unshare, pid: 0 };
        let start = Instant::now();
        while s.pid == 0 && start.elapsed() < Duration::from_secs(10) {
            let kids = fs::read_to_string(format!("/proc/{0}/task/{0}/children", s.unshare.id()))
                .unwrap_or_default();
            match kids.split_whitespace().next().and_then(|p| p.parse().ok()) {
                Some(pid) => s.pid = pid,
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        assert!(s.pid != 0, "no child of unshare");
        s
    }
}

impl Drop for NamespacedSleep {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn gone_within(pid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !procs::alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// (prefix stand-in, pgrp file) with `.init.pid` naming `server`.
fn stand_in(server: i32) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join(".init.pid"), format!("{server}\n")).unwrap();
    let job = d.path().join("job");
    fs::create_dir(&job).unwrap();
    (d, job.join("pgrp"))
}

#[test]
fn a_dropped_guard_kills_the_jobs_group_and_a_disarmed_one_does_not() {
    if !e2e::is_root() {
        return e2e::skip_tool("guard kill test", "needs root for unshare --mount --pid");
    }
    // Disarmed: the job lives on, the watcher is gone.
    let job = NamespacedSleep::start();
    let sleep = job.pid;
    let (prefix, pgrp) = stand_in(sleep);
    fs::write(&pgrp, "1\n").unwrap();
    let g = Guard::spawn(prefix.path(), &pgrp).expect("darling-nix-guard");
    g.disarm();
    assert!(
        !gone_within(sleep, Duration::from_millis(300)),
        "disarmed guard killed the job"
    );

    // Dropped (its starter failed or died): the job's group is killed.
    let g = Guard::spawn(prefix.path(), &pgrp).expect("darling-nix-guard");
    drop(g);
    assert!(
        gone_within(sleep, Duration::from_secs(10)),
        "the job outlived a dropped guard"
    );
}

#[test]
fn the_watcher_waits_for_the_group_file_and_gives_up_when_the_prefix_stops() {
    // A stale `.init.pid` (no such process): nothing can run inside, so the
    // watcher leaves at once rather than waiting 30 s for the group file.
    let (prefix, pgrp) = stand_in(i32::MAX);
    let g = Guard::spawn(prefix.path(), &pgrp).expect("darling-nix-guard");
    let start = Instant::now();
    drop(g);
    let out = Command::new(env!("CARGO_BIN_EXE_darling-nix-guard"))
        .arg(prefix.path())
        .arg(&pgrp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_wrong_command_line_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_darling-nix-guard"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("usage: darling-nix-guard"));
}

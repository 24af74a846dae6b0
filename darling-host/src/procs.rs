//! Finding and killing a job's processes from the host.
//!
//! Processes inside a prefix are ordinary Linux processes in the mount and
//! pid namespaces of the prefix's darlingserver; Darling's pids are their
//! pids in that pid namespace. A job script records its process group as
//! seen inside ([`crate::script::Streams::pgrp`]); the host finds the same
//! group through the `NSpgid` line of `/proc/<pid>/status` and kills it.
//! [`Guard`] does that even when the process that started the job is
//! killed with SIGKILL.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The host pid `darling` recorded for a prefix's darlingserver
/// (`<prefix>/.init.pid`); it may be stale.
pub fn init_pid(prefix: &Path) -> Option<i32> {
    read_number(&prefix.join(".init.pid"))
}

/// The mount namespace of a running prefix (its darlingserver's).
pub fn prefix_mnt_ns(prefix: &Path) -> Option<PathBuf> {
    let pid = init_pid(prefix)?;
    fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
}

/// The process exists and has not exited (a zombie has, though it waits to
/// be reaped).
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z') && !r.starts_with('X'))
}

/// Host ids of the live process groups whose id inside the prefix is
/// `inner` (normally one).
pub fn host_groups(prefix: &Path, inner: i32) -> Vec<Pid> {
    let Some(ns) = prefix_mnt_ns(prefix) else {
        return Vec::new();
    };
    let mut groups = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return groups;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let p = e.path();
        if fs::read_link(p.join("ns/mnt")).ok().as_ref() != Some(&ns) || !alive(pid) {
            continue;
        }
        let Ok(status) = fs::read_to_string(p.join("status")) else {
            continue;
        };
        let Some(ids) = status.lines().find_map(|l| l.strip_prefix("NSpgid:")) else {
            continue;
        };
        let ids: Vec<i32> = ids
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if ids.len() >= 2 && ids.last() == Some(&inner) {
            let host = Pid::from_raw(ids[0]);
            if !groups.contains(&host) {
                groups.push(host);
            }
        }
    }
    groups
}

/// Kills the process group `inner` (as seen inside the prefix) until none
/// of its processes is left, for at most `limit`. Returns whether it is gone.
pub fn kill_inner_group(prefix: &Path, inner: i32, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        let groups = host_groups(prefix, inner);
        if groups.is_empty() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        for g in groups {
            let _ = killpg(g, Signal::SIGKILL);
        }
        // Killed processes stay zombies until their parent reaps them.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Host pids of the processes of the host process group `pgid` that have
/// not exited (zombies, which can change nothing, excluded). Empty when
/// `/proc` cannot be read.
pub fn live_host_members(pgid: i32) -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // "pid (comm) state ppid pgrp ...": comm may hold anything.
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().take(3).collect();
            f.len() == 3 && f[2].parse() == Ok(pgid) && f[0] != "Z" && f[0] != "X"
        })
        .collect()
}

/// Kills the host process group `pgid` until none of its processes is
/// left running, for at most `limit`. Returns whether it is gone. The
/// caller keeps the group's id from being reused meanwhile (its leader is
/// an unreaped child, or a member still lives).
pub fn kill_host_group(pgid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        if live_host_members(pgid).is_empty() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        // A process in an uninterruptible wait dies when it returns.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A decimal number that `darling` or a job script wrote into a file (a
/// pid, a process group, an exit status).
pub fn read_number(file: &Path) -> Option<i32> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// The helper program that watches a job: `darling-nix-guard`, shipped with
/// the host tools.
pub const GUARD_PROGRAM: &str = "darling-nix-guard";

/// A watcher process that kills a job inside the prefix if the process that
/// started it dies before calling [`Guard::disarm`] (Nix kills a hook with
/// SIGKILL, which no handler sees).
///
/// The watcher is a helper program ([`GUARD_PROGRAM`], running
/// [`guard_main`]), not a fork: a fork of a multi-threaded caller may only
/// call async-signal-safe functions, and the watcher reads files and
/// allocates.
pub struct Guard {
    arm: Option<OwnedFd>,
    watcher: Option<std::process::Child>,
}

impl Guard {
    /// Starts the watcher in a process group of its own (Nix kills the
    /// hook's whole group). It waits for the job's process group file and
    /// kills that group once the caller has gone.
    pub fn spawn(prefix: &Path, pgrp_file: &Path) -> io::Result<Guard> {
        use std::os::unix::process::CommandExt;
        let program = guard_program().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{GUARD_PROGRAM} not found next to this program or on PATH"),
            )
        })?;
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let watcher = std::process::Command::new(program)
            .arg(prefix)
            .arg(pgrp_file)
            .stdin(std::process::Stdio::from(rx))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(Guard {
            arm: Some(tx),
            watcher: Some(watcher),
        })
    }

    /// The job ended normally: the watcher leaves without killing anything
    /// (and is reaped here).
    pub fn disarm(mut self) {
        if let Some(tx) = self.arm.take() {
            let _ = nix::unistd::write(&tx, b"d");
        }
        if let Some(mut w) = self.watcher.take() {
            let _ = w.wait();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Dropped without disarm (an error path): closing the pipe makes the
        // watcher kill the job. It is not waited for (that can take seconds);
        // our own exit hands it to init.
        drop(self.arm.take());
    }
}

/// `$DARLING_NIX_GUARD` when set, else [`GUARD_PROGRAM`] next to this
/// program (or one directory up, as cargo lays out test binaries), else on
/// PATH.
pub fn guard_program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DARLING_NIX_GUARD").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok();
    exe.iter()
        .flat_map(|e| e.ancestors().skip(1).take(2))
        .map(|d| d.join(GUARD_PROGRAM))
        .find(|p| p.is_file())
        .or_else(|| which::which(GUARD_PROGRAM).ok())
}

/// The watcher program: `darling-nix-guard PREFIX PGRP_FILE`, its stdin the
/// arm pipe. Returns its exit status (0; 64 for a wrong command line).
pub fn guard_main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let args: Vec<_> = args.into_iter().collect();
    let [prefix, pgrp_file] = args.as_slice() else {
        eprintln!("usage: {GUARD_PROGRAM} PREFIX PGRP_FILE (started by darling-nix's tools, the arm pipe on stdin)");
        return 64;
    };
    // Hold none of the caller's files but the pipe (Nix waits for EOF on
    // the hook's pipes).
    close_inherited();
    watch(Path::new(prefix), Path::new(pgrp_file));
    0
}

/// Closes every descriptor above stderr that this process inherited.
fn close_inherited() {
    let fds: Vec<i32> = fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // The directory handle itself is already closed: EBADF is fine.
        let _ = nix::unistd::close(fd);
    }
}

/// The watcher's life: block until stdin (the arm pipe) says "done" or
/// closes; unless done, kill the job's group once it is known.
fn watch(prefix: &Path, pgrp_file: &Path) {
    let mut b = [0u8; 1];
    let stdin = io::stdin();
    let done = loop {
        match nix::unistd::read(&stdin, &mut b) {
            Ok(1) => break b[0] == b'd',
            Ok(_) => break false,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break false,
        }
    };
    if done {
        return;
    }
    // The job may not have started yet: wait for its group (bounded).
    let start = Instant::now();
    loop {
        if let Some(g) = read_number(pgrp_file) {
            kill_inner_group(prefix, g, Duration::from_secs(10));
            return;
        }
        // Gone with its directory (its starter cleaned up), or never
        // started: nothing can run.
        let dir_gone = pgrp_file.parent().is_some_and(|d| !d.exists());
        if dir_gone || start.elapsed() > Duration::from_secs(30) || prefix_mnt_ns(prefix).is_none()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

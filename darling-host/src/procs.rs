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
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::{ForkResult, Pid};

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

/// A decimal number that `darling` or a job script wrote into a file (a
/// pid, a process group, an exit status).
pub fn read_number(file: &Path) -> Option<i32> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// A watcher process that kills a job inside the prefix if the process that
/// started it dies before calling [`Guard::disarm`] (Nix kills a hook with
/// SIGKILL, which no handler sees).
pub struct Guard {
    arm: Option<OwnedFd>,
}

impl Guard {
    /// Forks the watcher (twice, so that it is nobody's child to wait for).
    /// It waits for the job's process group file and kills that group once
    /// the caller has gone.
    pub fn spawn(prefix: &Path, pgrp_file: &Path) -> io::Result<Guard> {
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (prefix, pgrp_file) = (prefix.to_path_buf(), pgrp_file.to_path_buf());
        // SAFETY: the callers (the build hook) are single-threaded when they
        // start a job, so the child owns every lock it can meet; it uses
        // plain syscalls, /proc reads and malloc (which glibc makes safe in
        // a forked child), never stdio, and leaves with _exit.
        match unsafe { nix::unistd::fork() }? {
            ForkResult::Parent { child } => {
                drop(rx);
                // The intermediate child exits at once.
                let _ = nix::sys::wait::waitpid(child, None);
                Ok(Guard { arm: Some(tx) })
            }
            ForkResult::Child => {
                drop(tx);
                // Leave the caller's process group (Nix kills the hook's
                // whole group).
                let _ = nix::unistd::setsid();
                // SAFETY: as above; this process is single-threaded.
                if let Ok(ForkResult::Child) = unsafe { nix::unistd::fork() } {
                    watch(rx, &prefix, &pgrp_file);
                }
                // SAFETY: ends a forked child without running the parent's
                // atexit handlers or flushing its buffers.
                unsafe { libc::_exit(0) }
            }
        }
    }

    /// The job ended normally: the watcher leaves without killing anything.
    pub fn disarm(mut self) {
        if let Some(tx) = self.arm.take() {
            let _ = nix::unistd::write(&tx, b"d");
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Dropped without disarm (an error path): closing the pipe makes the
        // watcher kill the job.
        drop(self.arm.take());
    }
}

/// The watcher's life: block until the pipe says "done" or closes.
fn watch(rx: OwnedFd, prefix: &Path, pgrp_file: &Path) {
    // Hold none of the caller's files (Nix waits for EOF on the hook's
    // pipes).
    let keep = rx.as_raw_fd() as u32;
    // SAFETY: closes descriptors this child does not use; the only Rust
    // object in the child that owns one (`rx`) is kept.
    unsafe {
        if keep > 0 {
            libc::close_range(0, keep - 1, 0);
        }
        libc::close_range(keep + 1, u32::MAX, 0);
    }
    let mut b = [0u8; 1];
    let done = loop {
        match nix::unistd::read(&rx, &mut b) {
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

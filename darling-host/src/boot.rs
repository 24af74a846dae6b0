//! Starting a stopped prefix so that its container belongs to no caller.
//!
//! `darling` starts a prefix's darlingserver as a child of whichever client
//! finds the prefix stopped, and the server (and launchd, until it makes a
//! session of its own) stays in that client's process group. Two things then
//! reach the caller's group:
//!
//! * a kill of the client's group (a job's time limit, Nix killing its
//!   hook's group) takes the whole container down with the job;
//! * Darling's signal emulation ends a Mach-O process that has no handler
//!   for a fatal signal by re-raising it with `kill(0, sig)`, to its whole
//!   process group. A container started from `cargo test` once killed cargo
//!   itself with SIGFPE this way.
//!
//! So darling-nix starts a stopped prefix itself, with `darling shell true`
//! in a session of its own, once (under a lock), before any other client
//! runs; every later client finds the server running and only connects.

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Seek};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::procs::{alive, init_pid};
use crate::HostError;

/// The start-up error a client reports when the container's launchd has
/// not brought shellspawn up yet (seen on a loaded machine).
const NOT_READY: &str = "Error connecting to shellspawn";

/// Attempts at a fresh start before giving up.
const STARTS: u32 = 5;

/// The host pid of `prefix`'s running darlingserver, if it runs. The test is
/// `darling`'s own (the pid in `.init.pid` is a live process named
/// `darlingserver`), and the server must also be this prefix's.
pub fn server_pid(prefix: &Path) -> Option<i32> {
    recorded_server(prefix).filter(|&pid| alive(pid))
}

/// The pid in `.init.pid` when it is (or was, a zombie) this prefix's
/// darlingserver.
fn recorded_server(prefix: &Path) -> Option<i32> {
    let pid = init_pid(prefix)?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    if comm.trim_end() != "darlingserver" {
        return None;
    }
    // argv: darlingserver <prefix> <uid> <gid> <fd> <fix-permissions>; a
    // zombie's is empty (and a zombie of another prefix's server would not
    // be in this prefix's pid file long: its own `darling` replaces it).
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if cmdline.is_empty() {
        return Some(pid);
    }
    let arg1 = cmdline.split(|&b| b == 0).nth(1)?;
    (Path::new(OsStr::from_bytes(arg1)) == prefix).then_some(pid)
}

/// How [`ensure_running`] found the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boot {
    /// Its server was already running.
    Running,
    /// It was stopped and is now started, in a session of its own.
    Started,
}

/// Makes sure `prefix`'s container runs, starting it detached from the
/// caller when it does not. Costs four small file reads when it runs.
/// Concurrent callers are serialised by a lock on the prefix's parent
/// directory (the prefix itself may not exist yet: `darling` creates it).
pub fn ensure_running(darling: &Path, prefix: &Path, limit: Duration) -> Result<Boot, HostError> {
    if server_pid(prefix).is_some() {
        return Ok(Boot::Running);
    }
    let parent = prefix.parent().unwrap_or(Path::new("/"));
    let lock =
        fs::File::open(parent).map_err(|e| lost(prefix, format!("{}: {e}", parent.display())))?;
    lock.lock()
        .map_err(|e| lost(prefix, format!("locking {}: {e}", parent.display())))?;
    if server_pid(prefix).is_some() {
        return Ok(Boot::Running);
    }
    forget_dead_server(prefix);
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    for attempt in 0..STARTS {
        if attempt > 0 {
            // A half-started container is stopped before the next try.
            shutdown(darling, prefix, deadline);
            forget_dead_server(prefix);
            std::thread::sleep(Duration::from_millis(500));
        }
        match start_once(darling, prefix, deadline)? {
            None => return Ok(Boot::Started),
            Some(err) if err.contains(NOT_READY) => last = err,
            Some(err) => return Err(lost(prefix, err)),
        }
    }
    Err(lost(prefix, last))
}

/// A darlingserver that was just killed (`darling shutdown` sends SIGKILL)
/// stays a zombie until its reaper gets to it, and `darling` counts a zombie
/// as running: it would try to join the dead container and fail with
/// "Cannot open mnt namespace file". Its `.init.pid` is removed, which is
/// what `darling` itself does with a pid file naming no server.
fn forget_dead_server(prefix: &Path) {
    if let Some(pid) = recorded_server(prefix) {
        if !alive(pid) {
            let _ = fs::remove_file(prefix.join(".init.pid"));
        }
    }
}

/// One `darling shell true` in a new session. `None` when it succeeded,
/// else what the client printed. On timeout its whole group goes, the
/// half-started server included.
fn start_once(
    darling: &Path,
    prefix: &Path,
    deadline: Instant,
) -> Result<Option<String>, HostError> {
    // The server keeps the client's stdout and stderr for its whole life:
    // an unlinked file, never the caller's pipe.
    let mut log = tempfile::tempfile()?;
    // darlingserver, started here, keeps this environment.
    let expr = duct::cmd(darling, ["shell", "true"])
        .full_env(crate::darling_env(prefix))
        .stdin_null()
        .stdout_file(log.try_clone()?)
        .stderr_file(log.try_clone()?);
    let what = format!("{} shell true", darling.display());
    let left = deadline.saturating_duration_since(Instant::now());
    let st = crate::run_bounded(expr, left, true, &what)?.status;
    if st.success() {
        return Ok(None);
    }
    let mut text = String::new();
    log.rewind()?;
    log.read_to_string(&mut text)?;
    Ok(Some(format!("`{what}` exited ({st}): {}", text.trim())))
}

/// `darling shutdown`, then waits (bounded) for the server to go.
fn shutdown(darling: &Path, prefix: &Path, deadline: Instant) {
    let pid = server_pid(prefix);
    let _ = std::process::Command::new(darling)
        .arg("shutdown")
        .env_clear()
        .envs(crate::darling_env(prefix))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if let Some(pid) = pid {
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn lost(prefix: &Path, why: String) -> HostError {
    HostError::Lost {
        cmd: format!("starting prefix {}", PathBuf::from(prefix).display()),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_pid_file_naming_no_darlingserver_is_not_a_running_prefix() {
        let d = tempfile::tempdir().unwrap();
        let prefix = d.path().join("p");
        fs::create_dir(&prefix).unwrap();
        assert_eq!(server_pid(&prefix), None);
        for text in ["", "garbage", "-1", &std::process::id().to_string()] {
            fs::write(prefix.join(".init.pid"), text).unwrap();
            assert_eq!(server_pid(&prefix), None, "{text:?}");
        }
    }

    /// A stand-in `darling` (Darling is not needed for this part): it
    /// records its session and fails twice with the start-up error of a
    /// loaded machine, which is retried after a shutdown; another error is
    /// reported with what the client printed.
    #[test]
    fn starts_in_a_new_session_and_retries_only_the_start_up_error() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let fake = d.path().join("darling");
        fs::write(
            &fake,
            format!(
                "#!/bin/sh\n\
                 read -r _ _ _ _ _ sid _ </proc/$$/stat\n\
                 echo \"$1 $DPREFIX $sid $$\" >>{log}\n\
                 [ \"$1\" = shutdown ] && exit 0\n\
                 n=$(grep -c '^shell' {log})\n\
                 [ -e {d}/broken ] && {{ echo 'Prefix path too long'; exit 1; }}\n\
                 [ \"$n\" -le 2 ] && {{ echo 'Error connecting to shellspawn: x' >&2; exit 1; }}\n\
                 exit 0\n",
                log = log.display(),
                d = d.path().display()
            ),
        )
        .unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let prefix = d.path().join("p");
        let limit = Duration::from_secs(30);
        assert_eq!(
            ensure_running(&fake, &prefix, limit).unwrap(),
            Boot::Started
        );
        let lines: Vec<String> = fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let verbs: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(verbs, ["shell", "shutdown", "shell", "shutdown", "shell"]);
        for l in lines.iter().filter(|l| l.starts_with("shell")) {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(w[1], prefix.to_str().unwrap());
            assert_eq!(w[2], w[3], "not a session leader: {l}");
        }

        fs::write(d.path().join("broken"), "").unwrap();
        fs::remove_file(&log).unwrap();
        let e = ensure_running(&fake, &prefix, limit)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Prefix path too long"), "{e}");
        assert_eq!(fs::read_to_string(&log).unwrap().lines().count(), 1);
    }
}

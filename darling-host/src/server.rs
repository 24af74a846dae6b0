//! The job server: one long-lived Darling `/bin/bash` per prefix that
//! starts jobs on request, so a build costs one fork and the builder's own
//! start inside Darling instead of a whole `darling shell` (launcher,
//! shellspawn, a login shell and the job shell).
//!
//! It reads one request per line from a FIFO on the host (seen inside under
//! `/Volumes/SystemRoot`): the inside path of a job directory holding a
//! `job.sh` made by [`crate::script`]. It runs each job in a subshell of its
//! own process group, which runs the command, waits for it and writes its
//! exit status; the job reports its group, output and status through files
//! in its directory, so the server never talks back and runs no code when a
//! child ends. `darling shutdown` ends it
//! with everything else in the prefix.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The server loop, run by Darling's `/bin/bash` with the request FIFO as
/// `$1`. Bash builtins only.
pub const SERVER_SCRIPT: &str = concat!(
    "# darling-nix job server; runs inside Darling under /bin/bash.\n",
    crate::script::fresh_env!(),
    "# Jobs get an empty environment: empty ours once (functions too), and\n",
    "# tell job scripts, by our pid (`$$` in their subshells too).\n",
    crate::script::unset_all!(),
    "__dn_clean=$$\n",
    r#"# Job control: every job runs in a process group of its own.
set -m
# Each job's own shell waits for its command and writes its status; the
# server runs no code when a child ends. (A CHLD trap did, and Darling's
# bash 3.2 runs traps inside its signal handler, re-entering the shell:
# the server crashed under concurrent jobs and left builds without status.)
exec 3<>"$1" </dev/null
while :; do
  if read -r -u 3 __dn_job; then
    case $__dn_job in
      /*) ( . "$__dn_job/job.sh" ) & ;;
    esac
    # Forget finished jobs (bash 3.2 would keep every one).
    jobs >/dev/null
  elif [ $? -le 128 ]; then
    break
  fi
done
"#
);

/// A prefix's job server, addressed through files in `dir` (a host
/// directory private to its users, visible inside through
/// `/Volumes/SystemRoot`).
#[derive(Debug, Clone)]
pub struct JobServer {
    /// `darling`, to start the server.
    pub darling: PathBuf,
    /// The prefix's directory on the host (`DPREFIX`); a stopped prefix is
    /// started before the server.
    pub prefix: PathBuf,
    /// The server's own directory (see [`JobServer::dir_for`]).
    pub dir: PathBuf,
}

/// What a job script and the server agree on; changed whenever either side
/// changes its half, so that a newer caller never talks to an older server
/// still running in the prefix (see [`JobServer::dir_for`]).
const PROTOCOL: &str = "4: job waits for its command and writes its status; no CHLD trap; __dn_clean is the server's pid";

/// FNV-1a, 64 bits: a stable name, not a security measure.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0u8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl JobServer {
    /// The directory under `base` for `prefix`'s server: one per prefix and
    /// per server protocol, so neither a changed `prefix` nor an upgrade
    /// reaches a server that speaks for another.
    pub fn dir_for(base: &Path, prefix: &Path) -> PathBuf {
        let h = fnv1a(&[
            prefix.as_os_str().as_encoded_bytes(),
            SERVER_SCRIPT.as_bytes(),
            PROTOCOL.as_bytes(),
        ]);
        base.join(format!("{h:016x}"))
    }

    fn requests(&self) -> PathBuf {
        self.dir.join("requests")
    }

    fn inside(&self, host: &Path) -> String {
        prefixfs::Prefix::at(&self.prefix).mac_path(host)
    }

    /// Hands a job directory (inside path) to the server. `Ok(false)`: no
    /// server is running.
    pub fn submit(&self, job_dir_inside: &str) -> io::Result<bool> {
        let line = format!("{job_dir_inside}\n");
        // One write of less than PIPE_BUF bytes: requests never interleave.
        if line.len() >= 4096 || job_dir_inside.contains('\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "job directory path too long or not one line",
            ));
        }
        let f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.requests());
        let mut f = match f {
            Ok(f) => f,
            // No reader (ENXIO) or no FIFO yet: not running.
            Err(e)
                if e.raw_os_error() == Some(libc::ENXIO) || e.kind() == io::ErrorKind::NotFound =>
            {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
        f.write_all(line.as_bytes())?;
        Ok(true)
    }

    /// Whether a server is reading requests.
    pub fn running(&self) -> bool {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.requests())
            .is_ok()
    }

    /// Starts the server unless one is running (one starter at a time).
    /// The server outlives the caller; `darling shutdown` stops it.
    pub fn ensure_started(&self, limit: Duration) -> io::Result<()> {
        if self.running() {
            return Ok(());
        }
        crate::boot::ensure_running(&self.darling, &self.prefix, limit)
            .map_err(|e| io::Error::other(e.to_string()))?;
        fs::create_dir_all(&self.dir)?;
        let lock = fs::File::create(self.dir.join("lock"))?;
        lock.lock()?;
        if self.running() {
            return Ok(());
        }
        let req = self.requests();
        match nix::unistd::mkfifo(&req, nix::sys::stat::Mode::from_bits_truncate(0o600)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        let script = self.dir.join("server.sh");
        prefixfs::write_atomic(&script, SERVER_SCRIPT.as_bytes(), 0o644)?;
        // Appended to: a server that died leaves its last words for the
        // next one's reader.
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))?;
        Command::new(&self.darling)
            .args([
                "shell",
                "/bin/bash",
                &self.inside(&script),
                &self.inside(&req),
            ])
            .env_clear()
            .envs(crate::darling_env(&self.prefix))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Not in the caller's process group: Nix kills a hook's group.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("starting `{} shell`: {e}", self.darling.display()),
                )
            })?;
        let start = Instant::now();
        while !self.running() {
            if start.elapsed() > limit {
                let why = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the job server did not start in {} s: {}",
                        limit.as_secs(),
                        why.trim()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_directory_per_prefix_and_protocol() {
        let base = Path::new("/var/lib/x/jobserver");
        let a = JobServer::dir_for(base, Path::new("/p/a"));
        assert_eq!(a, JobServer::dir_for(base, Path::new("/p/a")));
        assert_ne!(a, JobServer::dir_for(base, Path::new("/p/b")));
        assert!(a.starts_with(base));
        assert_eq!(a.file_name().unwrap().len(), 16);
    }
}

#[cfg(test)]
mod concurrent_jobs {
    //! The job server's script, run by the host's bash (no Darling needed):
    //! two threads submit hundreds of short jobs at once, as two build slots
    //! do, and every job's status must appear by itself, with no further
    //! request to nudge the server. The server used to write statuses from a
    //! CHLD trap, which Darling's bash 3.2 runs inside its signal handler: under
    //! concurrent jobs it crashed and left builds without a status (a newer
    //! bash, as here, defers the trap, and statuses never came at all).

    use std::collections::BTreeMap;

    use super::*;

    /// Writes a job directory under `dir` that exits with `code`, rendered as
    /// the launcher renders its jobs, and returns it.
    fn job(dir: &Path, code: u8) -> String {
        fs::create_dir_all(dir).unwrap();
        let p = |n: &str| dir.join(n).display().to_string();
        let (out, status, pgrp) = (p("out"), p("status"), p("pgrp"));
        let job = crate::Job {
            builder: "/bin/sh".into(),
            args: vec!["-c".into(), format!("echo job {code}; exit {code}")],
            env: BTreeMap::from([("JOB".to_string(), code.to_string())]),
            dir: crate::BuildDir {
                host: dir.to_path_buf(),
                inside: dir.display().to_string(),
            },
        };
        let text = crate::DarlingLauncher::render(&job, &out, &status, Some(&pgrp));
        fs::write(dir.join("job.sh"), text).unwrap();
        dir.display().to_string()
    }

    /// The request FIFO and the server script, in `dir`.
    fn server_files(dir: &Path) -> (PathBuf, PathBuf) {
        let requests = dir.join("requests");
        nix::unistd::mkfifo(&requests, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let script = dir.join("server.sh");
        fs::write(&script, SERVER_SCRIPT).unwrap();
        (requests, script)
    }

    /// A server started in an environment with an exported function and
    /// names bash cannot unset starts over without them: a job gets exactly
    /// its own variables.
    #[test]
    fn a_job_gets_only_its_env_from_a_server_started_in_a_dirty_one() {
        let d = tempfile::tempdir().unwrap();
        let (requests, script) = server_files(d.path());
        let mut server = Command::new("bash")
            .arg(&script)
            .arg(&requests)
            .env_clear()
            .envs([
                ("BASH_FUNC_f%%", "() {  echo exported function\n}"),
                ("odd-name", "1"),
                ("X.Y", "2"),
                ("LEAK", "3"),
            ])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let js = JobServer {
            darling: "/nonexistent/darling".into(),
            prefix: d.path().to_path_buf(),
            dir: d.path().to_path_buf(),
        };
        let dir = d.path().join("job");
        fs::create_dir(&dir).unwrap();
        let p = |n: &str| dir.join(n).display().to_string();
        let (out, status, pgrp) = (p("out"), p("status"), p("pgrp"));
        let job = crate::Job {
            builder: "/bin/cat".into(),
            args: vec!["/proc/self/environ".into()],
            env: BTreeMap::from([("out".to_string(), "/nix/store/x".to_string())]),
            dir: crate::BuildDir {
                host: dir.clone(),
                inside: dir.display().to_string(),
            },
        };
        let text = crate::DarlingLauncher::render(&job, &out, &status, Some(&pgrp));
        fs::write(dir.join("job.sh"), text).unwrap();
        let start = Instant::now();
        while !js.running() {
            assert!(start.elapsed() < Duration::from_secs(10), "no server");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(js.submit(&dir.display().to_string()).unwrap());
        while crate::procs::read_number(&dir.join("status")).is_none() {
            assert!(start.elapsed() < Duration::from_secs(10), "no status");
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(server.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = server.wait();
        let mut env: Vec<String> = fs::read(&out)
            .unwrap()
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        env.sort();
        // Bash itself sets `_` to the command's path.
        assert_eq!(env, ["_=/bin/cat", "out=/nix/store/x"]);
    }

    #[test]
    fn every_job_reports_its_status_under_concurrent_submissions() {
        let d = tempfile::tempdir().unwrap();
        let (requests, script) = server_files(d.path());
        let mut server = Command::new("bash")
            .arg(&script)
            .arg(&requests)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let js = JobServer {
            darling: "/nonexistent/darling".into(),
            prefix: d.path().to_path_buf(),
            dir: d.path().to_path_buf(),
        };
        let start = Instant::now();
        while !js.running() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let failures: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|t| {
                    let (js, base) = (&js, d.path().join(format!("slot{t}")));
                    s.spawn(move || {
                        let slot = t;
                        let mut bad = Vec::new();
                        for i in 0..150u32 {
                            let code = (i % 7) as u8;
                            let dir = base.join(i.to_string());
                            let path = job(&dir, code);
                            assert!(js.submit(&path).unwrap(), "server gone at job {i}");
                            let asked = Instant::now();
                            let got = loop {
                                if let Some(n) = crate::procs::read_number(&dir.join("status")) {
                                    break Some(n);
                                }
                                if asked.elapsed() > Duration::from_secs(5) {
                                    break None;
                                }
                                std::thread::sleep(Duration::from_millis(1));
                            };
                            if got != Some(i32::from(code)) {
                                bad.push(format!(
                                    "slot {slot} job {i}: status {got:?}, want {code}"
                                ));
                                // One is enough: stop rather than wait 5 s a job.
                                break;
                            }
                        }
                        bad
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let alive = js.running();
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(server.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = server.wait();
        assert!(
            failures.is_empty(),
            "{} jobs without their status: {failures:#?}",
            failures.len()
        );
        assert!(alive, "the server died");
    }
}

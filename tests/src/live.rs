//! The live Darling tier: tests that run on a real Darling.
//!
//! A test asks for a [`LivePrefix`]; it gets `None` (after one clear line on
//! stderr saying why) when no working `darling` is found, or a fresh prefix
//! in a scratch directory that is shut down and removed when it drops. With
//! `DARLING_NIX_LIVE=require` (what `.ci/run` sets) a missing Darling is a
//! failure instead of a skip, so CI can never pass the tier silently.
//!
//! Darling's output is always read from files: a prefix's resident
//! darlingserver inherits the caller's stdout and stderr, so a pipe would not
//! see EOF until `darling shutdown`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::Out;

/// Why the live tier cannot run here, or `None` when it can. Probed once
/// per test process by running `darling shell true` in a scratch prefix.
fn unavailable() -> Option<&'static str> {
    static PROBE: OnceLock<Option<String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let Some(darling) = darling_bin() else {
                return Some("no `darling` on PATH".into());
            };
            if !crate::is_root() {
                return Some("the live tier needs root (darling prefixes, mount namespaces)".into());
            }
            let p = match LivePrefix::create("probe", &darling) {
                Ok(p) => p,
                Err(e) => return Some(format!("cannot make a scratch prefix: {e}")),
            };
            let out = p.shell("true");
            if out.code == 0 {
                None
            } else {
                Some(format!(
                    "`darling shell true` exited {}: {}",
                    out.code,
                    out.stderr.trim()
                ))
            }
        })
        .as_deref()
}

/// `darling` on PATH, as a user would run it.
pub fn darling_bin() -> Option<PathBuf> {
    which::which("darling").ok()
}

/// Whether `DARLING_NIX_LIVE=require` is set (CI): a skip becomes a failure.
pub fn required() -> bool {
    std::env::var("DARLING_NIX_LIVE").is_ok_and(|v| v == "require")
}

/// A Darling prefix of its own for one test.
pub struct LivePrefix {
    dir: tempfile::TempDir,
    prefix: PathBuf,
    darling: PathBuf,
}

impl LivePrefix {
    /// A fresh prefix, or `None` with one skip line on stderr when Darling
    /// does not work here (a panic instead under `DARLING_NIX_LIVE=require`).
    /// `test` names the test in the skip line.
    pub fn new(test: &str) -> Option<LivePrefix> {
        if let Some(why) = unavailable() {
            assert!(
                !required(),
                "live Darling tier required (DARLING_NIX_LIVE=require) but {why}"
            );
            eprintln!("skipped live test {test}: {why} (see README, \"live tier\")");
            return None;
        }
        let darling = darling_bin().expect("probed");
        Some(LivePrefix::create(test, &darling).expect("scratch prefix"))
    }

    fn create(test: &str, darling: &Path) -> std::io::Result<LivePrefix> {
        // Darling's daemons can crash on `darling shutdown` (opendirectoryd
        // does on this Darling) and would drop tens of MB of core file into
        // the prefix while it is being removed. Everything the test starts
        // inherits this limit.
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_CORE) {
            let _ = setrlimit(Resource::RLIMIT_CORE, 0, hard);
        }
        // Not under a 0700 home or checkout: Darling's own daemons and our
        // tools running inside must reach it.
        let dir = tempfile::Builder::new()
            .prefix(&format!("darling-nix-live-{test}-"))
            .tempdir_in(scratch_root())?;
        let prefix = dir.path().join("prefix");
        Ok(LivePrefix {
            dir,
            prefix,
            darling: darling.to_path_buf(),
        })
    }

    /// The prefix directory on the host (`DPREFIX`).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// A scratch directory beside the prefix (host path), for the test's
    /// own files: visible inside as [`LivePrefix::inside`] of it.
    pub fn scratch(&self) -> PathBuf {
        let d = self.dir.path().join("scratch");
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// How a host path is seen from inside the prefix.
    pub fn inside(&self, host: &Path) -> String {
        format!("{}{}", darling_host::SYSTEM_ROOT, host.display())
    }

    /// A `darling` command for this prefix, with a clean environment.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.darling);
        c.env("DPREFIX", &self.prefix).stdin(Stdio::null());
        c
    }

    /// Runs `script` with Darling's `/bin/bash` inside the prefix and
    /// returns its output (read from files) and exit status.
    pub fn shell(&self, script: &str) -> Out {
        self.shell_timeout(script, Duration::from_secs(300))
    }

    /// [`LivePrefix::shell`] with a time limit; on expiry the prefix is
    /// shut down and the result has code -1.
    pub fn shell_timeout(&self, script: &str, limit: Duration) -> Out {
        let d = self.scratch();
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (so, se) = (d.join(format!("out.{n}")), d.join(format!("err.{n}")));
        let mut child = self
            .command()
            .args(["shell", "/bin/bash", "-c", script])
            .stdout(fs::File::create(&so).unwrap())
            .stderr(fs::File::create(&se).unwrap())
            .spawn()
            .expect("spawn darling");
        let start = Instant::now();
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st.code().unwrap_or(-1);
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                self.shutdown();
                break -1;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Out {
            code,
            stdout: fs::read_to_string(&so).unwrap_or_default(),
            stderr: fs::read_to_string(&se).unwrap_or_default(),
        }
    }

    /// `darling shutdown` for this prefix: stops its darlingserver and every
    /// process inside.
    pub fn shutdown(&self) {
        if !self.prefix.join(".init.pid").exists() {
            return;
        }
        let _ = self
            .command()
            .arg("shutdown")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // shutdown returns before the server has gone; wait (bounded).
        let start = Instant::now();
        while !self.processes().is_empty() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Host pids of live (non-zombie) processes that belong to this prefix:
    /// its darlingserver and everything inside its namespace.
    pub fn processes(&self) -> Vec<i32> {
        processes_of(&self.prefix)
    }
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for LivePrefix {
    fn drop(&mut self) {
        self.shutdown();
        let left = self.processes();
        for pid in &left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!(
                "processes left running in prefix {} after shutdown: {left:?}",
                self.prefix.display()
            );
        }
    }
}

/// Where live prefixes go: `DARLING_NIX_LIVE_DIR`, else the system's
/// temporary directory.
fn scratch_root() -> PathBuf {
    std::env::var_os("DARLING_NIX_LIVE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// Live processes tied to a prefix: a darlingserver started for it (its
/// argv names the prefix) and every process whose root or cwd is under it
/// or that shares the darlingserver's mount namespace.
pub fn processes_of(prefix: &Path) -> Vec<i32> {
    let want = prefix.as_os_str().as_encoded_bytes();
    let mut server_ns = Vec::new();
    let mut pids = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return pids;
    };
    let entries: Vec<(i32, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            Some((pid, e.path()))
        })
        .collect();
    let alive = |p: &Path| {
        fs::read_to_string(p.join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_string()))
            .is_some_and(|r| !r.starts_with('Z') && !r.starts_with('X'))
    };
    for (pid, p) in &entries {
        let cmd = fs::read(p.join("cmdline")).unwrap_or_default();
        let mut words = cmd.split(|b| *b == 0);
        let is_server = words
            .next()
            .is_some_and(|w| w.ends_with(b"darlingserver"))
            && words.next() == Some(want);
        if is_server && alive(p) {
            pids.push(*pid);
            if let Ok(ns) = fs::read_link(p.join("ns/mnt")) {
                server_ns.push(ns);
            }
        }
    }
    if server_ns.is_empty() {
        return pids;
    }
    for (pid, p) in &entries {
        if pids.contains(pid) || !alive(p) {
            continue;
        }
        if let Ok(ns) = fs::read_link(p.join("ns/mnt")) {
            if server_ns.contains(&ns) {
                pids.push(*pid);
            }
        }
    }
    pids
}

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
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
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
                return Some(
                    "the live tier needs root (darling prefixes, mount namespaces)".into(),
                );
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
    /// The prefix's mount namespace, once seen: processes inside can
    /// outlive the darlingserver during shutdown, and are found by it.
    ns: std::sync::Mutex<Option<PathBuf>>,
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
            crate::skip_line(&format!(
                "skipped live test {test}: {why} (see README, \"live tier\")"
            ));
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
        // Short: Darling's sockets live under the prefix and a socket path
        // must fit in 108 bytes.
        let short: String = test.chars().take(12).collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("dnl-{short}-"))
            .tempdir_in(scratch_root())?;
        let prefix = dir.path().join("p");
        Ok(LivePrefix {
            dir,
            prefix,
            darling: darling.to_path_buf(),
            ns: std::sync::Mutex::new(None),
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

    /// A `darling` command for this prefix. It runs in the scratch
    /// directory (processes inside inherit the cwd) with core dumps off:
    /// Darling's daemons and `shellspawn` dump core on some crashes, and a
    /// core file must not land in the checkout or outlive the test.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.darling);
        c.env("DPREFIX", &self.prefix)
            .current_dir(self.scratch())
            .stdin(Stdio::null())
            // Out of the test's (and cargo's) process group: Darling
            // re-raises fatal signals to a whole group.
            .process_group(0);
        // SAFETY: setrlimit(2) is async-signal-safe and touches no memory
        // of the parent.
        unsafe {
            c.pre_exec(|| {
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
                    .map_err(std::io::Error::from)
            });
        }
        c
    }

    /// Runs `script` with Darling's `/bin/bash` inside the prefix and
    /// returns its output (read from files) and exit status. The script
    /// ends with an explicit `exit $?`: when bash execs an ELF program in
    /// place of itself (its last command), `darling shell` returns 0 at
    /// once, while the program still runs.
    pub fn shell(&self, script: &str) -> Out {
        self.shell_timeout(script, Duration::from_secs(300))
    }

    /// [`LivePrefix::shell`] with a time limit; on expiry the prefix is
    /// shut down and the result has code -1.
    pub fn shell_timeout(&self, script: &str, limit: Duration) -> Out {
        self.shell_exact(&format!("{script}\nexit $?"), limit)
    }

    /// Runs `script` as given, without the trailing `exit $?` (to observe
    /// Darling's own behaviour).
    ///
    /// When Darling ends the session itself (see `lost_session`),
    /// the script is run once more, after a line on stderr with what was
    /// seen of the prefix: that is Darling failing, not the script, and it
    /// was seen once in CI and never in thousands of local runs. A script
    /// expected to end the session uses [`LivePrefix::shell_single`].
    pub fn shell_exact(&self, script: &str, limit: Duration) -> Out {
        let out = self.shell_single(script, limit);
        if !lost_session(&out) {
            return out;
        }
        eprintln!(
            "live prefix {}: `darling shell` ended with status 1 and no output; running the script again. {}",
            self.prefix.display(),
            self.diagnose()
        );
        let mut again = self.shell_single(script, limit);
        if lost_session(&again) {
            again.stderr = format!(
                "[live harness: Darling ended the session twice. {}]",
                self.diagnose()
            );
            return again;
        }
        again
    }

    /// [`LivePrefix::shell_exact`] without the second run: for a script
    /// that is expected to end Darling's session (a Mach-O program killed
    /// by a signal takes its whole process group with it).
    pub fn shell_single(&self, script: &str, limit: Duration) -> Out {
        // A stopped prefix is started the way our host tools start one: in
        // a session of its own (see `darling_host::boot`, which also
        // retries the start-up error of a loaded machine).
        if let Err(e) = darling_host::boot::ensure_running(&self.darling, &self.prefix, limit) {
            return Out {
                code: -1,
                stdout: String::new(),
                stderr: e.to_string(),
            };
        }
        self.shell_once(script, limit)
    }

    /// What is seen of the prefix after Darling ended a session: whether
    /// its darlingserver still runs, what runs inside, and the end of the
    /// darlingserver's log.
    fn diagnose(&self) -> String {
        let server = darling_host::procs::init_pid(&self.prefix)
            .map(|pid| format!("{pid}, alive: {}", darling_host::procs::alive(pid)))
            .unwrap_or_else(|| "no .init.pid".into());
        let log =
            fs::read_to_string(self.prefix.join("private/var/log/dserver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        let inside: Vec<String> = self
            .cmdlines()
            .into_iter()
            .map(|c| c.trim_end().to_string())
            .collect();
        format!(
            "darlingserver: {server}; processes inside: {inside:?}; dserver.log (last {} lines): {:?}",
            tail.len(),
            tail
        )
    }

    fn shell_once(&self, script: &str, limit: Duration) -> Out {
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
        self.remember_namespace();
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
        // shutdown returns before everything has gone; wait (bounded, and
        // generous: a loaded 2-core machine is slow to tear a prefix down).
        let start = Instant::now();
        while !self.processes().is_empty() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the prefix and puts the named tools of ours (from
    /// [`crate::bin_dir`]) at their macOS paths ([`darling_host::TOOLS`]).
    /// They are written through [`darling_host::file_view`], the running
    /// overlay, so Darling sees them at once; each is replaced atomically.
    pub fn install_tools(&self, names: &[&str]) {
        let o = self.shell("true");
        assert_eq!(o.code, 0, "prefix setup: {o:?}");
        let files = darling_host::file_view(&self.prefix);
        for name in names {
            let (_, at) = darling_host::TOOLS
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{name} is not one of our in-prefix tools"));
            let dest = files.join(at);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            let tmp = dest.with_extension("darling-nix-test.tmp");
            fs::copy(crate::tool(name), &tmp).expect("copy tool into the prefix");
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
            fs::rename(&tmp, &dest).unwrap();
        }
    }

    /// [`LivePrefix::install_tools`] with every one of our tools.
    pub fn install_all_tools(&self) {
        let names: Vec<&str> = darling_host::TOOLS.iter().map(|(n, _)| *n).collect();
        self.install_tools(&names);
    }

    /// Runs a host program acting on this prefix (it is told which by its
    /// arguments: `DARLING_PREFIX` and `DPREFIX` are removed) with its
    /// output in files named after `name` in the scratch directory: a
    /// darlingserver it starts inherits and keeps its streams open.
    pub fn run_host(&self, mut c: Command, name: &str) -> Out {
        let d = self.scratch();
        let (so, se) = (d.join(format!("{name}.out")), d.join(format!("{name}.err")));
        let st = c
            .env_remove("DARLING_PREFIX")
            .env_remove("DPREFIX")
            .stdout(fs::File::create(&so).unwrap())
            .stderr(fs::File::create(&se).unwrap())
            .status()
            .unwrap();
        Out {
            code: st.code().unwrap_or(-1),
            stdout: fs::read_to_string(&so).unwrap(),
            stderr: fs::read_to_string(&se).unwrap(),
        }
    }

    /// Command lines (arguments joined by spaces) of the processes of this
    /// prefix.
    pub fn cmdlines(&self) -> Vec<String> {
        self.processes()
            .into_iter()
            .filter_map(|pid| fs::read(format!("/proc/{pid}/cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .collect()
    }

    /// Waits (up to 15 s) until no process of this prefix has `needle` in
    /// its command line, and fails the test if one still does.
    pub fn assert_gone(&self, needle: &str) {
        let start = Instant::now();
        loop {
            let left: Vec<String> = self
                .cmdlines()
                .into_iter()
                .filter(|c| c.contains(needle))
                .collect();
            if left.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "left running inside Darling: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Records the prefix's mount namespace (from `.init.pid`), so that
    /// [`LivePrefix::processes`] still finds what runs inside after the
    /// darlingserver has gone. Tests that start Darling by other means than
    /// [`LivePrefix::shell`] may call it too.
    pub fn remember_namespace(&self) {
        let mut ns = self.ns.lock().unwrap();
        if ns.is_none() {
            *ns = darling_host::procs::prefix_mnt_ns(&self.prefix);
        }
    }

    /// Host pids of live (non-zombie) processes that belong to this prefix:
    /// its darlingserver and everything inside its namespace.
    pub fn processes(&self) -> Vec<i32> {
        self.remember_namespace();
        let ns = self.ns.lock().unwrap().clone();
        processes_in(&self.prefix, ns.into_iter().collect())
    }
}

/// Whether `darling shell` ended the way it does when its session is lost:
/// status 1 and no output at all. The `darling` client exits 1 without a
/// word when shellspawn closes the connection without sending a status,
/// which happens when shellspawn fails or when a signal ends the session's
/// whole process group (Darling re-raises a Mach-O program's fatal signal
/// to its group).
fn lost_session(out: &Out) -> bool {
    out.code == 1 && out.stdout.is_empty() && out.stderr.is_empty()
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
        // TempDir's own removal ignores errors; a prefix that cannot be
        // removed is worth a line.
        if let Err(e) = fs::remove_dir_all(self.dir.path()) {
            eprintln!(
                "live prefix {}: not removed: {e}",
                self.dir.path().display()
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
/// argv names the prefix) and every process that shares the
/// darlingserver's mount namespace.
pub fn processes_of(prefix: &Path) -> Vec<i32> {
    processes_in(prefix, Vec::new())
}

/// [`processes_of`], plus every process in the given mount namespaces.
fn processes_in(prefix: &Path, mut server_ns: Vec<PathBuf>) -> Vec<i32> {
    let want = prefix.as_os_str().as_encoded_bytes();
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
    let alive = darling_host::procs::alive;
    for (pid, p) in &entries {
        let cmd = fs::read(p.join("cmdline")).unwrap_or_default();
        let mut words = cmd.split(|b| *b == 0);
        let is_server = words.next().is_some_and(|w| w.ends_with(b"darlingserver"))
            && words.next() == Some(want);
        if is_server && alive(*pid) {
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
        if pids.contains(pid) || !alive(*pid) {
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

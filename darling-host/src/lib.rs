//! Running commands inside a Darling prefix from the host, reliably: the
//! one place in darling-nix that knows how.
//!
//! * [`Runner`] runs a command to completion and returns its output:
//!   [`DarlingRunner`] inside a real prefix, [`FixtureRunner`] natively
//!   against a fixture prefix (our in-prefix tools with `DARLING_PREFIX`, Nix
//!   with the prefix as a chroot store), so the host tools can be tested
//!   without Darling.
//! * [`job`] starts long jobs (the build hook's builders) with streamed
//!   output, status, time limits and kill; [`server`] is the per-prefix job
//!   server that makes them cheap; [`procs`] finds and kills a job's
//!   processes; [`script`] writes the job scripts all of them run.
//! * [`boot`] starts a stopped prefix in a session of its own before any of
//!   them, so that no caller's process group holds the container.
//!
//! Paths: a host path is named inside through [`prefixfs::Prefix::mac_path`]
//! (prefix-relative, else under `/Volumes/SystemRoot`), and back through
//! [`prefixfs::Prefix::host_path`].
//!
//! `darling shell a b c` wraps each argument in single quotes and hands the
//! result to `bash --login -c`; it may hold stdout until `darling shutdown`,
//! and it reports death by a signal as exit 0. So nothing is passed on its
//! command line: a job script names every file by its inside path, sends
//! stdout, stderr and the exit status to files there, and the host reads
//! them back.

#![warn(missing_docs)]

pub mod boot;
pub mod job;
pub mod procs;
pub mod script;
pub mod server;

pub use job::{BuildDir, ChrootLauncher, DarlingLauncher, Ended, Job, Launcher, Running};
pub use prefixfs::SYSTEM_ROOT;
pub use server::JobServer;

use std::fs;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

mod select;
pub use select::{file_view, select_runner, DarlingNotFound, RunnerKind, Selected, UnknownRunner};

/// Why running a command inside a prefix ([`Runner::run`]) or starting a
/// stopped prefix ([`boot::ensure_running`]) gave no result.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A host-side I/O failure: making or reading the job's files, or
    /// waiting for the process.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The command outlived its time limit; its process group on the host,
    /// and for a Darling job its process group inside, were killed.
    #[error("`{cmd}` timed out after {secs} s")]
    Timeout {
        /// What was run (the program's name, or `<darling> shell true` when
        /// starting a prefix).
        cmd: String,
        /// The limit, in whole seconds.
        secs: u64,
    },
    /// The command could not be started, or ended without reporting a
    /// status (for example `darling shell` failed before running the job
    /// script, or the prefix would not start).
    #[error("`{cmd}`: {why}")]
    Lost {
        /// What was run (the program's name, or `starting prefix <path>`).
        cmd: String,
        /// The reason, with what the program or `darling` printed.
        why: String,
    },
}

/// The result of a command run inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit status as a shell's `$?` reports it: the exit code, or 128
    /// plus the signal number when a signal ended the command.
    pub code: i32,
    /// Everything the command wrote to standard output.
    pub stdout: String,
    /// Everything the command wrote to standard error.
    pub stderr: String,
}

/// darling-nix's in-prefix tools and where the installers and Nix call them
/// (paths inside the prefix).
pub const TOOLS: &[(&str, &str)] = &[
    ("dscl", "usr/bin/dscl"),
    ("dseditgroup", "usr/sbin/dseditgroup"),
    ("sysadminctl", "usr/sbin/sysadminctl"),
    ("diskutil", "usr/sbin/diskutil"),
    ("sandbox-exec", "usr/bin/sandbox-exec"),
];

/// Where the prefix is: `$DPREFIX`, else `~/.darling` (as `darling` does).
pub fn default_prefix() -> PathBuf {
    if let Some(p) = std::env::var_os("DPREFIX") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".darling")
}

/// Finds an executable `darling` (an explicit path, or PATH).
pub fn find_darling(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(p) => which::which(p).ok(),
        None => which::which("darling").ok(),
    }
}

/// The whole environment `darling` is started with for jobs, the job
/// server and starting a prefix: `DPREFIX`, plus `PATH` and `HOME` from
/// ours when set (`darling` reads `HOME` for its default prefix, and some
/// versions read it unchecked). Darling hands the rest of its environment
/// to the shells it starts inside, so nothing else of the caller's (an
/// exported bash function, a name bash cannot unset) reaches a builder.
pub fn darling_env(prefix: &Path) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let mut env = vec![("DPREFIX".into(), prefix.as_os_str().to_owned())];
    for k in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(k) {
            env.push((k.into(), v));
        }
    }
    env
}

/// Quotes a word for sh.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs commands "inside" a prefix.
pub trait Runner {
    /// The prefix's directory on the host.
    fn prefix(&self) -> &Path;
    /// One line naming the runner and its prefix, for messages (for
    /// example `/usr/bin/darling shell (prefix /root/.darling)`).
    fn describe(&self) -> String;
    /// Runs `argv` inside (`argv[0]` a Mac path or a command on the prefix's
    /// PATH) with `stdin` as input, returning its output and status.
    fn run(
        &self,
        argv: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, HostError>;
    /// Host path of a Mac path in the prefix (`/Volumes/SystemRoot/...` is
    /// the host's own).
    fn host_path(&self, mac: &str) -> PathBuf {
        prefixfs::Prefix::at(self.prefix()).host_path(mac)
    }
}

/// Starts `expr` in a process group of its own (in a session of its own
/// with `new_session`), waits at most `timeout`, and on expiry kills the
/// whole group.
fn run_bounded(
    expr: duct::Expression,
    timeout: Duration,
    new_session: bool,
    cmd: &str,
) -> Result<std::process::Output, HostError> {
    let handle = expr
        .unchecked()
        .before_spawn(move |c| {
            if new_session {
                // SAFETY: setsid(2) is async-signal-safe and touches no
                // memory of the parent.
                unsafe {
                    c.pre_exec(|| {
                        nix::unistd::setsid()?;
                        Ok(())
                    });
                }
            } else {
                c.process_group(0);
            }
            Ok(())
        })
        .start()
        .map_err(|e| HostError::Lost {
            cmd: cmd.into(),
            why: e.to_string(),
        })?;
    match handle.wait_timeout(timeout)? {
        Some(out) => Ok(out.clone()),
        None => {
            for pid in handle.pids() {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            let _ = handle.kill();
            Err(HostError::Timeout {
                cmd: cmd.into(),
                secs: timeout.as_secs(),
            })
        }
    }
}

fn exit_code(st: std::process::ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Production: `darling shell` with a job script and result files.
pub struct DarlingRunner {
    /// The `darling` launcher on the host, run as `darling shell /bin/bash
    /// <job script>` with `DPREFIX` set to [`DarlingRunner::prefix`].
    pub darling: PathBuf,
    /// The Darling prefix's directory on the host; a stopped prefix is
    /// started (in a session of its own, see [`boot`]) before each command.
    pub prefix: PathBuf,
    /// Host directory for job files (must be visible to the prefix through
    /// `/Volumes/SystemRoot`, i.e. anywhere on the host).
    pub scratch: PathBuf,
}

impl DarlingRunner {
    /// The job script: runs argv with stdin and output redirected to files,
    /// and records the exit status (and its process group, when asked).
    fn script(argv: &[&str], dir_inside: &str, has_stdin: bool, pgrp: Option<&str>) -> String {
        let f = |n: &str| format!("{dir_inside}/{n}");
        let (stdin, stdout, stderr, status) = (f("stdin"), f("stdout"), f("stderr"), f("status"));
        script::render(
            &script::Command {
                argv: argv.to_vec(),
                cwd: None,
                env: None,
            },
            &script::Streams {
                stdin: has_stdin.then_some(stdin.as_str()),
                stdout: &stdout,
                stderr: Some(&stderr),
                status: &status,
                pgrp,
            },
        )
    }
}

impl Runner for DarlingRunner {
    fn prefix(&self) -> &Path {
        &self.prefix
    }

    fn describe(&self) -> String {
        format!(
            "{} shell (prefix {})",
            self.darling.display(),
            self.prefix.display()
        )
    }

    fn run(
        &self,
        argv: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, HostError> {
        boot::ensure_running(&self.darling, &self.prefix, timeout)?;
        fs::create_dir_all(&self.scratch)?;
        let dir = tempfile::Builder::new()
            .prefix("darling-nix-job.")
            .tempdir_in(&self.scratch)?;
        let px = prefixfs::Prefix::at(&self.prefix);
        let inside = px.mac_path(dir.path());
        if let Some(input) = stdin {
            fs::write(dir.path().join("stdin"), input)?;
        }
        let pgrp = format!("{inside}/pgrp");
        fs::write(
            dir.path().join("job.sh"),
            Self::script(argv, &inside, stdin.is_some(), Some(&pgrp)),
        )?;
        let errors = dir.path().join("darling.err");
        // Darling's output goes to files: its resident server would keep a
        // pipe open until `darling shutdown`.
        let expr = duct::cmd(
            &self.darling,
            [
                "shell".into(),
                "/bin/bash".into(),
                format!("{inside}/job.sh"),
            ],
        )
        .env("DPREFIX", &self.prefix)
        .stdin_null()
        .stdout_null()
        .stderr_path(&errors);
        let result = run_bounded(expr, timeout, false, argv[0]);
        if result.is_err() {
            // Whatever the job started inside goes too.
            if let Some(g) = procs::read_number(&dir.path().join("pgrp")) {
                procs::kill_inner_group(&self.prefix, g, Duration::from_secs(10));
            }
        }
        let st = result?.status;
        let read = |n: &str| fs::read_to_string(dir.path().join(n)).unwrap_or_default();
        let code = match procs::read_number(&dir.path().join("status")) {
            Some(c) => c,
            None => {
                return Err(HostError::Lost {
                    cmd: argv[0].into(),
                    why: format!(
                        "darling shell exited ({st}) without running the job: {}",
                        read("darling.err").trim()
                    ),
                });
            }
        };
        Ok(Output {
            code,
            stdout: read("stdout"),
            stderr: read("stderr"),
        })
    }
}

/// Tests: our tools natively with `DARLING_PREFIX`, Nix natively with the
/// prefix as its (chroot) store and `<prefix>/etc/nix` as its config dir.
pub struct FixtureRunner {
    /// The fixture prefix's directory: `DARLING_PREFIX` for our tools, and
    /// for Nix its chroot store (`NIX_REMOTE`), with its configuration in
    /// the prefix's `/etc/nix` (`private/etc/nix` when present).
    pub prefix: PathBuf,
}

impl Runner for FixtureRunner {
    fn prefix(&self) -> &Path {
        &self.prefix
    }

    fn describe(&self) -> String {
        format!("fixture runner (native, prefix {})", self.prefix.display())
    }

    fn run(
        &self,
        argv: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, HostError> {
        // Our in-prefix tools are ELF binaries inside the prefix; anything
        // else (Nix, sh) is the host's, pointed at the prefix.
        let program = if argv[0].starts_with('/') && self.host_path(argv[0]).is_file() {
            self.host_path(argv[0])
        } else {
            PathBuf::from(argv[0].rsplit('/').next().unwrap_or(argv[0]))
        };
        let etc = prefixfs::Prefix::at(&self.prefix).etc_dir();
        // Commands named in scripts find our tools first, as inside Darling.
        let mut path = std::ffi::OsString::from(format!(
            "{}:{}:",
            self.prefix.join("usr/bin").display(),
            self.prefix.join("usr/sbin").display()
        ));
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let expr = duct::cmd(program.into_os_string(), &argv[1..])
            .env("PATH", path)
            .env("DARLING_PREFIX", &self.prefix)
            .env("NIX_REMOTE", &self.prefix)
            .env("NIX_CONF_DIR", etc.join("nix"))
            .env("NIX_STATE_DIR", self.prefix.join("nix/var/nix"))
            .env("NIX_LOG_DIR", self.prefix.join("nix/var/log/nix"))
            .stdout_capture()
            .stderr_capture();
        let expr = match stdin {
            Some(input) => expr.stdin_bytes(input.to_vec()),
            None => expr.stdin_null(),
        };
        let out = run_bounded(expr, timeout, false, argv[0])?;
        Ok(Output {
            code: exit_code(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn quoting_and_the_job_script_survive_a_real_shell() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().display().to_string();
        fs::write(d.path().join("stdin"), "in put\n").unwrap();
        let script = DarlingRunner::script(
            &[
                "sh",
                "-c",
                "cat; echo \"$1\" >&2; exit 3",
                "x",
                "it's a $test",
            ],
            &dir,
            true,
            None,
        );
        let st = Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(
            fs::read_to_string(d.path().join("stdout")).unwrap(),
            "in put\n"
        );
        assert_eq!(
            fs::read_to_string(d.path().join("stderr")).unwrap(),
            "it's a $test\n"
        );
        assert_eq!(
            fs::read_to_string(d.path().join("status")).unwrap().trim(),
            "3"
        );
        assert_eq!(sh_quote("plain/path"), "plain/path");
        assert_eq!(sh_quote("a b"), "'a b'");
    }

    #[test]
    fn fixture_runner_captures_status_and_times_out() {
        let d = tempfile::tempdir().unwrap();
        let r = FixtureRunner {
            prefix: d.path().to_path_buf(),
        };
        let o = r
            .run(
                &[
                    "sh",
                    "-c",
                    "read x; echo \"$x $DARLING_PREFIX\"; echo e >&2; exit 4",
                ],
                Some(b"hi\n"),
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(
            o,
            Output {
                code: 4,
                stdout: format!("hi {}\n", d.path().display()),
                stderr: "e\n".into()
            }
        );
        let e = r
            .run(&["sh", "-c", "sleep 30"], None, Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(e, HostError::Timeout { .. }));
    }
}

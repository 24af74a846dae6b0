//! Running commands inside a Darling prefix from the host, reliably.
//!
//! `darling shell a b c` wraps each argument in single quotes and hands the
//! result to `bash --login -c`; it may hold stdout until `darling shutdown`,
//! and it reports death by a signal as exit 0. So [`DarlingRunner`] never
//! passes the command on the command line: it writes a job script into a
//! host directory the prefix sees under `/Volumes/SystemRoot`, sends stdout,
//! stderr and the exit status to files there, and reads them back.
//! [`FixtureRunner`] runs the same requests natively against a fixture
//! prefix (our in-prefix tools with `DARLING_PREFIX`, Nix with the prefix as
//! a chroot store), so the host tools can be tested without Darling.

use std::fs;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod select;
pub use select::{file_view, select_runner, DarlingNotFound, RunnerKind, Selected};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("`darling` not found on PATH (set --darling)")]
    NoDarling,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("`{cmd}` timed out after {secs} s")]
    Timeout { cmd: String, secs: u64 },
    #[error("`{cmd}`: {why}")]
    Lost { cmd: String, why: String },
}

/// The result of a command run inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
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

/// Finds `darling` (an explicit path, or PATH).
pub fn find_darling(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("darling"))
        .find(|p| p.is_file())
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
    fn prefix(&self) -> &Path;
    fn describe(&self) -> String;
    /// Runs `argv` inside (argv[0] a Mac path or a command on the prefix's
    /// PATH) with `stdin` as input, returning its output and status.
    fn run(
        &self,
        argv: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, HostError>;
    /// Host path of a Mac path in the prefix.
    fn host_path(&self, mac: &str) -> PathBuf {
        self.prefix().join(mac.trim_start_matches('/'))
    }
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
    cmd: &str,
) -> Result<std::process::ExitStatus, HostError> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st);
        }
        if start.elapsed() >= timeout {
            // The child leads its own process group: take all of it.
            // SAFETY: kill(2) on the group we created.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            return Err(HostError::Timeout {
                cmd: cmd.into(),
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn own_group(c: &mut Command) {
    // SAFETY: setpgid is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::setpgid(0, 0);
            Ok(())
        });
    }
}

/// Production: `darling shell` with a job script and result files.
pub struct DarlingRunner {
    pub darling: PathBuf,
    pub prefix: PathBuf,
    /// Host directory for job files (must be visible to the prefix through
    /// `/Volumes/SystemRoot`, i.e. anywhere on the host).
    pub scratch: PathBuf,
}

impl DarlingRunner {
    /// The job script: runs argv with stdin and output redirected to files,
    /// and records the exit status.
    pub fn script(argv: &[&str], dir_inside: &str, has_stdin: bool) -> String {
        let words: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
        let input = if has_stdin {
            format!("{dir_inside}/stdin")
        } else {
            "/dev/null".into()
        };
        format!(
            "{} <{} >{} 2>{}\necho $? >{}\n",
            words.join(" "),
            sh_quote(&input),
            sh_quote(&format!("{dir_inside}/stdout")),
            sh_quote(&format!("{dir_inside}/stderr")),
            sh_quote(&format!("{dir_inside}/status"))
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
        fs::create_dir_all(&self.scratch)?;
        let dir = tempfile::Builder::new()
            .prefix("darling-nix-job.")
            .tempdir_in(&self.scratch)?;
        let inside = format!("/Volumes/SystemRoot{}", dir.path().display());
        if let Some(input) = stdin {
            fs::write(dir.path().join("stdin"), input)?;
        }
        fs::write(
            dir.path().join("job.sh"),
            Self::script(argv, &inside, stdin.is_some()),
        )?;
        let mut c = Command::new(&self.darling);
        c.args(["shell", "/bin/bash", &format!("{inside}/job.sh")])
            .env("DPREFIX", &self.prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        own_group(&mut c);
        let mut child = c.spawn()?;
        let st = wait_with_timeout(&mut child, timeout, argv[0])?;
        let read = |n: &str| fs::read_to_string(dir.path().join(n)).unwrap_or_default();
        let code = match read("status").trim().parse::<i32>() {
            Ok(c) => c,
            Err(_) => {
                let mut e = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut e);
                }
                return Err(HostError::Lost {
                    cmd: argv[0].into(),
                    why: format!(
                        "darling shell exited ({st}) without running the job: {}",
                        e.trim()
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
        let mut c = Command::new(&program);
        c.args(&argv[1..])
            .env("PATH", path)
            .env("DARLING_PREFIX", &self.prefix)
            .env("NIX_REMOTE", &self.prefix)
            .env("NIX_CONF_DIR", etc.join("nix"))
            .env("NIX_STATE_DIR", self.prefix.join("nix/var/nix"))
            .env("NIX_LOG_DIR", self.prefix.join("nix/var/log/nix"))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        own_group(&mut c);
        let mut child = c.spawn().map_err(|e| HostError::Lost {
            cmd: argv[0].into(),
            why: e.to_string(),
        })?;
        if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
            let data = input.to_vec();
            std::thread::spawn(move || {
                let _ = io::Write::write_all(&mut w, &data);
            });
        }
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let st = wait_with_timeout(&mut child, timeout, argv[0])?;
        let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
        use std::os::unix::process::ExitStatusExt;
        Ok(Output {
            code: st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
            stdout,
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

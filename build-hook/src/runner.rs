//! Runners start a builder "inside" a prefix. This is the only part of the
//! hook that knows about Darling, so it stays small and swappable:
//!
//! * [`DarlingRunner`] (production) runs the builder through
//!   `darling shell`, with a job script, a FIFO for the log and a status
//!   file, because `darling shell` reports a signal death as exit 0 and may
//!   hold stdout until the container shuts down.
//! * [`ChrootRunner`] (tests) runs the builder natively, chrooted into a
//!   fixture prefix, so real Nix can drive every other part of the hook.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::config::{Config, RunnerKind};

/// The build directory as the hook sees it and as the builder sees it.
#[derive(Debug, Clone)]
pub struct BuildDir {
    pub host: PathBuf,
    pub inside: String,
}

/// Everything a runner needs to start one builder.
#[derive(Debug, Clone)]
pub struct Job {
    pub builder: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub dir: BuildDir,
}

/// How the builder ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signaled(i32),
    /// The runner could not learn the status (for example `darling shell`
    /// died before the job script wrote it).
    Unknown(String),
}

impl Ended {
    pub fn success(&self) -> bool {
        *self == Ended::Exited(0)
    }

    pub fn describe(&self) -> String {
        match self {
            Ended::Exited(c) => format!("exit code {c}"),
            Ended::Signaled(s) => format!("signal {s}"),
            Ended::Unknown(why) => why.clone(),
        }
    }
}

/// A started builder: its process (group leader) and the read end of its
/// combined stdout/stderr.
pub struct Running {
    pub child: Child,
    pub output: File,
    /// Held until the child exits so a FIFO does not report EOF before
    /// the job inside has opened it.
    keepalive: Option<File>,
    status_file: Option<PathBuf>,
    ctl_dir: Option<PathBuf>,
}

impl Running {
    /// Kills the builder's whole process group.
    pub fn kill(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on the group we created with setpgid.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }

    /// Called once the runner process has exited.
    pub fn release_keepalive(&mut self) {
        self.keepalive = None;
    }

    pub fn finish(&mut self, status: ExitStatus) -> Ended {
        use std::os::unix::process::ExitStatusExt;
        let ended = match &self.status_file {
            None => match (status.code(), status.signal()) {
                (Some(c), _) => Ended::Exited(c),
                (None, Some(s)) => Ended::Signaled(s),
                _ => Ended::Unknown("the builder ended in an unknown way".into()),
            },
            Some(f) => match fs::read_to_string(f).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
                Some(c) if c > 128 && c < 160 => Ended::Signaled(c - 128),
                Some(c) => Ended::Exited(c),
                None => Ended::Unknown(format!(
                    "`darling shell` ended ({}) without the job reporting a status; Darling may have failed to start",
                    status
                )),
            },
        };
        if let Some(d) = self.ctl_dir.take() {
            let _ = fs::remove_dir_all(d);
        }
        ended
    }
}

pub trait Runner {
    /// One line for messages and `--check`.
    fn describe(&self) -> String;
    /// Host directory under which build directories are created.
    fn build_dir_base(&self) -> PathBuf;
    /// How a host path appears to the builder, if it can see it at all.
    fn inside_path(&self, host: &Path) -> Option<String>;
    fn start(&self, job: &Job) -> io::Result<Running>;
    /// What is wrong with the setup, for `build-hook --check`.
    fn problems(&self) -> Vec<String>;
}

pub fn from_config(cfg: &Config) -> Box<dyn Runner> {
    match cfg.runner {
        RunnerKind::Chroot => Box::new(ChrootRunner {
            root: cfg.prefix.clone(),
        }),
        RunnerKind::Darling => Box::new(DarlingRunner {
            darling: cfg.darling.clone(),
            prefix: cfg.prefix.clone(),
            build_base: cfg.build_dir.clone(),
        }),
    }
}

fn cstring(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// A close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a two-element array, as pipe2 requires.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    unsafe { Ok((File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1]))) }
}

/// Puts the child in its own process group (so a timeout kills all of it)
/// and asks the kernel to kill it if the hook dies.
fn isolate(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Creates `base/nix-build-<name>-<n>` (mode 0700) with the first free `n`.
pub fn create_build_dir(base: &Path, drv_basename: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(base)?;
    for n in 0..10_000 {
        let p = base.join(format!("nix-build-{drv_basename}-{n}"));
        match fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free build directory name under {}", base.display()),
    ))
}

// ---------------------------------------------------------------------------

/// Runs the builder natively with `chroot(root)`: the fixture stand-in for
/// Darling. With `root` = a chroot store's directory, logical `/nix/store`
/// paths resolve exactly as in a prefix that shares the host store.
pub struct ChrootRunner {
    pub root: PathBuf,
}

impl Runner for ChrootRunner {
    fn describe(&self) -> String {
        format!("chroot runner (native builders in {})", self.root.display())
    }

    fn build_dir_base(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn inside_path(&self, host: &Path) -> Option<String> {
        let rest = host.strip_prefix(&self.root).ok()?;
        Some(format!("/{}", rest.display()))
    }

    fn start(&self, job: &Job) -> io::Result<Running> {
        let root = cstring(&self.root)?;
        let dir = CString::new(job.dir.inside.clone())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let (r, w) = pipe()?;
        let base = job
            .builder
            .rsplit('/')
            .next()
            .unwrap_or(&job.builder)
            .to_string();
        let mut cmd = Command::new(&job.builder);
        cmd.arg0(base)
            .args(&job.args)
            .env_clear()
            .envs(&job.env)
            .stdin(Stdio::null())
            .stdout(w.try_clone()?)
            .stderr(w);
        isolate(&mut cmd);
        // SAFETY: chroot/chdir/umask are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if libc::chroot(root.as_ptr()) != 0 || libc::chdir(dir.as_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                libc::umask(0o022);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("starting `{}` in {}: {e}", job.builder, self.root.display()),
            )
        })?;
        Ok(Running {
            child,
            output: r,
            keepalive: None,
            status_file: None,
            ctl_dir: None,
        })
    }

    fn problems(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.root.is_dir() {
            v.push(format!(
                "chroot runner: {} is not a directory",
                self.root.display()
            ));
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            v.push("chroot runner: needs root (it calls chroot(2))".into());
        }
        v
    }
}

// ---------------------------------------------------------------------------

/// Darling's path for the host root, as seen from inside the prefix.
pub const SYSTEM_ROOT: &str = "/Volumes/SystemRoot";

/// Runs the builder inside a Darling prefix with `darling shell`.
pub struct DarlingRunner {
    pub darling: String,
    pub prefix: PathBuf,
    pub build_base: PathBuf,
}

/// Quotes a word for sh: single quotes, with `'` written as `'\''`.
pub use darling_host::sh_quote;

impl DarlingRunner {
    /// The job script run by `/bin/sh` inside Darling.
    pub fn job_script(job: &Job, fifo: &str, status: &str) -> String {
        let mut s = String::new();
        s.push_str("# written by darling-nix build-hook; runs inside Darling\n");
        s.push_str(&format!("exec >{} 2>&1 </dev/null\n", sh_quote(fifo)));
        s.push_str(&format!(
            "cd {} || {{ echo 125 >{}; exit 125; }}\n",
            sh_quote(&job.dir.inside),
            sh_quote(status)
        ));
        s.push_str("/usr/bin/env -i");
        for (k, v) in &job.env {
            s.push_str(" \\\n  ");
            s.push_str(&sh_quote(&format!("{k}={v}")));
        }
        s.push_str(" \\\n  ");
        s.push_str(&sh_quote(&job.builder));
        for a in &job.args {
            s.push(' ');
            s.push_str(&sh_quote(a));
        }
        s.push('\n');
        s.push_str(&format!("echo $? >{}\n", sh_quote(status)));
        s
    }

    fn find_darling(&self) -> Option<PathBuf> {
        if self.darling.contains('/') {
            let p = PathBuf::from(&self.darling);
            return p.is_file().then_some(p);
        }
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(&self.darling))
                .find(|p| p.is_file())
        })
    }
}

impl Runner for DarlingRunner {
    fn describe(&self) -> String {
        format!(
            "darling runner (`{} shell` in {})",
            self.darling,
            self.prefix.display()
        )
    }

    fn build_dir_base(&self) -> PathBuf {
        self.build_base.clone()
    }

    fn inside_path(&self, host: &Path) -> Option<String> {
        if let Ok(rest) = host.strip_prefix(&self.prefix) {
            return Some(format!("/{}", rest.display()));
        }
        Some(format!("{SYSTEM_ROOT}{}", host.display()))
    }

    fn start(&self, job: &Job) -> io::Result<Running> {
        let ctl = PathBuf::from(format!("{}.darling-nix", job.dir.host.display()));
        fs::DirBuilder::new().mode(0o700).create(&ctl)?;
        let fifo = ctl.join("log");
        let status = ctl.join("status");
        let c = cstring(&fifo)?;
        // SAFETY: valid path; mkfifo has no other preconditions.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let inside = |p: &Path| self.inside_path(p).unwrap_or_default();
        let script = ctl.join("job.sh");
        fs::write(
            &script,
            Self::job_script(job, &inside(&fifo), &inside(&status)),
        )?;
        let output = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)?;
        let keepalive = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)?;
        let mut cmd = Command::new(&self.darling);
        cmd.args(["shell", "/bin/sh", &inside(&script)])
            .env("DPREFIX", &self.prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        isolate(&mut cmd);
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("starting `{} shell`: {e}", self.darling))
        })?;
        Ok(Running {
            child,
            output,
            keepalive: Some(keepalive),
            status_file: Some(status),
            ctl_dir: Some(ctl),
        })
    }

    fn problems(&self) -> Vec<String> {
        let mut v = Vec::new();
        match self.find_darling() {
            None => v.push(format!(
                "darling runner: `{}` not found (set `darling` in the config)",
                self.darling
            )),
            Some(p) => {
                use std::os::unix::fs::MetadataExt;
                if let Ok(m) = fs::metadata(&p) {
                    if m.mode() & 0o4000 == 0 || m.uid() != 0 {
                        v.push(format!("darling runner: {} is not setuid root (use the NixOS module's wrapper)", p.display()));
                    }
                }
            }
        }
        if !self.prefix.is_dir() {
            v.push(format!(
                "darling runner: prefix {} does not exist (run `darling shell true` once, or nix-install)",
                self.prefix.display()
            ));
        }
        if !self.build_base.is_dir() {
            v.push(format!(
                "darling runner: build-dir {} does not exist",
                self.build_base.display()
            ));
        }
        v
    }
}

/// Reads what is available now from a non-blocking or ready fd.
pub fn read_some(f: &mut File, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match f.read(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(e),
    }
}

/// Marks every inherited fd above 2 close-on-exec, so builders and helper
/// processes never hold Nix's pipes (fd 4 in particular) open.
pub fn cloexec_inherited_fds() {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on an fd number; harmless if it was the dir's fd.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Takes ownership of an inherited fd if it is open.
pub fn inherited_fd(fd: i32) -> Option<OwnedFd> {
    // SAFETY: F_GETFD only queries; from_raw_fd takes ownership of an open fd
    // that nothing else in this process uses.
    unsafe {
        if libc::fcntl(fd, libc::F_GETFD) < 0 {
            None
        } else {
            Some(OwnedFd::from_raw_fd(fd))
        }
    }
}

pub fn raw(f: &File) -> i32 {
    f.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_sh() {
        for s in ["plain", "it's", "a b\nc", "$HOME `x` \\ \"q\"", ""] {
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", sh_quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }

    #[test]
    fn job_script_runs_the_builder_with_only_its_env() {
        // Run the script with the host sh, standing in for Darling's bash.
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("build");
        fs::create_dir(&dir).unwrap();
        let mut env = BTreeMap::new();
        env.insert("out".to_string(), "it's here".to_string());
        let job = Job {
            builder: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "echo \"$out\" $PWD; env | wc -l; exit 3".into(),
            ],
            env,
            dir: BuildDir {
                host: dir.clone(),
                inside: dir.display().to_string(),
            },
        };
        let log = d.path().join("log");
        let status = d.path().join("status");
        let script =
            DarlingRunner::job_script(&job, log.to_str().unwrap(), status.to_str().unwrap());
        let st = Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap();
        assert!(st.success());
        let text = fs::read_to_string(&log).unwrap();
        assert!(
            text.starts_with(&format!("it's here {}\n", dir.display())),
            "{text}"
        );
        // env -i leaves only `out` plus what sh itself exports (PWD, SHLVL, _).
        let n: usize = text.lines().nth(1).unwrap().trim().parse().unwrap();
        assert!(n <= 4, "{text}");
        assert_eq!(fs::read_to_string(&status).unwrap().trim(), "3");
    }

    #[test]
    fn inside_paths() {
        let r = DarlingRunner {
            darling: "darling".into(),
            prefix: "/home/u/.darling".into(),
            build_base: "/tmp".into(),
        };
        assert_eq!(
            r.inside_path(Path::new("/tmp/nix-build-x-0")).unwrap(),
            "/Volumes/SystemRoot/tmp/nix-build-x-0"
        );
        assert_eq!(
            r.inside_path(Path::new("/home/u/.darling/private/tmp/b"))
                .unwrap(),
            "/private/tmp/b"
        );
        let c = ChrootRunner { root: "/s".into() };
        assert_eq!(c.inside_path(Path::new("/s/tmp/b")).unwrap(), "/tmp/b");
        assert!(c.inside_path(Path::new("/other")).is_none());
    }
}

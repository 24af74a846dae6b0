//! Streaming jobs: start a program inside a prefix with a given
//! environment and directory, read its combined output as it comes, learn
//! how it ended, and kill all of it on demand (the build hook's builders).
//!
//! * [`DarlingLauncher`] runs the job inside a Darling prefix, through the
//!   prefix's [`JobServer`] when it has one, else with `darling shell`. The
//!   job script ([`crate::script`]) writes the output into a FIFO, and the
//!   exit status and the job's process group into files (`darling shell`
//!   reports a signal death as exit 0, and may hold stdout until the
//!   container shuts down). A [`Guard`] kills the job if the caller dies.
//! * [`ChrootLauncher`] (tests) runs the program natively, chrooted into a
//!   fixture prefix.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::procs::{self, Guard};
use crate::script;
use crate::server::JobServer;

/// The job's directory as the host sees it and as the job sees it.
#[derive(Debug, Clone)]
pub struct BuildDir {
    /// Its host path, normally made by [`create_build_dir`]; a Darling job
    /// keeps its script, output FIFO and status files in the sibling
    /// `<host>.darling-nix`.
    pub host: PathBuf,
    /// The same directory as the job sees it ([`Launcher::inside_path`]):
    /// the job's working directory.
    pub inside: String,
}

/// Everything needed to start one job.
#[derive(Debug, Clone)]
pub struct Job {
    /// The program to run, as a path the job sees (normally a `/nix/store`
    /// path).
    pub builder: String,
    /// Its arguments, after the program name.
    pub args: Vec<String>,
    /// The job's whole environment.
    pub env: BTreeMap<String, String>,
    /// Where it runs (its working directory). A Darling job that cannot
    /// enter it ends with exit code 125; the chroot launcher fails to start.
    pub dir: BuildDir,
}

/// How the job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal, by number, ended it. A Darling job's end is learnt from
    /// its shell's `$?`, so there a code of 129 to 159 reads as a signal.
    Signaled(i32),
    /// The status could not be learnt (for example Darling did not start).
    Unknown(String),
}

impl Ended {
    /// Whether the job exited with code 0.
    pub fn success(&self) -> bool {
        *self == Ended::Exited(0)
    }

    /// The end in words, for messages: `exit code N`, `signal N`, or why
    /// the status is unknown.
    pub fn describe(&self) -> String {
        match self {
            Ended::Exited(c) => format!("exit code {c}"),
            Ended::Signaled(s) => format!("signal {s}"),
            Ended::Unknown(why) => why.clone(),
        }
    }

    /// From a shell's `$?`: 129 to 159 is death by a signal.
    fn from_shell_status(c: i32) -> Ended {
        if c > 128 && c < 160 {
            Ended::Signaled(c - 128)
        } else {
            Ended::Exited(c)
        }
    }

    fn from_exit_status(st: ExitStatus) -> Ended {
        match (st.code(), st.signal()) {
            (Some(c), _) => Ended::Exited(c),
            (None, Some(s)) => Ended::Signaled(s),
            _ => Ended::Unknown("the job ended in an unknown way".into()),
        }
    }
}

/// Starts jobs "inside" a prefix.
pub trait Launcher {
    /// One line for messages and `--check`.
    fn describe(&self) -> String;
    /// Host directory under which job directories are created.
    fn build_dir_base(&self) -> PathBuf;
    /// How a host path appears to the job, if it can see it at all.
    fn inside_path(&self, host: &Path) -> Option<String>;
    /// Starts `job` and returns at once; how it ends is learnt through
    /// [`Running::poll_end`]. An error means it did not start: the program
    /// could not be spawned, or (Darling) the prefix is missing or would
    /// not start, or the job's control files could not be made.
    fn start(&self, job: &Job) -> io::Result<Running>;
    /// What is wrong with the setup.
    fn problems(&self) -> Vec<String>;
}

/// Files a Darling job reports through (host paths).
struct Ctl {
    dir: PathBuf,
    status: PathBuf,
    pgrp: PathBuf,
    prefix: PathBuf,
}

impl Ctl {
    fn status(&self) -> Option<i32> {
        procs::read_number(&self.status)
    }

    /// Kills the job's process group inside; whether none of it is left.
    fn kill(&self) -> bool {
        match procs::read_number(&self.pgrp) {
            Some(g) => procs::kill_inner_group(&self.prefix, g, KILL_LIMIT),
            None => true,
        }
    }
}

/// The control directory of a job's build directory: a Darling job's
/// script, output FIFO and status files, and for every job the [`Lease`].
fn control_dir(build: &Path) -> PathBuf {
    PathBuf::from(format!("{}.darling-nix", build.display()))
}

/// The lock file in a control directory.
const LOCK: &str = "lock";

/// How old an unlocked control directory must be before
/// [`create_build_dir`] removes it with its build directory.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// A job's control directory, made when the job starts, with a lock (flock)
/// on its `lock` file held for as long as the job's [`Running`] lives.
/// Dropping it removes the directory, then releases the lock. A directory
/// whose lock can be taken was left by a caller that died (Nix before 2.35
/// SIGKILLs the hook); [`create_build_dir`] removes it and its build
/// directory.
struct Lease {
    dir: PathBuf,
    _lock: File,
}

impl Lease {
    fn take(build: &Path) -> io::Result<Lease> {
        let dir = control_dir(build);
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let made = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join(LOCK))
            .and_then(|f| f.lock().map(|()| f));
        match made {
            Ok(lock) => Ok(Lease { dir, _lock: lock }),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

enum How {
    /// The job is our child (chroot launcher).
    Native(Child),
    /// `darling shell`, our child, runs the job script.
    Shell(Child, Ctl, Option<Guard>),
    /// The prefix's job server runs the job script.
    Served(Ctl, Option<Guard>),
}

/// A started job: read [`Running::output`] until EOF, ask
/// [`Running::poll_end`], or [`Running::kill`] it.
pub struct Running {
    /// The read end of the job's combined stdout and stderr (non-blocking).
    pub output: File,
    how: How,
    started: Instant,
    /// Set once the `darling shell` (or chroot) child is reaped; a served
    /// job's end is read from its status file instead.
    reaped: Option<ExitStatus>,
    /// When the output reached EOF.
    eof_at: Option<Instant>,
    /// Once the job's command has ended: when the rest of its process
    /// group was killed, and whether none of it was left.
    swept: Option<(Instant, bool)>,
    /// The job's control directory and its lock.
    lease: Option<Lease>,
}

/// How long a job server may take to start a job before it is given up.
const START_LIMIT: Duration = Duration::from_secs(60);
/// How long after a served job's EOF its status may take to appear, and
/// how long after a job's end and the kill of its group a process that
/// left the group may hold the output open before the end is reported.
const STATUS_LIMIT: Duration = Duration::from_secs(10);
/// How long killing a job's process group may take.
const KILL_LIMIT: Duration = Duration::from_secs(10);
/// A job's end when processes it left behind could not be killed.
const LEFT_RUNNING: &str =
    "processes the builder left running could not be killed (its outputs are not trusted)";

/// Whether the child has exited, without reaping it: while it is unreaped
/// its pid, the id of its process group, cannot be reused.
fn exited_unreaped(child: &Child) -> io::Result<bool> {
    use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
    let pid = Pid::from_raw(child.id() as i32);
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(pid), flags) {
        Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR) => Ok(false),
        Ok(_) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

impl Running {
    /// Whether the job is over, given whether its output has reached EOF.
    /// `None`: still running (or its output is still open).
    ///
    /// Once the job's command has ended, whatever it left running in its
    /// process group is killed (as Nix kills what remains of a local
    /// build) before the end is reported, so that nothing of the build can
    /// change its outputs while, or after, they are hashed. A process that
    /// left the group (`setsid`) is out of reach.
    pub fn poll_end(&mut self, eof: bool) -> io::Result<Option<Ended>> {
        let Running {
            how,
            started,
            reaped,
            eof_at,
            swept,
            ..
        } = self;
        let sweep = |swept: &mut Option<(Instant, bool)>, ctl: &Ctl| {
            if swept.is_none() {
                *swept = Some((Instant::now(), ctl.kill()));
            }
        };
        // Whether the output has had a writer, so that EOF will come.
        let mut opened = true;
        let end = match how {
            How::Native(child) => {
                if reaped.is_none() && exited_unreaped(child)? {
                    // Killed before the builder is reaped: its pid is the
                    // group's id, and stays ours until then.
                    let gone = procs::kill_host_group(child.id() as i32, KILL_LIMIT);
                    *swept = Some((Instant::now(), gone));
                    *reaped = Some(child.wait()?);
                }
                match *reaped {
                    Some(st) => Ended::from_exit_status(st),
                    None => return Ok(None),
                }
            }
            How::Shell(child, ctl, _) => {
                if reaped.is_none() {
                    *reaped = child.try_wait()?;
                }
                let status = ctl.status();
                if status.is_none() && reaped.is_none() {
                    return Ok(None);
                }
                // The job's shell wrote the status when its command ended,
                // or `darling shell` has gone.
                sweep(swept, ctl);
                let Some(st) = *reaped else {
                    return Ok(None);
                };
                // Not started: no writer ever opened the output.
                opened = ctl.pgrp.exists();
                match status.or_else(|| ctl.status()) {
                    Some(c) => Ended::from_shell_status(c),
                    None => Ended::Unknown(format!(
                        "`darling shell` ended ({st}) without the job reporting a status; Darling may have failed to start"
                    )),
                }
            }
            How::Served(ctl, _) => match ctl.status() {
                Some(c) => {
                    sweep(swept, ctl);
                    Ended::from_shell_status(c)
                }
                None if eof => {
                    // The job's shell writes the status just after its
                    // command closed the output. Left running, the job is
                    // killed when this is dropped.
                    let since = *eof_at.get_or_insert_with(Instant::now);
                    return Ok((since.elapsed() > STATUS_LIMIT).then(|| {
                        Ended::Unknown(
                            "the job ended without the job server reporting its status".into(),
                        )
                    }));
                }
                None => {
                    if started.elapsed() > START_LIMIT && !ctl.pgrp.exists() {
                        return Ok(Some(Ended::Unknown(format!(
                            "the prefix's job server did not start the job in {} s",
                            START_LIMIT.as_secs()
                        ))));
                    }
                    return Ok(None);
                }
            },
        };
        let Some((at, gone)) = *swept else {
            return Ok(None);
        };
        if !gone {
            return Ok(Some(Ended::Unknown(LEFT_RUNNING.into())));
        }
        // The output closes when the last of the job's processes has gone;
        // one that left the group may hold it open, but not forever.
        if !eof && opened && at.elapsed() < STATUS_LIMIT {
            return Ok(None);
        }
        Ok(Some(end))
    }

    /// Kills the job and everything it started, and waits for that.
    pub fn kill(&mut self) {
        let gone = match &mut self.how {
            How::Native(child) => {
                if self.reaped.is_some() {
                    // Reaped after its group was killed already.
                    return;
                }
                let gone = procs::kill_host_group(child.id() as i32, KILL_LIMIT);
                self.reaped = child.wait().ok();
                gone
            }
            How::Shell(child, ctl, _) => {
                ctl.kill();
                // The launcher leads its own group; shellspawn kills the
                // session inside when it goes.
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                ctl.kill()
            }
            How::Served(ctl, _) => ctl.kill(),
        };
        self.swept = Some((Instant::now(), gone));
    }

    /// Reads what is available now: `Ok(None)` when nothing is.
    pub fn read_some(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.output.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until the output is readable or `ms` milliseconds have passed.
    pub fn wait_output(&self, ms: u16) -> io::Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags};
        let mut fds = [PollFd::new(self.output.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(n) => Ok(n > 0 && fds[0].any().unwrap_or(false)),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let lease = self.lease.take();
        let (ctl, guard) = match &mut self.how {
            How::Native(_) => {
                if self.reaped.is_none() {
                    // Abandoned (an error on our side).
                    self.kill();
                }
                drop(lease);
                return;
            }
            How::Shell(_, ctl, g) | How::Served(ctl, g) => (ctl, g.take()),
        };
        let finished = ctl.status().is_some();
        if !finished || self.swept.is_none() {
            // Abandoned (an error on our side), or ended and not swept:
            // kill it, and remove its directory so a job not started yet
            // cannot start (it needs its script and FIFO); the guard,
            // released, checks once more.
            ctl.kill();
        }
        drop(lease);
        if let Some(g) = guard {
            if finished {
                g.disarm();
            }
        }
    }
}

fn cstring(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Puts the child in its own process group (so a kill takes all of it)
/// and asks the kernel to kill it if the caller dies.
fn isolate(cmd: &mut Command) {
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            Ok(())
        });
    }
}

/// Creates `base/nix-build-<name>-<n>` (mode 0700) with the first free `n`
/// (free: neither it nor its control directory `<dir>.darling-nix`
/// exists). First it removes what killed callers left in `base`: build
/// directories whose control directory is over a minute old and holds a
/// `lock` file that no running job holds (a job holds it while it runs).
pub fn create_build_dir(base: &Path, name: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(base)?;
    sweep_stale(base);
    for n in 0..10_000 {
        let p = base.join(format!("nix-build-{name}-{n}"));
        if fs::symlink_metadata(control_dir(&p)).is_ok() {
            continue;
        }
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

/// Removes `nix-build-*` directories in `base` left by callers that died:
/// those whose control directory's lock can be taken, and is still the
/// lock file there (not one removed meanwhile), and that are older than
/// [`STALE_AFTER`]. A control directory without a lock file is left alone
/// (a job of an older version may be using it); so is a build directory
/// without a control directory (`keep-failed` keeps those).
fn sweep_stale(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(build) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".darling-nix"))
            .filter(|b| b.starts_with("nix-build-"))
        else {
            continue;
        };
        let ctl = e.path();
        let old = fs::symlink_metadata(&ctl).is_ok_and(|m| {
            m.is_dir()
                && m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_AFTER)
        });
        if !old {
            continue;
        }
        let lock_path = ctl.join(LOCK);
        let Ok(lock) = File::open(&lock_path) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue;
        }
        let same = match (lock.metadata(), fs::symlink_metadata(&lock_path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        if same {
            // The build directory first: while its control directory
            // remains, no new build takes the name.
            let _ = remove_tree(&base.join(build));
            let _ = remove_tree(&ctl);
        }
    }
}

/// Removes a file or a directory tree, without following links, making
/// directories a builder left read-only writable first if need be.
fn remove_tree(p: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fn open_up(dir: &Path) {
        let Ok(m) = fs::symlink_metadata(dir) else {
            return;
        };
        if !m.is_dir() {
            return;
        }
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(m.mode() | 0o700));
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&e.path());
            }
        }
    }
    match fs::symlink_metadata(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if !m.is_dir() => fs::remove_file(p),
        Ok(_) => fs::remove_dir_all(p).or_else(|_| {
            open_up(p);
            fs::remove_dir_all(p)
        }),
    }
}

/// A non-blocking, close-on-exec read end of a FIFO or pipe.
fn open_reader(p: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(p)
}

// ---------------------------------------------------------------------------

/// Runs the job natively with `chroot(root)`: the fixture stand-in for
/// Darling. With `root` = a chroot store's directory, logical `/nix/store`
/// paths resolve exactly as in a prefix that shares the host store.
pub struct ChrootLauncher {
    /// The host directory each job is chrooted into (which needs root); job
    /// directories go under its `tmp`.
    pub root: PathBuf,
}

impl Launcher for ChrootLauncher {
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
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        nix::fcntl::fcntl(
            &r,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )?;
        let base = job
            .builder
            .rsplit('/')
            .next()
            .unwrap_or(&job.builder)
            .to_string();
        let w = File::from(w);
        let mut cmd = Command::new(&job.builder);
        cmd.arg0(base)
            .args(&job.args)
            .env_clear()
            .envs(&job.env)
            .stdin(Stdio::null())
            .stdout(w.try_clone()?)
            .stderr(w);
        isolate(&mut cmd);
        // SAFETY: chroot, chdir and umask are async-signal-safe, and the
        // paths were made before the fork.
        unsafe {
            cmd.pre_exec(move || {
                nix::unistd::chroot(root.as_c_str())?;
                nix::unistd::chdir(dir.as_c_str())?;
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
                Ok(())
            });
        }
        // Best effort: without it the build runs, but a build directory
        // left by a hook that is killed is not cleaned up.
        let lease = Lease::take(&job.dir.host).ok();
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("starting `{}` in {}: {e}", job.builder, self.root.display()),
            )
        })?;
        Ok(Running {
            output: File::from(r),
            how: How::Native(child),
            started: Instant::now(),
            reaped: None,
            eof_at: None,
            swept: None,
            lease,
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
        if !nix::unistd::geteuid().is_root() {
            v.push("chroot runner: needs root (it calls chroot(2))".into());
        }
        v
    }
}

// ---------------------------------------------------------------------------

/// How long a stopped prefix may take to start (a loaded machine takes
/// seconds).
const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// Runs jobs inside a Darling prefix: through its job server when
/// `server_dir` is set (started on first use), else, or when the server
/// cannot start, with one `darling shell` per job.
pub struct DarlingLauncher {
    /// `darling` (a path, or a name looked up on PATH).
    pub darling: String,
    /// The Darling prefix's directory on the host (`DPREFIX`). It must be
    /// one Darling has set up (it has `System`); a stopped one is started
    /// before a job.
    pub prefix: PathBuf,
    /// Host directory under which job directories are created (it must
    /// exist); jobs see it through [`prefixfs::Prefix::mac_path`].
    pub build_base: PathBuf,
    /// Host directory for the job server's FIFO and script; `None` always
    /// uses `darling shell`.
    pub server_dir: Option<PathBuf>,
}

impl DarlingLauncher {
    /// The job script for `job`, reporting through the given inside paths.
    /// `served`: the script ends by replacing itself with the builder, and
    /// the job server writes the status.
    pub(crate) fn render(job: &Job, fifo: &str, status: &str, pgrp: Option<&str>) -> String {
        let mut argv = vec![job.builder.as_str()];
        argv.extend(job.args.iter().map(String::as_str));
        script::render(
            &script::Command {
                argv,
                cwd: Some(&job.dir.inside),
                env: Some(&job.env),
            },
            &script::Streams {
                stdin: None,
                stdout: fifo,
                stderr: None,
                status,
                pgrp,
            },
        )
    }

    fn find_darling(&self) -> Option<PathBuf> {
        crate::find_darling(Some(Path::new(&self.darling)))
    }

    fn server(&self) -> Option<JobServer> {
        let dir = self.server_dir.clone()?;
        // Looked up (like `darling shell` below) only when it is started.
        Some(JobServer {
            darling: PathBuf::from(&self.darling),
            prefix: self.prefix.clone(),
            dir,
        })
    }

    fn mac(&self, host: &Path) -> String {
        prefixfs::Prefix::at(&self.prefix).mac_path(host)
    }

    /// Why the configured prefix cannot be used, if it cannot. `darling`
    /// would quietly set up a new, empty prefix in a missing or bare
    /// directory (without the shared store), where no build can succeed; a
    /// prefix Darling has set up has its `System` directory.
    fn not_a_prefix(&self) -> Option<String> {
        (!self.prefix.join("System").is_dir()).then(|| {
            format!(
                "prefix {} is not a Darling prefix (start it with nix/darling-prefix.sh, the darling-prefix service)",
                self.prefix.display()
            )
        })
    }
}

impl Launcher for DarlingLauncher {
    fn describe(&self) -> String {
        let how = if self.server_dir.is_some() {
            "job server, else `darling shell`"
        } else {
            "`darling shell`"
        };
        format!(
            "darling runner ({how} with `{}` in {})",
            self.darling,
            self.prefix.display()
        )
    }

    fn build_dir_base(&self) -> PathBuf {
        self.build_base.clone()
    }

    fn inside_path(&self, host: &Path) -> Option<String> {
        Some(self.mac(host))
    }

    fn start(&self, job: &Job) -> io::Result<Running> {
        if let Some(why) = self.not_a_prefix() {
            return Err(io::Error::new(io::ErrorKind::NotFound, why));
        }
        crate::boot::ensure_running(Path::new(&self.darling), &self.prefix, BOOT_LIMIT)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let lease = Lease::take(&job.dir.host)?;
        let dir = lease.dir.clone();
        let ctl = Ctl {
            status: dir.join("status"),
            pgrp: dir.join("pgrp"),
            prefix: self.prefix.clone(),
            dir,
        };
        let fifo = ctl.dir.join("log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
        let script = ctl.dir.join("job.sh");
        let (fifo_in, status_in, pgrp_in) =
            (self.mac(&fifo), self.mac(&ctl.status), self.mac(&ctl.pgrp));
        // Both routes run the same script: its shell waits for the command
        // and writes the status itself (the job server writes nothing).
        let script_text = Self::render(job, &fifo_in, &status_in, Some(&pgrp_in));
        // No writer yet: poll reports nothing until the job opens the FIFO,
        // and EOF once every writer has closed it.
        let output = open_reader(&fifo)?;
        // The guard is forked before the job can start, so that no window
        // exists in which our death would leave the job running.
        let guard = Guard::spawn(&self.prefix, &ctl.pgrp).ok();

        if let Some(server) = self.server() {
            fs::write(&script, &script_text)?;
            let served = match server.submit(&self.mac(&ctl.dir)) {
                Ok(true) => true,
                Ok(false) => server
                    .ensure_started(Duration::from_secs(30))
                    .and_then(|()| server.submit(&self.mac(&ctl.dir)))
                    .unwrap_or(false),
                Err(_) => false,
            };
            if served {
                return Ok(Running {
                    output,
                    how: How::Served(ctl, guard),
                    started: Instant::now(),
                    reaped: None,
                    eof_at: None,
                    swept: None,
                    lease: Some(lease),
                });
            }
        }

        fs::write(&script, &script_text)?;
        let mut cmd = Command::new(&self.darling);
        cmd.args(["shell", "/bin/bash", &self.mac(&script)])
            .env_clear()
            .envs(crate::darling_env(&self.prefix))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        isolate(&mut cmd);
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("starting `{} shell`: {e}", self.darling))
        })?;
        Ok(Running {
            output,
            how: How::Shell(child, ctl, guard),
            started: Instant::now(),
            reaped: None,
            eof_at: None,
            swept: None,
            lease: Some(lease),
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
        if let Some(why) = self.not_a_prefix() {
            v.push(format!("darling runner: {why}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_script_runs_the_builder_with_only_its_env() {
        // Run the script with the host's bash, standing in for Darling's.
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
            DarlingLauncher::render(&job, log.to_str().unwrap(), status.to_str().unwrap(), None);
        let st = Command::new("bash")
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
        // Only `out` plus what sh itself exports (PWD, SHLVL, _).
        let n: usize = text.lines().nth(1).unwrap().trim().parse().unwrap();
        assert!(n <= 4, "{text}");
        assert_eq!(fs::read_to_string(&status).unwrap().trim(), "3");
    }

    /// Runs a job to its end as the build hook does: reads the output until
    /// EOF and asks for the end.
    fn run_to_end(run: &mut Running) -> (Ended, String) {
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        let mut eof = false;
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < Duration::from_secs(30), "no end");
            if let Some(end) = run.poll_end(eof).unwrap() {
                return (end, String::from_utf8_lossy(&text).into_owned());
            }
            if !eof && run.wait_output(50).unwrap() {
                match run.read_some(&mut buf).unwrap() {
                    Some(0) => eof = true,
                    Some(n) => text.extend_from_slice(&buf[..n]),
                    None => {}
                }
            } else if eof {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// A chroot job (chroot into `/`, so root only): what the builder left
    /// running in its process group is killed before its end is reported,
    /// whether or not it holds the output open.
    #[test]
    fn what_a_chroot_builder_leaves_running_dies_before_its_end_is_reported() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: the chroot runner needs root");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let host = create_build_dir(d.path(), "stray").unwrap();
        let evil = d.path().join("evil");
        let script = format!(
            "echo started; (sleep 1; echo EVIL > {e}) >/dev/null 2>&1 </dev/null & sleep 300 & exit 0",
            e = evil.display()
        );
        let job = Job {
            builder: "/bin/sh".into(),
            args: vec!["-c".into(), script],
            env: BTreeMap::new(),
            dir: BuildDir {
                inside: host.display().to_string(),
                host: host.clone(),
            },
        };
        let l = ChrootLauncher { root: "/".into() };
        let mut run = l.start(&job).unwrap();
        let pgid = match &run.how {
            How::Native(c) => c.id() as i32,
            _ => unreachable!(),
        };
        assert!(control_dir(&host).join(LOCK).is_file());
        let t = Instant::now();
        let (end, text) = run_to_end(&mut run);
        // `sleep 300` held the output open: not waited for.
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(end, Ended::Exited(0));
        assert_eq!(text, "started\n");
        assert!(procs::live_host_members(pgid).is_empty());
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!evil.exists(), "a process of the finished job wrote");
        drop(run);
        assert!(!control_dir(&host).exists());
    }

    /// What [`create_build_dir`] sweeps: only build directories whose
    /// control directory has an unlocked lock file and is over a minute old.
    #[test]
    fn stale_build_directories_are_swept_and_live_or_kept_ones_are_not() {
        use std::os::unix::fs::PermissionsExt;
        use std::time::SystemTime;
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        let age = |p: &Path, secs: u64| {
            File::open(p)
                .unwrap()
                .set_modified(SystemTime::now() - Duration::from_secs(secs))
                .unwrap();
        };
        // Left by a killed hook: unlocked, old; a read-only directory in it.
        let dead = create_build_dir(base, "dead").unwrap();
        fs::create_dir_all(dead.join("src/ro")).unwrap();
        fs::write(dead.join("src/ro/f"), "x").unwrap();
        fs::set_permissions(dead.join("src/ro"), fs::Permissions::from_mode(0o555)).unwrap();
        fs::create_dir(control_dir(&dead)).unwrap();
        fs::write(control_dir(&dead).join(LOCK), "").unwrap();
        // Our own live job: locked (here, by this process), old.
        let live = create_build_dir(base, "live").unwrap();
        let lease = Lease::take(&live).unwrap();
        // Unlocked but young.
        let young = create_build_dir(base, "young").unwrap();
        fs::create_dir(control_dir(&young)).unwrap();
        fs::write(control_dir(&young).join(LOCK), "").unwrap();
        // A control directory without a lock file (an older version's job).
        let older = create_build_dir(base, "older").unwrap();
        fs::create_dir(control_dir(&older)).unwrap();
        // Kept by keep-failed: no control directory.
        let kept = create_build_dir(base, "kept").unwrap();
        age(&kept, 120);
        for b in [&dead, &live, &older] {
            age(&control_dir(b), 120);
        }

        let again = create_build_dir(base, "dead").unwrap();
        // The stale name is free again and taken.
        assert_eq!(again, dead);
        assert!(fs::read_dir(&dead).unwrap().next().is_none());
        assert!(!control_dir(&dead).exists());
        for b in [&live, &young, &older, &kept] {
            assert!(b.exists(), "{} swept", b.display());
        }
        assert!(control_dir(&live).join(LOCK).exists());
        // A name whose control directory remains is not reused.
        fs::remove_dir(&older).unwrap();
        let next = create_build_dir(base, "older").unwrap();
        assert_ne!(next, older);
        drop(lease);
        assert!(!control_dir(&live).exists() && live.exists());
    }

    /// `--check` (problems) and a job's start judge the prefix alike: an
    /// empty directory is not a prefix for either.
    #[test]
    fn problems_name_a_directory_that_is_not_a_prefix() {
        let d = tempfile::tempdir().unwrap();
        let l = DarlingLauncher {
            darling: "/nonexistent/darling".into(),
            prefix: d.path().to_path_buf(),
            build_base: d.path().to_path_buf(),
            server_dir: None,
        };
        let not_prefix = |l: &DarlingLauncher| {
            l.problems()
                .iter()
                .any(|p| p.contains("is not a Darling prefix"))
        };
        assert!(not_prefix(&l), "{:?}", l.problems());
        fs::create_dir(d.path().join("System")).unwrap();
        assert!(!not_prefix(&l), "{:?}", l.problems());
    }

    #[test]
    fn a_missing_prefix_is_refused_before_anything_starts() {
        let d = tempfile::tempdir().unwrap();
        let l = DarlingLauncher {
            darling: "/nonexistent/darling".into(),
            prefix: d.path().join("no-prefix"),
            build_base: d.path().to_path_buf(),
            server_dir: Some(d.path().join("server")),
        };
        let host = create_build_dir(d.path(), "x").unwrap();
        let job = Job {
            builder: "/bin/sh".into(),
            args: vec![],
            env: BTreeMap::new(),
            dir: BuildDir {
                inside: l.inside_path(&host).unwrap(),
                host: host.clone(),
            },
        };
        let e = l.start(&job).err().unwrap().to_string();
        assert!(e.contains("is not a Darling prefix"), "{e}");
        assert!(!d.path().join("no-prefix").exists());
        assert!(!d.path().join("server").exists());
        let mut left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, vec![host.file_name().unwrap().to_os_string()]);
    }

    #[test]
    fn inside_paths() {
        let r = DarlingLauncher {
            darling: "darling".into(),
            prefix: "/home/u/.darling".into(),
            build_base: "/tmp".into(),
            server_dir: None,
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
        let c = ChrootLauncher { root: "/s".into() };
        assert_eq!(c.inside_path(Path::new("/s/tmp/b")).unwrap(), "/tmp/b");
        assert!(c.inside_path(Path::new("/other")).is_none());
    }

    /// A launcher named by a bare name is looked up by that name, not as
    /// `darling` (a distribution may ship it as a wrapper of another name).
    #[test]
    fn a_bare_launcher_name_is_looked_up_by_that_name() {
        let l = |darling: &str| DarlingLauncher {
            darling: darling.into(),
            prefix: "/nonexistent/p".into(),
            build_base: "/nonexistent/b".into(),
            server_dir: None,
        };
        let sh = which::which("sh").unwrap();
        assert_eq!(l("sh").find_darling(), Some(sh.clone()));
        assert_eq!(l(sh.to_str().unwrap()).find_darling(), Some(sh));
        assert_eq!(l("no-such-launcher-xyz").find_darling(), None);
    }
}

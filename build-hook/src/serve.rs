//! `build-hook --serve --write [--store STORE]`: the other end of Nix's
//! `ssh://` store protocol, for the route every Nix honours from nix.conf
//! alone:
//!
//! ```text
//! builders = ssh://localhost?remote-program=/path/to/build-hook x86_64-darwin - 4 1 big-parallel
//! ```
//!
//! Nix's own build hook (`nix __build-remote`) runs the remote program
//! directly for the host `localhost` (no SSH), asks it which inputs it has,
//! sends one `BuildDerivation`, and copies the outputs back into its store,
//! registering them itself. Nix 2.25 to 2.33 reset a `build-hook` line from
//! nix.conf, but not `builders`.
//!
//! The store here is the client's own store, so every input is already
//! present and nothing is ever uploaded. The builder writes its outputs at
//! their real paths (where the prefix sees them); they are then moved aside
//! into a staging directory, because the client deletes the real path
//! before it asks for the archive it restores there. What the builder
//! writes to stderr is the build log: Nix gives this program its log pipe
//! as stderr.
//!
//! Nix copies back only the outputs that are not valid, so a derivation
//! one of whose outputs is still valid is refused rather than rebuilt (the
//! build would remove that output).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::build::{BuildSpec, Limits};
use crate::config::Config;
use crate::drv::{Derivation, Output};
use crate::error::{Error, Result};
use crate::nar::{self, NarSink};
use crate::runner;
use crate::store::{self, Built, StoreLoc};
use crate::wire::{WireError, WireReader, WireWriter};
use nix::fcntl::{Flock, FlockArg};

const MAGIC_1: u64 = 0x390c_9deb;
const MAGIC_2: u64 = 0x5452_eecb;
/// Protocol 2.7, what Nix 2.8 to 2.34 speak.
const VERSION: u64 = 0x207;

mod cmd {
    pub(super) const QUERY_VALID_PATHS: u64 = 1;
    pub(super) const QUERY_PATH_INFOS: u64 = 2;
    pub(super) const DUMP_STORE_PATH: u64 = 3;
    pub(super) const IMPORT_PATHS: u64 = 4;
    pub(super) const BUILD_DERIVATION: u64 = 8;
    pub(super) const ADD_TO_STORE_NAR: u64 = 9;
}

/// BuildResult statuses.
mod status {
    pub(super) const BUILT: u64 = 0;
    pub(super) const PERMANENT_FAILURE: u64 = 3;
    pub(super) const TIMED_OUT: u64 = 8;
    pub(super) const MISC_FAILURE: u64 = 9;
    pub(super) const LOG_LIMIT_EXCEEDED: u64 = 11;
}

/// One staged output, moved out of the store after its build.
struct Staged {
    at: PathBuf,
    deriver: String,
    built: Built,
}

/// This session's staging directory: a name no other session has, under
/// `<state>/darling-nix/staging/`, and an flock on the directory held for
/// the session's life, so that [`clear_stale`] in another session never
/// takes it (a pid can be reused; a lock dies with its holder).
struct StagingDir {
    path: PathBuf,
    _lock: Flock<File>,
}

impl StagingDir {
    fn create(base: &Path) -> io::Result<StagingDir> {
        fs::create_dir_all(base)?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for n in 0..64u32 {
            let path = base.join(format!("s{}-{stamp:x}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            // Between the mkdir and the lock, another session's
            // `clear_stale` can take the lock and remove the directory:
            // then take another name.
            let Ok(dir) = File::open(&path) else {
                continue;
            };
            let Ok(lock) = Flock::lock(dir, FlockArg::LockExclusiveNonblock) else {
                continue;
            };
            if same_file(&lock, &path) {
                return Ok(StagingDir { path, _lock: lock });
            }
        }
        Err(io::Error::other("no new directory name could be locked"))
    }
}

/// Whether `path` is still the file `f` was opened from.
fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

struct Session<'a> {
    cfg: &'a Config,
    loc: StoreLoc,
    /// `<state>/darling-nix/staging`.
    staging_base: PathBuf,
    /// Made by the first build; removed once everything staged was sent.
    staging: Option<StagingDir>,
    staged: BTreeMap<String, Staged>,
    minor: u64,
}

/// Serves one connection on stdin/stdout; the build log goes to stderr.
/// Returns the exit status.
pub fn run(cfg: &Config, store: Option<&str>) -> i32 {
    // Nix hands this program its own fds (its log pipe, mount namespace
    // handles): none of them may reach a builder.
    runner::cloexec_inherited_fds();
    crate::build::install_sigterm_handler();
    let loc = match StoreLoc::from_setting(store) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("build-hook --serve: {e}");
            return 1;
        }
    };
    let staging_base = loc.state_dir.join("darling-nix/staging");
    clear_stale(&staging_base);
    let mut s = Session {
        cfg,
        staging_base,
        staging: None,
        loc,
        staged: BTreeMap::new(),
        minor: 0,
    };
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    let result = s.serve(BufReader::new(stdin), BufWriter::new(stdout));
    if let Some(d) = s.staging.take() {
        let _ = nar::remove_tree(&d.path);
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("build-hook --serve: {e}");
            e.exit_code()
        }
    }
}

/// Removes the staging directories of sessions that died without cleaning
/// up (Nix kills the program when it is done with it): those whose lock
/// can be taken at once. A live session holds its own.
fn clear_stale(staging: &Path) {
    let Ok(rd) = fs::read_dir(staging) else {
        return;
    };
    for e in rd.flatten() {
        let path = e.path();
        // Hooks before this one named the directory by pid alone and held
        // no lock: keep those whose process is alive.
        let pid = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok());
        if pid.is_some_and(darling_host::procs::alive) {
            continue;
        }
        let Ok(dir) = File::open(&path) else {
            continue;
        };
        let Ok(lock) = Flock::lock(dir, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        if same_file(&lock, &path) {
            let _ = nar::remove_tree(&path);
        }
    }
}

/// NAR bytes straight to the connection.
struct WriteSink<'w, W: Write>(&'w mut W);

impl<W: Write> NarSink for WriteSink<'_, W> {
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }
}

fn send<W: Write>(out: &mut W, w: &WireWriter) -> Result<()> {
    out.write_all(&w.buf).map_err(Error::io("writing to Nix"))
}

fn flush<W: Write>(out: &mut W) -> Result<()> {
    out.flush().map_err(Error::io("writing to Nix"))
}

impl Session<'_> {
    fn serve<R: Read, W: Write>(&mut self, input: R, mut out: W) -> Result<()> {
        let mut r = WireReader::new(input);
        let magic = r.read_u64("the protocol's magic number")?;
        if magic != MAGIC_1 {
            return Err(Error::NotServe(magic));
        }
        send(&mut out, WireWriter::new().u64(MAGIC_2).u64(VERSION))?;
        flush(&mut out)?;
        let client = r.read_u64("the client's protocol version")?;
        if client >> 8 != 2 {
            return Err(Error::ServeVersion(client));
        }
        self.minor = (client & 0xff).min(VERSION & 0xff);
        while let Some(c) = r.read_u64_or_eof("a command")? {
            match c {
                cmd::QUERY_VALID_PATHS => {
                    let _lock = r.read_u64("lock")?;
                    let _substitute = r.read_u64("substitute")?;
                    let paths = r.read_strings("paths")?;
                    let valid: Vec<&String> = paths.iter().filter(|p| self.is_valid(p)).collect();
                    send(&mut out, WireWriter::new().strings(&valid))?;
                }
                cmd::QUERY_PATH_INFOS => {
                    let paths = r.read_strings("paths")?;
                    let mut w = WireWriter::new();
                    for p in &paths {
                        if let Some(st) = self.staged.get(p) {
                            self.path_info(&mut w, p, st);
                        }
                    }
                    w.str("");
                    send(&mut out, &w)?;
                }
                cmd::DUMP_STORE_PATH => {
                    let p = r.read_string("a store path")?;
                    let at = match self.staged.get(&p) {
                        Some(st) => st.at.clone(),
                        None => return Err(Error::NotBuilt(p)),
                    };
                    nar::dump(&at, &mut WriteSink(&mut out))
                        .map_err(Error::io(format!("sending {p}")))?;
                    // Nix asks once and restores it into its store, and
                    // kills this program as soon as it has what it needs.
                    // The archive's last bytes are still in `out`'s buffer
                    // (its final token is a few bytes), so Nix cannot be
                    // done before they are flushed: remove the staged copy
                    // first.
                    let _ = nar::remove_tree(&at);
                    if self.staged.values().all(|st| !st.at.exists()) {
                        if let Some(d) = self.staging.take() {
                            let _ = fs::remove_dir(&d.path);
                        }
                    }
                    flush(&mut out)?;
                }
                cmd::BUILD_DERIVATION => {
                    let reply = self.build_derivation(&mut r)?;
                    send(&mut out, &reply)?;
                }
                cmd::IMPORT_PATHS | cmd::ADD_TO_STORE_NAR => {
                    let what = if c == cmd::ADD_TO_STORE_NAR {
                        r.read_string("a store path")?
                    } else {
                        "paths".to_string()
                    };
                    return Err(Error::Upload(what));
                }
                other => return Err(Error::ServeCommand(other)),
            }
            flush(&mut out)?;
        }
        Ok(())
    }

    /// Valid for this session: built here, or present in the shared store
    /// (Nix only asks about inputs it holds valid itself).
    fn is_valid(&self, path: &str) -> bool {
        self.staged.contains_key(path)
            || (path.starts_with(&format!("{}/", self.loc.store_dir))
                && fs::symlink_metadata(self.loc.real(path)).is_ok())
    }

    fn path_info(&self, w: &mut WireWriter, path: &str, st: &Staged) {
        let info = &st.built.info;
        let refs: Vec<&String> = info.references.iter().collect();
        w.str(path)
            .str(&st.deriver)
            .strings(&refs)
            .u64(info.nar_size)
            .u64(info.nar_size);
        if self.minor >= 4 {
            let hex: String = info.nar_sha256.iter().map(|b| format!("{b:02x}")).collect();
            w.str(&format!("sha256:{hex}"))
                .str(st.built.ca.as_deref().unwrap_or(""))
                .strings::<&str>(&[]);
        }
    }

    fn build_derivation<R: Read>(&mut self, r: &mut WireReader<R>) -> Result<WireWriter> {
        let drv_path = r.read_string("the derivation's path")?;
        let drv = read_basic_derivation(r)?;
        let max_silent = r.read_u64("max-silent-time")?;
        let timeout = r.read_u64("timeout")?;
        let max_log = if self.minor >= 2 {
            r.read_u64("max-build-log-size")?
        } else {
            0
        };
        if self.minor >= 3 {
            let _repeats = r.read_u64("repeat")?;
            let _enforce = r.read_u64("enforce-determinism")?;
        }
        let keep_failed = self.minor >= 7 && r.read_u64("keep-failed")? != 0;
        let secs = |n: u64| (n > 0).then(|| Duration::from_secs(n));
        let limits = Limits {
            max_silent: secs(max_silent),
            timeout: secs(timeout),
            max_log: (max_log > 0).then_some(max_log),
        };

        let start = now();
        let (code, message) = match self.build(&drv_path, &drv, limits, keep_failed) {
            Ok(()) => (status::BUILT, String::new()),
            Err(e) => {
                let code = match &e {
                    Error::LogLimit(_) => status::LOG_LIMIT_EXCEEDED,
                    Error::BuildFailed(_) => status::PERMANENT_FAILURE,
                    Error::TimedOut(_) => status::TIMED_OUT,
                    _ => status::MISC_FAILURE,
                };
                (code, e.to_string())
            }
        };
        let mut w = WireWriter::new();
        w.u64(code).str(&message);
        if self.minor >= 3 {
            w.u64(1).u64(0).u64(start).u64(now());
        }
        if self.minor >= 6 {
            // Built outputs matter to content-addressed builds only.
            w.u64(0);
        }
        Ok(w)
    }

    fn build(
        &mut self,
        drv_path: &str,
        drv: &Derivation,
        limits: Limits,
        keep_failed: bool,
    ) -> Result<()> {
        let misc = Error::Build;
        self.loc.check(drv_path)?;
        if let Some(o) = drv.outputs.iter().find(|o| o.path.is_empty()) {
            return Err(misc(format!(
                "output '{}' of '{drv_path}' has no path yet (content-addressed); build-hook cannot build it",
                o.name
            )));
        }
        self.refuse_valid_outputs(drv_path, drv)?;
        let runner = runner::from_config(self.cfg);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .to_string();
        let mut log = io::stderr();
        let built = BuildSpec {
            cfg: self.cfg,
            runner: runner.as_ref(),
            drv_path,
            drv,
            loc: &self.loc,
            inputs: &drv.input_srcs,
            limits,
            cores,
            keep_failed,
            log: None,
        }
        .build(&mut log)?;
        let staging = match &self.staging {
            Some(d) => d.path.clone(),
            None => match StagingDir::create(&self.staging_base) {
                Ok(d) => self.staging.insert(d).path.clone(),
                Err(e) => {
                    for b in &built {
                        let _ = nar::remove_tree(&self.loc.real(&b.path));
                    }
                    return Err(misc(format!(
                        "creating a staging directory in {}: {e}",
                        self.staging_base.display()
                    )));
                }
            },
        };
        for b in built {
            let real = self.loc.real(&b.path);
            let name = b.path.rsplit('/').next().unwrap_or("out").to_string();
            let at = staging.join(name);
            if let Err(e) = fs::rename(&real, &at) {
                let _ = nar::remove_tree(&real);
                return Err(misc(format!(
                    "moving {} to {} (the staging directory must be on the store's filesystem): {e}",
                    real.display(),
                    at.display()
                )));
            }
            self.staged.insert(
                b.path.clone(),
                Staged {
                    at,
                    deriver: drv_path.to_string(),
                    built: b,
                },
            );
        }
        Ok(())
    }
}

impl Session<'_> {
    /// Refuses a build that would remove a valid output: Nix copies back
    /// only the outputs that are not valid, so a rebuilt valid one would be
    /// gone from disk while still registered. Validity comes from the
    /// store database, read-only; when it cannot be read, an output path
    /// that exists counts as valid. Stale invalid copies are removed by
    /// the build.
    fn refuse_valid_outputs(&self, drv_path: &str, drv: &Derivation) -> Result<()> {
        for o in &drv.outputs {
            self.loc.check(&o.path)?;
        }
        let paths: Vec<&str> = drv.outputs.iter().map(|o| o.path.as_str()).collect();
        let (valid, unread) = store::known_valid(&self.loc, &paths);
        if valid.is_empty() {
            return Ok(());
        }
        let names = |is_valid: bool| {
            drv.outputs
                .iter()
                .filter(|o| valid.contains(&o.path) == is_valid)
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let how = match unread {
            Some(e) => format!(" ({e}; an output path that exists counts as valid)"),
            None => String::new(),
        };
        let missing = names(false);
        let what = if missing.is_empty() {
            format!("every output of '{drv_path}' is valid already")
        } else {
            format!("only some outputs of '{drv_path}' are missing ({missing})")
        };
        Err(Error::Build(format!(
            "{what}; build-hook rebuilds all outputs and would remove the valid ones ({}){how}. Delete the valid outputs (`nix-store --delete`), or build this derivation elsewhere",
            names(true)
        )))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A `BasicDerivation` as the protocol sends it: outputs (name, path, hash
/// algorithm, hash), input sources, platform, builder, args, environment.
fn read_basic_derivation<R: Read>(r: &mut WireReader<R>) -> Result<Derivation> {
    let n = r.read_u64("the number of outputs")?;
    if n > 1024 {
        return Err(WireError::TooMany {
            what: "the outputs",
            count: n,
            max: 1024,
        }
        .into());
    }
    let mut outputs = Vec::new();
    for _ in 0..n {
        outputs.push(Output {
            name: r.read_string("an output name")?,
            path: r.read_string("an output path")?,
            hash_algo: r.read_string("an output hash algorithm")?,
            hash: r.read_string("an output hash")?,
        });
    }
    let input_srcs = r.read_strings("the input sources")?;
    let system = r.read_string("the platform")?;
    let builder = r.read_string("the builder")?;
    let args = r.read_strings("the arguments")?;
    let count = r.read_u64("the environment")?;
    if count > crate::wire::MAX_COUNT {
        return Err(WireError::TooMany {
            what: "the environment",
            count,
            max: crate::wire::MAX_COUNT,
        }
        .into());
    }
    let mut env = BTreeMap::new();
    for _ in 0..count {
        let k = r.read_string("an environment name")?;
        let v = r.read_string("an environment value")?;
        env.insert(k, v);
    }
    Ok(Derivation {
        outputs,
        input_drvs: Vec::new(),
        input_srcs,
        system,
        builder,
        args,
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("x-out"), "staged").unwrap();
    }

    #[test]
    fn a_session_never_takes_over_a_dead_session_s_directory() {
        let base = tempfile::tempdir().unwrap();
        // What a dead session left, named by the pid this process now has.
        let old = base.path().join(std::process::id().to_string());
        put(&old);
        let a = StagingDir::create(base.path()).unwrap();
        let b = StagingDir::create(base.path()).unwrap();
        assert_ne!(a.path, old);
        assert_ne!(a.path, b.path);
        assert_eq!(fs::read_dir(&a.path).unwrap().count(), 0);
    }

    #[test]
    fn clear_stale_removes_only_directories_no_session_holds() {
        let base = tempfile::tempdir().unwrap();
        let live = StagingDir::create(base.path()).unwrap();
        put(&live.path);
        let dead = base.path().join("s1-0-0");
        put(&dead);
        // An older hook's directory, named by the pid of a live process
        // (this one): kept; by a pid no process has: removed.
        let old_live = base.path().join(std::process::id().to_string());
        put(&old_live);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let old_dead = base.path().join(gone.to_string());
        put(&old_dead);

        clear_stale(base.path());
        assert!(
            live.path.join("x-out").exists(),
            "a live session's directory was removed"
        );
        assert!(old_live.exists());
        assert!(!dead.exists() && !old_dead.exists());

        // Its session ends without cleaning up: the lock goes with it.
        let path = live.path.clone();
        drop(live);
        clear_stale(base.path());
        assert!(!path.exists());
    }
}

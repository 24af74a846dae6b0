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

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::build::{BuildSpec, Limits};
use crate::config::Config;
use crate::drv::{Derivation, Output};
use crate::error::{Error, Result};
use crate::nar::{self, NarSink};
use crate::runner;
use crate::store::{Built, StoreLoc};
use crate::wire::{WireError, WireReader, WireWriter};

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

struct Session<'a> {
    cfg: &'a Config,
    loc: StoreLoc,
    staging: PathBuf,
    staged: BTreeMap<String, Staged>,
    minor: u64,
}

/// Serves one connection on stdin/stdout; the build log goes to stderr.
/// Returns the exit status.
pub fn run(cfg: &Config, store: Option<&str>) -> i32 {
    crate::build::install_sigterm_handler();
    let loc = match StoreLoc::from_setting(store) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("build-hook --serve: {e}");
            return 1;
        }
    };
    let staging = loc.state_dir.join("darling-nix/staging");
    let mut s = Session {
        cfg,
        staging: staging.join(std::process::id().to_string()),
        loc,
        staged: BTreeMap::new(),
        minor: 0,
    };
    clear_stale(&staging);
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    let result = s.serve(BufReader::new(stdin), BufWriter::new(stdout));
    let _ = nar::remove_tree(&s.staging);
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("build-hook --serve: {e}");
            e.exit_code()
        }
    }
}

/// Staging directories of sessions that died without cleaning up (Nix
/// kills the program when it is done with it).
fn clear_stale(staging: &Path) {
    let Ok(rd) = fs::read_dir(staging) else {
        return;
    };
    for e in rd.flatten() {
        let pid = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok());
        if pid.is_some_and(|p| !darling_host::procs::alive(p)) {
            let _ = nar::remove_tree(&e.path());
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
                        let _ = fs::remove_dir(&self.staging);
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
        fs::create_dir_all(&self.staging)
            .map_err(|e| misc(format!("creating {}: {e}", self.staging.display())))?;
        for b in built {
            let real = self.loc.real(&b.path);
            let name = b.path.rsplit('/').next().unwrap_or("out").to_string();
            let at = self.staging.join(name);
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

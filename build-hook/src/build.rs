//! Direct mode: run the builder of an accepted derivation inside the prefix
//! (which shares the host store), stream its log to Nix, enforce the time
//! limits, and register the outputs.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::base32;
use crate::config::Config;
use crate::drv::{self, Derivation};
use crate::env::{self, EnvParams};
use crate::error::{Error, Result, EXIT_OK};
use crate::flood::RepeatFilter;
use crate::log::Log;
use crate::nar;
use crate::protocol::{BuildInputs, Settings};
use crate::runner::{self, BuildDir, Ended, Job, Launcher, Running};
use crate::store::{self, Built, StoreLoc};

/// Set by the SIGTERM handler (Nix 2.35+ sends SIGTERM before SIGKILL).
pub static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
}

/// Installs the SIGTERM handler that sets [`TERMINATED`] and unblocks
/// SIGTERM (Nix 2.8 can start the hook with it blocked). The handler is
/// installed without `SA_RESTART`, so a blocking `poll` returns with EINTR
/// at once and [`supervise`] or the wait for a slot notices the flag.
/// Called at the start of the hook, `--serve` and `--external-builder`.
pub fn install_sigterm_handler() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow};
    // No SA_RESTART, so poll() returns EINTR promptly.
    let sa = SigAction::new(
        SigHandler::Handler(on_term),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let _ = unsafe { sigaction(nix::sys::signal::SIGTERM, &sa) };
    // Nix 2.8 can leave SIGTERM blocked in the hook; unblock it.
    let mut set = SigSet::empty();
    set.add(nix::sys::signal::SIGTERM);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
}

/// The limits [`supervise`] enforces on one builder; `None` is no limit
/// (the `Default`, which `--external-builder` uses because Nix enforces its
/// own there). Hook mode reads them from Nix's settings
/// ([`Limits::from_settings`]); `--serve` from the `BuildDerivation`
/// request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Nix's `max-silent-time`: the builder is killed once it has written
    /// nothing for this long.
    pub max_silent: Option<Duration>,
    /// Nix's `timeout`: the builder is killed once it has run this long in
    /// all, counted from the start of supervision.
    pub timeout: Option<Duration>,
    /// Nix's `max-build-log-size`: bytes the builder may write (counted before
    /// repeated lines are collapsed, as Nix would count them).
    pub max_log: Option<u64>,
}

impl Limits {
    /// Reads the limits from the settings block Nix sends the hook:
    /// `max-silent-time` and `timeout` in seconds, `max-build-log-size`
    /// (else its older name `build-max-log-size`) in bytes. A setting that
    /// is absent, not a whole number, or 0 gives no limit, as in Nix.
    pub fn from_settings(s: &Settings) -> Limits {
        let secs = |k| s.get_u64(k).filter(|n| *n > 0).map(Duration::from_secs);
        Limits {
            max_silent: secs("max-silent-time"),
            timeout: secs("timeout"),
            max_log: s
                .get_u64("max-build-log-size")
                .or_else(|| s.get_u64("build-max-log-size"))
                .filter(|n| *n > 0),
        }
    }
}

/// How [`supervise`] ended. In every case but `Ended` the hook killed the
/// builder (through the runner, its whole process group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supervised {
    /// The builder ended by itself; holds how (exit status, signal, or why
    /// that is unknown).
    Ended(Ended),
    /// Killed for writing nothing for `max-silent-time`; holds that limit.
    Silent(Duration),
    /// Killed for running longer than `timeout`; holds that limit (not the
    /// time it actually ran).
    Timeout(Duration),
    /// Killed after writing more than this many bytes of log.
    LogLimit(u64),
    /// Killed because the hook got SIGTERM ([`TERMINATED`]).
    Terminated,
}

/// Copies the builder's output to `log` until EOF and the builder's end,
/// killing it when a limit is exceeded or the hook is asked to stop.
pub fn supervise(run: &mut Running, log: &mut dyn Write, limits: Limits) -> io::Result<Supervised> {
    let start = Instant::now();
    let mut last = start;
    let mut buf = vec![0u8; 64 * 1024];
    let mut eof = false;
    let mut written: u64 = 0;
    loop {
        if TERMINATED.load(Ordering::SeqCst) {
            run.kill();
            return Ok(Supervised::Terminated);
        }
        let now = Instant::now();
        if let Some(t) = limits.timeout {
            if now - start >= t {
                run.kill();
                return Ok(Supervised::Timeout(t));
            }
        }
        if let Some(t) = limits.max_silent {
            if now - last >= t {
                run.kill();
                return Ok(Supervised::Silent(t));
            }
        }
        if let Some(ended) = run.poll_end(eof)? {
            return Ok(Supervised::Ended(ended));
        }
        let mut wait_ms: u16 = 200;
        for (lim, since) in [(limits.timeout, start), (limits.max_silent, last)] {
            if let Some(t) = lim {
                let left = t.saturating_sub(now - since).as_millis() + 1;
                wait_ms = wait_ms.min(left.min(200) as u16);
            }
        }
        if eof {
            // Output is closed; the end (the job server writes the status
            // as it reaps the job) follows within milliseconds.
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        if run.wait_output(wait_ms)? {
            match run.read_some(&mut buf)? {
                Some(0) => eof = true,
                Some(n) => {
                    last = Instant::now();
                    written += n as u64;
                    if let Some(max) = limits.max_log.filter(|m| written > *m) {
                        run.kill();
                        return Ok(Supervised::LogLimit(max));
                    }
                    // A closed log pipe must not stop the build.
                    let _ = log.write_all(&buf[..n]);
                }
                None => {}
            }
        }
    }
}

/// Everything a direct-mode build needs.
pub struct DirectBuild<'a> {
    /// The hook's configuration (`label`, `interpose`, `register`,
    /// `nix-store`, `state-dir`).
    pub cfg: &'a Config,
    /// Nix's settings block. Read here: `store` (where the derivation is
    /// read and the outputs are registered), `cores`, `keep-failed`, the
    /// time and log limits, `secret-key-files`, `use-sqlite-wal` and
    /// `auto-optimise-store`.
    pub settings: &'a Settings,
    /// The derivation's store path from the accepted `try`, in the store's
    /// logical directory (`/nix/store/...-name.drv`).
    pub drv_path: &'a str,
    /// What Nix sent after `# accept`. Every output of the derivation must
    /// be among its wanted outputs, or the build is refused.
    pub inputs: &'a BuildInputs,
    /// Starts the builder ([`runner::from_config`]).
    pub runner: &'a dyn Launcher,
    /// Errors and notes go here, as `@nix` messages at Nix's verbosity.
    pub log: Log,
}

impl DirectBuild<'_> {
    /// Runs the build; the result is the hook's exit status.
    pub fn run(&self, build_log: &mut dyn Write) -> i32 {
        match self.try_run(build_log) {
            Ok(()) => EXIT_OK,
            // Shown as Nix shows its own build errors, without our name.
            Err(e) => {
                self.log.error(&e.to_string());
                e.exit_code()
            }
        }
    }

    fn try_run(&self, build_log: &mut dyn Write) -> Result<()> {
        let loc = StoreLoc::from_setting(self.settings.get("store").as_deref())?;
        loc.check(self.drv_path)?;
        let text = fs::read(loc.real(self.drv_path))
            .map_err(|e| Error::Build(format!("reading derivation '{}': {e}", self.drv_path)))?;
        let drv = drv::parse(&text)
            .map_err(|e| Error::Build(format!("parsing derivation '{}': {e}", self.drv_path)))?;
        self.check_outputs(&drv)?;
        let built = BuildSpec {
            cfg: self.cfg,
            runner: self.runner,
            drv_path: self.drv_path,
            drv: &drv,
            loc: &loc,
            inputs: &self.inputs.inputs,
            limits: Limits::from_settings(self.settings),
            cores: self.settings.get("cores").unwrap_or_else(|| "1".into()),
            keep_failed: self.settings.get_bool("keep-failed").unwrap_or(false),
            log: Some(&self.log),
        }
        .build(build_log)?;
        let mut built = built;
        // As Nix signs what it builds itself (the database route records
        // the signatures; the nix-store routes have nowhere to put them).
        if let Some(files) = self
            .settings
            .get("secret-key-files")
            .filter(|v| !v.trim().is_empty())
        {
            let keys = crate::sign::load_all(&files).inspect_err(|_| {
                for o in &drv.outputs {
                    let _ = nar::remove_tree(&loc.real(&o.path));
                }
            })?;
            for b in &mut built {
                b.sigs = keys.iter().map(|k| k.sign(&b.path, &b.info)).collect();
            }
        }
        let nix_store = store::find_nix_store(self.cfg.nix_store.as_deref());
        let registered = store::register(
            &nix_store,
            &loc,
            self.cfg.register,
            db_settings(self.settings),
            &built,
            self.drv_path,
            &self.cfg.state_dir,
        );
        if let Ok(Some(why)) = &registered {
            self.log.info(&format!(
                "registered the outputs of '{}' through nix-store, not the database: {why}",
                self.drv_path
            ));
        }
        registered.map(|_| ()).map_err(|e| {
            // `nix-store --import` commits path by path: outputs it made
            // valid before failing stay (removing them would leave valid
            // paths with nothing on disk). When the database cannot be
            // read, every output is kept; Nix removes invalid ones before
            // it builds them again.
            let paths: Vec<&str> = drv.outputs.iter().map(|o| o.path.as_str()).collect();
            let (valid, unread) = store::known_valid(&loc, &paths);
            for o in drv.outputs.iter().filter(|o| !valid.contains(&o.path)) {
                let _ = nar::remove_tree(&loc.real(&o.path));
            }
            let kept: Vec<&str> = valid.iter().map(String::as_str).collect();
            let kept = match unread {
                _ if kept.is_empty() => String::new(),
                Some(why) => format!(" (outputs kept: {why})"),
                None => format!(
                    " (kept, registered before the failure: {})",
                    kept.join(", ")
                ),
            };
            Error::Build(format!(
                "registering the outputs of '{}': {e}{kept}",
                self.drv_path
            ))
        })
    }

    fn check_outputs(&self, drv: &Derivation) -> Result<()> {
        if let Some(o) = drv.outputs.iter().find(|o| o.path.is_empty()) {
            return Err(Error::Build(format!(
                "output '{}' of '{}' has no path yet (content-addressed); direct mode cannot build it",
                o.name, self.drv_path
            )));
        }
        let all: BTreeSet<&str> = drv.outputs.iter().map(|o| o.name.as_str()).collect();
        let wanted: BTreeSet<&str> = self
            .inputs
            .wanted_outputs
            .iter()
            .map(String::as_str)
            .collect();
        if wanted != all {
            return Err(Error::Build(format!(
                "only some outputs of '{}' are missing ({}); direct mode rebuilds all outputs and would overwrite valid ones. Delete the valid outputs, or build this derivation elsewhere",
                self.drv_path,
                wanted.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }
}

/// What Nix's settings ask of a direct write to its database.
fn db_settings(s: &Settings) -> store::DbSettings {
    let wal = s.get_bool("use-sqlite-wal").unwrap_or(true);
    let optimise = s.get_bool("auto-optimise-store").unwrap_or(false);
    store::DbSettings {
        wal,
        unsuitable: optimise
            .then_some("`auto-optimise-store` is on, and the database route does not deduplicate"),
    }
}

/// One derivation to run and check, whoever registers the result: the
/// hook (direct mode) or Nix itself (`--serve`).
pub struct BuildSpec<'a> {
    /// The hook's configuration: the `interpose` dylib added to the
    /// builder's environment and the `label` named in failure messages.
    pub cfg: &'a Config,
    /// Starts the builder and says where its build directory goes.
    pub runner: &'a dyn Launcher,
    /// The derivation's store path (logical), for messages and the name of
    /// the build directory.
    pub drv_path: &'a str,
    /// The parsed derivation: builder, arguments, environment, outputs and
    /// the reference checks its attributes ask for.
    pub drv: &'a Derivation,
    /// The store the outputs are built into: its logical directory (the
    /// builder's `NIX_STORE`) and where its paths really are on the host.
    pub loc: &'a StoreLoc,
    /// The paths the outputs may refer to besides themselves (the input
    /// closure).
    pub inputs: &'a [String],
    /// Time and log-size limits for the builder.
    pub limits: Limits,
    /// The builder's `NIX_BUILD_CORES`: Nix's `cores` setting in hook mode
    /// (`1` when absent), the host's available parallelism under `--serve`.
    pub cores: String,
    /// Nix's `keep-failed`: after a failure, keep the build directory and
    /// say where it is, instead of removing it.
    pub keep_failed: bool,
    /// Where notes go (`@nix` messages); None: into the build log.
    pub log: Option<&'a Log>,
}

impl BuildSpec<'_> {
    /// Runs the builder. Each output comes back canonicalised, hashed and
    /// scanned for references, at its real path in the store; on failure
    /// no output is left there.
    pub fn build(&self, build_log: &mut dyn Write) -> Result<Vec<Built>> {
        // Output paths decide what is removed and written below: each must
        // be a path of this store as Nix would parse it.
        for o in &self.drv.outputs {
            self.loc.check(&o.path)?;
        }
        let outputs: Vec<PathBuf> = self
            .drv
            .outputs
            .iter()
            .map(|o| self.loc.real(&o.path))
            .collect();
        // Nix removed stale invalid copies already; make sure of it, since
        // a leftover would be mistaken for the builder's result.
        for real in &outputs {
            nar::remove_tree(real)
                .map_err(|e| Error::Build(format!("removing stale {}: {e}", real.display())))?;
        }

        let base = self.runner.build_dir_base();
        let drv_base = self.drv_path.rsplit('/').next().unwrap_or("x");
        let drv_base = drv_base.split_once('-').map(|x| x.1).unwrap_or(drv_base);
        let host_dir = runner::create_build_dir(&base, drv_base).map_err(|e| {
            Error::Build(format!(
                "creating a build directory in {}: {e}",
                base.display()
            ))
        })?;
        let inside = self.runner.inside_path(&host_dir).ok_or_else(|| {
            Error::Build(format!(
                "{} is not visible to the builder",
                host_dir.display()
            ))
        })?;
        let dir = BuildDir {
            host: host_dir,
            inside,
        };

        let result = self
            .build_in(&dir, build_log)
            .and_then(|()| self.outputs_info());
        if result.is_err() {
            for real in &outputs {
                let _ = nar::remove_tree(real);
            }
        }
        if result.is_err() && self.keep_failed {
            let note = format!("note: keeping build directory '{}'", dir.host.display());
            match self.log {
                Some(l) => l.error(&note),
                None => {
                    let _ = writeln!(build_log, "{note}");
                }
            }
        } else {
            let _ = nar::remove_tree(&dir.host);
        }
        result
    }

    fn build_in(&self, dir: &BuildDir, build_log: &mut dyn Write) -> Result<()> {
        let host_env = |k: &str| std::env::var(k).ok();
        let params = EnvParams {
            store_dir: &self.loc.store_dir,
            cores: &self.cores,
            host_env: &host_env,
        };
        let mut env = env::prepare(self.drv, dir, &params)
            .map_err(|e| Error::Build(format!("preparing the environment: {e}")))?;
        runner::add_interpose(self.cfg, &mut env);
        let job = Job {
            builder: self.drv.builder.clone(),
            args: self.drv.args.clone(),
            env,
            dir: dir.clone(),
        };
        let name = format!("building of '{}'", self.drv_path);
        let mut running = self
            .runner
            .start(&job)
            .map_err(|e| Error::Build(format!("{name}: {}: {e}", self.runner.describe())))?;
        let mut filtered = RepeatFilter::new(build_log);
        let outcome = supervise(&mut running, &mut filtered, self.limits);
        let _ = filtered.finish();
        let outcome =
            outcome.map_err(|e| Error::Build(format!("{name}: watching the builder: {e}")))?;
        match outcome {
            Supervised::Ended(e) if e.success() => Ok(()),
            Supervised::Ended(e) => Err(Error::BuildFailed(format!(
                "builder for '{}' failed with {} (in {})",
                self.drv_path,
                e.describe(),
                self.cfg.label
            ))),
            Supervised::Silent(t) => Err(Error::TimedOut(format!(
                "{name} timed out after {} seconds of silence",
                t.as_secs()
            ))),
            Supervised::Timeout(t) => Err(Error::TimedOut(format!(
                "{name} timed out after {} seconds",
                t.as_secs()
            ))),
            Supervised::LogLimit(max) => Err(Error::LogLimit(format!(
                "{name} killed after writing more than {max} bytes of log output"
            ))),
            Supervised::Terminated => Err(Error::Interrupted(format!("{name} was interrupted"))),
        }
    }

    /// Canonicalises, hashes and scans every output.
    fn outputs_info(&self) -> Result<Vec<Built>> {
        let mut candidates: Vec<&str> = self.inputs.iter().map(String::as_str).collect();
        candidates.extend(self.drv.outputs.iter().map(|o| o.path.as_str()));
        let mut built = Vec::new();
        for o in &self.drv.outputs {
            let real = self.loc.real(&o.path);
            if fs::symlink_metadata(&real).is_err() {
                return Err(Error::BuildFailed(format!(
                    "builder for '{}' failed to produce output path for output '{}' at '{}'",
                    self.drv_path, o.name, o.path
                )));
            }
            nar::canonicalise(&real)
                .map_err(|e| Error::Build(format!("canonicalising {}: {e}", real.display())))?;
            let info = nar::path_info(&real, candidates.iter().copied())
                .map_err(|e| Error::Build(format!("hashing {}: {e}", real.display())))?;
            if o.is_fixed() {
                check_fixed_output(o, &real, &info)?;
            }
            built.push(Built {
                path: o.path.clone(),
                ca: fixed_ca(o),
                info,
                sigs: Vec::new(),
            });
        }
        check_references(self.drv, &built)?;
        Ok(built)
    }
}

/// Nix's checks on what outputs may refer to. `allowedReferences` and
/// `disallowedReferences` are enforced here as Nix does after a local
/// build (entries are store paths or output names); the requisite forms
/// and structured `outputChecks` need the whole closure, so a derivation
/// using them is refused with a message rather than built unchecked.
fn check_references(drv: &Derivation, built: &[Built]) -> Result<()> {
    let unchecked = ["allowedRequisites", "disallowedRequisites"]
        .into_iter()
        .find(|k| drv.env.contains_key(*k))
        .or_else(|| {
            drv.structured_attrs().and_then(|j| {
                ["outputChecks", "allowedRequisites", "disallowedRequisites"]
                    .into_iter()
                    .find(|k| j.contains(&format!("\"{k}\"")))
            })
        });
    if let Some(k) = unchecked {
        return Err(Error::BuildFailed(format!("derivation uses `{k}`, which build-hook cannot check (it needs the closure of the outputs); build it where Nix builds it itself"),
        ));
    }
    if drv.structured_attrs().is_some_and(|j| {
        j.contains("\"allowedReferences\"") || j.contains("\"disallowedReferences\"")
    }) {
        return Err(Error::BuildFailed("derivation sets reference checks in structured attributes, which build-hook does not read; build it where Nix builds it itself".into(),
        ));
    }
    let resolve = |v: &str| -> BTreeSet<String> {
        v.split_whitespace()
            .map(|w| match drv.output(w) {
                Some(o) => o.path.clone(),
                None => w.to_string(),
            })
            .collect()
    };
    for b in built {
        if let Some(allowed) = drv.env.get("allowedReferences") {
            let allowed = resolve(allowed);
            if let Some(r) = b.info.references.iter().find(|r| !allowed.contains(*r)) {
                return Err(Error::BuildFailed(format!(
                    "output '{}' is not allowed to refer to path '{r}'",
                    b.path
                )));
            }
        }
        if let Some(denied) = drv.env.get("disallowedReferences") {
            let denied = resolve(denied);
            if let Some(r) = b.info.references.iter().find(|r| denied.contains(*r)) {
                return Err(Error::BuildFailed(format!(
                    "output '{}' is not allowed to refer to path '{r}'",
                    b.path
                )));
            }
        }
    }
    Ok(())
}

/// Nix's content address of a fixed output: `fixed:` then `r:` for a
/// recursive (NAR) hash, then the hash as `sha256:<nix32>`.
fn fixed_ca(o: &drv::Output) -> Option<String> {
    if !o.is_fixed() {
        return None;
    }
    let (recursive, algo) = match o.hash_algo.strip_prefix("r:") {
        Some(a) => (true, a),
        None => (false, o.hash_algo.as_str()),
    };
    let bytes: Vec<u8> = (0..o.hash.len() / 2)
        .map(|i| u8::from_str_radix(o.hash.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    Some(format!(
        "fixed:{}{algo}:{}",
        if recursive { "r:" } else { "" },
        base32::encode(&bytes)
    ))
}

/// Compares a fixed output with its declared hash (flat or recursive
/// sha256; the hash in a .drv is base 16).
fn check_fixed_output(o: &drv::Output, real: &Path, info: &nar::PathInfo) -> Result<()> {
    let (recursive, algo) = match o.hash_algo.strip_prefix("r:") {
        Some(a) => (true, a),
        None => (false, o.hash_algo.as_str()),
    };
    if algo != "sha256" {
        return Err(Error::Build(format!(
            "fixed-output hash algorithm `{}` is not supported (only sha256)",
            o.hash_algo
        )));
    }
    let got: [u8; 32] = if recursive {
        info.nar_sha256
    } else {
        let data = fs::read(real)
            .map_err(|e| Error::BuildFailed(format!("reading {}: {e}", real.display())))?;
        Sha256::digest(&data).into()
    };
    let got_hex: String = got.iter().map(|b| format!("{b:02x}")).collect();
    if got_hex != o.hash {
        let wanted: Vec<u8> = (0..o.hash.len() / 2)
            .filter_map(|i| u8::from_str_radix(o.hash.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        return Err(Error::BuildFailed(format!(
            "hash mismatch in fixed-output derivation '{}':\n  specified: sha256:{}\n     got:    sha256:{}",
            o.path,
            base32::encode(&wanted),
            base32::encode(&got)
        )));
    }
    Ok(())
}

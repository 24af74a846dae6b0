//! Entry point for Nix 2.32+ `external-builders`: Nix prepares the build
//! and writes `build.json`; we only run the builder inside the prefix,
//! through the same runner as the hook. Nix scans references, registers
//! the outputs and enforces the time limits itself.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::build::{self, supervise, Limits, Supervised};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::flood::RepeatFilter;
use crate::runner::{self, BuildDir, Ended, Job};

/// `build.json`, version 1 (fields Nix adds later are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildJson {
    /// The format's version; [`load`] accepts only 1.
    pub version: u32,
    /// The builder program, started inside the prefix by the runner.
    pub builder: String,
    /// The builder's arguments, with the sandbox build path rewritten.
    #[serde(default)]
    pub args: Vec<String>,
    /// The builder's whole environment as Nix prepared it, with the sandbox
    /// build path rewritten; the `interpose` dylib is put first in
    /// `DYLD_INSERT_LIBRARIES` when it is installed.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The build directory Nix made, as a host path; the builder runs in
    /// it, seen through the runner's path mapping. Not visible to the
    /// builder: an error.
    pub tmp_dir: PathBuf,
    /// Where Nix assumed the builder would see `tmp_dir` (`/build`). In
    /// `args` and `env` values it is replaced by the path the builder
    /// really sees, when it is the whole value or its leading components.
    pub tmp_dir_in_sandbox: String,
    /// The logical store directory. Read, not used: the prefix shares the
    /// host store, so store paths mean the same inside.
    #[serde(default)]
    pub store_dir: Option<String>,
    /// Where a chroot store's directory really is. Read, not used.
    #[serde(default)]
    pub real_store_dir: Option<String>,
    /// The derivation's system. Read, not used: Nix picks this program by
    /// the `systems` of its `external-builders` entry.
    #[serde(default)]
    pub system: Option<String>,
    /// Output names and their store paths. Read, not used: Nix checks and
    /// registers the outputs itself.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

/// Reads and checks `build.json`.
pub fn load(path: &Path) -> Result<BuildJson> {
    let shown = || path.display().to_string();
    let text =
        fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
    let b: BuildJson = serde_json::from_str(&text).map_err(|e| Error::BuildJson {
        path: shown(),
        msg: e.to_string(),
    })?;
    if b.version != 1 {
        return Err(Error::BuildJson {
            path: shown(),
            msg: format!("build.json version {} is not supported (only 1)", b.version),
        });
    }
    Ok(b)
}

/// Replaces the sandbox build path Nix assumed with the one the builder sees.
fn rewrite(s: &str, from: &str, to: &str) -> String {
    if from.is_empty() || from == to {
        return s.to_string();
    }
    if s == from {
        return to.to_string();
    }
    match s.strip_prefix(from) {
        Some(rest) if rest.starts_with('/') => format!("{to}{rest}"),
        _ => s.to_string(),
    }
}

/// Runs the build; returns the exit status for Nix (the builder's own).
pub fn run(cfg: &Config, build_json: &Path) -> Result<i32> {
    // Whatever Nix leaves open besides stdio must not reach the builder.
    runner::cloexec_inherited_fds();
    build::install_sigterm_handler();
    let b = load(build_json)?;
    let runner = runner::from_config(cfg);
    let inside = runner.inside_path(&b.tmp_dir).ok_or_else(|| {
        Error::Build(format!(
            "{} is not visible to the builder ({})",
            b.tmp_dir.display(),
            runner.describe()
        ))
    })?;
    let from = b.tmp_dir_in_sandbox.as_str();
    let mut env: BTreeMap<String, String> = b
        .env
        .iter()
        .map(|(k, v)| (k.clone(), rewrite(v, from, &inside)))
        .collect();
    runner::add_interpose(cfg, &mut env);
    let job = Job {
        builder: b.builder.clone(),
        args: b.args.iter().map(|a| rewrite(a, from, &inside)).collect(),
        env,
        dir: BuildDir {
            host: b.tmp_dir.clone(),
            inside,
        },
    };
    let mut running = runner.start(&job).map_err(Error::io(runner.describe()))?;
    let mut out = io::stdout();
    // Nix reads "sandbox setup" lines until one starting with \x02 (the
    // build environment is ready); everything after it is the build log.
    // Without it Nix 2.34 fails with "unexpected EOF reading a line".
    out.write_all(b"\x02\n")
        .and_then(|()| out.flush())
        .map_err(Error::io("writing to Nix"))?;
    // Nix enforces its own limits on what we write; repeated lines are
    // collapsed before it sees them.
    let mut filtered = RepeatFilter::new(out);
    let outcome = supervise(&mut running, &mut filtered, Limits::default());
    let _ = filtered.finish();
    Ok(match outcome.map_err(Error::io("watching the builder"))? {
        Supervised::Ended(Ended::Exited(c)) => c,
        Supervised::Ended(Ended::Signaled(s)) => 128 + s,
        Supervised::Ended(Ended::Unknown(why)) => {
            eprintln!("build-hook: {why}");
            1
        }
        Supervised::Terminated => 143,
        Supervised::Silent(_) | Supervised::Timeout(_) | Supervised::LogLimit(_) => {
            unreachable!("no limits set")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_whole_components() {
        assert_eq!(rewrite("/build", "/build", "/V/tmp/x"), "/V/tmp/x");
        assert_eq!(rewrite("/build/src", "/build", "/V/tmp/x"), "/V/tmp/x/src");
        assert_eq!(rewrite("/builder", "/build", "/V"), "/builder");
        assert_eq!(rewrite("x /build", "/build", "/V"), "x /build");
    }
}

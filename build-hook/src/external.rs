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
    pub version: u32,
    pub builder: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub tmp_dir: PathBuf,
    pub tmp_dir_in_sandbox: String,
    #[serde(default)]
    pub store_dir: Option<String>,
    #[serde(default)]
    pub real_store_dir: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
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

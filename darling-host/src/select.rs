//! Choosing how a host tool reaches its prefix (`--runner`, `--darling`):
//! one function for nix-install, nix-verify and syscall-triage.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{find_darling, DarlingRunner, FixtureRunner, Runner};

/// `--runner darling|fixture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerKind {
    /// `darling shell` (production).
    Darling,
    /// Natively against a fixture prefix (tests, CI).
    Fixture,
}

impl FromStr for RunnerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "darling" => Ok(RunnerKind::Darling),
            "fixture" => Ok(RunnerKind::Fixture),
            _ => Err(format!("unknown runner `{s}` (darling or fixture)")),
        }
    }
}

impl fmt::Display for RunnerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunnerKind::Darling => "darling",
            RunnerKind::Fixture => "fixture",
        })
    }
}

/// No usable `darling` launcher.
#[derive(Debug, thiserror::Error)]
pub enum DarlingNotFound {
    #[error("`darling` not found on PATH (use --darling, or install Darling first)")]
    OnPath,
    #[error("{}: not a file (--darling)", .0.display())]
    Given(PathBuf),
}

/// The runner chosen, and the launcher behind it (for `Darling`).
pub struct Selected {
    pub runner: Box<dyn Runner>,
    pub darling: Option<PathBuf>,
}

/// The runner for `kind` on `prefix`; `darling` is an explicit launcher
/// (`--darling`), else `darling` is looked up on PATH. Job files of the
/// darling runner go to the system's temporary directory, which the prefix
/// sees under `/Volumes/SystemRoot`.
pub fn select_runner(
    kind: RunnerKind,
    prefix: PathBuf,
    darling: Option<&Path>,
) -> Result<Selected, DarlingNotFound> {
    match kind {
        RunnerKind::Fixture => Ok(Selected {
            runner: Box::new(FixtureRunner { prefix }),
            darling: None,
        }),
        RunnerKind::Darling => {
            let launcher = find_darling(darling).ok_or_else(|| match darling {
                Some(p) => DarlingNotFound::Given(p.to_path_buf()),
                None => DarlingNotFound::OnPath,
            })?;
            Ok(Selected {
                runner: Box::new(DarlingRunner {
                    darling: launcher.clone(),
                    prefix,
                    scratch: std::env::temp_dir(),
                }),
                darling: Some(launcher),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_a_missing_launcher_is_named() {
        assert_eq!("darling".parse(), Ok(RunnerKind::Darling));
        assert_eq!("fixture".parse(), Ok(RunnerKind::Fixture));
        assert!("docker"
            .parse::<RunnerKind>()
            .unwrap_err()
            .contains("docker"));
        let d = tempfile::tempdir().unwrap();
        let s = select_runner(RunnerKind::Fixture, d.path().into(), None).unwrap();
        assert_eq!(s.runner.prefix(), d.path());
        assert!(s.darling.is_none());
        let missing = d.path().join("no-darling");
        let e = select_runner(RunnerKind::Darling, d.path().into(), Some(&missing))
            .err()
            .unwrap();
        assert!(e.to_string().contains("no-darling"), "{e}");
        // A file given explicitly is taken as the launcher.
        std::fs::write(&missing, "").unwrap();
        let s = select_runner(RunnerKind::Darling, d.path().into(), Some(&missing)).unwrap();
        assert_eq!(s.darling.as_deref(), Some(missing.as_path()));
        assert!(s.runner.describe().contains("no-darling"));
    }
}

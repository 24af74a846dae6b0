//! How a host tool reaches its prefix: commands through the runner chosen
//! by `--runner`/`--darling` ([`select_runner`], one function for
//! nix-install, nix-verify and syscall-triage), files through
//! [`file_view`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{find_darling, DarlingRunner, FixtureRunner, Runner};

/// `--runner darling|fixture` of the host tools (nix-install, nix-verify,
/// syscall-triage); the build hook's launchers are `build_hook::config::LauncherKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerKind {
    /// `darling shell` (production).
    Darling,
    /// Natively against a fixture prefix (tests, CI).
    Fixture,
}

/// A `--runner` value that names no [`RunnerKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown runner `{given}` (darling or fixture)")]
pub struct UnknownRunner {
    /// The value as given.
    pub given: String,
}

impl FromStr for RunnerKind {
    type Err = UnknownRunner;

    fn from_str(s: &str) -> Result<Self, UnknownRunner> {
        match s {
            "darling" => Ok(RunnerKind::Darling),
            "fixture" => Ok(RunnerKind::Fixture),
            _ => Err(UnknownRunner { given: s.into() }),
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
    /// No launcher was given and no `darling` is on PATH.
    #[error("`darling` not found on PATH (use --darling, or install Darling first)")]
    OnPath,
    /// The launcher given (`--darling`) is neither an executable file nor
    /// a command on PATH.
    #[error("{}: not an executable file, nor a command on PATH (--darling)", .0.display())]
    Given(PathBuf),
}

/// The runner chosen, and the launcher behind it (for `Darling`).
pub struct Selected {
    /// Runs commands inside the prefix.
    pub runner: Box<dyn Runner>,
    /// The `darling` launcher found (its path), for the darling runner;
    /// `None` for the fixture runner.
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

/// Where the host reads and writes a prefix's files. A running prefix is
/// an overlay (lower: Darling's installed `libexec/darling`, upper: the
/// prefix directory) mounted on the prefix path in its darlingserver's mount
/// namespace only. From the host's namespace the prefix directory is just
/// the upper layer: files only in the lower layer (`/etc/bashrc`) are
/// missing, and writing into the upper layer under a mounted overlay is
/// undefined (Darling may keep seeing the old file). So while the prefix
/// runs, this is the merged view, `/proc/<init pid>/root<prefix>`; otherwise
/// the prefix directory itself.
pub fn file_view(prefix: &Path) -> PathBuf {
    let prefix = std::path::absolute(prefix).unwrap_or_else(|_| prefix.to_path_buf());
    let Some(pid) = crate::procs::init_pid(&prefix) else {
        return prefix;
    };
    let proc_root = PathBuf::from(format!("/proc/{pid}"));
    // A stale pid file may name some other process: only a namespace with
    // the prefix's overlay counts.
    let mounted = std::fs::read_to_string(proc_root.join("mountinfo"))
        .is_ok_and(|info| overlay_on(&info, &prefix));
    if !mounted {
        return prefix;
    }
    let merged = proc_root
        .join("root")
        .join(prefix.strip_prefix("/").unwrap_or(&prefix));
    if merged.is_dir() {
        merged
    } else {
        prefix
    }
}

/// Whether `mountinfo` has an overlay mounted on `at`.
fn overlay_on(mountinfo: &str, at: &Path) -> bool {
    prefixfs::overlay_mounts(mountinfo)
        .iter()
        .any(|(m, _)| m == at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_on_a_prefix_is_recognised() {
        let info = "22 1 0:21 / / rw - ext4 /dev/vda rw\n\
            176 153 0:62 / /srv/my\\040prefix rw,relatime - overlay overlay rw,lowerdir=/usr/local/libexec/darling,upperdir=/srv/my\\040prefix,workdir=/srv/my\\040prefix.workdir\n";
        assert!(overlay_on(info, Path::new("/srv/my prefix")));
        assert!(!overlay_on(info, Path::new("/srv/other")));
        assert!(!overlay_on(info, Path::new("/")));
        // Not running (no pid file): the directory itself.
        let d = tempfile::tempdir().unwrap();
        assert_eq!(file_view(d.path()), d.path());
        // A pid file naming a process without the overlay (this one).
        std::fs::write(d.path().join(".init.pid"), std::process::id().to_string()).unwrap();
        assert_eq!(file_view(d.path()), d.path());
    }

    #[test]
    fn kinds_parse_and_a_missing_launcher_is_named() {
        assert_eq!("darling".parse(), Ok(RunnerKind::Darling));
        assert_eq!("fixture".parse(), Ok(RunnerKind::Fixture));
        let e = "docker".parse::<RunnerKind>().unwrap_err();
        assert_eq!(
            e,
            UnknownRunner {
                given: "docker".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "unknown runner `docker` (darling or fixture)"
        );
        let d = tempfile::tempdir().unwrap();
        let s = select_runner(RunnerKind::Fixture, d.path().into(), None).unwrap();
        assert_eq!(s.runner.prefix(), d.path());
        assert!(s.darling.is_none());
        let missing = d.path().join("no-darling");
        let e = select_runner(RunnerKind::Darling, d.path().into(), Some(&missing))
            .err()
            .unwrap();
        assert!(e.to_string().contains("no-darling"), "{e}");
        // A file that is not executable is no launcher either.
        std::fs::write(&missing, "").unwrap();
        assert!(select_runner(RunnerKind::Darling, d.path().into(), Some(&missing)).is_err());
        // An executable file given explicitly is taken as the launcher.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&missing, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = select_runner(RunnerKind::Darling, d.path().into(), Some(&missing)).unwrap();
        assert_eq!(s.darling.as_deref(), Some(missing.as_path()));
        assert!(s.runner.describe().contains("no-darling"));
    }
}

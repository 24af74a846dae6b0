//! Installing Nix into a Darling prefix as a plan of actions. Each action
//! (one module under [`actions`], one [`Action`] implementation) can say what
//! it will do, whether it is already done, do it, and revert what it
//! recorded in the receipt (`/var/db/darling-nix/install-receipt.json`
//! inside the prefix, see [`receipt`]).

pub mod actions;
pub mod error;
pub mod files;
mod plan;
pub mod receipt;
pub mod tarball;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use darling_host::Runner;
use serde::{Deserialize, Serialize};

pub use actions::{Action, ActionId};
pub use darling_host::TOOLS;

/// The interposing xnu-fixes dylib: its name in the tools directory, and
/// where it goes in the prefix (the build hook's `interpose` default).
pub const XNU_FIXES_DYLIB: (&str, &str) =
    ("libxnu_fixes.dylib", "usr/local/lib/libxnu_fixes.dylib");

/// The Mach-O probe built beside the dylib, which nix-verify runs inside.
pub const XNU_FIXES_PROBE: (&str, &str) = (
    "xnu-fixes-probe",
    "usr/local/libexec/darling-nix/xnu-fixes-probe",
);
use error::io_at;
pub use error::{Error, RunError};
pub use files::write_atomic;
use files::Changes;
pub use plan::{install, plan, render, uninstall, uninstall_plan};
pub use receipt::{Receipt, Record};
pub use tarball::{tarball_version, version_gate};

pub const GROUP: &str = "nixbld";
pub const GID: u32 = 350;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Root runs builds itself; no build users, no daemon.
    Single,
    /// Build users and a launchd nix-daemon plist.
    Daemon,
}

pub struct Settings {
    pub prefix: PathBuf,
    pub tarball: Option<String>,
    pub sha256: Option<String>,
    pub tools_dir: PathBuf,
    pub users: u32,
    pub mode: Mode,
    /// Darling's libsandbox is fixed: do not set `_NIX_TEST_NO_SANDBOX`.
    pub libsandbox_fixed: bool,
    pub cache_dir: PathBuf,
    pub timeout: Duration,
    /// Actions not to run (reported as skipped), e.g. the store actions for
    /// a prefix whose store comes from elsewhere.
    pub skip: Vec<ActionId>,
}

impl Settings {
    /// Whether the tools directory carries libxnu_fixes.dylib, which then
    /// goes into the prefix and into nix-daemon's environment.
    pub fn has_xnu_fixes_dylib(&self) -> bool {
        self.tools_dir.join(XNU_FIXES_DYLIB.0).is_file()
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not done yet (plan).
    Pending,
    /// Already in place: nothing to do.
    Done,
    /// Ran and changed something.
    Ran,
    /// Not run, as asked (`--skip`).
    Skipped,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Ran => "ran",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub id: ActionId,
    pub description: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the actions share: the settings, the way in, the receipt so far, and
/// the tarball once fetched.
pub struct Cx<'a> {
    pub s: &'a Settings,
    pub runner: &'a dyn Runner,
    pub receipt: Receipt,
    /// The verified tarball on the host, once fetched.
    pub tarball_local: Option<PathBuf>,
}

impl<'a> Cx<'a> {
    pub fn new(s: &'a Settings, runner: &'a dyn Runner) -> Cx<'a> {
        Cx {
            s,
            runner,
            receipt: Receipt::default(),
            tarball_local: None,
        }
    }
    /// Where the prefix's files are read and written: the merged view of a
    /// running prefix, else the prefix directory
    /// ([`darling_host::file_view`]). Asked each time: running a command
    /// inside may have started the prefix.
    pub fn root(&self) -> PathBuf {
        darling_host::file_view(&self.s.prefix)
    }
    /// A path under [`Cx::root`] as the receipt keeps it: under the prefix
    /// directory, which stays valid whether or not the prefix runs.
    pub fn record(&self, path: &Path) -> String {
        match path.strip_prefix(self.root()) {
            Ok(rel) => self.s.prefix.join(rel),
            Err(_) => path.to_path_buf(),
        }
        .display()
        .to_string()
    }
    /// A path from the receipt, where it is now (the inverse of
    /// [`Cx::record`]).
    pub fn view(&self, recorded: &str) -> PathBuf {
        let p = Path::new(recorded);
        match p.strip_prefix(&self.s.prefix) {
            Ok(rel) => self.root().join(rel),
            Err(_) => p.to_path_buf(),
        }
    }
    pub fn etc(&self) -> PathBuf {
        prefixfs::Prefix::at(self.root()).etc_dir()
    }
    /// darling-nix's own state in the prefix: receipt, backups, reginfo.
    pub fn state_dir(&self) -> PathBuf {
        prefixfs::Prefix::at(self.root()).state_dir()
    }
    pub fn backups(&self) -> PathBuf {
        self.state_dir().join("backup")
    }
    pub fn receipt_path(&self) -> PathBuf {
        self.state_dir().join("install-receipt.json")
    }
    /// Puts `data` at `path` (mode `mode` for a new file), keeping a backup
    /// of different old content (with its mode) and recording either in
    /// `changes`.
    pub fn replace_file(
        &self,
        changes: &mut Changes,
        path: &Path,
        data: &[u8],
        mode: u32,
    ) -> Result<(), Error> {
        let mode = match fs::read(path) {
            Ok(old) if old == data => return Ok(()),
            Ok(old) => {
                let old_mode = fs::metadata(path)
                    .map_err(io_at(path))?
                    .permissions()
                    .mode()
                    & 0o7777;
                let name = path.file_name().unwrap_or(path.as_os_str());
                let b = self.backups().join(name);
                write_atomic(&b, &old, old_mode)?;
                changes.replaced.push((self.record(path), self.record(&b)));
                old_mode
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Missing parents, outermost first, so revert can take them
                // away again.
                let mut missing: Vec<&Path> = path
                    .ancestors()
                    .skip(1)
                    .take_while(|d| fs::symlink_metadata(d).is_err())
                    .collect();
                missing.reverse();
                for d in missing {
                    changes.dirs.push(self.record(d));
                }
                changes.created(self, path);
                mode
            }
            Err(e) => return Err(io_at(path)(e)),
        };
        write_atomic(path, data, mode)
    }
    /// Runs `argv` inside; anything but exit 0 is an error.
    pub fn run(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<darling_host::Output, Error> {
        let o = self
            .runner
            .run(argv, stdin, self.s.timeout)
            .map_err(|source| Error::Run {
                argv: shown(argv),
                source,
            })?;
        if o.code != 0 {
            return Err(Error::Exited {
                argv: shown(argv),
                code: o.code,
                stderr: o.stderr.trim().to_string(),
            });
        }
        Ok(o)
    }
}

/// A command for a message: a script argument (several lines) is shown by
/// its size, not in full.
fn shown(argv: &[&str]) -> String {
    argv.iter()
        .map(|a| match a.lines().count() {
            0 | 1 => a.to_string(),
            n => format!("<script of {n} lines>"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

//! Installing Nix into a Darling prefix as a plan of actions. Each action
//! (one module under [`actions`], one [`Action`] implementation) can say what
//! it will do, whether it is already done, do it, and revert what it
//! recorded in the receipt (`<prefix>/var/db/darling-nix/install-receipt.json`,
//! see [`receipt`]).

pub mod actions;
pub mod error;
pub mod files;
mod plan;
pub mod receipt;
pub mod tarball;

use std::path::PathBuf;
use std::time::Duration;

use darling_host::Runner;
use serde::{Deserialize, Serialize};

pub use actions::{Action, ActionId};
pub use darling_host::TOOLS;
pub use error::{Error, RunError};
pub use files::write_atomic;
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
    pub fn etc(&self) -> PathBuf {
        prefixfs::Prefix::at(&self.s.prefix).etc_dir()
    }
    pub fn var(&self) -> PathBuf {
        prefixfs::Prefix::at(&self.s.prefix).var_dir()
    }
    /// darling-nix's own state in the prefix: receipt, backups, reginfo.
    pub fn state_dir(&self) -> PathBuf {
        self.var().join("db/darling-nix")
    }
    pub fn backups(&self) -> PathBuf {
        self.state_dir().join("backup")
    }
    pub fn receipt_path(&self) -> PathBuf {
        self.state_dir().join("install-receipt.json")
    }
    /// Runs `argv` inside; anything but exit 0 is an error.
    pub fn run(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<darling_host::Output, Error> {
        let o = self
            .runner
            .run(argv, stdin, self.s.timeout)
            .map_err(|source| Error::Run {
                argv: argv.join(" "),
                source,
            })?;
        if o.code != 0 {
            return Err(Error::Exited {
                argv: argv.join(" "),
                code: o.code,
                stderr: o.stderr.trim().to_string(),
            });
        }
        Ok(o)
    }
}

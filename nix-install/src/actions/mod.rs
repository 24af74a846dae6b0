//! The actions, one module each, in the order they run.

mod build_users;
mod check_darling;
mod daemon;
mod fetch_tarball;
mod install_tools;
mod load_db;
mod nix_conf;
mod profile;
mod stock_accounts;
mod unpack_store;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::files::Changes;
use crate::{Cx, Settings};

/// One revertible step of the install.
pub trait Action: Sync {
    /// Which action this is: its name in the plan, `--skip` and the receipt.
    fn id(&self) -> ActionId;
    /// What it does, for the plan.
    fn describe(&self, s: &Settings) -> String;
    /// Whether what it would do is already in place (then it does not run).
    fn is_done(&self, cx: &Cx) -> Result<bool, Error>;
    /// Does it, recording every change in `changes` before making it and
    /// saving the receipt then ([`Cx::note`], which
    /// [`Cx::replace_file`] and [`Changes::created`] call), so that the
    /// receipt holds it even when the run fails or is killed half-way.
    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error>;
    /// Undoes what `changes` records. By default: restores replaced files
    /// and removes created ones.
    fn revert(&self, cx: &Cx, changes: &Changes) -> Result<(), Error> {
        changes.revert_files(cx)
    }
}

/// The actions' names, as the plan, `--skip` and the receipt spell them.
///
/// Each variant also says what its action does, when it counts as done and
/// what its revert undoes. (`#[value(help = None::<&str>)]` keeps these
/// doc comments out of `--help`, whose `--skip` lists only the names.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ActionId {
    /// Runs `true` inside, which starts the prefix (Darling creates a
    /// missing one), then fails with [`Error::NotPrefix`] if it has no
    /// `etc`. Never counted as done; it changes nothing of its own, so
    /// nothing is reverted.
    #[value(help = None::<&str>)]
    CheckDarling,
    /// Copies dscl, dseditgroup, sysadminctl, diskutil and sandbox-exec from
    /// the tools directory to their paths in the prefix
    /// ([`TOOLS`](crate::TOOLS)), and, when that directory has
    /// `libxnu_fixes.dylib`, the dylib to `/usr/local/lib` and its probe (if
    /// present) to `/usr/local/libexec/darling-nix`. Done when every copy
    /// is identical to its source; a missing source tool is
    /// [`Error::ToolMissing`]. Revert removes the copies and restores the
    /// files they replaced.
    #[value(help = None::<&str>)]
    InstallTools,
    /// Adds the stock macOS users (`nobody`, `daemon`) and groups (`nobody`,
    /// `nogroup`, `wheel`, `daemon`, `kmem`, `sys`, `tty`, `operator`,
    /// `everyone`, `staff`, `admin`) the prefix lacks, with our dseditgroup
    /// and dscl in one script inside. A record whose name exists, or whose
    /// id another record holds, is left alone; done when nothing is left to
    /// add. Runs in both modes. Revert deletes the recorded users, then
    /// groups, that still exist.
    #[value(help = None::<&str>)]
    StockAccounts,
    /// Daemon mode: creates the group `nixbld` (gid 350) and the users
    /// `_nixbld1` to `_nixbldN` (uid 350+N) with our dseditgroup and dscl in
    /// one script inside, and adds each user to the group. Done when the
    /// group lists them all, and always in single-user mode. Revert deletes
    /// the recorded users and group that still exist.
    #[value(help = None::<&str>)]
    BuildUsers,
    /// Gets the Nix tarball: a local file as it is, or a URL downloaded with
    /// curl into the cache directory. Refuses a tarball for another system
    /// or Nix 2.35 and later ([`Error::WrongSystem`], [`Error::TooNew`]) and
    /// checks the sha256 ([`Error::Sha256`]). Done, and not needed, once the
    /// store is unpacked. Revert removes a downloaded file.
    #[value(help = None::<&str>)]
    FetchTarball,
    /// Unpacks the tarball with the host's `tar` in a temporary directory in
    /// the prefix's `/tmp`, moves its store paths into `<prefix>/nix/store`
    /// (a path already there is kept) and saves its `.reginfo` as
    /// `/var/db/darling-nix/reginfo` inside. Done when every path the saved
    /// reginfo lists exists. Revert removes the saved reginfo, the moved
    /// paths, and `/nix` itself if this action created it.
    #[value(help = None::<&str>)]
    UnpackStore,
    /// Runs the unpacked Nix's own `nix-store --load-db` inside, with the
    /// saved `.reginfo` on its stdin, which fills
    /// `/nix/var/nix/db/db.sqlite`. Done when every reginfo path is in the
    /// database's `ValidPaths` (read from the host without writing). Revert
    /// removes `/nix/var/nix/db` if this action created it.
    #[value(help = None::<&str>)]
    LoadDb,
    /// Points `/nix/var/nix/profiles/default` at `default-1-link`, and that
    /// at the unpacked Nix's store path. Done when both links exist and
    /// `default-1-link` names that path. Revert removes the links it
    /// created.
    #[value(help = None::<&str>)]
    Profile,
    /// Writes `/etc/nix/nix.conf` (`build-users-group`, `sandbox = false`,
    /// `system = x86_64-darwin`) and `/etc/nix/nix-darling.sh` (the default
    /// profile's `bin` on `PATH`; `_NIX_TEST_NO_SANDBOX=1` unless
    /// `--libsandbox-fixed`), and appends a line sourcing the latter to
    /// `/etc/bashrc` and `/etc/zshenv`. Done when all four are so. Revert
    /// restores the files it replaced and removes those it created.
    #[value(help = None::<&str>)]
    NixConf,
    /// Daemon mode: writes the launchd job
    /// `/Library/LaunchDaemons/org.nixos.nix-daemon.plist`, which keeps the
    /// default profile's `nix-daemon` running, logs to
    /// `/var/log/nix-daemon.log` and sets `_NIX_TEST_NO_SANDBOX` and
    /// `DYLD_INSERT_LIBRARIES` (the xnu-fixes dylib) as configured. It does
    /// not load the job. Done when the file has that content, and always in
    /// single-user mode. Revert removes the file or restores the one it
    /// replaced.
    #[value(help = None::<&str>)]
    Daemon,
}

impl ActionId {
    /// The name as `--skip`, the plan, the JSON and the receipt spell it:
    /// `check-darling`, `install-tools`, ... `daemon`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionId::CheckDarling => "check-darling",
            ActionId::InstallTools => "install-tools",
            ActionId::StockAccounts => "stock-accounts",
            ActionId::BuildUsers => "build-users",
            ActionId::FetchTarball => "fetch-tarball",
            ActionId::UnpackStore => "unpack-store",
            ActionId::LoadDb => "load-db",
            ActionId::Profile => "profile",
            ActionId::NixConf => "nix-conf",
            ActionId::Daemon => "daemon",
        }
    }

    /// The action of that name.
    pub fn action(self) -> &'static dyn Action {
        match self {
            ActionId::CheckDarling => &check_darling::CheckDarling,
            ActionId::InstallTools => &install_tools::InstallTools,
            ActionId::StockAccounts => &stock_accounts::StockAccounts,
            ActionId::BuildUsers => &build_users::BuildUsers,
            ActionId::FetchTarball => &fetch_tarball::FetchTarball,
            ActionId::UnpackStore => &unpack_store::UnpackStore,
            ActionId::LoadDb => &load_db::LoadDb,
            ActionId::Profile => &profile::Profile,
            ActionId::NixConf => &nix_conf::NixConf,
            ActionId::Daemon => &daemon::Daemon,
        }
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every action, in order (the order `ActionId` declares them in).
pub fn all() -> impl Iterator<Item = &'static dyn Action> {
    <ActionId as clap::ValueEnum>::value_variants()
        .iter()
        .map(|id| id.action())
}

/// The store paths the unpacked tarball brought (its saved `.reginfo`).
fn saved_reginfo(cx: &Cx) -> std::path::PathBuf {
    cx.state_dir().join("reginfo")
}

/// The Nix store path (`/nix/store/…-nix-<version>`) among the unpacked
/// paths, with its `bin/nix-store` present.
fn nix_store_path(cx: &Cx) -> Result<String, Error> {
    let path = saved_reginfo(cx);
    let text = std::fs::read_to_string(&path).map_err(crate::error::io_at(&path))?;
    crate::tarball::reginfo_paths(&text)
        .into_iter()
        .find(|p| {
            crate::tarball::is_nix_path(p)
                && cx
                    .root()
                    .join(p.trim_start_matches('/'))
                    .join("bin/nix-store")
                    .exists()
        })
        .ok_or(Error::NoNixInTarball(path))
}

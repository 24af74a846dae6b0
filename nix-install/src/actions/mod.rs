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
    fn id(&self) -> ActionId;
    /// What it does, for the plan.
    fn describe(&self, s: &Settings) -> String;
    /// Whether what it would do is already in place (then it does not run).
    fn is_done(&self, cx: &Cx) -> Result<bool, Error>;
    /// Does it, recording every change in `changes` as it goes (they are
    /// kept in the receipt even when it fails half-way).
    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error>;
    /// Undoes what `changes` records. By default: restores replaced files
    /// and removes created ones.
    fn revert(&self, cx: &Cx, changes: &Changes) -> Result<(), Error> {
        changes.revert_files(cx)
    }
}

/// The actions' names, as the plan, `--skip` and the receipt spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ActionId {
    CheckDarling,
    InstallTools,
    StockAccounts,
    BuildUsers,
    FetchTarball,
    UnpackStore,
    LoadDb,
    Profile,
    NixConf,
    Daemon,
}

impl ActionId {
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

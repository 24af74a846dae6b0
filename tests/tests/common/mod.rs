//! The installers' call sequences (tests/scenarios/*.sh), shared by the
//! fixture tier (installers.rs, busybox sh) and the live tier
//! (live_accounts.rs, Darling's bash), with the transcripts both must print.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;

/// A `dscl -plist . -read` record parsed as the installers' serde does:
/// each attribute with its values, all strings.
pub(crate) fn plist_record(xml: &str) -> BTreeMap<String, Vec<String>> {
    let v: plist::Value = plist::from_bytes(xml.as_bytes()).expect("a plist");
    v.as_dictionary()
        .expect("a dictionary")
        .iter()
        .map(|(k, vals)| {
            let vals = vals
                .as_array()
                .expect("an array of values")
                .iter()
                .map(|m| m.as_string().expect("a string value").to_string())
                .collect();
            (k.clone(), vals)
        })
        .collect()
}

pub(crate) const NIX_SHELL_INSTALLER: &str = include_str!("../../scenarios/nix-shell-installer.sh");
pub(crate) const NIX_UNINSTALL: &str = include_str!("../../scenarios/nix-uninstall.sh");
pub(crate) const SEQUOIA_SETUP: &str = include_str!("../../scenarios/sequoia-setup.sh");
pub(crate) const SEQUOIA_MIGRATION: &str = include_str!("../../scenarios/sequoia-migration.sh");
pub(crate) const BIGSUR_SETUP: &str = include_str!("../../scenarios/bigsur-setup.sh");
pub(crate) const BIGSUR_MIGRATION: &str = include_str!("../../scenarios/bigsur-migration.sh");
pub(crate) const RUST_INSTALLER: &str = include_str!("../../scenarios/rust-installer.sh");
pub(crate) const RUST_UNINSTALL: &str = include_str!("../../scenarios/rust-uninstall.sh");
pub(crate) const NIX_DARWIN_ACTIVATION: &str =
    include_str!("../../scenarios/nix-darwin-activation.sh");
pub(crate) const NIX_DARWIN_UNINSTALL_SHELLS: &str =
    include_str!("../../scenarios/nix-darwin-uninstall-shells.sh");
pub(crate) const MACOS_STOCK_ACCOUNTS: &str =
    include_str!("../../scenarios/macos-stock-accounts.sh");
pub(crate) const DISKUTIL_INSTALLERS: &str = include_str!("../../scenarios/diskutil-installers.sh");

pub(crate) const SEQUOIA_MIGRATION_OUT: &str =
    "_nixbld1 301 -> 351\n_nixbld2 302 -> 352\n_nixbld3 303 -> 353\n";

pub(crate) const RUST_INSTALLER_OUT: &str = "plan checkmember: 64
_nixbld1 checkmember before: 67
_nixbld1 checkmember after: 0
_nixbld2 checkmember before: 67
_nixbld2 checkmember after: 0
_nixbld3 checkmember before: 67
_nixbld3 checkmember after: 0
";

pub(crate) const RUST_UNINSTALL_OUT: &str = "second delete: 185 delete: Invalid Path
<dscl_cmd> DS Error: -14009 (eDSUnknownNodeName)
members left: GroupMembership:
";

pub(crate) const DISKUTIL_INSTALLERS_OUT: &str = "root GlobalPermissionsEnabled: <true/>
root ParentWholeDisk: disk1
Nix Store before: 1
created: disk1s7
Volume Nix Store on disk1s7 mounted
mounted at: /nix
ownership before: <true/>
File system user/group ownership enabled
ownership after: <true/>
Volume Nix Store on disk1s7 force-unmounted
Nix Store after: 1
";

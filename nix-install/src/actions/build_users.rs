//! build-users: in daemon mode, the group `nixbld` and its build users,
//! made by our own dseditgroup and dscl inside the prefix.

use std::fs;

use darling_host::sh_quote as q;

use super::{Action, ActionId};
use crate::error::{io_at, Error};
use crate::files::Changes;
use crate::{Cx, Mode, Settings, GID, GROUP};

pub(super) struct BuildUsers;

/// The account names the prefix has now, read from its files on the host.
struct Accounts {
    users: Vec<String>,
    /// Members of `nixbld`, if the group exists.
    group: Option<Vec<String>>,
}

/// A file's text; a missing file is empty.
pub(super) fn read_or_empty(p: &std::path::Path) -> Result<String, Error> {
    match fs::read_to_string(p) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io_at(p)(e)),
    }
}

fn accounts(cx: &Cx) -> Result<Accounts, Error> {
    let (_, users) =
        accounts::files::parse_master(&read_or_empty(&cx.etc().join("master.passwd"))?);
    let (_, groups) = accounts::files::parse_group(&read_or_empty(&cx.etc().join("group"))?);
    Ok(Accounts {
        users: users.into_iter().map(|u| u.name).collect(),
        group: groups
            .into_iter()
            .find(|g| g.name == GROUP)
            .map(|g| g.members.into_iter().filter(|m| !m.is_empty()).collect()),
    })
}

fn user(i: u32) -> String {
    format!("_nixbld{i}")
}

impl Action for BuildUsers {
    fn id(&self) -> ActionId {
        ActionId::BuildUsers
    }

    fn describe(&self, s: &Settings) -> String {
        match s.mode {
            Mode::Daemon => format!(
                "create group {GROUP} (gid {GID}) and {} build users _nixbld1..",
                s.users
            ),
            Mode::Single => "no build users (single-user mode)".into(),
        }
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        if cx.s.mode == Mode::Single {
            return Ok(true);
        }
        let a = accounts(cx)?;
        Ok(a.group
            .is_some_and(|m| (1..=cx.s.users).all(|i| m.contains(&user(i)))))
    }

    /// All account changes as one shell script run once inside: one
    /// `darling shell` start instead of hundreds.
    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let have = accounts(cx)?;
        let mut script = String::from("set -e\n");
        let mut made = Changes::default();
        if have.group.is_none() {
            script.push_str(&format!(
                "dseditgroup -o create -r {} -i {GID} {GROUP}\n",
                q("Nix build group for nix-daemon")
            ));
            made.group = Some(GROUP.into());
        }
        for i in 1..=cx.s.users {
            let u = user(i);
            let path = format!("/Users/{u}");
            if !have.users.contains(&u) {
                script.push_str(&format!("dscl . -create {path}\n"));
                for (k, v) in [
                    ("UniqueID", (GID + i).to_string()),
                    ("PrimaryGroupID", GID.to_string()),
                    ("NFSHomeDirectory", "/var/empty".into()),
                    ("UserShell", "/sbin/nologin".into()),
                    ("RealName", format!("Nix build user {i}")),
                    ("IsHidden", "1".into()),
                ] {
                    script.push_str(&format!("dscl . -create {path} {k} {}\n", q(&v)));
                }
                made.users.push(u.clone());
            }
            script.push_str(&format!("dseditgroup -o edit -t user -a {u} {GROUP}\n"));
        }
        // Recorded before the script runs (revert deletes only those that
        // exist), so that a run killed half-way leaves none unrecorded.
        changes.users = made.users.clone();
        changes.group = made.group.clone();
        cx.note(changes)?;
        let r = cx.run(&["/bin/sh", "-c", &script], None);
        // A half-run script may have made some of them: record what exists
        // now of what we meant to make, so revert finds it.
        let now = accounts(cx)?;
        changes.users = made
            .users
            .into_iter()
            .filter(|u| now.users.contains(u))
            .collect();
        changes.group = made.group.filter(|_| now.group.is_some());
        r.map(drop)
    }

    /// Deletes the recorded users and group that still exist (one script
    /// inside), then any files.
    fn revert(&self, cx: &Cx, changes: &Changes) -> Result<(), Error> {
        let have = accounts(cx)?;
        let mut script = String::from("set -e\n");
        for u in changes.users.iter().filter(|u| have.users.contains(u)) {
            script.push_str(&format!("dscl . -delete {}\n", q(&format!("/Users/{u}"))));
        }
        if let Some(g) = changes.group.as_ref().filter(|_| have.group.is_some()) {
            script.push_str(&format!("dseditgroup -o delete {}\n", q(g)));
        }
        if script.lines().count() > 1 {
            cx.run(&["/bin/sh", "-c", &script], None)?;
        }
        changes.revert_files(cx)
    }
}

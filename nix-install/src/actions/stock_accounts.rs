//! stock-accounts: the user and group records every Mac has and a fresh
//! Darling prefix lacks (it has only `root`, `wheel`), made by our own
//! dseditgroup and dscl inside. nix-darwin's activation reads `nobody`
//! (exit 56 without it) and Nix's installers assume `staff`, `wheel` and
//! `admin`. A record whose name exists is never touched.

use darling_host::sh_quote as q;

use super::build_users::read_or_empty;
use super::{Action, ActionId};
use crate::error::Error;
use crate::files::Changes;
use crate::{Cx, Settings};

/// A stock macOS user: name, UniqueID and PrimaryGroupID, RealName,
/// NFSHomeDirectory, UserShell (its Password is `*`, no login).
struct User {
    name: &'static str,
    id: i32,
    real_name: &'static str,
    home: &'static str,
}

/// A stock macOS group: name, PrimaryGroupID, RealName, and whether `root`
/// is a member (as on macOS).
struct Group {
    name: &'static str,
    id: i32,
    real_name: &'static str,
    root_member: bool,
}

/// macOS's values for these records (macOS 11, the release Darling
/// reports). Each user's primary group is the group of the same id.
const USERS: &[User] = &[
    User {
        name: "nobody",
        id: -2,
        real_name: "Unprivileged User",
        home: "/var/empty",
    },
    User {
        name: "daemon",
        id: 1,
        real_name: "System Services",
        home: "/var/root",
    },
];

const SHELL: &str = "/usr/bin/false";

const GROUPS: &[Group] = &[
    Group {
        name: "nobody",
        id: -2,
        real_name: "Unprivileged Users",
        root_member: false,
    },
    Group {
        name: "nogroup",
        id: -1,
        real_name: "Unprivileged Group",
        root_member: false,
    },
    Group {
        name: "wheel",
        id: 0,
        real_name: "System Group",
        root_member: true,
    },
    Group {
        name: "daemon",
        id: 1,
        real_name: "Daemon",
        root_member: true,
    },
    Group {
        name: "kmem",
        id: 2,
        real_name: "Kernel Memory",
        root_member: true,
    },
    Group {
        name: "sys",
        id: 3,
        real_name: "Sys",
        root_member: true,
    },
    Group {
        name: "tty",
        id: 4,
        real_name: "TTY Group",
        root_member: true,
    },
    Group {
        name: "operator",
        id: 5,
        real_name: "Operator",
        root_member: true,
    },
    Group {
        name: "everyone",
        id: 12,
        real_name: "Everyone",
        root_member: false,
    },
    Group {
        name: "staff",
        id: 20,
        real_name: "Staff",
        root_member: true,
    },
    Group {
        name: "admin",
        id: 80,
        real_name: "Administrators",
        root_member: true,
    },
];

pub(super) struct StockAccounts;

/// Names and ids of one kind of record in the prefix's files.
#[derive(Default)]
struct Have {
    names: Vec<String>,
    ids: Vec<u32>,
}

impl Have {
    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
    /// Missing by name, and its id free: a missing record whose id another
    /// record holds is left alone (never two records for one id).
    fn wants(&self, name: &str, id: i32) -> bool {
        !self.has(name) && !self.ids.contains(&(id as u32))
    }
}

fn have(cx: &Cx) -> Result<(Have, Have), Error> {
    let (_, users) =
        accounts::files::parse_master(&read_or_empty(&cx.etc().join("master.passwd"))?);
    let (_, groups) = accounts::files::parse_group(&read_or_empty(&cx.etc().join("group"))?);
    let u = Have {
        ids: users
            .iter()
            .filter_map(|u| accounts::files::id(&u.uid))
            .collect(),
        names: users.into_iter().map(|u| u.name).collect(),
    };
    let g = Have {
        ids: groups
            .iter()
            .filter_map(|g| accounts::files::id(&g.gid))
            .collect(),
        names: groups.into_iter().map(|g| g.name).collect(),
    };
    Ok((u, g))
}

/// The users and groups still to make.
fn missing(cx: &Cx) -> Result<(Vec<&'static User>, Vec<&'static Group>), Error> {
    let (u, g) = have(cx)?;
    Ok((
        USERS.iter().filter(|r| u.wants(r.name, r.id)).collect(),
        GROUPS.iter().filter(|r| g.wants(r.name, r.id)).collect(),
    ))
}

impl Action for StockAccounts {
    fn id(&self) -> ActionId {
        ActionId::StockAccounts
    }

    fn describe(&self, _: &Settings) -> String {
        let names = |v: Vec<&str>| v.join(" ");
        format!(
            "add macOS's stock users ({}) and groups ({}) the prefix lacks",
            names(USERS.iter().map(|u| u.name).collect()),
            names(GROUPS.iter().map(|g| g.name).collect())
        )
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        let (users, groups) = missing(cx)?;
        Ok(users.is_empty() && groups.is_empty())
    }

    /// Groups first (the users' primary groups), then users: one shell
    /// script run once inside.
    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let (users, groups) = missing(cx)?;
        let mut script = String::from("set -e\n");
        for g in &groups {
            script.push_str(&format!(
                "dseditgroup -o create -r {} -i {} {}\n",
                q(g.real_name),
                g.id,
                g.name
            ));
            if g.root_member {
                script.push_str(&format!(
                    "dscl . -create /Groups/{} GroupMembership root\n",
                    g.name
                ));
            }
        }
        for u in &users {
            let path = format!("/Users/{}", u.name);
            script.push_str(&format!("dscl . -create {path}\n"));
            for (k, v) in [
                ("UniqueID", u.id.to_string()),
                ("PrimaryGroupID", u.id.to_string()),
                ("RealName", u.real_name.into()),
                ("NFSHomeDirectory", u.home.into()),
                ("UserShell", SHELL.into()),
                ("Password", "*".into()),
            ] {
                script.push_str(&format!("dscl . -create {path} {k} {}\n", q(&v)));
            }
        }
        // Recorded before the script runs (revert deletes only those that
        // exist), so that a run killed half-way leaves none unrecorded.
        changes.users = users.iter().map(|r| r.name.to_string()).collect();
        changes.groups = groups.iter().map(|r| r.name.to_string()).collect();
        cx.note(changes)?;
        let r = cx.run(&["/bin/sh", "-c", &script], None);
        // A half-run script may have made some: record what exists now of
        // what we meant to make, so revert finds it.
        let (u, g) = have(cx)?;
        changes.users = users
            .iter()
            .filter(|r| u.has(r.name))
            .map(|r| r.name.to_string())
            .collect();
        changes.groups = groups
            .iter()
            .filter(|r| g.has(r.name))
            .map(|r| r.name.to_string())
            .collect();
        r.map(drop)
    }

    /// Deletes the recorded users, then the recorded groups, that still
    /// exist (one script inside).
    fn revert(&self, cx: &Cx, changes: &Changes) -> Result<(), Error> {
        let (u, g) = have(cx)?;
        let mut script = String::from("set -e\n");
        for name in changes.users.iter().filter(|n| u.has(n)) {
            script.push_str(&format!(
                "dscl . -delete {}\n",
                q(&format!("/Users/{name}"))
            ));
        }
        for name in changes.groups.iter().filter(|n| g.has(n)) {
            script.push_str(&format!("dseditgroup -o delete {}\n", q(name)));
        }
        if script.lines().count() > 1 {
            cx.run(&["/bin/sh", "-c", &script], None)?;
        }
        changes.revert_files(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_are_unique() {
        let h = Have {
            names: vec!["root".into()],
            ids: vec![0, 4294967294],
        };
        assert!(!h.wants("root", 0));
        assert!(!h.wants("wheel", 0), "gid 0 is taken");
        assert!(!h.wants("nobody", -2), "-2 is taken");
        assert!(h.wants("staff", 20));
        for (i, g) in GROUPS.iter().enumerate() {
            assert!(GROUPS[..i].iter().all(|o| o.name != g.name && o.id != g.id));
        }
        for u in USERS {
            assert!(GROUPS.iter().any(|g| g.id == u.id), "{}'s group", u.name);
        }
    }
}

//! `sysadminctl -addUser` / `-deleteUser` for a Darling prefix.
//!
//! Like the real tool every message is an NSLog-style line on stderr and the
//! exit status is 0 even when the operation fails (clients such as nix-darwin
//! verify with `id NAME` afterwards). The log wording is modelled on
//! observed macOS output and is not byte-verified (see docs/tools/sysadminctl.md).

#![warn(missing_docs)]

mod nslog;

use std::io::Write;

use accounts::{attr, Kind, Store, StoreError};
use prefixfs::Prefix;

pub use nslog::NsLog;

const STAFF_GID: &str = "20";
const ADMIN_GROUP: &str = "admin";

/// The usage text, written as is (without NSLog's line prefix) to stderr when
/// the first argument is neither `-addUser` nor `-deleteUser`, or the user
/// name after it is missing or starts with `-`.
pub fn usage() -> &'static str {
    concat!(
        "Usage: sysadminctl\n",
        "\t-addUser <user name> [-fullName <full name>] [-UID <user ID>] [-GID <group ID>] ",
        "[-shell <path to shell>] [-password <user password>] [-hint <user hint>] ",
        "[-home <full path to home>] [-admin] [-roleAccount] [-picture <full path to user image>]\n",
        "\t-deleteUser <user name> [-secure || -keepHome]\n",
        "\n",
        "Role accounts need a name starting with \"_\" and a UID in 200-400.\n",
    )
}

#[derive(Debug, Default)]
struct AddUser {
    name: String,
    full_name: Option<String>,
    uid: Option<String>,
    gid: Option<String>,
    shell: Option<String>,
    home: Option<String>,
    has_password: bool,
    admin: bool,
    role: bool,
}

enum Command {
    Add(AddUser),
    Delete { name: String, keep_home: bool },
    Usage,
}

fn parse(args: &[String]) -> Command {
    let mut it = args.iter().skip(1);
    let Some(first) = it.next() else {
        return Command::Usage;
    };
    let rest: Vec<&String> = it.collect();
    let value = |flag: &str| -> Option<String> {
        rest.iter()
            .position(|a| a.as_str() == flag)
            .and_then(|i| rest.get(i + 1))
            .map(|s| s.to_string())
    };
    let has = |flag: &str| rest.iter().any(|a| a.as_str() == flag);
    match first.as_str() {
        "-addUser" => {
            let Some(name) = rest.first().filter(|n| !n.starts_with('-')) else {
                return Command::Usage;
            };
            Command::Add(AddUser {
                name: name.to_string(),
                full_name: value("-fullName"),
                uid: value("-UID"),
                gid: value("-GID"),
                shell: value("-shell"),
                home: value("-home"),
                has_password: has("-password"),
                admin: has("-admin"),
                role: has("-roleAccount"),
            })
        }
        "-deleteUser" => match rest.first().filter(|n| !n.starts_with('-')) {
            Some(name) => Command::Delete {
                name: name.to_string(),
                keep_home: has("-keepHome"),
            },
            None => Command::Usage,
        },
        _ => Command::Usage,
    }
}

/// The tool's entry point: its whole argv (bytes), standard error.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    run(&prefixfs::text_args(args), &mut std::io::stderr().lock())
}

/// Run sysadminctl on an argv already decoded to text (`argv[0]` included),
/// logging to `err`, and return the exit status, which is always 0 as on
/// macOS: a refused or failed operation is only reported in the log.
///
/// `-addUser NAME` needs root (`prefixfs::privileged`) and creates the user
/// in the prefix's records with the first free UID from 501 unless `-UID`
/// is given, GID 20 (staff) unless `-GID` is given, RealName from
/// `-fullName` or else NAME, shell `/bin/zsh` unless `-shell` is given and
/// home `/Users/NAME`, which is made and, if new, chowned to the user. A
/// home given with `-home` is recorded but not created. `-admin` adds the
/// user to the `admin` group; `-password` stores only a `********`
/// placeholder, never the password. `-roleAccount` requires a name starting
/// with `_` and a `-UID` in 200-400.
///
/// `-deleteUser NAME` removes the user record; the home directory is left
/// in place whatever `-secure` or `-keepHome` say.
pub fn run(args: &[String], err: &mut dyn Write) -> i32 {
    let mut log = NsLog::new(err);
    match parse(args) {
        Command::Usage => {
            log.raw(usage());
        }
        Command::Add(a) => add_user(&a, &mut log),
        Command::Delete { name, keep_home } => delete_user(&name, keep_home, &mut log),
    }
    0
}

fn open(log: &mut NsLog) -> Option<(Prefix, Store)> {
    if !prefixfs::privileged() {
        log.line("Operation is not permitted without root privileges (run with sudo)");
        return None;
    }
    let prefix = match Prefix::resolve() {
        Ok(p) => p,
        Err(e) => {
            log.line(&e.to_string());
            return None;
        }
    };
    match Store::open_write(&prefix) {
        Ok(s) => Some((prefix, s)),
        // Account files that lead out of the prefix: logged like a prefix
        // that cannot be found.
        Err(StoreError::Prefix(e)) => {
            log.line(&e.to_string());
            None
        }
        Err(e) => {
            log.line(&format!("Failed to open the user database: {e}"));
            None
        }
    }
}

fn add_user(a: &AddUser, log: &mut NsLog) {
    if a.role {
        let uid_ok = a
            .uid
            .as_deref()
            .and_then(|u| u.parse::<u32>().ok())
            .is_some_and(|u| (200..=400).contains(&u));
        if !a.name.starts_with('_') || !uid_ok {
            log.line(
                "Role account names must start with \"_\" and have a UID in the 200-400 range",
            );
            return;
        }
    }
    let Some((prefix, mut store)) = open(log) else {
        return;
    };
    if store.find(Kind::Users, &a.name).is_some() {
        log.line(&format!("User record {} already exists", a.name));
        return;
    }
    if !a.has_password {
        log.line("----------------------------");
        log.line("No clear text password or interactive option was specified (adduser, change/reset password will not allow user to use FDE) !");
        log.line("----------------------------");
    }
    let uid = match &a.uid {
        Some(u) => u.clone(),
        None => (501u32..)
            .map(|n| n.to_string())
            .find(|n| {
                !store
                    .records(Kind::Users)
                    .iter()
                    .any(|r| r.first(attr::UNIQUE_ID) == Some(n))
            })
            .unwrap_or_default(),
    };
    let gid = a.gid.clone().unwrap_or_else(|| STAFF_GID.into());
    let home = a
        .home
        .clone()
        .unwrap_or_else(|| format!("/Users/{}", a.name));
    log.line("Creating user record…");
    let mut steps: Vec<(&str, Vec<String>)> = vec![
        (attr::UNIQUE_ID, vec![uid.clone()]),
        (attr::PRIMARY_GROUP_ID, vec![gid.clone()]),
        (attr::HOME, vec![home.clone()]),
        (
            attr::SHELL,
            vec![a.shell.clone().unwrap_or_else(|| "/bin/zsh".into())],
        ),
        (
            attr::REAL_NAME,
            vec![a.full_name.clone().unwrap_or_else(|| a.name.clone())],
        ),
    ];
    if a.has_password {
        // The password itself is never stored or logged: a prefix has no
        // shadow-hash store, so the account is marked as having one.
        steps.push((attr::PASSWORD, vec!["********".into()]));
    }
    let result = store.create(Kind::Users, &a.name).and_then(|i| {
        for (key, values) in &steps {
            store.set(Kind::Users, i, key, values)?;
        }
        Ok(i)
    });
    if let Err(status) = result {
        log.line(&format!(
            "Failed to create user {}: {} ({})",
            a.name,
            status.name(),
            status.code()
        ));
        return;
    }
    log.line(&format!("Assigning UID: {uid} GID: {gid}"));
    if a.admin {
        match store.find(Kind::Groups, ADMIN_GROUP) {
            Some(g) => {
                let guid = store
                    .find(Kind::Users, &a.name)
                    .and_then(|u| store.generated_uid(Kind::Users, u));
                let _ = store.add_member(g, &a.name, guid.as_deref());
            }
            None => log.line("Group admin not found; user not made an administrator"),
        }
    }
    if let Err(e) = store.save() {
        log.line(&format!("Failed to save user {}: {e}", a.name));
        return;
    }
    if a.home.is_some() {
        log.line(&format!(
            "Home directory is assigned (not created!) at {home}"
        ));
    } else {
        let host = prefix.host_path(&home);
        let existed = host.exists();
        // `/Users` (or the home) planted as a link out of the prefix must
        // not make us create and chown a directory elsewhere.
        let made = prefix
            .check_inside(&host)
            .map_err(|e| e.to_string())
            .and_then(|()| std::fs::create_dir_all(&host).map_err(|e| e.to_string()));
        match made {
            Ok(()) => {
                log.line(&format!("Creating home directory at {home}"));
                // A new home belongs to its user, as on macOS; a directory
                // that was already there is left as it is.
                if !existed {
                    if let Err(e) = chown_to(&host, &uid, &gid) {
                        log.line(&format!("Failed to set the owner of {home}: {}", e.desc()));
                    }
                }
            }
            Err(e) => log.line(&format!("Failed to create home directory at {home}: {e}")),
        }
    }
}

/// chown to the record's ids; macOS writes `-2` for 4294967294. The ids
/// were validated when the record was made, so one that does not parse is
/// reported as the invalid argument it would be to chown. A link put in the
/// directory's place since it was made is not followed (lchown).
fn chown_to(path: &std::path::Path, uid: &str, gid: &str) -> nix::Result<()> {
    use nix::errno::Errno;
    let id = |s: &str| accounts::files::id(s).ok_or(Errno::EINVAL);
    let (uid, gid) = (id(uid)?, id(gid)?);
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32)))
}

fn delete_user(name: &str, keep_home: bool, log: &mut NsLog) {
    let Some((_prefix, mut store)) = open(log) else {
        return;
    };
    let Some(i) = store.find(Kind::Users, name) else {
        log.line(&format!("User {name} not found"));
        return;
    };
    log.line(&format!("Deleting record for {name}"));
    store.delete_record(Kind::Users, i);
    if let Err(e) = store.save() {
        log.line(&format!("Failed to delete user {name}: {e}"));
        return;
    }
    if keep_home {
        log.line("Keeping home directory");
    }
    log.line(&format!("Deleting Public share point for {name}"));
}

//! `dseditgroup` for a Darling prefix, after Apple's `ugtools/dseditgroup.c`:
//! BSD getopt over `LT:o:pqvn:m:u:P:a:d:t:i:g:r:k:c:s:S:f:?h`, messages that
//! the real tool shows with CFShow on stderr, and its exit codes.
//! Membership is judged by the group's member list only (see docs).

#![warn(missing_docs)]

mod getopt;

use std::io::{BufRead, Write};

use accounts::{attr, DsStatus, Kind, Store, StoreError};
use prefixfs::Prefix;

use prefixfs::sysexits::{
    EX_CANTCREAT, EX_IOERR, EX_NOPERM, EX_NOUSER, EX_OK, EX_UNAVAILABLE, EX_USAGE,
};

/// The usage text the tool prints on stdout when it runs with no arguments
/// (exit 0), after a bad option (exit 64), and when `-o checkmember` cannot
/// tell which user to check. It begins and ends with a blank line.
pub fn usage() -> String {
    concat!(
        "\ndseditgroup (11.0):: Manipulate group records with the Open Directory API.\n\n",
        "Usage: dseditgroup [-pqv] -o edit [-n nodename] [-u username] [-P password]\n",
        "                   [-r realname] [-c comment] [-s ttl] [-k keyword] [-i gid]\n",
        "                   [-g uuid] [-S sid] [-a addmember] [-d deletemember] \n",
        "                   [-t membertype] [-T grouptype] [-L] groupname\n",
        "Usage: dseditgroup [-pqv] -o create [-n nodename] [-u username] [-P password]\n",
        "                   [-r realname] [-c comment] [-s ttl] [-k keyword] [-i gid]\n",
        "                   [-g uuid] [-S sid] [-T grouptype] [-L] groupname\n",
        "Usage: dseditgroup [-pqv] -o delete [-u username] [-P password] [-T grouptype]\n",
        "                   [-L] groupname\n",
        "Usage: dseditgroup [-qv] -o read [-T grouptype] groupname\n",
        "Usage: dseditgroup [-qv] -o checkmember [-m membername] groupname\n",
        "\nSee dseditgroup(8) man page for details.\n\n",
    )
    .to_string()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Operation {
    #[default]
    Read,
    Create,
    Delete,
    Edit,
    CheckMember,
}

#[derive(Debug, Default)]
struct Args {
    op: Operation,
    quiet: bool,
    member: Option<String>,
    username: Option<String>,
    password: Option<String>,
    add: Option<String>,
    del: Option<String>,
    member_type: Option<String>,
    group_type: Option<String>,
    gid: Option<String>,
    guid: Option<String>,
    realname: Option<String>,
    keyword: Option<String>,
    comment: Option<String>,
    ttl: Option<String>,
    sid: Option<String>,
    group: String,
}

fn is_uuid(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let shape = s.len() == 36 && [8, 13, 18, 23].iter().all(|i| s.as_bytes()[*i] == b'-');
    shape
        && hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && hex.chars().any(|c| c != '0')
}

/// strtol's idea of "numeric": an optional sign and digits, nothing after.
fn strtol_clean(s: &str) -> bool {
    let t = s.trim_start();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    t.is_empty() && s.is_empty() || (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
}

/// The tool's entry point: its whole argv (bytes), standard streams.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    run(
        &prefixfs::text_args(args),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// Run dseditgroup on an argv already decoded to text (`argv[0]` included)
/// against the group records of the prefix it finds, and return the exit
/// status. `input` answers the overwrite prompt of `-o create` on an existing
/// group (a line starting with `y` or `Y` replaces it); `out` and `err` take
/// what the real tool prints on stdout and stderr, and both are flushed
/// before it returns. The statuses are the `<sysexits.h>` values the real
/// tool uses: 0 done (also for a `checkmember` hit), 64 bad usage or a
/// missing group or user, 67 `checkmember` found no membership, 73
/// overwrite declined, 77 credentials refused or permission denied, 69 no
/// prefix, 74 the files could not be read or written; and 200
/// (eDSRecordNotFound) when a member given to `-a` or `-d` does not exist.
pub fn run(
    argv: &[String],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let code = run_inner(argv, input, out, err);
    let _ = out.flush();
    let _ = err.flush();
    code
}

/// dseditgroup's options (getopt, as macOS parses them) and the group
/// operand. `Err` is the exit status, after the message.
fn parse(argv: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<Args, i32> {
    let mut a = Args::default();
    let mut g = getopt::Getopt::new(argv, "LT:o:pqvn:m:u:P:a:d:t:i:g:r:k:c:s:S:f:?h");
    for opt in g.by_ref() {
        let (c, val) = match opt {
            Ok(x) => x,
            Err(msg) => {
                let _ = writeln!(err, "dseditgroup: {msg}");
                let _ = write!(out, "{}", usage());
                return Err(EX_USAGE);
            }
        };
        let val = val.unwrap_or_default();
        match c {
            'o' => {
                a.op = match val.to_ascii_lowercase().as_str() {
                    "create" => Operation::Create,
                    "delete" => Operation::Delete,
                    "edit" => Operation::Edit,
                    "checkmember" => Operation::CheckMember,
                    _ => Operation::Read,
                }
            }
            'q' => a.quiet = true,
            'm' => a.member = Some(val),
            'u' => a.username = Some(val),
            'P' => a.password = Some(val),
            'a' => a.add = Some(val),
            'd' => a.del = Some(val),
            't' => a.member_type = Some(val),
            'T' => a.group_type = Some(val),
            'i' => {
                if !strtol_clean(&val) {
                    let _ = writeln!(out, "GID contains non-numeric characters");
                    return Err(EX_USAGE);
                }
                a.gid = Some(val);
            }
            'g' => {
                if !is_uuid(&val) {
                    let _ = writeln!(out, "GUID provided is not a valid UUID");
                    return Err(EX_USAGE);
                }
                a.guid = Some(val.to_ascii_uppercase());
            }
            'r' => a.realname = Some(val),
            'k' => a.keyword = Some(val),
            'c' => a.comment = Some(val),
            's' => a.ttl = Some(val),
            'S' => a.sid = Some(val),
            'L' | 'p' | 'v' | 'n' | 'f' => {}
            _ => {
                let _ = write!(out, "{}", usage());
                return Err(EX_USAGE);
            }
        }
    }
    let Some(group) = argv.get(g.index()) else {
        let _ = writeln!(err, "No group name provided");
        return Err(EX_USAGE);
    };
    a.group = group.clone();
    Ok(a)
}

fn run_inner(
    argv: &[String],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if argv.len() < 2 {
        let _ = write!(out, "{}", usage());
        return EX_OK;
    }
    let a = match parse(argv, out, err) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let prefix = match Prefix::resolve() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "dseditgroup: {e}");
            return EX_UNAVAILABLE;
        }
    };
    let privileged = prefixfs::privileged();
    let writes = matches!(
        a.op,
        Operation::Create | Operation::Delete | Operation::Edit
    );
    let mut store = match Store::open(&prefix, writes) {
        Ok(s) => s,
        Err(e) => return io_failure(&e, err),
    };

    // Only the local node's Groups exist here.
    let group_kind_ok = a
        .group_type
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("group"));
    let found = if group_kind_ok {
        store.find(Kind::Groups, &a.group)
    } else {
        None
    };
    if found.is_none() && a.op != Operation::Create {
        let _ = writeln!(err, "Group not found.");
        return EX_USAGE;
    }
    if writes && !privileged {
        // Root on the local node needs no credentials; anyone else does, and
        // a Darling prefix has no directory service to check them against.
        let msg = if a.username.is_none() || a.password.is_none() {
            "Username and password must be provided."
        } else {
            "Failed to set credentials."
        };
        let _ = writeln!(err, "{msg}");
        return if a.password.is_some() && a.username.is_some() {
            EX_NOPERM
        } else {
            EX_USAGE
        };
    }

    match a.op {
        Operation::Read => {
            print_details(&store, found.unwrap_or_default(), out);
            EX_OK
        }
        Operation::Delete => {
            let i = found.unwrap_or_default();
            let _ = writeln!(err, "Group record below will be deleted:");
            print_details(&store, i, out);
            store.delete_record(Kind::Groups, i);
            save(&mut store, err)
        }
        Operation::CheckMember => check_member(&store, found.unwrap_or_default(), &a, out, err),
        Operation::Create => create(&mut store, found, &a, input, out, err),
        Operation::Edit => {
            let code = edit(&mut store, found.unwrap_or_default(), &a, false, err);
            if code != EX_OK {
                return code;
            }
            save(&mut store, err)
        }
    }
}

/// `-o checkmember`: whether the user (`-m`, else the caller) is in the
/// group; exit 0 yes, 67 no.
fn check_member(
    store: &Store,
    group: usize,
    a: &Args,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let Some(user) = a.member.clone().or_else(|| invoking_user(store)) else {
        let _ = writeln!(
            out,
            "***Username <-u username> must be explicitly provided in this shell***"
        );
        let _ = write!(out, "{}", usage());
        return EX_OK;
    };
    if store.find(Kind::Users, &user).is_none() {
        let _ = writeln!(err, "Unable to find the user record");
        return EX_USAGE;
    }
    if store.is_member(group, &user) {
        let _ = writeln!(out, "yes {user} is a member of {}", a.group);
        EX_OK
    } else {
        let _ = writeln!(out, "no {user} is NOT a member of {}", a.group);
        EX_NOUSER
    }
}

/// `-o create`: a new record, or (after asking, unless `-q`) a replaced
/// one; the record is kept even when a later step fails, as on macOS.
fn create(
    store: &mut Store,
    found: Option<usize>,
    a: &Args,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if let Some(i) = found {
        let replace = a.quiet || {
            let _ = write!(
                out,
                "Create called on existing record - do you want to overwrite, y or n : "
            );
            let _ = out.flush();
            let mut line = String::new();
            let _ = input.read_line(&mut line);
            let _ = writeln!(out);
            matches!(line.chars().next(), Some('y' | 'Y'))
        };
        if !replace {
            let _ = writeln!(
                err,
                "Operation cancelled because record could not be replaced"
            );
            return EX_CANTCREAT;
        }
        store.delete_record(Kind::Groups, i);
    }
    let i = match store.create(Kind::Groups, &a.group) {
        Ok(i) => i,
        Err(_) => {
            let _ = writeln!(err, "Unable to create the record");
            return EX_USAGE;
        }
    };
    let code = edit(store, i, a, true, err);
    // The record is kept even when a later step fails, as on macOS.
    let saved = save(store, err);
    if code != EX_OK {
        code
    } else {
        saved
    }
}

/// The user running the tool, by uid in the prefix's records.
fn invoking_user(store: &Store) -> Option<String> {
    let uid = if prefixfs::privileged() {
        0
    } else {
        nix::unistd::getuid().as_raw()
    };
    let uid = uid.to_string();
    store
        .records(Kind::Users)
        .iter()
        .find(|r| r.first(attr::UNIQUE_ID) == Some(uid.as_str()))
        .map(|r| r.name().to_string())
}

/// `key -` then each value behind two tabs, for every attribute.
fn print_details(store: &Store, i: usize, out: &mut dyn Write) {
    for (k, values) in store.view(Kind::Groups, i) {
        let _ = writeln!(out, "{k} -");
        for v in values {
            let _ = writeln!(out, "\t\t{v}");
        }
    }
}

/// The edit steps shared by create and edit, in the real tool's order.
fn edit(store: &mut Store, g: usize, a: &Args, creating: bool, err: &mut dyn Write) -> i32 {
    let member_kind = match a
        .member_type
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("user") => Some(Kind::Users),
        Some("group") => Some(Kind::Groups),
        _ => None,
    };
    for (name, adding) in [(&a.add, true), (&a.del, false)] {
        let Some(name) = name else { continue };
        let found = member_kind.and_then(|k| store.find(k, name).map(|i| (k, i)));
        let Some((kind, i)) = found else {
            let _ = writeln!(err, "Record was not found.");
            // The real tool returns eDSRecordNotFound from main(): exit 200.
            return DsStatus::RecordNotFound.code() & 0xFF;
        };
        let guid = store.generated_uid(kind, i);
        let result = match (kind, adding) {
            (Kind::Users, true) => store.add_member(g, name, guid.as_deref()),
            (Kind::Users, false) => {
                store.remove_member(g, name, guid.as_deref());
                Ok(())
            }
            (Kind::Groups, true) => match guid {
                Some(id) => store.merge(Kind::Groups, g, "dsAttrTypeStandard:NestedGroups", &[id]),
                None => Ok(()),
            },
            (Kind::Groups, false) => match guid {
                Some(id) => store
                    .delete_values(Kind::Groups, g, "dsAttrTypeStandard:NestedGroups", &[id])
                    .or(Ok(())),
                None => Ok(()),
            },
        };
        if result.is_err() {
            let msg = if adding {
                "Could not add member to group."
            } else {
                "Could not remove member from group."
            };
            let _ = writeln!(err, "{msg}");
            return EX_USAGE;
        }
    }
    let gid = match &a.gid {
        Some(gid) => Some(gid.clone()),
        // Without -i, create picks the first free gid from 501.
        None if creating => (501u32..).map(|n| n.to_string()).find(|n| {
            !store
                .records(Kind::Groups)
                .iter()
                .any(|r| r.first(attr::PRIMARY_GROUP_ID) == Some(n))
        }),
        None => None,
    };
    if let Some(gid) = gid {
        let canonical = accounts::validate::id(&gid).unwrap_or(gid.clone());
        let taken = store
            .records(Kind::Groups)
            .iter()
            .enumerate()
            .any(|(j, r)| j != g && r.first(attr::PRIMARY_GROUP_ID) == Some(canonical.as_str()));
        if taken {
            let _ = writeln!(err, "GID already exists");
            return EX_USAGE;
        }
        if store
            .set(Kind::Groups, g, attr::PRIMARY_GROUP_ID, &[gid])
            .is_err()
        {
            let _ = writeln!(err, "GID is invalid");
            return EX_USAGE;
        }
    }
    let plain = [
        (&a.guid, attr::GENERATED_UID),
        (&a.sid, "dsAttrTypeStandard:SMBSID"),
        (&a.realname, attr::REAL_NAME),
        (&a.keyword, "dsAttrTypeStandard:Keywords"),
        (&a.comment, "dsAttrTypeStandard:Comment"),
        (&a.ttl, "dsAttrTypeStandard:TimeToLive"),
    ];
    for (value, key) in plain {
        if let Some(v) = value {
            if store
                .set(Kind::Groups, g, key, std::slice::from_ref(v))
                .is_err()
            {
                let _ = writeln!(err, "Invalid value for {}", attr::display(key, false));
                return EX_USAGE;
            }
        }
    }
    EX_OK
}

fn save(store: &mut Store, err: &mut dyn Write) -> i32 {
    match store.save() {
        Ok(()) => EX_OK,
        Err(e) => io_failure(&e, err),
    }
}

fn io_failure(e: &StoreError, err: &mut dyn Write) -> i32 {
    let _ = writeln!(err, "dseditgroup: {e}");
    // Account files that lead out of the prefix: a prefix we cannot use,
    // reported like one we cannot find.
    if let StoreError::Prefix(_) = e {
        EX_UNAVAILABLE
    } else if e.is_permission() {
        EX_NOPERM
    } else {
        EX_IOERR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_gid_like_strtol() {
        assert!(strtol_clean("350"));
        assert!(strtol_clean("-2"));
        assert!(!strtol_clean("35a"));
        assert!(!strtol_clean("abc"));
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("0A6F4C5C-1234-4ABC-9DEF-0123456789AB"));
        assert!(!is_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_uuid("not-a-uuid"));
    }
}

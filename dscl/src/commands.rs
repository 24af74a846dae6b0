//! Path resolution and the commands, following DSTools' PathManager: a path
//! that cannot be walked is `<cmd>: Invalid Path`; a record type's record that
//! is missing is eDSRecordNotFound.

use std::io::Write;

use accounts::{attr, DsStatus, Kind, Store, StoreError};
use prefixfs::sysexits::{EX_UNAVAILABLE, EX_USAGE};
use prefixfs::Prefix;

use crate::cli::{Invocation, Op};
use crate::output;

type Attrs = std::collections::BTreeMap<String, Vec<String>>;

/// Record types macOS has that hold nothing in a Darling prefix: listing them
/// succeeds with no output instead of failing the path walk.
const EMPTY_TYPES: &[&str] = &[
    "Aliases",
    "AutoMount",
    "AutoMountMap",
    "Computers",
    "ComputerGroups",
    "ComputerLists",
    "Config",
    "Hosts",
    "Mounts",
    "Networks",
    "Printers",
    "SharePoints",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Root,
    /// A record type; None for one of [`EMPTY_TYPES`].
    Type(Option<Kind>),
    Record(Kind, usize),
}

/// The outcome of a command: a DS status, or the path-walk failure that the
/// real tool reports as an exception.
enum Failure {
    Status(DsStatus),
    InvalidPath,
}

impl From<DsStatus> for Failure {
    fn from(s: DsStatus) -> Failure {
        Failure::Status(s)
    }
}

/// Split a dscl path: `/` separates (`\/` escapes it), `.` and empty parts
/// are skipped, `..` goes up.
fn components(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    let push = |cur: &mut String, parts: &mut Vec<String>| {
        match cur.as_str() {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(cur.clone()),
        }
        cur.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '/' => push(&mut cur, &mut parts),
            _ => cur.push(c),
        }
    }
    push(&mut cur, &mut parts);
    parts
}

/// Whether `comps` can name anything, whatever the store holds: what
/// [`resolve`] decides without looking at records. A write checks it before
/// it takes the store's lock, so a path that cannot be walked changes
/// nothing (not even the lock file).
fn walkable(comps: &[String]) -> bool {
    match comps {
        [] => true,
        [ty] => Kind::from_path(ty).is_some() || EMPTY_TYPES.contains(&ty.as_str()),
        [ty, _] => Kind::from_path(ty).is_some(),
        _ => false,
    }
}

fn resolve(store: &Store, comps: &[String]) -> Option<Target> {
    let mut t = Target::Root;
    for c in comps {
        t = match t {
            Target::Root => match Kind::from_path(c) {
                Some(k) => Target::Type(Some(k)),
                None if EMPTY_TYPES.contains(&c.as_str()) => Target::Type(None),
                None => return None,
            },
            Target::Type(Some(k)) => Target::Record(k, store.find(k, c)?),
            Target::Type(None) | Target::Record(..) => return None,
        };
    }
    Some(t)
}

pub(crate) fn dispatch(inv: &Invocation, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if inv.op == Op::Unsupported {
        let _ = writeln!(
            err,
            "{}: -{} is not supported for a Darling prefix",
            inv.myname, inv.cmd
        );
        return EX_USAGE;
    }
    let prefix = match Prefix::resolve() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "{}: {e}", inv.myname);
            return EX_UNAVAILABLE;
        }
    };
    let privileged = prefixfs::privileged();
    let writes = matches!(
        inv.op,
        Op::Create | Op::Delete | Op::Append | Op::Merge | Op::Change | Op::ChangeIndex
    );
    let result = if writes && inv.args.first().is_some_and(|p| !walkable(&components(p))) {
        Err(Failure::InvalidPath)
    } else {
        match Store::open(&prefix, writes) {
            Ok(mut store) => run_op(inv, &mut store, privileged, out, err),
            Err(e) => return store_failure(inv, &e, err),
        }
    };
    report(inv, writes, result, out, err)
}

fn run_op(
    inv: &Invocation,
    store: &mut Store,
    privileged: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    match inv.op {
        Op::Read => read(inv, store, out, err),
        Op::ReadAll => read_all(inv, store, out),
        Op::List => list(inv, store, out),
        Op::Search => search(inv, store, out),
        _ => modify(inv, store, privileged, err),
    }
}

/// The exit code and messages for an operation's result.
fn report(
    inv: &Invocation,
    writes: bool,
    result: Result<(), Failure>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    match result {
        Ok(()) => 0,
        Err(Failure::InvalidPath) => {
            let _ = writeln!(out, "{}: Invalid Path", inv.cmd);
            ds_error(err, DsStatus::UnknownNodeName)
        }
        Err(Failure::Status(s)) => {
            if writes {
                let what = if inv.op == Op::Delete && inv.args.len() == 1 {
                    "delete"
                } else {
                    "attribute"
                };
                let _ = writeln!(err, "<main> {what} status: {}", s.name());
            }
            ds_error(err, s)
        }
    }
}

fn ds_error(err: &mut dyn Write, s: DsStatus) -> i32 {
    let _ = writeln!(err, "<dscl_cmd> DS Error: {} ({})", s.code(), s.name());
    s.exit_code()
}

fn store_failure(inv: &Invocation, e: &StoreError, err: &mut dyn Write) -> i32 {
    let _ = writeln!(err, "{}: {e}", inv.myname);
    // Account files that lead out of the prefix: a prefix we cannot use,
    // reported like one we cannot find.
    if let StoreError::Prefix(_) = e {
        return EX_UNAVAILABLE;
    }
    let s = if e.is_permission() {
        DsStatus::PermissionError
    } else {
        DsStatus::OperationFailed
    };
    ds_error(err, s)
}

/// The attributes of a record that a key list selects.
fn select(view: Attrs, keys: &[String], keep_name: bool) -> Attrs {
    if keys.is_empty() {
        return view;
    }
    let mut wanted: Vec<String> = Vec::new();
    let (mut all_std, mut all_native) = (false, false);
    for k in keys {
        match k.as_str() {
            "dsAttributesAll" => (all_std, all_native) = (true, true),
            "dsAttributesStandardAll" => all_std = true,
            "dsAttributesNativeAll" => all_native = true,
            _ => wanted.push(attr::canonical(k)),
        }
    }
    let name_requested = keep_name || all_std || wanted.iter().any(|k| k == attr::RECORD_NAME);
    view.into_iter()
        .filter(|(k, _)| {
            wanted.contains(k)
                || (keep_name && k == attr::RECORD_NAME)
                || (all_std && k.starts_with(attr::STD))
                || (all_native && k.starts_with(attr::NATIVE))
        })
        .filter(|(k, _)| name_requested || k != attr::RECORD_NAME)
        .collect()
}

fn read(
    inv: &Invocation,
    store: &Store,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let comps = components(&inv.args[0]);
    let keys = &inv.args[1..];
    let Some((last, parent)) = comps.split_last() else {
        return Ok(());
    };
    match resolve(store, parent).ok_or(Failure::InvalidPath)? {
        Target::Root => match Kind::from_path(last) {
            Some(k) => {
                let _ = writeln!(out, "name: {}", k.record_type());
                Ok(())
            }
            None if EMPTY_TYPES.contains(&last.as_str()) => {
                let _ = writeln!(out, "name: dsRecTypeStandard:{last}");
                Ok(())
            }
            None => Err(DsStatus::RecordNotFound.into()),
        },
        Target::Type(None) => Err(DsStatus::RecordNotFound.into()),
        Target::Type(Some(kind)) => {
            let i = store.find(kind, last).ok_or(DsStatus::RecordNotFound)?;
            let attrs = select(store.view(kind, i), keys, false);
            if inv.opts.plist {
                let _ = output::record_plist(out, &attrs);
            } else {
                let _ = output::record_text(out, &attrs, &inv.opts);
                let mut reported: Vec<&String> = Vec::new();
                for k in keys {
                    let special = matches!(
                        k.as_str(),
                        "dsAttributesAll" | "dsAttributesStandardAll" | "dsAttributesNativeAll"
                    );
                    if !special
                        && !attrs.contains_key(&attr::canonical(k))
                        && !reported.contains(&k)
                    {
                        let _ = writeln!(err, "No such key: {k}");
                        reported.push(k);
                    }
                }
            }
            Ok(())
        }
        Target::Record(..) => Err(Failure::InvalidPath),
    }
}

fn sorted_indices(store: &Store, kind: Kind) -> Vec<usize> {
    let recs = store.records(kind);
    let mut idx: Vec<usize> = (0..recs.len()).collect();
    idx.sort_by(|a, b| attr::case_insensitive_cmp(recs[*a].name(), recs[*b].name()));
    idx
}

fn read_all(inv: &Invocation, store: &Store, out: &mut dyn Write) -> Result<(), Failure> {
    let comps = components(&inv.args[0]);
    let Target::Type(Some(kind)) = resolve(store, &comps).ok_or(Failure::InvalidPath)? else {
        return Ok(());
    };
    let views: Vec<Attrs> = sorted_indices(store, kind)
        .into_iter()
        .map(|i| select(store.view(kind, i), &inv.args[1..], true))
        .collect();
    if inv.opts.plist {
        let _ = output::records_plist(out, &views);
    } else {
        for (n, v) in views.iter().enumerate() {
            if n > 0 {
                let _ = writeln!(out, "-");
            }
            let _ = output::record_text(out, v, &inv.opts);
        }
    }
    Ok(())
}

fn list(inv: &Invocation, store: &Store, out: &mut dyn Write) -> Result<(), Failure> {
    let comps = components(&inv.args[0]);
    match resolve(store, &comps).ok_or(Failure::InvalidPath)? {
        Target::Root => {
            let mut types: Vec<&str> = EMPTY_TYPES.to_vec();
            types.extend(["Groups", "Users"]);
            types.sort_by(|a, b| attr::case_insensitive_cmp(a, b));
            for t in types {
                let _ = writeln!(out, "{t}");
            }
        }
        Target::Type(Some(kind)) => {
            let recs = store.records(kind);
            match inv.args.get(1) {
                None => {
                    for i in sorted_indices(store, kind) {
                        let _ = writeln!(out, "{}", recs[i].name());
                    }
                }
                Some(key) => {
                    let key = attr::canonical(key);
                    let rows: Vec<(String, Vec<String>)> = sorted_indices(store, kind)
                        .into_iter()
                        .filter_map(|i| {
                            let v = store.view(kind, i).remove(&key)?;
                            (!v.is_empty()).then(|| (recs[i].name().to_string(), v))
                        })
                        .collect();
                    let _ = output::list_with_values(out, &rows, &inv.opts);
                }
            }
        }
        Target::Type(None) | Target::Record(..) => {}
    }
    Ok(())
}

fn search(inv: &Invocation, store: &Store, out: &mut dyn Write) -> Result<(), Failure> {
    let comps = components(&inv.args[0]);
    let Target::Type(Some(kind)) = resolve(store, &comps).ok_or(Failure::InvalidPath)? else {
        return Ok(());
    };
    let key = attr::canonical(&inv.args[1]);
    for i in sorted_indices(store, kind) {
        if let Some(values) = store.view(kind, i).get(&key) {
            if values.iter().any(|v| *v == inv.args[2]) {
                let _ = output::search_hit(out, store.record(kind, i).name(), &key, values);
            }
        }
    }
    Ok(())
}

fn modify(
    inv: &Invocation,
    store: &mut Store,
    privileged: bool,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let comps = components(&inv.args[0]);
    let key = inv.args.get(1).map(|k| attr::canonical(k));
    let values: Vec<String> = inv
        .args
        .get(2..)
        .map(<[String]>::to_vec)
        .unwrap_or_default();
    let need = |privileged: bool| {
        if privileged {
            Ok(())
        } else {
            Err(DsStatus::PermissionError)
        }
    };

    let (kind, index) = if inv.op == Op::Create {
        // createAndCd: the record is made if missing; the type must exist.
        let [ty, name] = comps.as_slice() else {
            return match resolve(store, &comps) {
                Some(Target::Record(..)) | None => Err(Failure::InvalidPath),
                Some(_) => Ok(()),
            };
        };
        let kind = Kind::from_path(ty).ok_or(Failure::InvalidPath)?;
        match store.find(kind, name) {
            Some(i) => (kind, i),
            None => {
                need(privileged)?;
                (kind, store.create(kind, name)?)
            }
        }
    } else {
        match resolve(store, &comps).ok_or(Failure::InvalidPath)? {
            Target::Record(k, i) => (k, i),
            // Deleting a whole record type is refused rather than emptied.
            _ if inv.op == Op::Delete && key.is_none() => {
                return Err(DsStatus::PermissionError.into())
            }
            _ => return Ok(()),
        }
    };

    match (inv.op, key.as_deref()) {
        (Op::Create, None) => {}
        (Op::Create, Some(k)) => {
            need(privileged)?;
            store.set(kind, index, k, &values)?;
        }
        (Op::Delete, None) => {
            need(privileged)?;
            store.delete_record(kind, index);
        }
        (Op::Delete, Some(k)) => {
            need(privileged)?;
            store.delete_values(kind, index, k, &values)?;
        }
        (Op::Append, Some(k)) => {
            need(privileged)?;
            store.append(kind, index, k, &values)?;
        }
        (Op::Merge, Some(k)) => {
            need(privileged)?;
            store.merge(kind, index, k, &values)?;
        }
        (Op::Change, Some(k)) => {
            need(privileged)?;
            store.change(kind, index, k, &values[0], &values[1])?;
        }
        (Op::ChangeIndex, Some(k)) => {
            need(privileged)?;
            // -changei counts values from 1.
            let old = values[0]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|n| {
                    store
                        .record(kind, index)
                        .get(k)
                        .and_then(|v| v.get(n))
                        .cloned()
                })
                .ok_or(DsStatus::AttributeValueNotFound)?;
            store.change(kind, index, k, &old, &values[1])?;
        }
        _ => {}
    }
    store.save().map_err(|e| {
        let _ = writeln!(err, "{}: {e}", inv.myname);
        if e.is_permission() {
            DsStatus::PermissionError
        } else {
            DsStatus::OperationFailed
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        assert_eq!(components("/Users/_nixbld1"), ["Users", "_nixbld1"]);
        assert_eq!(components("Users/x/"), ["Users", "x"]);
        assert_eq!(components("/Users/../Groups/./g"), ["Groups", "g"]);
        assert_eq!(components("/Users/a\\/b"), ["Users", "a/b"]);
        assert!(components("/").is_empty());
    }
}

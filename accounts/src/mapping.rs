//! The mapping between records and the account files: which attributes a
//! file line gives, the line a record writes, and the sidecar overlay that
//! makes up the difference (see docs/accounts.md).

use crate::attr;
use crate::files::{GroupEntry, MasterEntry};
use crate::kind::Kind;
use crate::record::Record;
use crate::sidecar::{Attrs, Overlay};

/// Placeholders for fields a client has not set yet. They only fill the file
/// line; `dscl -read` does not show them (the sidecar marks them unset).
const PLACEHOLDER_GID: &str = "-2";
const PLACEHOLDER_HOME: &str = "/var/empty";
const PLACEHOLDER_SHELL: &str = "/usr/bin/false";

fn nonempty(v: &str) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| vec![v.to_string()])
}

/// The attributes a passwd line gives.
pub(crate) fn user_attrs(e: &MasterEntry) -> Attrs {
    let mut a = Attrs::new();
    a.insert(attr::RECORD_NAME.into(), vec![e.name.clone()]);
    let fields = [
        (attr::PASSWORD, &e.pw),
        (attr::UNIQUE_ID, &e.uid),
        (attr::PRIMARY_GROUP_ID, &e.gid),
        (attr::REAL_NAME, &e.gecos),
        (attr::HOME, &e.home),
        (attr::SHELL, &e.shell),
    ];
    for (key, value) in fields {
        if let Some(v) = nonempty(value) {
            a.insert(key.into(), v);
        }
    }
    a
}

/// The attributes a group line gives.
pub(crate) fn group_attrs(e: &GroupEntry) -> Attrs {
    let mut a = Attrs::new();
    a.insert(attr::RECORD_NAME.into(), vec![e.name.clone()]);
    for (key, value) in [(attr::PASSWORD, &e.pw), (attr::PRIMARY_GROUP_ID, &e.gid)] {
        if let Some(v) = nonempty(value) {
            a.insert(key.into(), v);
        }
    }
    if !e.members.is_empty() {
        a.insert(attr::GROUP_MEMBERSHIP.into(), e.members.clone());
    }
    a
}

fn first<'a>(r: &'a Record, key: &str, default: &'a str) -> &'a str {
    r.first(key).unwrap_or(default)
}

/// The passwd line of a user, or None while it has no UniqueID.
pub(crate) fn user_entry(r: &Record) -> Option<MasterEntry> {
    let uid = r.first(attr::UNIQUE_ID)?;
    Some(MasterEntry {
        name: r.name().to_string(),
        pw: first(r, attr::PASSWORD, "*").to_string(),
        uid: uid.to_string(),
        gid: first(r, attr::PRIMARY_GROUP_ID, PLACEHOLDER_GID).to_string(),
        class: r.class.clone(),
        change: r.change.clone(),
        expire: r.expire.clone(),
        gecos: first(r, attr::REAL_NAME, "").to_string(),
        home: first(r, attr::HOME, PLACEHOLDER_HOME).to_string(),
        shell: first(r, attr::SHELL, PLACEHOLDER_SHELL).to_string(),
    })
}

/// The group line of a group, or None while it has no PrimaryGroupID.
pub(crate) fn group_entry(r: &Record) -> Option<GroupEntry> {
    let gid = r.first(attr::PRIMARY_GROUP_ID)?;
    let mut members: Vec<String> = Vec::new();
    // gr_mem holds each member once, whatever GroupMembership holds.
    for m in r.get(attr::GROUP_MEMBERSHIP).unwrap_or_default() {
        if !members.contains(m) {
            members.push(m.clone());
        }
    }
    Some(GroupEntry {
        name: r.name().to_string(),
        pw: first(r, attr::PASSWORD, "*").to_string(),
        gid: gid.to_string(),
        members,
    })
}

/// What the sidecar must add so that loading the file line gives `r` back.
pub(crate) fn overlay_for(kind: Kind, r: &Record, from_file: &Attrs) -> Overlay {
    let mut o = Overlay::default();
    for (key, values) in &r.attrs {
        if from_file.get(key) != Some(values) {
            o.set.insert(key.clone(), values.clone());
        }
    }
    for key in kind.mapped() {
        if from_file.contains_key(*key) && !r.attrs.contains_key(*key) {
            o.unset.push(key.to_string());
        }
    }
    o
}

pub(crate) fn incomplete(r: &Record) -> Overlay {
    Overlay {
        set: r.attrs.clone(),
        unset: Vec::new(),
        incomplete: true,
    }
}

pub(crate) fn apply_overlays(
    records: &mut Vec<Record>,
    overlays: &std::collections::BTreeMap<String, Overlay>,
) {
    for (name, o) in overlays {
        match records
            .iter_mut()
            .find(|r| r.origin.as_deref() == Some(name.as_str()))
        {
            Some(r) => {
                for (k, v) in &o.set {
                    r.attrs.insert(k.clone(), v.clone());
                }
                for k in &o.unset {
                    r.attrs.remove(k);
                }
            }
            // A sidecar entry whose line is gone (edited by hand) is dropped
            // unless it is a record still waiting for its id.
            None if o.incomplete => {
                let mut attrs = o.set.clone();
                attrs
                    .entry(attr::RECORD_NAME.into())
                    .or_insert_with(|| vec![name.clone()]);
                records.push(Record::new(attrs));
            }
            None => {}
        }
    }
}

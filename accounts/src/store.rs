//! Loading, changing and saving the local node's records.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use prefixfs::{FileSet, Lock, PendingWrite, Prefix};

use crate::attr;
use crate::files::{self, GroupEntry, Line, MasterEntry};
use crate::sidecar::{Attrs, Overlay, Sidecar};
use crate::validate;
use crate::DsStatus;

/// Placeholders for fields a client has not set yet. They only fill the file
/// line; `dscl -read` does not show them (the sidecar marks them unset).
const PLACEHOLDER_GID: &str = "-2";
const PLACEHOLDER_HOME: &str = "/var/empty";
const PLACEHOLDER_SHELL: &str = "/usr/bin/false";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

impl Kind {
    /// The record type as it appears in a dscl path (`/Users/x`).
    pub fn from_path(component: &str) -> Option<Kind> {
        match component {
            "Users" => Some(Kind::Users),
            "Groups" => Some(Kind::Groups),
            _ => None,
        }
    }

    pub fn record_type(self) -> &'static str {
        match self {
            Kind::Users => "dsRecTypeStandard:Users",
            Kind::Groups => "dsRecTypeStandard:Groups",
        }
    }

    /// Attributes that live in this kind's file fields.
    fn mapped(self) -> &'static [&'static str] {
        match self {
            Kind::Users => &[
                attr::RECORD_NAME,
                attr::PASSWORD,
                attr::UNIQUE_ID,
                attr::PRIMARY_GROUP_ID,
                attr::REAL_NAME,
                attr::HOME,
                attr::SHELL,
            ],
            Kind::Groups => &[
                attr::RECORD_NAME,
                attr::PASSWORD,
                attr::PRIMARY_GROUP_ID,
                attr::GROUP_MEMBERSHIP,
            ],
        }
    }

    /// The id attribute that must be unique among records of this kind.
    fn id_key(self) -> &'static str {
        match self {
            Kind::Users => attr::UNIQUE_ID,
            Kind::Groups => attr::PRIMARY_GROUP_ID,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a valid accounts sidecar ({source}); fix or remove it")]
    Sidecar {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl StoreError {
    fn io(path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the OS refused access (so the DS status is a permission error).
    pub fn is_permission(&self) -> bool {
        matches!(self, StoreError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied)
    }
}

/// One user or group record.
#[derive(Debug, Clone)]
pub struct Record {
    attrs: Attrs,
    /// The name of this record's line in the files when loaded, to keep its
    /// place when the files are written again.
    origin: Option<String>,
    /// master.passwd fields with no dscl attribute.
    class: String,
    change: String,
    expire: String,
}

impl Record {
    fn new(attrs: Attrs) -> Record {
        Record {
            attrs,
            origin: None,
            class: String::new(),
            change: "0".into(),
            expire: "0".into(),
        }
    }

    /// The first RecordName.
    pub fn name(&self) -> &str {
        self.first(attr::RECORD_NAME).unwrap_or("")
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.get(attr::RECORD_NAME)
            .is_some_and(|v| v.iter().any(|n| n == name))
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.attrs.get(key).map(Vec::as_slice)
    }

    pub fn first(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// The stored attributes (no computed ones).
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }
}

struct Paths {
    passwd: PathBuf,
    master: PathBuf,
    group: PathBuf,
    sidecar: PathBuf,
    lock: PathBuf,
    journal: PathBuf,
}

impl Paths {
    fn new(prefix: &Prefix) -> Paths {
        let etc = prefix.etc_dir();
        let state = prefix.var_dir().join("db").join("darling-nix");
        Paths {
            passwd: etc.join("passwd"),
            master: etc.join("master.passwd"),
            group: etc.join("group"),
            sidecar: state.join("accounts.json"),
            lock: state.join("accounts.lock"),
            journal: state.join("accounts.journal"),
        }
    }
}

/// The records of one prefix, loaded under a lock.
pub struct Store {
    paths: Paths,
    users: Vec<Record>,
    groups: Vec<Record>,
    passwd_lines: Vec<Line>,
    master_lines: Vec<Line>,
    group_lines: Vec<Line>,
    /// The bytes loaded, to write only files that change.
    loaded: [Option<Vec<u8>>; 4],
    _lock: Option<Lock>,
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

impl Store {
    /// Open for writing when `write` is wanted and the caller may write
    /// ([`prefixfs::privileged`]); otherwise for reading, so that a refused
    /// write can still report path errors first, as macOS does.
    pub fn open(prefix: &Prefix, write: bool) -> Result<Store, StoreError> {
        if write && prefixfs::privileged() {
            Self::open_write(prefix)
        } else {
            Self::open_read(prefix)
        }
    }

    /// Load for reading: a shared lock when possible; an interrupted commit is
    /// finished first when we may write.
    pub fn open_read(prefix: &Prefix) -> Result<Store, StoreError> {
        let paths = Paths::new(prefix);
        let set = FileSet::new(&paths.journal);
        let lock = if set.needs_recovery() {
            match Lock::exclusive(&paths.lock) {
                Ok(l) => {
                    // Best effort: a reader without write access reads as is.
                    let _ = set.recover();
                    Some(l)
                }
                Err(_) => None,
            }
        } else {
            Lock::shared(&paths.lock)
        };
        Self::load(paths, lock, false)
    }

    /// Load for writing: the exclusive lock, held until the store is dropped.
    pub fn open_write(prefix: &Prefix) -> Result<Store, StoreError> {
        let paths = Paths::new(prefix);
        let lock = Lock::exclusive(&paths.lock).map_err(|e| StoreError::io(&paths.lock, e))?;
        FileSet::new(&paths.journal)
            .recover()
            .map_err(|e| StoreError::io(&paths.journal, e))?;
        Self::load(paths, Some(lock), true)
    }

    fn load(paths: Paths, lock: Option<Lock>, write: bool) -> Result<Store, StoreError> {
        let sidecar_raw =
            read_optional(&paths.sidecar).or_else(|e| if write { Err(e) } else { Ok(None) })?;
        let sidecar = match &sidecar_raw {
            Some(raw) => Sidecar::parse(&String::from_utf8_lossy(raw)).map_err(|source| {
                StoreError::Sidecar {
                    path: paths.sidecar.clone(),
                    source,
                }
            })?,
            None => Sidecar::default(),
        };
        let master_raw = match read_optional(&paths.master) {
            Ok(r) => r,
            // Non-root cannot read master.passwd; Libinfo falls back to passwd.
            Err(e) if !write && e.is_permission() => None,
            Err(e) => return Err(e),
        };
        let passwd_raw = read_optional(&paths.passwd)?;
        let group_raw = read_optional(&paths.group)?;

        let text = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned()
        };
        let (master_lines, master) = files::parse_master(&text(&master_raw));
        let (passwd_lines, passwd) = files::parse_passwd(&text(&passwd_raw));
        let (group_lines, group) = files::parse_group(&text(&group_raw));

        let mut users: Vec<Record> = Vec::new();
        for e in master.iter().chain(
            passwd
                .iter()
                .filter(|p| !master.iter().any(|m| m.name == p.name)),
        ) {
            let mut r = Record::new(user_attrs(e));
            r.origin = Some(e.name.clone());
            r.class = e.class.clone();
            r.change = e.change.clone();
            r.expire = e.expire.clone();
            users.push(r);
        }
        let mut groups: Vec<Record> = group
            .iter()
            .map(|e| {
                let mut r = Record::new(group_attrs(e));
                r.origin = Some(e.name.clone());
                r
            })
            .collect();
        apply_overlays(&mut users, &sidecar.users);
        apply_overlays(&mut groups, &sidecar.groups);

        Ok(Store {
            paths,
            users,
            groups,
            passwd_lines,
            master_lines,
            group_lines,
            loaded: [passwd_raw, master_raw, group_raw, sidecar_raw],
            _lock: lock,
        })
    }

    pub fn records(&self, kind: Kind) -> &[Record] {
        match kind {
            Kind::Users => &self.users,
            Kind::Groups => &self.groups,
        }
    }

    fn records_mut(&mut self, kind: Kind) -> &mut Vec<Record> {
        match kind {
            Kind::Users => &mut self.users,
            Kind::Groups => &mut self.groups,
        }
    }

    pub fn find(&self, kind: Kind, name: &str) -> Option<usize> {
        self.records(kind).iter().position(|r| r.has_name(name))
    }

    pub fn record(&self, kind: Kind, index: usize) -> &Record {
        &self.records(kind)[index]
    }

    /// Everything a read shows: the stored attributes plus the ones the node
    /// computes (location, type, and a GeneratedUID for file-only records).
    pub fn view(&self, kind: Kind, index: usize) -> Attrs {
        let r = &self.records(kind)[index];
        let mut v = r.attrs.clone();
        v.insert(
            attr::META_NODE_LOCATION.into(),
            vec!["/Local/Default".into()],
        );
        v.insert(attr::RECORD_TYPE.into(), vec![kind.record_type().into()]);
        if !v.contains_key(attr::GENERATED_UID) {
            if let Some(id) = r.first(kind.id_key()).and_then(|s| s.parse::<i64>().ok()) {
                // The fixed prefixes macOS uses for its built-in accounts.
                let base = match kind {
                    Kind::Users => "FFFFEEEE-DDDD-CCCC-BBBB-AAAA",
                    Kind::Groups => "ABCDEFAB-CDEF-ABCD-EFAB-CDEF",
                };
                v.insert(
                    attr::GENERATED_UID.into(),
                    vec![format!("{base}{:08X}", id as u32)],
                );
            }
        }
        v
    }

    /// The GeneratedUID a read shows for this record, if any.
    pub fn generated_uid(&self, kind: Kind, index: usize) -> Option<String> {
        self.view(kind, index)
            .remove(attr::GENERATED_UID)
            .and_then(|v| v.into_iter().next())
    }

    /// Create an empty record (RecordName and a fresh GeneratedUID).
    pub fn create(&mut self, kind: Kind, name: &str) -> Result<usize, DsStatus> {
        if self.find(kind, name).is_some() {
            return Err(DsStatus::RecordAlreadyExists);
        }
        validate::name(name)?;
        let mut attrs = Attrs::new();
        attrs.insert(attr::RECORD_NAME.into(), vec![name.into()]);
        attrs.insert(attr::GENERATED_UID.into(), vec![prefixfs::new_uuid()]);
        self.records_mut(kind).push(Record::new(attrs));
        Ok(self.records(kind).len() - 1)
    }

    /// Replace all values of `key` (dscl -create).
    pub fn set(
        &mut self,
        kind: Kind,
        i: usize,
        key: &str,
        values: &[String],
    ) -> Result<(), DsStatus> {
        self.put(kind, i, key, Some(values.to_vec()))
    }

    /// The current values of `key` (empty when absent).
    fn values(&self, kind: Kind, i: usize, key: &str) -> Vec<String> {
        self.record(kind, i)
            .get(key)
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }

    /// Add values; duplicates allowed (dscl -append).
    pub fn append(
        &mut self,
        kind: Kind,
        i: usize,
        key: &str,
        values: &[String],
    ) -> Result<(), DsStatus> {
        let mut v = self.values(kind, i, key);
        v.extend(values.iter().cloned());
        self.put(kind, i, key, Some(v))
    }

    /// Add values not already present (dscl -merge).
    pub fn merge(
        &mut self,
        kind: Kind,
        i: usize,
        key: &str,
        values: &[String],
    ) -> Result<(), DsStatus> {
        let mut v = self.values(kind, i, key);
        for value in values {
            if !v.contains(value) {
                v.push(value.clone());
            }
        }
        self.put(kind, i, key, Some(v))
    }

    /// Remove an attribute, or some of its values.
    pub fn delete_values(
        &mut self,
        kind: Kind,
        i: usize,
        key: &str,
        values: &[String],
    ) -> Result<(), DsStatus> {
        let Some(current) = self.record(kind, i).get(key) else {
            return Err(DsStatus::AttributeNotFound);
        };
        if values.is_empty() {
            return self.put(kind, i, key, None);
        }
        if values.iter().any(|v| !current.contains(v)) {
            return Err(DsStatus::AttributeValueNotFound);
        }
        let remaining: Vec<String> = current
            .iter()
            .filter(|v| !values.contains(v))
            .cloned()
            .collect();
        self.put(kind, i, key, Some(remaining))
    }

    /// Replace one value with another (dscl -change).
    pub fn change(
        &mut self,
        kind: Kind,
        i: usize,
        key: &str,
        old: &str,
        new: &str,
    ) -> Result<(), DsStatus> {
        let Some(current) = self.record(kind, i).get(key) else {
            return Err(DsStatus::AttributeNotFound);
        };
        let Some(pos) = current.iter().position(|v| v == old) else {
            return Err(DsStatus::AttributeValueNotFound);
        };
        let mut v = current.to_vec();
        v[pos] = new.to_string();
        self.put(kind, i, key, Some(v))
    }

    /// Delete a record. A deleted user also leaves every group's member lists,
    /// so Nix never meets a member that does not resolve.
    pub fn delete_record(&mut self, kind: Kind, i: usize) {
        let removed = self.records_mut(kind).remove(i);
        if kind == Kind::Users {
            let guid = removed.first(attr::GENERATED_UID).map(String::from);
            for g in &mut self.groups {
                for (key, value) in [
                    (attr::GROUP_MEMBERSHIP, Some(removed.name().to_string())),
                    (attr::GROUP_MEMBERS, guid.clone()),
                ] {
                    let Some(value) = value else { continue };
                    if let Some(list) = g.attrs.get_mut(key) {
                        list.retain(|m| *m != value);
                    }
                }
            }
        }
    }

    /// The single entry point for attribute changes: validation, renames and
    /// id uniqueness are checked here before anything changes.
    fn put(
        &mut self,
        kind: Kind,
        i: usize,
        key: &str,
        values: Option<Vec<String>>,
    ) -> Result<(), DsStatus> {
        if attr::is_virtual(key) {
            return Err(DsStatus::SchemaError);
        }
        let values = match values {
            Some(v) => Some(validate::values(key, &v)?),
            None => None,
        };
        if key == attr::RECORD_NAME {
            let names = values.as_deref().unwrap_or_default();
            if names.is_empty() {
                return Err(DsStatus::SchemaError);
            }
            let clash = names.iter().any(|n| {
                self.records(kind)
                    .iter()
                    .enumerate()
                    .any(|(j, r)| j != i && r.has_name(n))
            });
            if clash {
                return Err(DsStatus::RecordAlreadyExists);
            }
        }
        if key == kind.id_key() {
            if let Some(id) = values.as_ref().and_then(|v| v.first()) {
                let clash = self
                    .records(kind)
                    .iter()
                    .enumerate()
                    .any(|(j, r)| j != i && r.first(key) == Some(id.as_str()));
                if clash {
                    return Err(DsStatus::RecordAlreadyExists);
                }
            }
        }
        let rec = &mut self.records_mut(kind)[i];
        match values {
            Some(v) => rec.attrs.insert(key.to_string(), v),
            None => rec.attrs.remove(key),
        };
        Ok(())
    }

    /// Add `member` to a group's membership once (dseditgroup -a): the name
    /// in GroupMembership and, when known, its GeneratedUID in GroupMembers.
    pub fn add_member(
        &mut self,
        group: usize,
        member: &str,
        guid: Option<&str>,
    ) -> Result<(), DsStatus> {
        self.merge(
            Kind::Groups,
            group,
            attr::GROUP_MEMBERSHIP,
            &[member.to_string()],
        )?;
        if let Some(g) = guid {
            self.merge(Kind::Groups, group, attr::GROUP_MEMBERS, &[g.to_string()])?;
        }
        Ok(())
    }

    /// Remove every occurrence of `member` (dseditgroup -d).
    pub fn remove_member(&mut self, group: usize, member: &str, guid: Option<&str>) {
        let g = &mut self.groups[group];
        if let Some(list) = g.attrs.get_mut(attr::GROUP_MEMBERSHIP) {
            list.retain(|m| m != member);
        }
        if let (Some(guid), Some(list)) = (guid, g.attrs.get_mut(attr::GROUP_MEMBERS)) {
            list.retain(|m| m != guid);
        }
    }

    /// Whether `member` is in the group's GroupMembership (membership is judged
    /// by the member list only, as Nix does through gr_mem).
    pub fn is_member(&self, group: usize, member: &str) -> bool {
        self.groups[group]
            .get(attr::GROUP_MEMBERSHIP)
            .is_some_and(|m| m.iter().any(|x| x == member))
    }

    /// Write every file whose contents changed, as one atomic set.
    pub fn save(&mut self) -> Result<(), StoreError> {
        let mut sidecar = Sidecar {
            version: Sidecar::VERSION,
            ..Default::default()
        };
        let mut master_entries = Vec::new();
        let mut passwd_entries = Vec::new();
        for r in &self.users {
            match user_entry(r) {
                Some(e) => {
                    let overlay = overlay_for(Kind::Users, r, &user_attrs(&e));
                    if overlay != Overlay::default() {
                        sidecar.users.insert(e.name.clone(), overlay);
                    }
                    master_entries.push((r.origin.clone(), e.master_line()));
                    passwd_entries.push((r.origin.clone(), e.passwd_line()));
                }
                None => {
                    sidecar.users.insert(r.name().to_string(), incomplete(r));
                }
            }
        }
        let mut group_entries = Vec::new();
        for r in &self.groups {
            match group_entry(r) {
                Some(e) => {
                    let overlay = overlay_for(Kind::Groups, r, &group_attrs(&e));
                    if overlay != Overlay::default() {
                        sidecar.groups.insert(e.name.clone(), overlay);
                    }
                    group_entries.push((r.origin.clone(), e.line()));
                }
                None => {
                    sidecar.groups.insert(r.name().to_string(), incomplete(r));
                }
            }
        }
        let new = [
            (
                self.paths.passwd.clone(),
                files::render(&self.passwd_lines, &passwd_entries).into_bytes(),
                0o644,
            ),
            (
                self.paths.master.clone(),
                files::render(&self.master_lines, &master_entries).into_bytes(),
                0o600,
            ),
            (
                self.paths.group.clone(),
                files::render(&self.group_lines, &group_entries).into_bytes(),
                0o644,
            ),
            (self.paths.sidecar.clone(), sidecar.to_bytes(), 0o644),
        ];
        let mut writes = Vec::new();
        for (k, (path, contents, mode)) in new.into_iter().enumerate() {
            let absent_and_empty = k == 3
                && self.loaded[k].is_none()
                && sidecar.users.is_empty()
                && sidecar.groups.is_empty();
            if self.loaded[k].as_deref() != Some(contents.as_slice()) && !absent_and_empty {
                writes.push(PendingWrite {
                    path,
                    contents,
                    mode,
                });
            }
        }
        if writes.is_empty() {
            return Ok(());
        }
        for w in &writes {
            if let Some(dir) = w.path.parent() {
                fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
            }
        }
        FileSet::new(&self.paths.journal)
            .commit(&writes)
            .map_err(|e| StoreError::io(&self.paths.journal, e))?;
        for w in writes {
            let k = [
                &self.paths.passwd,
                &self.paths.master,
                &self.paths.group,
                &self.paths.sidecar,
            ]
            .iter()
            .position(|p| **p == w.path);
            if let Some(k) = k {
                self.loaded[k] = Some(w.contents);
            }
        }
        Ok(())
    }
}

fn nonempty(v: &str) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| vec![v.to_string()])
}

/// The attributes a passwd line gives.
fn user_attrs(e: &MasterEntry) -> Attrs {
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
fn group_attrs(e: &GroupEntry) -> Attrs {
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
fn user_entry(r: &Record) -> Option<MasterEntry> {
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
fn group_entry(r: &Record) -> Option<GroupEntry> {
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
fn overlay_for(kind: Kind, r: &Record, from_file: &Attrs) -> Overlay {
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

fn incomplete(r: &Record) -> Overlay {
    Overlay {
        set: r.attrs.clone(),
        unset: Vec::new(),
        incomplete: true,
    }
}

fn apply_overlays(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix() -> (tempfile::TempDir, Prefix) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(
            dir.path().join("etc/master.passwd"),
            "root:*:0:0::0:0:System Administrator:/var/root:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("etc/passwd"),
            "root:*:0:0:System Administrator:/var/root:/bin/sh\n",
        )
        .unwrap();
        fs::write(dir.path().join("etc/group"), "wheel:*:0:root\n").unwrap();
        let p = Prefix::at(dir.path());
        (dir, p)
    }

    #[test]
    fn incomplete_user_stays_out_of_passwd_until_it_has_a_uid() {
        let (dir, p) = prefix();
        let mut s = Store::open_write(&p).unwrap();
        let i = s.create(Kind::Users, "_nixbld1").unwrap();
        s.set(Kind::Users, i, attr::IS_HIDDEN, &["1".into()])
            .unwrap();
        s.save().unwrap();
        let passwd = fs::read_to_string(dir.path().join("etc/passwd")).unwrap();
        assert!(!passwd.contains("_nixbld1"));
        drop(s);
        let mut s = Store::open_write(&p).unwrap();
        let i = s.find(Kind::Users, "_nixbld1").unwrap();
        assert_eq!(s.record(Kind::Users, i).first(attr::IS_HIDDEN), Some("1"));
        s.set(Kind::Users, i, attr::UNIQUE_ID, &["351".into()])
            .unwrap();
        s.save().unwrap();
        let master = fs::read_to_string(dir.path().join("etc/master.passwd")).unwrap();
        assert!(
            master.contains("_nixbld1:*:351:-2::0:0::/var/empty:/usr/bin/false\n"),
            "{master}"
        );
        drop(s);
        // Placeholders are not shown as set attributes.
        let s = Store::open_read(&p).unwrap();
        let i = s.find(Kind::Users, "_nixbld1").unwrap();
        let r = s.record(Kind::Users, i);
        assert_eq!(r.get(attr::PRIMARY_GROUP_ID), None);
        assert_eq!(r.get(attr::SHELL), None);
        assert_eq!(r.first(attr::UNIQUE_ID), Some("351"));
    }

    #[test]
    fn duplicate_members_stay_in_sidecar_only() {
        let (dir, p) = prefix();
        let mut s = Store::open_write(&p).unwrap();
        let g = s.create(Kind::Groups, "nixbld").unwrap();
        s.set(Kind::Groups, g, attr::PRIMARY_GROUP_ID, &["350".into()])
            .unwrap();
        s.append(Kind::Groups, g, attr::GROUP_MEMBERSHIP, &["a".into()])
            .unwrap();
        s.append(Kind::Groups, g, attr::GROUP_MEMBERSHIP, &["a".into()])
            .unwrap();
        s.save().unwrap();
        let group = fs::read_to_string(dir.path().join("etc/group")).unwrap();
        assert!(group.contains("nixbld:*:350:a\n"), "{group}");
        drop(s);
        let s = Store::open_read(&p).unwrap();
        let g = s.find(Kind::Groups, "nixbld").unwrap();
        assert_eq!(
            s.record(Kind::Groups, g)
                .get(attr::GROUP_MEMBERSHIP)
                .unwrap(),
            ["a", "a"]
        );
    }

    #[test]
    fn uid_clash_and_bad_input_change_nothing() {
        let (dir, p) = prefix();
        let before = fs::read(dir.path().join("etc/master.passwd")).unwrap();
        let mut s = Store::open_write(&p).unwrap();
        let i = s.create(Kind::Users, "x").unwrap();
        assert_eq!(
            s.set(Kind::Users, i, attr::UNIQUE_ID, &["0".into()]),
            Err(DsStatus::RecordAlreadyExists)
        );
        assert_eq!(
            s.set(Kind::Users, i, attr::SHELL, &["/bin/sh:x".into()]),
            Err(DsStatus::SchemaError)
        );
        assert_eq!(
            s.create(Kind::Users, "a:b"),
            Err(DsStatus::InvalidRecordName)
        );
        drop(s);
        assert_eq!(
            fs::read(dir.path().join("etc/master.passwd")).unwrap(),
            before
        );
    }

    #[test]
    fn deleting_a_user_removes_it_from_groups() {
        let (dir, p) = prefix();
        let mut s = Store::open_write(&p).unwrap();
        let u = s.find(Kind::Users, "root").unwrap();
        s.delete_record(Kind::Users, u);
        s.save().unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("etc/group")).unwrap(),
            "wheel:*:0:\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("etc/passwd")).unwrap(),
            ""
        );
    }

    #[test]
    fn unchanged_store_writes_nothing() {
        let (dir, p) = prefix();
        let mut s = Store::open_write(&p).unwrap();
        s.save().unwrap();
        // No sidecar is needed for file-only records, so nothing was created.
        assert!(!dir.path().join("var/db/darling-nix/accounts.json").exists());
    }

    #[test]
    fn uuid_shape() {
        let u = prefixfs::new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(u, u.to_uppercase());
    }
}

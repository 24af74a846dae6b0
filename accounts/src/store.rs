//! Loading, changing and saving the local node's records.

use std::io;
use std::path::{Path, PathBuf};

use prefixfs::{Lock, Prefix, PrefixError};

use crate::attr;
use crate::files::{self, Line};
use crate::mapping::{
    apply_overlays, group_attrs, group_entry, incomplete, overlay_for, user_attrs, user_entry,
};
use crate::sidecar::{Attrs, Overlay, Sidecar};
use crate::tracked::{ensure_parent, AccountFiles};
use crate::validate;
use crate::DsStatus;

pub use crate::kind::Kind;
pub use crate::record::Record;

/// Why the account files could not be loaded or saved. Input errors are
/// [`DsStatus`] values instead.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading, locking, creating a directory for or committing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The sidecar (`var/db/darling-nix/accounts.json`) is not valid JSON of
    /// the expected shape; it is never replaced silently.
    #[error("{path}: not a valid accounts sidecar ({source}); fix or remove it")]
    Sidecar {
        /// Where the sidecar is.
        path: PathBuf,
        /// What the JSON parser reported.
        source: serde_json::Error,
    },
    /// The account files or their directories lead outside the prefix
    /// ([`prefixfs::PrefixError::Escapes`]); nothing was read or written.
    /// The tools report it as a prefix they cannot use.
    #[error(transparent)]
    Prefix(PrefixError),
}

impl From<PrefixError> for StoreError {
    /// An OS error while looking a path up stays an [`StoreError::Io`] (a
    /// refused lookup is a permission error like a refused read).
    fn from(e: PrefixError) -> StoreError {
        match e {
            PrefixError::Io { path, source } => StoreError::Io { path, source },
            e => StoreError::Prefix(e),
        }
    }
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: io::Error) -> StoreError {
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

/// The records of one prefix, loaded under a lock.
pub struct Store {
    files: AccountFiles,
    users: Vec<Record>,
    groups: Vec<Record>,
    /// Each file's lines as loaded, so that comments and unknown lines keep
    /// their places when it is written again.
    passwd_lines: Vec<Line>,
    master_lines: Vec<Line>,
    group_lines: Vec<Line>,
    _lock: Option<Lock>,
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
        let files = AccountFiles::new(prefix)?;
        let set = files.file_set();
        let lock = if set.needs_recovery() {
            match Lock::exclusive(&files.lock) {
                Ok(l) => {
                    // Best effort: a reader without write access reads as is.
                    let _ = set.recover();
                    Some(l)
                }
                Err(_) => None,
            }
        } else {
            Lock::shared(&files.lock)
        };
        Self::load(files, lock, false)
    }

    /// Load for writing: the exclusive lock, held until the store is dropped.
    pub fn open_write(prefix: &Prefix) -> Result<Store, StoreError> {
        let files = AccountFiles::new(prefix)?;
        let lock = Lock::exclusive(&files.lock).map_err(|e| StoreError::io(&files.lock, e))?;
        files
            .file_set()
            .recover()
            .map_err(|e| StoreError::io(&files.journal, e))?;
        Self::load(files, Some(lock), true)
    }

    fn load(mut files: AccountFiles, lock: Option<Lock>, write: bool) -> Result<Store, StoreError> {
        // A reader that cannot read the sidecar sees the files alone.
        if let Err(e) = files.sidecar.read() {
            if write {
                return Err(e);
            }
        }
        let sidecar = match &files.sidecar.bytes {
            Some(raw) => Sidecar::parse(&String::from_utf8_lossy(raw)).map_err(|source| {
                StoreError::Sidecar {
                    path: files.sidecar.path.clone(),
                    source,
                }
            })?,
            None => Sidecar::default(),
        };
        match files.master.read() {
            Ok(()) => {}
            // Non-root cannot read master.passwd; Libinfo falls back to passwd.
            Err(e) if !write && e.is_permission() => {}
            Err(e) => return Err(e),
        }
        files.passwd.read()?;
        files.group.read()?;

        let (master_lines, master) = files::parse_master(&files.master.text());
        let (passwd_lines, passwd) = files::parse_passwd(&files.passwd.text());
        let (group_lines, group) = files::parse_group(&files.group.text());

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
            files,
            users,
            groups,
            passwd_lines,
            master_lines,
            group_lines,
            _lock: lock,
        })
    }

    /// All records of `kind`: those with a file line in file order, those
    /// that so far live only in the sidecar, then those created since loading.
    /// Positions in this slice are the indexes the other methods take;
    /// [`Store::delete_record`] shifts the ones after it.
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

    /// The index of the record of `kind` that has `name` among its
    /// RecordNames.
    pub fn find(&self, kind: Kind, name: &str) -> Option<usize> {
        self.records(kind).iter().position(|r| r.has_name(name))
    }

    /// The record at `index`, as returned by [`Store::find`] or
    /// [`Store::create`]. Panics when out of range.
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
            if let Some(id) = r.first(kind.id_key()).and_then(crate::files::id) {
                // The fixed prefixes macOS uses for its built-in accounts.
                let base = match kind {
                    Kind::Users => "FFFFEEEE-DDDD-CCCC-BBBB-AAAA",
                    Kind::Groups => "ABCDEFAB-CDEF-ABCD-EFAB-CDEF",
                };
                v.insert(attr::GENERATED_UID.into(), vec![format!("{base}{id:08X}")]);
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
        // A sidecar is only created when some record needs one.
        let sidecar_needed = !(sidecar.users.is_empty() && sidecar.groups.is_empty());
        let f = &self.files;
        let writes: Vec<_> = [
            f.passwd
                .write_if_changed(files::render(&self.passwd_lines, &passwd_entries).into_bytes()),
            f.master
                .write_if_changed(files::render(&self.master_lines, &master_entries).into_bytes()),
            f.group
                .write_if_changed(files::render(&self.group_lines, &group_entries).into_bytes()),
            if f.sidecar.bytes.is_some() || sidecar_needed {
                f.sidecar.write_if_changed(sidecar.to_bytes())
            } else {
                None
            },
        ]
        .into_iter()
        .flatten()
        .collect();
        if writes.is_empty() {
            return Ok(());
        }
        for w in &writes {
            ensure_parent(&w.path)?;
        }
        self.files
            .file_set()
            .commit(&writes)
            .map_err(|e| StoreError::io(&self.files.journal, e))?;
        for w in writes {
            self.files.written(w);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
        use std::os::unix::fs::MetadataExt;
        let (dir, p) = prefix();
        let files = ["etc/passwd", "etc/master.passwd", "etc/group"];
        // A rewrite with the same bytes would show as a new inode (rename)
        // or a new mtime.
        let stat = || -> Vec<(u64, i64, i64)> {
            files
                .iter()
                .map(|f| {
                    let m = fs::metadata(dir.path().join(f)).unwrap();
                    (m.ino(), m.mtime(), m.mtime_nsec())
                })
                .collect()
        };
        let before = stat();
        let mut s = Store::open_write(&p).unwrap();
        s.save().unwrap();
        assert_eq!(stat(), before, "an unchanged save rewrote the files");
        // No sidecar is needed for file-only records, so nothing was created.
        assert!(!dir.path().join("var/db/darling-nix/accounts.json").exists());
        assert!(!dir
            .path()
            .join("var/db/darling-nix/accounts.journal")
            .exists());
    }

    #[test]
    fn uuid_shape() {
        let u = prefixfs::new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(u, u.to_uppercase());
    }
}

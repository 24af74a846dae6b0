//! File changes that can be undone: every file an action creates or replaces
//! is written atomically and recorded in its [`Changes`].

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{io_at, Error};
use crate::guard::{remove_dir_if_empty_within, remove_within};
use crate::Cx;

/// What one action changed, as it recorded it in the receipt.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Changes {
    /// Files created (host paths), removed on revert.
    #[serde(default)]
    pub created: Vec<String>,
    /// Files replaced: (host path, backup path), restored on revert with the
    /// backup's mode (the original's).
    #[serde(default)]
    pub replaced: Vec<(String, String)>,
    /// Users created.
    #[serde(default)]
    pub users: Vec<String>,
    /// The group created.
    #[serde(default)]
    pub group: Option<String>,
    /// Groups created, where an action makes several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Directories created for those files, parents first; removed on
    /// revert when empty (anything else put there since stays).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<String>,
    /// Files of ours (recorded by an earlier install) written again: no
    /// new record, but the step reads `ran`. Not kept in the receipt.
    #[serde(skip)]
    pub rewritten: usize,
}

impl Changes {
    /// Whether nothing is recorded. An action whose changes are empty made
    /// no change: it gets no receipt record, and its step reads `done`
    /// rather than `ran`.
    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
            && self.replaced.is_empty()
            && self.users.is_empty()
            && self.group.is_none()
            && self.groups.is_empty()
            && self.dirs.is_empty()
    }

    /// Records a file created at `path` (as [`Cx::record`] spells it) and
    /// saves the receipt ([`Cx::note`]): call it before creating the file.
    pub fn created(&mut self, cx: &Cx, path: &Path) -> Result<(), Error> {
        self.created.push(cx.record(path));
        cx.note(self)
    }

    /// Restores replaced files, then removes created ones, newest first.
    /// Backups are kept: uninstall removes them
    /// ([`Changes::remove_backups`]) only once the receipt without this
    /// record is saved, so a revert cut short can run again. A backup
    /// already gone while its file is there counts as restored (a revert
    /// cut short by an earlier version, which removed each backup at once).
    pub fn revert_files(&self, cx: &Cx) -> Result<(), Error> {
        for (path, backup) in &self.replaced {
            let (path, backup) = (cx.view(path), cx.view(backup));
            cx.check_inside(&path)?;
            cx.check_inside(&backup)?;
            let data = match fs::read(&backup) {
                Ok(data) => data,
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        && fs::symlink_metadata(&path).is_ok() =>
                {
                    continue
                }
                Err(e) => return Err(io_at(&backup)(e)),
            };
            let mode = fs::metadata(&backup)
                .map_err(io_at(&backup))?
                .permissions()
                .mode();
            write_atomic(&path, &data, mode & 0o7777)?;
        }
        // Never across a mount point: the host's /nix may be shared in at
        // <prefix>/nix (see `guard`).
        let root = cx.root();
        for path in self.created.iter().rev() {
            let p = cx.view(path);
            if !p.starts_with(&root) {
                // fetch-tarball's download, a file in the cache directory
                // (the receipt's check let nothing else outside through).
                match fs::remove_file(&p) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_at(&p)(e)),
                    _ => continue,
                }
            }
            cx.check_inside(&p)?;
            remove_within(&root, &p).map_err(|e| match e {
                Error::MountPoint { path } => Error::MountPoint {
                    path: cx.record(&path).into(),
                },
                e => e,
            })?;
        }
        for dir in self.dirs.iter().rev() {
            let d = cx.view(dir);
            cx.check_inside(&d)?;
            remove_dir_if_empty_within(&root, &d)?;
        }
        Ok(())
    }

    /// Removes the backups of the files this record restored, except any
    /// that a record still in `receipt` names: called once the receipt
    /// without this record is saved. One already gone is fine.
    pub fn remove_backups(&self, cx: &Cx, receipt: &crate::Receipt) -> Result<(), Error> {
        for (_, backup) in &self.replaced {
            let still_named = receipt
                .records
                .iter()
                .any(|r| r.changes.replaced.iter().any(|(_, b)| b == backup));
            if still_named {
                continue;
            }
            let b = cx.view(backup);
            cx.check_inside(&b)?;
            match fs::remove_file(&b) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_at(&b)(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Write, fsync, rename: the old or the new content, never a torn file.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
    prefixfs::write_atomic(path, data, mode).map_err(io_at(path))
}

/// Removes a directory that is empty; one that is gone or holds anything
/// (not ours) is left as it is.
pub fn remove_dir_if_empty(d: &Path) -> Result<(), Error> {
    match fs::remove_dir(d) {
        Err(e)
            if !matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Err(io_at(d)(e))
        }
        _ => Ok(()),
    }
}

/// The sha256 of a file's content, in lowercase hex (as fetch-tarball
/// compares it with `--sha256`).
pub fn sha256_file(p: &Path) -> Result<String, Error> {
    let mut f = fs::File::open(p).map_err(io_at(p))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io_at(p))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh symlink `link -> target`, replacing any old one atomically.
pub fn symlink_atomic(target: &str, link: &Path) -> Result<(), Error> {
    let dir = link.parent().unwrap_or(Path::new("."));
    let name = link.file_name().unwrap_or_default().to_string_lossy();
    let tmp: PathBuf = dir.join(format!(".{name}.darling-nix.tmp"));
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_at(&tmp)(e)),
        _ => {}
    }
    std::os::unix::fs::symlink(target, &tmp).map_err(io_at(&tmp))?;
    fs::rename(&tmp, link).map_err(io_at(link))
}

//! The files a store keeps in step (passwd, master.passwd, group and the
//! sidecar), each with the bytes last read from or written to it, so that
//! a save rewrites only the files whose contents change.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use prefixfs::{FileSet, PendingWrite, Prefix};

use crate::store::StoreError;

/// One file of the set.
pub(crate) struct Tracked {
    pub(crate) path: PathBuf,
    /// The mode a rewrite gives it.
    mode: u32,
    /// What the file held when last read or written; None when absent.
    pub(crate) bytes: Option<Vec<u8>>,
}

impl Tracked {
    fn new(path: PathBuf, mode: u32) -> Tracked {
        Tracked {
            path,
            mode,
            bytes: None,
        }
    }

    /// Read the file; a missing file is `None`.
    pub(crate) fn read(&mut self) -> Result<(), StoreError> {
        self.bytes = match fs::read(&self.path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io(&self.path, e)),
        };
        Ok(())
    }

    /// The loaded contents as text (empty when absent).
    pub(crate) fn text(&self) -> String {
        self.bytes
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned()
    }

    /// A write of `contents`, unless the file already holds exactly that.
    pub(crate) fn write_if_changed(&self, contents: Vec<u8>) -> Option<PendingWrite> {
        (self.bytes.as_deref() != Some(contents.as_slice())).then(|| PendingWrite {
            path: self.path.clone(),
            contents,
            mode: self.mode,
        })
    }
}

/// Where a prefix keeps its accounts.
pub(crate) struct AccountFiles {
    pub(crate) passwd: Tracked,
    pub(crate) master: Tracked,
    pub(crate) group: Tracked,
    pub(crate) sidecar: Tracked,
    pub(crate) lock: PathBuf,
    pub(crate) journal: PathBuf,
}

impl AccountFiles {
    /// The files of `prefix`, each checked to be inside it once links are
    /// followed ([`Prefix::check_inside`]): a prefix whose `private/etc` or
    /// state directory (or one of the files) leads elsewhere, e.g. to the
    /// host's `/etc`, is refused before anything is read, locked or written.
    pub(crate) fn new(prefix: &Prefix) -> Result<AccountFiles, StoreError> {
        let etc = prefix.etc_dir();
        let state = prefix.state_dir();
        let files = AccountFiles {
            passwd: Tracked::new(etc.join("passwd"), 0o644),
            master: Tracked::new(etc.join("master.passwd"), 0o600),
            group: Tracked::new(etc.join("group"), 0o644),
            sidecar: Tracked::new(state.join("accounts.json"), 0o644),
            lock: state.join("accounts.lock"),
            journal: state.join("accounts.journal"),
        };
        // A missing file is checked through its directory.
        let tracked = [&files.passwd, &files.master, &files.group, &files.sidecar];
        for path in tracked
            .map(|t| &t.path)
            .into_iter()
            .chain([&files.lock, &files.journal])
        {
            prefix.check_inside(path)?;
        }
        Ok(files)
    }

    /// The commit set of the four files, journaled beside the sidecar.
    pub(crate) fn file_set(&self) -> FileSet {
        let files = [&self.passwd, &self.master, &self.group, &self.sidecar];
        FileSet::new(&self.journal, files.map(|t| t.path.clone()))
    }

    /// Remember what a committed write put in its file.
    pub(crate) fn written(&mut self, w: PendingWrite) {
        let tracked = [
            &mut self.passwd,
            &mut self.master,
            &mut self.group,
            &mut self.sidecar,
        ];
        if let Some(t) = tracked.into_iter().find(|t| t.path == w.path) {
            t.bytes = Some(w.contents);
        }
    }
}

/// The directory a write needs, created if missing.
pub(crate) fn ensure_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) => fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e)),
        None => Ok(()),
    }
}

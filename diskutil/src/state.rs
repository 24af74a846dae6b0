//! The virtual APFS container: which volumes exist, their UUIDs and where
//! they are "mounted". Kept in `<prefix>/var/db/darling-nix/diskutil.json`,
//! changed under a lock with prefixfs's crash-safe commit. A volume is only
//! a record: mounting it means its mount point directory exists in the
//! prefix; deleting it never deletes files.

use std::io;
use std::path::{Path, PathBuf};

use prefixfs::{FileSet, Lock, PendingWrite, Prefix};
use serde::{Deserialize, Serialize};

pub const CONTAINER: &str = "disk1";
pub const PHYSICAL_STORE: &str = "disk0s2";
pub const WHOLE_PHYSICAL: &str = "disk0";
pub const ROOT_DEVICE: &str = "disk1s1";
pub const ROOT_NAME: &str = "Macintosh HD";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Volume {
    pub device: String,
    pub name: String,
    pub uuid: String,
    pub case_sensitive: bool,
    /// Empty when unmounted.
    pub mount_point: String,
    pub ownership: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub container_uuid: String,
    pub root_uuid: String,
    pub disk_uuid: String,
    pub volumes: Vec<Volume>,
}

pub use prefixfs::new_uuid;

pub struct Store {
    pub prefix: Prefix,
    file: PathBuf,
    lock: PathBuf,
    journal: PathBuf,
}

impl Store {
    pub fn new(prefix: Prefix) -> Store {
        let dir = prefix.state_dir();
        Store {
            file: dir.join("diskutil.json"),
            lock: dir.join("diskutil.lock"),
            journal: dir.join("diskutil.journal"),
            prefix,
        }
    }

    fn read_file(&self) -> io::Result<Option<State>> {
        match std::fs::read(&self.file) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", self.file.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn fresh() -> State {
        State {
            container_uuid: new_uuid(),
            root_uuid: new_uuid(),
            disk_uuid: new_uuid(),
            volumes: Vec::new(),
        }
    }

    /// The current state (a fresh one is not written until something changes).
    pub fn load(&self) -> io::Result<State> {
        let fs = FileSet::new(&self.journal);
        if fs.needs_recovery() {
            if let Some(dir) = self.lock.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let _l = Lock::exclusive(&self.lock)?;
            fs.recover()?;
        }
        Ok(self.read_file()?.unwrap_or_else(Self::fresh))
    }

    /// Runs `change` on the state under the lock and commits the result.
    /// Errors name the file or directory they concern.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> io::Result<T> {
        let at = |p: &Path| {
            let shown = p.display().to_string();
            move |e: io::Error| io::Error::new(e.kind(), format!("{shown}: {e}"))
        };
        let dir = self.lock.parent().expect("state dir");
        std::fs::create_dir_all(dir).map_err(at(dir))?;
        let _l = Lock::exclusive(&self.lock).map_err(at(&self.lock))?;
        let fs = FileSet::new(&self.journal);
        fs.recover()?;
        let mut st = self.read_file()?.unwrap_or_else(Self::fresh);
        let out = change(&mut st);
        let mut text = serde_json::to_vec_pretty(&st).map_err(io::Error::other)?;
        text.push(b'\n');
        fs.commit(&[PendingWrite {
            path: self.file.clone(),
            contents: text,
            mode: 0o644,
        }])?;
        Ok(out)
    }

    /// Host path of a mount point inside the prefix.
    pub fn host(&self, mount_point: &str) -> PathBuf {
        self.prefix.host_path(mount_point)
    }
}

/// Space figures from statvfs of a host path: (total, free, used) bytes.
pub fn space(path: &Path) -> (u64, u64, u64) {
    let Ok(s) = nix::sys::statvfs::statvfs(path) else {
        return (0, 0, 0);
    };
    let bs = s.fragment_size();
    let total = s.blocks() * bs;
    let free = s.blocks_available() * bs;
    let used = (s.blocks() - s.blocks_free()) * bs;
    (total, free, used)
}

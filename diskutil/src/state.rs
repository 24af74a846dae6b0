//! The virtual APFS container: which volumes exist, their UUIDs and where
//! they are "mounted". Kept in `<prefix>/var/db/darling-nix/diskutil.json`,
//! changed under a lock with prefixfs's crash-safe commit. A volume is only
//! a record: mounting it means its mount point directory exists in the
//! prefix; deleting it never deletes files.

use std::io;
use std::path::{Path, PathBuf};

use prefixfs::{FileSet, Lock, PendingWrite, Prefix};
use serde::{Deserialize, Serialize};

/// The device identifier of the one synthesized APFS container, reported as
/// every volume's `APFSContainerReference` and `ParentWholeDisk`. It is the
/// only container `apfs addVolume` accepts (`disk1` or `/dev/disk1`), and
/// added volumes are its slices `disk1sN`.
pub const CONTAINER: &str = "disk1";
/// The Apple_APFS partition on [`WHOLE_PHYSICAL`] that is reported as the
/// physical store backing [`CONTAINER`].
pub const PHYSICAL_STORE: &str = "disk0s2";
/// The internal whole disk (GUID partition scheme) that `list` reports as
/// holding [`PHYSICAL_STORE`]; `list virtual` leaves it out.
pub const WHOLE_PHYSICAL: &str = "disk0";
/// The device identifier of the prefix's root volume `/`. That volume is not
/// stored in the state file: its space figures come from statvfs of the
/// prefix, and it cannot be unmounted or deleted.
pub const ROOT_DEVICE: &str = "disk1s1";
/// The volume name of the root volume, as on a stock Mac.
pub const ROOT_NAME: &str = "Macintosh HD";

/// A volume made by `apfs addVolume`, as recorded in the state file. It has
/// no storage of its own: `info` reports statvfs numbers of its mount point
/// directory (of the prefix's root while unmounted), and `list` and
/// `apfs list` show it using no space.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Volume {
    /// `disk1sN`, with N the lowest number from 7 that no other added
    /// volume uses. Accepted as a target with or without `/dev/`.
    pub device: String,
    /// The name given to `apfs addVolume` (no `/` or `:`); also accepted as
    /// a target, and the default mount point is `/Volumes/<name>`.
    pub name: String,
    /// Reported as VolumeUUID and APFSVolumeGroupID; random, made when the
    /// volume is added. Targets match it case-insensitively.
    pub uuid: String,
    /// Whether it was added as `Case-sensitive APFS` (`APFSX`): reported as
    /// file system type `apfsx` instead of `apfs`. Only a label; file name
    /// case follows the host file system.
    pub case_sensitive: bool,
    /// The mount point inside the prefix; empty when unmounted.
    pub mount_point: String,
    /// Reported as GlobalPermissionsEnabled, "Owners" in text. True for
    /// every volume added (older state files may hold false until
    /// `enableOwnership`). No file changes.
    pub ownership: bool,
}

/// The virtual container, the contents of `diskutil.json` (pretty-printed
/// JSON). Its UUIDs are random and made with a fresh state; until the first
/// change writes the file, each run reports new ones.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// The APFSContainerUUID of [`CONTAINER`] in `apfs list`.
    pub container_uuid: String,
    /// The VolumeUUID of the root volume ([`ROOT_DEVICE`]).
    pub root_uuid: String,
    /// The DiskUUID of [`PHYSICAL_STORE`] in `list` and `apfs list`.
    pub disk_uuid: String,
    /// The added volumes, oldest first; the root volume is not among them.
    pub volumes: Vec<Volume>,
}

pub use prefixfs::new_uuid;

/// One prefix's state file, `<prefix>/var/db/darling-nix/diskutil.json`,
/// with the lock (`diskutil.lock`) and commit journal (`diskutil.journal`)
/// kept beside it.
pub struct Store {
    /// The prefix the state belongs to; mount points are paths inside it.
    pub prefix: Prefix,
    file: PathBuf,
    lock: PathBuf,
    journal: PathBuf,
}

impl Store {
    /// The store of `prefix`'s state. Nothing on disk is touched until
    /// [`Store::load`] or [`Store::update`].
    pub fn new(prefix: Prefix) -> Store {
        let dir = prefix.state_dir();
        Store {
            file: dir.join("diskutil.json"),
            lock: dir.join("diskutil.lock"),
            journal: dir.join("diskutil.journal"),
            prefix,
        }
    }

    /// Whether the state file, its lock and journal are inside the prefix
    /// once links are followed ([`Prefix::check_inside`]).
    pub fn check_inside(&self) -> Result<(), prefixfs::PrefixError> {
        for p in [&self.file, &self.lock, &self.journal] {
            self.prefix.check_inside(p)?;
        }
        Ok(())
    }

    /// [`Store::host`] of a mount point, refused when it leads out of the
    /// prefix (a link under the prefix, or `/Volumes/SystemRoot/...`).
    pub fn host_inside(&self, mount_point: &str) -> Result<PathBuf, prefixfs::PrefixError> {
        let host = self.host(mount_point);
        self.prefix.check_inside(&host)?;
        Ok(host)
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
        let fs = FileSet::new(&self.journal, [&self.file]);
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
        let fs = FileSet::new(&self.journal, [&self.file]);
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

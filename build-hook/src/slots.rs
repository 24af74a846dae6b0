//! Build slots shared by every hook process on the machine: slot `i` is
//! taken while some process holds an exclusive `flock` on
//! `<state-dir>/slots/<i>.lock`. The kernel drops the lock when that process
//! exits, however it exits, so a killed hook never leaks a slot.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    pub index: u32,
    _file: File,
}

pub fn slots_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("slots")
}

/// Takes the first free slot of `max`, without waiting.
pub fn try_acquire(state_dir: &Path, max: u32) -> io::Result<Option<Slot>> {
    let dir = slots_dir(state_dir);
    fs::create_dir_all(&dir)?;
    for index in 0..max {
        // std opens with O_CLOEXEC, so builders never inherit a slot lock.
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{index}.lock")))?;
        match f.try_lock() {
            Ok(()) => return Ok(Some(Slot { index, _file: f })),
            Err(fs::TryLockError::WouldBlock) => continue,
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    Ok(None)
}

/// How many of the first `max` slots are taken right now (for `--check`).
pub fn busy(state_dir: &Path, max: u32) -> io::Result<u32> {
    let dir = slots_dir(state_dir);
    let mut n = 0;
    for index in 0..max {
        let p = dir.join(format!("{index}.lock"));
        let Ok(f) = File::open(&p) else { continue };
        match f.try_lock_shared() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => n += 1,
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_exclusive_and_freed_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let a = try_acquire(d.path(), 2).unwrap().unwrap();
        let b = try_acquire(d.path(), 2).unwrap().unwrap();
        assert_ne!(a.index, b.index);
        assert!(try_acquire(d.path(), 2).unwrap().is_none());
        assert_eq!(busy(d.path(), 2).unwrap(), 2);
        drop(a);
        assert!(try_acquire(d.path(), 2).unwrap().is_some());
    }
}

//! Build slots shared by every hook process on the machine: slot `i` is
//! taken while some process holds an exclusive `flock` on
//! `<state-dir>/slots/<i>.lock`. The kernel drops the lock when that process
//! exits, however it exits, so a killed hook never leaks a slot.
//!
//! A short queue sits in front of the slots (`<state-dir>/queue/<i>.lock`):
//! Nix retries a postponed build only every `build-poll-interval` seconds
//! (5 by default), so when every slot is busy the next few builds are
//! accepted and wait here for a slot instead, and only the rest are
//! postponed. Builds never run in more than `max-jobs` slots at once.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    /// Its number, from 0 to `max-jobs` − 1: the lock file
    /// `<state-dir>/slots/<index>.lock`.
    pub index: u32,
    _file: File,
}

/// Where the slot lock files are: `<state-dir>/slots`.
pub fn slots_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("slots")
}

/// Takes the first free slot of `max`, without waiting.
pub fn try_acquire(state_dir: &Path, max: u32) -> io::Result<Option<Slot>> {
    // std opens with O_CLOEXEC, so builders never inherit a slot lock.
    Ok(try_lock_in(&slots_dir(state_dir), max)?.map(|(index, f)| Slot { index, _file: f }))
}

/// A place in the queue, held while waiting for a slot.
#[derive(Debug)]
pub struct Ticket {
    /// Its number, from 0 to the queue depth − 1: the lock file
    /// `<state-dir>/queue/<index>.lock`.
    pub index: u32,
    _file: File,
}

/// The answer to "may this build start?".
#[derive(Debug)]
pub enum Admission {
    /// A slot was free and is now held: accept and build at once.
    Run(Slot),
    /// Every slot is busy but a queue place was free: accept, then
    /// [`wait_for_slot`].
    Wait(Ticket),
    /// Slots and queue are all taken: answer `# postpone`.
    Full,
}

fn try_lock_in(dir: &Path, max: u32) -> io::Result<Option<(u32, File)>> {
    fs::create_dir_all(dir)?;
    for index in 0..max {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{index}.lock")))?;
        match f.try_lock() {
            Ok(()) => return Ok(Some((index, f))),
            Err(fs::TryLockError::WouldBlock) => continue,
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    Ok(None)
}

/// A free slot, else a free queue place, else `Full` (postpone).
pub fn admit(state_dir: &Path, max: u32, queue: u32) -> io::Result<Admission> {
    if let Some(slot) = try_acquire(state_dir, max)? {
        return Ok(Admission::Run(slot));
    }
    match try_lock_in(&state_dir.join("queue"), queue)? {
        Some((index, f)) => Ok(Admission::Wait(Ticket { index, _file: f })),
        None => Ok(Admission::Full),
    }
}

/// Waits for a slot while holding a queue ticket; `stop` is polled so a
/// terminated hook gives up. The ticket is released once the slot is held.
pub fn wait_for_slot(
    state_dir: &Path,
    max: u32,
    ticket: Ticket,
    stop: &dyn Fn() -> bool,
) -> io::Result<Option<Slot>> {
    loop {
        if let Some(slot) = try_acquire(state_dir, max)? {
            drop(ticket);
            return Ok(Some(slot));
        }
        if stop() {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
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

    #[test]
    fn queue_admits_a_few_waiters_then_postpones() {
        let d = tempfile::tempdir().unwrap();
        let Admission::Run(s0) = admit(d.path(), 1, 1).unwrap() else {
            panic!()
        };
        let Admission::Wait(t) = admit(d.path(), 1, 1).unwrap() else {
            panic!()
        };
        assert!(matches!(admit(d.path(), 1, 1).unwrap(), Admission::Full));
        let waiter = {
            let p = d.path().to_path_buf();
            std::thread::spawn(move || wait_for_slot(&p, 1, t, &|| false).unwrap().unwrap().index)
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "took a slot that was busy");
        drop(s0);
        assert_eq!(waiter.join().unwrap(), 0);
    }
}

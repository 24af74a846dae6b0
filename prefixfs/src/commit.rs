//! Lock + crash-safe replacement of a set of files.
//!
//! Protocol (writer holds the exclusive lock throughout):
//! 1. write every new file to `<dst>.darling-nix.tmp` (a stale tmp is
//!    removed first and the new one made with `O_CREAT|O_EXCL|O_NOFOLLOW`,
//!    so a planted link is never written through), fsync it;
//! 2. fsync each directory holding a tmp (once per directory);
//! 3. write the journal (the list of tmp -> dst renames) the same way and
//!    rename it into place, fsync its directory: **this rename is the
//!    commit point**;
//! 4. rename every tmp over its dst, fsync the directories;
//! 5. remove the journal.
//!
//! A crash before 3 leaves the old files (stray tmps are ignored and later
//! replaced); a crash after 3 is rolled forward by the next
//! [`FileSet::recover`]. Recovery renames the tmps that are still there and
//! counts a missing one as already renamed. Step 2 is what makes that
//! sound: without it, power loss could keep the journal (its directory was
//! fsynced) but lose a tmp's directory entry (its directory was not), and
//! recovery would mix old and new files. With it, every tmp a durable
//! journal names was durable before the journal existed, so it can only be
//! missing because step 4 renamed it.
//!
//! A journal is only trusted for the files its [`FileSet`] guards: the
//! prefix may be writable by others, and a planted journal must not make a
//! privileged tool rename arbitrary files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use nix::fcntl::OFlag;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TMP_SUFFIX: &str = ".darling-nix.tmp";
const JOURNAL_MAGIC: &[u8] = b"darling-nix journal v1\n";

/// An advisory `flock` held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Take the exclusive lock, creating the lock file if needed.
    pub fn exclusive(path: &Path) -> io::Result<Lock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        // O_NOFOLLOW: a lock file planted as a link must not make us create
        // a file wherever it points.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(path)?;
        file.lock()?;
        Ok(Lock { _file: file })
    }

    /// Take the shared lock if the lock file exists and can be opened; readers
    /// without write access to the state directory read unlocked.
    pub fn shared(path: &Path) -> Option<Lock> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(path)
            .ok()?;
        file.lock_shared().ok()?;
        Some(Lock { _file: file })
    }
}

/// One file of a commit.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    /// The file to replace; its temporary copy is written next to it.
    pub path: PathBuf,
    /// The file's complete new contents.
    pub contents: Vec<u8>,
    /// Its permission bits (`0o644`), set exactly, regardless of the umask.
    pub mode: u32,
}

/// A group of files replaced together, with its journal.
#[derive(Debug, Clone)]
pub struct FileSet {
    journal: PathBuf,
    files: Vec<PathBuf>,
}

impl FileSet {
    /// The set of `files` whose commits are journaled in the file
    /// `journal`; a journal left there marks an interrupted commit
    /// ([`FileSet::needs_recovery`]). Commits and recovery touch only
    /// `files` (and their tmps).
    pub fn new<P: Into<PathBuf>>(
        journal: impl Into<PathBuf>,
        files: impl IntoIterator<Item = P>,
    ) -> FileSet {
        FileSet {
            journal: journal.into(),
            files: files.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `path` is one of the set's files: the same path, or the same
    /// name in the same directory reached another way (a journal written
    /// when the prefix was named through a link).
    fn guards(&self, path: &Path) -> bool {
        let place = |p: &Path| {
            Some((
                fs::canonicalize(p.parent()?).ok()?,
                p.file_name()?.to_owned(),
            ))
        };
        self.files
            .iter()
            .any(|f| f == path || place(f).is_some_and(|a| place(path).is_some_and(|b| a == b)))
    }

    /// A commit was interrupted after its commit point.
    pub fn needs_recovery(&self) -> bool {
        self.journal.exists()
    }

    /// Finish an interrupted commit. The caller holds the exclusive lock.
    pub fn recover(&self) -> io::Result<()> {
        let mut raw = Vec::new();
        match File::open(&self.journal) {
            Ok(mut f) => f.read_to_end(&mut raw)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let invalid = |what: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("journal {}: {what}", self.journal.display()),
            )
        };
        let pairs = parse_journal(&raw).ok_or_else(|| invalid("corrupt".into()))?;
        // Nothing is renamed unless every entry is one of ours.
        for (tmp, dst) in &pairs {
            if *tmp != tmp_path(dst) || !self.guards(dst) {
                return Err(invalid(format!(
                    "names {} -> {}, not a file of this set; refusing to recover",
                    tmp.display(),
                    dst.display()
                )));
            }
        }
        for (tmp, dst) in &pairs {
            match fs::symlink_metadata(tmp) {
                Ok(m) if m.file_type().is_file() => fs::rename(tmp, dst)?,
                Ok(_) => {
                    return Err(invalid(format!(
                        "{} is not a regular file; refusing to recover",
                        tmp.display()
                    )))
                }
                // Already renamed before the crash: commit() fsynced every
                // tmp's directory before the journal existed, so a tmp that
                // a surviving journal names cannot have been lost otherwise.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        sync_parents(pairs.iter().map(|(_, d)| d.as_path()))?;
        fs::remove_file(&self.journal)?;
        sync_parents([self.journal.as_path()])
    }

    /// Replace all `writes` atomically as a set. The caller holds the
    /// exclusive lock and has called [`FileSet::recover`].
    pub fn commit(&self, writes: &[PendingWrite]) -> io::Result<()> {
        if let Some(w) = writes.iter().find(|w| !self.guards(&w.path)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a file of this set", w.path.display()),
            ));
        }
        let mut pairs = Vec::with_capacity(writes.len());
        for w in writes {
            let tmp = tmp_path(&w.path);
            write_synced(&tmp, &w.contents, w.mode)?;
            fault_point();
            pairs.push((tmp, w.path.clone()));
        }
        // The tmps' directory entries are durable before the journal is:
        // recover() relies on it (see the module documentation).
        sync_parents(pairs.iter().map(|(t, _)| t.as_path()))?;
        fault_point();
        let journal_tmp = tmp_path(&self.journal);
        write_synced(&journal_tmp, &encode_journal(&pairs), 0o644)?;
        fault_point();
        fs::rename(&journal_tmp, &self.journal)?;
        sync_parents([self.journal.as_path()])?;
        fault_point();
        for (tmp, dst) in &pairs {
            fs::rename(tmp, dst)?;
            fault_point();
        }
        sync_parents(pairs.iter().map(|(_, d)| d.as_path()))?;
        fs::remove_file(&self.journal)?;
        sync_parents([self.journal.as_path()])
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(TMP_SUFFIX);
    PathBuf::from(s)
}

/// Writes a new file at `path` (a tmp name) and fsyncs it. Whatever is
/// there is removed first (unlink removes a link, not its target) and the
/// file is made with `O_EXCL|O_NOFOLLOW`: if something reappears at the
/// name in between, the open fails instead of writing through it.
fn write_synced(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .mode(mode)
        .open(path)?;
    // The mode given to open() is filtered by the umask; set it exactly.
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.write_all(contents)?;
    f.sync_all()
}

fn sync_parents<'a>(paths: impl IntoIterator<Item = &'a Path>) -> io::Result<()> {
    let mut done: Vec<&Path> = Vec::new();
    for p in paths {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !done.contains(&dir) {
            File::open(dir)?.sync_all()?;
            done.push(dir);
        }
    }
    Ok(())
}

fn encode_journal(pairs: &[(PathBuf, PathBuf)]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = JOURNAL_MAGIC.to_vec();
    for (tmp, dst) in pairs {
        out.extend_from_slice(tmp.as_os_str().as_bytes());
        out.push(0);
        out.extend_from_slice(dst.as_os_str().as_bytes());
        out.push(0);
    }
    out
}

fn parse_journal(raw: &[u8]) -> Option<Vec<(PathBuf, PathBuf)>> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let body = raw.strip_prefix(JOURNAL_MAGIC)?;
    let parts: Vec<&[u8]> = body.split(|b| *b == 0).collect();
    // A well-formed body ends with NUL, so the last split part is empty.
    let (last, items) = parts.split_last()?;
    if !last.is_empty() || items.len() % 2 != 0 {
        return None;
    }
    Some(
        items
            .chunks(2)
            .map(|c| {
                (
                    PathBuf::from(OsStr::from_bytes(c[0])),
                    PathBuf::from(OsStr::from_bytes(c[1])),
                )
            })
            .collect(),
    )
}

/// Test-only fault injection: `PREFIXFS_TEST_STEP_DELAY_US` widens the window
/// between commit steps so that a test can kill a writer inside it.
fn fault_point() {
    static DELAY: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let delay = DELAY.get_or_init(|| {
        std::env::var("PREFIXFS_TEST_STEP_DELAY_US")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(us) = delay {
        std::thread::sleep(Duration::from_micros(*us));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_all_and_sets_modes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "old a").unwrap();
        let set = FileSet::new(dir.path().join("journal"), [&a, &b]);
        set.commit(&[
            PendingWrite {
                path: a.clone(),
                contents: b"new a".to_vec(),
                mode: 0o600,
            },
            PendingWrite {
                path: b.clone(),
                contents: b"new b".to_vec(),
                mode: 0o644,
            },
        ])
        .unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "new b");
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!set.needs_recovery());
        assert!(!tmp_path(&a).exists());
    }

    #[test]
    fn recovery_rolls_forward_a_committed_journal() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "old a").unwrap();
        fs::write(&b, "old b").unwrap();
        // Simulate a crash after the commit point with `a` already renamed.
        fs::write(&a, "new a").unwrap();
        fs::write(tmp_path(&b), "new b").unwrap();
        let journal = dir.path().join("journal");
        fs::write(
            &journal,
            encode_journal(&[(tmp_path(&a), a.clone()), (tmp_path(&b), b.clone())]),
        )
        .unwrap();
        let set = FileSet::new(&journal, [&a, &b]);
        assert!(set.needs_recovery());
        set.recover().unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "new b");
        assert!(!journal.exists());
    }

    #[test]
    fn corrupt_journal_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        fs::write(&journal, b"garbage").unwrap();
        assert!(FileSet::new(&journal, [dir.path().join("a")])
            .recover()
            .is_err());
        assert!(journal.exists());
    }

    /// A journal planted in a prefix that others can write must not make a
    /// privileged tool rename files it does not guard.
    #[test]
    fn recovery_renames_only_the_sets_files() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, victim) = (dir.path().join("ours"), dir.path().join("victim"));
        fs::write(&victim, "precious").unwrap();
        fs::write(tmp_path(&victim), "attacker's").unwrap();
        let journal = dir.path().join("journal");
        let set = FileSet::new(&journal, [&ours]);
        for pairs in [
            vec![(tmp_path(&victim), victim.clone())],
            // A tmp that is not the destination's own tmp name.
            vec![(tmp_path(&victim), ours.clone())],
        ] {
            fs::write(&journal, encode_journal(&pairs)).unwrap();
            assert!(set.recover().is_err());
            assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
            assert!(tmp_path(&victim).exists() && !ours.exists());
        }
        // A set's file whose tmp is a link: not renamed into place.
        fs::remove_file(&journal).unwrap();
        std::os::unix::fs::symlink(&victim, tmp_path(&ours)).unwrap();
        fs::write(&journal, encode_journal(&[(tmp_path(&ours), ours.clone())])).unwrap();
        assert!(set.recover().is_err());
        assert!(fs::symlink_metadata(&ours).is_err());
        // The same file named through a link to its directory is ours.
        fs::remove_file(tmp_path(&ours)).unwrap();
        fs::write(tmp_path(&ours), "new").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("alias")).unwrap();
        let via = dir.path().join("alias/ours");
        fs::write(&journal, encode_journal(&[(tmp_path(&via), via.clone())])).unwrap();
        set.recover().unwrap();
        assert_eq!(fs::read_to_string(&ours).unwrap(), "new");
    }

    #[test]
    fn commit_refuses_files_outside_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let set = FileSet::new(dir.path().join("journal"), [dir.path().join("a")]);
        let w = PendingWrite {
            path: dir.path().join("b"),
            contents: b"x".to_vec(),
            mode: 0o644,
        };
        assert!(set.commit(&[w]).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// A `<file>.darling-nix.tmp` planted as a link (to a file, or dangling)
    /// is replaced, never written through; so is a planted lock link.
    #[test]
    fn planted_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, "outside").unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::os::unix::fs::symlink(&outside, tmp_path(&a)).unwrap();
        let dangling = dir.path().join("nowhere");
        std::os::unix::fs::symlink(&dangling, tmp_path(&b)).unwrap();
        let journal = dir.path().join("journal");
        std::os::unix::fs::symlink(&outside, tmp_path(&journal)).unwrap();
        let set = FileSet::new(&journal, [&a, &b]);
        let w = |path: &Path| PendingWrite {
            path: path.to_path_buf(),
            contents: b"new".to_vec(),
            mode: 0o644,
        };
        set.commit(&[w(&a), w(&b)]).unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "outside");
        assert!(!dangling.exists());
        for p in [&a, &b] {
            assert!(fs::symlink_metadata(p).unwrap().file_type().is_file());
            assert_eq!(fs::read_to_string(p).unwrap(), "new");
        }
        std::os::unix::fs::symlink(&outside, tmp_path(&a)).unwrap();
        write_atomic(&a, b"again", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "outside");
        assert_eq!(fs::read_to_string(&a).unwrap(), "again");

        let lock = dir.path().join("lock");
        std::os::unix::fs::symlink(&dangling, &lock).unwrap();
        assert!(Lock::exclusive(&lock).is_err());
        assert!(Lock::shared(&lock).is_none());
        assert!(!dangling.exists());
    }

    #[test]
    fn journal_round_trip() {
        let pairs = vec![(PathBuf::from("/x/a.tmp"), PathBuf::from("/x/a"))];
        assert_eq!(parse_journal(&encode_journal(&pairs)).unwrap(), pairs);
        assert!(parse_journal(&encode_journal(&pairs)[..30]).is_none());
    }
}

/// Replaces one file atomically: write a temporary file next to it, fsync,
/// rename over, fsync the directory. A crash leaves the old or the new
/// contents. (For several files that must change together, use [`FileSet`].)
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let tmp = tmp_path(path);
    let r = write_synced(&tmp, contents, mode)
        .and_then(|()| fs::rename(&tmp, path))
        .and_then(|()| sync_parents([path]));
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod write_atomic_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_with_the_exact_mode_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/f");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o755).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(fs::read_dir(d.path().join("sub")).unwrap().count(), 1);
    }
}

//! Registration without starting Nix: the rows Nix's own registration of a
//! built output writes (`ValidPaths`, `Refs`), in one transaction in the
//! store's SQLite database, under the same shared "big lock" every Nix
//! process holds (an exclusive holder is upgrading the schema), taken
//! before anything else is read, as Nix does. The database is opened with
//! the SQLite VFS Nix uses for it: `unix-dotfile` locking when
//! `use-sqlite-wal = false` (NFS, WSL1), whose locks the default VFS would
//! not see. A schema or a recorded migration this code does not know is
//! refused, so the caller falls back to Nix's own registration.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{hex, Built, StoreError, StoreLoc};

/// The schema every Nix from 2.0 to 2.35 uses (`db/schema`).
pub const SCHEMA: &str = "10";

/// Migrations Nix records in `SchemaMigrations` that leave `ValidPaths`
/// and `Refs` as this code writes them (ca-derivations adds tables of its
/// own).
const KNOWN_MIGRATIONS: &[&str] = &["20220326-ca-derivations"];

/// How long to wait for another writer (Nix retries for ever; a stuck
/// writer is better reported than waited on).
const BUSY: Duration = Duration::from_secs(60);

/// Why [`check_migrations`] or [`check_acyclic`] refused the registration;
/// [`register`] puts its text in [`StoreError::Db`].
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// Reading `SchemaMigrations` failed.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration not in [`KNOWN_MIGRATIONS`]; holds its name.
    #[error("the database records schema migration `{0}`, unknown here")]
    UnknownMigration(String),
    /// The outputs' references form a cycle through this path.
    #[error("cycle detected in the references of '{0}'")]
    Cycle(String),
}

fn err(db: &Path, msg: impl std::fmt::Display) -> StoreError {
    StoreError::Db {
        db: db.display().to_string(),
        msg: msg.to_string(),
    }
}

/// Refuses a database carrying a migration not known here (Nix 2.2x and
/// later record them in `SchemaMigrations`; older ones have no table).
fn check_migrations(tx: &rusqlite::Transaction) -> Result<(), Refusal> {
    let has_table: bool = tx
        .query_row(
            "select count(*) from sqlite_master where type = 'table' and name = 'SchemaMigrations'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)?;
    if !has_table {
        return Ok(());
    }
    let mut stmt = tx.prepare("select migration from SchemaMigrations")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for name in names {
        let name = name?;
        if !KNOWN_MIGRATIONS.contains(&name.as_str()) {
            return Err(Refusal::UnknownMigration(name));
        }
    }
    Ok(())
}

/// Paths the outputs refer to among themselves must not form a cycle
/// (Nix rolls the registration back then, too).
fn check_acyclic(outputs: &[Built]) -> Result<(), Refusal> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        p: &'a str,
        all: &BTreeMap<&'a str, &'a Built>,
        marks: &mut BTreeMap<&'a str, Mark>,
    ) -> Result<(), Refusal> {
        match marks.get(p) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => return Err(Refusal::Cycle(p.to_string())),
            None => {}
        }
        marks.insert(p, Mark::Visiting);
        for r in &all[p].info.references {
            if r != p && all.contains_key(r.as_str()) {
                visit(r, all, marks)?;
            }
        }
        marks.insert(p, Mark::Done);
        Ok(())
    }
    let all: BTreeMap<&str, &Built> = outputs.iter().map(|b| (b.path.as_str(), b)).collect();
    let mut marks = BTreeMap::new();
    for p in all.keys() {
        visit(p, &all, &mut marks)?;
    }
    Ok(())
}

/// Registers `outputs` (built by `deriver`) as valid. Errors leave the
/// database unchanged. `wal` is Nix's `use-sqlite-wal` (true unless set).
pub fn register(
    loc: &StoreLoc,
    outputs: &[Built],
    deriver: &str,
    wal: bool,
) -> Result<(), StoreError> {
    let dir = loc.state_dir.join("db");
    let db_file = dir.join("db.sqlite");
    // Shared, as every Nix process holds it; never wait behind an upgrade.
    // Taken first: an upgrade changes the schema file under it.
    let lock_file = File::options()
        .read(true)
        .write(true)
        .open(dir.join("big-lock"))
        .map_err(|e| err(&db_file, format!("opening big-lock: {e}")))?;
    let _big_lock = Flock::lock(lock_file, FlockArg::LockSharedNonblock)
        .map_err(|(_, e)| err(&db_file, format!("the big lock is held exclusively: {e}")))?;
    let schema = std::fs::read_to_string(dir.join("schema"))
        .map_err(|e| err(&db_file, format!("reading the schema version: {e}")))?;
    if schema.trim() != SCHEMA {
        return Err(err(
            &db_file,
            format!("schema version {} is not {SCHEMA}", schema.trim()),
        ));
    }
    check_acyclic(outputs).map_err(|e| err(&db_file, e))?;

    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = if wal {
        Connection::open_with_flags(&db_file, flags)
    } else {
        Connection::open_with_flags_and_vfs(&db_file, flags, "unix-dotfile")
    }
    .map_err(|e| err(&db_file, e))?;
    conn.busy_timeout(BUSY).map_err(|e| err(&db_file, e))?;
    // As Nix itself (fsync-metadata = true): the WAL is synced at
    // checkpoints; foreign keys keep Refs consistent.
    conn.execute_batch("pragma synchronous = normal; pragma foreign_keys = 1;")
        .map_err(|e| err(&db_file, e))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| err(&db_file, e))?;
    check_migrations(&tx).map_err(|e| err(&db_file, e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let id_of = |tx: &rusqlite::Transaction, p: &str| -> Result<Option<i64>, StoreError> {
        tx.query_row("select id from ValidPaths where path = ?", [p], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| err(&db_file, e))
    };
    for b in outputs {
        let hash = format!("sha256:{}", hex(&b.info.nar_sha256));
        let size = (b.info.nar_size != 0).then_some(b.info.nar_size as i64);
        let deriver = (!deriver.is_empty()).then_some(deriver);
        let ca = b.ca.as_deref();
        let sigs = (!b.sigs.is_empty()).then(|| b.sigs.join(" "));
        if id_of(&tx, &b.path)?.is_some() {
            tx.execute(
                "update ValidPaths set narSize = ?, hash = ?, ultimate = 1, sigs = ?, ca = ? where path = ?",
                rusqlite::params![size, hash, sigs, ca, b.path],
            )
        } else {
            tx.execute(
                "insert into ValidPaths (path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca) values (?, ?, ?, ?, ?, 1, ?, ?)",
                rusqlite::params![b.path, hash, now, deriver, size, sigs, ca],
            )
        }
        .map_err(|e| err(&db_file, e))?;
    }
    for b in outputs {
        let referrer = id_of(&tx, &b.path)?.expect("inserted above");
        for r in &b.info.references {
            let reference = id_of(&tx, r)?.ok_or_else(|| {
                err(
                    &db_file,
                    format!("'{}' refers to '{r}', which is not valid", b.path),
                )
            })?;
            tx.execute(
                "insert or replace into Refs (referrer, reference) values (?, ?)",
                [referrer, reference],
            )
            .map_err(|e| err(&db_file, e))?;
        }
    }
    tx.commit().map_err(|e| err(&db_file, e))
}

/// A read-only connection to Nix's database, from [`open_read_only`]. When
/// it reads a private copy, the copy lives as long as this value.
pub struct ReadOnlyDb {
    conn: rusqlite::Connection,
    _copy: Option<tempfile::TempDir>,
}

impl std::ops::Deref for ReadOnlyDb {
    type Target = rusqlite::Connection;
    fn deref(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

/// Opens Nix's database without writing anything next to it. A read-only
/// SQLite connection to a WAL database still creates `-wal` and `-shm`
/// files, and a reader changes `-shm`. With no `-wal`, or an empty one,
/// everything is checkpointed: the file alone is the whole database and is
/// read as immutable. A non-empty `-wal` (Nix is writing, or crashed while
/// writing) is read through SQLite's WAL files: in place when Nix's `-shm`
/// is there, else from a private copy of the database and its `-wal`
/// (SQLite would create the `-shm` next to the database).
pub fn open_read_only(db: &Path) -> rusqlite::Result<ReadOnlyDb> {
    use rusqlite::OpenFlags as F;
    let flags = F::SQLITE_OPEN_READ_ONLY | F::SQLITE_OPEN_NO_MUTEX | F::SQLITE_OPEN_URI;
    let beside = |suffix: &str| {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    let wal = beside("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        if beside("-shm").exists() {
            let conn = rusqlite::Connection::open_with_flags(db, flags & !F::SQLITE_OPEN_URI)?;
            return Ok(ReadOnlyDb { conn, _copy: None });
        }
        let cant_open = |what: &Path, e: std::io::Error| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("copying {} to read it: {e}", what.display())),
            )
        };
        let copy = tempfile::tempdir().map_err(|e| cant_open(db, e))?;
        let to = copy.path().join("db.sqlite");
        std::fs::copy(db, &to).map_err(|e| cant_open(db, e))?;
        std::fs::copy(&wal, copy.path().join("db.sqlite-wal")).map_err(|e| cant_open(&wal, e))?;
        let conn = rusqlite::Connection::open_with_flags(&to, flags & !F::SQLITE_OPEN_URI)?;
        return Ok(ReadOnlyDb {
            conn,
            _copy: Some(copy),
        });
    }
    // A URI path: percent-encode everything but unreserved characters.
    let mut uri = String::from("file:");
    for b in db.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(b) {
            uri.push(*b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    let conn = rusqlite::Connection::open_with_flags(uri, flags)?;
    Ok(ReadOnlyDb { conn, _copy: None })
}

/// Which of `paths` the store's database records as valid, read through
/// [`open_read_only`] (nothing is written, no lock taken). Nix holds the
/// locks of the paths a build asks about, so their rows cannot change
/// while this reads them.
pub fn valid_paths(loc: &StoreLoc, paths: &[&str]) -> Result<BTreeSet<String>, StoreError> {
    let db_file = loc.state_dir.join("db/db.sqlite");
    let conn = open_read_only(&db_file).map_err(|e| read_err(&db_file, e))?;
    let mut stmt = conn
        .prepare("select 1 from ValidPaths where path = ?")
        .map_err(|e| read_err(&db_file, e))?;
    let mut valid = BTreeSet::new();
    for p in paths {
        if stmt.exists([p]).map_err(|e| read_err(&db_file, e))? {
            valid.insert(p.to_string());
        }
    }
    Ok(valid)
}

fn read_err(db: &Path, msg: impl std::fmt::Display) -> StoreError {
    StoreError::DbRead {
        db: db.display().to_string(),
        msg: msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nar::PathInfo;
    use std::fs;

    fn built(p: &str, refs: &[&str]) -> Built {
        Built {
            path: p.into(),
            info: PathInfo {
                nar_sha256: [0; 32],
                nar_size: 8,
                references: refs.iter().map(|s| s.to_string()).collect(),
            },
            ca: None,
            sigs: Vec::new(),
        }
    }

    fn store(schema: &str) -> (tempfile::TempDir, StoreLoc) {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("nix/var/nix/db");
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(db.join("schema"), schema).unwrap();
        std::fs::write(db.join("big-lock"), "").unwrap();
        let loc = StoreLoc::from_setting(Some(d.path().to_str().unwrap())).unwrap();
        (d, loc)
    }

    /// A database with a non-empty `-wal` and no `-shm` (what a Nix that
    /// crashed while writing leaves): read whole, WAL included, and no
    /// `-shm` appears next to it while open or after.
    #[test]
    fn a_wal_without_shm_is_read_from_a_copy() {
        let d = tempfile::tempdir().unwrap();
        let live = d.path().join("live");
        let prefix = d.path().join("prefix");
        fs::create_dir_all(&live).unwrap();
        fs::create_dir_all(&prefix).unwrap();
        let w = Connection::open(live.join("db.sqlite")).unwrap();
        w.query_row("PRAGMA journal_mode = wal", [], |_| Ok(()))
            .unwrap();
        w.execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE ValidPaths (path TEXT);
             INSERT INTO ValidPaths VALUES ('/nix/store/x');",
        )
        .unwrap();
        for f in ["db.sqlite", "db.sqlite-wal"] {
            fs::copy(live.join(f), prefix.join(f)).unwrap();
        }
        drop(w);
        assert!(fs::metadata(prefix.join("db.sqlite-wal")).unwrap().len() > 0);
        let names = || {
            let mut v: Vec<String> = fs::read_dir(&prefix)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let before = names();
        let c = open_read_only(&prefix.join("db.sqlite")).unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM ValidPaths", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "the row in the WAL is read");
        assert_eq!(names(), before, "nothing made next to the database");
        drop(c);
        assert_eq!(names(), before);
    }

    #[test]
    fn valid_paths_reads_the_database_and_writes_nothing() {
        let (d, loc) = store("10");
        let db = d.path().join("nix/var/nix/db");
        let conn = Connection::open(db.join("db.sqlite")).unwrap();
        conn.execute_batch(
            "create table ValidPaths (id integer primary key autoincrement not null, path text unique not null);
             insert into ValidPaths (path) values ('/nix/store/a-x');",
        )
        .unwrap();
        drop(conn);
        let before: Vec<_> = std::fs::read_dir(&db)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        let valid = valid_paths(&loc, &["/nix/store/a-x", "/nix/store/b-y"]).unwrap();
        assert_eq!(valid.into_iter().collect::<Vec<_>>(), ["/nix/store/a-x"]);
        let after: Vec<_> = std::fs::read_dir(&db)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn without_a_database_an_existing_path_counts_as_valid() {
        let (d, loc) = store("10");
        let e = valid_paths(&loc, &["/nix/store/a-x"]).unwrap_err();
        assert!(
            e.to_string().starts_with("reading the store database"),
            "{e}"
        );
        std::fs::create_dir_all(d.path().join("nix/store/a-x")).unwrap();
        let (valid, why) = super::super::known_valid(&loc, &["/nix/store/a-x", "/nix/store/b-y"]);
        assert_eq!(valid.into_iter().collect::<Vec<_>>(), ["/nix/store/a-x"]);
        assert!(why.is_some());
    }

    #[test]
    fn refuses_another_schema_version() {
        let (_d, loc) = store("11");
        let e = register(&loc, &[built("/nix/store/a-x", &[])], "", true).unwrap_err();
        assert!(e.to_string().contains("schema version 11 is not 10"), "{e}");
    }

    #[test]
    fn never_waits_behind_an_exclusive_big_lock() {
        let (d, loc) = store("10");
        let f = File::open(d.path().join("nix/var/nix/db/big-lock")).unwrap();
        let _held = Flock::lock(f, FlockArg::LockExclusiveNonblock).unwrap();
        let t = std::time::Instant::now();
        let e = register(&loc, &[built("/nix/store/a-x", &[])], "", true).unwrap_err();
        assert!(e.to_string().contains("held exclusively"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn cycles_between_outputs_are_refused() {
        let ok = [built("/s/a", &["/s/a", "/s/b"]), built("/s/b", &["/s/in"])];
        assert!(check_acyclic(&ok).is_ok());
        let cyclic = [built("/s/a", &["/s/b"]), built("/s/b", &["/s/a"])];
        let e = check_acyclic(&cyclic).unwrap_err();
        assert!(matches!(e, Refusal::Cycle(_)), "{e}");
        assert_eq!(e.to_string(), "cycle detected in the references of '/s/a'");
    }

    #[test]
    fn unknown_migrations_are_refused_by_name() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        // Nix before 2.2x: no table, nothing to refuse.
        assert!(check_migrations(&tx).is_ok());
        tx.execute_batch(
            "create table SchemaMigrations (migration text primary key not null);
             insert into SchemaMigrations values ('20220326-ca-derivations');",
        )
        .unwrap();
        assert!(check_migrations(&tx).is_ok());
        tx.execute("insert into SchemaMigrations values ('29990101-x')", [])
            .unwrap();
        assert_eq!(
            check_migrations(&tx).unwrap_err().to_string(),
            "the database records schema migration `29990101-x`, unknown here"
        );
    }
}

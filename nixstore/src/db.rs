//! A store's SQLite database, opened read-only without disturbing Nix.

use std::path::Path;

/// Opens Nix's database without writing anything next to it. A read-only
/// SQLite connection to a WAL database still creates `-wal` and `-shm`
/// files, and a reader changes `-shm`. With no `-wal`, or an empty one,
/// everything is checkpointed: the file alone is the whole database and is
/// read as immutable. Only a non-empty `-wal` (Nix is writing, or crashed
/// while writing) is read through SQLite's WAL files.
pub fn open_read_only(db: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags as F;
    let flags = F::SQLITE_OPEN_READ_ONLY | F::SQLITE_OPEN_NO_MUTEX | F::SQLITE_OPEN_URI;
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return rusqlite::Connection::open_with_flags(db, flags & !F::SQLITE_OPEN_URI);
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
    rusqlite::Connection::open_with_flags(uri, flags)
}

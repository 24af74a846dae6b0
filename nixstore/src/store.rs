//! The store Nix builds into (from the `store` setting), and registering
//! finished outputs in it without tripping over Nix's output locks.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::nar::{self, NarDigest, PathInfo};
use crate::refs::RefScanner;
use crate::wire::WireWriter;

/// How outputs are registered (build-hook's `register` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Register {
    /// [`Register::Db`] when the store's database can be used, else
    /// `--import` with NIX_HELD_LOCKS for Nix before 2.29 and for Lix,
    /// `--register-validity` for Nix 2.29 and later.
    Auto,
    /// Write the rows Nix's registration writes into the store database
    /// directly (no Nix process per build).
    Db,
    /// `nix-store --import` of an export stream, with `NIX_HELD_LOCKS`
    /// naming the outputs whose locks Nix holds; refused for Nix (not Lix)
    /// 2.29 and later, which ignores that variable and would wait for ever.
    Import,
    /// `nix-store --register-validity --hash-given`, which takes no path
    /// locks.
    RegisterValidity,
}

pub mod db;

/// Where logical store paths really live, from Nix's `store` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLoc {
    /// What to pass to `nix-store --store` for the same local store
    /// (None: the default local store).
    pub cli: Option<String>,
    /// Host directory the store is rooted at (`/`, or a chroot store's
    /// directory).
    pub root: PathBuf,
    /// The logical store directory (`/nix/store`).
    pub store_dir: String,
    /// Where the logical store directory really is.
    pub real_store: PathBuf,
    /// Nix's state directory of this store (the database is in `db/`).
    pub state_dir: PathBuf,
}

/// Why the store could not be located, or outputs not registered in it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `store` setting names a store that is not a local one (ssh,
    /// binary cache, …); holds the setting.
    #[error("store `{0}` (Nix's `store` setting) is not a local store; the hook must run where the store's files are: set `store` to `auto`, `local`, a directory or `local?root=DIR` for the Nix that runs the hook")]
    NotLocal(String),
    /// The `store` setting names a daemon at a socket other than this
    /// machine's default one; holds the setting.
    #[error("store `{0}` (Nix's `store` setting) is a Nix daemon at a socket other than this machine's default one, so the hook cannot tell where its files are: set `store` to that daemon's own store (`local`, a directory or `local?root=DIR`)")]
    OtherDaemon(String),
    /// A local store setting that cannot be used: the setting, and why
    /// (such as a relative path).
    #[error("store `{0}` (Nix's `store` setting): {1}; set `store` to `auto`, `local`, an absolute directory or `local?root=DIR`")]
    BadLocal(String, String),
    /// An I/O error: starting or feeding a `nix-store` process, or reading
    /// an output to export it.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A `nix-store` run failed, or printed no version we could read.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command, as shown in the message.
        cmd: String,
        /// Its exit status, as printed (`exit status: 1`).
        status: String,
        /// Its standard error, trimmed (for `--version`, also what could
        /// not be parsed).
        stderr: String,
    },
    /// `register = "import"` was asked of a Nix that ignores
    /// `NIX_HELD_LOCKS` (Nix 2.29 or later); holds its major and minor
    /// version.
    #[error("`register = \"import\"` cannot work with Nix {0}.{1}: it ignores NIX_HELD_LOCKS, so the import would wait for ever on the output locks Nix holds; set `register = \"auto\"`")]
    ImportDeadlocks(u32, u32),
    /// A path that is not `<store dir>/<32 nix-base32 characters>-<name>`
    /// with a name Nix allows; holds the path and what is wrong with it.
    #[error("`{0}` is not a store path of this store: {1}")]
    BadPath(String, &'static str),
    /// The database route failed or was refused; the database was left
    /// unchanged.
    #[error("writing the store database {db}: {msg}")]
    Db {
        /// The database file (`<state dir>/db/db.sqlite`).
        db: String,
        /// What went wrong.
        msg: String,
    },
    /// Reading which paths are valid from the store database failed.
    #[error("reading the store database {db}: {msg}")]
    DbRead {
        /// The database file (`<state dir>/db/db.sqlite`).
        db: String,
        /// What went wrong.
        msg: String,
    },
}

/// Undoes `%XX` escapes (Nix percent-encodes store URLs it prints).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && s.is_char_boundary(i + 3) {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The default state directory of the machine's own store.
fn default_state_dir() -> PathBuf {
    std::env::var_os("NIX_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/nix/var/nix"))
}

/// The socket of the machine's own daemon (what `daemon` connects to).
fn default_socket() -> PathBuf {
    std::env::var_os("NIX_DAEMON_SOCKET_PATH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| default_state_dir().join("daemon-socket/socket"))
}

impl StoreLoc {
    /// Interprets the `store` setting in every form Nix writes for a local
    /// store: `auto`, `local`, `local?root=DIR`, `local:///DIR`,
    /// `local://?root=DIR`, a bare directory (chroot store), each with
    /// query parameters; `daemon` and `unix://` at the default socket mean
    /// this machine's store.
    pub fn from_setting(store: Option<&str>) -> Result<StoreLoc, StoreError> {
        let setting = store.map(str::trim).filter(|s| !s.is_empty());
        let s = setting.unwrap_or("auto");
        let (base, query) = s.split_once('?').unwrap_or((s, ""));
        let params: Vec<(String, String)> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let param = |k: &str| {
            params
                .iter()
                .rev()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let bad = |why: &str| StoreError::BadLocal(s.to_string(), why.to_string());
        // (root, what nix-store --store gets)
        let (root, cli): (PathBuf, Option<String>) = if base == "auto" || base == "local" {
            // `auto` is the local store for the root (or store-owning)
            // user the hook runs as; spell it `local` so a sub-command
            // never goes through the daemon (whose worker would wait on
            // the locks our parent holds).
            let root = param("root").map(PathBuf::from);
            let cli = if setting.is_none() {
                None
            } else {
                Some(format!("local{}", s.strip_prefix(base).unwrap_or("")))
            };
            (root.unwrap_or_else(|| PathBuf::from("/")), cli)
        } else if let Some(path) = base.strip_prefix("local://") {
            let path = percent_decode(path);
            let root = if path.is_empty() {
                param("root").unwrap_or_else(|| "/".into())
            } else {
                path
            };
            (PathBuf::from(root), Some(s.to_string()))
        } else if base.starts_with('/') {
            (PathBuf::from(percent_decode(base)), Some(s.to_string()))
        } else if base == "daemon" || base == "unix" || base.starts_with("unix://") {
            let socket = base.strip_prefix("unix://").unwrap_or("");
            let socket = percent_decode(socket);
            if !socket.is_empty() && Path::new(&socket) != default_socket() {
                return Err(StoreError::OtherDaemon(s.to_string()));
            }
            (PathBuf::from("/"), Some("local".into()))
        } else if base.starts_with("./") || base.starts_with("../") || base == "." {
            return Err(bad("a store directory must be an absolute path"));
        } else {
            return Err(StoreError::NotLocal(s.to_string()));
        };
        if !root.is_absolute() {
            return Err(bad("the store's root must be an absolute path"));
        }
        let store_dir = param("store")
            .or_else(|| {
                std::env::var("NIX_STORE_DIR")
                    .ok()
                    .filter(|v| !v.is_empty())
            })
            .unwrap_or_else(|| "/nix/store".into());
        if !store_dir.starts_with('/') {
            return Err(bad("the logical store directory must be absolute"));
        }
        let real_store = param("real")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(store_dir.trim_start_matches('/')));
        let state_dir = param("state").map(PathBuf::from).unwrap_or_else(|| {
            if root == Path::new("/") {
                default_state_dir()
            } else {
                root.join("nix/var/nix")
            }
        });
        Ok(StoreLoc {
            cli,
            root,
            store_dir: store_dir.trim_end_matches('/').to_string(),
            real_store,
            state_dir,
        })
    }

    /// Checks that `logical` is a store path of this store, as Nix's own
    /// parser would accept it: the store directory, then one component of
    /// a 32-character nix-base32 hash, `-` and a name of at most 211
    /// characters from `A-Za-z0-9+-._?=`. Such a path cannot climb out of
    /// the store, so [`StoreLoc::real`] of it stays inside.
    pub fn check(&self, logical: &str) -> Result<(), StoreError> {
        let bad = |why| Err(StoreError::BadPath(logical.to_string(), why));
        let Some(base) = logical
            .strip_prefix(self.store_dir.as_str())
            .and_then(|r| r.strip_prefix('/'))
        else {
            return bad("it is not in the store directory");
        };
        let (hash, name) = match (base.get(..32), base.get(32..)) {
            (Some(h), Some(n)) => (h, n),
            _ => return bad("too short"),
        };
        if !hash.bytes().all(|c| crate::base32::ALPHABET.contains(&c)) {
            return bad("its hash part is not nix-base32");
        }
        let Some(name) = name.strip_prefix('-') else {
            return bad("no `-` after the hash part");
        };
        if name.is_empty() || name.len() > 211 {
            return bad("its name is empty or longer than 211 characters");
        }
        let allowed = |c: u8| c.is_ascii_alphanumeric() || b"+-._?=".contains(&c);
        if !name.bytes().all(allowed) {
            return bad("its name has a character Nix does not allow");
        }
        Ok(())
    }

    /// The host path of a logical store path.
    pub fn real(&self, logical: &str) -> PathBuf {
        match logical
            .strip_prefix(self.store_dir.as_str())
            .and_then(|r| r.strip_prefix('/'))
        {
            Some(rest) => self.real_store.join(rest),
            None => self.root.join(logical.trim_start_matches('/')),
        }
    }
}

/// A Nix release as printed by `nix-store --version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixVersion {
    /// Whether it is Lix rather than Nix (Lix numbers its releases 2.90
    /// and up, and still honours `NIX_HELD_LOCKS`).
    pub lix: bool,
    /// The major version (2 in 2.29.1).
    pub major: u32,
    /// The minor version (29 in 2.29.1).
    pub minor: u32,
}

impl NixVersion {
    /// Reads the last word of the first line of `text` (`nix-store (Nix)
    /// 2.8.0`) as `MAJOR.MINOR…`; `None` if it is not one, or if the line
    /// does not name Nix or Lix in parentheses (`true (GNU coreutils) 9.1`
    /// is not a Nix).
    pub fn parse(text: &str) -> Option<NixVersion> {
        let line = text.lines().next()?;
        let product = line.split_once('(')?.1.split_once(')')?.0;
        if !product.contains("Nix") && !product.contains("Lix") {
            return None;
        }
        let lix = product.contains("Lix");
        let ver = line.split_whitespace().last()?;
        let mut it = ver.split(|c: char| !c.is_ascii_digit());
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some(NixVersion { lix, major, minor })
    }

    /// Whether `--import` with NIX_HELD_LOCKS avoids the output-lock
    /// deadlock (Nix before 2.29 and Lix still read the variable).
    pub fn honours_held_locks(&self) -> bool {
        self.lix || (self.major, self.minor) < (2, 29)
    }
}

/// Finds `nix-store` from the same Nix as the process that started us:
/// mixing versions can start a database migration under a running daemon.
pub fn find_nix_store(configured: Option<&Path>) -> PathBuf {
    if let Some(p) = configured {
        return p.to_path_buf();
    }
    let ppid = nix::unistd::getppid();
    if let Ok(exe) = std::fs::read_link(format!("/proc/{ppid}/exe")) {
        if let Some(dir) = exe.parent() {
            let p = dir.join("nix-store");
            if p.exists() {
                return p;
            }
        }
    }
    which::which("nix-store").unwrap_or_else(|_| PathBuf::from("nix-store"))
}

/// Runs `nix-store --version`; the parsed version and its first line.
fn ask_version(nix_store: &Path) -> Result<(NixVersion, String), StoreError> {
    let out = duct::cmd(nix_store, ["--version"])
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").to_string();
    match NixVersion::parse(&first) {
        Some(v) if out.status.success() => Ok((v, first)),
        _ => Err(StoreError::Command {
            cmd: format!("{} --version", nix_store.display()),
            status: out.status.to_string(),
            stderr: format!(
                "cannot parse a version from {first:?} {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }),
    }
}

/// Runs `nix_store --version`; fails if it exits non-zero or prints no
/// version [`NixVersion::parse`] can read.
pub fn nix_version(nix_store: &Path) -> Result<NixVersion, StoreError> {
    ask_version(nix_store).map(|(v, _)| v)
}

/// [`nix_version`], remembered in `cache_dir` per binary (path, size and
/// mtime), so a build does not pay for starting Nix once more just to ask.
pub fn nix_version_cached(nix_store: &Path, cache_dir: &Path) -> Result<NixVersion, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let real = if nix_store.components().count() > 1 {
        std::fs::canonicalize(nix_store).ok()
    } else {
        which::which(nix_store)
            .ok()
            .and_then(|p| std::fs::canonicalize(p).ok())
    };
    let Some(meta) = real
        .as_ref()
        .and_then(|r| std::fs::metadata(r).ok().map(|m| (r, m)))
    else {
        return nix_version(nix_store);
    };
    let (real, meta) = meta;
    let key = format!("{}\t{}\t{}", real.display(), meta.size(), meta.mtime());
    let file = cache_dir.join("nix-version");
    if let Ok(text) = std::fs::read_to_string(&file) {
        if let Some((k, v)) = text.split_once('\n') {
            if k == key {
                if let Some(v) = NixVersion::parse(v) {
                    return Ok(v);
                }
            }
        }
    }
    let (v, first) = ask_version(nix_store)?;
    // Best effort: a missing cache only costs a re-run next time.
    let _ = prefixfs::write_atomic(&file, format!("{key}\n{first}").as_bytes(), 0o644);
    Ok(v)
}

/// Which of `paths` are valid in the store, as far as can be told without
/// writing anything: the database read-only ([`db::valid_paths`]). When it
/// cannot be read, every path that exists on disk counts as valid (a valid
/// path is never taken for a leftover), and the error says why.
pub fn known_valid(loc: &StoreLoc, paths: &[&str]) -> (BTreeSet<String>, Option<StoreError>) {
    match db::valid_paths(loc, paths) {
        Ok(valid) => (valid, None),
        Err(e) => {
            let present = paths
                .iter()
                .filter(|p| std::fs::symlink_metadata(loc.real(p)).is_ok())
                .map(|p| p.to_string())
                .collect();
            (present, Some(e))
        }
    }
}

/// One output ready to register.
#[derive(Debug, Clone)]
pub struct Built {
    /// The output's logical store path.
    pub path: String,
    /// Its NAR hash and size, and the store paths it refers to.
    pub info: PathInfo,
    /// Nix's content address of a fixed output (`fixed:r:sha256:<nix32>`,
    /// `fixed:sha256:<nix32>`); None for input-addressed ones.
    pub ca: Option<String>,
    /// Signatures made with Nix's `secret-key-files` (the database route
    /// records them).
    pub sigs: Vec<String>,
}

/// Orders outputs so that every output comes after those it refers to
/// (`--import` adds paths one by one and checks references).
pub fn topo_order(outputs: &[Built]) -> Vec<&Built> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    fn visit<'a>(
        b: &'a Built,
        all: &'a [Built],
        done: &mut BTreeSet<&'a str>,
        order: &mut Vec<&'a Built>,
        depth: usize,
    ) {
        if done.contains(b.path.as_str()) || depth > all.len() {
            return;
        }
        done.insert(&b.path);
        for r in &b.info.references {
            if let Some(dep) = all.iter().find(|o| o.path == *r && o.path != b.path) {
                visit(dep, all, done, order, depth + 1);
            }
        }
        order.push(b);
    }
    for b in outputs {
        visit(b, outputs, &mut done, &mut order, 0);
    }
    order
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `nix-store [--store S] ARGS` with stdout discarded and stderr kept for
/// the error message.
fn nix_store_cmd(nix_store: &Path, loc: &StoreLoc, args: &[&str]) -> duct::Expression {
    let mut argv: Vec<&str> = Vec::new();
    if let Some(u) = &loc.cli {
        argv.extend(["--store", u.as_str()]);
    }
    argv.extend(args);
    duct::cmd(nix_store, argv)
        .stdout_null()
        .stderr_capture()
        .unchecked()
}

fn finish(out: std::process::Output, cmd: &str) -> Result<(), StoreError> {
    if out.status.success() {
        Ok(())
    } else {
        Err(StoreError::Command {
            cmd: cmd.into(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// How Nix wants its store database treated, from the hook's settings.
#[derive(Debug, Clone, Copy)]
pub struct DbSettings {
    /// `use-sqlite-wal` (Nix's default: true).
    pub wal: bool,
    /// Why the database must not be written by us at all
    /// (`auto-optimise-store`, which Nix's own registration does), if so.
    pub unsuitable: Option<&'static str>,
}

impl Default for DbSettings {
    fn default() -> Self {
        DbSettings {
            wal: true,
            unsuitable: None,
        }
    }
}

/// Makes `outputs` (built by `deriver`) valid in the store Nix uses, by
/// `mode`. `auto` writes the database itself (no Nix process per build) and
/// falls back to the `nix-store` route that suits the Nix version when the
/// database cannot be used; it then returns why (for the log).
/// `cache_dir` keeps the Nix version between runs.
pub fn register(
    nix_store: &Path,
    loc: &StoreLoc,
    mode: Register,
    db_settings: DbSettings,
    outputs: &[Built],
    deriver: &str,
    cache_dir: &Path,
) -> Result<Option<String>, StoreError> {
    match mode {
        Register::Auto => {
            let why = match db_settings.unsuitable {
                Some(why) => why.to_string(),
                None => match db::register(loc, outputs, deriver, db_settings.wal) {
                    Ok(()) => return Ok(None),
                    Err(e) => e.to_string(),
                },
            };
            if nix_version_cached(nix_store, cache_dir)?.honours_held_locks() {
                import(nix_store, loc, outputs, deriver)?;
            } else {
                register_validity(nix_store, loc, outputs, deriver)?;
            }
            Ok(Some(why))
        }
        Register::Db => {
            if let Some(why) = db_settings.unsuitable {
                return Err(StoreError::Db {
                    db: loc.state_dir.join("db/db.sqlite").display().to_string(),
                    msg: format!(
                        "register = \"db\" cannot do what Nix does here: {why}; use `auto`"
                    ),
                });
            }
            db::register(loc, outputs, deriver, db_settings.wal).map(|()| None)
        }
        Register::Import => {
            // A Nix that ignores NIX_HELD_LOCKS would hang on the import
            // until Nix gives up on us: refuse at once instead.
            let v = nix_version_cached(nix_store, cache_dir)?;
            if !v.honours_held_locks() {
                return Err(StoreError::ImportDeadlocks(v.major, v.minor));
            }
            import(nix_store, loc, outputs, deriver).map(|()| None)
        }
        Register::RegisterValidity => {
            register_validity(nix_store, loc, outputs, deriver).map(|()| None)
        }
    }
}

/// `nix-store --import` of an export stream, with NIX_HELD_LOCKS naming the
/// outputs whose locks our parent holds (whitespace-separated).
fn import(
    nix_store: &Path,
    loc: &StoreLoc,
    outputs: &[Built],
    deriver: &str,
) -> Result<(), StoreError> {
    let held: Vec<&str> = outputs.iter().map(|o| o.path.as_str()).collect();
    // Streamed through a pipe: outputs can be far larger than memory.
    let (reader, writer) = io::pipe()?;
    let handle = nix_store_cmd(nix_store, loc, &["--import"])
        .env("NIX_HELD_LOCKS", held.join(" "))
        .stdin_file(reader)
        .start()?;
    let mut stdin = io::BufWriter::with_capacity(1 << 16, writer);
    let write_result = (|| -> io::Result<()> {
        for b in topo_order(outputs) {
            stdin.write_all(&1u64.to_le_bytes())?;
            let mut d = NarDigest {
                sha256: Default::default(),
                size: 0,
                scanner: RefScanner::new([]),
                copy_to: Some(&mut stdin),
            };
            nar::dump(&loc.real(&b.path), &mut d)?;
            let refs: Vec<&String> = b.info.references.iter().collect();
            let mut w = WireWriter::new();
            w.u64(0x4558_494e)
                .str(&b.path)
                .strings(&refs)
                .str(deriver)
                .u64(0);
            stdin.write_all(&w.buf)?;
        }
        stdin.write_all(&0u64.to_le_bytes())?;
        stdin.flush()
    })();
    drop(stdin);
    let r = finish(handle.into_output()?, "nix-store --import");
    write_result?;
    r
}

/// `nix-store --register-validity --hash-given`: takes no path locks.
fn register_validity(
    nix_store: &Path,
    loc: &StoreLoc,
    outputs: &[Built],
    deriver: &str,
) -> Result<(), StoreError> {
    let mut text = String::new();
    for b in outputs {
        text.push_str(&format!(
            "{}\nsha256:{}\n{}\n{}\n{}\n",
            b.path,
            hex(&b.info.nar_sha256),
            b.info.nar_size,
            deriver,
            b.info.references.len()
        ));
        for r in &b.info.references {
            text.push_str(r);
            text.push('\n');
        }
    }
    let out = nix_store_cmd(nix_store, loc, &["--register-validity", "--hash-given"])
        .stdin_bytes(text)
        .run()?;
    finish(out, "nix-store --register-validity")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(s: &str) -> StoreLoc {
        StoreLoc::from_setting(Some(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn every_form_nix_writes_for_a_local_store() {
        let machine = StoreLoc::from_setting(None).unwrap();
        assert_eq!(machine.root, PathBuf::from("/"));
        assert_eq!(machine.cli, None);
        assert_eq!(
            machine.real("/nix/store/abc-x"),
            PathBuf::from("/nix/store/abc-x")
        );
        // (setting, root, what nix-store --store gets)
        for (s, root, cli) in [
            ("auto", "/", "local"),
            ("local", "/", "local"),
            ("auto?trusted=1", "/", "local?trusted=1"),
            ("/tmp/s", "/tmp/s", "/tmp/s"),
            ("/tmp/s?read-only=false", "/tmp/s", "/tmp/s?read-only=false"),
            ("local?root=/r&state=/x", "/r", "local?root=/r&state=/x"),
            (
                "local:///tmp/x/store",
                "/tmp/x/store",
                "local:///tmp/x/store",
            ),
            (
                "local:///tmp/x%20y?require-sigs=false",
                "/tmp/x y",
                "local:///tmp/x%20y?require-sigs=false",
            ),
            ("local://?root=/tmp/r", "/tmp/r", "local://?root=/tmp/r"),
            (
                "local://?root=%2Ftmp%2Fr",
                "/tmp/r",
                "local://?root=%2Ftmp%2Fr",
            ),
            ("local://", "/", "local://"),
            ("daemon", "/", "local"),
            ("daemon?trusted=1", "/", "local"),
            ("unix://", "/", "local"),
            ("unix:///nix/var/nix/daemon-socket/socket", "/", "local"),
            (
                "unix:///nix/var/nix/daemon-socket/socket?max-connections=1",
                "/",
                "local",
            ),
        ] {
            let l = loc(s);
            assert_eq!(l.root, PathBuf::from(root), "{s}");
            assert_eq!(l.cli.as_deref(), Some(cli), "{s}");
        }
        let c = loc("local:///tmp/x/store");
        assert_eq!(
            c.real("/nix/store/abc-x"),
            PathBuf::from("/tmp/x/store/nix/store/abc-x")
        );
        assert_eq!(c.state_dir, PathBuf::from("/tmp/x/store/nix/var/nix"));
        let r = loc("local?root=/r&state=/x");
        assert_eq!(r.state_dir, PathBuf::from("/x"));
        let real = loc("local?root=/r&real=/data/store");
        assert_eq!(
            real.real("/nix/store/abc-x"),
            PathBuf::from("/data/store/abc-x")
        );
        let other = loc("local?store=/gnu/store&root=/r");
        assert_eq!(
            other.real("/gnu/store/a-b"),
            PathBuf::from("/r/gnu/store/a-b")
        );
    }

    #[test]
    fn stores_elsewhere_are_refused_naming_the_setting() {
        for s in [
            "ssh://host",
            "ssh-ng://builder?remote-store=/x",
            "https://cache.nixos.org",
            "file:///tmp/cache",
            "s3://bucket",
            "unix:///run/other/socket",
            "./relative",
            "local?root=relative",
        ] {
            let e = StoreLoc::from_setting(Some(s)).unwrap_err().to_string();
            assert!(e.contains(&format!("`{s}`")), "{e}");
            assert!(e.contains("Nix's `store` setting"), "{e}");
            assert!(e.contains("set `store` to"), "{e}");
        }
    }

    #[test]
    fn store_paths_are_checked_as_nix_parses_them() {
        let loc = StoreLoc::from_setting(Some("/tmp/s")).unwrap();
        let ok = "/nix/store/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxx-bench-9";
        assert!(loc.check(ok).is_ok());
        assert!(loc.check(&format!("{ok}.drv")).is_ok());
        for bad in [
            "/nix/store/../../../victim",
            "/nix/store/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxx-a/b",
            "/nix/store/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxx-",
            "/nix/store/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxe-x",
            "/nix/store/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxxx",
            "/nix/store/short",
            "/etc/passwd",
            "/nix/storeX/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxx-x",
        ] {
            assert!(
                matches!(loc.check(bad), Err(StoreError::BadPath(..))),
                "{bad}"
            );
        }
        let long = format!(
            "/nix/store/0k50c4xkkv7av9yfxgnx1vjhj6ih2rxx-{}",
            "a".repeat(212)
        );
        assert!(loc.check(&long).is_err());
    }

    #[test]
    fn versions() {
        let v = NixVersion::parse("nix-store (Nix) 2.8.0\n").unwrap();
        assert_eq!((v.major, v.minor, v.lix), (2, 8, false));
        assert!(v.honours_held_locks());
        assert!(!NixVersion::parse("nix-store (Nix) 2.29.1")
            .unwrap()
            .honours_held_locks());
        assert!(NixVersion::parse("nix-store (Lix, like Nix) 2.93.0")
            .unwrap()
            .honours_held_locks());
        let det = NixVersion::parse("nix (Determinate Nix 3.6.2) 2.29.0").unwrap();
        assert_eq!((det.major, det.minor, det.lix), (2, 29, false));
        // Other programs' --version lines are not a Nix.
        assert_eq!(NixVersion::parse("true (GNU coreutils) 9.1"), None);
        assert_eq!(NixVersion::parse("2.26.3"), None);
    }

    #[test]
    fn version_cache_is_keyed_by_the_binary() {
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("nix-store");
        std::fs::write(&fake, "#!/bin/sh\necho 'nix-store (Nix) 2.30.1'\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let v = nix_version_cached(&fake, d.path()).unwrap();
        assert_eq!((v.major, v.minor), (2, 30));
        // Answered from the cache: the binary is not run again.
        std::fs::write(
            d.path().join("nix-version"),
            std::fs::read_to_string(d.path().join("nix-version"))
                .unwrap()
                .replace("2.30.1", "2.31.0"),
        )
        .unwrap();
        assert_eq!(nix_version_cached(&fake, d.path()).unwrap().minor, 31);
        // A changed binary (size) invalidates it.
        std::fs::write(&fake, "#!/bin/sh\necho 'nix-store (Nix) 2.8.0'  \n").unwrap();
        assert_eq!(nix_version_cached(&fake, d.path()).unwrap().minor, 8);
    }

    #[test]
    fn topo_order_puts_dependencies_first() {
        let mk = |p: &str, refs: &[&str]| Built {
            path: p.into(),
            info: PathInfo {
                nar_sha256: [0; 32],
                nar_size: 0,
                references: refs.iter().map(|s| s.to_string()).collect(),
            },
            ca: None,
            sigs: Vec::new(),
        };
        let outs = vec![mk("/a", &["/b", "/a"]), mk("/b", &["/c"]), mk("/c", &[])];
        let order: Vec<&str> = topo_order(&outs).iter().map(|b| b.path.as_str()).collect();
        assert_eq!(order, vec!["/c", "/b", "/a"]);
    }
}

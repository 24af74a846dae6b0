//! The store Nix builds into (from the `store` setting), and registering
//! finished outputs in it without tripping over Nix's output locks.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::Register;
use crate::nar::{self, NarDigest, PathInfo};
use crate::refs::RefScanner;
use crate::wire::WireWriter;

/// Where logical store paths really live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLoc {
    /// The `store` setting, passed to `nix-store --store` as is.
    pub uri: Option<String>,
    /// Host directory that logical `/nix/store/...` paths are under
    /// (`/` for the real store, the chroot directory for a chroot store).
    pub root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store `{0}` is not a local store; the hook must run where the store's files are")]
    NotLocal(String),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
}

impl StoreLoc {
    /// Interprets the `store` setting: `auto`, `local`, `local?root=DIR`,
    /// or a bare directory (a chroot store).
    pub fn from_setting(store: Option<&str>) -> Result<StoreLoc, StoreError> {
        let uri = store.map(str::trim).filter(|s| !s.is_empty());
        let root = match uri {
            None | Some("auto") | Some("local") => PathBuf::from("/"),
            Some(u) if u.starts_with('/') => PathBuf::from(u.split('?').next().unwrap_or(u)),
            Some(u) if u.starts_with("local?") || u.starts_with("auto?") => {
                let q = u.split_once('?').map(|x| x.1).unwrap_or("");
                let root = q
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("root="))
                    .unwrap_or("/");
                PathBuf::from(root)
            }
            Some(u) => return Err(StoreError::NotLocal(u.to_string())),
        };
        Ok(StoreLoc {
            uri: uri.map(str::to_string),
            root,
        })
    }

    /// The host path of a logical store path.
    pub fn real(&self, logical: &str) -> PathBuf {
        self.root.join(logical.trim_start_matches('/'))
    }
}

/// A Nix release as printed by `nix-store --version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixVersion {
    pub lix: bool,
    pub major: u32,
    pub minor: u32,
}

impl NixVersion {
    pub fn parse(text: &str) -> Option<NixVersion> {
        let line = text.lines().next()?;
        let lix = line.contains("Lix");
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
    // SAFETY: getppid has no preconditions.
    let ppid = unsafe { libc::getppid() };
    if let Ok(exe) = std::fs::read_link(format!("/proc/{ppid}/exe")) {
        if let Some(dir) = exe.parent() {
            let p = dir.join("nix-store");
            if p.exists() {
                return p;
            }
        }
    }
    PathBuf::from("nix-store")
}

pub fn nix_version(nix_store: &Path) -> Result<NixVersion, StoreError> {
    let out = Command::new(nix_store)
        .arg("--version")
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    NixVersion::parse(&text).ok_or_else(|| StoreError::Command {
        cmd: format!("{} --version", nix_store.display()),
        status: out.status.to_string(),
        stderr: format!("cannot parse version from {text:?}"),
    })
}

/// [`nix_version`], remembered in `cache_dir` per binary (path, size and
/// mtime), so a build does not pay for starting Nix once more just to ask.
pub fn nix_version_cached(nix_store: &Path, cache_dir: &Path) -> Result<NixVersion, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(nix_store).ok().or_else(|| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(nix_store))
                .find(|c| c.is_file())
        })
    });
    let Some(real) = real else {
        return nix_version(nix_store);
    };
    let Ok(meta) = std::fs::metadata(&real) else {
        return nix_version(nix_store);
    };
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
    let out = Command::new(nix_store)
        .arg("--version")
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v = NixVersion::parse(&text).ok_or_else(|| StoreError::Command {
        cmd: format!("{} --version", nix_store.display()),
        status: out.status.to_string(),
        stderr: format!("cannot parse version from {text:?}"),
    })?;
    // Best effort: a missing cache only costs a re-run next time.
    let _ = prefixfs::write_atomic(
        &file,
        format!("{key}\n{}", text.lines().next().unwrap_or("")).as_bytes(),
        0o644,
    );
    Ok(v)
}

/// One output ready to register.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: String,
    pub info: PathInfo,
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

fn nix_store_cmd(nix_store: &Path, loc: &StoreLoc) -> Command {
    let mut c = Command::new(nix_store);
    if let Some(u) = &loc.uri {
        c.args(["--store", u]);
    }
    c.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn finish(child: std::process::Child, cmd: &str) -> Result<(), StoreError> {
    let out = child.wait_with_output()?;
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

/// Makes the outputs valid in the store Nix uses.
pub fn register(
    nix_store: &Path,
    loc: &StoreLoc,
    mode: Register,
    outputs: &[Built],
    deriver: &str,
    cache_dir: &Path,
) -> Result<(), StoreError> {
    let mode = match mode {
        Register::Auto => {
            if nix_version_cached(nix_store, cache_dir)?.honours_held_locks() {
                Register::Import
            } else {
                Register::RegisterValidity
            }
        }
        m => m,
    };
    match mode {
        Register::Import => import(nix_store, loc, outputs, deriver),
        _ => register_validity(nix_store, loc, outputs, deriver),
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
    let mut cmd = nix_store_cmd(nix_store, loc);
    cmd.arg("--import").env("NIX_HELD_LOCKS", held.join(" "));
    let mut child = cmd.spawn()?;
    let mut stdin = io::BufWriter::with_capacity(1 << 16, child.stdin.take().expect("piped"));
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
    let r = finish(child, "nix-store --import");
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
    let mut cmd = nix_store_cmd(nix_store, loc);
    cmd.args(["--register-validity", "--hash-given"]);
    let mut child = cmd.spawn()?;
    let w = child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes());
    let r = finish(child, "nix-store --register-validity");
    w?;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_settings() {
        assert_eq!(
            StoreLoc::from_setting(Some("auto")).unwrap().root,
            PathBuf::from("/")
        );
        assert_eq!(
            StoreLoc::from_setting(None).unwrap().root,
            PathBuf::from("/")
        );
        let c = StoreLoc::from_setting(Some("/tmp/s")).unwrap();
        assert_eq!(
            c.real("/nix/store/abc-x"),
            PathBuf::from("/tmp/s/nix/store/abc-x")
        );
        assert_eq!(
            StoreLoc::from_setting(Some("local?root=/r&state=/x"))
                .unwrap()
                .root,
            PathBuf::from("/r")
        );
        assert!(StoreLoc::from_setting(Some("ssh://host")).is_err());
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
        };
        let outs = vec![mk("/a", &["/b", "/a"]), mk("/b", &["/c"]), mk("/c", &[])];
        let order: Vec<&str> = topo_order(&outs).iter().map(|b| b.path.as_str()).collect();
        assert_eq!(order, vec!["/c", "/b", "/a"]);
    }
}

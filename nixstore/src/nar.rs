//! Nix archive (NAR) serialisation of a file tree, streamed into a sink so
//! one pass yields the NAR hash, its size, the references found in it and,
//! when importing, the bytes themselves.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::refs::RefScanner;
use crate::wire::padding;

/// Where NAR bytes go. Every byte of the archive passes through `put`.
pub trait NarSink {
    /// Takes the next bytes of the archive, in order.
    fn put(&mut self, data: &[u8]) -> io::Result<()>;
}

/// Hashes, counts and scans a NAR, optionally copying it to a writer.
pub struct NarDigest<'w> {
    /// SHA-256 of the bytes so far (the NAR hash, once finished).
    pub sha256: Sha256,
    /// The number of bytes so far (the NAR size, once finished).
    pub size: u64,
    /// Looks for references in the bytes.
    pub scanner: RefScanner,
    /// Where the bytes are copied as well (the export stream for
    /// `nix-store --import`), if anywhere.
    pub copy_to: Option<&'w mut dyn Write>,
}

impl NarSink for NarDigest<'_> {
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.sha256.update(data);
        self.size += data.len() as u64;
        self.scanner.feed(data);
        if let Some(w) = self.copy_to.as_mut() {
            w.write_all(data)?;
        }
        Ok(())
    }
}

impl NarSink for Vec<u8> {
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
}

fn put_str(sink: &mut dyn NarSink, s: &[u8]) -> io::Result<()> {
    sink.put(&(s.len() as u64).to_le_bytes())?;
    sink.put(s)?;
    let pad = padding(s.len() as u64);
    if pad > 0 {
        sink.put(&[0u8; 8][..pad])?;
    }
    Ok(())
}

/// Serialises `path` (not following a final symlink) as a complete NAR.
pub fn dump(path: &Path, sink: &mut dyn NarSink) -> io::Result<()> {
    put_str(sink, b"nix-archive-1")?;
    dump_node(path, sink)
}

fn dump_node(path: &Path, sink: &mut dyn NarSink) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    put_str(sink, b"(")?;
    put_str(sink, b"type")?;
    if ft.is_symlink() {
        put_str(sink, b"symlink")?;
        put_str(sink, b"target")?;
        put_str(sink, fs::read_link(path)?.as_os_str().as_bytes())?;
    } else if ft.is_dir() {
        put_str(sink, b"directory")?;
        let mut names: Vec<_> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            put_str(sink, b"entry")?;
            put_str(sink, b"(")?;
            put_str(sink, b"name")?;
            put_str(sink, name.as_bytes())?;
            put_str(sink, b"node")?;
            dump_node(&path.join(&name), sink)?;
            put_str(sink, b")")?;
        }
    } else if ft.is_file() {
        put_str(sink, b"regular")?;
        if meta.permissions().mode() & 0o100 != 0 {
            put_str(sink, b"executable")?;
            put_str(sink, b"")?;
        }
        put_str(sink, b"contents")?;
        let len = meta.len();
        sink.put(&len.to_le_bytes())?;
        let mut f = fs::File::open(path)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let want = buf.len().min(left as usize);
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} shrank while being archived", path.display()),
                ));
            }
            sink.put(&buf[..n])?;
            left -= n as u64;
        }
        let pad = padding(len);
        if pad > 0 {
            sink.put(&[0u8; 8][..pad])?;
        }
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a regular file, directory or symlink, so it cannot be in the store",
                path.display()
            ),
        ));
    }
    put_str(sink, b")")
}

/// The facts Nix needs to register a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// SHA-256 of the path's NAR.
    pub nar_sha256: [u8; 32],
    /// The NAR's length in bytes.
    pub nar_size: u64,
    /// The store paths it refers to, possibly itself.
    pub references: std::collections::BTreeSet<String>,
}

/// Hashes and scans `real_path` for references to `candidates`.
pub fn path_info<'a>(
    real_path: &Path,
    candidates: impl IntoIterator<Item = &'a str>,
) -> io::Result<PathInfo> {
    let mut d = NarDigest {
        sha256: Sha256::new(),
        size: 0,
        scanner: RefScanner::new(candidates),
        copy_to: None,
    };
    dump(real_path, &mut d)?;
    Ok(PathInfo {
        nar_sha256: d.sha256.finalize().into(),
        nar_size: d.size,
        references: d.scanner.into_found(),
    })
}

/// Sets what Nix's canonicalisation sets (mtime 1, no write bits, modes
/// 0444/0555) so the path is identical whichever registration route runs.
pub fn canonicalise(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_dir() {
        for e in fs::read_dir(path)? {
            canonicalise(&e?.path())?;
        }
    }
    if !meta.file_type().is_symlink() {
        let exec = meta.is_dir() || meta.permissions().mode() & 0o100 != 0;
        let mode = if exec { 0o555 } else { 0o444 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    set_mtime_one(path)
}

fn set_mtime_one(path: &Path) -> io::Result<()> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let one = TimeSpec::new(1, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &one,
        &one,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

/// Removes a tree even if canonicalisation made it read-only.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        for e in fs::read_dir(path)? {
            remove_tree(&e?.path())?;
        }
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_file_nar_layout() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        fs::write(&f, b"hello").unwrap();
        let mut v = Vec::new();
        dump(&f, &mut v).unwrap();
        let mut expect = Vec::new();
        for s in [
            &b"nix-archive-1"[..],
            b"(",
            b"type",
            b"regular",
            b"contents",
            b"hello",
            b")",
        ] {
            put_str(&mut expect, s).unwrap();
        }
        assert_eq!(v, expect);
    }

    #[test]
    fn canonicalise_then_remove() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("out");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("bin/x"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("bin/x"), fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("bin/x", root.join("link")).unwrap();
        canonicalise(&root).unwrap();
        let m = fs::metadata(root.join("bin/x")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o555);
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o555
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(m.mtime(), 1);
        remove_tree(&root).unwrap();
        assert!(!root.exists());
    }
}

//! Staying inside the prefix: writes whose directory really is in the
//! prefix ([`resolve`]), and removals that never cross a mount point.
//!
//! Uninstall removes what the receipt records through the prefix's merged
//! view (see [`Cx::root`](crate::Cx::root)). Anything mounted in the prefix
//! (the host's `/nix` shared in at `<prefix>/nix`, for example) is not ours:
//! a removal whose path lies under such a mount, or whose tree holds one, is
//! refused with [`Error::MountPoint`] before anything is removed.
//!
//! A bind mount of the same file system has the same `st_dev`, so mounts
//! are told apart by their mount id: the `mnt_id:` line of
//! `/proc/self/fdinfo/<fd>` for an `O_PATH` descriptor of the path.

use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Component, Path, PathBuf};

use crate::error::{io_at, Error};

/// How [`mount_id`] opens its path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A directory, following a symlink (an ancestor such as `etc`).
    FollowDir,
    /// The object itself, never following a symlink.
    NoFollow,
    /// The object itself, which must be a directory (not a symlink).
    NoFollowDir,
}

/// The id of the mount `p` is on (for a mount point: the mounted one).
fn mount_id(p: &Path, how: Open) -> io::Result<u64> {
    // O_PATH: a descriptor that only names the object (no read access
    // needed, and a symlink itself can be opened with O_NOFOLLOW).
    let flags = libc::O_PATH
        | match how {
            Open::FollowDir => libc::O_DIRECTORY,
            Open::NoFollow => libc::O_NOFOLLOW,
            Open::NoFollowDir => libc::O_DIRECTORY | libc::O_NOFOLLOW,
        };
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(p)?;
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", f.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no mnt_id in /proc/self/fdinfo"))
}

/// Where `path` really is: `path` with every symlink in it followed, the
/// way the kernel follows them when `path` is opened (an absolute target
/// starts again from the host's `/`, also under a running prefix's
/// `/proc/<pid>/root`), looking at each component with `lstat`. The part
/// from the first missing component on is kept as it is (a write creates
/// it). `root`, when `path` is under it, is taken as it is (it may be a
/// running prefix's `/proc/<pid>/root<prefix>`, whose magic link no
/// `readlink` can follow). Fails with too many symlinks (ELOOP).
pub fn resolve(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let (mut cur, rest) = match path.strip_prefix(root) {
        Ok(rel) => (root.to_path_buf(), rel),
        Err(_) => (PathBuf::new(), path),
    };
    let mut todo: std::collections::VecDeque<PathBuf> = rest
        .components()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        match c.components().next() {
            Some(Component::RootDir) => cur = PathBuf::from("/"),
            Some(Component::ParentDir) => {
                cur.pop();
            }
            Some(Component::Normal(name)) => {
                let next = cur.join(name);
                match fs::symlink_metadata(&next) {
                    Ok(m) if m.file_type().is_symlink() => {
                        links += 1;
                        if links > 40 {
                            return Err(io::Error::from_raw_os_error(40));
                        }
                        let target = fs::read_link(&next)?;
                        for t in target.components().rev() {
                            todo.push_front(PathBuf::from(t.as_os_str()));
                        }
                    }
                    Ok(_) => cur = next,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        cur = next;
                        cur.extend(todo.drain(..));
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => {}
        }
    }
    Ok(cur)
}

/// Refuses, with [`Error::OutsidePrefix`], to write `path` unless its
/// directory, symlinks followed ([`resolve`]), is inside `root` (lexically)
/// or inside `canonical_prefix` (the prefix directory with its symlinks
/// followed, as the host sees it). `shown` is `path` as messages name it.
pub fn check_inside(
    root: &Path,
    canonical_prefix: &Path,
    path: &Path,
    shown: &Path,
) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(path);
    let resolved = resolve(root, dir).map_err(io_at(dir))?;
    if resolved.starts_with(root) || resolved.starts_with(canonical_prefix) {
        return Ok(());
    }
    Err(Error::OutsidePrefix {
        path: shown.to_path_buf(),
        resolved,
    })
}

/// Removes `p` (a file, symlink or whole tree; store trees are read-only, so
/// their directories are made writable first) when it lies under `root`
/// without crossing a mount point. A missing path, or one whose parent is
/// missing, is fine. Refused with [`Error::MountPoint`], before anything is
/// removed, when a directory between `root` and `p`, `p` itself, or anything
/// in its tree is on another mount than `root`.
pub fn remove_within(root: &Path, p: &Path) -> Result<(), Error> {
    let root_id = mount_id(root, Open::FollowDir).map_err(io_at(root))?;
    let Some(rel) = p.strip_prefix(root).ok().filter(|r| {
        r.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    }) else {
        return Err(Error::OutsidePrefix {
            path: p.to_path_buf(),
            resolved: p.to_path_buf(),
        });
    };
    if !ancestors_on(root, rel, root_id)? {
        return Ok(());
    }
    match fs::symlink_metadata(p) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_at(p)(e)),
    }
    // Looked at first, so that a refusal removes nothing.
    if let Some(m) = find_mount(p, root_id)? {
        return Err(Error::MountPoint { path: m });
    }
    remove_tree(p, root_id)
}

/// Removes the directory `d` under `root` if it is empty and neither it nor
/// a directory above it (up to `root`) is on another mount; anything else
/// (gone, not empty, a mount point, under one) is left as it is.
pub fn remove_dir_if_empty_within(root: &Path, d: &Path) -> Result<(), Error> {
    let root_id = mount_id(root, Open::FollowDir).map_err(io_at(root))?;
    let Ok(rel) = d.strip_prefix(root) else {
        return Ok(());
    };
    match ancestors_on(root, rel, root_id) {
        Ok(true) => {}
        Ok(false) | Err(Error::MountPoint { .. }) => return Ok(()),
        Err(e) => return Err(e),
    }
    match mount_id(d, Open::NoFollowDir) {
        Ok(id) if id == root_id => crate::files::remove_dir_if_empty(d),
        _ => Ok(()),
    }
}

/// Whether the directories from `root` down to the parent of `root/rel`
/// all exist (else `false`) on the mount `root_id`; one on another mount is
/// [`Error::MountPoint`].
fn ancestors_on(root: &Path, rel: &Path, root_id: u64) -> Result<bool, Error> {
    let mut a = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        a.push(c);
        match mount_id(&a, Open::FollowDir) {
            Ok(id) if id == root_id => {}
            Ok(_) => return Err(Error::MountPoint { path: a }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_at(&a)(e)),
        }
    }
    Ok(true)
}

/// The first path in the tree at `p` (`p` included) that is on another
/// mount than `root_id`.
fn find_mount(p: &Path, root_id: u64) -> Result<Option<PathBuf>, Error> {
    let m = fs::symlink_metadata(p).map_err(io_at(p))?;
    let how = if m.is_dir() {
        Open::NoFollowDir
    } else {
        Open::NoFollow
    };
    if mount_id(p, how).map_err(io_at(p))? != root_id {
        return Ok(Some(p.to_path_buf()));
    }
    if m.is_dir() {
        for e in fs::read_dir(p).map_err(io_at(p))? {
            let q = e.map_err(io_at(p))?.path();
            if let Some(found) = find_mount(&q, root_id)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// Removes the tree at `p`, checking each directory's mount again before
/// going into it (a mount made since [`find_mount`] looked is still never
/// crossed).
fn remove_tree(p: &Path, root_id: u64) -> Result<(), Error> {
    let m = fs::symlink_metadata(p).map_err(io_at(p))?;
    if !m.is_dir() {
        return fs::remove_file(p).map_err(io_at(p));
    }
    if mount_id(p, Open::NoFollowDir).map_err(io_at(p))? != root_id {
        return Err(Error::MountPoint {
            path: p.to_path_buf(),
        });
    }
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).map_err(io_at(p))?;
    for e in fs::read_dir(p).map_err(io_at(p))? {
        remove_tree(&e.map_err(io_at(p))?.path(), root_id)?;
    }
    fs::remove_dir(p).map_err(io_at(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_flags_do_what_mount_id_needs() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f");
        fs::write(&file, "x").unwrap();
        let link = d.path().join("l");
        std::os::unix::fs::symlink(d.path(), &link).unwrap();
        // O_DIRECTORY: a file is refused.
        let e = mount_id(&file, Open::NoFollowDir).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(20), "ENOTDIR: {e}");
        // O_NOFOLLOW with O_DIRECTORY: a symlink to a directory is refused,
        // and followed without it.
        assert!(mount_id(&link, Open::NoFollowDir).is_err());
        let id = mount_id(&link, Open::FollowDir).unwrap();
        assert_eq!(mount_id(d.path(), Open::NoFollowDir).unwrap(), id);
        // O_PATH | O_NOFOLLOW: the symlink itself, on the same mount.
        assert_eq!(mount_id(&link, Open::NoFollow).unwrap(), id);
        assert_eq!(mount_id(&file, Open::NoFollow).unwrap(), id);
    }

    #[test]
    fn symlinks_are_followed_as_the_kernel_does() {
        let d = tempfile::tempdir().unwrap();
        let d = fs::canonicalize(d.path()).unwrap();
        let root = d.join("root");
        fs::create_dir_all(root.join("private/etc")).unwrap();
        fs::create_dir_all(d.join("outside")).unwrap();
        std::os::unix::fs::symlink("private/etc", root.join("etc")).unwrap();
        std::os::unix::fs::symlink("../../../outside", root.join("private/etc/nix")).unwrap();
        std::os::unix::fs::symlink(d.join("outside"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink(root.join("private"), root.join("abs-in")).unwrap();
        std::os::unix::fs::symlink("nowhere/x", root.join("dangling")).unwrap();
        let r = |p: &str| resolve(&root, &root.join(p)).unwrap();
        assert_eq!(r("etc/bashrc"), root.join("private/etc/bashrc"));
        assert_eq!(r("etc/new/dir"), root.join("private/etc/new/dir"));
        assert_eq!(r("etc/nix/nix.conf"), d.join("outside/nix.conf"));
        assert_eq!(r("abs/x"), d.join("outside/x"));
        assert_eq!(r("abs-in/etc"), root.join("private/etc"));
        assert_eq!(r("dangling"), root.join("nowhere/x"));
        assert_eq!(r("private/../../outside"), d.join("outside"));
        let canon = root.clone();
        let check = |p: &str| check_inside(&root, &canon, &root.join(p), Path::new(p));
        check("etc/bashrc").unwrap();
        check("etc/nix").unwrap();
        check("usr/local/lib/x").unwrap();
        let e = check("etc/nix/nix.conf").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "etc/nix/nix.conf: resolves to {}, outside the prefix; refusing to write or remove it",
                d.join("outside").display()
            )
        );
        assert!(check("abs/x").is_err());
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            resolve(&root, &root.join("loop/x"))
                .unwrap_err()
                .raw_os_error(),
            Some(40)
        );
    }

    #[test]
    fn removal_stays_under_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f"), "x").unwrap();
        fs::set_permissions(root.join("a/b"), fs::Permissions::from_mode(0o555)).unwrap();
        // A missing path, or one under a missing directory: nothing to do.
        remove_within(&root, &root.join("gone")).unwrap();
        remove_within(&root, &root.join("gone/too")).unwrap();
        assert!(matches!(
            remove_within(&root, &root.join("../x")),
            Err(Error::OutsidePrefix { .. })
        ));
        remove_within(&root, &root.join("a")).unwrap();
        assert!(!root.join("a").exists());
        assert!(root.is_dir());
    }
}

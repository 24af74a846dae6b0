//! Gathering [`Facts`] about one object from Linux (statx, an O_PATH
//! handle, xattrs, inode flags, getdents), then packing and delivering them.

use core::ffi::{c_int, c_long};

use super::abi::*;
use super::pack::{deliver, pack, Facts, MAX_PACKED};
use crate::errno::{darwin, ret};
use crate::flags;
use crate::sys::{self, flag, nr, Fd, LinuxErrno, PathBuf, Statx};

/// Where FinderInfo lives on Linux (unprefixed names are refused); the
/// setter writes the same attribute.
pub(crate) const XATTR_FINDERINFO: &[u8] = b"user.com.apple.FinderInfo\0";
const XATTR_RSRC: &[u8] = b"user.com.apple.ResourceFork\0";

/// Which object a request is about.
pub enum Target<'a> {
    /// (Linux dirfd, host path, Darwin path as given).
    Path(c_int, &'a PathBuf, &'a [u8]),
    /// An open file descriptor (`fgetattrlist`); fds are the same number
    /// under Darwin and Linux.
    Fd(c_int),
}

fn basename(p: &[u8]) -> &[u8] {
    let mut end = p.len();
    while end > 1 && p[end - 1] == b'/' {
        end -= 1;
    }
    let p = &p[..end];
    if p == b"/" {
        return p;
    }
    match p.iter().rposition(|c| *c == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// A device number as Darling's `stat` reports `st_dev`: it passes Linux's
/// own encoding through (truncated to Darwin's 32-bit `dev_t`), so DEVID
/// must use it too, or realpath's attributes disagree with `lstat`.
fn dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// The host path of the prefix root, to report "/" as its name.
fn prefix_root(out: &mut PathBuf) -> bool {
    // SAFETY: a static NUL-terminated string.
    unsafe { sys::host_path(c"/".as_ptr(), true, out).is_ok() }
}

/// Gathers what `al` asks for and packs it into `buf`. Returns 0 or minus a
/// Darwin errno.
pub fn getattr(target: Target, al: &AttrList, options: u32, buf: &mut [u8]) -> c_long {
    if let Err(e) = validate(al, options) {
        return e.neg();
    }
    if buf.len() < 4 {
        return darwin::ERANGE.neg();
    }
    let nofollow = options & FSOPT_NOFOLLOW != 0;
    let st = match stat_target(&target, nofollow, al.commonattr & cmn::CRTIME != 0) {
        Ok(s) => s,
        Err(e) => return ret(e),
    };
    let objtype = vtype(st.mode as u32);
    let is_dir = objtype == VDIR;

    let name_from_handle = al.commonattr & cmn::NAME != 0
        && match target {
            Target::Fd(_) => true,
            Target::Path(_, _, darwin) => {
                let b = basename(darwin);
                // Following: the name is the final target's, which only
                // the opened object knows (Darling's translation may
                // already have resolved the link in the host path).
                b == b"." || b == b".." || !nofollow
            }
        };
    let handle = if needs_handle(al, is_dir) || name_from_handle {
        match Handle::open(&target, nofollow) {
            Ok(h) => Some(h),
            Err(e) => return ret(e),
        }
    } else {
        None
    };
    let at_root = handle.as_ref().is_some_and(|h| h.is_prefix_root());

    let name: &[u8] = if al.commonattr & cmn::NAME == 0 {
        b""
    } else if at_root {
        b"/"
    } else if let (true, Some(h)) = (name_from_handle, &handle) {
        basename(h.hostpath.bytes())
    } else if let Target::Path(_, _, darwin) = target {
        basename(darwin)
    } else {
        b""
    };
    let mut f = facts_from_stat(&st, name);
    if let Some(h) = &handle {
        if let Err(e) = h.facts(&st, at_root, al, &mut f) {
            return ret(e);
        }
    }

    let mut scratch = [0u8; MAX_PACKED];
    let needed = pack(al, options, &f, &mut scratch);
    match deliver(&mut scratch, needed, buf, options) {
        Ok(()) => 0,
        Err(e) => e.neg(),
    }
}

/// statx of the object, with the birth time when CRTIME is asked for.
fn stat_target(target: &Target, nofollow: bool, want_btime: bool) -> Result<Statx, LinuxErrno> {
    let mask = flag::STATX_BASIC_STATS | if want_btime { flag::STATX_BTIME } else { 0 };
    match *target {
        Target::Path(dirfd, host, _) => {
            let at = if nofollow {
                flag::AT_SYMLINK_NOFOLLOW
            } else {
                0
            };
            sys::statx(dirfd, host.as_ptr(), at, mask)
        }
        Target::Fd(fd) => sys::statx(fd, c"".as_ptr(), flag::AT_EMPTY_PATH, mask),
    }
}

/// Whether any requested attribute needs an open handle on the object.
fn needs_handle(al: &AttrList, is_dir: bool) -> bool {
    al.commonattr
        & (cmn::PAROBJID | cmn::PARENTID | cmn::FSID | cmn::FLAGS | cmn::FNDRINFO | cmn::USERACCESS)
        != 0
        || (is_dir && al.dirattr & (dir::ENTRYCOUNT | dir::MOUNTSTATUS) != 0)
        || (!is_dir
            && al.fileattr & (file::RSRCLENGTH | file::RSRCALLOCSIZE | file::TOTALSIZE) != 0)
}

/// Everything statx alone answers.
fn facts_from_stat<'a>(st: &Statx, name: &'a [u8]) -> Facts<'a> {
    let objtype = vtype(st.mode as u32);
    Facts {
        name,
        devid: dev(st.dev_major, st.dev_minor),
        objtype,
        objid: st.ino,
        crtime: if st.mask & flag::STATX_BTIME != 0 {
            Some(st.btime)
        } else {
            None
        },
        modtime: st.mtime,
        chgtime: st.ctime,
        acctime: st.atime,
        uid: st.uid,
        gid: st.gid,
        mode: st.mode as u32,
        nlink: st.nlink,
        size: st.size,
        alloc: st.blocks * 512,
        blksize: st.blksize,
        devtype: if objtype == VBLK || objtype == VCHR {
            dev(st.rdev_major, st.rdev_minor)
        } else {
            0
        },
        ..Facts::default()
    }
}

/// An O_PATH handle on exactly the object statx saw, with its
/// `/proc/self/fd` path and the host path it resolves to.
struct Handle {
    fd: Fd,
    procfd: PathBuf,
    hostpath: PathBuf,
}

impl Handle {
    fn open(target: &Target, nofollow: bool) -> Result<Handle, LinuxErrno> {
        let fd = match *target {
            Target::Path(dirfd, host, _) => sys::openat(
                dirfd,
                host.as_ptr(),
                flag::O_PATH | if nofollow { flag::O_NOFOLLOW } else { 0 },
                0,
            )?,
            Target::Fd(fd) => {
                let mut p = PathBuf::new();
                sys::proc_fd_path(fd, &mut p);
                sys::openat(flag::AT_FDCWD, p.as_ptr(), flag::O_PATH, 0)?
            }
        };
        let mut h = Handle {
            fd,
            procfd: PathBuf::new(),
            hostpath: PathBuf::new(),
        };
        sys::proc_fd_path(h.fd.0, &mut h.procfd);
        if sys::fd_host_path(h.fd.0, &mut h.hostpath).is_err() {
            h.hostpath.len = 0;
        }
        Ok(h)
    }

    /// Whether this is the prefix root (named "/").
    fn is_prefix_root(&self) -> bool {
        let mut root = PathBuf::new();
        prefix_root(&mut root) && root.bytes() == self.hostpath.bytes()
    }

    /// Fills in what only the open object can tell.
    fn facts(
        &self,
        st: &Statx,
        at_root: bool,
        al: &AttrList,
        f: &mut Facts,
    ) -> Result<(), LinuxErrno> {
        let is_dir = f.objtype == VDIR;
        if al.commonattr & cmn::FSID != 0 {
            let ftype = sys::fstatfs(self.fd.0)
                .map(|s| s.f_type as i32)
                .unwrap_or(0);
            // Darwin's fsid is (device, filesystem type).
            f.fsid = [f.devid as i32, ftype];
        }
        let mut parent_dev = None;
        if al.commonattr & (cmn::PAROBJID | cmn::PARENTID) != 0
            || (is_dir && al.dirattr & dir::MOUNTSTATUS != 0)
        {
            if let Some((ino, dev)) = self.parent(st, at_root) {
                f.parentid = ino;
                parent_dev = Some(dev);
            }
        }
        if is_dir && al.dirattr & dir::MOUNTSTATUS != 0 {
            const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
            let mount_root = if st.attributes_mask & STATX_ATTR_MOUNT_ROOT != 0 {
                st.attributes & STATX_ATTR_MOUNT_ROOT != 0
            } else {
                parent_dev.is_some_and(|d| d != (st.dev_major, st.dev_minor))
            };
            f.mountstatus = mount_root as u32; // DIR_MNTSTATUS_MNTPOINT
        }
        if al.commonattr & cmn::FLAGS != 0 && f.objtype != VLNK {
            if let Ok(rfd) = sys::openat(
                flag::AT_FDCWD,
                self.procfd.as_ptr(),
                flag::O_RDONLY | flag::O_NONBLOCK,
                0,
            ) {
                if let Ok(Some(l)) = flags::get_linux(rfd.0) {
                    f.flags = flags::from_linux(l);
                }
            }
        }
        if al.commonattr & cmn::USERACCESS != 0 {
            f.useraccess = self.user_access();
        }
        if f.objtype != VLNK {
            if al.commonattr & cmn::FNDRINFO != 0 {
                let _ = sys::syscall(
                    nr::GETXATTR,
                    [
                        self.procfd.as_ptr() as c_long,
                        XATTR_FINDERINFO.as_ptr() as c_long,
                        f.fndrinfo.as_mut_ptr() as c_long,
                        32,
                        0,
                        0,
                    ],
                );
            }
            if !is_dir
                && al.fileattr & (file::RSRCLENGTH | file::RSRCALLOCSIZE | file::TOTALSIZE) != 0
            {
                if let Ok(n) = sys::syscall(
                    nr::GETXATTR,
                    [
                        self.procfd.as_ptr() as c_long,
                        XATTR_RSRC.as_ptr() as c_long,
                        0,
                        0,
                        0,
                        0,
                    ],
                ) {
                    f.rsrclength = n as u64;
                }
            }
        }
        if is_dir && al.dirattr & dir::ENTRYCOUNT != 0 {
            f.entrycount = count_entries(&self.procfd)?;
        }
        Ok(())
    }

    /// The parent directory's inode and device; the prefix root and the
    /// host root are their own parents.
    fn parent(&self, st: &Statx, at_root: bool) -> Option<(u64, (u32, u32))> {
        if at_root || self.hostpath.bytes() == b"/" {
            return Some((st.ino, (st.dev_major, st.dev_minor)));
        }
        let mut parent = PathBuf::new();
        let hp = self.hostpath.bytes();
        let cut = hp.iter().rposition(|c| *c == b'/').unwrap_or(0);
        let _ = parent.set(if cut == 0 { b"/" } else { &hp[..cut] });
        sys::statx(flag::AT_FDCWD, parent.as_ptr(), 0, flag::STATX_BASIC_STATS)
            .ok()
            .map(|p| (p.ino, (p.dev_major, p.dev_minor)))
    }

    /// USERACCESS: R, W, X (4, 2, 1) as the effective ids may use them.
    fn user_access(&self) -> u32 {
        const AT_EACCESS: i64 = 0x200;
        let mut acc = 0;
        for bit in [4u32, 2, 1] {
            let r = sys::syscall(
                nr::FACCESSAT2,
                [
                    self.fd.0 as c_long,
                    c"".as_ptr() as c_long,
                    bit as c_long,
                    AT_EACCESS | flag::AT_EMPTY_PATH as i64,
                    0,
                    0,
                ],
            );
            if r.is_ok() {
                acc |= bit;
            }
        }
        acc
    }
}

fn count_entries(procfd: &PathBuf) -> Result<u32, LinuxErrno> {
    let d = sys::openat(
        flag::AT_FDCWD,
        procfd.as_ptr(),
        flag::O_RDONLY | flag::O_DIRECTORY,
        0,
    )?;
    let mut buf = [0u8; 4096];
    let mut n = 0u32;
    loop {
        let got = sys::syscall_retry(
            nr::GETDENTS64,
            [
                d.0 as c_long,
                buf.as_mut_ptr() as c_long,
                buf.len() as c_long,
                0,
                0,
                0,
            ],
        )? as usize;
        if got == 0 {
            return Ok(n);
        }
        let mut off = 0;
        while off + 19 <= got {
            // linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name...
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[off + 19..(off + reclen).min(got)];
            let name = &name[..name.iter().position(|c| *c == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                n += 1;
            }
            off += reclen;
        }
    }
}

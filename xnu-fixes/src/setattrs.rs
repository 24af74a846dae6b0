//! `setattrlist`, `fsetattrlist` and `setattrlistat`: the buffer has no
//! length header and is consumed in bit order with each field's exact size.
//! The whole buffer is parsed and checked before anything is changed.

use core::ffi::{c_char, c_int, c_long, c_ulong, c_void};

use crate::attrs::{cmn, read_attrlist, AttrList, ATTR_BIT_MAP_COUNT, FSOPT_NOFOLLOW};
use crate::errno::{darwin, ret, DarwinErrno};
use crate::flags;
use crate::sys::{self, errno, flag, nr, LinuxErrno, PathBuf};

/// The common attributes a setattrlist request may name: SCRIPT through
/// FLAGS, EXTENDED_SECURITY, UUID, GRPUUID, ADDEDTIME and
/// DATA_PROTECT_FLAGS. Any other common bit gives EINVAL.
pub const ATTR_CMN_SETMASK: u32 = 0x51C7_FF00;
/// The file attributes a setattrlist request may name: only DEVTYPE, which
/// cannot be changed on Linux, so any file bit gives EINVAL here.
pub const ATTR_FILE_SETMASK: u32 = 0x20;
/// The largest value buffer setattrlist accepts, in bytes; a larger `size`
/// gives ENOMEM.
pub const ATTR_MAX_BUFFER: usize = 8192;

const EXTENDED_SECURITY: u32 = 0x40_0000;
const UUID: u32 = 0x80_0000;
const GRPUUID: u32 = 0x100_0000;
const ADDEDTIME: u32 = 0x1000_0000;
const DATA_PROTECT_FLAGS: u32 = 0x4000_0000;

/// Settable common attributes in bit order with their sizes.
const ORDER: &[(u32, usize)] = &[
    (cmn::SCRIPT, 4),
    (cmn::CRTIME, 16),
    (cmn::MODTIME, 16),
    (cmn::CHGTIME, 16),
    (cmn::ACCTIME, 16),
    (cmn::BKUPTIME, 16),
    (cmn::FNDRINFO, 32),
    (cmn::OWNERID, 4),
    (cmn::GRPID, 4),
    (cmn::ACCESSMASK, 4),
    (cmn::FLAGS, 4),
    (EXTENDED_SECURITY, 8),
    (UUID, 16),
    (GRPUUID, 16),
    (ADDEDTIME, 16),
    (DATA_PROTECT_FLAGS, 4),
];

/// What a request asks to change.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// A new modification time from `ATTR_CMN_MODTIME`: (seconds since the
    /// epoch, nanoseconds).
    pub modtime: Option<(i64, i64)>,
    /// A new access time from `ATTR_CMN_ACCTIME`: (seconds, nanoseconds).
    pub acctime: Option<(i64, i64)>,
    /// New Finder information from `ATTR_CMN_FNDRINFO`, stored in the
    /// `user.com.apple.FinderInfo` extended attribute; all zeros removes it.
    pub fndrinfo: Option<[u8; 32]>,
    /// A new owner user id from `ATTR_CMN_OWNERID`.
    pub uid: Option<u32>,
    /// A new group id from `ATTR_CMN_GRPID`.
    pub gid: Option<u32>,
    /// New permission bits from `ATTR_CMN_ACCESSMASK` (the low 12 bits;
    /// the type bits are dropped).
    pub mode: Option<u32>,
    /// New BSD file flags from `ATTR_CMN_FLAGS`, already checked to be ones
    /// Linux can express ([`flags::to_linux`]).
    pub flags: Option<u32>,
}

fn rd<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}

/// Parses a request into changes, or a Darwin errno.
pub fn parse(al: &AttrList, buf: &[u8]) -> Result<Changes, DarwinErrno> {
    if al.bitmapcount != ATTR_BIT_MAP_COUNT {
        return Err(darwin::EINVAL);
    }
    if al.volattr != 0 || al.dirattr != 0 || al.forkattr != 0 {
        return Err(darwin::EINVAL);
    }
    if al.commonattr & !ATTR_CMN_SETMASK != 0 || al.fileattr & !ATTR_FILE_SETMASK != 0 {
        return Err(darwin::EINVAL);
    }
    if buf.len() > ATTR_MAX_BUFFER {
        return Err(darwin::ENOMEM);
    }
    let mut c = Changes::default();
    let mut at = 0;
    for &(bit, size) in ORDER {
        if al.commonattr & bit == 0 {
            continue;
        }
        if at + size > buf.len() {
            return Err(darwin::EINVAL);
        }
        let ts = || {
            (
                i64::from_ne_bytes(rd(buf, at)),
                i64::from_ne_bytes(rd(buf, at + 8)),
            )
        };
        match bit {
            cmn::MODTIME => c.modtime = Some(ts()),
            cmn::ACCTIME => c.acctime = Some(ts()),
            cmn::FNDRINFO => c.fndrinfo = Some(rd(buf, at)),
            cmn::OWNERID => c.uid = Some(u32::from_ne_bytes(rd(buf, at))),
            cmn::GRPID => c.gid = Some(u32::from_ne_bytes(rd(buf, at))),
            cmn::ACCESSMASK => c.mode = Some(u32::from_ne_bytes(rd(buf, at)) & 0o7777),
            cmn::FLAGS => c.flags = Some(u32::from_ne_bytes(rd(buf, at))),
            // Parsed but not settable on Linux: ACLs, UUIDs, protection classes.
            EXTENDED_SECURITY | UUID | GRPUUID | DATA_PROTECT_FLAGS => return Err(darwin::ENOTSUP),
            // SCRIPT, CRTIME, CHGTIME, BKUPTIME, ADDEDTIME: accepted and
            // ignored, as a filesystem without them does.
            _ => {}
        }
        at += size;
    }
    if al.fileattr & ATTR_FILE_SETMASK != 0 {
        // ATTR_FILE_DEVTYPE cannot be set.
        return Err(darwin::EINVAL);
    }
    if let Some(f) = c.flags {
        flags::to_linux(f)?;
    }
    Ok(c)
}

/// Applies parsed changes to (`dirfd`, `host`). Returns 0 or minus a Darwin errno.
pub fn apply(dirfd: c_int, host: &PathBuf, nofollow: bool, c: &Changes) -> c_long {
    let at = if nofollow {
        flag::AT_SYMLINK_NOFOLLOW
    } else {
        0
    };
    let st = match sys::statx(dirfd, host.as_ptr(), at, flag::STATX_BASIC_STATS) {
        Ok(s) => s,
        Err(e) => return ret(e),
    };
    let is_link = st.mode as u32 & 0o170000 == 0o120000;
    if let Some(fi) = c.fndrinfo {
        const NAME: &[u8] = crate::attrs::gather::XATTR_FINDERINFO;
        let (set, remove) = if nofollow {
            (nr::LSETXATTR, nr::LREMOVEXATTR)
        } else {
            (nr::SETXATTR, nr::REMOVEXATTR)
        };
        let zero = fi.iter().all(|b| *b == 0);
        // xattr calls take a path relative to the cwd; resolve dirfd first.
        let mut p = PathBuf::new();
        if let Err(e) = at_path(dirfd, host, &mut p) {
            return ret(e);
        }
        let r = if zero {
            match sys::syscall(
                remove,
                [p.as_ptr() as c_long, NAME.as_ptr() as c_long, 0, 0, 0, 0],
            ) {
                Err(errno::ENODATA) => Ok(0),
                r => r,
            }
        } else if is_link {
            Err(errno::EOPNOTSUPP)
        } else {
            sys::syscall(
                set,
                [
                    p.as_ptr() as c_long,
                    NAME.as_ptr() as c_long,
                    fi.as_ptr() as c_long,
                    32,
                    0,
                    0,
                ],
            )
        };
        match r {
            Ok(_) => {}
            Err(errno::EPERM) if is_link => return darwin::ENOTSUP.neg(),
            Err(e) => return ret(e),
        }
    }
    if c.uid.is_some() || c.gid.is_some() {
        let uid = c.uid.map(|u| u as c_long).unwrap_or(-1);
        let gid = c.gid.map(|g| g as c_long).unwrap_or(-1);
        if let Err(e) = sys::syscall(
            nr::FCHOWNAT,
            [
                dirfd as c_long,
                host.as_ptr() as c_long,
                uid,
                gid,
                at as c_long,
                0,
            ],
        ) {
            return ret(e);
        }
    }
    if let Some(mode) = c.mode {
        if is_link {
            // Linux cannot change a symlink's mode.
            return darwin::ENOTSUP.neg();
        }
        if let Err(e) = sys::syscall(
            nr::FCHMODAT,
            [
                dirfd as c_long,
                host.as_ptr() as c_long,
                mode as c_long,
                0,
                0,
                0,
            ],
        ) {
            return ret(e);
        }
    }
    if c.modtime.is_some() || c.acctime.is_some() {
        let omit = (0, flag::UTIME_OMIT);
        let a = c.acctime.unwrap_or(omit);
        let m = c.modtime.unwrap_or(omit);
        let times = [[a.0, a.1], [m.0, m.1]];
        if let Err(e) = sys::syscall(
            nr::UTIMENSAT,
            [
                dirfd as c_long,
                host.as_ptr() as c_long,
                times.as_ptr() as c_long,
                at as c_long,
                0,
                0,
            ],
        ) {
            return ret(e);
        }
    }
    if let Some(f) = c.flags {
        let r = flags::apply(dirfd, host, !nofollow, f);
        if r != 0 {
            return r;
        }
    }
    0
}

/// A path usable without a dirfd: absolute paths as they are, relative ones
/// through /proc/self/fd/<dirfd>/.
fn at_path(dirfd: c_int, host: &PathBuf, out: &mut PathBuf) -> Result<(), LinuxErrno> {
    let b = host.bytes();
    if b.first() == Some(&b'/') || dirfd == flag::AT_FDCWD {
        return out.set(b);
    }
    let mut base = PathBuf::new();
    sys::proc_fd_path(dirfd, &mut base);
    let n = base.len;
    if n + 1 + b.len() >= sys::PATH_MAX {
        return Err(errno::ENAMETOOLONG);
    }
    let mut tmp = [0u8; sys::PATH_MAX];
    tmp[..n].copy_from_slice(base.bytes());
    tmp[n] = b'/';
    tmp[n + 1..n + 1 + b.len()].copy_from_slice(b);
    out.set(&tmp[..n + 1 + b.len()])
}

/// The caller's `struct attrlist` and value buffer.
///
/// # Safety
/// `alist` NULL or readable; `buf` NULL or readable for `size` bytes.
unsafe fn request<'a>(
    alist: *const AttrList,
    buf: *const c_void,
    size: usize,
) -> Result<(AttrList, &'a [u8]), DarwinErrno> {
    // SAFETY: `alist` readable by the contract.
    let al = unsafe { read_attrlist(alist, buf, size)? };
    let b = if size == 0 {
        &[][..]
    } else {
        // SAFETY: non-null (checked); at most `size` bytes, all readable by
        // the contract. Oversized requests are cut to one byte past the
        // limit, which is enough to refuse them.
        unsafe { core::slice::from_raw_parts(buf as *const u8, size.min(ATTR_MAX_BUFFER + 1)) }
    };
    Ok((al, b))
}

/// Reads and checks a request: `None` when it asks for nothing (success
/// without touching the file), or a Darwin errno.
///
/// # Safety
/// As [`request`].
unsafe fn changes(
    alist: *const AttrList,
    buf: *const c_void,
    size: usize,
) -> Result<Option<Changes>, DarwinErrno> {
    // SAFETY: this function's contract is request's.
    let (al, b) = unsafe { request(alist, buf, size)? };
    let empty = al.commonattr == 0
        && al.volattr == 0
        && al.dirattr == 0
        && al.fileattr == 0
        && al.forkattr == 0;
    if empty && al.bitmapcount == ATTR_BIT_MAP_COUNT {
        return Ok(None);
    }
    parse(&al, b).map(Some)
}

/// Darwin `setattrlistat` (BSD 524): changes the attributes `alist` names
/// of the object at `path`, relative to directory `fd` (Darwin's
/// `AT_FDCWD`, -2, for the current directory), taking the new values from
/// `buf`.
///
/// - `buf`, `size`: the values, without a length header, one per requested
///   attribute in bit order with its exact size (timespecs 16 bytes, ids
///   and mode 4, FinderInfo 32).
/// - `options`: [`FSOPT_NOFOLLOW`] changes a final symlink itself; other
///   bits are ignored.
///
/// Applied: MODTIME, ACCTIME, FNDRINFO (as the `user.com.apple.FinderInfo`
/// extended attribute), OWNERID, GRPID, ACCESSMASK and FLAGS (as
/// [`crate::flags`] maps them). SCRIPT, CRTIME, CHGTIME, BKUPTIME and
/// ADDEDTIME are accepted and ignored, where Darwin may set them. The
/// whole request is checked before anything changes; the changes are then
/// made in the order FinderInfo, owner and group, mode, times, flags, and
/// the first failure stops them (earlier ones stay). A request naming no
/// attribute succeeds without looking at `path`.
///
/// Returns 0, or minus a Darwin errno: EFAULT for a NULL `alist`, or NULL
/// `buf` with a non-zero `size`; EINVAL for a bad `bitmapcount`, volume,
/// directory, fork or file bits, common bits outside
/// [`ATTR_CMN_SETMASK`], or a buffer shorter than the attributes named;
/// ENOMEM for `size` over [`ATTR_MAX_BUFFER`]; ENOTSUP for
/// EXTENDED_SECURITY, UUID, GRPUUID, DATA_PROTECT_FLAGS, flags Linux
/// cannot express, a mode or FinderInfo on a symlink; otherwise the Linux
/// error, translated.
///
/// # Safety
/// `path` a NUL-terminated string, `alist` readable, `buf` readable for `size`.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_setattrlistat(
    fd: c_int,
    path: *const c_char,
    alist: *const AttrList,
    buf: *const c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    // SAFETY: `alist` and `buf` as the caller promises.
    let c = match unsafe { changes(alist, buf, size) } {
        Ok(Some(c)) => c,
        Ok(None) => return 0,
        Err(e) => return e.neg(),
    };
    let nofollow = options as u32 & FSOPT_NOFOLLOW != 0;
    let mut host = PathBuf::new();
    // SAFETY: `path` is a NUL-terminated string (caller's contract);
    // host_path checks for NULL.
    if let Err(e) = unsafe { sys::host_path(path, !nofollow, &mut host) } {
        return ret(e);
    }
    apply(sys::linux_dirfd(fd), &host, nofollow, &c)
}

/// Darwin `setattrlist` (BSD 221): [`xnu_fixes_setattrlistat`] with `path`
/// relative to the current directory. Returns 0 or minus a Darwin errno,
/// as that function does.
///
/// # Safety
/// As [`xnu_fixes_setattrlistat`].
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_setattrlist(
    path: *const c_char,
    alist: *const AttrList,
    buf: *const c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    // SAFETY: the same contract, with Darwin's AT_FDCWD (-2).
    unsafe { xnu_fixes_setattrlistat(-2, path, alist, buf, size, options) }
}

/// Darwin `fsetattrlist` (BSD 229): [`xnu_fixes_setattrlistat`] for the
/// object open on `fd`, reached through `/proc/self/fd/<fd>`; `options` is
/// ignored. Returns 0 or minus a Darwin errno as that function does; a
/// descriptor that is not open gives ENOENT (Darwin: EBADF).
///
/// # Safety
/// As [`xnu_fixes_setattrlistat`], without a path.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_fsetattrlist(
    fd: c_int,
    alist: *const AttrList,
    buf: *const c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    // SAFETY: `alist` and `buf` as the caller promises.
    let c = match unsafe { changes(alist, buf, size) } {
        Ok(Some(c)) => c,
        Ok(None) => return 0,
        Err(e) => return e.neg(),
    };
    let _ = options;
    let mut p = PathBuf::new();
    sys::proc_fd_path(fd, &mut p);
    apply(flag::AT_FDCWD, &p, false, &c)
}

//! BSD file flags (`chflags`) over Linux inode flags (`FS_IOC_*FLAGS`).
//! Clearing all flags (0) always succeeds, which is what Nix's
//! `lchflags(path, 0)` needs; flags Linux can express are mapped, the rest
//! give ENOTSUP.

use core::ffi::{c_char, c_int, c_long};

use crate::errno::{darwin, ret, DarwinErrno};
use crate::sys::{self, errno, flag, nr, LinuxErrno, PathBuf};

// Darwin's BSD file flags (`st_flags`). `UF_*` flags may be set by the
// owner, `SF_*` flags only by root. Only three have a Linux inode flag.

/// `UF_NODUMP`: backup programs should skip the file. Mapped to Linux
/// `FS_NODUMP_FL`.
pub const UF_NODUMP: u32 = 0x1;
/// `UF_IMMUTABLE`: the owner's "may not be changed" flag. No Linux
/// equivalent: setting it gives ENOTSUP.
pub const UF_IMMUTABLE: u32 = 0x2;
/// `UF_APPEND`: the owner's "writes may only append" flag. No Linux
/// equivalent: setting it gives ENOTSUP.
pub const UF_APPEND: u32 = 0x4;
/// `UF_HIDDEN`: hide the file from the Finder's listings. No Linux
/// equivalent: setting it gives ENOTSUP.
pub const UF_HIDDEN: u32 = 0x8000;
/// `SF_ARCHIVED`: the file has been archived. No Linux equivalent:
/// setting it gives ENOTSUP.
pub const SF_ARCHIVED: u32 = 0x10000;
/// `SF_IMMUTABLE`: the file may not be changed, renamed or removed, even by
/// root. Mapped to Linux `FS_IMMUTABLE_FL`.
pub const SF_IMMUTABLE: u32 = 0x20000;
/// `SF_APPEND`: writes may only append, even root's. Mapped to Linux
/// `FS_APPEND_FL`.
pub const SF_APPEND: u32 = 0x40000;

const FS_IMMUTABLE_FL: u32 = 0x10;
const FS_APPEND_FL: u32 = 0x20;
const FS_NODUMP_FL: u32 = 0x40;
const MAPPED_LINUX: u32 = FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL;

/// Darwin flags to the Linux bits they mean, or ENOTSUP (a Darwin errno).
pub fn to_linux(darwin_flags: u32) -> Result<u32, DarwinErrno> {
    let mut l = 0;
    let mut rest = darwin_flags;
    for (d, lx) in [
        (UF_NODUMP, FS_NODUMP_FL),
        (SF_IMMUTABLE, FS_IMMUTABLE_FL),
        (SF_APPEND, FS_APPEND_FL),
    ] {
        if rest & d != 0 {
            l |= lx;
            rest &= !d;
        }
    }
    if rest != 0 {
        Err(darwin::ENOTSUP)
    } else {
        Ok(l)
    }
}

/// Linux inode flags as the Darwin flags a getattrlist/stat caller sees.
pub fn from_linux(linux: u32) -> u32 {
    let mut d = 0;
    if linux & FS_NODUMP_FL != 0 {
        d |= UF_NODUMP;
    }
    if linux & FS_IMMUTABLE_FL != 0 {
        d |= SF_IMMUTABLE;
    }
    if linux & FS_APPEND_FL != 0 {
        d |= SF_APPEND;
    }
    d
}

/// Current Linux flags of an open fd, None if the fs has none, or the
/// Linux errno of the ioctl.
pub fn get_linux(fd: c_int) -> Result<Option<u32>, LinuxErrno> {
    let mut v: c_long = 0;
    match sys::syscall(
        nr::IOCTL,
        [
            fd as c_long,
            flag::FS_IOC_GETFLAGS as c_long,
            &mut v as *mut c_long as c_long,
            0,
            0,
            0,
        ],
    ) {
        Ok(_) => Ok(Some(v as u32)),
        Err(errno::ENOTTY) | Err(errno::EOPNOTSUPP) | Err(errno::EINVAL) | Err(errno::ENOSYS) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Opens something we can ioctl: `host` with O_RDONLY|O_NONBLOCK.
fn open_for_ioctl(dirfd: c_int, host: &PathBuf, follow: bool) -> Result<sys::Fd, LinuxErrno> {
    let nofollow = if follow { 0 } else { flag::O_NOFOLLOW };
    sys::openat(
        dirfd,
        host.as_ptr(),
        flag::O_RDONLY | flag::O_NONBLOCK | nofollow,
        0,
    )
}

/// Applies Darwin `flags` to the object at (`dirfd`, `host`). Returns a
/// handler value (0 or minus a Darwin errno).
pub fn apply(dirfd: c_int, host: &PathBuf, follow: bool, flags: u32) -> c_long {
    let wanted = match to_linux(flags) {
        Ok(w) => w,
        Err(e) => return e.neg(),
    };
    let at = if follow { 0 } else { flag::AT_SYMLINK_NOFOLLOW };
    let st = match sys::statx(dirfd, host.as_ptr(), at, flag::STATX_BASIC_STATS) {
        Ok(st) => st,
        Err(e) => return ret(e),
    };
    if st.mode as u32 & 0o170000 == 0o120000 {
        // Linux symlinks carry no inode flags: nothing to clear, nothing settable.
        return if flags == 0 { 0 } else { darwin::ENOTSUP.neg() };
    }
    let fd = match open_for_ioctl(dirfd, host, follow) {
        Ok(fd) => fd,
        Err(_) if flags == 0 => return 0,
        Err(e) => return ret(e),
    };
    let cur = match get_linux(fd.0) {
        Ok(Some(c)) => c,
        Ok(None) => return if flags == 0 { 0 } else { darwin::ENOTSUP.neg() },
        Err(_) if flags == 0 => return 0,
        Err(e) => return ret(e),
    };
    let new = (cur & !MAPPED_LINUX) | wanted;
    if new == cur {
        return 0;
    }
    let v: c_long = new as c_long;
    match sys::syscall(
        nr::IOCTL,
        [
            fd.0 as c_long,
            flag::FS_IOC_SETFLAGS as c_long,
            &v as *const c_long as c_long,
            0,
            0,
            0,
        ],
    ) {
        Ok(_) => 0,
        Err(errno::ENOTTY) | Err(errno::EOPNOTSUPP) => darwin::ENOTSUP.neg(),
        Err(e) => ret(e),
    }
}

/// Darwin `chflags` (BSD 34): sets the BSD file flags of `path` (a
/// symlink is followed; relative paths start at the current directory) to
/// `flags`.
///
/// Only [`UF_NODUMP`], [`SF_IMMUTABLE`] and [`SF_APPEND`] can be set: they
/// become the Linux inode flags `FS_NODUMP_FL`, `FS_IMMUTABLE_FL` and
/// `FS_APPEND_FL`, and those three are cleared when absent from `flags`.
/// Other Linux inode flags are left as they are. Any other Darwin flag
/// gives ENOTSUP, where Darwin would set it.
///
/// `flags` 0 succeeds on any existing object, also where the file system
/// keeps no flags or the object cannot be opened, unless a mapped Linux
/// flag is set and clearing it is refused. Returns 0, or minus a Darwin
/// errno (ENOTSUP, or the Linux error translated, such as EPERM for
/// SF_IMMUTABLE without privilege, or ENOENT).
///
/// # Safety
/// `path` must be a readable NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_chflags(path: *const c_char, flags: c_int) -> c_long {
    let mut p = PathBuf::new();
    // SAFETY: `path` is a NUL-terminated string (caller's contract);
    // host_path checks for NULL.
    if let Err(e) = unsafe { sys::host_path(path, true, &mut p) } {
        return ret(e);
    }
    apply(flag::AT_FDCWD, &p, true, flags as u32)
}

/// Darwin `fchflags` (BSD 35): [`xnu_fixes_chflags`] for the object open
/// on `fd`, reached through `/proc/self/fd/<fd>`. Returns 0 or minus a
/// Darwin errno as `chflags` does; a descriptor that is not open gives
/// ENOENT (Darwin: EBADF).
#[no_mangle]
pub extern "C" fn xnu_fixes_fchflags(fd: c_int, flags: c_int) -> c_long {
    let mut p = PathBuf::new();
    sys::proc_fd_path(fd, &mut p);
    apply(flag::AT_FDCWD, &p, true, flags as u32)
}

//! `clonefileat` (BSD 462) and `fclonefileat` (517): a real copy-on-write
//! clone (Linux FICLONE) where the filesystem can, else ENOTSUP or EXDEV so
//! callers (Rust std, gnulib, copyfile) fall back to copying.

use core::ffi::{c_char, c_int, c_long};

use crate::errno::{darwin, ret, DarwinErrno};
use crate::sys::{self, errno, flag, nr, Fd, PathBuf};

/// Darwin `CLONE_NOFOLLOW`: when the source is a symlink, clone the link
/// itself (here: a new symlink with the same target) instead of what it
/// points to.
pub const CLONE_NOFOLLOW: u32 = 0x1;
/// Darwin `CLONE_NOOWNERCOPY`: the clone belongs to the caller, not to the
/// source's owner and group. Only root copies ownership at all.
pub const CLONE_NOOWNERCOPY: u32 = 0x2;

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;

fn geteuid_is_root() -> bool {
    // getuid/geteuid: 107 on x86_64 Linux.
    matches!(sys::syscall(107, [0; 6]), Ok(0))
}

/// Clones the open regular file `src` (with stat `st`) to `dst`.
fn clone_regular(src: &Fd, st: &sys::Statx, dst_dirfd: c_int, dst: &PathBuf, flags: u32) -> c_long {
    let mode = (st.mode as u32) & 0o7777;
    let out = match sys::openat(
        dst_dirfd,
        dst.as_ptr(),
        flag::O_WRONLY | flag::O_CREAT | flag::O_EXCL,
        mode,
    ) {
        Ok(fd) => fd,
        Err(e) => return ret(e),
    };
    let unlink = || {
        let _ = sys::syscall(
            nr::UNLINKAT,
            [dst_dirfd as c_long, dst.as_ptr() as c_long, 0, 0, 0, 0],
        );
    };
    if let Err(e) = sys::syscall(
        nr::IOCTL,
        [
            out.0 as c_long,
            flag::FICLONE as c_long,
            src.0 as c_long,
            0,
            0,
            0,
        ],
    ) {
        unlink();
        return match e {
            errno::EXDEV => darwin::EXDEV.neg(),
            // Not a reflink filesystem (or not this pair of files).
            _ => darwin::ENOTSUP.neg(),
        };
    }
    // A clone keeps the source's mode (umask does not apply), times and,
    // for root without CLONE_NOOWNERCOPY, its owner.
    let _ = sys::syscall(nr::FCHMOD, [out.0 as c_long, mode as c_long, 0, 0, 0, 0]);
    if flags & CLONE_NOOWNERCOPY == 0 && geteuid_is_root() {
        let _ = sys::syscall(
            nr::FCHOWN,
            [out.0 as c_long, st.uid as c_long, st.gid as c_long, 0, 0, 0],
        );
    }
    let times = [
        [st.atime.sec, st.atime.nsec as i64],
        [st.mtime.sec, st.mtime.nsec as i64],
    ];
    let _ = sys::syscall(
        nr::UTIMENSAT,
        [out.0 as c_long, 0, times.as_ptr() as c_long, 0, 0, 0],
    );
    0
}

fn clone_symlink(src_dirfd: c_int, src: &PathBuf, dst_dirfd: c_int, dst: &PathBuf) -> c_long {
    let mut target = PathBuf::new();
    match sys::syscall(
        nr::READLINKAT,
        [
            src_dirfd as c_long,
            src.as_ptr() as c_long,
            target.buf.as_mut_ptr() as c_long,
            (sys::PATH_MAX - 1) as c_long,
            0,
            0,
        ],
    ) {
        Ok(n) => {
            target.len = n as usize;
            target.buf[target.len] = 0;
        }
        Err(e) => return ret(e),
    }
    match sys::syscall(
        nr::SYMLINKAT,
        [
            target.as_ptr() as c_long,
            dst_dirfd as c_long,
            dst.as_ptr() as c_long,
            0,
            0,
            0,
        ],
    ) {
        Ok(_) => 0,
        Err(e) => ret(e),
    }
}

fn check_flags(flags: u32) -> Result<(), DarwinErrno> {
    // This XNU release knows NOFOLLOW and NOOWNERCOPY only.
    if flags & !(CLONE_NOFOLLOW | CLONE_NOOWNERCOPY) != 0 {
        Err(darwin::EINVAL)
    } else {
        Ok(())
    }
}

/// Darwin `clonefileat` (BSD 462): makes `dst` a copy-on-write clone of
/// `src`.
///
/// - `src_dirfd`, `src`: the source, a relative path starting at
///   `src_dirfd` (Darwin's `AT_FDCWD`, -2, for the current directory);
/// - `dst_dirfd`, `dst`: the new name, which must not exist;
/// - `flags`: [`CLONE_NOFOLLOW`] and [`CLONE_NOOWNERCOPY`]; any other bit
///   gives EINVAL.
///
/// A regular file is cloned with Linux `FICLONE` (a reflink) and gets the
/// source's permission bits, access and modification times and, when the
/// caller is root and `CLONE_NOOWNERCOPY` is not set, its owner and group.
/// Extended attributes and file flags are not copied. A symlink (only seen
/// with `CLONE_NOFOLLOW`) is recreated with the same target.
///
/// Returns 0, or minus a Darwin errno: ENOTSUP when the file system cannot
/// reflink, EXDEV when `src` and `dst` are on different file systems (in
/// both cases no `dst` is left behind), EEXIST when `dst` exists, EINVAL
/// for bad flags or a source that is neither a regular file, a directory
/// nor a symlink, or the Linux error, translated. Unlike APFS, directories
/// are never cloned: they give ENOTSUP (EEXIST if `dst` exists), so
/// callers copy the tree.
///
/// # Safety
/// `src` and `dst` must be readable NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_clonefileat(
    src_dirfd: c_int,
    src: *const c_char,
    dst_dirfd: c_int,
    dst: *const c_char,
    flags: u32,
) -> c_long {
    if let Err(e) = check_flags(flags) {
        return e.neg();
    }
    let nofollow = flags & CLONE_NOFOLLOW != 0;
    let mut s = PathBuf::new();
    let mut d = PathBuf::new();
    // SAFETY: `src` and `dst` are NUL-terminated strings (caller's
    // contract); host_path checks for NULL.
    if let Err(e) = unsafe { sys::host_path(src, !nofollow, &mut s) } {
        return ret(e);
    }
    // SAFETY: as above.
    if let Err(e) = unsafe { sys::host_path(dst, false, &mut d) } {
        return ret(e);
    }
    let (sfd, dfd) = (sys::linux_dirfd(src_dirfd), sys::linux_dirfd(dst_dirfd));
    let at = if nofollow {
        flag::AT_SYMLINK_NOFOLLOW
    } else {
        0
    };
    let st = match sys::statx(sfd, s.as_ptr(), at, flag::STATX_BASIC_STATS) {
        Ok(st) => st,
        Err(e) => return ret(e),
    };
    match st.mode as u32 & S_IFMT {
        S_IFLNK => clone_symlink(sfd, &s, dfd, &d),
        // APFS clones whole trees; Linux has no such call. Callers copy.
        S_IFDIR => {
            if exists(dfd, &d) {
                darwin::EEXIST.neg()
            } else {
                darwin::ENOTSUP.neg()
            }
        }
        S_IFREG => {
            let fd = match sys::openat(
                sfd,
                s.as_ptr(),
                flag::O_RDONLY | flag::O_NONBLOCK | if nofollow { flag::O_NOFOLLOW } else { 0 },
                0,
            ) {
                Ok(fd) => fd,
                Err(e) => return ret(e),
            };
            clone_regular(&fd, &st, dfd, &d, flags)
        }
        _ => darwin::EINVAL.neg(),
    }
}

fn exists(dirfd: c_int, p: &PathBuf) -> bool {
    sys::statx(dirfd, p.as_ptr(), flag::AT_SYMLINK_NOFOLLOW, 0).is_ok()
}

/// Darwin `fclonefileat` (BSD 517): [`xnu_fixes_clonefileat`] with the
/// source given as an open descriptor `srcfd` (opened for any access,
/// including write-only; it is reopened read-only through
/// `/proc/self/fd`). `dst_dirfd`, `dst` and `flags` are as there;
/// `CLONE_NOFOLLOW` is accepted but has no effect.
///
/// Returns 0 or minus a Darwin errno, as [`xnu_fixes_clonefileat`] does:
/// ENOTSUP without reflink support or for a directory, EXDEV across file
/// systems, EEXIST when `dst` exists, EINVAL for bad flags or a source
/// that is not a regular file or directory, EBADF for a bad `srcfd`.
///
/// # Safety
/// `dst` must be a readable NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_fclonefileat(
    srcfd: c_int,
    dst_dirfd: c_int,
    dst: *const c_char,
    flags: u32,
) -> c_long {
    if let Err(e) = check_flags(flags) {
        return e.neg();
    }
    let mut d = PathBuf::new();
    // SAFETY: `dst` is a NUL-terminated string (caller's contract);
    // host_path checks for NULL.
    if let Err(e) = unsafe { sys::host_path(dst, false, &mut d) } {
        return ret(e);
    }
    let st = match sys::statx(
        srcfd,
        c"".as_ptr(),
        flag::AT_EMPTY_PATH,
        flag::STATX_BASIC_STATS,
    ) {
        Ok(st) => st,
        Err(e) => return ret(e),
    };
    match st.mode as u32 & S_IFMT {
        S_IFREG => {
            // Reopen read-only: the caller's fd may be write-only or O_PATH.
            let mut p = PathBuf::new();
            sys::proc_fd_path(srcfd, &mut p);
            let fd = match sys::openat(
                flag::AT_FDCWD,
                p.as_ptr(),
                flag::O_RDONLY | flag::O_NONBLOCK,
                0,
            ) {
                Ok(fd) => fd,
                Err(e) => return ret(e),
            };
            clone_regular(&fd, &st, sys::linux_dirfd(dst_dirfd), &d, flags)
        }
        S_IFDIR => darwin::ENOTSUP.neg(),
        _ => darwin::EINVAL.neg(),
    }
}

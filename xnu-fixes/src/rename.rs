//! `renameatx_np` (BSD 488) and `renamex_np`: RENAME_SWAP becomes Linux
//! RENAME_EXCHANGE, RENAME_EXCL becomes RENAME_NOREPLACE.

use core::ffi::{c_char, c_int, c_long, c_uint};

use crate::errno::{darwin, ret, DarwinErrno};
use crate::sys::{self, errno, flag, nr, PathBuf};

/// Darwin `RENAME_SECLUDE`: a "secluded" rename, which needs file-system
/// support (APFS) Linux has no equivalent for. Gives ENOTSUP.
pub const RENAME_SECLUDE: c_uint = 0x1;
/// Darwin `RENAME_SWAP`: exchange the two names atomically; both must
/// exist. Becomes Linux `RENAME_EXCHANGE`.
pub const RENAME_SWAP: c_uint = 0x2;
/// Darwin `RENAME_EXCL`: fail with EEXIST instead of replacing an existing
/// destination. Becomes Linux `RENAME_NOREPLACE`.
pub const RENAME_EXCL: c_uint = 0x4;

/// Maps Darwin rename flags to Linux renameat2 flags, or a Darwin errno.
pub fn linux_flags(flags: c_uint) -> Result<u32, DarwinErrno> {
    // macOS 11, which Darling reports, knows only these three bits.
    if flags & !(RENAME_SECLUDE | RENAME_SWAP | RENAME_EXCL) != 0 {
        return Err(darwin::EINVAL);
    }
    if flags & RENAME_SWAP != 0 && flags & RENAME_EXCL != 0 {
        return Err(darwin::EINVAL);
    }
    // Secluded renames need APFS semantics Linux has no equivalent for.
    if flags & RENAME_SECLUDE != 0 {
        return Err(darwin::ENOTSUP);
    }
    let mut l = 0;
    if flags & RENAME_SWAP != 0 {
        l |= flag::RENAME_EXCHANGE;
    }
    if flags & RENAME_EXCL != 0 {
        l |= flag::RENAME_NOREPLACE;
    }
    Ok(l)
}

/// Darwin `renameatx_np` (BSD 488): renames `from` (relative to directory
/// `fromfd`) to `to` (relative to `tofd`), with Darwin's `AT_FDCWD` (-2)
/// for the current directory. A final symlink in either path is not
/// followed.
///
/// `flags`: 0 for a plain rename, [`RENAME_SWAP`] to exchange the two
/// names, [`RENAME_EXCL`] to refuse an existing `to`. Both together, or an
/// unknown bit, give EINVAL; [`RENAME_SECLUDE`] gives ENOTSUP.
///
/// Returns 0, or minus a Darwin errno: besides the above, ENOTSUP when the
/// file system cannot do the requested flag (Linux answers EINVAL; gnulib
/// then falls back), EEXIST for `RENAME_EXCL` onto an existing name,
/// ENOENT for `RENAME_SWAP` with a missing name, or another Linux error,
/// translated.
///
/// # Safety
/// `from` and `to` must be readable NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_renameatx_np(
    fromfd: c_int,
    from: *const c_char,
    tofd: c_int,
    to: *const c_char,
    flags: c_uint,
) -> c_long {
    let lflags = match linux_flags(flags) {
        Ok(f) => f,
        Err(e) => return e.neg(),
    };
    let mut a = PathBuf::new();
    let mut b = PathBuf::new();
    // SAFETY: `from` and `to` are NUL-terminated strings (caller's
    // contract); host_path checks for NULL.
    if let Err(e) = unsafe { sys::host_path(from, false, &mut a) } {
        return ret(e);
    }
    // SAFETY: as above.
    if let Err(e) = unsafe { sys::host_path(to, false, &mut b) } {
        return ret(e);
    }
    let args = [
        sys::linux_dirfd(fromfd) as c_long,
        a.as_ptr() as c_long,
        sys::linux_dirfd(tofd) as c_long,
        b.as_ptr() as c_long,
        lflags as c_long,
        0,
    ];
    match sys::syscall_retry(nr::RENAMEAT2, args) {
        Ok(_) => 0,
        // A filesystem that cannot do the flag answers EINVAL; callers
        // (gnulib renameatu) fall back on ENOTSUP.
        Err(errno::EINVAL) if lflags != 0 => darwin::ENOTSUP.neg(),
        Err(e) => ret(e),
    }
}

/// Darwin `renamex_np`: [`xnu_fixes_renameatx_np`] with both paths
/// relative to the current directory. Returns 0 or minus a Darwin errno.
///
/// # Safety
/// As [`xnu_fixes_renameatx_np`].
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_renamex_np(
    from: *const c_char,
    to: *const c_char,
    flags: c_uint,
) -> c_long {
    // SAFETY: the same contract, with Darwin's AT_FDCWD (-2).
    unsafe { xnu_fixes_renameatx_np(-2, from, -2, to, flags) }
}

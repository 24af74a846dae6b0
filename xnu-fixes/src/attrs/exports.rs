//! The C entry points Darling's syscall table calls: pointer checks, path
//! translation, then [`getattr`].

use core::ffi::{c_char, c_int, c_long, c_ulong, c_void};

use super::abi::{read_attrlist, AttrList, FSOPT_NOFOLLOW};
use super::gather::{getattr, Target};
use crate::errno::ret;
use crate::sys::{self, PathBuf};

/// Darwin `getattrlistat` (BSD 476): packs the attributes `alist` selects
/// for the object at `path` into `buf`.
///
/// - `fd`: the directory a relative `path` starts from; Darwin's
///   `AT_FDCWD` (-2) means the current directory. An absolute `path` is
///   translated to the host through `xnu_fixes_translate_path`.
/// - `alist`: the requested attributes ([`AttrList`]).
/// - `buf`, `size`: the answer buffer. The answer starts with its u32
///   length and is laid out as XNU lays it out (see [`crate::attrs`]); one
///   that does not fit is cut short without an error.
/// - `options`: [`FSOPT_NOFOLLOW`],
///   [`FSOPT_REPORT_FULLSIZE`](super::FSOPT_REPORT_FULLSIZE) and
///   [`FSOPT_PACK_INVAL_ATTRS`](super::FSOPT_PACK_INVAL_ATTRS); other bits
///   are ignored.
///
/// Returns 0, or minus a Darwin errno: EFAULT for a NULL `alist` or `path`,
/// or a NULL `buf` with a non-zero `size`; EINVAL for a request
/// [`validate`](super::validate) refuses; ERANGE when `size` is under 4;
/// otherwise the Linux lookup error, translated. Unlike XNU, every volume
/// and fork attribute and the common and file attributes this library
/// does not implement (UUID, FULLPATH, ADDEDTIME, ...) give EINVAL, which
/// makes Libc's `realpath` fall back to `lstat`.
///
/// # Safety
/// Pointers as for Darwin's getattrlist: `alist` readable, `buf` writable
/// for `size` bytes, `path` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_getattrlistat(
    fd: c_int,
    path: *const c_char,
    alist: *const AttrList,
    buf: *mut c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    // SAFETY: `alist` readable, as the caller promises.
    let al = match unsafe { read_attrlist(alist, buf, size) } {
        Ok(al) => al,
        Err(e) => return e.neg(),
    };
    let options = options as u32;
    let mut host = PathBuf::new();
    // SAFETY: `path` is a NUL-terminated string (caller's contract);
    // host_path checks for NULL.
    if let Err(e) = unsafe { sys::host_path(path, options & FSOPT_NOFOLLOW == 0, &mut host) } {
        return ret(e);
    }
    // SAFETY: host_path succeeded, so `path` is non-null and NUL-terminated
    // within PATH_MAX bytes, which cstr_len reads up to.
    let darwin_path = unsafe {
        core::slice::from_raw_parts(path as *const u8, sys::cstr_len(path, sys::PATH_MAX))
    };
    // SAFETY: `buf` is non-null when size > 0 (checked) and writable for
    // `size` bytes (caller's contract); nothing else aliases it here.
    let out = unsafe { out_buffer(buf, size) };
    getattr(
        Target::Path(sys::linux_dirfd(fd), &host, darwin_path),
        &al,
        options,
        out,
    )
}

/// Darwin `getattrlist` (BSD 220): [`xnu_fixes_getattrlistat`] with `path`
/// relative to the current directory. Returns 0 or minus a Darwin errno,
/// as that function does.
///
/// # Safety
/// As [`xnu_fixes_getattrlistat`].
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_getattrlist(
    path: *const c_char,
    alist: *const AttrList,
    buf: *mut c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    // SAFETY: the same contract, with Darwin's AT_FDCWD (-2).
    unsafe { xnu_fixes_getattrlistat(-2, path, alist, buf, size, options) }
}

/// Darwin `fgetattrlist` (BSD 228): [`xnu_fixes_getattrlistat`] for the
/// object open on `fd`, with the same `alist`, `buf`, `size` and
/// `options`. NAME is the last component of the path Linux reports for the
/// fd. Returns 0 or minus a Darwin errno (EBADF for a bad `fd`).
///
/// # Safety
/// As [`xnu_fixes_getattrlistat`], without a path.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_fgetattrlist(
    fd: c_int,
    alist: *const AttrList,
    buf: *mut c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    // SAFETY: `alist` readable, as the caller promises.
    let al = match unsafe { read_attrlist(alist, buf, size) } {
        Ok(al) => al,
        Err(e) => return e.neg(),
    };
    // SAFETY: as in xnu_fixes_getattrlistat.
    let out = unsafe { out_buffer(buf, size) };
    getattr(Target::Fd(fd), &al, options as u32, out)
}

/// The caller's answer buffer as a slice (empty when `size` is 0).
///
/// # Safety
/// When `size > 0`, `buf` must be non-null and writable for `size` bytes,
/// and not used otherwise while the slice lives.
unsafe fn out_buffer<'a>(buf: *mut c_void, size: usize) -> &'a mut [u8] {
    if size == 0 {
        &mut []
    } else {
        // SAFETY: the function's contract.
        unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, size) }
    }
}

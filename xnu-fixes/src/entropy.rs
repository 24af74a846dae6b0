//! `getentropy` (BSD 500): at most 256 bytes (EINVAL beyond, as XNU does),
//! filled completely or failing with the real error.

use core::ffi::{c_long, c_void};

use crate::errno::{darwin, ret};
use crate::sys::{self, errno, nr};

/// The most bytes one `getentropy` call may ask for, as on Darwin.
pub const MAX: usize = 256;

/// Darwin `getentropy` (BSD 500): fills `buf` with `size` random bytes
/// from Linux `getrandom` (repeating short reads and interrupted calls).
///
/// Returns 0 once all `size` bytes are written, or minus a Darwin errno:
/// EINVAL when `size` is over [`MAX`] (256), EFAULT for a NULL `buf` with
/// a non-zero `size`, or the Linux error of `getrandom`, translated.
///
/// # Safety
/// `buf` must be writable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_getentropy(buf: *mut c_void, size: usize) -> c_long {
    if size > MAX {
        return darwin::EINVAL.neg();
    }
    if buf.is_null() && size > 0 {
        return darwin::EFAULT.neg();
    }
    let mut done = 0;
    while done < size {
        match sys::syscall(
            nr::GETRANDOM,
            [
                buf as c_long + done as c_long,
                (size - done) as c_long,
                0,
                0,
                0,
                0,
            ],
        ) {
            Ok(n) => done += n as usize,
            Err(errno::EINTR) => continue,
            Err(e) => return ret(e),
        }
    }
    0
}

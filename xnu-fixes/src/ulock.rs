//! `__ulock_wait` (BSD 515), `__ulock_wait2` (544) and `__ulock_wake`
//! (516) on Linux futexes, with XNU's conventions.
//!
//! Darling lacks 544 (macOS 11's wait, which zig 0.12 uses for every
//! futex wait), and its 515/516 depart from XNU in ways callers see
//! (docs/tools/xnu-fixes.md, "Darling today"): a timeout of 1 ms or more
//! waits a thousand times too long, and an error under `ULF_NO_ERRNO`
//! comes back as -1 (zig reads that as EPERM, an `unreachable`). Here a
//! wait is `FUTEX_WAIT` with the timeout as given, and every error is
//! minus a Darwin errno, which the dylib's wrapper returns as is under
//! `ULF_NO_ERRNO` and through `errno` otherwise.
//!
//! The futexes are the ones Darling's own calls use (private for the
//! process-local operations, on the same address), so a waiter here and a
//! waker inside libSystem that was not interposed still meet.

use core::ffi::{c_long, c_void};

use crate::errno::{darwin, ret};
use crate::sys::{self, errno};

/// Compare a 32-bit value and wait (`UL_COMPARE_AND_WAIT`).
pub const UL_COMPARE_AND_WAIT: u32 = 1;
/// `os_unfair_lock`'s operation: the value is the owner; same wait.
pub const UL_UNFAIR_LOCK: u32 = 2;
/// `UL_COMPARE_AND_WAIT` between processes (shared memory).
pub const UL_COMPARE_AND_WAIT_SHARED: u32 = 3;
/// The operation's bits of the first argument; the rest are flags.
pub const UL_OPCODE_MASK: u32 = 0xff;
/// Wake every waiter, not one.
pub const ULF_WAKE_ALL: u32 = 0x100;
/// Wake one named thread; a futex cannot name one, so all are woken.
pub const ULF_WAKE_THREAD: u32 = 0x200;
/// Wake even when the caller does not own the unfair lock.
pub const ULF_WAKE_ALLOW_NON_OWNER: u32 = 0x400;
/// A workqueue contention hint (ignored: no scheduler to tell).
pub const ULF_WAIT_WORKQ_DATA_CONTENTION: u32 = 0x1_0000;
/// The wait is a cancellation point (ignored: pthread cancellation is
/// libSystem's, around the call).
pub const ULF_WAIT_CANCEL_POINT: u32 = 0x2_0000;
/// Spin before sleeping (ignored: a hint).
pub const ULF_WAIT_ADAPTIVE_SPIN: u32 = 0x4_0000;
/// Errors are returned as minus the errno instead of -1 and `errno`.
pub const ULF_NO_ERRNO: u32 = 0x100_0000;

const WAIT_FLAGS: u32 =
    ULF_NO_ERRNO | ULF_WAIT_WORKQ_DATA_CONTENTION | ULF_WAIT_CANCEL_POINT | ULF_WAIT_ADAPTIVE_SPIN;
const WAKE_FLAGS: u32 = ULF_NO_ERRNO | ULF_WAKE_ALL | ULF_WAKE_THREAD | ULF_WAKE_ALLOW_NON_OWNER;

const FUTEX: i32 = 202;
const FUTEX_WAIT: c_long = 0;
const FUTEX_WAKE: c_long = 1;
const FUTEX_PRIVATE_FLAG: c_long = 128;

#[repr(C)]
struct Timespec {
    sec: c_long,
    nsec: c_long,
}

/// The futex operation flags for a ulock operation, or `None` for one a
/// 32-bit futex cannot do (the 64-bit operations) or that does not exist.
fn futex_flags(operation: u32, allowed: u32) -> Option<c_long> {
    if operation & !(UL_OPCODE_MASK | allowed) != 0 {
        return None;
    }
    match operation & UL_OPCODE_MASK {
        UL_COMPARE_AND_WAIT | UL_UNFAIR_LOCK => Some(FUTEX_PRIVATE_FLAG),
        UL_COMPARE_AND_WAIT_SHARED => Some(0),
        _ => None,
    }
}

/// macOS 11's `__ulock_wait2`: sleeps while the 32-bit value at `addr`
/// equals `value`, at most `timeout_ns` nanoseconds (0: no limit).
/// `value2` (the 64-bit operations' second word) is not used.
///
/// Returns 1 when woken, or when the value already differed (XNU's count
/// of waiters that may remain; `os_unfair_lock` keeps its waiters bit on
/// it), or minus a Darwin errno: ETIMEDOUT, EINTR, EFAULT for an address
/// that is not mapped, EINVAL for a NULL address, an unknown operation
/// or flag, or a 64-bit operation.
///
/// # Safety
/// `addr` is only handed to the kernel, which checks it.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_ulock_wait2(
    operation: u32,
    addr: *mut c_void,
    value: u64,
    timeout_ns: u64,
    value2: u64,
) -> c_long {
    let _ = value2;
    let Some(private) = futex_flags(operation, WAIT_FLAGS) else {
        return darwin::EINVAL.neg();
    };
    if addr.is_null() {
        return darwin::EINVAL.neg();
    }
    let ts = Timespec {
        sec: (timeout_ns / 1_000_000_000) as c_long,
        nsec: (timeout_ns % 1_000_000_000) as c_long,
    };
    let ts_arg = if timeout_ns == 0 {
        0
    } else {
        &ts as *const Timespec as c_long
    };
    match sys::syscall(
        FUTEX,
        [
            addr as c_long,
            FUTEX_WAIT | private,
            value as u32 as c_long,
            ts_arg,
            0,
            0,
        ],
    ) {
        Ok(_) | Err(errno::EAGAIN) => 1,
        Err(e) => ret(e),
    }
}

/// The older `__ulock_wait`: [`xnu_fixes_ulock_wait2`] with the timeout
/// in microseconds (0: no limit).
///
/// # Safety
/// As [`xnu_fixes_ulock_wait2`].
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_ulock_wait(
    operation: u32,
    addr: *mut c_void,
    value: u64,
    timeout_us: u32,
) -> c_long {
    // SAFETY: the same arguments, passed on.
    unsafe { xnu_fixes_ulock_wait2(operation, addr, value, u64::from(timeout_us) * 1000, 0) }
}

/// `__ulock_wake`: wakes one waiter on `addr`, or all with
/// [`ULF_WAKE_ALL`] or [`ULF_WAKE_THREAD`] (a futex cannot name a
/// thread; the others wake spuriously, which every waiter allows).
/// `wake_value` (the thread to wake) is not used.
///
/// Returns 0 when a waiter was woken, or minus a Darwin errno: ENOENT when
/// there was none (as XNU says it), EFAULT, or EINVAL as for the wait.
///
/// # Safety
/// `addr` is only handed to the kernel.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_ulock_wake(
    operation: u32,
    addr: *mut c_void,
    wake_value: u64,
) -> c_long {
    let _ = wake_value;
    let Some(private) = futex_flags(operation, WAKE_FLAGS) else {
        return darwin::EINVAL.neg();
    };
    if addr.is_null() {
        return darwin::EINVAL.neg();
    }
    let n = if operation & (ULF_WAKE_ALL | ULF_WAKE_THREAD) != 0 {
        c_long::from(i32::MAX)
    } else {
        1
    };
    match sys::syscall(FUTEX, [addr as c_long, FUTEX_WAKE | private, n, 0, 0, 0]) {
        Ok(0) => darwin::ENOENT.neg(),
        Ok(_) => 0,
        Err(e) => ret(e),
    }
}

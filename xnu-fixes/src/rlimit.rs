//! A floor under the soft open-file limit (`setrlimit(RLIMIT_NOFILE)`).
//!
//! Darling gives every thread its own socket to darlingserver and numbers
//! them down from the soft limit the process started with. A process that
//! lowers the limit below them (zig 0.12 sets it to at most 10240 at
//! start-up) breaks its next `fork`: the child cannot place its new socket
//! (`dup2` past the limit fails with EBADF), aborts, and its signal path
//! then fails on the socket it just closed
//! (`dserver_rpc_interrupt_enter failed with code -9`), while the parent
//! waits for it forever. The dylib records the soft limit when it loads and
//! never lets a request go below it; raising stays as it was.

/// Darwin's `RLIMIT_NOFILE`.
pub const RLIMIT_NOFILE: i32 = 8;
/// Darwin's flag bit on the resource number asking for POSIX semantics.
pub const RLIMIT_POSIX_FLAG: i32 = 0x1000;

/// Darwin's `struct rlimit`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// The soft limit.
    pub cur: u64,
    /// The hard limit.
    pub max: u64,
}

/// The limits to set instead of `wanted` for `resource` so that the soft
/// open-file limit stays at or above `floor` (the hard one is kept at least
/// as high). Other resources, and requests already at or above the floor,
/// pass unchanged.
pub fn keep_floor(resource: i32, wanted: Rlimit, floor: u64) -> Rlimit {
    if resource & !RLIMIT_POSIX_FLAG != RLIMIT_NOFILE || wanted.cur >= floor {
        return wanted;
    }
    Rlimit {
        cur: floor,
        max: wanted.max.max(floor),
    }
}

/// [`keep_floor`] for C: rewrites `*limits` in place. Returns 1 when it
/// changed them, 0 when not (or for a NULL pointer).
///
/// # Safety
/// `limits` is NULL or points to a readable and writable `struct rlimit`.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_rlimit_keep_floor(
    resource: i32,
    limits: *mut Rlimit,
    floor: u64,
) -> i32 {
    // SAFETY: the caller passes NULL or a valid struct rlimit.
    let Some(limits) = (unsafe { limits.as_mut() }) else {
        return 0;
    };
    let kept = keep_floor(resource, *limits, floor);
    let changed = kept != *limits;
    *limits = kept;
    i32::from(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZIG: Rlimit = Rlimit {
        cur: 10240,
        max: 10240,
    };

    #[test]
    fn a_request_below_the_floor_keeps_the_floor() {
        let got = keep_floor(RLIMIT_NOFILE, ZIG, 1_048_575);
        assert_eq!(
            got,
            Rlimit {
                cur: 1_048_575,
                max: 1_048_575
            }
        );
        let got = keep_floor(RLIMIT_NOFILE | RLIMIT_POSIX_FLAG, ZIG, 65535);
        assert_eq!(
            got,
            Rlimit {
                cur: 65535,
                max: 65535
            }
        );
    }

    #[test]
    fn raising_and_other_resources_pass_unchanged() {
        assert_eq!(keep_floor(RLIMIT_NOFILE, ZIG, 1023), ZIG);
        assert_eq!(keep_floor(RLIMIT_NOFILE, ZIG, 10240), ZIG);
        assert_eq!(keep_floor(3, ZIG, 1_048_575), ZIG); // RLIMIT_STACK
        let higher_hard = Rlimit {
            cur: 256,
            max: u64::MAX >> 1,
        };
        assert_eq!(
            keep_floor(RLIMIT_NOFILE, higher_hard, 4096),
            Rlimit {
                cur: 4096,
                max: u64::MAX >> 1
            }
        );
    }

    #[test]
    fn the_c_entry_rewrites_in_place_and_says_so() {
        let mut l = ZIG;
        // SAFETY: a valid struct, then NULL.
        unsafe {
            assert_eq!(xnu_fixes_rlimit_keep_floor(RLIMIT_NOFILE, &mut l, 20000), 1);
            assert_eq!(
                l,
                Rlimit {
                    cur: 20000,
                    max: 20000
                }
            );
            assert_eq!(xnu_fixes_rlimit_keep_floor(RLIMIT_NOFILE, &mut l, 20000), 0);
            assert_eq!(
                xnu_fixes_rlimit_keep_floor(RLIMIT_NOFILE, std::ptr::null_mut(), 1),
                0
            );
        }
    }
}

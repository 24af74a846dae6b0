//! Darwin errnos, what handlers report, and the one way from a Linux errno
//! to a Darwin one.
//!
//! Two types keep the two numberings apart: a Linux syscall fails with a
//! [`LinuxErrno`]; a handler reports a [`DarwinErrno`], returning it as
//! [`DarwinErrno::neg`] (Darling's convention: a value >= 0, or minus a
//! Darwin errno). A [`LinuxErrno`] becomes a [`DarwinErrno`] only through
//! [`LinuxErrno::to_darwin`] or [`LinuxErrno::to_darwin_socket`] (the table
//! below); [`ret`] does that and negates in one step.
//!
//! Linux has one value, 95, for both ENOTSUP and EOPNOTSUPP; Darwin has two
//! (45 and 102). File-system callers (gnulib, Rust std, Nix) test ENOTSUP,
//! so [`LinuxErrno::to_darwin`] gives 45; [`LinuxErrno::to_darwin_socket`]
//! gives 102 for socket calls.

use core::ffi::c_long;

use crate::sys::LinuxErrno;

/// A Darwin errno (positive), what a handler reports. Made only from the
/// constants in [`darwin`] or by translating a [`LinuxErrno`]; a handler
/// returns it as [`neg`](DarwinErrno::neg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct DarwinErrno(i32);

impl DarwinErrno {
    /// The Darwin number.
    pub const fn get(self) -> i32 {
        self.0
    }

    /// A handler's return value for this error: minus the Darwin errno.
    pub const fn neg(self) -> c_long {
        -(self.0 as c_long)
    }
}

/// Darwin errno values used by this library, with their Darwin numbers.
/// 1 to 34 equal Linux's except 11 (EDEADLK on Darwin, EAGAIN on Linux;
/// the two swap with 35); above 34 most differ (see
/// [`LinuxErrno::to_darwin`]).
pub mod darwin {
    use super::DarwinErrno;

    /// EPERM (1): the caller lacks the privilege the operation needs.
    pub const EPERM: DarwinErrno = DarwinErrno(1);
    /// ENOENT (2): a path component does not exist.
    pub const ENOENT: DarwinErrno = DarwinErrno(2);
    /// EINTR (4): a signal interrupted the call.
    pub const EINTR: DarwinErrno = DarwinErrno(4);
    /// EIO (5): an input/output error; also what an untranslatable Linux errno
    /// becomes.
    pub const EIO: DarwinErrno = DarwinErrno(5);
    /// EBADF (9): the descriptor is not open (or not open for this use).
    pub const EBADF: DarwinErrno = DarwinErrno(9);
    /// EDEADLK (11): the operation would deadlock (Linux 35 maps here).
    pub const EDEADLK: DarwinErrno = DarwinErrno(11);
    /// ENOMEM (12): out of memory; setattrlist gives it for a buffer over 8192
    /// bytes.
    pub const ENOMEM: DarwinErrno = DarwinErrno(12);
    /// EACCES (13): the file's permissions refuse the access.
    pub const EACCES: DarwinErrno = DarwinErrno(13);
    /// EFAULT (14): a pointer argument is NULL or not valid memory.
    pub const EFAULT: DarwinErrno = DarwinErrno(14);
    /// EEXIST (17): the name already exists.
    pub const EEXIST: DarwinErrno = DarwinErrno(17);
    /// EXDEV (18): the two objects are on different file systems.
    pub const EXDEV: DarwinErrno = DarwinErrno(18);
    /// ENODEV (19): no such device, or the device cannot do this.
    pub const ENODEV: DarwinErrno = DarwinErrno(19);
    /// ENOTDIR (20): a path component is not a directory.
    pub const ENOTDIR: DarwinErrno = DarwinErrno(20);
    /// EISDIR (21): the object is a directory, which the operation does not
    /// accept.
    pub const EISDIR: DarwinErrno = DarwinErrno(21);
    /// EINVAL (22): an invalid argument: unknown flag bits, an attribute
    /// request that cannot be answered, a short setattrlist buffer.
    pub const EINVAL: DarwinErrno = DarwinErrno(22);
    /// ENOTTY (25): the control request does not apply to this object.
    pub const ENOTTY: DarwinErrno = DarwinErrno(25);
    /// EPIPE (32): the reading end of the pipe or socket is gone.
    pub const EPIPE: DarwinErrno = DarwinErrno(32);
    /// ERANGE (34): a result does not fit; getattrlist gives it for a buffer
    /// under 4 bytes.
    pub const ERANGE: DarwinErrno = DarwinErrno(34);
    /// EAGAIN (35): the resource is temporarily unavailable; try again (Linux
    /// 11 maps here).
    pub const EAGAIN: DarwinErrno = DarwinErrno(35);
    /// ENOTSUP (45): the operation is not supported by this object or file
    /// system; callers such as gnulib and Rust std fall back on it (Linux 95
    /// maps here).
    pub const ENOTSUP: DarwinErrno = DarwinErrno(45);
    /// ENETDOWN (50): the network is down.
    pub const ENETDOWN: DarwinErrno = DarwinErrno(50);
    /// ECONNRESET (54): the peer reset the connection.
    pub const ECONNRESET: DarwinErrno = DarwinErrno(54);
    /// ELOOP (62): too many symlinks in a path, or a symlink where following
    /// was refused.
    pub const ELOOP: DarwinErrno = DarwinErrno(62);
    /// ENAMETOOLONG (63): a path or name is too long.
    pub const ENAMETOOLONG: DarwinErrno = DarwinErrno(63);
    /// ENOTEMPTY (66): the directory is not empty.
    pub const ENOTEMPTY: DarwinErrno = DarwinErrno(66);
    /// ENOSYS (78): the system call is not implemented.
    pub const ENOSYS: DarwinErrno = DarwinErrno(78);
    /// EAUTH (80): authentication failed (Linux's key errors map here).
    pub const EAUTH: DarwinErrno = DarwinErrno(80);
    /// ENOATTR (93): the extended attribute does not exist.
    pub const ENOATTR: DarwinErrno = DarwinErrno(93);
    /// EOPNOTSUPP (102): the socket does not support the operation (Linux 95
    /// through the socket translation).
    pub const EOPNOTSUPP: DarwinErrno = DarwinErrno(102);
}

/// Linux errno `i` (index) to Darwin errno. Linux-only codes get the
/// closest Darwin meaning (noted per line).
const TABLE: [u8; 134] = [
    0,   // 0
    1,   // EPERM
    2,   // ENOENT
    3,   // ESRCH
    4,   // EINTR
    5,   // EIO
    6,   // ENXIO
    7,   // E2BIG
    8,   // ENOEXEC
    9,   // EBADF
    10,  // ECHILD
    35,  // EAGAIN
    12,  // ENOMEM
    13,  // EACCES
    14,  // EFAULT
    15,  // ENOTBLK
    16,  // EBUSY
    17,  // EEXIST
    18,  // EXDEV
    19,  // ENODEV
    20,  // ENOTDIR
    21,  // EISDIR
    22,  // EINVAL
    23,  // ENFILE
    24,  // EMFILE
    25,  // ENOTTY
    26,  // ETXTBSY
    27,  // EFBIG
    28,  // ENOSPC
    29,  // ESPIPE
    30,  // EROFS
    31,  // EMLINK
    32,  // EPIPE
    33,  // EDOM
    34,  // ERANGE
    11,  // EDEADLK
    63,  // ENAMETOOLONG
    77,  // ENOLCK
    78,  // ENOSYS
    66,  // ENOTEMPTY
    62,  // ELOOP
    35,  // 41 (EWOULDBLOCK is 11 on Linux; 41 unused) -> EAGAIN
    91,  // ENOMSG
    90,  // EIDRM
    22,  // ECHRNG -> EINVAL
    5,   // EL2NSYNC -> EIO
    5,   // EL3HLT -> EIO
    5,   // EL3RST -> EIO
    22,  // ELNRNG -> EINVAL
    22,  // EUNATCH -> EINVAL
    22,  // ENOCSI -> EINVAL
    5,   // EL2HLT -> EIO
    22,  // EBADE -> EINVAL
    22,  // EBADR -> EINVAL
    28,  // EXFULL -> ENOSPC
    22,  // ENOANO -> EINVAL
    22,  // EBADRQC -> EINVAL
    22,  // EBADSLT -> EINVAL
    11,  // 58 (EDEADLOCK alias) -> EDEADLK
    79,  // EBFONT -> EFTYPE
    99,  // ENOSTR
    96,  // ENODATA
    101, // ETIME
    98,  // ENOSR
    50,  // ENONET -> ENETDOWN
    2,   // ENOPKG -> ENOENT
    71,  // EREMOTE
    97,  // ENOLINK
    5,   // EADV -> EIO
    5,   // ESRMNT -> EIO
    54,  // ECOMM -> ECONNRESET
    100, // EPROTO
    95,  // EMULTIHOP
    5,   // EDOTDOT -> EIO
    94,  // EBADMSG
    84,  // EOVERFLOW
    22,  // ENOTUNIQ -> EINVAL
    9,   // EBADFD -> EBADF
    22,  // EREMCHG -> EINVAL
    8,   // ELIBACC -> ENOEXEC
    88,  // ELIBBAD -> EBADMACHO
    8,   // ELIBSCN -> ENOEXEC
    8,   // ELIBMAX -> ENOEXEC
    85,  // ELIBEXEC -> EBADEXEC
    92,  // EILSEQ
    4,   // ERESTART -> EINTR
    32,  // ESTRPIPE -> EPIPE
    68,  // EUSERS
    38,  // ENOTSOCK
    39,  // EDESTADDRREQ
    40,  // EMSGSIZE
    41,  // EPROTOTYPE
    42,  // ENOPROTOOPT
    43,  // EPROTONOSUPPORT
    44,  // ESOCKTNOSUPPORT
    45,  // EOPNOTSUPP/ENOTSUP -> ENOTSUP (see module docs)
    46,  // EPFNOSUPPORT
    47,  // EAFNOSUPPORT
    48,  // EADDRINUSE
    49,  // EADDRNOTAVAIL
    50,  // ENETDOWN
    51,  // ENETUNREACH
    52,  // ENETRESET
    53,  // ECONNABORTED
    54,  // ECONNRESET
    55,  // ENOBUFS
    56,  // EISCONN
    57,  // ENOTCONN
    58,  // ESHUTDOWN
    59,  // ETOOMANYREFS
    60,  // ETIMEDOUT
    61,  // ECONNREFUSED
    64,  // EHOSTDOWN
    65,  // EHOSTUNREACH
    37,  // EALREADY
    36,  // EINPROGRESS
    70,  // ESTALE
    5,   // EUCLEAN -> EIO
    22,  // ENOTNAM -> EINVAL
    22,  // ENAVAIL -> EINVAL
    22,  // EISNAM -> EINVAL
    5,   // EREMOTEIO -> EIO
    69,  // EDQUOT
    19,  // ENOMEDIUM -> ENODEV
    19,  // EMEDIUMTYPE -> ENODEV
    89,  // ECANCELED
    80,  // ENOKEY -> EAUTH
    80,  // EKEYEXPIRED -> EAUTH
    80,  // EKEYREVOKED -> EAUTH
    80,  // EKEYREJECTED -> EAUTH
    105, // EOWNERDEAD
    104, // ENOTRECOVERABLE
    50,  // ERFKILL -> ENETDOWN
    5,   // EHWPOISON -> EIO
];

impl LinuxErrno {
    /// Translates this Linux errno for a file-system call. Numbers outside
    /// Linux's range give EIO.
    pub fn to_darwin(self) -> DarwinErrno {
        let linux = self.get();
        if linux > 0 && (linux as usize) < TABLE.len() {
            DarwinErrno(TABLE[linux as usize] as i32)
        } else {
            darwin::EIO
        }
    }

    /// Translates this Linux errno for a socket call (95 is EOPNOTSUPP).
    pub fn to_darwin_socket(self) -> DarwinErrno {
        if self == crate::sys::errno::EOPNOTSUPP {
            darwin::EOPNOTSUPP
        } else {
            self.to_darwin()
        }
    }
}

/// A handler's return value for a Linux error: minus its Darwin
/// translation (`linux.to_darwin().neg()`).
pub fn ret(linux: LinuxErrno) -> c_long {
    linux.to_darwin().neg()
}

/// [`LinuxErrno::to_darwin`] for C: a Linux errno number to a Darwin one.
#[no_mangle]
pub extern "C" fn xnu_fixes_errno_linux_to_darwin(linux: i32) -> i32 {
    LinuxErrno::new(linux).to_darwin().get()
}

/// [`LinuxErrno::to_darwin_socket`] for C.
#[no_mangle]
pub extern "C" fn xnu_fixes_errno_linux_to_darwin_socket(linux: i32) -> i32 {
    LinuxErrno::new(linux).to_darwin_socket().get()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_darwin(linux: i32) -> i32 {
        LinuxErrno::new(linux).to_darwin().get()
    }

    #[test]
    fn the_documented_differences() {
        // (linux, darwin) pairs from Darwin's and Linux's errno.h.
        let pairs = [
            (11, 35),
            (35, 11),
            (115, 36),
            (114, 37),
            (88, 38),
            (89, 39),
            (90, 40),
            (91, 41),
            (92, 42),
            (93, 43),
            (94, 44),
            (95, 45),
            (96, 46),
            (97, 47),
            (98, 48),
            (99, 49),
            (100, 50),
            (101, 51),
            (102, 52),
            (103, 53),
            (104, 54),
            (105, 55),
            (106, 56),
            (107, 57),
            (108, 58),
            (109, 59),
            (110, 60),
            (111, 61),
            (40, 62),
            (36, 63),
            (112, 64),
            (113, 65),
            (39, 66),
            (87, 68),
            (122, 69),
            (116, 70),
            (66, 71),
            (37, 77),
            (38, 78),
            (75, 84),
            (125, 89),
            (43, 90),
            (42, 91),
            (84, 92),
            (74, 94),
            (72, 95),
            (61, 96),
            (67, 97),
            (63, 98),
            (60, 99),
            (71, 100),
            (62, 101),
            (131, 104),
            (130, 105),
        ];
        for (l, d) in pairs {
            assert_eq!(to_darwin(l), d, "linux {l}");
        }
        for same in 1..=34 {
            if same != 11 {
                assert_eq!(to_darwin(same), same);
            }
        }
        assert_eq!(LinuxErrno::new(95).to_darwin_socket().get(), 102);
        assert_eq!(to_darwin(0), darwin::EIO.get());
        assert_eq!(to_darwin(9999), darwin::EIO.get());
        // Every result is a real Darwin errno (1..=106).
        for l in 1..200 {
            assert!((1..=106).contains(&to_darwin(l)), "linux {l}");
        }
    }
}

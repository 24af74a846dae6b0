//! Linux to Darwin errno translation. Handlers return minus a Darwin errno.
//!
//! Linux has one value, 95, for both ENOTSUP and EOPNOTSUPP; Darwin has two
//! (45 and 102). File-system callers (gnulib, Rust std, Nix) test ENOTSUP,
//! so [`to_darwin`] gives 45; [`to_darwin_socket`] gives 102 for socket calls.

/// Darwin errno values used by this library.
pub mod darwin {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EINTR: i32 = 4;
    pub const EIO: i32 = 5;
    pub const EBADF: i32 = 9;
    pub const EDEADLK: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EFAULT: i32 = 14;
    pub const EEXIST: i32 = 17;
    pub const EXDEV: i32 = 18;
    pub const ENODEV: i32 = 19;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    pub const ENOTTY: i32 = 25;
    pub const EPIPE: i32 = 32;
    pub const ERANGE: i32 = 34;
    pub const EAGAIN: i32 = 35;
    pub const ENOTSUP: i32 = 45;
    pub const ENETDOWN: i32 = 50;
    pub const ECONNRESET: i32 = 54;
    pub const ELOOP: i32 = 62;
    pub const ENAMETOOLONG: i32 = 63;
    pub const ENOTEMPTY: i32 = 66;
    pub const ENOSYS: i32 = 78;
    pub const EAUTH: i32 = 80;
    pub const ENOATTR: i32 = 93;
    pub const EOPNOTSUPP: i32 = 102;
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

/// Translates a positive Linux errno for a file-system call.
pub fn to_darwin(linux: i32) -> i32 {
    if linux > 0 && (linux as usize) < TABLE.len() {
        TABLE[linux as usize] as i32
    } else {
        darwin::EIO
    }
}

/// Translates a positive Linux errno for a socket call (95 is EOPNOTSUPP).
pub fn to_darwin_socket(linux: i32) -> i32 {
    if linux == 95 {
        darwin::EOPNOTSUPP
    } else {
        to_darwin(linux)
    }
}

/// A handler's return value for a Linux error.
pub fn ret(linux: i32) -> core::ffi::c_long {
    -(to_darwin(linux) as core::ffi::c_long)
}

#[no_mangle]
pub extern "C" fn xnu_fixes_errno_linux_to_darwin(linux: i32) -> i32 {
    to_darwin(linux)
}

#[no_mangle]
pub extern "C" fn xnu_fixes_errno_linux_to_darwin_socket(linux: i32) -> i32 {
    to_darwin_socket(linux)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(to_darwin_socket(95), 102);
        assert_eq!(to_darwin(0), darwin::EIO);
        assert_eq!(to_darwin(9999), darwin::EIO);
        // Every result is a real Darwin errno (1..=106).
        for l in 1..200 {
            assert!((1..=106).contains(&to_darwin(l)), "linux {l}");
        }
    }
}

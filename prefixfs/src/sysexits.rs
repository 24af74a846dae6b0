//! The BSD `<sysexits.h>` exit statuses, the one set every tool uses for
//! failures that are ours rather than the emulated program's (the emulated
//! programs' own codes, such as dscl's `(-status) & 0xFF`, stay as macOS
//! has them).

/// Success.
pub const EX_OK: i32 = 0;
/// The command was used incorrectly (bad arguments, unknown option).
pub const EX_USAGE: i32 = 64;
/// The input data was incorrect.
pub const EX_DATAERR: i32 = 65;
/// An input file did not exist or was not readable.
pub const EX_NOINPUT: i32 = 66;
/// The user (or record) named does not exist.
pub const EX_NOUSER: i32 = 67;
/// The host named does not exist.
pub const EX_NOHOST: i32 = 68;
/// A service is unavailable: for us, no Darling prefix could be found.
pub const EX_UNAVAILABLE: i32 = 69;
/// An internal software error.
pub const EX_SOFTWARE: i32 = 70;
/// An operating system error (cannot fork, cannot create a pipe, …).
pub const EX_OSERR: i32 = 71;
/// A system file is missing or malformed.
pub const EX_OSFILE: i32 = 72;
/// An output file cannot be created.
pub const EX_CANTCREAT: i32 = 73;
/// An error while doing I/O on a file.
pub const EX_IOERR: i32 = 74;
/// A temporary failure; the caller may retry.
pub const EX_TEMPFAIL: i32 = 75;
/// The remote system returned something impossible in a protocol exchange.
pub const EX_PROTOCOL: i32 = 76;
/// Not enough privilege for the operation.
pub const EX_NOPERM: i32 = 77;
/// Something was found unconfigured or misconfigured.
pub const EX_CONFIG: i32 = 78;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_bsd_ones() {
        // <sysexits.h>: EX__BASE 64 up to EX__MAX 78, in this order.
        let all = [
            EX_USAGE,
            EX_DATAERR,
            EX_NOINPUT,
            EX_NOUSER,
            EX_NOHOST,
            EX_UNAVAILABLE,
            EX_SOFTWARE,
            EX_OSERR,
            EX_OSFILE,
            EX_CANTCREAT,
            EX_IOERR,
            EX_TEMPFAIL,
            EX_PROTOCOL,
            EX_NOPERM,
            EX_CONFIG,
        ];
        assert_eq!(all.to_vec(), (64..=78).collect::<Vec<i32>>());
        assert_eq!(EX_OK, 0);
    }
}

//! Landlock through raw syscalls (x86_64 numbers 444-446): an ABI probe, a
//! ruleset handling file rights, path-beneath rules and restrict_self.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
pub const REMOVE_DIR: u64 = 1 << 4;
pub const REMOVE_FILE: u64 = 1 << 5;
pub const MAKE_CHAR: u64 = 1 << 6;
pub const MAKE_DIR: u64 = 1 << 7;
pub const MAKE_REG: u64 = 1 << 8;
pub const MAKE_SOCK: u64 = 1 << 9;
pub const MAKE_FIFO: u64 = 1 << 10;
pub const MAKE_BLOCK: u64 = 1 << 11;
pub const MAKE_SYM: u64 = 1 << 12;
pub const REFER: u64 = 1 << 13;
pub const TRUNCATE: u64 = 1 << 14;

/// Rights a rule on a non-directory may carry.
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE;

const SYS_CREATE_RULESET: libc::c_long = 444;
const SYS_ADD_RULE: libc::c_long = 445;
const SYS_RESTRICT_SELF: libc::c_long = 446;

/// The kernel's Landlock ABI version, or why there is none.
pub fn abi() -> Result<u32, String> {
    // SAFETY: the documented version query: NULL attr, size 0, flag 1.
    let r = unsafe { libc::syscall(SYS_CREATE_RULESET, std::ptr::null::<u8>(), 0usize, 1u32) };
    if r >= 0 {
        return Ok(r as u32);
    }
    let e = io::Error::last_os_error();
    Err(match e.raw_os_error() {
        Some(libc::ENOSYS) => "Landlock is not built into this kernel".into(),
        Some(libc::EOPNOTSUPP) => "Landlock is disabled (add it to the lsm= boot parameter)".into(),
        _ => format!("Landlock probe failed: {e}"),
    })
}

/// The Linux rights for our READ/WRITE/EXEC classes on this ABI.
pub fn rights(classes: u8, abi: u32) -> u64 {
    let mut r = 0;
    if classes & sbpl::plan::READ != 0 {
        r |= READ_FILE | READ_DIR;
    }
    if classes & sbpl::plan::WRITE != 0 {
        r |= WRITE_FILE
            | REMOVE_DIR
            | REMOVE_FILE
            | MAKE_CHAR
            | MAKE_DIR
            | MAKE_REG
            | MAKE_SOCK
            | MAKE_FIFO
            | MAKE_BLOCK
            | MAKE_SYM;
        if abi >= 2 {
            r |= REFER;
        }
        if abi >= 3 {
            r |= TRUNCATE;
        }
    }
    if classes & sbpl::plan::EXEC != 0 {
        r |= EXECUTE;
    }
    r
}

/// What [`Ruleset::allow`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Rule,
    /// The path does not exist: Landlock needs an existing file.
    Missing,
    /// A pipe, socket or anonymous inode: Landlock does not restrict
    /// these, and refuses rules on them.
    Unrestricted,
}

pub struct Ruleset {
    fd: libc::c_int,
    handled: u64,
}

#[repr(C, packed)]
struct PathBeneath {
    allowed: u64,
    parent_fd: i32,
}

impl Ruleset {
    pub fn new(handled: u64) -> io::Result<Ruleset> {
        let attr: u64 = handled;
        // SAFETY: attr is a valid landlock_ruleset_attr prefix of 8 bytes.
        let fd = unsafe { libc::syscall(SYS_CREATE_RULESET, &attr as *const u64, 8usize, 0u32) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Ruleset {
            fd: fd as libc::c_int,
            handled,
        })
    }

    /// Allows `access` beneath `path`.
    pub fn allow(&self, path: &Path, access: u64) -> io::Result<Added> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: valid C string; O_PATH opens anything without reading it.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::EACCES)
            ) {
                Ok(Added::Missing)
            } else {
                Err(e)
            };
        }
        // SAFETY: fd is open; st is plain data.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { libc::fstat(fd, &mut st) };
        let mut allowed = access & self.handled;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            allowed &= FILE_RIGHTS;
        }
        let r = if allowed == 0 {
            0
        } else {
            let rule = PathBeneath {
                allowed,
                parent_fd: fd,
            };
            // SAFETY: rule type 1 (path beneath) with a packed attr.
            unsafe {
                libc::syscall(
                    SYS_ADD_RULE,
                    self.fd,
                    1u32,
                    &rule as *const PathBeneath,
                    0u32,
                )
            }
        };
        let err = io::Error::last_os_error();
        // SAFETY: closing our own fd.
        unsafe { libc::close(fd) };
        if r < 0 {
            // EBADFD: a pipe, socket or other anonymous inode (what
            // /dev/stdout is when Nix gives the builder a pipe). Landlock
            // never restricts those, so no rule is needed.
            if err.raw_os_error() == Some(libc::EBADFD) {
                return Ok(Added::Unrestricted);
            }
            return Err(err);
        }
        Ok(Added::Rule)
    }

    /// Sets no_new_privs and restricts this thread (and what it execs).
    pub fn restrict_self(self) -> io::Result<()> {
        // SAFETY: plain prctl and the restrict syscall on our ruleset fd.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let r = libc::syscall(SYS_RESTRICT_SELF, self.fd, 0u32);
            let e = io::Error::last_os_error();
            libc::close(self.fd);
            if r < 0 {
                return Err(e);
            }
        }
        Ok(())
    }
}

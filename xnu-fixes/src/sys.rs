//! The only way this library reaches the kernel: Linux syscalls through
//! Darling's `__linux_syscall`, and prefix-to-host path translation through
//! `xnu_fixes_translate_path`. Darling provides both in production; the
//! `linux-shim` feature provides them for tests on plain Linux.

use core::ffi::{c_char, c_int, c_long};

extern "C" {
    /// A raw Linux syscall; returns the kernel's value (negative Linux
    /// errno on failure). Exported by Darling's libsystem_kernel.
    fn __linux_syscall(
        nr: c_int,
        a1: c_long,
        a2: c_long,
        a3: c_long,
        a4: c_long,
        a5: c_long,
        a6: c_long,
    ) -> c_long;

    /// Translates an absolute path as a Darwin process sees it into the host
    /// path, NUL-terminated, into `out` (`out_size` bytes). `follow` says
    /// whether a final symlink is followed. Returns 0 or a negative Linux
    /// errno. Provided by the Darling glue (see integration/).
    fn xnu_fixes_translate_path(
        path: *const c_char,
        out: *mut c_char,
        out_size: usize,
        follow: c_int,
    ) -> c_long;
}

/// A Linux errno (positive), what a Linux syscall or the path hook fails
/// with. It is not what a handler reports: the only way to a
/// [`DarwinErrno`](crate::errno::DarwinErrno) is
/// [`to_darwin`](LinuxErrno::to_darwin) (or
/// [`to_darwin_socket`](LinuxErrno::to_darwin_socket)), through the
/// translation table in [`crate::errno`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct LinuxErrno(i32);

impl LinuxErrno {
    /// A Linux errno from its number (as the C glue passes one).
    pub const fn new(raw: i32) -> LinuxErrno {
        LinuxErrno(raw)
    }

    /// The Linux number.
    pub const fn get(self) -> i32 {
        self.0
    }
}

/// A Linux syscall's result: its value, or the Linux errno it failed with.
pub type SysResult = Result<c_long, LinuxErrno>;

pub mod nr {
    pub const READ: i32 = 0;
    pub const CLOSE: i32 = 3;
    pub const IOCTL: i32 = 16;
    pub const FCHMOD: i32 = 91;
    pub const FCHOWN: i32 = 93;
    pub const FSTATFS: i32 = 138;
    pub const SETXATTR: i32 = 188;
    pub const LSETXATTR: i32 = 189;
    pub const FSETXATTR: i32 = 190;
    pub const GETXATTR: i32 = 191;
    pub const LGETXATTR: i32 = 192;
    pub const REMOVEXATTR: i32 = 197;
    pub const LREMOVEXATTR: i32 = 198;
    pub const GETDENTS64: i32 = 217;
    pub const OPENAT: i32 = 257;
    pub const FCHOWNAT: i32 = 260;
    pub const UNLINKAT: i32 = 263;
    pub const SYMLINKAT: i32 = 266;
    pub const READLINKAT: i32 = 267;
    pub const FCHMODAT: i32 = 268;
    pub const FACCESSAT: i32 = 269;
    pub const UTIMENSAT: i32 = 280;
    pub const FACCESSAT2: i32 = 439;
    pub const RENAMEAT2: i32 = 316;
    pub const GETRANDOM: i32 = 318;
    pub const STATX: i32 = 332;
    pub const FCHMODAT2: i32 = 452;
}

pub mod flag {
    pub const AT_FDCWD: i32 = -100;
    pub const AT_SYMLINK_NOFOLLOW: i32 = 0x100;
    pub const AT_EMPTY_PATH: i32 = 0x1000;
    pub const O_RDONLY: i32 = 0;
    pub const O_WRONLY: i32 = 1;
    pub const O_CREAT: i32 = 0o100;
    pub const O_EXCL: i32 = 0o200;
    pub const O_NONBLOCK: i32 = 0o4000;
    pub const O_DIRECTORY: i32 = 0o200000;
    pub const O_NOFOLLOW: i32 = 0o400000;
    pub const O_CLOEXEC: i32 = 0o2000000;
    pub const O_PATH: i32 = 0o10000000;
    pub const RENAME_NOREPLACE: u32 = 1;
    pub const RENAME_EXCHANGE: u32 = 2;
    pub const STATX_BASIC_STATS: u32 = 0x7ff;
    pub const STATX_BTIME: u32 = 0x800;
    pub const UTIME_OMIT: i64 = (1 << 30) - 2;
    pub const FICLONE: u64 = 0x4004_9409;
    pub const FS_IOC_GETFLAGS: u64 = 0x8008_6601;
    pub const FS_IOC_SETFLAGS: u64 = 0x4008_6602;
    pub const XATTR_CREATE: i32 = 1;
}

/// The Linux errnos this library tests for.
pub mod errno {
    use super::LinuxErrno;

    pub const EPERM: LinuxErrno = LinuxErrno(1);
    pub const ENOENT: LinuxErrno = LinuxErrno(2);
    pub const EINTR: LinuxErrno = LinuxErrno(4);
    pub const EIO: LinuxErrno = LinuxErrno(5);
    pub const EBADF: LinuxErrno = LinuxErrno(9);
    pub const EACCES: LinuxErrno = LinuxErrno(13);
    pub const EFAULT: LinuxErrno = LinuxErrno(14);
    pub const EEXIST: LinuxErrno = LinuxErrno(17);
    pub const EXDEV: LinuxErrno = LinuxErrno(18);
    pub const ENOTDIR: LinuxErrno = LinuxErrno(20);
    pub const EISDIR: LinuxErrno = LinuxErrno(21);
    pub const EINVAL: LinuxErrno = LinuxErrno(22);
    pub const ENOTTY: LinuxErrno = LinuxErrno(25);
    pub const ERANGE: LinuxErrno = LinuxErrno(34);
    pub const ENAMETOOLONG: LinuxErrno = LinuxErrno(36);
    pub const ENOSYS: LinuxErrno = LinuxErrno(38);
    pub const ELOOP: LinuxErrno = LinuxErrno(40);
    pub const ENODATA: LinuxErrno = LinuxErrno(61);
    pub const EOPNOTSUPP: LinuxErrno = LinuxErrno(95);
}

/// A Linux syscall: its value, or the [`LinuxErrno`] it failed with.
#[inline]
pub fn syscall(nr: i32, a: [c_long; 6]) -> SysResult {
    // SAFETY: the hook is a plain syscall trampoline; callers pass valid
    // pointers for the syscall's arguments.
    let r = unsafe { __linux_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) } as c_long;
    if (-4095..0).contains(&r) {
        Err(LinuxErrno(-r as i32))
    } else {
        Ok(r)
    }
}

/// Retries on EINTR.
pub fn syscall_retry(nr: i32, a: [c_long; 6]) -> SysResult {
    loop {
        match syscall(nr, a) {
            Err(errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Longest host path handled (Linux PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// A NUL-terminated path in a fixed buffer.
pub struct PathBuf {
    pub buf: [u8; PATH_MAX],
    pub len: usize,
}

impl Default for PathBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl PathBuf {
    pub const fn new() -> Self {
        PathBuf {
            buf: [0; PATH_MAX],
            len: 0,
        }
    }

    pub fn as_ptr(&self) -> *const c_char {
        self.buf.as_ptr() as *const c_char
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Sets from bytes (no NUL inside); ENAMETOOLONG if it does not fit.
    pub fn set(&mut self, s: &[u8]) -> Result<(), LinuxErrno> {
        if s.len() >= PATH_MAX {
            return Err(errno::ENAMETOOLONG);
        }
        self.buf[..s.len()].copy_from_slice(s);
        self.buf[s.len()] = 0;
        self.len = s.len();
        Ok(())
    }
}

/// Length of a C string, at most `max` (EFAULT-free: the caller's pointer is
/// trusted as the kernel would trust a user pointer it can read).
///
/// # Safety
/// `p` must point to a NUL-terminated string or at least `max` readable bytes.
pub unsafe fn cstr_len(p: *const c_char, max: usize) -> usize {
    let mut n = 0;
    // SAFETY: every byte read is before the NUL or within `max` bytes,
    // which the contract says are readable.
    while n < max && unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
}

/// Darwin's AT_FDCWD is -2; Linux's is -100. Other fds are shared.
pub fn linux_dirfd(darwin_fd: c_int) -> c_int {
    if darwin_fd == -2 {
        flag::AT_FDCWD
    } else {
        darwin_fd
    }
}

/// Turns a path argument into what Linux should see: absolute paths go
/// through Darling's translation, relative ones stay relative to the fd.
///
/// # Safety
/// `path` must be a readable NUL-terminated string.
pub unsafe fn host_path(
    path: *const c_char,
    follow: bool,
    out: &mut PathBuf,
) -> Result<(), LinuxErrno> {
    if path.is_null() {
        return Err(errno::EFAULT);
    }
    // SAFETY: non-null, NUL-terminated by the contract.
    let len = unsafe { cstr_len(path, PATH_MAX) };
    if len >= PATH_MAX {
        return Err(errno::ENAMETOOLONG);
    }
    if len == 0 {
        return Err(errno::ENOENT);
    }
    // SAFETY: the `len` bytes before the NUL were just read.
    let bytes = unsafe { core::slice::from_raw_parts(path as *const u8, len) };
    if bytes[0] != b'/' {
        return out.set(bytes);
    }
    // SAFETY: `path` is NUL-terminated; `out.buf` is writable for PATH_MAX
    // bytes, which is what the hook is told.
    let r = unsafe {
        xnu_fixes_translate_path(
            path,
            out.buf.as_mut_ptr() as *mut c_char,
            PATH_MAX,
            follow as c_int,
        )
    };
    if r < 0 {
        return Err(LinuxErrno(-r as i32));
    }
    // SAFETY: `out.buf` is PATH_MAX readable bytes.
    out.len = unsafe { cstr_len(out.buf.as_ptr() as *const c_char, PATH_MAX) };
    Ok(())
}

pub fn close(fd: c_int) {
    let _ = syscall(nr::CLOSE, [fd as c_long, 0, 0, 0, 0, 0]);
}

/// Closes an fd when dropped.
pub struct Fd(pub c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        close(self.0);
    }
}

pub fn openat(dirfd: c_int, path: *const c_char, flags: i32, mode: u32) -> Result<Fd, LinuxErrno> {
    let fd = syscall_retry(
        nr::OPENAT,
        [
            dirfd as c_long,
            path as c_long,
            (flags | flag::O_CLOEXEC) as c_long,
            mode as c_long,
            0,
            0,
        ],
    )?;
    Ok(Fd(fd as c_int))
}

/// Linux `struct statx` (first 256 bytes, as the kernel defines it).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Statx {
    pub mask: u32,
    pub blksize: u32,
    pub attributes: u64,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mode: u16,
    pub spare0: u16,
    pub ino: u64,
    pub size: u64,
    pub blocks: u64,
    pub attributes_mask: u64,
    pub atime: StatxTs,
    pub btime: StatxTs,
    pub ctime: StatxTs,
    pub mtime: StatxTs,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub spare: [u64; 14],
}

#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct StatxTs {
    pub sec: i64,
    pub nsec: u32,
    pub reserved: i32,
}

impl Statx {
    pub const fn zeroed() -> Statx {
        // SAFETY: all-zero is a valid value for this plain-data struct.
        unsafe { core::mem::zeroed() }
    }
}

pub fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: i32,
    mask: u32,
) -> Result<Statx, LinuxErrno> {
    let mut st = Statx::zeroed();
    syscall_retry(
        nr::STATX,
        [
            dirfd as c_long,
            path as c_long,
            flags as c_long,
            mask as c_long,
            &mut st as *mut Statx as c_long,
            0,
        ],
    )?;
    Ok(st)
}

/// Linux x86_64 `struct statfs`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Statfs {
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    pub f_spare: [i64; 4],
}

pub fn fstatfs(fd: c_int) -> Result<Statfs, LinuxErrno> {
    // SAFETY: all-zero is valid for this plain-data struct.
    let mut st: Statfs = unsafe { core::mem::zeroed() };
    syscall_retry(
        nr::FSTATFS,
        [fd as c_long, &mut st as *mut Statfs as c_long, 0, 0, 0, 0],
    )?;
    Ok(st)
}

/// Writes `"/proc/self/fd/<fd>"` into `out`.
pub fn proc_fd_path(fd: c_int, out: &mut PathBuf) {
    let mut tmp = [0u8; 32];
    let prefix = b"/proc/self/fd/";
    tmp[..prefix.len()].copy_from_slice(prefix);
    let mut n = prefix.len();
    let mut digits = [0u8; 12];
    let mut d = 0;
    let mut v = fd.unsigned_abs();
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        tmp[n] = digits[d];
        n += 1;
    }
    let _ = out.set(&tmp[..n]);
}

/// The host path an fd refers to (via /proc/self/fd).
pub fn fd_host_path(fd: c_int, out: &mut PathBuf) -> Result<(), LinuxErrno> {
    let mut link = PathBuf::new();
    proc_fd_path(fd, &mut link);
    let n = syscall(
        nr::READLINKAT,
        [
            flag::AT_FDCWD as c_long,
            link.as_ptr() as c_long,
            out.buf.as_mut_ptr() as c_long,
            (PATH_MAX - 1) as c_long,
            0,
            0,
        ],
    )?;
    out.len = n as usize;
    out.buf[out.len] = 0;
    Ok(())
}

#[cfg(feature = "linux-shim")]
mod shim {
    use core::ffi::{c_char, c_int, c_long};

    /// The `syscall` instruction, standing in for Darling's trampoline.
    ///
    /// # Safety
    /// The arguments must be valid for syscall `nr`, as for the kernel.
    #[no_mangle]
    pub(super) unsafe extern "C" fn __linux_syscall(
        nr: c_int,
        a1: c_long,
        a2: c_long,
        a3: c_long,
        a4: c_long,
        a5: c_long,
        a6: c_long,
    ) -> c_int {
        let ret: c_long;
        // SAFETY: the x86_64 Linux syscall convention: number in rax,
        // arguments in rdi, rsi, rdx, r10, r8, r9; the kernel clobbers rcx
        // and r11 and touches no stack. Pointer arguments are the caller's
        // to make valid.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") nr as c_long => ret,
                in("rdi") a1, in("rsi") a2, in("rdx") a3, in("r10") a4, in("r8") a5, in("r9") a6,
                lateout("rcx") _, lateout("r11") _,
                options(nostack)
            );
        }
        ret as c_int
    }

    /// Identity translation: on plain Linux the "prefix" is the host root.
    ///
    /// # Safety
    /// `path` NUL-terminated; `out` writable for `out_size` bytes.
    #[no_mangle]
    pub(super) unsafe extern "C" fn xnu_fixes_translate_path(
        path: *const c_char,
        out: *mut c_char,
        out_size: usize,
        _follow: c_int,
    ) -> c_long {
        // SAFETY: `path` is NUL-terminated (contract).
        let n = unsafe { super::cstr_len(path, out_size) };
        if n >= out_size {
            // The hook's convention: minus a Linux errno.
            return -(super::errno::ENAMETOOLONG.get() as c_long);
        }
        // SAFETY: n < out_size, so n bytes plus the NUL fit in `out`; the
        // caller's buffers do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(path, out, n);
            *out.add(n) = 0;
        }
        0
    }
}

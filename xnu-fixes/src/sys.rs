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

/// Linux x86_64 system call numbers, the `nr` argument of [`syscall`].
/// The Darling host is x86_64 Linux, so these are the only numbers used.
pub mod nr {
    /// `read(fd, buf, count)`.
    pub const READ: i32 = 0;
    /// `close(fd)`.
    pub const CLOSE: i32 = 3;
    /// `ioctl(fd, request, arg)`: used for `FICLONE` and the inode flags.
    pub const IOCTL: i32 = 16;
    /// `fchmod(fd, mode)`.
    pub const FCHMOD: i32 = 91;
    /// `fchown(fd, uid, gid)`.
    pub const FCHOWN: i32 = 93;
    /// `fstatfs(fd, buf)`, filling a [`Statfs`](super::Statfs).
    pub const FSTATFS: i32 = 138;
    /// `setxattr(path, name, value, size, flags)`, following symlinks.
    pub const SETXATTR: i32 = 188;
    /// `lsetxattr`: `setxattr` on a symlink itself.
    pub const LSETXATTR: i32 = 189;
    /// `fsetxattr`: `setxattr` on an open fd.
    pub const FSETXATTR: i32 = 190;
    /// `getxattr(path, name, value, size)`, following symlinks; with a
    /// zero size it returns the value's length.
    pub const GETXATTR: i32 = 191;
    /// `lgetxattr`: `getxattr` on a symlink itself.
    pub const LGETXATTR: i32 = 192;
    /// `removexattr(path, name)`, following symlinks.
    pub const REMOVEXATTR: i32 = 197;
    /// `lremovexattr`: `removexattr` on a symlink itself.
    pub const LREMOVEXATTR: i32 = 198;
    /// `getdents64(fd, buf, count)`: reads directory entries.
    pub const GETDENTS64: i32 = 217;
    /// `openat(dirfd, path, flags, mode)`.
    pub const OPENAT: i32 = 257;
    /// `fchownat(dirfd, path, uid, gid, flags)`.
    pub const FCHOWNAT: i32 = 260;
    /// `unlinkat(dirfd, path, flags)`.
    pub const UNLINKAT: i32 = 263;
    /// `symlinkat(target, dirfd, path)`.
    pub const SYMLINKAT: i32 = 266;
    /// `readlinkat(dirfd, path, buf, size)`: no NUL is written.
    pub const READLINKAT: i32 = 267;
    /// `fchmodat(dirfd, path, mode)`; it has no flags argument and always
    /// follows symlinks.
    pub const FCHMODAT: i32 = 268;
    /// `faccessat(dirfd, path, mode)`, checking with the real ids.
    pub const FACCESSAT: i32 = 269;
    /// `utimensat(dirfd, path, times, flags)`: sets access and modification
    /// times; a NULL path with a dirfd sets those of the fd.
    pub const UTIMENSAT: i32 = 280;
    /// `faccessat2(dirfd, path, mode, flags)` (Linux 5.8): `faccessat` with
    /// flags such as `AT_EACCESS` and `AT_EMPTY_PATH`.
    pub const FACCESSAT2: i32 = 439;
    /// `renameat2(olddirfd, old, newdirfd, new, flags)`.
    pub const RENAMEAT2: i32 = 316;
    /// `getrandom(buf, count, flags)`.
    pub const GETRANDOM: i32 = 318;
    /// `statx(dirfd, path, flags, mask, buf)`, filling a
    /// [`Statx`](super::Statx).
    pub const STATX: i32 = 332;
    /// `fchmodat2(dirfd, path, mode, flags)` (Linux 6.6): `fchmodat` with
    /// flags.
    pub const FCHMODAT2: i32 = 452;
}

/// Linux flag and request values passed to the syscalls in [`nr`]
/// (x86_64 values; they differ from Darwin's).
pub mod flag {
    /// Linux's "current directory" dirfd (Darwin uses -2; see
    /// [`linux_dirfd`](super::linux_dirfd)).
    pub const AT_FDCWD: i32 = -100;
    /// `*at` flag: do not follow a final symlink.
    pub const AT_SYMLINK_NOFOLLOW: i32 = 0x100;
    /// `*at` flag: an empty path means the dirfd itself.
    pub const AT_EMPTY_PATH: i32 = 0x1000;
    /// `open` for reading only.
    pub const O_RDONLY: i32 = 0;
    /// `open` for writing only.
    pub const O_WRONLY: i32 = 1;
    /// `open`: create the file if it does not exist.
    pub const O_CREAT: i32 = 0o100;
    /// `open` with `O_CREAT`: fail with EEXIST if the name exists.
    pub const O_EXCL: i32 = 0o200;
    /// `open` without blocking (so opening a FIFO does not wait).
    pub const O_NONBLOCK: i32 = 0o4000;
    /// `open`: fail with ENOTDIR unless the path is a directory.
    pub const O_DIRECTORY: i32 = 0o200000;
    /// `open`: fail with ELOOP if the final component is a symlink (with
    /// `O_PATH`, open the symlink itself).
    pub const O_NOFOLLOW: i32 = 0o400000;
    /// `open`: close the fd on `exec`. [`openat`](super::openat) always
    /// adds it.
    pub const O_CLOEXEC: i32 = 0o2000000;
    /// `open` a handle that only names the object (no read or write), for
    /// `fstat`-like calls and `/proc/self/fd` paths.
    pub const O_PATH: i32 = 0o10000000;
    /// `renameat2` flag: fail with EEXIST if the new name exists.
    pub const RENAME_NOREPLACE: u32 = 1;
    /// `renameat2` flag: swap the two names atomically; both must exist.
    pub const RENAME_EXCHANGE: u32 = 2;
    /// `statx` mask: every field of classic `stat` (type, mode, nlink, uid,
    /// gid, times, inode, size, blocks).
    pub const STATX_BASIC_STATS: u32 = 0x7ff;
    /// `statx` mask: the birth time, where the file system keeps one.
    pub const STATX_BTIME: u32 = 0x800;
    /// A `utimensat` nanoseconds value meaning "leave this time alone".
    pub const UTIME_OMIT: i64 = (1 << 30) - 2;
    /// `ioctl(dst, FICLONE, src)`: make `dst` share `src`'s data
    /// (copy-on-write reflink), on file systems that can.
    pub const FICLONE: u64 = 0x4004_9409;
    /// `ioctl` reading the inode flags (`FS_*_FL`) into an int.
    pub const FS_IOC_GETFLAGS: u64 = 0x8008_6601;
    /// `ioctl` writing the inode flags (`FS_*_FL`) from an int.
    pub const FS_IOC_SETFLAGS: u64 = 0x4008_6602;
    /// `setxattr` flag: fail with EEXIST if the attribute exists.
    pub const XATTR_CREATE: i32 = 1;
}

/// The Linux errnos this library tests for, with their x86_64 Linux
/// numbers (compare [`crate::errno::darwin`]: many differ).
pub mod errno {
    use super::LinuxErrno;

    /// Operation needs a privilege the caller lacks (1).
    pub const EPERM: LinuxErrno = LinuxErrno(1);
    /// No such file or directory (2).
    pub const ENOENT: LinuxErrno = LinuxErrno(2);
    /// A signal interrupted the call (4); [`syscall_retry`](super::syscall_retry)
    /// retries it.
    pub const EINTR: LinuxErrno = LinuxErrno(4);
    /// Input/output error (5).
    pub const EIO: LinuxErrno = LinuxErrno(5);
    /// Try again (11): a futex's value already differed.
    pub const EAGAIN: LinuxErrno = LinuxErrno(11);
    /// Not an open file descriptor (9).
    pub const EBADF: LinuxErrno = LinuxErrno(9);
    /// Permission denied by the file's mode (13).
    pub const EACCES: LinuxErrno = LinuxErrno(13);
    /// A pointer argument is not valid memory (14).
    pub const EFAULT: LinuxErrno = LinuxErrno(14);
    /// The name already exists (17).
    pub const EEXIST: LinuxErrno = LinuxErrno(17);
    /// The operation would cross file systems (18).
    pub const EXDEV: LinuxErrno = LinuxErrno(18);
    /// A path component is not a directory (20).
    pub const ENOTDIR: LinuxErrno = LinuxErrno(20);
    /// The object is a directory where one is not allowed (21).
    pub const EISDIR: LinuxErrno = LinuxErrno(21);
    /// An invalid argument (22); `renameat2` also gives it for a flag the
    /// file system does not support.
    pub const EINVAL: LinuxErrno = LinuxErrno(22);
    /// The ioctl does not apply to this object (25).
    pub const ENOTTY: LinuxErrno = LinuxErrno(25);
    /// A result does not fit (34).
    pub const ERANGE: LinuxErrno = LinuxErrno(34);
    /// A path or name is too long (36; Darwin's is 63).
    pub const ENAMETOOLONG: LinuxErrno = LinuxErrno(36);
    /// The kernel does not have this syscall (38; Darwin's is 78).
    pub const ENOSYS: LinuxErrno = LinuxErrno(38);
    /// Too many symlinks, or `O_NOFOLLOW` met a symlink (40; Darwin's is 62).
    pub const ELOOP: LinuxErrno = LinuxErrno(40);
    /// No data available (61); Linux's answer for a missing extended
    /// attribute.
    pub const ENODATA: LinuxErrno = LinuxErrno(61);
    /// Operation not supported (95), Linux's one value for both Darwin's
    /// ENOTSUP (45) and EOPNOTSUPP (102).
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
    /// The bytes: the path, then a NUL at `buf[len]`.
    pub buf: [u8; PATH_MAX],
    /// The path's length in bytes, without the NUL.
    pub len: usize,
}

impl Default for PathBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl PathBuf {
    /// The empty path.
    pub const fn new() -> Self {
        PathBuf {
            buf: [0; PATH_MAX],
            len: 0,
        }
    }

    /// The path as a C string, for a syscall argument.
    pub fn as_ptr(&self) -> *const c_char {
        self.buf.as_ptr() as *const c_char
    }

    /// The path without its NUL.
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

/// Closes `fd`, ignoring any error.
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

/// Linux `openat` with `O_CLOEXEC` added, retried on EINTR; `mode` is used
/// with `O_CREAT`. The fd is closed when the returned [`Fd`] is dropped.
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
    /// `stx_mask`: which fields the kernel filled in (`STATX_*` bits); it
    /// may differ from the mask asked for.
    pub mask: u32,
    /// `stx_blksize`: the preferred I/O block size in bytes.
    pub blksize: u32,
    /// `stx_attributes`: `STATX_ATTR_*` bits (for example mount root).
    pub attributes: u64,
    /// `stx_nlink`: the hard link count.
    pub nlink: u32,
    /// `stx_uid`: the owner's user id.
    pub uid: u32,
    /// `stx_gid`: the group id.
    pub gid: u32,
    /// `stx_mode`: file type (`S_IFMT` bits) and permission bits.
    pub mode: u16,
    /// Padding after `mode`.
    pub spare0: u16,
    /// `stx_ino`: the inode number.
    pub ino: u64,
    /// `stx_size`: the size in bytes.
    pub size: u64,
    /// `stx_blocks`: allocated space, in 512-byte units.
    pub blocks: u64,
    /// `stx_attributes_mask`: which bits of `attributes` this file system
    /// supports (an unset bit means "unknown", not "off").
    pub attributes_mask: u64,
    /// `stx_atime`: the last access time.
    pub atime: StatxTs,
    /// `stx_btime`: the birth time, valid only when `mask` has
    /// [`STATX_BTIME`](flag::STATX_BTIME).
    pub btime: StatxTs,
    /// `stx_ctime`: the last status change time.
    pub ctime: StatxTs,
    /// `stx_mtime`: the last data modification time.
    pub mtime: StatxTs,
    /// `stx_rdev_major`: a device file's major number.
    pub rdev_major: u32,
    /// `stx_rdev_minor`: a device file's minor number.
    pub rdev_minor: u32,
    /// `stx_dev_major`: the major number of the device holding the file.
    pub dev_major: u32,
    /// `stx_dev_minor`: the minor number of the device holding the file.
    pub dev_minor: u32,
    /// The rest of the kernel's 256 bytes (mount id and newer fields),
    /// not read here.
    pub spare: [u64; 14],
}

/// Linux `struct statx_timestamp`: a time since the Unix epoch.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct StatxTs {
    /// Whole seconds since 1970-01-01 00:00 UTC (negative before).
    pub sec: i64,
    /// Nanoseconds added to `sec`, 0 to 999 999 999.
    pub nsec: u32,
    /// Padding, unused.
    pub reserved: i32,
}

impl Statx {
    /// A `Statx` with every field 0, for the kernel to fill.
    pub const fn zeroed() -> Statx {
        // SAFETY: all-zero is a valid value for this plain-data struct.
        unsafe { core::mem::zeroed() }
    }
}

/// Linux `statx` of `path` relative to `dirfd` (`flags` are `AT_*`
/// flags, `mask` the `STATX_*` fields wanted), retried on EINTR.
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
    /// The file system's magic number (for example 0x9123683E for btrfs,
    /// 0xEF53 for ext4).
    pub f_type: i64,
    /// The optimal transfer block size in bytes.
    pub f_bsize: i64,
    /// Total data blocks, in `f_frsize` units.
    pub f_blocks: u64,
    /// Free blocks.
    pub f_bfree: u64,
    /// Free blocks an unprivileged user may use.
    pub f_bavail: u64,
    /// Total inodes.
    pub f_files: u64,
    /// Free inodes.
    pub f_ffree: u64,
    /// The file system id the kernel reports. Not used here: ATTR_CMN_FSID
    /// is built from the device number and `f_type`.
    pub f_fsid: [i32; 2],
    /// The longest file name, in bytes.
    pub f_namelen: i64,
    /// The fragment size in bytes, the unit of the block counts.
    pub f_frsize: i64,
    /// Mount flags (`ST_RDONLY`, `ST_NOSUID`, ...).
    pub f_flags: i64,
    /// Padding reserved by the kernel.
    pub f_spare: [i64; 4],
}

/// Linux `fstatfs` of `fd`, retried on EINTR.
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

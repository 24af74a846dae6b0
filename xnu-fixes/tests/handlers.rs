//! The handlers against real Linux: files, symlinks, directories, a
//! filesystem without reflink (the test directory) and, where a btrfs loop
//! image can be mounted, one with it. Results are Darwin conventions:
//! >= 0, or minus a Darwin errno.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use xnu_fixes::*;

const AT_FDCWD: i32 = -2; // Darwin's
const EPERM: i64 = -1;
const ENOENT: i64 = -2;
const EEXIST: i64 = -17;
const EXDEV: i64 = -18;
const EINVAL: i64 = -22;
const ENOTSUP: i64 = -45;

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

// --- errno -------------------------------------------------------------------

#[test]
fn errno_exports() {
    assert_eq!(errno::xnu_fixes_errno_linux_to_darwin(95), 45);
    assert_eq!(errno::xnu_fixes_errno_linux_to_darwin_socket(95), 102);
    assert_eq!(errno::xnu_fixes_errno_linux_to_darwin(40), 62);
    assert_eq!(errno::xnu_fixes_errno_linux_to_darwin(61), 96);
}

// --- renameatx_np ------------------------------------------------------------

fn rename(from: &Path, to: &Path, flags: u32) -> i64 {
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    unsafe { rename::xnu_fixes_renamex_np(c(from).as_ptr(), c(to).as_ptr(), flags) as i64 }
}

#[test]
fn rename_flags_map_to_renameat2() {
    let d = tempfile::tempdir().unwrap();
    let (a, b, x) = (d.path().join("a"), d.path().join("b"), d.path().join("x"));
    fs::write(&a, "A").unwrap();
    fs::write(&b, "B").unwrap();
    // EXCL onto an existing name, then onto a free one.
    assert_eq!(rename(&a, &b, rename::RENAME_EXCL), EEXIST);
    assert_eq!(fs::read_to_string(&b).unwrap(), "B");
    assert_eq!(rename(&a, &x, rename::RENAME_EXCL), 0);
    assert!(!a.exists() && fs::read_to_string(&x).unwrap() == "A");
    // SWAP exchanges; with a missing target it is ENOENT.
    assert_eq!(rename(&x, &b, rename::RENAME_SWAP), 0);
    assert_eq!(
        (
            fs::read_to_string(&x).unwrap(),
            fs::read_to_string(&b).unwrap()
        ),
        ("B".into(), "A".into())
    );
    assert_eq!(rename(&x, &a, rename::RENAME_SWAP), ENOENT);
    // Directories swap too.
    let (d1, d2) = (d.path().join("d1"), d.path().join("d2"));
    fs::create_dir(&d1).unwrap();
    fs::create_dir(&d2).unwrap();
    fs::write(d1.join("in1"), "").unwrap();
    assert_eq!(rename(&d1, &d2, rename::RENAME_SWAP), 0);
    assert!(d2.join("in1").exists() && !d1.join("in1").exists());
    // Invalid combinations and unknown bits change nothing.
    assert_eq!(
        rename(&x, &b, rename::RENAME_SWAP | rename::RENAME_EXCL),
        EINVAL
    );
    for bad in [0x8, 0x10, 0x20, 0x100, 0x8000_0000] {
        assert_eq!(rename(&x, &b, bad), EINVAL, "flag {bad:#x}");
    }
    assert_eq!(rename(&x, &b, rename::RENAME_SECLUDE), ENOTSUP);
    assert_eq!(fs::read_to_string(&x).unwrap(), "B");
    // Plain rename replaces.
    assert_eq!(rename(&x, &b, 0), 0);
    assert_eq!(fs::read_to_string(&b).unwrap(), "B");
}

#[test]
fn rename_relative_to_directory_fds() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("s")).unwrap();
    fs::create_dir(d.path().join("t")).unwrap();
    fs::write(d.path().join("s/f"), "x").unwrap();
    let s = fs::File::open(d.path().join("s")).unwrap();
    let t = fs::File::open(d.path().join("t")).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    let r = unsafe {
        rename::xnu_fixes_renameatx_np(
            s.as_raw_fd(),
            c"f".as_ptr(),
            t.as_raw_fd(),
            c"g".as_ptr(),
            rename::RENAME_EXCL,
        )
    };
    assert_eq!(r, 0);
    assert!(d.path().join("t/g").exists());
    // Darwin's AT_FDCWD (-2) means the current directory.
    std::env::set_current_dir(d.path()).unwrap();
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    let r = unsafe {
        rename::xnu_fixes_renameatx_np(AT_FDCWD, c"t/g".as_ptr(), AT_FDCWD, c"h".as_ptr(), 0)
    };
    assert_eq!(r, 0);
    assert!(d.path().join("h").exists());
}

// --- clonefileat -------------------------------------------------------------

fn clone(src: &Path, dst: &Path, flags: u32) -> i64 {
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    unsafe {
        clone::xnu_fixes_clonefileat(AT_FDCWD, c(src).as_ptr(), AT_FDCWD, c(dst).as_ptr(), flags)
            as i64
    }
}

/// A mounted btrfs loop image, unmounted on drop; None where loop mounts or
/// mkfs.btrfs are unavailable.
struct Btrfs {
    dir: tempfile::TempDir,
}

impl Btrfs {
    fn mount() -> Option<Btrfs> {
        let dir = tempfile::tempdir().ok()?;
        let img = dir.path().join("img");
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).ok()?;
        fs::File::create(&img).ok()?.set_len(256 << 20).ok()?;
        let ok = |c: &mut Command| c.output().map(|o| o.status.success()).unwrap_or(false);
        if !ok(Command::new("mkfs.btrfs").arg("-q").arg("-f").arg(&img))
            || !ok(Command::new("mount")
                .arg("-o")
                .arg("loop")
                .arg(&img)
                .arg(&mnt))
        {
            return None;
        }
        Some(Btrfs { dir })
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

#[test]
fn clone_without_reflink_says_enotsup_and_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    fs::write(&src, "data").unwrap();
    // Usually ext4 or tmpfs: no reflink. Ask coreutils to be sure.
    let reflinks = Command::new("cp")
        .arg("--reflink=always")
        .arg(&src)
        .arg(d.path().join("probe"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if reflinks {
        eprintln!("NOTE: the test directory supports reflinks; checking the success path here");
        assert_eq!(clone(&src, &dst, 0), 0);
        fs::remove_file(&dst).unwrap();
    } else {
        assert_eq!(clone(&src, &dst, 0), ENOTSUP);
        assert!(!dst.exists(), "a failed clone left its destination");
    }
    fs::write(&dst, "old").unwrap();
    assert_eq!(clone(&src, &dst, 0), EEXIST);
    assert_eq!(clone(&src, &d.path().join("n"), 0x4), EINVAL);
    assert_eq!(
        clone(&d.path().join("missing"), &d.path().join("n"), 0),
        ENOENT
    );
    // Directories are left to the caller's copy.
    fs::create_dir(d.path().join("dir")).unwrap();
    assert_eq!(
        clone(&d.path().join("dir"), &d.path().join("dir2"), 0),
        ENOTSUP
    );
    // A symlink with CLONE_NOFOLLOW is recreated, pointing at the same target.
    std::os::unix::fs::symlink("src", d.path().join("link")).unwrap();
    assert_eq!(
        clone(
            &d.path().join("link"),
            &d.path().join("link2"),
            clone::CLONE_NOFOLLOW
        ),
        0
    );
    assert_eq!(
        fs::read_link(d.path().join("link2")).unwrap(),
        Path::new("src")
    );
}

#[test]
fn clone_on_btrfs_is_a_real_reflink() {
    let Some(b) = Btrfs::mount() else {
        return e2e::skip_tool(
            "clone_on_btrfs_is_a_real_reflink",
            "no btrfs loop mount here (needs root, loop devices, btrfs-progs)",
        );
    };
    let (src, dst) = (b.path().join("src"), b.path().join("dst"));
    fs::write(&src, vec![7u8; 1 << 20]).unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(clone(&src, &dst, 0), 0);
    assert_eq!(fs::read(&dst).unwrap(), fs::read(&src).unwrap());
    let (ms, md) = (fs::metadata(&src).unwrap(), fs::metadata(&dst).unwrap());
    assert_eq!(md.permissions().mode() & 0o7777, 0o640, "mode not kept");
    assert_eq!(
        (md.mtime(), md.mtime_nsec()),
        (ms.mtime(), ms.mtime_nsec()),
        "mtime not kept"
    );
    // Shared extents: the clone did not allocate new data blocks.
    Command::new("sync").status().unwrap();
    let out = Command::new("btrfs")
        .args(["filesystem", "du", "--raw"])
        .arg(&dst)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Columns: total, exclusive, set shared, name. All of it is shared.
    let cols: Vec<&str> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!((cols[0], cols[1]), ("1048576", "0"), "{text}");
    // Across filesystems: EXDEV.
    let other = tempfile::tempdir().unwrap();
    assert_eq!(clone(&src, &other.path().join("x"), 0), EXDEV);
    assert!(!other.path().join("x").exists());
    // fclonefileat from an fd, including a write-only one.
    let f = fs::OpenOptions::new().write(true).open(&src).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    let r = unsafe {
        clone::xnu_fixes_fclonefileat(
            f.as_raw_fd(),
            AT_FDCWD,
            c(&b.path().join("fd-clone")).as_ptr(),
            0,
        )
    };
    assert_eq!(r, 0);
    assert_eq!(fs::read(b.path().join("fd-clone")).unwrap().len(), 1 << 20);
}

// --- chflags -----------------------------------------------------------------

#[test]
fn chflags_zero_always_succeeds_and_unmappable_flags_are_enotsup() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    fs::write(&f, "x").unwrap();
    std::os::unix::fs::symlink("f", d.path().join("l")).unwrap();
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    assert_eq!(unsafe { flags::xnu_fixes_chflags(c(&f).as_ptr(), 0) }, 0);
    for unmappable in [
        flags::UF_IMMUTABLE,
        flags::UF_APPEND,
        flags::UF_HIDDEN,
        flags::SF_ARCHIVED,
    ] {
        assert_eq!(
            // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
            unsafe { flags::xnu_fixes_chflags(c(&f).as_ptr(), unmappable as i32) },
            ENOTSUP
        );
    }
    // lchflags(symlink, 0) = setattrlist(FLAGS=0, NOFOLLOW): what Nix calls.
    let al = attrs::AttrList {
        bitmapcount: 5,
        commonattr: attrs::cmn::FLAGS,
        ..Default::default()
    };
    let zero = 0u32.to_ne_bytes();
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    let r = unsafe {
        setattrs::xnu_fixes_setattrlist(
            c(&d.path().join("l")).as_ptr(),
            &al,
            zero.as_ptr().cast(),
            4,
            attrs::FSOPT_NOFOLLOW as _,
        )
    };
    assert_eq!(r, 0);
    let one = flags::UF_NODUMP.to_ne_bytes();
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    let r = unsafe {
        setattrs::xnu_fixes_setattrlist(
            c(&d.path().join("l")).as_ptr(),
            &al,
            one.as_ptr().cast(),
            4,
            attrs::FSOPT_NOFOLLOW as _,
        )
    };
    assert_eq!(r, ENOTSUP);
    // UF_NODUMP maps to the Linux nodump flag where the filesystem has flags.
    // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
    let r = unsafe { flags::xnu_fixes_chflags(c(&f).as_ptr(), flags::UF_NODUMP as i32) };
    if r == 0 {
        let out = Command::new("lsattr").arg(&f).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .contains('d'));
        assert_eq!(get_flags(&f), flags::UF_NODUMP);
        // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
        assert_eq!(unsafe { flags::xnu_fixes_chflags(c(&f).as_ptr(), 0) }, 0);
        assert_eq!(get_flags(&f), 0);
    } else {
        assert_eq!(
            r, ENOTSUP,
            "a filesystem without inode flags must say ENOTSUP"
        );
    }
}

fn get_flags(p: &Path) -> u32 {
    let al = attrs::AttrList {
        bitmapcount: 5,
        commonattr: attrs::cmn::FLAGS,
        ..Default::default()
    };
    let mut buf = [0u8; 8];
    let r =
        // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
        unsafe { attrs::xnu_fixes_getattrlist(c(p).as_ptr(), &al, buf.as_mut_ptr().cast(), 8, 0) };
    assert_eq!(r, 0);
    u32::from_ne_bytes(buf[4..8].try_into().unwrap())
}

// --- getentropy --------------------------------------------------------------

#[test]
fn getentropy_limits_and_fills() {
    let mut buf = [0u8; 300];
    assert_eq!(
        // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
        unsafe { entropy::xnu_fixes_getentropy(buf.as_mut_ptr().cast(), 257) },
        EINVAL
    );
    assert_eq!(
        // SAFETY: NUL-terminated strings and buffers that outlive the call, with their real sizes.
        unsafe { entropy::xnu_fixes_getentropy(buf.as_mut_ptr().cast(), 256) },
        0
    );
    assert!(buf[..256].iter().any(|b| *b != 0));
    assert!(buf[256..].iter().all(|b| *b == 0), "wrote past the size");
    assert_eq!(
        // SAFETY: a null buffer of size 0: nothing is read or written.
        unsafe { entropy::xnu_fixes_getentropy(std::ptr::null_mut(), 0) },
        0
    );
    // A bad buffer is a real error, not success (Darling's bug).
    assert_eq!(
        // SAFETY: a bad pointer on purpose: only the kernel touches it (EFAULT).
        unsafe { entropy::xnu_fixes_getentropy(8 as *mut _, 16) },
        -14
    );
}

// --- sandbox -----------------------------------------------------------------

#[test]
fn sandbox_init_is_safe_with_a_null_error_pointer() {
    // SAFETY: a NUL-terminated profile; the null parameters and error pointer are on purpose (the handler must accept them), and the junk error pointer below is only overwritten, never read.
    unsafe {
        assert_eq!(
            sandbox::xnu_fixes_sandbox_init_with_parameters(
                c"(version 1)".as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null_mut()
            ),
            0
        );
        // A non-null junk value the call must overwrite with NULL.
        let mut err: *mut std::ffi::c_char = std::ptr::dangling_mut();
        assert_eq!(
            sandbox::xnu_fixes_sandbox_init(c"(version 1)".as_ptr(), 0, &mut err),
            0
        );
        assert!(err.is_null());
        sandbox::xnu_fixes_sandbox_free_error(err);
    }
    assert_eq!(sandbox::xnu_fixes_sandbox_enforced(), 0);
    let _ = EPERM;
}

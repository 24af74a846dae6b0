//! `getattrlist`, `fgetattrlist` and `getattrlistat`, packed the way XNU
//! packs them: a u32 length, then ATTR_CMN_RETURNED_ATTRS (if asked) first,
//! then common, directory and file attributes in ascending bit order, every
//! field 4-byte aligned, variable data (the name) after the fixed area and
//! reached through an attrreference whose offset is relative to itself.
//!
//! Attributes we cannot answer at all give EINVAL, as Darling's own code
//! does, so callers such as Libc's `realpath` fall back to `lstat`.

use core::ffi::{c_char, c_int, c_long, c_ulong, c_void};

use crate::errno::{darwin, ret};
use crate::flags;
use crate::sys::{self, flag, nr, PathBuf, Statx, StatxTs};

/// Darwin `struct attrlist`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttrList {
    pub bitmapcount: u16,
    pub reserved: u16,
    pub commonattr: u32,
    pub volattr: u32,
    pub dirattr: u32,
    pub fileattr: u32,
    pub forkattr: u32,
}

pub const ATTR_BIT_MAP_COUNT: u16 = 5;

pub const FSOPT_NOFOLLOW: u32 = 0x1;
pub const FSOPT_REPORT_FULLSIZE: u32 = 0x4;
pub const FSOPT_PACK_INVAL_ATTRS: u32 = 0x8;

pub mod cmn {
    pub const NAME: u32 = 0x1;
    pub const DEVID: u32 = 0x2;
    pub const FSID: u32 = 0x4;
    pub const OBJTYPE: u32 = 0x8;
    pub const OBJTAG: u32 = 0x10;
    pub const OBJID: u32 = 0x20;
    pub const OBJPERMANENTID: u32 = 0x40;
    pub const PAROBJID: u32 = 0x80;
    pub const SCRIPT: u32 = 0x100;
    pub const CRTIME: u32 = 0x200;
    pub const MODTIME: u32 = 0x400;
    pub const CHGTIME: u32 = 0x800;
    pub const ACCTIME: u32 = 0x1000;
    pub const BKUPTIME: u32 = 0x2000;
    pub const FNDRINFO: u32 = 0x4000;
    pub const OWNERID: u32 = 0x8000;
    pub const GRPID: u32 = 0x10000;
    pub const ACCESSMASK: u32 = 0x20000;
    pub const FLAGS: u32 = 0x40000;
    pub const USERACCESS: u32 = 0x200000;
    pub const FILEID: u32 = 0x2000000;
    pub const PARENTID: u32 = 0x4000000;
    pub const RETURNED_ATTRS: u32 = 0x8000_0000;
}

pub mod dir {
    pub const LINKCOUNT: u32 = 0x1;
    pub const ENTRYCOUNT: u32 = 0x2;
    pub const MOUNTSTATUS: u32 = 0x4;
    pub const ALLOCSIZE: u32 = 0x8;
    pub const IOBLOCKSIZE: u32 = 0x10;
    pub const DATALENGTH: u32 = 0x20;
}

pub mod file {
    pub const LINKCOUNT: u32 = 0x1;
    pub const TOTALSIZE: u32 = 0x2;
    pub const ALLOCSIZE: u32 = 0x4;
    pub const IOBLOCKSIZE: u32 = 0x8;
    pub const DEVTYPE: u32 = 0x20;
    pub const DATALENGTH: u32 = 0x200;
    pub const DATAALLOCSIZE: u32 = 0x400;
    pub const RSRCLENGTH: u32 = 0x1000;
    pub const RSRCALLOCSIZE: u32 = 0x2000;
}

/// (bit, packed size) of every common attribute we answer, in bit order.
pub const CMN_SIZES: &[(u32, usize)] = &[
    (cmn::NAME, 8),
    (cmn::DEVID, 4),
    (cmn::FSID, 8),
    (cmn::OBJTYPE, 4),
    (cmn::OBJTAG, 4),
    (cmn::OBJID, 8),
    (cmn::OBJPERMANENTID, 8),
    (cmn::PAROBJID, 8),
    (cmn::SCRIPT, 4),
    (cmn::CRTIME, 16),
    (cmn::MODTIME, 16),
    (cmn::CHGTIME, 16),
    (cmn::ACCTIME, 16),
    (cmn::BKUPTIME, 16),
    (cmn::FNDRINFO, 32),
    (cmn::OWNERID, 4),
    (cmn::GRPID, 4),
    (cmn::ACCESSMASK, 4),
    (cmn::FLAGS, 4),
    (cmn::USERACCESS, 4),
    (cmn::FILEID, 8),
    (cmn::PARENTID, 8),
];
pub const DIR_SIZES: &[(u32, usize)] = &[
    (dir::LINKCOUNT, 4),
    (dir::ENTRYCOUNT, 4),
    (dir::MOUNTSTATUS, 4),
    (dir::ALLOCSIZE, 8),
    (dir::IOBLOCKSIZE, 4),
    (dir::DATALENGTH, 8),
];
pub const FILE_SIZES: &[(u32, usize)] = &[
    (file::LINKCOUNT, 4),
    (file::TOTALSIZE, 8),
    (file::ALLOCSIZE, 8),
    (file::IOBLOCKSIZE, 4),
    (file::DEVTYPE, 4),
    (file::DATALENGTH, 8),
    (file::DATAALLOCSIZE, 8),
    (file::RSRCLENGTH, 8),
    (file::RSRCALLOCSIZE, 8),
];

const fn mask(t: &[(u32, usize)]) -> u32 {
    let mut m = 0;
    let mut i = 0;
    while i < t.len() {
        m |= t[i].0;
        i += 1;
    }
    m
}

pub const CMN_SUPPORTED: u32 = mask(CMN_SIZES) | cmn::RETURNED_ATTRS;
pub const DIR_SUPPORTED: u32 = mask(DIR_SIZES);
pub const FILE_SUPPORTED: u32 = mask(FILE_SIZES);

/// Darwin vnode types.
pub const VREG: u32 = 1;
pub const VDIR: u32 = 2;
pub const VBLK: u32 = 3;
pub const VCHR: u32 = 4;
pub const VLNK: u32 = 5;
pub const VSOCK: u32 = 6;
pub const VFIFO: u32 = 7;

pub fn vtype(mode: u32) -> u32 {
    match mode & 0o170000 {
        0o100000 => VREG,
        0o040000 => VDIR,
        0o060000 => VBLK,
        0o020000 => VCHR,
        0o120000 => VLNK,
        0o140000 => VSOCK,
        0o010000 => VFIFO,
        _ => 0,
    }
}

/// Everything an answer can contain. Fields not requested may be left at
/// their defaults by the gatherer.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub name: &'a [u8],
    pub devid: u32,
    pub fsid: [i32; 2],
    pub objtype: u32,
    pub objid: u64,
    pub parentid: u64,
    pub crtime: Option<StatxTs>,
    pub modtime: StatxTs,
    pub chgtime: StatxTs,
    pub acctime: StatxTs,
    pub fndrinfo: [u8; 32],
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub flags: u32,
    pub useraccess: u32,
    pub nlink: u32,
    pub entrycount: u32,
    pub mountstatus: u32,
    pub size: u64,
    pub alloc: u64,
    pub blksize: u32,
    pub devtype: u32,
    pub rsrclength: u64,
}

impl Default for Facts<'_> {
    fn default() -> Self {
        Facts {
            name: b"",
            devid: 0,
            fsid: [0; 2],
            objtype: 0,
            objid: 0,
            parentid: 0,
            crtime: None,
            modtime: StatxTs::default(),
            chgtime: StatxTs::default(),
            acctime: StatxTs::default(),
            fndrinfo: [0; 32],
            uid: 0,
            gid: 0,
            mode: 0,
            flags: 0,
            useraccess: 0,
            nlink: 0,
            entrycount: 0,
            mountstatus: 0,
            size: 0,
            alloc: 0,
            blksize: 0,
            devtype: 0,
            rsrclength: 0,
        }
    }
}

/// Checks a request the way XNU does before touching the file.
pub fn validate(al: &AttrList, options: u32) -> Result<(), i32> {
    if al.bitmapcount != ATTR_BIT_MAP_COUNT {
        return Err(darwin::EINVAL);
    }
    // Volume attributes and the extended common/fork attributes are not
    // implemented; saying EINVAL lets callers fall back.
    if al.volattr != 0 || al.forkattr != 0 {
        return Err(darwin::EINVAL);
    }
    if al.commonattr & !CMN_SUPPORTED != 0
        || al.dirattr & !DIR_SUPPORTED != 0
        || al.fileattr & !FILE_SUPPORTED != 0
    {
        return Err(darwin::EINVAL);
    }
    if options & FSOPT_PACK_INVAL_ATTRS != 0 && al.commonattr & cmn::RETURNED_ATTRS == 0 {
        return Err(darwin::EINVAL);
    }
    Ok(())
}

/// Largest packed answer: header, returned set, all fixed fields, and a
/// NAME of up to 1024 bytes plus NUL and padding.
pub const MAX_PACKED: usize = 4 + 20 + 256 + 64 + 96 + 1028;

/// Whether the filesystem could answer `bit` for this object.
fn valid_cmn(bit: u32, f: &Facts) -> bool {
    match bit {
        cmn::CRTIME => f.crtime.is_some(),
        cmn::BKUPTIME => false,
        _ => true,
    }
}

struct Packer<'b> {
    out: &'b mut [u8],
    pos: usize,
}

impl Packer<'_> {
    fn put(&mut self, b: &[u8]) {
        self.out[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
        // Every field starts 4-byte aligned.
        while !self.pos.is_multiple_of(4) {
            self.out[self.pos] = 0;
            self.pos += 1;
        }
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_ne_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_ne_bytes());
    }
    fn ts(&mut self, t: StatxTs) {
        self.put(&t.sec.to_ne_bytes());
        self.put(&(t.nsec as i64).to_ne_bytes());
    }
    fn zeros(&mut self, n: usize) {
        for _ in 0..n {
            self.out[self.pos] = 0;
            self.pos += 1;
        }
    }
}

/// Packs the answer into `scratch` (at least [`MAX_PACKED`] bytes) and
/// returns the full size needed. The length header is left for the caller.
pub fn pack(al: &AttrList, options: u32, f: &Facts, scratch: &mut [u8]) -> usize {
    let pack_inval = options & FSOPT_PACK_INVAL_ATTRS != 0;
    let is_dir = f.objtype == VDIR;
    let name_len = f.name.len().min(1024);
    let mut p = Packer {
        out: scratch,
        pos: 4,
    };

    // The returned set, computed first, packed first.
    let mut ret_cmn = al.commonattr & cmn::RETURNED_ATTRS;
    for &(bit, _) in CMN_SIZES {
        if al.commonattr & bit != 0 && valid_cmn(bit, f) {
            ret_cmn |= bit;
        }
    }
    let ret_dir = if is_dir { al.dirattr } else { 0 };
    let ret_file = if is_dir { 0 } else { al.fileattr };
    if al.commonattr & cmn::RETURNED_ATTRS != 0 {
        for v in [ret_cmn, 0, ret_dir, ret_file, 0] {
            p.u32(v);
        }
    }

    let mut name_ref_at = None;
    for &(bit, size) in CMN_SIZES {
        if al.commonattr & bit == 0 {
            continue;
        }
        if !valid_cmn(bit, f) {
            if pack_inval {
                p.zeros(size);
            }
            continue;
        }
        match bit {
            cmn::NAME => {
                name_ref_at = Some(p.pos);
                p.zeros(8);
            }
            cmn::DEVID => p.u32(f.devid),
            cmn::FSID => {
                p.put(&f.fsid[0].to_ne_bytes());
                p.put(&f.fsid[1].to_ne_bytes());
            }
            cmn::OBJTYPE => p.u32(f.objtype),
            cmn::OBJTAG => p.u32(0), // VT_NON: no Darwin filesystem tag applies
            cmn::OBJID | cmn::OBJPERMANENTID => {
                p.u32(f.objid as u32);
                p.u32((f.objid >> 32) as u32);
            }
            cmn::PAROBJID => {
                p.u32(f.parentid as u32);
                p.u32((f.parentid >> 32) as u32);
            }
            cmn::SCRIPT => p.u32(0),
            cmn::CRTIME => p.ts(f.crtime.unwrap_or_default()),
            cmn::MODTIME => p.ts(f.modtime),
            cmn::CHGTIME => p.ts(f.chgtime),
            cmn::ACCTIME => p.ts(f.acctime),
            cmn::FNDRINFO => p.put(&f.fndrinfo),
            cmn::OWNERID => p.u32(f.uid),
            cmn::GRPID => p.u32(f.gid),
            cmn::ACCESSMASK => p.u32(f.mode),
            cmn::FLAGS => p.u32(f.flags),
            cmn::USERACCESS => p.u32(f.useraccess),
            cmn::FILEID => p.u64(f.objid),
            cmn::PARENTID => p.u64(f.parentid),
            _ => p.zeros(size),
        }
    }
    let dir_attrs = if is_dir || pack_inval { al.dirattr } else { 0 };
    for &(bit, size) in DIR_SIZES {
        if dir_attrs & bit == 0 {
            continue;
        }
        if !is_dir {
            p.zeros(size);
            continue;
        }
        match bit {
            dir::LINKCOUNT => p.u32(f.nlink),
            dir::ENTRYCOUNT => p.u32(f.entrycount),
            dir::MOUNTSTATUS => p.u32(f.mountstatus),
            dir::ALLOCSIZE => p.u64(f.alloc),
            dir::IOBLOCKSIZE => p.u32(f.blksize),
            dir::DATALENGTH => p.u64(f.size),
            _ => p.zeros(size),
        }
    }
    let file_attrs = if !is_dir || pack_inval {
        al.fileattr
    } else {
        0
    };
    for &(bit, size) in FILE_SIZES {
        if file_attrs & bit == 0 {
            continue;
        }
        if is_dir {
            p.zeros(size);
            continue;
        }
        match bit {
            file::LINKCOUNT => p.u32(f.nlink),
            file::TOTALSIZE | file::DATALENGTH => p.u64(
                f.size
                    + if bit == file::TOTALSIZE {
                        f.rsrclength
                    } else {
                        0
                    },
            ),
            file::ALLOCSIZE | file::DATAALLOCSIZE => p.u64(f.alloc),
            file::IOBLOCKSIZE => p.u32(f.blksize),
            file::DEVTYPE => p.u32(f.devtype),
            file::RSRCLENGTH => p.u64(f.rsrclength),
            file::RSRCALLOCSIZE => p.u64((f.rsrclength + 4095) & !4095),
            _ => p.zeros(size),
        }
    }
    // Variable-length data after the fixed area.
    if let Some(at) = name_ref_at {
        let off = (p.pos - at) as i32;
        let mut name_buf = [0u8; 1025];
        name_buf[..name_len].copy_from_slice(&f.name[..name_len]);
        p.put(&name_buf[..name_len + 1]);
        p.out[at..at + 4].copy_from_slice(&off.to_ne_bytes());
        p.out[at + 4..at + 8].copy_from_slice(&((name_len + 1) as u32).to_ne_bytes());
    }
    p.pos
}

/// Copies a packed answer to the caller's buffer with XNU's length rules.
pub fn deliver(packed: &mut [u8], needed: usize, buf: &mut [u8], options: u32) -> Result<(), i32> {
    if buf.len() < 4 {
        return Err(darwin::ERANGE);
    }
    let written = needed.min(buf.len());
    let header = if options & FSOPT_REPORT_FULLSIZE != 0 {
        needed
    } else {
        written
    };
    packed[..4].copy_from_slice(&(header as u32).to_ne_bytes());
    buf[..written].copy_from_slice(&packed[..written]);
    Ok(())
}

// --- gathering facts from Linux ------------------------------------------

const XATTR_FINDERINFO: &[u8] = b"user.com.apple.FinderInfo\0";
const XATTR_RSRC: &[u8] = b"user.com.apple.ResourceFork\0";

/// Which object a request is about.
pub enum Target<'a> {
    /// (Linux dirfd, host path, Darwin path as given).
    Path(c_int, &'a PathBuf, &'a [u8]),
    Fd(c_int),
}

fn basename(p: &[u8]) -> &[u8] {
    let mut end = p.len();
    while end > 1 && p[end - 1] == b'/' {
        end -= 1;
    }
    let p = &p[..end];
    if p == b"/" {
        return p;
    }
    match p.iter().rposition(|c| *c == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// A device number as Darling's `stat` reports `st_dev`: it passes Linux's
/// own encoding through (truncated to Darwin's 32-bit `dev_t`), so DEVID
/// must use it too, or realpath's attributes disagree with `lstat`.
fn dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// The host path of the prefix root, to report "/" as its name.
fn prefix_root(out: &mut PathBuf) -> bool {
    // SAFETY: a static NUL-terminated string.
    unsafe { sys::host_path(c"/".as_ptr(), true, out).is_ok() }
}

/// Gathers what `al` asks for and packs it into `buf`. Returns 0 or minus a
/// Darwin errno.
pub fn getattr(target: Target, al: &AttrList, options: u32, buf: &mut [u8]) -> c_long {
    if let Err(e) = validate(al, options) {
        return -(e as c_long);
    }
    if buf.len() < 4 {
        return -(darwin::ERANGE as c_long);
    }
    let nofollow = options & FSOPT_NOFOLLOW != 0;
    let want_btime = al.commonattr & cmn::CRTIME != 0;
    let mask = flag::STATX_BASIC_STATS | if want_btime { flag::STATX_BTIME } else { 0 };
    let empty = c"".as_ptr();
    let st: Statx = match target {
        Target::Path(dirfd, host, _) => {
            let at = if nofollow {
                flag::AT_SYMLINK_NOFOLLOW
            } else {
                0
            };
            match sys::statx(dirfd, host.as_ptr(), at, mask) {
                Ok(s) => s,
                Err(e) => return ret(e),
            }
        }
        Target::Fd(fd) => match sys::statx(fd, empty, flag::AT_EMPTY_PATH, mask) {
            Ok(s) => s,
            Err(e) => return ret(e),
        },
    };
    let mode = st.mode as u32;
    let objtype = vtype(mode);
    let is_dir = objtype == VDIR;

    let need_fd = al.commonattr
        & (cmn::PAROBJID
            | cmn::PARENTID
            | cmn::FSID
            | cmn::FLAGS
            | cmn::FNDRINFO
            | cmn::USERACCESS)
        != 0
        || (is_dir && al.dirattr & (dir::ENTRYCOUNT | dir::MOUNTSTATUS) != 0)
        || (!is_dir
            && al.fileattr & (file::RSRCLENGTH | file::RSRCALLOCSIZE | file::TOTALSIZE) != 0);
    let name_from_fd = al.commonattr & cmn::NAME != 0
        && match target {
            Target::Fd(_) => true,
            Target::Path(_, _, darwin) => {
                let b = basename(darwin);
                // Following: the name is the final target's, which only
                // the opened object knows (Darling's translation may
                // already have resolved the link in the host path).
                b == b"." || b == b".." || !nofollow
            }
        };

    // An O_PATH handle on exactly the object statx saw.
    let pathfd = if need_fd || name_from_fd {
        let r = match target {
            Target::Path(dirfd, host, _) => sys::openat(
                dirfd,
                host.as_ptr(),
                flag::O_PATH | if nofollow { flag::O_NOFOLLOW } else { 0 },
                0,
            ),
            Target::Fd(fd) => {
                let mut p = PathBuf::new();
                sys::proc_fd_path(fd, &mut p);
                sys::openat(flag::AT_FDCWD, p.as_ptr(), flag::O_PATH, 0)
            }
        };
        match r {
            Ok(fd) => Some(fd),
            Err(e) => return ret(e),
        }
    } else {
        None
    };
    let mut procfd = PathBuf::new();
    let mut hostpath = PathBuf::new();
    if let Some(fd) = &pathfd {
        sys::proc_fd_path(fd.0, &mut procfd);
        if sys::fd_host_path(fd.0, &mut hostpath).is_err() {
            hostpath.len = 0;
        }
    }
    let mut root = PathBuf::new();
    let at_root = pathfd.is_some() && prefix_root(&mut root) && root.bytes() == hostpath.bytes();

    let name: &[u8] = if al.commonattr & cmn::NAME == 0 {
        b""
    } else if at_root {
        b"/"
    } else if name_from_fd {
        basename(hostpath.bytes())
    } else if let Target::Path(_, _, darwin) = target {
        basename(darwin)
    } else {
        b""
    };

    let mut f = Facts {
        name,
        devid: dev(st.dev_major, st.dev_minor),
        objtype,
        objid: st.ino,
        crtime: if st.mask & flag::STATX_BTIME != 0 {
            Some(st.btime)
        } else {
            None
        },
        modtime: st.mtime,
        chgtime: st.ctime,
        acctime: st.atime,
        uid: st.uid,
        gid: st.gid,
        mode,
        nlink: st.nlink,
        size: st.size,
        alloc: st.blocks * 512,
        blksize: st.blksize,
        devtype: if objtype == VBLK || objtype == VCHR {
            dev(st.rdev_major, st.rdev_minor)
        } else {
            0
        },
        ..Facts::default()
    };

    if let Some(fd) = &pathfd {
        if al.commonattr & cmn::FSID != 0 {
            let ftype = sys::fstatfs(fd.0).map(|s| s.f_type as i32).unwrap_or(0);
            // Darwin's fsid is (device, filesystem type).
            f.fsid = [f.devid as i32, ftype];
        }
        let mut parent_dev = None;
        if al.commonattr & (cmn::PAROBJID | cmn::PARENTID) != 0
            || (is_dir && al.dirattr & dir::MOUNTSTATUS != 0)
        {
            if at_root || hostpath.bytes() == b"/" {
                f.parentid = st.ino;
                parent_dev = Some((st.dev_major, st.dev_minor));
            } else {
                let mut parent = PathBuf::new();
                let hp = hostpath.bytes();
                let cut = hp.iter().rposition(|c| *c == b'/').unwrap_or(0);
                let _ = parent.set(if cut == 0 { b"/" } else { &hp[..cut] });
                if let Ok(pst) =
                    sys::statx(flag::AT_FDCWD, parent.as_ptr(), 0, flag::STATX_BASIC_STATS)
                {
                    f.parentid = pst.ino;
                    parent_dev = Some((pst.dev_major, pst.dev_minor));
                }
            }
        }
        if is_dir && al.dirattr & dir::MOUNTSTATUS != 0 {
            const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
            let mount_root = if st.attributes_mask & STATX_ATTR_MOUNT_ROOT != 0 {
                st.attributes & STATX_ATTR_MOUNT_ROOT != 0
            } else {
                parent_dev.is_some_and(|d| d != (st.dev_major, st.dev_minor))
            };
            f.mountstatus = mount_root as u32; // DIR_MNTSTATUS_MNTPOINT
        }
        if al.commonattr & cmn::FLAGS != 0 && objtype != VLNK {
            if let Ok(rfd) = sys::openat(
                flag::AT_FDCWD,
                procfd.as_ptr(),
                flag::O_RDONLY | flag::O_NONBLOCK,
                0,
            ) {
                if let Ok(Some(l)) = flags::get_linux(rfd.0) {
                    f.flags = flags::from_linux(l);
                }
            }
        }
        if al.commonattr & cmn::USERACCESS != 0 {
            const AT_EACCESS: i64 = 0x200;
            let mut acc = 0;
            for bit in [4u32, 2, 1] {
                let r = sys::syscall(
                    nr::FACCESSAT2,
                    [
                        fd.0 as c_long,
                        empty as c_long,
                        bit as c_long,
                        AT_EACCESS | flag::AT_EMPTY_PATH as i64,
                        0,
                        0,
                    ],
                );
                if r.is_ok() {
                    acc |= bit;
                }
            }
            f.useraccess = acc;
        }
        if objtype != VLNK {
            if al.commonattr & cmn::FNDRINFO != 0 {
                let _ = sys::syscall(
                    nr::GETXATTR,
                    [
                        procfd.as_ptr() as c_long,
                        XATTR_FINDERINFO.as_ptr() as c_long,
                        f.fndrinfo.as_mut_ptr() as c_long,
                        32,
                        0,
                        0,
                    ],
                );
            }
            if !is_dir
                && al.fileattr & (file::RSRCLENGTH | file::RSRCALLOCSIZE | file::TOTALSIZE) != 0
            {
                if let Ok(n) = sys::syscall(
                    nr::GETXATTR,
                    [
                        procfd.as_ptr() as c_long,
                        XATTR_RSRC.as_ptr() as c_long,
                        0,
                        0,
                        0,
                        0,
                    ],
                ) {
                    f.rsrclength = n as u64;
                }
            }
        }
        if is_dir && al.dirattr & dir::ENTRYCOUNT != 0 {
            match count_entries(&procfd) {
                Ok(n) => f.entrycount = n,
                Err(e) => return ret(e),
            }
        }
    }

    let mut scratch = [0u8; MAX_PACKED];
    let needed = pack(al, options, &f, &mut scratch);
    match deliver(&mut scratch, needed, buf, options) {
        Ok(()) => 0,
        Err(e) => -(e as c_long),
    }
}

fn count_entries(procfd: &PathBuf) -> Result<u32, i32> {
    let d = sys::openat(
        flag::AT_FDCWD,
        procfd.as_ptr(),
        flag::O_RDONLY | flag::O_DIRECTORY,
        0,
    )?;
    let mut buf = [0u8; 4096];
    let mut n = 0u32;
    loop {
        let got = sys::syscall_retry(
            nr::GETDENTS64,
            [
                d.0 as c_long,
                buf.as_mut_ptr() as c_long,
                buf.len() as c_long,
                0,
                0,
                0,
            ],
        )? as usize;
        if got == 0 {
            return Ok(n);
        }
        let mut off = 0;
        while off + 19 <= got {
            // linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name...
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[off + 19..(off + reclen).min(got)];
            let name = &name[..name.iter().position(|c| *c == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                n += 1;
            }
            off += reclen;
        }
    }
}

// --- exported entry points -------------------------------------------------

/// # Safety
/// Pointers as for Darwin's getattrlist: `alist` readable, `buf` writable
/// for `size` bytes, `path` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_getattrlistat(
    fd: c_int,
    path: *const c_char,
    alist: *const AttrList,
    buf: *mut c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    if alist.is_null() || (buf.is_null() && size > 0) {
        return -(darwin::EFAULT as c_long);
    }
    let al = core::ptr::read_unaligned(alist);
    let options = options as u32;
    let mut host = PathBuf::new();
    if let Err(e) = sys::host_path(path, options & FSOPT_NOFOLLOW == 0, &mut host) {
        return ret(e);
    }
    let darwin_path =
        core::slice::from_raw_parts(path as *const u8, sys::cstr_len(path, sys::PATH_MAX));
    let out = if size == 0 {
        &mut [][..]
    } else {
        core::slice::from_raw_parts_mut(buf as *mut u8, size)
    };
    getattr(
        Target::Path(sys::linux_dirfd(fd), &host, darwin_path),
        &al,
        options,
        out,
    )
}

/// # Safety
/// As [`xnu_fixes_getattrlistat`].
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_getattrlist(
    path: *const c_char,
    alist: *const AttrList,
    buf: *mut c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    xnu_fixes_getattrlistat(-2, path, alist, buf, size, options)
}

/// # Safety
/// As [`xnu_fixes_getattrlistat`], without a path.
#[no_mangle]
pub unsafe extern "C" fn xnu_fixes_fgetattrlist(
    fd: c_int,
    alist: *const AttrList,
    buf: *mut c_void,
    size: usize,
    options: c_ulong,
) -> c_long {
    if alist.is_null() || (buf.is_null() && size > 0) {
        return -(darwin::EFAULT as c_long);
    }
    let al = core::ptr::read_unaligned(alist);
    let out = if size == 0 {
        &mut [][..]
    } else {
        core::slice::from_raw_parts_mut(buf as *mut u8, size)
    };
    getattr(Target::Fd(fd), &al, options as u32, out)
}

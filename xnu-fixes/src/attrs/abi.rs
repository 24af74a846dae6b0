//! The Darwin side of the interface: `struct attrlist`, the option and
//! attribute bits, the packed size of each attribute we answer, and which
//! requests XNU accepts at all.

use crate::errno::{darwin, DarwinErrno};

/// Darwin `struct attrlist`: which attributes a getattrlist or setattrlist
/// caller asks for, as one bitmap per attribute group. Layout-compatible
/// with the C structure (`struct xnu_attrlist` in `include/xnu_fixes.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttrList {
    /// How many bitmaps follow; Darwin requires [`ATTR_BIT_MAP_COUNT`] (5)
    /// and any other value is refused with EINVAL.
    pub bitmapcount: u16,
    /// Padding after `bitmapcount`; callers should pass 0. Not checked here.
    pub reserved: u16,
    /// `ATTR_CMN_*` bits ([`cmn`]): attributes every object has.
    pub commonattr: u32,
    /// `ATTR_VOL_*` bits: volume attributes. Not implemented: any bit set
    /// gives EINVAL.
    pub volattr: u32,
    /// `ATTR_DIR_*` bits ([`dir`]): answered only when the object is a
    /// directory.
    pub dirattr: u32,
    /// `ATTR_FILE_*` bits ([`file`](mod@file)): answered only when the object is not
    /// a directory.
    pub fileattr: u32,
    /// `ATTR_FORK_*` bits: fork attributes. Not implemented: any bit set
    /// gives EINVAL.
    pub forkattr: u32,
}

/// The only `bitmapcount` Darwin accepts: the five bitmaps of [`AttrList`].
pub const ATTR_BIT_MAP_COUNT: u16 = 5;

/// The caller's `struct attrlist`, or Darwin's `EFAULT` when it is
/// NULL or `buf` is NULL with a non-zero `size` (XNU's checks, shared by
/// the get and set calls).
///
/// # Safety
/// `alist` NULL or readable.
pub unsafe fn read_attrlist(
    alist: *const AttrList,
    buf: *const core::ffi::c_void,
    size: usize,
) -> Result<AttrList, DarwinErrno> {
    if alist.is_null() || (buf.is_null() && size > 0) {
        return Err(darwin::EFAULT);
    }
    // SAFETY: non-null (checked) and readable by the contract; it may be
    // unaligned in the caller's memory.
    Ok(unsafe { core::ptr::read_unaligned(alist) })
}

/// `FSOPT_NOFOLLOW` (an `options` bit of the get/set calls): act on a
/// final symlink itself instead of the object it points to.
pub const FSOPT_NOFOLLOW: u32 = 0x1;
/// `FSOPT_REPORT_FULLSIZE`: the u32 length at the start of a getattrlist
/// answer holds the size the whole answer needs, even when the buffer was
/// too short for it, instead of the number of bytes written.
pub const FSOPT_REPORT_FULLSIZE: u32 = 0x4;
/// `FSOPT_PACK_INVAL_ATTRS`: an attribute that was asked for but cannot be
/// answered for this object is packed as zeros (keeping the layout fixed)
/// and left out of the returned set. Needs `ATTR_CMN_RETURNED_ATTRS`, or
/// the request is refused with EINVAL.
pub const FSOPT_PACK_INVAL_ATTRS: u32 = 0x8;

/// `ATTR_CMN_*`: the bits of [`AttrList::commonattr`], attributes every
/// file-system object has.
///
/// Only the bits listed here are implemented; the packed size of each is in
/// [`CMN_SIZES`]. Times are packed as Darwin's 64-bit
/// `struct timespec` (i64 seconds since the epoch, then i64 nanoseconds).
/// Any other common bit is refused with EINVAL by [`validate`].
pub mod cmn {
    /// The object's name (last path component, or "/" at the root), as an
    /// `attrreference` (i32 offset from the reference itself, u32 length
    /// including the NUL) to NUL-terminated data after the fixed area.
    pub const NAME: u32 = 0x1;
    /// The device holding the object, as a u32 `dev_t` in the same encoding
    /// Darling's `stat` gives `st_dev`.
    pub const DEVID: u32 = 0x2;
    /// The file system's id, an `fsid_t` (two i32): the device number as
    /// in DEVID, then the Linux `statfs` magic number of the file system.
    pub const FSID: u32 = 0x4;
    /// The object's type as a Darwin vnode type ([`VREG`](super::VREG),
    /// [`VDIR`](super::VDIR), ...), a u32.
    pub const OBJTYPE: u32 = 0x8;
    /// The file-system type tag, a u32; always 0 (`VT_NON`) here.
    pub const OBJTAG: u32 = 0x10;
    /// The object's id, an `fsobj_id_t` (two u32): the inode number's low
    /// 32 bits, then its high 32 bits.
    pub const OBJID: u32 = 0x20;
    /// The object's persistent id, packed like OBJID (the inode number).
    pub const OBJPERMANENTID: u32 = 0x40;
    /// The parent directory's id, packed like OBJID. The root is its own
    /// parent.
    pub const PAROBJID: u32 = 0x80;
    /// The text encoding hint of the name, a u32; always 0 here.
    pub const SCRIPT: u32 = 0x100;
    /// The creation (birth) time, a timespec. Linux may not know it; then it
    /// is invalid for this object (see [`FSOPT_PACK_INVAL_ATTRS`](super::FSOPT_PACK_INVAL_ATTRS)).
    pub const CRTIME: u32 = 0x200;
    /// The last data modification time (`st_mtime`), a timespec.
    pub const MODTIME: u32 = 0x400;
    /// The last status change time (`st_ctime`), a timespec.
    pub const CHGTIME: u32 = 0x800;
    /// The last access time (`st_atime`), a timespec.
    pub const ACCTIME: u32 = 0x1000;
    /// The last backup time, a timespec. Linux keeps none, so it is always
    /// invalid here; setattrlist accepts and ignores it.
    pub const BKUPTIME: u32 = 0x2000;
    /// The 32 bytes of Finder information, kept on Linux in the
    /// `user.com.apple.FinderInfo` extended attribute (zeros when absent).
    pub const FNDRINFO: u32 = 0x4000;
    /// The owner's user id, a u32.
    pub const OWNERID: u32 = 0x8000;
    /// The group id, a u32.
    pub const GRPID: u32 = 0x10000;
    /// The mode (`st_mode`: type and permission bits), a u32. setattrlist
    /// applies only the low 12 bits.
    pub const ACCESSMASK: u32 = 0x20000;
    /// The BSD file flags (`st_flags`, see [`crate::flags`]), a u32,
    /// translated from the Linux inode flags.
    pub const FLAGS: u32 = 0x40000;
    /// What the calling process may do with the object, a u32 of read (4),
    /// write (2) and execute (1), checked with the effective ids.
    pub const USERACCESS: u32 = 0x200000;
    /// The inode number as a u64.
    pub const FILEID: u32 = 0x2000000;
    /// The parent directory's inode number as a u64.
    pub const PARENTID: u32 = 0x4000000;
    /// Ask for the set of attributes actually returned: five u32 bitmaps
    /// (common, volume, directory, file, fork), 20 bytes packed before
    /// every other attribute.
    pub const RETURNED_ATTRS: u32 = 0x8000_0000;
}

/// `ATTR_DIR_*`: the bits of [`AttrList::dirattr`], answered only for
/// directories (for anything else they are left out, or packed as zeros
/// with `FSOPT_PACK_INVAL_ATTRS`).
pub mod dir {
    /// The directory's hard link count, a u32.
    pub const LINKCOUNT: u32 = 0x1;
    /// How many entries the directory holds, not counting "." and "..", a
    /// u32.
    pub const ENTRYCOUNT: u32 = 0x2;
    /// Mount status, a u32: 1 (`DIR_MNTSTATUS_MNTPOINT`) when a file system
    /// is mounted on the directory, else 0.
    pub const MOUNTSTATUS: u32 = 0x4;
    /// Bytes allocated on disk (`st_blocks` * 512), a u64.
    pub const ALLOCSIZE: u32 = 0x8;
    /// The preferred I/O block size in bytes (`st_blksize`), a u32.
    pub const IOBLOCKSIZE: u32 = 0x10;
    /// The directory's logical size in bytes (`st_size`), a u64.
    pub const DATALENGTH: u32 = 0x20;
}

/// `ATTR_FILE_*`: the bits of [`AttrList::fileattr`], answered for every
/// object that is not a directory (for directories they are left out, or
/// packed as zeros with `FSOPT_PACK_INVAL_ATTRS`).
pub mod file {
    /// The hard link count, a u32.
    pub const LINKCOUNT: u32 = 0x1;
    /// The total logical size in bytes, data plus resource fork, a u64.
    pub const TOTALSIZE: u32 = 0x2;
    /// Bytes allocated on disk (`st_blocks` * 512), a u64.
    pub const ALLOCSIZE: u32 = 0x4;
    /// The preferred I/O block size in bytes (`st_blksize`), a u32.
    pub const IOBLOCKSIZE: u32 = 0x8;
    /// The device number of a block or character device (`st_rdev`,
    /// encoded as DEVID is), a u32; 0 for other objects.
    pub const DEVTYPE: u32 = 0x20;
    /// The data fork's logical size in bytes (`st_size`), a u64.
    pub const DATALENGTH: u32 = 0x200;
    /// Bytes allocated for the data fork (`st_blocks` * 512), a u64.
    pub const DATAALLOCSIZE: u32 = 0x400;
    /// The resource fork's size in bytes, a u64: the size of the
    /// `user.com.apple.ResourceFork` extended attribute, 0 without one.
    pub const RSRCLENGTH: u32 = 0x1000;
    /// The resource fork's size rounded up to 4096 bytes, a u64.
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
/// (bit, packed size) of every directory attribute, in bit order.
pub const DIR_SIZES: &[(u32, usize)] = &[
    (dir::LINKCOUNT, 4),
    (dir::ENTRYCOUNT, 4),
    (dir::MOUNTSTATUS, 4),
    (dir::ALLOCSIZE, 8),
    (dir::IOBLOCKSIZE, 4),
    (dir::DATALENGTH, 8),
];
/// (bit, packed size) of every file attribute we answer, in bit order.
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

/// Every common bit getattrlist answers; a request with any other common
/// bit gives EINVAL.
pub const CMN_SUPPORTED: u32 = mask(CMN_SIZES) | cmn::RETURNED_ATTRS;
/// Every directory bit getattrlist answers (all six).
pub const DIR_SUPPORTED: u32 = mask(DIR_SIZES);
/// Every file bit getattrlist answers; a request with any other file bit
/// gives EINVAL.
pub const FILE_SUPPORTED: u32 = mask(FILE_SIZES);

// Darwin vnode types (`enum vtype`), the values ATTR_CMN_OBJTYPE reports.
// 0 (`VNON`) stands for "no type".

/// Vnode type of a regular file.
pub const VREG: u32 = 1;
/// Vnode type of a directory.
pub const VDIR: u32 = 2;
/// Vnode type of a block device.
pub const VBLK: u32 = 3;
/// Vnode type of a character device.
pub const VCHR: u32 = 4;
/// Vnode type of a symbolic link.
pub const VLNK: u32 = 5;
/// Vnode type of a Unix-domain socket.
pub const VSOCK: u32 = 6;
/// Vnode type of a FIFO (named pipe).
pub const VFIFO: u32 = 7;

/// The Darwin vnode type for a `st_mode` (its `S_IFMT` bits, which Linux
/// and Darwin share), or 0 (`VNON`) for an unknown type.
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

/// Checks a request the way XNU does before touching the file; the error
/// is a Darwin errno (EINVAL).
pub fn validate(al: &AttrList, options: u32) -> Result<(), DarwinErrno> {
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

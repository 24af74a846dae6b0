//! The Darwin side of the interface: `struct attrlist`, the option and
//! attribute bits, the packed size of each attribute we answer, and which
//! requests XNU accepts at all.

use crate::errno::{darwin, DarwinErrno};

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

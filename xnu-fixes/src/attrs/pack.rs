//! Packing an answer the way XNU packs it, from [`Facts`] already
//! gathered: no system calls here, so the property tests can drive it with
//! any input.

use super::abi::*;
use crate::errno::{darwin, DarwinErrno};
use crate::sys::StatxTs;

/// Everything an answer can contain. Fields not requested may be left at
/// their defaults by the gatherer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts<'a> {
    /// The name for `ATTR_CMN_NAME`, without a NUL; only its first 1024
    /// bytes are packed.
    pub name: &'a [u8],
    /// `ATTR_CMN_DEVID`: the device number, encoded as Darling's `st_dev`.
    pub devid: u32,
    /// `ATTR_CMN_FSID`: (device number, Linux file-system magic).
    pub fsid: [i32; 2],
    /// `ATTR_CMN_OBJTYPE`: the Darwin vnode type ([`VDIR`] selects the
    /// directory attributes instead of the file ones).
    pub objtype: u32,
    /// The inode number, for `ATTR_CMN_OBJID`, `ATTR_CMN_OBJPERMANENTID`
    /// and `ATTR_CMN_FILEID`.
    pub objid: u64,
    /// The parent directory's inode number, for `ATTR_CMN_PAROBJID` and
    /// `ATTR_CMN_PARENTID`.
    pub parentid: u64,
    /// `ATTR_CMN_CRTIME`: the birth time, or `None` when the file system
    /// does not report one (the attribute is then invalid).
    pub crtime: Option<StatxTs>,
    /// `ATTR_CMN_MODTIME`: the last data modification time.
    pub modtime: StatxTs,
    /// `ATTR_CMN_CHGTIME`: the last status change time.
    pub chgtime: StatxTs,
    /// `ATTR_CMN_ACCTIME`: the last access time.
    pub acctime: StatxTs,
    /// `ATTR_CMN_FNDRINFO`: the 32 bytes of Finder information.
    pub fndrinfo: [u8; 32],
    /// `ATTR_CMN_OWNERID`: the owner's user id.
    pub uid: u32,
    /// `ATTR_CMN_GRPID`: the group id.
    pub gid: u32,
    /// `ATTR_CMN_ACCESSMASK`: the mode, type and permission bits.
    pub mode: u32,
    /// `ATTR_CMN_FLAGS`: the BSD file flags (`UF_*`, `SF_*`).
    pub flags: u32,
    /// `ATTR_CMN_USERACCESS`: read (4), write (2), execute (1) for the
    /// caller.
    pub useraccess: u32,
    /// The hard link count, for `ATTR_DIR_LINKCOUNT` and
    /// `ATTR_FILE_LINKCOUNT`.
    pub nlink: u32,
    /// `ATTR_DIR_ENTRYCOUNT`: entries in a directory, without "." and "..".
    pub entrycount: u32,
    /// `ATTR_DIR_MOUNTSTATUS`: 1 for a mount point, else 0.
    pub mountstatus: u32,
    /// The logical size in bytes, for the DATALENGTH attributes (and, plus
    /// [`rsrclength`](Facts::rsrclength), `ATTR_FILE_TOTALSIZE`).
    pub size: u64,
    /// Bytes allocated on disk, for the ALLOCSIZE attributes and
    /// `ATTR_FILE_DATAALLOCSIZE`.
    pub alloc: u64,
    /// The preferred I/O block size in bytes, for the IOBLOCKSIZE
    /// attributes.
    pub blksize: u32,
    /// `ATTR_FILE_DEVTYPE`: a device file's device number, else 0.
    pub devtype: u32,
    /// The resource fork's size in bytes, for `ATTR_FILE_RSRCLENGTH`,
    /// `ATTR_FILE_RSRCALLOCSIZE` (rounded up to 4096) and
    /// `ATTR_FILE_TOTALSIZE`.
    pub rsrclength: u64,
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

/// Copies a packed answer to the caller's buffer with XNU's length rules,
/// or gives ERANGE (a Darwin errno).
pub fn deliver(
    packed: &mut [u8],
    needed: usize,
    buf: &mut [u8],
    options: u32,
) -> Result<(), DarwinErrno> {
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

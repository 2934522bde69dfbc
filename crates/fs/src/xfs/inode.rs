//! XFS inodes: the inode core (v1, v2, v3; bigtime; nrext64), its data and
//! attribute forks, and the block map of a fork (extent list or bmbt).
//!
//! Owns decoding one inode and turning a fork into a checked, sorted extent
//! list. It must not trust a count or a block number from the inode or a
//! btree block: extents must lie inside their AG and not overlap, btree
//! levels must descend one by one to a bounded depth, and no block is
//! visited twice.

use super::{XfsFs, be16, be32, be64, crc};
use crate::{FileType, Timespec};
use gx_disk::Result;
use std::collections::HashSet;

const XFS_DINODE_MAGIC: u16 = 0x494e;
pub(crate) const FMT_DEV: u8 = 0;
pub(crate) const FMT_LOCAL: u8 = 1;
pub(crate) const FMT_EXTENTS: u8 = 2;
pub(crate) const FMT_BTREE: u8 = 3;

const DIFLAG_REALTIME: u16 = 1 << 0;
const DIFLAG2_BIGTIME: u64 = 1 << 3;
const DIFLAG2_NREXT64: u64 = 1 << 4;

const XFS_BMAP_MAGIC: u32 = 0x424d_4150;
const XFS_BMAP_CRC_MAGIC: u32 = 0x424d_4133;
/// Deepest bmbt we accept (the kernel's limit for 64-bit extent counts is
/// well under this).
const BMBT_MAX_LEVELS: u16 = 10;
/// Bytes of inode table read at once by [`XfsFs::read_inode_windowed`]:
/// 32 inodes of 512 bytes, half an inode chunk (and a whole one of the
/// 256-byte inodes of v4).
pub(crate) const INODE_WINDOW: u64 = 16 * 1024;
/// Most extents one fork may map before we refuse it: bounds memory.
pub(crate) const MAX_EXTENTS: usize = 1 << 21;

/// Size of the inode core (XFS_DINODE_SIZE) for each version.
fn core_size(version: u8) -> usize {
    if version >= 3 { 176 } else { 100 }
}

/// One mapping: `count` blocks from logical block `off` at filesystem block
/// `fsb` (packed AG/block form); `unwritten` extents read as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub off: u64,
    pub fsb: u64,
    pub count: u64,
    pub unwritten: bool,
}

/// A decoded inode.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub ino: u64,
    pub mode: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub size: u64,
    pub nblocks: u64,
    pub nextents: u64,
    pub anextents: u64,
    pub flags: u16,
    pub format: u8,
    pub aformat: Option<u8>,
    /// The data fork's bytes in the inode.
    pub dfork: Vec<u8>,
    /// The attribute fork's bytes (empty without one).
    pub afork: Vec<u8>,
}

impl Inode {
    pub(crate) fn file_type(&self) -> FileType {
        FileType::from_mode(u32::from(self.mode))
    }

    pub(crate) fn is_realtime(&self) -> bool {
        self.flags & DIFLAG_REALTIME != 0
    }
}

/// Which fork of an inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fork {
    Data,
    Attr,
}

/// An XFS timestamp: signed seconds and nanoseconds, or with bigtime one
/// count of nanoseconds since 1901-12-13 (XFS_BIGTIME_EPOCH_OFFSET).
fn timestamp(b: &[u8], off: usize, bigtime: bool) -> Timespec {
    if bigtime {
        let ns = be64(b, off);
        let sec = (ns / 1_000_000_000) as i64 - (1i64 << 31);
        Timespec {
            sec,
            nsec: (ns % 1_000_000_000) as i64,
        }
    } else {
        Timespec {
            sec: i64::from(be32(b, off) as i32),
            nsec: i64::from(be32(b, off + 4)),
        }
    }
}

/// Decode a 16-byte bmbt record (xfs_bmbt_rec): flag, 54-bit startoff,
/// 52-bit startblock, 21-bit blockcount.
pub(crate) fn bmbt_rec(b: &[u8]) -> Extent {
    let l0 = be64(b, 0);
    let l1 = be64(b, 8);
    Extent {
        off: (l0 & ((1u64 << 63) - 1)) >> 9,
        fsb: ((l0 & 0x1ff) << 43) | (l1 >> 21),
        count: l1 & ((1u64 << 21) - 1),
        unwritten: l0 >> 63 != 0,
    }
}

impl XfsFs {
    pub(crate) fn read_inode(&self, ino: u64) -> Result<Inode> {
        let sb = &self.sb;
        let byte = sb.ino_to_byte(ino).ok_or_else(|| {
            self.corrupt(format!("inode number {ino} points outside the filesystem"))
        })?;
        let mut b = vec![0u8; sb.inodesize as usize];
        self.dev.read_at(&mut b, byte)?;
        self.decode_inode(ino, &b)
    }

    /// [`Self::read_inode`] for a run of inodes (a directory's entries,
    /// mostly allocated together): the inode is decoded from `win`, an
    /// aligned [`INODE_WINDOW`]-byte piece of the device read in one call
    /// and kept for the next inode, so an inode cluster is read once per
    /// directory, not once per inode, and nothing goes through the block
    /// cache's chunks. Only the inode's own bytes are decoded; a window that
    /// cannot be read falls back to reading the inode alone.
    pub(crate) fn read_inode_windowed(&self, ino: u64, win: &mut (u64, Vec<u8>)) -> Result<Inode> {
        let sb = &self.sb;
        let Some(byte) = sb.ino_to_byte(ino) else {
            return self.read_inode(ino);
        };
        let len = sb.inodesize as u64;
        let (start, have) = (win.0, win.1.len() as u64);
        if byte < start || byte + len > start + have {
            let start = byte / INODE_WINDOW * INODE_WINDOW;
            let end = (start + INODE_WINDOW).min(self.dev.size());
            if end < byte + len {
                return self.read_inode(ino);
            }
            win.1.resize((end - start) as usize, 0);
            if self.dev.read_at(&mut win.1, start).is_err() {
                win.1.clear();
                return self.read_inode(ino);
            }
            win.0 = start;
        }
        let at = (byte - win.0) as usize;
        self.decode_inode(ino, &win.1[at..at + len as usize])
    }

    fn decode_inode(&self, ino: u64, b: &[u8]) -> Result<Inode> {
        let sb = &self.sb;
        let bad = |why: String| self.corrupt(format!("inode {ino}: {why}"));
        if be16(b, 0) != XFS_DINODE_MAGIC {
            return Err(bad("bad magic (not an inode, or a free inode chunk)".into()));
        }
        let version = b[4];
        let ok_version = if sb.v5 {
            version == 3
        } else {
            version == 1 || version == 2
        };
        if !ok_version {
            return Err(bad(format!("inode version {version}")));
        }
        if version == 3 {
            if !crc::verify(b, 100) {
                return Err(bad("checksum mismatch".into()));
            }
            if be64(b, 152) != ino {
                return Err(bad(format!("records inode number {}", be64(b, 152))));
            }
            if b[160..176] != sb.meta_uuid {
                return Err(bad("belongs to another filesystem (UUID)".into()));
            }
        }
        let mode = be16(b, 2);
        if mode == 0 {
            return Err(bad("is free (mode 0) but a directory names it".into()));
        }
        let format = b[5];
        let flags2 = if version == 3 { be64(b, 120) } else { 0 };
        let bigtime = flags2 & DIFLAG2_BIGTIME != 0;
        if bigtime && !sb.bigtime() {
            return Err(bad(
                "bigtime timestamps on a filesystem without bigtime".into()
            ));
        }
        let nrext64 = flags2 & DIFLAG2_NREXT64 != 0;
        if nrext64 && !sb.nrext64() {
            return Err(bad(
                "large extent counts on a filesystem without nrext64".into()
            ));
        }
        let (nextents, anextents) = if nrext64 {
            (be64(b, 24), u64::from(be32(b, 76)))
        } else {
            (u64::from(be32(b, 76)), u64::from(be16(b, 80)))
        };
        let nlink = if version == 1 {
            u32::from(be16(b, 6))
        } else {
            be32(b, 16)
        };

        let lit = b.len() - core_size(version);
        let forkoff = usize::from(b[82]) * 8;
        let (dsize, asize) = if forkoff != 0 {
            if forkoff >= lit {
                return Err(bad(format!(
                    "attribute fork offset {forkoff} past the inode"
                )));
            }
            (forkoff, lit - forkoff)
        } else {
            (lit, 0)
        };
        let dstart = core_size(version);
        let dfork = b[dstart..dstart + dsize].to_vec();
        let afork = b[dstart + dsize..dstart + dsize + asize].to_vec();
        let aformat = if forkoff != 0 { Some(b[83]) } else { None };

        let inode = Inode {
            ino,
            mode,
            nlink,
            uid: be32(b, 8),
            gid: be32(b, 12),
            atime: timestamp(b, 32, bigtime),
            mtime: timestamp(b, 40, bigtime),
            ctime: timestamp(b, 48, bigtime),
            size: be64(b, 56),
            nblocks: be64(b, 64),
            nextents,
            anextents,
            flags: be16(b, 90),
            format,
            aformat,
            dfork,
            afork,
        };
        let ft = inode.file_type();
        let format_ok = match ft {
            FileType::CharDevice | FileType::BlockDevice | FileType::Fifo | FileType::Socket => {
                format == FMT_DEV
            }
            FileType::Regular => matches!(format, FMT_EXTENTS | FMT_BTREE),
            FileType::Directory | FileType::Symlink => {
                matches!(format, FMT_LOCAL | FMT_EXTENTS | FMT_BTREE)
            }
            FileType::Unknown => false,
        };
        if !format_ok {
            return Err(bad(format!(
                "data fork format {format} for a file of mode {mode:o}"
            )));
        }
        if inode.size > i64::MAX as u64 {
            return Err(bad(format!("size {}", inode.size)));
        }
        if let Some(af) = aformat {
            if !matches!(af, FMT_LOCAL | FMT_EXTENTS | FMT_BTREE) {
                return Err(bad(format!("attribute fork format {af}")));
            }
        }
        Ok(inode)
    }

    /// The extents of a fork, sorted by logical offset, checked (cached for
    /// the last few inodes asked).
    pub(crate) fn extents(&self, inode: &Inode, fork: Fork) -> Result<std::rc::Rc<Vec<Extent>>> {
        let key = (inode.ino, fork == Fork::Attr);
        if let Some((_, v)) = self.extent_cache.borrow().iter().find(|(k, _)| *k == key) {
            return Ok(v.clone());
        }
        let v = std::rc::Rc::new(self.load_extents(inode, fork)?);
        let mut cache = self.extent_cache.borrow_mut();
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push((key, v.clone()));
        Ok(v)
    }

    fn load_extents(&self, inode: &Inode, fork: Fork) -> Result<Vec<Extent>> {
        let ino = inode.ino;
        let (format, data, count) = match fork {
            Fork::Data => (inode.format, &inode.dfork, inode.nextents),
            Fork::Attr => match inode.aformat {
                Some(f) => (f, &inode.afork, inode.anextents),
                None => return Ok(Vec::new()),
            },
        };
        let what = if fork == Fork::Data {
            "data"
        } else {
            "attribute"
        };
        let mut out = Vec::new();
        match format {
            FMT_EXTENTS => {
                let n = usize::try_from(count).unwrap_or(usize::MAX);
                if n.checked_mul(16).is_none_or(|len| len > data.len()) {
                    return Err(self.corrupt(format!(
                        "inode {ino}: {count} {what} extents do not fit in the inode"
                    )));
                }
                for i in 0..n {
                    out.push(bmbt_rec(&data[i * 16..]));
                }
            }
            FMT_BTREE => {
                if data.len() < 4 {
                    return Err(self.corrupt(format!(
                        "inode {ino}: {what} fork too small for a btree root"
                    )));
                }
                let level = be16(data, 0);
                let numrecs = usize::from(be16(data, 2));
                let maxrecs = (data.len() - 4) / 16;
                if level == 0 || level > BMBT_MAX_LEVELS || numrecs == 0 || numrecs > maxrecs {
                    return Err(self.corrupt(format!(
                        "inode {ino}: {what} btree root with level {level} and {numrecs} records"
                    )));
                }
                let mut visited = HashSet::new();
                for i in 0..numrecs {
                    let ptr = be64(data, 4 + maxrecs * 8 + i * 8);
                    self.walk_bmbt(ino, ptr, level - 1, &mut visited, &mut out)?;
                }
                if out.len() as u64 != count {
                    return Err(self.corrupt(format!(
                        "inode {ino}: {what} btree holds {} extents, the inode says {count}",
                        out.len()
                    )));
                }
            }
            FMT_LOCAL | FMT_DEV => return Ok(Vec::new()),
            _ => {
                return Err(self.corrupt(format!("inode {ino}: {what} fork format {format}")));
            }
        }
        let mut end = 0u64;
        for e in &out {
            if e.count == 0 || e.off < end {
                return Err(self.corrupt(format!(
                    "inode {ino}: {what} extent at offset {} (length {}) overlaps or is out of order",
                    e.off, e.count
                )));
            }
            end = e.off + e.count;
            if self.sb.fsb_to_byte(e.fsb, e.count).is_none() {
                return Err(self.corrupt(format!(
                    "inode {ino}: {what} extent at offset {} maps to block {:#x} (length {}), outside the filesystem",
                    e.off, e.fsb, e.count
                )));
            }
        }
        Ok(out)
    }

    fn walk_bmbt(
        &self,
        ino: u64,
        fsb: u64,
        level: u16,
        visited: &mut HashSet<u64>,
        out: &mut Vec<Extent>,
    ) -> Result<()> {
        if !visited.insert(fsb) {
            return Err(self.corrupt(format!(
                "inode {ino}: bmbt block {fsb:#x} is reached twice (a loop?)"
            )));
        }
        let b = self.read_fsb(fsb)?;
        let sb = &self.sb;
        let (magic, hdr) = if sb.v5 {
            (XFS_BMAP_CRC_MAGIC, 72)
        } else {
            (XFS_BMAP_MAGIC, 24)
        };
        let bad = |why: String| self.corrupt(format!("inode {ino}: bmbt block {fsb:#x}: {why}"));
        if be32(&b, 0) != magic {
            return Err(bad("bad magic".into()));
        }
        if sb.v5 {
            if !crc::verify(&b, 64) {
                return Err(bad("checksum mismatch".into()));
            }
            if be64(&b, 56) != ino {
                return Err(bad(format!("owned by inode {}", be64(&b, 56))));
            }
            if b[40..56] != sb.meta_uuid {
                return Err(bad("belongs to another filesystem (UUID)".into()));
            }
        }
        if be16(&b, 4) != level {
            return Err(bad(format!(
                "level {} where {level} was expected",
                be16(&b, 4)
            )));
        }
        let numrecs = usize::from(be16(&b, 6));
        if level == 0 {
            let max = (b.len() - hdr) / 16;
            if numrecs == 0 || numrecs > max {
                return Err(bad(format!("{numrecs} records")));
            }
            if out.len() + numrecs > MAX_EXTENTS {
                return Err(gx_disk::Error::unsupported(format!(
                    "{}: xfs: inode {ino} has more than {MAX_EXTENTS} extents",
                    self.name
                )));
            }
            for i in 0..numrecs {
                out.push(bmbt_rec(&b[hdr + i * 16..]));
            }
        } else {
            let max = (b.len() - hdr) / 16;
            if numrecs == 0 || numrecs > max {
                return Err(bad(format!("{numrecs} records")));
            }
            for i in 0..numrecs {
                let ptr = be64(&b, hdr + max * 8 + i * 8);
                self.walk_bmbt(ino, ptr, level - 1, visited, out)?;
            }
        }
        Ok(())
    }

    /// Read `buf.len()` bytes of a fork at byte `offset`, holes and unwritten
    /// extents as zeros. The caller bounds the length by the file size.
    pub(crate) fn read_fork(&self, ext: &[Extent], offset: u64, buf: &mut [u8]) -> Result<()> {
        let bs = u64::from(self.sb.blocksize);
        let mut done = 0usize;
        // The first extent that ends after `offset`.
        let lblk0 = offset >> self.sb.blocklog;
        let mut i = ext.partition_point(|e| e.off + e.count <= lblk0);
        while done < buf.len() {
            let pos = offset + done as u64;
            let lblk = pos >> self.sb.blocklog;
            while i < ext.len() && ext[i].off + ext[i].count <= lblk {
                i += 1;
            }
            let left = (buf.len() - done) as u64;
            let n = match ext.get(i) {
                Some(e) if e.off <= lblk => {
                    let within = (lblk - e.off) * bs + (pos & (bs - 1));
                    let n = (e.count * bs - within).min(left) as usize;
                    let dst = &mut buf[done..done + n];
                    if e.unwritten {
                        dst.fill(0);
                    } else {
                        let base = self.sb.fsb_to_byte(e.fsb, e.count).ok_or_else(|| {
                            self.corrupt(format!(
                                "extent at block {:#x} outside the filesystem",
                                e.fsb
                            ))
                        })?;
                        self.dev.read_at(dst, base + within)?;
                    }
                    n
                }
                next => {
                    // A hole up to the next extent, or to the end.
                    let hole_end = next.map_or(u64::MAX, |e| e.off.saturating_mul(bs));
                    let n = (hole_end - pos).min(left) as usize;
                    buf[done..done + n].fill(0);
                    n
                }
            };
            done += n;
        }
        Ok(())
    }

    /// The filesystem block at logical block `lblk` of a fork, if mapped
    /// (and written).
    pub(crate) fn map_block(ext: &[Extent], lblk: u64) -> Option<u64> {
        let i = ext.partition_point(|e| e.off + e.count <= lblk);
        let e = ext.get(i)?;
        if e.off <= lblk && !e.unwritten {
            Some(e.fsb + (lblk - e.off))
        } else {
            None
        }
    }

    /// One filesystem block.
    pub(crate) fn read_fsb(&self, fsb: u64) -> Result<Vec<u8>> {
        let byte = self
            .sb
            .fsb_to_byte(fsb, 1)
            .ok_or_else(|| self.corrupt(format!("block {fsb:#x} is outside the filesystem")))?;
        let mut b = vec![0u8; self.sb.blocksize as usize];
        self.dev.read_at(&mut b, byte)?;
        Ok(b)
    }
}

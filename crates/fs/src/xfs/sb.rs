//! The XFS superblock: parsed, checked, and turned into the geometry every
//! other part of the reader uses (block and inode addressing).
//!
//! Owns the superblock's field offsets and the rules that make its numbers
//! usable; it must not read past the sector it is given, and it refuses
//! anything it cannot read correctly (realtime-only files are refused later,
//! per inode) with an `Unsupported` error naming the feature.

use super::{be16, be32, be64, crc};
use gx_disk::{Error, Result};

pub(crate) const XFS_SB_MAGIC: u32 = 0x5846_5342;

const VERSION_NUMBITS: u16 = 0x000f;
const VERSION_ATTRBIT: u16 = 0x0010;
const VERSION_NLINKBIT: u16 = 0x0020;
const VERSION_SHAREDBIT: u16 = 0x0200;
const VERSION_EXTFLGBIT: u16 = 0x1000;
const VERSION_DIRV2BIT: u16 = 0x2000;
const VERSION_BORGBIT: u16 = 0x4000;
const VERSION_MOREBITSBIT: u16 = 0x8000;

const VERSION2_LAZYSBCOUNTBIT: u32 = 0x0002;
const VERSION2_ATTR2BIT: u32 = 0x0008;
const VERSION2_PARENTBIT: u32 = 0x0010;
const VERSION2_PROJID32BIT: u32 = 0x0080;
const VERSION2_CRCBIT: u32 = 0x0100;
const VERSION2_FTYPE: u32 = 0x0200;
const VERSION2_OKBITS: u32 = VERSION2_LAZYSBCOUNTBIT
    | VERSION2_ATTR2BIT
    | VERSION2_PROJID32BIT
    | VERSION2_FTYPE
    | 0x0001 // reserved, harmless
    | 0x0004; // reserved, harmless

const RO_COMPAT_FINOBT: u32 = 1 << 0;
const RO_COMPAT_RMAPBT: u32 = 1 << 1;
const RO_COMPAT_REFLINK: u32 = 1 << 2;
const RO_COMPAT_INOBTCNT: u32 = 1 << 3;
const RO_COMPAT_ALL: u32 =
    RO_COMPAT_FINOBT | RO_COMPAT_RMAPBT | RO_COMPAT_REFLINK | RO_COMPAT_INOBTCNT;

pub(crate) const INCOMPAT_FTYPE: u32 = 1 << 0;
const INCOMPAT_SPINODES: u32 = 1 << 1;
const INCOMPAT_META_UUID: u32 = 1 << 2;
const INCOMPAT_BIGTIME: u32 = 1 << 3;
const INCOMPAT_NEEDSREPAIR: u32 = 1 << 4;
const INCOMPAT_NREXT64: u32 = 1 << 5;
const INCOMPAT_ALL: u32 = INCOMPAT_FTYPE
    | INCOMPAT_SPINODES
    | INCOMPAT_META_UUID
    | INCOMPAT_BIGTIME
    | INCOMPAT_NEEDSREPAIR
    | INCOMPAT_NREXT64;
const LOG_INCOMPAT_XATTRS: u32 = 1 << 0;

/// Offset of sb_crc in a v5 superblock.
const SB_CRC_OFF: usize = 224;

/// The superblock fields the reader uses, checked.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub blocksize: u32,
    pub blocklog: u32,
    pub dblocks: u64,
    pub rblocks: u64,
    /// The UUID stamped into v5 metadata (sb_meta_uuid, or else sb_uuid).
    pub meta_uuid: [u8; 16],
    pub logstart: u64,
    pub rootino: u64,
    pub agblocks: u32,
    pub agcount: u32,
    pub logblocks: u32,
    pub sectsize: u32,
    pub inodesize: u32,
    pub inopblock: u32,
    pub inodelog: u32,
    pub inopblog: u32,
    pub agblklog: u32,
    pub imax_pct: u8,
    pub icount: u64,
    pub ifree: u64,
    pub fdblocks: u64,
    pub dirblklog: u32,
    pub incompat: u32,
    pub compat_ro: u32,
    /// A v5 (CRC-enabled) filesystem.
    pub v5: bool,
    /// Directory entries carry a file type byte.
    pub ftype: bool,
}

impl Superblock {
    /// Parse and check the primary superblock in `b` (one sector or more).
    pub(crate) fn parse(b: &[u8], dev_size: u64, name: &str) -> Result<Superblock> {
        let corrupt = |why: String| Error::corrupt(format!("{name}: xfs superblock: {why}"));
        let unsupported = |what: String| {
            Error::unsupported(format!(
                "{name}: xfs: {what} is not supported by the direct engine"
            ))
        };
        if b.len() < 512 || be32(b, 0) != XFS_SB_MAGIC {
            return Err(corrupt("bad magic (not an XFS filesystem)".into()));
        }
        let blocksize = be32(b, 4);
        let blocklog = u32::from(b[120]);
        let sectsize = u32::from(be16(b, 102));
        let sectlog = u32::from(b[121]);
        let inodesize = u32::from(be16(b, 104));
        let inopblock = u32::from(be16(b, 106));
        let inodelog = u32::from(b[122]);
        let inopblog = u32::from(b[123]);
        let agblklog = u32::from(b[124]);
        let versionnum = be16(b, 100);
        let features2 = be32(b, 200);
        let version = versionnum & VERSION_NUMBITS;
        let v5 = version == 5;

        if !(9..=16).contains(&blocklog) || blocksize != 1 << blocklog {
            return Err(corrupt(format!("block size {blocksize} (log {blocklog})")));
        }
        if !(9..=15).contains(&sectlog) || sectsize != 1 << sectlog || sectsize > blocksize {
            return Err(corrupt(format!("sector size {sectsize} (log {sectlog})")));
        }
        if !(8..=11).contains(&inodelog)
            || inodesize != 1 << inodelog
            || inodesize > blocksize
            || (v5 && inodesize < 512)
        {
            return Err(corrupt(format!("inode size {inodesize} (log {inodelog})")));
        }
        if inopblog != blocklog - inodelog || inopblock != 1 << inopblog {
            return Err(corrupt(format!(
                "{inopblock} inodes per block (log {inopblog}) with {blocksize}-byte blocks"
            )));
        }

        if v5 {
            let sect = b
                .get(..sectsize as usize)
                .ok_or_else(|| corrupt("short superblock sector".into()))?;
            if !crc::verify(sect, SB_CRC_OFF) {
                return Err(corrupt("checksum mismatch".into()));
            }
        } else if version != 4 {
            return Err(unsupported(format!("superblock version {version}")));
        }
        // The kernel's xfs_sb_good_version, in our words.
        if versionnum & VERSION_SHAREDBIT != 0 {
            return Err(unsupported("the shared superblock bit".into()));
        }
        let ok2 = VERSION2_OKBITS | if v5 { VERSION2_CRCBIT } else { 0 };
        if versionnum & VERSION_MOREBITSBIT != 0 && features2 & !ok2 != 0 {
            if features2 & VERSION2_PARENTBIT != 0 {
                return Err(unsupported("parent pointers".into()));
            }
            return Err(unsupported(format!(
                "features2 bits {:#x}",
                features2 & !ok2
            )));
        }
        if versionnum & VERSION_DIRV2BIT == 0 {
            return Err(unsupported("version 1 directories".into()));
        }
        if !v5 && versionnum & VERSION_EXTFLGBIT == 0 {
            return Err(unsupported(
                "a v4 filesystem without unwritten extent flags".into(),
            ));
        }
        if versionnum & VERSION_BORGBIT != 0 {
            return Err(unsupported(
                "ASCII case-insensitive names (version=ci)".into(),
            ));
        }
        let _ = VERSION_ATTRBIT;

        let (compat_ro, incompat, log_incompat) = if v5 {
            (be32(b, 212), be32(b, 216), be32(b, 220))
        } else {
            (0, 0, 0)
        };
        if incompat & !INCOMPAT_ALL != 0 {
            return Err(unsupported(format!(
                "incompatible feature bits {:#x}",
                incompat & !INCOMPAT_ALL
            )));
        }
        if incompat & INCOMPAT_NEEDSREPAIR != 0 {
            return Err(Error::corrupt(format!(
                "{name}: xfs: the filesystem is marked as needing xfs_repair"
            )));
        }
        // Read-only use does not care about ro-compat features; the kernel
        // mounts unknown ones read-only too.
        let _ = (compat_ro, RO_COMPAT_ALL);
        // Logged xattr intents only matter to log recovery, which we refuse
        // anyway when the log is dirty.
        let _ = (log_incompat, LOG_INCOMPAT_XATTRS);
        if b[126] != 0 {
            return Err(corrupt("mkfs did not finish (sb_inprogress)".into()));
        }

        let dblocks = be64(b, 8);
        let rblocks = be64(b, 16);
        let agblocks = be32(b, 84);
        let agcount = be32(b, 88);
        let logstart = be64(b, 48);
        let logblocks = be32(b, 96);
        let dirblklog = u32::from(b[192]);

        // XFS_MIN_AG_BLOCKS is 64; an AG is at most 2^31 blocks (1 TiB min).
        if agblocks < 64 || agcount == 0 || agblklog > 31 {
            return Err(corrupt(format!("{agcount} AGs of {agblocks} blocks")));
        }
        if agblocks > 1 << agblklog || (agblklog > 0 && agblocks <= 1 << (agblklog - 1)) {
            return Err(corrupt(format!(
                "AG size {agblocks} does not match its log {agblklog}"
            )));
        }
        let full = u64::from(agcount - 1) * u64::from(agblocks);
        if dblocks <= full || dblocks > full + u64::from(agblocks) {
            return Err(corrupt(format!(
                "{dblocks} data blocks in {agcount} AGs of {agblocks} blocks"
            )));
        }
        let bytes = dblocks
            .checked_mul(u64::from(blocksize))
            .ok_or_else(|| corrupt(format!("{dblocks} blocks overflow")))?;
        if bytes > dev_size {
            return Err(corrupt(format!(
                "filesystem is {bytes} bytes ({dblocks} blocks) but the device is only {dev_size} bytes (truncated image?)"
            )));
        }
        if agblklog + inopblog > 56 {
            return Err(corrupt("inode numbers would not fit in 64 bits".into()));
        }
        if blocklog + dirblklog > 16 {
            return Err(corrupt(format!("directory block log {dirblklog}")));
        }
        if b[127] > 100 {
            return Err(corrupt(format!("imax_pct {}", b[127])));
        }

        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[32..48]);
        let mut meta_uuid = uuid;
        if incompat & INCOMPAT_META_UUID != 0 {
            meta_uuid.copy_from_slice(&b[248..264]);
        }
        let ftype = if v5 {
            incompat & INCOMPAT_FTYPE != 0
        } else {
            versionnum & VERSION_MOREBITSBIT != 0 && features2 & VERSION2_FTYPE != 0
        };
        let sb = Superblock {
            blocksize,
            blocklog,
            dblocks,
            rblocks,
            meta_uuid,
            logstart,
            rootino: be64(b, 56),
            agblocks,
            agcount,
            logblocks,
            sectsize,
            inodesize,
            inopblock,
            inodelog,
            inopblog,
            agblklog,
            imax_pct: b[127],
            icount: be64(b, 128),
            ifree: be64(b, 136),
            fdblocks: be64(b, 144),
            dirblklog,
            incompat,
            compat_ro,
            v5,
            ftype,
        };
        let _ = VERSION_NLINKBIT;
        Ok(sb)
    }

    pub(crate) fn bigtime(&self) -> bool {
        self.incompat & INCOMPAT_BIGTIME != 0
    }

    pub(crate) fn nrext64(&self) -> bool {
        self.incompat & INCOMPAT_NREXT64 != 0
    }

    pub(crate) fn rmapbt(&self) -> bool {
        self.compat_ro & RO_COMPAT_RMAPBT != 0
    }

    /// Blocks in AG `agno` (the last one may be short).
    pub(crate) fn ag_len(&self, agno: u32) -> u64 {
        if agno + 1 == self.agcount {
            self.dblocks - u64::from(agno) * u64::from(self.agblocks)
        } else {
            u64::from(self.agblocks)
        }
    }

    /// Byte offset of filesystem block `fsb` (AG number and AG block packed
    /// as XFS_FSB_TO_DADDR unpacks them), checked to lie in the filesystem
    /// with `count` blocks from there in the same AG.
    pub(crate) fn fsb_to_byte(&self, fsb: u64, count: u64) -> Option<u64> {
        let agno = fsb >> self.agblklog;
        let agbno = fsb & ((1u64 << self.agblklog) - 1);
        if agno >= u64::from(self.agcount) {
            return None;
        }
        let agno = agno as u32;
        if agbno.checked_add(count)? > self.ag_len(agno) {
            return None;
        }
        let linear = u64::from(agno) * u64::from(self.agblocks) + agbno;
        Some(linear << self.blocklog)
    }

    /// Byte offset of inode `ino`, or `None` if the number points outside
    /// the filesystem.
    pub(crate) fn ino_to_byte(&self, ino: u64) -> Option<u64> {
        let shift = self.agblklog + self.inopblog;
        let agno = ino >> shift;
        let agbno = (ino >> self.inopblog) & ((1u64 << self.agblklog) - 1);
        let offset = ino & ((1u64 << self.inopblog) - 1);
        if agno >= u64::from(self.agcount) || agbno >= self.ag_len(agno as u32) {
            return None;
        }
        let fsb = (agno << self.agblklog) | agbno;
        Some(self.fsb_to_byte(fsb, 1)? + (offset << self.inodelog))
    }

    /// Directory block size in bytes.
    pub(crate) fn dirblksize(&self) -> usize {
        1usize << (self.blocklog + self.dirblklog)
    }
}

//! ext2, ext3 and ext4, read-only.
//!
//! ext4-view validates the filesystem when it is opened (feature checks,
//! superblock and group descriptor checksums, the journal superblock) and
//! reads symlink targets. It exposes no inode numbers, link counts, block
//! counts, device numbers, change times or free counts, so this module parses
//! the superblock, group descriptors, inodes, directory blocks and block maps
//! itself. Path lookup is ours (a linear scan of directory blocks sees every
//! entry, htree or not), and so is reading file data: ext4-view's `File`
//! mishandles holes in block-mapped (ext2/ext3) files, see `read_data`.
//!
//! This module must not write (it only calls `read_at`), trust an on-disk
//! number before checking it, or read a filesystem whose journal still holds
//! unreplayed transactions as it is: our metadata reads would see stale
//! blocks. Such a journal (a crashed or running guest) is replayed in memory
//! first ([`crate::jbd2`]), and reads go through the replay.

use crate::{DirEntry, FileType, Filesystem, Stat, StatVfs, Timespec};
use gx_disk::bytes::{be32, le16, le32};
use gx_disk::{Device, Error, ErrorKind, Result};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

const SUPERBLOCK_OFFSET: u64 = 1024;
const SUPERBLOCK_SIZE: usize = 1024;
const EXT4_MAGIC: u16 = 0xef53;
const ROOT_INO: u32 = 2;
const GOOD_OLD_INODE_SIZE: usize = 128;
const NAME_MAX: u64 = 255;

const COMPAT_HAS_JOURNAL: u32 = 0x4;
const COMPAT_SPARSE_SUPER2: u32 = 0x200;

const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_RECOVER: u32 = 0x4;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_EXTENTS: u32 = 0x40;
const INCOMPAT_64BIT: u32 = 0x80;
/// Incompatible features we refuse, with the names mke2fs gives them. ext4-view
/// refuses the same set; naming them here gives the Handle a clear reason.
const INCOMPAT_UNSUPPORTED: &[(u32, &str)] = &[
    (0x1, "compression"),
    (0x8, "journal_dev"),
    (INCOMPAT_META_BG, "meta_bg"),
    (0x100, "mmp"),
    (0x400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x20000, "casefold"),
];
/// Every incompatible bit we know (the ones above plus those we read).
const INCOMPAT_KNOWN: u32 = 0x1
    | INCOMPAT_FILETYPE
    | INCOMPAT_RECOVER
    | 0x8
    | INCOMPAT_META_BG
    | INCOMPAT_EXTENTS
    | INCOMPAT_64BIT
    | 0x100
    | 0x200 // flex_bg
    | 0x400
    | 0x1000
    | 0x2000 // metadata_csum_seed
    | 0x4000
    | 0x8000
    | 0x10000 // encrypt
    | 0x20000;

const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
const RO_COMPAT_HUGE_FILE: u32 = 0x8;
const RO_COMPAT_BIGALLOC: u32 = 0x200;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;

const INODE_FLAG_ENCRYPT: u32 = 0x800;
const INODE_FLAG_HUGE_FILE: u32 = 0x40000;
const INODE_FLAG_EXTENTS: u32 = 0x80000;
const INODE_FLAG_INLINE_DATA: u32 = 0x1000_0000;

const EXTENT_MAGIC: u16 = 0xf30a;
/// The kernel's limit on extent tree depth (EXT4_MAX_EXTENT_DEPTH).
const EXTENT_MAX_DEPTH: u16 = 5;

const JBD2_MAGIC: u32 = 0xc03b_3998;

/// Directories cached for lookups, and the largest one worth caching:
/// `ll` of a directory looks up every entry in it, which without a cache reads
/// the whole directory once per entry.
const DIR_CACHE_DIRS: usize = 8;
const DIR_CACHE_MAX_ENTRIES: usize = 200_000;
/// Metadata blocks (extent nodes, indirect blocks) kept for block mapping.
const META_CACHE_BLOCKS: usize = 16;
/// The most block groups read (2^20: 128 TiB with 4 KiB blocks). Each costs
/// a descriptor here and another in ext4-view, both loaded at open; a larger
/// filesystem is `Unsupported` (the appliance reads it), so a superblock
/// claiming billions of groups costs nothing.
const MAX_GROUPS: u64 = 1 << 20;
/// The longest journal replayed in memory, in blocks. mke2fs and tune2fs
/// make journals of at most 10,240,000 blocks.
const MAX_JOURNAL_BLOCKS: u64 = 1 << 24;
/// The most extents (runs of contiguous blocks) a journal may have: mke2fs
/// writes it contiguous, so more is damage or a crafted image.
const MAX_JOURNAL_RUNS: usize = 1 << 16;
/// The most entries read from one directory (about 100 MB of names at most);
/// libguestfs's own protocol cannot return a listing this large either.
const MAX_DIR_ENTRIES: usize = 1 << 20;
/// The largest directory read, in blocks (4 GiB of 4 KiB blocks: more than
/// an htree directory without large_dir can hold).
const MAX_DIR_BLOCKS: u64 = 1 << 20;

fn hilo(hi: u32, lo: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The superblock fields this module uses, checked for sanity.
#[derive(Debug, Clone)]
struct Superblock {
    inodes_count: u32,
    blocks_count: u64,
    r_blocks_count: u64,
    first_data_block: u32,
    block_size: u32,
    /// Blocks per cluster (1 without bigalloc).
    cluster_ratio: u64,
    inodes_per_group: u32,
    inode_size: u32,
    feature_compat: u32,
    feature_incompat: u32,
    feature_ro_compat: u32,
    uuid: [u8; 16],
    journal_inum: u32,
    reserved_gdt_blocks: u16,
    desc_size: u32,
    backup_bgs: [u32; 2],
    overhead_clusters: u32,
    group_count: u32,
    /// Blocks holding the group descriptor table.
    gdt_blocks: u64,
}

impl Superblock {
    fn parse(b: &[u8], dev_size: u64, name: &str) -> Result<Superblock> {
        let corrupt = |why: String| Error::corrupt(format!("{name}: ext4 superblock: {why}"));
        if le16(b, 0x38)? != EXT4_MAGIC {
            return Err(corrupt("bad magic (not an ext2/3/4 filesystem)".into()));
        }
        let feature_compat = le32(b, 0x5c)?;
        let feature_incompat = le32(b, 0x60)?;
        let feature_ro_compat = le32(b, 0x64)?;
        let is_64bit = feature_incompat & INCOMPAT_64BIT != 0;

        let log_block_size = le32(b, 0x18)?;
        if log_block_size > 6 {
            return Err(corrupt(format!(
                "block size 2^(10+{log_block_size}) is invalid"
            )));
        }
        let block_size = 1024u32 << log_block_size;
        let cluster_ratio = if feature_ro_compat & RO_COMPAT_BIGALLOC != 0 {
            let log_cluster = le32(b, 0x1c)?;
            if log_cluster < log_block_size || log_cluster > 29 {
                return Err(corrupt(format!(
                    "cluster size 2^(10+{log_cluster}) is invalid"
                )));
            }
            1u64 << (log_cluster - log_block_size)
        } else {
            1
        };

        let hi = |off: usize| -> Result<u32> { Ok(if is_64bit { le32(b, off)? } else { 0 }) };
        let blocks_count = hilo(hi(0x150)?, le32(b, 0x4)?);
        let r_blocks_count = hilo(hi(0x154)?, le32(b, 0x8)?);
        let first_data_block = le32(b, 0x14)?;
        let blocks_per_group = le32(b, 0x20)?;
        let inodes_per_group = le32(b, 0x28)?;
        let inodes_count = le32(b, 0x0)?;
        let rev_level = le32(b, 0x4c)?;
        let inode_size = if rev_level == 0 {
            GOOD_OLD_INODE_SIZE as u32
        } else {
            u32::from(le16(b, 0x58)?)
        };

        if blocks_count == 0 || u64::from(first_data_block) >= blocks_count {
            return Err(corrupt(format!(
                "block count {blocks_count} with first data block {first_data_block}"
            )));
        }
        let fs_bytes = blocks_count
            .checked_mul(u64::from(block_size))
            .ok_or_else(|| corrupt(format!("block count {blocks_count} overflows")))?;
        if fs_bytes > dev_size {
            return Err(corrupt(format!(
                "filesystem is {fs_bytes} bytes ({blocks_count} blocks) but the device is only {dev_size} bytes (truncated image?)"
            )));
        }
        if blocks_per_group == 0
            || u64::from(blocks_per_group) > 8 * u64::from(block_size) * cluster_ratio
        {
            return Err(corrupt(format!("{blocks_per_group} blocks per group")));
        }
        if inode_size < GOOD_OLD_INODE_SIZE as u32
            || inode_size > block_size
            || !inode_size.is_power_of_two()
        {
            return Err(corrupt(format!("inode size {inode_size}")));
        }
        if inodes_per_group == 0 || inodes_per_group > 8 * block_size {
            return Err(corrupt(format!("{inodes_per_group} inodes per group")));
        }
        let desc_size = if is_64bit {
            let d = u32::from(le16(b, 0xfe)?);
            if d < 64 || d > block_size || !d.is_power_of_two() {
                return Err(corrupt(format!("group descriptor size {d}")));
            }
            d
        } else {
            32
        };

        let data_blocks = blocks_count - u64::from(first_data_block);
        let group_count = data_blocks.div_ceil(u64::from(blocks_per_group));
        // The kernel refuses a superblock whose inode count is not exactly
        // one inode table per group (ext4_check_geometry); checking it before
        // anything is sized by the group count also ties that count to a
        // 32-bit field.
        if group_count * u64::from(inodes_per_group) != u64::from(inodes_count) {
            return Err(corrupt(format!(
                "s_inodes_count {inodes_count} is not {group_count} groups \
                 (s_blocks_count {blocks_count} / s_blocks_per_group {blocks_per_group}) \
                 of s_inodes_per_group {inodes_per_group}"
            )));
        }
        if group_count > MAX_GROUPS {
            return Err(Error::unsupported(format!(
                "{name}: ext4 with {group_count} block groups (s_blocks_count {blocks_count} / \
                 s_blocks_per_group {blocks_per_group}) is more than the direct engine reads \
                 ({MAX_GROUPS})"
            )));
        }
        let group_count = group_count as u32;
        let gdt_blocks =
            (u64::from(group_count) * u64::from(desc_size)).div_ceil(u64::from(block_size));
        // Without meta_bg (refused below) the whole descriptor table follows
        // the superblock inside group 0, and a copy of it inside each backup
        // group: mke2fs never makes one that does not fit.
        if gdt_blocks + 1 > u64::from(blocks_per_group) {
            return Err(corrupt(format!(
                "group descriptor table of {gdt_blocks} blocks ({group_count} groups of \
                 s_desc_size {desc_size}) does not fit in a group of s_blocks_per_group \
                 {blocks_per_group}"
            )));
        }

        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&b[0x68..0x78]);
        Ok(Superblock {
            inodes_count,
            blocks_count,
            r_blocks_count,
            first_data_block,
            block_size,
            cluster_ratio,
            inodes_per_group,
            inode_size,
            feature_compat,
            feature_incompat,
            feature_ro_compat,
            uuid,
            journal_inum: if feature_compat & COMPAT_HAS_JOURNAL != 0 {
                le32(b, 0xe0)?
            } else {
                0
            },
            reserved_gdt_blocks: le16(b, 0xce)?,
            desc_size,
            backup_bgs: [le32(b, 0x24c)?, le32(b, 0x250)?],
            overhead_clusters: le32(b, 0x248)?,
            group_count,
            gdt_blocks,
        })
    }

    /// The type blkid reports: ext4 when any feature beyond ext3 is on.
    fn fs_type(&self) -> &'static str {
        const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4;
        const EXT3_INCOMPAT: u32 = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG;
        if self.feature_ro_compat & !EXT3_RO_COMPAT != 0
            || self.feature_incompat & !EXT3_INCOMPAT != 0
        {
            "ext4"
        } else if self.feature_compat & COMPAT_HAS_JOURNAL != 0 {
            "ext3"
        } else {
            "ext2"
        }
    }

    /// Whether group `g` holds a superblock backup (the kernel's ext4_bg_has_super).
    fn group_has_super(&self, g: u32) -> bool {
        if g == 0 {
            return true;
        }
        if self.feature_compat & COMPAT_SPARSE_SUPER2 != 0 {
            return g == self.backup_bgs[0] || g == self.backup_bgs[1];
        }
        if g <= 1 || self.feature_ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        if g % 2 == 0 {
            return false;
        }
        [3u32, 5, 7].iter().any(|&base| is_power_of(g, base))
    }
}

fn is_power_of(mut n: u32, base: u32) -> bool {
    while n % base == 0 {
        n /= base;
    }
    n == 1
}

/// What we keep of a group descriptor.
#[derive(Debug, Clone, Copy)]
struct Group {
    inode_table: u64,
    free_clusters: u64,
    free_inodes: u64,
}

/// An inode, decoded.
#[derive(Debug, Clone)]
struct Inode {
    ino: u32,
    mode: u16,
    uid: u32,
    gid: u32,
    size: u64,
    links: u16,
    /// Allocated space in 512-byte units.
    blocks: u64,
    flags: u32,
    i_block: [u8; 60],
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

impl Inode {
    fn file_type(&self) -> FileType {
        FileType::from_mode(u32::from(self.mode))
    }
}

/// One directory entry as stored, name in raw bytes.
#[derive(Debug, Clone)]
struct RawEntry {
    name: Vec<u8>,
    ino: u32,
    file_type: u8,
}

/// A directory's names and the inodes they name.
type DirMap = HashMap<Vec<u8>, u32>;

/// Lets ext4-view read through a [`gx_disk::Device`], which it must own.
struct DevReader(Device);

impl ext4_view::Ext4Read for DevReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .read_at(dst, start_byte)
            .map_err(|e| Box::new(e) as _)
    }
}

/// An ext2/ext3/ext4 filesystem, opened read-only.
pub struct Ext4Fs {
    dev: Device,
    name: String,
    sb: Superblock,
    groups: Vec<Group>,
    /// None only while the journal is looked at during open.
    view: Option<ext4_view::Ext4>,
    /// The file last read by `read_at`, so streaming a file in chunks does
    /// not resolve its path every call.
    open_file: RefCell<Option<(String, Inode)>>,
    /// Recently looked-up directories: (inode, name -> inode).
    dir_cache: RefCell<Vec<(u32, DirMap)>>,
    meta_cache: RefCell<Vec<(u64, Rc<Vec<u8>>)>>,
}

impl std::fmt::Debug for Ext4Fs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ext4Fs({}, {})", self.name, self.sb.fs_type())
    }
}

/// Convert an ext4-view error, keeping our device errors' kinds.
fn view_error(e: ext4_view::Ext4Error, ctx: &str) -> Error {
    use ext4_view::Ext4Error as E;
    let kind = match &e {
        E::NotFound => ErrorKind::NotFound,
        E::Incompatible(_) | E::Encrypted => ErrorKind::Unsupported,
        E::Corrupt(_) | E::TooManySymlinks | E::PathTooLong => ErrorKind::Corrupt,
        E::Io(inner) => match inner.downcast_ref::<Error>() {
            Some(ours) => ours.kind(),
            None => ErrorKind::Io,
        },
        _ => ErrorKind::InvalidArgument,
    };
    Error::new(kind, format!("{ctx}: {e}"))
}

impl Ext4Fs {
    /// Open `dev` as ext2/3/4. Refuses features we cannot read with
    /// [`ErrorKind::Unsupported`]. A journal that needs recovery (a crashed
    /// or running guest) is replayed in memory first ([`crate::jbd2`]): reads
    /// then see what the kernel would see after mounting, and the image is
    /// not written.
    pub fn open(dev: Device) -> Result<Ext4Fs> {
        Self::open_inner(dev, false)
    }

    /// `replayed`: `dev` already reads through the journal's replay.
    fn open_inner(dev: Device, replayed: bool) -> Result<Ext4Fs> {
        let name = dev.describe();
        let mut raw = vec![0u8; SUPERBLOCK_SIZE];
        dev.read_at(&mut raw, SUPERBLOCK_OFFSET)
            .map_err(|e| e.context(format!("{name}: reading the ext4 superblock")))?;
        let sb = Superblock::parse(&raw, dev.size(), &name)?;

        let incompat = sb.feature_incompat;
        let mut refused: Vec<String> = INCOMPAT_UNSUPPORTED
            .iter()
            .filter(|(bit, _)| incompat & bit != 0)
            .map(|(_, n)| (*n).to_string())
            .collect();
        let unknown = incompat & !INCOMPAT_KNOWN;
        if unknown != 0 {
            refused.push(format!("unknown incompat bits {unknown:#x}"));
        }
        if !refused.is_empty() {
            return Err(Error::unsupported(format!(
                "{name}: {} feature not supported by the direct engine: {}",
                sb.fs_type(),
                refused.join(", ")
            )));
        }
        if incompat & INCOMPAT_FILETYPE == 0 {
            return Err(Error::unsupported(format!(
                "{name}: {} without the filetype feature is not supported by the direct engine",
                sb.fs_type()
            )));
        }
        let groups = read_groups(&dev, &sb, &name)?;
        let mut fs = Ext4Fs {
            dev,
            name,
            sb,
            groups,
            view: None,
            open_file: RefCell::new(None),
            dir_cache: RefCell::new(Vec::new()),
            meta_cache: RefCell::new(Vec::new()),
        };
        if !replayed {
            let log_start = fs.journal_superblock()?.map_or(0, |j| j.start);
            // The kernel replays a journal whose log is not empty even
            // without the superblock's recover flag.
            if incompat & INCOMPAT_RECOVER != 0 || log_start != 0 {
                let map = fs.replay_journal()?;
                let mut replayed = crate::jbd2::Replayed {
                    base: fs.dev.clone(),
                    block_size: u64::from(fs.sb.block_size),
                    map,
                    superblock: None,
                };
                // The replayed superblock, marked recovered: what the kernel
                // writes after its replay. (ext4-view would otherwise replay
                // again, and it only knows checksummed journals.)
                let mut sb = vec![0u8; SUPERBLOCK_SIZE];
                gx_disk::BlockDevice::read_at(&replayed, &mut sb, SUPERBLOCK_OFFSET)?;
                let inc = le32(&sb, 0x60)? & !INCOMPAT_RECOVER;
                sb[0x60..0x64].copy_from_slice(&inc.to_le_bytes());
                if le32(&sb, 0x64)? & RO_COMPAT_METADATA_CSUM != 0 {
                    let c = crate::jbd2::crc32c_le(!0, &sb[..0x3fc]);
                    sb[0x3fc..0x400].copy_from_slice(&c.to_le_bytes());
                }
                replayed.superblock = Some(sb);
                return Self::open_inner(std::sync::Arc::new(replayed), true);
            }
        }

        // ext4-view checks what we do not (checksums, journal superblock);
        // load it before trusting anything else. (It replays the journal in
        // memory too, so on a replayed device it sees what we see.)
        let view = ext4_view::Ext4::load(Box::new(DevReader(fs.dev.clone())))
            .map_err(|e| view_error(e, &format!("{}: {}", fs.name, fs.sb.fs_type())))?;
        fs.view = Some(view);
        let root = fs.read_inode(ROOT_INO)?;
        if root.file_type() != FileType::Directory {
            return Err(fs.corrupt(format!(
                "root inode is not a directory (mode {:o})",
                root.mode
            )));
        }
        Ok(fs)
    }

    /// What replaying the internal journal would write (see [`crate::jbd2`]).
    fn replay_journal(&self) -> Result<crate::jbd2::ReplayMap> {
        if self.sb.journal_inum == 0 {
            return Err(Error::unsupported(format!(
                "{}: {}: journal needs recovery, and it is on an external device",
                self.name,
                self.sb.fs_type()
            )));
        }
        let j = self.read_inode(self.sb.journal_inum)?;
        let blocks = j.size / u64::from(self.sb.block_size);
        // A journal is at most 2^32 blocks (jbd2 block numbers are 32-bit)
        // and never larger than the filesystem.
        if blocks > self.sb.blocks_count || blocks > u64::from(u32::MAX) {
            return Err(self.corrupt(format!(
                "journal inode {} claims {blocks} blocks (i_size {})",
                self.sb.journal_inum, j.size
            )));
        }
        if blocks > MAX_JOURNAL_BLOCKS {
            return Err(Error::unsupported(format!(
                "{}: {}: replaying a journal of {blocks} blocks (i_size of inode {}) is more \
                 than the direct engine does ({MAX_JOURNAL_BLOCKS})",
                self.name,
                self.sb.fs_type(),
                self.sb.journal_inum
            )));
        }
        let mut jmap = crate::jbd2::JournalMap::default();
        while jmap.len() < blocks {
            let lblk = jmap.len();
            let (phys, run) = self.map_run(&j, lblk)?;
            let Some(p) = phys else {
                return Err(self.corrupt(format!("journal block {lblk} is a hole")));
            };
            jmap.push_run(p, run.min(blocks - lblk));
            if jmap.runs() > MAX_JOURNAL_RUNS {
                return Err(Error::unsupported(format!(
                    "{}: {}: the journal is in more than {MAX_JOURNAL_RUNS} pieces",
                    self.name,
                    self.sb.fs_type()
                )));
            }
        }
        crate::jbd2::replay(
            &jmap,
            self.sb.block_size,
            self.sb.blocks_count,
            &|b| self.read_block(b),
            &format!("{}: {}", self.name, self.sb.fs_type()),
        )
    }

    fn corrupt(&self, why: impl std::fmt::Display) -> Error {
        Error::corrupt(format!("{}: {}: {why}", self.name, self.sb.fs_type()))
    }

    fn block_offset(&self, block: u64) -> Result<u64> {
        if block >= self.sb.blocks_count {
            return Err(self.corrupt(format!(
                "block {block} is past the end of the filesystem ({} blocks)",
                self.sb.blocks_count
            )));
        }
        Ok(block * u64::from(self.sb.block_size))
    }

    fn read_block(&self, block: u64) -> Result<Vec<u8>> {
        let off = self.block_offset(block)?;
        let mut buf = vec![0u8; self.sb.block_size as usize];
        self.dev.read_at(&mut buf, off)?;
        Ok(buf)
    }

    /// Read a metadata block through a small cache.
    fn read_meta_block(&self, block: u64) -> Result<Rc<Vec<u8>>> {
        if let Some((_, data)) = self.meta_cache.borrow().iter().find(|(b, _)| *b == block) {
            return Ok(data.clone());
        }
        let data = Rc::new(self.read_block(block)?);
        let mut cache = self.meta_cache.borrow_mut();
        if cache.len() >= META_CACHE_BLOCKS {
            cache.remove(0);
        }
        cache.push((block, data.clone()));
        Ok(data)
    }

    fn read_inode(&self, ino: u32) -> Result<Inode> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(self.corrupt(format!(
                "inode number {ino} is out of range (1..={})",
                self.sb.inodes_count
            )));
        }
        let index = ino - 1;
        let group = *self
            .groups
            .get((index / self.sb.inodes_per_group) as usize)
            .ok_or_else(|| self.corrupt(format!("inode {ino} is in no block group")))?;
        let within = u64::from(index % self.sb.inodes_per_group);
        let table_blocks = (u64::from(self.sb.inodes_per_group) * u64::from(self.sb.inode_size))
            .div_ceil(u64::from(self.sb.block_size));
        let table_end = group.inode_table.checked_add(table_blocks);
        if table_end.is_none_or(|end| end > self.sb.blocks_count) {
            return Err(self.corrupt(format!(
                "inode table at block {} for inode {ino} is past the end of the filesystem",
                group.inode_table
            )));
        }
        let off = self.block_offset(group.inode_table)? + within * u64::from(self.sb.inode_size);
        let mut b = vec![0u8; self.sb.inode_size as usize];
        self.dev.read_at(&mut b, off)?;
        self.decode_inode(ino, &b)
    }

    fn decode_inode(&self, ino: u32, b: &[u8]) -> Result<Inode> {
        let extra_isize = if b.len() > GOOD_OLD_INODE_SIZE {
            let e = usize::from(le16(b, 0x80)?);
            if GOOD_OLD_INODE_SIZE + e > b.len() || e % 4 != 0 {
                return Err(self.corrupt(format!("inode {ino}: extra inode size {e} is invalid")));
            }
            e
        } else {
            0
        };
        // A field past the old 128 bytes exists only when i_extra_isize covers it.
        let extra = |off: usize| {
            if off + 4 <= GOOD_OLD_INODE_SIZE + extra_isize {
                le32(b, off).ok()
            } else {
                None
            }
        };
        let time = |base: usize, extra_off: usize| -> Result<Timespec> {
            let mut sec = i64::from(le32(b, base)? as i32);
            let mut nsec = 0;
            if let Some(x) = extra(extra_off) {
                // Low two bits extend the signed 32-bit seconds past 2038.
                sec += i64::from(x & 3) << 32;
                nsec = i64::from(x >> 2);
            }
            Ok(Timespec { sec, nsec })
        };
        let mode = le16(b, 0x0)?;
        let flags = le32(b, 0x20)?;
        let size_lo = le32(b, 0x4)?;
        let size_hi = le32(b, 0x6c)?;
        let is_reg = FileType::from_mode(u32::from(mode)) == FileType::Regular;
        let size = if is_reg {
            hilo(size_hi, size_lo)
        } else {
            u64::from(size_lo)
        };
        let blocks_lo = le32(b, 0x1c)?;
        let blocks = if self.sb.feature_ro_compat & RO_COMPAT_HUGE_FILE != 0 {
            let raw = hilo(u32::from(le16(b, 0x74)?), blocks_lo);
            if flags & INODE_FLAG_HUGE_FILE != 0 {
                raw.saturating_mul(u64::from(self.sb.block_size / 512))
            } else {
                raw
            }
        } else {
            u64::from(blocks_lo)
        };
        let mut i_block = [0u8; 60];
        i_block.copy_from_slice(&b[0x28..0x28 + 60]);
        Ok(Inode {
            ino,
            mode,
            uid: u32::from(le16(b, 0x2)?) | (u32::from(le16(b, 0x78)?) << 16),
            gid: u32::from(le16(b, 0x18)?) | (u32::from(le16(b, 0x7a)?) << 16),
            size,
            links: le16(b, 0x1a)?,
            blocks,
            flags,
            i_block,
            atime: time(0x8, 0x8c)?,
            ctime: time(0xc, 0x84)?,
            mtime: time(0x10, 0x88)?,
        })
    }

    /// Physical block of logical block `lblk`, or `None` for a hole (or an
    /// unwritten extent, which reads as zeros).
    fn map_block(&self, inode: &Inode, lblk: u64) -> Result<Option<u64>> {
        Ok(self.map_run(inode, lblk)?.0)
    }

    /// Where logical block `lblk` is, and for how many blocks from there the
    /// mapping goes on the same way (physically contiguous, or hole): at
    /// least 1.
    fn map_run(&self, inode: &Inode, lblk: u64) -> Result<(Option<u64>, u64)> {
        if inode.flags & INODE_FLAG_INLINE_DATA != 0 {
            return Err(Error::unsupported(format!(
                "{}: inode {}: inline_data is not supported by the direct engine",
                self.name, inode.ino
            )));
        }
        let (phys, run) = if inode.flags & INODE_FLAG_EXTENTS != 0 {
            self.map_extent(inode, lblk)?
        } else {
            (self.map_indirect(inode, lblk)?, 1)
        };
        if let Some(p) = phys {
            let last = p.checked_add(run - 1);
            if p < u64::from(self.sb.first_data_block)
                || last.is_none_or(|l| l >= self.sb.blocks_count)
            {
                return Err(self.corrupt(format!(
                    "inode {}: logical block {lblk} maps to block {p} (run of {run}), outside the filesystem",
                    inode.ino
                )));
            }
        }
        Ok((phys, run))
    }

    fn map_extent(&self, inode: &Inode, lblk: u64) -> Result<(Option<u64>, u64)> {
        // Extents address 2^32 logical blocks; past that is all hole.
        let Ok(lblk) = u32::try_from(lblk) else {
            return Ok((None, 1));
        };
        let ino = inode.ino;
        let mut node: Rc<Vec<u8>> = Rc::new(inode.i_block.to_vec());
        let mut node_block: Option<u64> = None;
        let mut expect_depth: Option<u16> = None;
        // Where the subtree we are in ends: the next index entry's first
        // block. A hole at the end of one leaf stops there, not at the
        // next extent of the same leaf (the next leaf holds the data).
        let mut subtree_end = u64::from(u32::MAX) + 1;
        // Each level's depth is one less than its parent's, so this ends.
        loop {
            let at = match node_block {
                Some(b) => format!("extent block {b}"),
                None => "extent root".to_string(),
            };
            if le16(&node, 0)? != EXTENT_MAGIC {
                return Err(self.corrupt(format!("inode {ino}: {at}: bad magic")));
            }
            let entries = usize::from(le16(&node, 2)?);
            let max = usize::from(le16(&node, 4)?);
            let depth = le16(&node, 6)?;
            if entries > max || 12 + 12 * max > node.len() {
                return Err(self.corrupt(format!(
                    "inode {ino}: {at}: {entries} entries, room for {max} in {} bytes",
                    node.len()
                )));
            }
            if depth > EXTENT_MAX_DEPTH || expect_depth.is_some_and(|d| d != depth) {
                return Err(self.corrupt(format!(
                    "inode {ino}: {at}: depth {depth} is wrong (expected {})",
                    expect_depth.map_or(format!("at most {EXTENT_MAX_DEPTH}"), |d| d.to_string())
                )));
            }
            if depth == 0 {
                // Blocks up to the next extent, if lblk is in a hole.
                let mut hole_end = subtree_end;
                for i in 0..entries {
                    let e = 12 + 12 * i;
                    let first = le32(&node, e)?;
                    let raw_len = le16(&node, e + 4)?;
                    // Lengths above 32768 mark unwritten extents (read as zeros).
                    let (len, unwritten) = if raw_len > 32768 {
                        (raw_len - 32768, true)
                    } else {
                        (raw_len, false)
                    };
                    let start = hilo(u32::from(le16(&node, e + 6)?), le32(&node, e + 8)?);
                    let end = u64::from(first) + u64::from(len);
                    if lblk >= first && u64::from(lblk) < end {
                        let run = end - u64::from(lblk);
                        if unwritten {
                            return Ok((None, run));
                        }
                        let phys = start.checked_add(u64::from(lblk - first)).ok_or_else(|| {
                            self.corrupt(format!(
                                "inode {ino}: {at}: extent start {start} overflows"
                            ))
                        })?;
                        return Ok((Some(phys), run));
                    }
                    if first > lblk {
                        hole_end = hole_end.min(u64::from(first));
                    }
                }
                return Ok((None, hole_end - u64::from(lblk)));
            }
            let mut child = None;
            for i in 0..entries {
                let e = 12 + 12 * i;
                let first = le32(&node, e)?;
                if first <= lblk {
                    child = Some(hilo(u32::from(le16(&node, e + 8)?), le32(&node, e + 4)?));
                } else {
                    subtree_end = subtree_end.min(u64::from(first));
                    break;
                }
            }
            let Some(child) = child else {
                return Ok((None, 1));
            };
            node = self
                .read_meta_block(child)
                .map_err(|e| e.context(format!("inode {ino}: {at}")))?;
            node_block = Some(child);
            expect_depth = Some(depth - 1);
        }
    }

    fn map_indirect(&self, inode: &Inode, lblk: u64) -> Result<Option<u64>> {
        let per = u64::from(self.sb.block_size / 4);
        let direct = |i: usize| -> Result<u64> { Ok(u64::from(le32(&inode.i_block, i * 4)?)) };
        // (pointer in the inode, index path below it)
        let (top, path): (u64, Vec<u64>) = if lblk < 12 {
            return Ok(Some(direct(lblk as usize)?).filter(|&b| b != 0));
        } else if lblk - 12 < per {
            (direct(12)?, vec![lblk - 12])
        } else if lblk - 12 - per < per * per {
            let r = lblk - 12 - per;
            (direct(13)?, vec![r / per, r % per])
        } else if lblk - 12 - per - per * per < per * per * per {
            let r = lblk - 12 - per - per * per;
            (direct(14)?, vec![r / (per * per), (r / per) % per, r % per])
        } else {
            return Ok(None);
        };
        let mut block = top;
        for idx in path {
            if block == 0 {
                return Ok(None);
            }
            let data = self
                .read_meta_block(block)
                .map_err(|e| e.context(format!("inode {}: indirect block", inode.ino)))?;
            block = u64::from(le32(&data, idx as usize * 4)?);
        }
        Ok(Some(block).filter(|&b| b != 0))
    }

    /// Every entry of a directory (including `.` and `..`), in on-disk order.
    fn dir_entries(&self, dir: &Inode) -> Result<Vec<RawEntry>> {
        let ino = dir.ino;
        if dir.flags & INODE_FLAG_ENCRYPT != 0 {
            return Err(Error::unsupported(format!(
                "{}: directory inode {ino} is encrypted",
                self.name
            )));
        }
        let bs = u64::from(self.sb.block_size);
        if dir.size > self.dev.size() {
            return Err(self.corrupt(format!(
                "directory inode {ino}: size {} is larger than the device",
                dir.size
            )));
        }
        let nblocks = dir.size.div_ceil(bs);
        if nblocks > MAX_DIR_BLOCKS {
            return Err(Error::unsupported(format!(
                "{}: directory inode {ino}: i_size {} is more than the direct engine reads \
                 ({MAX_DIR_BLOCKS} blocks)",
                self.name, dir.size
            )));
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut lblk = 0;
        // Run by run, so holes cost nothing however large the size claims.
        while lblk < nblocks {
            let (phys, run) = self.map_run(dir, lblk)?;
            let run = run.min(nblocks - lblk);
            if let Some(first) = phys {
                for phys in first..first + run {
                    if !seen.insert(phys) {
                        return Err(self.corrupt(format!(
                            "directory inode {ino}: block {phys} appears twice in its block map"
                        )));
                    }
                    let block = self.read_block(phys)?;
                    self.parse_dir_block(ino, phys, &block, &mut out)?;
                    if out.len() > MAX_DIR_ENTRIES {
                        return Err(Error::unsupported(format!(
                            "{}: directory inode {ino} has more than {MAX_DIR_ENTRIES} entries",
                            self.name
                        )));
                    }
                }
            }
            lblk += run;
        }
        Ok(out)
    }

    fn parse_dir_block(
        &self,
        dir_ino: u32,
        phys: u64,
        b: &[u8],
        out: &mut Vec<RawEntry>,
    ) -> Result<()> {
        let bs = b.len();
        let mut off = 0usize;
        while off < bs {
            let at = || format!("directory inode {dir_ino}, block {phys}, offset {off}");
            if off + 8 > bs {
                return Err(self.corrupt(format!("{}: entry header runs past the block", at())));
            }
            let ino = le32(b, off)?;
            let raw_rec = usize::from(le16(b, off + 4)?);
            // 64 KiB blocks cannot store their own size in 16 bits.
            let rec_len = if bs >= 65536 && (raw_rec == 65535 || raw_rec == 0) {
                65536
            } else {
                raw_rec
            };
            let name_len = usize::from(b[off + 6]);
            let file_type = b[off + 7];
            if rec_len < 12 || rec_len % 4 != 0 || off + rec_len > bs {
                return Err(self.corrupt(format!("{}: bad record length {rec_len}", at())));
            }
            if 8 + name_len > rec_len {
                return Err(self.corrupt(format!(
                    "{}: name length {name_len} does not fit in record length {rec_len}",
                    at()
                )));
            }
            if ino != 0 {
                if ino > self.sb.inodes_count {
                    return Err(self.corrupt(format!(
                        "{}: inode number {ino} is out of range (1..={})",
                        at(),
                        self.sb.inodes_count
                    )));
                }
                let name = &b[off + 8..off + 8 + name_len];
                if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
                    return Err(self.corrupt(format!(
                        "{}: invalid file name {:?}",
                        at(),
                        String::from_utf8_lossy(name)
                    )));
                }
                out.push(RawEntry {
                    name: name.to_vec(),
                    ino,
                    file_type,
                });
            }
            off += rec_len;
        }
        Ok(())
    }

    /// The inode that `name` names in directory `dir`.
    fn lookup(&self, dir: &Inode, name: &[u8]) -> Result<Option<u32>> {
        if let Some((_, map)) = self.dir_cache.borrow().iter().find(|(i, _)| *i == dir.ino) {
            return Ok(map.get(name).copied());
        }
        let entries = self.dir_entries(dir)?;
        let found = entries.iter().find(|e| e.name == name).map(|e| e.ino);
        if entries.len() <= DIR_CACHE_MAX_ENTRIES {
            let map: DirMap = entries.into_iter().map(|e| (e.name, e.ino)).collect();
            let mut cache = self.dir_cache.borrow_mut();
            if cache.len() >= DIR_CACHE_DIRS {
                cache.remove(0);
            }
            cache.push((dir.ino, map));
        }
        Ok(found)
    }

    /// Resolve an absolute path (no symlinks in it are followed).
    fn resolve(&self, path: &str) -> Result<Inode> {
        if !path.starts_with('/') {
            return Err(Error::invalid(format!("{path}: path is not absolute")));
        }
        let mut inode = self.read_inode(ROOT_INO)?;
        // One directory read per component, so the work is bounded by the
        // path's length whatever the directories contain.
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            if comp == "." || comp == ".." {
                return Err(Error::invalid(format!(
                    "{path}: path has a {comp} component"
                )));
            }
            if inode.file_type() != FileType::Directory {
                return Err(Error::not_found(format!(
                    "{path}: a component is not a directory"
                )));
            }
            let ino = self
                .lookup(&inode, comp.as_bytes())
                .map_err(|e| e.context(path))?
                .ok_or_else(|| Error::not_found(format!("{path}: no such file or directory")))?;
            inode = self.read_inode(ino).map_err(|e| e.context(path))?;
        }
        Ok(inode)
    }

    /// Read file data at `offset`, holes and unwritten extents as zeros.
    ///
    /// Our own block mapping, not ext4-view's: its `File` reads block 0 for a
    /// missing indirect block and panics when a block-mapped (ext2/ext3)
    /// file ends in a hole. Physically contiguous blocks become one device read.
    fn read_data(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= inode.size {
            return Ok(0);
        }
        let len = (inode.size - offset).min(buf.len() as u64) as usize;
        let bs = u64::from(self.sb.block_size);
        let mut done = 0usize;
        while done < len {
            let pos = offset + done as u64;
            let lblk = pos / bs;
            let within = pos % bs;
            let (phys, run) = self.map_run(inode, lblk)?;
            // Bytes this mapping covers from `pos`, capped by what is left.
            let avail = run.saturating_mul(bs).saturating_sub(within);
            let n = avail.min((len - done) as u64) as usize;
            let dst = &mut buf[done..done + n];
            match phys {
                None => dst.fill(0),
                Some(p) => self.dev.read_at(dst, p * bs + within)?,
            }
            done += n;
        }
        Ok(done)
    }

    fn stat_of(&self, i: &Inode) -> Result<Stat> {
        let ft = i.file_type();
        let rdev = if matches!(ft, FileType::CharDevice | FileType::BlockDevice) {
            let old = le32(&i.i_block, 0)?;
            let (major, minor) = if old != 0 {
                ((old >> 8) & 0xff, old & 0xff)
            } else {
                let new = le32(&i.i_block, 4)?;
                ((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00))
            };
            makedev(major, minor)
        } else {
            0
        };
        Ok(Stat {
            dev: 0,
            ino: u64::from(i.ino),
            mode: u32::from(i.mode),
            nlink: u64::from(i.links),
            uid: i.uid,
            gid: i.gid,
            rdev,
            size: i.size,
            blksize: u64::from(self.sb.block_size),
            blocks: i.blocks,
            atime: i.atime,
            mtime: i.mtime,
            ctime: i.ctime,
        })
    }

    fn journal_superblock(&self) -> Result<Option<JournalSb>> {
        if self.sb.journal_inum == 0 {
            return Ok(None);
        }
        let j = self.read_inode(self.sb.journal_inum)?;
        let Some(first) = self.map_block(&j, 0)? else {
            return Err(self.corrupt("journal inode has no first block"));
        };
        let b = self.read_block(first)?;
        if be32(&b, 0)? != JBD2_MAGIC {
            return Err(self.corrupt("journal superblock has a bad magic"));
        }
        Ok(Some(JournalSb {
            maxlen: be32(&b, 0x10)?,
            start: be32(&b, 0x1c)?,
            inode_blocks: j.size / u64::from(self.sb.block_size),
        }))
    }

    /// Blocks the kernel counts as filesystem overhead (ext4_calculate_overhead):
    /// everything before the first data block, each group's superblock backup,
    /// group descriptors, reserved GDT blocks, two bitmaps and inode table, and
    /// the internal journal.
    fn overhead_blocks(&self) -> Result<u64> {
        let sb = &self.sb;
        if sb.feature_ro_compat & RO_COMPAT_BIGALLOC != 0 {
            // The kernel trusts the stored value with bigalloc, and counting
            // shared clusters is not worth it when mke2fs always stores one.
            if sb.overhead_clusters != 0 && u64::from(sb.overhead_clusters) <= sb.blocks_count {
                return Ok(u64::from(sb.overhead_clusters) * sb.cluster_ratio);
            }
            return Err(Error::unsupported(format!(
                "{}: statvfs of a bigalloc filesystem without a stored overhead",
                self.name
            )));
        }
        let itb_per_group =
            u64::from(sb.inodes_per_group) * u64::from(sb.inode_size) / u64::from(sb.block_size);
        let mut overhead = u64::from(sb.first_data_block);
        for g in 0..sb.group_count {
            let has_super = u64::from(sb.group_has_super(g));
            overhead += has_super + itb_per_group + 2;
            if has_super != 0 {
                overhead += sb.gdt_blocks + u64::from(sb.reserved_gdt_blocks);
            }
        }
        if let Some(j) = self.journal_superblock()? {
            overhead += if j.maxlen != 0 {
                u64::from(j.maxlen)
            } else {
                j.inode_blocks
            };
        }
        Ok(overhead)
    }
}

struct JournalSb {
    maxlen: u32,
    start: u32,
    inode_blocks: u64,
}

/// `dev_t` as glibc's `makedev` packs it, which is what `st_rdev` holds.
fn makedev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (u64::from(major), u64::from(minor));
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// Every group descriptor, read a piece at a time: the superblock checks
/// bound the group count by [`MAX_GROUPS`] and the table by group 0.
fn read_groups(dev: &Device, sb: &Superblock, name: &str) -> Result<Vec<Group>> {
    let bs = u64::from(sb.block_size);
    let gdt_start = (u64::from(sb.first_data_block) + 1) * bs;
    let desc = sb.desc_size as usize;
    let gdt_end = gdt_start + u64::from(sb.group_count) * desc as u64;
    if gdt_end > sb.blocks_count * bs {
        return Err(Error::corrupt(format!(
            "{name}: ext4 group descriptor table ends at byte {gdt_end}, past the filesystem"
        )));
    }
    let is_64 = sb.desc_size >= 64;
    let mut out = Vec::with_capacity(sb.group_count as usize);
    let per_chunk = (1usize << 20) / desc;
    let mut chunk = vec![0u8; per_chunk * desc];
    let mut g = 0usize;
    while g < sb.group_count as usize {
        let n = per_chunk.min(sb.group_count as usize - g);
        let buf = &mut chunk[..n * desc];
        dev.read_at(buf, gdt_start + (g * desc) as u64)
            .map_err(|e| e.context(format!("{name}: reading the ext4 group descriptors")))?;
        for d in buf.chunks_exact(desc) {
            let hi32 = |off: usize| -> Result<u32> { Ok(if is_64 { le32(d, off)? } else { 0 }) };
            let hi16 = |off: usize| -> Result<u32> {
                Ok(if is_64 { u32::from(le16(d, off)?) } else { 0 })
            };
            out.push(Group {
                inode_table: hilo(hi32(0x28)?, le32(d, 0x8)?),
                free_clusters: u64::from(u32::from(le16(d, 0xc)?) | (hi16(0x2c)? << 16)),
                free_inodes: u64::from(u32::from(le16(d, 0xe)?) | (hi16(0x2e)? << 16)),
            });
        }
        g += n;
    }
    Ok(out)
}

fn file_type_of_dirent(t: u8) -> FileType {
    match t {
        1 => FileType::Regular,
        2 => FileType::Directory,
        3 => FileType::CharDevice,
        4 => FileType::BlockDevice,
        5 => FileType::Fifo,
        6 => FileType::Socket,
        7 => FileType::Symlink,
        _ => FileType::Unknown,
    }
}

impl Filesystem for Ext4Fs {
    fn fs_type(&self) -> &'static str {
        self.sb.fs_type()
    }

    fn lstat(&self, path: &str) -> Result<Stat> {
        let inode = self.resolve(path)?;
        self.stat_of(&inode)
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let dir = self.resolve(path)?;
        if dir.file_type() != FileType::Directory {
            return Err(Error::invalid(format!("{path}: not a directory")));
        }
        let entries = self.dir_entries(&dir).map_err(|e| e.context(path))?;
        Ok(entries
            .into_iter()
            .filter(|e| e.name != b"." && e.name != b"..")
            .map(|e| DirEntry {
                name: String::from_utf8_lossy(&e.name).into_owned(),
                ino: u64::from(e.ino),
                file_type: file_type_of_dirent(e.file_type),
            })
            .collect())
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Symlink {
            return Err(Error::invalid(format!("{path}: not a symbolic link")));
        }
        if inode.flags & INODE_FLAG_ENCRYPT != 0 {
            return Err(Error::unsupported(format!("{path}: symlink is encrypted")));
        }
        let view = self
            .view
            .as_ref()
            .ok_or_else(|| self.corrupt("not fully opened"))?;
        let target = view
            .read_link(path)
            .map_err(|e| view_error(e, &format!("{}: {path}", self.name)))?;
        let bytes: &[u8] = target.as_ref();
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let cached = match &*self.open_file.borrow() {
            Some((p, inode)) if p == path => Some(inode.clone()),
            _ => None,
        };
        let inode = match cached {
            Some(inode) => inode,
            None => {
                let inode = self.resolve(path)?;
                match inode.file_type() {
                    FileType::Regular => {}
                    FileType::Directory => {
                        return Err(Error::invalid(format!("{path}: is a directory")));
                    }
                    _ => return Err(Error::invalid(format!("{path}: not a regular file"))),
                }
                if inode.flags & INODE_FLAG_ENCRYPT != 0 {
                    return Err(Error::unsupported(format!(
                        "{}: {path}: file is encrypted",
                        self.name
                    )));
                }
                *self.open_file.borrow_mut() = Some((path.to_string(), inode.clone()));
                inode
            }
        };
        self.read_data(&inode, offset, buf)
            .map_err(|e| e.context(format!("{path}: offset {offset}")))
    }

    fn statvfs(&self) -> Result<StatVfs> {
        let sb = &self.sb;
        let overhead = self.overhead_blocks()?;
        let free_clusters = self
            .groups
            .iter()
            .fold(0u64, |a, g| a.saturating_add(g.free_clusters));
        let free_inodes = self
            .groups
            .iter()
            .fold(0u64, |a, g| a.saturating_add(g.free_inodes));
        let bfree = free_clusters.saturating_mul(sb.cluster_ratio);
        // The kernel holds back 2% (at most 4096 clusters) for itself on
        // extent filesystems (ext4_calculate_resv_clusters), on top of the
        // root-reserved blocks.
        let resv = if sb.feature_incompat & INCOMPAT_EXTENTS != 0 {
            (sb.blocks_count / sb.cluster_ratio / 50).min(4096) * sb.cluster_ratio
        } else {
            0
        };
        let bavail = bfree.saturating_sub(sb.r_blocks_count.saturating_add(resv));
        let fsid = u64::from_le_bytes(sb.uuid[0..8].try_into().unwrap_or_default())
            ^ u64::from_le_bytes(sb.uuid[8..16].try_into().unwrap_or_default());
        Ok(StatVfs {
            bsize: u64::from(sb.block_size),
            frsize: u64::from(sb.block_size),
            blocks: sb.blocks_count.saturating_sub(overhead),
            bfree,
            bavail,
            files: u64::from(sb.inodes_count),
            ffree: free_inodes,
            favail: free_inodes,
            fsid,
            // ST_RDONLY | ST_RELATIME: what statvfs says on a `mount -o ro`.
            flag: 1 | 4096,
            namemax: NAME_MAX,
        })
    }
}

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

mod blockmap;
mod dir;
mod hash;
mod htree;
mod inode;
mod superblock;
mod xattr;
use self::dir::{Dentries, DirCache, file_type_of_dirent};
use self::inode::Inode;
use self::superblock::{Groups, Superblock, read_groups};

const SUPERBLOCK_OFFSET: u64 = 1024;
const SUPERBLOCK_SIZE: usize = 1024;
const EXT4_MAGIC: u16 = 0xef53;
const ROOT_INO: u32 = 2;
const GOOD_OLD_INODE_SIZE: usize = 128;
const NAME_MAX: u64 = 255;

const COMPAT_HAS_JOURNAL: u32 = 0x4;
const COMPAT_DIR_INDEX: u32 = 0x20;
/// `s_flags`: directory hashes use unsigned chars.
const FLAGS_UNSIGNED_HASH: u32 = 0x2;
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
/// The directory has a hashed index (htree).
const INODE_FLAG_INDEX: u32 = 0x1000;
const INODE_FLAG_HUGE_FILE: u32 = 0x40000;
const INODE_FLAG_EXTENTS: u32 = 0x80000;
const INODE_FLAG_INLINE_DATA: u32 = 0x1000_0000;
/// Names in the directory hash casefolded (`EXT4_CASEFOLD_FL`).
const INODE_FLAG_CASEFOLD: u32 = 0x4000_0000;

const EXTENT_MAGIC: u16 = 0xf30a;
/// The kernel's limit on extent tree depth (EXT4_MAX_EXTENT_DEPTH).
const EXTENT_MAX_DEPTH: u16 = 5;

const JBD2_MAGIC: u32 = 0xc03b_3998;

/// Parsed directories kept for lookups and listings, and the most entries
/// they may hold together (a larger directory is parsed on every use): `ll`
/// of a directory looks up every entry in it, which without a cache reads
/// the whole directory once per entry.
const DIR_CACHE_DIRS: usize = 256;
const DIR_CACHE_MAX_ENTRIES: usize = 100_000;
/// Directory paths remembered by the dentry cache.
const DENTRY_CACHE: usize = 4096;
/// Lookups in one directory answered through its hash index before the
/// whole directory is parsed and cached instead.
const HTREE_LOOKUPS: u32 = 4;
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
    groups: Groups,
    /// None only while the journal is looked at during open.
    view: Option<ext4_view::Ext4>,
    /// The file last read by `read_at`, so streaming a file in chunks does
    /// not resolve its path every call.
    open_file: RefCell<Option<(String, Inode)>>,
    /// Parsed directories (see `dir_data`).
    dirs: RefCell<DirCache>,
    /// Directories by path (see `resolve`).
    dentries: RefCell<Dentries>,
    /// Hash-index lookups so far, per directory inode (see `lookup`).
    htree_uses: RefCell<HashMap<u32, u32>>,
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
    /// or running guest) is replayed in memory first (the jbd2 module): reads
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
            dirs: RefCell::new(DirCache::default()),
            dentries: RefCell::new(Dentries::default()),
            htree_uses: RefCell::new(HashMap::new()),
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

    /// A symlink's target, as the kernel reads it: in `i_block` for a fast
    /// symlink (no data blocks beyond an xattr block), else the file's data.
    /// Read here rather than through ext4-view, whose `read_link` resolves
    /// the path again from the root.
    fn symlink_target(&self, inode: &Inode) -> Result<String> {
        let len = usize::try_from(inode.size).unwrap_or(usize::MAX);
        if len == 0 {
            return Err(self.corrupt(format!("symlink inode {} has an empty target", inode.ino)));
        }
        let ea_blocks = if inode.file_acl != 0 {
            u64::from(self.sb.block_size) * self.sb.cluster_ratio / 512
        } else {
            0
        };
        let bytes = if inode.blocks.saturating_sub(ea_blocks) == 0 {
            inode
                .i_block
                .get(..len)
                .ok_or_else(|| {
                    self.corrupt(format!(
                        "fast symlink inode {} claims a {len}-byte target",
                        inode.ino
                    ))
                })?
                .to_vec()
        } else {
            let mut buf = vec![0u8; len];
            let mut done = 0;
            while done < len {
                let n = self.read_data(inode, done as u64, &mut buf[done..])?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            buf.truncate(done);
            buf
        };
        if bytes.contains(&0) {
            return Err(self.corrupt(format!(
                "symlink inode {} has a NUL byte in its target",
                inode.ino
            )));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
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

/// How many block-map runs one SEEK_DATA/SEEK_HOLE may walk.
const MAX_SEEK_RUNS: usize = 1 << 20;

impl Filesystem for Ext4Fs {
    fn fs_type(&self) -> &'static str {
        self.sb.fs_type()
    }

    fn lstat(&self, path: &str) -> Result<Stat> {
        let inode = self.resolve(path)?;
        self.stat_of(&inode)
    }

    /// Each entry's inode read by the number in the entry, as a lookup of
    /// its name would find it: the first entry of a name wins, so a later
    /// duplicate (a corrupt directory) gets the first one's stat, as
    /// `lstat` of the path would give.
    fn lstat_dir(&self, path: &str) -> Result<Vec<(DirEntry, Stat)>> {
        let dir = self.resolve(path)?;
        if dir.file_type() != FileType::Directory {
            return Err(Error::invalid(format!("{path}: not a directory")));
        }
        let data = self.dir_data(&dir).map_err(|e| e.context(path))?;
        let base = path.trim_end_matches('/');
        data.entries
            .iter()
            .filter(|e| e.name != b"." && e.name != b"..")
            .map(|e| {
                let name = String::from_utf8_lossy(&e.name).into_owned();
                let ino = data.index.get(&e.name).copied().unwrap_or(e.ino);
                let st = self
                    .read_inode(ino)
                    .and_then(|i| self.stat_of(&i))
                    .map_err(|err| err.context(format!("{base}/{name}")))?;
                Ok((
                    DirEntry {
                        name,
                        ino: u64::from(e.ino),
                        file_type: file_type_of_dirent(e.file_type),
                    },
                    st,
                ))
            })
            .collect()
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let dir = self.resolve(path)?;
        if dir.file_type() != FileType::Directory {
            return Err(Error::invalid(format!("{path}: not a directory")));
        }
        let data = self.dir_data(&dir).map_err(|e| e.context(path))?;
        Ok(data
            .entries
            .iter()
            .filter(|e| e.name != b"." && e.name != b"..")
            .map(|e| DirEntry {
                name: String::from_utf8_lossy(&e.name).into_owned(),
                ino: u64::from(e.ino),
                file_type: file_type_of_dirent(e.file_type),
            })
            .collect())
    }

    /// The kernel's readdir order: on a `dir_index` filesystem an indexed
    /// directory, or any one-block directory, is read in hash order (`.` and
    /// `..` first for an indexed one, hashed like any name otherwise);
    /// other directories in on-disk order.
    fn read_dir_all(&self, path: &str) -> Result<Vec<DirEntry>> {
        let dir = self.resolve(path)?;
        if dir.file_type() != FileType::Directory {
            return Err(Error::invalid(format!("{path}: not a directory")));
        }
        let data = self.dir_data(&dir).map_err(|e| e.context(path))?;
        let entries = &data.entries;
        let bs = u64::from(self.sb.block_size);
        let indexed = dir.flags & INODE_FLAG_INDEX != 0;
        let hashed =
            self.sb.feature_compat & COMPAT_DIR_INDEX != 0 && (indexed || dir.size / bs == 1);
        let to_entry = |e: &dir::RawEntry| DirEntry {
            name: String::from_utf8_lossy(&e.name).into_owned(),
            ino: u64::from(e.ino),
            file_type: file_type_of_dirent(e.file_type),
        };
        if !hashed {
            return Ok(entries.iter().map(to_entry).collect());
        }
        let mut version = self.sb.def_hash_version;
        if indexed {
            // The dx_root's own hash version (after the fake `.` and `..`).
            if let Some(phys) = self.map_block(&dir, 0)? {
                let block = self.read_block(phys)?;
                if let Some(&v) = block.get(0x1c) {
                    version = v;
                }
            }
        }
        if version <= hash::DX_HASH_TEA && self.sb.flags & FLAGS_UNSIGNED_HASH != 0 {
            version += hash::DX_HASH_UNSIGNED_DELTA;
        }
        let mut keyed: Vec<((u32, u32), &dir::RawEntry)> = entries
            .iter()
            .map(|e| {
                let key = match (indexed, e.name.as_slice()) {
                    (true, b".") => (0, 0),
                    (true, b"..") => (2, 0),
                    _ => hash::dirhash(&e.name, version, &self.sb.hash_seed),
                };
                (key, e)
            })
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        Ok(keyed.into_iter().map(|(_, e)| to_entry(e)).collect())
    }

    fn lgetxattrs(&self, path: &str) -> Result<Vec<crate::XAttr>> {
        let inode = self.resolve(path)?;
        self.xattrs_of(inode.ino).map_err(|e| e.context(path))
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Symlink {
            return Err(Error::invalid(format!("{path}: not a symbolic link")));
        }
        if inode.flags & INODE_FLAG_ENCRYPT != 0 {
            return Err(Error::unsupported(format!("{path}: symlink is encrypted")));
        }
        // The target is read into memory by i_size; the kernel never writes
        // one longer than a block (or than PATH_MAX).
        if inode.size >= 4096 || inode.size > u64::from(self.sb.block_size) {
            return Err(self.corrupt(format!(
                "{path}: symlink inode {} has i_size {}, more than a symlink holds",
                inode.ino, inode.size
            )));
        }
        self.symlink_target(&inode).map_err(|e| e.context(path))
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

    /// Walks the block map run by run from `offset`'s block: an extent or a
    /// hole is one step. Unwritten extents read as zeros and count as holes,
    /// as the kernel reports them for data not in its page cache. Past
    /// 2^20 steps (an ext2/3 indirect map of a huge sparse file
    /// moves one block per step) the answer is the safe one: data here, or
    /// the hole at the end of the file.
    fn seek_data(&self, path: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Regular {
            return Err(Error::invalid(format!("{path}: not a regular file")));
        }
        let size = inode.size;
        if offset >= size || inode.flags & INODE_FLAG_INLINE_DATA != 0 {
            return Ok(crate::seek_all_data(size, offset, hole));
        }
        let bs = u64::from(self.sb.block_size);
        let mut lblk = offset / bs;
        for _ in 0..MAX_SEEK_RUNS {
            let at = lblk.saturating_mul(bs).max(offset);
            if at >= size {
                return Ok(if hole { Some(size) } else { None });
            }
            let (phys, run) = self
                .map_run(&inode, lblk)
                .map_err(|e| e.context(format!("{path}: offset {at}")))?;
            if phys.is_some() != hole {
                return Ok(Some(at));
            }
            lblk = lblk.saturating_add(run.max(1));
        }
        Ok(Some(if hole {
            size
        } else {
            lblk.saturating_mul(bs).max(offset).min(size - 1)
        }))
    }

    fn statvfs(&self) -> Result<StatVfs> {
        let sb = &self.sb;
        let overhead = self.overhead_blocks()?;
        let free_clusters = self.groups.free_clusters;
        let free_inodes = self.groups.free_inodes;
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

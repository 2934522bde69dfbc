//! The superblock (checked for sanity before anything is sized by it) and the block group descriptors.

use super::*;

/// The superblock fields this module uses, checked for sanity.
#[derive(Debug, Clone)]
pub(super) struct Superblock {
    pub(super) inodes_count: u32,
    pub(super) blocks_count: u64,
    pub(super) r_blocks_count: u64,
    pub(super) first_data_block: u32,
    pub(super) block_size: u32,
    /// Blocks per cluster (1 without bigalloc).
    pub(super) cluster_ratio: u64,
    pub(super) inodes_per_group: u32,
    pub(super) inode_size: u32,
    pub(super) feature_compat: u32,
    pub(super) feature_incompat: u32,
    pub(super) feature_ro_compat: u32,
    pub(super) uuid: [u8; 16],
    pub(super) journal_inum: u32,
    pub(super) reserved_gdt_blocks: u16,
    pub(super) desc_size: u32,
    pub(super) backup_bgs: [u32; 2],
    pub(super) overhead_clusters: u32,
    pub(super) group_count: u32,
    /// Blocks holding the group descriptor table.
    pub(super) gdt_blocks: u64,
    /// Directory hash seed, default hash version and `s_flags`.
    pub(super) hash_seed: [u32; 4],
    pub(super) def_hash_version: u8,
    pub(super) flags: u32,
}

impl Superblock {
    pub(super) fn parse(b: &[u8], dev_size: u64, name: &str) -> Result<Superblock> {
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
            hash_seed: [
                le32(b, 0xec)?,
                le32(b, 0xf0)?,
                le32(b, 0xf4)?,
                le32(b, 0xf8)?,
            ],
            def_hash_version: *b
                .get(0xfc)
                .ok_or_else(|| corrupt("short superblock".into()))?,
            flags: le32(b, 0x160)?,
        })
    }

    /// The type blkid reports: ext4 when any feature beyond ext3 is on.
    pub(super) fn fs_type(&self) -> &'static str {
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
    pub(super) fn group_has_super(&self, g: u32) -> bool {
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

pub(super) fn is_power_of(mut n: u32, base: u32) -> bool {
    while n % base == 0 {
        n /= base;
    }
    n == 1
}

/// What we keep of the group descriptors: each group's inode table, and
/// the free counts summed (only `statvfs` wants them, as totals). Eight
/// bytes a group: at [`MAX_GROUPS`] groups this is 8 MiB, beside the 16 MiB
/// ext4-view keeps of the same table, inside the 64 MB a command may use.
#[derive(Debug, Default)]
pub(super) struct Groups {
    pub(super) inode_tables: Vec<u64>,
    pub(super) free_clusters: u64,
    pub(super) free_inodes: u64,
}

/// Every group descriptor, read a piece at a time: the superblock checks
/// bound the group count by [`MAX_GROUPS`] and the table by group 0.
pub(super) fn read_groups(dev: &Device, sb: &Superblock, name: &str) -> Result<Groups> {
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
    let mut out = Groups {
        inode_tables: Vec::with_capacity(sb.group_count as usize),
        ..Groups::default()
    };
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
            out.inode_tables.push(hilo(hi32(0x28)?, le32(d, 0x8)?));
            out.free_clusters = out
                .free_clusters
                .saturating_add(u64::from(u32::from(le16(d, 0xc)?) | (hi16(0x2c)? << 16)));
            out.free_inodes = out
                .free_inodes
                .saturating_add(u64::from(u32::from(le16(d, 0xe)?) | (hi16(0x2e)? << 16)));
        }
        g += n;
    }
    Ok(out)
}

//! Inodes: reading and decoding them, and what `lstat` reports of one.

use super::*;

/// An inode, decoded.
#[derive(Debug, Clone)]
pub(super) struct Inode {
    pub(super) ino: u32,
    pub(super) mode: u16,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) size: u64,
    pub(super) links: u16,
    /// Allocated space in 512-byte units.
    pub(super) blocks: u64,
    pub(super) flags: u32,
    /// The extended attribute block (`i_file_acl`), 0 for none.
    pub(super) file_acl: u64,
    pub(super) i_block: [u8; 60],
    pub(super) atime: Timespec,
    pub(super) mtime: Timespec,
    pub(super) ctime: Timespec,
}

impl Inode {
    pub(super) fn file_type(&self) -> FileType {
        FileType::from_mode(u32::from(self.mode))
    }
}

/// `dev_t` as glibc's `makedev` packs it, which is what `st_rdev` holds.
pub(super) fn makedev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (u64::from(major), u64::from(minor));
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

impl Ext4Fs {
    /// The on-disk bytes of inode `ino` (`inode_size` of them).
    pub(super) fn read_inode_raw(&self, ino: u32) -> Result<Vec<u8>> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(self.corrupt(format!(
                "inode number {ino} is out of range (1..={})",
                self.sb.inodes_count
            )));
        }
        let index = ino - 1;
        let inode_table = *self
            .groups
            .inode_tables
            .get((index / self.sb.inodes_per_group) as usize)
            .ok_or_else(|| self.corrupt(format!("inode {ino} is in no block group")))?;
        let within = u64::from(index % self.sb.inodes_per_group);
        let table_blocks = (u64::from(self.sb.inodes_per_group) * u64::from(self.sb.inode_size))
            .div_ceil(u64::from(self.sb.block_size));
        let table_end = inode_table.checked_add(table_blocks);
        if table_end.is_none_or(|end| end > self.sb.blocks_count) {
            return Err(self.corrupt(format!(
                "inode table at block {} for inode {ino} is past the end of the filesystem",
                inode_table
            )));
        }
        let off = self.block_offset(inode_table)? + within * u64::from(self.sb.inode_size);
        let mut b = vec![0u8; self.sb.inode_size as usize];
        self.dev.read_at(&mut b, off)?;
        Ok(b)
    }

    pub(super) fn read_inode(&self, ino: u32) -> Result<Inode> {
        let b = self.read_inode_raw(ino)?;
        self.decode_inode(ino, &b)
    }

    /// Extended attributes of inode `ino`: in the inode, then in its block.
    pub(super) fn xattrs_of(&self, ino: u32) -> Result<Vec<crate::XAttr>> {
        use super::xattr as x;
        let b = self.read_inode_raw(ino)?;
        let what = || format!("{}: inode {ino}", self.name);
        let mut raw = Vec::new();
        if b.len() > GOOD_OLD_INODE_SIZE {
            let extra = usize::from(le16(&b, 0x80)?);
            let start = GOOD_OLD_INODE_SIZE + extra;
            if start > b.len() || extra % 4 != 0 {
                return Err(
                    self.corrupt(format!("inode {ino}: extra inode size {extra} is invalid"))
                );
            }
            x::parse_ibody(&b[start..], &what, &mut raw)?;
        }
        let acl_lo = u64::from(le32(&b, 0x68)?);
        let acl_hi = if self.sb.feature_incompat & INCOMPAT_64BIT != 0 {
            u64::from(le16(&b, 0x76)?)
        } else {
            0
        };
        let acl = (acl_hi << 32) | acl_lo;
        if acl != 0 {
            if acl < u64::from(self.sb.first_data_block) || acl >= self.sb.blocks_count {
                return Err(self.corrupt(format!(
                    "inode {ino}: extended attribute block {acl} is outside the filesystem"
                )));
            }
            let block = self.read_block(acl)?;
            x::parse_block(&block, &what, &mut raw)?;
        }
        let mut out = Vec::with_capacity(raw.len());
        for r in raw {
            let Some(name) = x::full_name(&r) else {
                continue;
            };
            let attrval = if r.index == 2 || r.index == 3 {
                x::acl_to_generic(&r.value, &what)?
            } else {
                r.value
            };
            out.push(crate::XAttr {
                attrname: name,
                attrval,
            });
        }
        Ok(out)
    }

    pub(super) fn decode_inode(&self, ino: u32, b: &[u8]) -> Result<Inode> {
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
        let acl_hi = if self.sb.feature_incompat & INCOMPAT_64BIT != 0 {
            u64::from(le16(b, 0x76)?)
        } else {
            0
        };
        let file_acl = (acl_hi << 32) | u64::from(le32(b, 0x68)?);
        Ok(Inode {
            ino,
            mode,
            uid: u32::from(le16(b, 0x2)?) | (u32::from(le16(b, 0x78)?) << 16),
            gid: u32::from(le16(b, 0x18)?) | (u32::from(le16(b, 0x7a)?) << 16),
            size,
            links: le16(b, 0x1a)?,
            blocks,
            flags,
            file_acl,
            i_block,
            atime: time(0x8, 0x8c)?,
            ctime: time(0xc, 0x84)?,
            mtime: time(0x10, 0x88)?,
        })
    }

    pub(super) fn stat_of(&self, i: &Inode) -> Result<Stat> {
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
}

//! Block maps: extent trees and ext2/3 indirect blocks, from logical to physical blocks, and reading file data through them.

use super::*;

impl Ext4Fs {
    /// Physical block of logical block `lblk`, or `None` for a hole (or an
    /// unwritten extent, which reads as zeros).
    pub(super) fn map_block(&self, inode: &Inode, lblk: u64) -> Result<Option<u64>> {
        Ok(self.map_run(inode, lblk)?.0)
    }

    /// Where logical block `lblk` is, and for how many blocks from there the
    /// mapping goes on the same way (physically contiguous, or hole): at
    /// least 1.
    pub(super) fn map_run(&self, inode: &Inode, lblk: u64) -> Result<(Option<u64>, u64)> {
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

    pub(super) fn map_extent(&self, inode: &Inode, lblk: u64) -> Result<(Option<u64>, u64)> {
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

    pub(super) fn map_indirect(&self, inode: &Inode, lblk: u64) -> Result<Option<u64>> {
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

    /// Read file data at `offset`, holes and unwritten extents as zeros.
    ///
    /// Our own block mapping, not ext4-view's: its `File` reads block 0 for a
    /// missing indirect block and panics when a block-mapped (ext2/ext3)
    /// file ends in a hole. Physically contiguous blocks become one device read.
    pub(super) fn read_data(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
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
}

//! A copy-on-write overlay in memory: writable access to any device without
//! ever writing the device itself.
//!
//! Writes land in 4 KiB blocks held in memory; reads take a block from memory
//! when it was written, else from the base. Everything written is lost when
//! the overlay is dropped, like libguestfs's `--ro` with a temporary overlay.

use crate::{BlockDevice, Device, Error, ErrorKind, Result, check_range};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::RwLock;

/// Granularity of the overlay: a partial write reads the rest of its block from the base.
pub const OVERLAY_BLOCK: u64 = 4096;

/// A writable, in-memory copy-on-write layer over a base device.
pub struct Overlay {
    base: Device,
    blocks: RwLock<HashMap<u64, Box<[u8]>>>,
}

impl Overlay {
    /// An overlay over `base`; `base` is only ever read.
    pub fn new(base: Device) -> Self {
        Overlay {
            base,
            blocks: RwLock::new(HashMap::new()),
        }
    }

    /// How many bytes of written data the overlay holds.
    pub fn dirty_bytes(&self) -> u64 {
        self.blocks
            .read()
            .map(|b| b.len() as u64 * OVERLAY_BLOCK)
            .unwrap_or(0)
    }

    /// The device under the overlay.
    pub fn base(&self) -> &Device {
        &self.base
    }

    /// Bytes of block `index` that exist on the device (the last block may be short).
    fn block_len(&self, index: u64) -> usize {
        let start = index * OVERLAY_BLOCK;
        (self.base.size() - start).min(OVERLAY_BLOCK) as usize
    }

    fn poisoned(&self) -> Error {
        Error::new(
            ErrorKind::Io,
            format!("{}: overlay lock poisoned", self.describe()),
        )
    }
}

/// Split `[offset, offset+len)` into (block index, offset in block, offset in buffer, length).
fn pieces(offset: u64, len: usize) -> impl Iterator<Item = (u64, usize, usize, usize)> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= len {
            return None;
        }
        let abs = offset + pos as u64;
        let index = abs / OVERLAY_BLOCK;
        let within = (abs % OVERLAY_BLOCK) as usize;
        let n = (OVERLAY_BLOCK as usize - within).min(len - pos);
        let item = (index, within, pos, n);
        pos += n;
        Some(item)
    })
}

impl BlockDevice for Overlay {
    fn size(&self) -> u64 {
        self.base.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let blocks = self.blocks.read().map_err(|_| self.poisoned())?;
        if blocks.is_empty() {
            return self.base.read_at(buf, offset);
        }
        // Runs of unwritten blocks go to the base in one read.
        let mut base_run: Option<(usize, u64)> = None; // (buffer start, device offset)
        for (index, within, bpos, n) in pieces(offset, buf.len()) {
            match blocks.get(&index) {
                Some(block) => {
                    if let Some((start, dev_off)) = base_run.take() {
                        self.base.read_at(&mut buf[start..bpos], dev_off)?;
                    }
                    buf[bpos..bpos + n].copy_from_slice(&block[within..within + n]);
                }
                None => {
                    if base_run.is_none() {
                        base_run = Some((bpos, offset + bpos as u64));
                    }
                }
            }
        }
        if let Some((start, dev_off)) = base_run {
            self.base.read_at(&mut buf[start..], dev_off)?;
        }
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let mut blocks = self.blocks.write().map_err(|_| self.poisoned())?;
        for (index, within, bpos, n) in pieces(offset, buf.len()) {
            let block = match blocks.entry(index) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(v) => {
                    let mut block = vec![0u8; OVERLAY_BLOCK as usize].into_boxed_slice();
                    let have = self.block_len(index);
                    // A whole-block write needs nothing from the base.
                    if !(within == 0 && n >= have) {
                        self.base
                            .read_at(&mut block[..have], index * OVERLAY_BLOCK)?;
                    }
                    v.insert(block)
                }
            };
            block[within..within + n].copy_from_slice(&buf[bpos..bpos + n]);
        }
        Ok(())
    }

    fn is_read_only(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        format!("{} (overlay)", self.base.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemDevice;
    use std::sync::Arc;

    fn base(len: usize) -> Device {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        Arc::new(MemDevice::new(data, false, "base"))
    }

    #[test]
    fn reads_merge_base_and_written_blocks() {
        let len = 3 * 4096 + 1000; // last block is short
        let b = base(len);
        let o = Overlay::new(b.clone());
        assert!(!o.is_read_only());
        let mut model: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let writes: &[(usize, usize)] = &[(10, 5), (4090, 20), (8192, 4096), (len - 7, 7), (0, 1)];
        for (k, &(off, n)) in writes.iter().enumerate() {
            let data = vec![0xA0 + k as u8; n];
            o.write_at(&data, off as u64).unwrap();
            model[off..off + n].copy_from_slice(&data);
        }
        let mut all = vec![0u8; len];
        o.read_at(&mut all, 0).unwrap();
        assert_eq!(all, model);
        // Unaligned reads across written/unwritten boundaries.
        for (off, n) in [(1usize, 9000usize), (4095, 2), (8000, 5000), (len - 1, 1)] {
            let mut got = vec![0u8; n];
            o.read_at(&mut got, off as u64).unwrap();
            assert_eq!(got, &model[off..off + n], "read {off}+{n}");
        }
        // The base is untouched.
        let mut orig = vec![0u8; len];
        b.read_at(&mut orig, 0).unwrap();
        assert!(orig.iter().enumerate().all(|(i, &v)| v == (i % 251) as u8));
        assert!(o.write_at(&[0], len as u64).is_err());
    }
}

//! A copy-on-write overlay: writable access to any device without ever
//! writing the device itself.
//!
//! Written 4 KiB blocks go to an unnamed temporary file, sparse and laid out
//! like the device (as QEMU's `snapshot=on` keeps them in a temporary
//! qcow2), not to memory: a guest that writes a lot (mkfs, zero, upload) to a
//! drive opened read-only costs host disk, up to a limit, never host memory.
//! Past the limit a write is an error that says so. Memory holds only the set
//! of written block runs. The file appears on the first write, in `$TMPDIR`
//! (else `/var/tmp`, which unlike `/tmp` is rarely a RAM-backed tmpfs), and
//! is gone when the overlay is dropped, with everything written.
//!
//! It must not write the base device, nor keep written data in memory.

use crate::{BlockDevice, Device, Error, ErrorKind, Result, check_range};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::RwLock;

/// Granularity of the overlay: a partial write reads the rest of its block from the base.
pub const OVERLAY_BLOCK: u64 = 4096;

/// What [`Overlay::new`] lets a guest write: enough for mkfs, package
/// installs and journal replays on large disks, and a clear error rather
/// than a full host disk when a guest zeroes or fills a big drive.
pub const DEFAULT_LIMIT: u64 = 8 << 30;

/// A writable copy-on-write layer over a base device.
pub struct Overlay {
    base: Device,
    limit: u64,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Created on the first write.
    file: Option<File>,
    /// Written blocks as runs: first block -> one past the last.
    runs: BTreeMap<u64, u64>,
    /// How many blocks `runs` holds.
    blocks: u64,
}

impl State {
    /// The written run containing `index`, as (first, end).
    fn run_at(&self, index: u64) -> Option<(u64, u64)> {
        self.runs
            .range(..=index)
            .next_back()
            .filter(|&(_, &end)| index < end)
            .map(|(&a, &b)| (a, b))
    }

    /// The first written block at or after `index`.
    fn next_run_start(&self, index: u64) -> Option<u64> {
        self.runs.range(index..).next().map(|(&a, _)| a)
    }

    /// Records block `index` as written (it was not).
    fn mark(&mut self, index: u64) {
        let before = self
            .runs
            .range(..index)
            .next_back()
            .filter(|&(_, &end)| end == index)
            .map(|(&a, _)| a);
        let after = self.runs.remove(&(index + 1));
        let start = before.unwrap_or(index);
        let end = after.unwrap_or(index + 1);
        self.runs.insert(start, end);
        self.blocks += 1;
    }
}

impl Overlay {
    /// An overlay over `base` taking at most [`DEFAULT_LIMIT`] bytes of
    /// writes; `base` is only ever read.
    pub fn new(base: Device) -> Self {
        Self::with_limit(base, DEFAULT_LIMIT)
    }

    /// An overlay that refuses writes to more than `limit` bytes of blocks.
    pub fn with_limit(base: Device, limit: u64) -> Self {
        Overlay {
            base,
            limit,
            state: RwLock::new(State::default()),
        }
    }

    /// How many bytes of written blocks the overlay holds.
    pub fn dirty_bytes(&self) -> u64 {
        self.state
            .read()
            .map(|s| s.blocks * OVERLAY_BLOCK)
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

    fn file_error(&self, what: &str, e: std::io::Error) -> Error {
        Error::new(
            ErrorKind::Io,
            format!(
                "{}: {what} the overlay's temporary file: {e}",
                self.describe()
            ),
        )
    }
}

/// Where the temporary file goes: `$TMPDIR`, else `/var/tmp`, else the
/// system's temporary directory.
fn temp_dir() -> std::path::PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(d) if !d.is_empty() => d.into(),
        _ if std::path::Path::new("/var/tmp").is_dir() => "/var/tmp".into(),
        _ => std::env::temp_dir(),
    }
}

impl BlockDevice for Overlay {
    fn size(&self) -> u64 {
        self.base.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let state = self.state.read().map_err(|_| self.poisoned())?;
        let Some(file) = &state.file else {
            return self.base.read_at(buf, offset);
        };
        // Alternate between stretches of written blocks (from the file, at
        // the same offset) and unwritten ones (from the base), one read each.
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let index = pos / OVERLAY_BLOCK;
            let (from_file, until_block) = match state.run_at(index) {
                Some((_, end)) => (true, end),
                None => (false, state.next_run_start(index).unwrap_or(u64::MAX)),
            };
            let until = until_block.saturating_mul(OVERLAY_BLOCK);
            let n = (until - pos).min((buf.len() - done) as u64) as usize;
            let dst = &mut buf[done..done + n];
            if from_file {
                file.read_exact_at(dst, pos)
                    .map_err(|e| self.file_error("reading", e))?;
            } else {
                self.base.read_at(dst, pos)?;
            }
            done += n;
        }
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let mut state = self.state.write().map_err(|_| self.poisoned())?;
        if state.file.is_none() {
            let f =
                tempfile::tempfile_in(temp_dir()).map_err(|e| self.file_error("creating", e))?;
            state.file = Some(f);
        }
        if buf.is_empty() {
            return Ok(());
        }
        // The whole write or nothing: count the blocks it adds first.
        let first = offset / OVERLAY_BLOCK;
        let last = (offset + buf.len() as u64 - 1) / OVERLAY_BLOCK;
        let new = (first..=last)
            .filter(|&i| state.run_at(i).is_none())
            .count() as u64;
        if (state.blocks + new).saturating_mul(OVERLAY_BLOCK) > self.limit {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{}: the copy-on-write overlay is full: writes to this read-only drive \
                     are limited to {} bytes",
                    self.describe(),
                    self.limit
                ),
            ));
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let index = pos / OVERLAY_BLOCK;
            let within = (pos % OVERLAY_BLOCK) as usize;
            let n = (OVERLAY_BLOCK as usize - within).min(buf.len() - done);
            let piece = &buf[done..done + n];
            let written = state.run_at(index).is_some();
            let Some(file) = &state.file else {
                return Err(self.poisoned());
            };
            let have = self.block_len(index);
            if written || (within == 0 && n >= have) {
                file.write_all_at(piece, pos)
                    .map_err(|e| self.file_error("writing", e))?;
            } else {
                // First write to this block: the rest of it from the base.
                let mut block = [0u8; OVERLAY_BLOCK as usize];
                self.base
                    .read_at(&mut block[..have], index * OVERLAY_BLOCK)?;
                block[within..within + n].copy_from_slice(piece);
                file.write_all_at(&block[..have], index * OVERLAY_BLOCK)
                    .map_err(|e| self.file_error("writing", e))?;
            }
            if !written {
                state.mark(index);
            }
            done += n;
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
        assert_eq!(o.dirty_bytes(), 4 * OVERLAY_BLOCK);
    }

    #[test]
    fn runs_merge_and_split_correctly() {
        let mut s = State::default();
        for i in [5, 7, 6, 1, 3, 2, 10] {
            s.mark(i);
        }
        let runs: Vec<_> = s.runs.iter().map(|(&a, &b)| (a, b)).collect();
        assert_eq!(runs, [(1, 4), (5, 8), (10, 11)]);
        assert_eq!(s.blocks, 7);
        assert_eq!(s.run_at(6), Some((5, 8)));
        assert_eq!(s.run_at(8), None);
        assert_eq!(s.next_run_start(8), Some(10));
    }

    /// Random writes and reads against a model; past the limit a write is
    /// a clear error and what was written before stays readable.
    #[test]
    fn random_writes_match_a_model_up_to_the_limit() {
        let len = 64 * 4096 + 300;
        let o = Overlay::with_limit(base(len), 40 * OVERLAY_BLOCK);
        let mut model: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut x = 12345u64;
        let mut rnd = |m: usize| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % m
        };
        let mut refused = 0;
        for k in 0..300 {
            let off = rnd(len);
            let n = 1 + rnd((len - off).min(3 * 4096));
            let data = vec![k as u8; n];
            match o.write_at(&data, off as u64) {
                Ok(()) => model[off..off + n].copy_from_slice(&data),
                Err(e) => {
                    assert!(e.to_string().contains("overlay is full"), "{e}");
                    refused += 1;
                }
            }
            let (roff, rn) = (rnd(len), 1 + rnd(9000));
            let rn = rn.min(len - roff);
            let mut got = vec![0u8; rn];
            o.read_at(&mut got, roff as u64).unwrap();
            assert_eq!(
                got,
                &model[roff..roff + rn],
                "read {roff}+{rn} after write {k}"
            );
        }
        assert!(refused > 0, "the limit was never reached");
        assert!(o.dirty_bytes() <= 40 * OVERLAY_BLOCK);
        let mut all = vec![0u8; len];
        o.read_at(&mut all, 0).unwrap();
        assert_eq!(all, model);
    }
}

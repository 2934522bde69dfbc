//! Is the internal log clean? The direct engine reads metadata where it lies
//! on disk, which is only the filesystem's state when the log holds nothing
//! to replay: the last record before the log head must be an unmount record
//! (what a clean unmount, mkfs and xfs_repair leave).
//!
//! Owns finding the log head the way the kernel's xlog_find_head does
//! (cycle numbers in the first word of each 512-byte basic block), bounded:
//! a binary search plus one scan of the last few records. It must not try to
//! replay anything: a dirty log is an `Unsupported` answer so the Handle can
//! use the appliance, whose kernel replays it.

use super::be32;
use gx_disk::{Device, Error, Result};

const BB: u64 = 512;
const XLOG_HEADER_MAGIC_NUM: u32 = 0xFEED_BABE;
const XLOG_UNMOUNT_TRANS: u8 = 0x20;
const XLOG_HEADER_CYCLE_SIZE: u64 = 32 * 1024;
/// BBs the kernel scans behind the head for torn writes
/// (XLOG_TOTAL_REC_SHIFT: eight 256 KiB in-core logs).
const SCAN_BBS: u64 = (8 * 256 * 1024) / BB;

/// What the log says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LogState {
    Clean,
    Dirty(String),
}

struct Log<'a> {
    dev: &'a Device,
    start: u64,
    bbs: u64,
}

impl Log<'_> {
    fn read(&self, bb: u64, n: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; (n * BB) as usize];
        self.dev.read_at(&mut buf, self.start + bb * BB)?;
        Ok(buf)
    }

    /// The cycle number stamped on basic block `bb` (xlog_get_cycle).
    fn cycle(&self, bb: u64) -> Result<u32> {
        let b = self.read(bb, 1)?;
        Ok(cycle_of(&b))
    }
}

fn cycle_of(b: &[u8]) -> u32 {
    if be32(b, 0) == XLOG_HEADER_MAGIC_NUM {
        be32(b, 4)
    } else {
        be32(b, 0)
    }
}

/// Check the internal log of `logblocks` filesystem blocks at byte `start`.
pub(crate) fn check(dev: &Device, start: u64, logblocks: u64, blocksize: u64) -> Result<LogState> {
    let bbs = logblocks * (blocksize / BB);
    if bbs < 2 {
        return Err(Error::corrupt(format!("xfs: log of {logblocks} blocks")));
    }
    let log = Log { dev, start, bbs };
    let first = log.cycle(0)?;
    if first == 0 {
        // A log nobody ever wrote to.
        return Ok(LogState::Clean);
    }
    let last = log.cycle(bbs - 1)?;
    let (mut head, stop) = if last == 0 {
        // Never wrapped: the head is the first zeroed block.
        (first_with(&log, 0, bbs - 1, |c| c == 0)?, 0)
    } else if first == last {
        (bbs, last.wrapping_sub(1))
    } else {
        (first_with(&log, 0, bbs - 1, |c| c == last)?, last)
    };
    // A torn write leaves blocks of the old cycle just behind the head.
    let from = head.saturating_sub(SCAN_BBS);
    if head > from {
        let window = log.read(from, head - from)?;
        if let Some(i) = window
            .chunks_exact(BB as usize)
            .position(|b| cycle_of(b) == stop)
        {
            head = from + i as u64;
        }
    }
    let head = head % bbs;

    // The last record header before the head.
    let mut rec = None;
    let limit = SCAN_BBS.min(bbs);
    for back in 1..=limit {
        let bb = (head + bbs - back) % bbs;
        let b = log.read(bb, 1)?;
        if be32(&b, 0) == XLOG_HEADER_MAGIC_NUM {
            rec = Some((bb, b));
            break;
        }
    }
    let Some((rec_bb, h)) = rec else {
        return Ok(LogState::Dirty(
            "no log record header found before the head".into(),
        ));
    };
    let version = be32(&h, 8);
    let len = u64::from(be32(&h, 12));
    let num_logops = be32(&h, 40);
    let size = u64::from(be32(&h, 320));
    let hblks = if version & 2 != 0 && size > XLOG_HEADER_CYCLE_SIZE {
        size.div_ceil(XLOG_HEADER_CYCLE_SIZE)
    } else {
        1
    };
    let after = (rec_bb + hblks + len.div_ceil(BB)) % bbs;
    if after != head || num_logops != 1 {
        return Ok(LogState::Dirty(format!(
            "the last log record (block {rec_bb}) is not a lone unmount record ending at the head (block {head})"
        )));
    }
    let data = log.read((rec_bb + hblks) % bbs, 1)?;
    // xlog_op_header: tid, len, clientid, flags.
    if data[9] & XLOG_UNMOUNT_TRANS == 0 {
        return Ok(LogState::Dirty(format!(
            "the last log record (block {rec_bb}) is not an unmount record"
        )));
    }
    Ok(LogState::Clean)
}

/// The first block in `[lo, hi]` whose cycle satisfies `want`, where the
/// blocks before it do not (xlog_find_cycle_start's binary search); `hi` is
/// known to satisfy it.
fn first_with(log: &Log<'_>, mut lo: u64, mut hi: u64, want: impl Fn(u32) -> bool) -> Result<u64> {
    // Invariant: `hi` satisfies `want`; everything before `lo` does not.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if want(log.cycle(mid)?) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let _ = log.bbs;
    Ok(hi)
}

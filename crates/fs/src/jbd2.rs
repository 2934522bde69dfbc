//! Replaying an ext3/ext4 journal (jbd2) in memory, read-only.
//!
//! A filesystem that was not cleanly unmounted (a crashed VM, a snapshot of a
//! running one) has committed metadata in its journal that is not yet at its
//! home location; the kernel replays it at mount. We compute what the replay
//! would write, as a map from filesystem block to the journal block holding
//! its newest committed copy, and read through that map ([`Replayed`]); the
//! image is never written.
//!
//! The algorithm is the kernel's (fs/jbd2/recovery.c): scan the log from
//! `s_start` with sequence `s_sequence` until a block is not the expected
//! descriptor/commit/revoke block of the expected sequence; only transactions
//! with a commit block count; a block revoked by a transaction at or after
//! the one that logged it is not replayed; later copies win. On-disk format:
//! big-endian, 12-byte block headers (magic 0xC03B3998, type, sequence);
//! descriptor blocks hold tags (block number, flags, high bits with 64bit;
//! 8/12 bytes, +2 with csum v2, 16 with csum v3; a 16-byte UUID follows a tag
//! without SAME_UUID; csum v2/v3 reserve a 4-byte tail), each naming the
//! next data block of the log; an escaped block had its leading magic
//! zeroed. Checksums are not verified. Fast commits and external journals
//! are refused.

use std::collections::HashMap;

use crate::{Error, Result};
use gx_disk::bytes::{be16, be32};

pub(crate) const MAGIC: u32 = 0xC03B_3998;
const T_DESCRIPTOR: u32 = 1;
const T_COMMIT: u32 = 2;
const T_SB_V1: u32 = 3;
const T_SB_V2: u32 = 4;
const T_REVOKE: u32 = 5;
const INCOMPAT_REVOKE: u32 = 0x1;
const INCOMPAT_64BIT: u32 = 0x2;
const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
const INCOMPAT_CSUM_V2: u32 = 0x8;
const INCOMPAT_CSUM_V3: u32 = 0x10;
const INCOMPAT_FAST_COMMIT: u32 = 0x20;
const FLAG_ESCAPE: u32 = 1;
const FLAG_SAME_UUID: u32 = 2;
const FLAG_LAST_TAG: u32 = 8;

/// A big-endian u16 field, widened (tag flags are 16 or 32 bits wide).
fn be16w(b: &[u8], at: usize) -> Result<u32> {
    be16(b, at).map(u32::from)
}

/// The most blocks one replay may log (tags kept while scanning, a few tens
/// of bytes each) and revoke: a full 1 GiB journal of 4 KiB blocks logs at
/// most 262,144. Past this the replay is left to the kernel (`Unsupported`).
const MAX_LOGGED: usize = 1 << 19;

/// Where each journal block is on the filesystem: runs of contiguous blocks
/// (a journal is one or a few extents), so its size costs nothing.
#[derive(Debug, Default)]
pub(crate) struct JournalMap {
    /// (first journal block, first filesystem block, length), in order.
    runs: Vec<(u64, u64, u64)>,
    len: u64,
}

impl JournalMap {
    /// Appends `count` journal blocks stored from filesystem block `phys` on.
    pub(crate) fn push_run(&mut self, phys: u64, count: u64) {
        match self.runs.last_mut() {
            Some((_, p, n)) if *p + *n == phys => *n += count,
            _ => self.runs.push((self.len, phys, count)),
        }
        self.len += count;
    }

    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The filesystem block holding journal block `i`.
    pub(crate) fn get(&self, i: u64) -> Option<u64> {
        let at = self.runs.partition_point(|&(start, _, _)| start <= i);
        let &(start, phys, n) = self.runs.get(at.checked_sub(1)?)?;
        (i - start < n).then(|| phys + (i - start))
    }
}

/// Where the replayed content of filesystem blocks is.
#[derive(Debug, Default)]
pub(crate) struct ReplayMap {
    /// Filesystem block -> (filesystem block of its journal copy, escaped).
    pub blocks: HashMap<u64, (u64, bool)>,
    /// Committed transactions found.
    pub transactions: u32,
}

/// One logged block of the scan: which transaction, where it goes, where
/// its copy is (journal-relative block), escaped or not.
struct Logged {
    tid: u32,
    target: u64,
    jblock: u32,
    escaped: bool,
}

/// Computes the replay of the journal whose blocks are at filesystem blocks
/// `jmap` (journal block i is at `jmap.get(i)`), reading blocks with `read`.
/// `fs_blocks`: the filesystem size, for checking targets.
pub(crate) fn replay(
    jmap: &JournalMap,
    block_size: u32,
    fs_blocks: u64,
    read: &dyn Fn(u64) -> Result<Vec<u8>>,
    name: &str,
) -> Result<ReplayMap> {
    let corrupt = |why: String| Error::corrupt(format!("{name}: journal: {why}"));
    let jread = |i: u32| -> Result<Vec<u8>> {
        let b = jmap
            .get(u64::from(i))
            .ok_or_else(|| corrupt(format!("block {i} is past the journal's end")))?;
        read(b)
    };
    let sb = jread(0)?;
    if be32(&sb, 0)? != MAGIC || !matches!(be32(&sb, 4)?, T_SB_V1 | T_SB_V2) {
        return Err(corrupt("bad superblock".into()));
    }
    if be32(&sb, 0x0c)? != block_size {
        return Err(Error::unsupported(format!(
            "{name}: journal block size {} differs from the filesystem's {block_size}",
            be32(&sb, 0x0c)?
        )));
    }
    let maxlen = be32(&sb, 0x10)?;
    let first = be32(&sb, 0x14)?;
    let mut tid = be32(&sb, 0x18)?;
    let start = be32(&sb, 0x1c)?;
    if start == 0 {
        return Ok(ReplayMap::default());
    }
    let incompat = if be32(&sb, 4)? == T_SB_V2 {
        be32(&sb, 0x28)?
    } else {
        0
    };
    let known = INCOMPAT_REVOKE
        | INCOMPAT_64BIT
        | INCOMPAT_ASYNC_COMMIT
        | INCOMPAT_CSUM_V2
        | INCOMPAT_CSUM_V3
        | INCOMPAT_FAST_COMMIT;
    if incompat & !known != 0 {
        return Err(Error::unsupported(format!(
            "{name}: journal has unknown incompat features {:#x}",
            incompat & !known
        )));
    }
    if incompat & INCOMPAT_FAST_COMMIT != 0 {
        return Err(Error::unsupported(format!(
            "{name}: replaying a journal with fast commits is not supported by the direct engine"
        )));
    }
    if first == 0 || first >= maxlen || start < first || start >= maxlen {
        return Err(corrupt(format!(
            "log bounds first {first}, start {start}, length {maxlen} are inconsistent"
        )));
    }
    if u64::from(maxlen) > jmap.len() {
        return Err(corrupt(format!(
            "{maxlen} blocks, but the journal inode has {}",
            jmap.len()
        )));
    }
    let too_many = |what: &str| {
        Error::unsupported(format!(
            "{name}: journal: more than {MAX_LOGGED} {what} to replay; the direct engine \
             leaves such a replay to the kernel"
        ))
    };
    let wide = incompat & INCOMPAT_64BIT != 0;
    let csum3 = incompat & INCOMPAT_CSUM_V3 != 0;
    let csum2 = incompat & INCOMPAT_CSUM_V2 != 0;
    let tag_bytes = if csum3 {
        16
    } else {
        8 + if csum2 { 2 } else { 0 } + if wide { 4 } else { 0 }
    };
    let tail = if csum2 || csum3 { 4 } else { 0 };
    let bs = block_size as usize;
    let next = |b: u32| if b + 1 >= maxlen { first } else { b + 1 };

    // PASS_SCAN + PASS_REVOKE: committed transactions' tags and revokes.
    let mut committed: Vec<Logged> = Vec::new();
    let mut pending: Vec<Logged> = Vec::new();
    let mut revoked: HashMap<u64, u32> = HashMap::new();
    let mut pending_revokes: Vec<u64> = Vec::new();
    let mut transactions = 0u32;
    let mut at = start;
    let mut steps = 0u32;
    loop {
        steps += 1;
        if steps > maxlen {
            break;
        }
        let b = jread(at)?;
        if be32(&b, 0)? != MAGIC || be32(&b, 8)? != tid {
            break;
        }
        match be32(&b, 4)? {
            T_DESCRIPTOR => {
                let mut pos = 12;
                let mut data = at;
                while pos + tag_bytes <= bs - tail {
                    let low = u64::from(be32(&b, pos)?);
                    let flags = if csum3 {
                        be32(&b, pos + 4)?
                    } else {
                        be16w(&b, pos + 6)?
                    };
                    // The high half sits at +8 in both tag layouts (64bit only).
                    let high = if wide {
                        u64::from(be32(&b, pos + 8)?)
                    } else {
                        0
                    };
                    let target = if wide { (high << 32) | low } else { low };
                    data = next(data);
                    steps += 1;
                    if target >= fs_blocks {
                        return Err(corrupt(format!(
                            "transaction {tid} logs block {target}, past the filesystem's end"
                        )));
                    }
                    if committed.len() + pending.len() >= MAX_LOGGED {
                        return Err(too_many("logged blocks"));
                    }
                    pending.push(Logged {
                        tid,
                        target,
                        jblock: data,
                        escaped: flags & FLAG_ESCAPE != 0,
                    });
                    pos += tag_bytes;
                    if flags & FLAG_SAME_UUID == 0 {
                        pos += 16;
                    }
                    if flags & FLAG_LAST_TAG != 0 {
                        break;
                    }
                }
                at = data;
            }
            T_COMMIT => {
                committed.append(&mut pending);
                for r in pending_revokes.drain(..) {
                    let e = revoked.entry(r).or_insert(tid);
                    *e = (*e).max(tid);
                }
                transactions += 1;
                tid = tid.wrapping_add(1);
            }
            T_REVOKE => {
                let count = (be32(&b, 12)? as usize).min(bs - tail);
                let rec = if wide { 8 } else { 4 };
                let mut pos = 16;
                while pos + rec <= count {
                    let r = if wide {
                        (u64::from(be32(&b, pos)?) << 32) | u64::from(be32(&b, pos + 4)?)
                    } else {
                        u64::from(be32(&b, pos)?)
                    };
                    if revoked.len() + pending_revokes.len() >= MAX_LOGGED {
                        return Err(too_many("revoked blocks"));
                    }
                    pending_revokes.push(r);
                    pos += rec;
                }
            }
            _ => break,
        }
        at = next(at);
    }

    // PASS_REPLAY: in log order, later copies replacing earlier ones.
    let mut blocks = HashMap::new();
    for l in committed {
        if revoked.get(&l.target).is_some_and(|&r| r >= l.tid) {
            continue;
        }
        let phys = jmap
            .get(u64::from(l.jblock))
            .ok_or_else(|| corrupt(format!("block {} is past the journal's end", l.jblock)))?;
        blocks.insert(l.target, (phys, l.escaped));
    }
    Ok(ReplayMap {
        blocks,
        transactions,
    })
}

/// Linux's `crc32c_le(seed, data)`: CRC-32C (Castagnoli) with the register
/// seeded and no final inversion, as ext4 checksums use it.
pub(crate) fn crc32c_le(seed: u32, data: &[u8]) -> u32 {
    let mut crc = seed;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A device read through a replay: replayed blocks come from their journal
/// copies (escaped ones with their magic restored), the rest from `base`;
/// the ext4 superblock (bytes 1024..2048) reads as `superblock` once set
/// (the replayed one with its recover flag cleared: see `Ext4Fs::open`).
pub(crate) struct Replayed {
    pub base: gx_disk::Device,
    pub block_size: u64,
    pub map: ReplayMap,
    pub superblock: Option<Vec<u8>>,
}

impl gx_disk::BlockDevice for Replayed {
    fn size(&self) -> u64 {
        self.base.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> gx_disk::Result<()> {
        let bs = self.block_size;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let block = pos / bs;
            let within = pos % bs;
            let n = ((bs - within) as usize).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            match self.map.blocks.get(&block) {
                Some(&(src, escaped)) => {
                    self.base.read_at(dst, src * bs + within)?;
                    if escaped && within < 4 {
                        let magic = MAGIC.to_be_bytes();
                        for (i, d) in dst.iter_mut().enumerate().take(4 - within as usize) {
                            *d = magic[within as usize + i];
                        }
                    }
                }
                None => self.base.read_at(dst, pos)?,
            }
            done += n;
        }
        if let Some(sb) = &self.superblock {
            // Overlap of [offset, offset + len) with [1024, 1024 + sb.len()).
            let (lo, hi) = (1024u64, 1024 + sb.len() as u64);
            let (a, b) = (offset.max(lo), (offset + buf.len() as u64).min(hi));
            if a < b {
                buf[(a - offset) as usize..(b - offset) as usize]
                    .copy_from_slice(&sb[(a - lo) as usize..(b - lo) as usize]);
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "{} (journal replayed in memory: {} transactions)",
            self.base.describe(),
            self.map.transactions
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BS: u32 = 1024;

    fn header(kind: u32, seq: u32) -> Vec<u8> {
        let mut b = vec![0u8; BS as usize];
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&kind.to_be_bytes());
        b[8..12].copy_from_slice(&seq.to_be_bytes());
        b
    }

    fn superblock(maxlen: u32, first: u32, seq: u32, start: u32, incompat: u32) -> Vec<u8> {
        let mut b = header(T_SB_V2, 0);
        b[0x0c..0x10].copy_from_slice(&BS.to_be_bytes());
        b[0x10..0x14].copy_from_slice(&maxlen.to_be_bytes());
        b[0x14..0x18].copy_from_slice(&first.to_be_bytes());
        b[0x18..0x1c].copy_from_slice(&seq.to_be_bytes());
        b[0x1c..0x20].copy_from_slice(&start.to_be_bytes());
        b[0x28..0x2c].copy_from_slice(&incompat.to_be_bytes());
        b
    }

    /// Journal blocks 0..n stored at "filesystem blocks" 100..100+n.
    fn run(blocks: &[Vec<u8>], fs_blocks: u64) -> Result<ReplayMap> {
        let mut jmap = JournalMap::default();
        jmap.push_run(100, blocks.len() as u64);
        let read = |b: u64| -> Result<Vec<u8>> {
            blocks
                .get((b - 100) as usize)
                .cloned()
                .ok_or_else(|| Error::corrupt("past the end"))
        };
        replay(&jmap, BS, fs_blocks, &read, "test")
    }

    fn descriptor(seq: u32, targets: &[u32]) -> Vec<u8> {
        let mut b = header(T_DESCRIPTOR, seq);
        let mut pos = 12;
        for (i, t) in targets.iter().enumerate() {
            b[pos..pos + 4].copy_from_slice(&t.to_be_bytes());
            let mut flags = FLAG_SAME_UUID;
            if i + 1 == targets.len() {
                flags |= FLAG_LAST_TAG;
            }
            b[pos + 6..pos + 8].copy_from_slice(&(flags as u16).to_be_bytes());
            pos += 8;
        }
        b
    }

    #[test]
    fn committed_transactions_only_newest_copy_wins() {
        let mut j = vec![
            superblock(16, 1, 7, 1, 0),
            descriptor(7, &[5, 6]),
            vec![1; BS as usize],
            vec![2; BS as usize],
            header(T_COMMIT, 7),
            descriptor(8, &[5]),
            vec![3; BS as usize],
            header(T_COMMIT, 8),
            // Transaction 9 never commits.
            descriptor(9, &[6]),
            vec![4; BS as usize],
        ];
        j.resize(16, vec![0; BS as usize]);
        let m = run(&j, 50).unwrap();
        assert_eq!(m.transactions, 2);
        assert_eq!(m.blocks.get(&5), Some(&(106, false)));
        assert_eq!(m.blocks.get(&6), Some(&(103, false)));
        assert_eq!(m.blocks.len(), 2);
    }

    #[test]
    fn hostile_journals_are_errors_not_panics() {
        // Clean: nothing to do.
        assert!(
            run(&[superblock(16, 1, 1, 0, 0)], 50)
                .unwrap()
                .blocks
                .is_empty()
        );
        // Bad magic, bad bounds, unknown features, fast commits.
        assert!(run(&[vec![0; BS as usize]], 50).is_err());
        assert!(run(&[superblock(16, 0, 1, 1, 0)], 50).is_err());
        assert!(run(&[superblock(16, 1, 1, 20, 0)], 50).is_err());
        assert!(run(&[superblock(1 << 20, 1, 1, 1, 0)], 50).is_err());
        assert!(run(&[superblock(16, 1, 1, 1, 0x100)], 50).is_err());
        assert!(run(&[superblock(16, 1, 1, 1, INCOMPAT_FAST_COMMIT)], 50).is_err());
        // A logged block past the filesystem's end.
        let j = vec![
            superblock(4, 1, 1, 1, 0),
            descriptor(1, &[99]),
            vec![0; BS as usize],
            header(T_COMMIT, 1),
        ];
        assert!(run(&j, 50).is_err());
        // A descriptor whose tags never end wraps around the ring: bounded.
        let mut d = descriptor(1, &[5]);
        for pos in (12..BS as usize - 8).step_by(8) {
            d[pos..pos + 4].copy_from_slice(&5u32.to_be_bytes());
            d[pos + 6..pos + 8].copy_from_slice(&(FLAG_SAME_UUID as u16).to_be_bytes());
        }
        let j = vec![
            superblock(4, 1, 1, 1, 0),
            d,
            header(T_COMMIT, 1),
            header(T_COMMIT, 2),
        ];
        let _ = run(&j, 50);
        // Every block a commit of the next sequence: the walk stops after
        // one turn of the ring.
        let mut j = vec![superblock(5, 1, 1, 1, 0)];
        for s in 1..5 {
            j.push(header(T_COMMIT, s));
        }
        assert_eq!(run(&j, 50).unwrap().transactions, 4);
    }

    #[test]
    fn journal_map_runs() {
        let mut m = JournalMap::default();
        m.push_run(10, 3);
        m.push_run(13, 2);
        m.push_run(100, 1);
        assert_eq!((m.len(), m.runs()), (6, 2));
        let got: Vec<_> = (0..7).map(|i| m.get(i)).collect();
        assert_eq!(
            got,
            [
                Some(10),
                Some(11),
                Some(12),
                Some(13),
                Some(14),
                Some(100),
                None
            ]
        );
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // CRC-32C("123456789") = 0xE3069283 with the usual inversions.
        assert_eq!(!crc32c_le(!0, b"123456789"), 0xE306_9283);
    }
}

//! The host copy: byte ranges of the source disk to their new places on the
//! output, in large blocks, by several threads, reading only what the source
//! says may hold data ([`BlockDevice::data_ranges`]: holes of a raw file,
//! unallocated clusters of a qcow2 and its backing chain) and writing only
//! blocks that are not all zeros, so the output stays sparse (holes in a raw
//! file, unallocated clusters in a qcow2).
//!
//! Like virt-resize's sparse copy it assumes the output reads as zeros
//! where it writes nothing (a new file); `sparse: false` writes every byte.
//! It never writes the source: only `read_at` and `data_ranges` are called
//! on it.

use gx_disk::BlockDevice;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Copy `len` bytes from `src_offset` on the source to `dst_offset` on the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub src_offset: u64,
    pub dst_offset: u64,
    pub len: u64,
}

/// How to copy.
#[derive(Debug, Clone, Copy)]
pub struct CopyOptions {
    /// Skip holes and all-zero blocks (the output must read as zeros).
    pub sparse: bool,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Bytes a worker reads at a time; a multiple of [`ZERO_BLOCK`]. 256 KiB:
    /// large for the disk, small enough that a block read, checked for zeros
    /// and written stays in the CPU's cache (measured here with
    /// scripts/bench-resize: 4 MiB blocks were several times slower).
    pub block: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            sparse: true,
            threads: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(1, 4),
            block: 256 << 10,
        }
    }
}

/// Granularity of the zero check, aligned to output offsets: a file
/// system's block (a hole in a raw output needs a whole one).
pub const ZERO_BLOCK: u64 = 4096;

/// What a copy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Bytes read from the source (holes are not read).
    pub read: u64,
    /// Bytes written to the output.
    pub written: u64,
}

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Disk(#[from] gx_disk::Error),
}

/// The source is asked for its data runs this much at a time, which bounds
/// the run lists a fragmented (or hostile) image can make us hold.
const WINDOW: u64 = 1 << 30;

/// Cut `[src, src+len)` (landing at `dst`) into pieces that end at output
/// offsets that are multiples of `block`, so writes stay aligned.
fn split(src: u64, dst: u64, len: u64, block: u64, out: &mut Vec<(u64, u64, u64)>) {
    let mut done = 0u64;
    while done < len {
        let d = dst + done;
        let n = (block - d % block).min(len - done);
        out.push((src + done, d, n));
        done += n;
    }
}

/// A block of zeros to compare with: `==` on slices is a memcmp, which
/// libc does with wide vector loads.
static ZEROS: [u8; ZERO_BLOCK as usize] = [0; ZERO_BLOCK as usize];

fn is_zero(b: &[u8]) -> bool {
    b.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// Write the non-zero [`ZERO_BLOCK`]s of `buf` (output offset `dst`).
fn write_nonzero(dst_dev: &dyn BlockDevice, buf: &[u8], dst: u64) -> gx_disk::Result<u64> {
    let mut written = 0u64;
    let mut run: Option<usize> = None;
    let mut i = 0usize;
    while i < buf.len() {
        // Pieces end at output offsets that are multiples of ZERO_BLOCK.
        let at = dst + i as u64;
        let piece = (ZERO_BLOCK - at % ZERO_BLOCK).min((buf.len() - i) as u64) as usize;
        let zero = is_zero(&buf[i..i + piece]);
        match (zero, run) {
            (false, None) => run = Some(i),
            (true, Some(s)) => {
                dst_dev.write_at(&buf[s..i], dst + s as u64)?;
                written += (i - s) as u64;
                run = None;
            }
            _ => {}
        }
        i += piece;
    }
    if let Some(s) = run {
        dst_dev.write_at(&buf[s..], dst + s as u64)?;
        written += (buf.len() - s) as u64;
    }
    Ok(written)
}

/// Run the jobs. `done` counts source bytes dealt with (holes included), for
/// a progress display; `cancel` stops the workers at the next piece.
pub fn copy(
    src: &dyn BlockDevice,
    dst: &dyn BlockDevice,
    jobs: &[Job],
    opts: &CopyOptions,
    done: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<CopyStats, CopyError> {
    let block = (opts.block as u64).max(ZERO_BLOCK) / ZERO_BLOCK * ZERO_BLOCK;
    let mut stats = CopyStats::default();
    let mut pieces = Vec::new();
    for job in jobs {
        let mut off = 0u64;
        while off < job.len {
            if cancel.load(Ordering::Relaxed) {
                return Err(CopyError::Interrupted);
            }
            let wlen = WINDOW.min(job.len - off);
            let (s, d) = (job.src_offset + off, job.dst_offset + off);
            pieces.clear();
            if opts.sparse {
                // Holes are not read: the output already reads as zeros there.
                let mut data = 0u64;
                for (ro, rl) in src.data_ranges(s, wlen)? {
                    split(ro, d + (ro - s), rl, block, &mut pieces);
                    data += rl;
                }
                done.fetch_add(wlen - data, Ordering::Relaxed);
            } else {
                split(s, d, wlen, block, &mut pieces);
            }
            let st = run_workers(src, dst, &pieces, opts, block, done, cancel)?;
            stats.read += st.read;
            stats.written += st.written;
            off += wlen;
        }
    }
    Ok(stats)
}

/// Copy `pieces` with `opts.threads` workers taking them in turn.
fn run_workers(
    src: &dyn BlockDevice,
    dst: &dyn BlockDevice,
    pieces: &[(u64, u64, u64)],
    opts: &CopyOptions,
    block: u64,
    done: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<CopyStats, CopyError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = opts.threads.clamp(1, 64).min(pieces.len().max(1));
    let work = || -> Result<CopyStats, CopyError> {
        let mut buf = vec![0u8; block as usize];
        let mut st = CopyStats::default();
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(CopyError::Interrupted);
            }
            if failed.load(Ordering::Relaxed) {
                return Ok(st);
            }
            let Some(&(s, d, len)) = pieces.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return Ok(st);
            };
            let b = &mut buf[..len as usize];
            src.read_at(b, s)?;
            st.read += len;
            if opts.sparse {
                st.written += write_nonzero(dst, b, d)?;
            } else {
                dst.write_at(b, d)?;
                st.written += len;
            }
            done.fetch_add(len, Ordering::Relaxed);
        }
    };
    let results: Vec<Result<CopyStats, CopyError>> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(|| {
                    let r = work();
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(CopyError::Disk(gx_disk::Error::new(
                        gx_disk::ErrorKind::Io,
                        "a copy thread panicked",
                    )))
                })
            })
            .collect()
    });
    let mut stats = CopyStats::default();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(s) => {
                stats.read += s.read;
                stats.written += s.written;
            }
            // A real error wins over the "interrupted" of the other workers.
            Err(CopyError::Interrupted) => {
                if first_err.is_none() {
                    first_err = Some(CopyError::Interrupted);
                }
            }
            Err(e) => {
                if !matches!(first_err, Some(CopyError::Disk(_))) {
                    first_err = Some(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gx_disk::MemDevice;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| {
                if (i / 5000) % 3 == 0 {
                    0
                } else {
                    (i % 251) as u8 + 1
                }
            })
            .collect()
    }

    #[test]
    fn pieces_end_on_block_boundaries() {
        let mut p = Vec::new();
        split(100, 4000, 20000, 8192, &mut p);
        split(0, 65536, 8192, 8192, &mut p);
        split(7, 9, 0, 8192, &mut p);
        assert_eq!(
            p,
            vec![
                (100, 4000, 4192),
                (4292, 8192, 8192),
                (12484, 16384, 7616),
                (0, 65536, 8192)
            ]
        );
    }

    #[test]
    fn copies_exactly_and_skips_zeros() {
        let data = pattern(300_000);
        let src = MemDevice::new(data.clone(), false, "src");
        for sparse in [true, false] {
            for threads in [1, 3] {
                let dst = MemDevice::new(vec![0u8; 400_000], true, "dst");
                let jobs = [
                    Job {
                        src_offset: 1000,
                        dst_offset: 5120,
                        len: 150_000,
                    },
                    Job {
                        src_offset: 200_000,
                        dst_offset: 300_000,
                        len: 100_000,
                    },
                ];
                let done = AtomicU64::new(0);
                let opts = CopyOptions {
                    sparse,
                    threads,
                    block: 16384,
                };
                let st = copy(&src, &dst, &jobs, &opts, &done, &AtomicBool::new(false)).unwrap();
                assert_eq!(done.load(Ordering::Relaxed), 250_000);
                let mut out = vec![0u8; 400_000];
                dst.read_at(&mut out, 0).unwrap();
                let mut want = vec![0u8; 400_000];
                want[5120..155_120].copy_from_slice(&data[1000..151_000]);
                want[300_000..400_000].copy_from_slice(&data[200_000..300_000]);
                assert!(out == want, "sparse {sparse} threads {threads}");
                if sparse {
                    assert!(st.written < 250_000, "{st:?}");
                } else {
                    assert_eq!(st.written, 250_000);
                }
            }
        }
    }

    #[test]
    fn cancel_stops() {
        let src = MemDevice::new(vec![1u8; 1 << 20], false, "src");
        let dst = MemDevice::new(vec![0u8; 1 << 20], true, "dst");
        let jobs = [Job {
            src_offset: 0,
            dst_offset: 0,
            len: 1 << 20,
        }];
        let r = copy(
            &src,
            &dst,
            &jobs,
            &CopyOptions::default(),
            &AtomicU64::new(0),
            &AtomicBool::new(true),
        );
        assert!(matches!(r, Err(CopyError::Interrupted)));
    }
}

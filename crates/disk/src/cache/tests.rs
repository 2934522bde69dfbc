//! The cache against uncached reads of the same device (the oracle is the
//! device itself, or `qemu-img convert`'s raw copy of a qcow2), under
//! eviction, threads, injected errors and files rewritten underneath.

use super::*;
use crate::{ErrorKind, MemDevice, RawDevice};
use std::sync::atomic::AtomicBool;

/// xorshift64*: reproducible offsets without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    (0..len).map(|_| r.next() as u8).collect()
}

/// Random reads, many crossing chunk edges (a start near an edge, lengths
/// up to a few chunks, and some past BYPASS), compared byte for byte.
fn agree(cached: &dyn BlockDevice, oracle: &dyn BlockDevice, seed: u64, n: usize) {
    assert_eq!(cached.size(), oracle.size());
    let size = oracle.size();
    let mut r = Rng(seed);
    for i in 0..n {
        let off = match i % 3 {
            0 => r.below(size),
            // Just before a chunk edge.
            1 => {
                let edge = r.below(size / CHUNK as u64 + 1) * CHUNK as u64;
                edge.saturating_sub(r.below(64)).min(size - 1)
            }
            _ => (size - 1).saturating_sub(r.below(3 * CHUNK as u64)),
        };
        let max = (size - off).min(if i % 17 == 0 { 2 * BYPASS } else { 3 * CHUNK } as u64);
        let len = r.below(max + 1) as usize;
        let mut a = vec![0u8; len];
        let mut b = vec![1u8; len];
        cached.read_at(&mut a, off).unwrap();
        oracle.read_at(&mut b, off).unwrap();
        assert!(a == b, "read {i}: {len} bytes at {off} differ");
    }
}

#[test]
fn same_bytes_as_uncached_on_memory_with_eviction() {
    // Not a multiple of CHUNK, so the last chunk is short.
    let data = pattern(40 * CHUNK + 1234, 7);
    let mem: Device = Arc::new(MemDevice::new(data, false, "mem"));
    // A budget of 5 chunks: constant eviction.
    let c = CachedDevice::new(mem.clone(), 5 * CHUNK);
    agree(&c, mem.as_ref(), 42, 5000);
    let st = c.store.lock();
    assert!(st.bytes <= 5 * CHUNK, "{} bytes held", st.bytes);
    assert_eq!(
        st.bytes,
        st.chunks.values().map(|s| s.data.len()).sum::<usize>()
    );
    assert_eq!(st.ring.len(), st.chunks.len());
}

#[test]
fn raw_file_through_for_image() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.img");
    std::fs::write(&p, pattern(25 * CHUNK + 77, 3)).unwrap();
    let raw: Device = Arc::new(RawDevice::open_ro(&p).unwrap());
    let c = CachedDevice::for_image(raw.clone(), &p, "raw", 8 * CHUNK);
    assert!(!Arc::ptr_eq(&c, &raw), "a quiet image is cached");
    agree(c.as_ref(), raw.as_ref(), 9, 3000);
}

fn qemu_img_raw(src: &Path, dir: &Path) -> Option<std::path::PathBuf> {
    let out = dir.join("oracle.raw");
    let ok = std::process::Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(src)
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(out)
    } else {
        gx_testdata::skip_or_fail!("qemu-img is not installed");
        None
    }
}

#[test]
fn qcow2_and_backing_chain_match_qemu_img() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["linux.qcow2", "chain-top.qcow2", "compressed.qcow2"] {
        let img = gx_testdata::image(name);
        let Some(raw) = qemu_img_raw(&img, dir.path()) else {
            return;
        };
        let q: Device = Arc::new(crate::Qcow2Device::open(&img, false).unwrap());
        let oracle = RawDevice::open_ro(&raw).unwrap();
        let c = CachedDevice::for_image(q, &img, "qcow2", 6 * CHUNK);
        agree(c.as_ref(), &oracle, 11, 1500);
    }
}

#[test]
fn concurrent_readers_agree() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.img");
    let data = pattern(64 * CHUNK + 5, 5);
    std::fs::write(&p, &data).unwrap();
    let data = Arc::new(data);
    // Two devices on the same file share one store, as two Handles would.
    let a = CachedDevice::for_image(
        Arc::new(RawDevice::open_ro(&p).unwrap()),
        &p,
        "raw",
        10 * CHUNK,
    );
    let b = CachedDevice::for_image(
        Arc::new(RawDevice::open_ro(&p).unwrap()),
        &p,
        "raw",
        10 * CHUNK,
    );
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let dev = if t % 2 == 0 { a.clone() } else { b.clone() };
            let data = data.clone();
            std::thread::spawn(move || {
                let mut r = Rng(t + 100);
                for _ in 0..2000 {
                    let off = r.below(data.len() as u64);
                    let len = r.below((data.len() as u64 - off).min(2 * CHUNK as u64) + 1);
                    let mut buf = vec![0u8; len as usize];
                    dev.read_at(&mut buf, off).unwrap();
                    let o = off as usize;
                    assert!(buf[..] == data[o..o + buf.len()], "thread {t} at {off}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// A device that fails every read touching `[bad, bad + 1)` while `failing`.
struct Flaky {
    inner: MemDevice,
    bad: u64,
    failing: AtomicBool,
    reads: AtomicU64,
}

impl BlockDevice for Flaky {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let end = offset + buf.len() as u64;
        if self.failing.load(Ordering::Relaxed) && offset <= self.bad && self.bad < end {
            return Err(crate::Error::new(ErrorKind::Io, "injected: EIO"));
        }
        self.inner.read_at(buf, offset)
    }
    fn describe(&self) -> String {
        "flaky".into()
    }
}

#[test]
fn io_error_surfaces_and_is_not_cached() {
    let data = pattern(8 * CHUNK, 1);
    let flaky = Arc::new(Flaky {
        inner: MemDevice::new(data.clone(), false, "m"),
        bad: 3 * CHUNK as u64 + 10,
        failing: AtomicBool::new(true),
        reads: AtomicU64::new(0),
    });
    let c = CachedDevice::new(flaky.clone(), 8 * CHUNK);
    let mut b = vec![0u8; 100];
    c.read_at(&mut b, 0).unwrap();
    c.read_at(&mut b, CHUNK as u64).unwrap();
    let e = c.read_at(&mut b, 3 * CHUNK as u64).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("injected"), "{e}");
    // Still an error on the next try: nothing was cached in its place.
    assert!(c.read_at(&mut b, 3 * CHUNK as u64).is_err());
    // The big-read bypass reports it too.
    let mut big = vec![0u8; BYPASS];
    assert!(c.read_at(&mut big, 3 * CHUNK as u64).is_err());
    // Healed: the real bytes, read from the device again.
    flaky.failing.store(false, Ordering::Relaxed);
    let before = flaky.reads.load(Ordering::Relaxed);
    c.read_at(&mut b, 3 * CHUNK as u64).unwrap();
    assert_eq!(b[..], data[3 * CHUNK..3 * CHUNK + 100]);
    assert!(flaky.reads.load(Ordering::Relaxed) > before);
}

#[test]
fn file_rewritten_underneath_is_read_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.img");
    std::fs::write(&p, vec![0xaa; 4 * CHUNK]).unwrap();
    let c = CachedDevice::for_image(
        Arc::new(RawDevice::open_ro(&p).unwrap()),
        &p,
        "raw",
        4 * CHUNK,
    );
    let mut b = [0u8; 16];
    // Twice: the second touch keeps the chunk.
    c.read_at(&mut b, 100).unwrap();
    c.read_at(&mut b, 100).unwrap();
    assert_eq!(b, [0xaa; 16]);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&[0x55; 16], 100).unwrap();
        // Make the change visible even on a filesystem with coarse mtimes.
        f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
            .unwrap();
    }
    std::thread::sleep(REVALIDATE + Duration::from_millis(20));
    c.read_at(&mut b, 100).unwrap();
    assert_eq!(b, [0x55; 16], "stale bytes after the file changed");
}

#[test]
fn image_held_by_a_running_qemu_is_not_cached() {
    use nix::fcntl::{FcntlArg, fcntl};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("live.img");
    std::fs::write(&p, vec![1u8; CHUNK]).unwrap();
    // What QEMU holds while it may write: a shared lock on byte 101.
    let holder = std::fs::File::open(&p).unwrap();
    let fl = nix::libc::flock {
        l_type: nix::libc::F_RDLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 101,
        l_len: 1,
        l_pid: 0,
    };
    fcntl(&holder, FcntlArg::F_OFD_SETLK(&fl)).unwrap();
    let raw: Device = Arc::new(RawDevice::open_ro(&p).unwrap());
    let c = CachedDevice::for_image(raw.clone(), &p, "raw", DEFAULT_BUDGET);
    assert!(Arc::ptr_eq(&c, &raw), "a live image must not be cached");
    drop(holder);
    let c = CachedDevice::for_image(raw.clone(), &p, "raw", DEFAULT_BUDGET);
    assert!(!Arc::ptr_eq(&c, &raw));
}

fn counting(len: usize) -> Arc<Flaky> {
    Arc::new(Flaky {
        inner: MemDevice::new(pattern(len, 2), false, "m"),
        bad: u64::MAX,
        failing: AtomicBool::new(false),
        reads: AtomicU64::new(0),
    })
}

#[test]
fn streamed_data_reads_ahead() {
    let mem = counting(64 * CHUNK);
    let c = CachedDevice::new(mem.clone(), 64 * CHUNK);
    let mut b = vec![0u8; READAHEAD_MIN];
    for off in (0..64 * CHUNK as u64).step_by(READAHEAD_MIN) {
        c.read_at(&mut b, off).unwrap();
    }
    // The run read per miss doubles up to MAX_READAHEAD chunks: a few
    // device reads, not one per chunk or per read.
    let n = mem.reads.load(Ordering::Relaxed);
    let reads = (64 * CHUNK / READAHEAD_MIN) as u64;
    assert!(
        n <= reads / 2,
        "{n} device reads for a 64-chunk stream read in {reads} pieces"
    );
    assert_eq!(c.store.stats().device_reads, n);
}

#[test]
fn metadata_reads_do_not_read_ahead() {
    let mem = counting(64 * CHUNK);
    let c = CachedDevice::new(mem.clone(), 64 * CHUNK);
    let mut b = vec![0u8; 512];
    for off in (0..64 * CHUNK as u64).step_by(512) {
        c.read_at(&mut b, off).unwrap();
    }
    // Two reads per chunk (the first touch, then the chunk kept), never
    // more: no read-ahead, nothing read twice once kept.
    assert_eq!(mem.reads.load(Ordering::Relaxed), 2 * 64);
    let s = c.store.stats();
    let per_chunk = (CHUNK / 512) as u64;
    assert_eq!((s.misses, s.hits), (2 * 64, 64 * per_chunk - 2 * 64));
}

#[test]
fn a_read_over_missing_chunks_is_one_device_read() {
    let mem = counting(16 * CHUNK);
    let c = CachedDevice::new(mem.clone(), 16 * CHUNK);
    // Chunks 0-5 touched once (read, not kept), then chunk 2 kept: the
    // read over 0..6 then needs 0-1 and 3-5.
    let mut b = vec![0u8; 6 * CHUNK];
    c.read_at(&mut b, 0).unwrap();
    assert!(c.store.lock().chunks.is_empty(), "kept on the first touch");
    let mut b = vec![0u8; 10];
    c.read_at(&mut b, 2 * CHUNK as u64).unwrap();
    let before = mem.reads.load(Ordering::Relaxed);
    let mut b = vec![0u8; 6 * CHUNK - 20];
    c.read_at(&mut b, 10).unwrap();
    assert_eq!(b[..], pattern(16 * CHUNK, 2)[10..6 * CHUNK - 10]);
    assert_eq!(mem.reads.load(Ordering::Relaxed) - before, 2);
    // All kept now: no device read at all.
    c.read_at(&mut b, 10).unwrap();
    assert_eq!(b[..], pattern(16 * CHUNK, 2)[10..6 * CHUNK - 10]);
    assert_eq!(mem.reads.load(Ordering::Relaxed) - before, 2);
}

#[test]
fn a_chunk_in_use_outlives_chunks_read_once() {
    let mem = counting(64 * CHUNK);
    let c = CachedDevice::new(mem.clone(), 4 * CHUNK);
    let mut b = vec![0u8; 64];
    // A superblock-like chunk read between every other chunk: FIFO would
    // evict it every fourth chunk kept, an LRU (or CLOCK) never.
    c.read_at(&mut b, 0).unwrap();
    for i in 1..64u64 {
        // Twice, so that it is kept and the budget is under pressure.
        c.read_at(&mut b, i * CHUNK as u64).unwrap();
        c.read_at(&mut b, i * CHUNK as u64).unwrap();
        c.read_at(&mut b, 0).unwrap();
    }
    // Every chunk read twice from the device (first touch, then kept),
    // chunk 0 never again after that.
    let n = mem.reads.load(Ordering::Relaxed);
    assert_eq!(n, 2 * 64, "chunk 0 was evicted and read again");
    assert!(c.store.lock().bytes <= 4 * CHUNK);
}

//! A bounded block cache under the direct engine's parsers.
//!
//! Filesystem parsers read small pieces (an inode, a directory block, a FAT
//! sector) over and over while walking a tree; each would otherwise be a
//! `pread` (and for qcow2 an L2 lookup). [`CachedDevice`] sits on an image
//! device and keeps aligned [`CHUNK`]-byte pieces of it in memory bounded by
//! a byte budget, evicted in CLOCK order (an LRU approximation):
//! - a chunk is kept from its second touch on: the first is read straight
//!   into the caller's buffer, as without a cache. Most bytes a walk reads
//!   are read once (directory blocks, an NTFS MFT); keeping them would cost
//!   an allocation, page faults and a copy each for nothing;
//! - a miss of a chunk touched before costs one `read_at` of the device for the run of
//!   missing chunks the read covers, longer when a stream of
//!   file-data-sized reads (at least [`READAHEAD_MIN`] bytes, each starting
//!   where the last ended) misses (read-ahead that doubles up to
//!   [`MAX_READAHEAD`] chunks). Metadata reads (an inode, a directory
//!   block) never read ahead: on a walk that would pull the files' data in
//!   with the inode tables;
//! - reads of at least [`BYPASS`] bytes (streaming file data) go straight to
//!   the device: they would only evict the metadata and copy twice;
//! - the chunks of one image file are shared by every `CachedDevice` in the
//!   process opened on that file with the same format ([`CachedDevice::for_image`]),
//!   so several Handles (gx-mount's worker threads) warm one cache;
//! - a failed read is returned as the error it is and nothing is cached, so
//!   the next read tries the device again;
//! - the image file's size and mtime are checked at most every
//!   [`REVALIDATE`]; when they change the cache is emptied, so a file
//!   rewritten underneath is read afresh after at most that long. Only the
//!   file named is watched: a qcow2's backing files are assumed not to
//!   change while an overlay uses them (QEMU assumes the same).
//!
//! Live guests: an image that a running QEMU holds for writing (its lock on
//! byte 101, see QEMU's `raw_apply_lock_bytes`) is not cached at all. Its
//! blocks change while we read them, and a cache would pin an old version of
//! a block next to newer ones for as long as it stays warm; reading the
//! device every time gives the freshest view the parsers can have. A QEMU
//! run with `file.locking=off` cannot be seen this way; the revalidation
//! above is what bounds staleness then.
//!
//! It must not: return bytes other than the device's, hide an error, hold
//! more than its budget (plus the chunks in flight), or write.

use crate::{BlockDevice, Device, Result, check_range};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Bytes per cached piece, a page and the usual filesystem block. Measured
/// on ext4 walks (scripts/bench-tools): 16 and 64 KiB chunks make half to a
/// third the syscalls but read and copy bytes a walk never looks at (a
/// directory block pulls in its neighbours' file data), and took 1.5-2x
/// the time; 4 KiB stays far under 0.5 reads per listed entry.
pub const CHUNK: usize = 4 * 1024;
/// Reads this large bypass the cache (streamed file data).
pub const BYPASS: usize = 128 * 1024;
/// The most chunks one sequential miss reads ahead (256 KiB).
pub const MAX_READAHEAD: u64 = 64;
/// Reads smaller than this are metadata and never read ahead.
pub const READAHEAD_MIN: usize = 16 * 1024;
/// The default budget of one image's cache, in bytes (`GX_CACHE_MB` sets
/// another; 0 turns caching off).
pub const DEFAULT_BUDGET: usize = 16 << 20;
/// How often the image file's size and mtime are checked.
pub const REVALIDATE: Duration = Duration::from_millis(100);

/// Counters for `-v` output and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered from memory.
    pub hits: u64,
    /// Chunks read from the device.
    pub misses: u64,
    /// `read_at` calls made on the device (misses, read-ahead runs, bypasses).
    pub device_reads: u64,
    /// Times the cache was emptied because the file changed.
    pub invalidations: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    device_reads: AtomicU64,
    invalidations: AtomicU64,
}

/// What identifies the file's contents: a change in any means rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn version_of(f: &File) -> Option<Version> {
    f.metadata().ok().map(|m| Version {
        len: m.len(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

struct Validator {
    file: File,
    seen: Option<Version>,
    checked: Instant,
}

/// A cached chunk and its CLOCK bit: set on every hit, cleared when the
/// hand passes it; a chunk is evicted when the hand finds it clear.
struct Slot {
    data: Chunk,
    referenced: bool,
}

/// Chunk indices are small integers already well spread by a multiply:
/// SipHash would cost more than the rest of a hit.
#[derive(Default)]
struct IndexHasher(u64);

impl Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The chunks in memory, evicted in CLOCK (second-chance) order: an LRU
/// approximation whose hit is one bit set, not a reordering, which matters
/// when a walk makes a lookup per 512-byte inode.
struct State {
    chunks: HashMap<u64, Slot, BuildHasherDefault<IndexHasher>>,
    /// Every cached index once, in insertion order; the front is the hand.
    ring: VecDeque<u64>,
    bytes: usize,
    /// Bumped when the cache is emptied, so a read that started before
    /// does not insert old bytes after.
    generation: u64,
    /// Where the last data-sized read ended, and the read-ahead (in
    /// chunks) the stream it belongs to has earned.
    stream_end: u64,
    readahead: u64,
    /// Chunks read once without being kept (see `copy_cached`).
    seen: HashSet<u64, BuildHasherDefault<IndexHasher>>,
    validator: Option<Validator>,
}

/// The chunks of one device, shared by every [`CachedDevice`] on it.
pub struct ChunkStore {
    state: Mutex<State>,
    budget: usize,
    counters: Counters,
}

impl ChunkStore {
    fn new(budget: usize, validator: Option<Validator>) -> Self {
        ChunkStore {
            state: Mutex::new(State {
                chunks: HashMap::default(),
                ring: VecDeque::new(),
                bytes: 0,
                generation: 0,
                stream_end: u64::MAX,
                readahead: 1,
                seen: HashSet::default(),
                validator,
            }),
            budget,
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the map consistent (every
        // update is a whole insert or remove), so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            device_reads: self.counters.device_reads.load(Ordering::Relaxed),
            invalidations: self.counters.invalidations.load(Ordering::Relaxed),
        }
    }
}

impl State {
    fn clear(&mut self) {
        self.chunks.clear();
        self.ring.clear();
        self.seen.clear();
        self.bytes = 0;
        self.generation += 1;
        self.stream_end = u64::MAX;
        self.readahead = 1;
    }

    /// Empty the cache if the file changed since the last check.
    fn revalidate(&mut self, counters: &Counters) {
        let Some(v) = &mut self.validator else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(v.checked) < REVALIDATE {
            return;
        }
        v.checked = now;
        let cur = version_of(&v.file);
        if cur != v.seen {
            v.seen = cur;
            counters.invalidations.fetch_add(1, Ordering::Relaxed);
            self.clear();
        }
    }

    fn insert(&mut self, idx: u64, data: Chunk, budget: usize) {
        if data.len() > budget {
            return;
        }
        if let Some(slot) = self.chunks.get_mut(&idx) {
            // Another reader read it meanwhile: same bytes, keep its place.
            self.bytes = self.bytes - slot.data.len() + data.len();
            slot.data = data;
        } else {
            self.bytes += data.len();
            self.chunks.insert(
                idx,
                Slot {
                    data,
                    referenced: false,
                },
            );
            self.ring.push_back(idx);
        }
        // Each chunk passed once has its bit cleared, so two turns of the
        // hand evict at least one: the loop ends.
        while self.bytes > budget {
            let Some(victim) = self.ring.pop_front() else {
                break;
            };
            if victim == idx {
                // Never the chunk just inserted (the caller returns it).
                self.ring.push_back(victim);
                if self.ring.len() == 1 {
                    break;
                }
                continue;
            }
            match self.chunks.get_mut(&victim) {
                Some(slot) if slot.referenced => {
                    slot.referenced = false;
                    self.ring.push_back(victim);
                }
                Some(_) => {
                    if let Some(old) = self.chunks.remove(&victim) {
                        self.bytes -= old.data.len();
                    }
                }
                None => {}
            }
        }
    }
}

/// One cached piece of the device (shorter than [`CHUNK`] only at its end).
type Chunk = Vec<u8>;

/// A device whose reads go through a [`ChunkStore`].
pub struct CachedDevice {
    inner: Device,
    store: Arc<ChunkStore>,
}

type Registry = Mutex<HashMap<(u64, u64, String), Weak<ChunkStore>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The budget from `GX_CACHE_MB`, else [`DEFAULT_BUDGET`].
pub fn budget_from_env() -> usize {
    std::env::var("GX_CACHE_MB")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(DEFAULT_BUDGET, |mb| mb.saturating_mul(1 << 20))
}

/// QEMU's lock byte for "some process holds write permission" (100 + bit 1).
const QEMU_PERM_WRITE_BYTE: i64 = 101;

/// True when another open file description (a running QEMU) holds a lock
/// on the image's write-permission byte.
pub fn held_for_write(file: &File) -> bool {
    use nix::fcntl::{FcntlArg, fcntl};
    let mut fl = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: QEMU_PERM_WRITE_BYTE,
        l_len: 1,
        l_pid: 0,
    };
    match fcntl(file, FcntlArg::F_OFD_GETLK(&mut fl)) {
        Ok(_) => i32::from(fl.l_type) != nix::libc::F_UNLCK,
        Err(_) => false,
    }
}

impl CachedDevice {
    /// A cache over `inner` of `budget` bytes, private to this device and
    /// never revalidated (for devices that are not files, and tests).
    pub fn new(inner: Device, budget: usize) -> Self {
        CachedDevice {
            inner,
            store: Arc::new(ChunkStore::new(budget, None)),
        }
    }

    /// `dev`, opened from the image file `path` as `format`, behind the
    /// process-wide cache of that file: every device opened on the same
    /// file and format shares its chunks. Returns `dev` as it is when the
    /// image is in use by a running VM (see the module comment), when the
    /// file cannot be opened for checks, or when the budget is 0.
    pub fn for_image(dev: Device, path: &Path, format: &str, budget: usize) -> Device {
        if budget == 0 {
            return dev;
        }
        let Ok(file) = File::open(path) else {
            return dev;
        };
        if held_for_write(&file) {
            return dev;
        }
        let Ok(meta) = file.metadata() else {
            return dev;
        };
        let key = (meta.dev(), meta.ino(), format.to_string());
        let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
        reg.retain(|_, w| w.strong_count() > 0);
        let store = match reg.get(&key).and_then(Weak::upgrade) {
            Some(s) => s,
            None => {
                let v = Validator {
                    seen: version_of(&file),
                    file,
                    checked: Instant::now(),
                };
                let s = Arc::new(ChunkStore::new(budget, Some(v)));
                reg.insert(key, Arc::downgrade(&s));
                s
            }
        };
        Arc::new(CachedDevice { inner: dev, store })
    }

    /// The shared store (for counters).
    pub fn store(&self) -> &Arc<ChunkStore> {
        &self.store
    }

    fn chunk_len(&self, idx: u64) -> usize {
        let start = idx * CHUNK as u64;
        (self.inner.size() - start).min(CHUNK as u64) as usize
    }

    /// Copy into `buf[done..]` (the device's bytes from `offset`) every
    /// chunk in memory, one after another, under one lock; stop at the
    /// first missing one and say how to read it.
    fn copy_cached(&self, buf: &mut [u8], offset: u64, done: &mut usize, ahead: bool) -> Next {
        let c = &self.store.counters;
        let last = (offset + buf.len() as u64 - 1) / CHUNK as u64;
        let mut st = self.store.lock();
        while *done < buf.len() {
            let pos = offset + *done as u64;
            let idx = pos / CHUNK as u64;
            let within = (pos % CHUNK as u64) as usize;
            let Some(slot) = st.chunks.get_mut(&idx) else {
                // Admission on the second touch: a chunk read once (most of
                // a walk's directory blocks, an NTFS MFT scan) would cost an
                // allocation, page faults and a copy for nothing; a chunk
                // read again (an inode table's, a superblock's) is kept.
                if !ahead && !st.seen.contains(&idx) {
                    if st.seen.len() >= SEEN_MAX {
                        st.seen.clear();
                    }
                    st.seen.extend(idx..=last);
                    return Next::Direct;
                }
                let mut want = last - idx + 1;
                if ahead {
                    want = want.max(st.readahead);
                    st.readahead = (st.readahead * 2).min(MAX_READAHEAD);
                }
                // Only over chunks not already here: one read per missing run.
                let end = (self.inner.size() - 1) / CHUNK as u64;
                let mut run = 1;
                while run < want && idx + run <= end && !st.chunks.contains_key(&(idx + run)) {
                    run += 1;
                }
                return Next::Read {
                    idx,
                    run,
                    generation: st.generation,
                };
            };
            slot.referenced = true;
            let n = (slot.data.len() - within).min(buf.len() - *done);
            buf[*done..*done + n].copy_from_slice(&slot.data[within..within + n]);
            *done += n;
            c.hits.fetch_add(1, Ordering::Relaxed);
        }
        Next::Done
    }
}

/// What [`CachedDevice::copy_cached`] left to do.
enum Next {
    /// The whole read was answered from memory.
    Done,
    /// Read the rest straight into the caller's buffer, keeping nothing.
    Direct,
    /// Read `run` chunks from chunk `idx` and keep them (unless the cache
    /// was emptied since `generation`).
    Read { idx: u64, run: u64, generation: u64 },
}

/// Chunk indices remembered as read once; past this the memory is dropped
/// (a chunk then needs two more touches to be kept).
const SEEN_MAX: usize = 1 << 16;

impl BlockDevice for CachedDevice {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        let c = &self.store.counters;
        if buf.len() >= BYPASS {
            c.device_reads.fetch_add(1, Ordering::Relaxed);
            return self.inner.read_at(buf, offset);
        }
        // A data-sized read that continues the last one is a stream: it
        // may read ahead; anything else resets the stream.
        let ahead = {
            let mut st = self.store.lock();
            st.revalidate(c);
            buf.len() >= READAHEAD_MIN && {
                let streaming = st.stream_end == offset;
                if !streaming {
                    st.readahead = 1;
                }
                st.stream_end = offset + buf.len() as u64;
                streaming
            }
        };
        let mut done = 0usize;
        loop {
            let (idx, run, generation) = match self.copy_cached(buf, offset, &mut done, ahead) {
                Next::Done => return Ok(()),
                Next::Direct => {
                    c.device_reads.fetch_add(1, Ordering::Relaxed);
                    let pos = offset + done as u64;
                    let first = pos / CHUNK as u64;
                    let last = (offset + buf.len() as u64 - 1) / CHUNK as u64;
                    c.misses.fetch_add(last - first + 1, Ordering::Relaxed);
                    return self.inner.read_at(&mut buf[done..], pos);
                }
                Next::Read {
                    idx,
                    run,
                    generation,
                } => (idx, run, generation),
            };
            // The lock is not held while the device reads: other readers
            // go on; a chunk two of them miss at once is read twice.
            let start = idx * CHUNK as u64;
            let len: usize = (0..run).map(|i| self.chunk_len(idx + i)).sum();
            let mut data = vec![0u8; len];
            c.device_reads.fetch_add(1, Ordering::Relaxed);
            self.inner.read_at(&mut data, start)?;
            c.misses.fetch_add(run, Ordering::Relaxed);
            let within = (offset + done as u64 - start) as usize;
            let n = (len - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&data[within..within + n]);
            done += n;
            let mut st = self.store.lock();
            if st.generation == generation {
                let mut off = 0;
                for i in 0..run {
                    let k = self.chunk_len(idx + i);
                    let piece = if run == 1 {
                        std::mem::take(&mut data)
                    } else {
                        data[off..off + k].to_vec()
                    };
                    st.insert(idx + i, piece, self.store.budget);
                    off += k;
                }
            }
        }
    }

    fn is_read_only(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests;

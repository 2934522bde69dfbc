//! virtio devices over the virtio-mmio transport (virtio 1.x, "modern" only).
//!
//! virtio-queue tracks the rings (avail/used indices, the used ring writes);
//! descriptor chains are walked here, by [`pop_chain`], so that every rule of
//! the split virtqueue is enforced in one place for every device: each buffer
//! lies inside guest memory, device-readable buffers come before writable
//! ones, a chain ends (a loop or an index outside its table is an error, not
//! a silently shortened chain) and holds at most [`MAX_CHAIN_DESCS`]
//! buffers. With VIRTIO_RING_F_INDIRECT_DESC a chain may end in one indirect
//! descriptor whose table (a non-zero multiple of 16 bytes, inside guest
//! memory) holds the rest; nested tables and INDIRECT together with NEXT are
//! refused (virtio 1.1, 2.6.5.3). A refused chain is a [`ChainError`], which
//! the devices turn into DEVICE_NEEDS_RESET.
//!
//! VIRTIO_RING_F_EVENT_IDX (used_event/avail_event, 2.6.7 and 2.6.8) is the
//! transport's business: see [`mmio`]. Both ring features are offered by
//! every device model here ([`RING_FEATURES`]).

pub mod block;
pub mod console;
pub mod mmio;
pub mod rng;

use std::fmt;

use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// VIRTIO_F_VERSION_1: every device here is modern-only.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// VIRTIO_F_INDIRECT_DESC (virtio 1.x, 6): chains may use indirect tables.
pub const VIRTIO_RING_F_INDIRECT_DESC: u64 = 1 << 28;
/// VIRTIO_F_EVENT_IDX (virtio 1.x, 6): used_event/avail_event suppression.
pub const VIRTIO_RING_F_EVENT_IDX: u64 = 1 << 29;
/// The ring features every device model offers: [`pop_chain`] and the
/// transport implement them for every queue, whatever the device.
pub const RING_FEATURES: u64 = VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX;

/// Split-virtqueue descriptor flags (virtio 1.x, 2.6.5).
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;
/// Size of one descriptor, in the queue's table and in an indirect table.
pub const DESC_SIZE: u32 = 16;
/// Most buffers one chain may have, direct and indirect together (QEMU's
/// VIRTQUEUE_MAX_SIZE): a bound on the work and memory one chain can cost.
pub const MAX_CHAIN_DESCS: usize = 1024;

/// Device type ids (virtio 1.x, 5).
pub const TYPE_BLOCK: u32 = 2;
pub const TYPE_CONSOLE: u32 = 3;
pub const TYPE_RNG: u32 = 4;

/// A device model. The transport owns the queues and hands them in.
pub trait VirtioDevice: Send {
    fn device_type(&self) -> u32;
    /// One entry per queue: its maximum size.
    fn queue_max_sizes(&self) -> Vec<u16>;
    /// Feature bits offered (must include [`VIRTIO_F_VERSION_1`]).
    fn features(&self) -> u64;
    /// Read device config space; bytes past its end read as zero.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}
    /// The driver set DRIVER_OK with these features.
    fn activate(&mut self, _features: u64) {}
    /// Queue `index` was notified: consume what is available. Returns whether
    /// any used buffer was added (so the transport may interrupt).
    fn process_queue(&mut self, ctx: &mut QueueCtx<'_>, index: usize) -> Result<bool, DeviceError>;
    /// Host-side I/O is ready (sockets); only devices with host endpoints.
    fn process_host(&mut self, _ctx: &mut QueueCtx<'_>) -> Result<bool, DeviceError> {
        Ok(false)
    }
    /// Host file descriptors to poll and, for each, whether to wait for
    /// readability and/or writability now (flow control changes this).
    fn host_fds(&self) -> Vec<(std::os::fd::RawFd, bool, bool)> {
        Vec::new()
    }
    /// The driver wrote 0 to the status register.
    fn reset(&mut self);
}

/// What a device may touch while processing: guest memory and its queues,
/// and the features the driver negotiated (for [`pop_chain`]).
pub struct QueueCtx<'a> {
    pub mem: &'a GuestMemoryMmap,
    pub queues: &'a mut [Queue],
    pub features: u64,
}

/// A guest bug or attack that leaves the device unable to go on: the
/// transport sets DEVICE_NEEDS_RESET and stops processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError(pub String);

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One checked buffer of a descriptor chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    pub addr: GuestAddress,
    pub len: u32,
    pub write: bool,
}

/// A chain split into its device-readable part followed by its
/// device-writable part, every buffer inside guest memory.
#[derive(Debug, Default)]
pub struct Chain {
    pub head: u16,
    pub readable: Vec<Buf>,
    pub writable: Vec<Buf>,
}

impl Chain {
    pub fn readable_len(&self) -> u64 {
        self.readable.iter().map(|b| u64::from(b.len)).sum()
    }

    pub fn writable_len(&self) -> u64 {
        self.writable.iter().map(|b| u64::from(b.len)).sum()
    }

    /// Append one buffer descriptor, checking it.
    fn push(&mut self, mem: &GuestMemoryMmap, d: &RawDesc) -> Result<(), ChainError> {
        if self.readable.len() + self.writable.len() >= MAX_CHAIN_DESCS {
            return Err(ChainError::TooLong);
        }
        let buf = Buf {
            addr: GuestAddress(d.addr),
            len: d.len,
            write: d.flags & VIRTQ_DESC_F_WRITE != 0,
        };
        if buf.len > 0 && !GuestMemoryBackend::check_range(mem, buf.addr, buf.len as usize) {
            return Err(ChainError::OutOfRange {
                addr: d.addr,
                len: d.len,
            });
        }
        if buf.write {
            self.writable.push(buf);
        } else if !self.writable.is_empty() {
            return Err(ChainError::ReadableAfterWritable);
        } else {
            self.readable.push(buf);
        }
        Ok(())
    }
}

/// Why a chain was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// A buffer or an indirect table lies (partly) outside guest memory.
    OutOfRange { addr: u64, len: u32 },
    /// A device-readable buffer follows a device-writable one (virtio 1.x 2.7.4.2).
    ReadableAfterWritable,
    /// A head or `next` index outside its descriptor table (of `size` entries).
    BadIndex { index: u32, size: u32 },
    /// The chain visits more descriptors than its table holds: a loop.
    Loop,
    /// More than [`MAX_CHAIN_DESCS`] buffers.
    TooLong,
    /// VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated.
    IndirectNotNegotiated,
    /// VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT (2.6.5.3.1).
    IndirectWithNext,
    /// An indirect descriptor inside an indirect table (2.6.5.3.1).
    NestedIndirect,
    /// An indirect table whose length is zero or not a multiple of 16.
    BadIndirectLength { addr: u64, len: u32 },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::OutOfRange { addr, len } => {
                write!(f, "descriptor {addr:#x}+{len:#x} is outside guest memory")
            }
            ChainError::ReadableAfterWritable => {
                f.write_str("readable descriptor after a writable one")
            }
            ChainError::BadIndex { index, size } => {
                write!(f, "descriptor index {index} outside a table of {size}")
            }
            ChainError::Loop => f.write_str("descriptor chain loops"),
            ChainError::TooLong => {
                write!(f, "descriptor chain of more than {MAX_CHAIN_DESCS} buffers")
            }
            ChainError::IndirectNotNegotiated => {
                f.write_str("indirect descriptor without VIRTIO_F_INDIRECT_DESC")
            }
            ChainError::IndirectWithNext => f.write_str("indirect descriptor with F_NEXT"),
            ChainError::NestedIndirect => f.write_str("indirect descriptor in an indirect table"),
            ChainError::BadIndirectLength { addr, len } => {
                write!(
                    f,
                    "indirect table at {addr:#x} of {len} bytes (not a non-zero multiple of 16)"
                )
            }
        }
    }
}

/// A descriptor as the driver wrote it.
#[derive(Clone, Copy, Debug)]
struct RawDesc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

/// Read descriptor `index` of the table at `table` (the caller checked the index).
fn read_desc(mem: &GuestMemoryMmap, table: u64, index: u32) -> Result<RawDesc, ChainError> {
    let at = table
        .checked_add(u64::from(index) * u64::from(DESC_SIZE))
        .ok_or(ChainError::OutOfRange {
            addr: table,
            len: DESC_SIZE,
        })?;
    let mut b = [0u8; DESC_SIZE as usize];
    mem.read_slice(&mut b, GuestAddress(at))
        .map_err(|_| ChainError::OutOfRange {
            addr: at,
            len: DESC_SIZE,
        })?;
    Ok(RawDesc {
        addr: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        flags: u16::from_le_bytes([b[12], b[13]]),
        next: u16::from_le_bytes([b[14], b[15]]),
    })
}

/// Walk the chain that starts at descriptor `head` of a queue's table
/// (`size` entries at `desc_table`), following at most one indirect table
/// when `features` has VIRTIO_F_INDIRECT_DESC.
pub fn walk_chain(
    mem: &GuestMemoryMmap,
    desc_table: u64,
    size: u16,
    head: u16,
    features: u64,
) -> Result<Chain, ChainError> {
    let mut out = Chain {
        head,
        ..Default::default()
    };
    let size = u32::from(size);
    let mut index = u32::from(head);
    // A chain in the queue's own table visits each descriptor at most once.
    for _ in 0..size {
        if index >= size {
            return Err(ChainError::BadIndex { index, size });
        }
        let d = read_desc(mem, desc_table, index)?;
        if d.flags & VIRTQ_DESC_F_INDIRECT != 0 {
            if features & VIRTIO_RING_F_INDIRECT_DESC == 0 {
                return Err(ChainError::IndirectNotNegotiated);
            }
            if d.flags & VIRTQ_DESC_F_NEXT != 0 {
                return Err(ChainError::IndirectWithNext);
            }
            // The indirect descriptor ends the chain (its WRITE flag is ignored).
            walk_indirect(mem, &d, &mut out)?;
            return Ok(out);
        }
        out.push(mem, &d)?;
        if d.flags & VIRTQ_DESC_F_NEXT == 0 {
            return Ok(out);
        }
        index = u32::from(d.next);
    }
    Err(ChainError::Loop)
}

/// Append the buffers of the indirect table `d` names.
fn walk_indirect(mem: &GuestMemoryMmap, d: &RawDesc, out: &mut Chain) -> Result<(), ChainError> {
    if d.len == 0 || d.len % DESC_SIZE != 0 {
        return Err(ChainError::BadIndirectLength {
            addr: d.addr,
            len: d.len,
        });
    }
    if !GuestMemoryBackend::check_range(mem, GuestAddress(d.addr), d.len as usize) {
        return Err(ChainError::OutOfRange {
            addr: d.addr,
            len: d.len,
        });
    }
    let entries = d.len / DESC_SIZE;
    let mut index = 0u32;
    // Each entry at most once; `push` also stops at MAX_CHAIN_DESCS, so a
    // huge table costs no more than a long chain.
    for _ in 0..entries {
        let e = read_desc(mem, d.addr, index)?;
        if e.flags & VIRTQ_DESC_F_INDIRECT != 0 {
            return Err(ChainError::NestedIndirect);
        }
        out.push(mem, &e)?;
        if e.flags & VIRTQ_DESC_F_NEXT == 0 {
            return Ok(());
        }
        index = u32::from(e.next);
        if index >= entries {
            return Err(ChainError::BadIndex {
                index,
                size: entries,
            });
        }
    }
    Err(ChainError::Loop)
}

/// Take the next available chain of `q` and walk it: `(head, chain)`, or
/// `None` when the driver has made nothing (more) available. The head is
/// returned even for a refused chain; a head outside the table is refused.
pub fn pop_chain(
    mem: &GuestMemoryMmap,
    q: &mut Queue,
    features: u64,
) -> Option<(u16, Result<Chain, ChainError>)> {
    let head = q.pop_descriptor_chain(mem)?.head_index();
    Some((
        head,
        walk_chain(mem, q.desc_table(), q.size(), head, features),
    ))
}

/// Copy up to `dst.len()` bytes from `bufs`, starting `skip` bytes in.
/// Returns how many were copied.
pub fn read_bufs(
    mem: &GuestMemoryMmap,
    bufs: &[Buf],
    mut skip: u64,
    dst: &mut [u8],
) -> Result<usize, DeviceError> {
    let mut done = 0usize;
    for b in bufs {
        if done == dst.len() {
            break;
        }
        let len = u64::from(b.len);
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = ((len - skip) as usize).min(dst.len() - done);
        let addr = GuestAddress(b.addr.0 + skip);
        mem.read_slice(&mut dst[done..done + n], addr)
            .map_err(|e| DeviceError(format!("reading guest memory at {:#x}: {e}", addr.0)))?;
        done += n;
        skip = 0;
    }
    Ok(done)
}

/// Copy `src` into `bufs` starting `skip` bytes in. Returns how many bytes fitted.
pub fn write_bufs(
    mem: &GuestMemoryMmap,
    bufs: &[Buf],
    mut skip: u64,
    src: &[u8],
) -> Result<usize, DeviceError> {
    let mut done = 0usize;
    for b in bufs {
        if done == src.len() {
            break;
        }
        let len = u64::from(b.len);
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = ((len - skip) as usize).min(src.len() - done);
        let addr = GuestAddress(b.addr.0 + skip);
        mem.write_slice(&src[done..done + n], addr)
            .map_err(|e| DeviceError(format!("writing guest memory at {:#x}: {e}", addr.0)))?;
        done += n;
        skip = 0;
    }
    Ok(done)
}

/// Read a little-endian config-space window out of `bytes` (the config struct).
pub fn read_config_bytes(bytes: &[u8], offset: u64, data: &mut [u8]) {
    for (i, d) in data.iter_mut().enumerate() {
        *d = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(i))
            .and_then(|o| bytes.get(o))
            .copied()
            .unwrap_or(0);
    }
}

/// Test helpers: hand-built split virtqueues in a `GuestMemoryMmap`.
#[cfg(test)]
pub mod testq {
    use super::*;
    use virtio_queue::QueueT;

    pub const DESC: u64 = 0x1000;
    pub const AVAIL: u64 = 0x2000;
    pub const USED: u64 = 0x3000;
    pub const DATA: u64 = 0x10000;
    pub const F_NEXT: u16 = 1;
    pub const F_WRITE: u16 = 2;
    pub const F_INDIRECT: u16 = 4;

    /// Guest memory of 1 MiB.
    pub fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).expect("mmap")
    }

    /// Queue `qi` of a device lives at DESC/AVAIL/USED + qi*0x4000.
    pub struct TestQueue {
        pub base: u64,
        pub size: u16,
        pub next_desc: u16,
        pub avail_idx: u16,
    }

    impl TestQueue {
        pub fn new(qi: usize, size: u16) -> Self {
            TestQueue {
                base: qi as u64 * 0x4000,
                size,
                next_desc: 0,
                avail_idx: 0,
            }
        }

        /// A virtio-queue `Queue` configured for this layout and ready.
        pub fn queue(&self, mem: &GuestMemoryMmap) -> Queue {
            let mut q = Queue::new(self.size).expect("queue");
            q.set_size(self.size);
            q.set_desc_table_address(Some((DESC + self.base) as u32), Some(0));
            q.set_avail_ring_address(Some((AVAIL + self.base) as u32), Some(0));
            q.set_used_ring_address(Some((USED + self.base) as u32), Some(0));
            q.set_ready(true);
            assert!(q.is_valid(mem));
            q
        }

        /// Write descriptor `i` raw.
        pub fn write_desc(
            &self,
            mem: &GuestMemoryMmap,
            i: u16,
            addr: u64,
            len: u32,
            flags: u16,
            next: u16,
        ) {
            let a = DESC + self.base + u64::from(i) * 16;
            mem.write_obj(addr, GuestAddress(a)).expect("w");
            mem.write_obj(len, GuestAddress(a + 8)).expect("w");
            mem.write_obj(flags, GuestAddress(a + 12)).expect("w");
            mem.write_obj(next, GuestAddress(a + 14)).expect("w");
        }

        /// Add a chain of `(addr, len, writable)` buffers; returns its head.
        pub fn add_chain(&mut self, mem: &GuestMemoryMmap, bufs: &[(u64, u32, bool)]) -> u16 {
            let head = self.next_desc;
            for (k, &(addr, len, w)) in bufs.iter().enumerate() {
                let i = self.next_desc;
                let last = k + 1 == bufs.len();
                let flags = if w { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT };
                self.write_desc(mem, i, addr, len, flags, (i + 1) % self.size);
                self.next_desc = (self.next_desc + 1) % self.size;
            }
            self.publish(mem, head);
            head
        }

        /// Write a raw descriptor table (indirect) at `table`:
        /// `(addr, len, flags, next)` per entry.
        pub fn write_table(
            &self,
            mem: &GuestMemoryMmap,
            table: u64,
            entries: &[(u64, u32, u16, u16)],
        ) {
            for (i, &(addr, len, flags, next)) in entries.iter().enumerate() {
                let a = table + i as u64 * 16;
                mem.write_obj(addr, GuestAddress(a)).expect("w");
                mem.write_obj(len, GuestAddress(a + 8)).expect("w");
                mem.write_obj(flags, GuestAddress(a + 12)).expect("w");
                mem.write_obj(next, GuestAddress(a + 14)).expect("w");
            }
        }

        /// Add a one-descriptor chain with these raw fields; returns its head.
        pub fn add_raw(
            &mut self,
            mem: &GuestMemoryMmap,
            addr: u64,
            len: u32,
            flags: u16,
            next: u16,
        ) -> u16 {
            let head = self.next_desc;
            self.write_desc(mem, head, addr, len, flags, next);
            self.next_desc = (self.next_desc + 1) % self.size;
            self.publish(mem, head);
            head
        }

        /// Add a chain whose `direct` buffers sit in the queue's table and end
        /// in one indirect descriptor naming a table at `table` that holds
        /// `indirect` (linked in order). Returns the head.
        pub fn add_indirect(
            &mut self,
            mem: &GuestMemoryMmap,
            direct: &[(u64, u32, bool)],
            table: u64,
            indirect: &[(u64, u32, bool)],
        ) -> u16 {
            let entries: Vec<(u64, u32, u16, u16)> = indirect
                .iter()
                .enumerate()
                .map(|(k, &(addr, len, w))| {
                    let last = k + 1 == indirect.len();
                    let flags = if w { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT };
                    (addr, len, flags, k as u16 + 1)
                })
                .collect();
            self.write_table(mem, table, &entries);
            let head = self.next_desc;
            for &(addr, len, w) in direct {
                let i = self.next_desc;
                let flags = if w { F_WRITE } else { 0 } | F_NEXT;
                self.write_desc(mem, i, addr, len, flags, (i + 1) % self.size);
                self.next_desc = (self.next_desc + 1) % self.size;
            }
            let i = self.next_desc;
            self.write_desc(mem, i, table, 16 * indirect.len() as u32, F_INDIRECT, 0);
            self.next_desc = (self.next_desc + 1) % self.size;
            self.publish(mem, head);
            head
        }

        /// Put `head` in the avail ring and bump avail.idx.
        pub fn publish(&mut self, mem: &GuestMemoryMmap, head: u16) {
            let slot = AVAIL + self.base + 4 + u64::from(self.avail_idx % self.size) * 2;
            mem.write_obj(head, GuestAddress(slot)).expect("w");
            self.avail_idx = self.avail_idx.wrapping_add(1);
            mem.write_obj(self.avail_idx, GuestAddress(AVAIL + self.base + 2))
                .expect("w");
        }

        pub fn used_idx(&self, mem: &GuestMemoryMmap) -> u16 {
            mem.read_obj(GuestAddress(USED + self.base + 2)).expect("r")
        }

        /// `(id, len)` of used element `n`.
        pub fn used(&self, mem: &GuestMemoryMmap, n: u16) -> (u32, u32) {
            let a = USED + self.base + 4 + u64::from(n % self.size) * 8;
            (
                mem.read_obj(GuestAddress(a)).expect("r"),
                mem.read_obj(GuestAddress(a + 4)).expect("r"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testq::*;
    use super::*;

    const IND: u64 = VIRTIO_RING_F_INDIRECT_DESC;

    fn pop(m: &GuestMemoryMmap, q: &mut Queue, features: u64) -> Result<Chain, ChainError> {
        pop_chain(m, q, features).expect("a chain is available").1
    }

    #[test]
    fn chains_are_checked_against_memory_and_order() {
        let m = mem();
        let mut tq = TestQueue::new(0, 8);
        let mut q = tq.queue(&m);
        tq.add_chain(&m, &[(DATA, 16, false), (DATA + 16, 1, true)]);
        tq.add_chain(&m, &[(0xffff_f000, 16, false)]);
        tq.add_chain(&m, &[(DATA, 1, true), (DATA + 1, 1, false)]);
        // Straddling the end of memory.
        tq.add_chain(&m, &[((1 << 20) - 4, 8, false)]);
        let (head, r) = pop_chain(&m, &mut q, 0).expect("chain");
        assert_eq!(head, 0);
        let r = r.expect("valid");
        assert_eq!(r.readable_len(), 16);
        assert_eq!(r.writable_len(), 1);
        assert!(matches!(
            pop(&m, &mut q, 0),
            Err(ChainError::OutOfRange { .. })
        ));
        assert_eq!(
            pop(&m, &mut q, 0).err(),
            Some(ChainError::ReadableAfterWritable)
        );
        assert!(matches!(
            pop(&m, &mut q, 0),
            Err(ChainError::OutOfRange { .. })
        ));
        assert!(pop_chain(&m, &mut q, 0).is_none());
    }

    #[test]
    fn descriptor_loops_and_bad_indexes_are_errors() {
        let m = mem();
        let mut tq = TestQueue::new(0, 4);
        let mut q = tq.queue(&m);
        // 0 -> 1 -> 0 -> ...
        tq.write_desc(&m, 0, DATA, 4, F_NEXT, 1);
        tq.write_desc(&m, 1, DATA, 4, F_NEXT, 0);
        tq.publish(&m, 0);
        assert_eq!(pop(&m, &mut q, 0).err(), Some(ChainError::Loop));
        // A self-loop.
        tq.write_desc(&m, 3, DATA, 4, F_NEXT, 3);
        tq.publish(&m, 3);
        assert_eq!(pop(&m, &mut q, 0).err(), Some(ChainError::Loop));
        // A next index past the queue size.
        tq.write_desc(&m, 2, DATA, 4, F_NEXT, 200);
        tq.publish(&m, 2);
        assert_eq!(
            pop(&m, &mut q, 0).err(),
            Some(ChainError::BadIndex {
                index: 200,
                size: 4
            })
        );
        // A head past the queue size.
        tq.publish(&m, 9);
        let (head, r) = pop_chain(&m, &mut q, 0).expect("chain");
        assert_eq!(head, 9);
        assert_eq!(r.err(), Some(ChainError::BadIndex { index: 9, size: 4 }));
        // A chain as long as the queue is fine.
        for i in 0..4u16 {
            let f = if i < 3 { F_NEXT } else { 0 };
            tq.write_desc(&m, i, DATA, 4, f, i + 1);
        }
        tq.publish(&m, 0);
        assert_eq!(pop(&m, &mut q, 0).expect("valid").readable.len(), 4);
    }

    #[test]
    fn indirect_tables_are_followed_when_negotiated() {
        let m = mem();
        let mut tq = TestQueue::new(0, 8);
        let mut q = tq.queue(&m);
        let table = DATA + 0x8000;
        // All in the table.
        tq.add_indirect(
            &m,
            &[],
            table,
            &[
                (DATA, 16, false),
                (DATA + 0x100, 32, true),
                (DATA + 0x200, 1, true),
            ],
        );
        let c = pop(&m, &mut q, IND).expect("valid");
        assert_eq!((c.readable.len(), c.writable.len()), (1, 2));
        assert_eq!((c.readable_len(), c.writable_len()), (16, 33));
        assert_eq!(c.writable[1].addr, GuestAddress(DATA + 0x200));
        // Direct descriptors first, then the table (virtio 1.1 2.6.5.3.2).
        tq.add_indirect(
            &m,
            &[(DATA, 16, false)],
            table,
            &[(DATA + 0x100, 8, false), (DATA + 0x200, 1, true)],
        );
        let c = pop(&m, &mut q, IND).expect("valid");
        assert_eq!(c.readable_len(), 24);
        assert_eq!(c.writable_len(), 1);
        // The WRITE flag of the indirect descriptor itself is ignored.
        tq.write_table(&m, table, &[(DATA, 4, 0, 0)]);
        tq.add_raw(&m, table, 16, F_INDIRECT | F_WRITE, 0);
        assert_eq!(pop(&m, &mut q, IND).expect("valid").readable_len(), 4);
        // Entries linked out of order are fine: 0 -> 2 -> 1.
        tq.write_table(
            &m,
            table,
            &[
                (DATA + 8, 2, F_NEXT, 2),
                (DATA, 1, F_WRITE, 0),
                (DATA + 16, 3, F_NEXT, 1),
            ],
        );
        tq.add_raw(&m, table, 48, F_INDIRECT, 0);
        let c = pop(&m, &mut q, IND).expect("valid");
        assert_eq!((c.readable_len(), c.writable_len()), (5, 1));
        assert_eq!(c.readable[1].addr, GuestAddress(DATA + 16));
    }

    #[test]
    fn hostile_indirect_tables_are_refused() {
        let m = mem();
        let mut tq = TestQueue::new(0, 8);
        let mut q = tq.queue(&m);
        let t = DATA + 0x8000;
        // Not negotiated.
        tq.write_table(&m, t, &[(DATA, 4, 0, 0)]);
        tq.add_raw(&m, t, 16, F_INDIRECT, 0);
        assert_eq!(
            pop(&m, &mut q, 0).err(),
            Some(ChainError::IndirectNotNegotiated)
        );
        // Zero and odd lengths.
        for len in [0u32, 8, 24, 17] {
            tq.add_raw(&m, t, len, F_INDIRECT, 0);
            assert_eq!(
                pop(&m, &mut q, IND).err(),
                Some(ChainError::BadIndirectLength { addr: t, len }),
                "length {len}"
            );
        }
        // Outside guest memory, straddling its end, wrapping the address space.
        for (addr, len) in [
            (0x4000_0000u64, 16u32),
            ((1 << 20) - 16, 32),
            (u64::MAX - 15, 32),
        ] {
            tq.add_raw(&m, addr, len, F_INDIRECT, 0);
            assert!(
                matches!(pop(&m, &mut q, IND), Err(ChainError::OutOfRange { .. })),
                "{addr:#x}+{len}"
            );
        }
        // INDIRECT together with NEXT.
        tq.write_desc(&m, 7, DATA, 4, 0, 0);
        tq.add_raw(&m, t, 16, F_INDIRECT | F_NEXT, 7);
        assert_eq!(
            pop(&m, &mut q, IND).err(),
            Some(ChainError::IndirectWithNext)
        );
        // Nested indirect.
        tq.write_table(
            &m,
            t,
            &[(DATA, 4, F_NEXT, 1), (t + 0x100, 16, F_INDIRECT, 0)],
        );
        tq.write_table(&m, t + 0x100, &[(DATA, 4, 0, 0)]);
        tq.add_raw(&m, t, 32, F_INDIRECT, 0);
        assert_eq!(pop(&m, &mut q, IND).err(), Some(ChainError::NestedIndirect));
        // Loops inside the table: 0 -> 1 -> 0, and a self-loop.
        tq.write_table(&m, t, &[(DATA, 4, F_NEXT, 1), (DATA, 4, F_NEXT, 0)]);
        tq.add_raw(&m, t, 32, F_INDIRECT, 0);
        assert_eq!(pop(&m, &mut q, IND).err(), Some(ChainError::Loop));
        tq.write_table(&m, t, &[(DATA, 4, F_NEXT, 0)]);
        tq.add_raw(&m, t, 16, F_INDIRECT, 0);
        assert_eq!(pop(&m, &mut q, IND).err(), Some(ChainError::Loop));
        // A next index outside the table (though inside guest memory).
        tq.write_table(
            &m,
            t,
            &[(DATA, 4, F_NEXT, 2), (DATA, 4, 0, 0), (DATA, 4, 0, 0)],
        );
        tq.add_raw(&m, t, 32, F_INDIRECT, 0);
        assert_eq!(
            pop(&m, &mut q, IND).err(),
            Some(ChainError::BadIndex { index: 2, size: 2 })
        );
        // A buffer in the table outside guest memory; writable then readable.
        tq.write_table(&m, t, &[(0x4000_0000, 4, 0, 0)]);
        tq.add_raw(&m, t, 16, F_INDIRECT, 0);
        assert!(matches!(
            pop(&m, &mut q, IND),
            Err(ChainError::OutOfRange { .. })
        ));
        tq.write_table(&m, t, &[(DATA, 4, F_WRITE | F_NEXT, 1), (DATA, 4, 0, 0)]);
        tq.add_raw(&m, t, 32, F_INDIRECT, 0);
        assert_eq!(
            pop(&m, &mut q, IND).err(),
            Some(ChainError::ReadableAfterWritable)
        );
        // A writable direct buffer then a readable one in the table.
        tq.write_table(&m, t, &[(DATA, 4, 0, 0)]);
        tq.add_indirect(&m, &[(DATA, 4, true)], t, &[(DATA, 4, false)]);
        assert_eq!(
            pop(&m, &mut q, IND).err(),
            Some(ChainError::ReadableAfterWritable)
        );
    }

    #[test]
    fn huge_indirect_tables_are_bounded() {
        let m = mem();
        let mut tq = TestQueue::new(0, 8);
        let mut q = tq.queue(&m);
        let t = DATA + 0x1_0000;
        // 2000 linked entries: more than MAX_CHAIN_DESCS.
        let entries: Vec<(u64, u32, u16, u16)> =
            (0..2000u16).map(|k| (DATA, 1, F_NEXT, k + 1)).collect();
        tq.write_table(&m, t, &entries);
        tq.add_raw(&m, t, 16 * 2000, F_INDIRECT, 0);
        assert_eq!(pop(&m, &mut q, IND).err(), Some(ChainError::TooLong));
        // Exactly MAX_CHAIN_DESCS is accepted, a direct buffer included.
        let n = MAX_CHAIN_DESCS as u16 - 1;
        let entries: Vec<(u64, u32, u16, u16)> = (0..n)
            .map(|k| (DATA, 1, if k + 1 < n { F_NEXT } else { 0 }, k + 1))
            .collect();
        tq.write_table(&m, t, &entries);
        tq.write_desc(&m, 4, DATA, 1, F_NEXT, 5);
        tq.write_desc(&m, 5, t, 16 * u32::from(n), F_INDIRECT, 0);
        tq.publish(&m, 4);
        assert_eq!(
            pop(&m, &mut q, IND).expect("valid").readable.len(),
            MAX_CHAIN_DESCS
        );
        // One more buffer is too many.
        tq.write_desc(&m, 3, DATA, 1, F_NEXT, 4);
        tq.publish(&m, 3);
        assert_eq!(pop(&m, &mut q, IND).err(), Some(ChainError::TooLong));
    }

    #[test]
    fn scatter_gather_copies() {
        let m = mem();
        let bufs = [
            Buf {
                addr: GuestAddress(DATA),
                len: 3,
                write: true,
            },
            Buf {
                addr: GuestAddress(DATA + 100),
                len: 5,
                write: true,
            },
        ];
        assert_eq!(write_bufs(&m, &bufs, 1, b"abcdefgxyz").expect("w"), 7);
        let mut out = [0u8; 8];
        assert_eq!(read_bufs(&m, &bufs, 0, &mut out).expect("r"), 8);
        assert_eq!(&out, b"\0abcdefg");
        let mut cfg = [0u8; 4];
        read_config_bytes(&[1, 2, 3], 1, &mut cfg);
        assert_eq!(cfg, [2, 3, 0, 0]);
        read_config_bytes(&[1, 2, 3], u64::MAX, &mut cfg);
        assert_eq!(cfg, [0; 4]);
    }
}

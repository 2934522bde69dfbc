//! virtio devices over the virtio-mmio transport (virtio 1.x, "modern" only).
//!
//! Queue parsing is virtio-queue's (it bounds chain walks by the queue size, so a
//! descriptor loop ends); every buffer a chain names is checked against guest
//! memory here before any device touches it.

pub mod block;
pub mod console;
pub mod mmio;
pub mod rng;

use std::fmt;

use virtio_queue::{DescriptorChain, Queue};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// VIRTIO_F_VERSION_1: every device here is modern-only.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;

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

/// What a device may touch while processing: guest memory and its queues.
pub struct QueueCtx<'a> {
    pub mem: &'a GuestMemoryMmap,
    pub queues: &'a mut [Queue],
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
}

/// Why a chain was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// A buffer lies (partly) outside guest memory.
    OutOfRange { addr: u64, len: u32 },
    /// A device-readable buffer follows a device-writable one (virtio 1.x 2.7.4.2).
    ReadableAfterWritable,
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
        }
    }
}

/// Walk a chain (virtio-queue stops at a loop or a bad index) and check each buffer.
pub fn collect_chain(
    mem: &GuestMemoryMmap,
    chain: DescriptorChain<&GuestMemoryMmap>,
) -> (u16, Result<Chain, ChainError>) {
    let head = chain.head_index();
    let mut out = Chain {
        head,
        ..Default::default()
    };
    for d in chain {
        let buf = Buf {
            addr: d.addr(),
            len: d.len(),
            write: d.is_write_only(),
        };
        if buf.len > 0 && !GuestMemoryBackend::check_range(mem, buf.addr, buf.len as usize) {
            return (
                head,
                Err(ChainError::OutOfRange {
                    addr: buf.addr.0,
                    len: buf.len,
                }),
            );
        }
        if buf.write {
            out.writable.push(buf);
        } else if !out.writable.is_empty() {
            return (head, Err(ChainError::ReadableAfterWritable));
        } else {
            out.readable.push(buf);
        }
    }
    (head, Ok(out))
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
    use virtio_queue::QueueT;

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
        let c = q.pop_descriptor_chain(&m).expect("chain");
        let (_, r) = collect_chain(&m, c);
        let r = r.expect("valid");
        assert_eq!(r.readable_len(), 16);
        assert_eq!(r.writable_len(), 1);
        let (_, r) = collect_chain(&m, q.pop_descriptor_chain(&m).expect("chain"));
        assert!(matches!(r, Err(ChainError::OutOfRange { .. })));
        let (_, r) = collect_chain(&m, q.pop_descriptor_chain(&m).expect("chain"));
        assert_eq!(r.err(), Some(ChainError::ReadableAfterWritable));
        let (_, r) = collect_chain(&m, q.pop_descriptor_chain(&m).expect("chain"));
        assert!(matches!(r, Err(ChainError::OutOfRange { .. })));
    }

    #[test]
    fn descriptor_loop_terminates() {
        let m = mem();
        let mut tq = TestQueue::new(0, 4);
        let mut q = tq.queue(&m);
        // 0 -> 1 -> 0 -> ...
        tq.write_desc(&m, 0, DATA, 4, F_NEXT, 1);
        tq.write_desc(&m, 1, DATA, 4, F_NEXT, 0);
        tq.publish(&m, 0);
        let (_, r) = collect_chain(&m, q.pop_descriptor_chain(&m).expect("chain"));
        // The walk is cut at the queue size: at most 4 buffers, never endless.
        assert!(r.expect("bounded").readable.len() <= 4);
        // A next index past the queue size ends the chain too.
        tq.write_desc(&m, 2, DATA, 4, F_NEXT, 200);
        tq.publish(&m, 2);
        let (_, r) = collect_chain(&m, q.pop_descriptor_chain(&m).expect("chain"));
        assert!(r.expect("bounded").readable.len() <= 1);
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

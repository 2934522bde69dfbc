//! The virtio-mmio transport, version 2 (virtio 1.x, 4.2.2): the register
//! block the driver programs, feature negotiation, queue setup, notification
//! and the interrupt status. One transport per device, one page of MMIO each.
//!
//! Interrupt suppression is decided here for every device. Without
//! VIRTIO_F_EVENT_IDX the device interrupts after adding used buffers unless
//! the driver set VRING_AVAIL_F_NO_INTERRUPT. With it (virtio 1.x 2.7.7,
//! 2.7.10) the device interrupts only when the used index moves past the
//! driver's `used_event` ([`vring_need_event`], 16-bit wrapping), and after
//! each processing pass writes `avail_event` = the next avail index it will
//! read, so the driver notifies only for buffers the device has not seen.
//! Since the driver may add a buffer just before `avail_event` is written and
//! then skip the notification, the transport re-reads avail.idx after a full
//! fence and runs the device again on any queue with buffers it has not been
//! offered yet (bounded: only while something is consumed, or a few times).

use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{DeviceError, QueueCtx, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VirtioDevice};
use crate::devices::{BusDevice, Interrupt};

pub const MMIO_MAGIC: u32 = 0x7472_6976; // "virt"
pub const MMIO_VERSION: u32 = 2;
/// Vendor id reported to the driver: "GXVM".
pub const VENDOR_ID: u32 = 0x4d56_5847;

// Register offsets (virtio 1.x table 4.1).
pub const REG_MAGIC: u64 = 0x000;
pub const REG_VERSION: u64 = 0x004;
pub const REG_DEVICE_ID: u64 = 0x008;
pub const REG_VENDOR_ID: u64 = 0x00c;
pub const REG_DEVICE_FEATURES: u64 = 0x010;
pub const REG_DEVICE_FEATURES_SEL: u64 = 0x014;
pub const REG_DRIVER_FEATURES: u64 = 0x020;
pub const REG_DRIVER_FEATURES_SEL: u64 = 0x024;
pub const REG_QUEUE_SEL: u64 = 0x030;
pub const REG_QUEUE_NUM_MAX: u64 = 0x034;
pub const REG_QUEUE_NUM: u64 = 0x038;
pub const REG_QUEUE_READY: u64 = 0x044;
pub const REG_QUEUE_NOTIFY: u64 = 0x050;
pub const REG_INTERRUPT_STATUS: u64 = 0x060;
pub const REG_INTERRUPT_ACK: u64 = 0x064;
pub const REG_STATUS: u64 = 0x070;
pub const REG_QUEUE_DESC_LOW: u64 = 0x080;
pub const REG_QUEUE_DESC_HIGH: u64 = 0x084;
pub const REG_QUEUE_DRIVER_LOW: u64 = 0x090;
pub const REG_QUEUE_DRIVER_HIGH: u64 = 0x094;
pub const REG_QUEUE_DEVICE_LOW: u64 = 0x0a0;
pub const REG_QUEUE_DEVICE_HIGH: u64 = 0x0a4;
pub const REG_CONFIG_GENERATION: u64 = 0x0fc;
pub const REG_CONFIG: u64 = 0x100;

// Device status bits (virtio 1.x 2.1).
pub const STATUS_ACKNOWLEDGE: u32 = 1;
pub const STATUS_DRIVER: u32 = 2;
pub const STATUS_DRIVER_OK: u32 = 4;
pub const STATUS_FEATURES_OK: u32 = 8;
pub const STATUS_NEEDS_RESET: u32 = 0x40;
pub const STATUS_FAILED: u32 = 0x80;

pub const INT_VRING: u32 = 1;
pub const INT_CONFIG: u32 = 2;

/// VRING_AVAIL_F_NO_INTERRUPT: the driver asks for no interrupts (without EVENT_IDX).
pub const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Re-checks after publishing avail_event that consume nothing before the
/// transport stops re-running the device (a driver that keeps bumping
/// avail.idx without giving usable buffers must not keep it busy forever).
pub const MAX_IDLE_RECHECKS: u32 = 16;

/// virtio's `vring_need_event` (virtio 1.x 2.7.10, Linux's virtio_ring.h):
/// whether moving the used index from `old` to `new` passes `event`, all
/// 16-bit wrapping.
pub fn vring_need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

/// Address of `used_event` (after the avail ring) of a queue.
fn used_event_addr(q: &Queue) -> Option<GuestAddress> {
    q.avail_ring()
        .checked_add(4 + 2 * u64::from(q.size()))
        .map(GuestAddress)
}

/// Address of `avail_event` (after the used ring) of a queue.
fn avail_event_addr(q: &Queue) -> Option<GuestAddress> {
    q.used_ring()
        .checked_add(4 + 8 * u64::from(q.size()))
        .map(GuestAddress)
}

pub struct MmioTransport {
    device: Box<dyn VirtioDevice>,
    mem: GuestMemoryMmap,
    queues: Vec<Queue>,
    irq: Arc<dyn Interrupt>,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    status: u32,
    interrupt_status: u32,
    /// Set when the guest broke the device; cleared only by a reset.
    broken: Option<String>,
    /// Per queue: its used index when interrupts were last decided.
    signalled_used: Vec<u16>,
    /// Per queue, with EVENT_IDX: `(next_avail, avail.idx)` when its pending
    /// buffers were last handed to the device by a re-check.
    rechecked: Vec<Option<(u16, u16)>>,
}

impl MmioTransport {
    pub fn new(
        device: Box<dyn VirtioDevice>,
        mem: GuestMemoryMmap,
        irq: Arc<dyn Interrupt>,
    ) -> Result<Self, String> {
        let queues = device
            .queue_max_sizes()
            .into_iter()
            .map(|max| Queue::new(max).map_err(|e| format!("queue of size {max}: {e:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        let n = queues.len();
        Ok(MmioTransport {
            device,
            mem,
            queues,
            signalled_used: vec![0; n],
            rechecked: vec![None; n],
            irq,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            status: 0,
            interrupt_status: 0,
            broken: None,
        })
    }

    pub fn device_type(&self) -> u32 {
        self.device.device_type()
    }

    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    pub fn status(&self) -> u32 {
        self.status
    }

    /// Why the device stopped, if the guest broke it.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    fn running(&self) -> bool {
        self.status & STATUS_DRIVER_OK != 0 && self.broken.is_none()
    }

    fn reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.device.reset();
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.status = 0;
        self.interrupt_status = 0;
        self.broken = None;
        self.signalled_used.fill(0);
        self.rechecked.fill(None);
    }

    /// Mark the device as needing a reset and tell the driver (virtio 1.x 2.1.2).
    fn fail(&mut self, why: String) {
        self.broken = Some(why);
        self.status |= STATUS_NEEDS_RESET;
        self.interrupt_status |= INT_CONFIG;
        self.irq.trigger();
    }

    fn event_idx(&self) -> bool {
        self.driver_features & VIRTIO_RING_F_EVENT_IDX != 0
    }

    /// Interrupt if some queue has new used buffers and its driver wants to
    /// hear about them, or set NEEDS_RESET if processing failed.
    fn after_processing(&mut self, r: Result<bool, DeviceError>) {
        if let Err(e) = r {
            self.fail(e.0);
            return;
        }
        let event_idx = self.event_idx();
        // Order the used ring writes before reading used_event/flags (the
        // driver orders the other way round).
        fence(Ordering::SeqCst);
        let mut want = false;
        for (q, signalled) in self.queues.iter().zip(self.signalled_used.iter_mut()) {
            let new = q.next_used();
            let old = *signalled;
            if !q.ready() || new == old {
                continue;
            }
            *signalled = new;
            // An unreadable ring interrupts: a lost interrupt would hang the driver.
            want |= if event_idx {
                used_event_addr(q)
                    .and_then(|a| self.mem.load::<u16>(a, Ordering::Acquire).ok())
                    .is_none_or(|ev| vring_need_event(u16::from_le(ev), new, old))
            } else {
                self.mem
                    .load::<u16>(GuestAddress(q.avail_ring()), Ordering::Acquire)
                    .map_or(true, |f| u16::from_le(f) & VRING_AVAIL_F_NO_INTERRUPT == 0)
            };
        }
        if want {
            self.interrupt_status |= INT_VRING;
            self.irq.trigger();
        }
    }

    /// With EVENT_IDX: write `avail_event` = next avail index into every
    /// ready queue, then (after a full fence, pairing with the driver's)
    /// return the queues holding buffers that the device has not been
    /// offered since they were made available.
    fn publish_avail_events(&mut self) -> Result<Vec<usize>, DeviceError> {
        for (i, q) in self.queues.iter().enumerate() {
            if !q.ready() {
                continue;
            }
            avail_event_addr(q)
                .and_then(|a| {
                    self.mem
                        .store(q.next_avail().to_le(), a, Ordering::Release)
                        .ok()
                })
                .ok_or_else(|| DeviceError(format!("queue {i}: used ring outside guest memory")))?;
        }
        fence(Ordering::SeqCst);
        let mut again = Vec::new();
        for (i, (q, seen)) in self
            .queues
            .iter()
            .zip(self.rechecked.iter_mut())
            .enumerate()
        {
            if !q.ready() {
                continue;
            }
            let avail = q
                .avail_idx(&self.mem, Ordering::Acquire)
                .map_err(|e| DeviceError(format!("queue {i}: avail ring: {e}")))?
                .0;
            let next = q.next_avail();
            if avail != next && *seen != Some((next, avail)) {
                *seen = Some((next, avail));
                again.push(i);
            }
        }
        Ok(again)
    }

    /// After a processing pass: with EVENT_IDX, publish avail_event and run
    /// the device again on buffers the driver added without notifying;
    /// then interrupt as the driver asked.
    fn settle(&mut self, mut r: Result<bool, DeviceError>) {
        let mut idle = 0;
        while self.event_idx() && r.is_ok() {
            let again = match self.publish_avail_events() {
                Ok(again) => again,
                Err(e) => {
                    r = Err(e);
                    break;
                }
            };
            if again.is_empty() {
                break;
            }
            let before: Vec<u16> = self.queues.iter().map(|q| q.next_avail()).collect();
            for i in again {
                match self.run_queue(i) {
                    Ok(used) => r = r.map(|any| any | used),
                    Err(e) => r = Err(e),
                }
                if r.is_err() {
                    break;
                }
            }
            let progress = self
                .queues
                .iter()
                .zip(&before)
                .any(|(q, b)| q.next_avail() != *b);
            if progress {
                idle = 0;
            } else {
                // Nothing consumed: every avail_event written above is current.
                idle += 1;
                if idle >= MAX_IDLE_RECHECKS {
                    break;
                }
            }
        }
        self.after_processing(r);
    }

    fn run_queue(&mut self, i: usize) -> Result<bool, DeviceError> {
        let mut ctx = QueueCtx {
            mem: &self.mem,
            queues: &mut self.queues,
            features: self.driver_features,
        };
        self.device.process_queue(&mut ctx, i)
    }

    /// The driver notified queue `index` (MMIO write or ioeventfd).
    pub fn notify(&mut self, index: u32) {
        let i = index as usize;
        if !self.running() || !self.queues.get(i).is_some_and(|q| q.ready()) {
            return;
        }
        let r = self.run_queue(i);
        self.settle(r);
    }

    /// Host-side endpoints are ready.
    pub fn host_io(&mut self) {
        if !self.running() {
            return;
        }
        let mut ctx = QueueCtx {
            mem: &self.mem,
            queues: &mut self.queues,
            features: self.driver_features,
        };
        let r = self.device.process_host(&mut ctx);
        self.settle(r);
    }

    pub fn host_fds(&self) -> Vec<(std::os::fd::RawFd, bool, bool)> {
        self.device.host_fds()
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    fn read_reg(&mut self, offset: u64) -> u32 {
        match offset {
            REG_MAGIC => MMIO_MAGIC,
            REG_VERSION => MMIO_VERSION,
            REG_DEVICE_ID => self.device.device_type(),
            REG_VENDOR_ID => VENDOR_ID,
            REG_DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device.features() as u32,
                1 => (self.device.features() >> 32) as u32,
                _ => 0,
            },
            REG_QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| u32::from(q.max_size())),
            REG_QUEUE_READY => self.selected_queue().map_or(0, |q| u32::from(q.ready())),
            REG_INTERRUPT_STATUS => self.interrupt_status,
            REG_STATUS => self.status,
            REG_CONFIG_GENERATION => 0,
            _ => 0,
        }
    }

    fn write_reg(&mut self, offset: u64, v: u32) {
        // Queue layout may only change while the queue is not live.
        let queue_writable = self.status & STATUS_DRIVER_OK == 0
            || self.selected_queue().is_some_and(|q| !q.ready());
        match offset {
            REG_DEVICE_FEATURES_SEL => self.device_features_sel = v,
            REG_DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            // Features are frozen once FEATURES_OK is set.
            REG_DRIVER_FEATURES if self.status & STATUS_FEATURES_OK == 0 => {
                match self.driver_features_sel {
                    0 => {
                        self.driver_features = (self.driver_features & !0xffff_ffff) | u64::from(v)
                    }
                    1 => {
                        self.driver_features =
                            (self.driver_features & 0xffff_ffff) | (u64::from(v) << 32)
                    }
                    _ => {}
                }
            }
            REG_QUEUE_SEL => self.queue_sel = v,
            REG_QUEUE_NUM if queue_writable => {
                let sel = self.queue_sel;
                let refused = match (self.selected_queue(), u16::try_from(v)) {
                    (Some(q), Ok(size)) => q.try_set_size(size).is_err(),
                    (Some(_), Err(_)) => true,
                    (None, _) => false,
                };
                // A size the device cannot honour (zero, not a power of two,
                // above QueueNumMax) would desynchronise driver and device.
                if refused {
                    self.fail(format!("queue {sel}: size {v} refused"));
                }
            }
            REG_QUEUE_READY => {
                let mem = self.mem.clone();
                let Some(q) = self.queues.get_mut(self.queue_sel as usize) else {
                    return;
                };
                if v == 1 {
                    // virtio-queue only validates a queue that is marked ready.
                    q.set_ready(true);
                    if !q.is_valid(&mem) {
                        q.set_ready(false);
                        let why = format!(
                            "queue {} set up outside guest memory or with a bad size",
                            self.queue_sel
                        );
                        self.fail(why);
                    }
                } else if v == 0 {
                    q.set_ready(false);
                }
            }
            REG_QUEUE_NOTIFY => self.notify(v),
            REG_INTERRUPT_ACK => self.interrupt_status &= !v,
            REG_STATUS => self.write_status(v),
            REG_QUEUE_DESC_LOW
            | REG_QUEUE_DESC_HIGH
            | REG_QUEUE_DRIVER_LOW
            | REG_QUEUE_DRIVER_HIGH
            | REG_QUEUE_DEVICE_LOW
            | REG_QUEUE_DEVICE_HIGH
                if queue_writable =>
            {
                let Some(q) = self.selected_queue() else {
                    return;
                };
                let (lo, hi) = if offset & 4 == 0 {
                    (Some(v), None)
                } else {
                    (None, Some(v))
                };
                match offset & !4 {
                    REG_QUEUE_DESC_LOW => q.set_desc_table_address(lo, hi),
                    REG_QUEUE_DRIVER_LOW => q.set_avail_ring_address(lo, hi),
                    _ => q.set_used_ring_address(lo, hi),
                }
            }
            _ => {}
        }
    }

    fn write_status(&mut self, v: u32) {
        if v == 0 {
            self.reset();
            return;
        }
        let mut v = v;
        let newly = v & !self.status;
        if newly & STATUS_FEATURES_OK != 0 {
            let offered = self.device.features();
            let ok = self.driver_features & !offered == 0
                && self.driver_features & VIRTIO_F_VERSION_1 != 0;
            if !ok {
                // The driver reads FEATURES_OK back and gives up (virtio 1.x 3.1.1).
                v &= !STATUS_FEATURES_OK;
            }
        }
        if newly & STATUS_DRIVER_OK != 0 {
            if v & STATUS_FEATURES_OK == 0 {
                v &= !STATUS_DRIVER_OK;
            } else {
                self.device.activate(self.driver_features);
            }
        }
        // Bits are only ever added by the driver; NEEDS_RESET stays ours.
        self.status = (self.status & STATUS_NEEDS_RESET) | v;
    }
}

impl BusDevice for MmioTransport {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= REG_CONFIG {
            self.device.read_config(offset - REG_CONFIG, data);
        } else if data.len() == 4 && offset % 4 == 0 {
            data.copy_from_slice(&self.read_reg(offset).to_le_bytes());
        } else {
            data.fill(0);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if offset >= REG_CONFIG {
            self.device.write_config(offset - REG_CONFIG, data);
        } else if let (true, Ok(b)) = (offset % 4 == 0, <[u8; 4]>::try_from(data)) {
            self.write_reg(offset, u32::from_le_bytes(b));
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::virtio::testq::*;
    use crate::virtio::{DeviceError, RING_FEATURES, pop_chain};
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU32;

    #[derive(Default)]
    pub struct CountIrq(pub Mutex<u32>);
    impl Interrupt for CountIrq {
        fn trigger(&self) {
            if let Ok(mut c) = self.0.lock() {
                *c += 1;
            }
        }
    }
    impl CountIrq {
        pub fn count(&self) -> u32 {
            self.0.lock().map(|c| *c).unwrap_or(0)
        }
    }

    /// Completes every chain with length 0; fails on an out-of-range chain.
    struct Dummy;
    impl VirtioDevice for Dummy {
        fn device_type(&self) -> u32 {
            42
        }
        fn queue_max_sizes(&self) -> Vec<u16> {
            vec![8, 8]
        }
        fn features(&self) -> u64 {
            VIRTIO_F_VERSION_1 | RING_FEATURES | 1
        }
        fn read_config(&self, offset: u64, data: &mut [u8]) {
            crate::virtio::read_config_bytes(&[9, 8, 7, 6], offset, data)
        }
        fn process_queue(
            &mut self,
            ctx: &mut QueueCtx<'_>,
            index: usize,
        ) -> Result<bool, DeviceError> {
            let mem = ctx.mem;
            let features = ctx.features;
            let q = &mut ctx.queues[index];
            let mut any = false;
            while let Some((head, r)) = pop_chain(mem, q, features) {
                r.map_err(|e| DeviceError(e.to_string()))?;
                q.add_used(mem, head, 0)
                    .map_err(|e| DeviceError(format!("{e:?}")))?;
                any = true;
            }
            Ok(any)
        }
        fn reset(&mut self) {}
    }

    pub fn rd(t: &mut MmioTransport, off: u64) -> u32 {
        let mut b = [0u8; 4];
        t.read(off, &mut b);
        u32::from_le_bytes(b)
    }
    pub fn wr(t: &mut MmioTransport, off: u64, v: u32) {
        t.write(off, &v.to_le_bytes());
    }

    /// Drive the driver side of initialisation (virtio 1.x 3.1.1) with `features`.
    pub fn init(t: &mut MmioTransport, features: u64, queues: &[(usize, &TestQueue)]) -> u32 {
        wr(t, REG_STATUS, 0);
        wr(t, REG_STATUS, STATUS_ACKNOWLEDGE);
        wr(t, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        wr(t, REG_DRIVER_FEATURES_SEL, 0);
        wr(t, REG_DRIVER_FEATURES, features as u32);
        wr(t, REG_DRIVER_FEATURES_SEL, 1);
        wr(t, REG_DRIVER_FEATURES, (features >> 32) as u32);
        wr(
            t,
            REG_STATUS,
            STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK,
        );
        let st = rd(t, REG_STATUS);
        if st & STATUS_FEATURES_OK == 0 {
            return st;
        }
        for &(i, tq) in queues {
            wr(t, REG_QUEUE_SEL, i as u32);
            wr(t, REG_QUEUE_NUM, u32::from(tq.size));
            wr(t, REG_QUEUE_DESC_LOW, (DESC + tq.base) as u32);
            wr(t, REG_QUEUE_DESC_HIGH, 0);
            wr(t, REG_QUEUE_DRIVER_LOW, (AVAIL + tq.base) as u32);
            wr(t, REG_QUEUE_DRIVER_HIGH, 0);
            wr(t, REG_QUEUE_DEVICE_LOW, (USED + tq.base) as u32);
            wr(t, REG_QUEUE_DEVICE_HIGH, 0);
            wr(t, REG_QUEUE_READY, 1);
        }
        wr(
            t,
            REG_STATUS,
            STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK,
        );
        rd(t, REG_STATUS)
    }

    fn dummy() -> (MmioTransport, Arc<CountIrq>, GuestMemoryMmap) {
        let m = mem();
        let irq = Arc::new(CountIrq::default());
        let t = MmioTransport::new(Box::new(Dummy), m.clone(), irq.clone()).expect("transport");
        (t, irq, m)
    }

    #[test]
    fn identification_registers() {
        let (mut t, _, _) = dummy();
        assert_eq!(rd(&mut t, REG_MAGIC), MMIO_MAGIC);
        assert_eq!(rd(&mut t, REG_VERSION), 2);
        assert_eq!(rd(&mut t, REG_DEVICE_ID), 42);
        wr(&mut t, REG_DEVICE_FEATURES_SEL, 1);
        assert_eq!(rd(&mut t, REG_DEVICE_FEATURES), 1);
        wr(&mut t, REG_DEVICE_FEATURES_SEL, 0);
        assert_eq!(rd(&mut t, REG_DEVICE_FEATURES), 1 | 1 << 28 | 1 << 29);
        wr(&mut t, REG_QUEUE_SEL, 1);
        assert_eq!(rd(&mut t, REG_QUEUE_NUM_MAX), 8);
        wr(&mut t, REG_QUEUE_SEL, 7);
        assert_eq!(
            rd(&mut t, REG_QUEUE_NUM_MAX),
            0,
            "a missing queue reads as absent"
        );
        let mut c = [0u8; 2];
        t.read(REG_CONFIG + 1, &mut c);
        assert_eq!(c, [8, 7]);
        // Unaligned or narrow register reads give zero, not a panic.
        let mut b = [0u8; 2];
        t.read(REG_MAGIC, &mut b);
        assert_eq!(b, [0, 0]);
        t.write(REG_STATUS + 1, &[1, 2, 3, 4]);
        assert_eq!(rd(&mut t, REG_STATUS), 0);
    }

    #[test]
    fn feature_negotiation_rejects_unoffered_or_legacy() {
        let (mut t, _, _) = dummy();
        let st = init(&mut t, 1, &[]);
        assert_eq!(st & STATUS_FEATURES_OK, 0, "VERSION_1 is required");
        let st = init(&mut t, VIRTIO_F_VERSION_1 | 2, &[]);
        assert_eq!(st & STATUS_FEATURES_OK, 0, "feature 1 was not offered");
        let st = init(&mut t, VIRTIO_F_VERSION_1 | 1, &[]);
        assert_ne!(st & STATUS_DRIVER_OK, 0);
        wr(&mut t, REG_STATUS, 0);
        assert_eq!(rd(&mut t, REG_STATUS), 0);
    }

    #[test]
    fn notify_completes_and_interrupts_and_ack_clears() {
        let (mut t, irq, m) = dummy();
        let mut tq = TestQueue::new(0, 8);
        let st = init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        assert_ne!(st & STATUS_DRIVER_OK, 0);
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 1);
        assert_eq!(irq.count(), 1);
        assert_eq!(rd(&mut t, REG_INTERRUPT_STATUS), INT_VRING);
        wr(&mut t, REG_INTERRUPT_ACK, INT_VRING);
        assert_eq!(rd(&mut t, REG_INTERRUPT_STATUS), 0);
        // Notifying a queue that is not ready, or does not exist, does nothing.
        wr(&mut t, REG_QUEUE_NOTIFY, 1);
        wr(&mut t, REG_QUEUE_NOTIFY, 99);
        assert_eq!(irq.count(), 1);
    }

    #[test]
    fn queue_outside_memory_sets_needs_reset() {
        let (mut t, irq, _) = dummy();
        let tq = TestQueue {
            base: 0x7fff_0000,
            size: 8,
            next_desc: 0,
            avail_idx: 0,
        };
        let st = init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        assert_ne!(st & STATUS_NEEDS_RESET, 0);
        assert!(t.broken().is_some());
        assert_eq!(rd(&mut t, REG_INTERRUPT_STATUS) & INT_CONFIG, INT_CONFIG);
        assert!(irq.count() >= 1);
        // A reset brings it back.
        wr(&mut t, REG_STATUS, 0);
        assert!(t.broken().is_none());
    }

    #[test]
    fn bad_queue_size_is_refused() {
        let (mut t, _, _) = dummy();
        let tq = TestQueue {
            base: 0,
            size: 6,
            next_desc: 0,
            avail_idx: 0,
        };
        let st = init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        assert_ne!(st & STATUS_NEEDS_RESET, 0, "size 6 is not a power of two");
    }

    #[test]
    fn broken_chain_stops_the_device_not_the_vmm() {
        let (mut t, _, m) = dummy();
        let mut tq = TestQueue::new(0, 8);
        init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        tq.add_chain(&m, &[(0xdead_0000, 64, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_ne!(rd(&mut t, REG_STATUS) & STATUS_NEEDS_RESET, 0);
        // Further notifications are ignored until reset.
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 0);
    }

    #[test]
    fn avail_index_far_ahead_is_contained() {
        let (mut t, _, m) = dummy();
        let tq = TestQueue::new(0, 8);
        init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        // avail.idx claims 1000 new buffers in a ring of 8: virtio-queue refuses
        // the iteration, so nothing is consumed and nothing panics.
        vm_memory::Bytes::write_obj(&m, 1000u16, vm_memory::GuestAddress(AVAIL + 2)).expect("w");
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 0);
    }

    const EVENT_IDX: u64 = VIRTIO_RING_F_EVENT_IDX;

    fn set_used_event(m: &GuestMemoryMmap, tq: &TestQueue, v: u16) {
        let a = AVAIL + tq.base + 4 + 2 * u64::from(tq.size);
        vm_memory::Bytes::write_obj(m, v, GuestAddress(a)).expect("w");
    }

    fn avail_event(m: &GuestMemoryMmap, tq: &TestQueue) -> u16 {
        let a = USED + tq.base + 4 + 8 * u64::from(tq.size);
        vm_memory::Bytes::read_obj(m, GuestAddress(a)).expect("r")
    }

    /// Put queue 0 of `t` and the driver's view at avail/used index `at`.
    fn start_at(t: &mut MmioTransport, m: &GuestMemoryMmap, tq: &mut TestQueue, at: u16) {
        t.queues[0].set_next_avail(at);
        t.queues[0].set_next_used(at);
        t.signalled_used[0] = at;
        tq.avail_idx = at;
        vm_memory::Bytes::write_obj(m, at, GuestAddress(AVAIL + tq.base + 2)).expect("w");
        vm_memory::Bytes::write_obj(m, at, GuestAddress(USED + tq.base + 2)).expect("w");
    }

    #[test]
    fn vring_need_event_matches_the_spec_across_wraparound() {
        // Interrupt when the used index moves past `event` (new-1 >= event > ... old-1).
        assert!(vring_need_event(0, 1, 0));
        assert!(!vring_need_event(1, 1, 0));
        assert!(vring_need_event(1, 2, 0));
        assert!(!vring_need_event(5, 3, 0));
        assert!(!vring_need_event(0, 0, 0), "nothing new, no interrupt");
        // Across 0xffff -> 0.
        assert!(vring_need_event(0xffff, 0, 0xfffe));
        assert!(vring_need_event(0xfffd, 2, 0xfff8));
        assert!(!vring_need_event(0xfffd, 0xfffc, 0xfff8));
        assert!(!vring_need_event(3, 2, 0xfff8));
        assert!(vring_need_event(1, 2, 0xfff8));
        // An event already behind `old` is not passed again.
        assert!(!vring_need_event(0xfff0, 2, 0xfff8));
    }

    #[test]
    fn event_idx_interrupts_only_past_used_event_across_wraparound() {
        let (mut t, irq, m) = dummy();
        let mut tq = TestQueue::new(0, 8);
        let st = init(&mut t, VIRTIO_F_VERSION_1 | EVENT_IDX, &[(0, &tq)]);
        assert_ne!(st & STATUS_DRIVER_OK, 0);
        start_at(&mut t, &m, &mut tq, 0xfff8);
        // The driver wants an interrupt once 0xfffd is used (idx reaches 0xfffe).
        set_used_event(&m, &tq, 0xfffd);
        for _ in 0..4 {
            tq.add_chain(&m, &[(DATA, 8, false)]);
        }
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 0xfffc);
        assert_eq!(irq.count(), 0, "used_event not reached");
        assert_eq!(avail_event(&m, &tq), 0xfffc, "avail_event = next avail");
        for _ in 0..4 {
            tq.add_chain(&m, &[(DATA, 8, false)]);
        }
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 0, "used.idx wrapped");
        assert_eq!(irq.count(), 1, "passed used_event across the wrap");
        assert_eq!(avail_event(&m, &tq), 0);
        // One at a time up to used_event = 2: interrupt only for the third.
        set_used_event(&m, &tq, 2);
        for (n, want) in [(1u16, 1u32), (2, 1), (3, 2)] {
            tq.add_chain(&m, &[(DATA, 8, false)]);
            wr(&mut t, REG_QUEUE_NOTIFY, 0);
            assert_eq!(tq.used_idx(&m), n);
            assert_eq!(irq.count(), want, "used.idx {n}");
        }
        // A used_event left behind (the driver is not interested) means silence.
        set_used_event(&m, &tq, 0xfff0);
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(irq.count(), 2);
        // The avail flags are ignored with EVENT_IDX; used_event is what counts.
        vm_memory::Bytes::write_obj(&m, VRING_AVAIL_F_NO_INTERRUPT, GuestAddress(AVAIL))
            .expect("w");
        set_used_event(&m, &tq, 4);
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 5);
        assert_eq!(irq.count(), 3);
    }

    #[test]
    fn without_event_idx_used_event_is_ignored_and_no_interrupt_flag_honoured() {
        let (mut t, irq, m) = dummy();
        let mut tq = TestQueue::new(0, 8);
        init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        set_used_event(&m, &tq, 100);
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(irq.count(), 1);
        assert_eq!(avail_event(&m, &tq), 0, "avail_event untouched");
        vm_memory::Bytes::write_obj(&m, VRING_AVAIL_F_NO_INTERRUPT, GuestAddress(AVAIL))
            .expect("w");
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 2);
        assert_eq!(irq.count(), 1, "VRING_AVAIL_F_NO_INTERRUPT");
        vm_memory::Bytes::write_obj(&m, 0u16, GuestAddress(AVAIL)).expect("w");
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(irq.count(), 2);
    }

    /// Completes every chain; the first time, it also plays a driver that
    /// adds a buffer (descriptor 1) while the device works and, seeing the
    /// stale avail_event, does not notify.
    struct Racer {
        raced: bool,
    }
    impl VirtioDevice for Racer {
        fn device_type(&self) -> u32 {
            42
        }
        fn queue_max_sizes(&self) -> Vec<u16> {
            vec![8]
        }
        fn features(&self) -> u64 {
            VIRTIO_F_VERSION_1 | RING_FEATURES
        }
        fn read_config(&self, _offset: u64, data: &mut [u8]) {
            data.fill(0);
        }
        fn process_queue(
            &mut self,
            ctx: &mut QueueCtx<'_>,
            index: usize,
        ) -> Result<bool, DeviceError> {
            let (mem, features) = (ctx.mem, ctx.features);
            let q = &mut ctx.queues[index];
            let mut any = false;
            while let Some((head, r)) = pop_chain(mem, q, features) {
                r.map_err(|e| DeviceError(e.to_string()))?;
                q.add_used(mem, head, 0)
                    .map_err(|e| DeviceError(format!("{e:?}")))?;
                any = true;
            }
            if !self.raced {
                self.raced = true;
                let tq = TestQueue {
                    base: 0,
                    size: 8,
                    next_desc: 1,
                    avail_idx: 1,
                };
                tq.write_desc(mem, 1, DATA, 8, 0, 0);
                let mut tq = tq;
                tq.publish(mem, 1);
            }
            Ok(any)
        }
        fn reset(&mut self) {}
    }

    #[test]
    fn event_idx_rechecks_avail_after_publishing_avail_event() {
        let m = mem();
        let irq = Arc::new(CountIrq::default());
        let mut t = MmioTransport::new(Box::new(Racer { raced: false }), m.clone(), irq.clone())
            .expect("transport");
        let mut tq = TestQueue::new(0, 8);
        init(&mut t, VIRTIO_F_VERSION_1 | EVENT_IDX, &[(0, &tq)]);
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(
            tq.used_idx(&m),
            2,
            "the buffer added without a notification was used too"
        );
        assert_eq!(avail_event(&m, &tq), 2);
        assert_eq!(irq.count(), 1, "one interrupt for both");
    }

    /// Consumes nothing (a device waiting for its host side); optionally
    /// plays a driver that bumps avail.idx every time the device runs.
    struct Lazy {
        calls: Arc<AtomicU32>,
        bump: bool,
    }
    impl VirtioDevice for Lazy {
        fn device_type(&self) -> u32 {
            42
        }
        fn queue_max_sizes(&self) -> Vec<u16> {
            vec![8]
        }
        fn features(&self) -> u64 {
            VIRTIO_F_VERSION_1 | RING_FEATURES
        }
        fn read_config(&self, _offset: u64, data: &mut [u8]) {
            data.fill(0);
        }
        fn process_queue(
            &mut self,
            ctx: &mut QueueCtx<'_>,
            _index: usize,
        ) -> Result<bool, DeviceError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.bump {
                let a = GuestAddress(AVAIL + 2);
                let idx: u16 = ctx
                    .mem
                    .read_obj(a)
                    .map_err(|e| DeviceError(e.to_string()))?;
                // Flip between 1 and 2: always something pending, never the same.
                ctx.mem
                    .write_obj(if idx == 1 { 2u16 } else { 1 }, a)
                    .map_err(|e| DeviceError(e.to_string()))?;
            }
            Ok(false)
        }
        fn reset(&mut self) {}
    }

    #[test]
    fn event_idx_rechecks_of_declined_buffers_are_bounded() {
        for bump in [false, true] {
            let m = mem();
            let calls = Arc::new(AtomicU32::new(0));
            let dev = Lazy {
                calls: calls.clone(),
                bump,
            };
            let mut t = MmioTransport::new(Box::new(dev), m.clone(), Arc::new(CountIrq::default()))
                .expect("transport");
            let mut tq = TestQueue::new(0, 8);
            init(&mut t, VIRTIO_F_VERSION_1 | EVENT_IDX, &[(0, &tq)]);
            tq.add_chain(&m, &[(DATA, 8, false)]);
            wr(&mut t, REG_QUEUE_NOTIFY, 0);
            let n = calls.load(Ordering::Relaxed);
            if bump {
                // avail.idx changes on every run: re-checks stop after MAX_IDLE_RECHECKS.
                assert_eq!(n, 1 + MAX_IDLE_RECHECKS);
            } else {
                // The notification, then one re-check of the declined buffer.
                assert_eq!(n, 2);
                // Nothing new: a later notification runs the device once, no re-check.
                wr(&mut t, REG_QUEUE_NOTIFY, 0);
                assert_eq!(calls.load(Ordering::Relaxed), 3);
                // A new buffer is offered again once.
                tq.add_chain(&m, &[(DATA, 8, false)]);
                wr(&mut t, REG_QUEUE_NOTIFY, 0);
                assert_eq!(calls.load(Ordering::Relaxed), 5);
            }
            assert_eq!(avail_event(&m, &tq), 0, "nothing consumed");
            assert_eq!(rd(&mut t, REG_STATUS) & STATUS_NEEDS_RESET, 0);
        }
    }

    #[test]
    fn event_idx_state_is_cleared_by_reset() {
        let (mut t, irq, m) = dummy();
        let mut tq = TestQueue::new(0, 8);
        init(&mut t, VIRTIO_F_VERSION_1 | EVENT_IDX, &[(0, &tq)]);
        start_at(&mut t, &m, &mut tq, 0x1234);
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(t.signalled_used[0], 0x1235);
        // Driver resets and starts over (fresh rings, no EVENT_IDX).
        wr(&mut t, REG_STATUS, 0);
        assert_eq!(t.signalled_used[0], 0);
        assert!(t.rechecked.iter().all(|r| r.is_none()));
        let mut tq = TestQueue::new(0, 8);
        for a in [AVAIL, USED] {
            vm_memory::Bytes::write_slice(&m, &[0u8; 0x100], GuestAddress(a)).expect("w");
        }
        init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        let before = irq.count();
        tq.add_chain(&m, &[(DATA, 8, false)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 1);
        assert_eq!(irq.count(), before + 1);
    }
}

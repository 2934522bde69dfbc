//! The virtio-mmio transport, version 2 (virtio 1.x, 4.2.2): the register
//! block the driver programs, feature negotiation, queue setup, notification
//! and the interrupt status. One transport per device, one page of MMIO each.

use std::sync::Arc;

use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;

use super::{QueueCtx, VIRTIO_F_VERSION_1, VirtioDevice};
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
        Ok(MmioTransport {
            device,
            mem,
            queues,
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
    }

    /// Mark the device as needing a reset and tell the driver (virtio 1.x 2.1.2).
    fn fail(&mut self, why: String) {
        self.broken = Some(why);
        self.status |= STATUS_NEEDS_RESET;
        self.interrupt_status |= INT_CONFIG;
        self.irq.trigger();
    }

    fn after_processing(&mut self, r: Result<bool, super::DeviceError>) {
        match r {
            Ok(true) => {
                // Without EVENT_IDX this honours VRING_AVAIL_F_NO_INTERRUPT.
                let mut want = false;
                for q in &mut self.queues {
                    if q.ready() {
                        want |= q.needs_notification(&self.mem).unwrap_or(true);
                    }
                }
                if want {
                    self.interrupt_status |= INT_VRING;
                    self.irq.trigger();
                }
            }
            Ok(false) => {}
            Err(e) => self.fail(e.0),
        }
    }

    /// The driver notified queue `index` (MMIO write or ioeventfd).
    pub fn notify(&mut self, index: u32) {
        let i = index as usize;
        if !self.running() || !self.queues.get(i).is_some_and(|q| q.ready()) {
            return;
        }
        let mut ctx = QueueCtx {
            mem: &self.mem,
            queues: &mut self.queues,
        };
        let r = self.device.process_queue(&mut ctx, i);
        self.after_processing(r);
    }

    /// Host-side endpoints are ready.
    pub fn host_io(&mut self) {
        if !self.running() {
            return;
        }
        let mut ctx = QueueCtx {
            mem: &self.mem,
            queues: &mut self.queues,
        };
        let r = self.device.process_host(&mut ctx);
        self.after_processing(r);
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
    use crate::virtio::{DeviceError, collect_chain};
    use std::sync::Mutex;

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
            VIRTIO_F_VERSION_1 | 1
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
            let q = &mut ctx.queues[index];
            let mut any = false;
            while let Some(c) = q.pop_descriptor_chain(mem) {
                let (head, r) = collect_chain(mem, c);
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
        assert_eq!(rd(&mut t, REG_DEVICE_FEATURES), 1);
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
}

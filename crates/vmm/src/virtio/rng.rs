//! virtio-rng (virtio 1.x, 5.4): fills the guest's buffers from the host's
//! getrandom(2), so the appliance kernel never waits for entropy.

use virtio_queue::QueueT;

use super::{
    DeviceError, QueueCtx, RING_FEATURES, TYPE_RNG, VIRTIO_F_VERSION_1, VirtioDevice, pop_chain,
    write_bufs,
};

pub const QUEUE_SIZE: u16 = 64;
/// Most bytes served per request: a guest asking for more just gets less.
pub const MAX_BYTES_PER_REQUEST: u64 = 64 * 1024;

#[derive(Default)]
pub struct Rng;

fn fill_random(buf: &mut [u8]) -> Result<(), DeviceError> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: getrandom writes at most `rest.len()` bytes into `rest`, a
        // valid, exclusively borrowed buffer.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(DeviceError(format!("virtio-rng: getrandom: {e}")));
        }
        done += n as usize;
    }
    Ok(())
}

impl VirtioDevice for Rng {
    fn device_type(&self) -> u32 {
        TYPE_RNG
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        VIRTIO_F_VERSION_1 | RING_FEATURES
    }

    fn read_config(&self, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn process_queue(&mut self, ctx: &mut QueueCtx<'_>, index: usize) -> Result<bool, DeviceError> {
        let mem = ctx.mem;
        let features = ctx.features;
        let Some(q) = ctx.queues.get_mut(index) else {
            return Ok(false);
        };
        let mut any = false;
        while let Some((head, chain)) = pop_chain(mem, q, features) {
            let chain = chain.map_err(|e| DeviceError(format!("virtio-rng: {e}")))?;
            let n = chain.writable_len().min(MAX_BYTES_PER_REQUEST) as usize;
            let mut buf = vec![0u8; n];
            fill_random(&mut buf)?;
            let written = write_bufs(mem, &chain.writable, 0, &buf)?;
            q.add_used(mem, head, written as u32)
                .map_err(|e| DeviceError(format!("virtio-rng: used ring: {e:?}")))?;
            any = true;
        }
        Ok(any)
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtio::mmio::tests::{CountIrq, init, wr};
    use crate::virtio::mmio::{MmioTransport, REG_QUEUE_NOTIFY};
    use crate::virtio::testq::*;
    use std::sync::Arc;
    use vm_memory::{Bytes, GuestAddress};

    #[test]
    fn fills_writable_buffers_and_caps_length() {
        let m = mem();
        let irq = Arc::new(CountIrq::default());
        let mut t = MmioTransport::new(Box::new(Rng), m.clone(), irq.clone()).expect("t");
        let mut tq = TestQueue::new(0, 8);
        init(&mut t, VIRTIO_F_VERSION_1, &[(0, &tq)]);
        tq.add_chain(&m, &[(DATA, 32, true), (DATA + 64, 32, true)]);
        // A readable-only chain gets nothing.
        tq.add_chain(&m, &[(DATA + 0x1000, 32, false)]);
        // Asking for more than the cap.
        tq.add_chain(&m, &[(DATA + 0x2_0000, 0x2_0000, true)]);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 3);
        assert_eq!(tq.used(&m, 0).1, 64);
        assert_eq!(tq.used(&m, 1).1, 0);
        assert_eq!(tq.used(&m, 2).1 as u64, MAX_BYTES_PER_REQUEST);
        let mut b = [0u8; 32];
        m.read_slice(&mut b, GuestAddress(DATA)).expect("r");
        assert!(b.iter().any(|&x| x != 0));
        assert_eq!(irq.count(), 1);
    }

    #[test]
    fn indirect_buffers_and_hostile_tables() {
        use crate::virtio::mmio::{REG_STATUS, STATUS_NEEDS_RESET};
        use crate::virtio::{RING_FEATURES, VIRTIO_RING_F_INDIRECT_DESC};
        assert_eq!(Rng.features() & RING_FEATURES, RING_FEATURES);
        let m = mem();
        let irq = Arc::new(CountIrq::default());
        let mut t = MmioTransport::new(Box::new(Rng), m.clone(), irq).expect("t");
        let mut tq = TestQueue::new(0, 8);
        init(
            &mut t,
            VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT_DESC,
            &[(0, &tq)],
        );
        tq.add_indirect(
            &m,
            &[],
            DATA + 0x8000,
            &[(DATA, 16, true), (DATA + 64, 48, true)],
        );
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 1);
        assert_eq!(tq.used(&m, 0).1, 64);
        // An indirect table that loops: device reset, no hang.
        tq.write_table(&m, DATA + 0x8000, &[(DATA, 16, F_WRITE | F_NEXT, 0)]);
        tq.add_raw(&m, DATA + 0x8000, 16, F_INDIRECT, 0);
        wr(&mut t, REG_QUEUE_NOTIFY, 0);
        assert_eq!(tq.used_idx(&m), 1);
        let mut s = [0u8; 4];
        crate::devices::BusDevice::read(&mut t, REG_STATUS, &mut s);
        assert_ne!(u32::from_le_bytes(s) & STATUS_NEEDS_RESET, 0);
    }
}

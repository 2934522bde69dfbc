//! virtio-blk (virtio 1.x, 5.2) over a gx-disk block device: read, write,
//! flush and get-id. A read-only disk advertises VIRTIO_BLK_F_RO and answers
//! writes with VIRTIO_BLK_S_IOERR without touching the image.

use virtio_queue::QueueT;

use super::{
    Chain, DeviceError, QueueCtx, RING_FEATURES, TYPE_BLOCK, VIRTIO_F_VERSION_1, VirtioDevice,
    pop_chain, read_bufs, read_config_bytes, write_bufs,
};

pub const SECTOR_SIZE: u64 = 512;
pub const QUEUE_SIZE: u16 = 256;
/// The largest data transfer one request may ask for; more is IOERR, so a
/// guest cannot make the VMM allocate without bound.
pub const MAX_REQUEST_BYTES: u64 = 4 << 20;
/// Length of the GET_ID answer (virtio 1.x 5.2.6).
pub const ID_BYTES: usize = 20;

pub const F_SEG_MAX: u64 = 1 << 2;
pub const F_RO: u64 = 1 << 5;
pub const F_BLK_SIZE: u64 = 1 << 6;
pub const F_FLUSH: u64 = 1 << 9;

pub const T_IN: u32 = 0;
pub const T_OUT: u32 = 1;
pub const T_FLUSH: u32 = 4;
pub const T_GET_ID: u32 = 8;

pub const S_OK: u8 = 0;
pub const S_IOERR: u8 = 1;
pub const S_UNSUPP: u8 = 2;

pub struct Block {
    disk: gx_disk::Device,
    read_only: bool,
    id: [u8; ID_BYTES],
    /// Whether a failed write was reported on stderr: the guest only sees
    /// IOERR, so the first host-side reason (a full copy-on-write overlay,
    /// a host I/O error) is printed once.
    write_error_reported: std::sync::atomic::AtomicBool,
}

impl Block {
    /// `read_only` is forced on when the device itself cannot be written.
    pub fn new(disk: gx_disk::Device, read_only: bool, serial: &str) -> Self {
        let mut id = [0u8; ID_BYTES];
        for (d, s) in id.iter_mut().zip(serial.bytes()) {
            *d = s;
        }
        let read_only = read_only || disk.is_read_only();
        Block {
            disk,
            read_only,
            id,
            write_error_reported: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn capacity_sectors(&self) -> u64 {
        self.disk.size() / SECTOR_SIZE
    }

    /// Execute one request; returns the status and how many data bytes went
    /// into writable buffers (not counting the status byte).
    fn execute(&self, ctx: &QueueCtx<'_>, chain: &Chain) -> Result<(u8, u32), DeviceError> {
        let mut hdr = [0u8; 16];
        if read_bufs(ctx.mem, &chain.readable, 0, &mut hdr)? < hdr.len() {
            return Ok((S_IOERR, 0));
        }
        let type_ = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let sector = u64::from_le_bytes([
            hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
        ]);
        // The status byte is the last writable byte; the data is what precedes it.
        let data_in_len = chain.writable_len() - 1;
        let data_out_len = chain.readable_len() - 16;
        match type_ {
            T_IN | T_OUT => {
                let len = if type_ == T_IN {
                    data_in_len
                } else {
                    data_out_len
                };
                if len % SECTOR_SIZE != 0 || len > MAX_REQUEST_BYTES {
                    return Ok((S_IOERR, 0));
                }
                let in_range = sector
                    .checked_mul(SECTOR_SIZE)
                    .and_then(|off| off.checked_add(len).map(|end| (off, end)))
                    .filter(|&(_, end)| end <= self.capacity_sectors() * SECTOR_SIZE);
                let Some((offset, _)) = in_range else {
                    return Ok((S_IOERR, 0));
                };
                let mut buf = vec![0u8; len as usize];
                if type_ == T_IN {
                    if self.disk.read_at(&mut buf, offset).is_err() {
                        return Ok((S_IOERR, 0));
                    }
                    let n = write_bufs(ctx.mem, &chain.writable, 0, &buf)?;
                    Ok((S_OK, n as u32))
                } else {
                    if self.read_only {
                        return Ok((S_IOERR, 0));
                    }
                    read_bufs(ctx.mem, &chain.readable, 16, &mut buf)?;
                    match self.disk.write_at(&buf, offset) {
                        Ok(()) => Ok((S_OK, 0)),
                        Err(e) => {
                            use std::sync::atomic::Ordering;
                            if !self.write_error_reported.swap(true, Ordering::Relaxed) {
                                eprintln!("gx-vmm: virtio-blk: write at byte {offset} failed: {e}");
                            }
                            Ok((S_IOERR, 0))
                        }
                    }
                }
            }
            T_FLUSH => {
                if self.read_only {
                    return Ok((S_OK, 0));
                }
                match self.disk.flush() {
                    Ok(()) => Ok((S_OK, 0)),
                    Err(_) => Ok((S_IOERR, 0)),
                }
            }
            T_GET_ID => {
                let n = (data_in_len as usize).min(ID_BYTES);
                let n = write_bufs(ctx.mem, &chain.writable, 0, &self.id[..n])?;
                Ok((S_OK, n as u32))
            }
            _ => Ok((S_UNSUPP, 0)),
        }
    }
}

impl VirtioDevice for Block {
    fn device_type(&self) -> u32 {
        TYPE_BLOCK
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        let mut f = VIRTIO_F_VERSION_1 | RING_FEATURES | F_SEG_MAX | F_BLK_SIZE | F_FLUSH;
        if self.read_only {
            f |= F_RO;
        }
        f
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // struct virtio_blk_config up to blk_size.
        let mut cfg = [0u8; 24];
        cfg[0..8].copy_from_slice(&self.capacity_sectors().to_le_bytes());
        // size_max (8) stays 0: not offered.
        cfg[12..16].copy_from_slice(&(u32::from(QUEUE_SIZE) - 2).to_le_bytes());
        cfg[20..24].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes());
        read_config_bytes(&cfg, offset, data);
    }

    fn process_queue(&mut self, ctx: &mut QueueCtx<'_>, index: usize) -> Result<bool, DeviceError> {
        if index != 0 {
            return Ok(false);
        }
        let mem = ctx.mem;
        let features = ctx.features;
        let mut used_any = false;
        loop {
            let Some(q) = ctx.queues.get_mut(0) else {
                return Ok(used_any);
            };
            let Some((head, chain)) = pop_chain(mem, q, features) else {
                break;
            };
            let chain = chain.map_err(|e| DeviceError(format!("virtio-blk: {e}")))?;
            // Without a writable status byte there is nowhere to report an
            // error: that is a broken driver.
            if chain.writable_len() == 0 {
                return Err(DeviceError(
                    "virtio-blk: request without a status byte".into(),
                ));
            }
            let (status, data_len) = if chain.readable_len() < 16 {
                (S_IOERR, 0)
            } else {
                self.execute(ctx, &chain)?
            };
            let status_off = chain.writable_len() - 1;
            write_bufs(mem, &chain.writable, status_off, &[status])?;
            let q = ctx
                .queues
                .get_mut(0)
                .ok_or_else(|| DeviceError("virtio-blk: queue vanished".into()))?;
            q.add_used(mem, head, data_len + 1)
                .map_err(|e| DeviceError(format!("virtio-blk: used ring: {e:?}")))?;
            used_any = true;
        }
        Ok(used_any)
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::BusDevice;
    use crate::virtio::mmio::tests::{CountIrq, init, wr};
    use crate::virtio::mmio::{MmioTransport, REG_QUEUE_NOTIFY, REG_STATUS, STATUS_NEEDS_RESET};
    use crate::virtio::testq::*;
    use std::sync::Arc;
    use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

    const HDR: u64 = DATA;
    const BUF: u64 = DATA + 0x1000;
    const STATUS: u64 = DATA + 0x100;
    const TABLE: u64 = DATA + 0x8000;

    fn disk(writable: bool) -> (gx_disk::Device, Arc<gx_disk::MemDevice>) {
        let mut data = vec![0u8; 8 * 512];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i / 512) as u8 + 0x40;
        }
        let d = Arc::new(gx_disk::MemDevice::new(data, writable, "test.img"));
        (d.clone(), d)
    }

    struct Rig {
        t: MmioTransport,
        m: GuestMemoryMmap,
        tq: TestQueue,
        _irq: Arc<CountIrq>,
    }

    fn rig(writable: bool, read_only: bool) -> (Rig, Arc<gx_disk::MemDevice>) {
        rig_with(writable, read_only, 0)
    }

    /// A rig whose driver also negotiates `extra` feature bits.
    fn rig_with(writable: bool, read_only: bool, extra: u64) -> (Rig, Arc<gx_disk::MemDevice>) {
        let (d, raw) = disk(writable);
        let m = mem();
        let irq = Arc::new(CountIrq::default());
        let mut t = MmioTransport::new(
            Box::new(Block::new(d, read_only, "gx-serial-1")),
            m.clone(),
            irq.clone(),
        )
        .expect("transport");
        let tq = TestQueue::new(0, 16);
        let f =
            VIRTIO_F_VERSION_1 | F_FLUSH | extra | if read_only || !writable { F_RO } else { 0 };
        init(&mut t, f, &[(0, &tq)]);
        (
            Rig {
                t,
                m,
                tq,
                _irq: irq,
            },
            raw,
        )
    }

    impl Rig {
        fn header(&self, t: u32, sector: u64) {
            self.m.write_obj(t, GuestAddress(HDR)).expect("w");
            self.m.write_obj(0u32, GuestAddress(HDR + 4)).expect("w");
            self.m.write_obj(sector, GuestAddress(HDR + 8)).expect("w");
            self.m.write_obj(0xffu8, GuestAddress(STATUS)).expect("w");
        }
        fn submit(&mut self, bufs: &[(u64, u32, bool)]) -> (u8, u32) {
            self.submit_indirect(bufs, &[])
        }
        /// Submit `direct` buffers then, if `indirect` is not empty, an
        /// indirect table (at TABLE) holding those.
        fn submit_indirect(
            &mut self,
            direct: &[(u64, u32, bool)],
            indirect: &[(u64, u32, bool)],
        ) -> (u8, u32) {
            let before = self.tq.used_idx(&self.m);
            if indirect.is_empty() {
                self.tq.add_chain(&self.m, direct);
            } else {
                self.tq.add_indirect(&self.m, direct, TABLE, indirect);
            }
            wr(&mut self.t, REG_QUEUE_NOTIFY, 0);
            assert_eq!(
                self.tq.used_idx(&self.m),
                before.wrapping_add(1),
                "request completed"
            );
            let (_, len) = self.tq.used(&self.m, before);
            (self.m.read_obj(GuestAddress(STATUS)).expect("r"), len)
        }
    }

    #[test]
    fn read_write_flush_get_id() {
        let (mut r, raw) = rig(true, false);
        r.header(T_IN, 2);
        let (st, len) = r.submit(&[(HDR, 16, false), (BUF, 1024, true), (STATUS, 1, true)]);
        assert_eq!((st, len), (S_OK, 1025));
        let mut got = [0u8; 1024];
        r.m.read_slice(&mut got, GuestAddress(BUF)).expect("r");
        assert!(got[..512].iter().all(|&b| b == 0x42) && got[512..].iter().all(|&b| b == 0x43));

        r.m.write_slice(&[0xaa; 512], GuestAddress(BUF)).expect("w");
        r.header(T_OUT, 7);
        // Data split over two descriptors.
        let (st, _) = r.submit(&[
            (HDR, 16, false),
            (BUF, 256, false),
            (BUF + 256, 256, false),
            (STATUS, 1, true),
        ]);
        assert_eq!(st, S_OK);
        let mut back = [0u8; 512];
        gx_disk::BlockDevice::read_at(&*raw, &mut back, 7 * 512).expect("read");
        assert!(back.iter().all(|&b| b == 0xaa));

        r.header(T_FLUSH, 0);
        assert_eq!(r.submit(&[(HDR, 16, false), (STATUS, 1, true)]).0, S_OK);

        r.header(T_GET_ID, 0);
        let (st, len) = r.submit(&[(HDR, 16, false), (BUF, 20, true), (STATUS, 1, true)]);
        assert_eq!((st, len), (S_OK, 21));
        let mut id = [0u8; 20];
        r.m.read_slice(&mut id, GuestAddress(BUF)).expect("r");
        assert_eq!(&id[..11], b"gx-serial-1");
        assert_eq!(id[11], 0);

        r.header(99, 0);
        assert_eq!(r.submit(&[(HDR, 16, false), (STATUS, 1, true)]).0, S_UNSUPP);
    }

    #[test]
    fn read_only_rejects_writes_and_keeps_image() {
        for (writable, ro) in [(true, true), (false, false)] {
            let (mut r, raw) = rig(writable, ro);
            let mut cfg = [0u8; 8];
            r.t.read(0x100, &mut cfg);
            assert_eq!(u64::from_le_bytes(cfg), 8);
            r.m.write_slice(&[0xaa; 512], GuestAddress(BUF)).expect("w");
            r.header(T_OUT, 1);
            let (st, _) = r.submit(&[(HDR, 16, false), (BUF, 512, false), (STATUS, 1, true)]);
            assert_eq!(st, S_IOERR);
            let mut back = [0u8; 512];
            gx_disk::BlockDevice::read_at(&*raw, &mut back, 512).expect("read");
            assert!(back.iter().all(|&b| b == 0x41), "image unchanged");
            // Reads still work.
            r.header(T_IN, 1);
            assert_eq!(
                r.submit(&[(HDR, 16, false), (BUF, 512, true), (STATUS, 1, true)])
                    .0,
                S_OK
            );
        }
    }

    #[test]
    fn bad_requests_get_ioerr() {
        let (mut r, _) = rig(true, false);
        // Past the end of the disk.
        r.header(T_IN, 7);
        assert_eq!(
            r.submit(&[(HDR, 16, false), (BUF, 1024, true), (STATUS, 1, true)])
                .0,
            S_IOERR
        );
        // Sector number that overflows when multiplied.
        r.header(T_IN, u64::MAX / 2);
        assert_eq!(
            r.submit(&[(HDR, 16, false), (BUF, 512, true), (STATUS, 1, true)])
                .0,
            S_IOERR
        );
        // Not a whole number of sectors.
        r.header(T_IN, 0);
        assert_eq!(
            r.submit(&[(HDR, 16, false), (BUF, 100, true), (STATUS, 1, true)])
                .0,
            S_IOERR
        );
        // Oversize: 0x10000 * 80 bytes > MAX_REQUEST_BYTES (buffers overlap; only lengths matter).
        r.header(T_IN, 0);
        let mut bufs = vec![(HDR, 16, false)];
        bufs.extend(std::iter::repeat_n((BUF, 0x1_0000, true), 13));
        bufs.push((STATUS, 1, true));
        assert_eq!(r.submit(&bufs).0, S_IOERR);
        // Short header.
        r.header(T_IN, 0);
        assert_eq!(r.submit(&[(HDR, 8, false), (STATUS, 1, true)]).0, S_IOERR);
        // The device still works afterwards.
        r.header(T_IN, 0);
        assert_eq!(
            r.submit(&[(HDR, 16, false), (BUF, 512, true), (STATUS, 1, true)])
                .0,
            S_OK
        );
    }

    #[test]
    fn chain_without_status_or_outside_memory_resets_device() {
        let (mut r, _) = rig(true, false);
        r.header(T_IN, 0);
        r.tq.add_chain(&r.m, &[(HDR, 16, false)]);
        wr(&mut r.t, REG_QUEUE_NOTIFY, 0);
        let mut s = [0u8; 4];
        r.t.read(REG_STATUS, &mut s);
        assert_ne!(u32::from_le_bytes(s) & STATUS_NEEDS_RESET, 0);

        let (mut r, _) = rig(true, false);
        r.tq.add_chain(
            &r.m,
            &[
                (HDR, 16, false),
                (0x4000_0000, 512, true),
                (STATUS, 1, true),
            ],
        );
        wr(&mut r.t, REG_QUEUE_NOTIFY, 0);
        r.t.read(REG_STATUS, &mut s);
        assert_ne!(u32::from_le_bytes(s) & STATUS_NEEDS_RESET, 0);
    }

    fn needs_reset(t: &mut MmioTransport) -> bool {
        let mut s = [0u8; 4];
        t.read(REG_STATUS, &mut s);
        u32::from_le_bytes(s) & STATUS_NEEDS_RESET != 0
    }

    #[test]
    fn indirect_chains_read_and_write_through_blk() {
        use crate::virtio::{RING_FEATURES, VIRTIO_RING_F_INDIRECT_DESC};
        assert_eq!(
            Block::new(disk(true).0, false, "x").features() & RING_FEATURES,
            RING_FEATURES,
            "offered"
        );
        let (mut r, raw) = rig_with(true, false, VIRTIO_RING_F_INDIRECT_DESC);
        // Everything in the table.
        r.header(T_IN, 2);
        let (st, len) = r.submit_indirect(
            &[],
            &[(HDR, 16, false), (BUF, 1024, true), (STATUS, 1, true)],
        );
        assert_eq!((st, len), (S_OK, 1025));
        let mut got = [0u8; 1024];
        r.m.read_slice(&mut got, GuestAddress(BUF)).expect("r");
        assert!(got[..512].iter().all(|&b| b == 0x42) && got[512..].iter().all(|&b| b == 0x43));
        // The header direct, the data split in the table with the status.
        r.m.write_slice(&[0xbb; 512], GuestAddress(BUF)).expect("w");
        r.header(T_OUT, 5);
        let (st, _) = r.submit_indirect(
            &[(HDR, 16, false)],
            &[
                (BUF, 100, false),
                (BUF + 100, 412, false),
                (STATUS, 1, true),
            ],
        );
        assert_eq!(st, S_OK);
        let mut back = [0u8; 512];
        gx_disk::BlockDevice::read_at(&*raw, &mut back, 5 * 512).expect("read");
        assert!(back.iter().all(|&b| b == 0xbb));
        // GET_ID with the id buffer and status split between table and queue.
        r.header(T_GET_ID, 0);
        let (st, len) =
            r.submit_indirect(&[(HDR, 16, false)], &[(BUF, 20, true), (STATUS, 1, true)]);
        assert_eq!((st, len), (S_OK, 21));
        // Request errors inside a valid indirect chain are a status, not a reset.
        r.header(T_IN, 1000);
        let (st, _) = r.submit_indirect(
            &[],
            &[(HDR, 16, false), (BUF, 512, true), (STATUS, 1, true)],
        );
        assert_eq!(st, S_IOERR);
        assert!(!needs_reset(&mut r.t));
    }

    #[test]
    fn hostile_indirect_chains_reset_blk_without_touching_the_disk() {
        use crate::virtio::VIRTIO_RING_F_INDIRECT_DESC as IND;
        type Build = fn(&mut Rig);
        let cases: Vec<(&str, u64, Build)> = vec![
            ("not negotiated", 0, |r| {
                r.tq.add_indirect(
                    &r.m,
                    &[],
                    TABLE,
                    &[(HDR, 16, false), (BUF, 512, false), (STATUS, 1, true)],
                );
            }),
            ("loop in the table", IND, |r| {
                r.tq.write_table(&r.m, TABLE, &[(HDR, 16, F_NEXT, 1), (BUF, 512, F_NEXT, 0)]);
                r.tq.add_raw(&r.m, TABLE, 32, F_INDIRECT, 0);
            }),
            ("next outside the table", IND, |r| {
                r.tq.write_table(
                    &r.m,
                    TABLE,
                    &[(HDR, 16, F_NEXT, 7), (STATUS, 1, F_WRITE, 0)],
                );
                r.tq.add_raw(&r.m, TABLE, 32, F_INDIRECT, 0);
            }),
            ("nested indirect", IND, |r| {
                r.tq.write_table(&r.m, TABLE + 0x100, &[(STATUS, 1, F_WRITE, 0)]);
                r.tq.write_table(
                    &r.m,
                    TABLE,
                    &[(HDR, 16, F_NEXT, 1), (TABLE + 0x100, 16, F_INDIRECT, 0)],
                );
                r.tq.add_raw(&r.m, TABLE, 32, F_INDIRECT, 0);
            }),
            ("indirect with next", IND, |r| {
                r.tq.write_table(&r.m, TABLE, &[(HDR, 16, 0, 0)]);
                r.tq.write_desc(&r.m, 9, STATUS, 1, F_WRITE, 0);
                r.tq.add_raw(&r.m, TABLE, 16, F_INDIRECT | F_NEXT, 9);
            }),
            ("zero length", IND, |r| {
                r.tq.add_raw(&r.m, TABLE, 0, F_INDIRECT, 0);
            }),
            ("odd length", IND, |r| {
                r.tq.write_table(
                    &r.m,
                    TABLE,
                    &[(HDR, 16, F_NEXT, 1), (STATUS, 1, F_WRITE, 0)],
                );
                r.tq.add_raw(&r.m, TABLE, 31, F_INDIRECT, 0);
            }),
            ("table outside memory", IND, |r| {
                r.tq.add_raw(&r.m, 0x7fff_0000, 48, F_INDIRECT, 0);
            }),
            ("table past the end of memory", IND, |r| {
                r.tq.add_raw(&r.m, (1 << 20) - 16, 48, F_INDIRECT, 0);
            }),
            ("buffer outside memory", IND, |r| {
                r.tq.add_indirect(
                    &r.m,
                    &[],
                    TABLE,
                    &[
                        (HDR, 16, false),
                        (0x7000_0000, 512, true),
                        (STATUS, 1, true),
                    ],
                );
            }),
            ("readable after writable", IND, |r| {
                r.tq.add_indirect(&r.m, &[(STATUS, 1, true)], TABLE, &[(HDR, 16, false)]);
            }),
            ("too many buffers", IND, |r| {
                let e: Vec<(u64, u32, u16, u16)> =
                    (0..1100u16).map(|k| (BUF, 512, F_NEXT, k + 1)).collect();
                r.tq.write_table(&r.m, TABLE, &e);
                r.tq.add_raw(&r.m, TABLE, 16 * 1100, F_INDIRECT, 0);
            }),
        ];
        for (what, extra, build) in cases {
            let (mut r, raw) = rig_with(true, false, extra);
            r.m.write_slice(&[0xcc; 512], GuestAddress(BUF)).expect("w");
            r.header(T_OUT, 0);
            build(&mut r);
            wr(&mut r.t, REG_QUEUE_NOTIFY, 0);
            assert!(needs_reset(&mut r.t), "{what}: device needs reset");
            assert_eq!(r.tq.used_idx(&r.m), 0, "{what}: nothing completed");
            let mut back = [0u8; 512];
            gx_disk::BlockDevice::read_at(&*raw, &mut back, 0).expect("read");
            assert!(back.iter().all(|&b| b == 0x40), "{what}: image unchanged");
            // Further notifications are ignored; a reset brings the device back.
            wr(&mut r.t, REG_QUEUE_NOTIFY, 0);
            let tq = TestQueue::new(0, 16);
            for a in [AVAIL, USED] {
                r.m.write_slice(&[0u8; 0x200], GuestAddress(a)).expect("w");
            }
            init(&mut r.t, VIRTIO_F_VERSION_1 | extra, &[(0, &tq)]);
            r.tq = tq;
            r.header(T_IN, 0);
            let (st, _) = r.submit(&[(HDR, 16, false), (BUF, 512, true), (STATUS, 1, true)]);
            assert_eq!(st, S_OK, "{what}: works after a reset");
        }
    }
}

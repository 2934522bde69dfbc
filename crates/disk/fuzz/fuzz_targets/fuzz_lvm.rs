//! LVM2: the input is a metadata text, wrapped in a PV label and metadata
//! area with correct CRCs (so mutations reach the text parser and the VG
//! builder), on a sparse 1 TiB device; every LV found is read at its start
//! and end. A second PV carries the raw input as its label sector, for the
//! label parser.
#![no_main]

use gx_disk::lvm::{lvm_crc, scan};
use gx_disk::{BlockDevice, Device, Result, check_range};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

/// A huge device that costs nothing: `data` at the start, zeros after.
struct Sparse {
    data: Vec<u8>,
    size: u64,
}

impl BlockDevice for Sparse {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            let at = offset as usize + i;
            *b = self.data.get(at).copied().unwrap_or(0);
        }
        Ok(())
    }
    fn describe(&self) -> String {
        "fuzz-lvm".into()
    }
}

const MDA_AT: usize = 4096;
const MDA_SIZE: u64 = 1 << 20;

fn pv(text: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; MDA_AT + 512 + text.len() + 1];
    let l = 512;
    d[l..l + 8].copy_from_slice(b"LABELONE");
    d[l + 8..l + 16].copy_from_slice(&1u64.to_le_bytes());
    d[l + 20..l + 24].copy_from_slice(&32u32.to_le_bytes());
    d[l + 24..l + 32].copy_from_slice(b"LVM2 001");
    d[l + 32..l + 64].copy_from_slice(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1");
    d[l + 64..l + 72].copy_from_slice(&(1u64 << 40).to_le_bytes());
    d[l + 72..l + 80].copy_from_slice(&(2u64 << 20).to_le_bytes());
    d[l + 104..l + 112].copy_from_slice(&(MDA_AT as u64).to_le_bytes());
    d[l + 112..l + 120].copy_from_slice(&MDA_SIZE.to_le_bytes());
    let crc = lvm_crc(&d[l + 20..l + 512]);
    d[l + 16..l + 20].copy_from_slice(&crc.to_le_bytes());
    let mut t = text.to_vec();
    t.push(0);
    let m = MDA_AT;
    d[m + 4..m + 20].copy_from_slice(b" LVM2 x[5A%r0N*>");
    d[m + 20..m + 24].copy_from_slice(&1u32.to_le_bytes());
    d[m + 24..m + 32].copy_from_slice(&(MDA_AT as u64).to_le_bytes());
    d[m + 32..m + 40].copy_from_slice(&MDA_SIZE.to_le_bytes());
    d[m + 40..m + 48].copy_from_slice(&512u64.to_le_bytes());
    d[m + 48..m + 56].copy_from_slice(&(t.len() as u64).to_le_bytes());
    d[m + 56..m + 60].copy_from_slice(&lvm_crc(&t).to_le_bytes());
    d[m + 512..m + 512 + t.len()].copy_from_slice(&t);
    let crc = lvm_crc(&d[m + 4..m + 512]);
    d[m..m + 4].copy_from_slice(&crc.to_le_bytes());
    d
}

fuzz_target!(|data: &[u8]| {
    if data.len() as u64 > MDA_SIZE / 2 {
        return;
    }
    let a: Device = Arc::new(Sparse {
        data: pv(data),
        size: 1 << 40,
    });
    let mut raw = vec![0u8; 512];
    raw.extend_from_slice(&data[..data.len().min(512)]);
    let b: Device = Arc::new(Sparse {
        data: raw,
        size: 1 << 40,
    });
    let lvm = scan(&[("a".into(), a), ("b".into(), b)]).expect("memory reads never fail");
    for vg in &lvm.vgs {
        for lv in &vg.lvs {
            let size = lv.device.size();
            let mut buf = [0u8; 4096];
            let n = (size.min(4096)) as usize;
            let _ = lv.device.read_at(&mut buf[..n], 0);
            if size > 0 {
                let _ = lv.device.read_at(&mut buf[..1], size - 1);
            }
        }
    }
});

//! The GPT reader: the input becomes a disk with a protective MBR, so every
//! run goes down the GPT path (headers, CRCs, backup, entries).
//!
//! The first input byte is a flag: when its low bit is set, the CRCs of the
//! primary and backup headers are recomputed before parsing, so mutations
//! reach the entry parsing instead of stopping at a CRC mismatch.
#![no_main]

use gx_disk::{BlockDevice, MemDevice, SparseDevice, read_partitions};
use libfuzzer_sys::fuzz_target;

fn le32(d: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]])
}

fn le64(d: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&d[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Make the header at `lba` and its entry array CRC-consistent, if they fit.
fn fix_crcs(disk: &mut [u8], lba: usize) {
    let h = lba * 512;
    if disk.len() < h + 512 {
        return;
    }
    let entries_lba = le64(disk, h + 72);
    let bytes = u64::from(le32(disk, h + 80)) * u64::from(le32(disk, h + 84));
    if bytes <= 1 << 20 {
        if let Some(start) = entries_lba.checked_mul(512) {
            if let Some(end) = start.checked_add(bytes) {
                if end <= disk.len() as u64 {
                    let crc = crc32fast::hash(&disk[start as usize..end as usize]);
                    disk[h + 88..h + 92].copy_from_slice(&crc.to_le_bytes());
                }
            }
        }
    }
    let size = (le32(disk, h + 12) as usize).clamp(92, 512);
    disk[h + 16..h + 20].fill(0);
    let crc = crc32fast::hash(&disk[h..h + size]);
    disk[h + 16..h + 20].copy_from_slice(&crc.to_le_bytes());
}

fuzz_target!(|data: &[u8]| {
    let Some((&flag, data)) = data.split_first() else {
        return;
    };
    // Sector 0: a protective MBR; the fuzzer's bytes follow from LBA 1.
    let mut disk = vec![0u8; 512];
    disk[0x1be + 4] = 0xEE;
    disk[0x1be + 8] = 1;
    disk[0x1be + 12..0x1be + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xAA;
    disk.extend_from_slice(data);
    if flag & 1 == 1 {
        fix_crcs(&mut disk, 1);
        let last = disk.len() / 512;
        if last >= 3 {
            fix_crcs(&mut disk, last - 1);
        }
    }
    // The disk as it is, and at the start of a sparse 4 TiB one (where the
    // entry array and the backup header may be claimed anywhere).
    let sparse = SparseDevice::new(disk.clone(), 4 << 40, false, "fuzz-gpt-4T");
    let mem = MemDevice::new(disk, false, "fuzz-gpt");
    for dev in [&mem as &dyn BlockDevice, &sparse] {
        if let Ok(Some(t)) = read_partitions(dev) {
            for p in &t.partitions {
                assert!(p.start.checked_add(p.size).is_some_and(|e| e <= dev.size()));
            }
        }
    }
});

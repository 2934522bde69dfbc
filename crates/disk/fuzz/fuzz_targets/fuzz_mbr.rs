//! The MBR reader with extended/logical partitions: the input is the disk.
#![no_main]

use gx_disk::{BlockDevice, MemDevice, SparseDevice, read_partitions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The disk as it is, and at the start of a sparse 4 TiB one (where
    // partitions and EBR chains may be claimed anywhere).
    let mem = MemDevice::new(data.to_vec(), false, "fuzz-mbr");
    let sparse = SparseDevice::new(data.to_vec(), 4 << 40, false, "fuzz-mbr-4T");
    for dev in [&mem as &dyn BlockDevice, &sparse] {
        if let Ok(Some(t)) = read_partitions(dev) {
            for p in &t.partitions {
                // Every listed partition must fit the disk (they may be cut to fit).
                assert!(p.start.checked_add(p.size).is_some_and(|e| e <= dev.size()));
                assert!(p.number >= 1 && p.number <= 255);
            }
        }
    }
});

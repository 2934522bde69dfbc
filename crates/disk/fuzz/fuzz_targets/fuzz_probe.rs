//! Filesystem probing: the input patches a zeroed device, so one small input
//! can reach superblocks at 1 KiB, 32 KiB (ISO 9660), 64 KiB (btrfs) and
//! wherever an MFT, a FAT root directory or an exFAT chain points.
#![no_main]

use gx_disk::{MemDevice, SparseDevice};
use gx_disk::probe::probe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, mut rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    // Up to 3 MiB: past the 1440 KiB floppy limit and the 1 MiB btrfs minimum.
    let size = 1025 + (u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize) % (3 << 20);
    let mut disk = vec![0u8; size];
    // Patches: a 4-byte offset, a 1-byte length, then that many bytes.
    while let Some((hdr, tail)) = rest.split_first_chunk::<5>() {
        let off = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize % size;
        let len = usize::from(hdr[4]).min(tail.len()).min(size - off);
        disk[off..off + len].copy_from_slice(&tail[..len]);
        rest = &tail[len..];
    }
    // The patched disk, and the same bytes at the start of a sparse device
    // of 4 TiB or 2^62 bytes (size fields may then claim that much).
    let huge = if size % 2 == 0 { 4 << 40 } else { 1 << 62 };
    let sparse = SparseDevice::new(disk.clone(), huge, false, "fuzz-probe-huge");
    let p = probe(&sparse).expect("a memory device never fails to read");
    assert!(!p.fs_type.is_empty());
    let dev = MemDevice::new(disk, false, "fuzz-probe");
    let p = probe(&dev).expect("a memory device never fails to read");
    assert!(!p.fs_type.is_empty());
});

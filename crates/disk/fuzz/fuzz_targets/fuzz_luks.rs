//! LUKS1/LUKS2 headers: the input patches a zeroed 4 MiB device; with the
//! first byte's low bit set, a LUKS2 primary header is laid down first and
//! its checksum fixed after patching, so mutations reach the JSON and the
//! key slots. Unlocking runs with tiny KDF limits (to stay fast) and the
//! payload is read through a decrypting device with a made-up key, at its
//! start and at its end.
//!
//! The same bytes are then read as the start of a sparse 1 TiB device (zeros
//! after the 4 MiB), so that key-slot areas, segment offsets and sizes may
//! claim up to that much and still pass a check against the device's size:
//! run with `-malloc_limit_mb=128` and an allocation sized by such a field
//! is a crash.
#![no_main]

use gx_disk::luks::{CryptDevice, Limits, read_header, unlock_key};
use gx_disk::{BlockDevice, Device, MemDevice, SparseDevice};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::sync::Arc;

const SIZE: usize = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut d = vec![0u8; SIZE];
    if flags & 1 != 0 {
        d[..6].copy_from_slice(b"LUKS\xba\xbe");
        d[6..8].copy_from_slice(&2u16.to_be_bytes());
        d[8..16].copy_from_slice(&0x4000u64.to_be_bytes());
        d[0x48..0x4e].copy_from_slice(b"sha256");
    }
    // Patches: a 4-byte offset, a 2-byte length, then that many bytes.
    while let Some((hdr, tail)) = rest.split_first_chunk::<6>() {
        let off = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize % SIZE;
        let len = usize::from(u16::from_le_bytes([hdr[4], hdr[5]]))
            .min(tail.len())
            .min(SIZE - off);
        d[off..off + len].copy_from_slice(&tail[..len]);
        rest = &tail[len..];
    }
    if flags & 1 != 0 {
        d[0x1c0..0x200].fill(0);
        let sum = Sha256::new()
            .chain_update(&d[..4096])
            .chain_update(&d[4096..0x4000])
            .finalize();
        d[0x1c0..0x1e0].copy_from_slice(&sum);
    }
    let sparse: Device = Arc::new(SparseDevice::new(d.clone(), 1 << 40, false, "fuzz-luks-1T"));
    let dev: Device = Arc::new(MemDevice::new(d, false, "fuzz-luks"));
    exercise(dev);
    exercise(sparse);
});

fn exercise(dev: Device) {
    let Ok(Some(hdr)) = read_header(dev.as_ref()) else {
        return;
    };
    let limits = Limits {
        pbkdf2_max_iterations: 1000,
        argon2_max_memory_kib: 64,
        argon2_max_time: 4,
    };
    let _ = unlock_key(dev.as_ref(), &hdr, b"fuzz", &limits);
    if let Ok(c) = CryptDevice::new("fuzz", dev, &hdr, &[0x5a; 64]) {
        let mut buf = [0u8; 4096];
        let size = c.size();
        let n = size.min(4096) as usize;
        let _ = c.read_at(&mut buf[..n], 0);
        let _ = c.read_at(&mut buf[..n], size - n as u64);
    }
}

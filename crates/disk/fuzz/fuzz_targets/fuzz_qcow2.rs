//! qcow2 header, L1/L2 and cluster reads through gx-disk (imago underneath):
//! the input is written to a file, opened as qcow2 and read, bounded.
#![no_main]

use gx_disk::{Format, OpenOptions, open_image};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

/// Read at most this many chunks of 64 KiB, spread over the virtual disk.
const MAX_CHUNKS: u64 = 64;
const CHUNK: u64 = 65536;

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    // Half the inputs sit at the start of a sparse 4 TiB file: the header
    // may then place tables anywhere in it and pass the file-size checks.
    if data.len() % 2 == 1 && f.as_file().set_len(4 << 40).is_err() {
        return;
    }
    let opts = OpenOptions::new().format(Some(Format::Qcow2));
    let Ok(dev) = open_image(f.path(), &opts) else {
        return;
    };
    let size = dev.size();
    let chunks = size.div_ceil(CHUNK);
    // Every chunk of a small disk; an even spread over a large one.
    let step = chunks.div_ceil(MAX_CHUNKS).max(1);
    let mut buf = vec![0u8; CHUNK as usize];
    let mut i = 0;
    while i < chunks {
        let off = i * CHUNK;
        let n = (size - off).min(CHUNK) as usize;
        if dev.read_at(&mut buf[..n], off).is_err() {
            break;
        }
        i += step;
    }
    // An unaligned read across a cluster boundary, and one past the end.
    if size > 1000 {
        let _ = dev.read_at(&mut buf[..1000], size / 2 - 500);
    }
    let _ = dev.read_at(&mut buf[..16], size.saturating_sub(8));
});

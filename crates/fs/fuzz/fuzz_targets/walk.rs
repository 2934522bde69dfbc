//! Shared by the filesystem fuzz targets: open an image held in memory and
//! touch everything in it through the `Filesystem` trait, with bounds so one
//! input cannot run for long (a hostile tree may be huge or cyclic).
//!
//! Each input is read three ways: as a device of exactly its size, at the
//! start of a sparse 4 TiB device (so every size field may claim up to
//! that much and still pass a device-size check), and on one huge variant
//! chosen by the input's length (1 PiB of zeros, 2^62 bytes of zeros, or
//! 4 TiB of the input repeated, as a qcow2 whose clusters share storage
//! presents it). Run with `-malloc_limit_mb=128`: an allocation sized by an
//! unchecked field is then a crash.

use gx_disk::{Device, MemDevice, SparseDevice};
use std::collections::HashSet;
use std::sync::Arc;

const MAX_ENTRIES: usize = 4096;
const MAX_DEPTH: usize = 32;
const MAX_FILE_BYTES: u64 = 1 << 20;

#[allow(dead_code)]
pub fn open_and_walk_padded(data: &[u8], fs_type: &str, size: u64) {
    walk(
        Arc::new(SparseDevice::new(data.to_vec(), size, false, "fuzz")),
        fs_type,
    );
}

#[allow(dead_code)]
pub fn open_and_walk(data: &[u8], fs_type: &str) {
    walk(Arc::new(MemDevice::new(data.to_vec(), false, "fuzz")), fs_type);
    walk(
        Arc::new(SparseDevice::new(data.to_vec(), 4 << 40, false, "fuzz-4T")),
        fs_type,
    );
    let (size, repeat) = match data.len() % 3 {
        0 => (1 << 50, false),
        1 => (1 << 62, false),
        _ => (4 << 40, true),
    };
    walk(
        Arc::new(SparseDevice::new(data.to_vec(), size, repeat, "fuzz-huge")),
        fs_type,
    );
}

fn walk(dev: Device, fs_type: &str) {
    let Ok(fs) = gx_fs::open(dev, fs_type) else {
        return;
    };
    let _ = fs.statvfs();
    let _ = fs.lstat("/");
    let mut seen = HashSet::new();
    let mut stack = vec![("/".to_string(), 0usize)];
    let mut budget = MAX_ENTRIES;
    let mut buf = vec![0u8; 65536];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs.read_dir(&dir) else {
            continue;
        };
        for e in entries {
            if budget == 0 {
                return;
            }
            budget -= 1;
            let path = if dir == "/" {
                format!("/{}", e.name)
            } else {
                format!("{dir}/{}", e.name)
            };
            let Ok(st) = fs.lstat(&path) else {
                continue;
            };
            let _ = fs.lgetxattrs(&path);
            match st.file_type() {
                gx_fs::FileType::Directory => {
                    if depth < MAX_DEPTH && seen.insert(st.ino) {
                        stack.push((path, depth + 1));
                    }
                }
                gx_fs::FileType::Symlink => {
                    let _ = fs.readlink(&path);
                }
                gx_fs::FileType::Regular => {
                    let mut off = 0u64;
                    while off < MAX_FILE_BYTES {
                        match fs.read_at(&path, off, &mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => off += n as u64,
                        }
                    }
                    // A read far into the file, as a seek would do.
                    let _ = fs.read_at(&path, st.size.saturating_sub(10), &mut buf[..100]);
                }
                _ => {}
            }
        }
    }
}

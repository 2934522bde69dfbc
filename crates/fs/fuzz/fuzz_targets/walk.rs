//! Shared by the filesystem fuzz targets: open an image held in memory and
//! touch everything in it through the `Filesystem` trait, with bounds so one
//! input cannot run for long (a hostile tree may be huge or cyclic).

use gx_disk::MemDevice;
use std::collections::HashSet;
use std::sync::Arc;

const MAX_ENTRIES: usize = 4096;
const MAX_DEPTH: usize = 32;
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The input as a device of `size` bytes (or the input's length if
/// larger), zeros past its end: a large sparse image without the copying.
struct Padded {
    data: Vec<u8>,
    size: u64,
}

impl gx_disk::BlockDevice for Padded {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> gx_disk::Result<()> {
        gx_disk::check_range(self, offset, buf.len())?;
        buf.fill(0);
        let len = self.data.len() as u64;
        if offset < len {
            let n = ((len - offset) as usize).min(buf.len());
            buf[..n].copy_from_slice(&self.data[offset as usize..offset as usize + n]);
        }
        Ok(())
    }
    fn describe(&self) -> String {
        "fuzz".into()
    }
}

#[allow(dead_code)]
pub fn open_and_walk_padded(data: &[u8], fs_type: &str, size: u64) {
    let dev = Arc::new(Padded {
        data: data.to_vec(),
        size: size.max(data.len() as u64),
    });
    walk_dev(dev, fs_type);
}

#[allow(dead_code)]
pub fn open_and_walk(data: &[u8], fs_type: &str) {
    let dev = Arc::new(MemDevice::new(data.to_vec(), false, "fuzz"));
    walk_dev(dev, fs_type);
}

fn walk_dev(dev: gx_disk::Device, fs_type: &str) {
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

//! Shared by the filesystem tests.
#![allow(dead_code, clippy::unwrap_used)]

use gx_fs::Filesystem;
use std::path::PathBuf;

/// The whole file at `path`, read `chunk` bytes at a time.
pub fn read_all(fs: &dyn Filesystem, path: &str, chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = fs.read_at(path, out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The names in directory `path`, sorted.
pub fn names(fs: &dyn Filesystem, path: &str) -> Vec<String> {
    let mut v: Vec<String> = fs
        .read_dir(path)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    v.sort();
    v
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

/// An image made for a test, removed with its directory.
pub struct Img {
    pub _dir: tempfile::TempDir,
    pub path: PathBuf,
}

//! Helpers for tests that make their own small images with qemu-img, sfdisk
//! and sgdisk in a temporary directory.
#![allow(dead_code, clippy::unwrap_used)]

use gx_disk::{BlockDevice, Device};
use std::path::Path;
use std::process::Command;

/// Run a command, panicking with its output if it fails.
pub fn run(cmd: &str, args: &[&str], dir: &Path) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run a command with `input` on stdin.
pub fn run_stdin(cmd: &str, args: &[&str], dir: &Path, input: &str) {
    use std::io::Write;
    let mut child = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deterministic pseudo-random bytes with some all-zero 64 KiB runs, so
/// qcow2 conversions have both allocated and unallocated clusters.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = vec![0u8; len];
    for (i, chunk) in v.chunks_mut(8).enumerate() {
        if (i * 8 / 65536) % 3 == 1 {
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = if (i * 8 / 65536) % 3 == 2 {
            // Compressible text-ish data.
            [(i % 26) as u8 + b'a'; 8]
        } else {
            x.to_le_bytes()
        };
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    v
}

/// Read the whole device in 1 MiB chunks (the last one short).
pub fn read_all(dev: &dyn BlockDevice) -> gx_disk::Result<Vec<u8>> {
    let size = dev.size() as usize;
    let mut out = vec![0u8; size];
    let mut off = 0;
    while off < size {
        let n = (size - off).min(1 << 20);
        dev.read_at(&mut out[off..off + n], off as u64)?;
        off += n;
    }
    Ok(out)
}

/// Read the whole of `dev` and compare it with `expected`.
pub fn assert_same(dev: &Device, expected: &[u8]) {
    assert_eq!(dev.size(), expected.len() as u64);
    let got = read_all(dev.as_ref()).unwrap();
    if got != expected {
        let first = got.iter().zip(expected).position(|(a, b)| a != b).unwrap();
        panic!("{}: first difference at byte {first}", dev.describe());
    }
}

/// Access mode of every fd of this process that points at `path`.
pub fn open_modes(path: &Path) -> Vec<i32> {
    let want = std::fs::canonicalize(path).unwrap();
    let mut modes = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        if target != want {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        for line in info.lines() {
            if let Some(v) = line.strip_prefix("flags:") {
                let flags = i32::from_str_radix(v.trim(), 8).unwrap();
                modes.push(flags & libc_o_accmode());
            }
        }
    }
    modes
}

fn libc_o_accmode() -> i32 {
    0o3
}

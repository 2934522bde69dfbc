//! What the appliance tests share: prerequisites, launching, the host's
//! tools as oracles, and the file helpers that libguestfs composes on the
//! host (cat, is_dir, filesize, ...) built from the agent's calls.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gx_appliance::{Appliance, Config, Drive, Result};

/// Cargo builds the agent for the integration tests of its own package.
pub fn agent() -> Option<PathBuf> {
    Some(PathBuf::from(env!("CARGO_BIN_EXE_gx-agent")))
}

/// Why the appliance cannot run here, if it cannot.
pub fn prerequisites() -> Option<String> {
    if gx_appliance::kernel::find_kernel().is_err() {
        return Some("no readable kernel (run scripts/setup)".into());
    }
    if gx_appliance::qemu::find_qemu().is_err() {
        return Some("no qemu-system-x86_64 (run scripts/setup)".into());
    }
    for p in ["mkfs.ext4", "sgdisk", "sfdisk", "debugfs", "blkid"] {
        if !has(p) {
            return Some(format!("no {p} on the host (run scripts/setup)"));
        }
    }
    None
}

pub fn has(prog: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(prog).exists())
}

/// A host command that must succeed; its stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().expect("sh");
    assert!(
        out.status.success(),
        "{cmd}: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A host command's exit status and stdout + stderr, whatever the status.
pub fn sh_status(cmd: &str) -> (i32, String) {
    let out = Command::new("sh").args(["-c", cmd]).output().expect("sh");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), s)
}

pub fn sha(p: &Path) -> String {
    sh(&format!("sha256sum {}", p.display()))
}

/// A sparse file of `size` bytes.
pub fn blank(path: &Path, size: u64) -> PathBuf {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(size))
        .expect("blank disk");
    path.to_path_buf()
}

pub fn launch(drives: Vec<Drive>) -> Appliance {
    let cfg = Config {
        drives,
        agent: agent(),
        launch_timeout: Duration::from_secs(180),
        call_timeout: Duration::from_secs(300),
        ..Config::default()
    };
    match Appliance::launch(cfg) {
        Ok(a) => a,
        Err(e) => panic!("launch failed: {e}"),
    }
}

/// The calls libguestfs composes on the host, built from the agent's.
pub trait GuestExt {
    fn cat(&mut self, path: &str) -> Result<String>;
    fn read_bytes(&mut self, path: &str) -> Result<Vec<u8>>;
    fn exists(&mut self, path: &str) -> Result<bool>;
    fn is_dir(&mut self, path: &str) -> Result<bool>;
    fn is_file(&mut self, path: &str) -> Result<bool>;
    fn filesize(&mut self, path: &str) -> Result<i64>;
}

impl GuestExt for Appliance {
    fn cat(&mut self, path: &str) -> Result<String> {
        self.read_bytes(path)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }
    fn read_bytes(&mut self, path: &str) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.download(path, &mut v)?;
        Ok(v)
    }
    fn exists(&mut self, path: &str) -> Result<bool> {
        match self.statns(path) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(libc_enoent()) => Ok(false),
            Err(e) => Err(e),
        }
    }
    fn is_dir(&mut self, path: &str) -> Result<bool> {
        Ok(self.lstatns(path)?.st_mode & 0o170000 == 0o040000)
    }
    fn is_file(&mut self, path: &str) -> Result<bool> {
        Ok(self.lstatns(path)?.st_mode & 0o170000 == 0o100000)
    }
    fn filesize(&mut self, path: &str) -> Result<i64> {
        Ok(self.statns(path)?.st_size)
    }
}

fn libc_enoent() -> i32 {
    2
}

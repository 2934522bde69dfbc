//! Shared by the KVM tests: building the test guest and deciding whether
//! this host can run it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Why KVM tests cannot run here, if they cannot.
pub fn kvm_unavailable() -> Option<String> {
    let dev = Path::new("/dev/kvm");
    if !dev.exists() {
        return Some("/dev/kvm does not exist".into());
    }
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(dev) {
        return Some(format!("/dev/kvm cannot be opened: {e}"));
    }
    None
}

/// True when /dev/kvm is PVM (the tiny test guest still runs there).
pub fn is_pvm() -> bool {
    Path::new("/sys/module/kvm_pvm").exists()
}

/// Compile a test guest (`sources` under testguest/) with gcc into `out`.
pub fn build_guest(out: &Path, sources: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testguest");
    let elf = out.join(format!(
        "{}.elf",
        sources[sources.len() - 1]
            .trim_end_matches(".c")
            .trim_end_matches(".S")
    ));
    let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "gcc".into()));
    cmd.args([
        "-O2",
        "-ffreestanding",
        "-nostdlib",
        "-static",
        "-fno-pie",
        "-no-pie",
        "-fno-pic",
        "-mno-red-zone",
        "-mgeneral-regs-only",
        "-fno-stack-protector",
        "-fno-asynchronous-unwind-tables",
        "-fcf-protection=none",
        "-Wl,--build-id=none",
        "-Wl,--no-warn-rwx-segments",
    ])
    .arg(format!("-Wl,-T,{}", dir.join("guest.ld").display()))
    .arg("-o")
    .arg(&elf);
    for s in sources {
        cmd.arg(dir.join(s));
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running gcc to build the test guest: {e} (gcc is required)"));
    assert!(
        out.status.success(),
        "building the test guest failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    elf
}

/// Say why a test is skipping, where `cargo test` shows it even for a
/// passing test ([`gx_testdata::skip!`]).
pub fn skip(why: &str) {
    gx_testdata::skip!("SKIP: {why}");
}

/// The guest's serial console, collected for the host's checks.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

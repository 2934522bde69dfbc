//! The helper disk (a read-only ext2 image attached after the user's drives,
//! holding helper programs, their libraries and the extra kernel modules) and
//! loading kernel modules from the lists the initramfs builder wrote.
//!
//! Must not: show the helper disk to the host (its device lists and device
//! arguments go through [`is_helper`]), or fail a call because one module of a
//! group did not load (only the calls that need it fail).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use crate::sys;

/// Written by the initramfs builder: the ext2 UUID (32 hex digits) of the
/// helper image. Helper programs' usual paths in the initramfs are symlinks
/// into [`HELPERS_MOUNT`].
const HELPERS_ID: &str = "/gx/helpers.uuid";
const HELPERS_MOUNT: &str = "/gx/helpers";

/// Whether this appliance was built with a helper disk.
pub fn expected() -> bool {
    Path::new(HELPERS_ID).exists()
}

/// Loads every module listed (one path per line, dependencies first). Failures
/// are logged, not fatal: a missing filesystem driver only fails its own calls.
pub fn load_modules(list: &str) {
    let Ok(text) = fs::read_to_string(list) else {
        return;
    };
    for m in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let r = File::open(m).and_then(|f| sys::finit_module(&f));
        match r {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => crate::log(&format!("module {m}: {e}")),
        }
    }
}

/// The helper disk's kernel name (`vdc`), found once by its ext2 UUID; `None`
/// when the appliance has no helper image (everything is in the initramfs).
pub fn disk() -> Option<&'static str> {
    static DISK: OnceLock<Option<String>> = OnceLock::new();
    DISK.get_or_init(|| {
        let want = fs::read_to_string(HELPERS_ID).ok()?;
        let want = want.trim().to_ascii_lowercase();
        // Attached last, so look there first.
        super::devices::all_disks()
            .into_iter()
            .rev()
            .find(|d| ext2_uuid(&format!("/dev/{d}")).as_deref() == Some(want.as_str()))
    })
    .as_deref()
}

/// The UUID of the ext2/3/4 filesystem on `dev`, as 32 hex digits.
fn ext2_uuid(dev: &str) -> Option<String> {
    let mut f = File::open(dev).ok()?;
    let mut sb = [0u8; 1024];
    f.seek(SeekFrom::Start(1024)).ok()?;
    f.read_exact(&mut sb).ok()?;
    if u16::from_le_bytes([sb[56], sb[57]]) != 0xef53 {
        return None;
    }
    Some(sb[104..120].iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether the kernel block device name `name` (`vdc`, `vdc1`) is the helper
/// disk or one of its partitions.
pub fn is_helper(name: &str) -> bool {
    let Some(h) = disk() else {
        return false;
    };
    name.strip_prefix(h)
        .is_some_and(|rest| rest.bytes().all(|c| c.is_ascii_digit()))
}

/// Mounts the helper image (once) before anything runs a helper program or
/// loads an extra module; the boot does not wait for it.
pub fn ensure() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if !expected() {
            return;
        }
        let Some(d) = disk() else {
            crate::log("the helper disk is missing: helper programs are unavailable");
            return;
        };
        let dev = format!("/dev/{d}");
        let flags = libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOATIME;
        let mp = Path::new(HELPERS_MOUNT);
        let r = sys::mount(&dev, mp, "ext4", flags, "")
            .or_else(|_| sys::mount(&dev, mp, "ext2", flags, ""));
        if let Err(e) = r {
            crate::log(&format!("mounting the helper disk {dev}: {e}"));
        }
    });
}

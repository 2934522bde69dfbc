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
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// The module paths a list names (one per line, dependencies first); empty
/// when every module is built into the kernel (ext4 in Debian's).
pub fn module_list(list: &str) -> Vec<String> {
    fs::read_to_string(list)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether the kernel has the module of the file `path` (`.../virtio-rng.ko`:
/// `virtio_rng`) already: asking again would cost the whole load under TCG
/// (~35 ms) before the kernel says EEXIST.
fn loaded(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let name = file.split('.').next().unwrap_or(file).replace('-', "_");
    Path::new("/sys/module").join(name).exists()
}

/// Loads every module listed (one path per line, dependencies first). Failures
/// are logged, not fatal: a missing filesystem driver only fails its own calls.
pub fn load_modules(list: &str) {
    for m in module_list(list) {
        if loaded(&m) {
            continue;
        }
        let m = m.as_str();
        let r = File::open(m).and_then(|f| sys::finit_module(&f));
        match r {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => crate::log(&format!("module {m}: {e}")),
        }
    }
}

/// The virtio bus's switch for binding drivers to devices as they appear.
const VIRTIO_AUTOPROBE: &str = "/sys/bus/virtio/drivers_autoprobe";

/// At boot, before the hello (and so before a snapshot is saved): loads the
/// disk driver without letting it bind to the disks, so that `internal_start`
/// only probes them (the load alone is ~35 ms under TCG) and a restored
/// snapshot still has never seen a disk. When the bus cannot hold probing
/// back, the driver is left for `internal_start` to load.
pub fn preload_disk_driver() {
    if fs::write(VIRTIO_AUTOPROBE, "0").is_ok() {
        load_modules(DISK_MODULES);
    }
}

/// The disk driver's list, as the initramfs builder wrote it.
const DISK_MODULES: &str = "/gx/modules.disks";

/// In `internal_start`: loads the disk driver if the boot did not, and binds
/// it to every virtio device still without a driver, probing them now
/// (synchronously: partitions are read during the bind), except block
/// devices after the first `disks` (the user's drives): the helper disk,
/// which [`disk`] binds when it is first needed, and the staging disk,
/// which `staging` binds when it is first used.
pub fn attach_disks(disks: usize) {
    DRIVES.store(disks, Ordering::Relaxed);
    load_modules(DISK_MODULES);
    // In the bus's order, as automatic probing would: the first drive must
    // become vda.
    let mut blocks = 0;
    for (name, block) in unbound_devices() {
        if block {
            blocks += 1;
            if blocks > disks {
                continue;
            }
        }
        bind(&name);
    }
    // Devices that come later (none in our VMs) bind as usual.
    let _ = fs::write(VIRTIO_AUTOPROBE, "1");
}

/// virtio's device id of a block device (`/sys/bus/virtio/devices/*/device`).
const VIRTIO_BLOCK: &str = "0x0002";

/// The virtio devices no driver has bound yet, in the order the bus
/// registered them (`virtio0`, `virtio1`, ..., not the directory's order),
/// each with whether it is a block device.
fn unbound_devices() -> Vec<(String, bool)> {
    let mut devs: Vec<(u32, String, bool)> = fs::read_dir("/sys/bus/virtio/devices")
        .map(|d| {
            d.flatten()
                .filter(|e| !e.path().join("driver").exists())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name.strip_prefix("virtio")?.parse().ok()?;
                    let block = fs::read_to_string(e.path().join("device"))
                        .is_ok_and(|id| id.trim() == VIRTIO_BLOCK);
                    Some((n, name, block))
                })
                .collect()
        })
        .unwrap_or_default();
    devs.sort();
    devs.into_iter().map(|(_, n, b)| (n, b)).collect()
}

/// The virtio block devices no driver has bound yet, in the bus's order:
/// after `internal_start`, the helper disk, then the staging disk.
pub fn unbound_block_devices() -> Vec<String> {
    unbound_devices()
        .into_iter()
        .filter_map(|(n, block)| block.then_some(n))
        .collect()
}

/// Binds its driver to the virtio device `dev`; virtio_blk probes the disk
/// (its partitions too) before this returns. ENODEV (no driver for this
/// device) is no error here.
pub fn bind(dev: &str) {
    let _ = fs::write("/sys/bus/virtio/drivers_probe", dev);
}

/// `found()` once it is `Some`, polled for up to 5 s (a disk whose driver
/// binds late).
pub fn wait_for<T>(mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let t = std::time::Instant::now();
    loop {
        if let Some(x) = found() {
            return Some(x);
        }
        if t.elapsed() > std::time::Duration::from_secs(5) {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The number of user drives `internal_start` bound (the helper disk, if
/// bound, comes after them).
static DRIVES: AtomicUsize = AtomicUsize::new(0);

/// The helper disk's kernel name (`vdc`) once bound and found by its ext2 UUID.
static DISK: OnceLock<String> = OnceLock::new();

/// The helper disk's kernel name if it is bound; binds nothing. Disks past
/// the user's drives are looked at only when there are any, so while the
/// helper disk is unbound this costs no I/O.
pub fn bound_disk() -> Option<&'static str> {
    if let Some(d) = DISK.get() {
        return Some(d);
    }
    let all = super::devices::all_disks();
    let extra = all.get(DRIVES.load(Ordering::Relaxed)..)?;
    if extra.is_empty() {
        return None;
    }
    let want = fs::read_to_string(HELPERS_ID).ok()?;
    let want = want.trim().to_ascii_lowercase();
    let found = extra
        .iter()
        .find(|d| ext2_uuid(&format!("/dev/{d}")).as_deref() == Some(want.as_str()))?;
    Some(DISK.get_or_init(|| found.clone()))
}

/// The helper disk's kernel name, binding it first: `internal_start` leaves
/// it unbound (probing it cost ~5-10 ms of every launch under TCG, and most
/// sessions never run a helper program). `None` when the appliance has no
/// helper image (everything is in the initramfs) or it did not appear.
pub fn disk() -> Option<&'static str> {
    if !expected() {
        return None;
    }
    if let Some(d) = bound_disk() {
        return Some(d);
    }
    // Attached right after the user's drives (which are bound) and before
    // the staging disk: the first block device still without a driver.
    if let Some(dev) = unbound_block_devices().first() {
        bind(dev);
    }
    wait_for(bound_disk)
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
    let Some(h) = bound_disk() else {
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

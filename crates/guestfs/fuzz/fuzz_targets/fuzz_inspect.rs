//! Inspection over a fuzzed disk: the input is a whole raw disk image
//! (seeded by make-seeds.sh with tiny Debian- and Alpine-like guests, whole
//! device and MBR-partitioned). It goes through the Handle as a tool would:
//! add the drive read-only as raw, launch the direct engine, `inspect_os`,
//! every `inspect_get_*` getter of every root, mount the root and its fstab
//! mountpoints read-only as `-i` does (crates/cli/src/inspect.rs), then
//! `inspect_list_applications2`. Errors are fine; a panic or a hang is a bug.
#![no_main]

use gx_guestfs::{DriveOptions, Format, Handle};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One image file per fuzzing process, rewritten for every input: in
/// /dev/shm when there is one, so the disk is never touched.
fn image_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("gx-fuzz-inspect-{}.img", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = image_path();
    if std::fs::write(path, data).is_err() {
        return;
    }
    // Half the inputs are the start of a sparse 4 TiB disk: partition
    // tables and filesystems may then claim that much and pass size checks.
    if data.len() % 2 == 1
        && std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(4 << 40))
            .is_err()
    {
        return;
    }
    inspect(path);
    let _ = std::fs::remove_file(path);
});

fn inspect(path: &PathBuf) {
    let mut g = Handle::new();
    let opts = DriveOptions {
        format: Some(Format::Raw),
        readonly: true,
    };
    if g.add_drive_opts(path, opts).is_err() || g.launch().is_err() {
        return;
    }
    let _ = g.list_filesystems();
    let Ok(roots) = g.inspect_os() else {
        return;
    };
    let _ = g.inspect_get_roots();
    for root in &roots {
        getters(&g, root);
        // Mount as the tools' `-i` does: shortest mountpoint first, `/`
        // must mount, other failures are ignored.
        let Ok(mut mps) = g.inspect_get_mountpoints(root) else {
            continue;
        };
        mps.sort_by(|a, b| {
            a.0.len()
                .cmp(&b.0.len())
                .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
        });
        let mut root_ok = true;
        for (mp, dev) in &mps {
            if g.mount_ro(dev, mp).is_err() && mp == "/" {
                root_ok = false;
                break;
            }
        }
        if root_ok {
            let _ = g.inspect_list_applications2(root);
            let _ = g.inspect_get_icon(root, Default::default());
            // What tools print next: the guest's top directory.
            let _ = g.ls("/");
        }
        let _ = g.umount_all();
    }
    let _ = g.shutdown();
}

fn getters(g: &Handle, root: &str) {
    let _ = g.inspect_get_type(root);
    let _ = g.inspect_get_distro(root);
    let _ = g.inspect_get_package_format(root);
    let _ = g.inspect_get_package_management(root);
    let _ = g.inspect_get_product_name(root);
    let _ = g.inspect_get_product_variant(root);
    let _ = g.inspect_get_major_version(root);
    let _ = g.inspect_get_minor_version(root);
    let _ = g.inspect_get_arch(root);
    let _ = g.inspect_get_hostname(root);
    let _ = g.inspect_get_build_id(root);
    let _ = g.inspect_get_format(root);
    let _ = g.inspect_get_windows_systemroot(root);
    let _ = g.inspect_get_windows_current_control_set(root);
    let _ = g.inspect_get_windows_software_hive(root);
    let _ = g.inspect_get_windows_system_hive(root);
    let _ = g.inspect_get_drive_mappings(root);
    let _ = g.inspect_get_mountpoints(root);
    let _ = g.inspect_get_filesystems(root);
    let _ = g.inspect_get_osinfo(root);
}

//! The two engines against each other, and the Handle's engine choice.
//!
//! - The direct engine and the appliance answer identically on the same
//!   images (device lists, filesystem probes, and a walk of every file of
//!   ext4, vfat, NTFS and XFS filesystems: stat fields, link targets,
//!   contents; `statvfs` of ext4 and XFS).
//! - Read-only drives stay byte-identical, even after the appliance wrote to
//!   them (the writes land in the launcher's overlay).
//! - `Auto` falls back to the appliance for a filesystem the direct engine
//!   cannot read (exfat), and keeps its mounts coherent.
//! - Our VMM as the launcher: needs hardware KVM; skipped, saying why, on a
//!   PVM host like the ones this project is developed on.
//!
//! Appliance tests run under QEMU TCG here, so boots are few: one appliance
//! for all the comparisons, one for the fallback. They skip, saying why,
//! when QEMU, a kernel or the gx-agent binary is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gx_guestfs::{
    Backend, DriveOptions, Engine, FileType, Format, Handle, IsDirOpts, IsFileOpts, StatExt, StatNs,
};

/// Why the appliance cannot run here, if it cannot.
fn appliance_missing() -> Option<String> {
    if gx_appliance::kernel::find_kernel().is_err() {
        return Some("no readable kernel (run scripts/setup)".into());
    }
    if gx_appliance::qemu::find_qemu().is_err()
        && gx_appliance::vmm::kvm_flavor() != gx_appliance::vmm::KvmFlavor::Hardware
    {
        return Some("no qemu-system-x86_64 and no hardware KVM (run scripts/setup)".into());
    }
    if std::env::var_os("GX_AGENT").is_none() && gx_appliance::image::find_agent().is_err() {
        return Some(
            "the gx-agent binary is not built in this target directory \
             (`cargo build -p gx-agent`)"
                .into(),
        );
    }
    None
}

macro_rules! need_appliance {
    ($name:expr) => {
        if let Some(why) = appliance_missing() {
            gx_testdata::skip_or_fail!("{}: {why}", $name);
            return;
        }
    };
}

fn image(name: &str) -> PathBuf {
    gx_testdata::image(name)
}

/// A digest of a whole image file: "byte-identical" is checked with it.
fn digest(p: &Path) -> u64 {
    gx_testdata::file_digest(p)
}

fn handle(engine: Engine, drives: &[(&Path, Option<Format>)]) -> Handle {
    let mut g = Handle::new();
    g.set_engine(engine).unwrap();
    for (p, format) in drives {
        g.add_drive_opts(
            p,
            DriveOptions {
                format: *format,
                readonly: true,
            },
        )
        .unwrap();
    }
    g.launch()
        .unwrap_or_else(|e| panic!("launch ({}): {e}", engine.name()));
    g
}

/// What both engines must report the same way for one file: every `Stat`
/// field, except the ones that legitimately differ:
/// - `dev`: the direct engine reports SCSI-style numbers (8:N), the appliance
///   kernel its virtio-blk ones;
/// - `ino` on vfat: FAT has no inode numbers; the kernel invents them in
///   lookup order, the direct engine derives them from the entry position.
fn comparable(st: &StatNs, fs: &str) -> String {
    let ino = if fs == "vfat" { 0 } else { st.st_ino };
    format!(
        "type={:?} mode={:o} uid={} gid={} nlink={} ino={ino} rdev={} size={} blocks={} \
         blksize={} atime={}.{:09} mtime={}.{:09} ctime={}.{:09}",
        st.file_type(),
        st.st_mode,
        st.st_uid,
        st.st_gid,
        st.st_nlink,
        st.st_rdev,
        st.st_size,
        st.st_blocks,
        st.st_blksize,
        st.st_atime_sec,
        st.st_atime_nsec,
        st.st_mtime_sec,
        st.st_mtime_nsec,
        st.st_ctime_sec,
        st.st_ctime_nsec
    )
}

/// Every path under `/` with what both engines must agree on.
fn walk(g: &Handle, fs: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec!["/".to_string()];
    while let Some(dir) = todo.pop() {
        let names = g.ls(&dir).unwrap_or_else(|e| panic!("ls {dir}: {e}"));
        let stats = g.lstatnslist(&dir, &names).unwrap();
        for (name, st) in names.iter().zip(stats) {
            let p = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            let single = g.lstatns(&p).unwrap();
            assert_eq!(single.st_ino, st.st_ino, "{p}: lstatns vs lstatnslist");
            let mut line = comparable(&st, fs);
            match st.file_type() {
                FileType::Directory => todo.push(p.clone()),
                FileType::Symlink => {
                    line.push_str(&format!(" -> {}", g.readlink(&p).unwrap()));
                }
                FileType::Regular => {
                    line.push_str(&format!(" sha256={}", g.checksum("sha256", &p).unwrap()));
                }
                _ => {}
            }
            out.insert(p, line);
        }
    }
    out
}

fn assert_same_walk(d: &Handle, a: &Handle, fs: &str, what: &str) -> usize {
    let wd = walk(d, fs);
    let wa = walk(a, fs);
    for (p, l) in &wd {
        assert_eq!(Some(l), wa.get(p), "{what} {p}: direct vs appliance");
    }
    for p in wa.keys() {
        assert!(wd.contains_key(p), "{what} {p}: only the appliance sees it");
    }
    wd.len()
}

/// One appliance and one direct handle on the same drives; every check that
/// compares them, then writes through the appliance into its overlay, then
/// the images are hashed again.
#[test]
fn direct_and_appliance_agree_and_images_stay_unchanged() {
    need_appliance!("direct_and_appliance_agree_and_images_stay_unchanged");
    let linux = image("linux.img");
    let windows = image("windows.img");
    let xfs = image("xfs.img");
    let xfs4 = image("xfs-v4.img");
    let before = (
        digest(&linux),
        digest(&windows),
        digest(&xfs),
        digest(&xfs4),
    );
    // The whole-device XFS images first: the engines order
    // list_filesystems differently when an unpartitioned disk follows a
    // partitioned one (direct: whole devices first; appliance: disk order).
    let drives = [
        (xfs.as_path(), Some(Format::Raw)),
        (xfs4.as_path(), Some(Format::Raw)),
        (linux.as_path(), None),
        (windows.as_path(), Some(Format::Raw)),
    ];
    let mut d = handle(Engine::Direct, &drives);
    let mut a = handle(Engine::Appliance, &drives);
    assert_eq!(a.active_engine(), Some(Engine::Appliance));
    assert_eq!(d.active_engine(), Some(Engine::Direct));

    // Devices and probes.
    assert_eq!(d.list_devices().unwrap(), a.list_devices().unwrap());
    assert_eq!(d.list_partitions().unwrap(), a.list_partitions().unwrap());
    let fses = d.list_filesystems().unwrap();
    assert_eq!(fses, a.list_filesystems().unwrap());
    for (dev, _) in &fses {
        assert_eq!(
            d.vfs_type(dev).unwrap(),
            a.vfs_type(dev).unwrap(),
            "vfs_type {dev}"
        );
        assert_eq!(
            d.vfs_label(dev).unwrap(),
            a.vfs_label(dev).unwrap(),
            "vfs_label {dev}"
        );
        assert_eq!(
            d.vfs_uuid(dev).unwrap(),
            a.vfs_uuid(dev).unwrap(),
            "vfs_uuid {dev}"
        );
        assert_eq!(
            d.blockdev_getsize64(dev).unwrap(),
            a.blockdev_getsize64(dev).unwrap(),
            "blockdev_getsize64 {dev}"
        );
    }

    // Whole-filesystem walks.
    let mut walked = Vec::new();
    for (dev, fs) in &fses {
        if !matches!(fs.as_str(), "ext4" | "vfat" | "ntfs" | "xfs") {
            continue;
        }
        for g in [&mut d, &mut a] {
            g.mount_ro(dev, "/")
                .unwrap_or_else(|e| panic!("mount_ro {dev}: {e}"));
        }
        let n = assert_same_walk(&d, &a, fs, dev);
        assert!(n > 3, "{dev}: only {n} files walked");
        if fs == "ext4" {
            // Calls composed on the host side of the appliance engine.
            for p in ["/etc", "/etc/hostname", "/", "/bin"] {
                if d.exists(p).unwrap() {
                    assert_eq!(
                        d.realpath(p).unwrap(),
                        a.realpath(p).unwrap(),
                        "realpath {p}"
                    );
                    assert_eq!(
                        d.statns(p).unwrap().st_ino,
                        a.statns(p).unwrap().st_ino,
                        "statns {p}"
                    );
                    let dir = || IsDirOpts {
                        followsymlinks: Some(true),
                    };
                    let file = || IsFileOpts {
                        followsymlinks: Some(true),
                    };
                    assert_eq!(
                        d.is_dir(p, dir()).unwrap(),
                        a.is_dir(p, dir()).unwrap(),
                        "is_dir {p}"
                    );
                    assert_eq!(
                        d.is_file(p, file()).unwrap(),
                        a.is_file(p, file()).unwrap(),
                        "is_file {p}"
                    );
                }
            }
            assert_eq!(d.ll("/etc").unwrap(), a.ll("/etc").unwrap(), "ll /etc");
            assert_eq!(
                d.find("/etc").unwrap(),
                a.find("/etc").unwrap(),
                "find /etc"
            );
            assert_eq!(
                d.statvfs("/").unwrap(),
                a.statvfs("/").unwrap(),
                "statvfs /"
            );
            assert_eq!(
                d.case_sensitive_path("/ETC").unwrap(),
                a.case_sensitive_path("/ETC").unwrap()
            );
            assert_eq!(
                d.pread("/etc/hostname", 3, 1).unwrap(),
                a.pread("/etc/hostname", 3, 1).unwrap()
            );
            let e = a.ls("/no/such/dir").unwrap_err();
            assert_eq!(e.kind(), gx_guestfs::ErrorKind::NotFound, "{e}");
        }
        if fs == "xfs" {
            // The kernel's xfs_fs_statfs on a read-only mount. f_fsid is the
            // device number, which differs between engines like st_dev.
            let (mut sd, mut sa) = (d.statvfs("/").unwrap(), a.statvfs("/").unwrap());
            (sd.fsid, sa.fsid) = (0, 0);
            assert_eq!(sd, sa, "statvfs {dev}");
            for p in ["/frag/frag.bin", "/files/small.txt", "/etc/hostname"] {
                if d.exists(p).unwrap() {
                    assert_eq!(
                        d.pread(p, 5000, 4090).unwrap(),
                        a.pread(p, 5000, 4090).unwrap(),
                        "pread {p}"
                    );
                }
            }
        }
        walked.push(format!("{dev}({fs}):{n}"));
        for g in [&mut d, &mut a] {
            g.umount_all().unwrap();
        }
    }
    eprintln!("walked with both engines: {}", walked.join(" "));
    assert!(walked.iter().any(|w| w.contains("(ext4)")), "{walked:?}");
    assert!(walked.iter().any(|w| w.contains("(vfat)")), "{walked:?}");
    assert!(walked.iter().any(|w| w.contains("(ntfs)")), "{walked:?}");
    assert_eq!(
        walked.iter().filter(|w| w.contains("(xfs)")).count(),
        2,
        "{walked:?}"
    );

    // The direct engine refuses writes; the appliance writes into the
    // overlay of the read-only drive, and sees its own write.
    let root = fses
        .iter()
        .find(|(_, t)| t == "ext4")
        .map(|(dev, _)| dev.clone())
        .unwrap();
    d.mount_ro(&root, "/").unwrap();
    let e = d.write("/gx-engine-test", b"x").unwrap_err();
    assert_eq!(e.kind(), gx_guestfs::ErrorKind::ReadOnly, "{e}");
    a.mount(&root, "/").unwrap();
    a.write("/gx-engine-test", b"written in the overlay\n")
        .unwrap();
    a.mkdir("/gx-engine-dir").unwrap();
    assert_eq!(
        a.cat("/gx-engine-test").unwrap(),
        "written in the overlay\n"
    );
    assert!(a.is_dir("/gx-engine-dir", IsDirOpts::default()).unwrap());
    a.sync().unwrap();
    a.shutdown().unwrap();
    drop(a);
    assert_eq!(
        before,
        (
            digest(&linux),
            digest(&windows),
            digest(&xfs),
            digest(&xfs4)
        ),
        "read-only drives changed on disk"
    );
}

/// `Auto` on an exfat image: probes come from the direct engine; the mount
/// it cannot do moves the handle to the appliance, which answers from then
/// on.
#[test]
fn auto_falls_back_to_the_appliance_for_exfat() {
    need_appliance!("auto_falls_back_to_the_appliance_for_exfat");
    let exfat = image("probe/exfat.img");
    let before = digest(&exfat);
    let mut g = handle(Engine::Auto, &[(exfat.as_path(), Some(Format::Raw))]);
    assert_eq!(g.active_engine(), Some(Engine::Direct));
    let fses = g.list_filesystems().unwrap();
    assert_eq!(fses, vec![("/dev/sda".to_string(), "exfat".to_string())]);
    // Still direct: probing exfat needs no appliance.
    assert_eq!(g.active_engine(), Some(Engine::Direct));
    g.mount_ro("/dev/sda", "/").unwrap();
    assert_eq!(g.active_engine(), Some(Engine::Appliance));
    let st = g.statvfs("/").unwrap();
    assert!(st.blocks > 0 && st.bsize > 0, "{st:?}");
    assert!(g.is_dir("/", IsDirOpts::default()).unwrap());
    let names = g.ls("/").unwrap();
    eprintln!("exfat root: {names:?}");
    assert_eq!(
        g.mountpoints().unwrap(),
        vec![("/dev/sda".into(), "/".into())]
    );
    g.umount_all().unwrap();
    let backend = g.appliance_backend();
    eprintln!("appliance backend: {backend:?}");
    g.shutdown().unwrap();
    assert_eq!(before, digest(&exfat), "exfat.img changed on disk");
}

/// The Direct engine never launches anything: an unsupported filesystem is
/// an error of kind Unsupported (what `Auto` turns into a fallback).
#[test]
fn direct_engine_reports_unsupported_without_falling_back() {
    let exfat = image("probe/exfat.img");
    let mut g = handle(Engine::Direct, &[(exfat.as_path(), Some(Format::Raw))]);
    let e = g.mount_ro("/dev/sda", "/").unwrap_err();
    assert_eq!(e.kind(), gx_guestfs::ErrorKind::Unsupported, "{e}");
    assert_eq!(g.active_engine(), Some(Engine::Direct));
    assert!(g.appliance_backend().is_none());
    assert!("turbo".parse::<Engine>().is_err());
    assert_eq!("auto".parse::<Engine>().unwrap(), Engine::Auto);
}

/// A handle on linux.img (read-only) forced onto our VMM.
fn vmm_handle(linux: &Path) -> Handle {
    let mut g = Handle::new();
    g.set_engine(Engine::Appliance).unwrap();
    g.set_backend_kind(Some(Backend::Vmm));
    g.add_drive_opts(
        linux,
        DriveOptions {
            format: Some(Format::Raw),
            readonly: true,
        },
    )
    .unwrap();
    g
}

/// Our VMM as the launcher. It boots Linux only on hardware KVM. On a PVM
/// host (these development machines) the test checks what it can -- gx-vmm
/// accepts the command line the launcher builds (kernel, initramfs, `cow`
/// disk, channel) and refuses PVM with a clear error -- then says
/// it skips the boot; it never passes without saying so.
#[test]
fn vmm_backend_boots_the_appliance() {
    use gx_appliance::vmm::{KvmFlavor, kvm_flavor};
    if gx_appliance::vmm::find_vmm().is_err() {
        gx_testdata::skip_or_fail!(
            "vmm_backend_boots_the_appliance: gx-vmm is not built in this target \
             directory (`cargo build -p gx-vmm`)"
        );
        return;
    }
    need_appliance!("vmm_backend_boots_the_appliance");
    let linux = image("linux.img");
    match kvm_flavor() {
        KvmFlavor::Pvm => {
            let mut g = vmm_handle(&linux);
            let e = g.launch().unwrap_err().to_string();
            assert!(
                e.contains("gx-vmm exited early") && e.contains("PVM"),
                "{e}"
            );
            gx_testdata::skip!(
                "SKIP vmm_backend_boots_the_appliance (boot part): /dev/kvm is PVM (kvm_pvm): \
                 our VMM cannot boot a stock Linux kernel here (it refused as it should); \
                 run this test on hardware KVM"
            );
            return;
        }
        KvmFlavor::Missing => {
            gx_testdata::skip!(
                "SKIP vmm_backend_boots_the_appliance: no usable /dev/kvm (needs hardware KVM)"
            );
            return;
        }
        KvmFlavor::Hardware => {}
    }
    let before = digest(&linux);
    let mut g = vmm_handle(&linux);
    g.launch().unwrap();
    assert_eq!(g.appliance_backend(), Some(Backend::Vmm));
    let mut d = handle(Engine::Direct, &[(linux.as_path(), Some(Format::Raw))]);
    assert_eq!(g.list_filesystems().unwrap(), d.list_filesystems().unwrap());
    g.mount("/dev/sda2", "/").unwrap();
    d.mount_ro("/dev/sda2", "/").unwrap();
    assert_eq!(
        g.cat("/etc/hostname").unwrap(),
        d.cat("/etc/hostname").unwrap()
    );
    // A write into the VMM's copy-on-write overlay must not reach the image.
    g.write("/gx-vmm-test", b"cow").unwrap();
    assert_eq!(g.cat("/gx-vmm-test").unwrap(), "cow");
    g.shutdown().unwrap();
    assert_eq!(before, digest(&linux), "linux.img changed on disk");
}

//! A guest built from nothing through the client, as libguestfs's
//! phony-guest scripts do: GPT, two partitions, LVM, ext4 with labels and
//! block sizes, files with modes, owners and symlinks. After shutdown the
//! host's sgdisk, e2fsck, dumpe2fs and debugfs read the image (the root LV
//! found at its extents from the LVM metadata on the disk).

mod common;

use std::path::Path;

use common::{blank, launch, lvm_metadata, prerequisites, sh};
use gx_appliance::Drive;
use gx_protocol::MkfsOpts;

/// `sfdisk -d`'s (start, size) in sectors for each partition, in order.
fn partitions(img: &Path) -> Vec<(u64, u64)> {
    sh(&format!("sfdisk -d {}", img.display()))
        .lines()
        .filter(|l| l.contains("start="))
        .map(|l| {
            let num = |key: &str| -> u64 {
                l.split(key)
                    .nth(1)
                    .and_then(|s| s.split(',').next())
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or_else(|| panic!("{key} in {l}"))
            };
            (num("start="), num("size="))
        })
        .collect()
}

fn debugfs(fs: &str, req: &str) -> String {
    sh(&format!("debugfs -R '{req}' '{fs}' 2>/dev/null"))
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[test]
fn build_a_guest_from_scratch() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("build a guest: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = blank(&tmp.path().join("guest.img"), 256 << 20);
    let whole = blank(&tmp.path().join("whole.img"), 32 << 20);
    let mut g = launch(vec![
        Drive::new(&img, Some("raw"), false),
        Drive::new(&whole, Some("raw"), false),
    ]);

    g.part_init("/dev/sda", "gpt").expect("part_init");
    g.part_add("/dev/sda", "p", 2048, 206_847)
        .expect("boot partition");
    g.part_add("/dev/sda", "p", 206_848, -34)
        .expect("LVM partition");
    g.pvcreate("/dev/sda2").expect("pvcreate");
    g.vgcreate("guestvg", &["/dev/sda2".into()])
        .expect("vgcreate");
    g.lvcreate("root", "guestvg", 64).expect("lvcreate");
    g.mkfs(
        "ext4",
        "/dev/guestvg/root",
        MkfsOpts {
            blocksize: Some(4096),
            label: Some("ROOT".into()),
            ..MkfsOpts::default()
        },
    )
    .expect("mkfs root");
    g.mkfs(
        "ext4",
        "/dev/sda1",
        MkfsOpts {
            blocksize: Some(1024),
            label: Some("BOOT".into()),
            ..MkfsOpts::default()
        },
    )
    .expect("mkfs boot");
    g.mount("/dev/guestvg/root", "/").expect("mount root");
    g.mkdir_p("/boot").expect("mkdir /boot");
    g.mount("/dev/sda1", "/boot").expect("mount boot");
    g.mkdir_p("/etc/sysconfig/network-scripts")
        .expect("mkdir_p");
    g.write("/etc/hostname", b"scratch.example.com\n")
        .expect("write");
    g.write(
        "/etc/fstab",
        b"LABEL=ROOT / ext4 defaults 1 1\nLABEL=BOOT /boot ext4 defaults 1 2\n",
    )
    .expect("write fstab");
    g.write("/boot/grub.cfg", b"set timeout=5\n")
        .expect("write");
    g.mkdir_p("/home/user").expect("mkdir_p");
    g.chmod(0o700, "/home/user").expect("chmod");
    g.chown(1000, 1000, "/home/user").expect("chown");
    g.write("/home/user/.profile", b"export PS1='$ '\n")
        .expect("write");
    g.chmod(0o640, "/home/user/.profile").expect("chmod");
    g.chown(1000, 100, "/home/user/.profile").expect("chown");
    g.ln_s("/etc/hostname", "/etc/hostname.link").expect("ln_s");
    g.ln_s("../boot/grub.cfg", "/etc/grub.cfg").expect("ln_s");
    assert_eq!(
        g.mountpoints().expect("mountpoints"),
        vec![
            ("/dev/guestvg/root".to_string(), "/".to_string()),
            ("/dev/sda1".to_string(), "/boot".to_string())
        ]
    );
    g.umount_all().expect("umount_all");
    // A whole disk in one partition, libguestfs's way.
    g.part_disk("/dev/sdb", "mbr").expect("part_disk");
    g.shutdown().expect("shutdown");

    // The partition table, by sgdisk and sfdisk.
    let sg = sh(&format!("sgdisk -p {}", img.display()));
    assert!(sg.contains("Number  Start (sector)"), "{sg}");
    let parts = partitions(&img);
    let last_usable = (256u64 << 20) / 512 - 34;
    assert_eq!(
        parts,
        vec![(2048, 204_800), (206_848, last_usable - 206_848 + 1)]
    );
    let (code, verify) = common::sh_status(&format!("sgdisk -v {}", img.display()));
    assert!(
        code == 0 && verify.contains("No problems found"),
        "{verify}"
    );
    assert_eq!(
        partitions(&whole),
        vec![(128, (32 << 20) / 512 - 128 - 127)]
    );

    // The root LV, where the VG metadata on the disk puts it.
    let pv_at = parts[1].0 * 512;
    let (vgname, vg) = lvm_metadata(&img, pv_at);
    assert_eq!(vgname, "guestvg");
    let pe_start = vg.sec("physical_volumes").sec("pv0").num("pe_start") * 512;
    let extent = vg.num("extent_size") * 512;
    let seg = vg.sec("logical_volumes").sec("root").sec("segment1");
    assert_eq!(seg.num("extent_count") * extent, 64 << 20);
    let first: u64 = seg.values["stripes"][1].parse().expect("stripe start");
    let root = format!(
        "{}?offset={}",
        img.display(),
        pv_at + pe_start + first * extent
    );
    let boot = format!("{}?offset={}", img.display(), parts[0].0 * 512);

    sh(&format!("e2fsck -fn '{root}'"));
    sh(&format!("e2fsck -fn '{boot}'"));
    let d = sh(&format!("dumpe2fs -h '{root}' 2>/dev/null"));
    assert_eq!(field(&d, "Filesystem volume name"), "ROOT");
    assert_eq!(field(&d, "Block size"), "4096");
    let d = sh(&format!("dumpe2fs -h '{boot}' 2>/dev/null"));
    assert_eq!(field(&d, "Filesystem volume name"), "BOOT");
    assert_eq!(field(&d, "Block size"), "1024");

    assert_eq!(debugfs(&root, "cat /etc/hostname"), "scratch.example.com\n");
    assert!(debugfs(&root, "cat /etc/fstab").contains("LABEL=BOOT /boot"));
    assert_eq!(debugfs(&boot, "cat /grub.cfg"), "set timeout=5\n");
    let st = debugfs(&root, "stat /home/user");
    assert!(
        st.contains("Type: directory") && st.contains("Mode:  0700"),
        "{st}"
    );
    assert!(
        st.contains("User:  1000") && st.contains("Group:  1000"),
        "{st}"
    );
    let st = debugfs(&root, "stat /home/user/.profile");
    assert!(st.contains("Mode:  0640"), "{st}");
    assert!(
        st.contains("User:  1000") && st.contains("Group:   100"),
        "{st}"
    );
    let st = debugfs(&root, "stat /etc/hostname.link");
    assert!(
        st.contains("Type: symlink") && st.contains("\"/etc/hostname\""),
        "{st}"
    );
    let st = debugfs(&root, "stat /etc/grub.cfg");
    assert!(st.contains("\"../boot/grub.cfg\""), "{st}");
    // /boot is a directory on the root LV, the mountpoint of sda1.
    assert!(debugfs(&root, "stat /boot").contains("Type: directory"));
}

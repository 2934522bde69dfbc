//! Disks, partitions and filesystems through the agent, checked after
//! shutdown by reading the images with the host's own tools: sfdisk -d and
//! sgdisk for tables, blkid -p at the partition's offset for types, labels
//! and UUIDs, dumpe2fs/e2fsck for ext4, and the on-disk superblocks of FAT,
//! NTFS and XFS for what their tools set.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use common::{blank, launch, prerequisites, sh, sh_status};
use gx_appliance::{Appliance, Drive};
use gx_protocol::{E2fsckOpts, MkfsOpts, MkswapOpts, NtfsresizeOpts, XfsGrowfsOpts};

/// One partition line of `sfdisk -d`: number and its `key=value` fields.
type SfPart = (u32, BTreeMap<String, String>);

/// `sfdisk -d` of an image: the header fields and the partitions.
fn sfdisk(img: &Path) -> (BTreeMap<String, String>, Vec<SfPart>) {
    let out = sh(&format!("sfdisk -d {}", img.display()));
    let name = img.display().to_string();
    let mut head = BTreeMap::new();
    let mut parts = Vec::new();
    for l in out.lines() {
        if let Some(rest) = l.strip_prefix(&name) {
            let (num, fields) = rest.split_once(" : ").expect("partition line");
            let mut m = BTreeMap::new();
            for f in fields.split(", ") {
                match f.split_once('=') {
                    Some((k, v)) => m.insert(k.trim().into(), v.trim().trim_matches('"').into()),
                    None => m.insert(f.trim().into(), String::new()),
                };
            }
            parts.push((num.parse().expect("num"), m));
        } else if let Some((k, v)) = l.split_once(": ") {
            head.insert(k.to_string(), v.to_string());
        }
    }
    (head, parts)
}

fn part(parts: &[SfPart], n: u32) -> &BTreeMap<String, String> {
    &parts
        .iter()
        .find(|(k, _)| *k == n)
        .unwrap_or_else(|| panic!("no partition {n} in {parts:?}"))
        .1
}

fn start_bytes(parts: &[SfPart], n: u32) -> u64 {
    part(parts, n)["start"].parse::<u64>().expect("start") * 512
}

/// blkid -p at a byte offset of an image: what is there, by the host's blkid.
fn host_blkid(img: &Path, offset: u64) -> BTreeMap<String, String> {
    let (_, out) = sh_status(&format!(
        "blkid -p -O {offset} -o export {} 2>/dev/null",
        img.display()
    ));
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn read_at(img: &Path, offset: u64, n: usize) -> Vec<u8> {
    let mut f = std::fs::File::open(img).expect("open");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    let mut v = vec![0u8; n];
    f.read_exact(&mut v).expect("read");
    v
}

fn dumpe2fs(img: &Path, offset: u64) -> BTreeMap<String, String> {
    let out = sh(&format!(
        "dumpe2fs -h '{}?offset={offset}' 2>/dev/null",
        img.display()
    ));
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn mkfs(g: &mut Appliance, t: &str, dev: &str, o: MkfsOpts) {
    g.mkfs(t, dev, o)
        .unwrap_or_else(|e| panic!("mkfs {t} {dev}: {e}"));
}

const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

#[test]
fn disks_partitions_filesystems_against_host_tools() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("disks: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    let gpt = blank(&t.join("gpt.img"), 1 << 30);
    let mbr = blank(&t.join("mbr.img"), 64 << 20);
    // A GPT made for a smaller disk, then the disk grew: the backup header
    // is no longer at the end.
    let grown = blank(&t.join("grown.img"), 32 << 20);
    sh(&format!(
        "sgdisk -n 1:2048:+8M -c 1:grown {} >/dev/null && truncate -s 64M {0}",
        grown.display()
    ));
    let (code, before) = sh_status(&format!("sgdisk -v {}", grown.display()));
    assert!(
        code != 0 || before.contains("Problem"),
        "the grown disk should need fixing: {before}"
    );
    let zero = blank(&t.join("zero.img"), 32 << 20);

    let mut g = launch(vec![
        Drive::new(&gpt, Some("raw"), false),
        Drive::new(&mbr, Some("raw"), false),
        Drive::new(&grown, Some("raw"), false),
        Drive::new(&zero, Some("raw"), false),
    ]);
    assert_eq!(
        g.list_devices().expect("list_devices"),
        vec!["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"]
    );

    // GPT: partitions at exact sectors, names, types, GUIDs.
    g.part_init("/dev/sda", "gpt").expect("part_init gpt");
    assert_eq!(g.part_get_parttype("/dev/sda").expect("parttype"), "gpt");
    for (s, e) in [
        (2048, 83_967),
        (83_968, 165_887),
        (165_888, 247_807),
        (247_808, 509_951),
        (509_952, 542_719),
        (542_720, 1_198_079),
        (1_400_832, 1_404_927),
    ] {
        g.part_add("/dev/sda", "p", s, e)
            .unwrap_or_else(|e2| panic!("part_add {s}-{e}: {e2}"));
    }
    let e = g
        .part_add("/dev/sda", "x", 2_000_000, 2_001_000)
        .expect_err("bad type");
    assert!(e.to_string().contains("unknown partition type"), "{e}");
    assert!(g.part_add("/dev/sda", "p", -1, 100).is_err());
    assert!(g.part_init("/dev/sdd", "gtp").is_err());
    let pl = g.part_list("/dev/sda").expect("part_list");
    assert_eq!(pl.len(), 7);
    g.part_set_name("/dev/sda", 1, "root fs")
        .expect("part_set_name");
    assert_eq!(g.part_get_name("/dev/sda", 1).expect("name"), "root fs");
    g.part_set_gpt_type("/dev/sda", 2, ESP).expect("gpt type");
    assert_eq!(g.part_get_gpt_type("/dev/sda", 2).expect("gpt type"), ESP);
    assert_eq!(g.part_get_gpt_type("/dev/sda", 1).expect("gpt type"), LINUX);
    let guid = "01234567-89AB-CDEF-0123-456789ABCDEF";
    g.part_set_gpt_guid("/dev/sda", 3, guid).expect("gpt guid");
    assert_eq!(g.part_get_gpt_guid("/dev/sda", 3).expect("gpt guid"), guid);
    let disk_guid = "FEDCBA98-7654-3210-FEDC-BA9876543210";
    g.part_set_disk_guid("/dev/sda", disk_guid)
        .expect("disk guid");
    assert_eq!(
        g.part_get_disk_guid("/dev/sda").expect("disk guid"),
        disk_guid
    );
    assert!(!g.part_get_bootable("/dev/sda", 4).expect("bootable"));
    g.part_set_bootable("/dev/sda", 4, true)
        .expect("set bootable");
    assert!(g.part_get_bootable("/dev/sda", 4).expect("bootable"));
    assert_eq!(
        g.part_get_mbr_part_type("/dev/sda", 1)
            .expect("mbr part type"),
        "primary"
    );
    assert!(g.part_get_name("/dev/sda", 99).is_err());
    assert!(g.part_del("/dev/sda", 0).is_err());

    // MBR with an extended partition and logical ones.
    g.part_init("/dev/sdb", "mbr").expect("part_init mbr");
    g.part_add("/dev/sdb", "primary", 2048, 20_479).expect("p1");
    g.part_add("/dev/sdb", "extended", 20_480, 131_071)
        .expect("e2");
    g.part_add("/dev/sdb", "logical", 22_528, 43_007)
        .expect("l5");
    g.part_add("/dev/sdb", "l", 45_056, 65_535).expect("l6");
    g.part_add("/dev/sdb", "l", 67_584, 69_631).expect("l7");
    assert_eq!(g.part_get_parttype("/dev/sdb").expect("parttype"), "msdos");
    let types: Vec<String> = [1, 2, 5, 6]
        .iter()
        .map(|n| g.part_get_mbr_part_type("/dev/sdb", *n).expect("type"))
        .collect();
    assert_eq!(types, vec!["primary", "extended", "logical", "logical"]);
    g.part_set_mbr_id("/dev/sdb", 1, 0x0c).expect("mbr id");
    assert_eq!(g.part_get_mbr_id("/dev/sdb", 1).expect("mbr id"), 0x0c);
    assert_eq!(g.part_get_mbr_id("/dev/sdb", 5).expect("mbr id"), 0x83);
    g.part_set_bootable("/dev/sdb", 1, true).expect("bootable");
    assert!(g.part_get_bootable("/dev/sdb", 1).expect("bootable"));
    assert!(g.part_get_name("/dev/sdb", 1).is_err(), "no names on MBR");
    g.part_del("/dev/sdb", 7).expect("part_del logical");
    let mbr_list = g.part_list("/dev/sdb").expect("part_list mbr");
    g.part_del("/dev/sda", 7).expect("part_del");

    // A disk that grew: the backup GPT moves to its new end.
    g.part_expand_gpt("/dev/sdc").expect("part_expand_gpt");
    let grown_guid = g.part_get_disk_guid("/dev/sdc").expect("disk guid");
    assert_eq!(g.part_get_name("/dev/sdc", 1).expect("name"), "grown");

    assert_eq!(
        g.list_partitions().expect("list_partitions"),
        vec![
            "/dev/sda1",
            "/dev/sda2",
            "/dev/sda3",
            "/dev/sda4",
            "/dev/sda5",
            "/dev/sda6",
            "/dev/sdb1",
            "/dev/sdb2",
            "/dev/sdb5",
            "/dev/sdb6",
            "/dev/sdc1",
        ]
    );

    // Filesystems, with their options.
    mkfs(
        &mut g,
        "ext4",
        "/dev/sda1",
        MkfsOpts {
            blocksize: Some(1024),
            inode: Some(256),
            features: Some("^has_journal".into()),
            label: Some("gxroot".into()),
            ..MkfsOpts::default()
        },
    );
    mkfs(
        &mut g,
        "vfat",
        "/dev/sda2",
        MkfsOpts {
            blocksize: Some(4096),
            label: Some("GXFAT".into()),
            ..MkfsOpts::default()
        },
    );
    mkfs(
        &mut g,
        "ntfs",
        "/dev/sda3",
        MkfsOpts {
            label: Some("gxntfs".into()),
            ..MkfsOpts::default()
        },
    );
    mkfs(
        &mut g,
        "btrfs",
        "/dev/sda4",
        MkfsOpts {
            label: Some("gxbtrfs".into()),
            ..MkfsOpts::default()
        },
    );
    g.mkswap(
        "/dev/sda5",
        MkswapOpts {
            label: Some("gxswap".into()),
            uuid: Some("5ca1ab1e-0000-4000-8000-000000000005".into()),
        },
    )
    .expect("mkswap");
    mkfs(
        &mut g,
        "xfs",
        "/dev/sda6",
        MkfsOpts {
            label: Some("gxxfs".into()),
            ..MkfsOpts::default()
        },
    );
    mkfs(&mut g, "ext2", "/dev/sdb5", MkfsOpts::default());
    mkfs(&mut g, "ext3", "/dev/sdb6", MkfsOpts::default());
    for (t, o, why) in [
        (
            "ext4",
            MkfsOpts {
                label: Some("seventeen-chars-x".into()),
                ..MkfsOpts::default()
            },
            "limited to 16 bytes",
        ),
        (
            "ext4",
            MkfsOpts {
                blocksize: Some(1000),
                ..MkfsOpts::default()
            },
            "power of 2",
        ),
        (
            "vfat",
            MkfsOpts {
                inode: Some(256),
                ..MkfsOpts::default()
            },
            "only be set on ext2/3/4",
        ),
        (
            "btrfs",
            MkfsOpts {
                blocksize: Some(4096),
                ..MkfsOpts::default()
            },
            "cannot be set on btrfs",
        ),
        ("nosuchfs", MkfsOpts::default(), "mkfs.nosuchfs"),
    ] {
        let e = g.mkfs(t, "/dev/sdb1", o).expect_err(why);
        assert!(e.to_string().contains(why), "{t}: {e}");
    }

    // Types, labels, UUIDs as the agent sees them.
    for (dev, ty, label) in [
        ("/dev/sda1", "ext4", "gxroot"),
        ("/dev/sda2", "vfat", "GXFAT"),
        ("/dev/sda3", "ntfs", "gxntfs"),
        ("/dev/sda4", "btrfs", "gxbtrfs"),
        ("/dev/sda5", "swap", "gxswap"),
        ("/dev/sda6", "xfs", "gxxfs"),
    ] {
        assert_eq!(g.vfs_type(dev).expect("vfs_type"), ty, "{dev}");
        assert_eq!(g.vfs_label(dev).expect("vfs_label"), label, "{dev}");
    }
    assert_eq!(
        g.vfs_uuid("/dev/sda5").expect("uuid"),
        "5ca1ab1e-0000-4000-8000-000000000005"
    );
    // Labels and UUIDs changed per filesystem type.
    for (dev, label) in [
        ("/dev/sda1", "newroot"),
        ("/dev/sda2", "NEWFAT"),
        ("/dev/sda3", "newntfs"),
        ("/dev/sda4", "newbtrfs"),
        ("/dev/sda5", "newswap"),
        ("/dev/sda6", "newxfs"),
    ] {
        g.set_label(dev, label)
            .unwrap_or_else(|e| panic!("set_label {dev}: {e}"));
        assert_eq!(g.vfs_label(dev).expect("vfs_label"), label, "{dev}");
    }
    let e = g
        .set_label("/dev/sda1", "seventeen-chars-x")
        .expect_err("long");
    assert!(e.to_string().contains("limited to 16 bytes"), "{e}");
    let fixed = [
        ("/dev/sda1", "11111111-2222-4333-8444-555555555501"),
        ("/dev/sda4", "11111111-2222-4333-8444-555555555504"),
        ("/dev/sda5", "11111111-2222-4333-8444-555555555505"),
        ("/dev/sda6", "11111111-2222-4333-8444-555555555506"),
    ];
    for (dev, uuid) in fixed {
        g.set_uuid(dev, uuid)
            .unwrap_or_else(|e| panic!("set_uuid {dev}: {e}"));
        assert_eq!(g.vfs_uuid(dev).expect("uuid"), uuid, "{dev}");
    }
    let e = g.set_uuid("/dev/sda2", "1234-ABCD").expect_err("vfat");
    assert_eq!(e.errno(), Some(95), "{e}"); // ENOTSUP
    assert!(g.set_uuid("/dev/sda1", "random").is_err());
    mkfs(&mut g, "ext4", "/dev/sdb1", MkfsOpts::default());
    let before = g.vfs_uuid("/dev/sdb1").expect("uuid");
    g.set_uuid_random("/dev/sdb1")
        .expect("set_uuid_random ext4");
    let random_ext = g.vfs_uuid("/dev/sdb1").expect("uuid");
    assert_ne!(before, random_ext);
    g.mkswap("/dev/sdb6", MkswapOpts::default())
        .expect("mkswap");
    let before = g.vfs_uuid("/dev/sdb6").expect("uuid");
    g.set_uuid_random("/dev/sdb6")
        .expect("set_uuid_random swap");
    let random_swap = g.vfs_uuid("/dev/sdb6").expect("uuid");
    assert_ne!(before, random_swap);
    assert!(
        g.mkswap(
            "/dev/sdb6",
            MkswapOpts {
                label: Some("seventeen-chars-x".into()),
                uuid: None
            }
        )
        .is_err()
    );

    // blkid's attributes.
    let b: BTreeMap<String, String> = g.blkid("/dev/sda1").expect("blkid").into_iter().collect();
    assert_eq!(b.get("TYPE").map(String::as_str), Some("ext4"), "{b:?}");
    assert_eq!(b.get("LABEL").map(String::as_str), Some("newroot"), "{b:?}");
    // As blkid's export format writes it (libguestfs passes it on as is).
    assert_eq!(
        b.get("PART_ENTRY_NAME").map(String::as_str),
        Some("root\\ fs"),
        "{b:?}"
    );
    assert_eq!(
        b.get("PART_ENTRY_NUMBER").map(String::as_str),
        Some("1"),
        "{b:?}"
    );
    let blkid_sda1 = b;

    // Checking and resizing.
    g.e2fsck(
        "/dev/sda1",
        E2fsckOpts {
            forceno: Some(true),
            ..E2fsckOpts::default()
        },
    )
    .expect("e2fsck -n");
    g.e2fsck(
        "/dev/sda1",
        E2fsckOpts {
            correct: Some(true),
            ..E2fsckOpts::default()
        },
    )
    .expect("e2fsck -p");
    // No mode at all: e2fsck wants a terminal to ask, as in libguestfs.
    let e = g
        .e2fsck("/dev/sda1", E2fsckOpts::default())
        .expect_err("no terminal");
    assert!(e.to_string().contains("need terminal"), "{e}");
    let e = g
        .e2fsck(
            "/dev/sda1",
            E2fsckOpts {
                forceall: Some(true),
                forceno: Some(true),
                ..E2fsckOpts::default()
            },
        )
        .expect_err("two modes");
    assert!(e.to_string().contains("only one of the options"), "{e}");
    assert_eq!(g.fsck("ext4", "/dev/sda1").expect("fsck ext4"), 0);
    assert_eq!(g.fsck("vfat", "/dev/sda2").expect("fsck vfat"), 0);
    assert_eq!(g.fsck("ext2", "/dev/sdb5").expect("fsck ext2"), 0);
    g.resize2fs_size("/dev/sda1", 30 << 20)
        .expect("resize2fs_size");
    assert!(g.resize2fs_size("/dev/sda1", (30 << 20) + 1).is_err());
    g.resize2fs_M("/dev/sdb5").expect("resize2fs_M");
    g.resize2fs("/dev/sdb1").expect("resize2fs");
    g.ntfsresize(
        "/dev/sda3",
        NtfsresizeOpts {
            size: Some(30 << 20),
            force: None,
        },
    )
    .expect("ntfsresize");
    assert!(
        g.ntfsresize(
            "/dev/sda3",
            NtfsresizeOpts {
                size: Some(0),
                force: None
            }
        )
        .is_err()
    );
    // Grow the XFS partition, then the filesystem into it, mounted.
    g.part_resize("/dev/sda", 6, 1_361_919)
        .expect("part_resize");
    assert_eq!(
        g.blockdev_getsize64("/dev/sda6").expect("size"),
        (1_361_920 - 542_720) * 512
    );
    g.mount("/dev/sda6", "/").expect("mount xfs");
    g.xfs_growfs(
        "/",
        XfsGrowfsOpts {
            datasec: Some(true),
            ..XfsGrowfsOpts::default()
        },
    )
    .expect("xfs_growfs");
    assert!(
        g.xfs_growfs(
            "/",
            XfsGrowfsOpts {
                maxpct: Some(-1),
                ..XfsGrowfsOpts::default()
            }
        )
        .is_err()
    );
    g.write("/on-xfs", b"xfs").expect("write xfs");
    g.umount_all().expect("umount");
    g.mount("/dev/sda4", "/").expect("mount btrfs");
    g.write("/on-btrfs", b"btrfs").expect("write btrfs");
    g.umount_all().expect("umount");

    // Block device ioctls.
    assert_eq!(g.blockdev_getsize64("/dev/sda").expect("size"), 1 << 30);
    assert_eq!(
        g.blockdev_getsize64("/dev/sdb5").expect("size"),
        (43_008 - 22_528) * 512
    );
    assert_eq!(g.blockdev_getss("/dev/sda").expect("ss"), 512);
    let bsz = g.blockdev_getbsz("/dev/sdd").expect("bsz");
    assert!(bsz >= 512 && (bsz & (bsz - 1)) == 0, "{bsz}");
    assert!(!g.blockdev_getro("/dev/sdd").expect("ro"));
    g.blockdev_setro("/dev/sdd").expect("setro");
    assert!(g.blockdev_getro("/dev/sdd").expect("ro"));
    assert!(
        g.pwrite_device("/dev/sdd", b"x", 0).is_err(),
        "read-only now"
    );
    g.blockdev_setrw("/dev/sdd").expect("setrw");
    assert!(!g.blockdev_getro("/dev/sdd").expect("ro"));
    g.blockdev_flushbufs("/dev/sdd").expect("flushbufs");
    g.blockdev_rereadpt("/dev/sdb").expect("rereadpt");

    // Zeroing: the first MiB, then everything, keeping holes.
    let data = vec![0xabu8; 8192];
    for off in [0i64, 512 * 1024, 4 << 20, (30 << 20) + 4096] {
        g.pwrite_device("/dev/sdd", &data, off).expect("pwrite");
    }
    g.zero("/dev/sdd").expect("zero");
    assert!(
        g.pread_device("/dev/sdd", 8192, 512 * 1024)
            .expect("pread")
            .iter()
            .all(|b| *b == 0)
    );
    assert_eq!(
        g.pread_device("/dev/sdd", 8192, 4 << 20).expect("pread"),
        data,
        "zero only clears the start"
    );
    g.sync().expect("sync");
    let du_before = sh(&format!("du -k {} | cut -f1", zero.display()));
    g.zero_device("/dev/sdd").expect("zero_device");
    g.zero_device("/dev/sdd").expect("zero_device again");

    // What is there, in libguestfs's order.
    let fs = g.list_filesystems().expect("list_filesystems");
    g.shutdown().expect("shutdown");

    // The tables, by the host's sfdisk and sgdisk.
    let (head, parts) = sfdisk(&gpt);
    assert_eq!(head["label"], "gpt");
    assert_eq!(head["label-id"], disk_guid);
    assert_eq!(parts.len(), 6, "partition 7 deleted: {parts:?}");
    for (i, p) in pl.iter().take(6).enumerate() {
        let n = i as u32 + 1;
        assert_eq!(p.part_num, n as i32);
        assert_eq!(p.part_start, start_bytes(&parts, n));
        let size = part(&parts, n)["size"].parse::<u64>().expect("size") * 512;
        if n != 6 {
            assert_eq!(p.part_size, size, "partition {n}");
            assert_eq!(p.part_end, p.part_start + size - 1);
        }
    }
    assert_eq!(part(&parts, 1)["name"], "root fs");
    assert_eq!(part(&parts, 2)["type"], ESP);
    assert_eq!(part(&parts, 3)["uuid"], guid);
    assert_eq!(
        part(&parts, 6)["size"].parse::<u64>().expect("size"),
        1_361_920 - 542_720,
        "part_resize"
    );
    let (mhead, mparts) = sfdisk(&mbr);
    assert_eq!(mhead["label"], "dos");
    let nums: Vec<u32> = mparts.iter().map(|(n, _)| *n).collect();
    assert_eq!(nums, vec![1, 2, 5, 6]);
    assert_eq!(part(&mparts, 1)["type"], "c");
    assert!(part(&mparts, 1).contains_key("bootable"));
    // parted writes extended partitions as 0x0f (LBA).
    assert!(matches!(part(&mparts, 2)["type"].as_str(), "5" | "f"));
    for p in &mbr_list {
        assert_eq!(p.part_start, start_bytes(&mparts, p.part_num as u32));
    }
    let (code, verify) = sh_status(&format!("sgdisk -v {}", grown.display()));
    assert_eq!(code, 0, "{verify}");
    assert!(verify.contains("No problems found"), "{verify}");
    let (ghead, _) = sfdisk(&grown);
    assert_eq!(ghead["label-id"], grown_guid);
    assert_eq!(ghead["last-lba"], ((64 << 20) / 512 - 34).to_string());

    // Filesystems, by the host's blkid at each partition's offset.
    let at = |n: u32| host_blkid(&gpt, start_bytes(&parts, n));
    let b1 = at(1);
    assert_eq!(
        (b1["TYPE"].as_str(), b1["LABEL"].as_str()),
        ("ext4", "newroot")
    );
    assert_eq!(b1["UUID"], fixed[0].1);
    assert_eq!(blkid_sda1["UUID"], b1["UUID"], "the agent's blkid");
    let b2 = at(2);
    assert_eq!(
        (b2["TYPE"].as_str(), b2["LABEL"].as_str()),
        ("vfat", "NEWFAT")
    );
    let b3 = at(3);
    assert_eq!(
        (b3["TYPE"].as_str(), b3["LABEL"].as_str()),
        ("ntfs", "newntfs")
    );
    let b4 = at(4);
    assert_eq!(
        (b4["TYPE"].as_str(), b4["LABEL"].as_str()),
        ("btrfs", "newbtrfs")
    );
    assert_eq!(b4["UUID"], fixed[1].1);
    let b5 = at(5);
    assert_eq!(
        (b5["TYPE"].as_str(), b5["LABEL"].as_str()),
        ("swap", "newswap")
    );
    assert_eq!(b5["UUID"], fixed[2].1);
    let b6 = at(6);
    assert_eq!(
        (b6["TYPE"].as_str(), b6["LABEL"].as_str()),
        ("xfs", "newxfs")
    );
    assert_eq!(b6["UUID"], fixed[3].1);
    let m = |n: u32| host_blkid(&mbr, start_bytes(&mparts, n));
    assert_eq!(m(1)["UUID"], random_ext);
    assert_eq!(m(6)["UUID"], random_swap);
    assert_eq!(m(5)["TYPE"], "ext2");

    // ext4: options and sizes by dumpe2fs, clean by e2fsck.
    let d1 = dumpe2fs(&gpt, start_bytes(&parts, 1));
    assert_eq!(d1["Block size"], "1024");
    assert_eq!(d1["Inode size"], "256");
    assert!(!d1["Filesystem features"].contains("has_journal"), "{d1:?}");
    assert_eq!(d1["Block count"], (30 << 10).to_string(), "resize2fs_size");
    sh(&format!(
        "e2fsck -fn '{}?offset={}'",
        gpt.display(),
        start_bytes(&parts, 1)
    ));
    let d5 = dumpe2fs(&mbr, start_bytes(&mparts, 5));
    let blocks5: u64 = d5["Block count"].parse().expect("blocks");
    let bs5: u64 = d5["Block size"].parse().expect("bs");
    assert!(
        blocks5 * bs5 < (43_008 - 22_528) * 512,
        "resize2fs_M shrank it: {d5:?}"
    );
    let d1b = dumpe2fs(&mbr, start_bytes(&mparts, 1));
    let blocks1: u64 = d1b["Block count"].parse().expect("blocks");
    let bs1: u64 = d1b["Block size"].parse().expect("bs");
    assert_eq!(
        blocks1 * bs1,
        (20_480 - 2048) * 512,
        "resize2fs fills the partition"
    );

    // FAT: 8 sectors of 512 per 4096-byte cluster, in the boot sector.
    let fat = read_at(&gpt, start_bytes(&parts, 2), 512);
    assert_eq!(u16::from_le_bytes([fat[11], fat[12]]), 512);
    assert_eq!(fat[13], 8, "sectors per cluster");
    // NTFS: the boot sector's sector count after ntfsresize to 30 MiB.
    let ntfs = read_at(&gpt, start_bytes(&parts, 3), 512);
    assert_eq!(&ntfs[3..7], b"NTFS");
    let sectors = u64::from_le_bytes(ntfs[0x28..0x30].try_into().expect("8 bytes"));
    assert!(
        sectors * 512 <= 30 << 20 && sectors * 512 > (29 << 20),
        "ntfsresize: {sectors} sectors"
    );
    // XFS: the superblock's data blocks fill the grown partition.
    let xfs = read_at(&gpt, start_bytes(&parts, 6), 16);
    assert_eq!(&xfs[..4], b"XFSB");
    let bsize = u64::from(u32::from_be_bytes(xfs[4..8].try_into().expect("4")));
    let dblocks = u64::from_be_bytes(xfs[8..16].try_into().expect("8"));
    assert_eq!(dblocks * bsize, (1_361_920 - 542_720) * 512, "xfs_growfs");

    // Zeroing kept the image sparse and left only zeroes.
    let du_after = sh(&format!("du -k {} | cut -f1", zero.display()));
    let (a, b): (u64, u64) = (
        du_before.trim().parse().expect("du"),
        du_after.trim().parse().expect("du"),
    );
    assert!(
        b <= a + 64,
        "zero_device allocated blocks: {a} KiB -> {b} KiB"
    );
    let all = std::fs::read(&zero).expect("read");
    assert!(all.iter().all(|x| *x == 0), "zero_device left data");

    // list_filesystems: whole unpartitioned disks, then partitions; no
    // extended partition; types by the host's blkid.
    let mut want = vec![("/dev/sdd".to_string(), "unknown".to_string())];
    for n in 1..=6 {
        let t = at(n).get("TYPE").cloned().unwrap_or("unknown".into());
        want.push((format!("/dev/sda{n}"), t));
    }
    for n in [1, 5, 6] {
        let t = m(n).get("TYPE").cloned().unwrap_or("unknown".into());
        want.push((format!("/dev/sdb{n}"), t));
    }
    let (_, gparts) = sfdisk(&grown);
    let t = host_blkid(&grown, start_bytes(&gparts, 1))
        .get("TYPE")
        .cloned()
        .unwrap_or("unknown".into());
    want.push(("/dev/sdc1".into(), t));
    assert_eq!(fs, want);
}

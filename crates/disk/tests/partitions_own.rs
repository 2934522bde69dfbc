//! Partition tables on images made here with sfdisk and sgdisk. The expected
//! numbers, offsets and sizes are what libguestfs 1.48 reported on the same
//! layouts (`list-partitions`, `part-list`, `blockdev-getsize64`,
//! `part-get-gpt-type`/`-guid`, `part-get-name`, `part-get-bootable`,
//! `part-get-disk-guid`).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use gx_disk::partition::SECTOR_SIZE;
use gx_disk::{
    BlockDevice, Device, DiskId, ErrorKind, Guid, OpenOptions, PartitionKind, TableKind,
    open_image, partition_device, read_partitions,
};
use std::path::Path;

const MULTI_LAYOUT: &str = "label: dos
label-id: 0x12345678
start=2048, size=16384, type=6, bootable
start=18432, size=16384, type=c
start=34816, size=90112, type=5
start=36864, size=8192, type=83
start=47104, size=8192, type=82
start=57344, size=8192, type=83
";

fn make_mbr(dir: &Path, name: &str, mib: u64) -> Device {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    run_stdin("sfdisk", &["-q", name], dir, MULTI_LAYOUT);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    open_image(&p, &OpenOptions::new()).unwrap()
}

fn summary(dev: &dyn BlockDevice) -> Vec<(u32, u64, u64)> {
    read_partitions(dev)
        .unwrap()
        .unwrap()
        .partitions
        .iter()
        .map(|p| (p.number, p.start, p.size))
        .collect()
}

#[test]
fn mbr_with_extended_and_logical_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let dev = make_mbr(dir.path(), "multi.img", 64);
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    assert_eq!(t.kind, TableKind::Mbr);
    assert_eq!(t.disk_id, DiskId::Mbr(0x1234_5678));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    // libguestfs part-list on this layout.
    let want = [
        (1, 1048576, 8388608),
        (2, 9437184, 8388608),
        (3, 17825792, 46137344),
        (5, 18874368, 4194304),
        (6, 24117248, 4194304),
        (7, 29360128, 4194304),
    ];
    assert_eq!(summary(dev.as_ref()), want);
    let kinds: Vec<_> = t.partitions.iter().map(|p| p.kind).collect();
    use PartitionKind::*;
    assert_eq!(
        kinds,
        [Primary, Primary, Extended, Logical, Logical, Logical]
    );
    let types: Vec<_> = t.partitions.iter().map(|p| p.mbr_type.unwrap()).collect();
    assert_eq!(types, [0x06, 0x0c, 0x05, 0x83, 0x82, 0x83]);
    let boot: Vec<_> = t.partitions.iter().map(|p| p.bootable).collect();
    assert_eq!(boot, [true, false, false, false, false, false]);

    // The partition device is exactly that byte range.
    let p6 = partition_device(&dev, &t.partitions[4]).unwrap();
    assert_eq!(p6.size(), 4194304);
    assert!(p6.describe().contains("partition 6"));
    let mut b = [0u8; 512];
    assert_eq!(
        p6.read_at(&mut b, 4194304 - 511).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn mbr_partitions_past_the_end_are_cut_or_dropped_like_linux() {
    let dir = tempfile::tempdir().unwrap();
    // 30 MiB: p7 (28-32 MiB) runs past the end and is cut to 2 MiB.
    let dev = make_mbr(dir.path(), "p30.img", 30);
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    let nums: Vec<u32> = t.partitions.iter().map(|p| p.number).collect();
    assert_eq!(nums, [1, 2, 3, 5, 6, 7]);
    assert_eq!(t.partitions[5].size, 2097152);
    assert!(
        t.warnings
            .iter()
            .any(|w| w.contains("partition 7") && w.contains("p30.img"))
    );
    partition_device(&dev, &t.partitions[5]).unwrap();

    // 20 MiB: p5 is cut to 2 MiB; the EBRs of p6 and p7 are past the end.
    let dev = make_mbr(dir.path(), "p20.img", 20);
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    let nums: Vec<u32> = t.partitions.iter().map(|p| p.number).collect();
    assert_eq!(nums, [1, 2, 3, 5]);
    assert_eq!(t.partitions[3].size, 2097152);
    assert!(
        t.warnings.iter().any(|w| w.contains("EBR")),
        "{:?}",
        t.warnings
    );
    for p in &t.partitions {
        let d = partition_device(&dev, p).unwrap();
        let mut b = [0u8; 512];
        d.read_at(&mut b, d.size() - 512).unwrap();
    }
}

fn make_gpt(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    run(
        "sgdisk",
        &[
            "-U",
            "11111111-2222-3333-4444-555555555555",
            "-n",
            "1:2048:+8M",
            "-t",
            "1:ef00",
            "-c",
            "1:EFI System",
            "-u",
            "1:AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
            "-n",
            "2:0:+16M",
            "-t",
            "2:8300",
            "-c",
            "2:root \u{e9}t\u{e9}",
            "-A",
            "2:set:2",
            "-n",
            "4:0:+4M",
            "-t",
            "4:8200",
            name,
        ],
        dir,
    );
    p
}

#[test]
fn gpt_partitions_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = make_gpt(dir.path(), "gpt.img");
    let before = gx_testdata::file_digest(&p);
    let dev = open_image(&p, &OpenOptions::new()).unwrap();
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    assert_eq!(t.kind, TableKind::Gpt);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    assert_eq!(
        t.disk_id,
        DiskId::Gpt(Guid::parse("11111111-2222-3333-4444-555555555555").unwrap())
    );
    assert_eq!(
        summary(dev.as_ref()),
        [
            (1, 1048576, 8388608),
            (2, 9437184, 16777216),
            (4, 26214400, 4194304)
        ]
    );
    let p1 = &t.partitions[0];
    assert_eq!(
        p1.gpt_type.unwrap().to_string(),
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    );
    assert_eq!(
        p1.gpt_guid.unwrap().to_string(),
        "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
    );
    assert_eq!(p1.name.as_deref(), Some("EFI System"));
    assert_eq!(t.partitions[1].name.as_deref(), Some("root \u{e9}t\u{e9}"));
    assert_eq!(t.partitions[1].gpt_attributes, 4);
    let boot: Vec<_> = t.partitions.iter().map(|p| p.bootable).collect();
    assert_eq!(boot, [true, true, false]);
    assert_eq!(t.partitions[2].kind, PartitionKind::Gpt);
    drop(dev);
    assert_eq!(gx_testdata::file_digest(&p), before);
}

fn poke(p: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .write_all_at(bytes, offset)
        .unwrap();
}

#[test]
fn gpt_backup_header_is_used_when_the_primary_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let good = make_gpt(dir.path(), "good.img");
    let good_dev = open_image(&good, &OpenOptions::new()).unwrap();
    let want = read_partitions(good_dev.as_ref()).unwrap().unwrap();
    let last_lba = (64u64 << 20) / SECTOR_SIZE - 1;

    // Damaged primary header CRC, then damaged primary entry array.
    for (name, offset) in [("hdr.img", 512 + 16), ("array.img", 2 * 512 + 40)] {
        let p = dir.path().join(name);
        std::fs::copy(&good, &p).unwrap();
        poke(&p, offset, &[0xde, 0xad]);
        let dev = open_image(&p, &OpenOptions::new()).unwrap();
        let t = read_partitions(dev.as_ref()).unwrap().unwrap();
        assert_eq!(t.partitions, want.partitions, "{name}");
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
        let w = &t.warnings[0];
        assert!(
            w.contains("primary GPT header") && w.contains("CRC32"),
            "{w}"
        );
        assert!(w.contains(&format!("LBA {last_lba}")), "{w}");
        assert!(w.contains(name), "{w}");
    }

    // Damaged backup only: the primary is used, with a warning.
    let p = dir.path().join("backup.img");
    std::fs::copy(&good, &p).unwrap();
    poke(&p, last_lba * SECTOR_SIZE + 16, &[0xde, 0xad]);
    let dev = open_image(&p, &OpenOptions::new()).unwrap();
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    assert_eq!(t.partitions, want.partitions);
    assert!(
        t.warnings[0].contains("backup GPT header"),
        "{:?}",
        t.warnings
    );

    // Both damaged: a Corrupt error naming the image and both reasons.
    let p = dir.path().join("both.img");
    std::fs::copy(&good, &p).unwrap();
    poke(&p, 512 + 16, &[0xde, 0xad]);
    poke(&p, last_lba * SECTOR_SIZE + 16, &[0xde, 0xad]);
    let dev = open_image(&p, &OpenOptions::new()).unwrap();
    let e = read_partitions(dev.as_ref()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    let msg = e.to_string();
    assert!(
        msg.contains("both.img") && msg.contains("LBA 1") && msg.contains("backup"),
        "{msg}"
    );

    // A truncated GPT disk: the headers no longer fit; clear error.
    let p = dir.path().join("short.img");
    std::fs::copy(&good, &p).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(20 << 20)
        .unwrap();
    let dev = open_image(&p, &OpenOptions::new()).unwrap();
    let e = read_partitions(dev.as_ref()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("usable LBAs"), "{e}");
}

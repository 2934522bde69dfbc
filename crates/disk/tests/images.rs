//! The disk layer on the project's test images (images/build.sh): raw and
//! qcow2 give the same bytes, the backing chain reads through, partition
//! tables list what libguestfs lists, every damaged input gives a clear error
//! or warning and no panic, and nothing read-only changes a byte of any file.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::read_all;
use gx_disk::{
    BlockDevice, Device, DiskId, ErrorKind, Format, Guid, OpenOptions, PartitionKind, TableKind,
    open_image, partition_device, read_partitions,
};
use gx_testdata::{file_digest, image};

fn open(name: &str) -> Device {
    open_image(&image(name), &OpenOptions::new()).unwrap()
}

/// Compare two devices in 1 MiB chunks.
fn assert_same_devices(a: &Device, b: &Device) {
    assert_eq!(a.size(), b.size());
    let mut x = vec![0u8; 1 << 20];
    let mut y = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < a.size() {
        let n = (a.size() - off).min(1 << 20) as usize;
        a.read_at(&mut x[..n], off).unwrap();
        b.read_at(&mut y[..n], off).unwrap();
        assert!(
            x[..n] == y[..n],
            "{} and {} differ in the MiB at {off}",
            a.describe(),
            b.describe()
        );
        off += n as u64;
    }
}

#[test]
fn linux_qcow2_and_compressed_equal_linux_raw() {
    let raw = open("linux.img");
    assert_eq!(raw.size(), 64 << 20);
    assert_eq!(detect(&"linux.qcow2"), Format::Qcow2);
    assert_eq!(detect(&"linux.img"), Format::Raw);
    assert_same_devices(&raw, &open("linux.qcow2"));
    assert_same_devices(&raw, &open("compressed.qcow2"));
}

fn detect(name: &&str) -> Format {
    gx_disk::detect_format(&image(name)).unwrap()
}

/// `data_ranges` leaves out exactly what build.sh's chain layout says
/// reads as zeros without being stored: top's zero-flagged cluster
/// [2M-64K, 2M), the clusters unallocated in both images [2M, 3M) and
/// [3M+64K, 4M); everything stored (in the top or the base) is data.
#[test]
fn chain_top_data_ranges_skip_unallocated_and_zero_clusters() {
    const K: u64 = 1024;
    const M: u64 = 1024 * 1024;
    let top = open("chain-top.qcow2");
    let r = top.data_ranges(0, 4 * M).unwrap();
    assert_eq!(r, vec![(0, 2 * M - 64 * K), (3 * M, 64 * K)]);
    // A window inside one run, and one across a hole.
    assert_eq!(top.data_ranges(100, 200).unwrap(), vec![(100, 200)]);
    assert_eq!(
        top.data_ranges(2 * M - 128 * K, M + 192 * K).unwrap(),
        vec![(2 * M - 128 * K, 64 * K), (3 * M, 64 * K)]
    );
    assert!(top.data_ranges(4 * M - 1, 2).is_err());
    // Every byte outside the ranges reads as zero.
    let bytes = read_all(top.as_ref()).unwrap();
    let mut covered = vec![false; bytes.len()];
    for (o, l) in r {
        covered[o as usize..(o + l) as usize].fill(true);
    }
    assert!(bytes.iter().zip(&covered).all(|(&b, &c)| c || b == 0));
    // A partition's window is shifted to its own offsets.
    let raw = open("linux.img");
    let t = read_partitions(raw.as_ref()).unwrap().unwrap();
    let p2 = partition_device(&raw, &t.partitions[1]).unwrap();
    for (o, l) in p2.data_ranges(0, p2.size()).unwrap() {
        assert!(o + l <= p2.size());
    }
}

#[test]
fn chain_top_reads_through_to_base() {
    const K: usize = 1024;
    const M: usize = 1024 * 1024;
    let top = read_all(open("chain-top.qcow2").as_ref()).unwrap();
    assert_eq!(top.len(), 4 * M);
    let expect: &[(usize, usize, u8)] = &[
        (0, 64 * K, 0x55),
        (64 * K, M, 0x11),
        (M, M + 32 * K, 0x22),
        (M + 32 * K, M + 36 * K, 0x66),
        (M + 36 * K, 2 * M - 64 * K, 0x22),
        (2 * M - 64 * K, 2 * M, 0),
        (2 * M, 3 * M, 0),
        (3 * M, 3 * M + 64 * K, 0x77),
        (3 * M + 64 * K, 4 * M, 0),
    ];
    for &(a, b, v) in expect {
        assert!(
            top[a..b].iter().all(|&x| x == v),
            "chain-top [{a}, {b}) is not 0x{v:02x}"
        );
    }
    let base = read_all(open("chain-base.qcow2").as_ref()).unwrap();
    assert!(base[..M].iter().all(|&x| x == 0x11));
    assert!(base[M..2 * M].iter().all(|&x| x == 0x22));
    assert!(base[2 * M..].iter().all(|&x| x == 0));
}

#[test]
fn linux_gpt_partitions() {
    for name in ["linux.img", "linux.qcow2"] {
        let dev = open(name);
        let t = read_partitions(dev.as_ref()).unwrap().unwrap();
        assert_eq!(t.kind, TableKind::Gpt);
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        assert_eq!(
            t.disk_id,
            DiskId::Gpt(Guid::parse("8F3C2A51-6B7D-4E90-A1B2-C3D4E5F60718").unwrap())
        );
        let p: Vec<_> = t
            .partitions
            .iter()
            .map(|p| (p.number, p.start / 512, (p.start + p.size) / 512 - 1))
            .collect();
        assert_eq!(p, [(1, 2048, 34815), (2, 34816, 116735)]);
        let p1 = &t.partitions[0];
        assert_eq!(p1.kind, PartitionKind::Gpt);
        assert_eq!(p1.gpt_type, Some(Guid::EFI_SYSTEM));
        assert_eq!(
            p1.gpt_guid.unwrap().to_string(),
            "1E2D3C4B-5A69-4788-9A0B-1C2D3E4F5061"
        );
        assert_eq!(p1.name.as_deref(), Some("EFI System Partition"));
        let p2 = &t.partitions[1];
        assert_eq!(
            p2.gpt_type.unwrap().to_string(),
            "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
        );
        assert_eq!(
            p2.gpt_guid.unwrap().to_string(),
            "2F3E4D5C-6B7A-4899-AB1C-2D3E4F506172"
        );
        assert_eq!(p2.name.as_deref(), Some("root"));
        // The ext4 superblock magic sits where the partition says.
        let root = partition_device(&dev, p2).unwrap();
        let mut magic = [0u8; 2];
        root.read_at(&mut magic, 1024 + 0x38).unwrap();
        assert_eq!(magic, [0x53, 0xef]);
    }
}

#[test]
fn windows_mbr_partition() {
    let dev = open("windows.img");
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    assert_eq!(t.kind, TableKind::Mbr);
    assert_eq!(t.disk_id, DiskId::Mbr(0x5EC7_E5A1));
    assert_eq!(t.partitions.len(), 1);
    let p = &t.partitions[0];
    assert_eq!(
        (p.number, p.start, p.size),
        (1, 2048 * 512, (65536 - 2048) * 512)
    );
    assert_eq!(p.mbr_type, Some(0x07));
    assert!(p.bootable);
    let ntfs = partition_device(&dev, p).unwrap();
    let mut oem = [0u8; 8];
    ntfs.read_at(&mut oem, 3).unwrap();
    assert_eq!(&oem, b"NTFS    ");
}

#[test]
fn multi_mbr_with_logical_partitions() {
    let dev = open("multi.img");
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    assert_eq!(t.disk_id, DiskId::Mbr(0x4D55_4C54));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let got: Vec<_> = t
        .partitions
        .iter()
        .map(|p| (p.number, p.kind, p.mbr_type.unwrap(), p.size / 512))
        .collect();
    use PartitionKind::*;
    assert_eq!(
        got,
        [
            (1, Primary, 0x06, 32768),
            (2, Primary, 0x0c, 69632),
            (3, Extended, 0x05, 57344),
            (5, Logical, 0x83, 16384),
            (6, Logical, 0x83, 16384),
            (7, Logical, 0x82, 8192),
            (8, Logical, 0x83, 4096),
        ]
    );
    // Starts agree with sfdisk's own reading of the table.
    let out = std::process::Command::new("sfdisk")
        .args(["--dump"])
        .arg(image("multi.img"))
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&out.stdout);
    for p in &t.partitions {
        let line = dump
            .lines()
            .find(|l| l.contains(&format!("multi.img{} ", p.number)))
            .unwrap_or_else(|| panic!("sfdisk does not list partition {}", p.number));
        assert!(
            line.contains(&format!("start={:>12},", p.start / 512)),
            "{line} vs {}",
            p.start / 512
        );
    }
    // Logical partition 7 is the swap area: its signature is at its end of page 0.
    let swap = partition_device(&dev, &t.partitions[5]).unwrap();
    let mut sig = [0u8; 10];
    swap.read_at(&mut sig, 4096 - 10).unwrap();
    assert_eq!(&sig, b"SWAPSPACE2");
}

#[test]
fn damaged_qcow2_images_give_clear_errors() {
    let p = image("damaged/truncated.qcow2");
    let dev = open_image(&p, &OpenOptions::new()).unwrap();
    let e = read_all(dev.as_ref()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    let msg = e.to_string();
    assert!(
        msg.contains("truncated.qcow2") && msg.contains("offset") && msg.contains("truncated"),
        "{msg}"
    );

    let p = image("damaged/truncated-header.qcow2");
    let e = open_image(&p, &OpenOptions::new()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(e.to_string().contains("truncated-header.qcow2"), "{e}");
    assert!(e.to_string().contains("header is truncated"), "{e}");
}

#[test]
fn damaged_partition_tables_give_clear_errors_or_warnings() {
    // Primary GPT header bad: the backup is used, with a warning.
    let dev = open("damaged/bad-gpt-crc.img");
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    assert_eq!(t.partitions.len(), 1);
    let p = &t.partitions[0];
    assert_eq!((p.number, p.start / 512, p.size / 512), (1, 2048, 4096));
    assert_eq!(p.name.as_deref(), Some("data"));
    assert_eq!(
        p.gpt_guid.unwrap().to_string(),
        "BAD1BAD1-1111-4222-8333-444455556666"
    );
    assert_eq!(t.warnings.len(), 1);
    assert!(
        t.warnings[0].contains("bad-gpt-crc.img"),
        "{:?}",
        t.warnings
    );
    assert!(
        t.warnings[0].contains("primary GPT header"),
        "{:?}",
        t.warnings
    );

    // Both bad: Corrupt, naming the image and both headers.
    let dev = open("damaged/both-gpt-bad.img");
    let e = read_partitions(dev.as_ref()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    let msg = e.to_string();
    assert!(
        msg.contains("both-gpt-bad.img") && msg.contains("LBA 1") && msg.contains("backup"),
        "{msg}"
    );

    // Past the end: listed cut to the disk end, as Linux (and so libguestfs's
    // list-partitions) shows it, with a warning naming the partition.
    let dev = open("damaged/past-end.img");
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    let got: Vec<_> = t
        .partitions
        .iter()
        .map(|p| (p.number, p.start / 512, p.size / 512))
        .collect();
    assert_eq!(got, [(1, 2048, 2048), (2, 6144, 8192 - 6144)]);
    assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
    assert!(
        t.warnings[0].contains("past-end.img") && t.warnings[0].contains("partition 2"),
        "{:?}",
        t.warnings
    );
    for p in &t.partitions {
        partition_device(&dev, p).unwrap();
    }

    // An EBR chain that loops: bounded, with a warning.
    let dev = open("damaged/ebr-loop.img");
    let t = read_partitions(dev.as_ref()).unwrap().unwrap();
    assert!(t.partitions.len() < 20, "{:?}", t.partitions);
    assert!(
        t.warnings.iter().any(|w| w.contains("loops")),
        "{:?}",
        t.warnings
    );

    // Empty and text files open as raw and hold no partition table.
    for name in ["damaged/empty.img", "damaged/not-an-image.txt"] {
        let dev = open(name);
        assert_eq!(detect(&name), Format::Raw);
        assert!(read_partitions(dev.as_ref()).unwrap().is_none(), "{name}");
    }
}

/// CVE-2010-3851: format raw means the bytes, whatever header they carry.
#[test]
fn raw_with_qcow2_header_is_read_raw_when_told() {
    let p = image("damaged/raw-with-qcow2-header.img");
    let bytes = std::fs::read(&p).unwrap();
    let dev = open_image(&p, &OpenOptions::new().format(Some(Format::Raw))).unwrap();
    assert_eq!(read_all(dev.as_ref()).unwrap(), bytes);
    assert!(read_partitions(dev.as_ref()).unwrap().is_none());
}

#[test]
fn read_only_paths_leave_every_image_byte_identical() {
    let names = [
        "linux.img",
        "linux.qcow2",
        "compressed.qcow2",
        "chain-top.qcow2",
        "chain-base.qcow2",
        "windows.img",
        "multi.img",
        "damaged/truncated.qcow2",
        "damaged/bad-gpt-crc.img",
        "damaged/past-end.img",
        "damaged/raw-with-qcow2-header.img",
    ];
    let before: Vec<u64> = names.iter().map(|n| file_digest(&image(n))).collect();
    for n in names {
        let Ok(dev) = open_image(&image(n), &OpenOptions::new()) else {
            continue;
        };
        let _ = read_all(dev.as_ref());
        if let Ok(Some(t)) = read_partitions(dev.as_ref()) {
            for p in &t.partitions {
                let part = partition_device(&dev, p).unwrap();
                let _ = read_all(part.as_ref());
            }
        }
        assert_eq!(
            dev.write_at(&[0], 0).unwrap_err().kind(),
            ErrorKind::ReadOnly
        );
        // The overlay takes writes and never passes them down.
        let ov = gx_disk::Overlay::new(dev.clone());
        ov.write_at(&[0xff; 4096], 0).unwrap();
    }
    let after: Vec<u64> = names.iter().map(|n| file_digest(&image(n))).collect();
    assert_eq!(before, after);
}

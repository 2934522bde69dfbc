//! Writes through the staging disk (`Appliance::pwrite_staged`,
//! `internal_pwrite_staged`): random bytes at unaligned offsets, around page
//! and piece edges and bigger than the staging disk, and uploads
//! (`Appliance::upload_staged`), checked after shutdown
//! on the image by debugfs and e2fsck; and the staging disk stays out of
//! every device list, even holding a partition table when it is bound.

mod common;

use std::io::Read;
use std::path::Path;

use common::{blank, launch, prerequisites, sh, sh_status};
use gx_appliance::{Drive, STAGING_SIZE};

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut v))
        .expect("urandom");
    v
}

/// Random bytes that start with an MBR holding one Linux partition: if the
/// guest kernel reads it when it binds the staging disk, it finds `vdX1`.
fn with_partition_table(n: usize) -> Vec<u8> {
    let mut v = random(n);
    v[446..512].fill(0);
    v[446 + 4] = 0x83;
    v[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    v[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
    v[510] = 0x55;
    v[511] = 0xaa;
    v
}

fn dump(img: &Path, guest: &str, out: &Path) -> Vec<u8> {
    let _ = std::fs::remove_file(out);
    sh(&format!(
        "debugfs -R 'dump {guest} {}' {} 2>/dev/null",
        out.display(),
        img.display()
    ));
    std::fs::read(out).unwrap_or_else(|e| panic!("debugfs dump {guest}: {e}"))
}

#[test]
fn staged_writes_land_as_written_and_the_disk_stays_hidden() {
    if let Some(why) = prerequisites() {
        eprintln!("skipping: {why}");
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let img = blank(&t.path().join("disk.img"), 160 << 20);
    sh(&format!("mkfs.ext4 -q -F {}", img.display()));
    let mut g = launch(vec![Drive::new(&img, Some("raw"), false)]);
    if !g.has_staging() {
        eprintln!("skipping: this launcher has no staging disk");
        return;
    }
    g.mount("/dev/sda", "/").expect("mount");
    g.write("/f", b"").expect("write");
    g.write("/small", b"").expect("write");

    let page = 4096usize;
    let stage = STAGING_SIZE;
    // (offset, length): the first binds the disk (with a partition table in
    // it); then tails, single bytes, unaligned offsets, exactly one staging
    // disk, and more than two, overlapping earlier writes.
    let writes: [(usize, usize); 10] = [
        (0, (1 << 20) + 100),
        (3 * page + 1, page - 1),
        ((1 << 20) + 512, (256 << 10) + 1),
        (7, 1),
        (5 << 20, (64 << 10) - 1),
        ((9 << 20) + page, stage),
        (page, 2 * stage + 12345),
        ((2 << 20) + 3, 3 * page),
        (2 * stage + 100 * page, page + 1),
        (stage - 1, 2),
    ];
    let mut model: Vec<u8> = Vec::new();
    for (i, (at, len)) in writes.into_iter().enumerate() {
        let data = if i == 0 {
            with_partition_table(len)
        } else {
            random(len)
        };
        let n = g
            .pwrite_staged("/f", &data, at as i64)
            .unwrap_or_else(|e| panic!("staged write {i} ({len} at {at}): {e}"));
        assert_eq!(n as usize, len, "staged write {i}");
        if model.len() < at + len {
            model.resize(at + len, 0);
        }
        model[at..at + len].copy_from_slice(&data);
    }
    // Uploads: a new file of more than two staging disks, and a file cut
    // to a smaller upload (it is truncated first).
    let up = random(2 * stage + 5000);
    g.upload_staged(&mut &up[..], "/up").expect("upload_staged");
    g.write("/shrunk", b"").expect("write");
    g.pwrite_staged("/shrunk", &random(2 * stage), 0)
        .expect("fill /shrunk");
    let shrunk = random(stage + 1);
    g.upload_staged(&mut &shrunk[..], "/shrunk")
        .expect("upload_staged over a bigger file");
    let empty: &[u8] = &[];
    g.upload_staged(&mut &empty[..], "/up-empty")
        .expect("upload_staged of nothing");

    // A small file through the staged path too: the whole call is one page.
    let small = random(10);
    assert_eq!(g.pwrite_staged("/small", &small, 0).expect("small"), 10);

    // Bad arguments fail without writing.
    assert!(g.pwrite_staged("/missing", &random(8192), 0).is_err());
    assert!(g.pwrite_staged("/f", &random(8192), -1).is_err());
    let too_big = i32::try_from(stage + 1).expect("fits");
    for (stage_offset, len) in [(1, 10), (0, too_big), (0, -1), (-4096, 10)] {
        assert!(
            g.internal_pwrite_staged("/f", 0, stage_offset, len)
                .is_err(),
            "internal_pwrite_staged at {stage_offset} of {len} must fail"
        );
    }

    // The staging disk is bound now (and the kernel may have found its
    // partition): no list shows it, and no call takes it.
    assert_eq!(g.list_devices().expect("list_devices"), vec!["/dev/sda"]);
    assert!(
        g.list_partitions().expect("list_partitions").is_empty(),
        "list_partitions shows the staging disk"
    );
    let fs = g.list_filesystems().expect("list_filesystems");
    let names: Vec<&str> = fs.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(names, vec!["/dev/sda"], "list_filesystems: {fs:?}");
    for dev in [
        "/dev/sdb",
        "/dev/sdc",
        "/dev/sdc1",
        "/dev/vdb",
        "/dev/vdc",
        "/dev/vdc1",
    ] {
        assert!(
            g.blockdev_getsize64(dev).is_err(),
            "{dev} answers: the staging or helper disk is visible"
        );
    }
    g.shutdown().expect("shutdown");

    assert!(
        dump(&img, "/f", &t.path().join("f")) == model,
        "/f differs on the image"
    );
    assert_eq!(dump(&img, "/small", &t.path().join("s")), small);
    assert!(dump(&img, "/up", &t.path().join("u")) == up, "/up differs");
    assert!(
        dump(&img, "/shrunk", &t.path().join("u")) == shrunk,
        "/shrunk differs"
    );
    assert!(dump(&img, "/up-empty", &t.path().join("u")).is_empty());
    let (st, out) = sh_status(&format!("e2fsck -fn {}", img.display()));
    assert_eq!(st, 0, "e2fsck: {out}");
}

//! Image opening on small images each test makes itself with qemu-img:
//! raw vs qcow2 equality, compression, backing chains and their guards,
//! unsupported features, truncation, read-only guarantees, the overlay.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use gx_disk::{Device, ErrorKind, Format, OpenOptions, Overlay, detect_format, open_image};
use std::path::Path;
use std::sync::Arc;

const MIB: usize = 1 << 20;

fn ro() -> OpenOptions {
    OpenOptions::new()
}

fn make_raw(dir: &Path, name: &str, len: usize, seed: u64) -> Vec<u8> {
    let data = pattern(len, seed);
    std::fs::write(dir.join(name), &data).unwrap();
    data
}

#[test]
fn qcow2_reads_equal_raw_including_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Not a multiple of the cluster size, to exercise the tail.
    let data = make_raw(d, "disk.img", 5 * MIB + 4096 + 512, 7);
    run(
        "qemu-img",
        &["convert", "-O", "qcow2", "disk.img", "disk.qcow2"],
        d,
    );
    run(
        "qemu-img",
        &["convert", "-c", "-O", "qcow2", "disk.img", "comp.qcow2"],
        d,
    );
    run(
        "qemu-img",
        &[
            "convert",
            "-O",
            "qcow2",
            "-o",
            "compat=0.10,cluster_size=4096",
            "disk.img",
            "v2.qcow2",
        ],
        d,
    );
    for name in ["disk.img", "disk.qcow2", "comp.qcow2", "v2.qcow2"] {
        let p = d.join(name);
        let before = gx_testdata::file_digest(&p);
        let dev = open_image(&p, &ro()).unwrap();
        assert!(dev.is_read_only());
        assert_same(&dev, &data);
        // Unaligned reads that straddle clusters.
        let mut b = vec![0u8; 70000];
        dev.read_at(&mut b, 65536 - 333).unwrap();
        assert_eq!(b, &data[65536 - 333..65536 - 333 + 70000]);
        let e = dev.read_at(&mut b, data.len() as u64 - 10).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        drop(dev);
        assert_eq!(gx_testdata::file_digest(&p), before, "{name} changed");
    }
    assert_eq!(detect_format(&d.join("comp.qcow2")).unwrap(), Format::Qcow2);
    assert_eq!(detect_format(&d.join("disk.img")).unwrap(), Format::Raw);
}

#[test]
fn backing_chain_reads_through_relative_to_image_dir() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    let mut data = make_raw(d, "sub/base.img", 3 * MIB, 11);
    run(
        "qemu-img",
        &["convert", "-O", "qcow2", "sub/base.img", "sub/base.qcow2"],
        d,
    );
    // mid names base relatively (same directory), top names mid as "sub/mid.qcow2".
    run(
        "qemu-img",
        &[
            "create",
            "-f",
            "qcow2",
            "-b",
            "base.qcow2",
            "-F",
            "qcow2",
            "sub/mid.qcow2",
        ],
        d,
    );
    run(
        "qemu-io",
        &["-c", "write -P 0xab 65536 4096", "sub/mid.qcow2"],
        d,
    );
    run(
        "qemu-img",
        &[
            "create",
            "-f",
            "qcow2",
            "-b",
            "sub/mid.qcow2",
            "-F",
            "qcow2",
            "top.qcow2",
        ],
        d,
    );
    run(
        "qemu-io",
        &["-c", "write -P 0xcd 100000 1000", "top.qcow2"],
        d,
    );
    data[65536..65536 + 4096].fill(0xab);
    data[100000..101000].fill(0xcd);

    let files = ["top.qcow2", "sub/mid.qcow2", "sub/base.qcow2"];
    let digests: Vec<u64> = files
        .iter()
        .map(|f| gx_testdata::file_digest(&d.join(f)))
        .collect();
    // The test's own cwd is not the image directory: names must resolve
    // against the naming image's directory.
    let dev = open_image(&d.join("top.qcow2"), &ro()).unwrap();
    for f in files {
        let modes = open_modes(&d.join(f));
        assert!(!modes.is_empty(), "{f} not open");
        assert!(
            modes.iter().all(|&m| m == 0),
            "{f} opened writable: {modes:?}"
        );
    }
    assert_same(&dev, &data);
    drop(dev);

    // A writable open writes the top only; backing files stay O_RDONLY.
    let rw = open_image(&d.join("top.qcow2"), &ro().readonly(false)).unwrap();
    assert!(open_modes(&d.join("top.qcow2")).contains(&2));
    assert!(
        open_modes(&d.join("sub/base.qcow2"))
            .iter()
            .all(|&m| m == 0)
    );
    rw.write_at(&[0x5a; 512], 0).unwrap();
    rw.flush().unwrap();
    drop(rw);
    for (f, before) in files.iter().zip(&digests).skip(1) {
        assert_eq!(gx_testdata::file_digest(&d.join(f)), *before, "{f} changed");
    }
    run("qemu-img", &["check", "top.qcow2"], d);
    let again = open_image(&d.join("top.qcow2"), &ro()).unwrap();
    data[..512].fill(0x5a);
    assert_same(&again, &data);
}

#[test]
fn backing_chain_guards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let create = |name: &str, backing: &str| {
        run(
            "qemu-img",
            &[
                "create", "-f", "qcow2", "-u", "-b", backing, "-F", "qcow2", name, "1M",
            ],
            d,
        )
    };
    // A loop of two, and an image naming itself.
    create("a.qcow2", "b.qcow2");
    create("b.qcow2", "a.qcow2");
    create("tmp.qcow2", "self.qcow2");
    std::fs::rename(d.join("tmp.qcow2"), d.join("self.qcow2")).unwrap();
    for name in ["a.qcow2", "self.qcow2"] {
        let e = open_image(&d.join(name), &ro()).err().unwrap();
        eprintln!("{e}");
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        assert!(e.to_string().contains("loops"), "{e}");
    }
    // A missing backing file is NotFound and names it.
    create("orphan.qcow2", "missing.qcow2");
    let e = open_image(&d.join("orphan.qcow2"), &ro()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("missing.qcow2"), "{e}");
    // A FIFO or a directory as backing file: refused without blocking.
    run("mkfifo", &["fifo"], d);
    std::fs::create_dir(d.join("dir")).unwrap();
    for target in ["fifo", "dir", "/dev/stdin"] {
        run(
            "qemu-img",
            &[
                "create",
                "-f",
                "qcow2",
                "-u",
                "-b",
                target,
                "-F",
                "raw",
                "odd.qcow2",
                "1M",
            ],
            d,
        );
        let e = open_image(&d.join("odd.qcow2"), &ro()).err().unwrap();
        eprintln!("{e}");
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
    // A chain deeper than the limit.
    run("qemu-img", &["create", "-f", "qcow2", "c0.qcow2", "1M"], d);
    for i in 1..=gx_disk::qcow2::MAX_BACKING_DEPTH + 2 {
        create(&format!("c{i}.qcow2"), &format!("c{}.qcow2", i - 1));
    }
    let ok = format!("c{}.qcow2", gx_disk::qcow2::MAX_BACKING_DEPTH);
    open_image(&d.join(ok), &ro()).unwrap();
    let deep = format!("c{}.qcow2", gx_disk::qcow2::MAX_BACKING_DEPTH + 2);
    let e = open_image(&d.join(deep), &ro()).err().unwrap();
    eprintln!("{e}");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("longer than"), "{e}");
}

/// CVE-2010-3851: a raw disk whose guest wrote a qcow2 header naming a host
/// file as backing file must, when the user says raw, be read as raw bytes.
#[test]
fn raw_means_raw_even_with_a_qcow2_header() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = d.join("secret.txt");
    std::fs::write(&secret, vec![b'S'; 65536]).unwrap();
    run(
        "qemu-img",
        &[
            "create",
            "-f",
            "qcow2",
            "-u",
            "-b",
            secret.to_str().unwrap(),
            "-F",
            "raw",
            "evil.img",
            "64K",
        ],
        d,
    );
    let bytes = std::fs::read(d.join("evil.img")).unwrap();
    let opts = OpenOptions::new().format(Some(Format::Raw));
    let dev = open_image(&d.join("evil.img"), &opts).unwrap();
    assert_same(&dev, &bytes);
    assert!(open_modes(&secret).is_empty(), "backing file was opened");
    drop(dev);
    // With no format given it is probed as qcow2 (what qemu does too), and
    // only then is the named backing file read.
    assert_eq!(detect_format(&d.join("evil.img")).unwrap(), Format::Qcow2);
    let dev = open_image(&d.join("evil.img"), &ro()).unwrap();
    let mut b = [0u8; 4];
    dev.read_at(&mut b, 0).unwrap();
    assert_eq!(&b, b"SSSS");
}

#[test]
fn unsupported_qcow2_features_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &str, &str)] = &[
        ("zstd.qcow2", "compression_type=zstd", "zstd"),
        ("extl2.qcow2", "extended_l2=on", "extended L2"),
        ("data.qcow2", "data_file=data.raw", "external data file"),
    ];
    for (name, opt, needle) in cases {
        run(
            "qemu-img",
            &["create", "-f", "qcow2", "-o", opt, name, "1M"],
            d,
        );
        let e = open_image(&d.join(name), &ro()).err().unwrap();
        eprintln!("{e}");
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{name}: {e}");
        assert!(e.to_string().contains(needle), "{e}");
        assert!(e.to_string().contains(name), "{e}");
    }
    // The dirty bit (incompatible feature bit 0).
    run(
        "qemu-img",
        &["create", "-f", "qcow2", "dirty.qcow2", "1M"],
        d,
    );
    let p = d.join("dirty.qcow2");
    let mut b = std::fs::read(&p).unwrap();
    b[79] |= 1;
    std::fs::write(&p, &b).unwrap();
    let e = open_image(&p, &ro()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("dirty"), "{e}");
    // Other formats are refused on detection, read as bytes when named raw.
    std::fs::write(d.join("x.vmdk"), b"KDMV\x01\0\0\0").unwrap();
    let e = open_image(&d.join("x.vmdk"), &ro()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    let dev = open_image(
        &d.join("x.vmdk"),
        &OpenOptions::new().format(Some(Format::Raw)),
    )
    .unwrap();
    assert_eq!(dev.size(), 8);
    assert!("vmdk".parse::<Format>().is_err());
    assert_eq!("qcow2".parse::<Format>().unwrap(), Format::Qcow2);
}

#[test]
fn truncated_qcow2_is_a_clear_error_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_raw(d, "src.img", 2 * MIB, 3);
    run(
        "qemu-img",
        &["convert", "-O", "qcow2", "src.img", "full.qcow2"],
        d,
    );
    run(
        "qemu-img",
        &["convert", "-c", "-O", "qcow2", "src.img", "comp.qcow2"],
        d,
    );
    for src in ["full.qcow2", "comp.qcow2"] {
        let full = std::fs::read(d.join(src)).unwrap();
        let mut cuts: Vec<usize> = vec![0, 3, 71, 100, 104, 511, 4096];
        cuts.extend((1..16).map(|k| full.len() * k / 16));
        cuts.extend([full.len() - 1, full.len() - 512]);
        let mut errors = 0;
        for cut in cuts {
            let p = d.join("cut.qcow2");
            std::fs::write(&p, &full[..cut]).unwrap();
            let opts = OpenOptions::new().format(Some(Format::Qcow2));
            let res = open_image(&p, &opts).and_then(|dev| read_all(dev.as_ref()));
            match res {
                Ok(_) => {}
                Err(e) => {
                    eprintln!("{src} cut at {cut}: {e}");
                    errors += 1;
                    assert!(
                        matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::Io),
                        "{src} cut at {cut}: {:?} {e}",
                        e.kind()
                    );
                    assert!(e.to_string().contains("cut.qcow2"), "{e}");
                }
            }
        }
        assert!(errors >= 15, "{src}: only {errors} truncations detected");
    }
    // Explicitly: a qcow2 cut in its data area reports where.
    let full = std::fs::read(d.join("full.qcow2")).unwrap();
    let p = d.join("cut.qcow2");
    std::fs::write(&p, &full[..full.len() / 2]).unwrap();
    let dev = open_image(&p, &ro()).unwrap();
    let e = read_all(dev.as_ref()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn empty_and_text_files_open_as_raw() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("empty.img"), b"").unwrap();
    std::fs::write(d.join("notes.txt"), b"this is not a disk image\n").unwrap();
    let e = open_image(&d.join("empty.img"), &ro()).unwrap();
    assert_eq!(e.size(), 0);
    assert!(gx_disk::read_partitions(e.as_ref()).unwrap().is_none());
    let t = open_image(&d.join("notes.txt"), &ro()).unwrap();
    assert_eq!(t.size(), 25);
    assert!(gx_disk::read_partitions(t.as_ref()).unwrap().is_none());
    let e = open_image(&d.join("nonexistent.img"), &ro()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("nonexistent.img"));
}

#[test]
fn overlay_makes_a_read_only_image_writable_without_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = make_raw(d, "disk.img", MIB + 1024, 5);
    run(
        "qemu-img",
        &["convert", "-O", "qcow2", "disk.img", "disk.qcow2"],
        d,
    );
    for name in ["disk.img", "disk.qcow2"] {
        let p = d.join(name);
        let before = gx_testdata::file_digest(&p);
        let base = open_image(&p, &ro()).unwrap();
        assert!(base.write_at(&[1], 0).is_err());
        let ov: Device = Arc::new(Overlay::new(base));
        let mut model = data.clone();
        for (off, n) in [(0usize, 10usize), (4000, 9000), (MIB + 990, 10)] {
            let buf = vec![0xee; n];
            ov.write_at(&buf, off as u64).unwrap();
            model[off..off + n].fill(0xee);
        }
        assert_same(&ov, &model);
        drop(ov);
        assert_eq!(gx_testdata::file_digest(&p), before, "{name} changed");
        assert!(open_modes(&p).is_empty());
    }
}

/// Another process keeps rewriting and resizing the file while we read: every
/// read returns correct data or a clear error; nothing panics or hangs.
#[test]
fn concurrent_writer_gives_data_or_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let len = 4 * MIB;
    std::fs::write(d.join("disk.img"), vec![0x11u8; len]).unwrap();
    let p = d.join("disk.img");
    let dev = open_image(&p, &OpenOptions::new().format(Some(Format::Raw))).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let p = p.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 100_000 {
                // Whole 4 KiB blocks of one byte value, so a reader sees
                // either the old or the new value in each block.
                let v = if i % 2 == 0 { 0x22u8 } else { 0x11 };
                let off = (i * 4096 * 7) % len as u64;
                f.write_all_at(&[v; 4096], off).unwrap();
                if i % 64 == 0 {
                    f.set_len(len as u64 / 2).unwrap();
                    f.set_len(len as u64).unwrap();
                }
                i += 1;
            }
        })
    };
    let mut ok = 0;
    let mut errs = 0;
    for k in 0..2000u64 {
        let mut b = vec![0u8; 4096];
        let off = (k * 4096 * 13) % len as u64;
        match dev.read_at(&mut b, off) {
            Ok(()) => {
                // Any value is possible after a truncate (zeros), but a block
                // must hold one of the values ever written there.
                assert!(
                    b.iter().all(|&x| x == 0x11 || x == 0x22 || x == 0),
                    "torn garbage"
                );
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Io, "{e}");
                assert!(e.to_string().contains("shorter"), "{e}");
                errs += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(ok + errs, 2000);
}

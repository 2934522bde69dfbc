//! `tar_out` from the direct engine, checked against e2fsprogs: the archive
//! of the test guest's root, unpacked by the host's GNU tar, must hold what
//! `debugfs rdump` dumps from the same ext4 filesystem (names, types, modes,
//! owners, sizes, times, contents, link targets), plus the device nodes and
//! FIFOs rdump skips (checked with `debugfs stat`), hard links as links, and
//! sparse files still sparse. The image stays byte-identical.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use gx_guestfs::{DriveOptions, Format, Handle, TarOutOpts};

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

use gx_testdata::tree;

fn linux_root_handle(img: &Path) -> Handle {
    let mut g = Handle::new();
    g.add_drive_opts(
        img,
        DriveOptions {
            format: Some(Format::Raw),
            readonly: true,
        },
    )
    .unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda2", "/").unwrap();
    g
}

#[test]
fn tar_out_matches_debugfs_rdump() {
    let img = gx_testdata::image("linux.img");
    let before = gx_testdata::file_digest(&img);
    let g = linux_root_handle(&img);
    let mut tar = Vec::new();
    g.tar_out("/", &mut tar, TarOutOpts::default()).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours");
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&ours).unwrap();
    std::fs::create_dir(&theirs).unwrap();
    let mut child = Command::new("tar")
        .args(["--numeric-owner", "-xpf", "-", "-C"])
        .arg(&ours)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "host tar could not unpack our archive: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The root filesystem (sda2) as its own file, for debugfs.
    let part = g.part_list("/dev/sda").unwrap();
    let p2 = part.iter().find(|p| p.part_num == 2).unwrap();
    let fsimg = tmp.path().join("root.ext4");
    run(Command::new("dd")
        .arg(format!("if={}", img.display()))
        .arg(format!("of={}", fsimg.display()))
        .arg("bs=512")
        .arg(format!("skip={}", p2.part_start / 512))
        .arg(format!("count={}", p2.part_size / 512))
        .arg("status=none"));
    run(Command::new("debugfs")
        .arg("-R")
        .arg(format!("rdump / {}", theirs.display()))
        .arg(&fsimg));

    let a = tree(&ours);
    let b = tree(&theirs);
    assert!(b.len() > 50, "debugfs dumped only {} entries", b.len());
    for (rel, pb) in &b {
        let pa = a
            .get(rel)
            .unwrap_or_else(|| panic!("{rel}: in the filesystem, not in the archive"));
        let (ma, mb) = (
            std::fs::symlink_metadata(pa).unwrap(),
            std::fs::symlink_metadata(pb).unwrap(),
        );
        assert_eq!(ma.file_type(), mb.file_type(), "{rel}: type");
        if ma.mode() & 0o7777 != mb.mode() & 0o7777 {
            // rdump's chown clears set-id bits: ask debugfs for the mode.
            let stat = run(Command::new("debugfs")
                .arg("-R")
                .arg(format!("stat /{rel}"))
                .arg(&fsimg));
            let want = format!("Mode:  {:05o}", ma.mode() & 0o7777);
            assert!(
                String::from_utf8_lossy(&stat).contains(&want),
                "{rel}: mode {:o}, debugfs says {}",
                ma.mode(),
                String::from_utf8_lossy(&stat)
            );
        }
        assert_eq!((ma.uid(), ma.gid()), (mb.uid(), mb.gid()), "{rel}: owner");
        if ma.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(pa).unwrap(),
                std::fs::read_link(pb).unwrap(),
                "{rel}: link target"
            );
        } else if ma.is_file() {
            assert_eq!(ma.len(), mb.len(), "{rel}: size");
            assert_eq!(ma.mtime(), mb.mtime(), "{rel}: mtime");
            assert!(
                std::fs::read(pa).unwrap() == std::fs::read(pb).unwrap(),
                "{rel}: contents differ"
            );
        }
    }
    // What rdump leaves out: device nodes and FIFOs, checked one by one.
    let mut specials = 0;
    for (rel, pa) in &a {
        if b.contains_key(rel) {
            continue;
        }
        let stat = run(Command::new("debugfs")
            .arg("-R")
            .arg(format!("stat /{rel}"))
            .arg(&fsimg));
        let stat = String::from_utf8_lossy(&stat);
        let ft = std::fs::symlink_metadata(pa).unwrap().file_type();
        use std::os::unix::fs::FileTypeExt;
        let want = if ft.is_char_device() {
            "Type: character special"
        } else if ft.is_block_device() {
            "Type: block special"
        } else if ft.is_fifo() {
            "Type: FIFO"
        } else {
            panic!("{rel}: in the archive, not in the filesystem")
        };
        assert!(stat.contains(want), "{rel}: debugfs says {stat}");
        specials += 1;
    }
    assert!(specials >= 3, "only {specials} special files");
    // Hard links stay links: every name of a multiply-linked file.
    let test3 = std::fs::metadata(ours.join("etc/test3")).unwrap();
    let stat = run(Command::new("debugfs")
        .args(["-R", "stat /etc/test3"])
        .arg(&fsimg));
    assert!(
        String::from_utf8_lossy(&stat).contains(&format!("Links: {}", test3.nlink())),
        "link count differs from debugfs"
    );
    assert!(test3.nlink() >= 2);
    // Sparse files stay sparse.
    let sparse = std::fs::metadata(ours.join("var/tmp/sparse.bin")).unwrap();
    assert!(
        sparse.blocks() * 512 < sparse.len() / 4,
        "sparse.bin unpacked with {} blocks for {} bytes",
        sparse.blocks(),
        sparse.len()
    );
    drop(g);
    assert_eq!(before, gx_testdata::file_digest(&img), "image changed");
}

/// The compressed forms are the plain archive compressed.
#[test]
fn tar_out_compresses_with_gzip_xz_and_zstd() {
    let img = gx_testdata::image("linux.img");
    let g = linux_root_handle(&img);
    let mut plain = Vec::new();
    g.tar_out("/etc", &mut plain, TarOutOpts::default())
        .unwrap();
    for (compress, prog) in [("gzip", "gzip"), ("xz", "xz"), ("zstd", "zstd")] {
        let mut packed = Vec::new();
        g.tar_out(
            "/etc",
            &mut packed,
            TarOutOpts {
                compress: Some(compress.into()),
                ..TarOutOpts::default()
            },
        )
        .unwrap();
        let mut child = Command::new(prog)
            .args(["-dc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&packed).unwrap();
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success(), "{prog} -dc failed");
        assert!(out.stdout == plain, "{compress}: not the plain archive");
    }
    let e = g
        .tar_out(
            "/etc",
            &mut Vec::new(),
            TarOutOpts {
                compress: Some("lzma9".into()),
                ..TarOutOpts::default()
            },
        )
        .unwrap_err();
    assert!(e.message().contains("unknown compress"), "{e}");
}

/// `excludes` leaves out matching paths and names.
#[test]
fn tar_out_excludes() {
    let img = gx_testdata::image("linux.img");
    let g = linux_root_handle(&img);
    let mut tar = Vec::new();
    g.tar_out(
        "/etc",
        &mut tar,
        TarOutOpts {
            excludes: Some(vec!["testdir".into(), "*.list".into()]),
            ..TarOutOpts::default()
        },
    )
    .unwrap();
    let mut child = Command::new("tar")
        .args(["-tf", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let w = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&tar).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    let names = String::from_utf8(out.stdout).unwrap();
    assert!(names.contains("./hostname\n"), "{names}");
    assert!(!names.contains("testdir"), "{names}");
    assert!(!names.contains("sources.list\n"), "{names}");
    assert!(names.contains("./apt/\n"), "{names}");
}

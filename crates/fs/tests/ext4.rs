//! The ext2/3/4 reader against images made by `mke2fs -d` from a directory
//! tree built here: what it reports must match the source tree (as the host
//! sees it) and debugfs (for inode numbers, block counts, times). Damaged
//! copies must give clear errors, never panics or hangs.
#![allow(clippy::unwrap_used)]

mod common;
use common::{names, pattern, read_all};
use gx_disk::{Device, ErrorKind};
use gx_fs::{Ext4Fs, FileType, Filesystem};
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn device(img: &Path) -> Device {
    Arc::new(gx_disk::RawDevice::open_ro(img).unwrap())
}

fn open(img: &Path) -> gx_disk::Result<Ext4Fs> {
    Ext4Fs::open(device(img))
}

const UUID: &str = "2b5d1a8e-6c3f-4b7e-9a0d-1e2f3a4b5c6d";

/// Make an image of `size_mb` MiB from `src` with `mke2fs -t kind`.
fn mkfs(kind: &str, src: Option<&Path>, img: &Path, size_mb: u64, extra: &[&str]) {
    let f = File::create(img).unwrap();
    f.set_len(size_mb << 20).unwrap();
    drop(f);
    let mut cmd = Command::new("mke2fs");
    cmd.args([
        "-q",
        "-F",
        "-t",
        kind,
        "-U",
        UUID,
        "-E",
        "hash_seed=0b7c1e5a-3c1f-4d2e-8f9a-0a1b2c3d4e5f",
    ]);
    if !extra.contains(&"-b") {
        cmd.args(["-b", "4096"]);
    }
    cmd.args(extra);
    if let Some(src) = src {
        cmd.arg("-d").arg(src);
    }
    cmd.arg(img);
    let out = cmd.output().expect("mke2fs (e2fsprogs) must be installed");
    assert!(
        out.status.success(),
        "mke2fs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn debugfs(img: &Path, req: &str) -> String {
    run_debugfs(img, req, false)
}

fn debugfs_w(img: &Path, req: &str) {
    run_debugfs(img, req, true);
}

/// Runs one debugfs request on `img`; its stdout. A writing request must
/// succeed.
fn run_debugfs(img: &Path, req: &str, writable: bool) -> String {
    let mut cmd = Command::new("debugfs");
    if writable {
        cmd.arg("-w");
    }
    let out = cmd.arg("-R").arg(req).arg(img).output().unwrap();
    assert!(!writable || out.status.success(), "debugfs -w {req}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const LONG_TARGET: &str =
    "a/very/long/symlink/target/that/does/not/fit/in/the/sixty/bytes/of/i_block/so/it/is/slow";

/// The source tree every image is made from.
fn make_tree(dir: &Path) {
    let w = |p: &str, data: &[u8]| std::fs::write(dir.join(p), data).unwrap();
    w("hello.txt", b"hello, world\n");
    w("empty", b"");
    w("big.bin", &pattern(300_001, 1));
    w("h\u{e9}llo w\u{f6}rld.txt", b"unicode\n");
    std::fs::create_dir_all(dir.join("dir/sub")).unwrap();
    w("dir/sub/deep.txt", &pattern(5000, 2));
    std::fs::create_dir(dir.join("many")).unwrap();
    for i in 0..300 {
        w(
            &format!("many/file-{i:04}-with-a-longer-name"),
            format!("{i}\n").as_bytes(),
        );
    }
    // A sparse file: data at 4 MiB and at the end, holes elsewhere.
    let f = File::create(dir.join("sparse")).unwrap();
    f.set_len(8 << 20).unwrap();
    f.write_at(b"middle", 4 << 20).unwrap();
    f.write_at(b"end", (8 << 20) - 3).unwrap();
    drop(f);
    // Data, then a hole to the end: no indirect blocks at all on ext2/3.
    let f = File::create(dir.join("hole_tail")).unwrap();
    f.write_at(b"start", 0).unwrap();
    f.set_len(6 << 20).unwrap();
    drop(f);
    symlink("hello.txt", dir.join("link_fast")).unwrap();
    symlink(LONG_TARGET, dir.join("link_slow")).unwrap();
    std::fs::hard_link(dir.join("hello.txt"), dir.join("hardlink")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(dir.join("setuid"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(dir.join("setuid"), std::fs::Permissions::from_mode(0o4751)).unwrap();
    std::fs::set_permissions(dir.join("dir/sub"), std::fs::Permissions::from_mode(0o700)).unwrap();
    // Only root can make device nodes and give files away; skip them otherwise.
    let _ = Command::new("mknod")
        .arg(dir.join("null"))
        .args(["c", "1", "3"])
        .status();
    let _ = Command::new("mknod")
        .arg(dir.join("bigdev"))
        .args(["b", "259", "300000"])
        .status();
    let _ = std::os::unix::fs::lchown(dir.join("hello.txt"), Some(1234), Some(5678));
    let _ = std::os::unix::fs::lchown(dir.join("link_fast"), Some(70000), Some(80000));
}

struct Fixture {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    img: PathBuf,
}

fn fixture(kind: &str, extra: &[&str]) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    let img = tmp.path().join(format!("{kind}.img"));
    mkfs(kind, Some(&src), &img, 32, extra);
    Fixture {
        _tmp: tmp,
        src,
        img,
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Walk the image and the source tree together; returns the paths checked.
fn compare_tree(fs: &dyn Filesystem, src: &Path, dir: &str) -> usize {
    let entries = fs.read_dir(dir).unwrap();
    let mut names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    names.sort();
    let mut want: Vec<String> = std::fs::read_dir(src.join(dir.trim_start_matches('/')))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    if dir == "/" {
        want.push("lost+found".into());
    }
    want.sort();
    assert_eq!(names, want, "entries of {dir}");

    let mut checked = 0;
    for e in &entries {
        let path = join(dir, &e.name);
        if path == "/lost+found" {
            continue;
        }
        let host = std::fs::symlink_metadata(src.join(path.trim_start_matches('/'))).unwrap();
        let st = fs.lstat(&path).unwrap();
        assert_eq!(st.ino, e.ino, "{path}: inode in the entry and from lstat");
        assert_eq!(st.file_type(), e.file_type, "{path}: type");
        assert_eq!(st.mode, host.mode(), "{path}: mode");
        assert_eq!((st.uid, st.gid), (host.uid(), host.gid()), "{path}: owner");
        assert_eq!(st.mtime.sec, host.mtime(), "{path}: mtime");
        assert!(st.mtime.nsec < 1_000_000_000);
        checked += 1;
        match st.file_type() {
            FileType::Directory => {
                assert_eq!(st.nlink, host.nlink(), "{path}: nlink");
                checked += compare_tree(fs, src, &path);
            }
            FileType::Regular => {
                assert_eq!(st.size, host.size(), "{path}: size");
                assert_eq!(st.nlink, host.nlink(), "{path}: nlink");
                let data = std::fs::read(src.join(path.trim_start_matches('/'))).unwrap();
                assert_eq!(read_all(fs, &path, 4099), data, "{path}: contents");
                assert_eq!(read_all(fs, &path, 1 << 20), data, "{path}: contents");
            }
            FileType::Symlink => {
                let t = std::fs::read_link(src.join(path.trim_start_matches('/'))).unwrap();
                assert_eq!(fs.readlink(&path).unwrap(), t.to_str().unwrap(), "{path}");
                assert_eq!(st.size, host.size(), "{path}: size");
            }
            FileType::CharDevice | FileType::BlockDevice => {
                assert_eq!(st.rdev, host.rdev(), "{path}: rdev");
            }
            _ => {}
        }
    }
    checked
}

/// `debugfs -R "ls -p DIR"`: name -> (inode, mode).
fn debugfs_ls(img: &Path, dir: &str) -> BTreeMap<String, (u64, u32)> {
    debugfs(img, &format!("ls -p \"{dir}\""))
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('/').collect();
            if f.len() < 7 || f[1] == "0" || f[5] == "." || f[5] == ".." {
                return None;
            }
            Some((
                f[5].to_string(),
                (f[1].parse().unwrap(), u32::from_str_radix(f[2], 8).unwrap()),
            ))
        })
        .collect()
}

/// `debugfs -R "stat PATH"`: (links, blockcount in 512-byte units).
fn debugfs_stat(img: &Path, path: &str) -> (u64, u64) {
    let out = debugfs(img, &format!("stat \"{path}\""));
    let field = |name: &str| -> u64 {
        let at = out.find(name).unwrap_or_else(|| panic!("{name} in {out}"));
        out[at + name.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (field("Links:"), field("Blockcount:"))
}

fn check_against_debugfs(fs: &dyn Filesystem, img: &Path) {
    for dir in ["/", "/dir", "/dir/sub", "/many"] {
        let want = debugfs_ls(img, dir);
        let got: BTreeMap<String, (u64, u32)> = fs
            .read_dir(dir)
            .unwrap()
            .into_iter()
            .map(|e| {
                let st = fs.lstat(&join(dir, &e.name)).unwrap();
                (e.name, (e.ino, st.mode))
            })
            .collect();
        assert_eq!(got, want, "inode numbers and modes of {dir}");
    }
    for path in [
        "/",
        "/hello.txt",
        "/big.bin",
        "/sparse",
        "/link_slow",
        "/many",
        "/dir/sub/deep.txt",
    ] {
        let st = fs.lstat(path).unwrap();
        assert_eq!(
            (st.nlink, st.blocks),
            debugfs_stat(img, path),
            "{path}: links, blocks"
        );
    }
}

fn check_image(kind: &str, extra: &[&str]) {
    let fx = fixture(kind, extra);
    let before = std::fs::read(&fx.img).unwrap();
    let fs = open(&fx.img).unwrap();
    assert_eq!(fs.fs_type(), kind);
    let n = compare_tree(&fs, &fx.src, "/");
    assert!(n > 300, "walked only {n} paths");
    check_against_debugfs(&fs, &fx.img);

    let root = fs.lstat("/").unwrap();
    assert_eq!(root.ino, 2);
    assert_eq!(root.blksize, 4096);
    assert_eq!(fs.lstat("/hello.txt").unwrap().nlink, 2);
    assert_eq!(
        fs.lstat("/hello.txt").unwrap().ino,
        fs.lstat("/hardlink").unwrap().ino
    );
    assert_eq!(fs.readlink("/link_slow").unwrap(), LONG_TARGET);

    // Ranges: a read spanning blocks, past the end, inside a hole.
    let big = pattern(300_001, 1);
    let mut buf = vec![0u8; 10_000];
    assert_eq!(fs.read_at("/big.bin", 4000, &mut buf).unwrap(), 10_000);
    assert_eq!(&buf[..], &big[4000..14_000]);
    assert_eq!(fs.read_at("/big.bin", 299_995, &mut buf).unwrap(), 6);
    assert_eq!(&buf[..6], &big[299_995..]);
    assert_eq!(fs.read_at("/big.bin", 300_001, &mut buf).unwrap(), 0);
    assert_eq!(fs.read_at("/big.bin", 1 << 40, &mut buf).unwrap(), 0);
    assert_eq!(fs.read_at("/sparse", 1 << 20, &mut buf).unwrap(), 10_000);
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(fs.read_at("/sparse", 4 << 20, &mut buf[..6]).unwrap(), 6);
    assert_eq!(&buf[..6], b"middle");
    // Back to an earlier offset of the same file, then another file.
    assert_eq!(fs.read_at("/big.bin", 0, &mut buf).unwrap(), 10_000);
    assert_eq!(&buf[..], &big[..10_000]);
    assert_eq!(fs.read_at("/hello.txt", 0, &mut buf).unwrap(), 13);

    // Errors that name the path and have the right kind.
    let e = fs.lstat("/nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(
        fs.lstat("/hello.txt/x").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.read_at("/dir", 0, &mut buf).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        fs.read_at("/fifo", 0, &mut buf).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        fs.read_dir("/hello.txt").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        fs.readlink("/hello.txt").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        fs.lstat("relative").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    drop(fs);
    assert!(
        std::fs::read(&fx.img).unwrap() == before,
        "reading changed the image"
    );
}

#[test]
fn ext4_matches_source_tree_and_debugfs() {
    check_image("ext4", &[]);
}

#[test]
fn ext3_matches_source_tree_and_debugfs() {
    check_image("ext3", &[]);
}

#[test]
fn ext2_matches_source_tree_and_debugfs() {
    check_image("ext2", &[]);
}

#[test]
fn ext4_64bit_without_flex_bg_or_csum() {
    check_image("ext4", &["-O", "64bit,^flex_bg,^metadata_csum"]);
}

#[test]
fn nanoseconds_and_epoch_bits() {
    let fx = fixture("ext4", &[]);
    // Values and expectations checked against the kernel's stat of a loop mount.
    debugfs_w(&fx.img, "sif /hello.txt mtime 0xed318525");
    debugfs_w(&fx.img, "sif /hello.txt mtime_extra 0x75bcd15");
    debugfs_w(&fx.img, "sif /hello.txt atime 0xed318525");
    debugfs_w(&fx.img, "sif /hello.txt atime_extra 0");
    debugfs_w(&fx.img, "sif /hello.txt ctime 0x7fffffff");
    debugfs_w(&fx.img, "sif /hello.txt ctime_extra 0xee6b27fc");
    let fs = open(&fx.img).unwrap();
    let st = fs.lstat("/hello.txt").unwrap();
    assert_eq!((st.mtime.sec, st.mtime.nsec), (3_979_445_541, 30_864_197));
    assert_eq!((st.atime.sec, st.atime.nsec), (-315_521_755, 0));
    assert_eq!((st.ctime.sec, st.ctime.nsec), (2_147_483_647, 999_999_999));
}

#[test]
fn ext2_small_inodes_have_no_nanoseconds() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), b"x").unwrap();
    let img = tmp.path().join("i.img");
    mkfs("ext2", Some(&src), &img, 8, &["-I", "128", "-b", "1024"]);
    let fs = open(&img).unwrap();
    let st = fs.lstat("/f").unwrap();
    assert_eq!(st.mtime.nsec, 0);
    assert_eq!(st.blksize, 1024);
    assert_eq!(fs.read_dir("/").unwrap().len(), 2);
}

/// What the kernel's statfs says of an ext2/3/4 image: `[blocks, bfree,
/// bavail, files, ffree]`, from e2fsprogs' own reading of the image
/// (`dumpe2fs`): blocks = block count - the overhead mke2fs records (the
/// kernel recomputes it on non-bigalloc filesystems and arrives at the same
/// number: checked below against a real mount where one can be made),
/// bfree = the groups' free clusters, bavail = bfree - reserved blocks -
/// the kernel's reservation on extent filesystems (2%, at most 4096
/// clusters: ext4_calculate_resv_clusters), files/ffree = inode count and
/// the groups' free inodes.
fn dumpe2fs_statvfs(img: &Path) -> [u64; 5] {
    let out = Command::new("dumpe2fs")
        .arg(img)
        .output()
        .expect("dumpe2fs (e2fsprogs)");
    assert!(out.status.success(), "dumpe2fs {}", img.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let blocks = field("Block count:").expect("Block count");
    let bs = field("Block size:").expect("Block size");
    let ratio = field("Cluster size:").map_or(1, |c| c / bs);
    let overhead = field("Overhead clusters:").unwrap_or_else(|| {
        panic!(
            "dumpe2fs of {} shows no overhead: e2fsprogs >= 1.46.6 needed",
            img.display()
        )
    }) * ratio;
    let reserved = field("Reserved block count:").expect("Reserved block count");
    let (mut free, mut free_inodes) = (0, 0);
    for l in text.lines() {
        // "  3808 free blocks, 2037 free inodes, ..." (or "free clusters").
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() > 4 && w[1] == "free" && w[2] == "blocks," {
            free += w[0].parse::<u64>().unwrap();
            free_inodes += w[3].parse::<u64>().unwrap();
        } else if w.len() > 4 && w[1] == "free" && w[2] == "clusters," {
            free += w[0].parse::<u64>().unwrap() * ratio;
            free_inodes += w[3].parse::<u64>().unwrap();
        }
    }
    let features = text
        .lines()
        .find_map(|l| l.strip_prefix("Filesystem features:"))
        .unwrap_or_default();
    let resv = if features.split_whitespace().any(|f| f == "extent") {
        (blocks / ratio / 50).min(4096) * ratio
    } else {
        0
    };
    [
        blocks - overhead,
        free,
        free.saturating_sub(reserved + resv),
        field("Inode count:").expect("Inode count"),
        free_inodes,
    ]
}

/// The same numbers from the kernel itself (`mount -o ro,loop`, `stat -f`),
/// where this machine can loop-mount (root, loop devices); `None` elsewhere.
fn kernel_statvfs(img: &Path) -> Option<[u64; 5]> {
    let mnt = tempfile::tempdir().ok()?;
    let ok = Command::new("mount")
        .args(["-o", "ro,loop"])
        .arg(img)
        .arg(mnt.path())
        .output()
        .ok()?
        .status
        .success();
    if !ok {
        return None;
    }
    let out = Command::new("stat")
        .args(["-f", "-c", "%b %f %a %c %d"])
        .arg(mnt.path())
        .output();
    let _ = Command::new("umount").arg(mnt.path()).status();
    let text = String::from_utf8(out.ok()?.stdout).ok()?;
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    v.try_into().ok()
}

/// statvfs agrees with e2fsprogs' reading of the image (and with the
/// kernel's, where a loop mount is possible) on images of every kind.
#[test]
fn statvfs_matches_the_kernel() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), pattern(100_000, 3)).unwrap();
    // (mke2fs type, size MiB, options)
    let cases: &[(&str, u64, &[&str])] = &[
        ("ext4", 64, &[]),
        ("ext3", 64, &[]),
        ("ext2", 64, &[]),
        ("ext4", 300, &["-b", "1024"]),
        ("ext4", 300, &["-O", "sparse_super2,^resize_inode"]),
        ("ext4", 2048, &[]),
        ("ext4", 300, &["-O", "bigalloc"]),
        ("ext3", 300, &["-b", "2048", "-m", "10"]),
        ("ext4", 300, &["-O", "64bit,^flex_bg"]),
    ];
    let mut kernel_checked = 0;
    for (i, (kind, size, opts)) in cases.iter().enumerate() {
        let img = tmp.path().join(format!("s{i}.img"));
        mkfs(kind, Some(&src), &img, *size, opts);
        let want = dumpe2fs_statvfs(&img);
        if let Some(k) = kernel_statvfs(&img) {
            assert_eq!(k, want, "{kind} {size} MiB {opts:?}: kernel vs dumpe2fs");
            kernel_checked += 1;
        }
        let fs = open(&img).unwrap();
        let v = fs.statvfs().unwrap();
        let got = [v.blocks, v.bfree, v.bavail, v.files, v.ffree];
        assert_eq!(got, want, "{kind} {size} MiB {opts:?}");
        assert_eq!(v.favail, v.ffree);
        assert_eq!(v.namemax, 255);
        assert_eq!(v.frsize, v.bsize);
        // fsid: the two halves of the UUID xor'd, as the kernel's uuid_to_fsid.
        assert_eq!(v.fsid, 1375696126602399921);
        assert_eq!(v.flag, 4097);
    }
    if kernel_checked == 0 {
        gx_testdata::skip!(
            "NOTE statvfs_matches_the_kernel: no loop mount here; checked against dumpe2fs only"
        );
    }
}

fn small_fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("dir/sub")).unwrap();
    std::fs::write(src.join("dir/sub/f"), b"data\n").unwrap();
    std::fs::write(src.join("file"), pattern(20_000, 4)).unwrap();
    let img = tmp.path().join("i.img");
    // No metadata_csum: the damage below must reach our own checks, not
    // stop at a checksum.
    mkfs(
        "ext4",
        Some(&src),
        &img,
        16,
        &["-b", "4096", "-O", "^metadata_csum"],
    );
    (tmp, img)
}

fn patch(img: &Path, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// Byte offset of the first block of `path`'s data.
fn first_block_offset(img: &Path, path: &str) -> u64 {
    let b: u64 = debugfs(img, &format!("bmap \"{path}\" 0"))
        .trim()
        .parse()
        .unwrap();
    b * 4096
}

/// Byte offset of `path`'s inode.
fn inode_offset(img: &Path, path: &str) -> u64 {
    let out = debugfs(img, &format!("imap \"{path}\""));
    let block: u64 = out
        .split("located at block ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let off = out.split("offset 0x").nth(1).unwrap().trim();
    block * 4096 + u64::from_str_radix(off, 16).unwrap()
}

fn expect_corrupt(r: gx_disk::Result<impl std::fmt::Debug>, what: &str) {
    match r {
        Err(e) if e.kind() == ErrorKind::Corrupt => println!("{what}: {e}"),
        other => panic!("{what}: expected a corrupt error, got {other:?}"),
    }
}

#[test]
fn bad_rec_len_is_corrupt() {
    let (_t, img) = small_fixture();
    let root = first_block_offset(&img, "/");
    for bad in [0u16, 3, 10, 13, 5000] {
        patch(&img, root + 4, &bad.to_le_bytes());
        let fs = open(&img).unwrap();
        expect_corrupt(fs.read_dir("/"), &format!("rec_len {bad}"));
        expect_corrupt(fs.lstat("/file"), &format!("rec_len {bad}"));
    }
}

#[test]
fn name_len_past_record_is_corrupt() {
    let (_t, img) = small_fixture();
    let root = first_block_offset(&img, "/");
    // The "." entry has a 12-byte record.
    patch(&img, root + 6, &[200]);
    let fs = open(&img).unwrap();
    expect_corrupt(fs.read_dir("/"), "name_len 200");
}

#[test]
fn entry_inode_out_of_range_is_corrupt() {
    let (_t, img) = small_fixture();
    let dir = first_block_offset(&img, "/dir");
    // The third entry of /dir (after . and ..) is "sub".
    patch(&img, dir + 24, &0xfff0_0000u32.to_le_bytes());
    let fs = open(&img).unwrap();
    expect_corrupt(fs.read_dir("/dir"), "entry inode");
    expect_corrupt(fs.lstat("/dir/sub"), "entry inode");
}

#[test]
fn directory_loop_terminates() {
    let (_t, img) = small_fixture();
    // /dir/sub/back is /dir again: a cycle for anything that recurses.
    debugfs_w(&img, "link /dir /dir/sub/back");
    let fs = open(&img).unwrap();
    let st = fs.lstat("/dir/sub/back/sub/back/sub/f").unwrap();
    assert_eq!(st.size, 5);
    // A recursive walk with a visited set ends, and sees the cycle.
    let mut seen = HashSet::new();
    let mut stack = vec!["/".to_string()];
    let mut cycles = 0;
    while let Some(d) = stack.pop() {
        for e in fs.read_dir(&d).unwrap() {
            if e.file_type == FileType::Directory {
                if seen.insert(e.ino) {
                    stack.push(join(&d, &e.name));
                } else {
                    cycles += 1;
                }
            }
        }
    }
    assert_eq!(cycles, 1);
}

/// Write an extent root into `path`'s inode that loops back on itself
/// through a block of our making (or claims an impossible depth).
#[test]
fn hostile_extent_trees_are_corrupt() {
    let (_t, img) = small_fixture();
    let ino_off = inode_offset(&img, "/dir");
    let i_block = ino_off + 0x28;
    // A free block near the end of the 16 MiB image.
    let loop_block: u32 = 4000;
    let bs = 4096usize;

    let header = |entries: u16, max: u16, depth: u16| {
        let mut h = Vec::new();
        h.extend_from_slice(&0xf30au16.to_le_bytes());
        h.extend_from_slice(&entries.to_le_bytes());
        h.extend_from_slice(&max.to_le_bytes());
        h.extend_from_slice(&depth.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h
    };
    let index = |first: u32, leaf: u32| {
        let mut e = Vec::new();
        e.extend_from_slice(&first.to_le_bytes());
        e.extend_from_slice(&leaf.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e
    };

    // Root at depth 2 -> block that says depth 1 and points at itself.
    let mut node = header(1, ((bs - 12) / 12) as u16, 1);
    node.extend(index(0, loop_block));
    patch(&img, u64::from(loop_block) * bs as u64, &node);
    let mut root = header(1, 4, 2);
    root.extend(index(0, loop_block));
    patch(&img, i_block, &root);
    let fs = open(&img).unwrap();
    expect_corrupt(fs.read_dir("/dir"), "self-referencing extent node");
    drop(fs);

    // Depth beyond the kernel's maximum.
    let mut root = header(1, 4, 9);
    root.extend(index(0, loop_block));
    patch(&img, i_block, &root);
    expect_corrupt(open(&img).unwrap().read_dir("/dir"), "extent depth 9");

    // More entries than fit.
    patch(&img, i_block, &header(5, 4, 0));
    expect_corrupt(open(&img).unwrap().read_dir("/dir"), "extent entries > max");

    // A leaf extent pointing past the end of the device.
    let mut root = header(1, 4, 0);
    root.extend_from_slice(&0u32.to_le_bytes());
    root.extend_from_slice(&1u16.to_le_bytes());
    root.extend_from_slice(&0x7fffu16.to_le_bytes());
    root.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    patch(&img, i_block, &root);
    expect_corrupt(
        open(&img).unwrap().read_dir("/dir"),
        "extent past the device",
    );

    // The same leaf on a regular file: ext4-view reads the data and must
    // refuse too.
    let f_block = inode_offset(&img, "/file") + 0x28;
    patch(&img, f_block, &root);
    let fs = open(&img).unwrap();
    let mut buf = [0u8; 100];
    let e = fs.read_at("/file", 0, &mut buf).unwrap_err();
    println!("file extent past the device: {e}");
}

#[test]
fn damaged_superblocks_are_refused() {
    let (_t, img) = small_fixture();
    let good = std::fs::read(&img).unwrap();

    patch(&img, 1024 + 0x38, &[0, 0]);
    expect_corrupt(open(&img).map(|_| ()), "bad magic");

    std::fs::write(&img, &good).unwrap();
    patch(&img, 1024 + 0x18, &20u32.to_le_bytes());
    expect_corrupt(open(&img).map(|_| ()), "log block size");

    std::fs::write(&img, &good).unwrap();
    patch(&img, 1024 + 0x28, &0u32.to_le_bytes());
    expect_corrupt(open(&img).map(|_| ()), "inodes per group 0");

    // Truncated to half: the filesystem claims more blocks than exist.
    std::fs::write(&img, &good[..good.len() / 2]).unwrap();
    expect_corrupt(open(&img).map(|_| ()), "truncated image");

    // Any truncation or garbage must not panic.
    for cut in [0, 100, 1024, 1500, 2048, 4096, 8192, 70_000] {
        std::fs::write(&img, &good[..cut]).unwrap();
        assert!(open(&img).is_err());
    }
}

#[test]
fn unsupported_features_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    for (opts, name) in [
        ("inline_data", "inline_data"),
        ("meta_bg,^resize_inode", "meta_bg"),
        ("casefold", "casefold"),
        ("large_dir", "large_dir"),
    ] {
        let img = tmp.path().join(format!("{name}.img"));
        mkfs("ext4", None, &img, 16, &["-O", opts]);
        let e = open(&img).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{opts}: {e}");
        assert!(e.message().contains(name), "{opts}: {e}");
    }
}

/// A journal holding committed transactions that are not at home yet (a
/// crashed or still running guest) is replayed in memory, as the kernel's
/// mount does; e2fsck's replay of a copy is the oracle. Transactions are
/// written with debugfs's journal commands (each `jw` is one transaction).
#[test]
fn journal_is_replayed_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/data"), vec![b'o'; 4096]).unwrap();
    std::fs::write(src.join("etc/keep"), b"untouched\n").unwrap();
    let block = |v: u8| {
        let p = tmp.path().join(format!("block-{v}"));
        let mut b = vec![v; 4096];
        if v == 0xc0 {
            // Starts with the jbd2 magic: logged escaped.
            b[..4].copy_from_slice(&[0xc0, 0x3b, 0x39, 0x98]);
        }
        std::fs::write(&p, b).unwrap();
        p.display().to_string()
    };
    let (b1, b3, bm) = (block(b'1'), block(b'3'), block(0xc0));
    struct Case {
        name: &'static str,
        mkfs: &'static [&'static str],
        journal: String,
        /// Journal block to zero afterwards (a commit block: a torn transaction).
        tear: Option<u32>,
    }
    let cases = |b: u64| {
        vec![
            Case {
                name: "one transaction",
                mkfs: &[],
                journal: format!("jo\njw -b {b} {b1}\njc\n"),
                tear: None,
            },
            Case {
                name: "csum v3, revoke, rewrite",
                mkfs: &[],
                journal: format!("jo -c\njw -b {b} {b1}\njw -r {b}\njw -b {b} {b3}\njc\n"),
                tear: None,
            },
            Case {
                name: "revoked later",
                mkfs: &[],
                journal: format!("jo\njw -b {b} {b1}\njw -r {b}\njc\n"),
                tear: None,
            },
            Case {
                name: "escaped block",
                mkfs: &[],
                journal: format!("jo -c\njw -b {b} {bm}\njc\n"),
                tear: None,
            },
            Case {
                name: "32-bit journal",
                mkfs: &["-O", "^64bit,^metadata_csum"],
                journal: format!("jo\njw -b {b} {b1}\njw -b {b} {b3}\njc\n"),
                tear: None,
            },
            Case {
                name: "torn last transaction",
                mkfs: &[],
                journal: format!("jo\njw -b {b} {b1}\njw -b {b} {b3}\njc\n"),
                // T1: descriptor 1, data 2, commit 3; T2: 4, 5, commit 6.
                tear: Some(6),
            },
        ]
    };
    for i in 0..6 {
        let img = tmp.path().join(format!("j{i}.img"));
        let probe = cases(0).swap_remove(i);
        mkfs("ext4", Some(&src), &img, 32, probe.mkfs);
        let b: u64 = debugfs(&img, "bmap /etc/data 0").trim().parse().unwrap();
        let case = cases(b).swap_remove(i);
        let cmds = tmp.path().join("cmds");
        std::fs::write(&cmds, &case.journal).unwrap();
        let st = Command::new("debugfs")
            .arg("-w")
            .arg("-f")
            .arg(&cmds)
            .arg(&img)
            .output()
            .unwrap();
        assert!(st.status.success(), "{}: debugfs", case.name);
        if let Some(jb) = case.tear {
            let phys: u64 = debugfs(&img, &format!("bmap <8> {jb}"))
                .trim()
                .parse()
                .unwrap();
            let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
            std::os::unix::fs::FileExt::write_all_at(&f, &[0u8; 4096], phys * 4096).unwrap();
        }
        let before = std::fs::read(&img).unwrap();
        let fsck = tmp.path().join(format!("j{i}-fsck.img"));
        std::fs::copy(&img, &fsck).unwrap();
        let st = Command::new("e2fsck")
            .arg("-fy")
            .arg(&fsck)
            .output()
            .unwrap();
        assert!(st.status.code().unwrap_or(8) < 4, "{}: e2fsck", case.name);

        let dirty = open(&img).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let clean = open(&fsck).unwrap();
        let read = |fs: &Ext4Fs, p: &str| {
            let mut b = vec![0u8; 8192];
            let n = fs.read_at(p, 0, &mut b).unwrap();
            b.truncate(n);
            b
        };
        let got = read(&dirty, "/etc/data");
        assert_eq!(got, read(&clean, "/etc/data"), "{}", case.name);
        assert_ne!(
            got,
            vec![b'o'; 4096].into_iter().map(|_| 0).collect::<Vec<u8>>()
        );
        assert_eq!(read(&dirty, "/etc/keep"), b"untouched\n", "{}", case.name);
        assert_eq!(
            names(&dirty, "/etc"),
            names(&clean, "/etc"),
            "{}",
            case.name
        );
        let want: &[u8] = match case.name {
            "one transaction" => &[b'1'; 4096],
            "csum v3, revoke, rewrite" | "32-bit journal" | "torn last transaction" => {
                if case.name == "torn last transaction" {
                    &[b'1'; 4096]
                } else {
                    &[b'3'; 4096]
                }
            }
            "revoked later" => &[b'o'; 4096],
            _ => &got,
        };
        assert_eq!(got, want, "{}", case.name);
        if case.name == "escaped block" {
            assert_eq!(&got[..4], &[0xc0, 0x3b, 0x39, 0x98]);
        }
        // Read-only: the dirty image is untouched.
        assert_eq!(std::fs::read(&img).unwrap(), before, "{}", case.name);
    }

    // The recover flag over an empty log: nothing to replay, opens as is.
    let img = tmp.path().join("recover.img");
    mkfs("ext4", None, &img, 16, &[]);
    debugfs_w(&img, "feature needs_recovery");
    open(&img).unwrap();
}

#[test]
fn lookups_in_big_directory() {
    let fx = fixture("ext4", &[]);
    let fs = open(&fx.img).unwrap();
    let entries = fs.read_dir("/many").unwrap();
    assert_eq!(entries.len(), 300);
    for e in &entries {
        let p = format!("/many/{}", e.name);
        assert_eq!(fs.lstat(&p).unwrap().ino, e.ino);
        let mut buf = [0u8; 16];
        let n = fs.read_at(&p, 0, &mut buf).unwrap();
        let num: String = e.name[5..9].trim_start_matches('0').to_string();
        let num = if num.is_empty() { "0".to_string() } else { num };
        assert_eq!(&buf[..n], format!("{num}\n").as_bytes());
    }
}

/// `e2fsck -D` turns big directories into htree (hashed) ones; a linear scan
/// of their blocks must still see every entry exactly once.
#[test]
fn htree_directories() {
    let fx = fixture("ext4", &[]);
    let out = Command::new("e2fsck")
        .args(["-f", "-y", "-D"])
        .arg(&fx.img)
        .output()
        .unwrap();
    assert!(out.status.code().unwrap_or(8) <= 1, "e2fsck -D: {out:?}");
    let stat = debugfs(&fx.img, "stat /many");
    let flags = stat
        .split("Flags: 0x")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        u32::from_str_radix(flags, 16).unwrap() & 0x1000 != 0,
        "/many is not indexed: {stat}"
    );
    let fs = open(&fx.img).unwrap();
    compare_tree(&fs, &fx.src, "/");
    check_against_debugfs(&fs, &fx.img);
}

/// A file whose extent tree has several leaves, with holes between data
/// islands (so leaves end in holes): every byte must read as the host wrote
/// it. Regression test: a hole at the end of one leaf once hid the data of
/// the next leaf (found reading an rpm database).
#[test]
fn sparse_file_spanning_several_extent_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let path = src.join("islands.bin");
    let f = File::create(&path).unwrap();
    // 800 one-block islands, each followed by a one-block hole: far more
    // extents than fit in one 4 KiB leaf (340), so the tree gets two or
    // more leaves.
    let islands = 800u64;
    for i in 0..islands {
        let block = pattern(4096, i as u32);
        f.write_all_at(&block, i * 2 * 4096).unwrap();
    }
    f.set_len(islands * 2 * 4096 + 4096 * 3).unwrap();
    drop(f);
    let img = dir.path().join("img");
    mkfs("ext4", Some(&src), &img, 32, &[]);
    let depth = debugfs(&img, "ex /islands.bin");
    assert!(
        depth
            .lines()
            .filter(|l| l.trim_start().starts_with("0/"))
            .count()
            >= 2,
        "expected an extent tree with several leaves:\n{depth}"
    );
    let fs = open(&img).unwrap();
    for chunk in [4096, 1 << 20, 12345] {
        assert!(
            read_all(&fs, "/islands.bin", chunk) == std::fs::read(&path).unwrap(),
            "contents differ (chunk {chunk})"
        );
    }
}

/// A symlink inode whose i_size claims hundreds of megabytes (found by
/// fuzz_ext4 on a sparse device): readlink refuses it instead of having
/// ext4-view allocate that much for the target.
#[test]
fn huge_symlink_size_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    symlink(
        "a-target-longer-than-sixty-bytes/".repeat(3),
        src.join("slow"),
    )
    .unwrap();
    symlink("fast", src.join("fast")).unwrap();
    let img = tmp.path().join("i.img");
    mkfs("ext4", Some(&src), &img, 8, &["-O", "^metadata_csum"]);
    debugfs_w(&img, "sif /slow size 321277696");
    let fs = open(&img).unwrap();
    assert_eq!(fs.readlink("/fast").unwrap(), "fast");
    let e = fs.readlink("/slow").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("i_size 321277696"), "{e}");
}

/// A walk over more directories than the dentry cache holds (4,096) and
/// more entries than the parsed-directory cache keeps, twice (the second
/// time through caches that were emptied and refilled), and paths looked
/// up again in a scattered order: every answer still the source tree's.
#[test]
fn walk_past_the_lookup_caches_matches_the_source_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for a in 0..70 {
        for b in 0..62 {
            let d = src.join(format!("a{a:02}/b{b:02}"));
            std::fs::create_dir_all(&d).unwrap();
            if b % 7 == 0 {
                std::fs::write(d.join("f"), format!("{a}/{b}")).unwrap();
                symlink(format!("../b{:02}", (b + 1) % 62), d.join("up")).unwrap();
            }
        }
    }
    let img = tmp.path().join("w.img");
    mkfs("ext4", Some(&src), &img, 64, &["-N", "8000"]);
    let fs = open(&img).unwrap();
    let n = compare_tree(&fs, &src, "/");
    assert!(n > 70 * 62, "{n} paths checked");
    assert_eq!(compare_tree(&fs, &src, "/"), n);
    assert_eq!(compare_lstat_dir(&fs, &src, "/"), n);
    for i in (0..70 * 62).rev().step_by(13) {
        let (a, b) = (i / 62, i % 62);
        let path = format!("/a{a:02}/b{b:02}");
        let host = std::fs::symlink_metadata(src.join(&path[1..])).unwrap();
        assert_eq!(fs.lstat(&path).unwrap().mode, host.mode(), "{path}");
        let e = fs.lstat(&format!("{path}/nope")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    }
}

/// Symlinks whose inode also has an extended attribute block: i_blocks
/// counts that block, and the kernel (ext4_inode_is_fast_symlink) still
/// reads a short target from i_block. Small inodes leave no room for the
/// attribute inside the inode.
#[test]
fn symlinks_with_an_xattr_block_read_their_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let long = "a-target-longer-than-sixty-bytes/".repeat(3);
    symlink("fast-target", src.join("fast")).unwrap();
    symlink(&long, src.join("slow")).unwrap();
    let img = tmp.path().join("x.img");
    mkfs("ext4", Some(&src), &img, 8, &["-I", "128"]);
    debugfs_w(&img, "ea_set -f /dev/null /fast user.k");
    debugfs_w(&img, "ea_set /fast user.label some-value");
    debugfs_w(&img, "ea_set /slow user.label some-value");
    // The oracle that the attribute went to a block: debugfs's File ACL.
    for p in ["/fast", "/slow"] {
        let st = debugfs(&img, &format!("stat {p}"));
        let acl = st
            .split("File ACL: ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap();
        assert_ne!(acl, "0", "{p}: no xattr block\n{st}");
    }
    let fs = open(&img).unwrap();
    assert_eq!(fs.readlink("/fast").unwrap(), "fast-target");
    assert_eq!(fs.readlink("/slow").unwrap(), long);
}

/// Readdir-plus (`lstat_dir`) against the source tree, directory by
/// directory: the same names as the host lists, and each stat what the host
/// reports for that path (mode, owner, size, times, links).
fn compare_lstat_dir(fs: &dyn Filesystem, src: &Path, dir: &str) -> usize {
    let plus = fs.lstat_dir(dir).unwrap();
    let mut names: Vec<&str> = plus.iter().map(|(e, _)| e.name.as_str()).collect();
    names.sort();
    let mut want: Vec<String> = std::fs::read_dir(src.join(dir.trim_start_matches('/')))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    if dir == "/" {
        want.push("lost+found".into());
    }
    want.sort();
    assert_eq!(names, want, "entries of {dir}");
    let mut n = 0;
    for (e, st) in &plus {
        let path = join(dir, &e.name);
        if path == "/lost+found" {
            continue;
        }
        let host = std::fs::symlink_metadata(src.join(path.trim_start_matches('/'))).unwrap();
        assert_eq!(st.ino, e.ino, "{path}: inode");
        assert_eq!(st.file_type(), e.file_type, "{path}: type");
        assert_eq!(st.mode, host.mode(), "{path}: mode");
        assert_eq!((st.uid, st.gid), (host.uid(), host.gid()), "{path}: owner");
        assert_eq!(st.mtime.sec, host.mtime(), "{path}: mtime");
        assert_eq!(st.nlink, host.nlink(), "{path}: nlink");
        if st.file_type() != FileType::Directory {
            assert_eq!(st.size, host.size(), "{path}: size");
        }
        n += 1;
        if st.file_type() == FileType::Directory {
            n += compare_lstat_dir(fs, src, &path);
        }
    }
    n
}

#[test]
fn lstat_dir_matches_the_source_tree() {
    let fx = fixture("ext4", &[]);
    let fs = open(&fx.img).unwrap();
    assert!(compare_lstat_dir(&fs, &fx.src, "/") > 10);
    let e = fs.lstat_dir("/hello.txt").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(
        fs.lstat_dir("/nope").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

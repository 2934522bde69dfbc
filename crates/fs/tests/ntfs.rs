//! NTFS reader tests on images made here with mkntfs and filled through an
//! ntfs-3g FUSE mount (root; `scripts/setup` installs ntfs-3g). Expected
//! stat values come from libguestfs 1.48 (ntfs-3g, fuseblk) on an image made
//! the same way: `guestfish --ro -a IMG run : mount-ro /dev/sda / : lstatns
//! /hello.txt`; statvfs is compared with ntfs-3g's own answer on the same
//! image (mounted read-only through FUSE).
#![allow(clippy::unwrap_used)]

mod common;
use common::{Img, names, pattern, read_all};
use gx_disk::{Device, MemDevice};
use gx_fs::{ErrorKind, FileType, Filesystem};
use std::process::Command;
use std::sync::Arc;

fn tree() -> Vec<(String, Vec<u8>)> {
    let mut v = vec![
        ("hello.txt".to_string(), b"hello\n".to_vec()),
        (
            "A long file name.txt".to_string(),
            b"long name content\n".to_vec(),
        ),
        ("Ünïcödé ☃.txt".to_string(), b"unicode\n".to_vec()),
        ("big.bin".to_string(), pattern(1_000_000, 3)),
        ("Deep/a/b/c/d/e/f/leaf.txt".to_string(), b"deep\n".to_vec()),
        ("empty.txt".to_string(), Vec::new()),
    ];
    for i in 0..120 {
        v.push((
            format!("many/file number {i:03}.dat"),
            pattern(i * 53, i as u32),
        ));
    }
    v
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}); run scripts/setup (ntfs-3g)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 32 MiB NTFS with [`tree`], a hard link and a symlink, written through ntfs-3g.
fn make_ntfs() -> Img {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ntfs.img");
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(32 << 20).unwrap();
    drop(f);
    run(Command::new("mkntfs")
        .args(["-F", "-f", "-q", "-L", "NTVOL"])
        .arg(&img));
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run(Command::new("ntfs-3g").arg(&img).arg(&mnt));
    let fill = || -> std::io::Result<()> {
        for (p, data) in tree() {
            let f = mnt.join(&p);
            std::fs::create_dir_all(f.parent().unwrap())?;
            std::fs::write(&f, data)?;
        }
        std::fs::create_dir(mnt.join("emptydir"))?;
        std::fs::hard_link(mnt.join("hello.txt"), mnt.join("hardlink.txt"))?;
        std::os::unix::fs::symlink("Deep/a/b", mnt.join("link"))?;
        Ok(())
    };
    let r = fill();
    run(Command::new("umount").arg(&mnt));
    r.unwrap();
    Img {
        _dir: dir,
        path: img,
    }
}

fn open(bytes: Vec<u8>) -> Box<dyn Filesystem> {
    gx_fs::open(Arc::new(MemDevice::new(bytes, false, "ntfs")), "ntfs").unwrap()
}

#[test]
fn tree_contents_stat_and_statvfs() {
    let img = make_ntfs();
    let before = std::fs::read(&img.path).unwrap();
    let dev: Device = Arc::new(MemDevice::new(before.clone(), true, "ntfs"));
    let fs = gx_fs::open(dev.clone(), "ntfs").unwrap();
    assert_eq!(fs.fs_type(), "ntfs");
    let mut root = vec![
        "A long file name.txt",
        "Deep",
        "big.bin",
        "empty.txt",
        "emptydir",
        "hardlink.txt",
        "hello.txt",
        "link",
        "many",
        "Ünïcödé ☃.txt",
    ];
    root.sort();
    // $MFT, $Extend and the other metadata files are hidden, as by ntfs-3g.
    assert_eq!(names(&*fs, "/"), root);
    assert_eq!(fs.read_dir("/many").unwrap().len(), 120);
    for (p, data) in tree() {
        let path = format!("/{p}");
        assert_eq!(fs.lstat(&path).unwrap().size, data.len() as u64, "{path}");
        assert_eq!(read_all(&*fs, &path, 4096), data, "{path}");
    }
    let big = pattern(1_000_000, 3);
    assert_eq!(read_all(&*fs, "/big.bin", 100_000 - 1), big);
    let mut buf = vec![0u8; 5000];
    assert_eq!(fs.read_at("/big.bin", 777_777, &mut buf).unwrap(), 5000);
    assert_eq!(&buf[..], &big[777_777..782_777]);
    assert_eq!(fs.read_at("/big.bin", 2_000_000, &mut buf).unwrap(), 0);

    // What ntfs-3g reports (see the module doc).
    let root = fs.lstat("/").unwrap();
    assert_eq!(
        (root.ino, root.mode, root.nlink, root.size, root.blocks),
        (5, 0o40777, 1, 4096, 8)
    );
    let hello = fs.lstat("/hello.txt").unwrap();
    assert_eq!(
        (
            hello.mode,
            hello.nlink,
            hello.size,
            hello.blocks,
            hello.blksize
        ),
        (0o100777, 2, 6, 1, 4096)
    );
    assert_eq!(fs.lstat("/hardlink.txt").unwrap().ino, hello.ino);
    assert!(hello.mtime.sec > 1_600_000_000 && hello.mtime.nsec % 100 == 0);
    let b = fs.lstat("/big.bin").unwrap();
    assert_eq!(b.blocks, 1_000_000u64.div_ceil(4096) * 8);
    let deep = fs.lstat("/Deep").unwrap();
    assert_eq!((deep.mode, deep.nlink, deep.size), (0o40777, 1, 0));
    let link = fs.lstat("/link").unwrap();
    assert_eq!(
        (link.file_type(), link.size, link.mode),
        (FileType::Symlink, 8, 0o120777)
    );
    assert_eq!(fs.readlink("/link").unwrap(), "Deep/a/b");
    assert!(fs.readlink("/hello.txt").is_err());
    let e = fs.read_dir("/").unwrap();
    let l = e.iter().find(|e| e.name == "link").unwrap();
    assert_eq!(l.file_type, FileType::Symlink);
    assert_eq!(
        e.iter().find(|e| e.name == "Deep").unwrap().file_type,
        FileType::Directory
    );
    assert_eq!(
        e.iter().find(|e| e.name == "empty.txt").unwrap().file_type,
        FileType::Regular
    );

    // Case-insensitive lookup through $UpCase, including non-ASCII.
    assert_eq!(read_all(&*fs, "/HELLO.TXT", 64), b"hello\n");
    assert_eq!(read_all(&*fs, "/üNÏCÖDÉ ☃.TXT", 64), b"unicode\n");
    assert_eq!(read_all(&*fs, "/deep/A/B/c/D/e/F/Leaf.Txt", 64), b"deep\n");
    assert_eq!(fs.lstat("/nope").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        fs.lstat("/hello.txt/x").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(fs.read_at("/Deep", 0, &mut [0; 4]).is_err());

    // statvfs: what ntfs-3g itself says of the same image.
    let v = fs.statvfs().unwrap();
    assert_eq!(statvfs_fields(&*fs), ntfs3g_statvfs(&img.path));
    assert_eq!(v.flag, 4097);
    drop(fs);
    let mut after = vec![0u8; before.len()];
    dev.read_at(&mut after, 0).unwrap();
    assert!(after == before, "image changed");
}

/// `[bsize, frsize, blocks, bfree, bavail, files, ffree, namemax]` of ours.
fn statvfs_fields(fs: &dyn Filesystem) -> [u64; 8] {
    let v = fs.statvfs().unwrap();
    [
        v.bsize, v.frsize, v.blocks, v.bfree, v.bavail, v.files, v.ffree, v.namemax,
    ]
}

/// The same fields as ntfs-3g reports them (libguestfs mounts NTFS with
/// ntfs-3g too): the image mounted read-only through FUSE, then `stat -f`.
fn ntfs3g_statvfs(img: &std::path::Path) -> [u64; 8] {
    let mnt = tempfile::tempdir().unwrap();
    run(Command::new("ntfs-3g")
        .args(["-o", "ro"])
        .arg(img)
        .arg(mnt.path()));
    let out = Command::new("stat")
        .args(["-f", "-c", "%s %S %b %f %a %c %d %l"])
        .arg(mnt.path())
        .output();
    run(Command::new("umount").arg(mnt.path()));
    let out = out.unwrap();
    assert!(out.status.success(), "stat -f on the ntfs-3g mount failed");
    let v: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    v.try_into().unwrap()
}

/// Other geometries than the tree test's: empty volumes with other cluster
/// and MFT record sizes, compared with ntfs-3g's own numbers.
#[test]
fn statvfs_matches_ntfs_3g_on_other_geometries() {
    for (mib, args) in [
        (20u64, &["-c", "1024"][..]),
        (48, &["-c", "8192"][..]),
        (40, &["-c", "512", "-s", "512"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("ntfs.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(mib << 20)
            .unwrap();
        run(Command::new("mkntfs")
            .args(["-F", "-f", "-q"])
            .args(args)
            .arg(&img));
        let fs = open(std::fs::read(&img).unwrap());
        assert_eq!(
            statvfs_fields(&*fs),
            ntfs3g_statvfs(&img),
            "{mib} MiB {args:?}"
        );
    }
}

// ---- hostile images -------------------------------------------------------

/// Byte offset of MFT record `rec` (fresh images keep the MFT contiguous).
fn record_offset(img: &[u8], rec: u64) -> usize {
    let bps = u64::from(u16::from_le_bytes([img[11], img[12]]));
    let spc = u64::from(img[13]);
    let mft_lcn = u64::from_le_bytes(img[0x30..0x38].try_into().unwrap());
    (mft_lcn * bps * spc + rec * 1024) as usize
}

#[test]
fn bad_attribute_lengths_are_corrupt() {
    let img = make_ntfs();
    let bytes = std::fs::read(&img.path).unwrap();
    let rec = open(bytes.clone()).lstat("/hello.txt").unwrap().ino;
    let off = record_offset(&bytes, rec);
    assert_eq!(&bytes[off..off + 4], b"FILE");
    let first_attr = usize::from(u16::from_le_bytes([bytes[off + 0x14], bytes[off + 0x15]]));
    for bad_len in [0u32, 3, 0x1000, 0xFFFF_FFFF] {
        let mut b = bytes.clone();
        let at = off + first_attr + 4;
        b[at..at + 4].copy_from_slice(&bad_len.to_le_bytes());
        let fs = open(b);
        let e = fs.lstat("/hello.txt").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "length {bad_len}: {e}");
        let e = fs.read_at("/hello.txt", 0, &mut [0; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "length {bad_len}: {e}");
        // The rest of the volume still reads.
        assert_eq!(read_all(&*fs, "/empty.txt", 8), b"");
        assert_eq!(read_all(&*fs, "/Deep/a/b/c/d/e/f/leaf.txt", 8), b"deep\n");
    }
    // A bad first-attribute offset in the record header.
    let mut b = bytes.clone();
    b[off + 0x14..off + 0x16].copy_from_slice(&0x3F0u16.to_le_bytes());
    let fs = open(b);
    assert!(fs.lstat("/hello.txt").is_err());
}

#[test]
fn index_cycle_is_corrupt() {
    let img = make_ntfs();
    let mut bytes = std::fs::read(&img.path).unwrap();
    // Find a leaf INDX record of /many (its entries name "file number").
    let needle: Vec<u8> = "file number"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let mut patched = false;
    let mut pos = 0;
    while let Some(i) = bytes[pos..].windows(4).position(|w| w == b"INDX") {
        let start = pos + i;
        pos = start + 4;
        if start % 512 != 0
            || !bytes[start..start + 4096]
                .windows(needle.len())
                .any(|w| w == needle)
        {
            continue;
        }
        let vcn = u64::from_le_bytes(bytes[start + 0x10..start + 0x18].try_into().unwrap());
        let hdr = start + 0x18;
        let entries_off = u32::from_le_bytes(bytes[hdr..hdr + 4].try_into().unwrap()) as usize;
        let used = u32::from_le_bytes(bytes[hdr + 4..hdr + 8].try_into().unwrap()) as usize;
        // Walk to the last entry and give it a subnode pointing at this record.
        let mut e = hdr + entries_off;
        loop {
            let len = usize::from(u16::from_le_bytes([bytes[e + 8], bytes[e + 9]]));
            let flags = bytes[e + 12];
            if flags & 2 != 0 {
                break;
            }
            e += len;
        }
        let vcn_at = e + 16;
        if (vcn_at % 512) + 8 > 510 || e - hdr + 24 > used + 8 + 64 {
            continue;
        }
        bytes[e + 8..e + 10].copy_from_slice(&24u16.to_le_bytes());
        bytes[e + 12] = 3;
        bytes[vcn_at..vcn_at + 8].copy_from_slice(&vcn.to_le_bytes());
        let new_used = (used + 8) as u32;
        bytes[hdr + 4..hdr + 8].copy_from_slice(&new_used.to_le_bytes());
        patched = true;
        break;
    }
    assert!(patched, "no leaf index record of /many found");
    let fs = open(bytes);
    let e = fs.read_dir("/many").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("twice"), "{e}");
    assert_eq!(read_all(&*fs, "/hello.txt", 64), b"hello\n");
}

#[test]
fn garbage_is_refused() {
    for data in [vec![0u8; 4096], vec![0xFFu8; 1 << 20], b"NTFS".repeat(1000)] {
        assert!(gx_fs::open(Arc::new(MemDevice::new(data, false, "junk")), "ntfs").is_err());
    }
    let img = make_ntfs();
    let bytes = std::fs::read(&img.path).unwrap();
    // The MFT's own record smashed: open or first use fails cleanly.
    let mut b = bytes.clone();
    let off = record_offset(&b, 0);
    b[off..off + 1024].fill(0x41);
    if let Ok(fs) = gx_fs::open(Arc::new(MemDevice::new(b, false, "x")), "ntfs") {
        assert!(fs.read_dir("/").is_err());
    }
}

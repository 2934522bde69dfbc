//! FAT reader tests on images made here with mkfs.vfat and mtools (which
//! `scripts/setup` installs). Expected values that are not plain file
//! contents come from libguestfs 1.48 (kernel vfat driver, mounted with
//! `guestfish --ro -a IMG run : mount-ro /dev/sda / : lstatns / statvfs`) on
//! images made the same way.
#![allow(clippy::unwrap_used)]

mod common;
use common::{Img, names, pattern, read_all};
use gx_disk::{Device, MemDevice};
use gx_fs::{ErrorKind, FileType, Filesystem};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn run(cmd: &mut Command) {
    let out = cmd.env("TZ", "UTC").output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} ({e}); run scripts/setup (dosfstools, mtools)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const LONG_UNICODE: &str = "Ünïcödé long name ☃.txt";

/// The tree every image gets: (path, contents); directories implied.
fn tree() -> Vec<(String, Vec<u8>)> {
    let mut v = vec![
        ("hello.txt".to_string(), b"hello\n".to_vec()),
        (
            "A long file name.txt".to_string(),
            b"long name content\n".to_vec(),
        ),
        ("UPPER.TXT".to_string(), b"x\n".to_vec()),
        ("lower.txt".to_string(), b"y\n".to_vec()),
        ("Mixed.Txt".to_string(), b"z\n".to_vec()),
        (LONG_UNICODE.to_string(), b"unicode\n".to_vec()),
        ("big.bin".to_string(), pattern(300_000, 7)),
        ("Deep/a/b/c/d/e/f/leaf.txt".to_string(), b"deep\n".to_vec()),
        ("empty.txt".to_string(), Vec::new()),
    ];
    for i in 0..150 {
        v.push((
            format!("many/file number {i:03}.dat"),
            pattern(i * 37, i as u32),
        ));
    }
    v
}

/// Make a FAT image of `size_mib` with `mkfs.vfat -F bits` holding [`tree`].
fn make_fat(bits: u32, size_mib: u64) -> Img {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for (p, data) in tree() {
        let f = src.join(&p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, data).unwrap();
    }
    std::fs::create_dir_all(src.join("emptydir")).unwrap();
    // Fixed mtime so times can be checked; mcopy -m keeps it.
    run(Command::new("find").arg(&src).args([
        "-exec",
        "touch",
        "-d",
        "2021-03-04 05:06:07",
        "{}",
        "+",
    ]));
    let img = dir.path().join(format!("fat{bits}.img"));
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(size_mib << 20).unwrap();
    drop(f);
    run(Command::new("mkfs.vfat")
        .args(["-F", &bits.to_string(), "-n", "TESTVOL", "-i", "12345678"])
        .arg(&img));
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    run(Command::new("mcopy")
        .args(["-s", "-m", "-i"])
        .arg(&img)
        .args(&entries)
        .arg("::/"));
    run(Command::new("mattrib")
        .args(["-i"])
        .arg(&img)
        .args(["+r", "::/UPPER.TXT"]));
    Img {
        _dir: dir,
        path: img,
    }
}

fn mem(path: &Path, writable: bool) -> Device {
    Arc::new(MemDevice::new(
        std::fs::read(path).unwrap(),
        writable,
        path.display().to_string(),
    ))
}

fn check_tree(fs: &dyn Filesystem) {
    assert_eq!(fs.fs_type(), "vfat");
    assert!(fs.case_insensitive());
    let mut root = vec![
        "A long file name.txt",
        "Deep",
        "Mixed.Txt",
        "UPPER.TXT",
        "big.bin",
        "empty.txt",
        "emptydir",
        "hello.txt",
        "lower.txt",
        "many",
        LONG_UNICODE,
    ];
    root.sort();
    assert_eq!(names(fs, "/"), root);
    assert_eq!(names(fs, "/Deep/a/b/c/d/e/f"), vec!["leaf.txt"]);
    assert!(names(fs, "/emptydir").is_empty());
    assert_eq!(fs.read_dir("/many").unwrap().len(), 150);
    for (p, data) in tree() {
        let path = format!("/{p}");
        let st = fs.lstat(&path).unwrap();
        assert_eq!(st.size, data.len() as u64, "{path}");
        assert_eq!(st.file_type(), FileType::Regular);
        assert_eq!(read_all(fs, &path, 4096), data, "{path}");
    }
    // A larger file in odd-sized chunks and from the middle.
    let big = pattern(300_000, 7);
    assert_eq!(read_all(fs, "/big.bin", 1000), big);
    let mut buf = vec![0u8; 10_000];
    assert_eq!(fs.read_at("/big.bin", 123_457, &mut buf).unwrap(), 10_000);
    assert_eq!(&buf[..], &big[123_457..133_457]);
    assert_eq!(fs.read_at("/big.bin", 299_990, &mut buf).unwrap(), 10);
    assert_eq!(fs.read_at("/big.bin", 400_000, &mut buf).unwrap(), 0);
}

fn check_stat(fs: &dyn Filesystem, cluster: u64) {
    let root = fs.lstat("/").unwrap();
    assert_eq!(root.ino, 1);
    assert_eq!(root.mode, 0o40755);
    assert_eq!(root.nlink, 2 + 3); // Deep, emptydir, many
    assert_eq!(root.mtime.sec, 0);
    let hello = fs.lstat("/hello.txt").unwrap();
    assert_eq!(hello.mode, 0o100755);
    assert_eq!(hello.nlink, 1);
    assert_eq!((hello.uid, hello.gid), (0, 0));
    assert_eq!(hello.blksize, cluster);
    assert_eq!(hello.blocks, cluster / 512);
    // 2021-03-04 05:06:07 UTC, rounded down to FAT's 2 s.
    assert_eq!(hello.mtime.sec, 1614834366);
    assert_eq!(hello.ctime.sec, 1614834366);
    assert_eq!(hello.atime.sec, 1614816000);
    assert_ne!(hello.ino, root.ino);
    assert_eq!(fs.lstat("/UPPER.TXT").unwrap().mode, 0o100555);
    let empty = fs.lstat("/empty.txt").unwrap();
    assert_eq!((empty.size, empty.blocks), (0, 0));
    let big = fs.lstat("/big.bin").unwrap();
    assert_eq!(big.blocks, 300_000u64.div_ceil(cluster) * cluster / 512);
    let deep = fs.lstat("/Deep").unwrap();
    assert_eq!(deep.mode, 0o40755);
    assert_eq!(deep.nlink, 3);
    assert_eq!(deep.size, cluster);
    assert_eq!(fs.lstat("/Deep/a/b/c/d/e/f").unwrap().nlink, 2);
    assert_eq!(fs.lstat("/emptydir").unwrap().nlink, 2);
    // Inode numbers from read_dir agree with lstat and are distinct.
    let mut inos = std::collections::HashSet::new();
    for e in fs.read_dir("/").unwrap() {
        assert_eq!(
            fs.lstat(&format!("/{}", e.name)).unwrap().ino,
            e.ino,
            "{}",
            e.name
        );
        assert!(inos.insert(e.ino));
    }
}

fn check_case(fs: &dyn Filesystem) {
    assert_eq!(read_all(fs, "/HELLO.TXT", 64), b"hello\n");
    assert_eq!(read_all(fs, "/HeLLo.txt", 64), b"hello\n");
    assert_eq!(
        read_all(fs, "/a LONG file NAME.TXT", 64),
        b"long name content\n"
    );
    // The 8.3 alias mtools gave the long name is found too, as on Linux.
    assert_eq!(read_all(fs, "/ALONGF~1.TXT", 64), b"long name content\n");
    assert_eq!(read_all(fs, "/deep/A/b/C/d/E/f/LEAF.txt", 64), b"deep\n");
    assert_eq!(fs.lstat("/nope").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        fs.lstat("/hello.txt/x").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(fs.readlink("/hello.txt").is_err());
    assert!(fs.read_at("/Deep", 0, &mut [0u8; 4]).is_err());
}

fn mtools_free_bytes(img: &Path) -> u64 {
    let out = Command::new("mdir")
        .args(["-i"])
        .arg(img)
        .arg("::/")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("bytes free")).unwrap();
    line.split("bytes")
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fn full_check(bits: u32, size_mib: u64) {
    let img = make_fat(bits, size_mib);
    let before = std::fs::read(&img.path).unwrap();
    // A writable device: the reader must still never write.
    let dev: Device = Arc::new(MemDevice::new(before.clone(), true, "fat"));
    let fs = gx_fs::open(dev.clone(), "vfat").unwrap();
    check_tree(&*fs);
    let vfs = fs.statvfs().unwrap();
    check_stat(&*fs, vfs.bsize);
    check_case(&*fs);
    assert_eq!(vfs.bfree * vfs.bsize, mtools_free_bytes(&img.path));
    assert_eq!(vfs.bavail, vfs.bfree);
    assert_eq!((vfs.files, vfs.ffree, vfs.namemax), (0, 0, 1530));
    drop(fs);
    let mut after = vec![0u8; before.len()];
    dev.read_at(&mut after, 0).unwrap();
    assert!(after == before, "image changed");
}

#[test]
fn fat12_tree_stat_case() {
    full_check(12, 4);
}

#[test]
fn fat16_tree_stat_case() {
    full_check(16, 16);
}

#[test]
fn fat32_tree_stat_case() {
    full_check(32, 64);
}

#[test]
fn statvfs_and_root_match_peer() {
    // The peer on a 16 MiB `mkfs.vfat -F 16` image: bsize 2048, blocks 8167;
    // root size 16384 (512 entries), blocks 32. On 64 MiB -F 32: bsize 512,
    // blocks 129022, root size 512.
    let img = make_fat(16, 16);
    let fs = gx_fs::open(mem(&img.path, false), "vfat").unwrap();
    let v = fs.statvfs().unwrap();
    assert_eq!(
        (v.bsize, v.frsize, v.blocks, v.flag),
        (2048, 2048, 8167, 4097)
    );
    let root = fs.lstat("/").unwrap();
    assert_eq!((root.size, root.blocks, root.blksize), (16384, 32, 2048));
    let img = make_fat(32, 64);
    let fs = gx_fs::open(mem(&img.path, false), "vfat").unwrap();
    let v = fs.statvfs().unwrap();
    assert_eq!((v.bsize, v.blocks), (512, 129022));
}

// ---- hostile images -------------------------------------------------------

struct Geom {
    bps: u64,
    fat_start: u64,
    root_start: u64,
    bits: u32,
}

fn geom(img: &[u8]) -> Geom {
    let le16 = |o: usize| u64::from(u16::from_le_bytes([img[o], img[o + 1]]));
    let le32 = |o: usize| {
        u64::from(u32::from_le_bytes([
            img[o],
            img[o + 1],
            img[o + 2],
            img[o + 3],
        ]))
    };
    let bps = le16(11);
    let fat16 = le16(22);
    let fat_len = if fat16 == 0 { le32(36) } else { fat16 };
    let fat_start = le16(14) * bps;
    let root_start = fat_start + u64::from(img[16]) * fat_len * bps;
    let total = if le16(19) != 0 { le16(19) } else { le32(32) };
    let data = root_start + le16(17) * 32;
    let clusters = (total * bps - data) / (u64::from(img[13]) * bps);
    let bits = if fat16 == 0 {
        32
    } else if clusters > 4084 {
        16
    } else {
        12
    };
    Geom {
        bps,
        fat_start,
        root_start,
        bits,
    }
}

/// First cluster and entry offset of the root-directory short entry `name11` (FAT12/16).
fn root_entry(img: &[u8], g: &Geom, name11: &[u8; 11]) -> (u32, usize) {
    let mut off = g.root_start as usize;
    loop {
        if &img[off..off + 11] == name11 {
            let c = u16::from_le_bytes([img[off + 26], img[off + 27]]);
            return (u32::from(c), off);
        }
        off += 32;
        assert!(off < (g.root_start + 512 * 32) as usize, "entry not found");
    }
}

fn set_fat(img: &mut [u8], g: &Geom, cluster: u32, value: u32) {
    assert_eq!(g.bits, 16);
    let _ = g.bps;
    let off = (g.fat_start + u64::from(cluster) * 2) as usize;
    img[off..off + 2].copy_from_slice(&(value as u16).to_le_bytes());
}

fn open_bytes(bytes: Vec<u8>) -> Box<dyn Filesystem> {
    gx_fs::open(Arc::new(MemDevice::new(bytes, false, "hostile")), "vfat").unwrap()
}

#[test]
fn directory_chain_cycle_is_corrupt() {
    let img = make_fat(16, 16);
    let mut bytes = std::fs::read(&img.path).unwrap();
    let g = geom(&bytes);
    // `many` spans several clusters; point its first cluster at itself.
    let (c, _) = root_entry(&bytes, &g, b"MANY       ");
    set_fat(&mut bytes, &g, c, c);
    let fs = open_bytes(bytes.clone());
    let e = fs.read_dir("/many").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("cycle"), "{e}");
    assert_eq!(fs.lstat("/many").unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(
        fs.read_at("/many/file number 001.dat", 0, &mut [0; 8])
            .unwrap_err()
            .kind(),
        ErrorKind::Corrupt
    );
    // Everything else still reads.
    assert_eq!(read_all(&*fs, "/hello.txt", 64), b"hello\n");
    // A longer cycle: second cluster points back to the first.
    let mut bytes2 = std::fs::read(&img.path).unwrap();
    let (c, _) = root_entry(&bytes2, &g, b"MANY       ");
    let off = (g.fat_start + u64::from(c) * 2) as usize;
    let second = u32::from(u16::from_le_bytes([bytes2[off], bytes2[off + 1]]));
    assert!((2..0xFFF0).contains(&second), "many should span clusters");
    set_fat(&mut bytes2, &g, second, c);
    let fs = open_bytes(bytes2);
    assert_eq!(fs.read_dir("/many").unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn file_chain_cycle_and_short_chain_are_corrupt() {
    let img = make_fat(16, 16);
    let bytes = std::fs::read(&img.path).unwrap();
    let g = geom(&bytes);
    let (c, _) = root_entry(&bytes, &g, b"BIG     BIN");
    let mut cyc = bytes.clone();
    set_fat(&mut cyc, &g, c + 3, c + 1);
    let fs = open_bytes(cyc);
    let e = fs
        .read_at("/big.bin", 0, &mut vec![0; 300_000])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    let mut short = bytes.clone();
    set_fat(&mut short, &g, c + 3, 0xFFFF);
    let fs = open_bytes(short);
    let e = fs.read_at("/big.bin", 290_000, &mut [0; 16]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("ends after"), "{e}");
    let mut free = bytes.clone();
    set_fat(&mut free, &g, c, 0);
    let fs = open_bytes(free);
    // The whole chain is checked before the first read (Linux would serve
    // the first cluster and fail later).
    assert_eq!(
        fs.read_at("/big.bin", 0, &mut [0; 16]).unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    assert_eq!(
        fs.read_at("/big.bin", 100_000, &mut [0; 16])
            .unwrap_err()
            .kind(),
        ErrorKind::Corrupt
    );
}

#[test]
fn cluster_out_of_range_is_corrupt() {
    let img = make_fat(16, 16);
    let bytes = std::fs::read(&img.path).unwrap();
    let g = geom(&bytes);
    // A directory entry whose first cluster is past the volume.
    let mut bad = bytes.clone();
    let (_, off) = root_entry(&bad, &g, b"HELLO   TXT");
    bad[off + 26..off + 28].copy_from_slice(&0xFFF0u16.to_le_bytes());
    let fs = open_bytes(bad);
    let e = fs.read_at("/hello.txt", 0, &mut [0; 6]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert_eq!(fs.lstat("/hello.txt").unwrap().size, 6);
    // A FAT entry that points past the volume.
    let mut bad = bytes.clone();
    let (c, _) = root_entry(&bad, &g, b"BIG     BIN");
    set_fat(&mut bad, &g, c, 0xFFF0);
    let fs = open_bytes(bad);
    assert_eq!(
        fs.read_at("/big.bin", 10_000, &mut [0; 6])
            .unwrap_err()
            .kind(),
        ErrorKind::Corrupt
    );
    // A subdirectory at cluster 1.
    let mut bad = bytes.clone();
    let (_, off) = root_entry(&bad, &g, b"DEEP       ");
    bad[off + 26..off + 28].copy_from_slice(&1u16.to_le_bytes());
    let fs = open_bytes(bad);
    assert_eq!(fs.read_dir("/Deep").unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn bad_boot_sectors_are_refused() {
    let img = make_fat(16, 16);
    let bytes = std::fs::read(&img.path).unwrap();
    for (off, val) in [
        (11usize, 0u8),
        (13, 3),
        (13, 0),
        (14, 0),
        (16, 0),
        (22, 0),
        (17, 0),
    ] {
        let mut b = bytes.clone();
        b[off] = val;
        if off == 11 {
            b[12] = 0;
        }
        if off == 14 {
            b[15] = 0;
        }
        if off == 22 {
            b[23] = 0;
        }
        if off == 17 {
            b[18] = 0;
        }
        let r = gx_fs::open(Arc::new(MemDevice::new(b, false, "bad")), "vfat");
        match r {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Corrupt, "byte {off}: {e}"),
            // A FAT16 with its 16-bit FAT length cleared reads as FAT32 and
            // must then fail on first use, not at open.
            Ok(fs) => assert!(fs.read_dir("/").is_err(), "byte {off}"),
        }
    }
    // A truncated image: open may succeed but reads past the end are errors.
    let r = gx_fs::open(
        Arc::new(MemDevice::new(bytes[..40_000].to_vec(), false, "short")),
        "vfat",
    );
    if let Ok(fs) = r {
        assert!(fs.read_at("/big.bin", 0, &mut [0; 100]).is_err());
    }
    assert!(
        gx_fs::open(
            Arc::new(MemDevice::new(vec![0; 100], false, "tiny")),
            "vfat"
        )
        .is_err()
    );
}

#[test]
fn fat32_root_chain_cycle_is_corrupt() {
    let img = make_fat(32, 64);
    let mut bytes = std::fs::read(&img.path).unwrap();
    let g = geom(&bytes);
    assert_eq!(g.bits, 32);
    let root = u32::from_le_bytes(bytes[44..48].try_into().unwrap());
    let off = (g.fat_start + u64::from(root) * 4) as usize;
    bytes[off..off + 4].copy_from_slice(&root.to_le_bytes());
    let fs = open_bytes(bytes);
    assert_eq!(fs.read_dir("/").unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(
        fs.lstat("/hello.txt").unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    // statvfs needs only the FAT.
    assert!(fs.statvfs().is_ok());
}

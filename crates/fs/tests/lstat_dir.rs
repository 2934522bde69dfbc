//! Readdir-plus (`Filesystem::lstat_dir`) on FAT, NTFS and XFS, on every
//! test image images/build.sh makes with those filesystems (whole images
//! and partitions; filesystems inside LVM or LUKS are not reached here).
//!
//! Two checks on every directory of every image:
//! - against the host's own reader of the format, which shares no code
//!   with ours: mtools' `mdir` (FAT: names in on-disk order, type, size,
//!   mtime to the minute, and a directory's link count as Linux's vfat
//!   computes it, from the `<DIR>` entries `mdir -a` lists), ntfs-3g's
//!   `ntfsls` (NTFS: names, MFT record numbers, sizes, mtime to the
//!   minute), `xfs_db` (XFS: `ls` for names, inode numbers
//!   and types, `print` of each inode's core for mode, link count,
//!   owner, size and block count);
//! - against `read_dir` plus `lstat` of each path, the per-entry route the
//!   Handle takes without readdir-plus: the tools' outputs, compared with
//!   libguestfs's elsewhere, must not change with the route.
#![allow(clippy::unwrap_used)]

use gx_disk::Device;
use gx_fs::{DirEntry, FileType, Filesystem, Stat};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// (image, first sector of the partition or 0 for a whole image, type).
const IMAGES: &[(&str, u64, &str)] = &[
    ("linux.img", 2048, "vfat"),
    ("multi.img", 2048, "vfat"),
    ("multi.img", 34816, "vfat"),
    ("lvm-rhel9.img", 2048, "vfat"),
    ("libguestfs-coreos.img", 4096, "vfat"),
    ("probe/vfat-fat12.img", 0, "vfat"),
    ("windows.img", 2048, "ntfs"),
    ("probe/ntfs.img", 0, "ntfs"),
    ("xfs.img", 0, "xfs"),
    ("xfs-v4.img", 0, "xfs"),
    ("bigtree-xfs.img", 0, "xfs"),
    ("probe/xfs.img", 0, "xfs"),
    ("lvm-rhel9.img", 34816, "xfs"),
];

/// The filesystem as a file of its own: the host's tools take no offset.
struct Volume {
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

fn volume(name: &str, sector: u64) -> Volume {
    let img = gx_testdata::image(name);
    if sector == 0 {
        return Volume {
            _dir: None,
            path: img,
        };
    }
    let raw = gx_disk::RawDevice::open_ro(&img).unwrap();
    let dev: Device = Arc::new(raw);
    let table = gx_disk::partition::read_partitions(dev.as_ref())
        .unwrap()
        .unwrap();
    let p = table
        .partitions
        .iter()
        .find(|p| p.start == sector * 512)
        .unwrap_or_else(|| panic!("{name}: no partition at sector {sector}"));
    let mut data = vec![0u8; usize::try_from(p.size).unwrap()];
    dev.read_at(&mut data, p.start).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("part.img");
    std::fs::write(&path, data).unwrap();
    Volume {
        _dir: Some(dir),
        path,
    }
}

fn tool(cmd: &mut Command) -> String {
    let out = cmd.env("TZ", "UTC").env("MTOOLS_SKIP_CHECK", "1").output();
    let out = out.unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} ({e}): scripts/setup installs mtools, ntfs-3g and xfsprogs")
    });
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn child(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Every directory's readdir-plus, walked from the root, checked against
/// read_dir and per-path lstat; `oracle` checks it against a host tool.
/// Checks one directory: its path, its own stat, its readdir-plus.
type Oracle<'a> = dyn FnMut(&str, &Stat, &[(DirEntry, Stat)]) + 'a;

fn walk(fs: &dyn Filesystem, oracle: &mut Oracle<'_>) -> usize {
    let mut todo = vec!["/".to_string()];
    let mut n = 0;
    while let Some(dir) = todo.pop() {
        let plus = fs.lstat_dir(&dir).unwrap();
        let plain = fs.read_dir(&dir).unwrap();
        assert_eq!(
            plus.iter().map(|(e, _)| e).collect::<Vec<_>>(),
            plain.iter().collect::<Vec<_>>(),
            "{dir}: lstat_dir and read_dir disagree"
        );
        for (e, st) in &plus {
            let p = child(&dir, &e.name);
            assert_eq!(&fs.lstat(&p).unwrap(), st, "{p}");
            if st.file_type() == FileType::Directory {
                todo.push(p);
            }
        }
        oracle(&dir, &fs.lstat(&dir).unwrap(), &plus);
        n += plus.len();
    }
    n
}

/// The probe images and the CoreOS ESP hold empty filesystems; every
/// other one has a tree.
fn check_counts(counts: &[(String, usize)]) {
    eprintln!("entries checked: {counts:?}");
    for (what, n) in counts {
        let empty = what.starts_with("probe/") || what.starts_with("libguestfs-coreos");
        assert!(*n > 0 || empty, "{what}: no entries");
    }
}

fn open(vol: &Volume, ty: &str) -> Box<dyn Filesystem> {
    let dev: Device = Arc::new(gx_disk::RawDevice::open_ro(&vol.path).unwrap());
    gx_fs::open(dev, ty).unwrap()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD H:MM` of a Unix time, as mdir prints it.
fn mdir_time(sec: i64) -> String {
    let (y, m, d) = civil(sec.div_euclid(86_400));
    let s = sec.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {}:{:02}", s / 3600, s / 60 % 60)
}

/// One line of `mdir -a`: name, size (None for a directory), time.
fn mdir(img: &Path, dir: &str) -> Vec<(String, Option<u64>, String)> {
    let out = tool(
        Command::new("mdir")
            .arg("-a")
            .arg("-i")
            .arg(img)
            .arg(format!("::{dir}")),
    );
    let mut v = Vec::new();
    for line in out.lines() {
        // NAME8 EXT3 then the size (with spaces as thousands separators)
        // or <DIR>, the date, the time, and the long name if any.
        let Some(rest) = line.get(13..) else { continue };
        let tokens: Vec<&str> = rest.split_whitespace().collect();
        let Some(di) = tokens
            .iter()
            .position(|t| t.len() == 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-')
        else {
            continue;
        };
        let Some(time) = tokens.get(di + 1) else {
            continue;
        };
        let size_text: String = tokens[..di].concat();
        let size = if size_text == "<DIR>" {
            None
        } else {
            Some(size_text.parse().unwrap())
        };
        let short_base = line[..8].trim_end();
        let short_ext = line[9..12].trim_end();
        let at = rest.find(time).unwrap() + time.len();
        let long = rest[at..].trim();
        let name = if !long.is_empty() {
            long.to_string()
        } else if short_ext.is_empty() {
            short_base.to_string()
        } else {
            format!("{short_base}.{short_ext}")
        };
        v.push((name, size, format!("{} {time}", tokens[di])));
    }
    v
}

/// A FAT volume made here (`mkfs.vfat -F bits`, then mcopy): the test
/// images' FAT trees are small, this one has long, Unicode and 8.3 names,
/// a directory spanning clusters, a read-only file and nesting.
fn made_fat(bits: u32) -> Volume {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for d in 0..12 {
        let sub = src.join(format!("Dir number {d:02}"));
        std::fs::create_dir_all(sub.join("inner/DEEPER")).unwrap();
        for f in 0..(d * 9) {
            std::fs::write(sub.join(format!("file {f:03} ☃.txt")), vec![b'x'; f * 10]).unwrap();
        }
        std::fs::write(sub.join("inner/DEEPER/SHORT.TXT"), b"s").unwrap();
    }
    std::fs::write(src.join("README"), b"read me").unwrap();
    std::fs::write(src.join("ro.txt"), b"read-only").unwrap();
    let img = dir.path().join("fat.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(match bits {
            12 => 2 << 20,
            16 => 8 << 20,
            _ => 64 << 20,
        })
        .unwrap();
    let spc = if bits == 12 { "2" } else { "1" };
    tool(
        Command::new("mkfs.vfat")
            .args(["-F", &bits.to_string(), "-s", spc])
            .arg(&img),
    );
    let mut top: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    top.sort();
    tool(
        Command::new("mcopy")
            .args(["-s", "-m", "-i"])
            .arg(&img)
            .args(&top)
            .arg("::/"),
    );
    tool(
        Command::new("mattrib")
            .arg("-i")
            .arg(&img)
            .args(["+r", "::/ro.txt"]),
    );
    Volume {
        _dir: Some(dir),
        path: img,
    }
}

#[test]
fn fat_lstat_dir_matches_mdir() {
    let mut counts = Vec::new();
    let mut vols: Vec<(String, Volume)> = IMAGES
        .iter()
        .filter(|i| i.2 == "vfat")
        .map(|&(name, sector, _)| (format!("{name}@{sector}"), volume(name, sector)))
        .collect();
    for bits in [12, 16, 32] {
        vols.push((format!("made FAT{bits}"), made_fat(bits)));
    }
    for (what, vol) in vols {
        let fs = open(&vol, "vfat");
        let n = walk(fs.as_ref(), &mut |dir, here, plus| {
            let listed = mdir(&vol.path, dir);
            let dirs = listed.iter().filter(|l| l.1.is_none()).count() as u64;
            // Linux counts `.` and `..` (the root has none: it adds 2).
            let nlink = if dir == "/" { dirs + 2 } else { dirs };
            assert_eq!(here.nlink, nlink, "{what} {dir}: nlink");
            let listed: Vec<_> = listed
                .into_iter()
                .filter(|l| l.0 != "." && l.0 != "..")
                .collect();
            assert_eq!(plus.len(), listed.len(), "{what} {dir}: {listed:?}");
            for ((e, st), (lname, lsize, ltime)) in plus.iter().zip(&listed) {
                assert_eq!(&e.name, lname, "{what} {dir}");
                match lsize {
                    None => assert_eq!(st.file_type(), FileType::Directory, "{what} {lname}"),
                    Some(s) => {
                        assert_eq!(st.file_type(), FileType::Regular, "{what} {lname}");
                        assert_eq!(st.size, *s, "{what} {lname}");
                    }
                }
                assert_eq!(&mdir_time(st.mtime.sec), ltime, "{what} {dir}/{lname}");
            }
        });
        counts.push((what, n));
    }
    check_counts(&counts);
}

/// `ntfsls -l -i` of a directory: (record, size, name) per entry, `.`,
/// `..` and NTFS's own metadata files (records below 16) left out, as
/// ntfs-3g's readdir leaves them out.
fn ntfsls(img: &Path, dir: &str) -> Vec<(u64, u64, String, String)> {
    let out = tool(
        Command::new("ntfsls")
            .args(["-a", "-s", "-i", "-l", "-p", dir])
            .arg(img),
    );
    out.lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let ino: u64 = t.first()?.parse().ok()?;
            let size: u64 = t.get(1)?.parse().ok()?;
            // ino size Mon D HH:MM YYYY name...
            let when = format!("{} {} {} {}", t.get(2)?, t.get(3)?, t.get(4)?, t.get(5)?);
            let mut rest = l;
            for tok in &t[..6] {
                rest = &rest[rest.find(tok)? + tok.len()..];
            }
            let name = rest.strip_prefix(' ')?.to_string();
            (ino >= 16 && name != "." && name != "..").then_some((ino, size, when, name))
        })
        .collect()
}

/// `Mon D HH:MM YYYY` of a Unix time, as ntfsls prints it (UTC).
fn ntfsls_time(sec: i64) -> String {
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil(sec.div_euclid(86_400));
    let s = sec.rem_euclid(86_400);
    format!(
        "{} {d} {:02}:{:02} {y}",
        MON[(m - 1) as usize],
        s / 3600,
        s / 60 % 60
    )
}

/// An NTFS volume written here through ntfs-3g: windows.img's tree is
/// small; this one has a directory whose index needs several index
/// records (a B-tree with subnodes), Unicode names, a hard link, and the
/// symlink and FIFO ntfs-3g stores as Interix system files.
fn made_ntfs() -> Volume {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ntfs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    tool(
        Command::new("mkntfs")
            .args(["-F", "-f", "-q", "-L", "WALK"])
            .arg(&img),
    );
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    tool(Command::new("ntfs-3g").arg(&img).arg(&mnt));
    let fill = || -> std::io::Result<()> {
        for d in 0..4 {
            let sub = mnt.join(format!("Dir {d}/inner"));
            std::fs::create_dir_all(&sub)?;
            for f in 0..(d * 120) {
                std::fs::write(sub.join(format!("file {f:03} ☃.txt")), vec![b'n'; f * 7])?;
            }
        }
        std::fs::write(mnt.join("hello.txt"), b"hello")?;
        std::fs::hard_link(mnt.join("hello.txt"), mnt.join("hardlink.txt"))?;
        std::os::unix::fs::symlink("Dir 1/inner", mnt.join("link"))?;
        tool(Command::new("mkfifo").arg(mnt.join("fifo")));
        Ok(())
    };
    let r = fill();
    tool(Command::new("umount").arg(&mnt));
    r.unwrap();
    Volume {
        _dir: Some(dir),
        path: img,
    }
}

#[test]
fn ntfs_lstat_dir_matches_ntfsls() {
    let mut counts = Vec::new();
    let mut vols: Vec<(String, Volume)> = IMAGES
        .iter()
        .filter(|i| i.2 == "ntfs")
        .map(|&(name, sector, _)| (format!("{name}@{sector}"), volume(name, sector)))
        .collect();
    if std::path::Path::new("/dev/fuse").exists() {
        vols.push(("made NTFS".to_string(), made_ntfs()));
    } else {
        gx_testdata::skip_or_fail!("ntfs_lstat_dir_matches_ntfsls: no /dev/fuse for ntfs-3g");
    }
    for (what, vol) in vols {
        let fs = open(&vol, "ntfs");
        let n = walk(fs.as_ref(), &mut |dir, _, plus| {
            let listed = ntfsls(&vol.path, dir);
            let got: Vec<_> = plus
                .iter()
                .map(|(e, st)| {
                    let size = if st.file_type() == FileType::Regular {
                        st.size
                    } else {
                        0
                    };
                    (st.ino, size, ntfsls_time(st.mtime.sec), e.name.clone())
                })
                .collect();
            let listed: Vec<_> = listed
                .into_iter()
                .zip(plus)
                .map(|((ino, size, when, n), (_, st))| {
                    // ntfsls sizes a directory 0 and marks it with a slash;
                    // it gives a symlink's or special file's data size, not
                    // what ntfs-3g's stat says (only regular sizes compared).
                    let dir = n.ends_with('/');
                    let n = n.strip_suffix('/').map_or(n.clone(), str::to_string);
                    let regular = st.file_type() == FileType::Regular;
                    (ino, if dir || !regular { 0 } else { size }, when, n)
                })
                .collect();
            // In libntfs's readdir order (ntfsls, ntfs-3g): the index
            // root's entries, then each index record's in VCN order.
            for (g, l) in got.iter().zip(&listed) {
                assert_eq!(g, l, "{what} {dir}");
            }
            assert_eq!(got.len(), listed.len(), "{what} {dir}: {got:?} {listed:?}");
            for (e, st) in plus {
                assert_eq!(e.ino, st.ino, "{what} {dir}/{}", e.name);
            }
        });
        counts.push((what, n));
    }
    check_counts(&counts);
}

fn xfs_field(out: &str, name: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(" = "))
        .map(|v| {
            let v = v.split_whitespace().next().unwrap();
            match v.strip_prefix('0') {
                Some(oct) if !oct.is_empty() => u64::from_str_radix(oct, 8).unwrap(),
                _ => v.parse().unwrap(),
            }
        })
        .collect()
}

#[test]
fn xfs_lstat_dir_matches_xfs_db() {
    let mut counts = Vec::new();
    for &(name, sector, ty) in IMAGES.iter().filter(|i| i.2 == "xfs") {
        let vol = volume(name, sector);
        let fs = open(&vol, ty);
        let what = format!("{name}@{sector}");
        let n = walk(fs.as_ref(), &mut |dir, here, plus| {
            let mut args = vec![
                "-r".to_string(),
                "-c".into(),
                "sb 0".into(),
                "-c".into(),
                "print blocksize".into(),
                "-c".into(),
                format!("inode {}", here.ino),
                "-c".into(),
                "ls".into(),
            ];
            for (_, st) in plus {
                args.extend([
                    "-c".into(),
                    format!("inode {}", st.ino),
                    "-c".into(),
                    "print core.mode core.uid core.gid core.size core.nblocks".into(),
                    "-c".into(),
                    // v1 inodes (old v4 filesystems) keep the count in onlink.
                    "print core.nlinkv2".into(),
                ]);
            }
            let out = tool(Command::new("xfs_db").args(&args).arg(&vol.path));
            // `ls`: offset, inode, type, hash, name length, name, "(good)".
            let mut listed = Vec::new();
            for l in out.lines() {
                let t: Vec<&str> = l.split_whitespace().collect();
                if t.len() < 7 || !l.ends_with("(good)") || t[3].get(..2) != Some("0x") {
                    continue;
                }
                let len: usize = t[4].parse().unwrap();
                let mut rest = l;
                for tok in &t[..5] {
                    rest = &rest[rest.find(tok).unwrap() + tok.len()..];
                }
                let nm = &rest[1..1 + len];
                if nm != "." && nm != ".." {
                    listed.push((
                        t[1].parse::<u64>().unwrap(),
                        t[2].to_string(),
                        nm.to_string(),
                    ));
                }
            }
            let got: Vec<_> = plus
                .iter()
                .map(|(e, st)| {
                    let t = match st.file_type() {
                        FileType::Regular => "regular",
                        FileType::Directory => "directory",
                        FileType::Symlink => "symlink",
                        FileType::CharDevice => "chardev",
                        FileType::BlockDevice => "blkdev",
                        FileType::Fifo => "fifo",
                        FileType::Socket => "socket",
                        FileType::Unknown => "unknown",
                    };
                    (st.ino, t.to_string(), e.name.clone())
                })
                .collect();
            // A v4 filesystem without ftype: xfs_db cannot say the type.
            let listed: Vec<_> = listed
                .into_iter()
                .zip(&got)
                .map(|(l, g)| {
                    if l.1 == "unknown" {
                        (l.0, g.1.clone(), l.2)
                    } else {
                        l
                    }
                })
                .collect();
            assert_eq!(got, listed, "{what} {dir}");
            let (modes, uids, gids) = (
                xfs_field(&out, "core.mode"),
                xfs_field(&out, "core.uid"),
                xfs_field(&out, "core.gid"),
            );
            let (sizes, nblocks, nlinks) = (
                xfs_field(&out, "core.size"),
                xfs_field(&out, "core.nblocks"),
                xfs_field(&out, "core.nlinkv2"),
            );
            assert_eq!(modes.len(), plus.len(), "{what} {dir}: {out}");
            let sectors = xfs_field(&out, "blocksize")[0] / 512;
            for (i, (e, st)) in plus.iter().enumerate() {
                let p = format!("{what} {}", child(dir, &e.name));
                assert_eq!(u64::from(st.mode), modes[i], "{p}: mode");
                assert_eq!(u64::from(st.uid), uids[i], "{p}: uid");
                assert_eq!(u64::from(st.gid), gids[i], "{p}: gid");
                assert_eq!(st.size, sizes[i], "{p}: size");
                assert_eq!(st.blocks, nblocks[i] * sectors, "{p}: blocks");
                assert_eq!(st.nlink, nlinks[i], "{p}: nlink");
            }
        });
        counts.push((what, n));
    }
    check_counts(&counts);
}

//! The XFS reader against images/build.sh's XFS images (mkfs.xfs protofiles
//! plus xfs_db): what it reports must match the source trees the images were
//! built from (the manifests build.sh writes from the host's view of them),
//! xfs_db (inode numbers, link and block counts, superblock counters) and
//! the build recipe (attributes). Damaged copies must give clear errors,
//! never panics. The kernel's view of the same images is compared in
//! crates/guestfs/tests/engines.rs and by the peer outputs of the tools.
#![allow(clippy::unwrap_used)]

mod common;
use common::read_all;
use gx_disk::{Device, ErrorKind, MemDevice};
use gx_fs::{FileType, Filesystem, XfsFs};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// 2024-01-02 03:04:05 UTC: images/build.sh's SOURCE_DATE_EPOCH (and the
/// faked clock mkfs.xfs ran under).
const EPOCH: i64 = 1_704_164_645;

fn device(img: &Path) -> Device {
    Arc::new(gx_disk::RawDevice::open_ro(img).unwrap())
}

fn open(name: &str) -> Box<dyn Filesystem> {
    gx_fs::open(device(&gx_testdata::image(name)), "xfs").unwrap()
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One manifest line: type, mode, uid, gid, size, extra.
type Manifest = BTreeMap<String, (String, u32, u32, u32, u64, String)>;

fn manifest(name: &str) -> Manifest {
    let text = std::fs::read_to_string(gx_testdata::image(name)).unwrap();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                (
                    f[1].to_string(),
                    u32::from_str_radix(f[2], 8).unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                    f[6].to_string(),
                ),
            )
        })
        .collect()
}

/// Every path below `/` as the reader sees it, in the manifest's terms.
fn walk(fs: &dyn Filesystem) -> Manifest {
    let mut out = Manifest::new();
    let mut todo = vec!["/".to_string()];
    while let Some(dir) = todo.pop() {
        for e in fs.read_dir(&dir).unwrap() {
            let p = if dir == "/" {
                format!("/{}", e.name)
            } else {
                format!("{dir}/{}", e.name)
            };
            let st = fs.lstat(&p).unwrap();
            assert_eq!(st.ino, e.ino, "{p}: directory entry and inode disagree");
            assert_eq!(st.file_type(), e.file_type, "{p}: ftype");
            assert_eq!(st.mtime.sec, EPOCH, "{p}: mtime");
            let (t, size, extra) = match st.file_type() {
                FileType::Directory => {
                    todo.push(p.clone());
                    ("d", 0, String::new())
                }
                FileType::Regular => {
                    let data = read_all(fs, &p, 65536);
                    assert_eq!(data.len() as u64, st.size, "{p}");
                    ("f", st.size, sha256(&data))
                }
                FileType::Symlink => ("l", st.size, fs.readlink(&p).unwrap()),
                FileType::CharDevice => ("c", 0, dev(st.rdev)),
                FileType::BlockDevice => ("b", 0, dev(st.rdev)),
                FileType::Fifo => ("p", 0, String::new()),
                t => panic!("{p}: unexpected type {t:?}"),
            };
            out.insert(
                p,
                (t.to_string(), st.mode & 0o7777, st.uid, st.gid, size, extra),
            );
        }
    }
    out
}

fn dev(rdev: u64) -> String {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    format!("{major}:{minor}")
}

fn assert_same(got: &Manifest, want: &Manifest, what: &str) {
    for (p, w) in want {
        assert_eq!(got.get(p), Some(w), "{what} {p}");
    }
    for p in got.keys() {
        assert!(want.contains_key(p), "{what} {p}: not in the source tree");
    }
}

#[test]
fn v5_image_matches_its_source_tree() {
    let fs = open("xfs.img");
    assert_eq!(fs.fs_type(), "xfs");
    let got = walk(fs.as_ref());
    assert_same(&got, &manifest("xfs.manifest"), "xfs.img");
    assert!(got.len() > 8000, "{}", got.len());
}

#[test]
fn v4_image_matches_its_source_tree() {
    let fs = open("xfs-v4.img");
    assert_same(
        &walk(fs.as_ref()),
        &manifest("xfs-v4.manifest"),
        "xfs-v4.img",
    );
}

/// Runs xfs_db read-only with `cmds` on `img`; its stdout.
fn xfs_db(img: &Path, cmds: &[String]) -> String {
    let mut c = Command::new("xfs_db");
    c.arg("-r");
    for cmd in cmds {
        c.arg("-c").arg(cmd);
    }
    let out = c
        .arg(img)
        .output()
        .expect("xfs_db (xfsprogs) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `name = value` lines of xfs_db output, in order.
fn values(out: &str, name: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(&format!("{name} = ")))
        .map(|v| v.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn inode_numbers_links_and_blocks_match_xfs_db() {
    for name in ["xfs.img", "xfs-v4.img"] {
        let img = gx_testdata::image(name);
        let fs = gx_fs::open(device(&img), "xfs").unwrap();
        let paths = [
            "/",
            "/etc/hostname",
            "/dirs",
            "/dirs/sf",
            "/dirs/node",
            "/dirs/leaf/leaf-entry-123",
            "/files/blob-4M.bin",
            "/files/odd.bin",
            "/links/long",
            "/links/short",
            "/devs/null",
            "/prealloc",
            "/deep/l01/l02/l03",
        ];
        let mut cmds = Vec::new();
        for p in paths {
            cmds.push(format!("path {p}"));
            cmds.push("inode".to_string());
            cmds.push("print core.nblocks core.size".to_string());
        }
        let out = xfs_db(&img, &cmds);
        let inos: Vec<u64> = out
            .lines()
            .filter_map(|l| l.strip_prefix("current inode number is "))
            .map(|v| v.trim().parse().unwrap())
            .collect();
        let nblocks = values(&out, "core.nblocks");
        let sizes = values(&out, "core.size");
        assert_eq!(inos.len(), paths.len(), "{out}");
        for (i, p) in paths.iter().enumerate() {
            let st = fs.lstat(p).unwrap();
            assert_eq!(st.ino, inos[i], "{name} {p}: ino");
            assert_eq!(st.blocks, nblocks[i] * 8, "{name} {p}: blocks");
            assert_eq!(st.size, sizes[i], "{name} {p}: size");
            assert_eq!(st.blksize, 4096);
        }
        // Link counts: directories have 2 + subdirectories (counted in the
        // source tree's manifest), everything else 1 (no hard links).
        let m = manifest(if name == "xfs.img" {
            "xfs.manifest"
        } else {
            "xfs-v4.manifest"
        });
        for p in ["/", "/dirs", "/deep", "/files", "/files/small.txt"] {
            let subdirs = m
                .iter()
                .filter(|(q, v)| {
                    v.0 == "d"
                        && q.rsplit_once('/')
                            .map(|(d, _)| if d.is_empty() { "/" } else { d })
                            == Some(p)
                })
                .count() as u64;
            let want = if p.ends_with(".txt") { 1 } else { 2 + subdirs };
            assert_eq!(fs.lstat(p).unwrap().nlink, want, "{name} {p}: nlink");
        }
    }
}

#[test]
fn statvfs_blocks_and_free_space_match_the_superblock() {
    for name in ["xfs.img", "xfs-v4.img", "bigtree-xfs.img"] {
        let img = gx_testdata::image(name);
        let fs = gx_fs::open(device(&img), "xfs").unwrap();
        let out = xfs_db(&img, &["sb 0".into(), "print".into()]);
        let get = |f: &str| values(&out, f)[0];
        let st = fs.statvfs().unwrap();
        assert_eq!(st.bsize, get("blocksize"), "{name}");
        assert_eq!(st.blocks, get("dblocks") - get("logblocks"), "{name}");
        // A read-only mount withholds 8 blocks per AG (xfs_alloc_set_aside)
        // and nothing else.
        assert_eq!(st.bfree, get("fdblocks") - 8 * get("agcount"), "{name}");
        assert_eq!(st.bavail, st.bfree);
        assert_eq!(st.files - st.ffree, get("icount") - get("ifree"), "{name}");
        assert_eq!(st.namemax, 255);
    }
}

#[test]
fn sparse_bmbt_file_reads_holes_and_unwritten_extents_as_zeros() {
    let fs = open("xfs.img");
    let st = fs.lstat("/frag/frag.bin").unwrap();
    assert_eq!(st.size, 77 * 4096 + 123);
    // 39 data blocks and the bmbt leaf.
    assert_eq!(st.blocks, 40 * 8);
    // Reads that start and end anywhere: block 2k is source block k, or
    // zeros when k % 5 == 4; odd blocks are holes.
    let expect = |off: u64| -> u8 {
        let blk = off / 4096;
        if blk % 2 == 1 || blk >= 77 {
            return 0;
        }
        let k = blk / 2;
        if k % 5 == 4 { 0 } else { 65 + (k % 26) as u8 }
    };
    for (off, len) in [
        (0u64, 10usize),
        (4090, 20),
        (8191, 3),
        (16 * 4096 + 5, 9000),
        (315_000, 1000),
    ] {
        let mut buf = vec![0xeeu8; len];
        let n = fs.read_at("/frag/frag.bin", off, &mut buf).unwrap();
        let want_n = (st.size.saturating_sub(off) as usize).min(len);
        assert_eq!(n, want_n, "read at {off}");
        for (i, b) in buf[..n].iter().enumerate() {
            assert_eq!(*b, expect(off + i as u64), "byte {}", off + i as u64);
        }
    }
}

#[test]
fn xattrs_in_every_form_match_the_recipe() {
    let fs = open("xfs.img");
    let v = |n: usize| vec![b'v'; n];
    let sf = fs.lgetxattrs("/xattr/sf").unwrap();
    assert_eq!(
        sf.iter()
            .map(|a| (a.attrname.as_str(), a.attrval.clone()))
            .collect::<Vec<_>>(),
        vec![("user.small", v(10)), ("security.selinux", v(28))]
    );
    let mut leaf: Vec<_> = fs
        .lgetxattrs("/xattr/leaf")
        .unwrap()
        .into_iter()
        .map(|a| (a.attrname, a.attrval))
        .collect();
    leaf.sort();
    let want: Vec<_> = (0..40)
        .map(|i| (format!("user.attr-{i:02}"), v(20)))
        .collect();
    assert_eq!(leaf, want);
    let mut node: Vec<_> = fs
        .lgetxattrs("/xattr/node")
        .unwrap()
        .into_iter()
        .map(|a| (a.attrname, a.attrval))
        .collect();
    node.sort();
    let want: Vec<_> = (0..300)
        .map(|i| (format!("user.node-attribute-{i:03}"), v(30)))
        .collect();
    assert_eq!(node, want);
    let mut remote: Vec<_> = fs
        .lgetxattrs("/xattr/remote")
        .unwrap()
        .into_iter()
        .map(|a| (a.attrname, a.attrval))
        .collect();
    remote.sort();
    assert_eq!(
        remote,
        vec![
            ("user.big".to_string(), v(5000)),
            ("user.tiny".to_string(), v(1))
        ]
    );
    assert!(fs.lgetxattrs("/files/small.txt").unwrap().is_empty());
    // The attribute forms themselves, as xfs_db reports them: short form in
    // the inode, one leaf block, a node block over leaves.
    let img = gx_testdata::image("xfs.img");
    let out = xfs_db(
        &img,
        &[
            "path /xattr/sf".into(),
            "print core.aformat".into(),
            "path /xattr/node".into(),
            "ablock 0".into(),
            "print hdr.info.hdr.magic".into(),
        ],
    );
    assert!(out.contains("core.aformat = 1 (local)"), "{out}");
    assert!(out.contains("hdr.info.hdr.magic = 0x3ebe"), "{out}");
}

#[test]
fn lookups_in_large_directories_use_the_index_and_find_every_name() {
    let fs = open("xfs.img");
    // Not listed first, so no directory cache: each lookup walks the hash
    // index of the node and btree directories.
    for i in (0..3000).step_by(97) {
        let p = format!("/dirs/node/node-entry-with-a-long-name-{i:05}.txt");
        assert_eq!(fs.lstat(&p).unwrap().size, 0, "{p}");
    }
    for i in (0..5000).step_by(131) {
        let p = format!("/dirs/btree/b{i:05}");
        let data = read_all(fs.as_ref(), &p, 4096);
        assert_eq!(data, format!("{i}\n").into_bytes(), "{p}");
    }
    for p in ["/dirs/node/nope", "/dirs/btree/b99999", "/dirs/leaf/x"] {
        let e = fs.lstat(p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{p}: {e}");
    }
    let e = fs.lstat("/files/small.txt/x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

fn image_bytes(name: &str) -> Vec<u8> {
    std::fs::read(gx_testdata::image(name)).unwrap()
}

fn mem(data: Vec<u8>) -> Device {
    Arc::new(MemDevice::new(data, false, "damaged"))
}

#[test]
fn damaged_images_give_clear_errors() {
    let good = image_bytes("xfs-v4.img");
    // v4 has no CRCs: a bad superblock magic is still caught.
    let mut b = good.clone();
    b[0] = b'Y';
    let e = XfsFs::open(mem(b)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");

    let good = image_bytes("xfs.img");
    // A changed byte in the v5 superblock: checksum mismatch.
    let mut b = good.clone();
    b[110] ^= 0x40;
    let e = XfsFs::open(mem(b)).unwrap_err();
    assert!(e.message().contains("checksum"), "{e}");

    // Truncated: the superblock says more blocks than the device holds.
    let e = XfsFs::open(mem(good[..good.len() / 2].to_vec())).unwrap_err();
    assert!(e.message().contains("truncated"), "{e}");

    // A flipped byte in the root inode's core: checksum mismatch at open.
    let root = gx_fs::open(mem(good.clone()), "xfs")
        .unwrap()
        .lstat("/")
        .unwrap()
        .ino;
    let mut b = good.clone();
    let inode_off = (root * 512) as usize; // AG 0, linear
    b[inode_off + 60] ^= 1;
    let e = XfsFs::open(mem(b)).unwrap_err();
    assert!(e.message().contains("checksum"), "{e}");
}

#[test]
fn a_dirty_log_is_unsupported() {
    let img = gx_testdata::image("xfs.img");
    let out = xfs_db(
        &img,
        &["sb 0".into(), "print logstart agblocks agblklog".into()],
    );
    let logstart = values(&out, "logstart")[0];
    let agblocks = values(&out, "agblocks")[0];
    let agblklog = values(&out, "agblklog")[0];
    let linear = (logstart >> agblklog) * agblocks + (logstart & ((1 << agblklog) - 1));
    let start = (linear * 4096) as usize;
    let mut b = image_bytes("xfs.img");
    // The unmount record mkfs.xfs left: its header, then an op header whose
    // flags (byte 9) say XLOG_UNMOUNT_TRANS. Without the flag the record is
    // an ordinary transaction, which the kernel would replay.
    let hdr = (0..64)
        .map(|bb| start + bb * 512)
        .find(|&o| b[o..o + 4] == [0xfe, 0xed, 0xba, 0xbe])
        .expect("a log record header");
    assert_ne!(b[hdr + 512 + 9] & 0x20, 0);
    b[hdr + 512 + 9] &= !0x20;
    let e = XfsFs::open(mem(b)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.message().contains("log needs recovery"), "{e}");
}

/// A device that reads as `base` with some bytes flipped: damaged copies
/// of a large image without copying it.
struct Flipped {
    base: Device,
    flips: Vec<(u64, u8)>,
}

impl gx_disk::BlockDevice for Flipped {
    fn size(&self) -> u64 {
        self.base.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> gx_disk::Result<()> {
        self.base.read_at(buf, offset)?;
        for &(at, mask) in &self.flips {
            if at >= offset && at < offset + buf.len() as u64 {
                buf[(at - offset) as usize] ^= mask;
            }
        }
        Ok(())
    }
    fn describe(&self) -> String {
        "flipped".into()
    }
}

/// Byte flips all over the metadata of the v4 image (no CRCs to stop them
/// early): every call gives an answer or an error, never a panic or a hang.
#[test]
fn byte_flips_never_panic() {
    let base = device(&gx_testdata::image("xfs-v4.img"));
    let mut x: u32 = 12345;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for _ in 0..60 {
        // The first 2 MiB: AG 0 keeps its headers, inodes and most
        // directories there.
        let flips = (0..20)
            .map(|_| (u64::from(next() % (2 << 20)), 1u8 << (next() % 8)))
            .collect();
        let dev: Device = Arc::new(Flipped {
            base: base.clone(),
            flips,
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let Ok(fs) = XfsFs::open(dev) else {
                return;
            };
            let mut todo = vec![("/".to_string(), 0)];
            let mut budget = 3000;
            while let Some((d, depth)) = todo.pop() {
                let Ok(es) = fs.read_dir(&d) else { continue };
                for e in es {
                    budget -= 1;
                    if budget == 0 {
                        return;
                    }
                    let p = format!("{}/{}", d.trim_end_matches('/'), e.name);
                    let Ok(st) = fs.lstat(&p) else { continue };
                    match st.file_type() {
                        FileType::Directory if depth < 50 => todo.push((p.clone(), depth + 1)),
                        FileType::Regular => {
                            let mut buf = vec![0u8; 8192];
                            let _ = fs.read_at(&p, 0, &mut buf);
                        }
                        FileType::Symlink => {
                            let _ = fs.readlink(&p);
                        }
                        _ => {}
                    }
                    let _ = fs.lgetxattrs(&p);
                }
            }
            let _ = fs.statvfs();
        }));
        assert!(r.is_ok(), "the reader panicked on a damaged image");
    }
}

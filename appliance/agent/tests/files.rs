//! Every file call of the agent, on one appliance, against oracles that do
//! not share its code: the host directory the guest filesystem was built
//! from (mkfs.ext4 -d), the host's grep, tar, gzip/xz/zstd, and after
//! shutdown the image itself read by debugfs, dumpe2fs and e2fsck.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{GuestExt, blank, launch, prerequisites, sh, sh_status};
use gx_appliance::Drive;
use gx_protocol::{CopyAttributesOpts, GrepOpts, TarInOpts, TarOutOpts, UmountOpts};

const ENOENT: i32 = 2;

/// debugfs's answer to one request on the image (read-only).
fn debugfs(img: &Path, req: &str) -> String {
    sh(&format!("debugfs -R '{req}' {} 2>/dev/null", img.display()))
}

/// A guest file's bytes, as debugfs reads them from the image.
fn dump(img: &Path, guest: &str, scratch: &Path) -> Vec<u8> {
    let out = scratch.join("dumped");
    let _ = std::fs::remove_file(&out);
    sh(&format!(
        "debugfs -R 'dump {guest} {}' {} 2>/dev/null",
        out.display(),
        img.display()
    ));
    std::fs::read(&out).unwrap_or_else(|e| panic!("debugfs dump {guest}: {e}"))
}

/// `Mode:`, `User:`, `Group:`, `Links:`, `Size:` and `Type:` of debugfs stat.
fn stat_fields(img: &Path, guest: &str) -> (u32, u32, u32, u32, u64, String) {
    let s = debugfs(img, &format!("stat {guest}"));
    let field = |name: &str| -> String {
        let i = s
            .find(name)
            .unwrap_or_else(|| panic!("{guest}: no {name} in {s}"));
        s[i + name.len()..]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    (
        u32::from_str_radix(&field("Mode:"), 8).expect("mode"),
        field("User:").parse().expect("user"),
        field("Group:").parse().expect("group"),
        field("Links:").parse().expect("links"),
        field("Size:").parse().expect("size"),
        field("Type:"),
    )
}

/// The tree the guest filesystem is made from: the oracle for every read.
fn make_source(src: &Path) {
    let w = |p: &str, data: &[u8]| {
        let p = src.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, data).expect("write");
    };
    w("etc/hostname", b"testhost\n");
    w(
        "etc/motd",
        b"alpha\nBeta\ngamma 42\n-dash line\nfoo.bar\nfooXbar\nback\\slash\n",
    );
    w("ro/a/b", b"b");
    w("ro/a-b", b"ab");
    w("ro/owned", b"owned\n");
    w("ro/xattr-file", b"x");
    w("ro/hard1", b"hard");
    w("ro/big.bin", &pattern(300_000));
    w("ro/sub/deeper/file.txt", b"deep\n");
    w("data/.keep", b"");
    // Where `command` binds the appliance's /proc, /sys and /dev.
    for d in ["proc", "sys", "dev"] {
        std::fs::create_dir_all(src.join(d)).expect("mkdir");
    }
    sh(&format!(
        "ln {0}/ro/hard1 {0}/ro/hard2 && ln -s /etc/hostname {0}/ro/link-abs && \
         ln -s ../etc/hostname {0}/ro/link-rel && ln -s /nonexistent {0}/ro/dangling && \
         ln -s ../../../.. {0}/data/escape && mkfifo {0}/ro/fifo && \
         chown 1234:5678 {0}/ro/owned && chmod 0640 {0}/ro/owned && \
         printf 'first line\\nerror: disk\\nlast\\n' | gzip -9n > {0}/etc/log.gz && \
         mkdir -p {0}/bin && cp /usr/bin/busybox {0}/bin/busybox && chmod 0755 {0}/bin/busybox",
        src.display()
    ));
    sh(&format!(
        "python3 -c \"import os; p='{}'; os.setxattr(p, 'user.one', b'1'); \
         os.setxattr(p, 'user.two', b'two')\"",
        src.join("ro/xattr-file").display()
    ));
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Host `find` of a directory, relative with a leading slash (as libguestfs
/// returns them), sorted by bytes.
fn host_find(dir: &Path) -> Vec<String> {
    let out = sh(&format!(
        "cd {} && find . -mindepth 1 | sed 's|^\\./|/|' | LC_ALL=C sort",
        dir.display()
    ));
    out.lines().map(str::to_string).collect()
}

/// Host grep with the same flags on the same file: the oracle for `grep`.
fn host_grep(flags: &str, pattern: &str, file: &Path) -> Vec<String> {
    let (_, out) = sh_status(&format!(
        "grep {flags} -e '{pattern}' < {} 2>/dev/null",
        file.display()
    ));
    out.lines().map(str::to_string).collect()
}

fn letter(p: &Path) -> u8 {
    let t = std::fs::symlink_metadata(p).expect("lstat").file_type();
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        b'd'
    } else if t.is_symlink() {
        b'l'
    } else if t.is_fifo() {
        b'f'
    } else {
        b'r'
    }
}

#[test]
fn file_calls_against_host_oracles() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("file calls: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    let src = t.join("src");
    make_source(&src);
    let img = t.join("files.img");
    sh(&format!(
        "mkfs.ext4 -q -F -L files -U 0b5c1f0e-0000-4000-8000-00000000f11e -d {} {} 96M",
        src.display(),
        img.display()
    ));
    let raw = blank(&t.join("raw.img"), 8 << 20);
    let mut g = launch(vec![
        Drive::new(&img, Some("raw"), false),
        Drive::new(&raw, Some("raw"), false),
    ]);

    // Nothing mounted yet: path calls say so; device checks come first.
    let e = g.ls("/").expect_err("not mounted");
    assert!(
        e.to_string()
            .contains("you must call 'mount' first to mount the root filesystem"),
        "{e}"
    );
    let e = g
        .command(&["/bin/busybox".into()])
        .expect_err("not mounted");
    assert!(e.to_string().contains("you must call 'mount' first"), "{e}");
    let e = g.mount("/dev/sdz", "/").expect_err("bad device");
    assert_eq!(e.errno(), Some(ENOENT), "{e}");
    assert!(e.to_string().contains("/dev/sdz"), "{e}");
    let e = g.mount("sda", "/").expect_err("not a device name");
    assert!(e.to_string().contains("not a device name"), "{e}");
    let e = g.mount("/dev/null", "/").expect_err("not a block device");
    assert!(e.to_string().contains("not a block device"), "{e}");

    // Mount variants.
    g.mount_options("ro", "/dev/sda", "/").expect("mount ro");
    let e = g.write("/data/x", b"x").expect_err("read-only");
    assert_eq!(e.errno(), Some(30), "{e}"); // EROFS
    g.umount("/", UmountOpts::default()).expect("umount");
    assert!(g.mounts().expect("mounts").is_empty());
    g.mount_vfs("", "ext4", "/dev/sda", "/").expect("mount_vfs");
    assert_eq!(g.mounts().expect("mounts"), vec!["/dev/sda"]);
    assert_eq!(
        g.mountpoints().expect("mountpoints"),
        vec![("/dev/sda".to_string(), "/".to_string())]
    );

    // Listings against the source tree.
    let ro = src.join("ro");
    let mut host_ls: Vec<String> = std::fs::read_dir(&ro)
        .expect("ls")
        .map(|e| e.expect("ent").file_name().to_string_lossy().into_owned())
        .collect();
    host_ls.sort();
    assert_eq!(g.ls("/ro").expect("ls"), host_ls);
    assert_eq!(g.find("/ro").expect("find"), host_find(&ro));
    let rd = g.readdir("/ro").expect("readdir");
    let names: BTreeSet<String> = rd.iter().map(|d| d.name.clone()).collect();
    let mut want: BTreeSet<String> = host_ls.iter().cloned().collect();
    want.insert(".".into());
    want.insert("..".into());
    assert_eq!(names, want);
    for d in &rd {
        if d.name != "." && d.name != ".." {
            assert_eq!(d.ftyp, letter(&ro.join(&d.name)), "{}", d.name);
        } else {
            assert_eq!(d.ftyp, b'd');
        }
    }
    let readdir_inodes: Vec<(String, i64)> = rd.iter().map(|d| (d.name.clone(), d.ino)).collect();

    // stat and friends against the source files.
    let st = g.statns("/ro/owned").expect("statns");
    let hm = std::fs::metadata(ro.join("owned")).expect("host stat");
    assert_eq!(
        (st.st_mode, st.st_uid, st.st_gid, st.st_size),
        (
            i64::from(hm.mode()),
            i64::from(hm.uid()),
            i64::from(hm.gid()),
            hm.size() as i64
        )
    );
    assert_eq!(g.statns("/ro/link-abs").expect("stat link").st_size, 9);
    let l = g.lstatns("/ro/link-abs").expect("lstat link");
    assert_eq!(l.st_mode & 0o170000, 0o120000);
    assert_eq!(l.st_size, "/etc/hostname".len() as i64);
    assert_eq!(g.statns("/ro/hard1").expect("hard").st_nlink, 2);
    let list = g
        .lstatnslist(
            "/ro",
            &["owned".into(), "missing".into(), "link-abs".into()],
        )
        .expect("lstatnslist");
    assert_eq!(list.len(), 3);
    assert_eq!(list[0], st);
    assert_eq!(list[1].st_ino, -1);
    assert_eq!(list[2], l);
    assert!(g.lstatnslist("/ro", &["a/b".into()]).is_err());
    let vfs = g.statvfs("/").expect("statvfs");
    assert_eq!(vfs.namemax, 255);
    assert!(vfs.bfree > 0 && vfs.bfree <= vfs.blocks, "{vfs:?}");
    let statvfs_before = vfs;
    assert_eq!(
        g.readlink("/ro/link-abs").expect("readlink"),
        "/etc/hostname"
    );
    assert_eq!(
        g.realpath("/ro/link-rel").expect("realpath"),
        "/etc/hostname"
    );
    assert_eq!(
        g.realpath("/ro/a/../sub/./deeper").expect("realpath"),
        "/ro/sub/deeper"
    );
    assert_eq!(
        g.realpath("/ro/dangling").expect_err("dangling").errno(),
        Some(ENOENT)
    );
    let e = g.statns("/ro/missing").expect_err("missing");
    assert_eq!(e.errno(), Some(ENOENT));
    assert!(e.to_string().contains("/ro/missing"), "{e}");
    let e = g.ls("relative").expect_err("relative");
    assert!(e.to_string().contains("must start with a /"), "{e}");

    // Reading bytes.
    let motd = std::fs::read(src.join("etc/motd")).expect("motd");
    assert_eq!(g.read_bytes("/etc/motd").expect("download"), motd);
    assert_eq!(
        g.read_bytes("/ro/big.bin").expect("download big"),
        pattern(300_000)
    );
    let mut part = Vec::new();
    g.download_offset("/etc/motd", &mut part, 2, 5)
        .expect("download_offset");
    assert_eq!(part, motd[2..7]);
    let mut tail = Vec::new();
    g.download_offset("/ro/big.bin", &mut tail, 299_990, 1000)
        .expect("download_offset at the end");
    assert_eq!(tail, pattern(300_000)[299_990..]);
    assert_eq!(g.pread("/etc/motd", 4, 6).expect("pread"), motd[6..10]);
    assert!(
        g.pread("/etc/motd", 10, 1000)
            .expect("pread eof")
            .is_empty()
    );
    assert!(g.pread("/etc/motd", -1, 0).is_err());
    assert!(g.pread("/etc/motd", 64 << 20, 0).is_err());
    let e = g.read_bytes("/ro").expect_err("a directory");
    assert!(e.to_string().contains("is a directory"), "{e}");

    // grep, option by option, against the host's grep on the same file.
    let motd_path = src.join("etc/motd");
    let opt = |e: bool, f: bool, i: bool| GrepOpts {
        extended: Some(e),
        fixed: Some(f),
        insensitive: Some(i),
        compressed: None,
    };
    for (pat, o, flags) in [
        ("a", GrepOpts::default(), ""),
        ("^[a-z]* [0-9][0-9]*$", GrepOpts::default(), ""),
        ("^[a-z]+ [0-9]+$", opt(true, false, false), "-E"),
        ("o.b", opt(false, true, false), "-F"),
        ("o.b", GrepOpts::default(), ""),
        ("beta", opt(false, false, true), "-i"),
        ("-dash", GrepOpts::default(), ""),
        ("nomatch", GrepOpts::default(), ""),
    ] {
        assert_eq!(
            g.grep(pat, "/etc/motd", o).expect("grep"),
            host_grep(flags, pat, &motd_path),
            "grep {flags} {pat}"
        );
    }
    let z = GrepOpts {
        compressed: Some(true),
        ..GrepOpts::default()
    };
    assert_eq!(
        g.grep("error", "/etc/log.gz", z.clone()).expect("zgrep"),
        vec!["error: disk"]
    );
    assert_eq!(
        g.grep("alpha", "/etc/motd", z).expect("zgrep plain"),
        vec!["alpha"]
    );
    assert!(g.grep("[", "/etc/motd", GrepOpts::default()).is_err());
    assert!(g.grep("a", "/etc/motd", opt(true, true, false)).is_err());
    assert_eq!(
        g.grep("a", "/nope", GrepOpts::default())
            .expect_err("missing")
            .errno(),
        Some(ENOENT)
    );

    // Extended attributes set on the host before the image was made.
    let xs = g.getxattrs("/ro/xattr-file").expect("getxattrs");
    let xs: Vec<(String, Vec<u8>)> = xs.into_iter().map(|x| (x.attrname, x.attrval)).collect();
    assert_eq!(
        xs,
        vec![
            ("user.one".to_string(), b"1".to_vec()),
            ("user.two".to_string(), b"two".to_vec())
        ]
    );
    assert_eq!(
        g.getxattr("/ro/xattr-file", "user.two").expect("getxattr"),
        b"two"
    );
    assert!(g.lgetxattrs("/ro/link-abs").expect("lgetxattrs").is_empty());
    let xl = g
        .lxattrlist("/ro", &["xattr-file".into(), "owned".into()])
        .expect("lxattrlist");
    let xl: Vec<(String, Vec<u8>)> = xl.into_iter().map(|x| (x.attrname, x.attrval)).collect();
    assert_eq!(
        xl,
        vec![
            (String::new(), b"2\0".to_vec()),
            ("user.one".to_string(), b"1".to_vec()),
            ("user.two".to_string(), b"two".to_vec()),
            (String::new(), b"0\0".to_vec()),
        ]
    );
    assert_eq!(
        g.getxattr("/ro/xattr-file", "user.none")
            .expect_err("no attr")
            .errno(),
        Some(61) // ENODATA
    );

    // Writes.
    g.write("/data/new", b"hello\n").expect("write");
    g.write_append("/data/new", b"again\n").expect("append");
    g.write_append("/data/appended-new", b"a")
        .expect("append creates");
    let up = pattern(5 << 20);
    g.upload(&mut &up[..], "/data/upload.bin").expect("upload");
    g.write("/data/offset", b"0123456789").expect("write");
    g.upload_offset(&mut &b"ab"[..], "/data/offset", 3)
        .expect("upload_offset");
    g.upload_offset(&mut &b"zz"[..], "/data/offset-new", 4)
        .expect("upload_offset creates");
    assert_eq!(g.pwrite("/data/offset", b"XY", 8).expect("pwrite"), 2);
    assert!(g.pwrite("/data/missing", b"X", 0).is_err());
    assert!(g.pwrite("/data/offset", b"X", -1).is_err());
    // Large pwrites take O_DIRECT for their page-aligned part and the page
    // cache for the rest: a tail, an unaligned offset, and an aligned write
    // over pages still dirty in the page cache must all land as written.
    g.write("/data/pwrite-big", b"").expect("write");
    let mut model: Vec<u8> = Vec::new();
    let writes: [(usize, usize); 4] = [
        (0, (1 << 20) + 100),
        ((300 << 12) + 512, 200 << 10),
        (1 << 20, 64 << 10),
        (3 << 20, 1 << 20),
    ];
    for (i, (at, len)) in writes.into_iter().enumerate() {
        let data: Vec<u8> = pattern(len + i).split_off(i);
        let n = g
            .pwrite("/data/pwrite-big", &data, at as i64)
            .expect("large pwrite");
        assert_eq!(n as usize, len);
        if model.len() < at + len {
            model.resize(at + len, 0);
        }
        model[at..at + len].copy_from_slice(&data);
    }
    let mut back = Vec::new();
    while back.len() < model.len() {
        let piece = g
            .pread("/data/pwrite-big", 1 << 20, back.len() as i64)
            .expect("pread");
        assert!(!piece.is_empty(), "pread stopped at {}", back.len());
        back.extend_from_slice(&piece);
    }
    assert!(back == model, "large pwrites read back differently");
    g.mkdir("/data/dir").expect("mkdir");
    assert!(g.mkdir("/data/dir").is_err());
    assert!(g.mkdir("/data/no/such").is_err());
    g.mkdir_p("/data/p/q/r").expect("mkdir_p");
    g.mkdir_p("/data/p/q/r").expect("mkdir_p again");
    let e = g.mkdir_p("/data/new/sub").expect_err("through a file");
    assert!(e.to_string().contains("not a directory"), "{e}");
    g.mkdir_mode("/data/private", 0o700).expect("mkdir_mode");
    assert!(g.mkdir_mode("/data/neg", -1).is_err());
    g.mkdir("/data/gone").expect("mkdir");
    g.rmdir("/data/gone").expect("rmdir");
    g.write("/data/rmme", b"").expect("write");
    g.rm("/data/rmme").expect("rm");
    assert_eq!(
        g.rm("/data/rmme").expect_err("rm twice").errno(),
        Some(ENOENT)
    );
    g.rm_f("/data/rmme").expect("rm_f missing");
    assert!(g.rm_f("/data/dir").is_err(), "rm_f on a directory");
    g.mkdir_p("/data/tree/a/b").expect("mkdir_p");
    g.write("/data/tree/a/b/f", b"f").expect("write");
    g.rm_rf("/data/tree").expect("rm_rf");
    g.rm_rf("/data/never").expect("rm_rf missing");
    assert!(g.rm_rf("/").is_err());
    g.write("/data/mv-src", b"mv").expect("write");
    g.mv("/data/mv-src", "/data/dir").expect("mv into dir");
    g.write("/data/ren", b"ren").expect("write");
    g.rename("/data/ren", "/data/renamed").expect("rename");
    g.cp("/ro/owned", "/data/cp").expect("cp");
    g.cp_a("/ro/owned", "/data/cp-a").expect("cp_a");
    g.cp_a("/ro/xattr-file", "/data/cp-a-xattr")
        .expect("cp_a xattrs");
    g.cp_r("/ro/sub", "/data/cp-r").expect("cp_r");
    g.cp("/ro/link-abs", "/data/cp-deref")
        .expect("cp follows links");
    g.write("/data/modes", b"m").expect("write");
    // chown first: the kernel clears set-user-ID on a change of owner.
    g.chown(1000, 1001, "/data/modes").expect("chown");
    g.chmod(0o4751, "/data/modes").expect("chmod");
    assert!(g.chmod(-1, "/data/modes").is_err());
    g.ln_s("/data/modes", "/data/modes-link").expect("ln_s");
    g.lchown(77, 88, "/data/modes-link").expect("lchown");
    g.touch("/data/touched").expect("touch new");
    g.touch("/data/modes").expect("touch existing");
    assert!(g.touch("/data/modes-link").is_err(), "touch a symlink");
    assert!(g.touch("/data/dir").is_err(), "touch a directory");
    g.ln("/data/modes", "/data/hard").expect("ln");
    assert!(g.ln("/data/modes", "/data/hard").is_err());
    g.write("/data/hard-f", b"old").expect("write");
    g.ln_f("/data/new", "/data/hard-f").expect("ln_f");
    g.ln_s("relative/target", "/data/ln-s").expect("ln_s");
    assert!(g.ln_s("x", "/data/ln-s").is_err());
    g.ln_sf("other/target", "/data/ln-s").expect("ln_sf");
    g.ln_s("/etc/hostname", "/data/dir")
        .expect("ln_s into a directory");
    g.write("/data/trunc", b"0123456789").expect("write");
    g.truncate("/data/trunc").expect("truncate");
    g.write("/data/sparse", b"x").expect("write");
    g.truncate_size("/data/sparse", 10 << 20)
        .expect("truncate_size");
    let sp = g.statns("/data/sparse").expect("stat");
    assert_eq!(sp.st_size, 10 << 20);
    assert!(sp.st_blocks < 100, "truncate_size allocated: {sp:?}");
    g.fallocate64("/data/alloc", 4 << 20).expect("fallocate64");
    let al = g.statns("/data/alloc").expect("stat");
    assert_eq!(al.st_size, 4 << 20);
    assert!(al.st_blocks >= (4 << 20) / 512, "fallocate64: {al:?}");
    g.fill(0x41, 10_000, "/data/fill").expect("fill");
    assert!(g.fill(256, 1, "/data/fill2").is_err());
    g.fill_pattern("abc", 10, "/data/pattern")
        .expect("fill_pattern");
    assert!(g.fill_pattern("", 10, "/data/pattern2").is_err());
    g.write("/data/attrs", b"a").expect("write");
    g.copy_attributes(
        "/ro/owned",
        "/data/attrs",
        CopyAttributesOpts {
            all: Some(true),
            ..CopyAttributesOpts::default()
        },
    )
    .expect("copy_attributes all");
    g.write("/data/attrs-mode", b"a").expect("write");
    g.copy_attributes(
        "/ro/owned",
        "/data/attrs-mode",
        CopyAttributesOpts {
            mode: Some(true),
            ..CopyAttributesOpts::default()
        },
    )
    .expect("copy_attributes mode");
    g.copy_attributes(
        "/ro/xattr-file",
        "/data/attrs",
        CopyAttributesOpts {
            xattributes: Some(true),
            ..CopyAttributesOpts::default()
        },
    )
    .expect("copy_attributes xattrs");
    g.write("/data/x", b"x").expect("write");
    g.setxattr("user.new", b"value-and-more", 5, "/data/x")
        .expect("setxattr");
    g.setxattr("user.gone", b"v", 1, "/data/x")
        .expect("setxattr");
    g.removexattr("user.gone", "/data/x").expect("removexattr");
    assert!(g.setxattr("user.big", b"v", 70_000, "/data/x").is_err());
    g.ln_s("/data/x", "/data/x-link").expect("ln_s");
    g.lsetxattr("trusted.onlink", b"L", 1, "/data/x-link")
        .expect("lsetxattr");
    g.lsetxattr("trusted.gone", b"L", 1, "/data/x-link")
        .expect("lsetxattr");
    g.lremovexattr("trusted.gone", "/data/x-link")
        .expect("lremovexattr");
    assert_eq!(
        g.lgetxattr("/data/x-link", "trusted.onlink")
            .expect("lgetxattr"),
        b"L"
    );
    assert!(g.lgetxattrs("/data/x").expect("lgetxattrs").len() == 1);
    // A binary value (not UTF-8) goes through.
    g.setxattr("user.bin", &[0xff, 0, 0xfe], 3, "/data/x")
        .expect("binary setxattr");
    assert_eq!(
        g.getxattr("/data/x", "user.bin").expect("getxattr"),
        [0xff, 0, 0xfe]
    );
    g.removexattr("user.bin", "/data/x").expect("removexattr");
    // utimens on a symlink sets the link's own times, the target's stay;
    // -2 leaves one time as it was.
    let before = g.statns("/data/x").expect("statns");
    g.utimens("/data/x-link", 1_000_000, 5, 2_000_000, 7)
        .expect("utimens");
    let l = g.lstatns("/data/x-link").expect("lstatns");
    assert_eq!(
        (
            l.st_atime_sec,
            l.st_atime_nsec,
            l.st_mtime_sec,
            l.st_mtime_nsec
        ),
        (1_000_000, 5, 2_000_000, 7)
    );
    assert_eq!(
        g.statns("/data/x").expect("statns").st_mtime_sec,
        before.st_mtime_sec
    );
    g.utimens("/data/x", 0, -2, 3_000_000, 0).expect("utimens");
    let after = g.statns("/data/x").expect("statns");
    assert_eq!(after.st_atime_sec, before.st_atime_sec, "-2 leaves atime");
    assert_eq!(after.st_mtime_sec, 3_000_000);
    assert!(g.utimens("/data/x", 0, 2_000_000_000, 0, 0).is_err());
    // mknod: a FIFO and a character device, umask 022 applied.
    g.mknod(0o010666, 0, 0, "/data/fifo").expect("mknod fifo");
    g.mknod(0o020640, 1, 3, "/data/null").expect("mknod chr");
    let f = g.lstatns("/data/fifo").expect("lstatns");
    assert_eq!(f.st_mode, 0o010644);
    let c = g.lstatns("/data/null").expect("lstatns");
    assert_eq!(c.st_mode, 0o020640);
    assert_eq!(c.st_rdev, ((1 << 8) | 3) as i64);
    assert!(g.mknod(0o010644, 0, 0, "/data/fifo").is_err(), "exists");
    // A symlink pointing out of the guest stays in the guest.
    g.write("/data/escape/etc/escaped", b"inside")
        .expect("write through escape");
    assert_eq!(g.cat("/etc/escaped").expect("cat"), "inside");

    // Device I/O on the second disk.
    assert_eq!(
        g.pwrite_device("/dev/sdb", b"DEVICE", 4096)
            .expect("pwrite_device"),
        6
    );
    assert_eq!(
        g.pread_device("/dev/sdb", 6, 4096).expect("pread_device"),
        b"DEVICE"
    );
    let devdata = pattern(3 << 20);
    g.upload(&mut &devdata[..], "/dev/sdb")
        .expect("upload to a device");
    let mut back = Vec::new();
    g.download_offset("/dev/sdb", &mut back, 1 << 20, 4096)
        .expect("download_offset device");
    assert_eq!(back, devdata[1 << 20..(1 << 20) + 4096]);
    g.upload_offset(&mut &b"OFFSET"[..], "/dev/sdb", (4 << 20) + 7)
        .expect("upload_offset device");
    let mut whole = Vec::new();
    g.download("/dev/sdb", &mut whole).expect("download device");
    assert_eq!(whole.len(), 8 << 20);

    // tar_out, against the host's tar and the source tree.
    for (compress, unpack) in [
        (None, "tar -xf"),
        (Some("gzip"), "tar -xzf"),
        (Some("xz"), "tar -xJf"),
        (Some("zstd"), "tar --zstd -xf"),
    ] {
        let mut tar = Vec::new();
        g.tar_out(
            "/ro",
            &mut tar,
            TarOutOpts {
                compress: compress.map(str::to_string),
                ..TarOutOpts::default()
            },
        )
        .unwrap_or_else(|e| panic!("tar_out {compress:?}: {e}"));
        let file = t.join("out.tar");
        std::fs::write(&file, &tar).expect("write tar");
        let dir = t.join(format!("untar-{}", compress.unwrap_or("plain")));
        std::fs::create_dir_all(&dir).expect("mkdir");
        sh(&format!(
            "cd {} && {unpack} {} --same-owner -p",
            dir.display(),
            file.display()
        ));
        // Same names, contents, modes, owners and links as the source.
        sh(&format!(
            "diff -r --no-dereference -x fifo {} {}",
            ro.display(),
            dir.display()
        ));
        let owned = std::fs::metadata(dir.join("owned")).expect("owned");
        assert_eq!(
            (owned.uid(), owned.gid(), owned.mode() & 0o7777),
            (1234, 5678, 0o640)
        );
        assert_eq!(letter(&dir.join("fifo")), b'f');
        assert_eq!(
            std::fs::metadata(dir.join("hard1")).expect("hard").nlink(),
            2,
            "hard links kept"
        );
    }
    let mut tar = Vec::new();
    g.tar_out(
        "/ro",
        &mut tar,
        TarOutOpts {
            excludes: Some(vec!["./big.bin".into(), "*.txt".into()]),
            xattrs: Some(true),
            numericowner: Some(true),
            ..TarOutOpts::default()
        },
    )
    .expect("tar_out excludes xattrs");
    std::fs::write(t.join("x.tar"), &tar).expect("write");
    let names = sh(&format!("tar -tf {}", t.join("x.tar").display()));
    assert!(
        !names.contains("big.bin") && !names.contains("file.txt"),
        "{names}"
    );
    assert!(names.contains("./owned"), "{names}");
    let xdir = t.join("untar-xattrs");
    std::fs::create_dir_all(&xdir).expect("mkdir");
    sh(&format!(
        "cd {} && tar --xattrs --xattrs-include='*' -xf {}",
        xdir.display(),
        t.join("x.tar").display()
    ));
    let got = sh(&format!(
        "python3 -c \"import os; print(sorted((n, os.getxattr('{0}', n)) for n in os.listxattr('{0}')))\"",
        xdir.join("xattr-file").display()
    ));
    assert_eq!(got.trim(), "[('user.one', b'1'), ('user.two', b'two')]");
    assert!(
        g.tar_out("/ro/owned", &mut Vec::new(), TarOutOpts::default())
            .is_err()
    );
    assert!(
        g.tar_out(
            "/ro",
            &mut Vec::new(),
            TarOutOpts {
                compress: Some("rar".into()),
                ..TarOutOpts::default()
            }
        )
        .is_err()
    );

    // tar_in: archives the host's tar made.
    let tin = t.join("tin");
    std::fs::create_dir_all(tin.join("d")).expect("mkdir");
    std::fs::write(tin.join("d/file"), b"from the host\n").expect("write");
    std::fs::write(tin.join("exe"), b"#!/bin/sh\n").expect("write");
    std::fs::set_permissions(tin.join("exe"), std::fs::Permissions::from_mode(0o751))
        .expect("chmod");
    sh(&format!(
        "chown 4321:8765 {0}/d/file && ln -s d/file {0}/sl && \
         python3 -c \"import os; os.setxattr('{0}/d/file', 'user.fromhost', b'yes')\"",
        tin.display()
    ));
    for (compress, flag) in [
        (None, ""),
        (Some("gzip"), "-z"),
        (Some("xz"), "-J"),
        (Some("zstd"), "--zstd"),
    ] {
        let arch = t.join("in.tar");
        sh(&format!(
            "tar -C {} --xattrs {flag} -cf {} .",
            tin.display(),
            arch.display()
        ));
        let dest = format!("/untar-{}", compress.unwrap_or("plain"));
        g.mkdir(&dest).expect("mkdir");
        let mut f = std::fs::File::open(&arch).expect("open");
        g.tar_in(
            &mut f,
            &dest,
            TarInOpts {
                compress: compress.map(str::to_string),
                xattrs: Some(compress.is_none()),
                ..TarInOpts::default()
            },
        )
        .unwrap_or_else(|e| panic!("tar_in {compress:?}: {e}"));
    }
    let e = g
        .tar_in(
            &mut &b"not a tar archive at all"[..],
            "/untar-plain",
            TarInOpts::default(),
        )
        .expect_err("garbage");
    assert!(e.to_string().contains("tar subcommand failed"), "{e}");
    assert!(
        g.tar_in(&mut &b""[..], "/nowhere", TarInOpts::default())
            .is_err()
    );
    assert!(g.ping().is_ok(), "the channel is still in step");

    // The guest's own programs, chrooted, with /proc and /sys inside.
    assert_eq!(
        g.command(&["/bin/busybox".into(), "echo".into(), "a b".into()])
            .expect("command"),
        "a b\n"
    );
    let lines = g
        .command_lines(&["/bin/busybox".into(), "ls".into(), "/proc/self".into()])
        .expect("command_lines");
    assert!(lines.iter().any(|l| l == "status"), "{lines:?}");
    let sys = g
        .command_lines(&["/bin/busybox".into(), "ls".into(), "/sys/class".into()])
        .expect("sys");
    assert!(sys.iter().any(|l| l == "block"), "{sys:?}");
    // Inside the chroot, / is the guest.
    assert_eq!(
        g.command(&["/bin/busybox".into(), "cat".into(), "/etc/hostname".into()])
            .expect("chrooted"),
        "testhost\n"
    );
    let e = g
        .command(&["/bin/busybox".into(), "false".into()])
        .expect_err("false");
    assert!(e.to_string().contains("exit status 1"), "{e}");
    assert!(g.command(&["/no/such/program".into()]).is_err());
    assert!(g.command(&[]).is_err());
    assert_eq!(
        g.mounts().expect("mounts"),
        vec!["/dev/sda"],
        "bind mounts left behind"
    );
    assert_eq!(g.sh("echo hi; echo there").expect("sh"), "hi\nthere\n");
    assert_eq!(
        g.sh_lines("printf 'a\\nb\\n\\n'").expect("sh_lines"),
        vec!["a", "b", ""]
    );
    assert!(g.sh("exit 3").is_err());
    assert_eq!(
        g.echo_daemon(&["a".into(), "b c".into()])
            .expect("echo_daemon"),
        "a b c"
    );
    assert!(g.debug("help", &[]).expect("debug").contains("dmesg"));

    // A reply over the frame limit is an error, and the agent goes on.
    let e = g
        .sh("busybox head -c 5000000 /dev/zero | busybox tr '\\0' a")
        .expect_err("too big");
    assert_eq!(e.errno(), Some(90), "{e}"); // EMSGSIZE
    assert!(e.to_string().contains("limit"), "{e}");
    assert!(g.ping().is_ok());

    g.zero_free_space("/").expect("zero_free_space");
    let after = g.statvfs("/").expect("statvfs");
    assert!(after.bfree > 0, "the zero file was removed");
    g.sync().expect("sync");
    g.umount_all().expect("umount_all");
    g.shutdown().expect("shutdown");

    // The image, read by the host's tools.
    sh(&format!("e2fsck -fn {}", img.display()));
    let dh = sh(&format!("dumpe2fs -h {} 2>/dev/null", img.display()));
    let field = |name: &str| -> i64 {
        dh.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {dh}"))
    };
    assert_eq!(statvfs_before.bsize, field("Block size"));
    assert_eq!(statvfs_before.files, field("Inode count"));
    let listing = debugfs(&img, "ls -l /ro");
    for (name, ino) in &readdir_inodes {
        let line = listing
            .lines()
            .find(|l| l.split_whitespace().last() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{name} not in {listing}"));
        let host_ino: i64 = line
            .split_whitespace()
            .next()
            .expect("ino")
            .parse()
            .expect("num");
        assert_eq!(*ino, host_ino, "{name}");
    }
    let dumpd = |p: &str| dump(&img, p, t);
    assert_eq!(dumpd("/data/new"), b"hello\nagain\n");
    assert_eq!(dumpd("/data/appended-new"), b"a");
    assert_eq!(dumpd("/data/upload.bin"), up);
    assert!(
        dumpd("/data/pwrite-big") == model,
        "large pwrites differ on the image"
    );
    assert_eq!(dumpd("/data/offset"), b"012ab567XY");
    assert_eq!(dumpd("/data/offset-new"), b"\0\0\0\0zz");
    assert_eq!(dumpd("/data/dir/mv-src"), b"mv");
    assert_eq!(dumpd("/data/renamed"), b"ren");
    assert_eq!(dumpd("/data/cp"), b"owned\n");
    assert_eq!(dumpd("/data/cp-r/deeper/file.txt"), b"deep\n");
    assert_eq!(dumpd("/data/cp-deref"), b"testhost\n");
    assert_eq!(dumpd("/data/trunc"), b"");
    assert_eq!(dumpd("/data/fill"), vec![0x41; 10_000]);
    assert_eq!(dumpd("/data/pattern"), b"abcabcabca");
    assert_eq!(dumpd("/data/hard-f"), b"hello\nagain\n");
    assert_eq!(dumpd("/etc/escaped"), b"inside");
    assert_eq!(dumpd("/untar-zstd/d/file"), b"from the host\n");
    for gone in [
        "/data/rmme",
        "/data/tree",
        "/data/gone",
        "/data/ren",
        "/data/mv-src",
    ] {
        let s = debugfs(&img, &format!("stat {gone}"));
        assert!(!s.contains("Inode:"), "{gone} still there: {s}");
    }
    let (mode, uid, gid, links, _, _) = stat_fields(&img, "/data/modes");
    assert_eq!((mode, uid, gid, links), (0o4751, 1000, 1001, 2));
    let (_, uid, gid, _, _, ty) = stat_fields(&img, "/data/modes-link");
    assert_eq!((uid, gid, ty.as_str()), (77, 88, "symlink"));
    assert_eq!(stat_fields(&img, "/data/private").0, 0o700);
    assert_eq!(
        stat_fields(&img, "/data/dir").0,
        0o755,
        "0777 less the umask"
    );
    let (mode, uid, gid, ..) = stat_fields(&img, "/data/cp-a");
    assert_eq!((mode, uid, gid), (0o640, 1234, 5678));
    let (mode, uid, gid, ..) = stat_fields(&img, "/data/attrs");
    assert_eq!((mode, uid, gid), (0o640, 1234, 5678));
    let (mode, uid, ..) = stat_fields(&img, "/data/attrs-mode");
    assert_eq!((mode, uid), (0o640, 0), "mode only");
    let (mode, uid, gid, ..) = stat_fields(&img, "/untar-xz/d/file");
    assert_eq!((mode & 0o777, uid, gid), (0o644, 4321, 8765));
    assert_eq!(stat_fields(&img, "/untar-gzip/exe").0, 0o751);
    assert!(debugfs(&img, "stat /data/ln-s").contains("other/target"));
    assert!(debugfs(&img, "stat /data/dir/hostname").contains("/etc/hostname"));
    let ea = |p: &str| debugfs(&img, &format!("ea_list {p}"));
    assert!(
        ea("/data/x").contains("user.new (5) = \"value\""),
        "{}",
        ea("/data/x")
    );
    assert!(!ea("/data/x").contains("user.gone"));
    assert!(
        ea("/data/x-link").contains("trusted.onlink"),
        "{}",
        ea("/data/x-link")
    );
    assert!(!ea("/data/x-link").contains("trusted.gone"));
    assert!(
        ea("/data/attrs").contains("user.two"),
        "{}",
        ea("/data/attrs")
    );
    assert!(
        ea("/data/cp-a-xattr").contains("user.one"),
        "{}",
        ea("/data/cp-a-xattr")
    );
    assert!(
        ea("/untar-plain/d/file").contains("user.fromhost"),
        "{}",
        ea("/untar-plain/d/file")
    );
    assert!(!ea("/untar-gzip/d/file").contains("user.fromhost"));
    let sl = debugfs(&img, "stat /untar-plain/sl");
    assert!(sl.contains("symlink") && sl.contains("d/file"), "{sl}");

    // The second disk, read directly.
    let mut dev = Vec::new();
    std::fs::File::open(&raw)
        .expect("raw")
        .read_to_end(&mut dev)
        .expect("read raw");
    assert_eq!(dev[..devdata.len()][..4096], devdata[..4096]);
    assert_eq!(&dev[(4 << 20) + 7..(4 << 20) + 13], b"OFFSET");
    assert_eq!(whole[..4096], devdata[..4096]);
}

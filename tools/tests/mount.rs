//! gx-mount and gx-unmount, through the host kernel's FUSE.
//!
//! - A read-only mount, walked with the host's own syscalls, holds what
//!   e2fsprogs (`debugfs rdump`) finds in the same filesystem; writes are
//!   refused with EROFS, and the image stays byte-identical.
//! - A read-write mount (the appliance) takes files, directories, links,
//!   renames, permissions, times, truncation and removals; after
//!   gx-unmount the image passes `e2fsck -fn` and debugfs sees each change.
//! - libguestfs's own FUSE tests, with the names substituted: the unmount
//!   race (a file copied in just before gx-unmount is in the image once
//!   gx-mount exits), `--fd` on both tools, and gx-unmount's exit codes.
//!
//! Skips, saying why, without /dev/fuse and fusermount3 (or, for the
//! read-write tests, without what the appliance needs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MOUNT: &str = env!("CARGO_BIN_EXE_gx-mount");
const UNMOUNT: &str = env!("CARGO_BIN_EXE_gx-unmount");

fn fuse_missing() -> Option<String> {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse");
    if let Err(e) = dev {
        return Some(format!("/dev/fuse: {e}"));
    }
    let fusermount = Command::new("fusermount3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !fusermount {
        return Some("no fusermount3 (run scripts/setup: package fuse3)".into());
    }
    None
}

fn appliance_missing() -> Option<String> {
    gx_testdata::appliance_missing(MOUNT)
}

macro_rules! need {
    ($name:literal, $($check:expr),+) => {
        $(
            if let Some(why) = $check {
                gx_testdata::skip_or_fail!("{}: {why}", $name);
                return;
            }
        )+
    };
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn is_mounted(dir: &Path) -> bool {
    let dir = std::fs::canonicalize(dir).unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.to_str().unwrap()))
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// A gx-mount in the background; unmounted (and waited for) when dropped,
/// so a failing test leaves no mount behind.
struct Mounted {
    mp: PathBuf,
    pid: i32,
}

impl Mounted {
    fn new(mp: &Path, args: &[&str]) -> Mounted {
        Mounted::with_stdin(mp, args, "")
    }

    /// [`Mounted::new`] with `input` on gx-mount's standard input.
    fn with_stdin(mp: &Path, args: &[&str], input: &str) -> Mounted {
        use std::io::Write;
        let pidfile = mp.with_extension("pid");
        let mut child = Command::new(MOUNT)
            .env_remove("GX_ENGINE")
            .args(args)
            .arg("--pid-file")
            .arg(&pidfile)
            .arg(mp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Dropped after writing: the daemon sees end of input, as with
        // /dev/null.
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "gx-mount {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // guestmount returns once the mount is there, with the PID written.
        assert!(is_mounted(mp), "gx-mount returned before mounting");
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Mounted {
            mp: mp.to_path_buf(),
            pid,
        }
    }

    /// gx-unmount, then wait (up to `secs`) for gx-mount to exit.
    fn unmount(&mut self, secs: u64) {
        if self.pid == 0 {
            return;
        }
        let out = Command::new(UNMOUNT).arg(&self.mp).output().unwrap();
        assert!(
            out.status.success(),
            "gx-unmount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let start = Instant::now();
        while pid_alive(self.pid) {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "gx-mount still running {secs} s after gx-unmount"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !self.mp.with_extension("pid").exists(),
            "gx-mount left its pid file"
        );
        self.pid = 0;
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.pid != 0 {
            let _ = Command::new(UNMOUNT).arg(&self.mp).output();
            let _ = Command::new("kill").arg(self.pid.to_string()).output();
        }
    }
}

use gx_testdata::tree;

/// The test guest's root filesystem (GPT partition 2) as its own file, for
/// e2fsprogs.
fn root_partition(img: &Path, out: &Path) {
    let json = run(Command::new("sfdisk").arg("-J").arg(img)).stdout;
    let text = String::from_utf8(json).unwrap();
    // "start": N, "size": M of the second partition.
    let nums: Vec<u64> = text
        .split("\"start\":")
        .skip(2)
        .take(1)
        .flat_map(|s| {
            let start = s.split(',').next().unwrap().trim().parse::<u64>().unwrap();
            let size = s
                .split("\"size\":")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .trim()
                .parse::<u64>()
                .unwrap();
            [start, size]
        })
        .collect();
    run(Command::new("dd")
        .arg(format!("if={}", img.display()))
        .arg(format!("of={}", out.display()))
        .arg("bs=512")
        .arg(format!("skip={}", nums[0]))
        .arg(format!("count={}", nums[1]))
        .arg("status=none"));
}

fn debugfs(fsimg: &Path, req: &str) -> String {
    String::from_utf8_lossy(
        &run(Command::new("debugfs")
            .arg("-R")
            .arg(req)
            .arg(fsimg)
            .stderr(Stdio::null()))
        .stdout,
    )
    .into_owned()
}

/// SEEK_DATA and SEEK_HOLE on a sparse file through a read-only mount
/// find the extents e2fsprogs finds (`debugfs ex`; linux.img's
/// /var/tmp/sparse.bin has data at 0 and at 4 MiB in 8 MiB).
#[test]
fn sparse_file_holes_match_debugfs_extents() {
    need!("sparse_file_holes_match_debugfs_extents", fuse_missing());
    let img = gx_testdata::image("linux.img");
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let _m = Mounted::new(
        &mp,
        &["--ro", "-a", img.to_str().unwrap(), "-m", "/dev/sda2"],
    );
    let fsimg = tmp.path().join("root.ext4");
    root_partition(&img, &fsimg);
    let bs: u64 = debugfs(&fsimg, "stats")
        .lines()
        .find_map(|l| l.strip_prefix("Block size:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Logical block ranges of the leaf extents ("A - B" first on each line).
    let extents: Vec<(u64, u64)> = debugfs(&fsimg, "ex /var/tmp/sparse.bin")
        .lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let i = t.iter().position(|w| *w == "-")?;
            Some((t.get(i - 1)?.parse().ok()?, t.get(i + 1)?.parse().ok()?))
        })
        .collect();
    assert_eq!(extents.len(), 2, "{extents:?}");
    let file = std::fs::File::open(mp.join("var/tmp/sparse.bin")).unwrap();
    let size = file.metadata().unwrap().len();
    let in_data = |o: u64| extents.iter().any(|&(a, b)| o / bs >= a && o / bs <= b);
    let offsets = [
        0,
        1,
        bs - 1,
        bs,
        4 << 20,
        (4 << 20) + 7,
        (4 << 20) + bs,
        size - 1,
        size,
    ];
    check_seeks(&file, bs, &offsets, in_data);
}

/// SEEK_DATA and SEEK_HOLE on `file` from each offset, against what the
/// block map says (`in_data`: the block holding this offset is written
/// data; blocks are `bs` bytes; the end of the file is a hole).
fn check_seeks(file: &std::fs::File, bs: u64, offsets: &[u64], in_data: impl Fn(u64) -> bool) {
    use nix::unistd::{Whence, lseek};
    let size = file.metadata().unwrap().len();
    for &o in offsets {
        let mut d = o;
        while d < size && !in_data(d) {
            d = (d / bs + 1) * bs;
        }
        let mut h = o;
        while h < size && in_data(h) {
            h = (h / bs + 1) * bs;
        }
        let got_d = lseek(file, o as i64, Whence::SeekData)
            .ok()
            .map(|x| x as u64);
        let got_h = lseek(file, o as i64, Whence::SeekHole)
            .ok()
            .map(|x| x as u64);
        assert_eq!(got_d, (d < size).then_some(d), "SEEK_DATA from {o}");
        assert_eq!(
            got_h,
            (o < size).then_some(h.min(size)),
            "SEEK_HOLE from {o}"
        );
    }
}

/// The same on XFS: /frag/frag.bin's 39 one-block extents with holes
/// between them, every fifth unwritten (a hole to SEEK_DATA, as the kernel
/// reports one whose data is not cached), against `xfs_db bmap`.
#[test]
fn xfs_sparse_file_holes_match_xfs_db_bmap() {
    need!("xfs_sparse_file_holes_match_xfs_db_bmap", fuse_missing());
    let img = gx_testdata::image("xfs.img");
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let _m = Mounted::new(
        &mp,
        &[
            "--ro",
            "--format=raw",
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda",
        ],
    );
    let xfs_db = |cmds: &[&str]| {
        let mut c = Command::new("xfs_db");
        c.arg("-r");
        for x in cmds {
            c.arg("-c").arg(x);
        }
        String::from_utf8_lossy(&run(c.arg(&img)).stdout).into_owned()
    };
    let bs: u64 = xfs_db(&["sb 0", "print blocksize"])
        .trim()
        .strip_prefix("blocksize = ")
        .unwrap()
        .parse()
        .unwrap();
    // "data offset O startblock S (a/b) count C flag F": written extents.
    let written: Vec<(u64, u64)> = xfs_db(&["path /frag/frag.bin", "bmap"])
        .lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let at = |k: &str| t.iter().position(|w| *w == k).and_then(|i| t.get(i + 1));
            let (o, c, f) = (at("offset")?, at("count")?, at("flag")?);
            (*f == "0").then(|| (o.parse().unwrap(), c.parse().unwrap()))
        })
        .collect();
    assert!(written.len() > 20, "{written:?}");
    let file = std::fs::File::open(mp.join("frag/frag.bin")).unwrap();
    let size = file.metadata().unwrap().len();
    let in_data = |o: u64| written.iter().any(|&(a, c)| o / bs >= a && o / bs < a + c);
    let mut offsets = vec![0, 1, size - 1, size];
    offsets.extend((0..size / bs).flat_map(|b| [b * bs, b * bs + 100]));
    check_seeks(&file, bs, &offsets, in_data);
}

#[test]
fn read_only_mount_holds_what_debugfs_finds() {
    need!("read_only_mount_holds_what_debugfs_finds", fuse_missing());
    let img = gx_testdata::image("linux.img");
    let before = gx_testdata::file_digest(&img);
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let mut m = Mounted::new(
        &mp,
        &["--ro", "-a", img.to_str().unwrap(), "-m", "/dev/sda2"],
    );

    let fsimg = tmp.path().join("root.ext4");
    root_partition(&img, &fsimg);
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    debugfs(&fsimg, &format!("rdump / {}", theirs.display()));

    let a = tree(&mp);
    let b = tree(&theirs);
    assert!(b.len() > 50, "debugfs dumped only {} entries", b.len());
    for (rel, pb) in &b {
        let pa = a
            .get(rel)
            .unwrap_or_else(|| panic!("{rel}: in the filesystem, not in the mount"));
        let (ma, mb) = (
            std::fs::symlink_metadata(pa).unwrap(),
            std::fs::symlink_metadata(pb).unwrap(),
        );
        assert_eq!(ma.file_type(), mb.file_type(), "{rel}: type");
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
        // rdump's chown clears set-id bits: the mode comes from debugfs stat.
        let stat = debugfs(&fsimg, &format!("stat \"/{rel}\""));
        let theirs = stat
            .split("Mode:")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|m| u32::from_str_radix(m, 8).ok());
        assert_eq!(
            Some(ma.mode() & 0o7777),
            theirs,
            "{rel}: mode {:o}, debugfs: {stat}",
            ma.mode()
        );
    }
    // Device nodes and FIFOs, which rdump skips, are there too.
    use std::os::unix::fs::FileTypeExt;
    let specials = a
        .values()
        .filter(|p| {
            let t = std::fs::symlink_metadata(p).unwrap().file_type();
            t.is_char_device() || t.is_block_device() || t.is_fifo()
        })
        .count();
    assert!(specials >= 3, "only {specials} special files");
    // Hard links: the kernel sees the link count debugfs reports.
    let n = std::fs::metadata(mp.join("etc/test3")).unwrap().nlink();
    assert!(n >= 2);
    assert!(debugfs(&fsimg, "stat /etc/test3").contains(&format!("Links: {n}")));
    // statvfs answers from the filesystem's superblock: its inode counts.
    let df = run(Command::new("stat").args(["-f", "-c", "%c %d"]).arg(&mp)).stdout;
    let sb = debugfs(&fsimg, "stats");
    let field = |name: &str| {
        sb.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        String::from_utf8(df).unwrap().trim(),
        format!("{} {}", field("Inode count:"), field("Free inodes:")),
        "statvfs inode counts"
    );

    // Writes are refused by the kernel (a read-only mount).
    let e = std::fs::write(mp.join("new"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(30), "EROFS expected: {e}");
    let e = std::fs::create_dir(mp.join("newdir")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(30), "EROFS expected: {e}");

    m.unmount(10);
    assert!(!is_mounted(&mp));
    assert_eq!(before, gx_testdata::file_digest(&img), "image changed");
}

#[test]
fn read_write_mount_changes_reach_the_image() {
    need!(
        "read_write_mount_changes_reach_the_image",
        fuse_missing(),
        appliance_missing()
    );
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("linux.img");
    std::fs::copy(gx_testdata::image("linux.img"), &img).unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let mut m = Mounted::new(&mp, &["-a", img.to_str().unwrap(), "-m", "/dev/sda2"]);

    let services = std::fs::read("/etc/services").unwrap_or_else(|_| vec![b'x'; 30000]);
    std::fs::write(mp.join("new.txt"), b"hello\n").unwrap();
    std::fs::create_dir_all(mp.join("d1/d2")).unwrap();
    std::fs::write(mp.join("d1/d2/services"), &services).unwrap();
    std::fs::rename(mp.join("d1"), mp.join("d3")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(mp.join("new.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("new.txt", mp.join("link")).unwrap();
    std::fs::hard_link(mp.join("new.txt"), mp.join("hard")).unwrap();
    run(Command::new("touch")
        .args(["-m", "-d", "2020-01-02 03:04:05 UTC"])
        .arg(mp.join("new.txt")));
    run(Command::new("mkfifo").arg(mp.join("fifo")));
    // A big file written in pieces, then cut short.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(mp.join("big"), &big).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(mp.join("big"))
        .unwrap();
    f.set_len(1_000_000).unwrap();
    drop(f);
    // Bigger than one gathered guest write (8 MiB, through the appliance's
    // staging disk), with a tail that is not a whole page; no period that
    // pages or pieces could hide a misplaced copy behind.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let huge: Vec<u8> = (0..(9 << 20) + 4097)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    std::fs::write(mp.join("huge"), &huge).unwrap();
    std::fs::remove_file(mp.join("etc/hostname")).unwrap();
    std::fs::remove_dir(mp.join("d3/d2")).unwrap_err(); // not empty
    // What we wrote reads back through the mount.
    assert_eq!(std::fs::read(mp.join("d3/d2/services")).unwrap(), services);
    assert_eq!(std::fs::read(mp.join("big")).unwrap(), &big[..1_000_000]);
    assert!(!mp.join("d1").exists());
    m.unmount(30);

    let fsimg = tmp.path().join("root.ext4");
    root_partition(&img, &fsimg);
    run(Command::new("e2fsck").arg("-fn").arg(&fsimg));
    assert_eq!(debugfs(&fsimg, "cat /new.txt"), "hello\n");
    let st = debugfs(&fsimg, "stat /new.txt");
    assert!(st.contains("Mode:  0640"), "{st}");
    assert!(st.contains("Links: 2"), "{st}");
    assert!(
        st.contains("mtime: 0x5e0d5da5"),
        "2020-01-02 03:04:05: {st}"
    );
    let dump = tmp.path().join("services");
    debugfs(&fsimg, &format!("dump /d3/d2/services {}", dump.display()));
    assert_eq!(std::fs::read(&dump).unwrap(), services);
    assert!(debugfs(&fsimg, "stat /link").contains("Fast link dest: \"new.txt\""));
    assert!(debugfs(&fsimg, "stat /fifo").contains("Type: FIFO"));
    let big_dump = tmp.path().join("big");
    debugfs(&fsimg, &format!("dump /big {}", big_dump.display()));
    assert_eq!(std::fs::read(&big_dump).unwrap(), &big[..1_000_000]);
    let huge_dump = tmp.path().join("huge");
    debugfs(&fsimg, &format!("dump /huge {}", huge_dump.display()));
    assert!(
        std::fs::read(&huge_dump).unwrap() == huge,
        "/huge differs on the image"
    );
    let root = debugfs(&fsimg, "ls /");
    assert!(!root.contains(" d1 "), "{root}");
    let etc = debugfs(&fsimg, "ls /etc");
    assert!(!etc.contains("hostname"), "{etc}");
}

/// libguestfs fuse/test-fuse-umount-race.sh: a qcow2 overlay of the phony
/// Fedora guest (root on LVM), a file copied in, gx-unmount at once:
/// gx-mount must exit within 10 s, and the file be in the image.
#[test]
fn unmount_race_keeps_the_last_write() {
    need!(
        "unmount_race_keeps_the_last_write",
        fuse_missing(),
        appliance_missing()
    );
    let tmp = tempfile::tempdir().unwrap();
    let base = gx_testdata::image("libguestfs-fedora.img");
    let before = gx_testdata::file_digest(&base);
    let overlay = tmp.path().join("test.qcow2");
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&base)
        .arg(&overlay));
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let mut m = Mounted::new(
        &mp,
        &[
            "--format=qcow2",
            "-a",
            overlay.to_str().unwrap(),
            "-m",
            "/dev/VG/Root",
        ],
    );
    std::fs::copy(file!(), mp.join("test-umount")).unwrap_or_else(|_| {
        std::fs::write(mp.join("test-umount"), b"x").unwrap();
        1
    });
    m.unmount(10);
    let copy = tmp.path().join("test-copy.qcow2");
    std::fs::copy(&overlay, &copy).unwrap();

    let mut g = gx_guestfs::Handle::new();
    g.add_drive_opts(
        &copy,
        gx_guestfs::DriveOptions {
            format: Some(gx_guestfs::Format::Qcow2),
            readonly: true,
        },
    )
    .unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/VG/Root", "/").unwrap();
    assert!(
        g.is_file("/test-umount", Default::default()).unwrap(),
        "the copied file is lost"
    );
    assert_eq!(
        before,
        gx_testdata::file_digest(&base),
        "backing file changed"
    );
}

fn cloexec_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

/// Let children inherit `fd`.
fn inherit(fd: &std::os::fd::OwnedFd) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
}

/// libguestfs fuse/test-guestmount-fd.c: `--fd N --no-fork`: one byte on N
/// once the mount is ready; exit 0 after gx-unmount.
#[test]
fn mount_fd_says_ready() {
    need!("mount_fd_says_ready", fuse_missing());
    let img = gx_testdata::image("linux.img");
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let (rx, tx) = cloexec_pipe();
    inherit(&tx);
    use std::os::fd::AsRawFd;
    let mut child = Command::new(MOUNT)
        .env_remove("GX_ENGINE")
        .args(["--fd", &tx.as_raw_fd().to_string(), "--no-fork", "--ro"])
        .args(["-a", img.to_str().unwrap(), "-i"])
        .arg(&mp)
        .spawn()
        .unwrap();
    drop(tx);
    let mut rx = std::fs::File::from(rx);
    let mut byte = [0u8; 1];
    let n = std::io::Read::read(&mut rx, &mut byte).unwrap();
    assert_eq!(n, 1, "unexpected end of file on the pipe");
    assert!(
        mp.join("etc/fstab").exists(),
        "the image is not mounted and ready"
    );
    run(Command::new(UNMOUNT).arg(&mp));
    let status = child.wait().unwrap();
    assert!(status.success(), "gx-mount: {status}");
}

/// libguestfs fuse/test-guestunmount-fd.c and -not-mounted.sh: with `--fd`,
/// gx-unmount waits for the pipe to close; "/" is mounted but not FUSE
/// (exit 3); a plain directory cannot be unmounted (exit 2).
#[test]
fn unmount_exit_codes_and_fd() {
    need!("unmount_exit_codes_and_fd", fuse_missing());
    // Only the read end goes to gx-unmount (as the C test closes the
    // write end in its child).
    let (rx, tx) = cloexec_pipe();
    inherit(&rx);
    use std::os::fd::AsRawFd;
    let mut child = Command::new(UNMOUNT)
        .args(["--fd", &rx.as_raw_fd().to_string(), "/"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(rx);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "gx-unmount did not wait for the pipe"
    );
    drop(tx);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "/ is not a FUSE mount");

    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(UNMOUNT)
        .arg("--quiet")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.is_empty(), "--quiet printed something");
}

/// Usage errors and bad input: a message, exit 1, nothing left mounted.
#[test]
fn errors_are_clear_and_leave_nothing_mounted() {
    need!("errors_are_clear_and_leave_nothing_mounted", fuse_missing());
    let img = gx_testdata::image("linux.img");
    let img = img.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let mp_s = mp.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["-i", mp_s],
            "you must specify at least one -a or -d option.",
        ),
        (
            &["-a", img, mp_s],
            "you must specify either -i at least one -m option.",
        ),
        (&["--ro", "-a", img, "-i"], "you must specify a mountpoint"),
        (&["--ro", "-a", img, "-m", "/dev/sdz9", mp_s], "/dev/sdz9"),
        (
            &["--ro", "-a", img, "-i", "-o", "bogus", mp_s],
            "unknown option",
        ),
        (
            &["--ro", "-a", img, "-i", "/nonexistent/dir"],
            "/nonexistent/dir",
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(MOUNT)
            .env_remove("GX_ENGINE")
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!is_mounted(&mp), "{args:?} left a mount");
    }
}

/// Extended attributes reach the host: what debugfs set on the
/// filesystem, getfattr reads through the mount.
#[test]
fn xattrs_read_through_the_mount() {
    need!("xattrs_read_through_the_mount", fuse_missing());
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f"), b"data").unwrap();
    let img = tmp.path().join("x.img");
    run(Command::new("truncate").arg("-s").arg("8M").arg(&img));
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-I", "256", "-d"])
        .arg(&tree)
        .arg(&img));
    let set = [
        ("user.test", "hello123"),
        ("security.selinux", "system_u:object_r:etc_t:s0"),
        ("trusted.long", &"x".repeat(300)),
    ];
    for (name, value) in set {
        run(Command::new("debugfs")
            .arg("-w")
            .arg("-R")
            .arg(format!("ea_set /f {name} {value}"))
            .arg(&img)
            .stderr(Stdio::null()));
    }
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let mut m = Mounted::new(
        &mp,
        &[
            "--ro",
            "--format=raw",
            "-a",
            img.to_str().unwrap(),
            "-m",
            "/dev/sda",
        ],
    );
    let out = run(Command::new("getfattr")
        .args(["-d", "-m", "-", "--absolute-names", "-e", "text"])
        .arg(mp.join("f")));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for (name, value) in set {
        assert!(
            text.contains(&format!("{name}=\"{value}\"")),
            "{name} missing or wrong: {text}"
        );
    }
    let missing = Command::new("getfattr")
        .args(["-n", "user.nothere", "--absolute-names"])
        .arg(mp.join("f"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("No such attribute"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    m.unmount(10);
}

/// `cp -a` out of a read-only mount keeps types, modes, owners, times and
/// link targets (checked against debugfs's own dump of the filesystem).
#[test]
fn cp_a_out_of_the_mount_keeps_everything() {
    need!("cp_a_out_of_the_mount_keeps_everything", fuse_missing());
    let img = gx_testdata::image("linux.img");
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let mut m = Mounted::new(
        &mp,
        &["--ro", "-a", img.to_str().unwrap(), "-m", "/dev/sda2"],
    );
    let copy = tmp.path().join("copy");
    run(Command::new("cp").arg("-a").arg(mp.join("etc")).arg(&copy));
    m.unmount(10);

    let fsimg = tmp.path().join("root.ext4");
    root_partition(&img, &fsimg);
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    debugfs(&fsimg, &format!("rdump /etc {}", theirs.display()));
    let a = tree(&copy);
    let b = tree(&theirs.join("etc"));
    assert!(b.len() > 10);
    for (rel, pb) in &b {
        let pa = a
            .get(rel)
            .unwrap_or_else(|| panic!("{rel}: not copied out"));
        let (ma, mb) = (
            std::fs::symlink_metadata(pa).unwrap(),
            std::fs::symlink_metadata(pb).unwrap(),
        );
        assert_eq!(ma.file_type(), mb.file_type(), "{rel}: type");
        assert_eq!((ma.uid(), ma.gid()), (mb.uid(), mb.gid()), "{rel}: owner");
        if ma.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(pa).unwrap(),
                std::fs::read_link(pb).unwrap()
            );
        } else {
            assert_eq!(ma.mtime(), mb.mtime(), "{rel}: mtime");
            if ma.is_file() {
                assert!(
                    std::fs::read(pa).unwrap() == std::fs::read(pb).unwrap(),
                    "{rel}"
                );
                assert_eq!(ma.mode() & 0o777, mb.mode() & 0o777, "{rel}: mode");
            }
        }
    }
}

/// A killed gx-mount leaves a dead mount ("transport endpoint is not
/// connected"); the next gx-mount on the same directory takes its place.
#[test]
fn a_killed_mount_does_not_block_the_next() {
    need!("a_killed_mount_does_not_block_the_next", fuse_missing());
    let img = gx_testdata::image("linux.img");
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("mp");
    std::fs::create_dir(&mp).unwrap();
    let args = ["--ro", "-a", img.to_str().unwrap(), "-i"];
    let mut m = Mounted::new(&mp, &args);
    run(Command::new("kill").args(["-9", &m.pid.to_string()]));
    let start = Instant::now();
    while pid_alive(m.pid) {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    m.pid = 0;
    // The kernel answers a dead FUSE connection with ENOTCONN, or with
    // ECONNABORTED where it saw the abort (kernels differ); either is the
    // "transport endpoint" error guestmount users know.
    let e = std::fs::metadata(&mp).unwrap_err();
    assert!(
        matches!(e.raw_os_error(), Some(107) | Some(103)),
        "ENOTCONN or ECONNABORTED expected: {e}"
    );
    let mut again = Mounted::new(&mp, &args);
    assert!(mp.join("etc/fstab").is_file());
    again.unmount(10);
    assert!(std::fs::read_dir(&mp).unwrap().next().is_none());
}

/// NTFS and XFS guests, walked through the mount with the host's syscalls,
/// answer as the Handle does on the same image (type, mode, size, times,
/// links, contents), whatever the filesystem.
#[test]
fn ntfs_and_xfs_walks_match_the_handle() {
    need!("ntfs_and_xfs_walks_match_the_handle", fuse_missing());
    for (name, dev) in [("windows.img", "/dev/sda1"), ("xfs-v4.img", "/dev/sda")] {
        let img = gx_testdata::image(name);
        let tmp = tempfile::tempdir().unwrap();
        let mp = tmp.path().join("mp");
        std::fs::create_dir(&mp).unwrap();
        let mut m = Mounted::new(
            &mp,
            &[
                "--ro",
                "--format=raw",
                "-a",
                img.to_str().unwrap(),
                "-m",
                dev,
            ],
        );
        let mut g = gx_guestfs::Handle::new();
        g.add_drive_opts(
            &img,
            gx_guestfs::DriveOptions {
                format: Some(gx_guestfs::Format::Raw),
                readonly: true,
            },
        )
        .unwrap();
        g.launch().unwrap();
        g.mount_ro(dev, "/").unwrap();
        let walked = tree(&mp);
        let listed = g.find("/").unwrap();
        assert_eq!(
            walked.len(),
            listed.len(),
            "{name}: the mount and the Handle see different trees"
        );
        use gx_guestfs::StatExt;
        for rel in walked.keys() {
            let guest = format!("/{rel}");
            let ours = std::fs::symlink_metadata(mp.join(rel)).unwrap();
            let st = g.lstatns(&guest).unwrap();
            assert_eq!(
                u64::from(ours.mode()),
                st.st_mode as u64,
                "{name}:{rel}: mode"
            );
            assert_eq!(ours.size() as i64, st.st_size, "{name}:{rel}: size");
            assert_eq!(ours.mtime(), st.st_mtime_sec, "{name}:{rel}: mtime");
            assert_eq!(
                ours.mtime_nsec(),
                st.st_mtime_nsec,
                "{name}:{rel}: mtime ns"
            );
            assert_eq!(ours.nlink() as i64, st.st_nlink, "{name}:{rel}: nlink");
            assert_eq!(ours.blocks() as i64, st.st_blocks, "{name}:{rel}: blocks");
            match st.file_type() {
                gx_guestfs::FileType::Symlink => assert_eq!(
                    std::fs::read_link(mp.join(rel)).unwrap().to_string_lossy(),
                    g.readlink(&guest).unwrap(),
                    "{name}:{rel}"
                ),
                gx_guestfs::FileType::Regular => {
                    let mut want = Vec::new();
                    g.download(&guest, &mut want).unwrap();
                    assert!(
                        std::fs::read(mp.join(rel)).unwrap() == want,
                        "{name}:{rel}: contents"
                    );
                }
                _ => {}
            }
        }
        m.unmount(10);
    }
}

/// libguestfs fish/test-mount-local.sh with the names substituted: a new
/// disk (-N fs), `mount-local`, a background script that writes, links,
/// removes and unmounts, `mount-local-run`, then the file it left is read
/// back through the handle.
#[test]
fn fish_mount_local_like_libguestfs() {
    need!(
        "fish_mount_local_like_libguestfs",
        fuse_missing(),
        appliance_missing()
    );
    let fish = Path::new(MOUNT).with_file_name("gx-fish");
    let tmp = tempfile::tempdir().unwrap();
    let mp = tmp.path().join("test-mount-local-mp");
    std::fs::create_dir(&mp).unwrap();
    let script = tmp.path().join("run-test.sh");
    std::fs::write(
        &script,
        format!(
            "set -e\ncd {dir}\n\
             echo 'hello' > test-mount-local-mp/hello\n\
             chmod 0600 test-mount-local-mp/hello\n\
             rm test-mount-local-mp/hello\n\
             echo 'hello' > test-mount-local-mp/hello\n\
             ln -s test-mount-local-mp/hello test-mount-local-mp/goodbye\n\
             ln test-mount-local-mp/hello test-mount-local-mp/link\n\
             rm test-mount-local-mp/goodbye test-mount-local-mp/link\n\
             dd if=/dev/zero of=test-mount-local-mp/zero bs=10k count=10 2>/dev/null\n\
             sync\n\
             rm test-mount-local-mp/zero\n\
             echo 'mount-local test successful' > test-mount-local-mp/ok\n\
             {unmount} test-mount-local-mp\n",
            dir = tmp.path().display(),
            unmount = UNMOUNT,
        ),
    )
    .unwrap();
    let mut child = Command::new(&fish)
        .env_remove("GX_ENGINE")
        .current_dir(tmp.path())
        .args(["-N", "test-mount-local.img=fs", "-m", "/dev/sda1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            format!(
                "mount-local test-mount-local-mp\n! sh {} &\nmount-local-run\n\ncat /ok\n",
                script.display()
            )
            .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gx-fish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // guestfish's `cat` adds a newline to what the file holds.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "mount-local test successful\n\n"
    );
    assert!(!is_mounted(&mp));
}

/// A LUKS guest mounted with `--keys-from-stdin` is served like one mounted
/// with `--key`: the reader threads open the same devices with the key that
/// worked (standard input cannot be read twice), so the daemon runs as many
/// threads either way, and the files read the same.
#[test]
fn keys_from_stdin_mounts_keep_their_readers() {
    need!("keys_from_stdin_mounts_keep_their_readers", fuse_missing());
    let img = gx_testdata::image("libguestfs-fedora-lvm-on-luks.img");
    let img = img.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let threads = |pid: i32| {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .count()
    };
    let mut seen = Vec::new();
    for (name, keys, input) in [
        ("key", vec!["--key", "/dev/sda2:key:FEDORA"], ""),
        ("stdin", vec!["--keys-from-stdin"], "FEDORA\n"),
    ] {
        let mp = tmp.path().join(name);
        std::fs::create_dir(&mp).unwrap();
        let mut args = vec!["--ro", "--format=raw", "-a", img, "-i"];
        args.extend(keys);
        let mut m = Mounted::with_stdin(&mp, &args, input);
        let fstab = std::fs::read(mp.join("etc/fstab")).unwrap();
        // The readers open their handles in the background: wait until
        // the count settles.
        let mut n = threads(m.pid);
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            let now = threads(m.pid);
            if now == n {
                break;
            }
            n = now;
        }
        seen.push((n, fstab));
        m.unmount(30);
    }
    assert!(seen[0].1.starts_with(b"LABEL=BOOT"), "fstab read");
    assert_eq!(
        seen[0], seen[1],
        "(threads, /etc/fstab) with --key vs --keys-from-stdin"
    );
}

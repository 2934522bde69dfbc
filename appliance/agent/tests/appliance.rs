//! End-to-end: the real agent in the real appliance (stock kernel, QEMU, TCG
//! here). Few boots, many checks per boot. Skips, saying why, when QEMU or a
//! kernel is missing; CI installs both through scripts/setup.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gx_appliance::{Appliance, Config, Drive, Error};
use gx_protocol::{E2fsckOpts, MkfsOpts};

mod common;

use common::{GuestExt, agent, launch, prerequisites, sh, sha};

/// A 64 MiB ext4 image made from a directory, like images/ will hold.
fn make_ext4(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("etc")).expect("mkdir");
    std::fs::create_dir_all(src.join("usr/share/doc")).expect("mkdir");
    std::fs::write(src.join("etc/hostname"), "testhost\n").expect("write");
    std::fs::write(src.join("etc/os-release"), "ID=debian\nVERSION_ID=12\n").expect("write");
    std::fs::write(src.join("usr/share/doc/big.bin"), vec![7u8; 300_000]).expect("write");
    std::os::unix::fs::symlink("/etc/hostname", src.join("etc/link")).expect("symlink");
    let img = dir.join("linux.img");
    sh(&format!(
        "mkfs.ext4 -q -F -L gxroot -U 6f1c2b3a-0000-4000-8000-000000000001 -d {} {} 64M",
        src.display(),
        img.display()
    ));
    img
}

#[test]
fn e2e_files_partitions_relaunch_readonly() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("e2e: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = make_ext4(tmp.path());
    let blank = tmp.path().join("blank.img");
    std::fs::File::create(&blank)
        .and_then(|f| f.set_len(64 << 20))
        .expect("blank");
    let blank2 = tmp.path().join("blank2.img");
    std::fs::File::create(&blank2)
        .and_then(|f| f.set_len(64 << 20))
        .expect("blank2");

    let mut g = launch(vec![
        Drive::new(&img, Some("raw"), false),
        Drive::new(&blank, None, false),
        Drive::new(&blank2, None, false),
    ]);
    eprintln!("launched in {:?}: {}", g.launch_time(), g.agent_info());
    assert!(g.ping().expect("ping").starts_with("gx-agent"));
    assert_eq!(
        g.list_devices().expect("devs"),
        vec!["/dev/sda", "/dev/sdb", "/dev/sdc"]
    );
    assert_eq!(g.blockdev_getsize64("/dev/sda").expect("size"), 64 << 20);
    assert_eq!(g.blockdev_getss("/dev/sdb").expect("ss"), 512);
    assert_eq!(g.vfs_type("/dev/sda").expect("type"), "ext4");
    assert_eq!(g.vfs_label("/dev/sda").expect("label"), "gxroot");
    assert_eq!(
        g.vfs_uuid("/dev/sda").expect("uuid"),
        "6f1c2b3a-0000-4000-8000-000000000001"
    );

    // Read side.
    g.mount("/dev/sda", "/").expect("mount");
    assert_eq!(g.mounts().expect("mounts"), vec!["/dev/sda"]);
    let ls = g.ls("/etc").expect("ls");
    assert_eq!(ls, vec!["hostname", "link", "os-release"]);
    assert_eq!(g.cat("/etc/hostname").expect("cat"), "testhost\n");
    // The symlink is absolute: resolved inside the guest, not the appliance.
    assert_eq!(g.cat("/etc/link").expect("cat link"), "testhost\n");
    assert_eq!(g.readlink("/etc/link").expect("readlink"), "/etc/hostname");
    assert!(g.is_dir("/etc").expect("is_dir"));
    assert!(g.is_file("/etc/hostname").expect("is_file"));
    assert!(!g.is_file("/etc/link").expect("is_file link"));
    assert!(!g.exists("/nope").expect("exists"));
    assert_eq!(
        g.filesize("/usr/share/doc/big.bin").expect("filesize"),
        300_000
    );
    let st = g.lstatns("/etc/hostname").expect("lstatns");
    assert_eq!(st.st_size, 9);
    assert_eq!(st.st_mode & 0o170000, 0o100000);
    let vfs = g.statvfs("/").expect("statvfs");
    assert!(vfs.blocks > 0 && vfs.bfree > 0 && vfs.bfree <= vfs.blocks);
    let found = g.find("/usr").expect("find");
    assert_eq!(found, vec!["/share", "/share/doc", "/share/doc/big.bin"]);
    assert_eq!(
        g.pread("/etc/hostname", 4, 2).expect("pread"),
        b"sthost"[..4]
    );

    // Errors carry errno and a message, and the agent goes on serving.
    let e = g.cat("/etc/missing").expect_err("missing");
    assert_eq!(e.errno(), Some(2), "{e}");
    assert!(e.to_string().contains("/etc/missing"), "{e}");
    let e = g.mount("/dev/sdz", "/mnt").expect_err("no device");
    assert!(e.errno().is_some(), "{e}");
    assert!(g.ping().is_ok());

    // Writes.
    g.mkdir_p("/data/sub/deeper").expect("mkdir_p");
    g.write("/data/hello.txt", b"hello world\n").expect("write");
    g.write_append("/data/hello.txt", b"again\n")
        .expect("append");
    assert_eq!(
        g.cat("/data/hello.txt").expect("cat"),
        "hello world\nagain\n"
    );
    g.cp("/data/hello.txt", "/data/copy.txt").expect("cp");
    g.mv("/data/copy.txt", "/data/sub/moved.txt").expect("mv");
    g.chmod(0o600, "/data/sub/moved.txt").expect("chmod");
    g.chown(1000, 1000, "/data/sub/moved.txt").expect("chown");
    let st = g.lstatns("/data/sub/moved.txt").expect("stat");
    assert_eq!(
        (st.st_mode & 0o7777, st.st_uid, st.st_gid),
        (0o600, 1000, 1000)
    );
    g.ln_s("hello.txt", "/data/ln").expect("ln_s");
    g.touch("/data/empty").expect("touch");
    g.truncate_size("/data/empty", 12345).expect("truncate");
    assert_eq!(g.filesize("/data/empty").expect("size"), 12345);
    g.cp_a("/data/sub", "/data/sub2").expect("cp_a");
    g.rm_rf("/data/sub2").expect("rm_rf");
    g.rm_rf("/data/never-existed").expect("rm_rf missing");
    g.rm("/data/empty").expect("rm");
    g.rmdir("/data/sub/deeper").expect("rmdir");

    // Streaming: 20 MiB of non-repeating data up and back.
    let data: Vec<u8> = (0..20u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    g.upload(&mut &data[..], "/data/big").expect("upload");
    assert_eq!(g.filesize("/data/big").expect("size"), data.len() as i64);
    let mut back = Vec::new();
    g.download("/data/big", &mut back).expect("download");
    assert!(back == data, "download differs");
    // Upload into a missing directory: an error, and the channel stays in step.
    let e = g
        .upload(&mut &data[..], "/nodir/x")
        .expect_err("upload fails");
    assert_eq!(e.errno(), Some(2), "{e}");
    let mut sink = Vec::new();
    assert!(g.download("/nodir/x", &mut sink).is_err());
    assert!(sink.is_empty());
    assert_eq!(g.cat("/etc/hostname").expect("in step"), "testhost\n");
    // A download whose destination fails: cancelled, then the channel is fine.
    struct Fails(usize);
    impl std::io::Write for Fails {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            if self.0 > 1 << 20 {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(b.len())
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let e = g
        .download("/data/big", &mut Fails(0))
        .expect_err("local failure");
    assert!(matches!(e, Error::Local { .. }), "{e}");
    // An upload whose source fails half-way: the file is not reported written.
    struct BadSrc(usize);
    impl Read for BadSrc {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.0 += 1;
            if self.0 > 3 {
                Err(std::io::Error::other("source broke"))
            } else {
                b.fill(1);
                Ok(b.len())
            }
        }
    }
    let e = g
        .upload(&mut BadSrc(0), "/data/partial")
        .expect_err("source fails");
    assert!(matches!(e, Error::Local { .. }), "{e}");
    assert!(g.ping().is_ok());

    // Many small calls in a row (a request flood, sequential).
    for _ in 0..500 {
        g.exists("/etc/hostname").expect("flood");
    }

    // Partitions and mkfs on the second disk.
    g.part_disk("/dev/sdb", "gpt").expect("part_disk");
    assert_eq!(g.part_get_parttype("/dev/sdb").expect("parttype"), "gpt");
    let parts = g.part_list("/dev/sdb").expect("part_list");
    assert_eq!(parts.len(), 1);
    // libguestfs's layout: 128 sectors in, 128 sectors left at the end.
    assert_eq!(parts[0].part_start, 128 * 512);
    // parted's "-128s" is the sector 128 before the end, inclusive.
    assert_eq!(parts[0].part_end, (131_072 - 128) * 512 + 511);
    assert_eq!(g.list_partitions().expect("lp"), vec!["/dev/sdb1"]);
    g.mkfs("vfat", "/dev/sdb1", MkfsOpts::default())
        .expect("mkfs vfat");
    assert_eq!(g.vfs_type("/dev/sdb1").expect("type"), "vfat");
    g.mkdir("/mnt2").expect("mkdir");
    g.mount("/dev/sdb1", "/mnt2").expect("mount vfat");
    g.write("/mnt2/HELLO.TXT", b"fat!").expect("write fat");
    assert_eq!(
        g.mountpoints().expect("mps"),
        vec![
            ("/dev/sda".to_string(), "/".to_string()),
            ("/dev/sdb1".to_string(), "/mnt2".to_string())
        ]
    );
    let fs = g.list_filesystems().expect("list_filesystems");
    assert!(fs.contains(&("/dev/sda".into(), "ext4".into())), "{fs:?}");
    assert!(fs.contains(&("/dev/sdb1".into(), "vfat".into())), "{fs:?}");
    g.umount_all().expect("umount_all");
    assert!(g.mounts().expect("mounts").is_empty());
    g.e2fsck(
        "/dev/sda",
        E2fsckOpts {
            correct: Some(true),
            ..E2fsckOpts::default()
        },
    )
    .expect("e2fsck");

    // LVM on the second disk (made with the appliance's own lvm through sh).
    g.zero("/dev/sdb").expect("zero");
    g.sh("lvm pvcreate -ff -y /dev/vdb && lvm vgcreate gxvg /dev/vdb && lvm lvcreate -y -W y -L 16M -n lv0 gxvg")
        .expect("create LVM");
    assert_eq!(g.pvs().expect("pvs"), vec!["/dev/sdb"]);
    assert_eq!(g.vgs().expect("vgs"), vec!["gxvg"]);
    assert_eq!(g.lvs().expect("lvs"), vec!["/dev/gxvg/lv0"]);
    g.mkfs("ext4", "/dev/gxvg/lv0", MkfsOpts::default())
        .expect("mkfs on LV");
    g.mount("/dev/gxvg/lv0", "/").expect("mount LV");
    g.write("/on-lv", b"lv").expect("write LV");
    g.umount_all().expect("umount LV");
    g.vg_activate_all(false).expect("deactivate");

    // NTFS through ntfs-3g, when the host had the tools.
    g.part_disk("/dev/sdc", "mbr").expect("part_disk mbr");
    assert_eq!(g.part_get_parttype("/dev/sdc").expect("parttype"), "msdos");
    match g.mkfs("ntfs", "/dev/sdc1", MkfsOpts::default()) {
        Ok(()) => {
            g.mount("/dev/sdc1", "/").expect("mount ntfs");
            g.write("/Windows.txt", b"ntfs").expect("write ntfs");
            assert_eq!(g.cat("/Windows.txt").expect("cat ntfs"), "ntfs");
            g.umount_all().expect("umount ntfs");
            assert_eq!(g.vfs_type("/dev/sdc1").expect("type"), "ntfs");
        }
        // The appliance has mkntfs when the host has it (scripts/setup
        // installs ntfs-3g); with it, any failure is a failure.
        Err(e) if !common::has("mkntfs") => {
            gx_testdata::skip_or_fail!("ntfs part: the host has no mkntfs: {e}")
        }
        Err(e) => panic!("mkfs ntfs failed: {e}"),
    }
    g.shutdown().expect("shutdown");

    // The host's e2fsck agrees the appliance left a clean ext4.
    sh(&format!("e2fsck -fn {}", img.display()));

    // Relaunch read-only: the writes are there; writes now go to an overlay.
    let before = sha(&img);
    let mut g = launch(vec![Drive::new(&img, Some("raw"), true)]);
    g.mount("/dev/sda", "/").expect("mount rw on the overlay");
    assert_eq!(
        g.cat("/data/hello.txt").expect("persisted"),
        "hello world\nagain\n"
    );
    assert_eq!(g.filesize("/data/big").expect("big"), data.len() as i64);
    assert_eq!(g.readlink("/data/ln").expect("ln"), "hello.txt");
    g.write("/data/ro-write", b"discarded")
        .expect("write to overlay");
    g.rm_rf("/data").expect("rm_rf to overlay");
    g.sync().expect("sync");
    g.shutdown().expect("shutdown");
    assert_eq!(before, sha(&img), "read-only drive changed");
}

#[test]
fn faults_are_errors_not_hangs() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("faults: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let img = make_ext4(tmp.path());

    // A reply with a lying length (claims 64 MiB): a protocol error, at once.
    let mut g = launch(vec![Drive::new(&img, Some("raw"), true)]);
    let e = g.debug("lying-frame", &[]).expect_err("lying frame");
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
    assert!(matches!(g.ping(), Err(Error::Broken)));
    drop(g);

    // The agent dies mid-call: the host sees the VM go, with its console.
    let mut g = launch(vec![Drive::new(&img, Some("raw"), true)]);
    let pid = g.pid();
    let e = g.debug("exit", &[]).expect_err("agent exit");
    assert!(matches!(e, Error::Disconnected { .. }), "{e}");
    drop(g);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU {pid} left behind"
    );

    // An appliance that waits 2 s at most for each answer.
    let impatient = || {
        Appliance::launch(Config {
            agent: agent(),
            drives: vec![Drive::new(&img, Some("raw"), true)],
            launch_timeout: Duration::from_secs(180),
            call_timeout: Duration::from_secs(2),
            ..Config::default()
        })
        .expect("launch")
    };

    // A call that takes longer than the call timeout.
    let mut g = impatient();
    let e = g
        .debug("sleep-ms", &["60000".to_string()])
        .expect_err("timeout");
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    drop(g);

    // A flood of frames: stray replies of no call are a protocol error after
    // a bounded number; progress that never ends is a timeout.
    for (what, timeout) in [("flood", false), ("progress-flood", true)] {
        let mut g = impatient();
        let pid = g.pid();
        let t = std::time::Instant::now();
        let e = g.debug(what, &[]).expect_err(what);
        if timeout {
            assert!(matches!(e, Error::Timeout { .. }), "{what}: {e}");
        } else {
            assert!(matches!(e, Error::Protocol { .. }), "{what}: {e}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{what} took {:?}",
            t.elapsed()
        );
        drop(g);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "QEMU {pid} left behind after {what}"
        );
    }

    // The VM killed in the middle of a download.
    let mut g = launch(vec![Drive::new(&img, Some("raw"), false)]);
    g.mount("/dev/sda", "/").expect("mount");
    g.upload(&mut std::io::repeat(5).take(32 << 20), "/big")
        .expect("upload");
    let pid = g.pid();
    struct KillAfter {
        n: usize,
        pid: u32,
    }
    impl std::io::Write for KillAfter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.n += b.len();
            if self.n > 4 << 20 && self.pid != 0 {
                let _ = Command::new("kill")
                    .args(["-9", &self.pid.to_string()])
                    .status();
                self.pid = 0;
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let e = g
        .download("/big", &mut KillAfter { n: 0, pid })
        .expect_err("VM killed");
    assert!(matches!(e, Error::Disconnected { .. }), "{e}");
}

/// Restoring a snapshot of a booted appliance: each launch sees its own disks
/// (never what the saving launch saw), the host's time, and a freshly seeded
/// RNG; the snapshot's RAM file is never written by a restored VM; a damaged
/// snapshot is dropped and the launch boots instead.
#[test]
fn snapshot_restore_is_fresh_and_falls_back_to_boot() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("snapshot: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    for (dir, host, size) in [(&one, "first", "40M"), (&two, "second", "48M")] {
        std::fs::create_dir_all(dir.join("src/etc")).expect("mkdir");
        std::fs::write(dir.join("src/etc/hostname"), format!("{host}\n")).expect("write");
        sh(&format!(
            "mkfs.ext4 -q -F -d {}/src {}/disk.img {size}",
            dir.display(),
            dir.display()
        ));
    }
    // A memory size no other test uses: this test owns the layout's snapshot.
    let cfg = |disk: &Path| Config {
        drives: vec![Drive::new(disk, Some("raw"), true)],
        agent: agent(),
        memory_mib: 448,
        launch_timeout: Duration::from_secs(180),
        call_timeout: Duration::from_secs(120),
        ..Config::default()
    };
    let look = |g: &mut Appliance| -> (String, i64, String) {
        g.mount_ro("/dev/sda", "/").expect("mount");
        let host = g.cat("/etc/hostname").expect("cat");
        let size = g.blockdev_getsize64("/dev/sda").expect("size");
        let uuid = g.sh("cat /proc/sys/kernel/random/uuid").expect("uuid");
        (host, size, uuid)
    };

    let mut a = Appliance::launch(cfg(&one.join("disk.img"))).expect("launch one");
    let snap = a
        .snapshot_path()
        .expect("the first launch saves (or restores) a snapshot")
        .to_path_buf();
    let (host, size, uuid_a) = look(&mut a);
    assert_eq!((host.as_str(), size), ("first\n", 40 << 20));
    // Dirty a good part of the guest's memory: none of it may reach the file.
    a.sh("dd if=/dev/urandom of=/tmp/fill bs=1M count=64 2>/dev/null && sync")
        .expect("fill");
    a.shutdown().expect("shutdown");
    let ram = snap.join("ram");
    let ram_before = file_digest(&ram);

    let mut b = Appliance::launch(cfg(&two.join("disk.img"))).expect("launch two");
    assert!(b.restored(), "{}", b.agent_info());
    let (host, size, uuid_b) = look(&mut b);
    assert_eq!((host.as_str(), size), ("second\n", 48 << 20));
    // The clock is the host's, not the snapshot's.
    b.sh("touch /tmp/now").expect("touch");
    let guest_now: i64 = b
        .sh("date +%s")
        .expect("date")
        .trim()
        .parse()
        .expect("number");
    let host_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    assert!(
        (guest_now - host_now).abs() < 30,
        "{guest_now} vs {host_now}"
    );
    b.sh("dd if=/dev/urandom of=/tmp/fill bs=1M count=64 2>/dev/null && sync")
        .expect("fill");
    b.shutdown().expect("shutdown");
    assert_eq!(
        file_digest(&ram),
        ram_before,
        "a restored VM changed the snapshot's RAM file"
    );
    assert_eq!(
        std::fs::metadata(&ram).expect("ram").len(),
        448 << 20,
        "the RAM file is the VM's memory size"
    );

    let mut c = Appliance::launch(cfg(&one.join("disk.img"))).expect("launch three");
    assert!(c.restored());
    let (_, _, uuid_c) = look(&mut c);
    c.shutdown().expect("shutdown");
    assert!(
        uuid_a != uuid_b && uuid_b != uuid_c && uuid_a != uuid_c,
        "random UUIDs repeat across restores: {uuid_a} {uuid_b} {uuid_c}"
    );

    // A damaged snapshot: the launch boots, and saves a good one again.
    std::fs::write(snap.join("vmstate"), b"not a QEMU migration stream").expect("damage");
    let mut d = Appliance::launch(cfg(&two.join("disk.img"))).expect("launch after damage");
    assert!(!d.restored());
    let (host, _, _) = look(&mut d);
    assert_eq!(host, "second\n");
    d.shutdown().expect("shutdown");
    assert!(
        std::fs::metadata(snap.join("vmstate"))
            .expect("snapshot saved again")
            .len()
            > 1 << 10
    );
    assert_ne!(file_digest(&ram), ram_before, "a new RAM file");
}

/// A digest of a file's bytes (whether it changed).
fn file_digest(p: &Path) -> u64 {
    use std::hash::Hasher;
    use std::io::Read;
    let mut f = std::fs::File::open(p).expect("open");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
    }
    h.finish()
}

/// Parallel first launches of one layout (parallel CI jobs): each boots and
/// saves its snapshot at once; the atomic rename leaves one whole file that
/// the next launch restores.
#[test]
fn concurrent_first_launches_share_one_snapshot() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("concurrent snapshots: {why}");
        return;
    }
    // A memory size no other test uses: this test owns the layout.
    let cfg = || Config {
        agent: agent(),
        memory_mib: 416,
        launch_timeout: Duration::from_secs(180),
        call_timeout: Duration::from_secs(120),
        ..Config::default()
    };
    // Start from no snapshot for this layout.
    let probe = Appliance::launch(cfg()).expect("launch");
    let snap = probe
        .snapshot_path()
        .expect("a snapshot path")
        .to_path_buf();
    probe.shutdown().expect("shutdown");
    std::fs::remove_dir_all(&snap).expect("remove the snapshot");
    let threads: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let mut g = Appliance::launch(cfg()).expect("parallel launch");
                let restored = g.restored();
                assert!(g.ping().expect("ping").starts_with("gx-agent"));
                g.shutdown().expect("shutdown");
                restored
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let mut g = Appliance::launch(cfg()).expect("launch after");
    assert!(g.restored(), "{}", g.agent_info());
    assert!(g.ping().expect("ping").starts_with("gx-agent"));
    g.shutdown().expect("shutdown");
    // No temporary files of this snapshot left beside it (other tests may be
    // saving theirs in the same directory right now).
    let dir = snap.parent().expect("dir");
    let name = snap
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let tmp: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(&name) && n.contains(".tmp-"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn missing_drive_is_a_launch_error() {
    let e = Appliance::launch(Config {
        agent: agent(),
        drives: vec![Drive::new("/nonexistent/disk.img", None, true)],
        ..Config::default()
    })
    .expect_err("missing drive");
    assert!(matches!(e, Error::Launch { .. }), "{e}");
}

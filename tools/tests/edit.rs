//! gx-edit against independent oracles.
//!
//! - guestfs-tools' own test (edit/test-virt-edit.sh) with the names
//!   substituted: `EDITOR='echo newline >>'`, then `-e 's/^[a-f]/$lineno/'`
//!   on libguestfs's phony Fedora guest (LVM) through a qcow2 overlay, and
//!   /etc/test3 keeps mode 33152, uid 10, gid 11; the backing file is
//!   untouched.
//! - The same scenario on the ext4 root of linux.img, where e2fsprogs is the
//!   oracle: `debugfs` reads the new content, mode, owner and extended
//!   attributes (security.selinux included), a set-user-ID file keeps its
//!   bits, a symlink stays a symlink to the changed file, `-b` keeps the old
//!   content, no temporary name is left in the directory, and `e2fsck -fn`
//!   finds the filesystem clean.
//! - Windows paths (`c:\AUTOEXEC.BAT`, any case) change the NTFS file, read
//!   back by ntfsprogs' `ntfscat`.
//! - What must leave the image byte-identical and start no VM: a missing
//!   file (virt-edit's message), a directory, an editor that changes
//!   nothing ("File not changed."), an expression that changes nothing or
//!   dies; a read-only mount (`-m dev:/:ro`) is refused with EROFS.
//! - The private temporary copy is gone after success, failure, and
//!   SIGTERM/SIGHUP while the editor runs; ^C sent to gx-edit alone while the
//!   editor runs is left to the editor.
//!
//! Messages are those libguestfs printed for the same cases
//! (tests/expected/edit/, made by make.sh there with the peer).
//!
//! Tests that write boot the appliance (QEMU TCG here) and skip, saying why,
//! where it cannot run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const EDIT: &str = env!("CARGO_BIN_EXE_gx-edit");
const CAT: &str = env!("CARGO_BIN_EXE_gx-cat");
const FISH: &str = env!("CARGO_BIN_EXE_gx-fish");

/// linux.img's root partition starts at sector 34816.
const ROOT_OFFSET: u64 = 34816 * 512;

/// A scratch directory with a copy of a test image and a private TMPDIR
/// (to see that gx-edit leaves nothing there).
struct Scratch {
    dir: tempfile::TempDir,
    img: PathBuf,
}

impl Scratch {
    fn new(image: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join(image);
        std::fs::copy(gx_testdata::image(image), &img).unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Scratch { dir, img }
    }

    fn s(&self) -> &str {
        self.img.to_str().unwrap()
    }

    fn tmpdir(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// What gx-edit left in its TMPDIR.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.tmpdir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// gx-edit left nothing in its TMPDIR.
    fn assert_no_leftovers(&self) {
        let left = self.leftovers();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }

    fn edit(&self, args: &[&str], editor: Option<&str>) -> Output {
        let mut c = Command::new(EDIT);
        c.args(args)
            .env_remove("GX_ENGINE")
            .env("TMPDIR", self.tmpdir())
            .stdin(Stdio::null());
        match editor {
            Some(e) => c.env("EDITOR", e),
            None => c.env_remove("EDITOR"),
        };
        c.output().unwrap()
    }

    /// debugfs on linux.img's ext4 root, in place.
    fn debugfs(&self, req: &str) -> String {
        let out = Command::new("debugfs")
            .arg("-R")
            .arg(req)
            .arg(format!("{}?offset={ROOT_OFFSET}", self.s()))
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "debugfs {req}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn debugfs_w(&self, req: &str) {
        let out = Command::new("debugfs")
            .arg("-w")
            .arg("-R")
            .arg(req)
            .arg(format!("{}?offset={ROOT_OFFSET}", self.s()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "debugfs -w {req}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn e2fsck_clean(&self) {
        let out = Command::new("e2fsck")
            .arg("-fn")
            .arg(format!("{}?offset={ROOT_OFFSET}", self.s()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "e2fsck -fn: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first line of what libguestfs printed for a case, without its
/// `libguestfs: error: ` or `virt-edit: ` (ours says `gx-edit: ...`).
fn peer_message(case: &str) -> String {
    let text = std::fs::read_to_string(gx_testdata::expected(&format!("edit/{case}.err")))
        .unwrap_or_else(|e| panic!("tests/expected/edit/{case}.err: {e}"));
    let line = text.lines().next().unwrap_or_default();
    let line = line
        .strip_prefix("libguestfs: ")
        .or_else(|| line.strip_prefix("virt-edit: "))
        .unwrap_or(line);
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// `debugfs stat` fields: (mode, uid, gid, inode).
fn stat_fields(stat: &str) -> (String, u32, u32, u64) {
    let word_after = |key: &str| -> String {
        let i = stat.find(key).unwrap_or_else(|| panic!("{key} in {stat}"));
        stat[i + key.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    (
        word_after("Mode:"),
        word_after("User:").parse().unwrap(),
        word_after("Group:").parse().unwrap(),
        word_after("Inode:").parse().unwrap(),
    )
}

#[test]
fn guestfs_tools_test_virt_edit_with_names_substituted() {
    gx_testdata::need_appliance!("guestfs_tools_test_virt_edit_with_names_substituted", EDIT);
    // libguestfs's phony Fedora guest (root on LVM), written through a
    // qcow2 overlay as the original test does.
    let dir = tempfile::tempdir().unwrap();
    let base = gx_testdata::image("libguestfs-fedora.img");
    let before = gx_testdata::file_digest(&base);
    let top = dir.path().join("test.qcow2");
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&base)
        .arg(&top)
        .output()
        .unwrap();
    ok(&out, "qemu-img create");
    let top_s = top.to_str().unwrap();

    let out = Command::new(EDIT)
        .args(["--format=qcow2", "-a", top_s, "/etc/test3"])
        .env("EDITOR", "echo newline >>")
        .env_remove("GX_ENGINE")
        .output()
        .unwrap();
    ok(&out, "gx-edit with EDITOR");
    let cat = |what: &str| {
        let out = Command::new(CAT)
            .args(["--format=qcow2", "-a", top_s, "/etc/test3"])
            .output()
            .unwrap();
        ok(&out, what);
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(cat("gx-cat"), "a\nb\nc\nd\ne\nf\nnewline\n");

    let out = Command::new(EDIT)
        .args([
            "--format=qcow2",
            "-a",
            top_s,
            "/etc/test3",
            "-e",
            "s/^[a-f]/$lineno/",
        ])
        .env_remove("GX_ENGINE")
        .output()
        .unwrap();
    ok(&out, "gx-edit -e");
    assert_eq!(cat("gx-cat"), "1\n2\n3\n4\n5\n6\nnewline\n");

    // `guestfish -i --format=qcow2 -a test.qcow2 --ro lstat /etc/test3`.
    let out = Command::new(FISH)
        .args([
            "-i",
            "--format=qcow2",
            "-a",
            top_s,
            "--ro",
            "lstat",
            "/etc/test3",
        ])
        .env_remove("GX_ENGINE")
        .output()
        .unwrap();
    ok(&out, "gx-fish lstat");
    let mut fields: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("mode:") || l.starts_with("uid:") || l.starts_with("gid:"))
        .map(str::to_string)
        .collect();
    fields.sort();
    assert_eq!(fields, ["gid: 11", "mode: 33152", "uid: 10"]);
    assert_eq!(
        before,
        gx_testdata::file_digest(&base),
        "the backing file changed"
    );
}

#[test]
fn edit_keeps_owner_mode_and_xattrs_as_debugfs_sees_them() {
    gx_testdata::need_appliance!(
        "edit_keeps_owner_mode_and_xattrs_as_debugfs_sees_them",
        EDIT
    );
    let s = Scratch::new("linux.img");
    // The test-virt-edit.sh file (0600, 10:11) with an SELinux label and a
    // user attribute, set by e2fsprogs.
    s.debugfs_w("sif /etc/test3 mode 0100600");
    s.debugfs_w("ea_set /etc/test3 security.selinux system_u:object_r:etc_t:s0");
    s.debugfs_w("ea_set /etc/test3 user.note kept");
    let etc_before = s.debugfs("ls -l /etc");
    let (_, _, _, ino_before) = stat_fields(&s.debugfs("stat /etc/test3"));

    let out = s.edit(
        &["-a", s.s(), "/etc/test3", "-e", "s/^[a-f]/$lineno/"],
        None,
    );
    ok(&out, "gx-edit -e");
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(s.debugfs("cat /etc/test3"), "1\n2\n3\n4\n5\n6\n");
    let (mode, uid, gid, ino) = stat_fields(&s.debugfs("stat /etc/test3"));
    assert_eq!((mode.as_str(), uid, gid), ("0600", 10, 11));
    // Replaced by a rename: a new inode; the hard link made before keeps
    // the old content, as with virt-edit.
    assert_ne!(ino, ino_before);
    assert_eq!(
        s.debugfs("cat /etc/testdir/hardlink-to-test3"),
        "a\nb\nc\nd\ne\nf\n"
    );
    let eas = s.debugfs("ea_list /etc/test3");
    assert!(
        eas.contains("security.selinux") && eas.contains("system_u:object_r:etc_t:s0"),
        "{eas}"
    );
    assert!(eas.contains("user.note") && eas.contains("kept"), "{eas}");
    // Same names in /etc as before: no temporary name left behind.
    let names = |ls: &str| -> Vec<String> {
        let mut v: Vec<String> = ls
            .lines()
            .filter_map(|l| l.split_whitespace().last().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&etc_before), names(&s.debugfs("ls -l /etc")));
    s.e2fsck_clean();
    s.assert_no_leftovers();
}

#[test]
fn setuid_symlink_and_backup() {
    gx_testdata::need_appliance!("setuid_symlink_and_backup", EDIT);
    let s = Scratch::new("linux.img");
    let out = s.edit(
        &[
            "-a",
            s.s(),
            "-b",
            ".orig",
            "/etc/testdir/setuid-4755",
            "/etc/testdir/link-absolute",
            "/etc/issue",
            "-e",
            "s/^/# /",
        ],
        None,
    );
    ok(&out, "gx-edit");
    // Set-user-ID survives (the owner is copied before the mode).
    let (mode, uid, gid, _) = stat_fields(&s.debugfs("stat /etc/testdir/setuid-4755"));
    assert_eq!((mode.as_str(), uid, gid), ("04755", 0, 0));
    assert_eq!(s.debugfs("cat /etc/testdir/setuid-4755"), "# setuid\n");
    // The symlink stays; its target changed (and got the backup).
    let link = s.debugfs("stat /etc/testdir/link-absolute");
    assert!(link.contains("Type: symlink"), "{link}");
    assert!(link.contains("Fast link dest: \"/etc/hostname\""), "{link}");
    let hostname = s.debugfs("cat /etc/hostname");
    assert!(hostname.starts_with("# "), "{hostname}");
    assert_eq!(s.debugfs("cat /etc/hostname.orig"), &hostname[2..]);
    assert!(
        s.debugfs("ls /etc/testdir")
            .lines()
            .all(|l| !l.contains("link-absolute.orig")),
        "the backup belongs to the target, not the link"
    );
    assert_eq!(
        s.debugfs("cat /etc/issue.orig"),
        "Debian GNU/Linux 12 \\n \\l\n"
    );
    assert_eq!(
        s.debugfs("cat /etc/issue"),
        "# Debian GNU/Linux 12 \\n \\l\n"
    );
    s.e2fsck_clean();
}

#[test]
fn editor_gets_the_file_and_unchanged_files_stay() {
    gx_testdata::need_appliance!("editor_gets_the_file_and_unchanged_files_stay", EDIT);
    let s = Scratch::new("linux.img");
    let digest = gx_testdata::file_digest(&s.img);
    // An editor that saves nothing: virt-edit's message, no write, no VM.
    let t = Instant::now();
    let out = s.edit(&["-a", s.s(), "/etc/hostname"], Some("true"));
    ok(&out, "EDITOR=true");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "File not changed.\n");
    // An expression that matches nothing.
    let out = s.edit(&["-a", s.s(), "/etc/hostname", "-e", "s/^zzz//"], None);
    ok(&out, "-e no match");
    assert!(out.stdout.is_empty());
    assert_eq!(digest, gx_testdata::file_digest(&s.img));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "no VM should start for unchanged files"
    );
    // The editor sees a private copy holding the guest's file, with its
    // name as the last word of the command.
    let seen = s.dir.path().join("seen");
    let script = format!(
        "sh -c 'stat -c %a \"$0\" > {0}; cat \"$0\" >> {0}; echo edited > \"$0\"'",
        seen.display()
    );
    let out = s.edit(&["-a", s.s(), "/etc/hostname"], Some(&script));
    ok(&out, "EDITOR=script");
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(seen, "600\ndebian12.test\n", "what the editor got");
    assert_eq!(s.debugfs("cat /etc/hostname"), "edited\n");
    s.assert_no_leftovers();
}

#[test]
fn errors_leave_the_image_alone() {
    let s = Scratch::new("linux.img");
    let digest = gx_testdata::file_digest(&s.img);
    // Missing file: virt-edit's message; nothing is created.
    let out = s.edit(&["-a", s.s(), "/etc/nonexistent", "-e", "s/a/b/"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&peer_message("missing")),
        "{} vs {}",
        stderr(&out),
        peer_message("missing")
    );
    // A directory.
    let out = s.edit(&["-a", s.s(), "/etc", "-e", "s/a/b/"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&peer_message("dir")),
        "{}",
        stderr(&out)
    );
    // A dangling symlink is a missing file too.
    let out = s.edit(
        &["-a", s.s(), "/etc/testdir/link-dangling", "-e", "s/a/b/"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&peer_message("dangling")),
        "{}",
        stderr(&out)
    );
    // The expression dies: perl's message, the guest untouched.
    let out = s.edit(
        &["-a", s.s(), "/etc/hostname", "-e", "die \"boom\\n\""],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("boom"), "{}", stderr(&out));
    // The editor fails.
    let out = s.edit(&["-a", s.s(), "/etc/hostname"], Some("false"));
    assert_eq!(out.status.code(), Some(1));
    // Usage errors, as virt-edit words them.
    let out = s.edit(&["-a", s.s(), "-e", "a", "-e", "b", "/etc/hostname"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&peer_message("twoe")),
        "{}",
        stderr(&out)
    );
    let out = s.edit(
        &["-a", s.s(), "-b", ".a", "-b", ".b", "/etc/hostname"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&peer_message("twob")),
        "{}",
        stderr(&out)
    );
    let out = s.edit(&["/etc/hostname"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&peer_message("nodrive")),
        "{}",
        stderr(&out)
    );
    assert_eq!(digest, gx_testdata::file_digest(&s.img), "image changed");
    s.assert_no_leftovers();
}

#[test]
fn read_only_mount_is_refused() {
    gx_testdata::need_appliance!("read_only_mount_is_refused", EDIT);
    let s = Scratch::new("linux.img");
    let digest = gx_testdata::file_digest(&s.img);
    let out = s.edit(
        &[
            "-a",
            s.s(),
            "-m",
            "/dev/sda2:/:ro",
            "/etc/hostname",
            "-e",
            "s/^/x/",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert_eq!(digest, gx_testdata::file_digest(&s.img), "image changed");
    s.assert_no_leftovers();
}

#[test]
fn windows_paths() {
    gx_testdata::need_appliance!("windows_paths", EDIT);
    let s = Scratch::new("windows.img");
    let out = s.edit(&["-a", s.s(), r"c:\AUTOEXEC.BAT", "-e", "s/^/REM /"], None);
    ok(&out, "gx-edit c:\\AUTOEXEC.BAT");
    // ntfsprogs read the partition (sector 2048 on).
    let part = s.dir.path().join("p1.ntfs");
    let out = Command::new("dd")
        .arg(format!("if={}", s.s()))
        .arg(format!("of={}", part.display()))
        .args(["bs=512", "skip=2048", "status=none"])
        .output()
        .unwrap();
    ok(&out, "dd");
    let out = Command::new("ntfscat")
        .arg(&part)
        .arg("/autoexec.bat")
        .output()
        .unwrap();
    ok(&out, "ntfscat");
    let orig = Command::new(CAT)
        .args(["-a", gx_testdata::image("windows.img").to_str().unwrap()])
        .arg("/autoexec.bat")
        .output()
        .unwrap();
    ok(&orig, "gx-cat of the original");
    let want: String = String::from_utf8_lossy(&orig.stdout)
        .split_inclusive('\n')
        .map(|l| format!("REM {l}"))
        .collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    // A drive the guest does not have.
    let out = s.edit(&["-a", s.s(), r"q:\x.txt", "-e", "s/^//"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("drive 'q:' not found"),
        "{}",
        stderr(&out)
    );
}

/// Waits until the editor (a `sleep` whose argument is the temp file) runs.
fn wait_for_temp(s: &Scratch) {
    let t = Instant::now();
    while s.leftovers().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no temporary copy appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn signals_remove_the_temporary_copy() {
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let s = Scratch::new("linux.img");
        let digest = gx_testdata::file_digest(&s.img);
        let mut child = Command::new(EDIT)
            .args(["-a", s.s(), "/etc/hostname"])
            .env("EDITOR", "sleep 60;")
            .env("TMPDIR", s.tmpdir())
            .env_remove("GX_ENGINE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_temp(&s);
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
        if sig == Signal::SIGTERM {
            // ^C to gx-edit alone while the editor runs: the editor's, not ours.
            kill(pid, Signal::SIGINT).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            assert!(child.try_wait().unwrap().is_none(), "SIGINT ended gx-edit");
        }
        kill(pid, sig).unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(128 + sig as i32), "{st:?}");
        s.assert_no_leftovers();
        assert_eq!(digest, gx_testdata::file_digest(&s.img));
    }
}

#[test]
fn edit_of_a_qcow2_leaves_other_files_and_size_alone() {
    // The image's own metadata outside the guest: an unchanged edit does
    // not even touch the file's mtime.
    let s = Scratch::new("linux.qcow2");
    let m = std::fs::metadata(&s.img).unwrap();
    let out = s.edit(&["-a", s.s(), "/etc/hostname", "-e", "s/^zzz//"], None);
    ok(&out, "gx-edit");
    let m2 = std::fs::metadata(&s.img).unwrap();
    assert_eq!(m.mtime(), m2.mtime());
    assert_eq!(m.len(), m2.len());
}

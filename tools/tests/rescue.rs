//! gx-rescue driven through a pseudo-terminal, as a user at a terminal
//! would: type commands, read the `><rescue>` prompt, use the escapes,
//! quit; and `--suggest` against what virt-rescue printed.
//!
//! - The shell: job control, a terminal of its own (`tty`) of the user's
//!   terminal's size, following its changes (SIGWINCH), the tools the
//!   issue names on its PATH, the guest mounted at /sysroot with /dev,
//!   /proc and /sys bound under it (`-i`); `^] s` syncs, `^] u` unmounts,
//!   `^] i` prints the inspection, `^] ^]` sends the key itself, `^] q`
//!   quits; `-e ^a` and `-e none` change the key. A file written there is
//!   in the image afterwards as e2fsprogs' `debugfs` reads it, and
//!   `e2fsck -fn` finds the filesystem clean; with `--ro` the image stays
//!   byte-identical.
//! - The user's terminal: raw (no ICANON, no ECHO) while the shell runs,
//!   exactly as before once gx-rescue has exited (by `^] q`, by the shell's
//!   `exit`, by SIGTERM), and as before while `^] z` has it stopped.
//! - `--scratch=2` gives two more disks, removed afterwards; `--memsize`,
//!   `--smp` and `--append` reach the VM (/proc/meminfo, nproc,
//!   /proc/cmdline in the shell).
//! - Input from a pipe runs in order and its end ends the shell; LVM volume
//!   groups (libguestfs's phony Fedora) are active for the first command.
//! - `--suggest` prints what `virt-rescue --suggest` printed for each test
//!   image (tests/expected/rescue/, made by make.sh there with the peer),
//!   with the program's name substituted; and passes guestfs-tools'
//!   rescue/test-virt-rescue-suggest.sh check on libguestfs's phony Fedora.
//!
//! Sessions boot the appliance (QEMU TCG here) and skip, saying why, where
//! it cannot run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nix::pty::{Winsize, openpty};
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{LocalFlags, Termios, tcgetattr};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const RESCUE: &str = env!("CARGO_BIN_EXE_gx-rescue");
const ROOT_OFFSET: u64 = 34816 * 512;

/// gx-rescue on the slave side of a pty of ours.
struct Session {
    master: File,
    slave: OwnedFd,
    child: Child,
    before: Termios,
    seen: Vec<u8>,
}

impl Session {
    fn start(args: &[&str], tmpdir: Option<&Path>) -> Session {
        let ws = Winsize {
            ws_row: 30,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).unwrap();
        let before = tcgetattr(pty.slave.as_fd()).unwrap();
        assert!(before.local_flags.contains(LocalFlags::ICANON));
        let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        let mut cmd = Command::new(RESCUE);
        cmd.args(args)
            .env_remove("GX_ENGINE")
            .env("TERM", "dumb")
            .stdin(dup(&pty.slave))
            .stdout(dup(&pty.slave))
            .stderr(dup(&pty.slave))
            // A process group of its own, under us: ^] z can stop it.
            .process_group(0);
        if let Some(t) = tmpdir {
            cmd.env("TMPDIR", t);
        }
        let child = cmd.spawn().unwrap();
        Session {
            master: File::from(pty.master),
            slave: pty.slave,
            child,
            before,
            seen: Vec::new(),
        }
    }

    /// Reads until `pat` shows up; returns everything up to and with it.
    fn expect(&mut self, pat: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let pat = pat.as_bytes();
        loop {
            if let Some(i) = self.seen.windows(pat.len()).position(|w| w == pat) {
                let rest = self.seen.split_off(i + pat.len());
                let got = std::mem::replace(&mut self.seen, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {secs} s for {:?}; the terminal shows:\n{}",
                String::from_utf8_lossy(pat),
                String::from_utf8_lossy(&self.seen)
            );
            let mut fds = [nix::poll::PollFd::new(
                self.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ms = u16::try_from(left.as_millis().min(1000)).unwrap();
            if nix::poll::poll(&mut fds, ms).unwrap_or(0) > 0 {
                let mut b = [0u8; 4096];
                match self.master.read(&mut b) {
                    Ok(n) => self.seen.extend_from_slice(&b[..n]),
                    Err(e) => panic!("reading the terminal: {e}"),
                }
            }
        }
    }

    fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    /// Types a command line and waits for the next prompt.
    fn run(&mut self, line: &str) -> String {
        self.send(line);
        self.send("\r");
        self.expect("><rescue> ", 60)
    }

    fn termios(&self) -> Termios {
        tcgetattr(self.slave.as_fd()).unwrap()
    }

    fn is_raw(&self) -> bool {
        let t = self.termios();
        !t.local_flags.contains(LocalFlags::ICANON) && !t.local_flags.contains(LocalFlags::ECHO)
    }

    fn same_as_before(&self) -> bool {
        let t = self.termios();
        t.local_flags == self.before.local_flags
            && t.input_flags == self.before.input_flags
            && t.output_flags == self.before.output_flags
            && t.control_flags == self.before.control_flags
            && t.control_chars == self.before.control_chars
    }

    fn wait(&mut self, secs: u64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "gx-rescue did not exit");
            // Keep the terminal drained so its writes never block.
            let mut fds = [nix::poll::PollFd::new(
                self.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            if nix::poll::poll(&mut fds, 50u16).unwrap_or(0) > 0 {
                let mut b = [0u8; 4096];
                if let Ok(n) = self.master.read(&mut b) {
                    self.seen.extend_from_slice(&b[..n]);
                }
            }
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_image(dir: &Path, name: &str) -> PathBuf {
    let img = dir.join(name);
    std::fs::copy(gx_testdata::image(name), &img).unwrap();
    img
}

fn debugfs(img: &Path, req: &str) -> String {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(req)
        .arg(format!("{}?offset={ROOT_OFFSET}", img.display()))
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "debugfs {req}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn rescue_shell_through_a_pty() {
    gx_testdata::need_appliance!("rescue_shell_through_a_pty", RESCUE);
    let dir = tempfile::tempdir().unwrap();
    let img = copy_image(dir.path(), "linux.img");
    let mut s = Session::start(&["-a", img.to_str().unwrap(), "-i"], None);
    let banner = s.expect("><rescue> ", 180);
    assert!(
        banner.contains("The gx-rescue escape key is ‘^]’.  Type ‘^] h’ for help."),
        "{banner}"
    );
    assert!(
        s.is_raw(),
        "the user's terminal is not raw during the session"
    );

    assert!(s.run("echo $((6*7))x").contains("42x"));
    let tools = s.run(
        "for p in vi e2fsck resize2fs lvm ntfsfix fdisk sgdisk mount chroot; do \
         command -v $p >/dev/null || echo \"MISS\"\"ING-$p\"; done; echo checked",
    );
    assert!(
        tools.contains("checked") && !tools.contains("MISSING-"),
        "{tools}"
    );
    // Job control: a background job, listed by `jobs`.
    s.run("sleep 300 &");
    assert!(s.run("jobs").contains("Running"));
    assert!(s.run("tty").contains("/dev/pts/"));
    assert!(s.run("stty size").contains("30 100"));
    // The user's terminal grows: the shell's follows (SIGWINCH, as the
    // kernel sends it to a terminal's foreground job).
    let out = Command::new("stty")
        .args(["rows", "40", "cols", "120"])
        .stdin(Stdio::from(s.slave.try_clone().unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success());
    kill(s.pid(), Signal::SIGWINCH).unwrap();
    // gx-rescue's signal thread notes the resize while its relay may already
    // be forwarding what is typed next: ask until the shell sees the new size.
    let start = Instant::now();
    loop {
        let out = s.run("stty size");
        if out.contains("40 120") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the shell's terminal never became 40x120: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // bash redraws its prompt on SIGWINCH, an extra prompt somewhere in the
    // stream: resynchronise on a marker the typed line does not contain.
    s.send("echo SYNC-$((40+2))\r");
    s.expect("SYNC-42", 30);
    s.expect("><rescue> ", 30);
    // -i: the guest at /sysroot, /proc bound under it, libguestfs's names.
    let out = s.run(
        "echo rescued > /sysroot/etc/rescued; test -d /sysroot/proc/1 && echo bound-proc; \
         test -b /dev/sda2 && echo has-sda2",
    );
    assert!(
        out.contains("bound-proc") && out.contains("has-sda2"),
        "{out}"
    );
    // Escapes.
    s.send("\x1di");
    let out = s.expect("distro: debian", 30);
    assert!(out.contains("root device: /dev/sda2"), "{out}");
    s.send("\x1dh");
    let out = s.expect("type it twice", 30);
    assert!(out.contains(" ^] q - quit gx-rescue"), "{out}");
    s.send("\x1ds");
    s.expect("attempting to sync filesystems ...", 30);
    // ^] ^] is the key itself, for the shell.
    s.send("read x; printf '%s' \"$x\" | od -An -tx1\r");
    // Typed once `read` waits (not while the line editor still has the
    // terminal).
    std::thread::sleep(Duration::from_millis(1500));
    s.send("\x1d\x1d\r");
    assert!(s.expect("><rescue> ", 30).contains(" 1d"));
    // ^] u: the guest is unmounted (its data reaches the disk).
    s.send("\x1du");
    s.expect("unmounting filesystems ...", 30);
    std::thread::sleep(Duration::from_millis(500));
    let out = s.run("grep -c ' /sysroot' /proc/mounts");
    assert!(out.contains("\n0"), "still mounted: {out}");
    s.send("\x1dq");
    let st = s.wait(60);
    assert!(st.success(), "{st:?}");
    assert!(s.same_as_before(), "terminal not restored after ^] q");

    assert_eq!(debugfs(&img, "cat /etc/rescued"), "rescued\n");
    let fsck = Command::new("e2fsck")
        .arg("-fn")
        .arg(format!("{}?offset={ROOT_OFFSET}", img.display()))
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
}

#[test]
fn read_only_session_and_shell_exit() {
    gx_testdata::need_appliance!("read_only_session_and_shell_exit", RESCUE);
    let dir = tempfile::tempdir().unwrap();
    let img = copy_image(dir.path(), "linux.img");
    let digest = gx_testdata::file_digest(&img);
    let mut s = Session::start(&["--ro", "-a", img.to_str().unwrap(), "-i"], None);
    s.expect("><rescue> ", 180);
    // The guest is mounted read-only; the disk itself takes writes, into
    // a throw-away overlay.
    let out = s.run("echo x > /sysroot/etc/ro-test");
    assert!(out.contains("Read-only file system"), "{out}");
    let out = s.run(
        "dd if=/dev/zero of=/dev/sda bs=512 seek=40 count=8 conv=notrunc 2>/dev/null \
         && sync && echo wrote-disk",
    );
    assert!(out.contains("\nwrote-disk"), "{out}");
    s.send("exit 7\r");
    let st = s.wait(60);
    // virt-rescue's status is its own, not the shell's.
    assert!(st.success(), "{st:?}");
    assert!(
        s.same_as_before(),
        "terminal not restored after the shell's exit"
    );
    assert_eq!(digest, gx_testdata::file_digest(&img), "image changed");
}

#[test]
fn other_escape_keys_and_suspend() {
    gx_testdata::need_appliance!("other_escape_keys_and_suspend", RESCUE);
    let dir = tempfile::tempdir().unwrap();
    let img = copy_image(dir.path(), "linux.img");
    // -e none: ^] is an ordinary key.
    let mut s = Session::start(&["-e", "none", "--ro", "-a", img.to_str().unwrap()], None);
    let banner = s.expect("><rescue> ", 180);
    assert!(!banner.contains("escape key is"), "{banner}");
    // Typed input waits for the appliance's modules: once this answers, the
    // shell reads as it comes.
    s.run("true");
    s.send("read x; printf '%s' \"$x\" | od -An -tx1\r");
    std::thread::sleep(Duration::from_millis(1500));
    s.send("\x1d\r");
    assert!(s.expect("><rescue> ", 30).contains(" 1d"));
    s.send("exit\r");
    assert!(s.wait(60).success());

    // -e ^a, and ^a z suspends with the terminal given back meanwhile.
    let mut s = Session::start(&["-e", "^a", "--ro", "-a", img.to_str().unwrap()], None);
    let banner = s.expect("><rescue> ", 180);
    assert!(banner.contains("escape key is ‘^A’"), "{banner}");
    s.send("\x01z");
    let t = Instant::now();
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{}/stat", s.child.id()))
            .ok()
            .and_then(|st| {
                st.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('T'))
            })
            .unwrap_or(false)
    };
    while !stopped() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "^A z did not stop gx-rescue"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(s.same_as_before(), "terminal not restored while suspended");
    kill(s.pid(), Signal::SIGCONT).unwrap();
    let t = Instant::now();
    while !s.is_raw() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "not raw again after SIGCONT"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(s.run("echo back").contains("back"));
    s.send("\x01x");
    assert!(s.wait(60).success());
    assert!(s.same_as_before());
}

#[test]
fn scratch_disks_vm_options_and_sigterm() {
    gx_testdata::need_appliance!("scratch_disks_vm_options_and_sigterm", RESCUE);
    let dir = tempfile::tempdir().unwrap();
    let img = copy_image(dir.path(), "linux.img");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut s = Session::start(
        &[
            "--scratch=2",
            "--ro",
            "--memsize",
            "700",
            "--smp",
            "2",
            "--append",
            "gx.rescue.test=1",
            "-a",
            img.to_str().unwrap(),
        ],
        Some(&tmp),
    );
    s.expect("><rescue> ", 180);
    // The VM got what was asked for.
    let out = s.run("cat /proc/cmdline; nproc; grep MemTotal /proc/meminfo");
    assert!(out.contains("gx.rescue.test=1"), "{out}");
    assert!(out.contains("\n2\r"), "{out}");
    let kb: u64 = out
        .split("MemTotal:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        (600_000..=700 * 1024).contains(&kb),
        "MemTotal {kb} kB: {out}"
    );
    let scratch = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("gx-scratch-")
            })
            .count()
    };
    assert_eq!(scratch(), 2, "two scratch files");
    let out = s.run("test -b /dev/sdb && test -b /dev/sdc && blockdev --getsize64 /dev/sdb");
    assert!(out.contains("10737418240"), "{out}");
    kill(s.pid(), Signal::SIGTERM).unwrap();
    let st = s.wait(60);
    assert_eq!(st.code(), Some(128 + 15), "{st:?}");
    assert!(s.same_as_before(), "terminal not restored after SIGTERM");
    assert_eq!(scratch(), 0, "scratch files left behind");
}

/// `virt-rescue --suggest` output for each image, recorded with the peer.
#[test]
fn suggest_prints_what_virt_rescue_prints() {
    for (image, name) in [
        ("linux.img", "linux"),
        ("windows.img", "windows"),
        ("multi.img", "multi"),
        ("libguestfs-fedora.img", "libguestfs-fedora"),
        ("phony-ubuntu.img", "phony-ubuntu"),
        ("probe/swap.img", "swap"),
    ] {
        let want =
            std::fs::read_to_string(gx_testdata::expected(&format!("rescue/suggest-{name}.out")))
                .unwrap()
                .replace("virt-rescue", "gx-rescue");
        let img = gx_testdata::image(image);
        let digest = gx_testdata::file_digest(&img);
        let out = Command::new(RESCUE)
            .args(["--suggest", "--format=raw", "-a"])
            .arg(&img)
            .env_remove("GX_ENGINE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{image}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{image}");
        assert_eq!(digest, gx_testdata::file_digest(&img), "{image} changed");
    }
}

/// guestfs-tools' rescue/test-virt-rescue-suggest.sh, names substituted.
#[test]
fn test_virt_rescue_suggest_sh() {
    let out = Command::new(RESCUE)
        .args(["--suggest", "--format=raw", "-a"])
        .arg(gx_testdata::image("libguestfs-fedora.img"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let mounts: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("mount "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        mounts.join("\n"),
        "mount /dev/VG/Root /sysroot/\n\
         mount /dev/sda1 /sysroot/boot\n\
         mount --rbind /dev /sysroot/dev\n\
         mount --rbind /proc /sysroot/proc\n\
         mount --rbind /sys /sysroot/sys"
    );
}

#[test]
fn usage_errors() {
    let run = |args: &[&str]| {
        Command::new(RESCUE)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let img = gx_testdata::image("linux.img");
    let img = img.to_str().unwrap();
    let out = run(&["-e", "^1", "-a", img]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized escape key: ^1"));
    let out = run(&["-a", img, "extra"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("extra argument ‘extra’ on command line")
    );
    let out = run(&["--scratch=0", "-a", img]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--scratch parameter ‘0’ should be >= 1")
    );
    let out = run(&["--smp", "x", "-a", img]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not parse --smp parameter ‘x’"));
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("you must specify at least one -a or -d")
    );
}

/// Input from a pipe (no terminal to make raw): commands run in order, the
/// end of input ends the shell; the guest's LVM volume groups are active
/// when the first command runs (libguestfs's phony Fedora, root on LVM).
#[test]
fn piped_input_and_lvm() {
    gx_testdata::need_appliance!("piped_input_and_lvm", RESCUE);
    let img = gx_testdata::image("libguestfs-fedora.img");
    let digest = gx_testdata::file_digest(&img);
    let mut child = Command::new(RESCUE)
        .args(["--ro", "--format=raw", "-a"])
        .arg(&img)
        .env_remove("GX_ENGINE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"test -b /dev/VG/Root && echo lv-active\nlvs --noheadings -o lv_name VG\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\nlv-active"), "{text}");
    for lv in ["Root", "LV1", "LV2", "LV3"] {
        assert!(text.contains(&format!("  {lv}")), "{lv}: {text}");
    }
    assert_eq!(digest, gx_testdata::file_digest(&img), "image changed");
}

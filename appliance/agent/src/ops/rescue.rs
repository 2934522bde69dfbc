//! The rescue shell (`internal_rescue`, for gx-rescue): an interactive root
//! shell on a pseudo-terminal, relayed over the agent's one channel.
//!
//! The call turns into a duplex stream for its serial: the host's Chunk
//! frames are typed into the terminal, the terminal's output goes back as
//! Chunk frames, the host's Cancel hangs the terminal up, and the Reply
//! carries the shell's exit status. Meanwhile calls without streams (the
//! host's `sync` and `umount_all` for virt-rescue's `^] s` and `^] u`) are
//! answered under their own serials, so the appliance stays usable. One
//! channel for everything keeps both launchers (QEMU, gx-vmm) and the saved
//! launch snapshots as they are: no console device to add or wire up.
//!
//! Must not: leave the shell or its jobs running after the session, leave a
//! session's bind mounts behind, or block on the terminal while the host
//! waits (the pty side is non-blocking; the channel side reads whole frames).
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gx_protocol::{Call, CallError, Kind, ProtoError, StreamIo, StreamKind, read_frame, wire};

use super::{Ops, run};
use crate::{Port, sys};

/// Busybox's applets (vi, fdisk, chroot, less, ...) and lvm's command names,
/// as symlinks: on the shell's PATH after the real programs.
const RESCUE_BIN: &str = "/run/rescue/bin";
/// What virt-rescue's appliance prompt looks like.
const PS1: &str = "><rescue> ";
/// lvm's commands, each a name for the one `lvm` binary.
const LVM_COMMANDS: &[&str] = &[
    "pvs",
    "vgs",
    "lvs",
    "pvdisplay",
    "vgdisplay",
    "lvdisplay",
    "pvscan",
    "vgscan",
    "lvscan",
    "pvcreate",
    "vgcreate",
    "lvcreate",
    "pvremove",
    "vgremove",
    "lvremove",
    "pvresize",
    "lvresize",
    "lvextend",
    "lvreduce",
    "vgextend",
    "vgreduce",
    "vgchange",
    "lvchange",
    "vgrename",
    "lvrename",
    "vgcfgbackup",
    "vgcfgrestore",
];
/// After a hangup, how long the shell's jobs get before SIGKILL.
const HANGUP_GRACE: Duration = Duration::from_millis(500);

/// Runs one rescue session for the call `serial`; returns once the Reply
/// is sent. A channel error is returned (the caller powers off).
pub fn session(
    port: &mut Port,
    ops: &mut Ops,
    serial: u32,
    rows: i32,
    cols: i32,
    term: &str,
    bind: bool,
) -> Result<(), ProtoError> {
    let mut binds = Vec::new();
    let background = load_in_background(ops);
    let r = prepare(bind, &mut binds).and_then(|()| spawn(rows, cols, term));
    let (master, pid) = match r {
        Ok(x) => x,
        Err(e) => {
            let _ = background.join();
            undo_binds(&binds);
            return port.send(Kind::Error, serial, &wire::to_vec(&e));
        }
    };
    ops.rescue_pty = Some(master.as_raw_fd());
    let r = relay(port, ops, serial, &master, pid, &background);
    ops.rescue_pty = None;
    let _ = background.join();
    // The shell's process group and anything it left: gone before we answer.
    hang_up(pid, true);
    reap_all();
    undo_binds(&binds);
    let status = r?;
    port.send(Kind::Reply, serial, &wire::to_vec(&status))
}

/// Every extra kernel module, then (once per session) LVM's volume groups
/// activated, as libguestfs's appliance has them at boot: in a thread, so
/// that the shell's prompt does not wait for them (under TCG they take 1-3 s);
/// what the user types waits instead (see [`relay`]).
fn load_in_background(ops: &mut Ops) -> std::thread::JoinHandle<()> {
    super::helpers::ensure();
    let load = !ops.modules_loaded.contains(&"all");
    if load {
        ops.modules_loaded.push("all");
    }
    // The LVM configuration now (it needs `ops`); the activation after the
    // device-mapper modules are in.
    let activate = !ops.lvm_activated && ops.lvm_ready().is_ok();
    ops.lvm_activated = true;
    std::thread::spawn(move || {
        if load {
            super::load_modules("/gx/modules.extra");
        }
        if activate {
            let _ = run::prog("lvm").args(["vgchange", "-a", "y"]).run();
        }
    })
}

/// devpts, the command names, `/dev/sdX` links, and with `bind` the
/// guest's view of /dev, /proc and /sys.
fn prepare(bind: bool, binds: &mut Vec<String>) -> Result<(), CallError> {
    let pts = Path::new("/dev/pts");
    if !pts.join("ptmx").exists() {
        let _ = std::fs::create_dir_all(pts);
        sys::mount("devpts", pts, "devpts", 0, "ptmxmode=0666,mode=0620")
            .map_err(|e| super::fail(e, "mounting /dev/pts"))?;
    }
    if !Path::new(RESCUE_BIN).exists() {
        std::fs::create_dir_all(RESCUE_BIN)
            .map_err(|e| super::fail(e, format!("mkdir {RESCUE_BIN}")))?;
        if run::have("busybox") {
            let _ = run::prog("busybox")
                .args(["--install", "-s", RESCUE_BIN])
                .run();
        }
        if let Some(lvm) = which("lvm") {
            for c in LVM_COMMANDS {
                let _ = std::os::unix::fs::symlink(&lvm, Path::new(RESCUE_BIN).join(c));
            }
        }
    }
    // The names gx-rescue --suggest prints (and libguestfs users know):
    // /dev/sda1 for the kernel's /dev/vda1.
    for d in super::devices::disks() {
        let parts = std::fs::read_dir(format!("/sys/block/{d}"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(d.as_str()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for k in std::iter::once(d.clone()).chain(parts) {
            let kernel = format!("/dev/{k}");
            let user = super::devices::user_names_in(&kernel);
            if user != kernel && !Path::new(&user).exists() {
                let _ = std::os::unix::fs::symlink(&kernel, &user);
            }
        }
    }
    if bind {
        for d in ["dev", "proc", "sys"] {
            let target = format!("/sysroot/{d}");
            // A guest without the directory (or a Windows guest) just does
            // not get that bind, as with virt-rescue's `mount --rbind`.
            if !Path::new(&target).is_dir() {
                continue;
            }
            let src = format!("/{d}");
            if sys::mount(
                &src,
                Path::new(&target),
                "",
                libc::MS_BIND | libc::MS_REC,
                "",
            )
            .is_ok()
            {
                binds.push(target);
            }
        }
    }
    Ok(())
}

fn undo_binds(binds: &[String]) {
    for b in binds.iter().rev() {
        let _ = sys::umount2(Path::new(b), libc::MNT_DETACH);
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    run::PATH
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// A pseudo-terminal of `rows` x `cols` with a login-like root shell on its
/// slave side, as the leader of its own session (so job control and ^C
/// work); returns the master (non-blocking) and the shell's pid.
fn spawn(rows: i32, cols: i32, term: &str) -> Result<(File, libc::pid_t), CallError> {
    let ws = winsize(rows, cols);
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty writes two fds through valid pointers; the name buffer
    // is null (not wanted), termios null (defaults), winsize a valid struct.
    let r = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
    if r != 0 {
        return Err(super::fail(io::Error::last_os_error(), "openpty"));
    }
    // SAFETY: openpty just returned these two fds; each File owns one.
    let (master, slave) = unsafe { (File::from_raw_fd(m), File::from_raw_fd(s)) };
    let (shell, args): (&str, &[&str]) = if Path::new("/usr/bin/bash").exists() {
        ("/usr/bin/bash", &["--norc", "--noprofile", "-i"])
    } else if Path::new("/bin/bash").exists() {
        ("/bin/bash", &["--norc", "--noprofile", "-i"])
    } else {
        ("/bin/sh", &["-i"])
    };
    let stdio = |f: &File| -> Result<Stdio, CallError> {
        f.try_clone()
            .map(Stdio::from)
            .map_err(|e| super::fail(e, "dup"))
    };
    let mut cmd = Command::new(shell);
    cmd.args(args)
        .env_clear()
        .env("PATH", format!("{}:{RESCUE_BIN}", run::PATH))
        .env("TERM", if term.is_empty() { "linux" } else { term })
        .env("PS1", PS1)
        .env("HOME", "/")
        .env("SHELL", shell)
        .env("LVM_SYSTEM_DIR", run::LVM_SYSTEM_DIR)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .current_dir("/")
        .stdin(stdio(&slave)?)
        .stdout(stdio(&slave)?)
        .stderr(stdio(&slave)?);
    // SAFETY: between fork and exec only async-signal-safe calls: setsid
    // and an ioctl on fd 0 (the slave) to make it the controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| super::fail(e, format!("starting {shell}")))?;
    drop(slave);
    // SAFETY: F_GETFL/F_SETFL on an fd we own.
    unsafe {
        let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap_or(-1);
    // Reaped by pid below (waitpid), not through the Child.
    std::mem::forget(child);
    Ok((master, pid))
}

fn winsize(rows: i32, cols: i32) -> libc::winsize {
    libc::winsize {
        ws_row: u16::try_from(rows.clamp(1, 1000)).unwrap_or(24),
        ws_col: u16::try_from(cols.clamp(1, 1000)).unwrap_or(80),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// `internal_rescue_resize`: the terminal's new size (the kernel sends its
/// foreground jobs SIGWINCH).
pub fn resize(pty: Option<std::os::fd::RawFd>, rows: i32, cols: i32) -> Result<(), CallError> {
    let Some(fd) = pty else {
        return Err(CallError::new(
            libc::EINVAL,
            "internal_rescue_resize: no rescue shell runs",
        ));
    };
    let ws = winsize(rows, cols);
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer; `fd` is the
    // session's master, open for the whole session.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(super::fail(io::Error::last_os_error(), "TIOCSWINSZ"));
    }
    Ok(())
}

/// Moves bytes both ways until the shell ends (or the host hangs up and the
/// shell is gone); returns its exit status (128 + signal if killed).
fn relay(
    port: &mut Port,
    ops: &mut Ops,
    serial: u32,
    mut master: &File,
    pid: libc::pid_t,
    background: &std::thread::JoinHandle<()>,
) -> Result<i32, ProtoError> {
    let mut typed: Vec<u8> = Vec::new();
    let mut status: Option<i32> = None;
    let mut hung_up: Option<Instant> = None;
    let mut exited_at: Option<Instant> = None;
    let mut buf = vec![0u8; 4096];
    loop {
        // The shell is gone: end once its output is drained (or its jobs,
        // which keep the terminal open, had their hangup).
        if status.is_none() {
            status = wait_nohang(pid);
            if status.is_some() {
                exited_at = Some(Instant::now());
                hang_up(pid, false);
            }
        }
        // Input waits for the modules and LVM: a command typed (or piped)
        // at once finds every filesystem driver and /dev/VG/LV.
        let typing = !typed.is_empty() && background.is_finished();
        let mut fds = [
            libc::pollfd {
                fd: port.rd.get_ref().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: master.as_raw_fd(),
                events: libc::POLLIN | if typing { libc::POLLOUT } else { 0 },
                revents: 0,
            },
        ];
        let buffered = !port.rd.buffer().is_empty();
        // SAFETY: two valid pollfds; a bounded wait (the shell's exit is
        // noticed by waitpid, not by poll).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, if buffered { 0 } else { 100 }) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(ProtoError::Io(e));
            }
            continue;
        }
        let mut master_done = false;
        if fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            match master.read(&mut buf) {
                Ok(0) => master_done = true,
                Ok(k) => port.send(Kind::Chunk, serial, &buf[..k])?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EIO: every slave fd is closed (the shell and its jobs are
                // gone).
                Err(_) => master_done = true,
            }
        }
        if typing && fds[1].revents & libc::POLLOUT != 0 {
            match master.write(&typed) {
                Ok(k) => {
                    typed.drain(..k);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => typed.clear(),
            }
        }
        if buffered || fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            let mut fb = std::mem::take(&mut port.buf);
            let f = read_frame(&mut port.rd, &mut fb);
            let r = match f {
                Ok(f) if f.serial == serial && f.kind == Kind::Chunk => {
                    typed.extend_from_slice(f.payload);
                    Ok(())
                }
                Ok(f) if f.serial == serial && f.kind == Kind::Cancel => {
                    if hung_up.is_none() {
                        hung_up = Some(Instant::now());
                        hang_up(pid, false);
                    }
                    Ok(())
                }
                Ok(f) if f.kind == Kind::Call && f.serial != serial => {
                    let reply = nested_call(ops, f.payload);
                    let fserial = f.serial;
                    match reply {
                        Ok(v) => port.send(Kind::Reply, fserial, &v),
                        Err(e) => port.send(Kind::Error, fserial, &wire::to_vec(&e)),
                    }
                }
                // Anything else (stray chunks of other serials) is dropped.
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            port.buf = fb;
            r?;
        }
        let now = Instant::now();
        if let Some(t) = hung_up {
            if now.duration_since(t) > HANGUP_GRACE {
                hang_up(pid, true);
            }
        }
        let drained = exited_at.is_some_and(|t| now.duration_since(t) > HANGUP_GRACE);
        if let Some(s) = status {
            if master_done || drained {
                return Ok(s);
            }
        } else if master_done && hung_up.is_some() {
            // Killed and its terminal gone: collect it.
            if let Some(s) = wait_nohang(pid) {
                return Ok(s);
            }
        }
    }
}

/// A call during the session: only calls without streams (the channel is
/// busy with the terminal), and never a second session or the shutdown.
fn nested_call(ops: &mut Ops, payload: &[u8]) -> Result<Vec<u8>, CallError> {
    let call = Call::decode(payload)
        .map_err(|e| CallError::new(libc::EINVAL, format!("bad call: {e}")))?;
    if call.stream() != StreamKind::None
        || matches!(call, Call::InternalRescue { .. } | Call::InternalShutdown)
    {
        return Err(CallError::new(
            libc::EBUSY,
            format!("{}: not while the rescue shell runs", call.name()),
        ));
    }
    gx_protocol::dispatch(ops, call, StreamIo::None)
}

/// The shell's exit status once it has exited.
fn wait_nohang(pid: libc::pid_t) -> Option<i32> {
    let mut st = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
    if r != pid {
        return None;
    }
    if libc::WIFEXITED(st) {
        Some(libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        Some(128 + libc::WTERMSIG(st))
    } else {
        None
    }
}

/// A terminal hangup for the shell's session (its process group): SIGHUP
/// and SIGCONT (stopped jobs must see it), or SIGKILL when `kill`.
fn hang_up(pid: libc::pid_t, kill: bool) {
    if pid <= 1 {
        return;
    }
    // SAFETY: signalling the process group the shell leads (setsid made its
    // pgid its pid); never pid 0 or 1.
    unsafe {
        if kill {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        } else {
            libc::kill(-pid, libc::SIGHUP);
            libc::kill(-pid, libc::SIGCONT);
        }
    }
    if kill {
        // Jobs the shell put in process groups of their own: the same
        // session (the shell's pid), found in /proc.
        for p in session_members(pid) {
            // SAFETY: a pid of the shell's session, never 0 or 1.
            unsafe {
                libc::kill(p, libc::SIGKILL);
            }
        }
    }
}

/// Pids whose session is `sid` (field 6 of /proc/PID/stat).
fn session_members(sid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|p| *p > 1)
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // After the ")" that ends the command name: state ppid pgrp session.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(3)?.parse::<libc::pid_t>().ok())
                == Some(sid)
        })
        .collect()
}

/// PID 1 inherits the shell's orphans: collect every exited child.
fn reap_all() {
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        let mut st = 0;
        // SAFETY: waitpid for any child with a valid status pointer.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if r > 0 {
            continue;
        }
        if r < 0 || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

//! gx-unmount: unmount a FUSE filesystem that gx-mount mounted, like
//! guestunmount: `fusermount -u`, retried with back-off while the mount is
//! busy, then `fuser -v -m` to show who holds it.
//!
//! Exit status: 0 unmounted; 1 program error; 2 could not be unmounted
//! after the retries (or the directory is not a mount point at all);
//! 3 the directory is a mount point, but not of a FUSE filesystem.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const PROG: &str = "gx-unmount";

fn main() {
    gx_cli::run(PROG, real_main)
}

fn real_main() -> Result<i32> {
    let m = gx_cli::parse(gx_tools::cli::unmount::command());
    let args: Vec<String> = m
        .get_many::<String>("mountpoint")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let [mountpoint] = args.as_slice() else {
        bail!("you must specify a mountpoint in the host filesystem");
    };
    let quiet = m.get_flag("quiet");
    let verbose = m.get_flag("verbose");
    let retries = if m.get_flag("no-retry") {
        0
    } else {
        m.get_one::<u32>("retry").copied().unwrap_or(5)
    };
    let mountpoint = std::path::absolute(mountpoint)?;

    if let Some(fd) = m.get_one::<String>("fd") {
        let fd: u32 = fd
            .parse()
            .with_context(|| format!("unable to parse --fd option value: {fd}"))?;
        wait_for_hangup(fd)?;
    }

    let canonical = std::fs::canonicalize(&mountpoint).unwrap_or_else(|_| mountpoint.clone());
    match mount_type(&canonical)? {
        None => {
            if !quiet {
                eprintln!(
                    "{PROG}: failed to unmount {}: not a mount point",
                    mountpoint.display()
                );
            }
            return Ok(2);
        }
        Some(t) if !t.starts_with("fuse") => {
            if !quiet {
                eprintln!(
                    "{PROG}: {} is not mounted: it is a {t} mount, not FUSE",
                    mountpoint.display()
                );
            }
            return Ok(3);
        }
        Some(_) => {}
    }

    let mut last_error = String::new();
    for i in 0..=retries {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1 << (i - 1)));
        }
        match fusermount(&canonical, verbose)? {
            None => {
                if verbose {
                    eprintln!("{PROG}: fusermount successful");
                }
                return Ok(0);
            }
            Some(e) => {
                if verbose {
                    eprintln!("{e}");
                }
                // Someone else unmounted it meanwhile: done, as asked.
                if mount_type(&canonical)?.is_none() {
                    return Ok(0);
                }
                last_error = e;
            }
        }
    }
    if !quiet {
        eprintln!(
            "{PROG}: failed to unmount {}: {last_error}",
            mountpoint.display()
        );
        // Who holds it, for information only.
        let _ = std::process::Command::new("fuser")
            .args(["-v", "-m"])
            .arg(&canonical)
            .status();
    }
    Ok(2)
}

/// Block until the write side of the pipe `fd` is closed everywhere (the
/// gx-mount that holds it has exited). ^C and ^\ are held off meanwhile.
fn wait_for_hangup(fd: u32) -> Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signal::{SigSet, Signal};
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::env::set_current_dir("/");
    let mut keyboard = SigSet::empty();
    keyboard.add(Signal::SIGINT);
    keyboard.add(Signal::SIGQUIT);
    keyboard.thread_block()?;
    // The number names one of our open fds; reopen it (non-blocking, so a
    // pipe without writers does not block the open itself).
    let pipe = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(format!("/proc/self/fd/{fd}"))
        .with_context(|| format!("--fd {fd}: not an open file descriptor"))?;
    loop {
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {
                let ev = fds[0].revents().unwrap_or(PollFlags::empty());
                if ev.contains(PollFlags::POLLHUP) {
                    return Ok(());
                }
                if ev.contains(PollFlags::POLLIN) {
                    // Data is not expected; drain it so poll can block again.
                    let mut buf = [0u8; 512];
                    let _ = std::io::Read::read(&mut &pipe, &mut buf);
                }
                if ev.intersects(PollFlags::POLLERR | PollFlags::POLLNVAL) {
                    bail!("--fd {fd}: poll failed");
                }
            }
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
            Err(e) => return Err(e).context("poll"),
        }
    }
}

/// The filesystem type mounted exactly at `dir`, if any (the last mount
/// there wins, as the kernel shows it).
fn mount_type(dir: &Path) -> Result<Option<String>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").context("/proc/self/mountinfo")?;
    let want = dir.as_os_str().as_encoded_bytes();
    let mut found = None;
    for line in info.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER
        let mut fields = line.split(' ');
        let Some(mp) = fields.nth(4) else { continue };
        if unescape(mp) != want {
            continue;
        }
        let mut rest = fields.skip_while(|f| *f != "-");
        if let Some(t) = rest.nth(1) {
            found = Some(t.to_string());
        }
    }
    Ok(found)
}

/// mountinfo's octal escapes (`\040` for a space...).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &s[i + 1..i + 4];
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Run `fusermount -u DIR`; `None` on success, else what it said.
fn fusermount(dir: &PathBuf, verbose: bool) -> Result<Option<String>> {
    let bin = if which("fusermount3") {
        "fusermount3"
    } else {
        "fusermount"
    };
    if verbose {
        eprintln!("{PROG}: running: {bin} -u {}", dir.display());
    }
    let out = std::process::Command::new(bin)
        .arg("-u")
        .arg(dir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run {bin} (is FUSE installed?)"))?;
    if out.status.success() {
        return Ok(None);
    }
    let mut msg = String::from_utf8_lossy(&out.stderr).into_owned();
    msg.push_str(&String::from_utf8_lossy(&out.stdout));
    let msg = msg.trim_end().to_string();
    Ok(Some(if msg.is_empty() {
        format!("{bin} failed: {}", out.status)
    } else {
        msg
    }))
}

fn which(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b"), b"/a b");
        assert_eq!(unescape("/plain"), b"/plain");
        assert_eq!(unescape("/end\\"), b"/end\\");
    }
}

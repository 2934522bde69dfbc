//! The few system calls std does not wrap. Every `unsafe` block of the agent
//! lives here, each with its reason.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn mount(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> io::Result<()> {
    let source = cstr(OsStr::new(source))?;
    let target = cstr(target.as_os_str())?;
    let fstype = cstr(OsStr::new(fstype))?;
    let data = cstr(OsStr::new(data))?;
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call.
    check(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    })
}

pub fn umount(target: &Path) -> io::Result<()> {
    let target = cstr(target.as_os_str())?;
    // SAFETY: valid NUL-terminated path.
    check(unsafe { libc::umount2(target.as_ptr(), 0) })
}

/// Loads an uncompressed kernel module from an open file.
pub fn finit_module(f: &std::fs::File) -> io::Result<()> {
    let empty = c"";
    // SAFETY: the fd is open for the duration; params is a valid empty C string.
    let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), empty.as_ptr(), 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn sync() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() }
}

pub fn power_off() -> ! {
    sync();
    // SAFETY: reboot(2) with a valid command; as PID 1 this ends the VM.
    unsafe {
        libc::reboot(libc::RB_POWER_OFF);
    }
    // Only reached when not PID 1 (tests on the host): just leave.
    std::process::exit(0)
}

pub fn statvfs(path: &Path) -> io::Result<libc::statvfs> {
    let p = cstr(path.as_os_str())?;
    // SAFETY: statvfs is plain old data, so all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and a pointer to a properly sized, writable struct.
    check(unsafe { libc::statvfs(p.as_ptr(), &mut st) })?;
    Ok(st)
}

/// Whether `fd` has data to read right now (poll with zero timeout).
pub fn readable_now(fd: &impl AsRawFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0 && (p.revents & libc::POLLIN) != 0
}

/// Logical sector size of a block device (BLKSSZGET).
pub fn blk_sector_size(f: &std::fs::File) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which is valid.
    check(unsafe { libc::ioctl(f.as_raw_fd(), 0x1268, &mut v) })?;
    Ok(v)
}

/// Re-read the partition table (BLKRRPART).
pub fn blk_reread_pt(f: &std::fs::File) -> io::Result<()> {
    // SAFETY: BLKRRPART takes no argument.
    check(unsafe { libc::ioctl(f.as_raw_fd(), 0x125f, 0) })
}

pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Sets the wall clock (CLOCK_REALTIME) to `ns` nanoseconds since the epoch.
pub fn set_realtime(ns: i64) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: ns.div_euclid(1_000_000_000) as libc::time_t,
        tv_nsec: ns.rem_euclid(1_000_000_000) as libc::c_long,
    };
    // SAFETY: a valid timespec that outlives the call.
    check(unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) })
}

/// `_IOW('R', 0x03, int[2])` and `_IO('R', 0x07)` from <linux/random.h>.
const RNDADDENTROPY: libc::c_ulong = 0x4008_5203;
const RNDRESEEDCRNG: libc::c_ulong = 0x5207;

/// Mixes `seed` into the kernel's input pool, credited as full entropy
/// (RNDADDENTROPY), then makes the CRNG reseed from it now (RNDRESEEDCRNG), so
/// a VM restored from a snapshot does not replay the snapshot's random stream.
pub fn add_entropy_and_reseed(seed: &[u8]) -> io::Result<()> {
    let seed = &seed[..seed.len().min(512)];
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
    let mut info = vec![0u32; 2 + seed.len().div_ceil(4)];
    info[0] = (seed.len() * 8) as u32;
    info[1] = seed.len() as u32;
    for (i, b) in seed.iter().enumerate() {
        info[2 + i / 4] |= u32::from(*b) << (8 * (i % 4));
    }
    let f = std::fs::File::open("/dev/urandom")?;
    // SAFETY: `info` is a rand_pool_info of `buf_size` bytes of payload, alive
    // for the call; the kernel only reads it.
    check(unsafe { libc::ioctl(f.as_raw_fd(), RNDADDENTROPY as _, info.as_ptr()) })?;
    // SAFETY: RNDRESEEDCRNG takes no argument.
    check(unsafe { libc::ioctl(f.as_raw_fd(), RNDRESEEDCRNG as _, 0) })
}

/// A pipe (read end, write end) whose capacity is raised to `size` bytes
/// where the kernel allows it (the capacity actually granted is returned).
pub fn pipe(size: usize) -> io::Result<(std::fs::File, std::fs::File, usize)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, w) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    let want = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: F_SETPIPE_SZ / F_GETPIPE_SZ take an int and no pointers.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, want) };
    // SAFETY: as above.
    let got = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) };
    Ok((r, w, usize::try_from(got).unwrap_or(4096)))
}

/// splice(2) from the current position of `from` to that of `to`: up to
/// `len` bytes, moving pages rather than copying where the kernel can.
pub fn splice(from: &impl AsRawFd, to: &impl AsRawFd, len: usize) -> io::Result<usize> {
    // SAFETY: two valid descriptors, null offsets (use the file positions).
    let r = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

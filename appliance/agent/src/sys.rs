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

/// umount2(2) with flags (`MNT_FORCE`, `MNT_DETACH`).
pub fn umount2(target: &Path, flags: libc::c_int) -> io::Result<()> {
    let target = cstr(target.as_os_str())?;
    // SAFETY: valid NUL-terminated path.
    check(unsafe { libc::umount2(target.as_ptr(), flags) })
}

/// One raw directory entry: inode number, `d_type`, name bytes.
pub struct RawDirent {
    pub ino: u64,
    pub d_type: u8,
    pub name: Vec<u8>,
}

/// Every entry of the directory `path`, `.` and `..` included, in the order
/// the filesystem returns them (std's `read_dir` hides `.` and `..` and the
/// `d_type` byte's "unknown").
pub fn read_dir_raw(path: &Path) -> io::Result<Vec<RawDirent>> {
    let p = cstr(path.as_os_str())?;
    // SAFETY: a valid NUL-terminated path.
    let dir = unsafe { libc::opendir(p.as_ptr()) };
    if dir.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let result = loop {
        // readdir signals errors only through errno, so clear it first.
        // SAFETY: __errno_location returns this thread's errno slot.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `dir` is an open DIR stream, used by this thread only.
        let ent = unsafe { libc::readdir64(dir) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error().unwrap_or(0) == 0 {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: a non-null entry is valid until the next readdir on this
        // stream; d_name is NUL-terminated within the record.
        let (ino, d_type, name) = unsafe {
            let e = &*ent;
            let name = std::ffi::CStr::from_ptr(e.d_name.as_ptr())
                .to_bytes()
                .to_vec();
            (e.d_ino, e.d_type, name)
        };
        out.push(RawDirent { ino, d_type, name });
    };
    // SAFETY: `dir` came from opendir and is closed exactly once.
    unsafe { libc::closedir(dir) };
    result.map(|()| out)
}

fn ssize(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// The names of the extended attributes of `path` (of a final symlink itself
/// unless `follow`), as listxattr(2) returns them: NUL-terminated, in a row.
pub fn list_xattrs(path: &Path, follow: bool) -> io::Result<Vec<u8>> {
    let p = cstr(path.as_os_str())?;
    loop {
        // SAFETY: size query: a null buffer of length 0.
        let n = ssize(unsafe {
            if follow {
                libc::listxattr(p.as_ptr(), std::ptr::null_mut(), 0)
            } else {
                libc::llistxattr(p.as_ptr(), std::ptr::null_mut(), 0)
            }
        })?;
        let mut buf = vec![0u8; n];
        // SAFETY: `buf` is writable for its whole length.
        let r = unsafe {
            if follow {
                libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            } else {
                libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            }
        };
        match ssize(r) {
            Ok(k) => {
                buf.truncate(k);
                return Ok(buf);
            }
            // The list grew between the two calls: ask again.
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The value of the extended attribute `name` of `path`.
pub fn get_xattr(path: &Path, name: &str, follow: bool) -> io::Result<Vec<u8>> {
    let p = cstr(path.as_os_str())?;
    let n = cstr(OsStr::new(name))?;
    loop {
        // SAFETY: size query: a null buffer of length 0.
        let len = ssize(unsafe {
            if follow {
                libc::getxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0)
            } else {
                libc::lgetxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0)
            }
        })?;
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` is writable for its whole length.
        let r = unsafe {
            if follow {
                libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            } else {
                libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            }
        };
        match ssize(r) {
            Ok(k) => {
                buf.truncate(k);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

pub fn set_xattr(path: &Path, name: &str, value: &[u8], follow: bool) -> io::Result<()> {
    let p = cstr(path.as_os_str())?;
    let n = cstr(OsStr::new(name))?;
    // SAFETY: valid strings; `value` is readable for its length.
    check(unsafe {
        if follow {
            libc::setxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        } else {
            libc::lsetxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        }
    })
}

pub fn remove_xattr(path: &Path, name: &str, follow: bool) -> io::Result<()> {
    let p = cstr(path.as_os_str())?;
    let n = cstr(OsStr::new(name))?;
    // SAFETY: valid NUL-terminated strings.
    check(unsafe {
        if follow {
            libc::removexattr(p.as_ptr(), n.as_ptr())
        } else {
            libc::lremovexattr(p.as_ptr(), n.as_ptr())
        }
    })
}

/// posix_fallocate(3): allocates `len` bytes from offset 0.
pub fn fallocate(f: &std::fs::File, len: i64) -> io::Result<()> {
    // SAFETY: a valid descriptor; no pointers.
    let r = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) };
    if r != 0 {
        Err(io::Error::from_raw_os_error(r))
    } else {
        Ok(())
    }
}

/// BLKGETSIZE64: the device size in bytes.
pub fn blk_size64(f: &std::fs::File) -> io::Result<u64> {
    let mut v: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which is valid.
    check(unsafe { libc::ioctl(f.as_raw_fd(), 0x8008_1272, &mut v) })?;
    Ok(v)
}

/// BLKBSZGET: the kernel's block size for the device.
pub fn blk_block_size(f: &std::fs::File) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    // SAFETY: BLKBSZGET writes one int through the pointer, which is valid.
    check(unsafe { libc::ioctl(f.as_raw_fd(), 0x8008_1270, &mut v) })?;
    Ok(v)
}

/// BLKROGET: whether the device is read-only.
pub fn blk_get_ro(f: &std::fs::File) -> io::Result<bool> {
    let mut v: libc::c_int = 0;
    // SAFETY: BLKROGET writes one int through the pointer, which is valid.
    check(unsafe { libc::ioctl(f.as_raw_fd(), 0x125e, &mut v) })?;
    Ok(v != 0)
}

/// BLKROSET: makes the device read-only (or read-write again).
pub fn blk_set_ro(f: &std::fs::File, ro: bool) -> io::Result<()> {
    let v: libc::c_int = libc::c_int::from(ro);
    // SAFETY: BLKROSET reads one int through the pointer, which is valid.
    check(unsafe { libc::ioctl(f.as_raw_fd(), 0x125d, &v) })
}

/// BLKFLSBUF: writes out and drops the device's buffers.
pub fn blk_flush_buffers(f: &std::fs::File) -> io::Result<()> {
    // SAFETY: BLKFLSBUF takes no argument.
    check(unsafe { libc::ioctl(f.as_raw_fd(), 0x1261, 0) })
}

/// Makes `cmd` run chrooted in `root` (with `/` as its directory): for
/// running the guest's own programs.
pub fn chroot_command(cmd: &mut std::process::Command, root: &Path) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let root = cstr(root.as_os_str())?;
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls async-signal-safe functions (chroot, chdir) on memory it owns.
    unsafe {
        cmd.pre_exec(move || {
            check(libc::chroot(root.as_ptr()))?;
            check(libc::chdir(c"/".as_ptr()))
        });
    }
    Ok(())
}

/// One time for [`utimensat_nofollow`].
#[derive(Debug, Clone, Copy)]
pub enum TimeSpec {
    Now,
    Omit,
    At(i64, i64),
}

/// utimensat(2) with AT_SYMLINK_NOFOLLOW.
pub fn utimensat_nofollow(path: &Path, at: TimeSpec, mt: TimeSpec) -> io::Result<()> {
    let p = cstr(path.as_os_str())?;
    let ts = |t: TimeSpec| libc::timespec {
        tv_sec: match t {
            TimeSpec::At(s, _) => s,
            _ => 0,
        },
        tv_nsec: match t {
            TimeSpec::Now => libc::UTIME_NOW,
            TimeSpec::Omit => libc::UTIME_OMIT,
            TimeSpec::At(_, n) => n,
        },
    };
    let times = [ts(at), ts(mt)];
    // SAFETY: `p` is a valid C string and `times` two valid timespecs.
    check(unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// mknod(2).
pub fn mknod(path: &Path, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    let p = cstr(path.as_os_str())?;
    // SAFETY: `p` is a valid C string.
    check(unsafe { libc::mknod(p.as_ptr(), mode, dev) })
}

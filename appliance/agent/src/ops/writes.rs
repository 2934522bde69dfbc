//! Changing the guest's files: creating, writing, uploading, removing,
//! copying and moving, modes, owners, links, sizes, attributes, and filling
//! free space with zeroes.
//!
//! Must not: follow a guest symlink out of `/sysroot` (every path goes
//! through `paths`), or write to a device that failed the device check.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use gx_protocol::CopyAttributesOpts;

use super::paths::{guest, guest_nofollow, guest_parent};
use super::{Ops, R, err, fail, run, xattr};
use crate::sys;

pub fn write(path: &str, content: &[u8], append: bool) -> R<()> {
    let p = guest(path)?;
    let mut o = OpenOptions::new();
    o.write(true).create(true).mode(0o666);
    if append {
        o.append(true);
    } else {
        o.truncate(true);
    }
    o.open(&p)
        .and_then(|mut f| f.write_all(content))
        .map_err(|e| fail(e, path))
}

impl Ops {
    /// A Dev_or_Path argument opened for writing: devices as they are,
    /// guest files created (and truncated when `truncate`).
    fn open_for_upload(&mut self, name: &str, truncate: bool) -> R<File> {
        if name.starts_with("/dev/") {
            let g = self.device(name)?;
            return OpenOptions::new()
                .write(true)
                .open(&g)
                .map_err(|e| fail(e, name));
        }
        let p = guest(name)?;
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(truncate)
            .mode(0o666)
            .open(&p)
            .map_err(|e| fail(e, name))
    }

    pub fn upload(&mut self, name: &str, data: &mut dyn Read) -> R<()> {
        let mut f = self.open_for_upload(name, true)?;
        receive(data, &mut f, name)
    }

    pub fn upload_offset(&mut self, name: &str, offset: i64, data: &mut dyn Read) -> R<()> {
        let offset = u64::try_from(offset)
            .map_err(|_| err(libc::EINVAL, format!("{name}: offset in file is negative")))?;
        let mut f = self.open_for_upload(name, false)?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| fail(e, format!("lseek: {name}")))?;
        receive(data, &mut f, name)
    }

    pub fn pwrite_device(&mut self, device: &str, content: &[u8], offset: i64) -> R<i32> {
        let offset = u64::try_from(offset).map_err(|_| err(libc::EINVAL, "offset is negative"))?;
        let g = self.device(device)?;
        let f = OpenOptions::new()
            .write(true)
            .open(&g)
            .map_err(|e| fail(e, device))?;
        let n = f
            .write_at(content, offset)
            .map_err(|e| fail(e, format!("pwrite: {device}")))?;
        f.sync_all()
            .map_err(|e| fail(e, format!("fsync: {device}")))?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// The upload stream into `f`; a failure on either side names which.
fn receive(data: &mut dyn Read, f: &mut File, name: &str) -> R<()> {
    let mut buf = vec![0u8; gx_protocol::CHUNK_SIZE];
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
                return Err(err(libc::ECANCELED, "file upload cancelled"));
            }
            Err(e) => return Err(fail(e, format!("upload: {name}"))),
        };
        f.write_all(&buf[..n])
            .map_err(|e| fail(e, format!("write error: {name}")))?;
    }
    Ok(())
}

/// Writes at least this big go to the disk with `O_DIRECT` when the file
/// offset and the buffer are page-aligned (gx-mount's write-back pages are).
/// Under TCG the guest kernel's buffered write path is the slowest part of
/// a large write: measured here, a 1 MiB buffered pwrite into ext4 took ~18
/// ms (copying into the page cache, per-page delayed allocation, then
/// writing back at sync), while `O_DIRECT` maps the extent once and the
/// device reads the pages straight from our buffer. Durability is the same:
/// the data is on the device when the call returns (as it would be after
/// writeback), and the metadata is journalled as for a buffered write and
/// committed by the next sync.
const DIRECT_MIN: usize = 64 << 10;

pub fn pwrite(path: &str, content: &[u8], offset: i64) -> R<i32> {
    let offset = u64::try_from(offset).map_err(|_| err(libc::EINVAL, "offset is negative"))?;
    let p = guest(path)?;
    let page = crate::alloc::PAGE;
    let aligned = if content.len() >= DIRECT_MIN
        && offset % page as u64 == 0
        && (content.as_ptr() as usize) % page == 0
    {
        content.len() / page * page
    } else {
        0
    };
    let mut done = 0;
    if aligned > 0 {
        match write_direct(&p, &content[..aligned], offset) {
            Ok(n) if n < aligned => return Ok(i32::try_from(n).unwrap_or(i32::MAX)),
            Ok(n) => done = n,
            // This filesystem (or file) takes no O_DIRECT: nothing was
            // written, so write it all through the page cache.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(fail(e, format!("pwrite: {path}"))),
        }
    }
    if done == content.len() {
        return Ok(i32::try_from(done).unwrap_or(i32::MAX));
    }
    let f = OpenOptions::new()
        .write(true)
        .open(&p)
        .map_err(|e| fail(e, format!("open: {path}")))?;
    let n = f
        .write_at(&content[done..], offset + done as u64)
        .map_err(|e| fail(e, format!("pwrite: {path}")))?;
    Ok(i32::try_from(done + n).unwrap_or(i32::MAX))
}

/// One `O_DIRECT` pwrite of `data` (page-aligned) at `offset`.
fn write_direct(p: &Path, data: &[u8], offset: u64) -> io::Result<usize> {
    let f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(p)?;
    f.write_at(data, offset)
}

pub fn mkdir(path: &str) -> R<()> {
    let p = guest_parent(path)?;
    fs::DirBuilder::new()
        .mode(0o777)
        .create(&p)
        .map_err(|e| fail(e, path))
}

pub fn mkdir_mode(path: &str, mode: i32) -> R<()> {
    let mode =
        u32::try_from(mode).map_err(|_| err(libc::EINVAL, format!("{path}: mode is negative")))?;
    let p = guest_parent(path)?;
    fs::DirBuilder::new()
        .mode(mode)
        .create(&p)
        .map_err(|e| fail(e, path))
}

pub fn mkdir_p(path: &str) -> R<()> {
    let p = guest(path)?;
    match fs::DirBuilder::new().recursive(true).mode(0o777).create(&p) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTDIR)) => Err(err(
            libc::ENOTDIR,
            format!("{path}: a path element was not a directory"),
        )),
        Err(e) => Err(fail(e, path)),
    }
}

pub fn rmdir(path: &str) -> R<()> {
    let p = guest_parent(path)?;
    fs::remove_dir(&p).map_err(|e| fail(e, path))
}

pub fn rm(path: &str, ignore_missing: bool) -> R<()> {
    let p = guest_parent(path)?;
    match fs::remove_file(&p) {
        Err(e) if ignore_missing && e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r.map_err(|e| fail(e, path)),
    }
}

pub fn rm_rf(path: &str) -> R<()> {
    if path.split('/').all(str::is_empty) {
        return Err(err(libc::EINVAL, "cannot remove root directory"));
    }
    let p = guest_parent(path)?;
    let r = match fs::symlink_metadata(&p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(&p),
        Ok(_) => fs::remove_file(&p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    r.map_err(|e| fail(e, path))
}

/// GNU coreutils' `name` when the appliance has it (it keeps xattrs and
/// ACLs with `-a`), else busybox's.
fn coreutil(name: &str) -> run::Prog {
    if run::have(name) {
        run::prog(name)
    } else {
        run::prog("busybox").arg(name)
    }
}

/// `cp`/`mv` with `flags`, `src` and `dest` already resolved.
fn src_dest(cmd: &str, flags: &[&str], src: &Path, dest: &Path) -> R<()> {
    coreutil(cmd)
        .args(flags)
        .arg("--")
        .arg_path(src)
        .arg_path(dest)
        .run_ok()
}

pub fn mv(src: &str, dest: &str) -> R<()> {
    src_dest("mv", &["-f"], &guest_parent(src)?, &guest(dest)?)
}

pub fn rename(oldpath: &str, newpath: &str) -> R<()> {
    let o = guest_parent(oldpath)?;
    let n = guest_parent(newpath)?;
    fs::rename(&o, &n).map_err(|e| fail(e, format!("rename: {oldpath} to {newpath}")))
}

pub fn cp(src: &str, dest: &str) -> R<()> {
    src_dest("cp", &[], &guest(src)?, &guest(dest)?)
}

pub fn cp_a(src: &str, dest: &str) -> R<()> {
    src_dest("cp", &["-a"], &guest_nofollow(src)?, &guest(dest)?)
}

pub fn cp_r(src: &str, dest: &str) -> R<()> {
    src_dest("cp", &["-rP"], &guest_nofollow(src)?, &guest(dest)?)
}

pub fn chmod(mode: i32, path: &str) -> R<()> {
    let mode =
        u32::try_from(mode).map_err(|_| err(libc::EINVAL, format!("{path}: mode is negative")))?;
    let p = guest(path)?;
    fs::set_permissions(&p, fs::Permissions::from_mode(mode))
        .map_err(|e| fail(e, format!("{path}: 0{mode:o}")))
}

/// utimensat(2) on the name itself (a symlink is not followed), with
/// libguestfs's -1 (now) and -2 (leave) nanosecond values.
pub fn utimens(path: &str, at: (i64, i64), mt: (i64, i64)) -> R<()> {
    let p = guest_nofollow(path)?;
    let conv = |(sec, nsec): (i64, i64)| -> R<sys::TimeSpec> {
        Ok(match nsec {
            -1 => sys::TimeSpec::Now,
            -2 => sys::TimeSpec::Omit,
            n if (0..1_000_000_000).contains(&n) => sys::TimeSpec::At(sec, n),
            n => {
                return Err(err(
                    libc::EINVAL,
                    format!("{path}: nanoseconds {n} out of range"),
                ));
            }
        })
    };
    sys::utimensat_nofollow(&p, conv(at)?, conv(mt)?).map_err(|e| fail(e, path))
}

/// mknod(2): `mode` carries the file type, less the umask 022.
pub fn mknod(mode: i32, major: i32, minor: i32, path: &str) -> R<()> {
    let mode =
        u32::try_from(mode).map_err(|_| err(libc::EINVAL, format!("{path}: mode is negative")))?;
    let (major, minor) = match (u32::try_from(major), u32::try_from(minor)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            return Err(err(
                libc::EINVAL,
                format!("{path}: device numbers are negative"),
            ));
        }
    };
    let p = guest_nofollow(path)?;
    sys::mknod(&p, mode & !0o022, libc::makedev(major, minor)).map_err(|e| fail(e, path))
}

fn id(v: i32) -> Option<u32> {
    // -1 means "leave unchanged", as in chown(2).
    u32::try_from(v).ok()
}

pub fn chown(owner: i32, group: i32, path: &str, follow: bool) -> R<()> {
    let r = if follow {
        std::os::unix::fs::chown(guest(path)?, id(owner), id(group))
    } else {
        std::os::unix::fs::lchown(guest_nofollow(path)?, id(owner), id(group))
    };
    r.map_err(|e| fail(e, format!("{path}: {owner}.{group}")))
}

pub fn touch(path: &str) -> R<()> {
    let p = guest_nofollow(path)?;
    match fs::symlink_metadata(&p) {
        Ok(m) if !m.is_file() => {
            return Err(err(
                libc::EINVAL,
                format!("{path}: touch can only be used on a regular files"),
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e, format!("lstat: {path}"))),
    }
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .custom_flags(libc::O_NOCTTY | libc::O_NOFOLLOW)
        .open(&p)
        .map_err(|e| fail(e, format!("open: {path}")))?;
    let now = std::time::SystemTime::now();
    f.set_times(fs::FileTimes::new().set_accessed(now).set_modified(now))
        .map_err(|e| fail(e, format!("futimens: {path}")))
}

pub fn ln(target: &str, linkname: &str, force: bool) -> R<()> {
    // link(2) does not follow a symlink target: the link is to the symlink.
    let t = guest_nofollow(target)?;
    let l = guest_parent(linkname)?;
    if force {
        let _ = fs::remove_file(&l);
    }
    fs::hard_link(&t, &l).map_err(|e| fail(e, format!("link: {target}: {linkname}")))
}

/// ln -s(f): an existing directory (or link to one) at `linkname` gets the
/// link inside it, named after the target, as ln(1) does.
pub fn ln_s(target: &str, linkname: &str, force: bool) -> R<()> {
    let mut l = guest(linkname)?;
    if fs::metadata(&l).is_ok_and(|m| m.is_dir()) {
        let base = Path::new(target)
            .file_name()
            .ok_or_else(|| err(libc::EINVAL, format!("ln -s: {target}: no file name")))?;
        l.push(base);
    } else {
        // Create the name itself (a dangling symlink there is replaced, not
        // followed).
        l = guest_parent(linkname)?;
    }
    if force {
        match fs::symlink_metadata(&l) {
            Ok(m) if m.is_dir() => {
                return Err(err(
                    libc::EISDIR,
                    format!("ln -sf: {target}: {linkname}: is a directory"),
                ));
            }
            Ok(_) => fs::remove_file(&l).map_err(|e| fail(e, linkname))?,
            Err(_) => {}
        }
    }
    std::os::unix::fs::symlink(target, &l).map_err(|e| {
        let flag = if force { "-sf" } else { "-s" };
        fail(e, format!("ln {flag}: {target}: {linkname}"))
    })
}

pub fn truncate_size(path: &str, size: i64) -> R<()> {
    let size =
        u64::try_from(size).map_err(|_| err(libc::EINVAL, format!("{path}: size is negative")))?;
    let p = guest(path)?;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&p)
        .map_err(|e| fail(e, format!("open: {path}")))?
        .set_len(size)
        .map_err(|e| fail(e, format!("ftruncate: {path}")))
}

pub fn fallocate64(path: &str, len: i64) -> R<()> {
    let p = guest(path)?;
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(&p)
        .map_err(|e| fail(e, format!("open: {path}")))?;
    sys::fallocate(&f, len).map_err(|e| fail(e, path))
}

/// Writes `len` bytes made of `pattern` repeated from the start of `path`
/// (created if missing; like libguestfs, a longer file keeps its tail).
fn fill_with(pattern: &[u8], len: i32, path: &str) -> R<()> {
    let len =
        usize::try_from(len).map_err(|_| err(libc::EINVAL, format!("{len}: length is < 0")))?;
    let p = guest(path)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_NOCTTY)
        .open(&p)
        .map_err(|e| fail(e, format!("open: {path}")))?;
    let block: Vec<u8> = pattern
        .iter()
        .copied()
        .cycle()
        .take(pattern.len() * (65536 / pattern.len()).max(1))
        .collect();
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        f.write_all(&block[..n])
            .map_err(|e| fail(e, format!("write: {path}")))?;
        left -= n;
    }
    Ok(())
}

pub fn fill(c: i32, len: i32, path: &str) -> R<()> {
    let b = u8::try_from(c).map_err(|_| {
        err(
            libc::EINVAL,
            format!("{c}: byte number must be in range 0..255"),
        )
    })?;
    fill_with(&[b], len, path)
}

pub fn fill_pattern(pattern: &str, len: i32, path: &str) -> R<()> {
    if pattern.is_empty() {
        return Err(err(libc::EINVAL, "pattern string must be non-empty"));
    }
    fill_with(pattern.as_bytes(), len, path)
}

pub fn copy_attributes(src: &str, dest: &str, o: &CopyAttributesOpts) -> R<()> {
    // `all` turns on whatever was not given explicitly.
    let all = o.all == Some(true);
    let mode = o.mode.unwrap_or(all);
    let xattrs = o.xattributes.unwrap_or(all);
    let owner = o.ownership.unwrap_or(all);
    let s = guest(src)?;
    let d = guest(dest)?;
    let sm = fs::metadata(&s).map_err(|e| fail(e, format!("stat: {src}")))?;
    let dm = fs::metadata(&d).map_err(|e| fail(e, format!("stat: {dest}")))?;
    use std::os::unix::fs::MetadataExt;
    if mode && sm.mode() & 0o7777 != dm.mode() & 0o7777 {
        fs::set_permissions(&d, fs::Permissions::from_mode(sm.mode() & 0o7777))
            .map_err(|e| fail(e, format!("chmod: {dest}")))?;
    }
    if owner && (sm.uid() != dm.uid() || sm.gid() != dm.gid()) {
        std::os::unix::fs::chown(&d, Some(sm.uid()), Some(sm.gid()))
            .map_err(|e| fail(e, format!("chown: {dest}")))?;
    }
    if xattrs {
        xattr::copy_all(&s, &d, src, dest)?;
    }
    Ok(())
}

/// A name no guest file has: 8.3, so FAT takes it too.
fn random_name() -> String {
    let mut seed = [0u8; 11];
    let _ = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed));
    let c = |b: u8| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[usize::from(b) % 36]);
    let mut s: String = seed[..8].iter().map(|b| c(*b)).collect();
    s.push('.');
    s.extend(seed[8..].iter().map(|b| c(*b)));
    s
}

pub fn zero_free_space(dir: &str) -> R<()> {
    let d = guest(dir)?;
    let p = d.join(random_name());
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&p)
        .map_err(|e| fail(e, format!("open: {dir}")))?;
    let zero = vec![0u8; 1 << 20];
    let r = loop {
        match f.write(&zero) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    // The last blocks are on the disk before the file goes.
    let _ = f.sync_all();
    drop(f);
    sys::sync();
    let removed = fs::remove_file(&p);
    r.map_err(|e| fail(e, format!("write: {dir}")))?;
    removed.map_err(|e| fail(e, format!("unlink: {dir}")))
}

//! Reading the guest's files and directories: listings, stat, links,
//! downloads (of files and devices), partial reads, grep.
//!
//! Must not: change anything, or read outside `/sysroot` on behalf of a guest
//! path (devices only through the device check).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use gx_protocol::{Dirent, FileOut, GrepOpts, StatNs, StatVfs};

use super::paths::{self, guest, guest_nofollow};
use super::{Ops, R, REPLY_DATA_MAX, err, fail, run};
use crate::sys;

pub fn ls(dir: &str) -> R<Vec<String>> {
    let p = guest(dir)?;
    let mut v: Vec<String> = fs::read_dir(&p)
        .map_err(|e| fail(e, dir))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<_>>()
        .map_err(|e| fail(e, dir))?;
    v.sort();
    Ok(v)
}

pub fn readdir(dir: &str) -> R<Vec<Dirent>> {
    let p = guest(dir)?;
    let ents = sys::read_dir_raw(&p).map_err(|e| fail(e, format!("opendir: {dir}")))?;
    Ok(ents
        .into_iter()
        .map(|e| Dirent {
            ino: e.ino as i64,
            ftyp: match e.d_type {
                libc::DT_BLK => b'b',
                libc::DT_CHR => b'c',
                libc::DT_DIR => b'd',
                libc::DT_FIFO => b'f',
                libc::DT_LNK => b'l',
                libc::DT_REG => b'r',
                libc::DT_SOCK => b's',
                libc::DT_UNKNOWN => b'u',
                _ => b'?',
            },
            name: String::from_utf8_lossy(&e.name).into_owned(),
        })
        .collect())
}

pub fn find(dir: &str) -> R<Vec<String>> {
    let base = guest(dir)?;
    if !fs::metadata(&base).map_err(|e| fail(e, dir))?.is_dir() {
        return Err(err(libc::ENOTDIR, format!("{dir}: not a directory")));
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    walk(&base, &mut PathBuf::new(), &mut out).map_err(|e| fail(e, dir))?;
    // One sort of the whole list, by bytes, as libguestfs does ("/a",
    // "/a-b", "/a/b"), not directory by directory; each name with a leading
    // slash, as libguestfs returns them, except under a directory named with
    // a trailing slash (`/`, `/etc/`): libguestfs's daemon cuts `/sysroot`
    // plus the directory off each path, slash included.
    out.sort();
    let lead = if dir.ends_with('/') { "" } else { "/" };
    Ok(out
        .into_iter()
        .map(|b| format!("{lead}{}", String::from_utf8_lossy(&b)))
        .collect())
}

fn walk(base: &Path, rel: &mut PathBuf, out: &mut Vec<Vec<u8>>) -> io::Result<()> {
    for e in fs::read_dir(base.join(&*rel))? {
        let e = e?;
        rel.push(e.file_name());
        out.push(rel.as_os_str().as_bytes().to_vec());
        // file_type() does not follow symlinks: links are listed, not walked.
        if e.file_type()?.is_dir() {
            walk(base, rel, out)?;
        }
        rel.pop();
    }
    Ok(())
}

pub fn statns_of(m: &fs::Metadata) -> StatNs {
    StatNs {
        st_dev: m.dev() as i64,
        st_ino: m.ino() as i64,
        st_mode: i64::from(m.mode()),
        st_nlink: m.nlink() as i64,
        st_uid: i64::from(m.uid()),
        st_gid: i64::from(m.gid()),
        st_rdev: m.rdev() as i64,
        st_size: m.size() as i64,
        st_blksize: m.blksize() as i64,
        st_blocks: m.blocks() as i64,
        st_atime_sec: m.atime(),
        st_atime_nsec: m.atime_nsec(),
        st_mtime_sec: m.mtime(),
        st_mtime_nsec: m.mtime_nsec(),
        st_ctime_sec: m.ctime(),
        st_ctime_nsec: m.ctime_nsec(),
        ..StatNs::default()
    }
}

pub fn statns(path: &str) -> R<StatNs> {
    let p = guest(path)?;
    let m = fs::metadata(&p).map_err(|e| fail(e, format!("stat: {path}")))?;
    Ok(statns_of(&m))
}

pub fn lstatns(path: &str) -> R<StatNs> {
    let p = guest_nofollow(path)?;
    let m = fs::symlink_metadata(&p).map_err(|e| fail(e, format!("lstat: {path}")))?;
    Ok(statns_of(&m))
}

/// Names that may be joined to a directory: no `/`, not `.`/`..` games.
fn check_names(names: &[String]) -> R<()> {
    for n in names {
        if n.contains('/') || n.is_empty() {
            return Err(err(libc::EINVAL, format!("'{n}' is not a file name")));
        }
    }
    Ok(())
}

pub fn lstatnslist(path: &str, names: &[String]) -> R<Vec<StatNs>> {
    check_names(names)?;
    let dir = guest(path)?;
    Ok(names
        .iter()
        .map(|n| {
            // A missing entry is a struct with st_ino -1, not an error: the
            // list comes from a readdir the files may have left since.
            // The guest root's ".." is itself, not the appliance's root.
            let at = if n == ".." && dir == Path::new(paths::SYSROOT) {
                dir.clone()
            } else {
                dir.join(n)
            };
            match fs::symlink_metadata(at) {
                Ok(m) => statns_of(&m),
                Err(_) => StatNs {
                    st_ino: -1,
                    ..StatNs::default()
                },
            }
        })
        .collect())
}

pub fn statvfs(path: &str) -> R<StatVfs> {
    let p = guest(path)?;
    let s = sys::statvfs(&p).map_err(|e| fail(e, format!("statvfs: {path}")))?;
    Ok(StatVfs {
        bsize: s.f_bsize as i64,
        frsize: s.f_frsize as i64,
        blocks: s.f_blocks as i64,
        bfree: s.f_bfree as i64,
        bavail: s.f_bavail as i64,
        files: s.f_files as i64,
        ffree: s.f_ffree as i64,
        favail: s.f_favail as i64,
        fsid: s.f_fsid as i64,
        flag: s.f_flag as i64,
        namemax: s.f_namemax as i64,
    })
}

pub fn readlink(path: &str) -> R<String> {
    let p = guest_nofollow(path)?;
    fs::read_link(&p)
        .map(|t| t.to_string_lossy().into_owned())
        .map_err(|e| fail(e, format!("readlink: {path}")))
}

pub fn realpath(path: &str) -> R<String> {
    let p = guest(path)?;
    // realpath(3) wants every component to exist.
    fs::symlink_metadata(&p).map_err(|e| fail(e, format!("realpath: {path}")))?;
    Ok(paths::guest_rel(&p))
}

impl Ops {
    /// A Dev_or_Path argument opened for reading: `/dev/...` is a device,
    /// anything else a guest path.
    fn open_dev_or_path(&mut self, name: &str) -> R<(File, bool)> {
        if name.starts_with("/dev/") {
            let g = self.device(name)?;
            let f = File::open(&g).map_err(|e| fail(e, name))?;
            return Ok((f, true));
        }
        let p = guest(name)?;
        let f = File::open(&p).map_err(|e| fail(e, name))?;
        if f.metadata().map_err(|e| fail(e, name))?.is_dir() {
            return Err(err(libc::EISDIR, format!("{name}: is a directory")));
        }
        Ok((f, false))
    }

    pub fn download(&mut self, name: &str, out: &mut dyn FileOut) -> R<()> {
        let (mut f, is_dev) = self.open_dev_or_path(name)?;
        let regular = !is_dev && f.metadata().map(|m| m.is_file()).unwrap_or(false);
        if !regular {
            // Devices, FIFOs: plain reads.
            return pump(&mut f, out, name, u64::MAX);
        }
        out.send_file(&mut f)
            .map(|_| ())
            .map_err(|e| fail(e, format!("download: {name}")))
    }

    pub fn download_offset(
        &mut self,
        name: &str,
        offset: i64,
        size: i64,
        out: &mut dyn FileOut,
    ) -> R<()> {
        let offset = u64::try_from(offset)
            .map_err(|_| err(libc::EINVAL, format!("{name}: offset in file is negative")))?;
        let size = u64::try_from(size)
            .map_err(|_| err(libc::EINVAL, format!("{name}: size is negative")))?;
        let (mut f, _) = self.open_dev_or_path(name)?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| fail(e, format!("lseek: {name}")))?;
        pump(&mut f, out, name, size)
    }

    pub fn pread_device(&mut self, device: &str, count: i32, offset: i64) -> R<Vec<u8>> {
        let g = self.device(device)?;
        let f = File::open(&g).map_err(|e| fail(e, device))?;
        pread_fd(f, count, offset, device)
    }
}

pub fn pread(path: &str, count: i32, offset: i64) -> R<Vec<u8>> {
    let p = guest(path)?;
    let f = File::open(&p).map_err(|e| fail(e, format!("open: {path}")))?;
    pread_fd(f, count, offset, path)
}

fn pread_fd(f: File, count: i32, offset: i64, what: &str) -> R<Vec<u8>> {
    let count = usize::try_from(count)
        .map_err(|_| err(libc::EINVAL, format!("{what}: count is negative")))?;
    let offset = u64::try_from(offset)
        .map_err(|_| err(libc::EINVAL, format!("{what}: offset is negative")))?;
    if count > REPLY_DATA_MAX {
        return Err(err(
            libc::EINVAL,
            format!("{what}: count is too large for the protocol, use smaller reads"),
        ));
    }
    let mut v = vec![0u8; count];
    // One pread, like pread(2): a short read at the end is the answer.
    let n = std::os::unix::fs::FileExt::read_at(&f, &mut v, offset)
        .map_err(|e| fail(e, format!("pread: {what}")))?;
    v.truncate(n);
    Ok(v)
}

/// Copies up to `limit` bytes of `from` into `out` in protocol-sized chunks.
fn pump(from: &mut dyn Read, out: &mut dyn Write, name: &str, limit: u64) -> R<()> {
    let mut buf = vec![0u8; gx_protocol::CHUNK_SIZE];
    let mut left = limit;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(e, format!("read: {name}"))),
        };
        out.write_all(&buf[..n])
            .map_err(|e| fail(e, format!("download: {name}")))?;
        left -= n as u64;
    }
    Ok(())
}

pub fn grep(regex: &str, path: &str, opts: &GrepOpts) -> R<Vec<String>> {
    let extended = opts.extended == Some(true);
    let fixed = opts.fixed == Some(true);
    if extended && fixed {
        return Err(err(
            libc::EINVAL,
            "can't use 'extended' and 'fixed' flags at the same time",
        ));
    }
    let p = guest(path)?;
    let f = File::open(&p).map_err(|e| fail(e, path))?;
    let mut g = run::prog("grep");
    if extended {
        g = g.arg("-E");
    }
    if fixed {
        g = g.arg("-F");
    }
    if opts.insensitive == Some(true) {
        g = g.arg("-i");
    }
    // -e: a pattern that starts with '-' is still a pattern.
    g = g.arg("-e").arg(regex);
    let out = if opts.compressed == Some(true) {
        // zgrep's way: gzip -cdfq passes uncompressed input through.
        let mut z = run::prog("gzip")
            .args(["-cdfq"])
            .command()
            .stdin(Stdio::from(f))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(e, "gzip"))?;
        let Some(zout) = z.stdout.take() else {
            return Err(err(libc::EIO, "gzip: no output pipe"));
        };
        let mut c = g.command();
        c.stdin(Stdio::from(zout))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let o = c
            .spawn()
            .and_then(|c| c.wait_with_output())
            .map_err(|e| fail(e, "grep"));
        let _ = z.wait();
        o?
    } else {
        g.stdin_file(f).output()?
    };
    // 1: no line matched, an empty answer.
    match out.status.code() {
        Some(0) | Some(1) => Ok(run::split_lines(&String::from_utf8_lossy(&out.stdout))),
        _ => Err(err(libc::EIO, run::failure(regex, &out))),
    }
}

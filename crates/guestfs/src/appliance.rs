//! The appliance engine: the Handle's calls answered by the agent in the
//! appliance VM ([`gx_appliance`]), for what the direct engine cannot do
//! (filesystems it does not parse, journals on external devices, every write).
//!
//! This module owns the translation between the two sides: drives become
//! appliance drives (read-only ones behind the launcher's copy-on-write
//! overlay, so the image stays byte-identical), appliance errors become
//! [`Error`]s with a matching [`ErrorKind`] (from the guest's errno), wire
//! structs become [`Stat`]/[`StatVfs`], and the few Handle calls the agent has
//! no row for (`statns`, `realpath`, `readdir`, `lstatnslist`, `ll`,
//! `case_sensitive_path`) are composed here from `lstatns`, `readlink` and
//! `ls`, with the same results as the direct engine gives.
//!
//! It must not: decide which engine answers (the Handle does), or follow a
//! guest symlink outside the guest's tree (the agent resolves paths inside
//! its `/sysroot`; the loops here are bounded like the kernel's).

use std::io::{Read, Write};

use gx_appliance::{Appliance, Backend, Config};

use crate::path::{self, child};
use crate::{Drive, Error, ErrorKind, FileType, Format, Result, Stat, StatVfs, Timespec};
use gx_fs::DirEntry;

/// The most one `pread` asks the agent for: well under its frame limit.
const PREAD_CHUNK: usize = 1 << 20;

pub(crate) struct ApplianceEngine {
    app: Appliance,
}

/// How the Handle wants the appliance launched.
pub(crate) struct LaunchOptions {
    pub backend: Option<Backend>,
    pub verbose: bool,
}

impl ApplianceEngine {
    /// Boots the appliance with the Handle's drives, in order.
    pub(crate) fn launch(drives: &[Drive], opts: &LaunchOptions) -> Result<Self> {
        let mut ad = Vec::with_capacity(drives.len());
        for d in drives {
            // The appliance never probes a format (a guest could forge a
            // qcow2 header in a raw disk); an autodetecting drive gets the
            // format detected here, on the host, as the direct engine does.
            let format = match d.options.format {
                Some(f) => f,
                None => gx_disk::detect_format(&d.path)?,
            };
            let format = match format {
                Format::Raw => "raw",
                Format::Qcow2 => "qcow2",
            };
            ad.push(gx_appliance::Drive::new(
                &d.path,
                Some(format),
                d.options.readonly,
            ));
        }
        let config = Config {
            drives: ad,
            backend: opts.backend,
            verbose: opts.verbose || Config::default().verbose,
            ..Config::default()
        };
        let app = Appliance::launch(config).map_err(|e| convert("launch", e))?;
        Ok(ApplianceEngine { app })
    }

    /// Which launcher runs the VM.
    pub(crate) fn backend(&self) -> Backend {
        self.app.backend()
    }

    /// Powers the VM off.
    pub(crate) fn shutdown(self) -> Result<()> {
        self.app.shutdown().map_err(|e| convert("shutdown", e))
    }

    /// The typed client, for calls that map one to one; errors converted.
    pub(crate) fn app(&mut self) -> &mut Appliance {
        &mut self.app
    }

    pub(crate) fn list_devices(&mut self) -> Result<Vec<String>> {
        self.app
            .list_devices()
            .map_err(|e| convert("list_devices", e))
    }

    pub(crate) fn list_partitions(&mut self) -> Result<Vec<String>> {
        self.app
            .list_partitions()
            .map_err(|e| convert("list_partitions", e))
    }

    pub(crate) fn list_filesystems(&mut self) -> Result<Vec<(String, String)>> {
        self.app
            .list_filesystems()
            .map_err(|e| convert("list_filesystems", e))
    }

    pub(crate) fn vfs_type(&mut self, device: &str) -> Result<String> {
        self.app
            .vfs_type(device)
            .map_err(|e| convert("vfs_type", e))
    }

    pub(crate) fn vfs_label(&mut self, device: &str) -> Result<String> {
        self.app
            .vfs_label(device)
            .map_err(|e| convert("vfs_label", e))
    }

    pub(crate) fn vfs_uuid(&mut self, device: &str) -> Result<String> {
        self.app
            .vfs_uuid(device)
            .map_err(|e| convert("vfs_uuid", e))
    }

    pub(crate) fn blockdev_getsize64(&mut self, device: &str) -> Result<u64> {
        let n = self
            .app
            .blockdev_getsize64(device)
            .map_err(|e| convert("blockdev_getsize64", e))?;
        u64::try_from(n).map_err(|_| {
            Error::corrupt(format!(
                "blockdev_getsize64: {device}: the appliance reported a negative size ({n})"
            ))
        })
    }

    pub(crate) fn mount(&mut self, req: &MountReq) -> Result<()> {
        let r = match (&req.vfstype, &req.options) {
            (Some(t), o) => {
                self.app
                    .mount_vfs(o.as_deref().unwrap_or(""), t, &req.device, &req.mountpoint)
            }
            (None, Some(o)) => self.app.mount_options(o, &req.device, &req.mountpoint),
            (None, None) => self.app.mount_ro(&req.device, &req.mountpoint),
        };
        r.map_err(|e| convert("mount", e))
    }

    pub(crate) fn umount_all(&mut self) -> Result<()> {
        self.app.umount_all().map_err(|e| convert("umount_all", e))
    }

    pub(crate) fn mountpoints(&mut self) -> Result<Vec<(String, String)>> {
        self.app
            .mountpoints()
            .map_err(|e| convert("mountpoints", e))
    }

    pub(crate) fn ls(&mut self, dir: &str) -> Result<Vec<String>> {
        self.app.ls(dir).map_err(|e| convert("ls", e))
    }

    pub(crate) fn lstat(&mut self, p: &str) -> Result<Stat> {
        let s = self.app.lstatns(p).map_err(|e| convert("lstatns", e))?;
        Ok(to_stat(&s))
    }

    pub(crate) fn readlink(&mut self, p: &str) -> Result<String> {
        self.app.readlink(p).map_err(|e| convert("readlink", e))
    }

    /// stat(2): the agent resolves every directory component inside the
    /// guest; a final symlink is followed here, relative to its directory.
    pub(crate) fn stat(&mut self, p: &str) -> Result<Stat> {
        let mut cur = p.to_string();
        for _ in 0..=path::MAX_SYMLINKS {
            let st = self.lstat(&cur)?;
            if st.file_type() != FileType::Symlink {
                return Ok(st);
            }
            let target = self.readlink(&cur)?;
            cur = if target.starts_with('/') {
                target
            } else {
                // `dir/../x` is resolved by the agent physically (after the
                // symlinks in `dir`), as the kernel would.
                child(&parent_of(&cur), &target)
            };
        }
        Err(Error::invalid(format!(
            "{p}: Too many levels of symbolic links"
        )))
    }

    /// The canonical path: each component resolved in turn, as the direct
    /// engine does, with `lstatns` and `readlink` on the appliance.
    pub(crate) fn realpath(&mut self, p: &str) -> Result<String> {
        // Both lookups need `self` mutably; one cell lends it to each in turn.
        let me = std::cell::RefCell::new(self);
        let cur = path::resolve(
            p,
            true,
            false,
            |parts| Ok(me.borrow_mut().lstat(&path::join(parts))?.file_type()),
            |parts| me.borrow_mut().readlink(&path::join(parts)),
        )?;
        Ok(path::join(&cur))
    }

    pub(crate) fn lstat_list(&mut self, dir: &str, names: &[String]) -> Result<Vec<Stat>> {
        names.iter().map(|n| self.lstat(&child(dir, n))).collect()
    }

    pub(crate) fn read_dir(&mut self, dir: &str) -> Result<Vec<DirEntry>> {
        let names = self.ls(dir)?;
        let stats = self.lstat_list(dir, &names)?;
        Ok(names
            .into_iter()
            .zip(stats)
            .map(|(name, st)| DirEntry {
                name,
                ino: st.ino,
                file_type: st.file_type(),
            })
            .collect())
    }

    /// Paths below `dir` with a leading `/`, as the direct engine gives them.
    pub(crate) fn find(&mut self, dir: &str) -> Result<Vec<String>> {
        let v = self.app.find(dir).map_err(|e| convert("find", e))?;
        Ok(v.into_iter().map(|p| format!("/{p}")).collect())
    }

    /// `ls -la` in the direct engine's format (the agent's own `ll` is
    /// busybox's, which differs in column widths and time format).
    pub(crate) fn ll(&mut self, dir: &str) -> Result<String> {
        crate::lsla::ll(self, dir)
    }

    pub(crate) fn case_sensitive_path(&mut self, p: &str) -> Result<String> {
        path::case_sensitive_path(p, |d| self.ls(d))
    }

    pub(crate) fn download(&mut self, p: &str, out: &mut dyn Write) -> Result<u64> {
        let mut counted = crate::Counted { inner: out, n: 0 };
        self.app
            .download(p, &mut counted)
            .map_err(|e| convert("download", e))?;
        Ok(counted.n)
    }

    pub(crate) fn pread(&mut self, p: &str, count: usize, offset: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < count {
            let want = (count - out.len()).min(PREAD_CHUNK);
            let at = offset
                .checked_add(out.len() as u64)
                .and_then(|o| i64::try_from(o).ok())
                .ok_or_else(|| Error::invalid(format!("pread: {p}: offset out of range")))?;
            // PREAD_CHUNK fits an i32.
            let want_i32 = i32::try_from(want).unwrap_or(i32::MAX);
            let v = self
                .app
                .pread(p, want_i32, at)
                .map_err(|e| convert("pread", e))?;
            let short = v.len() < want;
            out.extend_from_slice(&v);
            if short {
                break;
            }
        }
        Ok(out)
    }

    pub(crate) fn statvfs(&mut self, p: &str) -> Result<StatVfs> {
        let s = self.app.statvfs(p).map_err(|e| convert("statvfs", e))?;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(StatVfs {
            bsize: u(s.bsize),
            frsize: u(s.frsize),
            blocks: u(s.blocks),
            bfree: u(s.bfree),
            bavail: u(s.bavail),
            files: u(s.files),
            ffree: u(s.ffree),
            favail: u(s.favail),
            fsid: s.fsid as u64,
            flag: u(s.flag),
            namemax: u(s.namemax),
        })
    }

    pub(crate) fn exists(&mut self, p: &str) -> Result<bool> {
        self.app.exists(p).map_err(|e| convert("exists", e))
    }

    /// Whether `p`, following symlinks, is of type `t` (the Handle's
    /// `is_file`/`is_dir` follow links; the agent's do not).
    pub(crate) fn is_type(&mut self, p: &str, t: FileType) -> Result<bool> {
        match self.stat(p) {
            Ok(st) => Ok(st.file_type() == t),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) if e.message().ends_with("Not a directory") => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn upload(&mut self, remote: &str, data: &mut dyn Read) -> Result<()> {
        self.app
            .upload(remote, data)
            .map_err(|e| convert("upload", e))
    }
}

/// One mount the Handle was asked for, kept so that a switch from the direct
/// engine to the appliance can replay the mount table there.
#[derive(Debug, Clone)]
pub(crate) struct MountReq {
    pub options: Option<String>,
    pub vfstype: Option<String>,
    pub device: String,
    pub mountpoint: String,
}

fn parent_of(p: &str) -> String {
    match p.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => p[..i].to_string(),
    }
}

fn to_stat(s: &gx_appliance::StatNs) -> Stat {
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    let ts = |sec: i64, nsec: i64| Timespec { sec, nsec };
    Stat {
        dev: s.st_dev as u64,
        ino: u(s.st_ino),
        mode: u32::try_from(s.st_mode).unwrap_or(0),
        nlink: u(s.st_nlink),
        uid: u32::try_from(s.st_uid).unwrap_or(0),
        gid: u32::try_from(s.st_gid).unwrap_or(0),
        rdev: s.st_rdev as u64,
        size: u(s.st_size),
        blksize: u(s.st_blksize),
        blocks: u(s.st_blocks),
        atime: ts(s.st_atime_sec, s.st_atime_nsec),
        mtime: ts(s.st_mtime_sec, s.st_mtime_nsec),
        ctime: ts(s.st_ctime_sec, s.st_ctime_nsec),
    }
}

/// The kind a guest errno stands for.
pub(crate) fn errno_kind(errno: i32) -> ErrorKind {
    match errno {
        libc::ENOENT | libc::ENXIO | libc::ENODEV => ErrorKind::NotFound,
        libc::EACCES | libc::EPERM => ErrorKind::Permission,
        libc::EROFS => ErrorKind::ReadOnly,
        libc::ENOTSUP | libc::ENOSYS => ErrorKind::Unsupported,
        libc::EUCLEAN => ErrorKind::Corrupt,
        libc::EINVAL
        | libc::ENOTDIR
        | libc::EISDIR
        | libc::EEXIST
        | libc::ENOTEMPTY
        | libc::ELOOP
        | libc::ENAMETOOLONG
        | libc::EFBIG
        | libc::EBUSY => ErrorKind::InvalidArgument,
        _ => ErrorKind::Io,
    }
}

/// An appliance failure as the Handle's error: what (the call), why (the
/// guest's message, or why the VM is gone).
pub(crate) fn convert(call: &str, e: gx_appliance::Error) -> Error {
    use gx_appliance::Error as A;
    match e {
        A::Call { errno, message, .. } => {
            let msg = if message.starts_with(call) {
                message
            } else {
                format!("{call}: {message}")
            };
            Error::new(errno_kind(errno), msg)
        }
        // Our side of a stream failed (a closed pipe while downloading):
        // keep the io::Error as the source, so tools can see a broken pipe.
        A::Local { call, source } => Error::io(format!("{call}: local I/O"), source),
        A::Io(source) => Error::io(format!("{call}: appliance"), source),
        other => Error::new(ErrorKind::Io, format!("{call}: {other}")),
    }
}

impl crate::lsla::ListSource for ApplianceEngine {
    fn stat(&mut self, p: &str) -> Result<Stat> {
        ApplianceEngine::stat(self, p)
    }
    fn lstat(&mut self, p: &str) -> Result<Stat> {
        ApplianceEngine::lstat(self, p)
    }
    fn names(&mut self, dir: &str) -> Result<Vec<String>> {
        self.ls(dir)
    }
    fn lstat_list(&mut self, dir: &str, names: &[String]) -> Result<Vec<Stat>> {
        ApplianceEngine::lstat_list(self, dir, names)
    }
    fn readlink(&mut self, p: &str) -> Result<String> {
        ApplianceEngine::readlink(self, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_kinds() {
        assert_eq!(errno_kind(libc::ENOENT), ErrorKind::NotFound);
        assert_eq!(errno_kind(libc::EROFS), ErrorKind::ReadOnly);
        assert_eq!(errno_kind(libc::EACCES), ErrorKind::Permission);
        assert_eq!(errno_kind(libc::ENOTDIR), ErrorKind::InvalidArgument);
        assert_eq!(errno_kind(libc::EIO), ErrorKind::Io);
        let e = convert(
            "ls",
            gx_appliance::Error::Call {
                call: "ls",
                errno: libc::ENOENT,
                message: "ls: /nope: No such file or directory".into(),
            },
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.message(), "ls: /nope: No such file or directory");
    }

    #[test]
    fn parents() {
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(parent_of("/a/b/"), "/a");
    }
}

//! The Handle every guestx tool uses: drives, engine choice and the API,
//! with calls named as libguestfs names them.
//!
//! This crate owns policy: which drives are added and how (format, read-only),
//! the libguestfs device names (`/dev/sda`, `/dev/sda1`, ...), which filesystems
//! are listed, the mount table (a path map of several filesystems at their
//! mountpoints, not a host mount), guest path resolution (symlinks followed
//! across mountpoints, `..` handled, loops bounded) and the API calls themselves.
//!
//! Mechanism lives in the engines: today the direct engine ([`gx_disk`] for
//! images, partitions and probing, [`gx_fs`] for filesystems), which answers
//! read-only questions in our own process without a VM.
//!
//! It must not: write to an image added read-only, print anything (tools do
//! that), or panic on anything an image contains.
#![forbid(unsafe_code)]

mod checksum;
mod direct;
mod lsla;
pub mod path;

pub use direct::DeviceKind;
pub use gx_disk::{Error, ErrorKind, Result};
pub use gx_fs::{DirEntry, FileType, Stat, StatVfs, Timespec};

use std::io::Write;
use std::path::{Path, PathBuf};

/// Disk image formats a drive can be added with.
pub use gx_disk::Format;

/// Options of [`Handle::add_drive_opts`] (libguestfs's `add_drive_opts` optargs).
#[derive(Debug, Clone, Default)]
pub struct DriveOptions {
    /// The format; `None` autodetects (only safe for trusted images).
    pub format: Option<Format>,
    /// Open the image read-only: nothing can ever be written to it.
    pub readonly: bool,
}

/// A drive added to the handle.
#[derive(Debug, Clone)]
pub struct Drive {
    pub path: PathBuf,
    pub options: DriveOptions,
}

/// A libguestfs handle: add drives, `launch`, then call the API.
pub struct Handle {
    drives: Vec<Drive>,
    engine: Option<direct::Direct>,
    trace: bool,
    verbose: bool,
}

impl Default for Handle {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! trace {
    ($h:expr, $($arg:tt)*) => {
        if $h.trace {
            eprintln!("libguestfs: trace: {}", format!($($arg)*));
        }
    };
}

impl Handle {
    /// A new handle with no drives.
    pub fn new() -> Self {
        Handle {
            drives: Vec::new(),
            engine: None,
            trace: false,
            verbose: false,
        }
    }

    /// Print each API call to stderr (`-x`).
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    /// Print debug messages to stderr (`-v`).
    pub fn set_verbose(&mut self, on: bool) {
        self.verbose = on;
    }

    /// True when verbose messages are on.
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// Add a disk image. It is opened when the handle is launched.
    pub fn add_drive_opts(&mut self, path: impl AsRef<Path>, options: DriveOptions) -> Result<()> {
        let path = path.as_ref();
        trace!(self, "add_drive_opts \"{}\" {:?}", path.display(), options);
        if self.engine.is_some() {
            return Err(Error::invalid(
                "add_drive_opts: drives cannot be added after launch",
            ));
        }
        self.drives.push(Drive {
            path: path.to_path_buf(),
            options,
        });
        Ok(())
    }

    /// The drives added so far, in order.
    pub fn drives(&self) -> &[Drive] {
        &self.drives
    }

    /// Open every drive and read its partition table.
    pub fn launch(&mut self) -> Result<()> {
        trace!(self, "launch");
        if self.engine.is_some() {
            return Err(Error::invalid("launch: the handle is already launched"));
        }
        self.engine = Some(direct::Direct::open(&self.drives)?);
        Ok(())
    }

    /// Unmount everything and drop the engine.
    pub fn shutdown(&mut self) -> Result<()> {
        trace!(self, "shutdown");
        self.engine = None;
        Ok(())
    }

    fn engine(&self) -> Result<&direct::Direct> {
        self.engine
            .as_ref()
            .ok_or_else(|| Error::invalid("call launch before using this function"))
    }

    fn engine_mut(&mut self) -> Result<&mut direct::Direct> {
        self.engine
            .as_mut()
            .ok_or_else(|| Error::invalid("call launch before using this function"))
    }

    /// Whole block devices: `/dev/sda`, `/dev/sdb`, ...
    pub fn list_devices(&self) -> Result<Vec<String>> {
        trace!(self, "list_devices");
        Ok(self.engine()?.list_devices())
    }

    /// Partitions of every device, in device order (`/dev/sda1`, ... logical from 5).
    pub fn list_partitions(&self) -> Result<Vec<String>> {
        trace!(self, "list_partitions");
        Ok(self.engine()?.list_partitions())
    }

    /// Every filesystem-bearing device with its type, as libguestfs's
    /// `list_filesystems`: whole unpartitioned devices, then partitions that
    /// can hold a filesystem; `unknown` where nothing is recognised; volume
    /// members (LVM PVs, LUKS) left out.
    pub fn list_filesystems(&self) -> Result<Vec<(String, String)>> {
        trace!(self, "list_filesystems");
        self.engine()?.list_filesystems()
    }

    /// The filesystem type on a device (`""` when none is recognised).
    pub fn vfs_type(&self, device: &str) -> Result<String> {
        trace!(self, "vfs_type \"{device}\"");
        Ok(self.engine()?.probe(device)?.fs_type)
    }

    /// The filesystem label on a device (`""` when none).
    pub fn vfs_label(&self, device: &str) -> Result<String> {
        trace!(self, "vfs_label \"{device}\"");
        Ok(self.engine()?.probe(device)?.label)
    }

    /// The filesystem UUID on a device (`""` when none).
    pub fn vfs_uuid(&self, device: &str) -> Result<String> {
        trace!(self, "vfs_uuid \"{device}\"");
        Ok(self.engine()?.probe(device)?.uuid)
    }

    /// Size of a device or partition in bytes.
    pub fn blockdev_getsize64(&self, device: &str) -> Result<u64> {
        trace!(self, "blockdev_getsize64 \"{device}\"");
        Ok(self.engine()?.device(device)?.size())
    }

    /// What kind of device a name refers to, and where it sits.
    pub fn device_kind(&self, device: &str) -> Result<DeviceKind> {
        self.engine()?.device_kind(device)
    }

    /// The canonical libguestfs name of a device (`/dev/vda1` -> `/dev/sda1`).
    pub fn canonical_device_name(&self, device: &str) -> String {
        path::canonical_device_name(device)
    }

    /// Mount a filesystem read-only at `mountpoint` (which must exist, or be `/`).
    pub fn mount_ro(&mut self, device: &str, mountpoint: &str) -> Result<()> {
        trace!(self, "mount_ro \"{device}\" \"{mountpoint}\"");
        self.engine_mut()?.mount(device, mountpoint, None)
    }

    /// Mount with options. The direct engine is read-only: `rw` is refused.
    pub fn mount_options(&mut self, options: &str, device: &str, mountpoint: &str) -> Result<()> {
        trace!(self, "mount_options \"{options}\" \"{device}\" \"{mountpoint}\"");
        check_ro_options(options)?;
        self.engine_mut()?.mount(device, mountpoint, None)
    }

    /// Mount with options and an explicit filesystem type.
    pub fn mount_vfs(
        &mut self,
        options: &str,
        vfstype: &str,
        device: &str,
        mountpoint: &str,
    ) -> Result<()> {
        trace!(self, "mount_vfs \"{options}\" \"{vfstype}\" \"{device}\" \"{mountpoint}\"");
        check_ro_options(options)?;
        self.engine_mut()?.mount(device, mountpoint, Some(vfstype))
    }

    /// Unmount everything.
    pub fn umount_all(&mut self) -> Result<()> {
        trace!(self, "umount_all");
        self.engine_mut()?.umount_all();
        Ok(())
    }

    /// Current mounts as (device, mountpoint) pairs, in mount order.
    pub fn mountpoints(&self) -> Result<Vec<(String, String)>> {
        Ok(self.engine()?.mountpoints())
    }

    /// Names in a directory, sorted, without `.` and `..`.
    pub fn ls(&self, dir: &str) -> Result<Vec<String>> {
        trace!(self, "ls \"{dir}\"");
        let mut names: Vec<String> = self
            .engine()?
            .read_dir(dir)?
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Directory entries (name, inode, type), unsorted.
    pub fn readdir(&self, dir: &str) -> Result<Vec<DirEntry>> {
        trace!(self, "readdir \"{dir}\"");
        self.engine()?.read_dir(dir)
    }

    /// Every path below `dir`, relative to it, sorted (libguestfs's `find`).
    pub fn find(&self, dir: &str) -> Result<Vec<String>> {
        trace!(self, "find \"{dir}\"");
        let mut out = Vec::new();
        let mut visited = std::collections::HashSet::new();
        self.engine()?.find(dir, "", &mut out, &mut visited, 0)?;
        out.sort();
        Ok(out)
    }

    /// A long listing of a directory in the style of `ls -la` (libguestfs's `ll`).
    pub fn ll(&self, dir: &str) -> Result<String> {
        trace!(self, "ll \"{dir}\"");
        self.engine()?.ll(dir)
    }

    /// Stat a path without following a final symlink.
    pub fn lstatns(&self, path: &str) -> Result<Stat> {
        trace!(self, "lstatns \"{path}\"");
        self.engine()?.lstat(path)
    }

    /// Stat a path, following symlinks.
    pub fn statns(&self, path: &str) -> Result<Stat> {
        trace!(self, "statns \"{path}\"");
        self.engine()?.stat(path)
    }

    /// Stat each name in `dir` without following symlinks (libguestfs's `lstatnslist`).
    pub fn lstatnslist(&self, dir: &str, names: &[String]) -> Result<Vec<Stat>> {
        trace!(self, "lstatnslist \"{dir}\" ({} names)", names.len());
        self.engine()?.lstat_list(dir, names)
    }

    /// The target of a symlink.
    pub fn readlink(&self, path: &str) -> Result<String> {
        trace!(self, "readlink \"{path}\"");
        self.engine()?.readlink(path)
    }

    /// The canonical absolute path, with every symlink resolved.
    pub fn realpath(&self, path: &str) -> Result<String> {
        trace!(self, "realpath \"{path}\"");
        self.engine()?.realpath(path)
    }

    /// Find the real case of a path on a case-insensitive guest
    /// (libguestfs's `case_sensitive_path`).
    pub fn case_sensitive_path(&self, path: &str) -> Result<String> {
        trace!(self, "case_sensitive_path \"{path}\"");
        self.engine()?.case_sensitive_path(path)
    }

    /// The whole content of a file. For large files use [`Handle::download`].
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        trace!(self, "read_file \"{path}\"");
        let mut out = Vec::new();
        self.engine()?.download(path, &mut out)?;
        Ok(out)
    }

    /// A file's content as text (libguestfs's `cat`).
    pub fn cat(&self, path: &str) -> Result<String> {
        let data = self.read_file(path)?;
        Ok(String::from_utf8_lossy(&data).into_owned())
    }

    /// Stream a file into `out` in constant memory.
    pub fn download(&self, path: &str, out: &mut dyn Write) -> Result<u64> {
        trace!(self, "download \"{path}\"");
        self.engine()?.download(path, out)
    }

    /// Read `count` bytes at `offset` of a file (libguestfs's `pread`).
    pub fn pread(&self, path: &str, count: usize, offset: u64) -> Result<Vec<u8>> {
        trace!(self, "pread \"{path}\" {count} {offset}");
        self.engine()?.pread(path, count, offset)
    }

    /// Space and inode counts of the filesystem holding `path`.
    pub fn statvfs(&self, path: &str) -> Result<StatVfs> {
        trace!(self, "statvfs \"{path}\"");
        self.engine()?.statvfs(path)
    }

    /// A file's checksum in hex; `csumtype` is one of crc, md5, sha1,
    /// sha224, sha256, sha384, sha512.
    pub fn checksum(&self, csumtype: &str, path: &str) -> Result<String> {
        trace!(self, "checksum \"{csumtype}\" \"{path}\"");
        let mut hasher = checksum::Hasher::new(csumtype)?;
        self.engine()?.download(path, &mut hasher)?;
        Ok(hasher.finish())
    }

    /// True if `path` exists (following symlinks).
    pub fn exists(&self, path: &str) -> Result<bool> {
        trace!(self, "exists \"{path}\"");
        self.engine()?.exists(path)
    }

    /// True if `path` is a regular file (following symlinks).
    pub fn is_file(&self, path: &str) -> Result<bool> {
        trace!(self, "is_file \"{path}\"");
        self.engine()?.is_type(path, FileType::Regular)
    }

    /// True if `path` is a directory (following symlinks).
    pub fn is_dir(&self, path: &str) -> Result<bool> {
        trace!(self, "is_dir \"{path}\"");
        self.engine()?.is_type(path, FileType::Directory)
    }

    /// True if `path` is a symlink.
    pub fn is_symlink(&self, path: &str) -> Result<bool> {
        trace!(self, "is_symlink \"{path}\"");
        match self.engine()?.lstat(path) {
            Ok(st) => Ok(st.file_type() == FileType::Symlink),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The direct engine cannot write: refuse mount options asking for it.
fn check_ro_options(options: &str) -> Result<()> {
    if options.split(',').any(|o| o.trim() == "rw") {
        return Err(Error::new(
            ErrorKind::ReadOnly,
            "mount: the direct engine is read-only; option \"rw\" needs the appliance",
        ));
    }
    Ok(())
}

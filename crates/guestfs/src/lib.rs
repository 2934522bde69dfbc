//! The Handle every guestx tool uses: drives, engine choice and the API,
//! with calls named as libguestfs names them.
//!
//! This crate owns policy: which drives are added and how (format, read-only),
//! the libguestfs device names (`/dev/sda`, `/dev/sda1`, ...), which filesystems
//! are listed, the mount table (a path map of several filesystems at their
//! mountpoints, not a host mount), guest path resolution (symlinks followed
//! across mountpoints, `..` handled, loops bounded) and the API calls themselves.
//!
//! Mechanism lives in the engines: the direct engine ([`gx_disk`] for images,
//! partitions and probing, [`gx_fs`] for filesystems), which answers read-only
//! questions in our own process without a VM, and the appliance engine
//! ([`gx_appliance`]: a small VM whose agent does what needs a kernel, and
//! every write). [`Engine`] says which answers; in `Auto` the direct engine
//! does until it cannot, then the appliance takes over.
//!
//! It must not: write to an image added read-only, print anything (tools do
//! that), or panic on anything an image contains.
#![forbid(unsafe_code)]

mod appliance;
mod checksum;
mod direct;
pub mod inspect;
mod lsla;
pub mod path;
mod volumes;

pub use direct::DeviceKind;
pub use gx_appliance::Backend;
pub use gx_disk::{Error, ErrorKind, Result};
pub use gx_fs::{DirEntry, FileType, Stat, StatVfs, Timespec};
pub use volumes::{LvmLv, LvmPv, LvmVg, dm_name};

use std::cell::{Cell, RefCell};
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

/// Which engine answers a handle's calls.
///
/// - `Direct`: the images are parsed in this process; read-only, no VM.
/// - `Appliance`: everything goes to the appliance VM, launched by `launch`.
/// - `Auto`: the direct engine answers while it can. The first call it
///   cannot do (a filesystem it does not parse, an external ext4 journal, a
///   compressed NTFS file: `Unsupported`; or any write) launches the
///   appliance, once, replays the mount table there, and from then on the
///   appliance answers every call. Moving everything at once keeps the mount
///   table coherent (a path never crosses from one engine to the other) and
///   a write is never hidden from a later read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    #[default]
    Direct,
    Appliance,
    Auto,
}

impl Engine {
    /// The name `--engine` takes.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Direct => "direct",
            Engine::Appliance => "appliance",
            Engine::Auto => "auto",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = Error;

    fn from_str(s: &str) -> Result<Engine> {
        match s {
            "direct" => Ok(Engine::Direct),
            "appliance" => Ok(Engine::Appliance),
            "auto" => Ok(Engine::Auto),
            other => Err(Error::invalid(format!(
                "unknown engine '{other}' (expecting direct, appliance or auto)"
            ))),
        }
    }
}

/// A libguestfs handle: add drives, `launch`, then call the API.
pub struct Handle {
    drives: Vec<Drive>,
    /// The direct engine. Open in `Direct` and `Auto` (and, when the images
    /// parse, in `Appliance` too, for device-level reads such as `device_kind`).
    engine: Option<direct::Direct>,
    trace: bool,
    verbose: bool,
    /// Results of the last `inspect_os`.
    inspection: inspect::State,
    mode: Engine,
    backend: Option<Backend>,
    launched: bool,
    /// The appliance, once launched: by `launch` in `Appliance` mode, at the
    /// first need in `Auto`. Interior mutability because read calls take
    /// `&self` while the appliance client needs `&mut`.
    appliance: RefCell<Option<appliance::ApplianceEngine>>,
    /// Why a launch of the appliance failed: it is tried once per launch.
    appliance_failed: RefCell<Option<String>>,
    /// True when the mount table and every call live in the appliance.
    on_appliance: Cell<bool>,
    /// Mounts asked for since the last `umount_all`, replayed in the
    /// appliance when `Auto` moves there.
    mounts: Vec<appliance::MountReq>,
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
    /// A new handle with no drives, on the direct engine (see [`Engine`]).
    pub fn new() -> Self {
        Handle {
            drives: Vec::new(),
            engine: None,
            trace: false,
            verbose: false,
            inspection: inspect::State::default(),
            mode: Engine::Direct,
            backend: None,
            launched: false,
            appliance: RefCell::new(None),
            appliance_failed: RefCell::new(None),
            on_appliance: Cell::new(false),
            mounts: Vec::new(),
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

    /// Choose the engine (before `launch`).
    pub fn set_engine(&mut self, engine: Engine) -> Result<()> {
        if self.launched {
            return Err(Error::invalid(
                "set_engine: the engine cannot be changed after launch",
            ));
        }
        self.mode = engine;
        Ok(())
    }

    /// The engine chosen with [`Handle::set_engine`].
    pub fn get_engine(&self) -> Engine {
        self.mode
    }

    /// Choose the appliance's launcher; `None` picks one for this host
    /// (`GX_BACKEND`, else our VMM on hardware KVM, else QEMU).
    pub fn set_backend(&mut self, backend: Option<Backend>) {
        self.backend = backend;
    }

    /// Which engine answers calls now: `Direct` or `Appliance` (`None`
    /// before launch). In `Auto` this turns to `Appliance` after a fallback.
    pub fn active_engine(&self) -> Option<Engine> {
        if !self.launched {
            None
        } else if self.on_appliance.get() {
            Some(Engine::Appliance)
        } else {
            Some(Engine::Direct)
        }
    }

    /// The launcher of the running appliance, if one runs.
    pub fn appliance_backend(&self) -> Option<Backend> {
        self.appliance
            .try_borrow()
            .ok()
            .and_then(|a| a.as_ref().map(|a| a.backend()))
    }

    /// Add a disk image. It is opened when the handle is launched.
    pub fn add_drive_opts(&mut self, path: impl AsRef<Path>, options: DriveOptions) -> Result<()> {
        let path = path.as_ref();
        trace!(self, "add_drive_opts \"{}\" {:?}", path.display(), options);
        if self.launched {
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

    /// Open every drive and read its partition table (direct engine), or
    /// boot the appliance (`Appliance` mode).
    pub fn launch(&mut self) -> Result<()> {
        trace!(self, "launch");
        if self.launched {
            return Err(Error::invalid("launch: the handle is already launched"));
        }
        *self.appliance_failed.get_mut() = None;
        match self.mode {
            Engine::Direct => self.engine = Some(direct::Direct::open(&self.drives)?),
            Engine::Auto => match direct::Direct::open(&self.drives) {
                Ok(d) => self.engine = Some(d),
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    self.ensure_appliance(Some(&e))?;
                    self.on_appliance.set(true);
                }
                Err(e) => return Err(e),
            },
            Engine::Appliance => {
                // Device-level reads (device_kind, inspection's partition
                // queries) use it when the images parse; nothing else does.
                self.engine = direct::Direct::open(&self.drives).ok();
                self.ensure_appliance(None)?;
                self.on_appliance.set(true);
            }
        }
        self.launched = true;
        Ok(())
    }

    /// Unmount everything, power the appliance off (if it runs) and drop the
    /// engines. The handle can be launched again.
    pub fn shutdown(&mut self) -> Result<()> {
        trace!(self, "shutdown");
        self.engine = None;
        self.mounts.clear();
        self.launched = false;
        self.on_appliance.set(false);
        match self.appliance.get_mut().take() {
            Some(a) => a.shutdown(),
            None => Ok(()),
        }
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

    fn check_launched(&self) -> Result<()> {
        if self.launched {
            Ok(())
        } else {
            Err(Error::invalid("call launch before using this function"))
        }
    }

    /// Launch the appliance unless it runs; tried once per `launch`. `why`
    /// is the direct engine's refusal that made us need it, kept in the error.
    fn ensure_appliance(&self, why: Option<&Error>) -> Result<()> {
        let fail = |msg: String| match why {
            Some(w) => Error::new(
                w.kind(),
                format!("{w}; the appliance, which could do this, did not start: {msg}"),
            ),
            None => Error::new(ErrorKind::Io, msg),
        };
        if self.appliance.try_borrow().map_err(|_| busy())?.is_some() {
            return Ok(());
        }
        if let Some(msg) = self.appliance_failed.borrow().as_ref() {
            return Err(fail(msg.clone()));
        }
        if self.verbose {
            match why {
                Some(w) => eprintln!("libguestfs: launching the appliance: {w}"),
                None => eprintln!("libguestfs: launching the appliance"),
            }
        }
        let opts = appliance::LaunchOptions {
            backend: self.backend,
            verbose: self.verbose,
        };
        match appliance::ApplianceEngine::launch(&self.drives, &opts) {
            Ok(a) => {
                *self.appliance.try_borrow_mut().map_err(|_| busy())? = Some(a);
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                *self.appliance_failed.borrow_mut() = Some(msg.clone());
                Err(fail(msg))
            }
        }
    }

    /// `Auto` only: move to the appliance (launching it) and replay the
    /// mount table there; the direct engine's mounts are dropped.
    fn switch_to_appliance(&self, why: &Error) -> Result<()> {
        self.ensure_appliance(Some(why))?;
        self.with_appliance(|a| {
            a.umount_all()?;
            for m in &self.mounts {
                a.mount(m)
                    .map_err(|e| e.context("moving the mounts to the appliance"))?;
            }
            Ok(())
        })?;
        self.on_appliance.set(true);
        Ok(())
    }

    fn with_appliance<T>(
        &self,
        f: impl FnOnce(&mut appliance::ApplianceEngine) -> Result<T>,
    ) -> Result<T> {
        let mut g = self.appliance.try_borrow_mut().map_err(|_| busy())?;
        let a = g
            .as_mut()
            .ok_or_else(|| Error::invalid("the appliance is not running"))?;
        f(a)
    }

    /// Run a read-only call on the engine that answers now; in `Auto`, a
    /// direct `Unsupported` moves to the appliance and the call is retried.
    fn call<T>(
        &self,
        direct: impl FnOnce(&direct::Direct) -> Result<T>,
        app: impl FnOnce(&mut appliance::ApplianceEngine) -> Result<T>,
    ) -> Result<T> {
        self.check_launched()?;
        if !self.on_appliance.get() {
            match direct(self.engine()?) {
                Err(e) if self.mode == Engine::Auto && e.kind() == ErrorKind::Unsupported => {
                    self.switch_to_appliance(&e)?;
                }
                r => return r,
            }
        }
        self.with_appliance(app)
    }

    /// [`Handle::call`] for calls that stream into `out`. The retry on the
    /// appliance happens only if the direct engine wrote nothing yet.
    fn call_out<T>(
        &self,
        out: &mut dyn Write,
        direct: impl FnOnce(&direct::Direct, &mut dyn Write) -> Result<T>,
        app: impl FnOnce(&mut appliance::ApplianceEngine, &mut dyn Write) -> Result<T>,
    ) -> Result<T> {
        self.check_launched()?;
        if !self.on_appliance.get() {
            let mut counted = Counted { inner: out, n: 0 };
            match direct(self.engine()?, &mut counted) {
                Err(e)
                    if self.mode == Engine::Auto
                        && e.kind() == ErrorKind::Unsupported
                        && counted.n == 0 =>
                {
                    self.switch_to_appliance(&e)?;
                }
                r => return r,
            }
        }
        self.with_appliance(|a| app(a, out))
    }

    /// A call that writes: the appliance only.
    fn write_call<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut appliance::ApplianceEngine) -> Result<T>,
    ) -> Result<T> {
        self.check_launched()?;
        if !self.on_appliance.get() {
            let e = Error::new(
                ErrorKind::ReadOnly,
                format!(
                    "{name}: the direct engine is read-only; writing needs the appliance \
                     (--engine appliance or auto)"
                ),
            );
            if self.mode != Engine::Auto {
                return Err(e);
            }
            self.switch_to_appliance(&e)?;
        }
        self.with_appliance(f)
    }

    /// Whole block devices: `/dev/sda`, `/dev/sdb`, ...
    pub fn list_devices(&self) -> Result<Vec<String>> {
        trace!(self, "list_devices");
        self.call(|d| Ok(d.list_devices()), |a| a.list_devices())
    }

    /// Partitions of every device, in device order (`/dev/sda1`, ... logical from 5).
    pub fn list_partitions(&self) -> Result<Vec<String>> {
        trace!(self, "list_partitions");
        self.call(|d| Ok(d.list_partitions()), |a| a.list_partitions())
    }

    /// Every filesystem-bearing device with its type, as libguestfs's
    /// `list_filesystems`: whole unpartitioned devices, then partitions that
    /// can hold a filesystem; `unknown` where nothing is recognised; volume
    /// members (LVM PVs, LUKS) left out.
    pub fn list_filesystems(&self) -> Result<Vec<(String, String)>> {
        trace!(self, "list_filesystems");
        self.call(|d| d.list_filesystems(), |a| a.list_filesystems())
    }

    /// The filesystem type on a device (`""` when none is recognised).
    pub fn vfs_type(&self, device: &str) -> Result<String> {
        trace!(self, "vfs_type \"{device}\"");
        self.call(|d| Ok(d.probe(device)?.fs_type), |a| a.vfs_type(device))
    }

    /// The filesystem label on a device (`""` when none).
    pub fn vfs_label(&self, device: &str) -> Result<String> {
        trace!(self, "vfs_label \"{device}\"");
        self.call(|d| Ok(d.probe(device)?.label), |a| a.vfs_label(device))
    }

    /// The filesystem UUID on a device (`""` when none).
    pub fn vfs_uuid(&self, device: &str) -> Result<String> {
        trace!(self, "vfs_uuid \"{device}\"");
        self.call(|d| Ok(d.probe(device)?.uuid), |a| a.vfs_uuid(device))
    }

    /// Size of a device or partition in bytes.
    pub fn blockdev_getsize64(&self, device: &str) -> Result<u64> {
        trace!(self, "blockdev_getsize64 \"{device}\"");
        self.call(
            |d| Ok(d.device(device)?.size()),
            |a| a.blockdev_getsize64(device),
        )
    }

    /// What kind of device a name refers to, and where it sits (read from
    /// the partition tables by the direct engine, whichever engine answers).
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
        self.do_mount(appliance::MountReq {
            options: None,
            vfstype: None,
            device: device.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    /// Mount read-write (libguestfs's `mount`): the appliance only.
    pub fn mount(&mut self, device: &str, mountpoint: &str) -> Result<()> {
        trace!(self, "mount \"{device}\" \"{mountpoint}\"");
        self.do_mount(appliance::MountReq {
            options: Some("rw".to_string()),
            vfstype: None,
            device: device.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    /// Mount with options. The direct engine is read-only: `rw` is refused
    /// there (and moves `Auto` to the appliance).
    pub fn mount_options(&mut self, options: &str, device: &str, mountpoint: &str) -> Result<()> {
        trace!(
            self,
            "mount_options \"{options}\" \"{device}\" \"{mountpoint}\""
        );
        self.do_mount(appliance::MountReq {
            options: Some(options.to_string()),
            vfstype: None,
            device: device.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    /// Mount with options and an explicit filesystem type.
    pub fn mount_vfs(
        &mut self,
        options: &str,
        vfstype: &str,
        device: &str,
        mountpoint: &str,
    ) -> Result<()> {
        trace!(
            self,
            "mount_vfs \"{options}\" \"{vfstype}\" \"{device}\" \"{mountpoint}\""
        );
        self.do_mount(appliance::MountReq {
            options: Some(options.to_string()),
            vfstype: Some(vfstype.to_string()),
            device: device.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    fn do_mount(&mut self, req: appliance::MountReq) -> Result<()> {
        self.check_launched()?;
        if !self.on_appliance.get() {
            let r = match check_ro_options(req.options.as_deref().unwrap_or("")) {
                Ok(()) => {
                    self.engine_mut()?
                        .mount(&req.device, &req.mountpoint, req.vfstype.as_deref())
                }
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => {
                    self.mounts.push(req);
                    return Ok(());
                }
                Err(e)
                    if self.mode == Engine::Auto
                        && matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::ReadOnly) =>
                {
                    self.switch_to_appliance(&e)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.with_appliance(|a| a.mount(&req))?;
        self.mounts.push(req);
        Ok(())
    }

    /// Unmount everything.
    pub fn umount_all(&mut self) -> Result<()> {
        trace!(self, "umount_all");
        self.check_launched()?;
        self.mounts.clear();
        if self.on_appliance.get() {
            self.with_appliance(|a| a.umount_all())
        } else {
            self.engine_mut()?.umount_all();
            Ok(())
        }
    }

    /// Current mounts as (device, mountpoint) pairs, in mount order.
    pub fn mountpoints(&self) -> Result<Vec<(String, String)>> {
        self.call(|d| Ok(d.mountpoints()), |a| a.mountpoints())
    }

    /// Names in a directory, sorted, without `.` and `..`.
    pub fn ls(&self, dir: &str) -> Result<Vec<String>> {
        trace!(self, "ls \"{dir}\"");
        let mut names = self.call(
            |d| Ok(d.read_dir(dir)?.into_iter().map(|e| e.name).collect()),
            |a| a.ls(dir),
        )?;
        names.sort();
        Ok(names)
    }

    /// Directory entries (name, inode, type), unsorted.
    pub fn readdir(&self, dir: &str) -> Result<Vec<DirEntry>> {
        trace!(self, "readdir \"{dir}\"");
        self.call(|d| d.read_dir(dir), |a| a.read_dir(dir))
    }

    /// Every path below `dir`, relative to it with a leading `/`, sorted
    /// (libguestfs's `find`).
    pub fn find(&self, dir: &str) -> Result<Vec<String>> {
        trace!(self, "find \"{dir}\"");
        let mut out = self.call(
            |d| {
                let mut out = Vec::new();
                let mut visited = std::collections::HashSet::new();
                d.find(dir, "", &mut out, &mut visited, 0)?;
                Ok(out)
            },
            |a| a.find(dir),
        )?;
        out.sort();
        Ok(out)
    }

    /// A long listing of a directory in the style of `ls -la` (libguestfs's `ll`).
    pub fn ll(&self, dir: &str) -> Result<String> {
        trace!(self, "ll \"{dir}\"");
        self.call(|d| d.ll(dir), |a| a.ll(dir))
    }

    /// Stat a path without following a final symlink.
    pub fn lstatns(&self, path: &str) -> Result<Stat> {
        trace!(self, "lstatns \"{path}\"");
        self.call(|d| d.lstat(path), |a| a.lstat(path))
    }

    /// Stat a path, following symlinks.
    pub fn statns(&self, path: &str) -> Result<Stat> {
        trace!(self, "statns \"{path}\"");
        self.call(|d| d.stat(path), |a| a.stat(path))
    }

    /// Stat each name in `dir` without following symlinks (libguestfs's `lstatnslist`).
    pub fn lstatnslist(&self, dir: &str, names: &[String]) -> Result<Vec<Stat>> {
        trace!(self, "lstatnslist \"{dir}\" ({} names)", names.len());
        self.call(|d| d.lstat_list(dir, names), |a| a.lstat_list(dir, names))
    }

    /// The target of a symlink.
    pub fn readlink(&self, path: &str) -> Result<String> {
        trace!(self, "readlink \"{path}\"");
        self.call(|d| d.readlink(path), |a| a.readlink(path))
    }

    /// The canonical absolute path, with every symlink resolved.
    pub fn realpath(&self, path: &str) -> Result<String> {
        trace!(self, "realpath \"{path}\"");
        self.call(|d| d.realpath(path), |a| a.realpath(path))
    }

    /// Find the real case of a path on a case-insensitive guest
    /// (libguestfs's `case_sensitive_path`).
    pub fn case_sensitive_path(&self, path: &str) -> Result<String> {
        trace!(self, "case_sensitive_path \"{path}\"");
        self.call(
            |d| d.case_sensitive_path(path),
            |a| a.case_sensitive_path(path),
        )
    }

    /// The whole content of a file. For large files use [`Handle::download`].
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        trace!(self, "read_file \"{path}\"");
        let mut out = Vec::new();
        self.call_out(
            &mut out,
            |d, o| d.download(path, o),
            |a, o| a.download(path, o),
        )?;
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
        self.call_out(out, |d, o| d.download(path, o), |a, o| a.download(path, o))
    }

    /// Read `count` bytes at `offset` of a file (libguestfs's `pread`).
    pub fn pread(&self, path: &str, count: usize, offset: u64) -> Result<Vec<u8>> {
        trace!(self, "pread \"{path}\" {count} {offset}");
        self.call(
            |d| d.pread(path, count, offset),
            |a| a.pread(path, count, offset),
        )
    }

    /// Space and inode counts of the filesystem holding `path`.
    pub fn statvfs(&self, path: &str) -> Result<StatVfs> {
        trace!(self, "statvfs \"{path}\"");
        self.call(|d| d.statvfs(path), |a| a.statvfs(path))
    }

    /// A file's checksum in hex; `csumtype` is one of crc, md5, sha1,
    /// sha224, sha256, sha384, sha512.
    pub fn checksum(&self, csumtype: &str, path: &str) -> Result<String> {
        trace!(self, "checksum \"{csumtype}\" \"{path}\"");
        let mut hasher = checksum::Hasher::new(csumtype)?;
        self.call_out(
            &mut hasher,
            |d, o| d.download(path, o),
            |a, o| a.download(path, o),
        )?;
        Ok(hasher.finish())
    }

    /// True if `path` exists (following symlinks).
    pub fn exists(&self, path: &str) -> Result<bool> {
        trace!(self, "exists \"{path}\"");
        self.call(|d| d.exists(path), |a| a.exists(path))
    }

    /// True if `path` is a regular file (following symlinks).
    pub fn is_file(&self, path: &str) -> Result<bool> {
        trace!(self, "is_file \"{path}\"");
        self.call(
            |d| d.is_type(path, FileType::Regular),
            |a| a.is_type(path, FileType::Regular),
        )
    }

    /// True if `path` is a directory (following symlinks).
    pub fn is_dir(&self, path: &str) -> Result<bool> {
        trace!(self, "is_dir \"{path}\"");
        self.call(
            |d| d.is_type(path, FileType::Directory),
            |a| a.is_type(path, FileType::Directory),
        )
    }

    /// True if `path` is a symlink.
    pub fn is_symlink(&self, path: &str) -> Result<bool> {
        trace!(self, "is_symlink \"{path}\"");
        match self.lstatns(path) {
            Ok(st) => Ok(st.file_type() == FileType::Symlink),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    // Writes. The direct engine never writes: these go to the appliance
    // (and move `Auto` there); read-only drives take them in the appliance's
    // throw-away overlay.

    /// Create or replace a file with `content`.
    pub fn write(&mut self, path: &str, content: &[u8]) -> Result<()> {
        trace!(self, "write \"{path}\" ({} bytes)", content.len());
        self.write_call("write", |a| {
            a.app()
                .write(path, content)
                .map_err(|e| appliance::convert("write", e))
        })
    }

    /// Append `content` to a file.
    pub fn write_append(&mut self, path: &str, content: &[u8]) -> Result<()> {
        trace!(self, "write_append \"{path}\" ({} bytes)", content.len());
        self.write_call("write_append", |a| {
            a.app()
                .write_append(path, content)
                .map_err(|e| appliance::convert("write_append", e))
        })
    }

    /// Stream `data` into a file (created or truncated), in constant memory.
    pub fn upload(&mut self, data: &mut dyn std::io::Read, path: &str) -> Result<()> {
        trace!(self, "upload \"{path}\"");
        self.write_call("upload", |a| a.upload(path, data))
    }

    /// Create a directory.
    pub fn mkdir(&mut self, path: &str) -> Result<()> {
        trace!(self, "mkdir \"{path}\"");
        self.write_call("mkdir", |a| {
            a.app()
                .mkdir(path)
                .map_err(|e| appliance::convert("mkdir", e))
        })
    }

    /// Create a directory and its parents; no error if it exists.
    pub fn mkdir_p(&mut self, path: &str) -> Result<()> {
        trace!(self, "mkdir_p \"{path}\"");
        self.write_call("mkdir_p", |a| {
            a.app()
                .mkdir_p(path)
                .map_err(|e| appliance::convert("mkdir_p", e))
        })
    }

    /// Remove a file.
    pub fn rm(&mut self, path: &str) -> Result<()> {
        trace!(self, "rm \"{path}\"");
        self.write_call("rm", |a| {
            a.app().rm(path).map_err(|e| appliance::convert("rm", e))
        })
    }

    /// Remove a file or a directory tree; no error if it is missing.
    pub fn rm_rf(&mut self, path: &str) -> Result<()> {
        trace!(self, "rm_rf \"{path}\"");
        self.write_call("rm_rf", |a| {
            a.app()
                .rm_rf(path)
                .map_err(|e| appliance::convert("rm_rf", e))
        })
    }

    /// Create an empty file or update its times.
    pub fn touch(&mut self, path: &str) -> Result<()> {
        trace!(self, "touch \"{path}\"");
        self.write_call("touch", |a| {
            a.app()
                .touch(path)
                .map_err(|e| appliance::convert("touch", e))
        })
    }

    /// Create a symbolic link `linkname` pointing at `target`.
    pub fn ln_s(&mut self, target: &str, linkname: &str) -> Result<()> {
        trace!(self, "ln_s \"{target}\" \"{linkname}\"");
        self.write_call("ln_s", |a| {
            a.app()
                .ln_s(target, linkname)
                .map_err(|e| appliance::convert("ln_s", e))
        })
    }

    /// Change permissions.
    pub fn chmod(&mut self, mode: u32, path: &str) -> Result<()> {
        trace!(self, "chmod {mode:#o} \"{path}\"");
        let mode = i32::try_from(mode)
            .map_err(|_| Error::invalid(format!("chmod: {path}: mode {mode:#o} out of range")))?;
        self.write_call("chmod", |a| {
            a.app()
                .chmod(mode, path)
                .map_err(|e| appliance::convert("chmod", e))
        })
    }

    /// Flush everything written to the disks.
    pub fn sync(&mut self) -> Result<()> {
        trace!(self, "sync");
        self.write_call("sync", |a| {
            a.app().sync().map_err(|e| appliance::convert("sync", e))
        })
    }

    // ===================================================================
    // LVM and LUKS (issue 11). Thin wrappers over the direct engine
    // (crates/guestfs/src/direct.rs, volumes.rs), kept together so they can
    // move into the API table. Where the appliance answers, `lvs`/`vgs`/`pvs`
    // go to its agent; the other calls need agent work (see the report) and
    // say so.
    // ===================================================================

    /// LVs as `/dev/VG/LV`, sorted (libguestfs's `lvs`: public LVs only).
    pub fn lvs(&self) -> Result<Vec<String>> {
        trace!(self, "lvs");
        self.call(
            |d| Ok(d.lv_names()),
            |a| a.app().lvs().map_err(|e| appliance::convert("lvs", e)),
        )
    }

    /// Volume group names, sorted.
    pub fn vgs(&self) -> Result<Vec<String>> {
        trace!(self, "vgs");
        self.call(
            |d| Ok(volumes::vgs(d.lvm())),
            |a| a.app().vgs().map_err(|e| appliance::convert("vgs", e)),
        )
    }

    /// Physical volume devices, sorted.
    pub fn pvs(&self) -> Result<Vec<String>> {
        trace!(self, "pvs");
        self.call(
            |d| Ok(volumes::pvs(d.lvm())),
            |a| a.app().pvs().map_err(|e| appliance::convert("pvs", e)),
        )
    }

    /// libguestfs's `pvs_full`.
    pub fn pvs_full(&self) -> Result<Vec<LvmPv>> {
        trace!(self, "pvs_full");
        self.call(
            |d| Ok(volumes::pvs_full(d.lvm())),
            |_| Err(no_agent("pvs_full")),
        )
    }

    /// libguestfs's `vgs_full`.
    pub fn vgs_full(&self) -> Result<Vec<LvmVg>> {
        trace!(self, "vgs_full");
        self.call(
            |d| Ok(volumes::vgs_full(d.lvm())),
            |_| Err(no_agent("vgs_full")),
        )
    }

    /// libguestfs's `lvs_full`.
    pub fn lvs_full(&self) -> Result<Vec<LvmLv>> {
        trace!(self, "lvs_full");
        self.call(
            |d| Ok(volumes::lvs_full(d.lvm())),
            |_| Err(no_agent("lvs_full")),
        )
    }

    /// The UUID of an LV, as lvm2 prints it (`lvuuid`).
    pub fn lvuuid(&self, device: &str) -> Result<String> {
        trace!(self, "lvuuid \"{device}\"");
        self.call(|d| volumes::lvuuid(d, device), |_| Err(no_agent("lvuuid")))
    }

    /// The UUID of a VG, as lvm2 prints it (`vguuid`).
    pub fn vguuid(&self, vgname: &str) -> Result<String> {
        trace!(self, "vguuid \"{vgname}\"");
        self.call(|d| volumes::vguuid(d, vgname), |_| Err(no_agent("vguuid")))
    }

    /// The UUID of a PV, as lvm2 prints it (`pvuuid`).
    pub fn pvuuid(&self, device: &str) -> Result<String> {
        trace!(self, "pvuuid \"{device}\"");
        self.call(|d| volumes::pvuuid(d, device), |_| Err(no_agent("pvuuid")))
    }

    /// The UUIDs of a VG's PVs, in metadata order (`vgpvuuids`).
    pub fn vgpvuuids(&self, vgname: &str) -> Result<Vec<String>> {
        trace!(self, "vgpvuuids \"{vgname}\"");
        self.call(
            |d| volumes::vgpvuuids(d, vgname),
            |_| Err(no_agent("vgpvuuids")),
        )
    }

    /// The UUIDs of a VG's LVs, in metadata order (`vglvuuids`).
    pub fn vglvuuids(&self, vgname: &str) -> Result<Vec<String>> {
        trace!(self, "vglvuuids \"{vgname}\"");
        self.call(
            |d| volumes::vglvuuids(d, vgname),
            |_| Err(no_agent("vglvuuids")),
        )
    }

    /// `/dev/VG/LV` for an LV named `/dev/mapper/VG-LV` or `/dev/VG/LV`;
    /// an `InvalidArgument` error for anything else (`lvm_canonical_lv_name`).
    pub fn lvm_canonical_lv_name(&self, device: &str) -> Result<String> {
        trace!(self, "lvm_canonical_lv_name \"{device}\"");
        self.call(
            |d| {
                d.lv_canonical(device)
                    .ok_or_else(|| Error::invalid(format!("{device}: not a logical volume")))
            },
            |_| Err(no_agent("lvm_canonical_lv_name")),
        )
    }

    /// True when `device` is an LV (`is_lv`).
    pub fn is_lv(&self, device: &str) -> Result<bool> {
        trace!(self, "is_lv \"{device}\"");
        self.call(
            |d| Ok(d.lv_canonical(device).is_some()),
            |_| Err(no_agent("is_lv")),
        )
    }

    /// Device-mapper devices that are not LVs: unlocked encrypted devices
    /// (`list_dm_devices`), sorted.
    pub fn list_dm_devices(&self) -> Result<Vec<String>> {
        trace!(self, "list_dm_devices");
        self.call(
            |d| {
                let mut v: Vec<String> = d.mapped().iter().map(|m| m.name.clone()).collect();
                v.sort();
                Ok(v)
            },
            |_| Err(no_agent("list_dm_devices")),
        )
    }

    /// Scan for PVs, VGs and LVs again (`lvm_scan`); the direct engine
    /// treats every VG as active, so `activate` changes nothing here.
    pub fn lvm_scan(&mut self, activate: bool) -> Result<()> {
        trace!(self, "lvm_scan {activate}");
        self.check_launched()?;
        if self.on_appliance.get() {
            return self.with_appliance(|a| {
                a.app()
                    .vg_activate_all(activate)
                    .map_err(|e| appliance::convert("lvm_scan", e))
            });
        }
        self.engine_mut()?.rescan_lvm()
    }

    /// `vgscan`: the same rescan.
    pub fn vgscan(&mut self) -> Result<()> {
        self.lvm_scan(false)
    }

    /// Unlock an encrypted device as `/dev/mapper/MAPNAME`
    /// (`cryptsetup_open`). `key` is a passphrase, or `base64:...` for
    /// binary key data, or `text:...` (libguestfs ≥ 1.60's prefixes).
    /// `crypttype` may be `luks`; `cipher` is ignored for LUKS, whose header
    /// names it. LVM is scanned again afterwards, so VGs inside appear.
    pub fn cryptsetup_open(
        &mut self,
        device: &str,
        key: &str,
        mapname: &str,
        crypttype: Option<&str>,
        cipher: Option<&str>,
    ) -> Result<()> {
        // Never trace the key.
        trace!(self, "cryptsetup_open \"{device}\" \"***\" \"{mapname}\"");
        let _ = cipher;
        self.check_launched()?;
        if self.on_appliance.get() {
            return Err(no_agent("cryptsetup_open"));
        }
        let key = volumes::decode_key(key)?;
        self.engine_mut()?
            .cryptsetup_open(device, &key, mapname, crypttype)
    }

    /// `luks_open`: [`Handle::cryptsetup_open`] for LUKS.
    pub fn luks_open(&mut self, device: &str, key: &str, mapname: &str) -> Result<()> {
        self.cryptsetup_open(device, key, mapname, Some("luks"), None)
    }

    /// `luks_open_ro`: the direct engine is read-only anyway.
    pub fn luks_open_ro(&mut self, device: &str, key: &str, mapname: &str) -> Result<()> {
        self.luks_open(device, key, mapname)
    }

    /// Close a device made by `cryptsetup_open` (`cryptsetup_close`).
    pub fn cryptsetup_close(&mut self, device: &str) -> Result<()> {
        trace!(self, "cryptsetup_close \"{device}\"");
        self.check_launched()?;
        if self.on_appliance.get() {
            return Err(no_agent("cryptsetup_close"));
        }
        self.engine_mut()?.cryptsetup_close(device)
    }

    /// `luks_close`.
    pub fn luks_close(&mut self, device: &str) -> Result<()> {
        self.cryptsetup_close(device)
    }

    /// The UUID of a LUKS device (`luks_uuid`).
    pub fn luks_uuid(&self, device: &str) -> Result<String> {
        trace!(self, "luks_uuid \"{device}\"");
        self.call(|d| d.luks_uuid(device), |_| Err(no_agent("luks_uuid")))
    }
}

/// A call the appliance's agent does not offer yet.
fn no_agent(call: &str) -> Error {
    Error::unsupported(format!(
        "{call}: not available on the appliance engine yet (the direct engine answers it)"
    ))
}

fn busy() -> Error {
    Error::invalid("the handle is busy with another call (called from inside a download?)")
}

/// Counts what a stream wrote: a failed direct-engine stream is retried on
/// the appliance only when nothing reached the caller yet, and the
/// appliance's `download` returns the size.
pub(crate) struct Counted<'a> {
    pub(crate) inner: &'a mut dyn Write,
    pub(crate) n: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The direct engine cannot write: refuse mount options asking for it.
fn check_ro_options(options: &str) -> Result<()> {
    if options.split(',').any(|o| o.trim() == "rw") {
        return Err(Error::new(
            ErrorKind::ReadOnly,
            "mount: the direct engine is read-only; option \"rw\" needs the appliance \
             (--engine appliance or auto)",
        ));
    }
    Ok(())
}

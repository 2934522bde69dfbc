//! The Handle every guestx tool uses: drives, engine choice and the API,
//! with calls named and typed as libguestfs names and types them.
//!
//! The API is gx-api's table: most methods are generated from it
//! (`generated.rs`: engine dispatch and the `auto` fallback in one place);
//! the rest are written by hand in [`calls`] because they are policy
//! (drives, mounts, configuration), inspection ([`inspect`]), or composed
//! from other calls so they behave the same on either engine.
//!
//! This crate owns policy: which drives are added and how (format,
//! read-only), the libguestfs device names (`/dev/sda`, `/dev/sda1`, ...),
//! which filesystems are listed, the mount table (a path map of several
//! filesystems at their mountpoints, not a host mount), guest path resolution
//! (symlinks followed across mountpoints, `..` handled, loops bounded).
//!
//! Mechanism lives in the engines: the direct engine ([`gx_disk`] for images,
//! partitions and probing, [`gx_fs`] for filesystems), which answers read-only
//! questions in our own process without a VM, and the appliance engine
//! ([`gx_appliance`]: a small VM whose agent does what needs a kernel, and
//! every write). [`Engine`] says which answers; in `Auto` the direct engine
//! does until it cannot, then the appliance takes over.
//!
//! Every API call fires libguestfs's events through the handle ([`Event`]:
//! `enter`, the `-x` trace lines, `launch_done`, `close`...), from the one
//! generated method per call; tools register callbacks for them.
//!
//! It must not: write to an image added read-only, print anything (tools do
//! that, except the `-x` trace on stderr when no callback takes it), or
//! panic on anything an image contains.
#![forbid(unsafe_code)]

mod appliance;
pub mod calls;
mod checksum;
mod direct;
mod events;
mod generated;
mod grep;
pub mod inspect;
mod lsla;
pub mod path;
pub mod tar;
mod volumes;

pub use calls::StatExt;
pub use direct::DeviceKind;
pub use events::{Event, EventCallback};
pub use generated::*;
pub use gx_appliance::Backend;
pub use gx_disk::{Error, ErrorKind, Result};
pub use gx_fs::{FileType, Timespec};
pub use volumes::{dm_name, split_dm_name};

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Disk image formats a drive can be added with.
pub use gx_disk::Format;

/// How a drive was added (the parsed `add_drive` optional arguments).
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
    /// A scratch drive: a temporary file the handle deletes when it closes.
    pub(crate) scratch: bool,
    /// A network protocol (`nbd`, `ssh`, ...): `path` is the export name;
    /// accepted by `add_drive` as libguestfs does, refused by `launch`.
    pub(crate) protocol: Option<String>,
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

/// Settings of the handle (libguestfs's properties).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub trace: bool,
    pub verbose: bool,
    pub autosync: bool,
    pub pgroup: bool,
    pub memsize: i32,
    pub smp: i32,
    pub append: Option<String>,
    pub program: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            trace: false,
            verbose: false,
            autosync: true,
            pgroup: false,
            memsize: 512,
            smp: 1,
            append: None,
            program: "guestx".into(),
        }
    }
}

/// A libguestfs handle: add drives, `launch`, then call the API.
pub struct Handle {
    drives: Vec<Drive>,
    /// The direct engine. Open in `Direct` and `Auto` (and, when the images
    /// parse, in `Appliance` too, for device-level reads such as `device_kind`).
    engine: Option<direct::Direct>,
    settings: Settings,
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
    /// Encrypted devices opened, replayed (before the mounts) likewise.
    crypt_opens: Vec<CryptOpen>,
    /// Event callbacks (`set_event_callback`).
    events: events::Events,
    /// When `launch` began and how long opening the images took: for the
    /// `-v` timing line printed at shutdown.
    launch_clock: Option<(std::time::Instant, std::time::Duration)>,
}

/// An opened encrypted device, as `cryptsetup_open` was asked for it.
pub(crate) struct CryptOpen {
    pub device: String,
    /// Wiped from memory when dropped; never printed.
    pub key: zeroize::Zeroizing<String>,
    pub mapname: String,
    pub opts: CryptsetupOpenOpts,
}

impl Default for Handle {
    fn default() -> Self {
        Self::new()
    }
}

/// Closing the handle (libguestfs's `guestfs_close`): traced as `close`,
/// shut down without the `shutdown` call's events, then the `close` event.
impl Drop for Handle {
    fn drop(&mut self) {
        if self.settings.trace {
            self.trace_line("close");
        }
        let _ = self.impl_shutdown();
        calls::remove_scratch(&self.drives);
        self.fire_event(Event::Close);
    }
}

impl Handle {
    /// A new handle with no drives, on the direct engine (see [`Engine`]).
    pub fn new() -> Self {
        Handle {
            drives: Vec::new(),
            engine: None,
            settings: Settings::default(),
            inspection: inspect::State::default(),
            mode: Engine::Direct,
            backend: None,
            launched: false,
            appliance: RefCell::new(None),
            appliance_failed: RefCell::new(None),
            on_appliance: Cell::new(false),
            mounts: Vec::new(),
            crypt_opens: Vec::new(),
            events: events::Events::default(),
            launch_clock: None,
        }
    }

    /// True when verbose messages are on.
    pub fn verbose(&self) -> bool {
        self.settings.verbose
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
    pub fn set_backend_kind(&mut self, backend: Option<Backend>) {
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

    /// Add a disk image with typed options (what `add_drive` parses its
    /// optional arguments into). It is opened when the handle is launched.
    pub fn add_drive_opts(&mut self, path: impl AsRef<Path>, options: DriveOptions) -> Result<()> {
        let path = path.as_ref();
        // Traced as the add_drive call these options stand for.
        let given = AddDriveOpts {
            readonly: options.readonly.then_some(true),
            format: options.format.map(|f| f.to_string()),
            ..AddDriveOpts::default()
        };
        let traced = self.enter_call("add_drive");
        if traced {
            self.trace_line(&format!("add_drive \"{}\"{given}", path.display()));
        }
        let r = self.push_drive(path, options, None);
        self.leave_call();
        if traced {
            self.trace_return("add_drive", &r, "-1", |_| "0".to_string());
        }
        r
    }

    /// Adds a drive (traced by the caller): a local file, or with
    /// `protocol` a network drive that `launch` will refuse.
    pub(crate) fn push_drive(
        &mut self,
        path: &Path,
        options: DriveOptions,
        protocol: Option<String>,
    ) -> Result<()> {
        if self.launched {
            return Err(Error::invalid(
                "add_drive: drives cannot be added after launch",
            ));
        }
        self.drives.push(Drive {
            path: path.to_path_buf(),
            options,
            scratch: false,
            protocol,
        });
        Ok(())
    }

    /// The drives added so far, in order.
    pub fn drives(&self) -> &[Drive] {
        &self.drives
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

    // ------------------------------------------------------------------
    // Engine plumbing, used by the generated methods and by hand-written
    // calls.

    /// The trace line of a call made other than through its generated
    /// method (see [`events`]).
    pub(crate) fn trace_call(&self, args: std::fmt::Arguments<'_>) {
        if self.settings.trace && !self.in_call() {
            self.trace_line(&args.to_string());
        }
    }

    fn engine(&self) -> Result<&direct::Direct> {
        self.engine
            .as_ref()
            .ok_or_else(|| not_launched("the direct engine"))
    }

    fn engine_mut(&mut self) -> Result<&mut direct::Direct> {
        self.engine
            .as_mut()
            .ok_or_else(|| not_launched("the direct engine"))
    }

    pub(crate) fn check_launched(&self, name: &str) -> Result<()> {
        if self.launched {
            Ok(())
        } else {
            Err(not_launched(name))
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
        if self.settings.verbose {
            match why {
                Some(w) => eprintln!("libguestfs: launching the appliance: {w}"),
                None => eprintln!("libguestfs: launching the appliance"),
            }
        }
        let opts = appliance::LaunchOptions {
            backend: self.backend,
            verbose: self.settings.verbose,
            memsize: self.settings.memsize,
            smp: self.settings.smp,
            append: self.settings.append.clone(),
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
            for c in &self.crypt_opens {
                a.app()
                    .cryptsetup_open(&c.device, &c.key, &c.mapname, c.opts.clone())
                    .map_err(|e| {
                        appliance::convert("cryptsetup_open", e)
                            .context("moving the encrypted devices to the appliance")
                    })?;
            }
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

    /// Whether the appliance answers now.
    pub(crate) fn on_appliance(&self) -> bool {
        self.on_appliance.get()
    }

    /// A read either engine can answer: the direct engine while it can; in
    /// `Auto`, a direct `Unsupported` moves to the appliance and the call is
    /// retried there.
    pub(crate) fn read_call<T>(
        &self,
        name: &'static str,
        direct: impl FnOnce(&direct::Direct) -> Result<T>,
        app: impl FnOnce(&mut gx_appliance::Appliance) -> gx_appliance::Result<T>,
    ) -> Result<T> {
        self.check_launched(name)?;
        if !self.on_appliance.get() {
            match direct(self.engine()?) {
                Err(e) if self.mode == Engine::Auto && e.kind() == ErrorKind::Unsupported => {
                    self.switch_to_appliance(&e)?;
                }
                r => return r,
            }
        }
        self.with_appliance(|a| app(a.app()).map_err(|e| appliance::convert(name, e)))
    }

    /// [`Handle::read_call`] for calls that stream into `out`. The retry on
    /// the appliance happens only if the direct engine wrote nothing yet.
    pub(crate) fn read_call_out<T>(
        &self,
        name: &'static str,
        out: &mut dyn Write,
        direct: impl FnOnce(&direct::Direct, &mut dyn Write) -> Result<T>,
        app: impl FnOnce(&mut gx_appliance::Appliance, &mut dyn Write) -> gx_appliance::Result<T>,
    ) -> Result<T> {
        self.check_launched(name)?;
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
        self.with_appliance(|a| app(a.app(), out).map_err(|e| appliance::convert(name, e)))
    }

    /// A call only the appliance answers (every write, and what needs a
    /// kernel): in `Direct` mode an error saying so; in `Auto` the appliance
    /// starts (once) and takes over.
    pub(crate) fn appliance_call<T>(
        &self,
        name: &'static str,
        writes: bool,
        f: impl FnOnce(&mut gx_appliance::Appliance) -> gx_appliance::Result<T>,
    ) -> Result<T> {
        self.check_launched(name)?;
        if !self.on_appliance.get() {
            let e = if writes {
                Error::new(
                    ErrorKind::ReadOnly,
                    format!(
                        "{name}: the direct engine is read-only; writing needs the appliance \
                         (--engine appliance or auto)"
                    ),
                )
            } else {
                Error::new(
                    ErrorKind::Unsupported,
                    format!("{name}: only the appliance can do this (--engine appliance or auto)"),
                )
            };
            if self.mode != Engine::Auto {
                return Err(e);
            }
            self.switch_to_appliance(&e)?;
        }
        self.with_appliance(|a| f(a.app()).map_err(|e| appliance::convert(name, e)))
    }
}

/// libguestfs's words for a call before `launch`.
pub(crate) fn not_launched(name: &str) -> Error {
    Error::invalid(format!(
        "{name}: call launch before using this function\n\
         (in guestfish, don't forget to use the 'run' command)"
    ))
}

fn busy() -> Error {
    Error::invalid("the handle is busy with another call (called from inside a download?)")
}

/// Counts what a stream wrote: a failed direct-engine stream is retried on
/// the appliance only when nothing reached the caller yet.
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

//! The options every guestx tool shares, spelled as libguestfs spells them,
//! and the small output helpers the tools have in common.
//!
//! This crate owns: `-a FILE` (repeatable), `--format[=raw|qcow2]` (applies to
//! the `-a` options after it; a bare `--format` goes back to autodetection),
//! `-d DOMAIN` with `-c URI` (libvirt domain XML), `-m dev[:mnt[:opts[:fstype]]]`,
//! `--ro`/`--rw`, `-v`, `-x`, `-V`, `--help`, `--engine` (`GX_ENGINE`) and
//! `--backend` (`GX_BACKEND`), `--key`/`--keys-from-stdin`/`--echo-keys`
//! (LUKS keys, see [`keys`]); turning them into a launched
//! [`Handle`] with its mounts; the rule that an image a running VM holds open
//! for writing is opened read-only (and `--rw` on it refused); and how a tool
//! reports an error and exits.
//!
//! It must not: decide anything about disk contents (the Handle does), or
//! print except through [`run`]'s error report and the tools' own output.
#![forbid(unsafe_code)]

pub mod domain;
pub mod fish_wrapper;
pub mod human;
pub mod inspect;
pub mod json;
pub mod keys;
pub mod lock;
pub mod output;
pub mod uri;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Arg, ArgAction, ArgMatches, Command};
use gx_guestfs::{Backend, DriveOptions, Engine, Format, Handle};
use std::path::PathBuf;

/// Which of the shared options a tool takes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Features {
    /// `-m dev[:mnt[:opts[:fstype]]]`.
    pub mount: bool,
    /// `--ro`/`-r` and `--rw`/`-w` (tools that may write).
    pub rw: bool,
    /// `-i`/`--inspector`.
    pub inspector: bool,
}

/// Where a disk comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-a FILE`.
    File(PathBuf),
    /// `-d DOMAIN`: the disks of a libvirt domain.
    Domain(String),
}

/// One `-a` or `-d` option, with the `--format` in force where it appeared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveArg {
    pub source: Source,
    pub format: Option<Format>,
}

/// One `-m` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountArg {
    pub device: String,
    pub mountpoint: String,
    pub options: Option<String>,
    pub fstype: Option<String>,
}

impl std::str::FromStr for MountArg {
    type Err = anyhow::Error;

    /// `dev[:mountpoint[:options[:fstype]]]`; the mountpoint defaults to `/`.
    fn from_str(s: &str) -> Result<Self> {
        let mut it = s.splitn(4, ':');
        let device = it.next().unwrap_or_default().to_string();
        if device.is_empty() {
            bail!("-m: missing device name in '{s}'");
        }
        let mountpoint = match it.next() {
            Some("") | None => "/".to_string(),
            Some(m) => m.to_string(),
        };
        let options = it.next().filter(|o| !o.is_empty()).map(str::to_string);
        let fstype = it.next().filter(|o| !o.is_empty()).map(str::to_string);
        Ok(MountArg {
            device,
            mountpoint,
            options,
            fstype,
        })
    }
}

/// The shared options, parsed.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub drives: Vec<DriveArg>,
    pub mounts: Vec<MountArg>,
    pub connect: Option<String>,
    pub verbose: bool,
    pub trace: bool,
    /// `--rw` given (only for tools with [`Features::rw`]).
    pub rw: bool,
    /// `-i` given.
    pub inspector: bool,
    /// `--engine`, else `GX_ENGINE`, else auto.
    pub engine: Engine,
    /// `--backend`; `None` lets the Handle choose (`GX_BACKEND`, else the host's best).
    pub backend: Option<Backend>,
    /// `--key`, `--keys-from-stdin`, `--echo-keys`.
    pub keys: keys::Keys,
}

/// Add the shared options to a tool's command. Help is `--help` only (`-h`
/// means human-readable in several tools), version is `-V`/`--version`.
pub fn command(name: &'static str, about: &'static str, features: Features) -> Command {
    let mut cmd = Command::new(name)
        .about(about)
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("add")
                .short('a')
                .long("add")
                .value_name("image")
                .action(ArgAction::Append)
                .help("Add image"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_name("raw|qcow2")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("")
                .action(ArgAction::Append)
                .help("Force disk format for -a options after this one"),
        )
        .arg(
            Arg::new("connect")
                .short('c')
                .long("connect")
                .value_name("uri")
                .help("Specify libvirt URI for -d option"),
        )
        .arg(
            Arg::new("domain")
                .short('d')
                .long("domain")
                .value_name("guest")
                .action(ArgAction::Append)
                .help("Add disks from libvirt guest"),
        )
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::SetTrue)
                .help("Verbose messages"),
        )
        .arg(
            Arg::new("trace")
                .short('x')
                .action(ArgAction::SetTrue)
                .help("Trace API calls"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Display version and exit"),
        )
        .arg(
            Arg::new("engine")
                .long("engine")
                .value_name("direct|appliance|auto")
                .value_parser(["direct", "appliance", "auto"])
                .help("Which engine answers: in-process (direct), the appliance VM, or direct with the appliance as fallback (auto, the default; or GX_ENGINE)"),
        )
        .arg(
            Arg::new("backend")
                .long("backend")
                .value_name("vmm|qemu")
                .value_parser(["vmm", "qemu"])
                .help("How the appliance is run (default: GX_BACKEND, else our VMM on hardware KVM, else QEMU)"),
        )
        .arg(
            Arg::new("key")
                .long("key")
                .value_name("SELECTOR")
                .action(ArgAction::Append)
                .help("Specify a LUKS key: ID:key:KEY, ID:file:FILENAME or ID:clevis; ID is a device, a LUKS UUID or 'all'"),
        )
        .arg(
            Arg::new("keys-from-stdin")
                .long("keys-from-stdin")
                .action(ArgAction::SetTrue)
                .help("Read passphrases from stdin"),
        )
        .arg(
            Arg::new("echo-keys")
                .long("echo-keys")
                .action(ArgAction::SetTrue)
                .help("Don't turn off echo for passphrases"),
        )
        .arg(
            Arg::new("help")
                .long("help")
                .action(ArgAction::Help)
                .help("Display brief help"),
        );
    if features.mount {
        cmd = cmd.arg(
            Arg::new("mount")
                .short('m')
                .long("mount")
                .value_name("dev[:mnt[:opts[:fstype]]]")
                .action(ArgAction::Append)
                .help("Mount dev on mnt (if omitted, /)"),
        );
    }
    if features.rw {
        cmd = cmd
            .arg(
                Arg::new("ro")
                    .short('r')
                    .long("ro")
                    .action(ArgAction::SetTrue)
                    .overrides_with("rw")
                    .help("Mount read-only"),
            )
            .arg(
                Arg::new("rw")
                    .short('w')
                    .long("rw")
                    .action(ArgAction::SetTrue)
                    .overrides_with("ro")
                    .help("Mount read-write"),
            );
    }
    if features.inspector {
        cmd = cmd.arg(
            Arg::new("inspector")
                .short('i')
                .long("inspector")
                .action(ArgAction::SetTrue)
                .help("Automatically mount filesystems"),
        );
    }
    cmd
}

fn parse_format(s: &str) -> Result<Option<Format>> {
    match s {
        "" => Ok(None),
        "raw" => Ok(Some(Format::Raw)),
        "qcow2" => Ok(Some(Format::Qcow2)),
        other => bail!("--format: unsupported disk format '{other}' (expecting raw or qcow2)"),
    }
}

impl Common {
    /// Read the shared options from a tool's matches. `-a`, `-d` and
    /// `--format` are taken in command-line order, so each `--format` applies
    /// to the drives after it.
    pub fn from_matches(m: &ArgMatches) -> Result<Common> {
        enum Ev {
            Add(String),
            Dom(String),
            Fmt(String),
        }
        let mut events: Vec<(usize, Ev)> = Vec::new();
        let collect = |id: &str| -> Vec<(usize, String)> {
            match (m.indices_of(id), m.get_many::<String>(id)) {
                (Some(i), Some(v)) => i.zip(v.cloned()).collect(),
                _ => Vec::new(),
            }
        };
        events.extend(collect("add").into_iter().map(|(i, v)| (i, Ev::Add(v))));
        events.extend(collect("domain").into_iter().map(|(i, v)| (i, Ev::Dom(v))));
        events.extend(collect("format").into_iter().map(|(i, v)| (i, Ev::Fmt(v))));
        events.sort_by_key(|(i, _)| *i);
        let mut format = None;
        let mut drives = Vec::new();
        for (_, ev) in events {
            match ev {
                Ev::Fmt(f) => format = parse_format(&f)?,
                Ev::Add(a) => {
                    // `-a URI` as libguestfs's tools take it: `file:///path`
                    // is a local image; network drives are refused here, in
                    // the Handle's words, before anything is opened.
                    let u = uri::parse(&a).map_err(|m| anyhow!("{m}"))?;
                    if u.protocol != "file" {
                        bail!(
                            "{}: protocol \"{}\" is not supported: guestx opens local files and block devices only",
                            u.path,
                            u.protocol
                        );
                    }
                    drives.push(DriveArg {
                        source: Source::File(PathBuf::from(u.path)),
                        format,
                    })
                }
                Ev::Dom(d) => drives.push(DriveArg {
                    source: Source::Domain(d),
                    format,
                }),
            }
        }
        let mounts = match m.try_get_many::<String>("mount") {
            Ok(Some(v)) => v.map(|s| s.parse()).collect::<Result<Vec<_>>>()?,
            _ => Vec::new(),
        };
        let flag = |id: &str| {
            m.try_get_one::<bool>(id)
                .ok()
                .flatten()
                .copied()
                .unwrap_or(false)
        };
        let opt = |id: &str| m.try_get_one::<String>(id).ok().flatten().cloned();
        let engine = match opt("engine") {
            Some(e) => e.parse()?,
            None => match std::env::var("GX_ENGINE") {
                Ok(e) if !e.is_empty() => e.parse().context("GX_ENGINE")?,
                _ => Engine::Auto,
            },
        };
        let backend = match opt("backend") {
            Some(b) => Some(b.parse()?),
            None => None,
        };
        let selectors = match m.try_get_many::<String>("key") {
            Ok(Some(v)) => v
                .map(|s| keys::KeySelector::parse(s))
                .collect::<Result<Vec<_>>>()?,
            _ => Vec::new(),
        };
        let keys = keys::Keys {
            selectors,
            from_stdin: flag("keys-from-stdin"),
            echo: flag("echo-keys"),
        };
        Ok(Common {
            keys,
            drives,
            mounts,
            connect: m.get_one::<String>("connect").cloned(),
            verbose: flag("verbose"),
            trace: flag("trace"),
            rw: flag("rw"),
            inspector: flag("inspector"),
            engine,
            backend,
        })
    }

    /// Old-style `tool disk.img ... ARG`: with no `-a` or `-d`, the leading
    /// positional arguments (all but the last `keep`) name the drives: an
    /// existing file or a path is an image, anything else a libvirt domain.
    pub fn take_positional_drives(&mut self, args: &mut Vec<String>, keep: usize) {
        if !self.drives.is_empty() {
            return;
        }
        while args.len() > keep {
            let a = args.remove(0);
            let source = if domain::looks_like_image(&a) {
                Source::File(PathBuf::from(a))
            } else {
                Source::Domain(a)
            };
            self.drives.push(DriveArg {
                source,
                format: None,
            });
        }
    }

    /// A display name for the guest, as virt-df makes it: the first image's
    /// file name (or domain name), with a `+` for each further drive.
    pub fn display_name(&self) -> String {
        let Some(first) = self.drives.first() else {
            return String::new();
        };
        let mut name = match &first.source {
            Source::File(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            Source::Domain(d) => d.clone(),
        };
        for _ in 1..self.drives.len() {
            name.push('+');
        }
        name
    }

    /// Add the drives (expanding `-d` domains), launch, and mount the `-m`
    /// options in order. `readonly` is the tool's mode; an image a running VM
    /// holds for writing is always added read-only, with a note, and asking
    /// to write to it is an error.
    pub fn launch(&self, readonly: bool) -> Result<Handle> {
        self.launch_with(readonly, |_| Ok(()))
    }

    /// [`Common::launch`], with `before` called on the Handle after the
    /// drives are added and before it launches (appliance settings,
    /// scratch drives: gx-rescue).
    pub fn launch_with(
        &self,
        readonly: bool,
        before: impl FnOnce(&mut Handle) -> Result<()>,
    ) -> Result<Handle> {
        Ok(self.launch_opening(readonly, before)?.0)
    }

    /// [`Common::launch`], with the options a second handle needs to open
    /// the same drives without asking for keys again: `--keys-from-stdin`
    /// and typed passphrases are replaced by the keys that worked (held in
    /// zeroizing memory, as every key).
    pub fn launch_reusable(&self, readonly: bool) -> Result<(Handle, Common)> {
        let (g, opened) = self.launch_opening(readonly, |_| Ok(()))?;
        let mut again = self.clone();
        if let Some(keys) = opened {
            again.keys = keys;
        }
        Ok((g, again))
    }

    fn launch_opening(
        &self,
        readonly: bool,
        before: impl FnOnce(&mut Handle) -> Result<()>,
    ) -> Result<(Handle, Option<keys::Keys>)> {
        if self.drives.is_empty() {
            bail!("you must specify at least one -a or -d option");
        }
        let mut g = Handle::new();
        g.set_trace(self.trace)?;
        g.set_verbose(self.verbose)?;
        g.set_engine(self.engine)?;
        g.set_backend_kind(self.backend);
        for d in &self.drives {
            match &d.source {
                Source::File(p) => {
                    let ro = self.readonly_for(p, readonly, None)?;
                    g.add_drive_opts(
                        p,
                        DriveOptions {
                            format: d.format,
                            readonly: ro,
                        },
                    )?;
                }
                Source::Domain(name) => {
                    let dom = domain::load(name, self.connect.as_deref())?;
                    for disk in &dom.disks {
                        let ro =
                            disk.readonly || self.readonly_for(&disk.path, readonly, Some(&dom))?;
                        let format = match &disk.format {
                            Some(f) => parse_format(f)?,
                            None => d.format,
                        };
                        g.add_drive_opts(
                            &disk.path,
                            DriveOptions {
                                format,
                                readonly: ro,
                            },
                        )?;
                    }
                }
            }
        }
        before(&mut g)?;
        g.launch()?;
        // Open LUKS devices (and the LVM inside them) before any -m needs them.
        let opened = if !self.keys.selectors.is_empty() || self.keys.from_stdin {
            Some(keys::decrypt(&mut g, &self.keys)?)
        } else {
            None
        };
        for m in &self.mounts {
            let options = m.options.clone().unwrap_or_else(|| {
                if readonly {
                    "ro".to_string()
                } else {
                    String::new()
                }
            });
            let r = match &m.fstype {
                Some(t) => g.mount_vfs(&options, t, &m.device, &m.mountpoint),
                None => g.mount_options(&options, &m.device, &m.mountpoint),
            };
            if let Err(e) = r {
                let mut msg = format!("‘{}’ could not be mounted: {e}", m.device);
                if let Ok(fses) = g.list_filesystems() {
                    msg.push_str("\nDid you mean to mount one of these filesystems?");
                    for (dev, t) in fses {
                        msg.push_str(&format!("\n \t{dev} ({t})"));
                    }
                }
                return Err(anyhow!(msg));
            }
        }
        Ok((g, opened))
    }

    /// Decide read-only for one image: the tool's mode, forced on when a
    /// running VM writes the image; `--rw` on such an image is refused.
    fn readonly_for(
        &self,
        path: &std::path::Path,
        readonly: bool,
        dom: Option<&domain::Domain>,
    ) -> Result<bool> {
        let live_writer = lock::held_for_write(path).unwrap_or(false);
        let running = dom.is_some_and(|d| d.running);
        if live_writer || running {
            if !readonly {
                bail!(
                    "{}: a running virtual machine is using this disk: writing to it could corrupt it; use read-only access (--ro)",
                    path.display()
                );
            }
            if self.verbose || live_writer {
                eprintln!(
                    "note: {}: in use by a running virtual machine; opened read-only",
                    path.display()
                );
            }
        }
        Ok(readonly)
    }
}

/// Run a tool's main function: print an error chain once as
/// `prog: error: ...` and exit 1; a broken pipe on stdout is success
/// (`gx-cat big | head` is not an error).
pub fn run(prog: &str, f: impl FnOnce() -> Result<i32>) -> ! {
    // Parsers turn panics on hostile data into errors (gx_fs guards every
    // call); silence the default report so those never reach the user, and
    // report any other panic once, below, as the bug it is.
    std::panic::set_hook(Box::new(|_| {}));
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("{prog}: internal error (please report this bug): {msg}");
            std::process::exit(70)
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("{prog}: error: {msg}");
            1
        }
    };
    std::process::exit(code)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Parse a tool's arguments; a usage error exits 1 as libguestfs's tools do,
/// `--help` and `--version` exit 0.
pub fn parse(cmd: Command) -> ArgMatches {
    match cmd.try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code)
        }
    }
}

/// Context helper for tools: attach "what" to an error.
pub trait CliContext<T> {
    fn what(self, what: impl std::fmt::Display) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> CliContext<T> for std::result::Result<T, E> {
    fn what(self, what: impl std::fmt::Display) -> Result<T> {
        self.with_context(|| what.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Common {
        let cmd = command(
            "t",
            "test",
            Features {
                mount: true,
                rw: true,
                inspector: true,
            },
        )
        .arg(Arg::new("rest").num_args(0..));
        let m = cmd.try_get_matches_from(args).unwrap();
        Common::from_matches(&m).unwrap()
    }

    #[test]
    fn format_applies_to_later_drives() {
        let c = parse_args(&[
            "t",
            "-a",
            "x",
            "--format=raw",
            "-a",
            "y",
            "--format",
            "-a",
            "z",
        ]);
        assert!(c.backend.is_none());
        let fmts: Vec<_> = c.drives.iter().map(|d| d.format).collect();
        assert_eq!(fmts, vec![None, Some(Format::Raw), None]);
        assert_eq!(c.display_name(), "x++");
    }

    #[test]
    fn drive_uris() {
        let c = parse_args(&["t", "-a", "file:///tmp/a%20b.img", "-a", "plain:x"]);
        let paths: Vec<_> = c
            .drives
            .iter()
            .map(|d| match &d.source {
                Source::File(p) => p.display().to_string(),
                Source::Domain(d) => d.clone(),
            })
            .collect();
        assert_eq!(paths, ["/tmp/a b.img", "plain:x"]);
        let cmd = command("t", "test", Features::default());
        let m = cmd
            .try_get_matches_from(["t", "-a", "ssh://u:secret@host/disk.img"])
            .unwrap();
        let e = Common::from_matches(&m).unwrap_err().to_string();
        assert!(e.contains("protocol \"ssh\" is not supported"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn mount_option_forms() {
        let m: MountArg = "/dev/sda2".parse().unwrap();
        assert_eq!(m.mountpoint, "/");
        let m: MountArg = "/dev/sda1:/boot:ro,noatime:ext4".parse().unwrap();
        assert_eq!(m.mountpoint, "/boot");
        assert_eq!(m.options.as_deref(), Some("ro,noatime"));
        assert_eq!(m.fstype.as_deref(), Some("ext4"));
        assert!("".parse::<MountArg>().is_err());
    }

    #[test]
    fn engine_and_backend_options() {
        let c = parse_args(&["t", "--engine", "appliance", "--backend", "qemu", "-a", "x"]);
        assert_eq!(c.engine, Engine::Appliance);
        assert_eq!(c.backend, Some(Backend::Qemu));
        let cmd = command("t", "test", Features::default());
        assert!(cmd.try_get_matches_from(["t", "--engine", "fast"]).is_err());
    }

    #[test]
    fn unknown_format_is_an_error() {
        let cmd = command("t", "test", Features::default());
        let m = cmd
            .try_get_matches_from(["t", "--format=vmdk", "-a", "x"])
            .unwrap();
        assert!(Common::from_matches(&m).is_err());
    }
}

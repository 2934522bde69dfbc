//! gx-resize's command line: virt-resize's options, spelled as it spells
//! them, as a clap [`Command`] that can be built without running anything
//! (man pages are generated from it), and their checks with virt-resize's
//! messages.

use crate::plan::{AlignFirst, UnknownFs};
use clap::{Arg, ArgAction, ArgMatches, Command};

/// The options, checked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub indisk: String,
    pub outdisk: String,
    pub align_first: AlignFirst,
    pub alignment: u64,
    pub copy_boot_loader: bool,
    pub deletes: Vec<String>,
    pub dryrun: bool,
    pub expand: Option<String>,
    pub expand_content: bool,
    pub extra_partition: bool,
    pub format: Option<String>,
    pub ignores: Vec<String>,
    pub lv_expands: Vec<String>,
    pub ntfsresize_force: bool,
    pub output_format: Option<String>,
    pub resizes: Vec<String>,
    pub resizes_force: Vec<String>,
    pub shrink: Option<String>,
    pub sparse: bool,
    pub unknown_fs: UnknownFs,
    /// `--machine-readable` (`Some("")` without a format).
    pub machine_readable: Option<String>,
    pub quiet: bool,
    pub verbose: bool,
    pub trace: bool,
    pub colours: bool,
    /// `--domain NAME` (with `-c URI`): the input is the domain's first disk.
    pub domain: Option<String>,
    pub connect: Option<String>,
    /// `--backend vmm|qemu` for the appliance that grows content.
    pub backend: Option<String>,
}

fn flag(name: &'static str, long: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(long)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn value(name: &'static str, long: &'static str, meta: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(long)
        .value_name(meta)
        .action(ArgAction::Append)
        .allow_hyphen_values(true)
        .help(help)
}

/// The clap command (no side effects; `gx-resize --help` prints it).
pub fn command() -> Command {
    Command::new("gx-resize")
        .about("resize a virtual machine disk")
        .long_about(
            "gx-resize: resize a virtual machine disk, like virt-resize: copy INDISK to OUTDISK \
             (which you create at the new size, raw or qcow2), resizing, ignoring or deleting \
             partitions on the way, then grow the content of resized partitions and LVs. \
             The copy runs on the host, sparse; only growing content uses the appliance.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .override_usage("gx-resize [--options] indisk outdisk")
        .arg(
            Arg::new("help")
                .long("help")
                .action(ArgAction::Help)
                .help("Display brief help"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Display version and exit"),
        )
        .arg(value(
            "align-first",
            "align-first",
            "never|always|auto",
            "Align first partition (default: auto)",
        ))
        .arg(value(
            "alignment",
            "alignment",
            "sectors",
            "Set partition alignment (default: 128 sectors)",
        ))
        .arg(flag(
            "no-copy-boot-loader",
            "no-copy-boot-loader",
            "Don’t copy boot loader",
        ))
        .arg(
            Arg::new("debug")
                .short('d')
                .long("debug")
                .action(ArgAction::SetTrue)
                .help("Enable debugging messages"),
        )
        .arg(value("delete", "delete", "part", "Delete partition"))
        .arg(value("expand", "expand", "part", "Expand partition"))
        .arg(flag(
            "no-expand-content",
            "no-expand-content",
            "Don’t expand content",
        ))
        .arg(flag(
            "no-extra-partition",
            "no-extra-partition",
            "Don’t create extra partition",
        ))
        .arg(value("format", "format", "format", "Format of input disk"))
        .arg(value("ignore", "ignore", "part", "Ignore partition"))
        .arg(
            value("lv-expand", "lv-expand", "lv", "Expand logical volume")
                .visible_aliases(["LV-expand", "lvexpand", "LVexpand"]),
        )
        .arg(
            Arg::new("dry-run")
                .short('n')
                .long("dry-run")
                .visible_alias("dryrun")
                .action(ArgAction::SetTrue)
                .help("Don’t perform changes"),
        )
        .arg(flag(
            "ntfsresize-force",
            "ntfsresize-force",
            "Force ntfsresize",
        ))
        .arg(value(
            "output-format",
            "output-format",
            "format",
            "Format of output disk",
        ))
        .arg(value("resize", "resize", "part=size", "Resize partition"))
        .arg(value(
            "resize-force",
            "resize-force",
            "part=size",
            "Forcefully resize partition",
        ))
        .arg(value("shrink", "shrink", "part", "Shrink partition"))
        .arg(flag("no-sparse", "no-sparse", "Turn off sparse copying"))
        .arg(value(
            "unknown-filesystems",
            "unknown-filesystems",
            "ignore|warn|error",
            "Behaviour on expand unknown filesystems (default: warn)",
        ))
        .arg(
            Arg::new("machine-readable")
                .long("machine-readable")
                .value_name("format")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("")
                .help("Make output machine readable"),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("Don’t print progress messages"),
        )
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::SetTrue)
                .help("Enable libguestfs debugging messages"),
        )
        .arg(
            Arg::new("trace")
                .short('x')
                .action(ArgAction::SetTrue)
                .help("Enable tracing of libguestfs calls"),
        )
        .arg(
            Arg::new("colours")
                .long("colours")
                .visible_alias("colors")
                .action(ArgAction::SetTrue)
                .help("Use ANSI colour sequences even if not tty"),
        )
        .arg(
            Arg::new("domain")
                .long("domain")
                .value_name("guest")
                .help("Take the input disk from a libvirt guest (its first disk)"),
        )
        .arg(
            Arg::new("connect")
                .short('c')
                .long("connect")
                .value_name("uri")
                .help("Specify libvirt URI for --domain"),
        )
        .arg(
            Arg::new("backend")
                .long("backend")
                .value_name("vmm|qemu")
                .value_parser(["vmm", "qemu"])
                .help("How the appliance that grows content is run (default: GX_BACKEND, else our VMM on hardware KVM, else QEMU)"),
        )
        .arg(
            Arg::new("disks")
                .value_name("disk")
                .num_args(0..)
                .action(ArgAction::Append),
        )
}

/// A usage error: what virt-resize says after `error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn all(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

/// The last value of an option given several times (virt-resize's
/// Set_string keeps the last).
fn last(m: &ArgMatches, id: &str) -> Option<String> {
    m.get_many::<String>(id)
        .and_then(|mut v| v.next_back().cloned())
}

fn once(m: &ArgMatches, id: &str) -> Result<Option<String>, UsageError> {
    let v = all(m, id);
    if v.iter().any(String::is_empty) {
        return Err(UsageError(format!("empty --{id} option")));
    }
    if v.len() > 1 {
        return Err(UsageError(format!("--{id} option given more than once")));
    }
    Ok(v.into_iter().next())
}

impl Options {
    /// Check parsed options. The disks are not checked here (see
    /// [`Options::disks`]): `--machine-readable` alone takes none.
    pub fn from_matches(m: &ArgMatches) -> Result<Options, UsageError> {
        let alignment = match last(m, "alignment") {
            None => 128,
            Some(s) => {
                let n: i64 = s.trim().parse().map_err(|_| {
                    UsageError(format!("--alignment: ‘{s}’ is not a numeric value."))
                })?;
                if n < 1 {
                    return Err(UsageError("alignment cannot be < 1".into()));
                }
                n as u64
            }
        };
        let align_first = match last(m, "align-first").as_deref() {
            None | Some("auto") => AlignFirst::Auto,
            Some("never") => AlignFirst::Never,
            Some("always") => AlignFirst::Always,
            Some(_) => {
                return Err(UsageError(
                    "unknown --align-first option: use never|always|auto".into(),
                ));
            }
        };
        let unknown_fs = match last(m, "unknown-filesystems").as_deref() {
            None | Some("warn") => UnknownFs::Warn,
            Some("ignore") => UnknownFs::Ignore,
            Some("error") => UnknownFs::Error,
            Some(_) => {
                return Err(UsageError(
                    "unknown --unknown-filesystems: use ignore|warn|error".into(),
                ));
            }
        };
        let disks = all(m, "disks");
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(Options {
            indisk: disks.first().cloned().unwrap_or_default(),
            outdisk: disks.get(1).cloned().unwrap_or_default(),
            align_first,
            alignment,
            copy_boot_loader: !m.get_flag("no-copy-boot-loader"),
            deletes: all(m, "delete"),
            dryrun: m.get_flag("dry-run"),
            expand: once(m, "expand")?,
            expand_content: !m.get_flag("no-expand-content"),
            extra_partition: !m.get_flag("no-extra-partition"),
            format: nonempty(last(m, "format")),
            ignores: all(m, "ignore"),
            lv_expands: all(m, "lv-expand"),
            ntfsresize_force: m.get_flag("ntfsresize-force"),
            output_format: nonempty(last(m, "output-format")),
            resizes: all(m, "resize"),
            resizes_force: all(m, "resize-force"),
            shrink: once(m, "shrink")?,
            sparse: !m.get_flag("no-sparse"),
            unknown_fs,
            machine_readable: m.get_one::<String>("machine-readable").cloned(),
            quiet: m.get_flag("quiet"),
            verbose: m.get_flag("verbose") || m.get_flag("debug"),
            trace: m.get_flag("trace"),
            colours: m.get_flag("colours"),
            domain: m.get_one::<String>("domain").cloned(),
            connect: m.get_one::<String>("connect").cloned(),
            backend: m.get_one::<String>("backend").cloned(),
        })
    }

    /// Exactly two disks, and not the same one twice (`--domain` supplies the first).
    pub fn check_disks(m: &ArgMatches, domain: bool) -> Result<(), UsageError> {
        let n = all(m, "disks").len() + usize::from(domain);
        if n != 2 {
            return Err(UsageError(
                "usage is: gx-resize [--options] indisk outdisk".into(),
            ));
        }
        let d = all(m, "disks");
        if !domain && d[0] == d[1] {
            return Err(UsageError(
                "you cannot use the same disk image for input and output".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, UsageError> {
        let m = command()
            .try_get_matches_from(std::iter::once("gx-resize").chain(args.iter().copied()))
            .map_err(|e| UsageError(e.to_string()))?;
        Options::from_matches(&m)
    }

    #[test]
    fn command_builds() {
        command().debug_assert();
    }

    #[test]
    fn options_as_virt_resize() {
        let o = parse(&[
            "--expand",
            "/dev/sda2",
            "--LV-expand",
            "/dev/vg/lv",
            "--lvexpand=/dev/vg/lv2",
            "--resize",
            "sda1=+10%",
            "--resize",
            "/dev/sda3=-1G",
            "--dryrun",
            "--no-sparse",
            "-d",
            "in.img",
            "out.img",
        ])
        .unwrap();
        assert_eq!(o.expand.as_deref(), Some("/dev/sda2"));
        assert_eq!(o.lv_expands, vec!["/dev/vg/lv", "/dev/vg/lv2"]);
        assert_eq!(o.resizes, vec!["sda1=+10%", "/dev/sda3=-1G"]);
        assert!(o.dryrun && !o.sparse && o.verbose);
        assert_eq!(
            (o.indisk.as_str(), o.outdisk.as_str()),
            ("in.img", "out.img")
        );
        assert_eq!(o.alignment, 128);
        assert_eq!(o.machine_readable, None);

        let e = parse(&["--expand", "a", "--expand", "b"]).unwrap_err();
        assert_eq!(e.0, "--expand option given more than once");
        let e = parse(&["--alignment", "0"]).unwrap_err();
        assert_eq!(e.0, "alignment cannot be < 1");
        let e = parse(&["--align-first", "sometimes"]).unwrap_err();
        assert_eq!(e.0, "unknown --align-first option: use never|always|auto");
        let e = parse(&["--unknown-filesystems", "shout"]).unwrap_err();
        assert_eq!(e.0, "unknown --unknown-filesystems: use ignore|warn|error");
        let o = parse(&["--machine-readable"]).unwrap();
        assert_eq!(o.machine_readable.as_deref(), Some(""));
    }
}

//! gx-fish's command-line options, with guestfish's grammar: GNU
//! `getopt_long` (options and commands may be interleaved, `--` ends the
//! options, long names may be abbreviated, short options cluster), its
//! option letters and long names, and its messages.
//!
//! This module only reads the options into [`Opts`]; it has no side effect
//! except the ones guestfish performs while parsing: `--help`, `-V`, `-h`
//! and `-N help` print and exit.

use crate::PROG;

/// Whether an option takes an argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Has {
    No,
    Required,
    /// Only as `--opt=value` (or `-hvalue`).
    Optional,
}

/// The long options in guestfish's order (which decides what an
/// abbreviation means), plus `--engine`, `--backend` and the hidden `--man`,
/// and the short letter each stands for, if any.
const LONG: &[(&str, Has, Option<char>)] = &[
    ("add", Has::Required, Some('a')),
    ("blocksize", Has::Optional, None),
    ("cmd-help", Has::Optional, Some('h')),
    ("connect", Has::Required, Some('c')),
    ("csh", Has::No, None),
    ("domain", Has::Required, Some('d')),
    ("echo-keys", Has::No, None),
    ("file", Has::Required, Some('f')),
    ("format", Has::Optional, None),
    ("help", Has::No, None),
    ("inspector", Has::No, Some('i')),
    ("key", Has::Required, None),
    ("keys-from-stdin", Has::No, None),
    ("listen", Has::No, None),
    ("live", Has::No, None),
    ("long-options", Has::No, None),
    ("mount", Has::Required, Some('m')),
    ("network", Has::No, None),
    ("new", Has::Required, Some('N')),
    ("no-dest-paths", Has::No, None),
    ("no-sync", Has::No, Some('n')),
    ("pipe-error", Has::No, None),
    ("progress-bars", Has::No, None),
    ("no-progress-bars", Has::No, None),
    ("remote", Has::Optional, None),
    ("ro", Has::No, Some('r')),
    ("rw", Has::No, Some('w')),
    ("selinux", Has::No, None),
    ("short-options", Has::No, None),
    ("verbose", Has::No, Some('v')),
    ("version", Has::No, Some('V')),
    ("engine", Has::Required, None),
    ("backend", Has::Required, None),
    ("man", Has::No, None),
];

/// Short options: `a:c:d:Df:h::im:nN:rvVwx`.
const SHORT: &[(char, Has)] = &[
    ('a', Has::Required),
    ('c', Has::Required),
    ('d', Has::Required),
    ('D', Has::No),
    ('f', Has::Required),
    ('h', Has::Optional),
    ('i', Has::No),
    ('m', Has::Required),
    ('n', Has::No),
    ('N', Has::Required),
    ('r', Has::No),
    ('v', Has::No),
    ('V', Has::No),
    ('w', Has::No),
    ('x', Has::No),
];

/// A drive option, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DriveOpt {
    /// `-a FILE` (or URI) with the `--format` and `--blocksize` in force.
    Add {
        path: String,
        format: Option<String>,
        blocksize: Option<i32>,
    },
    /// `-d DOMAIN`.
    Domain(String),
    /// `-N [FILE=]TYPE`: the file name and the type string (with its
    /// `:param` suffixes).
    New { filename: String, spec: String },
}

/// `-m dev[:mnt[:opts[:fstype]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOpt {
    pub device: String,
    pub mountpoint: String,
    pub options: Option<String>,
    pub fstype: Option<String>,
}

impl MountOpt {
    /// Splits at the first three colons, as guestfish does (a device name
    /// never holds one).
    pub(crate) fn parse(s: &str) -> MountOpt {
        let mut it = s.splitn(4, ':');
        let device = it.next().unwrap_or_default().to_string();
        MountOpt {
            device,
            mountpoint: it.next().unwrap_or("/").to_string(),
            options: it.next().map(str::to_string),
            fstype: it.next().map(str::to_string),
        }
    }
}

/// The options, parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Opts {
    pub drives: Vec<DriveOpt>,
    pub mounts: Vec<MountOpt>,
    pub connect: Option<String>,
    pub file: Option<String>,
    pub inspector: bool,
    pub read_only: bool,
    pub verbose: bool,
    pub trace: bool,
    pub no_sync: bool,
    pub network: bool,
    pub listen: bool,
    pub csh: bool,
    /// `--remote[=PID]`: the server's PID.
    pub remote: Option<i32>,
    pub pipe_error: bool,
    pub keys_from_stdin: bool,
    pub echo_keys: bool,
    /// `--key` selectors, in order.
    pub keys: Vec<String>,
    /// `--progress-bars` (true) / `--no-progress-bars` (false).
    pub progress_bars: Option<bool>,
    pub complete_dest_paths: bool,
    pub engine: Option<String>,
    pub backend: Option<String>,
    /// The words after the options: commands separated by `:`.
    pub rest: Vec<String>,
    /// The options exactly as given, for `--listen` to start its server
    /// with.
    pub argv: Vec<String>,
}

/// What the options ask for besides a session.
pub(crate) enum Parsed {
    Run(Box<Opts>),
    /// Print this to stdout and exit 0 (`--help`, `-V`, `-h`, ...).
    Print(String),
    /// A usage error: print this (if not empty), then the `--help` hint, exit 1.
    Usage(String),
    /// An error message: print it and exit 1.
    Fail(String),
}

/// Reads the options in `args` (without the program name).
pub(crate) fn parse(args: &[String]) -> Parsed {
    let mut o = Opts {
        complete_dest_paths: true,
        argv: args.to_vec(),
        ..Opts::default()
    };
    let mut format: Option<String> = None;
    let mut format_consumed = true;
    let mut blocksize: Option<i32> = None;
    let mut blocksize_consumed = true;
    let mut next_prepared = 1;
    let mut rest: Vec<String> = Vec::new();
    let mut i = 0;

    // One option: its name (a letter or a long name) and its argument.
    enum Got {
        Short(char, Option<String>),
        Long(&'static str, Option<String>),
    }

    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            rest.extend(args[i..].iter().cloned());
            break;
        }
        let mut got: Vec<Got> = Vec::new();
        if let Some(body) = a.strip_prefix("--") {
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let (lname, has) = match find_long(name) {
                Ok(x) => x,
                Err(LongErr::Unknown) => {
                    return Parsed::Usage(format!("{PROG}: unrecognized option '{a}'"));
                }
                Err(LongErr::Ambiguous(list)) => {
                    let poss: Vec<String> = list.iter().map(|n| format!("'--{n}'")).collect();
                    return Parsed::Usage(format!(
                        "{PROG}: option '--{name}' is ambiguous; possibilities: {}",
                        poss.join(" ")
                    ));
                }
            };
            let value = match (has, value) {
                (Has::No, Some(_)) => {
                    return Parsed::Usage(format!(
                        "{PROG}: option '--{lname}' doesn't allow an argument"
                    ));
                }
                (Has::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => {
                        return Parsed::Usage(format!(
                            "{PROG}: option '--{lname}' requires an argument"
                        ));
                    }
                },
                (_, v) => v,
            };
            got.push(Got::Long(lname, value));
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                let Some(&(_, has)) = SHORT.iter().find(|(s, _)| *s == c) else {
                    return Parsed::Usage(format!("{PROG}: invalid option -- '{c}'"));
                };
                let attached: String = chars[k..].iter().collect();
                match has {
                    Has::No => got.push(Got::Short(c, None)),
                    Has::Optional => {
                        got.push(Got::Short(c, (!attached.is_empty()).then_some(attached)));
                        break;
                    }
                    Has::Required => {
                        let v = if !attached.is_empty() {
                            attached
                        } else if let Some(v) = args.get(i) {
                            i += 1;
                            v.clone()
                        } else {
                            return Parsed::Usage(format!(
                                "{PROG}: option requires an argument -- '{c}'"
                            ));
                        };
                        got.push(Got::Short(c, Some(v)));
                        break;
                    }
                }
            }
        } else {
            // getopt_long moves non-options after the options.
            rest.push(a.clone());
            continue;
        }

        for g in got {
            let (c, name, v) = match g {
                Got::Short(c, v) => (Some(c), None, v),
                Got::Long(n, v) => (LONG.iter().find(|l| l.0 == n).and_then(|l| l.2), Some(n), v),
            };
            let v_str = || v.clone().unwrap_or_default();
            match (c, name) {
                (Some('a'), _) => {
                    o.drives.push(DriveOpt::Add {
                        path: v_str(),
                        format: format.clone(),
                        blocksize,
                    });
                    format_consumed = true;
                    blocksize_consumed = true;
                }
                (Some('c'), _) => o.connect = v.clone(),
                (Some('d'), _) => o.drives.push(DriveOpt::Domain(v_str())),
                (Some('D'), _) => {
                    eprintln!(
                        "{PROG}: warning: -D option is deprecated, use --no-dest-paths instead"
                    );
                    o.complete_dest_paths = false;
                }
                (Some('f'), _) => {
                    if o.file.is_some() {
                        return Parsed::Fail(format!("{PROG}: only one -f parameter can be given"));
                    }
                    o.file = v.clone();
                }
                (Some('h'), _) => {
                    // `-h CMD` takes the next word when it is no option.
                    let cmd = match v {
                        Some(c) => Some(c),
                        None => match args.get(i) {
                            Some(n) if !n.starts_with('-') => Some(n.clone()),
                            _ => None,
                        },
                    };
                    return match cmd {
                        Some(c) => match crate::builtins::command_help(&c, false) {
                            Ok(text) => Parsed::Print(text),
                            Err(msg) => Parsed::Fail(msg),
                        },
                        None => Parsed::Print(crate::builtins::list_commands()),
                    };
                }
                (Some('i'), _) => o.inspector = true,
                (Some('m'), _) => o.mounts.push(MountOpt::parse(&v_str())),
                (Some('n'), _) => o.no_sync = true,
                (Some('N'), _) => {
                    let arg = v_str();
                    if ["list", "help", "h", "?"]
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(&arg))
                    {
                        return Parsed::Print(crate::prep::list_prepared_drives());
                    }
                    let (filename, spec) = match arg.split_once('=') {
                        Some((f, t)) => (f.to_string(), t.to_string()),
                        None => (format!("test{next_prepared}.img"), arg.clone()),
                    };
                    if let Err(e) = crate::prep::Prep::parse(&spec) {
                        return Parsed::Fail(format!("{PROG}: {e}"));
                    }
                    o.drives.push(DriveOpt::New { filename, spec });
                    next_prepared += 1;
                }
                (Some('r'), _) => o.read_only = true,
                (Some('v'), _) => o.verbose = true,
                (Some('V'), _) => {
                    return Parsed::Print(format!("{PROG} {}\n", env!("CARGO_PKG_VERSION")));
                }
                (Some('w'), _) => {
                    if o.read_only {
                        return Parsed::Fail(format!("{PROG}: cannot mix --ro and --rw options"));
                    }
                }
                (Some('x'), _) => o.trace = true,
                (None, Some("help")) => return Parsed::Print(usage()),
                (None, Some("long-options")) => {
                    let mut s = String::new();
                    for (n, _, _) in LONG
                        .iter()
                        .filter(|l| l.0 != "long-options" && l.0 != "man")
                    {
                        s.push_str(&format!("--{n}\n"));
                    }
                    return Parsed::Print(s);
                }
                (None, Some("short-options")) => {
                    let s: String = SHORT.iter().map(|(c, _)| format!("-{c}\n")).collect();
                    return Parsed::Print(s);
                }
                (None, Some("man")) => return Parsed::Print(crate::man::man_page()),
                (None, Some("listen")) => o.listen = true,
                (None, Some("remote")) => {
                    let pid = match &v {
                        Some(p) => match leading_int(p) {
                            Some(n) => n,
                            None => {
                                return Parsed::Fail(format!(
                                    "{PROG}: --listen=PID: PID was not a number: {p}"
                                ));
                            }
                        },
                        None => match std::env::var("GUESTFISH_PID")
                            .ok()
                            .and_then(|p| leading_int(&p))
                        {
                            Some(n) => n,
                            None => {
                                return Parsed::Fail(format!(
                                    "{PROG}: remote: $GUESTFISH_PID must be set to the PID of the remote process"
                                ));
                            }
                        },
                    };
                    o.remote = Some(pid);
                }
                (None, Some("selinux")) => {}
                (None, Some("keys-from-stdin")) => o.keys_from_stdin = true,
                (None, Some("progress-bars")) => o.progress_bars = Some(true),
                (None, Some("no-progress-bars")) => o.progress_bars = Some(false),
                (None, Some("echo-keys")) => o.echo_keys = true,
                (None, Some("format")) => {
                    format = v.filter(|f| !f.is_empty());
                    format_consumed = false;
                }
                (None, Some("blocksize")) => {
                    blocksize = match v.as_deref() {
                        None | Some("") => None,
                        Some(b) => match leading_int(b) {
                            Some(n) => Some(n),
                            None => {
                                return Parsed::Fail(format!(
                                    "{PROG}: --blocksize option is not numeric"
                                ));
                            }
                        },
                    };
                    blocksize_consumed = false;
                }
                (None, Some("csh")) => o.csh = true,
                (None, Some("live")) => {
                    return Parsed::Fail(format!(
                        "{PROG}: libguestfs live support was removed in libguestfs 1.48"
                    ));
                }
                (None, Some("pipe-error")) => o.pipe_error = true,
                (None, Some("network")) => o.network = true,
                (None, Some("no-dest-paths")) => o.complete_dest_paths = false,
                (None, Some("key")) => {
                    let sel = v_str();
                    if let Err(e) = crate::keys::check_selector(&sel) {
                        return Parsed::Fail(format!("{PROG}: {e}"));
                    }
                    o.keys.push(sel);
                }
                (None, Some("engine")) => {
                    let e = v_str();
                    if !["direct", "appliance", "auto"].contains(&e.as_str()) {
                        return Parsed::Usage(format!(
                            "{PROG}: --engine: unknown engine '{e}' (expecting direct, appliance or auto)"
                        ));
                    }
                    o.engine = Some(e);
                }
                (None, Some("backend")) => {
                    let b = v_str();
                    if !["vmm", "qemu"].contains(&b.as_str()) {
                        return Parsed::Usage(format!(
                            "{PROG}: --backend: unknown backend '{b}' (expecting vmm or qemu)"
                        ));
                    }
                    o.backend = Some(b);
                }
                _ => return Parsed::Usage(String::new()),
            }
        }
    }

    // Old-style `gx-fish -i disk.img`: with -i and no drives, the words
    // name images (a path or an existing file) or libvirt domains.
    if o.inspector && o.drives.is_empty() && !rest.is_empty() {
        for w in rest.drain(..) {
            if w.contains('/') || std::path::Path::new(&w).exists() {
                o.drives.push(DriveOpt::Add {
                    path: w,
                    format: None,
                    blocksize: None,
                });
            } else {
                o.drives.push(DriveOpt::Domain(w));
            }
        }
    }
    if !format_consumed {
        return Parsed::Fail(format!(
            "{PROG}: --format parameter must appear before -a parameter"
        ));
    }
    if !blocksize_consumed {
        return Parsed::Fail(format!(
            "{PROG}: --blocksize parameter must appear before -a parameter"
        ));
    }
    o.rest = rest;
    Parsed::Run(Box::new(o))
}

enum LongErr {
    Unknown,
    Ambiguous(Vec<&'static str>),
}

/// A long option by its name or a prefix, as glibc's getopt_long decides:
/// an exact name wins; else the first option the prefix matches, unless
/// another match differs from it in its argument or its value (the short
/// letter, or none; `--help` has a value of its own).
fn find_long(name: &str) -> Result<(&'static str, Has), LongErr> {
    if let Some(l) = LONG.iter().find(|l| l.0 == name) {
        return Ok((l.0, l.1));
    }
    let val = |l: &(&str, Has, Option<char>)| match (l.0, l.2) {
        ("help", _) => 256u32,
        (_, Some(c)) => c as u32,
        (_, None) => 0,
    };
    let mut found: Option<&(&'static str, Has, Option<char>)> = None;
    let mut ambiguous: Vec<&'static str> = Vec::new();
    for l in LONG
        .iter()
        .filter(|l| !name.is_empty() && l.0.starts_with(name) && l.0 != "man")
    {
        match found {
            None => found = Some(l),
            Some(p) if p.1 != l.1 || val(p) != val(l) => {
                if ambiguous.is_empty() {
                    ambiguous.push(p.0);
                }
                ambiguous.push(l.0);
            }
            Some(_) => {}
        }
    }
    match found {
        None => Err(LongErr::Unknown),
        Some(_) if !ambiguous.is_empty() => Err(LongErr::Ambiguous(ambiguous)),
        Some(l) => Ok((l.0, l.1)),
    }
}

/// `sscanf("%d")`: optional blanks, a sign, digits; what follows is ignored.
fn leading_int(s: &str) -> Option<i32> {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end].parse().ok()?;
    i32::try_from(if neg { -n } else { n }).ok()
}

/// `--help`.
pub(crate) fn usage() -> String {
    format!(
        "{p}: guest filesystem shell
{p} lets you edit virtual machine filesystems
Usage:
  {p} [--options] cmd [: cmd : cmd ...]
Options:
  -h|--cmd-help        List available commands
  -h|--cmd-help cmd    Display detailed help on ‘cmd’
  -a|--add image       Add image
  --blocksize[=512|4096]
                       Set sector size of the disk for -a option
  -c|--connect uri     Specify libvirt URI for -d option
  --csh                Make --listen csh-compatible
  -d|--domain guest    Add disks from libvirt guest
  --echo-keys          Don’t turn off echo for passphrases
  --engine direct|appliance|auto
                       Which engine answers: in-process (direct), the
                       appliance VM, or direct with the appliance as
                       fallback (auto, the default; or GX_ENGINE)
  --backend vmm|qemu   How the appliance is run (default: GX_BACKEND, else
                       our VMM on hardware KVM, else QEMU)
  -f|--file file       Read commands from file
  --format[=raw|..]    Force disk format for -a option
  --help               Display brief help
  -i|--inspector       Automatically mount filesystems
  --key selector       Specify a LUKS key
  --keys-from-stdin    Read passphrases from stdin
  --listen             Listen for remote commands
  -m|--mount dev[:mnt[:opts[:fstype]]]
                       Mount dev on mnt (if omitted, /)
  --network            Enable network
  -N|--new [filename=]type
                       Create prepared disk (test<N>.img or filename)
  -n|--no-sync         Don’t autosync
  --no-dest-paths      Don’t tab-complete paths from guest fs
  --pipe-error         Pipe commands can detect write errors
  --progress-bars      Enable progress bars even when not interactive
  --no-progress-bars   Disable progress bars
  --remote[=pid]       Send commands to remote {p}
  -r|--ro              Mount read-only
  --selinux            For backwards compat only, does nothing
  -v|--verbose         Verbose messages
  -V|--version         Display version and exit
  -w|--rw              Mount read-write
  -x                   Echo each command before executing it

To examine a disk image, ISO, hard disk, filesystem etc:
  {p} [--ro|--rw] -i -a /path/to/disk.img
or
  {p} [--ro|--rw] -i -d name-of-libvirt-domain

‘--ro’ is recommended to avoid any writes to the disk image.

If ‘-i’ option fails run again without ‘-i’ and use ‘run’ +
‘list-filesystems’ + ‘mount’ cmds.

For more information, see the manpage {p}(1).
",
        p = PROG
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Opts {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&v) {
            Parsed::Run(o) => *o,
            Parsed::Print(s) | Parsed::Usage(s) | Parsed::Fail(s) => panic!("{s}"),
        }
    }

    fn usage_err(args: &[&str]) -> String {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&v) {
            Parsed::Usage(s) | Parsed::Fail(s) => s,
            _ => panic!("expected an error"),
        }
    }

    #[test]
    fn format_applies_to_later_drives() {
        let o = run(&["-a", "x", "--format=raw", "-a", "y", "--format", "-a", "z"]);
        let f: Vec<Option<String>> = o
            .drives
            .iter()
            .map(|d| match d {
                DriveOpt::Add { format, .. } => format.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(f, vec![None, Some("raw".into()), None]);
        assert_eq!(
            usage_err(&["-a", "x", "--format=raw"]),
            "gx-fish: --format parameter must appear before -a parameter"
        );
    }

    #[test]
    fn getopt_forms() {
        let o = run(&["-rvx", "-ax.img", "cat", "/etc/fstab", "-i", "--", "-x"]);
        assert!(o.read_only && o.verbose && o.trace && o.inspector);
        assert_eq!(o.rest, vec!["cat", "/etc/fstab", "-x"]);
        let o = run(&["--ro", "--ins", "--add=a.img", "--mount", "/dev/sda1:/boot"]);
        assert!(o.inspector && o.read_only);
        assert_eq!(o.mounts[0].mountpoint, "/boot");
        assert_eq!(o.mounts[0].options, None);
        assert_eq!(usage_err(&["-z"]), "gx-fish: invalid option -- 'z'");
        assert_eq!(
            usage_err(&["--bogus"]),
            "gx-fish: unrecognized option '--bogus'"
        );
        assert_eq!(
            usage_err(&["-a"]),
            "gx-fish: option requires an argument -- 'a'"
        );
        assert_eq!(
            usage_err(&["--add"]),
            "gx-fish: option '--add' requires an argument"
        );
        assert_eq!(
            usage_err(&["--ro=1"]),
            "gx-fish: option '--ro' doesn't allow an argument"
        );
        assert_eq!(
            usage_err(&["--no"]),
            "gx-fish: option '--no' is ambiguous; possibilities: '--no-dest-paths' '--no-sync'"
        );
        assert_eq!(
            usage_err(&["--n"]),
            "gx-fish: option '--n' is ambiguous; possibilities: '--network' '--new' '--no-sync'"
        );
        assert!(run(&["--li"]).listen);
        assert_eq!(
            usage_err(&["--ro", "--rw"]),
            "gx-fish: cannot mix --ro and --rw options"
        );
        assert!(run(&["--rw", "--ro"]).read_only);
    }

    #[test]
    fn old_style_inspector() {
        let o = run(&["-i", "./disk.img"]);
        assert_eq!(
            o.drives,
            vec![DriveOpt::Add {
                path: "./disk.img".into(),
                format: None,
                blocksize: None
            }]
        );
        assert!(o.rest.is_empty());
    }

    #[test]
    fn prepared_names() {
        let o = run(&["-N", "fs", "-N", "b.img=disk:10M", "-N", "lv"]);
        let names: Vec<String> = o
            .drives
            .iter()
            .map(|d| match d {
                DriveOpt::New { filename, .. } => filename.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(names, ["test1.img", "b.img", "test3.img"]);
        assert!(usage_err(&["-N", "nosuch"]).contains("no such prepared disk image known"));
    }

    #[test]
    fn remote_pid() {
        assert_eq!(run(&["--remote=123", "echo"]).remote, Some(123));
        assert!(usage_err(&["--remote=x"]).contains("PID was not a number: x"));
        assert_eq!(leading_int(" 42abc"), Some(42));
    }
}

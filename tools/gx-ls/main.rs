//! gx-ls: list files in a virtual machine, like virt-ls (same options, same
//! output). Plain mode is `ls`, `-l` is `ll`, `-R` is `find`, and `-lR` is a
//! parseable recursive long listing.

use anyhow::{Result, bail};
use clap::{Arg, ArgAction};
use gx_cli::{Common, Features, human::human, output};
use gx_guestfs::{FileType, Handle, StatExt, StatNs};
use std::io::{BufWriter, Write};

fn main() {
    gx_cli::run("gx-ls", real_main)
}

struct Opts {
    csv: bool,
    human: bool,
    uids: bool,
    times: bool,
    time_t: bool,
    /// 0 absolute, 1 seconds before now, 2 days before now.
    relative: u8,
    extra: bool,
    checksum: Option<String>,
    now: i64,
}

fn flag(name: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue)
}

fn real_main() -> Result<i32> {
    let cmd = gx_cli::command(
        "gx-ls",
        "list files in a virtual machine",
        Features {
            mount: true,
            ..Default::default()
        },
    )
    .arg(
        Arg::new("long")
            .short('l')
            .long("long")
            .action(ArgAction::SetTrue)
            .help("Long listing"),
    )
    .arg(
        Arg::new("recursive")
            .short('R')
            .long("recursive")
            .action(ArgAction::SetTrue)
            .help("Recursive listing"),
    )
    .arg(
        Arg::new("human")
            .short('h')
            .long("human-readable")
            .action(ArgAction::SetTrue)
            .help("Human-readable sizes in output"),
    )
    .arg(flag("csv").help("Comma-Separated Values output"))
    .arg(flag("uids").alias("uid").help("Display UID, GID"))
    .arg(flag("times").alias("time").help("Display file times"))
    .arg(flag("time-t").help("Display file times as time_t's"))
    .arg(flag("time-relative").help("Display file times as seconds before now"))
    .arg(flag("time-days").help("Display file times as days before now"))
    .arg(
        flag("extra-stats")
            .alias("extra-stat")
            .help("Display extra stats"),
    )
    .arg(
        Arg::new("checksum")
            .long("checksum")
            .alias("checksums")
            .value_name("crc|md5|sha1|sha224|sha256|sha384|sha512")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("md5")
            .help("Display file checksums"),
    )
    .arg(
        Arg::new("dirs")
            .value_name("dir")
            .num_args(0..)
            .action(ArgAction::Append),
    );
    let m = gx_cli::parse(cmd);
    let mut common = Common::from_matches(&m)?;
    let mut dirs: Vec<String> = m
        .get_many::<String>("dirs")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();

    // Old-style `tool disk.img dir`: leading arguments name the drives.
    common.take_positional_drives(&mut dirs, 1);

    let long = m.get_flag("long");
    let recursive = m.get_flag("recursive");
    let time_days = m.get_flag("time-days");
    let time_relative = m.get_flag("time-relative");
    let time_t = m.get_flag("time-t") || time_relative || time_days;
    let opts = Opts {
        csv: m.get_flag("csv"),
        human: m.get_flag("human"),
        uids: m.get_flag("uids"),
        times: m.get_flag("times") || time_t,
        time_t,
        relative: if time_days {
            2
        } else if time_relative {
            1
        } else {
            0
        },
        extra: m.get_flag("extra-stats"),
        checksum: m.get_one::<String>("checksum").cloned(),
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    let lr_only =
        opts.csv || opts.human || opts.uids || opts.times || opts.extra || opts.checksum.is_some();
    if !(long && recursive) && lr_only {
        bail!(
            "used a flag which can only be combined with -lR mode\nFor more information, read the virt-ls(1) man page."
        );
    }
    if opts.human && opts.csv {
        bail!("you cannot use -h and --csv options together.");
    }
    if dirs.is_empty() {
        bail!("you must give at least one directory to list (try --help)");
    }
    if common.drives.is_empty() {
        bail!("you must specify at least one -a or -d option.");
    }
    let mut g = common.launch(true)?;
    if common.mounts.is_empty() {
        // No -m: inspect and mount the guest as it would mount itself.
        gx_cli::inspect::inspect_and_mount(&mut g)?;
    }

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut errors = 0;
    for dir in &dirs {
        let r = match (long, recursive) {
            (false, false) => g.ls(dir).and_then(|names| {
                for n in names {
                    writeln!(out, "{n}").map_err(io_err)?;
                }
                Ok(())
            }),
            (true, false) => g
                .ll(dir)
                .and_then(|s| out.write_all(s.as_bytes()).map_err(io_err)),
            (false, true) => g.find(dir).and_then(|names| {
                for n in names {
                    writeln!(out, "{n}").map_err(io_err)?;
                }
                Ok(())
            }),
            (true, true) => visit(&g, dir, &opts, &mut out),
        };
        if let Err(e) = r {
            if e.kind() == gx_guestfs::ErrorKind::Io && e.message().contains("stdout") {
                return Err(e.into());
            }
            out.flush()?;
            eprintln!("gx-ls: error: {e}");
            errors += 1;
        }
    }
    out.flush()?;
    Ok(if errors == 0 { 0 } else { 1 })
}

fn io_err(e: std::io::Error) -> gx_guestfs::Error {
    gx_guestfs::Error::io("writing to stdout", e)
}

/// The `-lR` walk: the directory itself, then each entry in sorted order,
/// descending into directories as it meets them (libguestfs's `visit`).
fn visit(g: &Handle, dir: &str, o: &Opts, out: &mut dyn Write) -> gx_guestfs::Result<()> {
    let st = g.lstatns(dir)?;
    show(g, dir, None, &st, o, out)?;
    let mut seen = std::collections::HashSet::new();
    seen.insert((st.st_dev, st.st_ino));
    walk(g, dir, o, out, &mut seen, 0)
}

fn walk(
    g: &Handle,
    dir: &str,
    o: &Opts,
    out: &mut dyn Write,
    seen: &mut std::collections::HashSet<(i64, i64)>,
    depth: usize,
) -> gx_guestfs::Result<()> {
    if depth > 4096 {
        return Err(gx_guestfs::Error::corrupt(format!(
            "{dir}: directory tree too deep (a loop?)"
        )));
    }
    let names = g.ls(dir)?;
    let stats = g.lstatnslist(dir, &names)?;
    for (name, st) in names.iter().zip(stats) {
        show(g, dir, Some(name), &st, o, out)?;
        if st.file_type() == FileType::Directory {
            if st.st_ino != 0 && !seen.insert((st.st_dev, st.st_ino)) {
                return Err(gx_guestfs::Error::corrupt(format!(
                    "{}: directory loop (inode {} seen twice)",
                    gx_guestfs::path::child(dir, name),
                    st.st_ino
                )));
            }
            walk(
                g,
                &gx_guestfs::path::child(dir, name),
                o,
                out,
                seen,
                depth + 1,
            )?;
        }
    }
    Ok(())
}

fn show(
    g: &Handle,
    dir: &str,
    name: Option<&str>,
    st: &StatNs,
    o: &Opts,
    out: &mut dyn Write,
) -> gx_guestfs::Result<()> {
    let mut fields: Vec<String> = Vec::new();
    let ft = st.file_type();
    let t = match ft {
        FileType::Regular => "-",
        FileType::Directory => "d",
        FileType::CharDevice => "c",
        FileType::BlockDevice => "b",
        FileType::Fifo => "p",
        FileType::Symlink => "l",
        FileType::Socket => "s",
        FileType::Unknown => "u",
    };
    fields.push(t.to_string());
    fields.push(format!("{:04o}", st.perm()));
    let size = if o.human {
        human(u64::try_from(st.st_size).unwrap_or(0), 1)
    } else {
        st.st_size.to_string()
    };
    fields.push(if o.csv { size } else { format!("{size:>10}") });
    // virt-ls pads uids and time_t values to fixed widths in CSV output too.
    let pad = |s: String, w: usize| format!("{s:>w$}");
    if o.uids {
        fields.push(pad(st.st_uid.to_string(), 4));
        fields.push(pad(st.st_gid.to_string(), 4));
    }
    if o.times {
        for ts in [st.atime(), st.mtime(), st.ctime()] {
            fields.push(if o.time_t {
                match o.relative {
                    0 => pad(ts.sec.to_string(), 10),
                    1 => pad((o.now - ts.sec).to_string(), 8),
                    _ => pad(((o.now - ts.sec) / 86400).to_string(), 3),
                }
            } else {
                output::local_time(ts.sec)
            });
        }
    }
    if o.extra {
        let dev = |d: i64| {
            let d = d as u64;
            format!(
                "{}:{}",
                ((d >> 8) & 0xfff) | ((d >> 32) & !0xfff),
                (d & 0xff) | ((d >> 12) & !0xff)
            )
        };
        fields.push(dev(st.st_dev));
        fields.push(st.st_ino.to_string());
        fields.push(st.st_nlink.to_string());
        fields.push(dev(st.st_rdev));
        fields.push(st.st_blocks.to_string());
    }
    let path = match name {
        None => dir.to_string(),
        Some(n) => gx_guestfs::path::child(dir, n),
    };
    if let Some(kind) = &o.checksum {
        if ft == FileType::Regular {
            fields.push(quote(&g.checksum(kind, &path)?, o));
        } else if o.csv {
            fields.push(String::new());
        }
    }
    fields.push(quote(&path, o));
    if ft == FileType::Symlink {
        if let Ok(link) = g.readlink(&path) {
            fields.push(if o.csv {
                quote(&link, o)
            } else {
                format!("-> {link}")
            });
        }
    }
    let sep = if o.csv { "," } else { " " };
    writeln!(out, "{}", fields.join(sep)).map_err(io_err)
}

fn quote(s: &str, o: &Opts) -> String {
    if o.csv {
        output::csv_field(s)
    } else {
        s.to_string()
    }
}

//! gx-ls: list files in a virtual machine, like virt-ls (same options, same
//! output). Plain mode is `ls`, `-l` is `ll`, `-R` is `find`, and `-lR` is a
//! parseable recursive long listing.

use anyhow::{Result, bail};
use gx_cli::{Common, human::human, json::Value, output};
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
    /// `--json`: entries as JSON lines; whether one was written yet.
    json: Option<std::cell::Cell<bool>>,
}

fn real_main() -> Result<i32> {
    let cmd = gx_tools::cli::ls::command();
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
        json: m.get_flag("json").then(|| std::cell::Cell::new(false)),
    };
    let lr_only =
        opts.csv || opts.human || opts.uids || opts.times || opts.extra || opts.checksum.is_some();
    if !(long && recursive) && lr_only && !(opts.json.is_some() && opts.checksum.is_some()) {
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
    if opts.json.is_some() {
        write!(out, "{{\n  \"entries\": [").map_err(io_err)?;
    }
    for dir in &dirs {
        let r = match (long, recursive) {
            _ if opts.json.is_some() && recursive => visit(&g, dir, &opts, &mut out),
            _ if opts.json.is_some() => list_json(&g, dir, &opts, &mut out),
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
    if opts.json.is_some() {
        writeln!(out, "\n  ]\n}}").map_err(io_err)?;
    }
    out.flush()?;
    Ok(if errors == 0 { 0 } else { 1 })
}

/// `--json` without -R: the entries of `dir`.
fn list_json(g: &Handle, dir: &str, o: &Opts, out: &mut dyn Write) -> gx_guestfs::Result<()> {
    let names = g.ls(dir)?;
    let stats = g.lstatnslist(dir, &names)?;
    for (name, st) in names.iter().zip(stats) {
        show(g, dir, Some(name), &st, o, out)?;
    }
    Ok(())
}

/// One `--json` entry (schema in the option's help), on its own line.
fn show_json(
    g: &Handle,
    path: &str,
    st: &StatNs,
    o: &Opts,
    out: &mut dyn Write,
) -> gx_guestfs::Result<()> {
    let ft = st.file_type();
    let mut e = Value::object();
    e.push("path", path);
    e.push(
        "type",
        match ft {
            FileType::Regular => "regular",
            FileType::Directory => "directory",
            FileType::Symlink => "symlink",
            FileType::CharDevice => "chardev",
            FileType::BlockDevice => "blockdev",
            FileType::Fifo => "fifo",
            FileType::Socket => "socket",
            FileType::Unknown => "unknown",
        },
    );
    e.push("mode", st.st_mode & 0o7777);
    e.push("size", st.st_size);
    e.push("uid", st.st_uid);
    e.push("gid", st.st_gid);
    e.push("atime", st.st_atime_sec);
    e.push("mtime", st.st_mtime_sec);
    e.push("ctime", st.st_ctime_sec);
    e.push("dev", st.st_dev);
    e.push("ino", st.st_ino);
    e.push("nlink", st.st_nlink);
    e.push("rdev", st.st_rdev);
    e.push("blocks", st.st_blocks);
    let link = if ft == FileType::Symlink {
        g.readlink(path).ok()
    } else {
        None
    };
    e.push("link", link);
    let sum = match &o.checksum {
        Some(kind) if ft == FileType::Regular => Some(g.checksum(kind, path)?),
        _ => None,
    };
    e.push("checksum", sum);
    let first = o.json.as_ref().is_some_and(|f| !f.replace(true));
    let sep = if first { "\n    " } else { ",\n    " };
    write!(out, "{sep}{}", e.to_compact()).map_err(io_err)
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
    if o.json.is_some() {
        let path = match name {
            None => dir.to_string(),
            Some(n) => gx_guestfs::path::child(dir, n),
        };
        return show_json(g, &path, st, o, out);
    }
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

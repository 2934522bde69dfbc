//! gx-df: display free space on virtual filesystems, like virt-df (same
//! options, same columns, same Use% rounding).

use anyhow::{Result, bail};
use gx_cli::{Common, DriveArg, Source, human::human, json::Value, output::csv_field};
use gx_guestfs::{Handle, StatVfs};
use std::io::Write;

fn main() {
    gx_cli::run("gx-df", real_main)
}

struct Opts {
    csv: bool,
    human: bool,
    inodes: bool,
    uuid: bool,
    json: bool,
}

fn real_main() -> Result<i32> {
    let cmd = gx_tools::cli::df::command();
    let m = gx_cli::parse(cmd);
    let mut common = Common::from_matches(&m)?;
    // Old style: `gx-df disk.img` or `gx-df domname`.
    if let Some(rest) = m.get_many::<String>("disks") {
        if !common.drives.is_empty() {
            bail!("extra parameter on the command line (give disks with -a or domains with -d)");
        }
        let mut rest: Vec<String> = rest.cloned().collect();
        common.take_positional_drives(&mut rest, 0);
    }
    let o = Opts {
        csv: m.get_flag("csv"),
        human: m.get_flag("human"),
        inodes: m.get_flag("inodes"),
        uuid: m.get_flag("uuid"),
        json: m.get_flag("json"),
    };
    if o.human && o.csv {
        bail!("you cannot use -h and --csv options together.");
    }
    if common.drives.is_empty() {
        return df_all_domains(&common, &o);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let name = common.display_name();
    if o.json {
        let mut g = common.launch(true)?;
        let mut doc = Value::object();
        doc.push("filesystems", df_json(&mut g, &name)?);
        out.write_all(doc.to_pretty().as_bytes())?;
        out.flush()?;
        return Ok(0);
    }
    print_title(&o, &mut out)?;
    let mut g = common.launch(true)?;
    df_on_handle(&mut g, &name, &o, &mut out)?;
    out.flush()?;
    Ok(0)
}

/// No -a or -d: every libvirt domain of `-c` in turn, by name, as virt-df
/// does. As virt-df, a domain whose disks cannot be added (none, or
/// missing) is passed over with a message, and a failure after that makes
/// the exit status 1 without stopping the others.
fn df_all_domains(common: &Common, o: &Opts) -> Result<i32> {
    let uri = common.connect.as_deref();
    let names = gx_cli::domain::list_all(uri)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut list = Vec::new();
    if !o.json {
        print_title(o, &mut out)?;
    }
    let mut rc = 0;
    for name in names {
        let dom = match gx_cli::domain::load(&name, uri) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("gx-df: {name}: {e:#}");
                continue;
            }
        };
        if let Some((d, e)) = dom
            .disks
            .iter()
            .find_map(|d| std::fs::metadata(&d.path).err().map(|e| (d, e)))
        {
            eprintln!("gx-df: {name}: {}: {e}", d.path.display());
            continue;
        }
        let mut one = common.clone();
        one.drives = vec![DriveArg {
            source: Source::Domain(name.clone()),
            format: None,
        }];
        let shown = match (&dom.uuid, o.uuid) {
            (Some(u), true) => u.clone(),
            _ => name.clone(),
        };
        let mut buf = Vec::new();
        let r = one.launch(true).and_then(|mut g| {
            if o.json {
                list.extend(df_json(&mut g, &name)?);
                Ok(())
            } else {
                df_on_handle(&mut g, &shown, o, &mut buf)
            }
        });
        out.write_all(&buf)?;
        if let Err(e) = r {
            eprintln!("gx-df: error: {name}: {e:#}");
            rc = 1;
        }
    }
    if o.json {
        let mut doc = Value::object();
        doc.push("filesystems", list);
        out.write_all(doc.to_pretty().as_bytes())?;
    }
    out.flush()?;
    Ok(rc)
}

/// The `--json` document's list (its schema is in the option's help).
fn df_json(g: &mut Handle, name: &str) -> Result<Vec<Value>> {
    let mut list = Vec::new();
    for (dev, fstype, st) in mounted_stats(g)? {
        let u = |n: i64| u64::try_from(n).unwrap_or(0);
        let bytes = |n: i64| u(n).saturating_mul(u(st.bsize));
        let mut f = Value::object();
        f.push("virtual_machine", name);
        f.push("filesystem", dev);
        f.push("vfs_type", fstype);
        f.push("block_size", st.bsize);
        f.push("size_bytes", bytes(st.blocks));
        f.push(
            "used_bytes",
            u(st.blocks)
                .saturating_sub(u(st.bfree))
                .saturating_mul(u(st.bsize)),
        );
        f.push("available_bytes", bytes(st.bavail));
        f.push("inodes", st.files);
        f.push("inodes_used", u(st.files).saturating_sub(u(st.ffree)));
        f.push("inodes_free", st.ffree);
        list.push(f);
    }
    Ok(list)
}

fn print_title(o: &Opts, out: &mut dyn Write) -> Result<()> {
    let cols: [&str; 6] = if !o.inodes {
        [
            "VirtualMachine",
            "Filesystem",
            if o.human { "Size" } else { "1K-blocks" },
            "Used",
            "Available",
            "Use%",
        ]
    } else {
        [
            "VirtualMachine",
            "Filesystem",
            "Inodes",
            "IUsed",
            "IFree",
            "IUse%",
        ]
    };
    if !o.csv {
        writeln!(
            out,
            "{:<36}{:>10} {:>10} {:>10} {:>5}",
            cols[1], cols[2], cols[3], cols[4], cols[5]
        )?;
    } else {
        let line: Vec<String> = cols.iter().map(|c| csv_field(c)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

fn df_on_handle(g: &mut Handle, name: &str, o: &Opts, out: &mut dyn Write) -> Result<()> {
    for (dev, _, st) in mounted_stats(g)? {
        print_stat(out, name, &dev, &st, o)?;
    }
    Ok(())
}

/// Each filesystem with its type and statvfs, in list_filesystems order.
fn mounted_stats(g: &mut Handle) -> Result<Vec<(String, String, StatVfs)>> {
    let mut out = Vec::new();
    for (dev, fstype) in g.list_filesystems()? {
        if fstype.is_empty() || fstype == "swap" || fstype == "unknown" {
            continue;
        }
        let st = g.mount_ro(&dev, "/").and_then(|()| g.statvfs("/"));
        g.umount_all()?;
        match st {
            Ok(st) => out.push((dev, fstype, st)),
            // virt-df skips what it cannot mount, silently; say why on stderr.
            Err(e) => eprintln!("gx-df: note: {dev} ({fstype}) skipped: {e}"),
        }
    }
    Ok(out)
}

/// `n` units of `from` bytes in units of `to` bytes, as virt-df's `scale`.
fn scale(n: u64, from: u64, to: u64) -> u64 {
    if from >= to {
        n.saturating_mul(from / to.max(1))
    } else {
        n / (to / from.max(1))
    }
}

fn print_stat(out: &mut dyn Write, name: &str, dev: &str, st: &StatVfs, o: &Opts) -> Result<()> {
    // The API's counts are signed; a negative one would be a broken peer.
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    let (cols, percent): ([String; 3], f32) = if !o.inodes {
        let used = u(st.blocks).saturating_sub(u(st.bfree));
        let cols = if !o.human {
            [
                scale(u(st.blocks), u(st.bsize), 1024).to_string(),
                scale(used, u(st.bsize), 1024).to_string(),
                scale(u(st.bavail), u(st.bsize), 1024).to_string(),
            ]
        } else {
            [
                human(u(st.blocks), u(st.bsize)),
                human(used, u(st.bsize)),
                human(u(st.bavail), u(st.bsize)),
            ]
        };
        // virt-df computes in double and stores in a float: keep both steps.
        let p = if u(st.blocks) != 0 {
            (100.0 - 100.0 * u(st.bfree) as f64 / u(st.blocks) as f64) as f32
        } else {
            0.0
        };
        (cols, p)
    } else {
        let cols = [
            u(st.files).to_string(),
            u(st.files).saturating_sub(u(st.ffree)).to_string(),
            u(st.ffree).to_string(),
        ];
        let p = if u(st.files) != 0 {
            (100.0 - 100.0 * u(st.ffree) as f64 / u(st.files) as f64) as f32
        } else {
            0.0
        };
        (cols, p)
    };
    if !o.csv {
        let pct = format!("{:3.0}%", f64::from(percent).ceil());
        let label = format!("{name}:{dev}");
        if label.len() <= 36 {
            write!(out, "{label:<36}")?;
        } else {
            write!(out, "{label}\n{:36}", "")?;
        }
        writeln!(
            out,
            "{:>10} {:>10} {:>10} {:>5}",
            cols[0], cols[1], cols[2], pct
        )?;
    } else {
        let pct = format!("{:.1}", f64::from(percent));
        let _ = o.uuid;
        writeln!(
            out,
            "{},{},{},{},{},{}",
            csv_field(name),
            csv_field(dev),
            csv_field(&cols[0]),
            csv_field(&cols[1]),
            csv_field(&cols[2]),
            csv_field(&pct)
        )?;
    }
    Ok(())
}

//! gx-filesystems: list filesystems, partitions and block devices in a
//! virtual machine or disk image, like virt-filesystems (same options,
//! columns and layout).

use anyhow::{Result, bail};
use gx_cli::{Common, human::human, json::Value, output::csv_field};
use gx_guestfs::{DeviceKind, Handle};

fn main() {
    gx_cli::run("gx-filesystems", real_main)
}

const OUT_FS: u32 = 1;
const OUT_FS_EXTRA: u32 = 2;
const OUT_PARTS: u32 = 4;
const OUT_DEVS: u32 = 8;
const OUT_LVM: u32 = 16;

/// Columns in display order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    Type,
    Vfs,
    Label,
    Mbr,
    Size,
    Parent,
    Uuid,
}

struct Out {
    cols: Vec<Col>,
    csv: bool,
    human: bool,
    rows: Vec<Vec<Option<String>>>,
    /// `--json`: the rows as objects instead.
    json: Option<Vec<Value>>,
}

fn real_main() -> Result<i32> {
    let cmd = gx_tools::cli::filesystems::command();
    let m = gx_cli::parse(cmd);
    let common = Common::from_matches(&m)?;
    let csv = m.get_flag("csv");
    let human_sizes = m.get_flag("human");
    if human_sizes && csv {
        bail!("you cannot use -h and --csv options together.");
    }
    let mut output = 0;
    if m.get_flag("all") {
        output = OUT_FS | OUT_FS_EXTRA | OUT_PARTS | OUT_DEVS | OUT_LVM;
    }
    if m.get_flag("filesystems") {
        output |= OUT_FS;
    }
    if m.get_flag("extra") {
        output |= OUT_FS | OUT_FS_EXTRA;
    }
    if m.get_flag("parts") {
        output |= OUT_PARTS;
    }
    if m.get_flag("blkdevs") {
        output |= OUT_DEVS;
    }
    if m.get_flag("lvs") || m.get_flag("vgs") || m.get_flag("pvs") {
        output |= OUT_LVM;
    }
    if output == 0 {
        output = OUT_FS;
    }
    let json = m.get_flag("json");
    let long = m.get_flag("long");
    let mut cols = vec![Col::Name];
    if json {
        // Every field, whatever is selected (see --json's help).
        cols = vec![
            Col::Name,
            Col::Type,
            Col::Vfs,
            Col::Label,
            Col::Mbr,
            Col::Size,
            Col::Parent,
            Col::Uuid,
        ];
    } else if long {
        cols.push(Col::Type);
        if output & OUT_FS != 0 {
            cols.push(Col::Vfs);
            cols.push(Col::Label);
        }
        if output & OUT_PARTS != 0 {
            cols.push(Col::Mbr);
        }
        cols.push(Col::Size);
        cols.push(Col::Parent);
        if m.get_flag("uuid") {
            cols.push(Col::Uuid);
        }
    }
    let mut g = common.launch(true)?;
    let mut out = Out {
        cols,
        csv,
        human: human_sizes,
        rows: Vec::new(),
        json: json.then(Vec::new),
    };
    if long && !json && !m.get_flag("no-title") {
        let heads = out.cols.iter().map(|c| {
            Some(
                match c {
                    Col::Name => "Name",
                    Col::Type => "Type",
                    Col::Vfs => "VFS",
                    Col::Label => "Label",
                    Col::Mbr => "MBR",
                    Col::Size => "Size",
                    Col::Parent => "Parent",
                    Col::Uuid => "UUID",
                }
                .to_string(),
            )
        });
        out.rows.push(heads.collect());
    }
    if output & OUT_FS != 0 {
        filesystems(&mut g, &mut out, output & OUT_FS_EXTRA != 0)?;
    }
    if output & OUT_LVM != 0 {
        lvm(&g, &mut out)?;
    }
    if output & OUT_PARTS != 0 {
        for p in g.list_partitions()? {
            let (parent, size, mbr) = match g.device_kind(&p)? {
                DeviceKind::Partition {
                    parent,
                    size,
                    mbr_id,
                    ..
                } => (parent, size, mbr_id),
                DeviceKind::Device { size, .. } => (String::new(), size, None),
            };
            out.row(&p, "partition", None, None, mbr, Some(size), &parent, None);
        }
    }
    if output & OUT_DEVS != 0 {
        for d in g.list_devices()? {
            let size = u64::try_from(g.blockdev_getsize64(&d)?).unwrap_or(0);
            out.row(&d, "device", None, None, None, Some(size), "", None);
        }
    }
    out.print();
    Ok(0)
}

/// LVs, then VGs, then PVs, as virt-filesystems lists them: an LV's parent
/// is its VG, a VG's parents are its PVs (in the VG's metadata order).
fn lvm(g: &Handle, out: &mut Out) -> Result<()> {
    let need_uuid = out.cols.contains(&Col::Uuid);
    for lv in g.lvs()? {
        let size = g.blockdev_getsize64(&lv)?;
        let uuid = if need_uuid {
            Some(g.lvuuid(&lv)?)
        } else {
            None
        };
        let parent = lv
            .rsplit_once('/')
            .map_or(lv.as_str(), |(vg, _)| vg)
            .to_string();
        out.row(
            &lv,
            "lv",
            None,
            None,
            None,
            Some(u64::try_from(size).unwrap_or(0)),
            &parent,
            uuid.as_deref(),
        );
    }
    let pvs = g.pvs_full()?;
    for vg in g.vgs_full()? {
        let parents: Vec<String> = g
            .vgpvuuids(&vg.vg_name)?
            .iter()
            .map(|u| {
                let plain: String = u.chars().filter(char::is_ascii_alphanumeric).collect();
                pvs.iter()
                    .find(|p| p.pv_uuid == plain)
                    .map(|p| g.canonical_device_name(&p.pv_name))
                    .unwrap_or(plain)
            })
            .collect();
        let name = format!("/dev/{}", vg.vg_name);
        out.row(
            &name,
            "vg",
            None,
            None,
            None,
            Some(vg.vg_size),
            &parents.join(","),
            Some(&vg.vg_uuid),
        );
    }
    for pv in &pvs {
        let name = g.canonical_device_name(&pv.pv_name);
        out.row(
            &name,
            "pv",
            None,
            None,
            None,
            Some(pv.pv_size),
            "",
            Some(&pv.pv_uuid),
        );
    }
    Ok(())
}

fn filesystems(g: &mut Handle, out: &mut Out, extra: bool) -> Result<()> {
    let need = |c| out.cols.contains(&c);
    let (want_label, want_uuid, want_size) = (need(Col::Label), need(Col::Uuid), need(Col::Size));
    for (dev, fstype) in g.list_filesystems()? {
        if !extra && (fstype == "swap" || fstype == "unknown") {
            continue;
        }
        let dev = g.canonical_device_name(&dev);
        let label = want_label.then(|| g.vfs_label(&dev).unwrap_or_default());
        let uuid = want_uuid.then(|| g.vfs_uuid(&dev).unwrap_or_default());
        let size = if want_size {
            // The filesystem's own size where it can be mounted, else the device's.
            let st = g.mount_ro(&dev, "/").and_then(|()| g.statvfs("/"));
            g.umount_all()?;
            let size = match st {
                Ok(st) => st.blocks.saturating_mul(st.bsize),
                Err(_) => g.blockdev_getsize64(&dev)?,
            };
            Some(u64::try_from(size).unwrap_or(0))
        } else {
            None
        };
        out.row(
            &dev,
            "filesystem",
            Some(&fstype),
            label.as_deref(),
            None,
            size,
            "",
            uuid.as_deref(),
        );
    }
    Ok(())
}

impl Out {
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        name: &str,
        kind: &str,
        vfs: Option<&str>,
        label: Option<&str>,
        mbr: Option<u8>,
        size: Option<u64>,
        parent: &str,
        uuid: Option<&str>,
    ) {
        if let Some(list) = &mut self.json {
            let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
            let mut o = Value::object();
            o.push("name", name);
            o.push("type", kind);
            o.push("vfs_type", nonempty(vfs));
            o.push("label", nonempty(label));
            o.push("mbr_id", mbr.map(|m| format!("{m:02x}")));
            o.push("size", size);
            o.push("parent", nonempty(Some(parent)));
            o.push("uuid", nonempty(uuid));
            list.push(o);
            return;
        }
        let human_sizes = self.human;
        let row = self
            .cols
            .iter()
            .map(|c| match c {
                Col::Name => Some(name.to_string()),
                Col::Type => Some(kind.to_string()),
                Col::Vfs => vfs.map(str::to_string),
                Col::Label => label.map(str::to_string),
                Col::Mbr => mbr.map(|m| format!("{m:02x}")),
                Col::Size => size.map(|s| {
                    if human_sizes {
                        human(s, 1)
                    } else {
                        s.to_string()
                    }
                }),
                Col::Parent => Some(parent.to_string()),
                Col::Uuid => uuid.map(str::to_string),
            })
            .collect();
        self.rows.push(row);
    }

    /// CSV rows as they are; text rows in aligned columns, `-` for empty
    /// cells, two spaces between columns unless that passes 72 characters.
    fn print(&self) {
        if let Some(list) = &self.json {
            let mut doc = Value::object();
            doc.push("entries", list.clone());
            print!("{}", doc.to_pretty());
            return;
        }
        if self.csv {
            for r in &self.rows {
                let cells: Vec<String> = r
                    .iter()
                    .map(|c| c.as_deref().map(csv_field).unwrap_or_default())
                    .collect();
                println!("{}", cells.join(","));
            }
            return;
        }
        let n = self.cols.len();
        let mut width = vec![0usize; n];
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(s) = c {
                    width[i] = width[i].max(s.len().max(1));
                }
            }
        }
        // virt-filesystems counts all eight possible columns here, shown or not.
        let total: usize = width.iter().sum::<usize>() + 2 * 8;
        let gap = if total > 72 { 1 } else { 2 };
        for r in &self.rows {
            let mut line = String::new();
            let mut pad = 0;
            for (i, c) in r.iter().enumerate() {
                if width[i] == 0 {
                    continue;
                }
                line.push_str(&" ".repeat(pad));
                let s = match c.as_deref() {
                    None | Some("") => "-",
                    Some(s) => s,
                };
                line.push_str(s);
                pad = width[i] - s.len() + gap;
            }
            println!("{line}");
        }
    }
}

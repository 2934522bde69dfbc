//! Reading the source disk into a [`Source`]: its partition table (our own
//! GPT/MBR reader) and what each partition and LV holds, asked through a
//! read-only [`Handle`] (the direct engine answers; the appliance only for
//! what it cannot read, e.g. the size of a btrfs).

use crate::plan::{Content, LogicalVolume, PartId, SOURCE_NAME_DISK, Source, SourcePartition};
use gx_disk::{BlockDevice, PartitionKind, TableKind};
use gx_guestfs::{Handle, UmountOpts};

/// What virt-resize's `get_partition_content` finds on `dev`; any error
/// means unknown content.
fn content(g: &mut Handle, dev: &str, pvs: &[gx_guestfs::LvmPv]) -> Result<Content, String> {
    let Ok(fs) = g.vfs_type(dev) else {
        return Ok(Content::Unknown);
    };
    match fs.as_str() {
        "unknown" => Ok(Content::Unknown),
        "swap" => Ok(Content::Swap),
        "LVM2_member" => pvs
            .iter()
            .find(|pv| g.canonical_device_name(&pv.pv_name) == dev)
            .map(|pv| Content::Pv(pv.pv_size))
            .ok_or_else(|| format!("{dev}: physical volume not returned by pvs_full")),
        _ => {
            if g.mount_ro(dev, "/").is_err() {
                return Ok(Content::Unknown);
            }
            let st = g.statvfs("/");
            let _ = g.umount("/", UmountOpts::default());
            Ok(match st {
                Ok(st) => {
                    let size = st.bsize.max(0) as u64 * st.blocks.max(0) as u64;
                    Content::Fs(fs, size)
                }
                Err(_) => Content::Unknown,
            })
        }
    }
}

/// Why the source cannot be resized.
#[derive(Debug, thiserror::Error)]
pub enum ExamineError {
    /// A message in virt-resize's words.
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Disk(#[from] gx_disk::Error),
}

/// Read the table and content of the source. `dev` is the source opened
/// read-only; `g` a launched read-only handle on the same image; `name` the
/// input as the user named it.
pub fn examine(dev: &dyn BlockDevice, g: &mut Handle, name: &str) -> Result<Source, ExamineError> {
    let Some(table) = gx_disk::read_partitions(dev)? else {
        return Err(ExamineError::Message(format!(
            "{name}: unknown partition table type\ngx-resize only supports MBR (DOS) and GPT partition tables."
        )));
    };
    let pvs = g.pvs_full().unwrap_or_default();
    let mut partitions = Vec::new();
    for p in &table.partitions {
        // Logical partitions travel inside their extended partition.
        if p.kind == PartitionKind::Logical {
            continue;
        }
        let pname = format!("{SOURCE_NAME_DISK}{}", p.number);
        let id = match table.kind {
            TableKind::Gpt => p.gpt_type.map_or(PartId::None, PartId::Gpt),
            TableKind::Mbr => p.mbr_type.map_or(PartId::None, PartId::Mbr),
        };
        let c = if matches!(id, PartId::Mbr(0x05 | 0x0f)) || p.kind == PartitionKind::Extended {
            Content::Extended
        } else {
            content(g, &pname, &pvs).map_err(ExamineError::Message)?
        };
        let gpt = table.kind == TableKind::Gpt;
        partitions.push(SourcePartition {
            name: pname,
            number: p.number,
            start: p.start,
            size: p.size,
            bootable: p.bootable,
            id,
            content: c,
            label: if gpt { p.name.clone() } else { None },
            guid: if gpt { p.gpt_guid } else { None },
            attributes: gpt.then_some(p.gpt_attributes),
        });
    }
    let mut lvs = Vec::new();
    for lv in g.lvs().unwrap_or_default() {
        let c = content(g, &lv, &pvs).map_err(ExamineError::Message)?;
        lvs.push(LogicalVolume {
            name: lv,
            content: c,
        });
    }
    Ok(Source {
        kind: table.kind,
        disk_id: table.disk_id,
        partitions,
        lvs,
    })
}

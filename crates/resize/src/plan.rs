//! The plan: which partitions are copied, resized, ignored or deleted, where
//! each lands on the output disk, and what the summary says, computed the
//! way virt-resize computes it (surplus and overhead, alignment, the extra
//! partition, `--align-first`), with its error messages word for word.
//!
//! Pure: no I/O. The caller reads the source (table and content) into a
//! [`Source`] and gets back a [`Plan`] or an error whose text is what
//! virt-resize prints after `virt-resize: error: `.

use gx_disk::{DiskId, Guid, TableKind};

/// The source disk's name in messages and partition names (`/dev/sda1`):
/// virt-resize's, whose appliance sees the source first.
pub const SOURCE_NAME_DISK: &str = "/dev/sda";

/// Bytes per sector: the only sector size the table reader and writer know.
pub const SECTOR: u64 = 512;

/// Below this surplus no extra partition is made (virt-resize's 10 MiB).
pub const MIN_EXTRA_PARTITION: u64 = 10 * 1024 * 1024;

/// How much of the start of the disk counts as boot loader (4096 sectors).
pub const MAX_BOOTLOADER: u64 = 4096 * 512;

/// What a partition (or logical volume) holds, as far as resizing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing recognised, or not mountable.
    Unknown,
    /// An LVM physical volume of this many bytes.
    Pv(u64),
    /// A mountable filesystem: its type and size (statvfs `bsize * blocks`).
    Fs(String, u64),
    /// An MBR extended partition (its logical partitions are copied blindly).
    Extended,
    /// Linux swap.
    Swap,
}

impl Content {
    /// As the verbose listing says it (with the size).
    pub fn describe(&self) -> String {
        match self {
            Content::Unknown => "unknown data".into(),
            Content::Pv(sz) => format!("LVM PV ({sz} bytes)"),
            Content::Fs(fs, sz) => format!("filesystem {fs} ({sz} bytes)"),
            Content::Extended => "extended partition".into(),
            Content::Swap => "swap".into(),
        }
    }

    /// As the summary says it.
    pub fn describe_no_size(&self) -> String {
        match self {
            Content::Unknown => "unknown data".into(),
            Content::Pv(_) => "LVM PV".into(),
            Content::Fs(fs, _) => format!("filesystem {fs}"),
            Content::Extended => "extended partition".into(),
            Content::Swap => "swap".into(),
        }
    }
}

/// How content is grown after the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    PvResize,
    Resize2fs,
    NtfsResize,
    BtrfsFilesystemResize,
    XfsGrowfs,
    Mkswap,
    ResizeF2fs,
}

impl Method {
    /// The name the summary and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Method::PvResize => "pvresize",
            Method::Resize2fs => "resize2fs",
            Method::NtfsResize => "ntfsresize",
            Method::BtrfsFilesystemResize => "btrfs-filesystem-resize",
            Method::XfsGrowfs => "xfs_growfs",
            Method::Mkswap => "mkswap",
            Method::ResizeF2fs => "resize.f2fs",
        }
    }
}

/// What happens to a source partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Copied as it is.
    Copy,
    /// Created on the output, contents not copied (left zero).
    Ignore,
    /// Not created; later partitions are renumbered.
    Delete,
    /// Copied, then given this many bytes.
    Resize(u64),
}

/// The partition type as the table stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartId {
    None,
    Mbr(u8),
    Gpt(Guid),
}

/// A source partition (MBR primaries and the extended one; GPT entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePartition {
    /// `/dev/sdaN`.
    pub name: String,
    pub number: u32,
    /// Byte offset and length on the source disk.
    pub start: u64,
    pub size: u64,
    pub bootable: bool,
    pub id: PartId,
    pub content: Content,
    /// GPT partition name.
    pub label: Option<String>,
    /// GPT unique partition GUID.
    pub guid: Option<Guid>,
    /// GPT attribute bits.
    pub attributes: Option<u64>,
}

/// A logical volume on the source (only used with `--LV-expand`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    /// `/dev/VG/LV`.
    pub name: String,
    pub content: Content,
}

/// Everything the plan needs to know about the source disk.
#[derive(Debug, Clone)]
pub struct Source {
    pub kind: TableKind,
    pub disk_id: DiskId,
    pub partitions: Vec<SourcePartition>,
    pub lvs: Vec<LogicalVolume>,
}

/// `--align-first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlignFirst {
    Never,
    Always,
    #[default]
    Auto,
}

/// `--unknown-filesystems`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFs {
    Ignore,
    #[default]
    Warn,
    Error,
}

/// Which optional filesystems the appliance can grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    pub ntfs: bool,
    pub btrfs: bool,
    pub xfs: bool,
    pub f2fs: bool,
}

/// What the user asked for (the options, unparsed where virt-resize parses late).
#[derive(Debug, Clone)]
pub struct Request {
    /// The input disk as named on the command line (for messages).
    pub input_name: String,
    pub expand: Option<String>,
    pub shrink: Option<String>,
    pub resizes: Vec<String>,
    pub resizes_force: Vec<String>,
    pub deletes: Vec<String>,
    pub ignores: Vec<String>,
    pub lv_expands: Vec<String>,
    pub align_first: AlignFirst,
    /// In sectors, at least 1.
    pub alignment: u64,
    pub extra_partition: bool,
    pub expand_content: bool,
    pub unknown_fs: UnknownFs,
    pub available: Available,
}

/// A partition of the output disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its number on the output (`/dev/sdaN`).
    pub number: u32,
    /// First and last sector (inclusive).
    pub start: u64,
    pub end: u64,
    /// Index into [`Plan::partitions`]; `None` for the extra partition.
    pub source: Option<usize>,
}

/// One line of the summary, in the order virt-resize prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SummaryLine {
    /// `virt-resize: TEXT` then a blank line.
    Info(String),
    /// `virt-resize: warning: TEXT`.
    Warning(String),
}

/// The plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub kind: TableKind,
    pub disk_id: DiskId,
    /// The source partitions with what happens to each.
    pub partitions: Vec<(SourcePartition, Op)>,
    /// The logical volumes, and whether each is expanded.
    pub lvs: Vec<(LogicalVolume, bool)>,
    /// The output's partitions in order (deleted ones left out).
    pub targets: Vec<Target>,
    /// Bytes left over (never negative once planned).
    pub surplus: u64,
    /// Move the first partition to `alignment` and fix the NTFS boot record.
    pub align_first_partition: bool,
    pub summary: Vec<SummaryLine>,
    /// Output size in sectors.
    pub out_sectors: u64,
    pub expand_content: bool,
    pub available: Available,
}

/// A plan error: the text virt-resize prints after `error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

type R<T> = std::result::Result<T, PlanError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(PlanError(msg.into()))
}

/// virt-resize's human_size: `100`, `1.1K`, `40.0M`, `1.5G` (one decimal,
/// each step divides an integer count by 1024 first).
pub fn human_size(i: i64) -> String {
    let sign = if i < 0 { "-" } else { "" };
    let i = i.unsigned_abs();
    if i < 1024 {
        return format!("{sign}{i}");
    }
    let f = i as f64 / 1024.0;
    let i = i / 1024;
    if i < 1024 {
        return format!("{sign}{f:.1}K");
    }
    let f = i as f64 / 1024.0;
    let i = i / 1024;
    if i < 1024 {
        return format!("{sign}{f:.1}M");
    }
    let f = i as f64 / 1024.0;
    format!("{sign}{f:.1}G")
}

/// Parse a `--resize` size field against the partition's old size:
/// `10G`, `+1G`, `-200M`, `90%`, `+10%`, `-10%` (b/K/M/G suffixes).
pub fn parse_resize(oldsize: u64, field: &str) -> R<i64> {
    let bad = || PlanError(format!("{field}: cannot parse resize field"));
    let old = i64::try_from(oldsize).map_err(|_| bad())?;
    let (sign, rest) = match field.as_bytes().first() {
        Some(b'+') => (1i64, &field[1..]),
        Some(b'-') => (-1, &field[1..]),
        _ => (0, field),
    };
    let number = |s: &str| -> R<f64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(bad());
        }
        s.parse::<f64>().map_err(|_| bad())
    };
    let value = if let Some(num) = rest.strip_suffix('%') {
        // Tenths of a percent, truncated, as virt-resize computes it.
        let permille = (10.0 * number(num)?) as i64;
        let part = old
            .checked_mul(permille)
            .map(|v| v / 1000)
            .ok_or_else(bad)?;
        if sign == 0 {
            return Ok(part);
        }
        part
    } else {
        let unit = rest.chars().last().ok_or_else(bad)?;
        let mult = match unit {
            'b' => 1.0,
            'K' => 1024.0,
            'M' => 1024.0 * 1024.0,
            'G' => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let n = number(&rest[..rest.len() - 1])?;
        let bytes = (n * mult) as i64;
        if sign == 0 {
            return Ok(bytes);
        }
        bytes
    };
    old.checked_add(sign * value).ok_or_else(bad)
}

/// Round `n` up to a multiple of `align`.
fn roundup(n: u64, align: u64) -> u64 {
    n.div_ceil(align).saturating_mul(align)
}

/// The number of trailing zero bits of a byte offset (64 for 0).
fn alignment_of(n: u64) -> u32 {
    if n == 0 { 64 } else { n.trailing_zeros() }
}

struct Planner<'a> {
    src: &'a Source,
    req: &'a Request,
    ops: Vec<Op>,
    out_size: u64,
}

impl Planner<'_> {
    fn can_expand(&self, c: &Content) -> bool {
        expandable(c, self.req.expand_content, self.req.available)
    }

    /// The partition the user means by `name` (`sda1`, `/dev/vda1`, ...).
    fn find(&self, option: &str, name: &str) -> R<usize> {
        let name = if name.starts_with("/dev/") {
            name.to_string()
        } else {
            format!("/dev/{name}")
        };
        let name = gx_guestfs::path::canonical_device_name(&name);
        let Some(i) = self.src.partitions.iter().position(|p| p.name == name) else {
            return err(format!(
                "{name}: partition not found in the source disk image (this error came from ‘{option}’ option on the command line).  Try running this command: virt-filesystems --partitions --long -a {}",
                self.req.input_name
            ));
        };
        match self.ops[i] {
            Op::Ignore => err(format!(
                "{name}: partition already ignored, you cannot use it in ‘{option}’ option"
            )),
            Op::Delete => err(format!(
                "{name}: partition already deleted, you cannot use it in ‘{option}’ option"
            )),
            _ => Ok(i),
        }
    }

    fn mark_for_resize(&mut self, option: &str, force: bool, i: usize, newsize: u64) -> R<()> {
        let p = &self.src.partitions[i];
        let name = &p.name;
        match self.ops[i] {
            Op::Resize(_) => {
                return err(format!(
                    "{name}: this partition has already been marked for resizing"
                ));
            }
            Op::Ignore | Op::Delete => {
                return err(format!(
                    "{name}: this partition has already been ignored or deleted"
                ));
            }
            Op::Copy => {}
        }
        let oldsize = p.size;
        if oldsize == newsize {
            return Ok(());
        }
        if newsize < oldsize && !force {
            match &p.content {
                Content::Unknown => {
                    return err(format!(
                        "{name}: This partition has unknown content which might be damaged by shrinking it.  If you want to shrink this partition, you need to use the ‘--resize-force’ option, but that could destroy any data on this partition.  (This error came from ‘{option}’ option on the command line.)"
                    ));
                }
                Content::Pv(size) if *size > newsize => {
                    // virt-resize's own message closes this quote with ‘.
                    return err(format!(
                        "{name}: This partition contains an LVM physical volume which will be damaged by shrinking it below {size} bytes (user asked to shrink it to {newsize} bytes).  If you want to shrink this partition, you need to use the ‘--resize-force’ option, but that could destroy any data on this partition.  (This error came from ‘{option}‘ option on the command line.)"
                    ));
                }
                Content::Fs(fstype, size) if *size > newsize => {
                    return err(format!(
                        "{name}: This partition contains a {fstype} filesystem which will be damaged by shrinking it below {size} bytes (user asked to shrink it to {newsize} bytes).  If you want to shrink this partition, you need to use the ‘--resize-force’ option, but that could destroy any data on this partition.  (This error came from ‘{option}’ option on the command line.)"
                    ));
                }
                Content::Extended => {
                    return err(format!(
                        "{name}: This extended partition contains logical partitions which might be damaged by shrinking it.  If you want to shrink this partition, you need to use the ‘--resize-force’ option, but that could destroy logical partitions within this partition.  (This error came from ‘{option}’ option on the command line.)"
                    ));
                }
                _ => {}
            }
        }
        self.ops[i] = Op::Resize(newsize);
        Ok(())
    }

    fn do_resize(&mut self, option: &str, force: bool, arg: &str) -> R<()> {
        let (dev, field) = match arg.split_once('=') {
            Some((d, f)) if !f.is_empty() => (d, f),
            _ => {
                return err(format!("{arg}: missing size field in ‘{option}’ option"));
            }
        };
        let i = self.find(option, dev)?;
        let newsize = parse_resize(self.src.partitions[i].size, field)?;
        if newsize <= 0 {
            return err(format!("{dev}: new partition size is zero or negative"));
        }
        self.mark_for_resize(option, force, i, newsize as u64)
    }

    /// Output size minus what the partitions need and the table overhead;
    /// negative is a deficit.
    fn surplus(&self) -> i128 {
        let parts = &self.src.partitions;
        let gpt_start_sects = 64u64;
        let gpt_end_sects = gpt_start_sects;
        let first_part_start_sects = parts.first().map_or(0, |p| p.start / SECTOR);
        let max_bootloader_sects = MAX_BOOTLOADER / 512;
        let start_overhead = gpt_start_sects
            .max(max_bootloader_sects)
            .max(first_part_start_sects);
        let alignment_sects = i128::from(self.req.alignment) * (parts.len() as i128 + 1);
        let overhead = i128::from(SECTOR)
            * (i128::from(start_overhead) + alignment_sects + i128::from(gpt_end_sects));
        let required: i128 = parts
            .iter()
            .zip(&self.ops)
            .map(|(p, op)| match op {
                Op::Copy | Op::Ignore => i128::from(p.size),
                Op::Delete => 0,
                Op::Resize(n) => i128::from(*n),
            })
            .sum();
        i128::from(self.out_size) - (required + overhead)
    }
}

/// Whether content `c` can be grown after the copy: never with
/// `--no-expand-content`, else by its kind and what the appliance has.
fn expandable(c: &Content, expand_content: bool, a: Available) -> bool {
    if !expand_content {
        return false;
    }
    match c {
        Content::Unknown | Content::Extended => false,
        Content::Pv(_) | Content::Swap => true,
        Content::Fs(fs, _) => match fs.as_str() {
            "ext2" | "ext3" | "ext4" => true,
            "ntfs" => a.ntfs,
            "btrfs" => a.btrfs,
            "xfs" => a.xfs,
            "f2fs" => a.f2fs,
            _ => false,
        },
    }
}

fn to_i64(n: i128) -> i64 {
    n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Compute the plan for copying `src` onto an output of `out_size` bytes.
pub fn plan(src: &Source, req: &Request, out_size: u64) -> R<Plan> {
    if src.partitions.is_empty() {
        return err("the source disk has no partitions");
    }
    // Content larger than its partition means something is wrong.
    for p in &src.partitions {
        match &p.content {
            Content::Pv(pv) if p.size < *pv => {
                return err(format!(
                    "{}: partition size {} < physical volume size {pv}",
                    p.name, p.size
                ));
            }
            Content::Fs(_, fs) if p.size < *fs => {
                return err(format!(
                    "{}: partition size {} < filesystem size {fs}",
                    p.name, p.size
                ));
            }
            _ => {}
        }
    }
    let mut end_of_prev = 0u64;
    for p in &src.partitions {
        if end_of_prev > p.start {
            return err(format!(
                "{}: this partition overlaps the previous one",
                p.name
            ));
        }
        end_of_prev = (p.start + p.size).saturating_sub(1);
    }

    let mut pl = Planner {
        src,
        req,
        ops: vec![Op::Copy; src.partitions.len()],
        out_size,
    };
    for dev in &req.ignores {
        let i = pl.find("--ignore", dev)?;
        pl.ops[i] = Op::Ignore;
    }
    for dev in &req.deletes {
        let i = pl.find("--delete", dev)?;
        pl.ops[i] = Op::Delete;
    }
    for arg in &req.resizes {
        pl.do_resize("--resize", false, arg)?;
    }
    for arg in &req.resizes_force {
        pl.do_resize("--resize-force", true, arg)?;
    }

    if req.expand.is_some() && req.shrink.is_some() {
        return err("you cannot use options --expand and --shrink together");
    }
    if req.expand.is_some() || req.shrink.is_some() {
        let surplus = pl.surplus();
        if let Some(dev) = &req.expand {
            if surplus < 0 {
                return err(format!(
                    "You cannot use --expand when there is no surplus space to expand into.  You need to make the target disk larger by at least {}.",
                    human_size(to_i64(-surplus))
                ));
            }
            let i = pl.find("--expand", dev)?;
            let newsize = i128::from(src.partitions[i].size) + surplus;
            pl.mark_for_resize("--expand", false, i, newsize as u64)?;
        }
        if let Some(dev) = &req.shrink {
            if surplus > 0 {
                return err(
                    "You cannot use --shrink when there is no deficit (see ‘deficit’ in the virt-resize(1) man page).",
                );
            }
            let i = pl.find("--shrink", dev)?;
            let newsize = i128::from(src.partitions[i].size) + surplus;
            if newsize <= 0 {
                return err(format!("{dev}: new partition size is zero or negative"));
            }
            pl.mark_for_resize("--shrink", false, i, newsize as u64)?;
        }
    }

    let surplus = pl.surplus();
    if surplus < 0 {
        let deficit = to_i64(-surplus);
        return err(format!(
            "There is a deficit of {deficit} bytes ({}).  You need to make the target disk larger by at least this amount or adjust your resizing requests.",
            human_size(deficit)
        ));
    }
    let surplus = surplus as u64;

    let mut lv_expand = vec![false; src.lvs.len()];
    for name in &req.lv_expands {
        let Some(i) = src.lvs.iter().position(|lv| &lv.name == name) else {
            return err(format!(
                "{name}: logical volume not found in the source disk image (this error came from ‘--lv-expand’ option on the command line).  Try running this command: virt-filesystems --logical-volumes --long -a {}",
                req.input_name
            ));
        };
        lv_expand[i] = true;
    }

    let unknown_msg = |fs: &str, dev: &str| {
        format!("unknown/unavailable method for expanding the {fs} filesystem on {dev}")
    };
    if req.unknown_fs == UnknownFs::Error {
        for (p, op) in src.partitions.iter().zip(&pl.ops) {
            if let (Op::Resize(_), Content::Fs(fs, _)) = (op, &p.content) {
                if !pl.can_expand(&p.content) {
                    return err(unknown_msg(fs, &p.name));
                }
            }
        }
        for (lv, e) in src.lvs.iter().zip(&lv_expand) {
            if let (true, Content::Fs(fs, _)) = (e, &lv.content) {
                if !pl.can_expand(&lv.content) {
                    return err(unknown_msg(fs, &lv.name));
                }
            }
        }
    }

    let warn_unknown = req.unknown_fs != UnknownFs::Ignore;
    // What the summary says of growing the content of a partition or LV
    // being enlarged: the method, or (unless ignored) that there is none.
    let expansion_note =
        |content: &Content, name: &str, t: &mut String, summary: &mut Vec<SummaryLine>| {
            if pl.can_expand(content) {
                t.push_str(&format!(
                    "  The {} on {name} will be expanded using the ‘{}’ method.",
                    content.describe_no_size(),
                    method(content).map_or("", Method::name)
                ));
            } else if let Content::Fs(fs, _) = content {
                if warn_unknown {
                    summary.push(SummaryLine::Warning(unknown_msg(fs, name)));
                }
            }
        };
    let mut summary = Vec::new();
    for (p, op) in src.partitions.iter().zip(&pl.ops) {
        let text = match op {
            Op::Copy => format!("{}: This partition will be left alone.", p.name),
            Op::Ignore => format!(
                "{}: This partition will be created, but the contents will be ignored (ie. not copied to the target).",
                p.name
            ),
            Op::Delete => format!("{}: This partition will be deleted.", p.name),
            Op::Resize(newsize) => {
                let mut t = format!(
                    "{}: This partition will be resized from {} to {}.",
                    p.name,
                    human_size(to_i64(i128::from(p.size))),
                    human_size(to_i64(i128::from(*newsize)))
                );
                expansion_note(&p.content, &p.name, &mut t, &mut summary);
                t
            }
        };
        summary.push(SummaryLine::Info(text));
    }
    for (lv, e) in src.lvs.iter().zip(&lv_expand) {
        if !e {
            continue;
        }
        let mut t = format!(
            "{}: This logical volume will be expanded to maximum size.",
            lv.name
        );
        expansion_note(&lv.content, &lv.name, &mut t, &mut summary);
        summary.push(SummaryLine::Info(t));
    }
    if surplus > 0 {
        let mut t = format!(
            "There is a surplus of {}.",
            human_size(to_i64(i128::from(surplus)))
        );
        t.push_str(if req.extra_partition {
            if surplus >= MIN_EXTRA_PARTITION {
                "  An extra partition will be created for the surplus."
            } else {
                "  The surplus space is not large enough for an extra partition to be created and so it will just be ignored."
            }
        } else {
            "  The surplus space will be ignored.  Run a partitioning program in the guest to partition this extra space if you want."
        });
        summary.push(SummaryLine::Info(t));
    }

    // Only a single bootable NTFS partition not already 4K-aligned is known
    // to survive being moved (its boot record is patched below).
    let can_fix_boot_loader = match (src.partitions.as_slice(), pl.ops.as_slice()) {
        ([p], [op]) => {
            matches!(&p.content, Content::Fs(fs, _) if fs == "ntfs")
                && p.bootable
                && *op != Op::Delete
                && alignment_of(p.start) < 12
        }
        _ => false,
    };
    let align_first_partition = match req.align_first {
        AlignFirst::Never => false,
        AlignFirst::Always => true,
        AlignFirst::Auto => can_fix_boot_loader,
    };

    let out_sectors = out_size / SECTOR;
    let mut start = if align_first_partition {
        req.alignment
    } else {
        src.partitions[0].start / SECTOR
    };
    let mut targets = Vec::new();
    let mut number = 1u32;
    for (i, (p, op)) in src.partitions.iter().zip(&pl.ops).enumerate() {
        let size = match op {
            Op::Delete => continue,
            Op::Copy | Op::Ignore => p.size,
            Op::Resize(n) => *n,
        };
        let sectors = size.div_ceil(SECTOR);
        // Saturating: an absurd --alignment gives a layout the table
        // writer refuses, not an overflow.
        let end_excl = start.saturating_add(sectors);
        let next = roundup(end_excl, req.alignment);
        let end = match op {
            // A resized partition takes the alignment padding too.
            Op::Resize(_) => next.saturating_sub(1),
            _ => end_excl.saturating_sub(1),
        };
        targets.push(Target {
            number,
            start,
            end,
            source: Some(i),
        });
        number += 1;
        start = next;
    }
    if req.extra_partition && surplus >= MIN_EXTRA_PARTITION {
        // virt-resize asks parted for "-64s"; in its appliance that ends
        // the partition 65 sectors before the end of the disk.
        let end = out_sectors.saturating_sub(65);
        if end > start {
            targets.push(Target {
                number,
                start,
                end,
                source: None,
            });
        }
    }

    Ok(Plan {
        kind: src.kind,
        disk_id: src.disk_id,
        partitions: src.partitions.iter().cloned().zip(pl.ops).collect(),
        lvs: src.lvs.iter().cloned().zip(lv_expand).collect(),
        targets,
        surplus,
        align_first_partition,
        summary,
        out_sectors,
        expand_content: req.expand_content,
        available: req.available,
    })
}

/// The method that grows `c` (for content [`Plan::can_expand`] accepts).
pub fn method(c: &Content) -> Option<Method> {
    Some(match c {
        Content::Pv(_) => Method::PvResize,
        Content::Swap => Method::Mkswap,
        Content::Fs(fs, _) => match fs.as_str() {
            "ext2" | "ext3" | "ext4" => Method::Resize2fs,
            "ntfs" => Method::NtfsResize,
            "btrfs" => Method::BtrfsFilesystemResize,
            "xfs" => Method::XfsGrowfs,
            "f2fs" => Method::ResizeF2fs,
            _ => return None,
        },
        Content::Unknown | Content::Extended => return None,
    })
}

impl Plan {
    /// Whether the content `c` will be grown after the copy.
    pub fn can_expand(&self, c: &Content) -> bool {
        expandable(c, self.expand_content, self.available)
    }

    /// Whether the appliance has anything to do.
    pub fn to_be_expanded(&self) -> bool {
        self.partitions
            .iter()
            .any(|(p, op)| matches!(op, Op::Resize(_)) && self.can_expand(&p.content))
            || self
                .lvs
                .iter()
                .any(|(lv, e)| *e && self.can_expand(&lv.content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn part(n: u32, start_sect: u64, sects: u64, content: Content) -> SourcePartition {
        SourcePartition {
            name: format!("/dev/sda{n}"),
            number: n,
            start: start_sect * SECTOR,
            size: sects * SECTOR,
            bootable: false,
            id: PartId::Mbr(0x83),
            content,
            label: None,
            guid: None,
            attributes: None,
        }
    }

    /// linux.img's layout (see images/build.sh).
    fn linux() -> Source {
        Source {
            kind: TableKind::Gpt,
            disk_id: DiskId::Gpt(Guid::default()),
            partitions: vec![
                part(1, 2048, 32768, Content::Fs("vfat".into(), 16_708_608)),
                part(2, 34816, 81920, Content::Fs("ext4".into(), 39_821_312)),
            ],
            lvs: vec![],
        }
    }

    fn req() -> Request {
        Request {
            input_name: "linux.img".into(),
            expand: None,
            shrink: None,
            resizes: vec![],
            resizes_force: vec![],
            deletes: vec![],
            ignores: vec![],
            lv_expands: vec![],
            align_first: AlignFirst::Auto,
            alignment: 128,
            extra_partition: true,
            expand_content: true,
            unknown_fs: UnknownFs::Warn,
            available: Available {
                ntfs: true,
                btrfs: true,
                xfs: true,
                f2fs: false,
            },
        }
    }

    #[test]
    fn human_size_as_virt_resize() {
        // The values of guestfs-tools' own unit test.
        assert_eq!(human_size(100), "100");
        assert_eq!(human_size(-100), "-100");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(-1024), "-1.0K");
        assert_eq!(human_size(1126), "1.1K");
        assert_eq!(human_size(1_363_149), "1.3M");
        assert_eq!(human_size(40 * MIB as i64), "40.0M");
    }

    #[test]
    fn resize_fields() {
        let old = 100 * MIB;
        assert_eq!(parse_resize(old, "10G").unwrap(), 10 << 30);
        assert_eq!(parse_resize(old, "+1M").unwrap(), (101 * MIB) as i64);
        assert_eq!(parse_resize(old, "-200M").unwrap(), -(100 * MIB as i64));
        assert_eq!(parse_resize(old, "50%").unwrap(), (50 * MIB) as i64);
        assert_eq!(parse_resize(old, "+10%").unwrap(), (110 * MIB) as i64);
        assert_eq!(parse_resize(old, "-10%").unwrap(), (90 * MIB) as i64);
        assert_eq!(parse_resize(old, "1.5K").unwrap(), 1536);
        assert_eq!(parse_resize(old, "512b").unwrap(), 512);
        for bad in ["10", "10T", "+", "x%", "1e3M", ""] {
            let e = parse_resize(old, bad).unwrap_err();
            assert_eq!(e.0, format!("{bad}: cannot parse resize field"));
        }
    }

    #[test]
    fn expand_fills_the_surplus() {
        // What virt-resize made for linux.img -> 128M --expand /dev/sda2
        // (tests/expected/resize/gpt-expand.sfdisk).
        let mut r = req();
        r.expand = Some("/dev/sda2".into());
        let p = plan(&linux(), &r, 128 * MIB).unwrap();
        assert_eq!(p.targets.len(), 2);
        assert_eq!((p.targets[0].start, p.targets[0].end), (2048, 34815));
        assert_eq!(
            (p.targets[1].start, p.targets[1].end),
            (34816, 34816 + 224896 - 1)
        );
        assert!(p.to_be_expanded());
        assert_eq!(
            p.summary[1],
            SummaryLine::Info("/dev/sda2: This partition will be resized from 40.0M to 109.8M.  The filesystem ext4 on /dev/sda2 will be expanded using the ‘resize2fs’ method.".into())
        );
    }

    #[test]
    fn resize_makes_an_extra_partition() {
        let mut r = req();
        r.resizes = vec!["/dev/sda1=+4M".into(), "sda2=48M".into()];
        let p = plan(&linux(), &r, 100 * MIB).unwrap();
        let t: Vec<(u64, u64)> = p.targets.iter().map(|t| (t.start, t.end)).collect();
        assert_eq!(t, vec![(2048, 43007), (43008, 141311), (141312, 204735)]);
        assert_eq!(p.targets[2].source, None);
        assert!(
            matches!(&p.summary[0], SummaryLine::Warning(w) if w.contains("vfat filesystem on /dev/sda1"))
        );
    }

    #[test]
    fn errors_say_what_virt_resize_says() {
        let mut r = req();
        r.expand = Some("/dev/sda2".into());
        let e = plan(&linux(), &r, 58 * MIB).unwrap_err();
        assert!(
            e.0.starts_with("You cannot use --expand when there is no surplus space"),
            "{e}"
        );
        r.expand = Some("/dev/sda9".into());
        let e = plan(&linux(), &r, 128 * MIB).unwrap_err();
        assert!(e.0.starts_with("/dev/sda9: partition not found in the source disk image (this error came from ‘--expand’"), "{e}");
        let e = plan(&linux(), &req(), 40 * MIB).unwrap_err();
        assert!(e.0.starts_with("There is a deficit of "), "{e}");
        let mut r = req();
        r.resizes = vec!["/dev/sda2=20M".into()];
        let e = plan(&linux(), &r, 128 * MIB).unwrap_err();
        assert!(e.0.contains("contains a ext4 filesystem which will be damaged by shrinking it below 39821312 bytes (user asked to shrink it to 20971520 bytes)"), "{e}");
        let mut r = req();
        r.deletes = vec!["sda1".into()];
        r.ignores = vec![];
        r.resizes = vec!["/dev/sda1=1G".into()];
        let e = plan(&linux(), &r, 128 * MIB).unwrap_err();
        assert!(e.0.contains("partition already deleted"), "{e}");
    }

    #[test]
    fn unknown_filesystems_modes() {
        let mut r = req();
        r.resizes = vec!["/dev/sda1=+4M".into()];
        r.unknown_fs = UnknownFs::Error;
        let e = plan(&linux(), &r, 100 * MIB).unwrap_err();
        assert_eq!(
            e.0,
            "unknown/unavailable method for expanding the vfat filesystem on /dev/sda1"
        );
        r.unknown_fs = UnknownFs::Ignore;
        let p = plan(&linux(), &r, 100 * MIB).unwrap();
        assert!(
            !p.summary
                .iter()
                .any(|l| matches!(l, SummaryLine::Warning(_)))
        );
        r.unknown_fs = UnknownFs::Warn;
        r.expand_content = false;
        let p = plan(&linux(), &r, 100 * MIB).unwrap();
        assert!(!p.to_be_expanded());
    }

    #[test]
    fn delete_renumbers_and_first_start_stays() {
        let mut r = req();
        r.deletes = vec!["/dev/sda1".into()];
        r.extra_partition = false;
        let p = plan(&linux(), &r, 128 * MIB).unwrap();
        assert_eq!(p.targets.len(), 1);
        assert_eq!(p.targets[0].number, 1);
        assert_eq!(p.targets[0].start, 2048);
        assert_eq!(p.targets[0].source, Some(1));
    }

    #[test]
    fn absurd_alignment_is_an_error_not_a_panic() {
        for align in [i64::MAX as u64, 1 << 40] {
            let mut r = req();
            r.alignment = align;
            r.align_first = AlignFirst::Always;
            let e = plan(&linux(), &r, 128 * MIB).unwrap_err();
            assert!(e.0.starts_with("There is a deficit of"), "{e}");
        }
    }

    #[test]
    fn align_first_auto_only_for_a_lone_unaligned_ntfs() {
        let mut src = linux();
        src.kind = TableKind::Mbr;
        src.partitions = vec![part(1, 63, 100_000, Content::Fs("ntfs".into(), 1000))];
        src.partitions[0].bootable = true;
        let p = plan(&src, &req(), 128 * MIB).unwrap();
        assert!(p.align_first_partition);
        assert_eq!(p.targets[0].start, 128);
        src.partitions[0].start = 2048 * SECTOR;
        let p = plan(&src, &req(), 128 * MIB).unwrap();
        assert!(!p.align_first_partition);
        assert_eq!(p.targets[0].start, 2048);
    }
}

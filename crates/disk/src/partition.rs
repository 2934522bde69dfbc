//! Partition tables (GPT and MBR with extended/logical partitions), read-only,
//! and the device names libguestfs gives disks and partitions.
//!
//! What is listed follows what the Linux kernel exposes in `/sys/block`, since
//! that is what libguestfs's `list-partitions` prints (checked against
//! libguestfs 1.48 on images made with sfdisk/sgdisk):
//! - MBR: primaries are numbered by slot (1-4), logical partitions from 5 in
//!   EBR-chain order. The extended partition itself IS listed (`/dev/sda3` on
//!   a disk whose slot 3 is extended); here it has its table start and size,
//!   as `part-list` reports it (the kernel's block device for it is only 1 KiB).
//! - A partition starting past the end of the disk is left out; one that runs
//!   past the end is cut to the end (the kernel's "extends beyond EOD,
//!   truncated"). Both add a warning to [`PartitionTable::warnings`].
//! - GPT entries whose first or last LBA is past the end are left out (with a
//!   warning), as the kernel does.
//!
//! Two deliberate differences from `list-partitions`:
//! - When the primary GPT header is damaged, the kernel (without `gpt` on its
//!   command line) shows no partitions at all, but parted, and so libguestfs's
//!   `part-list`, uses the backup header. So do we, with a warning. Both
//!   headers bad is a `Corrupt` error.
//! - An EBR chain that loops back on itself: the kernel keeps following it and
//!   lists the same logical partitions again and again up to number 255
//!   (libguestfs shows /dev/sdb5../dev/sdb255 for images/out/damaged/ebr-loop.img);
//!   we stop at the first EBR seen twice, with a warning.
//!
//! Known gap: 512-byte sectors only (4K-sector images are read as if their
//! sectors were 512 bytes, so their tables are not found).

use crate::bytes::{le16, le32, le64};
use crate::{BlockDevice, Device, Error, Result, Slice};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Logical sector size assumed for every table.
pub const SECTOR_SIZE: u64 = 512;

/// The kernel's per-disk partition limit (`DISK_MAX_PARTS`); numbers stay below it.
const MAX_PARTITION_NUMBER: u32 = 255;

/// Largest GPT partition entry array we read (8192 entries of 128 bytes).
const MAX_GPT_ARRAY_BYTES: u64 = 1024 * 1024;

/// EBRs visited in a row without a data partition before giving up (as the kernel does).
const MAX_EMPTY_EBR_LINKS: u32 = 100;

/// A GUID as stored in GPT (first three fields little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl Guid {
    /// The EFI system partition type, `C12A7328-F81F-11D2-BA4B-00A0C93EC93B`.
    pub const EFI_SYSTEM: Guid = Guid([
        0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9,
        0x3b,
    ]);

    /// True for the all-zero GUID (an unused GPT entry).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Parse the textual form (either case), e.g. `C12A7328-F81F-11D2-BA4B-00A0C93EC93B`.
    pub fn parse(s: &str) -> Option<Guid> {
        let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
        if hex.len() != 32 || s.len() != 36 {
            return None;
        }
        let mut raw = [0u8; 16];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let txt = std::str::from_utf8(pair).ok()?;
            raw[i] = u8::from_str_radix(txt, 16).ok()?;
        }
        // Text order to on-disk order: the first three fields are little-endian.
        let mut d = raw;
        d[0..4].reverse();
        d[4..6].reverse();
        d[6..8].reverse();
        Some(Guid(d))
    }
}

impl fmt::Display for Guid {
    /// Uppercase, as libguestfs prints GUIDs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(
            f,
            "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-",
            d[3], d[2], d[1], d[0], d[5], d[4], d[7], d[6], d[8], d[9]
        )?;
        for b in &d[10..16] {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Which kind of table a disk has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// GUID partition table.
    Gpt,
    /// DOS/MBR partition table.
    Mbr,
}

impl TableKind {
    /// The name libguestfs's `part-get-parttype` prints.
    pub fn libguestfs_name(self) -> &'static str {
        match self {
            TableKind::Gpt => "gpt",
            TableKind::Mbr => "msdos",
        }
    }
}

/// Where a partition's entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKind {
    /// An MBR primary partition (numbers 1-4).
    Primary,
    /// An MBR extended partition: a container for logical partitions.
    Extended,
    /// An MBR logical partition (numbers from 5).
    Logical,
    /// A GPT partition.
    Gpt,
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The number in its device name (`/dev/sda<number>`).
    pub number: u32,
    /// Byte offset on the disk.
    pub start: u64,
    /// Length in bytes (cut to the end of the disk if the table says more).
    pub size: u64,
    /// Primary, extended, logical or GPT.
    pub kind: PartitionKind,
    /// MBR type byte (`part-get-mbr-id`).
    pub mbr_type: Option<u8>,
    /// GPT partition type GUID (`part-get-gpt-type`).
    pub gpt_type: Option<Guid>,
    /// GPT unique partition GUID (`part-get-gpt-guid`).
    pub gpt_guid: Option<Guid>,
    /// GPT partition name (`part-get-name`).
    pub name: Option<String>,
    /// GPT attribute bits (`part-get-gpt-attributes`); 0 for MBR.
    pub gpt_attributes: u64,
    /// MBR: the active flag (0x80). GPT: as libguestfs's `part-get-bootable`
    /// (parted's "boot" flag) reports it: an EFI system partition, or the
    /// legacy-BIOS-bootable attribute (bit 2).
    pub bootable: bool,
}

/// The disk identifier a table carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskId {
    /// The 32-bit MBR disk signature at byte 0x1b8.
    Mbr(u32),
    /// The GPT disk GUID (`part-get-disk-guid`).
    Gpt(Guid),
}

impl fmt::Display for DiskId {
    /// MBR: 8 lowercase hex digits (as `sfdisk` prints the label-id); GPT: the GUID.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskId::Mbr(id) => write!(f, "{id:08x}"),
            DiskId::Gpt(g) => write!(f, "{g}"),
        }
    }
}

/// A disk's partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    /// GPT or MBR.
    pub kind: TableKind,
    /// Partitions in number order.
    pub partitions: Vec<Partition>,
    /// Problems that did not stop reading (damaged primary GPT, entries past the end...).
    pub warnings: Vec<String>,
    /// Disk signature or GUID.
    pub disk_id: DiskId,
}

fn guid_at(b: &[u8], off: usize) -> Guid {
    let mut g = [0u8; 16];
    g.copy_from_slice(&b[off..off + 16]);
    Guid(g)
}

fn read_sector(dev: &dyn BlockDevice, lba: u64) -> Result<[u8; 512]> {
    let mut s = [0u8; 512];
    let off = lba
        .checked_mul(SECTOR_SIZE)
        .ok_or_else(|| Error::corrupt(format!("{}: sector {lba} overflows", dev.describe())))?;
    dev.read_at(&mut s, off)?;
    Ok(s)
}

/// Read the partition table of `dev`. `Ok(None)` when there is none (no
/// 0x55AA signature, a filesystem boot sector, an empty MBR, or a device
/// shorter than one sector).
pub fn read_partitions(dev: &dyn BlockDevice) -> Result<Option<PartitionTable>> {
    if dev.size() < SECTOR_SIZE {
        return Ok(None);
    }
    let mbr = read_sector(dev, 0)?;
    if mbr[510] != 0x55 || mbr[511] != 0xAA {
        return Ok(None);
    }
    let entries = mbr_entries(&mbr)?;
    // A protective (or hybrid) MBR: a 0xEE entry starting at LBA 1.
    if entries.iter().any(|e| e.kind == 0xEE && e.start == 1) {
        return read_gpt(dev).map(Some);
    }
    // Any other 0xEE entry makes the kernel's MBR reader step aside too.
    if entries.iter().any(|e| e.kind == 0xEE) {
        return Ok(None);
    }
    read_mbr(dev, &mbr)
}

// ---------------------------------------------------------------- GPT

struct GptHeader {
    lba: u64,
    alternate_lba: u64,
    disk_guid: Guid,
    num_entries: u32,
    entry_size: u32,
}

/// Validate the GPT header at `lba` and load its entry array; `Err` is the reason it is bad.
fn gpt_header_at(
    dev: &dyn BlockDevice,
    lba: u64,
    last_lba: u64,
) -> std::result::Result<(GptHeader, Vec<u8>), String> {
    if lba > last_lba {
        return Err(format!(
            "it lies past the end of the disk (last LBA {last_lba})"
        ));
    }
    let s = read_sector(dev, lba).map_err(|e| e.to_string())?;
    if &s[0..8] != b"EFI PART" {
        return Err("no \"EFI PART\" signature".into());
    }
    let header_size = le32(&s, 12).map_err(|e| e.to_string())? as usize;
    if !(92..=512).contains(&header_size) {
        return Err(format!("header size {header_size} is out of range"));
    }
    let stored_crc = le32(&s, 16).map_err(|e| e.to_string())?;
    let mut h = s[..header_size].to_vec();
    h[16..20].fill(0);
    let crc = crc32fast::hash(&h);
    if crc != stored_crc {
        return Err(format!(
            "header CRC32 mismatch (stored 0x{stored_crc:08x}, computed 0x{crc:08x})"
        ));
    }
    let my_lba = le64(&s, 24).map_err(|e| e.to_string())?;
    if my_lba != lba {
        return Err(format!("header says it is at LBA {my_lba}"));
    }
    let first_usable = le64(&s, 40).map_err(|e| e.to_string())?;
    let last_usable = le64(&s, 48).map_err(|e| e.to_string())?;
    if first_usable > last_lba || last_usable > last_lba || first_usable > last_usable {
        return Err(format!(
            "usable LBAs {first_usable}-{last_usable} do not fit a disk whose last LBA is {last_lba}"
        ));
    }
    let entries_lba = le64(&s, 72).map_err(|e| e.to_string())?;
    let num_entries = le32(&s, 80).map_err(|e| e.to_string())?;
    let entry_size = le32(&s, 84).map_err(|e| e.to_string())?;
    // The kernel accepts only 128-byte entries (the spec allows larger ones).
    if entry_size != 128 {
        return Err(format!("partition entry size {entry_size} is not 128"));
    }
    let array_bytes = u64::from(num_entries) * u64::from(entry_size);
    if array_bytes > MAX_GPT_ARRAY_BYTES {
        return Err(format!(
            "{num_entries} partition entries exceed the {MAX_GPT_ARRAY_BYTES}-byte limit"
        ));
    }
    let array_sectors = array_bytes.div_ceil(SECTOR_SIZE);
    let array_fits = entries_lba
        .checked_add(array_sectors)
        .is_some_and(|end| end <= last_lba.saturating_add(1));
    if !array_fits {
        return Err(format!(
            "partition entry array at LBA {entries_lba} ({num_entries} entries) runs past the end of the disk"
        ));
    }
    let mut array = vec![0u8; array_bytes as usize];
    // entries_lba * 512 fits: entries_lba <= last_lba, which came from a u64 byte size.
    dev.read_at(&mut array, entries_lba * SECTOR_SIZE)
        .map_err(|e| e.to_string())?;
    let stored_array_crc = le32(&s, 88).map_err(|e| e.to_string())?;
    let array_crc = crc32fast::hash(&array);
    if array_crc != stored_array_crc {
        return Err(format!(
            "partition entry array CRC32 mismatch (stored 0x{stored_array_crc:08x}, computed 0x{array_crc:08x})"
        ));
    }
    Ok((
        GptHeader {
            lba,
            alternate_lba: le64(&s, 32).map_err(|e| e.to_string())?,
            disk_guid: guid_at(&s, 56),
            num_entries,
            entry_size,
        },
        array,
    ))
}

fn read_gpt(dev: &dyn BlockDevice) -> Result<PartitionTable> {
    let name = dev.describe();
    let sectors = dev.size() / SECTOR_SIZE;
    if sectors < 3 {
        return Err(Error::corrupt(format!(
            "{name}: protective MBR found but the disk is too small ({} bytes) for a GPT",
            dev.size()
        )));
    }
    let last_lba = sectors - 1;
    let mut warnings = Vec::new();

    let (header, array) = match gpt_header_at(dev, 1, last_lba) {
        Ok((primary, array)) => {
            if let Err(why) = gpt_header_at(dev, primary.alternate_lba, last_lba) {
                warnings.push(format!(
                    "{name}: backup GPT header at LBA {} is invalid: {why}",
                    primary.alternate_lba
                ));
            }
            (primary, array)
        }
        Err(primary_why) => {
            // Where the primary says the backup is, if it is readable at all; else the last LBA.
            let mut candidates = Vec::new();
            if let Ok(s) = read_sector(dev, 1) {
                if &s[0..8] == b"EFI PART" {
                    let alt = le64(&s, 32)?;
                    if alt != 1 && alt <= last_lba {
                        candidates.push(alt);
                    }
                }
            }
            if !candidates.contains(&last_lba) {
                candidates.push(last_lba);
            }
            let mut reasons = Vec::new();
            let mut found = None;
            for lba in candidates {
                match gpt_header_at(dev, lba, last_lba) {
                    Ok(h) => {
                        found = Some(h);
                        break;
                    }
                    Err(why) => reasons.push(format!("backup header at LBA {lba}: {why}")),
                }
            }
            match found {
                Some((backup, array)) => {
                    warnings.push(format!(
                        "{name}: primary GPT header at LBA 1 is invalid ({primary_why}); \
                         using the backup header at LBA {}",
                        backup.lba
                    ));
                    (backup, array)
                }
                None => {
                    return Err(Error::corrupt(format!(
                        "{name}: GPT is damaged: primary header at LBA 1: {primary_why}; {}",
                        reasons.join("; ")
                    )));
                }
            }
        }
    };

    let mut partitions = Vec::new();
    let esize = header.entry_size as usize;
    for i in 0..header.num_entries as usize {
        let e = &array[i * esize..(i + 1) * esize];
        let gpt_type = guid_at(e, 0);
        if gpt_type.is_zero() {
            continue;
        }
        let number = i as u32 + 1;
        if number > MAX_PARTITION_NUMBER {
            warnings.push(format!(
                "{name}: GPT entry {number} is beyond the {MAX_PARTITION_NUMBER}-partition limit and is ignored"
            ));
            continue;
        }
        let first = le64(e, 32)?;
        let last = le64(e, 40)?;
        if first > last_lba || last > last_lba {
            warnings.push(format!(
                "{name}: GPT partition {number} (LBA {first}-{last}) lies past the end of the disk \
                 (last LBA {last_lba}) and is ignored"
            ));
            continue;
        }
        if last < first {
            warnings.push(format!(
                "{name}: GPT partition {number} ends (LBA {last}) before it starts (LBA {first}) and is ignored"
            ));
            continue;
        }
        let attributes = le64(e, 48)?;
        let units: Vec<u16> = (0..36)
            .map_while(|k| le16(e, 56 + 2 * k).ok())
            .take_while(|&u| u != 0)
            .collect();
        // first/last <= last_lba, whose byte offset fits a u64.
        let start = first * SECTOR_SIZE;
        let size = (last - first + 1) * SECTOR_SIZE;
        partitions.push(Partition {
            number,
            start,
            size,
            kind: PartitionKind::Gpt,
            mbr_type: None,
            gpt_type: Some(gpt_type),
            gpt_guid: Some(guid_at(e, 16)),
            name: Some(String::from_utf16_lossy(&units)),
            gpt_attributes: attributes,
            bootable: gpt_type == Guid::EFI_SYSTEM || attributes & (1 << 2) != 0,
        });
    }
    Ok(PartitionTable {
        kind: TableKind::Gpt,
        partitions,
        warnings,
        disk_id: DiskId::Gpt(header.disk_guid),
    })
}

// ---------------------------------------------------------------- MBR

fn is_extended(t: u8) -> bool {
    matches!(t, 0x05 | 0x0f | 0x85)
}

/// A raw entry before the end-of-disk rules: sectors, not bytes.
struct RawPart {
    number: u32,
    start: u64,
    sectors: u64,
    kind: PartitionKind,
    mbr_type: u8,
    bootable: bool,
}

fn read_mbr(dev: &dyn BlockDevice, mbr: &[u8; 512]) -> Result<Option<PartitionTable>> {
    let name = dev.describe();
    let mut warnings = Vec::new();
    let entries = mbr_entries(mbr)?;
    // A boot indicator other than 0 or 0x80 means this is not a partition
    // table (typically a FAT or NTFS boot sector), as the kernel decides.
    if entries.iter().any(|e| e.boot != 0 && e.boot != 0x80) {
        return Ok(None);
    }
    if entries.iter().all(|e| e.sectors == 0) {
        return Ok(None);
    }
    let mut raw = Vec::new();
    let mut next_logical = 5u32;
    for (slot, e) in entries.iter().enumerate() {
        let sectors = u64::from(e.sectors);
        if sectors == 0 {
            continue;
        }
        let start = u64::from(e.start);
        let t = e.kind;
        let number = slot as u32 + 1;
        if is_extended(t) {
            raw.push(RawPart {
                number,
                start,
                sectors,
                kind: PartitionKind::Extended,
                mbr_type: t,
                bootable: e.boot == 0x80,
            });
            walk_ebr_chain(
                dev,
                start,
                sectors,
                &mut next_logical,
                &mut raw,
                &mut warnings,
            );
        } else {
            raw.push(RawPart {
                number,
                start,
                sectors,
                kind: PartitionKind::Primary,
                mbr_type: t,
                bootable: e.boot == 0x80,
            });
        }
    }

    let capacity = dev.size() / SECTOR_SIZE;
    let mut partitions = Vec::new();
    for p in raw {
        if p.start >= capacity {
            warnings.push(format!(
                "{name}: partition {} starts at sector {}, past the end of the disk ({capacity} sectors), and is ignored",
                p.number, p.start
            ));
            continue;
        }
        let mut sectors = p.sectors;
        let end = p.start.checked_add(sectors);
        if end.is_none_or(|e| e > capacity) {
            let cut = capacity - p.start;
            warnings.push(format!(
                "{name}: partition {} (sectors {}-{}) runs past the end of the disk ({capacity} sectors); \
                 truncated to {cut} sectors",
                p.number,
                p.start,
                p.start.saturating_add(p.sectors).saturating_sub(1)
            ));
            sectors = cut;
        }
        // start < capacity and sectors <= capacity, and capacity * 512 <= size.
        partitions.push(Partition {
            number: p.number,
            start: p.start * SECTOR_SIZE,
            size: sectors * SECTOR_SIZE,
            kind: p.kind,
            mbr_type: Some(p.mbr_type),
            gpt_type: None,
            gpt_guid: None,
            name: None,
            gpt_attributes: 0,
            bootable: p.bootable,
        });
    }
    partitions.sort_by_key(|p| p.number);
    Ok(Some(PartitionTable {
        kind: TableKind::Mbr,
        partitions,
        warnings,
        disk_id: DiskId::Mbr(le32(mbr, 0x1b8)?),
    }))
}

/// Follow the EBR chain of the extended partition at `first` (`first_size`
/// sectors), the way the kernel's `parse_extended` does: data partitions are
/// relative to their EBR, links to the next EBR relative to the extended
/// partition's start.
/// One of the four 16-byte entries of an MBR or EBR.
struct MbrEntry {
    boot: u8,
    kind: u8,
    /// First sector (relative to the table's base for EBR entries).
    start: u32,
    sectors: u32,
}

/// The four entries of the partition table in sector `s`.
fn mbr_entries(s: &[u8]) -> Result<[MbrEntry; 4]> {
    let entry = |i: usize| -> Result<MbrEntry> {
        let e = 0x1be + 16 * i;
        Ok(MbrEntry {
            boot: crate::bytes::u8_at(s, e)?,
            kind: crate::bytes::u8_at(s, e + 4)?,
            start: le32(s, e + 8)?,
            sectors: le32(s, e + 12)?,
        })
    };
    Ok([entry(0)?, entry(1)?, entry(2)?, entry(3)?])
}

fn walk_ebr_chain(
    dev: &dyn BlockDevice,
    first: u64,
    first_size: u64,
    next_logical: &mut u32,
    out: &mut Vec<RawPart>,
    warnings: &mut Vec<String>,
) {
    let name = dev.describe();
    let mut this = first;
    let mut this_size = first_size;
    let mut empty_links = 0u32;
    let mut seen = HashSet::new();
    loop {
        empty_links += 1;
        if empty_links > MAX_EMPTY_EBR_LINKS || *next_logical > MAX_PARTITION_NUMBER {
            warnings.push(format!(
                "{name}: EBR chain of the extended partition at sector {first} is too long; stopped at sector {this}"
            ));
            return;
        }
        if !seen.insert(this) {
            warnings.push(format!(
                "{name}: EBR chain of the extended partition at sector {first} loops back to sector {this}"
            ));
            return;
        }
        let ebr = match read_sector(dev, this) {
            Ok(s) => s,
            Err(_) => {
                warnings.push(format!(
                    "{name}: EBR at sector {this} lies past the end of the disk; \
                     logical partitions from there on are missing"
                ));
                return;
            }
        };
        if ebr[510] != 0x55 || ebr[511] != 0xAA {
            return;
        }
        let Ok(entries) = mbr_entries(&ebr) else {
            return;
        };
        for (i, e) in entries.iter().enumerate() {
            let sectors = u64::from(e.sectors);
            if sectors == 0 || is_extended(e.kind) {
                continue;
            }
            let offs = u64::from(e.start);
            let Some(start) = this.checked_add(offs) else {
                continue;
            };
            // Entries 3 and 4 of an EBR are often garbage: keep them only
            // when they fit inside this EBR's and the extended partition's range.
            if i >= 2 {
                let fits_ebr = offs.checked_add(sectors).is_some_and(|e| e <= this_size);
                let fits_ext = start >= first
                    && start.checked_add(sectors).is_some_and(|e| {
                        first
                            .checked_add(first_size)
                            .is_some_and(|limit| e <= limit)
                    });
                if !fits_ebr || !fits_ext {
                    continue;
                }
            }
            out.push(RawPart {
                number: *next_logical,
                start,
                sectors,
                kind: PartitionKind::Logical,
                mbr_type: e.kind,
                bootable: e.boot == 0x80,
            });
            empty_links = 0;
            *next_logical += 1;
            if *next_logical > MAX_PARTITION_NUMBER {
                return;
            }
        }
        let Some(link) = entries
            .iter()
            .find(|e| e.sectors != 0 && is_extended(e.kind))
        else {
            return;
        };
        let Some(next) = first.checked_add(u64::from(link.start)) else {
            return;
        };
        this = next;
        this_size = u64::from(link.sectors);
    }
}

// ---------------------------------------------------------------- devices and names

/// The partition as a device of its own (a [`Slice`] of `dev`). An MBR
/// extended partition is, as Linux makes it (block/partitions/msdos.c),
/// only its first two sectors: room for a boot loader, not for a
/// filesystem, and what `blockdev --getsize64` (so virt-filesystems) says.
pub fn partition_device(dev: &Device, p: &Partition) -> Result<Device> {
    let name = format!("{} (partition {})", dev.describe(), p.number);
    let size = if p.kind == PartitionKind::Extended {
        p.size.min(2 * SECTOR_SIZE)
    } else {
        p.size
    };
    Ok(Arc::new(Slice::new(dev.clone(), p.start, size, name)?))
}

/// The libguestfs/Linux name of disk `index` (0-based): `/dev/sda`, ...,
/// `/dev/sdz`, `/dev/sdaa`, ...
pub fn device_name(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index as u128 + 1;
    // Bijective base 26: at most 14 letters for a usize, so this is bounded.
    while n > 0 {
        n -= 1;
        letters.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    format!("/dev/sd{}", String::from_utf8_lossy(&letters))
}

/// The name of partition `number` on disk `disk_index`: `/dev/sda1`.
pub fn partition_name(disk_index: usize, number: u32) -> String {
    format!("{}{number}", device_name(disk_index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemDevice;

    #[test]
    fn names() {
        assert_eq!(device_name(0), "/dev/sda");
        assert_eq!(device_name(25), "/dev/sdz");
        assert_eq!(device_name(26), "/dev/sdaa");
        assert_eq!(device_name(27), "/dev/sdab");
        assert_eq!(device_name(701), "/dev/sdzz");
        assert_eq!(device_name(702), "/dev/sdaaa");
        assert_eq!(partition_name(1, 5), "/dev/sdb5");
    }

    #[test]
    fn guid_text_round_trip() {
        let g = Guid::parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b").unwrap();
        assert_eq!(g, Guid::EFI_SYSTEM);
        assert_eq!(g.to_string(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert!(Guid::parse("nonsense").is_none());
        assert!(Guid::parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93").is_none());
    }

    fn mbr_entry(d: &mut [u8], at: usize, boot: u8, t: u8, start: u32, size: u32) {
        d[at] = boot;
        d[at + 4] = t;
        d[at + 8..at + 12].copy_from_slice(&start.to_le_bytes());
        d[at + 12..at + 16].copy_from_slice(&size.to_le_bytes());
    }

    fn sign(d: &mut [u8], sector: usize) {
        d[sector * 512 + 510] = 0x55;
        d[sector * 512 + 511] = 0xAA;
    }

    #[test]
    fn empty_and_tiny_devices_have_no_table() {
        let d = MemDevice::new(vec![], false, "empty");
        assert!(read_partitions(&d).unwrap().is_none());
        let d = MemDevice::new(vec![0; 100], false, "tiny");
        assert!(read_partitions(&d).unwrap().is_none());
        let d = MemDevice::new(vec![0; 4096], false, "zeros");
        assert!(read_partitions(&d).unwrap().is_none());
    }

    #[test]
    fn ebr_loop_is_bounded() {
        let mut d = vec![0u8; 64 * 512];
        mbr_entry(&mut d, 0x1be, 0x80, 0x83, 1, 4);
        mbr_entry(&mut d, 0x1ce, 0, 0x05, 8, 40);
        sign(&mut d, 0);
        // EBR at sector 8: a logical partition, and a link back to itself.
        let e = 8 * 512;
        mbr_entry(&mut d, e + 0x1be, 0, 0x83, 1, 2);
        mbr_entry(&mut d, e + 0x1ce, 0, 0x05, 0, 40);
        sign(&mut d, 8);
        let dev = MemDevice::new(d, false, "loop");
        let t = read_partitions(&dev).unwrap().unwrap();
        let nums: Vec<u32> = t.partitions.iter().map(|p| p.number).collect();
        assert_eq!(nums, vec![1, 2, 5]);
        assert!(t.partitions[0].bootable);
        assert_eq!(t.partitions[1].kind, PartitionKind::Extended);
        assert_eq!(t.partitions[2].start, 9 * 512);
        assert!(
            t.warnings.iter().any(|w| w.contains("loops")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn past_end_partitions_are_cut_or_dropped() {
        let mut d = vec![0u8; 100 * 512];
        mbr_entry(&mut d, 0x1be, 0, 0x83, 10, 20);
        mbr_entry(&mut d, 0x1ce, 0, 0x83, 90, 20);
        mbr_entry(&mut d, 0x1de, 0, 0x83, 200, 20);
        sign(&mut d, 0);
        let dev = MemDevice::new(d, false, "past");
        let t = read_partitions(&dev).unwrap().unwrap();
        assert_eq!(t.partitions.len(), 2);
        assert_eq!(t.partitions[1].size, 10 * 512);
        assert_eq!(t.warnings.len(), 2, "{:?}", t.warnings);
        assert!(t.warnings[0].contains("partition 2"));
        assert!(t.warnings[1].contains("partition 3"));
    }

    #[test]
    fn boot_sector_is_not_a_table() {
        let mut d = vec![0u8; 4096];
        d[0x1be] = 0x33; // boot code, not a boot indicator
        d[0x1be + 12] = 1;
        sign(&mut d, 0);
        let dev = MemDevice::new(d, false, "fat");
        assert!(read_partitions(&dev).unwrap().is_none());
    }
}

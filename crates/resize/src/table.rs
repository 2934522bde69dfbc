//! Writing a new partition table: GPT (protective MBR, primary header and
//! entry array, backup array and header, with their CRC32s) or MBR (four
//! primary slots; the extended partition's EBRs travel with its data).
//!
//! Produces the bytes and where they go; never reads the disk. What it
//! writes is checked against the host's sfdisk/sgdisk and against the table
//! virt-resize (parted + sfdisk) makes, in tools/tests/resize.rs.

use gx_disk::{DiskId, Guid, TableKind};

/// The GPT type parted gives a new partition ("Linux filesystem data").
pub const LINUX_FILESYSTEM: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/// Entries in the GPT entry array (parted's and sgdisk's number).
pub const GPT_ENTRIES: u32 = 128;
const GPT_ENTRY_SIZE: u32 = 128;
/// Sectors of the entry array: 128 entries of 128 bytes.
const GPT_ARRAY_SECTORS: u64 = 32;

/// One partition of the new table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartition {
    /// 1-based; MBR: the slot (1-4).
    pub number: u32,
    /// First and last sector, inclusive.
    pub start: u64,
    pub end: u64,
    /// MBR: type byte and active flag.
    pub mbr_type: u8,
    pub bootable: bool,
    /// GPT: type, unique GUID, name, attribute bits.
    pub gpt_type: Guid,
    pub gpt_guid: Guid,
    pub name: String,
    pub attributes: u64,
}

/// A whole new table.
#[derive(Debug, Clone)]
pub struct NewTable {
    pub kind: TableKind,
    /// MBR signature or GPT disk GUID.
    pub disk_id: DiskId,
    /// Size of the disk in sectors.
    pub sectors: u64,
    pub partitions: Vec<NewPartition>,
}

/// Bytes to write at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub offset: u64,
    pub data: Vec<u8>,
}

/// Why a table cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TableError(pub String);

/// LBA to the CHS triple of an MBR entry, as parted computes it for a disk
/// of 255 heads and 63 sectors per track (cylinders past 1023 saturate).
pub fn chs(lba: u64) -> [u8; 3] {
    let (heads, spt) = (255u64, 63u64);
    let c = lba / (heads * spt);
    if c > 1023 {
        return [0xfe, 0xff, 0xff];
    }
    let h = (lba / spt) % heads;
    let s = lba % spt + 1;
    [h as u8, (s as u8) | (((c >> 8) as u8) << 6), c as u8]
}

fn mbr_entry(
    boot: bool,
    t: u8,
    start: u64,
    sectors: u64,
    end_chs: [u8; 3],
    start_chs: [u8; 3],
) -> [u8; 16] {
    let mut e = [0u8; 16];
    e[0] = if boot { 0x80 } else { 0 };
    e[1..4].copy_from_slice(&start_chs);
    e[4] = t;
    e[5..8].copy_from_slice(&end_chs);
    e[8..12].copy_from_slice(&(start.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    e[12..16].copy_from_slice(&(sectors.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    e
}

/// The writes that put `table` on a disk. `boot_code` is the first 446
/// bytes of the new sector 0 (the boot loader; zeros when not copied); the
/// disk signature in it is replaced by the table's for MBR.
pub fn writes(table: &NewTable, boot_code: &[u8; 446]) -> Result<Vec<Write>, TableError> {
    match table.kind {
        TableKind::Mbr => mbr_writes(table, boot_code),
        TableKind::Gpt => gpt_writes(table, boot_code),
    }
}

fn mbr_writes(t: &NewTable, boot_code: &[u8; 446]) -> Result<Vec<Write>, TableError> {
    let mut s = vec![0u8; 512];
    s[..446].copy_from_slice(boot_code);
    if let DiskId::Mbr(id) = t.disk_id {
        s[440..444].copy_from_slice(&id.to_le_bytes());
    }
    for p in &t.partitions {
        if !(1..=4).contains(&p.number) {
            return Err(TableError(format!(
                "an MBR holds 4 primary partitions; partition {} does not fit",
                p.number
            )));
        }
        let (start, sectors) = check_extent(t, p, 1, t.sectors.saturating_sub(1))?;
        if start > u64::from(u32::MAX) || sectors > u64::from(u32::MAX) {
            return Err(TableError(format!(
                "partition {} (sectors {}-{}) is beyond what an MBR can address (2 TiB)",
                p.number, p.start, p.end
            )));
        }
        let at = 0x1be + 16 * (p.number as usize - 1);
        s[at..at + 16].copy_from_slice(&mbr_entry(
            p.bootable,
            p.mbr_type,
            start,
            sectors,
            chs(p.end),
            chs(p.start),
        ));
    }
    s[510] = 0x55;
    s[511] = 0xaa;
    Ok(vec![Write { offset: 0, data: s }])
}

fn check_extent(
    t: &NewTable,
    p: &NewPartition,
    first: u64,
    last: u64,
) -> Result<(u64, u64), TableError> {
    if p.start < first || p.end > last || p.end < p.start {
        return Err(TableError(format!(
            "partition {} (sectors {}-{}) does not fit the usable sectors {first}-{last} of a {}-sector disk",
            p.number, p.start, p.end, t.sectors
        )));
    }
    Ok((p.start, p.end - p.start + 1))
}

fn gpt_header(
    t: &NewTable,
    my_lba: u64,
    alt_lba: u64,
    entries_lba: u64,
    array_crc: u32,
) -> Vec<u8> {
    let last = t.sectors - 1;
    let mut h = vec![0u8; 512];
    h[0..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&my_lba.to_le_bytes());
    h[32..40].copy_from_slice(&alt_lba.to_le_bytes());
    h[40..48].copy_from_slice(&(2 + GPT_ARRAY_SECTORS).to_le_bytes());
    h[48..56].copy_from_slice(&(last - 1 - GPT_ARRAY_SECTORS).to_le_bytes());
    if let DiskId::Gpt(g) = t.disk_id {
        h[56..72].copy_from_slice(&g.0);
    }
    h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
    h[80..84].copy_from_slice(&GPT_ENTRIES.to_le_bytes());
    h[84..88].copy_from_slice(&GPT_ENTRY_SIZE.to_le_bytes());
    h[88..92].copy_from_slice(&array_crc.to_le_bytes());
    let crc = crc32fast::hash(&h[..92]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

fn gpt_writes(t: &NewTable, boot_code: &[u8; 446]) -> Result<Vec<Write>, TableError> {
    // Protective MBR, two headers and two 32-sector arrays, and a sector to spare.
    if t.sectors < 2 * (GPT_ARRAY_SECTORS + 2) + 1 {
        return Err(TableError(format!(
            "a {}-sector disk is too small for a GPT",
            t.sectors
        )));
    }
    let last = t.sectors - 1;
    let first_usable = 2 + GPT_ARRAY_SECTORS;
    let last_usable = last - 1 - GPT_ARRAY_SECTORS;
    let mut array = vec![0u8; (GPT_ENTRIES * GPT_ENTRY_SIZE) as usize];
    for p in &t.partitions {
        if !(1..=GPT_ENTRIES).contains(&p.number) {
            return Err(TableError(format!(
                "a GPT holds {GPT_ENTRIES} partitions; partition {} does not fit",
                p.number
            )));
        }
        check_extent(t, p, first_usable, last_usable)?;
        let e = &mut array[(p.number as usize - 1) * 128..][..128];
        e[0..16].copy_from_slice(&p.gpt_type.0);
        e[16..32].copy_from_slice(&p.gpt_guid.0);
        e[32..40].copy_from_slice(&p.start.to_le_bytes());
        e[40..48].copy_from_slice(&p.end.to_le_bytes());
        e[48..56].copy_from_slice(&p.attributes.to_le_bytes());
        let units: Vec<u16> = p.name.encode_utf16().collect();
        if units.len() > 36 {
            return Err(TableError(format!(
                "partition {} name \"{}\" is longer than the 36 UTF-16 units a GPT entry holds",
                p.number, p.name
            )));
        }
        for (k, u) in units.iter().enumerate() {
            e[56 + 2 * k..58 + 2 * k].copy_from_slice(&u.to_le_bytes());
        }
    }
    let array_crc = crc32fast::hash(&array);

    let mut pmbr = vec![0u8; 512];
    pmbr[..440].copy_from_slice(&boot_code[..440]);
    let size = last.min(u64::from(u32::MAX));
    // parted's protective entry: CHS 0/0/2 to all-ones, LBA 1 to the end.
    pmbr[0x1be..0x1ce].copy_from_slice(&mbr_entry(
        false,
        0xee,
        1,
        size,
        [0xff, 0xff, 0xff],
        [0x00, 0x02, 0x00],
    ));
    pmbr[510] = 0x55;
    pmbr[511] = 0xaa;

    let backup_array_lba = last - GPT_ARRAY_SECTORS;
    let primary = gpt_header(t, 1, last, 2, array_crc);
    let backup = gpt_header(t, last, 1, backup_array_lba, array_crc);
    let mut head = pmbr;
    head.extend_from_slice(&primary);
    head.extend_from_slice(&array);
    let mut tail = array;
    tail.extend_from_slice(&backup);
    Ok(vec![
        Write {
            offset: 0,
            data: head,
        },
        Write {
            offset: backup_array_lba * 512,
            data: tail,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use gx_disk::{BlockDevice, MemDevice, PartitionKind, read_partitions};

    fn apply(sectors: u64, w: &[Write]) -> MemDevice {
        let mut d = vec![0u8; (sectors * 512) as usize];
        for w in w {
            let o = w.offset as usize;
            d[o..o + w.data.len()].copy_from_slice(&w.data);
        }
        MemDevice::new(d, false, "new")
    }

    fn gpt_part(n: u32, start: u64, end: u64, name: &str) -> NewPartition {
        NewPartition {
            number: n,
            start,
            end,
            mbr_type: 0,
            bootable: false,
            gpt_type: Guid::parse(LINUX_FILESYSTEM).unwrap(),
            gpt_guid: Guid([n as u8; 16]),
            name: name.into(),
            attributes: 1 << 2 | 1 << 60,
        }
    }

    #[test]
    fn gpt_reads_back_with_both_headers() {
        let disk = Guid::parse("8F3C2A51-6B7D-4E90-A1B2-C3D4E5F60718").unwrap();
        let t = NewTable {
            kind: TableKind::Gpt,
            disk_id: DiskId::Gpt(disk),
            sectors: 8192,
            partitions: vec![
                gpt_part(1, 2048, 4095, "EFI System Partition"),
                gpt_part(2, 4096, 8158, "root"),
            ],
        };
        let w = writes(&t, &[0u8; 446]).unwrap();
        let dev = apply(8192, &w);
        let r = read_partitions(&dev).unwrap().unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.kind, TableKind::Gpt);
        assert_eq!(r.disk_id, DiskId::Gpt(disk));
        assert_eq!(r.partitions.len(), 2);
        assert_eq!(
            r.partitions[0].name.as_deref(),
            Some("EFI System Partition")
        );
        assert_eq!(r.partitions[1].start, 4096 * 512);
        assert_eq!(r.partitions[1].size, (8158 - 4096 + 1) * 512);
        assert_eq!(r.partitions[1].gpt_attributes, 1 << 2 | 1 << 60);
        assert_eq!(r.partitions[1].gpt_guid, Some(Guid([2; 16])));
        // The backup alone is enough: wipe the primary header.
        let mut bytes = vec![0u8; 8192 * 512];
        dev.read_at(&mut bytes, 0).unwrap();
        bytes[512..1024].fill(0);
        let r2 = read_partitions(&MemDevice::new(bytes, false, "b"))
            .unwrap()
            .unwrap();
        assert_eq!(r2.partitions, r.partitions);
        // A partition over the backup array is refused.
        let mut bad = t.clone();
        bad.partitions[1].end = 8160;
        assert!(writes(&bad, &[0u8; 446]).is_err());
    }

    #[test]
    fn mbr_reads_back() {
        let t = NewTable {
            kind: TableKind::Mbr,
            disk_id: DiskId::Mbr(0x4d55_4c54),
            sectors: 200_000,
            partitions: vec![
                NewPartition {
                    number: 1,
                    start: 2048,
                    end: 34815,
                    mbr_type: 0x07,
                    bootable: true,
                    gpt_type: Guid::default(),
                    gpt_guid: Guid::default(),
                    name: String::new(),
                    attributes: 0,
                },
                NewPartition {
                    number: 2,
                    start: 34816,
                    end: 199_999,
                    mbr_type: 0x83,
                    bootable: false,
                    gpt_type: Guid::default(),
                    gpt_guid: Guid::default(),
                    name: String::new(),
                    attributes: 0,
                },
            ],
        };
        let w = writes(&t, &[0x33u8; 446]).unwrap();
        let dev = apply(200_000, &w);
        let r = read_partitions(&dev).unwrap().unwrap();
        assert_eq!(r.disk_id, DiskId::Mbr(0x4d55_4c54));
        assert_eq!(r.partitions.len(), 2);
        assert!(r.partitions[0].bootable);
        assert_eq!(r.partitions[0].kind, PartitionKind::Primary);
        assert_eq!(r.partitions[1].mbr_type, Some(0x83));
        assert_eq!(r.partitions[1].size, (199_999 - 34816 + 1) * 512);
        assert_eq!(w[0].data[0], 0x33);
    }

    #[test]
    fn chs_like_parted() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(2048), [32, 33, 0]);
        assert_eq!(chs(16_450_560), [0xfe, 0xff, 0xff]);
    }
}

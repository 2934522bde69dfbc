//! Probing FAT12/16/32 boot sectors, their labels and volume ids, as blkid does (see the parent module).

use super::*;

pub(super) const FAT12_MAX: u32 = 0xFF4;
pub(super) const FAT16_MAX: u32 = 0xFFF4;
pub(super) const FAT32_MAX: u32 = 0x0FFF_FFF6;

/// The BitLocker boot-sector magics; a BitLocker volume looks like FAT.
pub(super) fn is_bitlocker(r: &Reader, bs: &[u8]) -> Result<bool> {
    let fve_off = if bs.starts_with(b"\xeb\x52\x90-FVE-FS-") {
        return Ok(true);
    } else if bs.starts_with(b"\xeb\x58\x90-FVE-FS-") {
        le64(bs, 176)?
    } else if bs.starts_with(b"\xeb\x58\x90MSWIN4.1") {
        le64(bs, 440)?
    } else {
        return Ok(false);
    };
    if fve_off == 0 {
        return Ok(false);
    }
    Ok(r.read(fve_off, 12)?
        .is_some_and(|m| m.starts_with(b"-FVE-FS-")))
}

/// blkid's FAT boot-sector checks; `Some((cluster_count, fat_size))` when valid.
///
/// blkid computes the cluster count in 32-bit unsigned arithmetic and relies
/// on its wrap-around (a FAT32 boot sector with a zero sector count still
/// passes); the wrapping operations below mirror that on purpose, so the same
/// boot sectors are accepted.
pub(super) fn fat_valid(r: &Reader, bs: &[u8], short_magic: bool) -> Result<Option<(u32, u32)>> {
    if short_magic {
        if field(bs, 0x1fe, 2) != b"\x55\xaa" {
            return Ok(None);
        }
        // OS/2 puts FAT-like pseudo boot sectors on JFS and HPFS.
        let magic = field(bs, 0x36, 8);
        if magic == b"JFS     " || magic == b"HPFS    " {
            return Ok(None);
        }
    }
    let fats = u8_at(bs, 0x10)?;
    let reserved = le16(bs, 0x0e)?;
    let media = u8_at(bs, 0x15)?;
    let cluster_size = u8_at(bs, 0x0d)?;
    if fats == 0 || reserved == 0 || !(media >= 0xf8 || media == 0xf0) {
        return Ok(None);
    }
    if !cluster_size.is_power_of_two() {
        return Ok(None);
    }
    let sector_size = le16(bs, 0x0b)?;
    if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
        return Ok(None);
    }
    let dir_entries = u32::from(le16(bs, 0x11)?);
    let mut sect_count = u32::from(le16(bs, 0x13)?);
    if sect_count == 0 {
        sect_count = le32(bs, 0x20)?;
    }
    let fat16_length = le16(bs, 0x16)?;
    let fat32_length = le32(bs, 0x24)?;
    let fat_length = if fat16_length == 0 {
        fat32_length
    } else {
        u32::from(fat16_length)
    };
    let fat_size = fat_length.wrapping_mul(u32::from(fats));
    let ss = u32::from(sector_size);
    let dir_size = (dir_entries * 32).div_ceil(ss);
    let overhead = u32::from(reserved)
        .wrapping_add(fat_size)
        .wrapping_add(dir_size);
    let cluster_count = sect_count.wrapping_sub(overhead) / u32::from(cluster_size);
    let max_count = if fat16_length == 0 && fat32_length != 0 {
        FAT32_MAX
    } else if cluster_count > FAT12_MAX {
        FAT16_MAX
    } else {
        FAT12_MAX
    };
    if cluster_count > max_count {
        return Ok(None);
    }
    if is_bitlocker(r, bs)? {
        return Ok(None);
    }
    Ok(Some((cluster_count, fat_size)))
}

/// The volume-label entry of a FAT root directory (the first entry with the
/// volume-ID attribute and no directory bit), as blkid finds it.
pub(super) fn search_fat_label(r: &Reader, offset: u64, entries: u32) -> Result<Option<[u8; 11]>> {
    let whole = if r.tiny {
        None
    } else {
        match r.read(offset, u64::from(entries) * 32)? {
            Some(b) => Some(b),
            None => return Ok(None),
        }
    };
    for i in 0..entries {
        let ent_off = u64::from(i) * 32;
        let owned;
        let ent: &[u8] = match &whole {
            Some(b) => field(b, ent_off as usize, 32),
            None => match offset.checked_add(ent_off) {
                Some(o) => match r.read(o, 32)? {
                    Some(b) => {
                        owned = b;
                        &owned
                    }
                    None => break,
                },
                None => break,
            },
        };
        if ent.len() < 32 || ent[0] == 0 {
            break;
        }
        let attr = ent[11];
        if ent[0] == 0xe5 || le16(ent, 20)? != 0 || le16(ent, 26)? != 0 || attr & 0x3f == 0x0f {
            continue;
        }
        if attr & (0x08 | 0x10) == 0x08 {
            let mut name = [0u8; 11];
            name.copy_from_slice(&ent[..11]);
            if name[0] == 0x05 {
                name[0] = 0xe5;
            }
            return Ok(Some(name));
        }
    }
    Ok(None)
}

pub(super) fn probe_vfat(r: &Reader) -> Result<Option<Found>> {
    const MAGICS: [(&[u8], u64); 9] = [
        (b"MSWIN", 0x52),
        (b"FAT32   ", 0x52),
        (b"MSDOS", 0x36),
        (b"FAT16   ", 0x36),
        (b"FAT12   ", 0x36),
        (b"FAT     ", 0x36),
        (b"\xeb", 0),
        (b"\xe9", 0),
        (b"\x55\xaa", 0x1fe),
    ];
    let mut magic_len = None;
    for (magic, sb_off) in MAGICS {
        if r.has_magic(0, sb_off, magic)? {
            magic_len = Some(magic.len());
            break;
        }
    }
    let Some(magic_len) = magic_len else {
        return Ok(None);
    };
    let Some(bs) = r.read(0, 512)? else {
        return Ok(None);
    };
    let Some((cluster_count, fat_size)) = fat_valid(r, &bs, magic_len <= 2)? else {
        return Ok(None);
    };
    let sector_size = u32::from(le16(&bs, 0x0b)?);
    let reserved = u32::from(le16(&bs, 0x0e)?);
    let mut vol_label = None;
    let mut serial = None;
    let version;
    if le16(&bs, 0x16)? != 0 {
        // FAT12/16: a fixed root directory right after the FATs.
        let root_start = reserved.wrapping_add(fat_size).wrapping_mul(sector_size);
        vol_label = search_fat_label(r, u64::from(root_start), u32::from(le16(&bs, 0x11)?))?;
        if matches!(u8_at(&bs, 0x26)?, 0x28 | 0x29) {
            serial = Some(field(&bs, 0x27, 4));
        }
        version = if cluster_count < FAT12_MAX {
            Some("FAT12")
        } else if cluster_count < FAT16_MAX {
            Some("FAT16")
        } else {
            None
        };
    } else if le32(&bs, 0x24)? != 0 {
        // FAT32: the root directory is a cluster chain; blkid follows at
        // most 99 clusters of it.
        let cluster_sectors = u32::from(u8_at(&bs, 0x0d)?);
        let buf_size = cluster_sectors * sector_size;
        let start_data_sect = reserved.wrapping_add(fat_size);
        let entries = (u64::from(le32(&bs, 0x24)?) * u64::from(sector_size) / 4) as u32;
        let mut next = le32(&bs, 0x2c)?;
        let mut maxloop = 100;
        while next != 0 && next < entries {
            maxloop -= 1;
            if maxloop == 0 {
                break;
            }
            // 32-bit wrap-around as in blkid (see fat_valid).
            let next_sect_off = next.wrapping_sub(2).wrapping_mul(cluster_sectors);
            let next_off =
                u64::from(start_data_sect.wrapping_add(next_sect_off)) * u64::from(sector_size);
            vol_label = search_fat_label(r, next_off, buf_size / 32)?;
            if vol_label.is_some() {
                break;
            }
            let fat_entry_off = u64::from(reserved) * u64::from(sector_size) + u64::from(next) * 4;
            // blkid reads a cluster-sized buffer here; mirror its range check.
            if !r.in_range(fat_entry_off, u64::from(buf_size)) {
                break;
            }
            let Some(e) = r.read(fat_entry_off, 4)? else {
                break;
            };
            next = le32(&e, 0)? & 0x0fff_ffff;
        }
        version = Some("FAT32");
        serial = Some(field(&bs, 0x43, 4));
        let fsinfo_sect = le16(&bs, 0x30)?;
        if fsinfo_sect != 0 {
            let Some(fsinfo) = r.read(u64::from(fsinfo_sect) * u64::from(sector_size), 512)? else {
                return Ok(None);
            };
            let sig1 = field(&fsinfo, 0, 4);
            let sig2 = field(&fsinfo, 484, 4);
            if !matches!(sig1, b"RRaA" | b"RRdA" | b"\0\0\0\0")
                || !matches!(sig2, b"rrAa" | b"\0\0\0\0")
            {
                return Ok(None);
            }
        }
    } else {
        version = None;
    }
    // blkid's LABEL comes from the root directory entry only; the boot
    // sector's copy is its separate LABEL_FATBOOT tag, which libguestfs
    // never reports.
    Ok(Some(Found {
        label: vol_label.and_then(|l| label_from(&l)),
        uuid: serial.and_then(serial_uuid),
        version: version.map(str::to_string),
    }))
}

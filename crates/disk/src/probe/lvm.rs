//! Probing LVM2 physical volumes (the PV label), as blkid does (see the parent module).

use super::*;

pub(super) const LVM2_LABEL_SIZE: usize = 512;

/// LVM2's label CRC (a nibble-wise CRC-32 variant with its own seed).
pub(super) fn lvm2_crc(data: &[u8]) -> u32 {
    const TAB: [u32; 16] = [
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158,
        0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4,
        0xa00ae278, 0xbdbdf21c,
    ];
    let mut crc: u32 = 0xf597a6cf;
    for &b in data {
        crc ^= u32::from(b);
        crc = (crc >> 4) ^ TAB[(crc & 0xf) as usize];
        crc = (crc >> 4) ^ TAB[(crc & 0xf) as usize];
    }
    crc
}

pub(super) fn probe_lvm2(r: &Reader) -> Result<Option<Found>> {
    // The label lives in one of the first four sectors; pvcreate uses the second.
    const MAGICS: [(u64, u64); 4] = [(0, 0x218), (0, 0x018), (1, 0x018), (1, 0x218)];
    let mut kb = None;
    for (kb_off, sb_off) in MAGICS {
        if r.has_magic(kb_off, sb_off, b"LVM2 001")? {
            kb = Some(kb_off);
            break;
        }
    }
    let Some(kb) = kb else { return Ok(None) };
    let base = kb * 1024;
    let Some(buf) = r.read(base, 512 + 64)? else {
        return Ok(None);
    };
    let mut sector = kb * 2;
    let label_off = if buf.starts_with(b"LABELONE") {
        base
    } else if buf.get(512..520) == Some(b"LABELONE") {
        sector += 1;
        base + 512
    } else {
        return Ok(None);
    };
    let Some(label) = r.read(label_off, LVM2_LABEL_SIZE as u64)? else {
        return Ok(None);
    };
    if le64(&label, 8)? != sector {
        return Ok(None);
    }
    // The CRC covers the label sector from the offset_xl field (byte 20) on.
    if lvm2_crc(&label[20..]) != le32(&label, 16)? {
        return Ok(None);
    }
    let id = field(&label, 32, 32);
    let uuid = if id.iter().all(|&c| c == 0) {
        None
    } else {
        // blkid prints the 32 characters with dashes as 6-4-4-4-4-4-6, as a C
        // string (a NUL ends it).
        let mut s = String::new();
        for (i, &c) in id.iter().enumerate() {
            if c == 0 {
                break;
            }
            if matches!(i, 6 | 10 | 14 | 18 | 22 | 26) {
                s.push('-');
            }
            s.push(char::from(c));
        }
        Some(s)
    };
    Ok(Some(Found {
        label: None,
        uuid,
        version: Some("LVM2 001".to_string()),
    }))
}

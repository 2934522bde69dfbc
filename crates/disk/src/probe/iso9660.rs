//! Probing ISO 9660 volume descriptors (with Joliet), as blkid does (see the parent module).

use super::*;

pub(super) const ISO_SECTOR: u64 = 2048;
/// The size blkid reads per volume descriptor (up to the modification date).
pub(super) const ISO_VD_LEN: u64 = 847;

/// C's `toupper` for ASCII.
pub(super) fn c_toupper(c: u8) -> u8 {
    c.to_ascii_uppercase()
}

/// blkid's reconstruction of a long ISO label: when the Joliet (UTF-16BE,
/// 16 characters at most) string is a prefix of the ASCII one (32 characters,
/// `_` for what ASCII cannot say), rebuild the whole string in UTF-16BE from
/// both. `None` when it is not a prefix.
pub(super) fn merge_utf16be_ascii(utf16: &[u8], ascii: &[u8]) -> Option<Vec<u8>> {
    let len = utf16.len().min(ascii.len());
    let mut out = Vec::with_capacity(len * 4);
    let (mut a, mut u) = (0usize, 0usize);
    while u + 1 < len && a < len {
        // A surrogate pair is copied whole and counts as one ASCII character.
        if (0xd8..=0xdb).contains(&utf16[u]) && u + 3 < len && (0xdc..=0xdf).contains(&utf16[u + 2])
        {
            out.extend_from_slice(&utf16[u..u + 2]);
            u += 2;
        }
        let (hi, lo) = (utf16[u], utf16[u + 1]);
        if ascii[a] == b'_' {
            out.extend_from_slice(&[hi, lo]);
        } else if hi == 0 && lo == b'_' {
            out.extend_from_slice(&[0, ascii[a]]);
        } else if hi == 0 && c_toupper(ascii[a]) == c_toupper(lo) {
            out.extend_from_slice(&[
                0,
                if ascii[a].is_ascii_uppercase() {
                    lo
                } else {
                    ascii[a]
                },
            ]);
        } else {
            return None;
        }
        a += 1;
        u += 2;
    }
    for &c in &ascii[a..len] {
        out.extend_from_slice(&[0, c]);
    }
    if out.is_empty() { None } else { Some(out) }
}

/// blkid's date-based ISO "UUID": `"YYYY-MM-DD-hh-mm-ss-cc"` from a
/// 17-byte volume descriptor date. `Err(())` when the date is unset (all '0'
/// digits and a zero offset), so the caller may try another date.
pub(super) fn iso_date_uuid(date: &[u8]) -> std::result::Result<Option<String>, ()> {
    let digits = field(date, 0, 16);
    if digits.len() != 16 {
        return Ok(None);
    }
    if digits.iter().all(|&c| c == b'0') && u8_at(date, 16).is_ok_and(|b| b == 0) {
        return Err(());
    }
    if digits.iter().all(|&c| c == 0) {
        return Ok(None);
    }
    let mut s = Vec::with_capacity(22);
    for (i, &c) in digits.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10 | 12 | 14) {
            s.push(b'-');
        }
        s.push(c);
    }
    // blkid formats with %c into a C string: a NUL digit ends it.
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    Ok(Some(String::from_utf8_lossy(&s[..end]).into_owned()))
}

pub(super) fn probe_iso9660(r: &Reader) -> Result<Option<Found>> {
    if r.has_magic(32, 1, b"CD001")? {
        return probe_iso9660_vds(r);
    }
    if r.has_magic(32, 9, b"CDROM")? {
        // High Sierra, the pre-ISO format: label only.
        let Some(vd) = r.read(0x8000, 80)? else {
            return Ok(None);
        };
        return Ok(Some(Found {
            label: label_from(field(&vd, 48, 32)),
            uuid: None,
            version: Some("High Sierra".to_string()),
        }));
    }
    Ok(None)
}

pub(super) fn probe_iso9660_vds(r: &Reader) -> Result<Option<Found>> {
    let mut pvd = None;
    let mut joliet: Option<Vec<u8>> = None;
    let mut boot = false;
    // At most 16 descriptors, up to the terminator.
    for i in 0..16u64 {
        if boot && pvd.is_some() && joliet.is_some() {
            break;
        }
        let off = 0x8000 + i * ISO_SECTOR;
        let Some(vd) = r.read(off, ISO_VD_LEN)? else {
            break;
        };
        match vd[0] {
            0xff => break,
            0 if !boot => boot = true,
            1 if pvd.is_none() => pvd = Some(vd),
            2 if joliet.is_none() => {
                if matches!(field(&vd, 88, 3), b"%/@" | b"%/C" | b"%/E") {
                    joliet = Some(vd);
                }
            }
            _ => {}
        }
    }
    let Some(pvd) = pvd else { return Ok(None) };
    // The UUID is the modification date, or else the creation date.
    let uuid = match iso_date_uuid(field(&pvd, 830, 17)) {
        Ok(u) => u,
        Err(()) => iso_date_uuid(field(&pvd, 813, 17)).unwrap_or(None),
    };
    let pvd_id = field(&pvd, 40, 32);
    let label = match &joliet {
        Some(j) => {
            let jid = field(j, 40, 32);
            match merge_utf16be_ascii(jid, pvd_id) {
                Some(merged) => utf16_label(&merged, true),
                None => utf16_label(jid, true),
            }
        }
        None => label_from(pvd_id),
    };
    Ok(Some(Found {
        label,
        uuid,
        version: joliet.map(|_| "Joliet Extension".to_string()),
    }))
}

//! Probing NTFS boot sectors and the $Volume name, as blkid does (see the parent module).

use super::*;

/// NTFS clusters may be up to 2 MiB (Windows 10 1703 and later).
pub(super) const NTFS_MAX_CLUSTER_SIZE: u32 = 2 * 1024 * 1024;
/// The most of an MFT record we parse; real records are 1 or 4 KiB.
pub(super) const NTFS_MAX_RECORD_PARSE: u32 = 64 * 1024;

pub(super) fn probe_ntfs(r: &Reader) -> Result<Option<Found>> {
    if !r.has_magic(0, 3, b"NTFS    ")? {
        return Ok(None);
    }
    let Some(bs) = r.read(0, 84)? else {
        return Ok(None);
    };
    let sector_size = u32::from(le16(&bs, 11)?);
    if !(256..=4096).contains(&sector_size) {
        return Ok(None);
    }
    let spc_raw = u8_at(&bs, 13)?;
    let sectors_per_cluster: u32 = match spc_raw {
        1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 => u32::from(spc_raw),
        // Larger clusters are stored as a negative power of two.
        240..=249 => 1 << (256 - u32::from(spc_raw)),
        _ => return Ok(None),
    };
    let cluster_size = sector_size * sectors_per_cluster;
    if cluster_size > NTFS_MAX_CLUSTER_SIZE {
        return Ok(None);
    }
    // Fields FAT uses must be zero on NTFS.
    if le16(&bs, 14)? != 0
        || le16(&bs, 17)? != 0
        || le16(&bs, 19)? != 0
        || le16(&bs, 22)? != 0
        || le32(&bs, 32)? != 0
        || u8_at(&bs, 16)? != 0
    {
        return Ok(None);
    }
    let cpm = u8_at(&bs, 64)? as i8;
    let record_size: u32 = match cpm {
        1 | 2 | 4 | 8 | 16 | 32 | 64 => u32::from(cpm as u8) * cluster_size,
        -31..=-9 => 1u32 << (-i32::from(cpm)),
        _ => return Ok(None),
    };
    let nr_clusters = le64(&bs, 40)? / u64::from(sectors_per_cluster);
    let mft_lcn = le64(&bs, 48)?;
    if mft_lcn > nr_clusters || le64(&bs, 56)? > nr_clusters {
        return Ok(None);
    }
    let Some(mft_off) = mft_lcn.checked_mul(u64::from(cluster_size)) else {
        return Ok(None);
    };
    let rec_len = u64::from(record_size);
    let parse_len = u64::from(record_size.min(NTFS_MAX_RECORD_PARSE));
    // Record 0 ($MFT) and record 3 ($Volume) must both be in place.
    if !r.in_range(mft_off, rec_len) {
        return Ok(None);
    }
    match r.read(mft_off, 4)? {
        Some(m) if m == b"FILE" => {}
        _ => return Ok(None),
    }
    let Some(vol_off) = rec_len.checked_mul(3).and_then(|d| mft_off.checked_add(d)) else {
        return Ok(None);
    };
    if !r.in_range(vol_off, rec_len) {
        return Ok(None);
    }
    let Some(mut rec) = r.read(vol_off, parse_len)? else {
        return Ok(None);
    };
    if !rec.starts_with(b"FILE") {
        return Ok(None);
    }
    apply_fixups(&mut rec);
    let serial = field(&bs, 72, 8);
    let uuid = if serial.iter().all(|&b| b == 0) {
        None
    } else {
        Some(format!("{:016X}", le64(&bs, 72)?))
    };
    Ok(Some(Found {
        label: ntfs_volume_name(&rec, rec_len),
        uuid,
        version: None,
    }))
}

/// Undo an MFT record's update-sequence protection in place: the last two
/// bytes of every 512-byte stride hold the sequence number on disk, and the
/// real bytes are kept in the update sequence array. ntfs-3g (and so
/// libguestfs's `vfs-label`) reads records this way; blkid does not. When
/// the array is implausible or a stride's check bytes do not match, the
/// record is left as stored, which is what blkid reads.
pub(super) fn apply_fixups(rec: &mut [u8]) {
    const STRIDE: usize = 512;
    let (Ok(usa_ofs), Ok(usa_count)) = (le16(rec, 4), le16(rec, 6)) else {
        return;
    };
    let (usa_ofs, usa_count) = (usize::from(usa_ofs), usize::from(usa_count));
    if usa_count < 2 {
        return;
    }
    let strides = usa_count - 1;
    let Some(usa_end) = usa_count
        .checked_mul(2)
        .and_then(|n| n.checked_add(usa_ofs))
    else {
        return;
    };
    // The array must lie before the first check bytes, and the strides must
    // cover the record exactly, as ntfs-3g insists.
    if usa_ofs % 2 != 0 || usa_end > STRIDE - 2 || strides * STRIDE != rec.len() {
        return;
    }
    let usn = [rec[usa_ofs], rec[usa_ofs + 1]];
    if (1..=strides).any(|i| rec[i * STRIDE - 2..i * STRIDE] != usn) {
        return;
    }
    for i in 1..=strides {
        let saved = [rec[usa_ofs + 2 * i], rec[usa_ofs + 2 * i + 1]];
        rec[i * STRIDE - 2..i * STRIDE].copy_from_slice(&saved);
    }
}

/// The $VOLUME_NAME attribute (type 0x60) of the $Volume MFT record, as
/// libguestfs's `vfs-label` reports it: libguestfs asks `ntfslabel`, which
/// prints the name as stored (up to a NUL character, white space kept), not
/// blkid's trimmed LABEL. The attribute walk is blkid's: bounded by the record.
pub(super) fn ntfs_volume_name(rec: &[u8], rec_len: u64) -> Option<String> {
    let bytes_allocated = u64::from(le32(rec, 0x1c).ok()?);
    let mut attr_off = u64::from(le16(rec, 0x14).ok()?);
    // Every step advances by at least one byte within the record: bounded.
    while attr_off + 22 <= rec_len && attr_off <= bytes_allocated {
        let at = usize::try_from(attr_off).ok()?;
        let attr = rec.get(at..)?;
        if attr.len() < 22 {
            return None;
        }
        let attr_type = le32(attr, 0).ok()?;
        let attr_len = le32(attr, 4).ok()?;
        if attr_len == 0 || attr_type == 0xffff_ffff {
            return None;
        }
        if attr_type == 0x60 {
            let val_len = u64::from(le32(attr, 16).ok()?);
            let val_off = u64::from(le16(attr, 20).ok()?);
            if attr_off + val_off + val_len > rec_len {
                return None;
            }
            let start = usize::try_from(attr_off + val_off).ok()?;
            let end = usize::try_from(attr_off + val_off + val_len).ok()?;
            return utf16_string(rec.get(start..end)?, false);
        }
        attr_off += u64::from(attr_len);
    }
    None
}

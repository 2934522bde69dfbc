//! Probing exFAT boot sectors and the volume label entry, as blkid does (see the parent module).

use super::*;

pub(super) fn probe_exfat(r: &Reader) -> Result<Option<Found>> {
    if !r.has_magic(0, 3, b"EXFAT   ")? {
        return Ok(None);
    }
    let Some(sb) = r.read(0, 111)? else {
        return Ok(None);
    };
    let block_bits = u32::from(u8_at(&sb, 108)?);
    let bpc_bits = u32::from(u8_at(&sb, 109)?);
    // blkid computes the cluster size in 32 bits; larger shifts are nonsense.
    if block_bits + bpc_bits >= 32 {
        return Ok(None);
    }
    let label = exfat_label(r, &sb, block_bits, bpc_bits)?;
    Ok(Some(Found {
        label,
        uuid: serial_uuid(field(&sb, 100, 4)),
        version: Some(format!("{}.{}", u8_at(&sb, 105)?, u8_at(&sb, 104)?)),
    }))
}

/// The volume-label entry (type 0x83) of the exFAT root directory, following
/// its cluster chain through the FAT for at most 10000 entries.
pub(super) fn exfat_label(
    r: &Reader,
    sb: &[u8],
    block_bits: u32,
    bpc_bits: u32,
) -> Result<Option<String>> {
    let cluster_size = 1u64 << (block_bits + bpc_bits);
    let cluster_block_start = u64::from(le32(sb, 88)?);
    let fat_off = u64::from(le32(sb, 80)?) << block_bits;
    let cluster_off = |cluster: u32| -> Option<u64> {
        let rel = u64::from(cluster.checked_sub(2)?) << bpc_bits;
        cluster_block_start
            .checked_add(rel)?
            .checked_mul(1 << block_bits)
    };
    let mut cluster = le32(sb, 96)?;
    let Some(mut offset) = cluster_off(cluster) else {
        return Ok(None);
    };
    for _ in 0..10_000 {
        let Some(entry) = r.read(offset, 32)? else {
            return Ok(None);
        };
        match entry[0] {
            0x00 => return Ok(None),
            0x83 => {
                let len = (usize::from(entry[1]) * 2).min(22);
                return Ok(utf16_label(&entry[2..2 + len], false));
            }
            _ => {}
        }
        offset += 32;
        if offset % cluster_size == 0 {
            let Some(next) = fat_off
                .checked_add(u64::from(cluster) * 4)
                .map(|o| r.read(o, 4))
                .transpose()?
                .flatten()
            else {
                return Ok(None);
            };
            cluster = le32(&next, 0)?;
            if !(2..=0x0fff_fff6).contains(&cluster) {
                return Ok(None);
            }
            let Some(o) = cluster_off(cluster) else {
                return Ok(None);
            };
            offset = o;
        }
    }
    Ok(None)
}

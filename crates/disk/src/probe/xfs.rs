//! Probing XFS superblocks, as blkid does (see the parent module).

use super::*;

pub(super) fn probe_xfs(r: &Reader) -> Result<Option<Found>> {
    if !r.has_magic(0, 0, b"XFSB")? {
        return Ok(None);
    }
    let Some(sb) = r.read(0, 160)? else {
        return Ok(None);
    };
    if !xfs_sb_valid(&sb)? {
        return Ok(None);
    }
    let label = if u8_at(&sb, 108)? != 0 {
        label_from(field(&sb, 108, 12))
    } else {
        None
    };
    Ok(Some(Found {
        label,
        uuid: uuid_from(field(&sb, 32, 16)),
        version: None,
    }))
}

/// blkid's sanity checks on an XFS superblock (big-endian fields).
pub(super) fn xfs_sb_valid(sb: &[u8]) -> Result<bool> {
    let blocksize = u64::from(be32(sb, 4)?);
    let dblocks = be64(sb, 8)?;
    let rextsize = u64::from(be32(sb, 80)?);
    let agblocks = u64::from(be32(sb, 84)?);
    let agcount = u64::from(be32(sb, 88)?);
    let sectsize = u32::from(be16(sb, 102)?);
    let inodesize = u32::from(be16(sb, 104)?);
    let blocklog = u32::from(u8_at(sb, 120)?);
    let sectlog = u32::from(u8_at(sb, 121)?);
    let inodelog = u32::from(u8_at(sb, 122)?);
    let inopblog = i64::from(u8_at(sb, 123)?);
    let imax_pct = u8_at(sb, 127)?;
    let rext_bytes = rextsize * blocksize;
    Ok(agcount != 0
        && (512..=32768).contains(&sectsize)
        && (9..=15).contains(&sectlog)
        && sectsize == 1 << sectlog
        && (512..=65536).contains(&blocksize)
        && (9..=16).contains(&blocklog)
        && blocksize == 1 << blocklog
        && (256..=2048).contains(&inodesize)
        && (8..=11).contains(&inodelog)
        && inodesize == 1 << inodelog
        && i64::from(blocklog) - i64::from(inodelog) == inopblog
        && (4096..=1 << 30).contains(&rext_bytes)
        && imax_pct <= 100
        && dblocks != 0
        && dblocks <= agcount * agblocks
        && dblocks >= (agcount - 1) * agblocks + 64)
}

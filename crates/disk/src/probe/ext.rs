//! Probing ext2/3/4 superblocks and external journals (jbd), as blkid does (see the parent module).

use super::*;

pub(super) const EXT3_FEATURE_COMPAT_HAS_JOURNAL: u32 = 0x0004;
pub(super) const EXT3_FEATURE_INCOMPAT_JOURNAL_DEV: u32 = 0x0008;
pub(super) const EXT2_FLAGS_TEST_FILESYS: u32 = 0x0004;
/// ro_compat features ext2 and ext3 understand: sparse_super, large_file, btree_dir.
pub(super) const EXT23_RO_COMPAT_SUPP: u32 = 0x0001 | 0x0002 | 0x0004;
/// incompat features ext2 understands: filetype, meta_bg.
pub(super) const EXT2_INCOMPAT_SUPP: u32 = 0x0002 | 0x0010;
/// incompat features ext3 understands: filetype, recover, meta_bg.
pub(super) const EXT3_INCOMPAT_SUPP: u32 = 0x0002 | 0x0004 | 0x0010;

/// The fields of an ext superblock that decide the type.
pub(super) struct ExtSb {
    sb: Vec<u8>,
    compat: u32,
    incompat: u32,
    ro_compat: u32,
    flags: u32,
}

pub(super) fn ext_sb(r: &Reader) -> Result<Option<ExtSb>> {
    if !r.has_magic(1, 0x38, b"\x53\xef")? {
        return Ok(None);
    }
    let Some(sb) = r.read(0x400, 0x200)? else {
        return Ok(None);
    };
    Ok(Some(ExtSb {
        compat: le32(&sb, 0x5c)?,
        incompat: le32(&sb, 0x60)?,
        ro_compat: le32(&sb, 0x64)?,
        flags: le32(&sb, 0x160)?,
        sb,
    }))
}

pub(super) fn ext_found(e: &ExtSb) -> Result<Found> {
    let label = if u8_at(&e.sb, 0x78)? != 0 {
        label_from(field(&e.sb, 0x78, 16))
    } else {
        None
    };
    Ok(Found {
        label,
        uuid: uuid_from(field(&e.sb, 0x68, 16)),
        version: Some(format!("{}.{}", le32(&e.sb, 0x4c)?, le16(&e.sb, 0x3e)?)),
    })
}

pub(super) fn probe_jbd(r: &Reader) -> Result<Option<Found>> {
    let Some(e) = ext_sb(r)? else { return Ok(None) };
    if e.incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV == 0 {
        return Ok(None);
    }
    Ok(Some(ext_found(&e)?))
}

pub(super) fn probe_ext2(r: &Reader) -> Result<Option<Found>> {
    let Some(e) = ext_sb(r)? else { return Ok(None) };
    if e.compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL != 0
        || e.ro_compat & !EXT23_RO_COMPAT_SUPP != 0
        || e.incompat & !EXT2_INCOMPAT_SUPP != 0
    {
        return Ok(None);
    }
    Ok(Some(ext_found(&e)?))
}

pub(super) fn probe_ext3(r: &Reader) -> Result<Option<Found>> {
    let Some(e) = ext_sb(r)? else { return Ok(None) };
    if e.compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL == 0
        || e.ro_compat & !EXT23_RO_COMPAT_SUPP != 0
        || e.incompat & !EXT3_INCOMPAT_SUPP != 0
    {
        return Ok(None);
    }
    Ok(Some(ext_found(&e)?))
}

pub(super) fn probe_ext4dev(r: &Reader) -> Result<Option<Found>> {
    let Some(e) = ext_sb(r)? else { return Ok(None) };
    if e.incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV != 0 || e.flags & EXT2_FLAGS_TEST_FILESYS == 0
    {
        return Ok(None);
    }
    Ok(Some(ext_found(&e)?))
}

pub(super) fn probe_ext4(r: &Reader) -> Result<Option<Found>> {
    let Some(e) = ext_sb(r)? else { return Ok(None) };
    // ext4 is "ext with at least one feature ext3 does not understand",
    // journal or not; a filesystem marked for testing is ext4dev instead.
    if e.incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV != 0
        || (e.ro_compat & !EXT23_RO_COMPAT_SUPP == 0 && e.incompat & !EXT3_INCOMPAT_SUPP == 0)
        || e.flags & EXT2_FLAGS_TEST_FILESYS != 0
    {
        return Ok(None);
    }
    Ok(Some(ext_found(&e)?))
}

//! Probing btrfs superblocks, as blkid does (see the parent module).

use super::*;

pub(super) fn probe_btrfs(r: &Reader) -> Result<Option<Found>> {
    if !r.has_magic(64, 0x40, b"_BHRfS_M")? {
        return Ok(None);
    }
    let Some(sb) = r.read(64 * 1024, 555)? else {
        return Ok(None);
    };
    Ok(Some(Found {
        // libguestfs's `vfs-label` asks `btrfs filesystem label`, which
        // prints the stored label untrimmed (blkid trims trailing blanks).
        label: c_string(field(&sb, 299, 256)),
        uuid: uuid_from(field(&sb, 32, 16)),
        version: None,
    }))
}

//! ext4 extended attributes: the entries stored in the inode (after
//! `i_extra_isize`) and in the attribute block (`i_file_acl`), listed in the
//! order the kernel's listxattr gives them (inode first, then the block),
//! with the names the kernel shows (`user.`, `trusted.`, `security.`,
//! `system.posix_acl_*`) and POSIX ACLs converted from ext4's compact form
//! to the generic form getxattr returns.
//!
//! Pure parsing of byte slices the caller read: every offset and length is
//! checked against the slice; nothing is allocated beyond the slice's size.

use crate::{Error, Result};

/// `h_magic` / the in-inode header.
pub(crate) const XATTR_MAGIC: u32 = 0xEA02_0000;
/// Size of an entry without its name.
const ENTRY_HEADER: usize = 16;
/// Size of the attribute block header.
pub(crate) const BLOCK_HEADER: usize = 32;

/// One attribute as stored: name index, name (without prefix), value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawXattr {
    pub index: u8,
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Parses the entry table starting at `entries[0]`; value offsets are
/// relative to `values` (the in-inode area after its magic, or the whole
/// block). `what` names the place for errors.
pub(crate) fn parse_entries(
    entries: &[u8],
    values: &[u8],
    what: &dyn Fn() -> String,
    out: &mut Vec<RawXattr>,
) -> Result<()> {
    let corrupt = |why: String| Error::corrupt(format!("{}: extended attributes: {why}", what()));
    let mut off = 0usize;
    loop {
        if off + 4 > entries.len() {
            // The table must end with a zero word inside its area.
            if off == entries.len() {
                return Ok(());
            }
            return Err(corrupt(format!("entry table runs past its area at {off}")));
        }
        if le32(entries, off) == 0 {
            return Ok(());
        }
        if off + ENTRY_HEADER > entries.len() {
            return Err(corrupt(format!("entry header at {off} runs past its area")));
        }
        let name_len = usize::from(entries[off]);
        let index = entries[off + 1];
        let value_offs = usize::from(le16(entries, off + 2));
        let value_inum = le32(entries, off + 4);
        let value_size = le32(entries, off + 8) as usize;
        let name_end = off + ENTRY_HEADER + name_len;
        if name_end > entries.len() {
            return Err(corrupt(format!(
                "name of entry at {off} runs past its area"
            )));
        }
        if value_inum != 0 {
            return Err(Error::unsupported(format!(
                "{}: an extended attribute value stored in inode {value_inum} (ea_inode)",
                what()
            )));
        }
        let value_end = value_offs
            .checked_add(value_size)
            .filter(|&e| e <= values.len())
            .ok_or_else(|| {
                corrupt(format!(
                    "value of entry at {off} ({value_size} bytes at {value_offs}) is outside its area"
                ))
            })?;
        out.push(RawXattr {
            index,
            name: entries[off + ENTRY_HEADER..name_end].to_vec(),
            value: values[value_offs..value_end].to_vec(),
        });
        // Entries are padded to 4 bytes.
        off = (name_end + 3) & !3;
    }
}

/// The in-inode attributes: `area` is the inode's bytes after
/// `128 + i_extra_isize`.
pub(crate) fn parse_ibody(
    area: &[u8],
    what: &dyn Fn() -> String,
    out: &mut Vec<RawXattr>,
) -> Result<()> {
    if area.len() < 4 || le32(area, 0) != XATTR_MAGIC {
        return Ok(());
    }
    let rest = &area[4..];
    parse_entries(rest, rest, what, out)
}

/// The attribute block's attributes.
pub(crate) fn parse_block(
    block: &[u8],
    what: &dyn Fn() -> String,
    out: &mut Vec<RawXattr>,
) -> Result<()> {
    let corrupt =
        |why: &str| Error::corrupt(format!("{}: extended attribute block: {why}", what()));
    if block.len() < BLOCK_HEADER {
        return Err(corrupt("shorter than its header"));
    }
    if le32(block, 0) != XATTR_MAGIC {
        return Err(corrupt("bad magic"));
    }
    if le32(block, 8) != 1 {
        return Err(corrupt("spans more than one block"));
    }
    parse_entries(&block[BLOCK_HEADER..], block, what, out)
}

/// The name the kernel lists for an attribute, or `None` for those it does
/// not list (no handler: `system.data` of inline data, richacl, unknown).
pub(crate) fn full_name(x: &RawXattr) -> Option<String> {
    let prefix = match x.index {
        1 => "user.",
        2 => return Some("system.posix_acl_access".into()),
        3 => return Some("system.posix_acl_default".into()),
        4 => "trusted.",
        6 => "security.",
        _ => return None,
    };
    Some(format!("{prefix}{}", String::from_utf8_lossy(&x.name)))
}

/// ACL tags with an id field.
const ACL_USER: u16 = 0x02;
const ACL_GROUP: u16 = 0x08;
const ACL_UNDEFINED_ID: u32 = 0xffff_ffff;

/// ext4's on-disk ACL (version 1, short entries for the `*_OBJ`, `MASK` and
/// `OTHER` tags) in the generic form (version 2, 8-byte entries) that
/// getxattr returns.
pub(crate) fn acl_to_generic(disk: &[u8], what: &dyn Fn() -> String) -> Result<Vec<u8>> {
    let corrupt = |why: String| Error::corrupt(format!("{}: POSIX ACL: {why}", what()));
    if disk.len() < 4 || le32(disk, 0) != 1 {
        return Err(corrupt("bad header".into()));
    }
    let mut out = Vec::with_capacity(disk.len() * 2);
    out.extend_from_slice(&2u32.to_le_bytes());
    let mut off = 4;
    while off < disk.len() {
        if off + 4 > disk.len() {
            return Err(corrupt(format!("entry at {off} is cut short")));
        }
        let tag = le16(disk, off);
        let perm = le16(disk, off + 2);
        let id = if tag == ACL_USER || tag == ACL_GROUP {
            if off + 8 > disk.len() {
                return Err(corrupt(format!("entry at {off} is cut short")));
            }
            let id = le32(disk, off + 4);
            off += 8;
            id
        } else {
            off += 4;
            ACL_UNDEFINED_ID
        };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u8, name: &[u8], value_offs: u16, size: u32) -> Vec<u8> {
        let mut e = vec![name.len() as u8, index];
        e.extend_from_slice(&value_offs.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&size.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(name);
        while e.len() % 4 != 0 {
            e.push(0);
        }
        e
    }

    #[test]
    fn hostile_entries_are_errors() {
        let what = || "test".to_string();
        // A value past the area.
        let mut area = XATTR_MAGIC.to_le_bytes().to_vec();
        area.extend(entry(1, b"a", 60000, 10));
        area.extend([0u8; 4]);
        let mut v = Vec::new();
        assert!(parse_ibody(&area, &what, &mut v).is_err());
        // A name longer than the area.
        let mut area = XATTR_MAGIC.to_le_bytes().to_vec();
        area.extend([255u8, 1, 0, 0]);
        assert!(parse_ibody(&area, &what, &mut v).is_err());
        // No terminator: an error, not a read past the end.
        let mut area = XATTR_MAGIC.to_le_bytes().to_vec();
        area.extend(entry(1, b"ab", 0, 0));
        area.extend([1u8, 1]);
        assert!(parse_ibody(&area, &what, &mut v).is_err());
        // Huge value size with wrapping offsets.
        let mut area = XATTR_MAGIC.to_le_bytes().to_vec();
        area.extend(entry(1, b"x", 0xffff, u32::MAX));
        area.extend([0u8; 4]);
        assert!(parse_ibody(&area, &what, &mut v).is_err());
        assert!(acl_to_generic(&[1, 0, 0, 0, 2, 0], &what).is_err());
    }

    #[test]
    fn acl_short_and_long_entries() {
        let what = || "t".to_string();
        let mut disk = 1u32.to_le_bytes().to_vec();
        disk.extend([1, 0, 6, 0]); // USER_OBJ rw-
        disk.extend([2, 0, 4, 0, 0xe8, 3, 0, 0]); // USER 1000 r--
        disk.extend([0x20, 0, 4, 0]); // OTHER r--
        let g = acl_to_generic(&disk, &what).unwrap();
        assert_eq!(g.len(), 4 + 3 * 8);
        assert_eq!(&g[0..4], &2u32.to_le_bytes());
        assert_eq!(&g[8..12], &ACL_UNDEFINED_ID.to_le_bytes());
        assert_eq!(&g[16..20], &1000u32.to_le_bytes());
    }
}

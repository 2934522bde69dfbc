//! XFS extended attributes: short form (in the inode), leaf and node forms
//! (blocks of the attribute fork), local and remote values.
//!
//! Owns listing a file's attributes as the kernel's listxattr names them
//! (`user.`, `trusted.`, `security.` prefixes; the on-disk POSIX ACLs also
//! as `system.posix_acl_*` in the kernel's xattr format). It must not trust
//! a size, offset or block pointer: values are bounded by XFS's 64 KiB
//! limit, node walks by depth and leaf chains by a visited set.

use super::dir::{DA_MAX_DEPTH, V5Header, XFS_DA_NODE_MAGIC, XFS_DA3_NODE_MAGIC};
use super::inode::{FMT_LOCAL, Fork, Inode};
use super::{XfsFs, be16, be32};
use crate::XAttr;
use gx_disk::{Error, Result};
use std::collections::HashSet;

const XFS_ATTR_LEAF_MAGIC: u16 = 0xfbee;
const XFS_ATTR3_LEAF_MAGIC: u16 = 0x3bee;
const XFS_ATTR3_RMT_MAGIC: u32 = 0x5841_524d; // XARM
const ATTR_LOCAL: u8 = 1 << 0;
const ATTR_ROOT: u8 = 1 << 1;
const ATTR_SECURE: u8 = 1 << 2;
const ATTR_INCOMPLETE: u8 = 1 << 7;
/// XFS_XATTR_SIZE_MAX.
const XATTR_SIZE_MAX: usize = 1 << 16;
/// Attributes one inode may list before we refuse it (bounds memory).
const MAX_ATTRS: usize = 1 << 16;
const SGI_ACL_FILE: &[u8] = b"SGI_ACL_FILE";
const SGI_ACL_DEFAULT: &[u8] = b"SGI_ACL_DEFAULT";

/// One attribute as stored: flags, name and value.
struct RawAttr {
    flags: u8,
    name: Vec<u8>,
    value: Vec<u8>,
}

impl XfsFs {
    fn attr_corrupt(&self, ino: u64, why: impl std::fmt::Display) -> Error {
        self.corrupt(format!("inode {ino}: attributes: {why}"))
    }

    /// The attributes of `inode` as listxattr + getxattr would give them.
    pub(crate) fn xattrs(&self, inode: &Inode) -> Result<Vec<XAttr>> {
        let raw = match inode.aformat {
            None => Vec::new(),
            Some(FMT_LOCAL) => self.shortform_attrs(inode)?,
            Some(_) => self.leaf_attrs(inode)?,
        };
        let mut out = Vec::new();
        for a in raw {
            if a.flags & ATTR_INCOMPLETE != 0 {
                continue;
            }
            let name = String::from_utf8_lossy(&a.name).into_owned();
            if a.flags & ATTR_ROOT != 0 {
                let acl = if a.name == SGI_ACL_FILE {
                    Some("system.posix_acl_access")
                } else if a.name == SGI_ACL_DEFAULT {
                    Some("system.posix_acl_default")
                } else {
                    None
                };
                if let Some(acl) = acl {
                    out.push(XAttr {
                        attrname: acl.to_string(),
                        attrval: acl_to_xattr(&a.value).ok_or_else(|| {
                            self.attr_corrupt(inode.ino, format!("{name} is not a valid ACL"))
                        })?,
                    });
                }
                out.push(XAttr {
                    attrname: format!("trusted.{name}"),
                    attrval: a.value,
                });
            } else if a.flags & ATTR_SECURE != 0 {
                out.push(XAttr {
                    attrname: format!("security.{name}"),
                    attrval: a.value,
                });
            } else {
                out.push(XAttr {
                    attrname: format!("user.{name}"),
                    attrval: a.value,
                });
            }
        }
        Ok(out)
    }

    fn shortform_attrs(&self, inode: &Inode) -> Result<Vec<RawAttr>> {
        let ino = inode.ino;
        let f = &inode.afork;
        if f.len() < 4 {
            return Err(self.attr_corrupt(ino, "short form header truncated"));
        }
        let totsize = usize::from(be16(f, 0));
        if totsize < 4 || totsize > f.len() {
            return Err(self.attr_corrupt(ino, format!("short form size {totsize}")));
        }
        let count = usize::from(f[2]);
        let mut pos = 4;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            if pos + 3 > totsize {
                return Err(self.attr_corrupt(ino, "short form entry past the end"));
            }
            let namelen = usize::from(f[pos]);
            let valuelen = usize::from(f[pos + 1]);
            let flags = f[pos + 2];
            let end = pos + 3 + namelen + valuelen;
            if namelen == 0 || end > totsize {
                return Err(self.attr_corrupt(ino, format!("short form entry at {pos}")));
            }
            out.push(RawAttr {
                flags,
                name: f[pos + 3..pos + 3 + namelen].to_vec(),
                value: f[pos + 3 + namelen..end].to_vec(),
            });
            pos = end;
        }
        Ok(out)
    }

    /// One attribute fork block: its bytes and its disk address (512-byte
    /// units).
    fn attr_block(&self, inode: &Inode, lblk: u64) -> Result<(Vec<u8>, u64)> {
        let ext = self.extents(inode, Fork::Attr)?;
        let fsb = Self::map_block(&ext, lblk)
            .ok_or_else(|| self.attr_corrupt(inode.ino, format!("block {lblk} is a hole")))?;
        let b = self.read_fsb(fsb)?;
        let daddr = self.sb.fsb_to_byte(fsb, 1).unwrap_or(0) >> 9;
        Ok((b, daddr))
    }

    fn leaf_attrs(&self, inode: &Inode) -> Result<Vec<RawAttr>> {
        let ino = inode.ino;
        let v5 = self.sb.v5;
        let mut visited = HashSet::new();
        // Down the leftmost path of the node levels to the first leaf.
        let mut lblk = 0u64;
        let mut depth = 0;
        let (mut buf, mut daddr) = loop {
            if !visited.insert(lblk) {
                return Err(
                    self.attr_corrupt(ino, format!("block {lblk} is reached twice (a loop?)"))
                );
            }
            let (buf, daddr) = self.attr_block(inode, lblk)?;
            let magic = be16(&buf, 8);
            match magic {
                XFS_DA_NODE_MAGIC | XFS_DA3_NODE_MAGIC => {
                    if (magic == XFS_DA3_NODE_MAGIC) != v5 || depth >= DA_MAX_DEPTH {
                        return Err(
                            self.attr_corrupt(ino, format!("node block {lblk} (depth {depth})"))
                        );
                    }
                    self.check_v5_header(ino, &buf, daddr, V5Header::Da, "attribute node block")?;
                    let count = usize::from(be16(&buf, self.da_count_off()));
                    let hdr = if v5 { 64 } else { 16 };
                    if count == 0 || hdr + count * 8 > buf.len() {
                        return Err(self
                            .attr_corrupt(ino, format!("node block {lblk} has {count} entries")));
                    }
                    lblk = u64::from(be32(&buf, hdr + 4));
                    depth += 1;
                }
                XFS_ATTR_LEAF_MAGIC | XFS_ATTR3_LEAF_MAGIC => {
                    break (buf, daddr);
                }
                _ => {
                    return Err(
                        self.attr_corrupt(ino, format!("block {lblk}: bad magic {magic:#x}"))
                    );
                }
            }
        };
        let mut out = Vec::new();
        loop {
            let magic = be16(&buf, 8);
            let want = if v5 {
                XFS_ATTR3_LEAF_MAGIC
            } else {
                XFS_ATTR_LEAF_MAGIC
            };
            if magic != want {
                return Err(
                    self.attr_corrupt(ino, format!("leaf block {lblk}: bad magic {magic:#x}"))
                );
            }
            self.check_v5_header(ino, &buf, daddr, V5Header::Da, "attribute leaf block")?;
            self.leaf_block_attrs(inode, &buf, lblk, &mut out)?;
            if out.len() > MAX_ATTRS {
                return Err(Error::unsupported(format!(
                    "{}: xfs: inode {ino} has more than {MAX_ATTRS} attributes",
                    self.name
                )));
            }
            let forw = u64::from(be32(&buf, 0));
            if forw == 0 {
                break;
            }
            if !visited.insert(forw) {
                return Err(self.attr_corrupt(
                    ino,
                    format!("leaf chain reaches block {forw} twice (a loop?)"),
                ));
            }
            lblk = forw;
            (buf, daddr) = self.attr_block(inode, lblk)?;
        }
        Ok(out)
    }

    fn leaf_block_attrs(
        &self,
        inode: &Inode,
        buf: &[u8],
        lblk: u64,
        out: &mut Vec<RawAttr>,
    ) -> Result<()> {
        let ino = inode.ino;
        let hdr = if self.sb.v5 { 80 } else { 32 };
        let count = usize::from(be16(buf, self.da_count_off()));
        if hdr + count * 8 > buf.len() {
            return Err(self.attr_corrupt(ino, format!("leaf block {lblk} has {count} entries")));
        }
        for i in 0..count {
            let e = hdr + i * 8;
            let nameidx = usize::from(be16(buf, e + 4));
            let flags = buf[e + 6];
            let bad = || self.attr_corrupt(ino, format!("leaf block {lblk} entry {i}"));
            if nameidx < hdr + count * 8 || nameidx >= buf.len() {
                return Err(bad());
            }
            if flags & ATTR_LOCAL != 0 {
                if nameidx + 3 > buf.len() {
                    return Err(bad());
                }
                let valuelen = usize::from(be16(buf, nameidx));
                let namelen = usize::from(buf[nameidx + 2]);
                let end = nameidx + 3 + namelen + valuelen;
                if namelen == 0 || end > buf.len() {
                    return Err(bad());
                }
                out.push(RawAttr {
                    flags,
                    name: buf[nameidx + 3..nameidx + 3 + namelen].to_vec(),
                    value: buf[nameidx + 3 + namelen..end].to_vec(),
                });
            } else {
                if nameidx + 9 > buf.len() {
                    return Err(bad());
                }
                let valueblk = u64::from(be32(buf, nameidx));
                let valuelen = be32(buf, nameidx + 4) as usize;
                let namelen = usize::from(buf[nameidx + 8]);
                if namelen == 0 || nameidx + 9 + namelen > buf.len() {
                    return Err(bad());
                }
                let name = buf[nameidx + 9..nameidx + 9 + namelen].to_vec();
                let value = if flags & ATTR_INCOMPLETE != 0 {
                    Vec::new()
                } else {
                    self.remote_value(inode, valueblk, valuelen)?
                };
                out.push(RawAttr { flags, name, value });
            }
        }
        Ok(())
    }

    /// A value kept in its own blocks of the attribute fork.
    fn remote_value(&self, inode: &Inode, valueblk: u64, valuelen: usize) -> Result<Vec<u8>> {
        let ino = inode.ino;
        if valuelen > XATTR_SIZE_MAX {
            return Err(self.attr_corrupt(ino, format!("remote value of {valuelen} bytes")));
        }
        let bs = self.sb.blocksize as usize;
        let hdr = if self.sb.v5 { 56 } else { 0 };
        let per = bs - hdr;
        let mut value = Vec::with_capacity(valuelen);
        let mut lblk = valueblk;
        while value.len() < valuelen {
            let (b, daddr) = self.attr_block(inode, lblk)?;
            let want = (valuelen - value.len()).min(per);
            if self.sb.v5 {
                let bad =
                    |why: &str| self.attr_corrupt(ino, format!("remote value block {lblk}: {why}"));
                if be32(&b, 0) != XFS_ATTR3_RMT_MAGIC {
                    return Err(bad("bad magic"));
                }
                if be32(&b, 4) as usize != value.len() || be32(&b, 8) as usize != want {
                    return Err(bad("offset or length does not match the value"));
                }
                if !super::crc::verify(&b, 12) {
                    return Err(bad("checksum mismatch"));
                }
                if b[16..32] != self.sb.meta_uuid
                    || super::be64(&b, 32) != ino
                    || super::be64(&b, 40) != daddr
                {
                    return Err(bad("header names another filesystem, owner or block"));
                }
            }
            value.extend_from_slice(&b[hdr..hdr + want]);
            lblk += 1;
        }
        Ok(value)
    }
}

/// An on-disk XFS ACL (struct xfs_acl, big-endian) in the form the kernel's
/// getxattr returns for `system.posix_acl_*` (posix_acl_xattr, version 2,
/// little-endian; ids only for named users and groups).
fn acl_to_xattr(v: &[u8]) -> Option<Vec<u8>> {
    const ACL_USER: u32 = 0x02;
    const ACL_GROUP: u32 = 0x08;
    if v.len() < 4 {
        return None;
    }
    let count = be32(v, 0) as usize;
    if count.checked_mul(12)?.checked_add(4)? > v.len() {
        return None;
    }
    let mut out = Vec::with_capacity(4 + count * 8);
    out.extend_from_slice(&2u32.to_le_bytes());
    for i in 0..count {
        let e = 4 + i * 12;
        let tag = be32(v, e);
        let id = be32(v, e + 4);
        let perm = be16(v, e + 8);
        out.extend_from_slice(&(tag as u16).to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        let id = if tag == ACL_USER || tag == ACL_GROUP {
            id
        } else {
            u32::MAX
        };
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}

//! Extended attributes, through the system calls (no getfattr/setfattr):
//! listing with values, one at a time, per-directory batches (`lxattrlist`),
//! setting and removing.
//!
//! Must not: return NTFS's internal `user.WofCompressedData` (the kernel
//! cannot read it and it must not be copied), or values over the kernel's
//! limit.

use std::path::Path;

use gx_protocol::Xattr;

use super::paths::{guest, guest_nofollow};
use super::{R, err, fail};
use crate::sys;

/// The kernel's limit on one value (XATTR_SIZE_MAX).
const XATTR_SIZE_MAX: usize = 65536;

fn visible(name: &str) -> bool {
    name != "user.WofCompressedData"
}

fn names(p: &Path, follow: bool) -> std::io::Result<Vec<String>> {
    let raw = sys::list_xattrs(p, follow)?;
    Ok(raw
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| visible(n))
        .collect())
}

/// Every attribute of `p`, sorted by name.
fn all(p: &Path, follow: bool, shown: &str) -> R<Vec<Xattr>> {
    let names = names(p, follow).map_err(|e| fail(e, format!("listxattr: {shown}")))?;
    let mut v = Vec::with_capacity(names.len());
    for n in names {
        let val = sys::get_xattr(p, &n, follow).map_err(|e| fail(e, format!("getxattr: {n}")))?;
        v.push(Xattr {
            attrname: n,
            attrval: val,
        });
    }
    v.sort_by(|a, b| a.attrname.cmp(&b.attrname));
    Ok(v)
}

pub fn getxattrs(path: &str) -> R<Vec<Xattr>> {
    all(&guest(path)?, true, path)
}

pub fn lgetxattrs(path: &str) -> R<Vec<Xattr>> {
    all(&guest_nofollow(path)?, false, path)
}

pub fn getxattr(path: &str, name: &str, follow: bool) -> R<Vec<u8>> {
    let p = if follow {
        guest(path)?
    } else {
        guest_nofollow(path)?
    };
    sys::get_xattr(&p, name, follow).map_err(|e| fail(e, format!("getxattr: {path}: {name}")))
}

/// For each name in `dir`: an entry with an empty name whose value is the
/// count of that file's attributes (decimal, NUL-terminated as libguestfs
/// sends it), then the attributes sorted. A file that cannot be listed gets
/// the marker with an empty value and nothing after it.
pub fn lxattrlist(dir: &str, names: &[String]) -> R<Vec<Xattr>> {
    for n in names {
        if n.contains('/') || n.is_empty() {
            return Err(err(libc::EINVAL, format!("'{n}' is not a file name")));
        }
    }
    let d = guest(dir)?;
    let mut out = Vec::new();
    for n in names {
        let p = d.join(n);
        let Ok(list) = self::names(&p, false) else {
            out.push(Xattr::default());
            continue;
        };
        let mut attrs = Vec::with_capacity(list.len());
        for a in list {
            let val =
                sys::get_xattr(&p, &a, false).map_err(|e| fail(e, format!("getxattr: {a}")))?;
            attrs.push(Xattr {
                attrname: a,
                attrval: val,
            });
        }
        attrs.sort_by(|a, b| a.attrname.cmp(&b.attrname));
        let mut count = attrs.len().to_string().into_bytes();
        count.push(0);
        out.push(Xattr {
            attrname: String::new(),
            attrval: count,
        });
        out.extend(attrs);
    }
    Ok(out)
}

pub fn setxattr(xattr: &str, val: &[u8], vallen: i32, path: &str, follow: bool) -> R<()> {
    let len = usize::try_from(vallen)
        .map_err(|_| err(libc::EINVAL, format!("{path}: vallen is negative")))?;
    if len > XATTR_SIZE_MAX {
        return Err(err(libc::E2BIG, "extended attribute is too large"));
    }
    let bytes = val;
    if len > bytes.len() {
        return Err(err(
            libc::EINVAL,
            format!(
                "{path}: vallen {len} is longer than the value ({} bytes)",
                bytes.len()
            ),
        ));
    }
    let p = if follow {
        guest(path)?
    } else {
        guest_nofollow(path)?
    };
    sys::set_xattr(&p, xattr, &bytes[..len], follow)
        .map_err(|e| fail(e, format!("setxattr: {path}: {xattr}")))
}

pub fn removexattr(xattr: &str, path: &str, follow: bool) -> R<()> {
    let p = if follow {
        guest(path)?
    } else {
        guest_nofollow(path)?
    };
    sys::remove_xattr(&p, xattr, follow)
        .map_err(|e| fail(e, format!("removexattr: {path}: {xattr}")))
}

/// Copies every attribute of `src` onto `dest` (both resolved host paths).
pub fn copy_all(src: &Path, dest: &Path, src_name: &str, dest_name: &str) -> R<()> {
    for a in all(src, true, src_name)? {
        sys::set_xattr(dest, &a.attrname, &a.attrval, true)
            .map_err(|e| fail(e, format!("setxattr: {dest_name}: {}", a.attrname)))?;
    }
    Ok(())
}

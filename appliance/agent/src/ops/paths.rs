//! Guest paths: every path argument is absolute and resolved inside
//! `/sysroot`, symlinks included (an absolute link target restarts at the
//! guest's root, `..` never climbs above it), and only once something is
//! mounted there (libguestfs's "you must call 'mount' first").
//!
//! Must not: let a guest symlink lead a write outside `/sysroot`.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::{R, err};

pub const SYSROOT: &str = "/sysroot";

/// Whether a filesystem is mounted on `/sysroot` (it is another device than
/// the initramfs's root).
pub fn root_mounted() -> bool {
    match (fs::metadata(SYSROOT), fs::metadata("/")) {
        (Ok(s), Ok(r)) => s.dev() != r.dev(),
        _ => false,
    }
}

/// libguestfs's check for calls with path arguments.
pub fn need_root() -> R<()> {
    if root_mounted() {
        Ok(())
    } else {
        Err(err(
            libc::EINVAL,
            "you must call 'mount' first to mount the root filesystem",
        ))
    }
}

fn absolute(path: &str) -> R<()> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(err(
            libc::EINVAL,
            format!("{path}: path must start with a / character"),
        ))
    }
}

/// A guest path argument, checked and resolved following every symlink.
pub fn guest(path: &str) -> R<PathBuf> {
    absolute(path)?;
    need_root()?;
    resolve(path, true)
}

/// A guest path whose last component, if a symlink, is the symlink itself.
pub fn guest_nofollow(path: &str) -> R<PathBuf> {
    absolute(path)?;
    need_root()?;
    resolve(path, false)
}

/// For calls that create or remove the name itself (mkdir, rm, ln_s,
/// rename): the parent resolved, the last component kept as is.
pub fn guest_parent(path: &str) -> R<PathBuf> {
    absolute(path)?;
    need_root()?;
    let p = Path::new(path);
    let name = match p.components().next_back() {
        Some(Component::Normal(n)) => n.to_os_string(),
        _ => return Err(err(libc::EINVAL, format!("{path}: no file name"))),
    };
    let parent = p.parent().and_then(Path::to_str).unwrap_or("/");
    let mut out = resolve(if parent.is_empty() { "/" } else { parent }, true)?;
    out.push(name);
    Ok(out)
}

/// The guest path of a host path under `/sysroot` (`/sysroot/etc` -> `/etc`).
pub fn guest_rel(p: &Path) -> String {
    match p.strip_prefix(SYSROOT) {
        Ok(r) if r.as_os_str().is_empty() => "/".into(),
        Ok(r) => format!("/{}", r.to_string_lossy()),
        Err(_) => p.to_string_lossy().into_owned(),
    }
}

/// Resolves a guest absolute path to a host path under /sysroot, following
/// symlinks *inside* the guest tree. `follow_last`: whether a symlink in the
/// last component is followed too.
pub fn resolve(path: &str, follow_last: bool) -> R<PathBuf> {
    absolute(path)?;
    let mut parts: Vec<Vec<u8>> = Vec::new();
    // Work list of remaining components, reversed so pop() gives the next one.
    let mut todo: Vec<Vec<u8>> = split(path.as_bytes());
    todo.reverse();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_slice() {
            b"." => continue,
            b".." => {
                parts.pop();
                continue;
            }
            _ => {}
        }
        let is_last = todo.is_empty();
        let mut candidate = PathBuf::from(SYSROOT);
        for p in &parts {
            candidate.push(OsStr::from_bytes(p));
        }
        candidate.push(OsStr::from_bytes(&c));
        let is_link = fs::symlink_metadata(&candidate)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if is_link && (!is_last || follow_last) {
            links += 1;
            if links > 40 {
                return Err(err(libc::ELOOP, format!("{path}: too many symbolic links")));
            }
            let target = fs::read_link(&candidate)
                .map_err(|e| super::fail(e, format!("readlink: {path}")))?;
            let t = target.as_os_str().as_bytes();
            if t.starts_with(b"/") {
                parts.clear();
            }
            let mut more = split(t);
            more.reverse();
            todo.extend(more);
            continue;
        }
        parts.push(c);
    }
    let mut out = PathBuf::from(SYSROOT);
    for p in &parts {
        out.push(OsStr::from_bytes(p));
    }
    Ok(out)
}

fn split(p: &[u8]) -> Vec<Vec<u8>> {
    p.split(|b| *b == b'/')
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_refused() {
        let e = resolve("etc/passwd", true).expect_err("relative");
        assert_eq!(e.errno, libc::EINVAL);
        assert!(e.message.contains("must start with a /"), "{e}");
    }

    #[test]
    fn dotdot_stays_inside() {
        // Nothing under /sysroot on the build host: no symlinks to follow.
        assert_eq!(
            resolve("/../../etc/./x/..", true).expect("resolve"),
            PathBuf::from("/sysroot/etc")
        );
        assert_eq!(guest_rel(Path::new("/sysroot")), "/");
        assert_eq!(guest_rel(Path::new("/sysroot/a/b")), "/a/b");
    }
}

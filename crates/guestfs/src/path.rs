//! Guest path and device-name helpers.

use crate::{Error, ErrorKind, FileType, Result};
use std::collections::VecDeque;

/// Split an absolute guest path into its components, dropping empty and `.`
/// components. `..` is kept: resolving it needs the filesystem (symlinks).
pub fn components(path: &str) -> Result<Vec<&str>> {
    if !path.starts_with('/') {
        return Err(Error::invalid(format!(
            "{path}: path must start with a / character"
        )));
    }
    if path.contains('\0') {
        return Err(Error::invalid("path contains a NUL byte"));
    }
    Ok(path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect())
}

/// Join components into an absolute path (`[]` is `/`).
pub fn join(parts: &[String]) -> String {
    if parts.is_empty() {
        "/".to_string()
    } else {
        let mut s = String::new();
        for p in parts {
            s.push('/');
            s.push_str(p);
        }
        s
    }
}

/// `dir` + `/` + `name`, without doubling the slash at the root.
pub fn child(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// libguestfs's `case_sensitive_path`: `p` with each existing component
/// spelled as in its directory (an exact match first, else the first whose
/// lowercase matches), `names(dir)` listing a directory. A missing last
/// component is kept as given; a missing directory on the way is NotFound.
pub(crate) fn case_sensitive_path(
    p: &str,
    mut names: impl FnMut(&str) -> Result<Vec<String>>,
) -> Result<String> {
    let parts = components(p)?;
    let mut cur = String::from("/");
    for (i, c) in parts.iter().enumerate() {
        if *c == ".." {
            return Err(Error::invalid(format!(
                "{p}: case_sensitive_path: path must not contain '..'"
            )));
        }
        let last = i + 1 == parts.len();
        let entries = match names(&cur) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::NotFound && last => Vec::new(),
            Err(e) => return Err(e),
        };
        let found = entries.iter().find(|n| *n == c).or_else(|| {
            let lc = c.to_lowercase();
            entries.iter().find(|n| n.to_lowercase() == lc)
        });
        match found {
            Some(n) => cur = child(&cur, n),
            None if last => cur = child(&cur, c),
            None => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("{p}: No such file or directory"),
                ));
            }
        }
    }
    Ok(cur)
}

/// libguestfs's canonical device name: `/dev/vdX` and `/dev/hdX` become
/// `/dev/sdX`; everything else is returned as is.
pub fn canonical_device_name(device: &str) -> String {
    for prefix in ["/dev/vd", "/dev/hd", "/dev/xvd"] {
        if let Some(rest) = device.strip_prefix(prefix) {
            if rest.starts_with(|c: char| c.is_ascii_lowercase()) {
                return format!("/dev/sd{rest}");
            }
        }
    }
    device.to_string()
}

/// Parse a device name into (disk index, partition number); `/dev/sda` is
/// (0, None), `/dev/sdb3` is (1, Some(3)). Accepts vd/hd spellings too.
pub fn parse_device(device: &str) -> Option<(usize, Option<u32>)> {
    let canon = canonical_device_name(device);
    let rest = canon.strip_prefix("/dev/sd")?;
    let letters: String = rest
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    if letters.is_empty() {
        return None;
    }
    let digits = &rest[letters.len()..];
    // sda=0 ... sdz=25, sdaa=26: bijective base 26.
    let mut index: usize = 0;
    for c in letters.chars() {
        index = index
            .checked_mul(26)?
            .checked_add((c as u8 - b'a') as usize + 1)?;
    }
    let index = index - 1;
    if digits.is_empty() {
        Some((index, None))
    } else if digits.starts_with('0') {
        None
    } else {
        digits.parse().ok().map(|n| (index, Some(n)))
    }
}

/// Longest chain of symlinks followed in one lookup (Linux's MAXSYMLINKS).
pub(crate) const MAX_SYMLINKS: usize = 40;

/// Deepest directory recursion of a walk (`find`, `du`, `tar_out`); deeper
/// trees are reported as corrupt (a loop), not walked.
pub const MAX_DEPTH: usize = 4096;

/// Resolve a guest path component by component, as the kernel does: `..`
/// pops the resolved prefix, a symlink's target is spliced in (an absolute
/// one restarts from `/`), and a non-directory in the middle is an error.
/// `file_type` and `readlink` look at one resolved prefix; each engine gives
/// its own. The final component is followed only with `follow`; with
/// `missing_last_ok`, a final component that does not exist is kept as is.
pub(crate) fn resolve(
    guest_path: &str,
    follow: bool,
    missing_last_ok: bool,
    mut file_type: impl FnMut(&[String]) -> Result<FileType>,
    mut readlink: impl FnMut(&[String]) -> Result<String>,
) -> Result<Vec<String>> {
    let mut todo: VecDeque<String> = components(guest_path)?
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0usize;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            cur.pop();
            continue;
        }
        cur.push(c);
        let last = todo.is_empty();
        if last && !follow {
            break;
        }
        let t = match file_type(&cur) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound && last && missing_last_ok => break,
            Err(e) => return Err(e),
        };
        match t {
            FileType::Symlink => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Error::invalid(format!(
                        "{guest_path}: Too many levels of symbolic links"
                    )));
                }
                let target = readlink(&cur)?;
                cur.pop();
                if target.starts_with('/') {
                    cur.clear();
                }
                for (i, t) in target
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .enumerate()
                {
                    todo.insert(i, t.to_string());
                }
            }
            FileType::Directory => {}
            _ if !last => {
                return Err(Error::invalid(format!("{guest_path}: Not a directory")));
            }
            _ => {}
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        assert_eq!(parse_device("/dev/sda"), Some((0, None)));
        assert_eq!(parse_device("/dev/vdb3"), Some((1, Some(3))));
        assert_eq!(parse_device("/dev/sdaa"), Some((26, None)));
        assert_eq!(parse_device("/dev/sdz12"), Some((25, Some(12))));
        assert_eq!(parse_device("/dev/sda0"), None);
        assert_eq!(parse_device("/dev/sd"), None);
        assert_eq!(parse_device("sda"), None);
        assert_eq!(canonical_device_name("/dev/vda1"), "/dev/sda1");
        assert_eq!(canonical_device_name("/dev/VG/LV"), "/dev/VG/LV");
    }

    #[test]
    fn path_components() {
        assert_eq!(components("/").unwrap(), Vec::<&str>::new());
        assert_eq!(components("//a/./b/").unwrap(), vec!["a", "b"]);
        assert_eq!(components("/a/../b").unwrap(), vec!["a", "..", "b"]);
        assert!(components("a/b").is_err());
        assert_eq!(child("/", "etc"), "/etc");
        assert_eq!(child("/etc", "passwd"), "/etc/passwd");
    }

    #[test]
    fn resolve_follows_links_dotdot_and_refuses_loops() {
        // /bin -> usr/bin, /loop -> /loop, /etc/hostname a file.
        let kind = |parts: &[String]| -> Result<FileType> {
            Ok(match join(parts).as_str() {
                "/bin" | "/loop" => FileType::Symlink,
                "/etc/hostname" => FileType::Regular,
                "/nope" => return Err(Error::not_found("no")),
                _ => FileType::Directory,
            })
        };
        let link = |parts: &[String]| -> Result<String> {
            Ok(if join(parts) == "/bin" {
                "usr/bin".into()
            } else {
                "/loop".into()
            })
        };
        let r = |p: &str, follow: bool| resolve(p, follow, true, kind, link).map(|c| join(&c));
        assert_eq!(r("/bin/ls", true).unwrap(), "/usr/bin/ls");
        assert_eq!(r("/bin/../etc", true).unwrap(), "/usr/etc");
        assert_eq!(r("/bin", false).unwrap(), "/bin");
        assert_eq!(r("/nope", true).unwrap(), "/nope");
        assert!(
            r("/loop", true)
                .unwrap_err()
                .message()
                .contains("Too many levels")
        );
        assert!(
            r("/etc/hostname/x", true)
                .unwrap_err()
                .message()
                .contains("Not a directory")
        );
        assert!(resolve("/nope", true, false, kind, link).is_err());
    }
}

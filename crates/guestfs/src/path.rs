//! Guest path and device-name helpers.

use crate::{Error, Result};

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
}

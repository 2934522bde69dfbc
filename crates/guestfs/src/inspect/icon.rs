//! The guest's icon (libguestfs's `inspect_get_icon`): the PNG file each
//! distribution ships its logo in, found, checked and read as libguestfs
//! does (lib/inspect-icon.c), so that the bytes are the same.
//!
//! What libguestfs gets by running external programs is not done here:
//! CirrOS (its logo is ASCII art, rendered with netpbm's `pbmtext` and
//! `pnmtopng`), Windows XP and Windows 7 (icons extracted from `explorer.exe`
//! with `wrestool`, then converted with `bmptopnm`, `pamcut` and
//! `pnmtopng`). Those guests get no icon. Windows 8 (a PNG file) and every
//! Linux distribution libguestfs knows are read.
//!
//! Nothing here trusts the guest: a file must be a PNG whose header says
//! 16 to 1024 pixels each way, and is read only up to the per-distribution
//! size limit; whatever fails is "no icon", never an error. It must not
//! write to the guest or mount anything (the caller mounts the root).

use crate::Handle;

/// Where a logo is and the largest file accepted (0: four bytes a pixel).
type Place = (&'static str, u64);

const FEDORA: &[Place] = &[(
    "/usr/share/icons/hicolor/96x96/apps/fedora-logo-icon.png",
    0,
)];
/// RHEL and its clones before 7.
const RHEL_OLD: &[Place] = &[(
    "/usr/share/pixmaps/redhat/shadowman-transparent.png",
    102_400,
)];
const RHEL: &[Place] = &[(
    "/usr/share/icons/hicolor/96x96/apps/system-logo-icon.png",
    102_400,
)];
const DEBIAN: &[Place] = &[("/usr/share/pixmaps/debian-logo.png", 2048)];
const UBUNTU: &[Place] = &[
    ("/usr/share/icons/gnome/24x24/places/ubuntu-logo.png", 2048),
    // Only where the desktop help is installed, and of low quality.
    (
        "/usr/share/help/C/ubuntu-help/figures/ubuntu-logo.png",
        2048,
    ),
];
const MAGEIA: &[Place] = &[("/usr/share/icons/mageia.png", 10_240)];
const OPENSUSE: &[Place] = &[
    (
        "/usr/share/icons/hicolor/48x48/apps/distributor.png",
        10_240,
    ),
    (
        "/usr/share/icons/hicolor/24x24/apps/distributor.png",
        10_240,
    ),
];
const VOIDLINUX: &[Place] = &[("/usr/share/void-artwork/void-logo.png", 20_480)];
const ALTLINUX: &[Place] = &[("/usr/share/icons/hicolor/48x48/apps/altlinux.png", 20_480)];
const GENTOO: &[Place] = &[("/usr/share/icons/gentoo/48x48/gentoo.png", 10_240)];
const OPENMANDRIVA: &[Place] = &[
    ("/usr/share/icons/large/mandriva.png", 10_240),
    ("/usr/share/icons/mandriva.png", 10_240),
];
/// Windows 8: a PNG that needs no conversion, read without the PNG checks.
const WINDOWS_8: &str = "/ProgramData/Microsoft/Windows Live/WLive48x48.png";
const WINDOWS_8_MAX: u64 = 8192;

/// The width and height a PNG's IHDR chunk gives (what `file` prints as
/// "PNG image data, W x H"), if `head` (the first 24 bytes) is one.
fn png_geometry(head: &[u8]) -> Option<(i64, i64)> {
    if head.len() < 24 || &head[..8] != b"\x89PNG\r\n\x1a\n" || &head[12..16] != b"IHDR" {
        return None;
    }
    // `file` prints them as C ints.
    let be = |o: usize| {
        gx_disk::bytes::be32(head, o)
            .ok()
            .map(|v| i64::from(v as i32))
    };
    Some((be(16)?, be(20)?))
}

// ---------------------------------------------------------------------
// Handle API: inspect_get_icon. (One block, to move with the API table.)
impl Handle {
    /// The icon of the operating system at `root` as PNG bytes, empty when
    /// there is none (libguestfs's `inspect_get_icon`). The root's
    /// filesystems must be mounted. `favicon` (libguestfs's default: true)
    /// first tries `/etc/favicon.png`; `highquality` (default false) asks
    /// for a large icon only, which leaves out favicons and Ubuntu's.
    pub(crate) fn inspect_icon(
        &self,
        root: &str,
        favicon: bool,
        highquality: bool,
    ) -> crate::Result<Vec<u8>> {
        let kind = self.inspect_get_type(root)?;
        let distro = self.inspect_get_distro(root)?;
        let favicon = favicon && !highquality;
        if favicon {
            let mut path = "/etc/favicon.png".to_string();
            if kind == "windows" {
                if let Ok(p) = self.case_sensitive_path(&path) {
                    path = p;
                }
            }
            if let Some(icon) = self.icon_png(&path, 0) {
                return Ok(icon);
            }
        }
        let places: &[Place] = match (kind.as_str(), distro.as_str()) {
            ("linux" | "hurd", "fedora") => FEDORA,
            (
                "linux" | "hurd",
                "rhel" | "redhat-based" | "centos" | "circle" | "rocky" | "scientificlinux"
                | "oraclelinux",
            ) => {
                if self.inspect_get_major_version(root)? < 7 {
                    RHEL_OLD
                } else {
                    RHEL
                }
            }
            ("linux" | "hurd", "debian") => DEBIAN,
            ("linux" | "hurd", "ubuntu") if !highquality => UBUNTU,
            ("linux" | "hurd", "mageia") => MAGEIA,
            ("linux" | "hurd", "suse-based" | "opensuse" | "sles") => OPENSUSE,
            ("linux" | "hurd", "voidlinux") => VOIDLINUX,
            ("linux" | "hurd", "altlinux") => ALTLINUX,
            ("linux" | "hurd", "gentoo") => GENTOO,
            ("linux" | "hurd", "openmandriva") => OPENMANDRIVA,
            ("windows", _) if !highquality => return Ok(self.icon_windows(root)),
            _ => &[],
        };
        Ok(places
            .iter()
            .find_map(|&(path, max)| self.icon_png(path, max))
            .unwrap_or_default())
    }
}
// End of the Handle API block.
// ---------------------------------------------------------------------

impl Handle {
    /// The PNG at `path` (symlinks followed) if it is a 16..=1024 pixel
    /// square-ish PNG of at most `max` bytes (0: four bytes a pixel).
    fn icon_png(&self, path: &str, max: u64) -> Option<Vec<u8>> {
        if !self.insp_is_file_follow(path) {
            return None;
        }
        // A link (RHEL 7's is one) is read where it leads.
        let real = self.realpath(path).ok()?;
        let head = self.pread(&real, 24, 0).ok()?;
        let (w, h) = png_geometry(&head)?;
        if !(16..=1024).contains(&w) || !(16..=1024).contains(&h) {
            return None;
        }
        let max = if max == 0 { (4 * w * h) as u64 } else { max };
        self.small_icon_file(&real, max)
    }

    /// The whole of `path` when it is at most `max` bytes.
    fn small_icon_file(&self, path: &str, max: u64) -> Option<Vec<u8>> {
        let size = u64::try_from(self.statns(path).ok()?.st_size).unwrap_or(u64::MAX);
        if size > max {
            return None;
        }
        let data = self.read_file(path).ok()?;
        (data.len() as u64 <= max).then_some(data)
    }

    /// Windows 8's PNG; the versions whose icons need `wrestool` get none
    /// (see the module doc).
    fn icon_windows(&self, root: &str) -> Vec<u8> {
        let version = (
            self.inspect_get_major_version(root).unwrap_or(0),
            self.inspect_get_minor_version(root).unwrap_or(0),
        );
        if self.inspect_get_windows_systemroot(root).is_err() || version != (6, 2) {
            return Vec::new();
        }
        self.case_sensitive_path(WINDOWS_8)
            .ok()
            .filter(|p| self.insp_is_file(p))
            .and_then(|p| self.small_icon_file(&p, WINDOWS_8_MAX))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_headers() {
        let mut h = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        h.extend_from_slice(&48u32.to_be_bytes());
        h.extend_from_slice(&1100u32.to_be_bytes());
        assert_eq!(png_geometry(&h), Some((48, 1100)));
        assert_eq!(png_geometry(&h[..20]), None);
        let mut bad = h.clone();
        bad[1] = b'X';
        assert_eq!(png_geometry(&bad), None);
        let mut neg = h.clone();
        neg[16] = 0xff;
        assert!(png_geometry(&neg).is_some_and(|(w, _)| w < 0));
    }
}

//! The guest's /etc/fstab, mapped to our device names (libguestfs's
//! daemon/inspect_fs_unix_fstab.ml, with LVM names resolved; MD and crypttab
//! resolution are not done: such names are kept as the guest spells them).

use super::DevIds;
use crate::Handle;

/// Most fstab lines considered: a guest cannot make inspection slow.
const MAX_ENTRIES: usize = 1000;

/// The mount table file is read by Augeas in libguestfs, which refuses
/// files over 100 kB.
const MAX_FSTAB: u64 = 100 * 1000;

impl Handle {
    /// (device, mountpoint) pairs from the mounted root's /etc/fstab.
    pub(super) fn check_fstab(&self, root: &str, ids: &[DevIds]) -> Vec<(String, String)> {
        let Some(bytes) = self.read_small_file("/etc/fstab", MAX_FSTAB) else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut out: Vec<(String, String)> = Vec::new();
        for line in text.lines().take(MAX_ENTRIES) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split_whitespace();
            let (Some(spec), Some(mp), Some(_vfstype)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if let Some(e) = self.fstab_entry(spec, mp, root, ids) {
                out.push(e);
            }
        }
        // libguestfs reads fstab through Augeas, whose OCaml binding returns
        // the entries last line first: its mountpoint lists come out in that
        // order, and of several "/" entries it keeps the first of them (the
        // last line).
        out.reverse();
        let mut seen_root = false;
        out.retain(|(_, mp)| {
            if mp == "/" {
                let keep = !seen_root;
                seen_root = true;
                keep
            } else {
                true
            }
        });
        out
    }

    fn fstab_entry(
        &self,
        spec: &str,
        mp: &str,
        root: &str,
        ids: &[DevIds],
    ) -> Option<(String, String)> {
        let digit_at_7 = spec.as_bytes().get(7).is_some_and(u8::is_ascii_digit);
        if ((spec.starts_with("/dev/fd") || spec.starts_with("/dev/cd")) && digit_at_7)
            || spec == "/dev/floppy"
            || spec == "/dev/cdrom"
            || spec.starts_with("/dev/iso9660/")
        {
            return None;
        }
        let mp = canonical_path(mp);
        let ignored = ["/dev", "/proc", "/selinux", "/sys"];
        if ignored
            .iter()
            .any(|p| mp == *p || (mp.starts_with(p) && mp.as_bytes().get(p.len()) == Some(&b'/')))
            || mp.starts_with("/media/")
        {
            return None;
        }
        let find =
            |pred: &dyn Fn(&DevIds) -> bool| ids.iter().find(|d| pred(d)).map(|d| d.device.clone());
        let device = if let Some(u) = spec.strip_prefix("UUID=") {
            let u = super::linux::shell_unquote(u);
            find(&|d| !d.uuid.is_empty() && d.uuid.eq_ignore_ascii_case(&u))?
        } else if let Some(l) = spec.strip_prefix("LABEL=") {
            let l = super::linux::shell_unquote(l);
            find(&|d| !d.label.is_empty() && d.label == l)?
        } else if let Some(u) = spec.strip_prefix("PARTUUID=") {
            let u = super::linux::shell_unquote(u);
            find(&|d| {
                d.partuuid
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(&u))
            })?
        } else if let Some(l) = spec.strip_prefix("PARTLABEL=") {
            let l = super::linux::shell_unquote(l);
            find(&|d| d.partlabel.as_deref() == Some(l.as_str()))?
        } else if spec == "/dev/root" {
            root.to_string()
        } else if spec.starts_with("/dev/") {
            self.resolve_fstab_device(spec, ids)
        } else {
            // tmpfs, proc, /.swap and other pseudo devices.
            return None;
        };
        Some((device, mp))
    }

    /// A guest block device name to ours: `/dev/vdb1` -> `/dev/sdb1` when that
    /// partition exists; anything unrecognised is kept unchanged.
    fn resolve_fstab_device(&self, spec: &str, ids: &[DevIds]) -> String {
        let default = spec.to_string();
        if spec.starts_with("/dev/mapper") {
            // /dev/mapper/VG-LV (dashes doubled) names an LV; anything else
            // under /dev/mapper is kept (libguestfs consults crypttab there).
            return self.lvm_canonical_lv_name(spec).unwrap_or(default);
        }
        if let Some(ids) = spec.strip_prefix("/dev/disk/by-id/dm-uuid-LVM-") {
            // The VG's UUID then the LV's, 32 characters each, no dashes.
            if ids.len() == 64 && ids.bytes().all(|b| b.is_ascii_alphanumeric()) {
                let (vg_uuid, lv_uuid) = ids.split_at(32);
                let vg = self.vgs_full().ok().and_then(|v| {
                    v.into_iter()
                        .find(|g| g.vg_uuid == vg_uuid)
                        .map(|g| g.vg_name)
                });
                let lv = self.lvs_full().ok().and_then(|v| {
                    v.into_iter()
                        .find(|l| l.lv_uuid == lv_uuid)
                        .map(|l| l.lv_name)
                });
                if let (Some(vg), Some(lv)) = (vg, lv) {
                    return format!("/dev/{vg}/{lv}");
                }
            }
            return default;
        }
        if let Some(uuid) = spec.strip_prefix("/dev/disk/by-uuid/") {
            return ids
                .iter()
                .find(|d| !d.uuid.is_empty() && d.uuid.eq_ignore_ascii_case(uuid))
                .map(|d| d.device.clone())
                .unwrap_or(default);
        }
        if let Some(rest) = spec.strip_prefix("/dev/disk/by-id/") {
            // Only safe to guess with a single disk.
            if let Some(p) = rest.rfind("-part") {
                let num = &rest[p + 5..];
                if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                    if let Ok(devs) = self.list_devices() {
                        if devs.len() == 1 {
                            let dev = format!("/dev/sda{num}");
                            if self.is_partition_name(&dev) {
                                return dev;
                            }
                        }
                    }
                }
            }
            return default;
        }
        // (h|s|v|xv)d([a-z]+)(\d*)
        let rest = &spec[5..];
        let rest = ["xvd", "hd", "sd", "vd"]
            .iter()
            .find_map(|p| rest.strip_prefix(p));
        if let Some(rest) = rest {
            let letters: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase())
                .collect();
            let part = &rest[letters.len()..];
            if !letters.is_empty() && letters.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit())
            {
                let index = letters
                    .bytes()
                    .fold(0usize, |acc, b| acc * 26 + (b - b'a') as usize + 1)
                    .saturating_sub(1);
                if let Ok(devs) = self.list_devices() {
                    if let Some(dev) = devs.get(index) {
                        let dev = format!("{dev}{part}");
                        if self.is_partition_name(&dev) {
                            return dev;
                        }
                    }
                }
            }
        }
        default
    }

    fn is_partition_name(&self, dev: &str) -> bool {
        self.list_partitions()
            .is_ok_and(|p| p.iter().any(|x| x == dev))
    }
}

/// `///usr//local//` -> `/usr/local`.
fn canonical_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    let joined = parts.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn canonical() {
        assert_eq!(canonical_path("///usr//local//"), "/usr/local");
        assert_eq!(canonical_path("/"), "/");
        assert_eq!(canonical_path("swap"), "swap");
    }
}

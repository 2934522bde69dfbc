//! Device names: the host speaks libguestfs's (`/dev/sda1`, `/dev/VG/LV`,
//! `/dev/mapper/NAME`), the kernel here has `/dev/vda1` and `/dev/dm-N`.
//! Owns the translation both ways, the list of the user's disks and
//! partitions, checking a device argument, telling logical volumes from
//! other device-mapper devices, and what a device holds (filesystem type,
//! label, UUID).
//!
//! Must not: accept anything that is not a block device of the user's
//! (the helper disk is invisible), or run lvm just to name a device (the
//! kernel's device-mapper tables in sysfs say which devices are LVs).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::{Ops, R, err, helpers, run, staging};

/// `/dev/sdb3` (or hd/vd) -> `/dev/vdb3`; anything else unchanged.
pub fn to_guest_dev(dev: &str) -> String {
    for p in ["/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd"] {
        if let Some(rest) = dev.strip_prefix(p) {
            if rest.starts_with(|c: char| c.is_ascii_lowercase()) {
                return format!("/dev/vd{rest}");
            }
        }
    }
    dev.to_string()
}

/// `/dev/vdb3` -> `/dev/sdb3`.
pub fn to_user_dev(dev: &str) -> String {
    match dev.strip_prefix("/dev/vd") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => {
            format!("/dev/sd{rest}")
        }
        _ => dev.to_string(),
    }
}

/// `text` with every kernel disk name (`/dev/vdb1`) in the user's form
/// (`/dev/sdb1`): for error messages, where programs name the devices they
/// were given.
pub fn user_names_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/dev/vd") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "/dev/vd".len()..];
        if after.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push_str("/dev/sd");
        } else {
            out.push_str("/dev/vd");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The name the host should see for a device the kernel or a tool named:
/// `/dev/sdX` for disks, `/dev/VG/LV` for logical volumes (whatever
/// `/dev/mapper` or `/dev/dm-N` name came in), anything else unchanged.
pub fn user_name(dev: &str) -> String {
    if dev.starts_with("/dev/mapper/") || dev.starts_with("/dev/dm-") {
        if let Some(lv) = lv_canonical(dev) {
            return lv;
        }
    }
    to_user_dev(dev)
}

/// The user's block devices in drive order: vda..vdz, vdaa... (not the helper
/// disk, which is attached last).
pub fn disks() -> Vec<String> {
    let helper = helpers::bound_disk();
    all_disks()
        .into_iter()
        .filter(|d| Some(d.as_str()) != helper)
        .collect()
}

/// Every virtio disk, the helper disk included (not the staging disk).
pub fn all_disks() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir("/sys/block")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("vd") && !staging::is_staging(n))
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    v
}

/// The partitions of the kernel disk `disk` (`vdb`), by number.
pub fn partitions_of(disk: &str) -> Vec<String> {
    let mut v: Vec<(u32, String)> = fs::read_dir(format!("/sys/block/{disk}"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let num = n.strip_prefix(disk)?.parse().ok()?;
                    e.path().join("partition").exists().then_some((num, n))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// The kernel name (`vdb1`, `dm-0`) of the block device at `path`, by its
/// device number; `None` when it is no block device.
pub fn kernel_name(path: &str) -> Option<String> {
    let m = fs::metadata(path).ok()?;
    if !m.file_type().is_block_device() {
        return None;
    }
    let rdev = m.rdev();
    let link = fs::read_link(format!(
        "/sys/dev/block/{}:{}",
        libc::major(rdev),
        libc::minor(rdev)
    ))
    .ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// `/dev/VG/LV` for a logical volume given by any of its names
/// (`/dev/mapper/VG-LV`, `/dev/dm-3`, `/dev/VG/LV`); `None` for anything else.
/// Device-mapper knows LVs by their table UUID (`LVM-` and 64 characters;
/// hidden layers such as snapshot origins carry a suffix) and their name,
/// `VG-LV` with every dash inside VG and LV doubled.
pub fn lv_canonical(dev: &str) -> Option<String> {
    let name = kernel_name(dev)?;
    if !name.starts_with("dm-") {
        return None;
    }
    let uuid = fs::read_to_string(format!("/sys/block/{name}/dm/uuid")).ok()?;
    let uuid = uuid.trim();
    if !(uuid.starts_with("LVM-") && uuid.len() == 4 + 64) {
        return None;
    }
    let dm_name = fs::read_to_string(format!("/sys/block/{name}/dm/name")).ok()?;
    let (vg, lv) = split_dm_name(dm_name.trim())?;
    Some(format!("/dev/{vg}/{lv}"))
}

/// `my--vg-lv--1` -> (`my-vg`, `lv-1`): the single dash separates.
pub fn split_dm_name(name: &str) -> Option<(String, String)> {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            let (vg, lv) = (&name[..i], &name[i + 1..]);
            if vg.is_empty() || lv.is_empty() {
                return None;
            }
            return Some((vg.replace("--", "-"), lv.replace("--", "-")));
        }
        i += 1;
    }
    None
}

/// Whether `/dev/a/b` could name a logical volume (not yet active).
fn looks_like_lv(dev: &str) -> bool {
    if dev.starts_with("/dev/mapper/") {
        return true;
    }
    let Some(rest) = dev.strip_prefix("/dev/") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    parts.len() == 2 && parts.iter().all(|p| !p.is_empty())
}

/// Whether a device has partitions (then it holds no filesystem itself).
pub fn is_partitioned(kernel: &str) -> bool {
    fs::read_dir(format!("/sys/block/{kernel}"))
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(kernel))
        })
        .unwrap_or(false)
}

impl Ops {
    /// A device argument as the kernel here names it (`/dev/sdb1` ->
    /// `/dev/vdb1`; `/dev/VG/LV` and `/dev/mapper/...` as given), after
    /// checking it is one of the user's block devices. Logical volumes are
    /// activated the first time one is asked for, as libguestfs's appliance
    /// activates them all at boot.
    pub fn device(&mut self, dev: &str) -> R<String> {
        let g = to_guest_dev(dev);
        if !g.starts_with("/dev/") {
            return Err(err(
                libc::EINVAL,
                format!("{dev}: not a device name (it must start with /dev/)"),
            ));
        }
        if g.split('/').any(|c| c == "..") {
            return Err(err(libc::EINVAL, format!("{dev}: not a device name")));
        }
        if !Path::new(&g).exists() && looks_like_lv(&g) {
            self.lvm_activate_once();
        }
        match fs::metadata(&g) {
            Ok(m) if m.file_type().is_block_device() => {}
            Ok(_) => {
                return Err(err(libc::ENOTBLK, format!("{dev}: not a block device")));
            }
            Err(_) => {
                return Err(err(libc::ENOENT, format!("{dev}: no such device")));
            }
        }
        if kernel_name(&g).is_some_and(|k| helpers::is_helper(&k) || staging::is_staging(&k)) {
            return Err(err(libc::ENOENT, format!("{dev}: no such device")));
        }
        Ok(g)
    }
}

/// What the direct engine's probe (gx-disk, blkid's rules, libguestfs's
/// labels) finds on a guest device, read in-process: no blkid run (~70 ms each
/// under TCG), and the same answers as the direct engine. `None` when it
/// recognises nothing: then blkid, which knows more formats, is asked.
pub fn probe(dev: &str) -> Option<gx_disk::probe::Probe> {
    let d = gx_disk::RawDevice::open_ro(Path::new(dev)).ok()?;
    gx_disk::probe::probe(&d).ok().filter(|p| p.is_known())
}

/// The filesystem type (blkid's name): the probe's, else blkid's, else `""`.
pub fn fs_type(dev: &str) -> String {
    match probe(dev) {
        Some(p) => p.fs_type,
        None => blkid_tag(dev, "TYPE").unwrap_or_default(),
    }
}

/// One tag of `blkid -o value -s TAG`; empty when blkid finds none.
pub fn blkid_tag(dev: &str, tag: &str) -> R<String> {
    if !run::have("blkid") {
        return Err(err(libc::ENOSYS, "blkid is not in this appliance"));
    }
    let (code, out, stderr) = run::prog("blkid")
        .args(["-c", "/dev/null", "-o", "value", "-s", tag, dev])
        .status()?;
    // Exit 2: nothing found, which is an empty answer, not an error.
    match code {
        Some(0) | Some(2) => Ok(out.trim_end_matches('\n').to_string()),
        _ => Err(err(
            libc::EIO,
            format!("blkid {dev}: {tag}{}", run::tail(&stderr)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_translate_both_ways() {
        assert_eq!(to_guest_dev("/dev/sda"), "/dev/vda");
        assert_eq!(to_guest_dev("/dev/sdb12"), "/dev/vdb12");
        assert_eq!(to_guest_dev("/dev/hdc1"), "/dev/vdc1");
        assert_eq!(to_guest_dev("/dev/mapper/vg-lv"), "/dev/mapper/vg-lv");
        assert_eq!(to_guest_dev("/dev/sd"), "/dev/sd");
        assert_eq!(to_user_dev("/dev/vdaa3"), "/dev/sdaa3");
        assert_eq!(to_user_dev("/dev/vg/lv"), "/dev/vg/lv");
        assert_eq!(
            user_names_in("mkfs: /dev/vdb1: busy; /dev/vd; x/dev/vdaa"),
            "mkfs: /dev/sdb1: busy; /dev/vd; x/dev/sdaa"
        );
    }

    #[test]
    fn dm_names_split_on_the_single_dash() {
        let s = |n: &str| split_dm_name(n).map(|(a, b)| format!("{a} {b}"));
        assert_eq!(s("vg-lv").as_deref(), Some("vg lv"));
        assert_eq!(s("my--vg-lv--1").as_deref(), Some("my-vg lv-1"));
        assert_eq!(s("a---b").as_deref(), Some("a- b"));
        assert_eq!(s("nodash"), None);
        assert_eq!(s("-lv"), None);
    }

    #[test]
    fn lv_shaped_names() {
        assert!(looks_like_lv("/dev/VG/LV"));
        assert!(looks_like_lv("/dev/mapper/VG-LV"));
        assert!(!looks_like_lv("/dev/sda1"));
        assert!(!looks_like_lv("/dev/a/b/c"));
    }
}

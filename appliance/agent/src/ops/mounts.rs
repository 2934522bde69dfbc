//! The mount table under `/sysroot`: mounting (the kernel's filesystems, and
//! ntfs-3g for NTFS), unmounting, and listing what is mounted where, with
//! libguestfs's device names.
//!
//! Must not: mount anything outside `/sysroot`, or unmount the appliance's
//! own mounts (`/proc`, `/sys`, `/dev`, the helper disk).

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use gx_protocol::UmountOpts;

use super::devices::{self, user_name};
use super::paths::{self, SYSROOT};
use super::{Ops, R, err, fail, run};
use crate::sys;

pub struct MountEntry {
    pub dev: String,
    pub dir: String,
}

/// The mounts at or below `/sysroot`, in mount order.
pub fn table() -> Vec<MountEntry> {
    let text = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let dev = unescape(f.next()?);
            let dir = unescape(f.next()?);
            (dir == SYSROOT || dir.starts_with("/sysroot/")).then_some(MountEntry { dev, dir })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    // /proc/mounts escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits mount(8)-style options into flags and the data string the fs gets.
pub fn parse_options(options: &str) -> (libc::c_ulong, String) {
    let mut flags = 0;
    let mut data = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => flags |= libc::MS_RDONLY,
            "rw" | "defaults" => {}
            "nosuid" => flags |= libc::MS_NOSUID,
            "nodev" => flags |= libc::MS_NODEV,
            "noexec" => flags |= libc::MS_NOEXEC,
            "sync" => flags |= libc::MS_SYNCHRONOUS,
            "noatime" => flags |= libc::MS_NOATIME,
            "nodiratime" => flags |= libc::MS_NODIRATIME,
            "relatime" => flags |= libc::MS_RELATIME,
            "remount" => flags |= libc::MS_REMOUNT,
            "bind" => flags |= libc::MS_BIND,
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

/// The group of extra modules (see the initramfs builder's `EXTRA_GROUPS`)
/// that mounting `fstype` needs; `"all"` when the type is not known.
fn modules_for_fs(fstype: &str) -> &'static str {
    match fstype {
        "ext2" | "ext3" | "ext4" => "ext",
        "vfat" | "msdos" | "fat" => "fat",
        "exfat" => "exfat",
        "ntfs" | "ntfs-3g" => "fuse",
        "xfs" => "xfs",
        "btrfs" => "btrfs",
        "iso9660" => "isofs",
        _ => "all",
    }
}

/// Whether the block device `dev` is mounted anywhere under `/sysroot`,
/// compared by device number (a mount of `/dev/VG/LV` shows as
/// `/dev/mapper/VG-LV`).
pub fn mountpoint_of(dev: &str) -> Option<String> {
    let want = fs::metadata(dev).ok()?.rdev();
    table()
        .into_iter()
        .rev()
        .find(|m| fs::metadata(&m.dev).is_ok_and(|x| x.rdev() == want))
        .map(|m| m.dir)
}

impl Ops {
    pub fn do_mount(&mut self, options: &str, vfstype: Option<&str>, dev: &str, mp: &str) -> R<()> {
        let g = self.device(dev)?;
        if !mp.starts_with('/') {
            return Err(err(
                libc::EINVAL,
                format!("{mp}: mountpoint must start with a / character"),
            ));
        }
        // "/" is /sysroot itself; anything else lives in the guest tree.
        let target = if mp.split('/').all(str::is_empty) {
            PathBuf::from(SYSROOT)
        } else {
            paths::guest(mp)?
        };
        let fstype = match vfstype {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => devices::fs_type(&g),
        };
        self.need_modules(modules_for_fs(&fstype));
        let (flags, data) = parse_options(options);
        if fstype == "ntfs" || fstype == "ntfs-3g" {
            let mut p = run::prog("ntfs-3g").arg(&g).arg_path(&target);
            if !options.is_empty() {
                p = p.args(["-o", options]);
            }
            return p.run_ok();
        }
        let tries: Vec<String> = if fstype.is_empty() {
            // No blkid: try what the kernel knows.
            fs::read_to_string("/proc/filesystems")
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.starts_with("nodev"))
                .map(|l| l.trim().to_string())
                .collect()
        } else {
            vec![fstype.clone()]
        };
        let mut last = io::Error::from_raw_os_error(libc::EINVAL);
        for t in &tries {
            match sys::mount(&g, &target, t, flags, &data) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        // The kernel says why in its log, not in the errno.
        let why = run::prog("busybox").arg("dmesg").run().unwrap_or_default();
        let why: Vec<&str> = why.lines().rev().take(2).collect();
        let mut e = fail(
            last,
            format!("mount {dev} on {mp} (type {fstype}, options '{options}')"),
        );
        if !why.is_empty() {
            e.message.push_str(&format!(
                " [kernel: {}]",
                why.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        Err(e)
    }

    pub fn do_umount(&mut self, pathordevice: &str, opts: UmountOpts) -> R<()> {
        let target = if pathordevice.starts_with("/dev/") {
            let g = self.device(pathordevice)?;
            mountpoint_of(&g)
                .map(PathBuf::from)
                .ok_or_else(|| err(libc::EINVAL, format!("{pathordevice}: not mounted")))?
        } else if pathordevice.split('/').all(str::is_empty) && pathordevice.starts_with('/') {
            PathBuf::from(SYSROOT)
        } else {
            paths::guest(pathordevice)?
        };
        let mut flags = 0;
        if opts.force == Some(true) {
            flags |= libc::MNT_FORCE;
        }
        if opts.lazyunmount == Some(true) {
            flags |= libc::MNT_DETACH;
        }
        sys::umount2(&target, flags).map_err(|e| fail(e, pathordevice))
    }
}

pub fn umount_all() -> R<()> {
    let mut dirs: Vec<String> = table().into_iter().map(|m| m.dir).collect();
    // Longest first, so nested mounts come off before their parents.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
    dirs.dedup();
    for d in dirs {
        sys::umount2(Path::new(&d), 0)
            .map_err(|e| fail(e, format!("umount: {}", paths::guest_rel(Path::new(&d)))))?;
    }
    Ok(())
}

pub fn mounts() -> Vec<String> {
    table().iter().map(|m| user_name(&m.dev)).collect()
}

pub fn mountpoints() -> Vec<(String, String)> {
    table()
        .iter()
        .map(|m| (user_name(&m.dev), paths::guest_rel(Path::new(&m.dir))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_options_split_into_flags_and_data() {
        let (f, d) = parse_options("ro,noatime,errors=remount-ro,data=ordered");
        assert_eq!(f, libc::MS_RDONLY | libc::MS_NOATIME);
        assert_eq!(d, "errors=remount-ro,data=ordered");
        assert_eq!(parse_options(""), (0, String::new()));
    }

    #[test]
    fn proc_mounts_escapes() {
        assert_eq!(unescape("/sysroot/a\\040b"), "/sysroot/a b");
        assert_eq!(unescape("/x\\\\y"), "/x\\\\y");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }
}

//! Making, labelling, checking and resizing filesystems with each
//! filesystem's own tools (mke2fs, mkfs.fat, mkntfs, mkfs.xfs, mkfs.btrfs,
//! mkswap; e2label/tune2fs, fatlabel, ntfslabel, xfs_admin, swaplabel,
//! btrfs/btrfstune; e2fsck, fsck; resize2fs, ntfsresize, xfs_growfs), with
//! libguestfs's mapping of the optional arguments onto them.
//!
//! Must not: run mkfs without first wiping old signatures (a stale btrfs or
//! LVM label would otherwise shadow the new filesystem), or take fsck's
//! exit status for an error.

use std::sync::OnceLock;

use gx_protocol::{E2fsckOpts, MkfsOpts, MkswapOpts, NtfsresizeOpts, XfsGrowfsOpts};

use super::devices;
use super::mounts;
use super::paths;
use super::{Ops, R, err, run};

const EXT2_LABEL_MAX: usize = 16;
const XFS_LABEL_MAX: usize = 12;
const SWAP_LABEL_MAX: usize = 16;

fn is_extfs(t: &str) -> bool {
    matches!(t, "ext2" | "ext3" | "ext4")
}

fn is_fat(t: &str) -> bool {
    matches!(t, "fat" | "vfat" | "msdos")
}

fn not_supported(msg: String) -> crate::CallError {
    err(libc::ENOTSUP, msg)
}

/// Clears old signatures before a new filesystem goes on; failures do not
/// matter (a blank device has nothing to wipe).
fn wipe(dev: &str) {
    let _ = run::prog("wipefs").args(["-a", "--force", dev]).run();
}

/// Whether this mkfs.fat has `--mbr` (dosfstools 4.2+), which would otherwise
/// write a partition table into a whole-disk filesystem.
fn fat_has_mbr_option() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        run::prog("mkfs.vfat")
            .status()
            .is_ok_and(|(_, out, e)| out.contains("--mbr[=") || e.contains("--mbr["))
    })
}

impl Ops {
    pub fn mkfs(&mut self, fstype: &str, dev: &str, o: &MkfsOpts) -> R<()> {
        let g = self.device(dev)?;
        let ext = is_extfs(fstype);
        let fat = is_fat(fstype);
        let (prog, mut args): (String, Vec<String>) = if ext {
            // mke2fs itself: mkfs would eat -F.
            (
                "mke2fs".into(),
                vec!["-t".into(), fstype.into(), "-F".into()],
            )
        } else if fat {
            let mut a = vec!["-I".to_string()];
            if fat_has_mbr_option() {
                a.push("--mbr=n".into());
            }
            ("mkfs.vfat".into(), a)
        } else {
            match fstype {
                // -Q: no zeroing or bad block scan of a virtual disk.
                "ntfs" => ("mkntfs".into(), vec!["-Q".into(), "-F".into()]),
                "xfs" => ("mkfs.xfs".into(), vec!["-f".into()]),
                "btrfs" => ("mkfs.btrfs".into(), vec!["-f".into()]),
                other => (format!("mkfs.{other}"), Vec::new()),
            }
        };
        if let Some(bs) = o.blocksize {
            if bs <= 0 || (bs & (bs - 1)) != 0 {
                return Err(err(libc::EINVAL, "block size must be > 0 and a power of 2"));
            }
            if fat {
                let ss = self.blockdev_getss(dev)?;
                let spc = bs / ss.max(1);
                if !(1..=128).contains(&spc) {
                    return Err(err(
                        libc::EINVAL,
                        format!(
                            "unsupported cluster size for {fstype} filesystem (requested cluster size = {bs}, sector size = {ss}, trying sectors per cluster = {spc})"
                        ),
                    ));
                }
                args.extend(["-s".into(), spc.to_string()]);
            } else if fstype == "ntfs" {
                args.extend(["-c".into(), bs.to_string()]);
            } else if fstype == "btrfs" {
                return Err(err(
                    libc::EINVAL,
                    "blocksize cannot be set on btrfs filesystems, use 'mkfs-btrfs'",
                ));
            } else if fstype == "xfs" {
                args.extend(["-b".into(), format!("size={bs}")]);
            } else {
                args.extend(["-b".into(), bs.to_string()]);
            }
        }
        if let Some(f) = &o.features {
            args.extend(["-O".into(), f.clone()]);
        }
        if let Some(i) = o.inode {
            if !ext {
                return Err(err(
                    libc::EINVAL,
                    "inode size (-I) can only be set on ext2/3/4 filesystems",
                ));
            }
            if i <= 0 {
                return Err(err(libc::EINVAL, "inode size must be larger than zero"));
            }
            args.extend(["-I".into(), i.to_string()]);
        }
        if let Some(s) = o.sectorsize {
            if s <= 0 {
                return Err(err(libc::EINVAL, "sector size must be larger than zero"));
            }
            if fat || fstype == "ufs" {
                args.extend(["-S".into(), s.to_string()]);
            } else if fstype == "xfs" {
                args.extend(["-s".into(), format!("size={s}")]);
            } else {
                return Err(err(
                    libc::EINVAL,
                    format!("sector size cannot be set on {fstype} filesystems"),
                ));
            }
        }
        if let Some(l) = &o.label {
            if ext {
                if l.len() > EXT2_LABEL_MAX {
                    return Err(err(
                        libc::EINVAL,
                        format!("{l}: ext2/3/4 labels are limited to {EXT2_LABEL_MAX} bytes"),
                    ));
                }
                args.extend(["-L".into(), l.clone()]);
            } else if fat {
                args.extend(["-n".into(), l.clone()]);
            } else if fstype == "xfs" {
                if l.len() > XFS_LABEL_MAX {
                    return Err(err(
                        libc::EINVAL,
                        format!("{l}: xfs labels are limited to {XFS_LABEL_MAX} bytes"),
                    ));
                }
                args.extend(["-L".into(), l.clone()]);
            } else if fstype == "ntfs" || fstype == "btrfs" {
                args.extend(["-L".into(), l.clone()]);
            } else {
                return Err(err(
                    libc::EINVAL,
                    format!("don't know how to set the label for '{fstype}' filesystems"),
                ));
            }
        }
        if !run::have(&prog) {
            return Err(err(
                libc::ENOTSUP,
                format!("{fstype}: {prog} is not in this appliance"),
            ));
        }
        args.push(g.clone());
        wipe(&g);
        run::prog(&prog).args(&args).run_ok().map_err(|mut e| {
            e.message = format!("{fstype}: {dev}: {}", e.message);
            e
        })
    }

    pub fn mkswap(&mut self, dev: &str, o: &MkswapOpts) -> R<()> {
        let g = self.device(dev)?;
        let mut p = run::prog("mkswap").arg("-f");
        if let Some(l) = &o.label {
            if l.len() > SWAP_LABEL_MAX {
                return Err(err(
                    libc::EINVAL,
                    format!("{l}: Linux swap labels are limited to {SWAP_LABEL_MAX} bytes"),
                ));
            }
            p = p.args(["-L", l]);
        }
        if let Some(u) = &o.uuid {
            p = p.args(["-U", u]);
        }
        wipe(&g);
        p.arg(&g).run_ok()
    }

    pub fn set_label(&mut self, dev: &str, label: &str) -> R<()> {
        let g = self.device(dev)?;
        let t = devices::fs_type(&g);
        let p = if is_extfs(&t) {
            if label.len() > EXT2_LABEL_MAX {
                return Err(err(
                    libc::EINVAL,
                    format!("{label}: ext2/3/4 labels are limited to {EXT2_LABEL_MAX} bytes"),
                ));
            }
            run::prog("e2label").args([&g, label])
        } else if is_fat(&t) {
            run::prog("fatlabel").args(["--", &g, label])
        } else {
            match t.as_str() {
                "ntfs" => run::prog("ntfslabel").args([&g, label]),
                "xfs" => {
                    if label == "---" {
                        return Err(err(libc::EINVAL, "xfs: invalid new label"));
                    }
                    if label.len() > XFS_LABEL_MAX {
                        return Err(err(
                            libc::EINVAL,
                            format!("{label}: xfs labels are limited to {XFS_LABEL_MAX} bytes"),
                        ));
                    }
                    run::prog("xfs_admin").args(["-L", label, &g])
                }
                "swap" => {
                    if label.len() > SWAP_LABEL_MAX {
                        return Err(err(
                            libc::EINVAL,
                            format!(
                                "{label}: Linux swap labels are limited to {SWAP_LABEL_MAX} bytes"
                            ),
                        ));
                    }
                    run::prog("swaplabel").args(["-L", label, &g])
                }
                "btrfs" => run::prog("btrfs").args(["filesystem", "label", "--", &g, label]),
                _ => {
                    return Err(not_supported(format!(
                        "don't know how to set the label for '{t}' filesystems"
                    )));
                }
            }
        };
        p.run_ok()
    }

    pub fn set_uuid(&mut self, dev: &str, uuid: &str) -> R<()> {
        let g = self.device(dev)?;
        let t = devices::fs_type(&g);
        let p = if is_extfs(&t) {
            if matches!(uuid, "clear" | "random" | "time") {
                return Err(err(libc::EINVAL, "e2: invalid new UUID"));
            }
            run::prog("tune2fs").args(["-U", uuid, &g])
        } else {
            match t.as_str() {
                "xfs" => {
                    if matches!(uuid, "nil" | "generate") {
                        return Err(err(libc::EINVAL, "xfs: invalid new UUID"));
                    }
                    run::prog("xfs_admin").args(["-U", uuid, &g])
                }
                "swap" => run::prog("swaplabel").args(["-U", uuid, &g]),
                "btrfs" => run::prog("btrfstune").args(["-f", "-U", uuid, &g]),
                _ => {
                    return Err(not_supported(format!(
                        "don't know how to set the UUID for '{t}' filesystems"
                    )));
                }
            }
        };
        p.run_ok()
    }

    pub fn set_uuid_random(&mut self, dev: &str) -> R<()> {
        let g = self.device(dev)?;
        let t = devices::fs_type(&g);
        let p = if is_extfs(&t) {
            run::prog("tune2fs").args(["-U", "random", &g])
        } else {
            match t.as_str() {
                "xfs" => run::prog("xfs_admin").args(["-U", "generate", &g]),
                "btrfs" => run::prog("btrfstune").args(["-f", "-u", &g]),
                "swap" => {
                    let u = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
                        .map_err(|e| super::fail(e, "random UUID"))?;
                    run::prog("swaplabel").args(["-U", u.trim(), &g])
                }
                _ => {
                    return Err(not_supported(format!(
                        "don't know how to set random UUID for '{t}' filesystems"
                    )));
                }
            }
        };
        p.run_ok()
    }

    /// resize2fs refuses a filesystem not checked since its last mount: when
    /// it is not mounted, check it first (and fix what is safe).
    fn check_before_resize(&mut self, g: &str) -> R<()> {
        if mounts::mountpoint_of(g).is_some() {
            return Ok(());
        }
        e2fsck_run(
            g,
            &E2fsckOpts {
                forceall: Some(true),
                ..E2fsckOpts::default()
            },
        )
    }

    pub fn resize2fs(&mut self, dev: &str, how: Resize) -> R<()> {
        let g = self.device(dev)?;
        let size = match how {
            Resize::Size(size) => {
                if size % 1024 != 0 {
                    return Err(err(
                        libc::EINVAL,
                        format!("{size}: size must be a round number of kilobytes"),
                    ));
                }
                Some(format!("{}K", size / 1024))
            }
            _ => None,
        };
        self.check_before_resize(&g)?;
        let mut p = run::prog("resize2fs");
        if matches!(how, Resize::Minimum) {
            p = p.arg("-M");
        }
        p = p.arg(&g);
        if let Some(s) = size {
            p = p.arg(s);
        }
        p.run_ok()
    }

    pub fn e2fsck(&mut self, dev: &str, o: &E2fsckOpts) -> R<()> {
        let g = self.device(dev)?;
        e2fsck_run(&g, o)
    }

    pub fn fsck(&mut self, fstype: &str, dev: &str) -> R<i32> {
        let g = self.device(dev)?;
        let (code, _, _) = run::prog("fsck").args(["-a", "-t", fstype, &g]).status()?;
        code.ok_or_else(|| err(libc::EIO, format!("fsck {dev}: killed by a signal")))
    }

    pub fn ntfsresize(&mut self, dev: &str, o: &NtfsresizeOpts) -> R<()> {
        let g = self.device(dev)?;
        let mut p = run::prog("ntfsresize").arg("-P");
        if let Some(s) = o.size {
            if s <= 0 {
                return Err(err(libc::EINVAL, "size is zero or negative"));
            }
            p = p.args(["--size", &s.to_string()]);
        }
        if o.force == Some(true) {
            p = p.arg("--force");
        }
        // ntfsresize asks before it writes: the answer is yes.
        let out = p.arg(&g).stdin_bytes(b"y\n".to_vec()).output()?;
        if out.status.success() {
            return Ok(());
        }
        Err(err(libc::EIO, run::failure(dev, &out)))
    }

    pub fn xfs_growfs(&mut self, path: &str, o: &XfsGrowfsOpts) -> R<()> {
        let p = paths::guest(path)?;
        let mut x = run::prog("xfs_growfs");
        if o.datasec == Some(true) {
            x = x.arg("-d");
        }
        if o.logsec == Some(true) {
            x = x.arg("-l");
        }
        if o.rtsec == Some(true) {
            x = x.arg("-r");
        }
        for (flag, v, name) in [
            ("-D", o.datasize, "datasize"),
            ("-L", o.logsize, "logsize"),
            ("-R", o.rtsize, "rtsize"),
            ("-e", o.rtextsize, "rtextsize"),
        ] {
            if let Some(v) = v {
                if v < 0 {
                    return Err(err(libc::EINVAL, format!("{name} must be >= 0")));
                }
                x = x.args([flag, &v.to_string()]);
            }
        }
        if let Some(m) = o.maxpct {
            if m < 0 {
                return Err(err(libc::EINVAL, "maxpct must be >= 0"));
            }
            x = x.args(["-m", &m.to_string()]);
        }
        x.arg_path(&p).run_ok().map_err(|mut e| {
            e.message = format!("{path}: {}", e.message);
            e
        })
    }
}

/// How `resize2fs` sizes the filesystem.
#[derive(Debug, Clone, Copy)]
pub enum Resize {
    Fill,
    Size(i64),
    Minimum,
}

/// e2fsck -f with libguestfs's option mapping: exit 0 (clean) and 1 (errors
/// fixed) are success; anything else is an error carrying its report.
fn e2fsck_run(g: &str, o: &E2fsckOpts) -> R<()> {
    let (c, y, n) = (
        o.correct == Some(true),
        o.forceall == Some(true),
        o.forceno == Some(true),
    );
    if u8::from(c) + u8::from(y) + u8::from(n) > 1 {
        return Err(err(
            libc::EINVAL,
            "only one of the options 'correct', 'forceall' or 'forceno' may be specified",
        ));
    }
    let mut p = run::prog("e2fsck").arg("-f");
    if c {
        p = p.arg("-p");
    }
    if y {
        p = p.arg("-y");
    }
    if n {
        p = p.arg("-n");
    }
    let out = p.arg(g).output()?;
    match out.status.code() {
        Some(0) | Some(1) => Ok(()),
        _ => {
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Err(err(
                libc::EIO,
                format!("e2fsck {}{}", devices::to_user_dev(g), run::tail(&said)),
            ))
        }
    }
}

//! Growing content on the output disk, in the appliance (a [`Handle`] on
//! the output alone, read-write, so the LVM it sees is the new one):
//! resize2fs (the agent runs `e2fsck -f` first), ntfsresize, xfs_growfs and
//! btrfs resize on the mounted filesystem, pvresize, lvresize for
//! `--LV-expand`, and mkswap keeping the label and UUID.

use crate::plan::Method;
use gx_guestfs::{Handle, MkswapOpts, NtfsresizeOpts, UmountOpts, XfsGrowfsOpts};

/// Grow what `target` holds with `method`. Returns warnings to print.
pub fn expand_content(
    g: &mut Handle,
    target: &str,
    method: Method,
    ntfsresize_force: bool,
) -> gx_guestfs::Result<Vec<String>> {
    let mut warnings = Vec::new();
    match method {
        Method::PvResize => g.pvresize(target)?,
        Method::Resize2fs => g.resize2fs(target)?,
        Method::NtfsResize => g.ntfsresize(
            target,
            NtfsresizeOpts {
                size: None,
                force: Some(ntfsresize_force),
            },
        )?,
        Method::XfsGrowfs => {
            g.mount(target, "/")?;
            let r = g.xfs_growfs(
                "/",
                XfsGrowfsOpts {
                    datasec: Some(true),
                    ..XfsGrowfsOpts::default()
                },
            );
            g.umount("/", UmountOpts::default())?;
            r?;
        }
        Method::BtrfsFilesystemResize => {
            g.mount(target, "/")?;
            // No btrfs call in the table: the appliance's btrfs, through sh
            // (the agent runs it with the guest's root at /sysroot).
            let r = g.sh("btrfs filesystem resize max /sysroot/");
            g.umount("/", UmountOpts::default())?;
            r?;
        }
        Method::Mkswap => {
            let orig_uuid = g.vfs_uuid(target)?;
            let label = g.vfs_label(target)?;
            g.mkswap(
                target,
                MkswapOpts {
                    label: Some(label),
                    uuid: (!orig_uuid.is_empty()).then(|| orig_uuid.clone()),
                },
            )?;
            let new_uuid = g.vfs_uuid(target)?;
            if new_uuid != orig_uuid {
                warnings.push(format!(
                    "UUID in swap partition {target} changed from ‘{orig_uuid}’ to ‘{new_uuid}’"
                ));
            }
        }
        Method::ResizeF2fs => {
            return Err(gx_guestfs::Error::unsupported(format!(
                "{target}: growing f2fs is not supported"
            )));
        }
    }
    Ok(warnings)
}

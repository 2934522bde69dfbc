//! The mount table: the direct engine keeps it as a path map, the appliance
//! as real mounts; `auto` replays it when it moves (see `switch_to_appliance`).

use crate::appliance::MountReq;
use crate::{ErrorKind, Handle, Result, UmountOpts, appliance, path};

impl Handle {
    /// `mount_ro`: mount read-only at `mountpoint` (which must exist, or be `/`).
    pub(crate) fn impl_mount_ro(&mut self, mountable: &str, mountpoint: &str) -> Result<()> {
        self.do_mount(MountReq {
            options: None,
            vfstype: None,
            device: mountable.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    /// `mount`: mount read-write, which only the appliance does.
    pub(crate) fn impl_mount(&mut self, mountable: &str, mountpoint: &str) -> Result<()> {
        self.do_mount(MountReq {
            options: Some(String::new()),
            vfstype: None,
            device: mountable.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    /// `mount_options`: read-write unless the options say `ro`.
    pub(crate) fn impl_mount_options(
        &mut self,
        options: &str,
        mountable: &str,
        mountpoint: &str,
    ) -> Result<()> {
        self.do_mount(MountReq {
            options: Some(options.to_string()),
            vfstype: None,
            device: mountable.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    /// `mount_vfs`: like `mount_options`, with the filesystem type given.
    pub(crate) fn impl_mount_vfs(
        &mut self,
        options: &str,
        vfstype: &str,
        mountable: &str,
        mountpoint: &str,
    ) -> Result<()> {
        self.do_mount(MountReq {
            options: Some(options.to_string()),
            vfstype: Some(vfstype.to_string()),
            device: mountable.to_string(),
            mountpoint: mountpoint.to_string(),
        })
    }

    fn do_mount(&mut self, req: MountReq) -> Result<()> {
        self.check_launched("mount")?;
        if !self.on_appliance() {
            // The direct engine serves reads from any mount; a read-write
            // mount stays read-write in the mount table, which the appliance
            // replays when the first write moves `auto` there.
            let r = self
                .engine_mut()?
                .mount(&req.device, &req.mountpoint, req.vfstype.as_deref());
            match r {
                Ok(()) => {
                    self.mounts.push(req);
                    return Ok(());
                }
                Err(e)
                    if self.mode == crate::Engine::Auto
                        && matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::ReadOnly) =>
                {
                    self.switch_to_appliance(&e)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.with_appliance(|a| a.mount(&req))?;
        self.mounts.push(req);
        Ok(())
    }

    /// `umount`: by mountpoint or device.
    pub(crate) fn impl_umount(&mut self, pathordevice: &str, opts: UmountOpts) -> Result<()> {
        self.check_launched("umount")?;
        let canonical = path::canonical_device_name(pathordevice);
        let matches = |m: &MountReq| {
            m.mountpoint == pathordevice || path::canonical_device_name(&m.device) == canonical
        };
        if self.on_appliance() {
            self.with_appliance(|a| {
                a.app()
                    .umount(pathordevice, opts)
                    .map_err(|e| appliance::convert("umount", e))
            })?;
        } else {
            self.engine_mut()?.umount(pathordevice)?;
        }
        // Forget the innermost matching mount (the last one).
        if let Some(i) = self.mounts.iter().rposition(matches) {
            self.mounts.remove(i);
        }
        Ok(())
    }

    /// `umount_all`: everything, deepest first.
    pub(crate) fn impl_umount_all(&mut self) -> Result<()> {
        self.check_launched("umount_all")?;
        self.mounts.clear();
        if self.on_appliance() {
            self.with_appliance(|a| a.umount_all())
        } else {
            self.engine_mut()?.umount_all();
            Ok(())
        }
    }

    /// `mountpoints`: (device, mountpoint) pairs in mount order.
    pub(crate) fn impl_mountpoints(&self) -> Result<Vec<(String, String)>> {
        self.check_launched("mountpoints")?;
        if self.on_appliance() {
            self.with_appliance(|a| a.mountpoints())
        } else {
            Ok(self.engine()?.mountpoints())
        }
    }

    /// `mounts`: the mounted devices in mount order.
    pub(crate) fn impl_mounts(&self) -> Result<Vec<String>> {
        Ok(self.mountpoints()?.into_iter().map(|(d, _)| d).collect())
    }

    /// `sync`: the appliance flushes its writes; nothing to do otherwise.
    pub(crate) fn impl_sync(&mut self) -> Result<()> {
        self.check_launched("sync")?;
        if self.on_appliance() {
            self.with_appliance(|a| a.app().sync().map_err(|e| appliance::convert("sync", e)))
        } else {
            Ok(())
        }
    }
}

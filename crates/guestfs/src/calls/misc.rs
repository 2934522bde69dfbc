//! Deprecated spellings and small calls composed from others, plus the
//! encrypted-device calls (hand-written because opened devices are handle
//! state).

use crate::{
    CryptsetupOpenOpts, E2fsckOpts, Error, Handle, MkswapOpts, NtfsresizeOpts, Result, TarInOpts,
    path,
};

impl Handle {
    pub(crate) fn impl_fallocate(&mut self, path: &str, len: i32) -> Result<()> {
        self.fallocate64(path, i64::from(len))
    }

    pub(crate) fn impl_tgz_in(
        &mut self,
        tarball: &mut dyn std::io::Read,
        directory: &str,
    ) -> Result<()> {
        self.tar_in(
            tarball,
            directory,
            TarInOpts {
                compress: Some("gzip".into()),
                ..TarInOpts::default()
            },
        )
    }

    pub(crate) fn impl_txz_in(
        &mut self,
        tarball: &mut dyn std::io::Read,
        directory: &str,
    ) -> Result<()> {
        self.tar_in(
            tarball,
            directory,
            TarInOpts {
                compress: Some("xz".into()),
                ..TarInOpts::default()
            },
        )
    }

    #[allow(non_snake_case)]
    pub(crate) fn impl_mkswap_L(&mut self, label: &str, device: &str) -> Result<()> {
        self.mkswap(
            device,
            MkswapOpts {
                label: Some(label.into()),
                uuid: None,
            },
        )
    }

    #[allow(non_snake_case)]
    pub(crate) fn impl_mkswap_U(&mut self, uuid: &str, device: &str) -> Result<()> {
        self.mkswap(
            device,
            MkswapOpts {
                label: None,
                uuid: Some(uuid.into()),
            },
        )
    }

    pub(crate) fn impl_set_e2label(&mut self, device: &str, label: &str) -> Result<()> {
        self.set_label(device, label)
    }

    pub(crate) fn impl_set_e2uuid(&mut self, device: &str, uuid: &str) -> Result<()> {
        match uuid {
            "random" | "time" => self.set_uuid_random(device),
            "clear" => self.set_uuid(device, "00000000-0000-0000-0000-000000000000"),
            u => self.set_uuid(device, u),
        }
    }

    pub(crate) fn impl_e2fsck_f(&mut self, device: &str) -> Result<()> {
        self.e2fsck(
            device,
            E2fsckOpts {
                correct: Some(true),
                ..E2fsckOpts::default()
            },
        )
    }

    pub(crate) fn impl_ntfsresize_size(&mut self, device: &str, size: i64) -> Result<()> {
        self.ntfsresize(
            device,
            NtfsresizeOpts {
                size: Some(size),
                force: None,
            },
        )
    }

    pub(crate) fn impl_get_e2label(&self, device: &str) -> Result<String> {
        self.vfs_label(device)
    }

    pub(crate) fn impl_get_e2uuid(&self, device: &str) -> Result<String> {
        self.vfs_uuid(device)
    }

    /// `blockdev_getsz`: 512-byte sectors.
    pub(crate) fn impl_blockdev_getsz(&self, device: &str) -> Result<i64> {
        Ok(self.blockdev_getsize64(device)? / 512)
    }

    /// `part_to_dev`: /dev/sda1 -> /dev/sda.
    pub(crate) fn impl_part_to_dev(&self, partition: &str) -> Result<String> {
        let (disk, _) = split_partition(partition)?;
        Ok(disk)
    }

    /// `part_to_partnum`: /dev/sda1 -> 1.
    pub(crate) fn impl_part_to_partnum(&self, partition: &str) -> Result<i32> {
        let (_, n) = split_partition(partition)?;
        Ok(n)
    }

    pub(crate) fn impl_vgscan(&mut self) -> Result<()> {
        self.lvm_scan(true)
    }

    /// `lvm_scan`: the direct engine reads the LVM metadata again (every
    /// volume group is active there); the appliance runs lvm's scan.
    pub(crate) fn impl_lvm_scan(&mut self, activate: bool) -> Result<()> {
        self.check_launched("lvm_scan")?;
        if self.on_appliance() {
            return self.with_appliance(|a| {
                a.app()
                    .lvm_scan(activate)
                    .map_err(|e| crate::appliance::convert("lvm_scan", e))
            });
        }
        self.engine_mut()?.rescan_lvm()
    }

    /// `cryptsetup_open`: the direct engine decrypts in-process (LUKS1 and
    /// LUKS2); the appliance runs cryptsetup. The key is kept (wiped on
    /// drop) so that `auto`, moving to the appliance, opens the device there
    /// again before replaying the mounts.
    pub(crate) fn impl_cryptsetup_open(
        &mut self,
        device: &str,
        key: &str,
        mapname: &str,
        opts: CryptsetupOpenOpts,
    ) -> Result<()> {
        self.check_launched("cryptsetup_open")?;
        if self.on_appliance() {
            self.with_appliance(|a| {
                a.app()
                    .cryptsetup_open(device, key, mapname, opts.clone())
                    .map_err(|e| crate::appliance::convert("cryptsetup_open", e))
            })?;
        } else {
            let secret = crate::volumes::decode_key(key)?;
            match self.engine_mut()?.cryptsetup_open(
                device,
                &secret,
                mapname,
                opts.crypttype.as_deref(),
            ) {
                Ok(()) => {}
                Err(e)
                    if self.mode == crate::Engine::Auto
                        && e.kind() == crate::ErrorKind::Unsupported =>
                {
                    self.switch_to_appliance(&e)?;
                    return self.cryptsetup_open(device, key, mapname, opts);
                }
                Err(e) => return Err(e),
            }
        }
        self.crypt_opens.push(crate::CryptOpen {
            device: device.to_string(),
            key: zeroize::Zeroizing::new(key.to_string()),
            mapname: mapname.to_string(),
            opts,
        });
        Ok(())
    }

    pub(crate) fn impl_cryptsetup_close(&mut self, device: &str) -> Result<()> {
        self.check_launched("cryptsetup_close")?;
        if self.on_appliance() {
            self.with_appliance(|a| {
                a.app()
                    .cryptsetup_close(device)
                    .map_err(|e| crate::appliance::convert("cryptsetup_close", e))
            })?;
        } else {
            self.engine_mut()?.cryptsetup_close(device)?;
        }
        self.crypt_opens
            .retain(|c| format!("/dev/mapper/{}", c.mapname) != device);
        Ok(())
    }

    pub(crate) fn impl_luks_open(&mut self, device: &str, key: &str, mapname: &str) -> Result<()> {
        self.cryptsetup_open(device, key, mapname, CryptsetupOpenOpts::default())
    }

    pub(crate) fn impl_luks_open_ro(
        &mut self,
        device: &str,
        key: &str,
        mapname: &str,
    ) -> Result<()> {
        self.cryptsetup_open(
            device,
            key,
            mapname,
            CryptsetupOpenOpts {
                readonly: Some(true),
                ..CryptsetupOpenOpts::default()
            },
        )
    }

    pub(crate) fn impl_luks_close(&mut self, device: &str) -> Result<()> {
        self.cryptsetup_close(device)
    }
}

/// `/dev/sda12` -> (`/dev/sda`, 12), on libguestfs's canonical names.
fn split_partition(partition: &str) -> Result<(String, i32)> {
    let canonical = path::canonical_device_name(partition);
    let bad = || Error::invalid(format!("part_to_dev: {partition}: not a partition name"));
    match path::parse_device(&canonical) {
        Some((_, Some(n))) => {
            let digits = n.to_string();
            let disk = canonical.strip_suffix(&digits).ok_or_else(bad)?.to_string();
            Ok((disk, i32::try_from(n).map_err(|_| bad())?))
        }
        _ => Err(bad()),
    }
}

/// The file-type bits `mknod` takes.
const S_IFIFO: i32 = 0o010000;
const S_IFCHR: i32 = 0o020000;
const S_IFBLK: i32 = 0o060000;

impl Handle {
    pub(crate) fn impl_mkfifo(&mut self, mode: i32, path: &str) -> Result<()> {
        self.mknod(S_IFIFO | (mode & 0o7777), 0, 0, path)
    }

    #[allow(non_snake_case)]
    pub(crate) fn impl_mknod_b(
        &mut self,
        mode: i32,
        devmajor: i32,
        devminor: i32,
        path: &str,
    ) -> Result<()> {
        self.mknod(S_IFBLK | (mode & 0o7777), devmajor, devminor, path)
    }

    pub(crate) fn impl_mknod_c(
        &mut self,
        mode: i32,
        devmajor: i32,
        devminor: i32,
        path: &str,
    ) -> Result<()> {
        self.mknod(S_IFCHR | (mode & 0o7777), devmajor, devminor, path)
    }
}

//! Disks and what is on them: the device and partition lists, the
//! filesystem list, filesystem type/label/UUID, blkid's attributes, the
//! blockdev ioctls, and zeroing.
//!
//! Must not: write to a device except in `zero`/`zero_device`, or list the
//! helper disk.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::devices::{self, disks, partitions_of, to_user_dev};
use super::{Ops, R, err, fail, run};
use crate::sys;

pub fn list_devices() -> Vec<String> {
    disks()
        .iter()
        .map(|d| to_user_dev(&format!("/dev/{d}")))
        .collect()
}

pub fn list_partitions() -> Vec<String> {
    disks()
        .iter()
        .flat_map(|d| partitions_of(d))
        .map(|p| to_user_dev(&format!("/dev/{p}")))
        .collect()
}

/// GPT partition types that hold no filesystem of their own: Windows LDM
/// metadata and data, Microsoft Reserved, Windows snapshot.
const NO_FS_GPT_TYPES: &[&str] = &[
    "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3",
    "af9b60a0-1431-4f62-bc68-3311714a69ad",
    "e3c9e316-0b5c-4db8-817d-f92df00215ae",
    "caddebf1-4400-4de8-b103-12117dcf3ccf",
];

/// The partitions of `disk` that cannot hold a filesystem (MBR extended,
/// and the GPT types above), by number, from the table itself.
fn skipped_partitions(disk: &str) -> Vec<u32> {
    let Ok(d) = gx_disk::RawDevice::open_ro(Path::new(&format!("/dev/{disk}"))) else {
        return Vec::new();
    };
    let Ok(Some(t)) = gx_disk::partition::read_partitions(&d) else {
        return Vec::new();
    };
    t.partitions
        .iter()
        .filter(|p| {
            matches!(p.mbr_type, Some(0x05 | 0x0f | 0x85))
                || p.gpt_type.as_ref().is_some_and(|g| {
                    let s = g.to_string().to_ascii_lowercase();
                    NO_FS_GPT_TYPES.contains(&s.as_str())
                })
        })
        .map(|p| p.number)
        .collect()
}

impl Ops {
    /// libguestfs's order: whole disks without partitions, device-mapper
    /// devices that are not LVs (opened LUKS volumes), partitions, then
    /// logical volumes. Volume members (`*_member`, LUKS, BitLocker) are
    /// left out; what nothing recognises is `unknown`.
    pub fn list_filesystems(&mut self) -> R<Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut saw_pv = false;
        let add = |out: &mut Vec<(String, String)>, saw_pv: &mut bool, dev: &str, shown: String| {
            let t = devices::fs_type(dev);
            if t == "LVM2_member" {
                *saw_pv = true;
            }
            if t.ends_with("_member") || t == "crypto_LUKS" || t == "BitLocker" {
                return;
            }
            let t = if t.is_empty() { "unknown".into() } else { t };
            out.push((shown, t));
        };
        let ds = disks();
        for d in &ds {
            if !devices::is_partitioned(d) {
                let g = format!("/dev/{d}");
                add(&mut out, &mut saw_pv, &g, to_user_dev(&g));
            }
        }
        for m in self.list_dm_devices()? {
            let k = devices::kernel_name(&m).unwrap_or_default();
            if !devices::is_partitioned(&k) {
                add(&mut out, &mut saw_pv, &m, m.clone());
            }
        }
        for d in &ds {
            let skip = skipped_partitions(d);
            for p in partitions_of(d) {
                let num: u32 = p[d.len()..].parse().unwrap_or(0);
                if skip.contains(&num) {
                    continue;
                }
                let g = format!("/dev/{p}");
                add(&mut out, &mut saw_pv, &g, to_user_dev(&g));
            }
        }
        // No physical volume, no logical volumes: no lvm run (~0.3 s).
        if saw_pv {
            self.lvm_activate_once();
            for lv in self.lvs()? {
                add(&mut out, &mut saw_pv, &lv, lv.clone());
            }
        }
        Ok(out)
    }

    pub fn vfs_type(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        match devices::probe(&g) {
            Some(p) => Ok(p.fs_type),
            None => devices::blkid_tag(&g, "TYPE"),
        }
    }

    pub fn vfs_label(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        match devices::probe(&g) {
            Some(p) => Ok(p.label),
            None => devices::blkid_tag(&g, "LABEL"),
        }
    }

    pub fn vfs_uuid(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        match devices::probe(&g) {
            Some(p) => Ok(p.uuid),
            None => devices::blkid_tag(&g, "UUID"),
        }
    }

    /// `blkid -p -i -o export`'s pairs, device names in the values
    /// translated.
    pub fn blkid(&mut self, dev: &str) -> R<Vec<(String, String)>> {
        let g = self.device(dev)?;
        let out = run::prog("blkid")
            .args(["-c", "/dev/null", "-p", "-i", "-o", "export"])
            .arg(&g)
            .run()?;
        Ok(out
            .lines()
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), devices::user_name(v)))
            .collect())
    }

    fn open_dev(&mut self, dev: &str, write: bool) -> R<File> {
        let g = self.device(dev)?;
        OpenOptions::new()
            .read(true)
            .write(write)
            .open(&g)
            .map_err(|e| fail(e, dev))
    }

    pub fn blockdev_getsize64(&mut self, dev: &str) -> R<i64> {
        let f = self.open_dev(dev, false)?;
        let n = sys::blk_size64(&f).map_err(|e| fail(e, format!("BLKGETSIZE64: {dev}")))?;
        i64::try_from(n).map_err(|_| err(libc::EOVERFLOW, format!("{dev}: size overflows")))
    }

    pub fn blockdev_getss(&mut self, dev: &str) -> R<i32> {
        let f = self.open_dev(dev, false)?;
        sys::blk_sector_size(&f).map_err(|e| fail(e, format!("BLKSSZGET: {dev}")))
    }

    pub fn blockdev_getbsz(&mut self, dev: &str) -> R<i32> {
        let f = self.open_dev(dev, false)?;
        sys::blk_block_size(&f).map_err(|e| fail(e, format!("BLKBSZGET: {dev}")))
    }

    pub fn blockdev_getro(&mut self, dev: &str) -> R<bool> {
        let f = self.open_dev(dev, false)?;
        sys::blk_get_ro(&f).map_err(|e| fail(e, format!("BLKROGET: {dev}")))
    }

    pub fn blockdev_setro(&mut self, dev: &str, ro: bool) -> R<()> {
        let f = self.open_dev(dev, false)?;
        sys::blk_set_ro(&f, ro).map_err(|e| fail(e, format!("BLKROSET: {dev}")))
    }

    pub fn blockdev_flushbufs(&mut self, dev: &str) -> R<()> {
        let f = self.open_dev(dev, false)?;
        sys::blk_flush_buffers(&f).map_err(|e| fail(e, format!("BLKFLSBUF: {dev}")))
    }

    pub fn blockdev_rereadpt(&mut self, dev: &str) -> R<()> {
        let f = self.open_dev(dev, false)?;
        sys::blk_reread_pt(&f).map_err(|e| fail(e, format!("BLKRRPART: {dev}")))
    }

    /// Zeroes `limit` bytes from the start of `dev` (all of it for `None`),
    /// writing only blocks that are not zero already: sparse images stay
    /// sparse and a second zeroing writes nothing.
    fn zero_range(&mut self, dev: &str, limit: Option<u64>) -> R<()> {
        let f = self.open_dev(dev, true)?;
        let size = sys::blk_size64(&f).map_err(|e| fail(e, format!("BLKGETSIZE64: {dev}")))?;
        let end = limit.map_or(size, |l| l.min(size));
        const BLOCK: usize = 256 << 10;
        const PAGE: usize = 4096;
        let zero = vec![0u8; PAGE];
        let mut buf = vec![0u8; BLOCK];
        let mut pos = 0u64;
        while pos < end {
            let n = usize::try_from(end - pos).unwrap_or(BLOCK).min(BLOCK);
            let got = read_full(&f, pos, &mut buf[..n])
                .map_err(|e| fail(e, format!("pread: {dev} at offset {pos}")))?;
            // Page by page: zeroing a whole read block would allocate the
            // holes around a few non-zero pages.
            for (i, page) in buf[..got].chunks(PAGE).enumerate() {
                if page.iter().any(|b| *b != 0) {
                    let at = pos + (i * PAGE) as u64;
                    f.write_all_at(&zero[..page.len()], at)
                        .map_err(|e| fail(e, format!("pwrite: {dev} at offset {at}")))?;
                }
            }
            if got < n {
                break;
            }
            pos += n as u64;
        }
        f.sync_all().map_err(|e| fail(e, format!("fsync: {dev}")))
    }

    pub fn zero(&mut self, dev: &str) -> R<()> {
        self.zero_range(dev, Some(1 << 20))
    }

    pub fn zero_device(&mut self, dev: &str) -> R<()> {
        self.zero_range(dev, None)
    }
}

fn read_full(f: &File, pos: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], pos + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

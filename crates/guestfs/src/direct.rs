//! The direct engine: answers read-only calls by parsing the images in this
//! process. Drives are opened read-only whatever the caller asked (this engine
//! never writes); the mount table is a list of filesystems at guest paths.

use crate::calls::statns_from;
use crate::generated::DirectCalls;
use crate::path::{self, child};
use crate::{
    Dirent, Drive, Error, ErrorKind, FileType, GrepOpts, LvmLv, LvmPv, LvmVg, Partition, Result,
    StatNs, StatVfs, TarOutOpts, Xattr,
};
use gx_disk::lvm::{self, Lvm};
use gx_disk::partition::{self, PartitionKind, PartitionTable, TableKind};
use gx_disk::probe::{self, Probe};
use gx_disk::{Device, OpenOptions};
use gx_fs::{DirEntry, Filesystem, Stat};
use std::collections::{HashMap, HashSet};
use std::io::Write;

/// Where a device name points, for tools that describe devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// A whole disk: its index (0 is /dev/sda), size and partition table type.
    Device {
        index: usize,
        size: u64,
        table: Option<&'static str>,
    },
    /// A partition of `parent`.
    Partition {
        parent: String,
        number: u32,
        size: u64,
        /// MBR partition type byte, for MBR disks.
        mbr_id: Option<u8>,
        /// GPT partition type GUID (uppercase), for GPT disks.
        gpt_type: Option<String>,
        /// True for an MBR extended partition (a container, not a filesystem).
        extended: bool,
    },
}

struct Part {
    name: String,
    number: u32,
    kind: PartitionKind,
    mbr_type: Option<u8>,
    gpt_type: Option<String>,
    dev: Device,
}

struct Disk {
    name: String,
    dev: Device,
    table: Option<PartitionTable>,
    parts: Vec<Part>,
}

struct Mount {
    device: String,
    /// Guest path components of the mountpoint (empty for `/`).
    at: Vec<String>,
    fs: Box<dyn Filesystem>,
    dev_no: u64,
}

use crate::path::MAX_DEPTH;
/// Chunk size for streaming file data.
const CHUNK: usize = 1 << 20;
/// The most one `pread`/`pread_device` returns (libguestfs's protocol limit).
const PREAD_MAX: usize = 2 * 1024 * 1024;
/// From this many names, `lstat_list` reads the whole directory with its
/// stats at once (readdir-plus); a few names of a large directory are
/// cheaper looked up one by one.
const LSTAT_DIR_MIN: usize = 8;

pub(crate) struct Direct {
    disks: Vec<Disk>,
    mounts: Vec<Mount>,
    /// PVs, VGs and LVs found on the disks, partitions and unlocked devices.
    lvm: Lvm,
    /// Public LVs as `/dev/VG/LV`, sorted (libguestfs's `lvs`).
    lvs: Vec<(String, Device)>,
    /// Unlocked encrypted devices (`/dev/mapper/NAME`), in opening order.
    mapped: Vec<crate::volumes::Mapped>,
    /// Device-mapper minor numbers as the appliance's kernel hands them out:
    /// in creation order (the LVs found at launch, then each unlocked device
    /// and the LVs that appear behind it), the lowest free one first, freed
    /// on close. `st_dev` and XFS's `f_fsid` are made from them.
    dm_minors: Vec<Option<String>>,
}

/// A guest path resolved to a mount and a path inside its filesystem.
struct Resolved {
    mount: usize,
    rel: String,
    /// The resolved guest path components.
    guest: Vec<String>,
}

fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
}

impl Direct {
    pub(crate) fn open(drives: &[Drive]) -> Result<Self> {
        let mut disks = Vec::with_capacity(drives.len());
        for (index, drive) in drives.iter().enumerate() {
            // The direct engine never writes: every image is opened read-only.
            let opts = OpenOptions {
                format: drive.options.format,
                readonly: true,
            };
            let dev = gx_disk::open_image(&drive.path, &opts)?;
            // Every parser above reads through one block cache per image
            // file, shared with other Handles on it (none for a live guest's
            // image: see gx_disk::cache).
            let format = drive.options.format.map_or("auto", |f| f.name());
            let dev = gx_disk::CachedDevice::for_image(
                dev,
                &drive.path,
                format,
                gx_disk::cache::budget_from_env(),
            );
            let name = partition::device_name(index);
            let table = partition::read_partitions(dev.as_ref()).map_err(|e| {
                let shown = drive.path.display().to_string();
                if e.message().contains(&shown) {
                    e.context(&name)
                } else {
                    e.context(format!("{shown} ({name})"))
                }
            })?;
            let mut parts = Vec::new();
            if let Some(t) = &table {
                for p in &t.partitions {
                    let pdev = partition::partition_device(&dev, p)?;
                    parts.push(Part {
                        name: format!("{name}{}", p.number),
                        number: p.number,
                        kind: p.kind,
                        mbr_type: p.mbr_type,
                        gpt_type: p.gpt_type.map(|g| g.to_string()),
                        dev: pdev,
                    });
                }
            }
            disks.push(Disk {
                name,
                dev,
                table,
                parts,
            });
        }
        let mut d = Direct {
            disks,
            mounts: Vec::new(),
            lvm: Lvm::default(),
            lvs: Vec::new(),
            mapped: Vec::new(),
            dm_minors: Vec::new(),
        };
        d.rescan_lvm()?;
        Ok(d)
    }

    /// Scan for LVM PVs again (libguestfs's `lvm_scan`): on unpartitioned
    /// disks, partitions that can hold one, and unlocked encrypted devices.
    /// LVs are not scanned, as lvm2 does by default (`scan_lvs = 0`).
    pub(crate) fn rescan_lvm(&mut self) -> Result<()> {
        let mut candidates: Vec<(String, Device)> = Vec::new();
        for d in &self.disks {
            if d.table.is_none() {
                candidates.push((d.name.clone(), d.dev.clone()));
            }
        }
        for d in &self.disks {
            for p in d.parts.iter().filter(|p| p.kind != PartitionKind::Extended) {
                candidates.push((p.name.clone(), p.dev.clone()));
            }
        }
        for m in &self.mapped {
            candidates.push((m.name.clone(), m.dev.clone()));
        }
        self.lvm = lvm::scan(&candidates)?;
        let mut lvs: Vec<(String, Device)> = Vec::new();
        for vg in &self.lvm.vgs {
            for lv in vg.lvs.iter().filter(|l| l.public) {
                lvs.push((format!("/dev/{}/{}", vg.name, lv.name), lv.device.clone()));
            }
        }
        lvs.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, _) in &lvs {
            self.dm_minor_alloc(name);
        }
        self.lvs = lvs;
        Ok(())
    }

    fn dm_minor_alloc(&mut self, name: &str) {
        if self.dm_minors.iter().flatten().any(|n| n == name) {
            return;
        }
        match self.dm_minors.iter_mut().find(|m| m.is_none()) {
            Some(free) => *free = Some(name.to_string()),
            None => self.dm_minors.push(Some(name.to_string())),
        }
    }

    pub(crate) fn lvm(&self) -> &Lvm {
        &self.lvm
    }

    pub(crate) fn lv_names(&self) -> Vec<String> {
        self.lvs.iter().map(|(n, _)| n.clone()).collect()
    }

    pub(crate) fn mapped(&self) -> &[crate::volumes::Mapped] {
        &self.mapped
    }

    /// Unlock a LUKS device as `/dev/mapper/MAPNAME` (libguestfs's
    /// `cryptsetup_open`), then scan for LVM again so VGs inside appear.
    pub(crate) fn cryptsetup_open(
        &mut self,
        device: &str,
        key: &[u8],
        mapname: &str,
        crypttype: Option<&str>,
    ) -> Result<()> {
        let name = format!("/dev/mapper/{mapname}");
        if mapname.is_empty() || mapname.contains('/') || mapname == "control" {
            return Err(Error::invalid(format!(
                "cryptsetup_open: {mapname:?}: not a valid map name"
            )));
        }
        if self.mapped.iter().any(|m| m.name == name) || self.lv_canonical(&name).is_some() {
            return Err(Error::invalid(format!("{name}: device already exists")));
        }
        match crypttype {
            None | Some("luks") => {}
            Some(t) => {
                return Err(Error::unsupported(format!(
                    "cryptsetup_open: encryption type {t} (the direct engine reads LUKS only)"
                )));
            }
        }
        let canonical = self.canonical(device);
        let dev = self.device(&canonical)?.clone();
        let hdr = gx_disk::luks::read_header(dev.as_ref())
            .map_err(|e| e.context(&canonical))?
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{canonical}: not a LUKS device (unknown encrypted device type)"
                ))
            })?;
        let limits = gx_disk::luks::Limits::default();
        let master = gx_disk::luks::unlock_key(dev.as_ref(), &hdr, key, &limits)?.ok_or_else(|| {
            Error::new(
                ErrorKind::Permission,
                format!("{canonical}: no key slot accepts this key (no key available with this passphrase)"),
            )
        })?;
        let crypt = gx_disk::luks::CryptDevice::new(name.clone(), dev, &hdr, &master)?;
        self.dm_minor_alloc(&name);
        self.mapped.push(crate::volumes::Mapped {
            name,
            source: canonical,
            dev: std::sync::Arc::new(crypt),
        });
        self.rescan_lvm()
    }

    /// Close an unlocked device (libguestfs's `cryptsetup_close`).
    pub(crate) fn cryptsetup_close(&mut self, device: &str) -> Result<()> {
        let Some(i) = self.mapped.iter().position(|m| m.name == device) else {
            return Err(Error::invalid(format!(
                "{device}: you must call this on the /dev/mapper device created by cryptsetup-open"
            )));
        };
        if let Some(pv) = self
            .lvm
            .pvs
            .iter()
            .find(|p| p.device == device && p.vg.is_some())
        {
            let vg = pv
                .vg
                .map(|v| self.lvm.vgs[v].name.clone())
                .unwrap_or_default();
            return Err(Error::invalid(format!(
                "{device}: device is busy (volume group {vg} is on it)"
            )));
        }
        if self.mounts.iter().any(|m| m.device == device) {
            return Err(Error::invalid(format!(
                "{device}: device is busy (mounted)"
            )));
        }
        self.mapped.remove(i);
        for m in self.dm_minors.iter_mut() {
            if m.as_deref() == Some(device) {
                *m = None;
            }
        }
        self.rescan_lvm()
    }

    /// The UUID in a LUKS header (libguestfs's `luks_uuid`).
    pub(crate) fn luks_uuid(&self, device: &str) -> Result<String> {
        let canonical = self.canonical(device);
        let dev = self.device(&canonical)?;
        gx_disk::luks::read_header(dev.as_ref())?
            .map(|h| h.uuid)
            .ok_or_else(|| Error::invalid(format!("{canonical}: not a LUKS device")))
    }

    /// `/dev/VG/LV` for an LV named either way (`/dev/mapper/VG-LV` too).
    pub(crate) fn lv_canonical(&self, name: &str) -> Option<String> {
        let want = match name.strip_prefix("/dev/mapper/") {
            Some(rest) => {
                let (vg, lv) = crate::volumes::split_dm_name(rest)?;
                format!("/dev/{vg}/{lv}")
            }
            None => name.to_string(),
        };
        self.lvs
            .iter()
            .find(|(n, _)| *n == want)
            .map(|(n, _)| n.clone())
    }

    /// The name a device is known by: `/dev/sdX` for any disk spelling,
    /// `/dev/VG/LV` for an LV's `/dev/mapper` name, else unchanged.
    pub(crate) fn canonical(&self, name: &str) -> String {
        if name.starts_with("/dev/mapper/") {
            if self.mapped.iter().any(|m| m.name == name) {
                return name.to_string();
            }
            if let Some(lv) = self.lv_canonical(name) {
                return lv;
            }
        }
        path::canonical_device_name(name)
    }

    pub(crate) fn list_devices(&self) -> Vec<String> {
        self.disks.iter().map(|d| d.name.clone()).collect()
    }

    pub(crate) fn list_partitions(&self) -> Vec<String> {
        self.disks
            .iter()
            .flat_map(|d| d.parts.iter().map(|p| p.name.clone()))
            .collect()
    }

    /// Look a device up by name: a disk or partition (any of the sd/vd/hd
    /// spellings), an LV (`/dev/VG/LV` or `/dev/mapper/VG-LV`) or an
    /// unlocked device (`/dev/mapper/NAME`).
    pub(crate) fn device(&self, name: &str) -> Result<&Device> {
        if let Some(m) = self.mapped.iter().find(|m| m.name == name) {
            return Ok(&m.dev);
        }
        if let Some(lv) = self.lv_canonical(name) {
            if let Some((_, d)) = self.lvs.iter().find(|(n, _)| *n == lv) {
                return Ok(d);
            }
        }
        let (disk, part) = self.lookup(name)?;
        Ok(match part {
            None => &disk.dev,
            Some(p) => &p.dev,
        })
    }

    fn lookup(&self, name: &str) -> Result<(&Disk, Option<&Part>)> {
        let not_found = || {
            Error::new(
                ErrorKind::NotFound,
                format!("{name}: No such file or directory (no such device)"),
            )
        };
        let (index, number) = path::parse_device(name).ok_or_else(not_found)?;
        let disk = self.disks.get(index).ok_or_else(not_found)?;
        match number {
            None => Ok((disk, None)),
            Some(n) => {
                let p = disk
                    .parts
                    .iter()
                    .find(|p| p.number == n)
                    .ok_or_else(not_found)?;
                Ok((disk, Some(p)))
            }
        }
    }

    pub(crate) fn device_kind(&self, name: &str) -> Result<DeviceKind> {
        let (disk, part) = self.lookup(name)?;
        let index = self
            .disks
            .iter()
            .position(|d| std::ptr::eq(d, disk))
            .unwrap_or(0);
        Ok(match part {
            None => DeviceKind::Device {
                index,
                size: disk.dev.size(),
                table: disk.table.as_ref().map(|t| match t.kind {
                    TableKind::Gpt => "gpt",
                    TableKind::Mbr => "msdos",
                }),
            },
            Some(p) => DeviceKind::Partition {
                parent: disk.name.clone(),
                number: p.number,
                size: p.dev.size(),
                mbr_id: p.mbr_type,
                gpt_type: p.gpt_type.clone(),
                extended: p.kind == PartitionKind::Extended,
            },
        })
    }

    pub(crate) fn probe(&self, name: &str) -> Result<Probe> {
        let dev = self.device(name)?;
        let mut p = probe::probe(dev.as_ref()).map_err(|e| e.context(name))?;
        if p.fs_type == "unknown" {
            // libguestfs's vfs_type says "" where blkid finds nothing.
            p.fs_type.clear();
        }
        Ok(p)
    }

    pub(crate) fn list_filesystems(&self) -> Result<Vec<(String, String)>> {
        // libguestfs's order: unpartitioned whole devices, device-mapper
        // devices that are not LVs (unlocked LUKS), partitions, then LVs.
        let mut candidates: Vec<(String, &Device, bool)> = Vec::new();
        for d in &self.disks {
            if d.table.is_none() {
                candidates.push((d.name.clone(), &d.dev, false));
            }
        }
        let mut dm: Vec<&crate::volumes::Mapped> = self.mapped.iter().collect();
        dm.sort_by(|a, b| a.name.cmp(&b.name));
        for m in dm {
            candidates.push((m.name.clone(), &m.dev, true));
        }
        for d in &self.disks {
            for p in &d.parts {
                if can_hold_filesystem(p) {
                    candidates.push((p.name.clone(), &p.dev, false));
                }
            }
        }
        for (name, dev) in &self.lvs {
            candidates.push((name.clone(), dev, true));
        }
        let mut out = Vec::new();
        for (name, dev, volume) in candidates {
            let fs_type = match probe::probe(dev.as_ref()) {
                Ok(p) => p.fs_type,
                // An LV or mapping this engine cannot read: the appliance can.
                Err(e) if volume && e.kind() == ErrorKind::Unsupported => return Err(e),
                Err(_) => "unknown".to_string(),
            };
            // Volume members are containers, not filesystems (as libguestfs).
            if fs_type.ends_with("_member") || fs_type == "crypto_LUKS" || fs_type == "BitLocker" {
                continue;
            }
            let fs_type = if fs_type.is_empty() {
                "unknown".to_string()
            } else {
                fs_type
            };
            out.push((name, fs_type));
        }
        Ok(out)
    }

    pub(crate) fn mount(
        &mut self,
        device: &str,
        mountpoint: &str,
        vfstype: Option<&str>,
    ) -> Result<()> {
        let at: Vec<String> = if mountpoint == "/" {
            Vec::new()
        } else {
            if self.mounts.is_empty() {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "mount: {mountpoint}: mount point does not exist (nothing is mounted on /)"
                    ),
                ));
            }
            let r = self.resolve(mountpoint, true)?;
            let st = self.mounts[r.mount].fs.lstat(&r.rel)?;
            if st.file_type() != FileType::Directory {
                return Err(Error::invalid(format!(
                    "mount: {mountpoint}: mount point is not a directory"
                )));
            }
            r.guest
        };
        let canonical = self.canonical(device);
        let dev = self.device(&canonical)?.clone();
        let fs_type = match vfstype {
            Some(t) => t.to_string(),
            None => {
                probe::probe(dev.as_ref())
                    .map_err(|e| e.context(format!("mount: {canonical}")))?
                    .fs_type
            }
        };
        if fs_type == "unknown" || fs_type.is_empty() {
            return Err(Error::invalid(format!(
                "mount: {canonical}: wrong fs type: no filesystem recognised on this device"
            )));
        }
        let fs =
            gx_fs::open(dev, &fs_type).map_err(|e| e.context(format!("mount: {canonical}")))?;
        let dev_no = match path::parse_device(&canonical) {
            // Report st_dev as the appliance kernel would: SCSI disk major 8,
            // 16 minors per disk.
            Some((i, n)) => makedev(8, (i as u64) * 16 + u64::from(n.unwrap_or(0))),
            // Device-mapper devices (LVs, unlocked LUKS): major 253.
            None => self
                .dm_minors
                .iter()
                .position(|n| n.as_deref() == Some(canonical.as_str()))
                .map_or(0, |i| makedev(253, i as u64)),
        };
        self.mounts.push(Mount {
            device: canonical,
            at,
            fs,
            dev_no,
        });
        Ok(())
    }

    pub(crate) fn umount_all(&mut self) {
        self.mounts.clear();
    }

    pub(crate) fn mountpoints(&self) -> Vec<(String, String)> {
        self.mounts
            .iter()
            .map(|m| (m.device.clone(), path::join(&m.at)))
            .collect()
    }

    /// The mount holding guest path `parts` and the path inside it. The most
    /// recent mount wins where several cover the same path (as the kernel).
    fn locate(&self, parts: &[String]) -> Result<(usize, String)> {
        let mut best: Option<(usize, usize)> = None;
        for (i, m) in self.mounts.iter().enumerate() {
            if m.at.len() <= parts.len() && parts[..m.at.len()] == m.at[..] {
                match best {
                    Some((_, len)) if len > m.at.len() => {}
                    _ => best = Some((i, m.at.len())),
                }
            }
        }
        match best {
            Some((i, len)) => Ok((i, path::join(&parts[len..]))),
            None => Err(Error::new(
                ErrorKind::NotFound,
                "no filesystem is mounted on / (use -m or -i to mount one)",
            )),
        }
    }

    /// Resolve a guest path: `..` and symlinks in directory components are
    /// followed (across mountpoints); the final component is followed when
    /// `follow` is set. A missing final component is not an error here.
    fn resolve(&self, guest_path: &str, follow: bool) -> Result<Resolved> {
        let cur = path::resolve(
            guest_path,
            follow,
            true,
            |parts| {
                let (m, rel) = self.locate(parts)?;
                self.mounts[m]
                    .fs
                    .lstat(&rel)
                    .map(|st| st.file_type())
                    .map_err(|e| e.context(guest_path))
            },
            |parts| {
                let (m, rel) = self.locate(parts)?;
                self.mounts[m].fs.readlink(&rel)
            },
        )?;
        let (mount, rel) = self.locate(&cur)?;
        Ok(Resolved {
            mount,
            rel,
            guest: cur,
        })
    }

    fn fs(&self, r: &Resolved) -> &dyn Filesystem {
        self.mounts[r.mount].fs.as_ref()
    }

    fn stat_resolved(&self, r: &Resolved, shown: &str) -> Result<Stat> {
        let mut st = self.fs(r).lstat(&r.rel).map_err(|e| with_path(e, shown))?;
        st.dev = self.mounts[r.mount].dev_no;
        Ok(st)
    }

    pub(crate) fn lstat(&self, p: &str) -> Result<Stat> {
        let r = self.resolve(p, false)?;
        self.stat_resolved(&r, p)
    }

    pub(crate) fn stat(&self, p: &str) -> Result<Stat> {
        let r = self.resolve(p, true)?;
        self.stat_resolved(&r, p)
    }

    pub(crate) fn lstat_list(&self, dir: &str, names: &[String]) -> Result<Vec<Stat>> {
        let d = self.resolve(dir, true)?;
        // Many names of one directory (`ll`, `ls -lR`): stat them all in one
        // pass over the directory (readdir-plus, where the filesystem has
        // one) instead of a lookup each.
        // Names it does not answer (a mountpoint, a path, a name it lacks)
        // take the lookup below, which also gives their errors.
        let plus: HashMap<String, Stat> = if names.len() >= LSTAT_DIR_MIN {
            match self.fs(&d).lstat_dir(&d.rel) {
                Ok(v) => {
                    let mut map = HashMap::with_capacity(v.len());
                    for (e, st) in v {
                        map.entry(e.name).or_insert(st);
                    }
                    map
                }
                Err(_) => HashMap::new(),
            }
        } else {
            HashMap::new()
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if name.contains('/') || name == ".." || name == "." {
                out.push(self.lstat(&child(dir, name))?);
                continue;
            }
            let mut parts = d.guest.clone();
            parts.push(name.clone());
            // A child may be a mountpoint of another filesystem.
            let (m, rel) = self.locate(&parts)?;
            if let Some(st) = plus.get(name.as_str()).filter(|_| m == d.mount) {
                let mut st = st.clone();
                st.dev = self.mounts[m].dev_no;
                out.push(st);
                continue;
            }
            let r = Resolved {
                mount: m,
                rel,
                guest: parts,
            };
            out.push(self.stat_resolved(&r, &child(dir, name))?);
        }
        Ok(out)
    }

    pub(crate) fn read_dir(&self, dir: &str) -> Result<Vec<DirEntry>> {
        let r = self.resolve(dir, true)?;
        self.fs(&r).read_dir(&r.rel).map_err(|e| with_path(e, dir))
    }

    /// SEEK_DATA / SEEK_HOLE on the file `p` names (symlinks followed).
    pub(crate) fn seek_data(&self, p: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        let r = self.resolve(p, true)?;
        self.fs(&r)
            .seek_data(&r.rel, offset, hole)
            .map_err(|e| with_path(e, p))
    }

    pub(crate) fn readlink(&self, p: &str) -> Result<String> {
        let r = self.resolve(p, false)?;
        self.fs(&r).readlink(&r.rel).map_err(|e| with_path(e, p))
    }

    pub(crate) fn realpath(&self, p: &str) -> Result<String> {
        let r = self.resolve(p, true)?;
        // The final component must exist.
        self.stat_resolved(&r, p)?;
        Ok(path::join(&r.guest))
    }

    pub(crate) fn pread(&self, p: &str, count: usize, offset: u64) -> Result<Vec<u8>> {
        let r = self.resolve(p, true)?;
        let st = self.stat_resolved(&r, p)?;
        if st.file_type() != FileType::Regular {
            return Err(Error::invalid(format!("{p}: not a regular file")));
        }
        // Bound the buffer by the file, not by what the caller asked for.
        let avail = st.size.saturating_sub(offset);
        let len = usize::try_from(avail).unwrap_or(usize::MAX).min(count);
        let mut buf = vec![0u8; len];
        let mut done = 0;
        while done < len {
            let n = self
                .fs(&r)
                .read_at(&r.rel, offset + done as u64, &mut buf[done..])
                .map_err(|e| with_path(e, p))?;
            if n == 0 {
                break;
            }
            done += n;
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// `find`'s names in the order a walk meets them (as the daemon's
    /// `find0` sends them): each directory, then its entries in directory
    /// order.
    pub(crate) fn find_in_walk_order(&self, directory: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut visited = HashSet::new();
        self.find(directory, "", &mut out, &mut visited, 0, true)?;
        Ok(find_names(directory, out))
    }

    pub(crate) fn find(
        &self,
        dir: &str,
        prefix: &str,
        out: &mut Vec<String>,
        visited: &mut HashSet<(u64, u64)>,
        depth: usize,
        kernel_order: bool,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(format!(
                "{dir}: directory tree deeper than {MAX_DEPTH} levels (a loop?)"
            )));
        }
        let here = self.stat(dir)?;
        if here.ino != 0 && !visited.insert((here.dev, here.ino)) {
            return Err(Error::corrupt(format!(
                "{dir}: directory loop (inode {} seen twice)",
                here.ino
            )));
        }
        let entries = if kernel_order {
            let r = self.resolve(dir, true)?;
            let mut v = self
                .fs(&r)
                .read_dir_all(&r.rel)
                .map_err(|e| with_path(e, dir))?;
            v.retain(|e| e.name != "." && e.name != "..");
            v
        } else {
            self.read_dir(dir)?
        };
        for e in entries {
            let rel = format!("{prefix}/{}", e.name);
            out.push(rel.clone());
            let full = child(dir, &e.name);
            let is_dir = match e.file_type {
                FileType::Directory => true,
                FileType::Unknown => self.lstat(&full)?.file_type() == FileType::Directory,
                _ => false,
            };
            if is_dir {
                self.find(&full, &rel, out, visited, depth + 1, kernel_order)?;
            }
        }
        Ok(())
    }

    /// Forget the mount at mountpoint (or of device) `what`: the most
    /// recent one, as the kernel unmounts the top of a stack.
    pub(crate) fn umount(&mut self, what: &str) -> Result<()> {
        let canonical = path::canonical_device_name(what);
        let at: Option<Vec<String>> = if what.starts_with('/') && !what.starts_with("/dev/") {
            Some(
                path::components(what)?
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            )
        } else {
            None
        };
        let i = self
            .mounts
            .iter()
            .rposition(|m| match &at {
                Some(at) => &m.at == at,
                None => m.device == canonical,
            })
            .ok_or_else(|| Error::invalid(format!("umount: {what}: not mounted")))?;
        // A mount with others on top of it is busy, as in the kernel.
        let at_i = self.mounts[i].at.clone();
        if self
            .mounts
            .iter()
            .enumerate()
            .any(|(j, m)| j != i && m.at.len() > at_i.len() && m.at[..at_i.len()] == at_i[..])
        {
            return Err(Error::invalid(format!(
                "umount: {what}: target is busy (something is mounted below it)"
            )));
        }
        self.mounts.remove(i);
        Ok(())
    }

    /// The disk (and partition) a device name means, for the part_* calls.
    fn disk(&self, device: &str) -> Result<&Disk> {
        match self.lookup(&path::canonical_device_name(device))? {
            (d, None) => Ok(d),
            (_, Some(_)) => Err(Error::invalid(format!(
                "{device}: a partition, not a whole device"
            ))),
        }
    }

    fn table(&self, device: &str) -> Result<&PartitionTable> {
        self.disk(device)?
            .table
            .as_ref()
            .ok_or_else(|| Error::invalid(format!("{device}: unrecognised disk label")))
    }

    fn part(&self, device: &str, partnum: i32) -> Result<&gx_disk::partition::Partition> {
        let t = self.table(device)?;
        let n = u32::try_from(partnum).map_err(|_| {
            Error::invalid(format!("{device}: partition number {partnum} is not valid"))
        })?;
        t.partitions.iter().find(|p| p.number == n).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("{device}: partition {partnum} does not exist"),
            )
        })
    }

    /// Streams `len` bytes of a device from `offset` into `out`.
    fn copy_device(&self, dev: &Device, offset: u64, len: u64, out: &mut dyn Write) -> Result<()> {
        let mut buf = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK)).max(1)];
        let mut done = 0u64;
        while done < len {
            let n = usize::try_from(len - done)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            dev.read_at(&mut buf[..n], offset + done)?;
            out.write_all(&buf[..n])
                .map_err(|e| Error::io("download: writing the data", e))?;
            done += n as u64;
        }
        Ok(())
    }

    /// Streams a regular file's bytes `[offset, offset+len)` into `out`.
    fn copy_file(&self, p: &str, offset: u64, len: Option<u64>, out: &mut dyn Write) -> Result<()> {
        let r = self.resolve(p, true)?;
        let st = self.stat_resolved(&r, p)?;
        match st.file_type() {
            FileType::Regular => {}
            FileType::Directory => {
                return Err(Error::invalid(format!("{p}: Is a directory")));
            }
            _ => return Err(Error::invalid(format!("{p}: not a regular file"))),
        }
        let end = match len {
            Some(l) => offset.saturating_add(l).min(st.size),
            None => st.size,
        };
        let fs = self.fs(&r);
        let mut buf = vec![
            0u8;
            CHUNK
                .min(usize::try_from(end.saturating_sub(offset)).unwrap_or(CHUNK))
                .max(1)
        ];
        let mut pos = offset;
        // Never read past the size the inode claims, whatever the parser returns.
        while pos < end {
            let want = usize::try_from(end - pos)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = fs
                .read_at(&r.rel, pos, &mut buf[..want])
                .map_err(|e| with_path(e, p))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(format!("{p}: write"), e))?;
            pos += n as u64;
        }
        Ok(())
    }

    /// Reads file bytes at `offset` (0 at the end), for walks that stream.
    pub(crate) fn read_file_at(&self, p: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let r = self.resolve(p, true)?;
        self.fs(&r)
            .read_at(&r.rel, offset, buf)
            .map_err(|e| with_path(e, p))
    }

    /// Extended attributes of `p` itself (a symlink's own), as pairs.
    pub(crate) fn xattr_pairs(&self, p: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let r = self.resolve(p, false)?;
        Ok(self
            .fs(&r)
            .lgetxattrs(&r.rel)
            .map_err(|e| with_path(e, p))?
            .into_iter()
            .map(|x| (x.attrname, x.attrval))
            .collect())
    }

    /// Extended attributes of a resolved path, through its filesystem.
    fn xattrs_of(&self, p: &str, follow: bool) -> Result<Vec<Xattr>> {
        let r = self.resolve(p, follow)?;
        self.stat_resolved(&r, p)?;
        Ok(self
            .fs(&r)
            .lgetxattrs(&r.rel)
            .map_err(|e| with_path(e, p))?
            .into_iter()
            .map(|x| Xattr {
                attrname: x.attrname,
                attrval: x.attrval,
            })
            .collect())
    }
}

/// libguestfs's `readdir` type letters.
fn ftyp(t: FileType) -> u8 {
    match t {
        FileType::Regular => b'r',
        FileType::Directory => b'd',
        FileType::Symlink => b'l',
        FileType::CharDevice => b'c',
        FileType::BlockDevice => b'b',
        FileType::Fifo => b'f',
        FileType::Socket => b's',
        FileType::Unknown => b'u',
    }
}

fn api_statvfs(s: &gx_fs::StatVfs) -> StatVfs {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    StatVfs {
        bsize: i(s.bsize),
        frsize: i(s.frsize),
        blocks: i(s.blocks),
        bfree: i(s.bfree),
        bavail: i(s.bavail),
        files: i(s.files),
        ffree: i(s.ffree),
        favail: i(s.favail),
        fsid: s.fsid as i64,
        flag: i(s.flag),
        namemax: i(s.namemax),
    }
}

fn offset_arg(call: &str, offset: i64) -> Result<u64> {
    u64::try_from(offset)
        .map_err(|_| Error::invalid(format!("{call}: offset {offset} is negative")))
}

fn count_arg(call: &str, count: i32) -> Result<usize> {
    let c = usize::try_from(count)
        .map_err(|_| Error::invalid(format!("{call}: count {count} is negative")))?;
    if c > PREAD_MAX {
        return Err(Error::invalid(format!(
            "{call}: count {count} is too large for the protocol (at most {PREAD_MAX} bytes)"
        )));
    }
    Ok(c)
}

fn guid_upper(g: &gx_disk::partition::Guid) -> String {
    g.to_string().to_ascii_uppercase()
}

impl DirectCalls for Direct {
    fn ls(&self, directory: &str) -> Result<Vec<String>> {
        let mut v: Vec<String> = self
            .read_dir(directory)?
            .into_iter()
            .map(|e| e.name)
            .collect();
        v.sort();
        Ok(v)
    }

    fn readdir(&self, dir: &str) -> Result<Vec<Dirent>> {
        let r = self.resolve(dir, true)?;
        let entries = self
            .fs(&r)
            .read_dir_all(&r.rel)
            .map_err(|e| with_path(e, dir))?;
        Ok(entries
            .into_iter()
            .map(|e| Dirent {
                ino: e.ino as i64,
                ftyp: ftyp(e.file_type),
                name: e.name,
            })
            .collect())
    }

    fn find(&self, directory: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut visited = HashSet::new();
        Direct::find(self, directory, "", &mut out, &mut visited, 0, false)?;
        out.sort();
        Ok(find_names(directory, out))
    }

    fn statns(&self, path: &str) -> Result<StatNs> {
        Ok(statns_from(&self.stat(path)?))
    }

    fn lstatns(&self, path: &str) -> Result<StatNs> {
        Ok(statns_from(&self.lstat(path)?))
    }

    fn lstatnslist(&self, path: &str, names: &[String]) -> Result<Vec<StatNs>> {
        Ok(self
            .lstat_list(path, names)?
            .iter()
            .map(statns_from)
            .collect())
    }

    fn statvfs(&self, path: &str) -> Result<StatVfs> {
        let r = self.resolve(path, true)?;
        self.stat_resolved(&r, path)?;
        let mut v = self.fs(&r).statvfs()?;
        if matches!(self.fs(&r).fs_type(), "xfs" | "vfat") {
            // XFS and FAT report their device number as f_fsid
            // (xfs_fs_statfs, fat_statfs); ext4 derives it from its UUID.
            v.fsid = self.mounts[r.mount].dev_no;
        }
        Ok(api_statvfs(&v))
    }

    fn readlink(&self, path: &str) -> Result<String> {
        Direct::readlink(self, path)
    }

    fn realpath(&self, path: &str) -> Result<String> {
        Direct::realpath(self, path)
    }

    fn download(&self, remotefilename: &str, filename: &mut dyn Write) -> Result<()> {
        if remotefilename.starts_with("/dev/") {
            let dev = self
                .device(&path::canonical_device_name(remotefilename))?
                .clone();
            return self.copy_device(&dev, 0, dev.size(), filename);
        }
        self.copy_file(remotefilename, 0, None, filename)
    }

    fn download_offset(
        &self,
        remotefilename: &str,
        filename: &mut dyn Write,
        offset: i64,
        size: i64,
    ) -> Result<()> {
        let offset = offset_arg("download_offset", offset)?;
        let size = u64::try_from(size)
            .map_err(|_| Error::invalid(format!("download_offset: size {size} is negative")))?;
        if remotefilename.starts_with("/dev/") {
            let dev = self
                .device(&path::canonical_device_name(remotefilename))?
                .clone();
            let len = size.min(dev.size().saturating_sub(offset));
            return self.copy_device(&dev, offset, len, filename);
        }
        self.copy_file(remotefilename, offset, Some(size), filename)
    }

    fn pread(&self, path: &str, count: i32, offset: i64) -> Result<Vec<u8>> {
        let count = count_arg("pread", count)?;
        let offset = offset_arg("pread", offset)?;
        Direct::pread(self, path, count, offset)
    }

    fn pread_device(&self, device: &str, count: i32, offset: i64) -> Result<Vec<u8>> {
        let count = count_arg("pread_device", count)?;
        let offset = offset_arg("pread_device", offset)?;
        let dev = self.device(&path::canonical_device_name(device))?;
        let len = usize::try_from(dev.size().saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(count);
        let mut buf = vec![0u8; len];
        dev.read_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn grep(&self, regex: &str, path: &str, opts: &GrepOpts) -> Result<Vec<String>> {
        crate::grep::grep(regex, path, opts, |out| {
            DirectCalls::download(self, path, out)
        })
    }

    fn getxattrs(&self, path: &str) -> Result<Vec<Xattr>> {
        self.xattrs_of(path, true)
    }

    fn lgetxattrs(&self, path: &str) -> Result<Vec<Xattr>> {
        self.xattrs_of(path, false)
    }

    fn lxattrlist(&self, path: &str, names: &[String]) -> Result<Vec<Xattr>> {
        let mut out = Vec::new();
        for n in names {
            let x = self.xattrs_of(&child(path, n), false)?;
            out.push(Xattr {
                attrname: String::new(),
                attrval: x.len().to_string().into_bytes(),
            });
            out.extend(x);
        }
        Ok(out)
    }

    fn getxattr(&self, path: &str, name: &str) -> Result<Vec<u8>> {
        xattr_named(self.xattrs_of(path, true)?, path, name)
    }

    fn lgetxattr(&self, path: &str, name: &str) -> Result<Vec<u8>> {
        xattr_named(self.xattrs_of(path, false)?, path, name)
    }

    fn tar_out(&self, directory: &str, tarfile: &mut dyn Write, opts: &TarOutOpts) -> Result<()> {
        crate::tar::tar_out(self, directory, tarfile, opts)
    }

    fn list_devices(&self) -> Result<Vec<String>> {
        Ok(Direct::list_devices(self))
    }

    fn list_partitions(&self) -> Result<Vec<String>> {
        Ok(Direct::list_partitions(self))
    }

    fn list_filesystems(&self) -> Result<Vec<(String, String)>> {
        Direct::list_filesystems(self)
    }

    fn vfs_type(&self, mountable: &str) -> Result<String> {
        Ok(self.probe(mountable)?.fs_type)
    }

    fn vfs_label(&self, mountable: &str) -> Result<String> {
        Ok(self.probe(mountable)?.label)
    }

    fn vfs_uuid(&self, mountable: &str) -> Result<String> {
        Ok(self.probe(mountable)?.uuid)
    }

    fn blockdev_getsize64(&self, device: &str) -> Result<i64> {
        let size = self.device(&path::canonical_device_name(device))?.size();
        i64::try_from(size)
            .map_err(|_| Error::corrupt(format!("{device}: size {size} does not fit")))
    }

    fn blockdev_getss(&self, device: &str) -> Result<i32> {
        self.device(&path::canonical_device_name(device))?;
        Ok(512)
    }

    fn blockdev_getbsz(&self, device: &str) -> Result<i32> {
        self.device(&path::canonical_device_name(device))?;
        Ok(4096)
    }

    fn blockdev_getro(&self, device: &str) -> Result<bool> {
        // As the appliance's kernel answers: a drive added read-only is a
        // writable device over a throw-away overlay there, so false (and
        // so are its LVs and opened LUKS devices).
        self.device(&path::canonical_device_name(device))?;
        Ok(false)
    }

    fn part_list(&self, device: &str) -> Result<Vec<Partition>> {
        Ok(self
            .table(device)?
            .partitions
            .iter()
            .map(|p| Partition {
                part_num: i32::try_from(p.number).unwrap_or(i32::MAX),
                part_start: p.start,
                part_end: p.start.saturating_add(p.size).saturating_sub(1),
                part_size: p.size,
            })
            .collect())
    }

    fn part_get_parttype(&self, device: &str) -> Result<String> {
        Ok(self.table(device)?.kind.libguestfs_name().to_string())
    }

    fn part_get_name(&self, device: &str, partnum: i32) -> Result<String> {
        let p = self.part(device, partnum)?;
        if self.table(device)?.kind != TableKind::Gpt {
            return Err(Error::invalid(format!(
                "part_get_name: {device}: partition names need a GPT disk"
            )));
        }
        Ok(p.name.clone().unwrap_or_default())
    }

    fn part_get_bootable(&self, device: &str, partnum: i32) -> Result<bool> {
        Ok(self.part(device, partnum)?.bootable)
    }

    fn part_get_gpt_type(&self, device: &str, partnum: i32) -> Result<String> {
        self.part(device, partnum)?
            .gpt_type
            .as_ref()
            .map(guid_upper)
            .ok_or_else(|| Error::invalid(format!("part_get_gpt_type: {device}: not a GPT disk")))
    }

    fn part_get_gpt_guid(&self, device: &str, partnum: i32) -> Result<String> {
        self.part(device, partnum)?
            .gpt_guid
            .as_ref()
            .map(guid_upper)
            .ok_or_else(|| Error::invalid(format!("part_get_gpt_guid: {device}: not a GPT disk")))
    }

    fn part_get_disk_guid(&self, device: &str) -> Result<String> {
        match self.table(device)?.disk_id {
            gx_disk::partition::DiskId::Gpt(g) => Ok(guid_upper(&g)),
            gx_disk::partition::DiskId::Mbr(_) => Err(Error::invalid(format!(
                "part_get_disk_guid: {device}: not a GPT disk"
            ))),
        }
    }

    fn part_get_mbr_id(&self, device: &str, partnum: i32) -> Result<i32> {
        self.part(device, partnum)?
            .mbr_type
            .map(i32::from)
            .ok_or_else(|| Error::invalid(format!("part_get_mbr_id: {device}: not an MBR disk")))
    }

    fn part_get_mbr_part_type(&self, device: &str, partnum: i32) -> Result<String> {
        Ok(match self.part(device, partnum)?.kind {
            PartitionKind::Extended => "extended",
            PartitionKind::Logical => "logical",
            _ => "primary",
        }
        .to_string())
    }

    fn vg_activate_all(&self, _activate: bool) -> Result<()> {
        // Every volume group is active here: nothing to do.
        Ok(())
    }

    fn vg_activate(&self, _activate: bool, _volgroups: &[String]) -> Result<()> {
        Ok(())
    }

    fn lvs(&self) -> Result<Vec<String>> {
        Ok(self.lv_names())
    }

    fn vgs(&self) -> Result<Vec<String>> {
        Ok(crate::volumes::vgs(self.lvm()))
    }

    fn pvs(&self) -> Result<Vec<String>> {
        Ok(crate::volumes::pvs(self.lvm()))
    }

    fn lvs_full(&self) -> Result<Vec<LvmLv>> {
        Ok(crate::volumes::lvs_full(self.lvm()))
    }

    fn vgs_full(&self) -> Result<Vec<LvmVg>> {
        Ok(crate::volumes::vgs_full(self.lvm()))
    }

    fn pvs_full(&self) -> Result<Vec<LvmPv>> {
        Ok(crate::volumes::pvs_full(self.lvm()))
    }

    fn lvuuid(&self, device: &str) -> Result<String> {
        crate::volumes::lvuuid(self, device)
    }

    fn vguuid(&self, vgname: &str) -> Result<String> {
        crate::volumes::vguuid(self, vgname)
    }

    fn pvuuid(&self, device: &str) -> Result<String> {
        crate::volumes::pvuuid(self, device)
    }

    fn vglvuuids(&self, vgname: &str) -> Result<Vec<String>> {
        crate::volumes::vglvuuids(self, vgname)
    }

    fn vgpvuuids(&self, vgname: &str) -> Result<Vec<String>> {
        crate::volumes::vgpvuuids(self, vgname)
    }

    fn list_dm_devices(&self) -> Result<Vec<String>> {
        let mut v: Vec<String> = self.mapped().iter().map(|m| m.name.clone()).collect();
        v.sort();
        Ok(v)
    }

    fn lvm_canonical_lv_name(&self, lvname: &str) -> Result<String> {
        self.lv_canonical(lvname)
            .ok_or_else(|| Error::invalid(format!("{lvname}: not a logical volume")))
    }

    fn is_lv(&self, mountable: &str) -> Result<bool> {
        Ok(self.lv_canonical(mountable).is_some())
    }

    fn luks_uuid(&self, device: &str) -> Result<String> {
        Direct::luks_uuid(self, device)
    }
}

fn xattr_named(v: Vec<Xattr>, path: &str, name: &str) -> Result<Vec<u8>> {
    v.into_iter()
        .find(|x| x.attrname == name)
        .map(|x| x.attrval)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("getxattr: {path}: {name}: No data available"),
            )
        })
}

/// libguestfs refuses to treat these partitions as filesystems: MBR extended
/// containers, and GPT LDM metadata/data, Microsoft reserved and Windows
/// snapshot partitions.
fn can_hold_filesystem(p: &Part) -> bool {
    if p.kind == PartitionKind::Extended {
        return false;
    }
    if let Some(t) = &p.gpt_type {
        let t = t.to_ascii_uppercase();
        return !matches!(
            t.as_str(),
            "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3"
                | "AF9B60A0-1431-4F62-BC68-3311714A69AD"
                | "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
                | "CADDEBF1-4400-4DE8-B103-12117DCF3CCF"
        );
    }
    true
}

/// Make sure an error names the guest path the user asked about.
fn with_path(e: Error, p: &str) -> Error {
    if e.message().contains(p) {
        e
    } else {
        e.context(p)
    }
}

/// libguestfs's daemon names what `find` lists by cutting `/sysroot` plus
/// `directory` off each path: under `/etc` that leaves `/apt`, under `/` or
/// `/etc/` it leaves `apt`. Our walks give `/apt`; this makes them agree.
pub(crate) fn find_names(directory: &str, names: Vec<String>) -> Vec<String> {
    if !directory.ends_with('/') {
        return names;
    }
    names
        .into_iter()
        .map(|n| n.strip_prefix('/').map(str::to_string).unwrap_or(n))
        .collect()
}

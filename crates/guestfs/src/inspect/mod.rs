//! Inspection: which operating systems a disk set holds, and what they are
//! (libguestfs's `inspect_*` calls).
//!
//! Everything here is host-side logic over the Handle's public calls
//! (`list_filesystems`, `mount_ro`, `is_file`, `read_file`, ...), so it works
//! the same on the direct engine and, later, on the appliance. The rules, the
//! order of the tests and the values reported follow libguestfs
//! (daemon/inspect*.ml, lib/inspect-apps.c, lib/inspect-osinfo.c) so that
//! `gx-inspector` prints what `virt-inspector` prints.
//!
//! Every string read from a guest is untrusted: files are read with a size
//! bound, values are cut to a bounded length, and nothing here panics on
//! what a guest contains. It must not: write to the guest, or leave anything
//! mounted after `inspect_os` (callers mount what they need afterwards).

mod apps;
#[doc(hidden)]
pub use apps::fuzz_rpm_bdb;
mod fstab;
mod icon;
mod linux;
mod windows;
pub use windows::read_hive;

use crate::{Error, ErrorKind, FileType, Handle, Result, StatExt};

/// Largest release/hostname/config file inspection reads (libguestfs's
/// `is_small_file`: 2 * 1048 * 1024 bytes).
pub(crate) const MAX_SMALL_FILE: u64 = 2 * 1048 * 1024;

/// Longest string kept from a guest file or registry value.
pub(crate) const MAX_STRING: usize = 4096;

/// What inspection found about one filesystem (libguestfs's `inspection_data`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Data {
    pub os_type: Option<&'static str>,
    pub distro: Option<&'static str>,
    pub package_format: Option<&'static str>,
    pub package_management: Option<&'static str>,
    pub product_name: Option<String>,
    pub product_variant: Option<String>,
    pub version: Option<(i32, i32)>,
    pub arch: Option<String>,
    pub hostname: Option<String>,
    pub build_id: Option<String>,
    /// (device, mountpoint) pairs from the guest's fstab, in file order.
    pub fstab: Vec<(String, String)>,
    pub windows_systemroot: Option<String>,
    pub windows_software_hive: Option<String>,
    pub windows_system_hive: Option<String>,
    pub windows_current_control_set: Option<String>,
    /// (drive letter, device) pairs.
    pub drive_mappings: Vec<(String, String)>,
}

impl Data {
    /// Fill what `self` lacks from `child` (libguestfs's `merge_inspection_data`).
    fn merge_from(&mut self, child: &Data) {
        fn m<T: Clone>(parent: &mut Option<T>, child: &Option<T>) {
            if parent.is_none() {
                parent.clone_from(child);
            }
        }
        m(&mut self.os_type, &child.os_type);
        m(&mut self.distro, &child.distro);
        m(&mut self.package_format, &child.package_format);
        m(&mut self.package_management, &child.package_management);
        m(&mut self.product_name, &child.product_name);
        m(&mut self.product_variant, &child.product_variant);
        m(&mut self.version, &child.version);
        m(&mut self.arch, &child.arch);
        m(&mut self.hostname, &child.hostname);
        m(&mut self.build_id, &child.build_id);
        let mut fstab = child.fstab.clone();
        fstab.append(&mut self.fstab);
        self.fstab = fstab;
        m(&mut self.windows_systemroot, &child.windows_systemroot);
        m(
            &mut self.windows_software_hive,
            &child.windows_software_hive,
        );
        m(&mut self.windows_system_hive, &child.windows_system_hive);
        m(
            &mut self.windows_current_control_set,
            &child.windows_current_control_set,
        );
        let mut dm = child.drive_mappings.clone();
        dm.append(&mut self.drive_mappings);
        self.drive_mappings = dm;
    }
}

/// The role a filesystem plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Root(Data),
    Usr(Data),
    Swap,
    Other,
}

/// One inspected filesystem.
#[derive(Debug, Clone)]
pub(crate) struct Fs {
    pub device: String,
    pub role: Role,
}

/// Inspection results kept in the Handle between `inspect_os` and the getters.
#[derive(Debug, Clone, Default)]
pub struct State {
    fses: Vec<Fs>,
    done: bool,
}

/// Identity of one block device, for resolving fstab's `UUID=`, `LABEL=`,
/// `PARTUUID=`, `PARTLABEL=` and Windows drive letters.
#[derive(Debug, Clone, Default)]
pub(crate) struct DevIds {
    pub device: String,
    pub uuid: String,
    pub label: String,
    /// GPT partition GUID (uppercase) and name, when on a GPT disk.
    pub partuuid: Option<String>,
    pub partlabel: Option<String>,
}

/// Cut a guest string to a bounded length on a character boundary.
pub(crate) fn bound(mut s: String) -> String {
    if s.len() > MAX_STRING {
        let mut cut = MAX_STRING;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

impl Handle {
    // ---------------------------------------------------------------
    // Small helpers with libguestfs's semantics (never an error: a path
    // that cannot be read is simply not there).

    /// `Is.is_file` without following a final symlink.
    pub(crate) fn insp_is_file(&self, path: &str) -> bool {
        matches!(self.lstatns(path), Ok(st) if st.file_type() == FileType::Regular)
    }

    /// `Is.is_dir` without following a final symlink.
    pub(crate) fn insp_is_dir(&self, path: &str) -> bool {
        matches!(self.lstatns(path), Ok(st) if st.file_type() == FileType::Directory)
    }

    /// `Is.is_file ~followsymlinks:true`.
    pub(crate) fn insp_is_file_follow(&self, path: &str) -> bool {
        matches!(self.statns(path), Ok(st) if st.file_type() == FileType::Regular)
    }

    pub(crate) fn insp_is_dir_nocase(&self, path: &str) -> bool {
        match self.case_sensitive_path(path) {
            Ok(p) => self.insp_is_dir(&p),
            Err(_) => false,
        }
    }

    pub(crate) fn insp_is_file_nocase(&self, path: &str) -> bool {
        match self.case_sensitive_path(path) {
            Ok(p) => self.insp_is_file(&p),
            Err(_) => false,
        }
    }

    /// A small regular file (following symlinks), or `None`.
    pub(crate) fn read_small_file(&self, path: &str, max: u64) -> Option<Vec<u8>> {
        let st = self.statns(path).ok()?;
        if st.file_type() != FileType::Regular
            || u64::try_from(st.st_size).unwrap_or(u64::MAX) > max
        {
            return None;
        }
        self.read_bounded("inspection", path, max).ok()
    }

    /// A small file's lines (split at `\n`, as libguestfs's `read_small_file`).
    pub(crate) fn read_small_lines(&self, path: &str) -> Option<Vec<String>> {
        let data = self.read_small_file(path, MAX_SMALL_FILE)?;
        let text = String::from_utf8_lossy(&data);
        Some(text.split('\n').map(|l| bound(l.to_string())).collect())
    }

    /// UUIDs and labels of every device, for fstab and drive-letter resolution.
    fn device_ids(&self) -> Result<Vec<DevIds>> {
        let mut out = Vec::new();
        for dev in self.list_devices()? {
            let table = self.engine()?.device(&dev).ok().and_then(|d| {
                gx_disk::partition::read_partitions(d.as_ref())
                    .ok()
                    .flatten()
            });
            let probe = |name: &str| -> DevIds {
                DevIds {
                    device: name.to_string(),
                    uuid: self.vfs_uuid(name).unwrap_or_default(),
                    label: self.vfs_label(name).unwrap_or_default(),
                    partuuid: None,
                    partlabel: None,
                }
            };
            match &table {
                None => out.push(probe(&dev)),
                Some(t) => {
                    for p in &t.partitions {
                        let name = format!("{dev}{}", p.number);
                        let mut ids = probe(&name);
                        ids.partuuid = p.gpt_guid.map(|g| g.to_string());
                        ids.partlabel = p.name.clone();
                        out.push(ids);
                    }
                }
            }
        }
        // Unlocked encrypted devices and LVs carry filesystems too.
        let volumes = self
            .list_dm_devices()
            .unwrap_or_default()
            .into_iter()
            .chain(self.lvs().unwrap_or_default());
        for name in volumes {
            out.push(DevIds {
                uuid: self.vfs_uuid(&name).unwrap_or_default(),
                label: self.vfs_label(&name).unwrap_or_default(),
                device: name,
                partuuid: None,
                partlabel: None,
            });
        }
        Ok(out)
    }

    // ---------------------------------------------------------------
    // The API.

    /// Inspect every filesystem and return the roots of the operating
    /// systems found (libguestfs's `inspect_os`). Leaves nothing mounted.
    pub(crate) fn impl_inspect_os(&mut self) -> Result<Vec<String>> {
        self.umount_all()?;
        let ids = self.device_ids()?;
        let mut fses = Vec::new();
        for (device, vfs_type) in self.list_filesystems()? {
            if let Some(role) = self.check_for_filesystem_on(&device, &vfs_type, &ids) {
                fses.push(Fs { device, role });
            }
        }
        let mut fses = collect_coreos(fses)?;
        collect_linux_usr(&mut fses);
        self.inspection = State { fses, done: true };
        self.inspect_get_roots()
    }

    /// The roots found by the last `inspect_os`.
    pub(crate) fn impl_inspect_get_roots(&self) -> Result<Vec<String>> {
        Ok(self
            .inspection
            .fses
            .iter()
            .filter(|f| matches!(f.role, Role::Root(_)))
            .map(|f| f.device.clone())
            .collect())
    }

    fn check_for_filesystem_on(
        &mut self,
        device: &str,
        vfs_type: &str,
        ids: &[DevIds],
    ) -> Option<Role> {
        if vfs_type == "swap" {
            return Some(Role::Swap);
        }
        if self.mount_ro(device, "/").is_err() {
            return None;
        }
        let role = self.check_filesystem(device, ids);
        let _ = self.umount_all();
        Some(role)
    }

    /// Decide what the filesystem mounted on `/` is (libguestfs's
    /// `check_filesystem`; the BSD, Hurd and Minix branches are not
    /// implemented: such filesystems are reported as not a root).
    fn check_filesystem(&self, device: &str, ids: &[DevIds]) -> Role {
        let mut data = Data::default();
        enum R {
            Root,
            Usr,
            Other,
        }
        let role = if self.insp_is_file("/grub/menu.lst")
            || self.insp_is_file("/grub/grub.conf")
            || self.insp_is_file("/grub2/grub.cfg")
        {
            R::Other
        } else if self.insp_is_dir("/etc")
            && (self.insp_is_dir("/bin") || self.is_symlink_to("/bin", "usr/bin"))
            && (self.insp_is_file("/etc/fstab") || self.insp_is_file("/etc/hosts"))
        {
            self.check_linux_root(device, ids, &mut data);
            R::Root
        } else if self.insp_is_dir("/etc")
            && self.insp_is_dir("/root")
            && self.insp_is_dir("/home")
            && self.insp_is_dir("/usr")
            && self.insp_is_file("/etc/coreos/update.conf")
        {
            self.check_coreos_root(device, &mut data);
            R::Root
        } else if self.insp_is_dir("/etc")
            && self.insp_is_dir("/bin")
            && self.insp_is_dir("/share")
            && !self.insp_is_dir("/local")
            && !self.insp_is_file("/etc/fstab")
        {
            R::Other // Linux /usr/local
        } else if self.insp_is_dir("/bin")
            && self.insp_is_dir("/local")
            && self.insp_is_dir("/share")
            && self.insp_is_dir("/src")
            && !self.insp_is_file("/etc/fstab")
        {
            self.check_linux_usr(&mut data);
            R::Usr
        } else if self.insp_is_dir("/bin")
            && self.insp_is_dir("/share")
            && self.insp_is_dir("/local")
            && self.insp_is_dir("/share/coreos")
        {
            self.check_coreos_usr(device, &mut data);
            R::Usr
        } else if self.insp_is_dir("/log") && self.insp_is_dir("/run") && self.insp_is_dir("/spool")
        {
            R::Other // Linux /var
        } else if let Some(systemroot) = self.windows_systemroot_of_mounted() {
            self.check_windows_root(&systemroot, &mut data);
            R::Root
        } else if self.insp_is_dir_nocase("/FDOS") && self.insp_is_file_nocase("/FDOS/FREEDOS.BSS")
        {
            data.os_type = Some("dos");
            data.distro = Some("freedos");
            data.arch = Some("i386".into());
            R::Root
        } else if self.insp_is_dir_nocase("/DOS") && self.insp_is_file_nocase("/DOS/COMMAND.COM") {
            data.os_type = Some("dos");
            data.distro = Some("msdos");
            data.arch = Some("i386".into());
            R::Root
        } else {
            R::Other
        };
        data.package_format = package_format(data.distro);
        data.package_management = self.package_management(&data);
        match role {
            R::Root => Role::Root(data),
            R::Usr => Role::Usr(data),
            R::Other => Role::Other,
        }
    }

    fn is_symlink_to(&self, path: &str, target: &str) -> bool {
        matches!(self.lstatns(path), Ok(st) if st.file_type() == FileType::Symlink)
            && self.readlink(path).is_ok_and(|t| t == target)
    }

    fn package_management(&self, data: &Data) -> Option<&'static str> {
        let major = data.version.map(|v| v.0).unwrap_or(0);
        Some(match data.distro? {
            "meego" => "yum",
            "fedora" => {
                if major >= 22 && self.insp_is_file_follow("/usr/bin/dnf") {
                    "dnf"
                } else if major >= 1 {
                    "yum"
                } else {
                    return None;
                }
            }
            "neokylin" | "openmandriva" | "opencloudos" | "tencentos" | "openeuler" => "dnf",
            "centos" | "circle" | "kylin" | "oraclelinux" | "redhat-based" | "rhel" | "rocky"
            | "scientificlinux" => {
                if major >= 8 {
                    "dnf"
                } else if major >= 5 {
                    "yum"
                } else if major >= 2 {
                    "up2date"
                } else {
                    return None;
                }
            }
            "altlinux" | "debian" | "kalilinux" | "linuxmint" | "ubuntu" => "apt",
            "archlinux" => "pacman",
            "gentoo" => "portage",
            "pardus" => "pisi",
            "mageia" | "mandriva" => "urpmi",
            "opensuse" | "sles" | "suse-based" => "zypper",
            "alpinelinux" => "apk",
            "voidlinux" => "xbps",
            _ => return None,
        })
    }

    fn root_data(&self, root: &str) -> Result<&Data> {
        if !self.inspection.done {
            return Err(Error::invalid("no inspection data: call inspect_os first"));
        }
        self.inspection
            .fses
            .iter()
            .find_map(|f| match &f.role {
                Role::Root(d) if f.device == root => Some(d),
                _ => None,
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "{root}: root device not found: only call this function with a root device previously returned by inspect_os"
                    ),
                )
            })
    }

    /// `linux`, `windows`, ... or `unknown`.
    pub(crate) fn impl_inspect_get_type(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .os_type
            .unwrap_or("unknown")
            .to_string())
    }

    /// `debian`, `fedora`, `windows`, ... or `unknown`.
    pub(crate) fn impl_inspect_get_distro(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .distro
            .unwrap_or("unknown")
            .to_string())
    }

    pub(crate) fn impl_inspect_get_package_format(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .package_format
            .unwrap_or("unknown")
            .to_string())
    }

    pub(crate) fn impl_inspect_get_package_management(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .package_management
            .unwrap_or("unknown")
            .to_string())
    }

    pub(crate) fn impl_inspect_get_product_name(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .product_name
            .clone()
            .unwrap_or_else(|| "unknown".into()))
    }

    pub(crate) fn impl_inspect_get_product_variant(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .product_variant
            .clone()
            .unwrap_or_else(|| "unknown".into()))
    }

    pub(crate) fn impl_inspect_get_major_version(&self, root: &str) -> Result<i32> {
        Ok(self.root_data(root)?.version.map(|v| v.0).unwrap_or(0))
    }

    pub(crate) fn impl_inspect_get_minor_version(&self, root: &str) -> Result<i32> {
        Ok(self.root_data(root)?.version.map(|v| v.1).unwrap_or(0))
    }

    pub(crate) fn impl_inspect_get_arch(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .arch
            .clone()
            .unwrap_or_else(|| "unknown".into()))
    }

    pub(crate) fn impl_inspect_get_hostname(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .hostname
            .clone()
            .unwrap_or_else(|| "unknown".into()))
    }

    pub(crate) fn impl_inspect_get_build_id(&self, root: &str) -> Result<String> {
        Ok(self
            .root_data(root)?
            .build_id
            .clone()
            .unwrap_or_else(|| "unknown".into()))
    }

    /// Always `installed` (libguestfs dropped install-disc detection).
    pub(crate) fn impl_inspect_get_format(&self, root: &str) -> Result<String> {
        self.root_data(root)?;
        Ok("installed".into())
    }

    /// Install media are not recognised: never a live image.
    pub(crate) fn impl_inspect_is_live(&self, root: &str) -> Result<bool> {
        self.root_data(root)?;
        Ok(false)
    }

    pub(crate) fn impl_inspect_is_netinst(&self, root: &str) -> Result<bool> {
        self.root_data(root)?;
        Ok(false)
    }

    pub(crate) fn impl_inspect_is_multipart(&self, root: &str) -> Result<bool> {
        self.root_data(root)?;
        Ok(false)
    }

    /// The distribution's icon as PNG bytes, empty when there is none
    /// (see `inspect/icon.rs`); `favicon` defaults to true, `highquality`
    /// to false, as in libguestfs.
    pub(crate) fn impl_inspect_get_icon(
        &self,
        root: &str,
        opts: crate::InspectGetIconOpts,
    ) -> Result<Vec<u8>> {
        self.root_data(root)?;
        self.inspect_icon(
            root,
            opts.favicon.unwrap_or(true),
            opts.highquality.unwrap_or(false),
        )
    }

    pub(crate) fn impl_inspect_get_windows_systemroot(&self, root: &str) -> Result<String> {
        self.root_data(root)?
            .windows_systemroot
            .clone()
            .ok_or_else(|| {
                Error::invalid("not a Windows guest, or systemroot could not be determined")
            })
    }

    pub(crate) fn impl_inspect_get_windows_current_control_set(
        &self,
        root: &str,
    ) -> Result<String> {
        self.root_data(root)?
            .windows_current_control_set
            .clone()
            .ok_or_else(|| {
                Error::invalid("not a Windows guest, or CurrentControlSet could not be determined")
            })
    }

    pub(crate) fn impl_inspect_get_windows_software_hive(&self, root: &str) -> Result<String> {
        self.root_data(root)?
            .windows_software_hive
            .clone()
            .ok_or_else(|| Error::invalid("not a Windows guest, or software hive not found"))
    }

    pub(crate) fn impl_inspect_get_windows_system_hive(&self, root: &str) -> Result<String> {
        self.root_data(root)?
            .windows_system_hive
            .clone()
            .ok_or_else(|| Error::invalid("not a Windows guest, or system hive not found"))
    }

    /// (drive letter, device) pairs, in registry order.
    pub(crate) fn impl_inspect_get_drive_mappings(
        &self,
        root: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(self.root_data(root)?.drive_mappings.clone())
    }

    /// (mountpoint, device) pairs: the fstab entries whose mountpoint is a
    /// path; just `/` for guests without an fstab (Windows).
    pub(crate) fn impl_inspect_get_mountpoints(&self, root: &str) -> Result<Vec<(String, String)>> {
        let d = self.root_data(root)?;
        if d.fstab.is_empty() {
            return Ok(vec![("/".into(), root.to_string())]);
        }
        Ok(d.fstab
            .iter()
            .filter(|(_, mp)| mp.starts_with('/'))
            .map(|(dev, mp)| (mp.clone(), dev.clone()))
            .collect())
    }

    /// Every device the guest's fstab names (swap included).
    pub(crate) fn impl_inspect_get_filesystems(&self, root: &str) -> Result<Vec<String>> {
        let d = self.root_data(root)?;
        if d.fstab.is_empty() {
            return Ok(vec![root.to_string()]);
        }
        Ok(d.fstab.iter().map(|(dev, _)| dev.clone()).collect())
    }

    /// The libosinfo short id (`debian12`, `win10`, ...) or `unknown`
    /// (libguestfs's lib/inspect-osinfo.c).
    pub(crate) fn impl_inspect_get_osinfo(&self, root: &str) -> Result<String> {
        let d = self.root_data(root)?;
        Ok(osinfo(d).unwrap_or_else(|| "unknown".into()))
    }
}

/// CoreOS keeps its version on a /usr filesystem that no fstab names: merge
/// the newest CoreOS /usr into the one CoreOS root (libguestfs's
/// `collect_coreos_inspection_info`, whose list handling is kept: the root
/// goes first, the CoreOS /usr filesystems are dropped, and the rest come
/// after it in reverse order, which decides the order of `inspect_get_roots`
/// when a disk set holds CoreOS and other systems).
fn collect_coreos(fses: Vec<Fs>) -> Result<Vec<Fs>> {
    let is_coreos = |d: &Data| d.distro == Some("coreos");
    let roots = fses
        .iter()
        .filter(|f| matches!(&f.role, Role::Root(d) if is_coreos(d)))
        .count();
    let has_usr = fses
        .iter()
        .any(|f| matches!(&f.role, Role::Usr(d) if is_coreos(d)));
    if roots == 0 {
        return Ok(fses);
    }
    if roots > 1 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "inspect_os: multiple CoreOS root filesystems found",
        ));
    }
    if !has_usr {
        return Ok(fses);
    }
    let mut root = None;
    let mut usrs = Vec::new();
    let mut others = Vec::new();
    for f in fses {
        match &f.role {
            Role::Root(d) if is_coreos(d) => root = Some(f),
            Role::Usr(d) if is_coreos(d) => usrs.push(f),
            _ => others.push(f),
        }
    }
    let Some(mut root) = root else {
        return Ok(others);
    };
    // Both /usr slots (USR-A, USR-B) may hold a system: the newer version is
    // taken as the active one; on a tie the one found last wins, as
    // libguestfs's stable sort of its reversed list gives.
    usrs.reverse();
    let version = |f: &Fs| match &f.role {
        Role::Usr(d) => d.version.unwrap_or((0, 0)),
        _ => (0, 0),
    };
    usrs.sort_by_key(|f| std::cmp::Reverse(version(f)));
    if let (
        Role::Root(r),
        Some(Fs {
            role: Role::Usr(u), ..
        }),
    ) = (&mut root.role, usrs.first())
    {
        r.merge_from(u);
    }
    others.reverse();
    let mut out = vec![root];
    out.append(&mut others);
    Ok(out)
}

/// Merge a Linux `/usr` filesystem into the root whose fstab names it
/// (CoreOS roots got theirs in [`collect_coreos`]).
fn collect_linux_usr(fses: &mut [Fs]) {
    let usrs: Vec<(String, Data)> = fses
        .iter()
        .filter_map(|f| match &f.role {
            Role::Usr(d) => Some((f.device.clone(), d.clone())),
            _ => None,
        })
        .collect();
    for f in fses.iter_mut() {
        if let Role::Root(root) = &mut f.role {
            if root.distro == Some("coreos") {
                continue;
            }
            if let Some((_, usr)) = usrs
                .iter()
                .find(|(dev, _)| root.fstab.iter().any(|(d, _)| d == dev))
            {
                root.merge_from(usr);
            }
        }
    }
}

fn package_format(distro: Option<&str>) -> Option<&'static str> {
    Some(match distro? {
        "altlinux" | "centos" | "circle" | "fedora" | "kylin" | "mageia" | "mandriva" | "meego"
        | "neokylin" | "opencloudos" | "tencentos" | "openeuler" | "openmandriva" | "opensuse"
        | "oraclelinux" | "redhat-based" | "rhel" | "rocky" | "scientificlinux" | "sles"
        | "suse-based" => "rpm",
        "debian" | "kalilinux" | "linuxmint" | "ubuntu" => "deb",
        "archlinux" => "pacman",
        "gentoo" => "ebuild",
        "pardus" => "pisi",
        "alpinelinux" => "apk",
        "voidlinux" => "xbps",
        _ => return None,
    })
}

fn osinfo(d: &Data) -> Option<String> {
    let os_type = d.os_type?;
    let distro = d.distro.unwrap_or("unknown");
    let (major, minor) = d.version.unwrap_or((0, 0));
    match os_type {
        "linux" => {
            match distro {
                "centos" if major >= 8 => return Some(format!("{distro}{major}")),
                "centos" if major == 7 => return Some(format!("{distro}{major}.0")),
                "centos" if major == 6 => return Some(format!("{distro}{major}.{minor}")),
                "circle" | "rocky" if major >= 8 => return Some(format!("{distro}{major}")),
                "debian" if major >= 4 => return Some(format!("{distro}{major}")),
                "fedora" | "mageia" => return Some(format!("{distro}{major}")),
                "sles" => {
                    let base = if major >= 15 { "sle" } else { "sles" };
                    return Some(if minor == 0 {
                        format!("{base}{major}")
                    } else {
                        format!("{base}{major}sp{minor}")
                    });
                }
                "ubuntu" => return Some(format!("{distro}{major}.{minor:02}")),
                "archlinux" | "gentoo" | "voidlinux" => return Some(distro.to_string()),
                "altlinux" => {
                    return Some(if major >= 8 {
                        format!("alt{major}.{minor}")
                    } else {
                        format!("{distro}{major}.{minor}")
                    });
                }
                _ => {}
            }
            if distro != "unknown" && (major > 0 || minor > 0) {
                return Some(format!("{distro}{major}.{minor}"));
            }
            None
        }
        "freebsd" | "netbsd" | "openbsd" => Some(format!("{distro}{major}.{minor}")),
        "dos" if distro == "msdos" => Some("msdos6.22".into()),
        "windows" => {
            let name = d.product_name.as_deref().unwrap_or("unknown");
            let variant = d.product_variant.as_deref().unwrap_or("unknown");
            let server = variant.contains("Server");
            let id = match (major, minor) {
                (5, 1) => "winxp",
                (5, 2) if name.contains("XP") => "winxp",
                (5, 2) if name.contains("R2") => "win2k3r2",
                (5, 2) => "win2k3",
                (6, 0) if server => "win2k8",
                (6, 0) => "winvista",
                (6, 1) if server => "win2k8r2",
                (6, 1) => "win7",
                (6, 2) if server => "win2k12",
                (6, 2) => "win8",
                (6, 3) if server => "win2k12r2",
                (6, 3) => "win8.1",
                (10, 0) if server => {
                    if name.contains("2025") {
                        "win2k25"
                    } else if name.contains("2022") {
                        "win2k22"
                    } else if name.contains("2019") {
                        "win2k19"
                    } else {
                        "win2k16"
                    }
                }
                (10, 0) => {
                    // Only the build number tells Windows 11 from 10.
                    let build: u32 = d.build_id.as_deref()?.parse().ok()?;
                    if build >= 22000 { "win11" } else { "win10" }
                }
                _ => return None,
            };
            Some(id.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osinfo_ids() {
        let mut d = Data {
            os_type: Some("linux"),
            distro: Some("ubuntu"),
            version: Some((10, 4)),
            ..Default::default()
        };
        assert_eq!(osinfo(&d).as_deref(), Some("ubuntu10.04"));
        d.distro = Some("debian");
        d.version = Some((12, 5));
        assert_eq!(osinfo(&d).as_deref(), Some("debian12"));
        d.distro = Some("alpinelinux");
        d.version = Some((3, 19));
        assert_eq!(osinfo(&d).as_deref(), Some("alpinelinux3.19"));
        d.distro = Some("sles");
        d.version = Some((15, 4));
        assert_eq!(osinfo(&d).as_deref(), Some("sle15sp4"));
        let w = Data {
            os_type: Some("windows"),
            distro: Some("windows"),
            version: Some((10, 0)),
            product_variant: Some("Client".into()),
            build_id: Some("22631".into()),
            ..Default::default()
        };
        assert_eq!(osinfo(&w).as_deref(), Some("win11"));
    }

    #[test]
    fn bound_cuts_on_char_boundary() {
        let s = "é".repeat(MAX_STRING);
        let b = bound(s);
        assert!(b.len() <= MAX_STRING);
        assert!(b.chars().all(|c| c == 'é'));
    }
}

/// The text parsers never panic, whatever a guest file holds (a cheap
/// stand-in for a fuzz target: pseudo-random inputs built from the tokens
/// the parsers look for).
#[cfg(test)]
mod robustness {
    use super::{apps, linux};

    #[test]
    fn parsers_survive_arbitrary_text() {
        const TOKENS: &[&str] = &[
            "Package: ",
            "Version: ",
            "Status: installed",
            "Description: ",
            " ",
            "\n",
            ":",
            "-",
            "%NAME%\n",
            "%VERSION%\n",
            "%ARCH%\n",
            "P:",
            "V:",
            "A:",
            "r",
            "é",
            "\"",
            "'",
            "\\",
            "=",
            "ID=",
            "release ",
            "Update ",
            "9",
            "99999999999",
            ".",
            "#",
            "\0",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut s = String::new();
            for _ in 0..(seed % 40) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                s.push_str(TOKENS[(seed >> 33) as usize % TOKENS.len()]);
            }
            seed = seed.wrapping_add(1);
            let _ = apps::parse_dpkg_status(&s);
            let _ = apps::parse_apk_installed(&s);
            let _ = apps::parse_pacman_desc(&s);
            let _ = linux::shell_unquote(&s);
            let _ = linux::simple_unquote(&s);
            let lines: Vec<String> = s.split('\n').map(str::to_string).collect();
            let _ = linux::key_values(&lines, linux::shell_unquote);
            let mut d = super::Data::default();
            linux::parse_version_from_major_minor(&s, &mut d);
        }
    }
}

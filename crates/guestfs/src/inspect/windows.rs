//! Windows roots: the system root, architecture from cmd.exe, and what the
//! SOFTWARE and SYSTEM hives say (libguestfs's daemon/inspect_fs_windows.ml).

use super::{Data, bound, linux::parse_version_from_major_minor};
use crate::Handle;
use gx_hive::{Hive, Node};

/// Where a system root may be, tried in order (case-insensitively).
const SYSTEMROOT_PATHS: &[&str] = &["/windows", "/winnt", "/win32", "/win", "/reactos"];

/// Largest hive inspection loads into memory. Real SOFTWARE hives reach a
/// few hundred MB; more than this is not a hive we want to trust.
pub(crate) const MAX_HIVE: u64 = 1 << 30;

impl Handle {
    /// The system root of the filesystem mounted on `/`, if it is a Windows root.
    pub(super) fn windows_systemroot_of_mounted(&self) -> Option<String> {
        for p in SYSTEMROOT_PATHS {
            if let Ok(p) = self.case_sensitive_path(p) {
                if self.is_systemroot(&p) {
                    return Some(p);
                }
            }
        }
        let boot_ini = self.case_sensitive_path("/boot.ini").ok()?;
        let lines = self.read_small_lines(&boot_ini)?;
        let start = lines
            .iter()
            .position(|l| l.starts_with("[operating systems]"))?;
        for l in lines[start + 1..]
            .iter()
            .take_while(|l| l.starts_with("multi(") || l.starts_with("scsi("))
        {
            // multi(0)disk(0)rdisk(0)partition(1)\WINDOWS="..."
            let Some(p) = l.find("partition(") else {
                continue;
            };
            let Some(close) = l[p..].find(')') else {
                continue;
            };
            let Some(eq) = l[p + close..].find('=') else {
                continue;
            };
            let path = l[p + close + 1..p + close + eq].replace('\\', "/");
            if !path.is_empty() && self.is_systemroot(&path) {
                return Some(path);
            }
        }
        None
    }

    fn is_systemroot(&self, sr: &str) -> bool {
        self.insp_is_dir_nocase(&format!("{sr}/system32"))
            && self.insp_is_dir_nocase(&format!("{sr}/system32/config"))
            && self.insp_is_file_nocase(&format!("{sr}/system32/cmd.exe"))
    }

    pub(super) fn check_windows_root(&self, systemroot: &str, data: &mut Data) {
        data.os_type = Some("windows");
        data.distro = Some("windows");
        data.windows_systemroot = Some(systemroot.to_string());
        data.arch = self
            .case_sensitive_path(&format!("{systemroot}/system32/cmd.exe"))
            .ok()
            .and_then(|p| self.file_architecture(&p));
        let hive_path = |name: &str| {
            self.case_sensitive_path(&format!("{systemroot}/system32/config/{name}"))
                .ok()
                .filter(|p| self.insp_is_file(p))
        };
        data.windows_software_hive = hive_path("software");
        data.windows_system_hive = hive_path("system");
        let (Some(sw), Some(sys)) = (
            data.windows_software_hive.clone(),
            data.windows_system_hive.clone(),
        ) else {
            return;
        };
        if let Some(h) = self.load_hive(&sw) {
            check_software(&h, data);
        }
        if let Some(h) = self.load_hive(&sys) {
            self.check_system(&h, data);
        }
    }

    /// Read a hive file from the guest; `None` when it cannot be read or parsed.
    pub(crate) fn load_hive(&self, path: &str) -> Option<Hive> {
        let st = self.statns(path).ok()?;
        use crate::StatExt;
        let size = u64::try_from(st.st_size).ok()?;
        if st.file_type() != crate::FileType::Regular || size > MAX_HIVE {
            return None;
        }
        read_hive(self, path, size).ok()
    }

    fn check_system(&self, h: &Hive, data: &mut Data) {
        data.drive_mappings = self.drive_mappings(h);
        let ccs = h
            .root()
            .child("Select")
            .ok()
            .flatten()
            .and_then(|n| n.value("Current").ok().flatten())
            .and_then(|v| v.as_dword().ok())
            .map(|n| format!("ControlSet{n:03}"));
        data.windows_current_control_set.clone_from(&ccs);
        if let Some(ccs) = ccs {
            let node = get_node(h, &[&ccs, "Services", "Tcpip", "Parameters"]);
            data.hostname = node.and_then(|n| value_string_exact(&n, "Hostname"));
        }
    }

    /// Drive letters from `HKLM\SYSTEM\MountedDevices`: MBR volumes as
    /// (disk signature, byte offset), GPT volumes as `DMIO:ID:` + partition GUID.
    fn drive_mappings(&self, h: &Hive) -> Vec<(String, String)> {
        let Some(node) = get_node(h, &["MountedDevices"]) else {
            return Vec::new();
        };
        let Ok(values) = node.values() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in values {
            let key = v.name();
            let kb = key.as_bytes();
            if kb.len() < 14
                || !key.is_char_boundary(12)
                || !key[..12].eq_ignore_ascii_case("\\dosdevices\\")
                || !kb[12].is_ascii_alphabetic()
                || kb[13] != b':'
            {
                continue;
            }
            let letter = (kb[12] as char).to_string();
            if v.value_type() != gx_hive::types::REG_BINARY {
                continue;
            }
            let Ok(blob) = v.data() else { continue };
            let dev = if blob.len() >= 24 && blob.starts_with(b"DMIO:ID:") {
                self.map_blob_gpt(&blob)
            } else if blob.len() == 12 {
                self.map_blob_mbr(&blob)
            } else {
                None
            };
            if let Some(dev) = dev {
                out.push((letter, dev));
            }
        }
        out
    }

    fn map_blob_mbr(&self, blob: &[u8]) -> Option<String> {
        let devices = self.list_devices().ok()?;
        let device = devices.into_iter().find(|d| {
            self.part_get_parttype(d).is_ok_and(|t| t == "msdos")
                && self
                    .pread_device(d, 4, 0x1b8)
                    .is_ok_and(|id| id == blob[..4])
        })?;
        let mut off = [0u8; 8];
        off.copy_from_slice(&blob[4..12]);
        let offset = u64::from_le_bytes(off);
        let part = self
            .part_list(&device)
            .ok()?
            .into_iter()
            .find(|p| p.part_start == offset)?;
        Some(format!("{device}{}", part.part_num))
    }

    fn map_blob_gpt(&self, blob: &[u8]) -> Option<String> {
        let d1 = u32::from_le_bytes([blob[8], blob[9], blob[10], blob[11]]);
        let d2 = u16::from_le_bytes([blob[12], blob[13]]);
        let d3 = u16::from_le_bytes([blob[14], blob[15]]);
        let mut d4 = [0u8; 8];
        d4.copy_from_slice(&blob[16..24]);
        let d4 = u64::from_be_bytes(d4);
        let guid = format!(
            "{d1:08x}-{d2:04x}-{d3:04x}-{:04x}-{:012x}",
            d4 >> 48,
            d4 & 0xffff_ffff_ffff
        );
        for dev in self.list_devices().ok()? {
            if !self.part_get_parttype(&dev).is_ok_and(|t| t == "gpt") {
                continue;
            }
            for p in self.part_list(&dev).ok()? {
                if self
                    .part_get_gpt_guid(&dev, p.part_num)
                    .is_ok_and(|g| g.eq_ignore_ascii_case(&guid))
                {
                    return Some(format!("{dev}{}", p.part_num));
                }
            }
        }
        None
    }
}

/// Product name, version, variant and build from the SOFTWARE hive.
fn check_software(h: &Hive, data: &mut Data) {
    let Some(node) = get_node(h, &["Microsoft", "Windows NT", "CurrentVersion"]) else {
        return;
    };
    if let Some(s) = value_string_exact(&node, "ProductName") {
        data.product_name = Some(s);
    }
    let dword = |name: &str| {
        exact_value(&node, name)
            .and_then(|v| v.as_dword().ok())
            .map(|n| n as i32)
    };
    match (
        dword("CurrentMajorVersionNumber"),
        dword("CurrentMinorVersionNumber"),
    ) {
        (Some(major), Some(minor)) => data.version = Some((major, minor)),
        _ => match value_string_exact(&node, "CurrentVersion") {
            Some(v) => parse_version_from_major_minor(&v, data),
            // libguestfs stops reading this key here.
            None => return,
        },
    }
    if let Some(s) = value_string_exact(&node, "InstallationType") {
        data.product_variant = Some(s);
    }
    if let Some(s) = value_string_exact(&node, "CurrentBuildNumber") {
        data.build_id = Some(s);
    }
}

/// Follow a path of key names (case-insensitive, as hivex does).
pub(crate) fn get_node<'h>(h: &'h Hive, path: &[&str]) -> Option<Node<'h>> {
    let mut n = h.root();
    for p in path {
        n = n.child(p).ok().flatten()?;
    }
    Some(n)
}

/// A value by its exact name (libguestfs matches these names case-sensitively).
fn exact_value<'h>(node: &Node<'h>, name: &str) -> Option<gx_hive::Value<'h>> {
    node.values().ok()?.into_iter().find(|v| v.name() == name)
}

fn value_string_exact(node: &Node<'_>, name: &str) -> Option<String> {
    exact_value(node, name)
        .and_then(|v| v.as_string().ok())
        .map(bound)
}

/// Reads the hive at `path` (`size` bytes) piece by piece through `pread`
/// ([`Hive::read_at`]): only the hive bins that chain up are held in memory,
/// so a hive file that claims more than it holds costs little.
pub fn read_hive(g: &Handle, path: &str, size: u64) -> gx_hive::Result<Hive> {
    Hive::read_at(size, &mut |buf, off| {
        let mut done = 0;
        for chunk in buf.chunks_mut(1 << 20) {
            let at = off + done as u64;
            let count = i32::try_from(chunk.len()).unwrap_or(i32::MAX);
            let at_i = i64::try_from(at).unwrap_or(i64::MAX);
            let data = g
                .pread(path, count, at_i)
                .map_err(|e| std::io::Error::other(format!("{path}: {e}")))?;
            if data.len() != chunk.len() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{path}: short read at offset {at}"),
                ));
            }
            chunk.copy_from_slice(&data);
            done += chunk.len();
        }
        Ok(())
    })
}

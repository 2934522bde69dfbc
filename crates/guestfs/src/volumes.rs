//! LVM and LUKS as the Handle reports them: libguestfs's `lvs`/`vgs`/`pvs`
//! and their `-full` structs (field names and values as libguestfs's
//! `lvm_pv`, `lvm_vg`, `lvm_lv`), `/dev/mapper` names, and unlocked
//! encrypted devices.
//!
//! The on-disk work is [`gx_disk::lvm`] and [`gx_disk::luks`]; this module
//! turns it into libguestfs's shapes. It must not: keep a key after a device
//! is unlocked (only the decrypting device holds the volume key, zeroized on
//! drop), or print anything.

use crate::direct::Direct;
use crate::{Error, ErrorKind, LvmLv, LvmPv, LvmVg, Result};
use gx_disk::Device;
use gx_disk::lvm::{self, Lvm, VolumeGroup};

/// An unlocked encrypted device (`cryptsetup_open`).
pub(crate) struct Mapped {
    /// `/dev/mapper/MAPNAME`.
    pub name: String,
    /// The encrypted device it was opened from.
    #[allow(dead_code)]
    pub source: String,
    /// The decrypted view.
    pub dev: Device,
}

/// Split a device-mapper LV name `VG-LV` (a literal `-` doubled) into its
/// VG and LV names, as libguestfs's key selectors and lvm2's dm names do.
/// `None` unless there is exactly one single hyphen, neither first nor last.
pub fn split_dm_name(s: &str) -> Option<(String, String)> {
    if s.contains('/') {
        return None;
    }
    let b = s.as_bytes();
    let mut sep = None;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            if sep.is_some() || i == 0 || i + 1 == b.len() {
                return None;
            }
            sep = Some(i);
        }
        i += 1;
    }
    let sep = sep?;
    Some((s[..sep].replace("--", "-"), s[sep + 1..].replace("--", "-")))
}

/// The `/dev/mapper` name of an LV: `VG-LV` with each `-` doubled.
pub fn dm_name(vg: &str, lv: &str) -> String {
    format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}

fn join(v: &[String]) -> String {
    v.join(",")
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn vg_attr(vg: &VolumeGroup) -> String {
    let has = |f: &str| vg.status.iter().any(|s| s == f);
    let mut a = String::with_capacity(6);
    a.push(if has("WRITE") { 'w' } else { 'r' });
    a.push(if has("RESIZEABLE") { 'z' } else { '-' });
    a.push(if has("EXPORTED") { 'x' } else { '-' });
    a.push(if vg.pvs.iter().any(|p| p.pv.is_none()) {
        'p'
    } else {
        '-'
    });
    a.push('n');
    a.push(if has("CLUSTERED") { 'c' } else { '-' });
    a
}

/// libguestfs's `pvs`: PV device names, sorted.
pub(crate) fn pvs(l: &Lvm) -> Vec<String> {
    let mut v: Vec<String> = l.pvs.iter().map(|p| p.device.clone()).collect();
    v.sort();
    v
}

/// libguestfs's `vgs`: VG names, sorted.
pub(crate) fn vgs(l: &Lvm) -> Vec<String> {
    let mut v: Vec<String> = l.vgs.iter().map(|g| g.name.clone()).collect();
    v.sort();
    v
}

pub(crate) fn pvs_full(l: &Lvm) -> Vec<LvmPv> {
    let mut out: Vec<LvmPv> = l
        .pvs
        .iter()
        .map(|p| {
            let in_vg = p.vg.and_then(|i| {
                let vg = &l.vgs[i];
                vg.pvs
                    .iter()
                    .find(|v| v.uuid == p.label.uuid)
                    .map(|v| (vg, v))
            });
            let dev_size = p.dev.size();
            match in_vg {
                Some((vg, v)) => {
                    let size = v.pe_count.saturating_mul(vg.extent_size);
                    let used = v.pe_alloc_count.saturating_mul(vg.extent_size);
                    let alloc = v.status.iter().any(|s| s == "ALLOCATABLE");
                    let exported = vg.status.iter().any(|s| s == "EXPORTED");
                    LvmPv {
                        pv_name: p.device.clone(),
                        pv_uuid: p.label.uuid.clone(),
                        pv_fmt: "lvm2".into(),
                        pv_size: size,
                        dev_size,
                        pv_free: size.saturating_sub(used),
                        pv_used: used,
                        pv_attr: format!(
                            "{}{}-",
                            if alloc { 'a' } else { '-' },
                            if exported { 'x' } else { '-' }
                        ),
                        pv_pe_count: i64_of(v.pe_count),
                        pv_pe_alloc_count: i64_of(v.pe_alloc_count),
                        pv_tags: join(&v.tags),
                        pe_start: v.pe_start,
                        pv_mda_count: i64_of(p.mda_count),
                        pv_mda_free: p.mda_free,
                    }
                }
                None => {
                    let pe_start = p.label.data_areas.first().map_or(0, |a| a.offset);
                    let size = p.label.device_size.saturating_sub(pe_start);
                    LvmPv {
                        pv_name: p.device.clone(),
                        pv_uuid: p.label.uuid.clone(),
                        pv_fmt: "lvm2".into(),
                        pv_size: size,
                        dev_size,
                        pv_free: size,
                        pv_used: 0,
                        pv_attr: "---".into(),
                        pv_pe_count: 0,
                        pv_pe_alloc_count: 0,
                        pv_tags: String::new(),
                        pe_start,
                        pv_mda_count: i64_of(p.mda_count),
                        pv_mda_free: p.mda_free,
                    }
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.pv_name.cmp(&b.pv_name));
    out
}

pub(crate) fn vgs_full(l: &Lvm) -> Vec<LvmVg> {
    let mut out: Vec<LvmVg> = l
        .vgs
        .iter()
        .enumerate()
        .map(|(i, vg)| {
            let members = l.pvs.iter().filter(|p| p.vg == Some(i));
            let mda_count: u64 = members.clone().map(|p| p.mda_count).sum();
            let mda_free = members
                .filter(|p| p.mda_count > 0)
                .map(|p| p.mda_free)
                .min()
                .unwrap_or(0);
            let snap_count = vg.lvs.iter().filter(|lv| lv.origin.is_some()).count();
            LvmVg {
                vg_name: vg.name.clone(),
                vg_uuid: lvm::uuid_plain(&vg.uuid),
                vg_fmt: "lvm2".into(),
                vg_attr: vg_attr(vg),
                vg_size: vg.extent_count().saturating_mul(vg.extent_size),
                vg_free: vg.free_count().saturating_mul(vg.extent_size),
                vg_sysid: vg.system_id.clone(),
                vg_extent_size: vg.extent_size,
                vg_extent_count: i64_of(vg.extent_count()),
                vg_free_count: i64_of(vg.free_count()),
                max_lv: i64_of(vg.max_lv),
                max_pv: i64_of(vg.max_pv),
                pv_count: vg.pvs.len() as i64,
                lv_count: vg
                    .lvs
                    .iter()
                    .filter(|lv| lv.status.iter().any(|s| s == "VISIBLE"))
                    .count() as i64,
                snap_count: snap_count as i64,
                vg_seqno: i64_of(vg.seqno),
                vg_tags: join(&vg.tags),
                vg_mda_count: i64_of(mda_count),
                vg_mda_free: mda_free,
            }
        })
        .collect();
    out.sort_by(|a, b| a.vg_name.cmp(&b.vg_name));
    out
}

fn lv_attr(lv: &lvm::LogicalVolume) -> String {
    let first = lv.segtypes.first().map(String::as_str).unwrap_or("");
    let kind = if lv.origin.is_some() {
        's'
    } else {
        match first {
            "thin-pool" => 't',
            "thin" => 'V',
            "mirror" => 'm',
            t if t.starts_with("raid") => 'r',
            "cache" => 'C',
            "vdo" => 'v',
            _ => '-',
        }
    };
    let write = lv.status.iter().any(|s| s == "WRITE");
    let target = match kind {
        't' | 'V' => 't',
        'm' => 'm',
        'r' => 'r',
        's' => 's',
        'C' => 'C',
        'v' => 'v',
        _ => '-',
    };
    // Type, permissions, allocation (inherit), fixed minor, state (active),
    // open, target type, zero, health, skip activation.
    format!("{kind}{}i-a-{target}---", if write { 'w' } else { 'r' })
}

pub(crate) fn lvs_full(l: &Lvm) -> Vec<LvmLv> {
    let mut out: Vec<(String, LvmLv)> = Vec::new();
    let mut minor = 0i64;
    for vg in &l.vgs {
        for lv in vg
            .lvs
            .iter()
            .filter(|lv| lv.status.iter().any(|s| s == "VISIBLE"))
        {
            let attr = lv_attr(lv);
            out.push((
                vg.name.clone(),
                LvmLv {
                    lv_name: lv.name.clone(),
                    lv_uuid: lvm::uuid_plain(&lv.uuid),
                    lv_attr: attr,
                    lv_major: -1,
                    lv_minor: -1,
                    lv_kernel_major: 253,
                    lv_kernel_minor: minor,
                    lv_size: lv.size,
                    seg_count: i64_of(lv.segment_count),
                    origin: lv.origin.clone().unwrap_or_default(),
                    // No snapshot or mirror: libguestfs's -1 (empty).
                    snap_percent: -1.0,
                    copy_percent: -1.0,
                    move_pv: String::new(),
                    lv_tags: join(&lv.tags),
                    mirror_log: String::new(),
                    modules: String::new(),
                },
            ));
            minor += 1;
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1.lv_name).cmp(&(&b.0, &b.1.lv_name)));
    out.into_iter().map(|(_, lv)| lv).collect()
}

/// A key as libguestfs takes it: `base64:...` (binary key data), `text:...`,
/// or an unprefixed passphrase. The result is wiped when dropped.
pub(crate) fn decode_key(key: &str) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    if let Some(b64) = key.strip_prefix("base64:") {
        let v = gx_disk::luks::json::base64_decode(b64)
            .map_err(|_| Error::invalid("could not decode base64-encoded key"))?;
        return Ok(zeroize::Zeroizing::new(v));
    }
    let text = key.strip_prefix("text:").unwrap_or(key);
    Ok(zeroize::Zeroizing::new(text.as_bytes().to_vec()))
}

fn not_found(what: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("{what}: not found"))
}

fn find_vg<'a>(l: &'a Lvm, vgname: &str) -> Result<&'a VolumeGroup> {
    l.vgs
        .iter()
        .find(|v| v.name == vgname)
        .ok_or_else(|| not_found(&format!("volume group {vgname}")))
}

pub(crate) fn lvuuid(d: &Direct, device: &str) -> Result<String> {
    let canon = d
        .lv_canonical(device)
        .ok_or_else(|| not_found(&format!("{device}: logical volume")))?;
    let rest = &canon["/dev/".len()..];
    let (vg, lv) = rest.split_once('/').unwrap_or((rest, ""));
    let vg = find_vg(d.lvm(), vg)?;
    vg.lvs
        .iter()
        .find(|l| l.name == lv)
        .map(|l| l.uuid.clone())
        .ok_or_else(|| not_found(device))
}

pub(crate) fn vguuid(d: &Direct, vgname: &str) -> Result<String> {
    Ok(find_vg(d.lvm(), vgname)?.uuid.clone())
}

pub(crate) fn pvuuid(d: &Direct, device: &str) -> Result<String> {
    let canon = d.canonical(device);
    d.lvm()
        .pvs
        .iter()
        .find(|p| p.device == canon)
        .map(|p| lvm::uuid_dashed(&p.label.uuid))
        .ok_or_else(|| not_found(&format!("{device}: physical volume")))
}

pub(crate) fn vgpvuuids(d: &Direct, vgname: &str) -> Result<Vec<String>> {
    Ok(find_vg(d.lvm(), vgname)?
        .pvs
        .iter()
        .map(|p| lvm::uuid_dashed(&p.uuid))
        .collect())
}

pub(crate) fn vglvuuids(d: &Direct, vgname: &str) -> Result<Vec<String>> {
    Ok(find_vg(d.lvm(), vgname)?
        .lvs
        .iter()
        .map(|l| l.uuid.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_names_split_like_libguestfs() {
        assert_eq!(
            split_dm_name("Volume--Group-Logical--Volume--1"),
            Some(("Volume-Group".into(), "Logical-Volume-1".into()))
        );
        assert_eq!(split_dm_name("VG-Root"), Some(("VG".into(), "Root".into())));
        assert_eq!(split_dm_name("luks"), None);
        assert_eq!(split_dm_name("-lv"), None);
        assert_eq!(split_dm_name("vg-"), None);
        assert_eq!(split_dm_name("a-b-c"), None);
        assert_eq!(split_dm_name("a/b-c"), None);
        assert_eq!(dm_name("Volume-Group", "LV-1"), "Volume--Group-LV--1");
    }
}

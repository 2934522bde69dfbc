//! LVM2: physical volume labels, the text metadata in their metadata areas,
//! and logical volumes as block devices.
//!
//! On disk (lvm2's `lib/label` and `lib/format_text`): one of a PV's first
//! four sectors holds a label (`LABELONE`, the sector number, a CRC, the
//! offset of the `pv_header`, type `LVM2 001`). The `pv_header` gives the PV
//! UUID, the device size, a zero-terminated list of data areas (where
//! extents start) and one of metadata areas. A metadata area starts with an
//! `mda_header` (CRC, magic, version, its own offset and size, then
//! `raw_locn`s); `raw_locns[0]` locates the committed metadata text inside the
//! circular area (it may wrap to just after the header) with its CRC. The
//! text describes the whole VG (see [`config`]); the copy with the highest
//! `seqno` among the VG's PVs wins.
//!
//! Logical volumes are mapped segment by segment: `striped` (linear is one
//! stripe) over PV extents or other LVs, plus the trivial `zero` and `error`.
//! Every other segment type (thin, snapshot, mirror, RAID, cache, VDO,
//! integrity, ...) leaves the LV listed but unreadable here: its reads fail
//! with an `Unsupported` error naming the segment type, so the Handle can
//! move to the appliance.
//!
//! It must not: trust any number from a label, header or text (every size,
//! offset, count and extent range is checked against the device and caps),
//! follow LV references in a loop, or write anything.

pub mod config;

use crate::{BlockDevice, Device, Error, ErrorKind, Result, check_range};
use config::Value;
use std::collections::HashMap;
use std::sync::Arc;

const SECTOR: u64 = 512;
const LABEL_SCAN_SECTORS: u64 = 4;
const MDA_HEADER_SIZE: u64 = 512;
const FMTT_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
const INITIAL_CRC: u32 = 0xf597_a6cf;
const RAW_LOCN_IGNORED: u32 = 1;

/// Largest metadata text read from one area (lvm2's own default area is
/// 1 MiB; real VGs with thousands of LVs stay well below this).
pub const MAX_TEXT: u64 = 32 << 20;
/// Most PVs, LVs, segments per LV and areas per segment accepted in one VG.
pub const MAX_PVS: usize = 1 << 16;
pub const MAX_LVS: usize = 1 << 16;
pub const MAX_SEGMENTS: usize = 1 << 16;
pub const MAX_AREAS: usize = 1 << 12;
/// Deepest chain of LVs built on LVs.
pub const MAX_LV_DEPTH: usize = 16;
/// Most data/metadata area descriptors read from one label.
const MAX_LOCNS: usize = 16;

/// lvm2's CRC: the CRC-32 polynomial, lvm's own initial value, no final inversion.
pub fn lvm_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(!INITIAL_CRC);
    h.update(data);
    !h.finalize()
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// An on-disk (offset, size) pair in bytes; size 0 means "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLocn {
    pub offset: u64,
    pub size: u64,
}

/// A PV label and its `pv_header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLabel {
    /// Sector (0..3) the label was found in.
    pub sector: u64,
    /// The PV UUID as stored: 32 characters, no dashes.
    pub uuid: String,
    pub device_size: u64,
    pub data_areas: Vec<DiskLocn>,
    pub metadata_areas: Vec<DiskLocn>,
}

/// Read the LVM2 label of a device: `None` when there is none. A label
/// whose checksum or layout is wrong is an error (lvm2 ignores such a device).
pub fn read_label(dev: &dyn BlockDevice) -> Result<Option<PvLabel>> {
    let size = dev.size();
    for sector in 0..LABEL_SCAN_SECTORS {
        let at = sector * SECTOR;
        if at + SECTOR > size {
            break;
        }
        let mut buf = [0u8; 512];
        dev.read_at(&mut buf, at)?;
        if &buf[..8] != b"LABELONE" {
            continue;
        }
        let where_ = || format!("{}: LVM2 label in sector {sector}", dev.describe());
        if le64(&buf, 8) != sector {
            return Err(Error::corrupt(format!(
                "{}: says it is in sector {}",
                where_(),
                le64(&buf, 8)
            )));
        }
        if lvm_crc(&buf[20..]) != le32(&buf, 16) {
            return Err(Error::corrupt(format!("{}: checksum mismatch", where_())));
        }
        if &buf[24..32] != b"LVM2 001" {
            return Err(Error::unsupported(format!(
                "{}: label type {:?} is not LVM2 001",
                where_(),
                String::from_utf8_lossy(&buf[24..32])
            )));
        }
        let off = le32(&buf, 20) as usize;
        // pv_header: 32-byte UUID, device size, then the two lists.
        if !(32..=512 - 40).contains(&off) {
            return Err(Error::corrupt(format!(
                "{}: pv_header offset {off} out of range",
                where_()
            )));
        }
        let uuid_raw = &buf[off..off + 32];
        if !uuid_raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(Error::corrupt(format!("{}: PV UUID is not text", where_())));
        }
        let uuid = String::from_utf8_lossy(uuid_raw).into_owned();
        let device_size = le64(&buf, off + 32);
        let mut p = off + 40;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            loop {
                if p + 16 > 512 {
                    return Err(Error::corrupt(format!(
                        "{}: area list runs past the label sector",
                        where_()
                    )));
                }
                let offset = le64(&buf, p);
                let size = le64(&buf, p + 8);
                p += 16;
                if offset == 0 {
                    break;
                }
                if list.len() >= MAX_LOCNS {
                    return Err(Error::corrupt(format!("{}: too many areas", where_())));
                }
                list.push(DiskLocn { offset, size });
            }
        }
        let [data_areas, metadata_areas] = lists;
        return Ok(Some(PvLabel {
            sector,
            uuid,
            device_size,
            data_areas,
            metadata_areas,
        }));
    }
    Ok(None)
}

/// One metadata area's committed text, verified.
#[derive(Debug, Clone)]
pub struct MdaText {
    pub text: Vec<u8>,
    /// Bytes left for metadata in this area, as lvm2 reports `mda_free`.
    pub free: u64,
}

/// What one metadata area holds: `Ok(None)` when it is ignored or holds no
/// metadata yet (a fresh PV); `Err` when its header or text is damaged.
pub fn read_mda(dev: &dyn BlockDevice, mda: DiskLocn) -> Result<(Option<MdaText>, u64)> {
    let where_ = || format!("{}: metadata area at {}", dev.describe(), mda.offset);
    let mut h = [0u8; MDA_HEADER_SIZE as usize];
    check_range(dev, mda.offset, h.len()).map_err(|e| e.context(where_()))?;
    dev.read_at(&mut h, mda.offset)?;
    if lvm_crc(&h[4..]) != le32(&h, 0) {
        return Err(Error::corrupt(format!(
            "{}: header checksum mismatch",
            where_()
        )));
    }
    if &h[4..20] != FMTT_MAGIC {
        return Err(Error::corrupt(format!("{}: bad magic", where_())));
    }
    if le32(&h, 20) != 1 {
        return Err(Error::unsupported(format!(
            "{}: metadata format version {}",
            where_(),
            le32(&h, 20)
        )));
    }
    let start = le64(&h, 24);
    let size = le64(&h, 32);
    if start != mda.offset || size < MDA_HEADER_SIZE || start.checked_add(size).is_none() {
        return Err(Error::corrupt(format!(
            "{}: header says start {start} size {size}",
            where_()
        )));
    }
    let max_size = ((size - MDA_HEADER_SIZE) / 2).saturating_sub(512);
    let mut free = (max_size >> 9) << 9;
    // raw_locns[0]: the committed copy.
    let offset = le64(&h, 40);
    let len = le64(&h, 48);
    let checksum = le32(&h, 56);
    let flags = le32(&h, 60);
    if offset == 0 || flags & RAW_LOCN_IGNORED != 0 {
        return Ok((None, free));
    }
    if offset >= size || len > size - MDA_HEADER_SIZE || offset < MDA_HEADER_SIZE {
        return Err(Error::corrupt(format!(
            "{}: metadata location (offset {offset}, size {len}) outside the area of {size} bytes",
            where_()
        )));
    }
    if len > MAX_TEXT {
        return Err(Error::unsupported(format!(
            "{}: metadata text of {len} bytes is larger than the {MAX_TEXT}-byte limit",
            where_()
        )));
    }
    // The text is circular: what passes the end continues after the header.
    let first = len.min(size - offset);
    let wrap = len - first;
    let first_at = start + offset;
    check_range(dev, first_at, first as usize).map_err(|e| e.context(where_()))?;
    check_range(dev, start + MDA_HEADER_SIZE, wrap as usize).map_err(|e| e.context(where_()))?;
    let mut text = vec![0u8; len as usize];
    dev.read_at(&mut text[..first as usize], first_at)?;
    dev.read_at(&mut text[first as usize..], start + MDA_HEADER_SIZE)?;
    if lvm_crc(&text) != checksum {
        return Err(Error::corrupt(format!(
            "{}: metadata text checksum mismatch",
            where_()
        )));
    }
    free = if len >= max_size {
        0
    } else {
        ((max_size - len) >> 9) << 9
    };
    Ok((Some(MdaText { text, free }), free))
}

/// A PV found on a device.
#[derive(Clone)]
pub struct PhysicalVolume {
    /// The device's name (`/dev/sda2`).
    pub device: String,
    pub dev: Device,
    pub label: PvLabel,
    /// Index into [`Lvm::vgs`], for PVs that belong to a VG.
    pub vg: Option<usize>,
    /// Metadata areas in use, and the least free space among them.
    pub mda_count: u64,
    pub mda_free: u64,
}

/// A PV as its VG's metadata describes it.
#[derive(Debug, Clone)]
pub struct VgPv {
    /// The metadata's name for it (`pv0`).
    pub key: String,
    /// UUID without dashes.
    pub uuid: String,
    /// Index into [`Lvm::pvs`]; `None` when the PV is missing.
    pub pv: Option<usize>,
    pub pe_start: u64,
    pub pe_count: u64,
    pub dev_size: u64,
    pub status: Vec<String>,
    pub tags: Vec<String>,
    /// Extents used by segments.
    pub pe_alloc_count: u64,
}

/// A logical volume.
#[derive(Clone)]
pub struct LogicalVolume {
    pub name: String,
    /// UUID as lvm2 prints it (with dashes).
    pub uuid: String,
    pub status: Vec<String>,
    pub flags: Vec<String>,
    pub tags: Vec<String>,
    /// Listed by libguestfs's `lvs` (visible, not a pool, activation not skipped).
    pub public: bool,
    pub segment_count: u64,
    /// Segment types in order (`striped`, `thin`, ...).
    pub segtypes: Vec<String>,
    pub size: u64,
    /// Reads go to the PVs; an unsupported or damaged LV's reads fail.
    pub device: Arc<LvDevice>,
    /// Snapshot origin name, for snapshot LVs.
    pub origin: Option<String>,
}

/// A volume group.
#[derive(Clone)]
pub struct VolumeGroup {
    pub name: String,
    /// UUID as lvm2 prints it (with dashes).
    pub uuid: String,
    pub seqno: u64,
    pub status: Vec<String>,
    pub flags: Vec<String>,
    pub tags: Vec<String>,
    pub extent_size: u64,
    pub max_lv: u64,
    pub max_pv: u64,
    pub system_id: String,
    pub pvs: Vec<VgPv>,
    pub lvs: Vec<LogicalVolume>,
}

impl VolumeGroup {
    /// Total and free extents.
    pub fn extent_count(&self) -> u64 {
        self.pvs.iter().map(|p| p.pe_count).sum()
    }

    pub fn free_count(&self) -> u64 {
        self.pvs
            .iter()
            .map(|p| p.pe_count.saturating_sub(p.pe_alloc_count))
            .sum()
    }
}

/// Everything LVM found on a set of devices.
#[derive(Clone, Default)]
pub struct Lvm {
    pub pvs: Vec<PhysicalVolume>,
    pub vgs: Vec<VolumeGroup>,
    /// Damaged labels or metadata copies that were passed over, for `-v`.
    pub warnings: Vec<String>,
}

/// Strip the dashes from an lvm2 UUID.
pub fn uuid_plain(s: &str) -> String {
    s.chars().filter(|c| *c != '-').collect()
}

/// An lvm2 ID: 32 characters of lvm2's alphabet once dashes are removed
/// (lvm2 refuses the whole VG when one is not).
pub fn valid_id(s: &str) -> bool {
    let p = uuid_plain(s);
    p.len() == 32
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'!' || b == b'#')
}

/// lvm2's printed form of a 32-character UUID: 6-4-4-4-4-4-6.
pub fn uuid_dashed(s: &str) -> String {
    if s.len() != 32 || !s.is_ascii() {
        return s.to_string();
    }
    let cuts = [6, 4, 4, 4, 4, 4, 6];
    let mut out = String::new();
    let mut at = 0;
    for (i, n) in cuts.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&s[at..at + n]);
        at += n;
    }
    out
}

/// Scan `devices` (name, device) for PVs and assemble their VGs.
///
/// Devices without a label are skipped; a damaged label or metadata copy
/// is skipped with a warning (as lvm2 does). Errors only when a device read
/// fails.
pub fn scan(devices: &[(String, Device)]) -> Result<Lvm> {
    let mut lvm = Lvm::default();
    // Metadata copies by VG UUID: (seqno, text, parsed root).
    let mut copies: HashMap<String, (u64, Value)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (name, dev) in devices {
        let label = match read_label(dev.as_ref()) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(e) if e.kind() == ErrorKind::Io => return Err(e.context(name)),
            Err(e) => {
                lvm.warnings.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut mda_count = 0;
        let mut mda_free = u64::MAX;
        for &mda in &label.metadata_areas {
            let (text, free) = match read_mda(dev.as_ref(), mda) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::Io => return Err(e.context(name)),
                Err(e) => {
                    lvm.warnings.push(format!("{name}: {e}"));
                    continue;
                }
            };
            mda_count += 1;
            mda_free = mda_free.min(free);
            let Some(text) = text else { continue };
            match config::parse(&text.text).and_then(|root| vg_identity(&root).map(|id| (id, root)))
            {
                Ok(((uuid, seqno), root)) => match copies.get(&uuid) {
                    Some((s, _)) if *s >= seqno => {}
                    _ => {
                        if !copies.contains_key(&uuid) {
                            order.push(uuid.clone());
                        }
                        copies.insert(uuid, (seqno, root));
                    }
                },
                Err(e) => lvm.warnings.push(format!("{name}: {e}")),
            }
        }
        if lvm.pvs.len() >= MAX_PVS {
            return Err(Error::unsupported(format!("more than {MAX_PVS} LVM PVs")));
        }
        lvm.pvs.push(PhysicalVolume {
            device: name.clone(),
            dev: dev.clone(),
            label,
            vg: None,
            mda_count,
            mda_free: if mda_count == 0 { 0 } else { mda_free },
        });
    }
    for uuid in order {
        let Some((_, root)) = copies.remove(&uuid) else {
            continue;
        };
        match build_vg(&root, &mut lvm) {
            Ok(vg) => {
                if lvm.vgs.iter().any(|v| v.name == vg.name) {
                    lvm.warnings.push(format!(
                        "two volume groups are named {}: only the first is used",
                        vg.name
                    ));
                    continue;
                }
                let index = lvm.vgs.len();
                for p in &vg.pvs {
                    if let Some(i) = p.pv {
                        lvm.pvs[i].vg = Some(index);
                    }
                }
                lvm.vgs.push(vg);
            }
            Err(e) => lvm.warnings.push(e.to_string()),
        }
    }
    Ok(lvm)
}

/// The VG section of a metadata text: the top-level section with an `id`.
fn vg_section(root: &Value) -> Result<(&str, &Value)> {
    root.entries()
        .iter()
        .find(|(_, v)| matches!(v, Value::Section(_)) && v.get("id").is_some())
        .map(|(k, v)| (k.as_str(), v))
        .ok_or_else(|| Error::corrupt("LVM metadata text has no volume group section"))
}

fn vg_identity(root: &Value) -> Result<(String, u64)> {
    let (name, vg) = vg_section(root)?;
    let id = vg
        .get_str("id")
        .ok_or_else(|| Error::corrupt(format!("LVM VG {name}: no id")))?;
    let seqno = vg
        .get_u64("seqno")
        .ok_or_else(|| Error::corrupt(format!("LVM VG {name}: no seqno")))?;
    Ok((uuid_plain(id), seqno))
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get_str_list(key)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// One segment as the text gives it.
struct SegText {
    start: u64,
    count: u64,
    segtype: String,
    stripe_size: u64,
    /// (PV or LV name, start extent) pairs.
    areas: Vec<(String, u64)>,
    cow_store: Option<String>,
    origin: Option<String>,
}

fn build_vg(root: &Value, lvm: &mut Lvm) -> Result<VolumeGroup> {
    let (name, vg) = vg_section(root)?;
    let ctx = |what: &str| Error::corrupt(format!("LVM VG {name}: {what}"));
    if name.is_empty() || name.len() > 127 || name.contains('/') {
        return Err(ctx("bad volume group name"));
    }
    let uuid = vg.get_str("id").unwrap_or_default().to_string();
    if !valid_id(&uuid) {
        return Err(ctx(&format!("bad id {uuid:?}")));
    }
    let seqno = vg.get_u64("seqno").unwrap_or(0);
    let extent_sectors = vg
        .get_u64("extent_size")
        .filter(|&e| e > 0)
        .ok_or_else(|| ctx("missing or zero extent_size"))?;
    let extent_size = extent_sectors
        .checked_mul(SECTOR)
        .ok_or_else(|| ctx("extent_size overflows"))?;
    let mut pvs = Vec::new();
    if let Some(section) = vg.get("physical_volumes") {
        for (key, pv) in section.entries() {
            if pvs.len() >= MAX_PVS {
                return Err(ctx(&format!("more than {MAX_PVS} PVs")));
            }
            let id = pv
                .get_str("id")
                .filter(|id| valid_id(id))
                .ok_or_else(|| ctx(&format!("PV {key} has no valid id")))?;
            let plain = uuid_plain(id);
            let pe_start = pv
                .get_u64("pe_start")
                .and_then(|s| s.checked_mul(SECTOR))
                .ok_or_else(|| ctx(&format!("PV {key}: bad pe_start")))?;
            let pe_count = pv
                .get_u64("pe_count")
                .ok_or_else(|| ctx(&format!("PV {key}: bad pe_count")))?;
            let found = lvm.pvs.iter().position(|p| p.label.uuid == plain);
            pvs.push(VgPv {
                key: key.clone(),
                uuid: plain,
                pv: found,
                pe_start,
                pe_count,
                dev_size: pv.get_u64("dev_size").unwrap_or(0).saturating_mul(SECTOR),
                status: strings(pv, "status"),
                tags: strings(pv, "tags"),
                pe_alloc_count: 0,
            });
        }
    }
    // Parse every LV's segments first: LVs may be built on each other.
    let mut texts: Vec<(String, &Value, Vec<SegText>)> = Vec::new();
    if let Some(section) = vg.get("logical_volumes") {
        for (lvname, lv) in section.entries() {
            if texts.len() >= MAX_LVS {
                return Err(ctx(&format!("more than {MAX_LVS} LVs")));
            }
            if !lv.get_str("id").is_some_and(valid_id) {
                return Err(ctx(&format!("LV {lvname} has no valid id")));
            }
            let mut segs = Vec::new();
            for (key, seg) in lv.entries() {
                if !matches!(seg, Value::Section(_)) || !key.starts_with("segment") {
                    continue;
                }
                if segs.len() >= MAX_SEGMENTS {
                    return Err(ctx(&format!(
                        "LV {lvname}: more than {MAX_SEGMENTS} segments"
                    )));
                }
                segs.push(segment_text(seg).map_err(|e| ctx(&format!("LV {lvname} {key}: {e}")))?);
            }
            texts.push((lvname.clone(), lv, segs));
        }
    }
    // Count allocated extents on each PV.
    for (_, _, segs) in &texts {
        for s in segs {
            if s.segtype != "striped" || s.areas.is_empty() {
                continue;
            }
            let per = s.count / s.areas.len() as u64;
            for (area, _) in &s.areas {
                if let Some(p) = pvs.iter_mut().find(|p| &p.key == area) {
                    p.pe_alloc_count = p.pe_alloc_count.saturating_add(per);
                }
            }
        }
    }
    let mut cow_stores: HashMap<String, String> = HashMap::new();
    for (_, _, segs) in &texts {
        for s in segs {
            if let (Some(c), Some(o)) = (&s.cow_store, &s.origin) {
                cow_stores.insert(c.clone(), o.clone());
            }
        }
    }
    let mut b = Builder {
        vg: name,
        extent_size,
        pvs: &pvs,
        lvm,
        texts: &texts,
        built: vec![None; texts.len()],
        visiting: vec![false; texts.len()],
        cow_stores: &cow_stores,
    };
    for i in 0..texts.len() {
        b.build(i, 0);
    }
    let built = std::mem::take(&mut b.built);
    let mut lvs = Vec::new();
    for ((lvname, lv, segs), dev) in texts.iter().zip(built) {
        let Some(device) = dev else { continue };
        let status = strings(lv, "status");
        let flags = strings(lv, "flags");
        let segtypes: Vec<String> = segs.iter().map(|s| s.segtype.clone()).collect();
        let pool = segtypes
            .iter()
            .any(|t| matches!(t.as_str(), "thin-pool" | "cache-pool" | "vdo-pool"));
        let skip = status.iter().chain(&flags).any(|s| s == "ACTIVATION_SKIP");
        let public = status.iter().any(|s| s == "VISIBLE") && !pool && !skip;
        lvs.push(LogicalVolume {
            name: lvname.clone(),
            uuid: lv.get_str("id").unwrap_or_default().to_string(),
            status,
            flags,
            tags: strings(lv, "tags"),
            public,
            segment_count: segs.len() as u64,
            segtypes,
            size: device.size(),
            device,
            origin: cow_stores.get(lvname).cloned(),
        });
    }
    Ok(VolumeGroup {
        name: name.to_string(),
        uuid,
        seqno,
        status: strings(vg, "status"),
        flags: strings(vg, "flags"),
        tags: strings(vg, "tags"),
        extent_size,
        max_lv: vg.get_u64("max_lv").unwrap_or(0),
        max_pv: vg.get_u64("max_pv").unwrap_or(0),
        system_id: vg.get_str("system_id").unwrap_or_default().to_string(),
        pvs,
        lvs,
    })
}

fn segment_text(seg: &Value) -> Result<SegText> {
    let start = seg
        .get_u64("start_extent")
        .ok_or_else(|| Error::corrupt("no start_extent"))?;
    let count = seg
        .get_u64("extent_count")
        .filter(|&c| c > 0)
        .ok_or_else(|| Error::corrupt("missing or zero extent_count"))?;
    let segtype = seg
        .get_str("type")
        .ok_or_else(|| Error::corrupt("no type"))?
        .to_string();
    let mut areas = Vec::new();
    let mut stripe_size = 0;
    if segtype == "striped" {
        let n = seg
            .get_u64("stripe_count")
            .filter(|&n| n > 0 && n as usize <= MAX_AREAS)
            .ok_or_else(|| Error::corrupt("bad stripe_count"))? as usize;
        if n > 1 {
            stripe_size = seg
                .get_u64("stripe_size")
                .filter(|&s| s > 0)
                .ok_or_else(|| Error::corrupt("missing or zero stripe_size"))?;
        }
        let list = seg
            .get("stripes")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::corrupt("no stripes list"))?;
        if list.len() != 2 * n {
            return Err(Error::corrupt(format!(
                "stripes list has {} entries for {n} stripes",
                list.len()
            )));
        }
        for pair in list.chunks(2) {
            let (Some(name), Some(at)) = (pair[0].as_str(), pair[1].as_int()) else {
                return Err(Error::corrupt("stripes entry is not (name, extent)"));
            };
            let at = u64::try_from(at).map_err(|_| Error::corrupt("negative area extent"))?;
            areas.push((name.to_string(), at));
        }
        if count % n as u64 != 0 {
            return Err(Error::corrupt(format!(
                "extent_count {count} is not a multiple of stripe_count {n}"
            )));
        }
    }
    Ok(SegText {
        start,
        count,
        segtype,
        stripe_size,
        areas,
        cow_store: seg.get_str("cow_store").map(str::to_string),
        origin: seg.get_str("origin").map(str::to_string),
    })
}

struct Builder<'a> {
    vg: &'a str,
    extent_size: u64,
    pvs: &'a [VgPv],
    lvm: &'a Lvm,
    texts: &'a [(String, &'a Value, Vec<SegText>)],
    built: Vec<Option<Arc<LvDevice>>>,
    visiting: Vec<bool>,
    cow_stores: &'a HashMap<String, String>,
}

impl Builder<'_> {
    /// The device of LV `i`, building what it stands on first. Problems
    /// make a device whose reads fail, never a failed scan.
    fn build(&mut self, i: usize, depth: usize) -> Arc<LvDevice> {
        if let Some(d) = &self.built[i] {
            return d.clone();
        }
        let (name, _, segs) = &self.texts[i];
        let full = format!("{}/{}", self.vg, name);
        let total: Option<u64> = segs
            .iter()
            .try_fold(0u64, |a, s| a.checked_add(s.count))
            .and_then(|e| e.checked_mul(self.extent_size));
        let size = total.unwrap_or(0);
        let broken = |kind: ErrorKind, why: String| {
            Arc::new(LvDevice {
                name: full.clone(),
                size,
                segs: Vec::new(),
                broken: Some((kind, why)),
            })
        };
        let dev = if self.visiting[i] || depth > MAX_LV_DEPTH {
            broken(
                ErrorKind::Corrupt,
                "its segments refer to LVs in a loop (or too deep a stack of LVs)".into(),
            )
        } else if total.is_none() {
            broken(ErrorKind::Corrupt, "size overflows".into())
        } else {
            self.visiting[i] = true;
            let r = self.map(name, segs, depth);
            self.visiting[i] = false;
            match r {
                Ok(segs) => Arc::new(LvDevice {
                    name: full.clone(),
                    size,
                    segs,
                    broken: None,
                }),
                Err(e) => broken(e.kind(), e.message().to_string()),
            }
        };
        self.built[i] = Some(dev.clone());
        dev
    }

    fn map(&mut self, name: &str, segs: &[SegText], depth: usize) -> Result<Vec<Seg>> {
        if let Some(origin) = self.cow_stores.get(name) {
            return Err(Error::unsupported(format!(
                "segment type snapshot (a snapshot of {origin})"
            )));
        }
        let mut sorted: Vec<&SegText> = segs.iter().collect();
        sorted.sort_by_key(|s| s.start);
        let mut out = Vec::with_capacity(sorted.len());
        let mut next = 0u64;
        for s in sorted {
            if s.start != next {
                return Err(Error::corrupt(format!(
                    "segments overlap or leave a gap at extent {next} (next starts at {})",
                    s.start
                )));
            }
            next = s
                .start
                .checked_add(s.count)
                .ok_or_else(|| Error::corrupt("extent count overflows"))?;
            let start = s.start * self.extent_size;
            let len = s.count * self.extent_size;
            let target = match s.segtype.as_str() {
                "striped" => self.striped(s, depth)?,
                "zero" => Target::Zero,
                "error" => Target::Error,
                other => {
                    return Err(Error::unsupported(format!("segment type {other}")));
                }
            };
            out.push(Seg { start, len, target });
        }
        Ok(out)
    }

    fn striped(&mut self, s: &SegText, depth: usize) -> Result<Target> {
        let n = s.areas.len() as u64;
        let area_extents = s.count / n;
        let area_len = area_extents * self.extent_size;
        let stripe = if n > 1 {
            let b = s
                .stripe_size
                .checked_mul(SECTOR)
                .ok_or_else(|| Error::corrupt("stripe_size overflows"))?;
            if area_len % b != 0 {
                return Err(Error::unsupported(format!(
                    "a stripe of {area_len} bytes that is not a multiple of the {b}-byte stripe size"
                )));
            }
            b
        } else {
            0
        };
        let mut areas = Vec::with_capacity(s.areas.len());
        for (name, at) in &s.areas {
            let end_ext = at
                .checked_add(area_extents)
                .ok_or_else(|| Error::corrupt("area extent overflows"))?;
            if let Some(p) = self.pvs.iter().find(|p| &p.key == name) {
                if end_ext > p.pe_count {
                    return Err(Error::corrupt(format!(
                        "extents {at}..{end_ext} past the end of {name} ({} extents)",
                        p.pe_count
                    )));
                }
                let Some(index) = p.pv else {
                    return Err(Error::not_found(format!(
                        "physical volume {name} (UUID {}) is missing",
                        uuid_dashed(&p.uuid)
                    )));
                };
                let dev = self.lvm.pvs[index].dev.clone();
                let base = p
                    .pe_start
                    .checked_add(at * self.extent_size)
                    .ok_or_else(|| Error::corrupt("area offset overflows"))?;
                match base.checked_add(area_len) {
                    Some(end) if end <= dev.size() => {}
                    _ => {
                        return Err(Error::corrupt(format!(
                            "extents {at}..{end_ext} of {name} lie past the end of {} ({} bytes)",
                            self.lvm.pvs[index].device,
                            dev.size()
                        )));
                    }
                }
                areas.push((dev, base));
            } else if let Some(j) = self.texts.iter().position(|(n, _, _)| n == name) {
                let sub = self.build(j, depth + 1);
                let base = at * self.extent_size;
                if base.checked_add(area_len).is_none_or(|e| e > sub.size()) {
                    return Err(Error::corrupt(format!("area past the end of LV {name}")));
                }
                areas.push((sub as Device, base));
            } else {
                return Err(Error::corrupt(format!(
                    "segment refers to {name}, which is neither a PV nor an LV of the VG"
                )));
            }
        }
        Ok(Target::Striped {
            stripe,
            area_len,
            areas,
        })
    }
}

enum Target {
    /// `stripe` 0 for one area (linear).
    Striped {
        stripe: u64,
        area_len: u64,
        areas: Vec<(Device, u64)>,
    },
    Zero,
    Error,
}

struct Seg {
    start: u64,
    len: u64,
    target: Target,
}

/// A logical volume as a block device.
pub struct LvDevice {
    name: String,
    size: u64,
    segs: Vec<Seg>,
    broken: Option<(ErrorKind, String)>,
}

impl LvDevice {
    /// Why reads fail, when they do (an unsupported segment type, a missing PV, ...).
    pub fn unreadable(&self) -> Option<Error> {
        self.broken.as_ref().map(|(k, why)| {
            let hint = if *k == ErrorKind::Unsupported {
                " is not supported by the direct engine"
            } else {
                ""
            };
            Error::new(*k, format!("LVM logical volume {}: {why}{hint}", self.name))
        })
    }
}

impl BlockDevice for LvDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        if let Some(e) = self.unreadable() {
            return Err(e);
        }
        check_range(self, offset, buf.len())?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let i = self.segs.partition_point(|s| s.start + s.len <= pos);
            let Some(seg) = self.segs.get(i) else {
                return Err(Error::corrupt(format!(
                    "{}: no segment at {pos}",
                    self.name
                )));
            };
            let rel = pos - seg.start;
            let avail = (seg.len - rel).min((buf.len() - done) as u64);
            let n = match &seg.target {
                Target::Zero => {
                    buf[done..done + avail as usize].fill(0);
                    avail
                }
                Target::Error => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("{}: read of an error segment at {pos}", self.name),
                    ));
                }
                Target::Striped {
                    stripe,
                    area_len,
                    areas,
                } => {
                    let (area, within, n) = if *stripe == 0 {
                        (0, rel, avail.min(*area_len - rel))
                    } else {
                        let chunk = rel / stripe;
                        let in_chunk = rel % stripe;
                        let k = areas.len() as u64;
                        let row = chunk / k;
                        (
                            (chunk % k) as usize,
                            row * stripe + in_chunk,
                            avail.min(stripe - in_chunk),
                        )
                    };
                    let (dev, base) = &areas[area];
                    dev.read_at(&mut buf[done..done + n as usize], base + within)?;
                    n
                }
            };
            done += n as usize;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("/dev/{}", self.name)
    }
}

#[cfg(test)]
mod tests;

#![allow(clippy::unwrap_used)]

use super::*;
use crate::MemDevice;

/// lvm2's CRC of "123456789", computed by a bit-at-a-time Python model of
/// lvm2's `calc_crc` (polynomial 0xedb88320, initial 0xf597a6cf, no final xor).
#[test]
fn crc_matches_lvm2() {
    assert_eq!(lvm_crc(b"123456789"), 0x4991_cf02);
    assert_eq!(lvm_crc(b""), INITIAL_CRC);
}

const MDA_AT: u64 = 4096;
const MDA_SIZE: u64 = 1024 * 1024 - 4096;
const PE_START: u64 = 1024 * 1024;

/// A PV of `size` bytes with one metadata area holding `text` at `text_at`
/// (relative to the area; the text wraps when it passes the area's end).
fn pv(size: usize, uuid: &str, text: &str, text_at: u64) -> Vec<u8> {
    let mut d = vec![0u8; size];
    let l = 512;
    d[l..l + 8].copy_from_slice(b"LABELONE");
    d[l + 8..l + 16].copy_from_slice(&1u64.to_le_bytes());
    d[l + 20..l + 24].copy_from_slice(&32u32.to_le_bytes());
    d[l + 24..l + 32].copy_from_slice(b"LVM2 001");
    let h = l + 32;
    d[h..h + 32].copy_from_slice(uuid.as_bytes());
    d[h + 32..h + 40].copy_from_slice(&(size as u64).to_le_bytes());
    d[h + 40..h + 48].copy_from_slice(&PE_START.to_le_bytes());
    // data list terminator at h+56..h+72, then the mda list.
    d[h + 72..h + 80].copy_from_slice(&MDA_AT.to_le_bytes());
    d[h + 80..h + 88].copy_from_slice(&MDA_SIZE.to_le_bytes());
    let crc = lvm_crc(&d[l + 20..l + 512]);
    d[l + 16..l + 20].copy_from_slice(&crc.to_le_bytes());
    let mut t = text.as_bytes().to_vec();
    t.push(0);
    let m = MDA_AT as usize;
    d[m + 4..m + 20].copy_from_slice(FMTT_MAGIC);
    d[m + 20..m + 24].copy_from_slice(&1u32.to_le_bytes());
    d[m + 24..m + 32].copy_from_slice(&MDA_AT.to_le_bytes());
    d[m + 32..m + 40].copy_from_slice(&MDA_SIZE.to_le_bytes());
    d[m + 40..m + 48].copy_from_slice(&text_at.to_le_bytes());
    d[m + 48..m + 56].copy_from_slice(&(t.len() as u64).to_le_bytes());
    d[m + 56..m + 60].copy_from_slice(&lvm_crc(&t).to_le_bytes());
    for (i, b) in t.iter().enumerate() {
        let mut off = text_at + i as u64;
        if off >= MDA_SIZE {
            off = off - MDA_SIZE + MDA_HEADER_SIZE;
        }
        d[m + off as usize] = *b;
    }
    let crc = lvm_crc(&d[m + 4..m + 512]);
    d[m..m + 4].copy_from_slice(&crc.to_le_bytes());
    d
}

const U1: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1";
const U2: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2";

fn vg_text(seqno: u64, pvs: &[(&str, u64)], lvs: &str) -> String {
    let mut s = format!(
        "vg0 {{\nid = \"VGVGVG-VGVG-VGVG-VGVG-VGVG-VGVG-VGVGVG\"\nseqno = {seqno}\n\
         status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nextent_size = 8\nmax_lv = 0\nmax_pv = 0\n\
         physical_volumes {{\n"
    );
    for (i, (u, count)) in pvs.iter().enumerate() {
        s += &format!(
            "pv{i} {{\nid = \"{}\"\ndevice = \"/dev/x\"\nstatus = [\"ALLOCATABLE\"]\n\
             dev_size = 99999\npe_start = 2048\npe_count = {count}\n}}\n",
            uuid_dashed(u)
        );
    }
    s += "}\nlogical_volumes {\n";
    s += lvs;
    s += "}\n}\ncontents = \"Text Format Volume Group\"\nversion = 1\n";
    s
}

fn lv(name: &str, segs: &str) -> String {
    let id: String = format!("LVLVLVLVLVLVLVLVLVLVLVLVLVLVLVLV{name}")
        .chars()
        .rev()
        .take(32)
        .collect();
    format!(
        "{name} {{\nid = \"{id}\"\n\
         status = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 1\n{segs}}}\n"
    )
}

fn linear(seg: u32, start: u64, count: u64, pv: &str, at: u64) -> String {
    format!(
        "segment{seg} {{\nstart_extent = {start}\nextent_count = {count}\ntype = \"striped\"\n\
         stripe_count = 1\nstripes = [\"{pv}\", {at}]\n}}\n"
    )
}

fn mem(d: Vec<u8>, name: &str) -> (String, Device) {
    (
        name.to_string(),
        Arc::new(MemDevice::new(d, false, name)) as Device,
    )
}

/// Fill the extent area of a PV image with a pattern: byte i of extent e is
/// (tag + e) as u8 at every position, so reads show where they came from.
fn fill(d: &mut [u8], tag: u8) {
    let ext = 8 * 512;
    for (i, b) in d[PE_START as usize..].iter_mut().enumerate() {
        *b = tag.wrapping_add((i / ext) as u8);
    }
}

#[test]
fn linear_lv_over_two_pvs_and_segments() {
    // lv0: extents 0..2 on pv0 extents 3..5, extents 2..4 on pv1 extents 0..2.
    let lvs = lv(
        "lv0",
        &(linear(1, 0, 2, "pv0", 3) + &linear(2, 2, 2, "pv1", 0)),
    );
    let text = vg_text(7, &[(U1, 10), (U2, 10)], &lvs);
    let size = PE_START as usize + 10 * 4096;
    let mut a = pv(size, U1, &text, 512);
    let mut b = pv(size, U2, &text, 512);
    fill(&mut a, 0x10);
    fill(&mut b, 0x80);
    let lvm = scan(&[mem(a, "/dev/sda2"), mem(b, "/dev/sdb")]).unwrap();
    assert!(lvm.warnings.is_empty(), "{:?}", lvm.warnings);
    assert_eq!(lvm.vgs.len(), 1);
    let vg = &lvm.vgs[0];
    assert_eq!(vg.name, "vg0");
    assert_eq!(vg.seqno, 7);
    assert_eq!(vg.extent_size, 4096);
    assert_eq!(vg.extent_count(), 20);
    assert_eq!(vg.free_count(), 16);
    assert_eq!(lvm.pvs[1].vg, Some(0));
    let lv = &vg.lvs[0];
    assert!(lv.public);
    assert_eq!(lv.size, 4 * 4096);
    let mut buf = vec![0u8; 4 * 4096];
    lv.device.read_at(&mut buf, 0).unwrap();
    assert_eq!(buf[0], 0x13);
    assert_eq!(buf[4096], 0x14);
    assert_eq!(buf[2 * 4096], 0x80);
    assert_eq!(buf[3 * 4096 + 4095], 0x81);
    // A read across the segment boundary.
    let mut two = [0u8; 2];
    lv.device.read_at(&mut two, 2 * 4096 - 1).unwrap();
    assert_eq!(two, [0x14, 0x80]);
    assert!(lv.device.read_at(&mut two, 4 * 4096 - 1).is_err());
}

#[test]
fn striped_lv_maps_chunks_round_robin() {
    let seg = "segment1 {\nstart_extent = 0\nextent_count = 4\ntype = \"striped\"\n\
               stripe_count = 2\nstripe_size = 2\nstripes = [\"pv0\", 0, \"pv1\", 0]\n}\n";
    let text = vg_text(1, &[(U1, 4), (U2, 4)], &lv("st", seg));
    let size = PE_START as usize + 4 * 4096;
    let mut a = pv(size, U1, &text, 512);
    let mut b = pv(size, U2, &text, 512);
    // Mark each 1 KiB chunk of each PV with (pv, chunk index).
    for (d, tag) in [(&mut a, 0u8), (&mut b, 0x80u8)] {
        for (i, x) in d[PE_START as usize..].iter_mut().enumerate() {
            *x = tag + (i / 1024) as u8;
        }
    }
    let lvm = scan(&[mem(a, "a"), mem(b, "b")]).unwrap();
    let dev = &lvm.vgs[0].lvs[0].device;
    let mut buf = vec![0u8; 16 * 1024];
    dev.read_at(&mut buf, 0).unwrap();
    let chunks: Vec<u8> = buf.chunks(1024).map(|c| c[0]).collect();
    // 1 KiB stripes alternate between the PVs, each advancing its own row.
    assert_eq!(
        chunks,
        [
            0, 0x80, 1, 0x81, 2, 0x82, 3, 0x83, 4, 0x84, 5, 0x85, 6, 0x86, 7, 0x87
        ]
    );
    // Unaligned read across stripes.
    let mut x = [0u8; 3];
    dev.read_at(&mut x, 1023).unwrap();
    assert_eq!(x, [0, 0x80, 0x80]);
}

#[test]
fn newest_seqno_wins_and_wrapped_text_reads() {
    let old = vg_text(
        3,
        &[(U1, 4), (U2, 4)],
        &lv("old", &linear(1, 0, 1, "pv0", 0)),
    );
    let new = vg_text(
        4,
        &[(U1, 4), (U2, 4)],
        &lv("new", &linear(1, 0, 1, "pv1", 0)),
    );
    let size = PE_START as usize + 4 * 4096;
    // The newer copy wraps around the end of its area.
    let wrap_at = MDA_SIZE - 100;
    let a = pv(size, U1, &old, 512);
    let b = pv(size, U2, &new, wrap_at);
    let lvm = scan(&[mem(a, "a"), mem(b, "b")]).unwrap();
    assert!(lvm.warnings.is_empty(), "{:?}", lvm.warnings);
    assert_eq!(lvm.vgs[0].seqno, 4);
    assert_eq!(lvm.vgs[0].lvs[0].name, "new");
}

#[test]
fn checksum_mismatch_is_skipped_with_a_warning() {
    let text = vg_text(1, &[(U1, 4)], &lv("l", &linear(1, 0, 1, "pv0", 0)));
    let mut a = pv(PE_START as usize + 4 * 4096, U1, &text, 512);
    a[MDA_AT as usize + 512 + 10] ^= 1; // flip a bit of the text
    let lvm = scan(&[mem(a.clone(), "a")]).unwrap();
    assert!(lvm.vgs.is_empty());
    assert_eq!(lvm.pvs.len(), 1);
    assert!(
        lvm.warnings[0].contains("checksum mismatch"),
        "{:?}",
        lvm.warnings
    );
    // A damaged label: the device is not a PV at all.
    let mut b = pv(PE_START as usize + 4 * 4096, U1, &text, 512);
    b[512 + 100] ^= 1;
    let lvm = scan(&[mem(b, "b")]).unwrap();
    assert!(lvm.pvs.is_empty());
    assert!(lvm.warnings[0].contains("label"));
}

fn one_lv(segs: &str, pe_count: u64) -> Result<Vec<u8>> {
    let text = vg_text(1, &[(U1, pe_count)], &lv("x", segs));
    let a = pv(PE_START as usize + 4 * 4096, U1, &text, 512);
    let lvm = scan(&[mem(a, "a")])?;
    if !lvm.warnings.is_empty() {
        return Err(Error::corrupt(lvm.warnings.join("; ")));
    }
    let dev = &lvm.vgs[0].lvs[0].device;
    let mut buf = vec![0u8; dev.size().min(4096) as usize];
    dev.read_at(&mut buf, 0)?;
    Ok(buf)
}

#[test]
fn hostile_segments_are_errors() {
    // Past the PV's extents.
    let e = one_lv(&linear(1, 0, 2, "pv0", 3), 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    // pe_count claims more than the device holds.
    let e = one_lv(&linear(1, 0, 2, "pv0", 90), 100).unwrap_err();
    assert!(e.to_string().contains("past the end"), "{e}");
    // Overlapping segments.
    let e = one_lv(&(linear(1, 0, 2, "pv0", 0) + &linear(2, 1, 1, "pv0", 2)), 4).unwrap_err();
    assert!(e.to_string().contains("overlap"), "{e}");
    // Unknown area name.
    let e = one_lv(&linear(1, 0, 1, "nope", 0), 4).unwrap_err();
    assert!(e.to_string().contains("neither"), "{e}");
    // Unsupported segment types name themselves.
    let thin = "segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"thin\"\n}\n";
    let e = one_lv(thin, 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("segment type thin"), "{e}");
    // Huge counts overflow cleanly.
    let huge = linear(1, 0, u64::MAX / 2, "pv0", 0);
    assert!(one_lv(&huge, 4).is_err());
    // Zero segments read as zeros.
    let zero = "segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"zero\"\n}\n";
    assert_eq!(one_lv(zero, 4).unwrap(), vec![0u8; 4096]);
}

#[test]
fn lvs_stacked_in_a_loop_are_refused() {
    let a = "segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"striped\"\n\
             stripe_count = 1\nstripes = [\"b\", 0]\n}\n";
    let b = "segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"striped\"\n\
             stripe_count = 1\nstripes = [\"a\", 0]\n}\n";
    let text = vg_text(1, &[(U1, 4)], &(lv("a", a) + &lv("b", b)));
    let d = pv(PE_START as usize + 4 * 4096, U1, &text, 512);
    let lvm = scan(&[mem(d, "d")]).unwrap();
    for lv in &lvm.vgs[0].lvs {
        let e = lv.device.read_at(&mut [0u8; 1], 0).unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
    }
}

#[test]
fn missing_pv_makes_only_its_lvs_unreadable() {
    let lvs = lv("here", &linear(1, 0, 1, "pv0", 0)) + &lv("gone", &linear(1, 0, 1, "pv1", 0));
    let text = vg_text(1, &[(U1, 4), (U2, 4)], &lvs);
    let a = pv(PE_START as usize + 4 * 4096, U1, &text, 512);
    let lvm = scan(&[mem(a, "a")]).unwrap();
    let vg = &lvm.vgs[0];
    assert!(vg.pvs[1].pv.is_none());
    assert!(vg.lvs[0].device.read_at(&mut [0u8; 1], 0).is_ok());
    let e = vg.lvs[1].device.read_at(&mut [0u8; 1], 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn label_and_header_fields_are_bounded() {
    let text = vg_text(1, &[(U1, 4)], "");
    let base = pv(PE_START as usize + 4 * 4096, U1, &text, 512);
    // Metadata location past the area.
    let mut d = base.clone();
    let m = MDA_AT as usize;
    d[m + 48..m + 56].copy_from_slice(&(MDA_SIZE * 4).to_le_bytes());
    let crc = lvm_crc(&d[m + 4..m + 512]);
    d[m..m + 4].copy_from_slice(&crc.to_le_bytes());
    let lvm = scan(&[mem(d, "d")]).unwrap();
    assert!(
        lvm.warnings[0].contains("outside the area"),
        "{:?}",
        lvm.warnings
    );
    // pv_header offset out of range.
    let mut d = base.clone();
    d[512 + 20..512 + 24].copy_from_slice(&500u32.to_le_bytes());
    let crc = lvm_crc(&d[512 + 20..1024]);
    d[512 + 16..512 + 20].copy_from_slice(&crc.to_le_bytes());
    assert!(read_label(&MemDevice::new(d, false, "d")).is_err());
    // A truncated device.
    let d = base[..4096 + 100].to_vec();
    let lvm = scan(&[mem(d, "d")]).unwrap();
    assert!(lvm.vgs.is_empty());
    // Anything at all never panics.
    for len in [0usize, 511, 512, 1024, 2048] {
        let _ = scan(&[mem(vec![0xff; len], "x")]);
    }
}

#[test]
fn bad_ids_refuse_the_vg_as_lvm2_does() {
    let mut lvs = lv("ok", &linear(1, 0, 1, "pv0", 0));
    lvs = lvs.replacen("id = \"", "id = \"x", 1); // 33 characters
    let text = vg_text(1, &[(U1, 4)], &lvs);
    let d = pv(PE_START as usize + 4 * 4096, U1, &text, 512);
    let lvm = scan(&[mem(d, "d")]).unwrap();
    assert!(lvm.vgs.is_empty());
    assert!(lvm.warnings[0].contains("valid id"), "{:?}", lvm.warnings);
    assert!(!valid_id("abc"));
    assert!(valid_id("BTLqS3-NcMY-8XDT-0O3A-rHdj-yEF7-FuMXrb"));
}

#[test]
fn uuid_forms() {
    assert_eq!(
        uuid_dashed("BTLqS3NcMY8XDT0O3ArHdjyEF7FuMXrb"),
        "BTLqS3-NcMY-8XDT-0O3A-rHdj-yEF7-FuMXrb"
    );
    assert_eq!(
        uuid_plain("BTLqS3-NcMY-8XDT-0O3A-rHdj-yEF7-FuMXrb"),
        "BTLqS3NcMY8XDT0O3ArHdjyEF7FuMXrb"
    );
}

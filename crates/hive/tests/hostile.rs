//! Hand-built and damaged hives: structures hivex cannot write (db big
//! data, ri/li lists), and hostile data that must give errors, never panics
//! or unbounded work.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use gx_hive::{ErrorKind, ExportOptions, Hive, Visit, WalkOptions, export};

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/expected/hive")
}

fn real(name: &str) -> Vec<u8> {
    std::fs::read(expected_dir().join(format!("{name}.hive"))).unwrap()
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn fix_checksum(b: &mut [u8]) {
    let mut x = 0u32;
    for i in 0..127 {
        x ^= u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
    }
    put32(b, 0x1FC, x);
}

/// Builds a hive with one hive bin from cells added in order.
struct Builder {
    cells: Vec<u8>,
}

impl Builder {
    fn new() -> Self {
        Builder { cells: Vec::new() }
    }

    /// Relative offset the next cell will get.
    fn next(&self) -> u32 {
        0x20 + self.cells.len() as u32
    }

    fn cell(&mut self, payload: &[u8]) -> u32 {
        let off = self.next();
        let size = (payload.len() + 4).div_ceil(8) * 8;
        self.cells
            .extend_from_slice(&(-(size as i32)).to_le_bytes());
        self.cells.extend_from_slice(payload);
        self.cells
            .resize(self.cells.len() + size - 4 - payload.len(), 0);
        off
    }

    /// An nk record with an ASCII (compressed) name.
    fn nk(&mut self, name: &str, parent: u32, subkeys: (u32, u32), values: (u32, u32)) -> u32 {
        let mut p = vec![0u8; 0x4C];
        p[0..2].copy_from_slice(b"nk");
        p[2..4].copy_from_slice(&0x20u16.to_le_bytes());
        put32(&mut p, 0x04, 1); // timestamp
        put32(&mut p, 0x10, parent);
        put32(&mut p, 0x14, subkeys.0);
        put32(&mut p, 0x1C, subkeys.1);
        put32(&mut p, 0x20, u32::MAX);
        put32(&mut p, 0x24, values.0);
        put32(&mut p, 0x28, values.1);
        put32(&mut p, 0x2C, u32::MAX);
        put32(&mut p, 0x30, u32::MAX);
        p[0x48..0x4A].copy_from_slice(&(name.len() as u16).to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        self.cell(&p)
    }

    fn vk(&mut self, name: &str, t: u32, len: u32, data: u32) -> u32 {
        let mut p = vec![0u8; 0x14];
        p[0..2].copy_from_slice(b"vk");
        p[2..4].copy_from_slice(&(name.len() as u16).to_le_bytes());
        put32(&mut p, 0x04, len);
        put32(&mut p, 0x08, data);
        put32(&mut p, 0x0C, t);
        p[0x10..0x12].copy_from_slice(&1u16.to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        self.cell(&p)
    }

    fn list(&mut self, sig: &[u8; 2], offs: &[u32]) -> u32 {
        let mut p = sig.to_vec();
        p.extend_from_slice(&(offs.len() as u16).to_le_bytes());
        for &o in offs {
            p.extend_from_slice(&o.to_le_bytes());
            if sig == b"lf" || sig == b"lh" {
                p.extend_from_slice(&0u32.to_le_bytes());
            }
        }
        self.cell(&p)
    }

    fn offsets(&mut self, offs: &[u32]) -> u32 {
        let p: Vec<u8> = offs.iter().flat_map(|o| o.to_le_bytes()).collect();
        self.cell(&p)
    }

    /// Patches a u32 inside an already added cell's payload.
    fn patch(&mut self, cell: u32, field: usize, v: u32) {
        let at = (cell - 0x20) as usize + 4 + field;
        put32(&mut self.cells, at, v);
    }

    fn finish(&self, root: u32) -> Vec<u8> {
        let bin_size = (self.cells.len() + 0x20 + 8).div_ceil(0x1000) * 0x1000;
        let mut b = vec![0u8; 0x1000 + bin_size];
        b[0..4].copy_from_slice(b"regf");
        put32(&mut b, 4, 1);
        put32(&mut b, 8, 1);
        put32(&mut b, 0x14, 1);
        put32(&mut b, 0x18, 5);
        put32(&mut b, 0x20, 1);
        put32(&mut b, 0x24, root);
        put32(&mut b, 0x28, bin_size as u32);
        fix_checksum(&mut b);
        let h = &mut b[0x1000..];
        h[0..4].copy_from_slice(b"hbin");
        put32(h, 8, bin_size as u32);
        h[0x20..0x20 + self.cells.len()].copy_from_slice(&self.cells);
        // The rest of the bin is one free cell.
        let rest = bin_size - 0x20 - self.cells.len();
        put32(h, 0x20 + self.cells.len(), rest as u32);
        b
    }
}

fn export_all(hive: &Hive) -> gx_hive::Result<Vec<u8>> {
    let mut out = Vec::new();
    export(hive, hive.root(), &ExportOptions::default(), &mut out)?;
    Ok(out)
}

/// Opens, walks every key and value and exports; must not panic.
fn exercise(bytes: Vec<u8>) {
    let Ok(hive) = Hive::open(bytes) else { return };
    let _ = hive.walk(hive.root(), &WalkOptions::default(), |e| {
        for v in e.node.values()? {
            let _ = v.name();
            let _ = v.data();
            let _ = v.as_string();
            let _ = v.as_multi_string();
        }
        let _ = e.node.class_name();
        let _ = e.node.security_descriptor();
        Ok(Visit::Continue)
    });
    let _ = export_all(&hive);
}

#[test]
fn built_hive_with_ri_li_lh_lists_and_big_data() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0, (0, 0), (0, 0));
    let k1 = b.nk("b", root, (0, 0), (0, 0));
    let k2 = b.nk("a", root, (0, 0), (0, 0));
    // Big data: 2 segments of 16344 bytes each holding part of 20000.
    let seg1: Vec<u8> = (0..16348).map(|i| (i % 256) as u8).collect();
    let seg2: Vec<u8> = (16344..16344 + 3660).map(|i| (i % 256) as u8).collect();
    let s1 = b.cell(&seg1);
    let s2 = b.cell(&seg2);
    let segs = b.offsets(&[s1, s2]);
    let mut db = b"db".to_vec();
    db.extend_from_slice(&2u16.to_le_bytes());
    db.extend_from_slice(&segs.to_le_bytes());
    let db = b.cell(&db);
    let big = b.vk("big", 3, 20000, db);
    let inline = b.vk("inl", 4, 0x8000_0004, 0x0403_0201);
    let vlist = b.offsets(&[big, inline]);
    let k3 = b.nk("c", root, (0, 0), (2, vlist));
    let li = b.list(b"li", &[k1, k2]);
    let lh = b.list(b"lh", &[k3]);
    let ri = b.list(b"ri", &[li, lh]);
    b.patch(root, 0x14, 3);
    b.patch(root, 0x1C, ri);
    let hive = Hive::open(b.finish(root)).unwrap();
    assert!(hive.warnings().is_empty());
    let names: Vec<String> = hive
        .root()
        .children()
        .unwrap()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(names, ["b", "a", "c"]);
    let c = hive.lookup("C").unwrap().unwrap();
    let data = c.value("BIG").unwrap().unwrap().data().unwrap();
    assert_eq!(data.len(), 20000);
    assert!(data.iter().enumerate().all(|(i, &x)| x == (i % 256) as u8));
    assert_eq!(
        c.value("inl").unwrap().unwrap().as_dword().unwrap(),
        0x0403_0201
    );
    let text = String::from_utf8(export_all(&hive).unwrap()).unwrap();
    let keys: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(keys, ["[\\]", "[\\a]", "[\\b]", "[\\c]"]);
    assert!(text.contains("\"inl\"=dword:04030201\n"));
}

#[test]
fn subkey_list_pointing_at_its_own_key_is_an_error() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0, (1, 0), (0, 0));
    let lf = b.list(b"lf", &[root]);
    b.patch(root, 0x1C, lf);
    let hive = Hive::open(b.finish(root)).unwrap();
    let e = export_all(&hive).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("cycle"), "{e}");

    // A deeper cycle: root -> a -> root.
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0, (1, 0), (0, 0));
    let a = b.nk("a", root, (1, 0), (0, 0));
    let lr = b.list(b"lf", &[a]);
    let la = b.list(b"lh", &[root]);
    b.patch(root, 0x1C, lr);
    b.patch(a, 0x1C, la);
    let hive = Hive::open(b.finish(root)).unwrap();
    assert_eq!(export_all(&hive).unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn ri_list_pointing_at_itself_is_bounded() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0, (5, 0), (0, 0));
    let ri_at = b.next();
    let ri = b.list(b"ri", &[ri_at, ri_at, ri_at, ri_at]);
    assert_eq!(ri, ri_at);
    b.patch(root, 0x1C, ri);
    let hive = Hive::open(b.finish(root)).unwrap();
    let e = hive.root().children().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
}

#[test]
fn huge_value_lengths_are_errors() {
    let mut b = Builder::new();
    let small = b.cell(&[1, 2, 3, 4]);
    let v1 = b.vk("huge", 3, 0x7FFF_FFFF, small);
    let v2 = b.vk("inline-huge", 3, 0x8000_0010, 0);
    let v3 = b.vk("nowhere", 3, 100, 0x7FFF_FFF0);
    // db claiming 65535 segments in a 4-byte list.
    let segs = b.offsets(&[small]);
    let mut db = b"db".to_vec();
    db.extend_from_slice(&0xFFFFu16.to_le_bytes());
    db.extend_from_slice(&segs.to_le_bytes());
    let db = b.cell(&db);
    let v4 = b.vk("db-lies", 3, 0x7FFF_FFFF, db);
    let vl = b.offsets(&[v1, v2, v3, v4]);
    let root = b.nk("ROOT", 0, (0, 0), (4, vl));
    let hive = Hive::open(b.finish(root)).unwrap();
    for v in hive.root().values().unwrap() {
        let e = v.data().unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::Unsupported),
            "{e}"
        );
    }
    assert!(export_all(&hive).is_err());
    // A value count far beyond its list.
    let mut b = Builder::new();
    let vl = b.offsets(&[0]);
    let root = b.nk("ROOT", 0, (0, 0), (100_000, vl));
    let hive = Hive::open(b.finish(root)).unwrap();
    assert_eq!(hive.root().values().unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn very_deep_trees_stop_at_512_levels() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0, (0, 0), (0, 0));
    let mut parent = root;
    for i in 0..600 {
        let k = b.nk(&format!("k{i}"), parent, (0, 0), (0, 0));
        let l = b.list(b"lf", &[k]);
        b.patch(parent, 0x14, 1);
        b.patch(parent, 0x1C, l);
        parent = k;
    }
    let hive = Hive::open(b.finish(root)).unwrap();
    let e = export_all(&hive).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
}

#[test]
fn truncated_and_damaged_base_blocks() {
    let good = real("minimal");
    for len in [0, 4, 100, 0x1000, 0x1FFF, 0x1800] {
        let e = Hive::open(good[..len.min(good.len())].to_vec()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "len {len}: {e}");
    }
    // Truncated inside a hive bin: the bin runs past the end of the file.
    let big = real("rlenvalue_test_hive");
    let e = Hive::open(big[..0x2800].to_vec()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    // Truncated at a bin boundary: readable, with a warning; what pointed
    // into the lost bins is an error when reached.
    let hive = Hive::open(big[..0x2000].to_vec()).unwrap();
    assert!(
        hive.warnings()[0].contains("hive bins data size"),
        "{:?}",
        hive.warnings()
    );
    assert!(export_all(&hive).is_err());

    let mut b = good.clone();
    b[0] = b'x';
    assert!(Hive::open(b).is_err());
    let mut b = good.clone();
    put32(&mut b, 0x14, 2);
    fix_checksum(&mut b);
    assert_eq!(Hive::open(b).unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn bad_hbin_sizes() {
    let good = real("minimal");
    for size in [0u32, 0x10, 0x1234, 0x2000, 0xFFFF_F000] {
        let mut b = good.clone();
        put32(&mut b, 0x1008, size);
        let e = Hive::open(b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "size {size:#x}: {e}");
    }
    let mut b = good.clone();
    put32(&mut b, 0x1004, 0x1000);
    assert!(Hive::open(b).is_err());
    // A cell whose size runs past its bin.
    let mut b = good.clone();
    put32(&mut b, 0x1020, (-0x2000i32) as u32);
    assert!(Hive::open(b).is_err());
}

#[test]
fn dirty_sequence_numbers_and_bad_checksum_are_warnings() {
    let mut b = real("special");
    put32(&mut b, 8, 12345);
    fix_checksum(&mut b);
    let hive = Hive::open(b.clone()).unwrap();
    assert_eq!(hive.warnings().len(), 1);
    assert!(hive.warnings()[0].contains("sequence numbers"));
    assert_eq!(hive.base_block().secondary_sequence_number, 12345);
    assert!(hive.lookup("weird™").unwrap().is_some());

    put32(&mut b, 0x1FC, 0xDEAD_BEEF);
    let hive = Hive::open(b).unwrap();
    assert_eq!(hive.warnings().len(), 2);
    assert!(export_all(&hive).is_ok());
}

#[test]
fn root_must_be_a_used_nk_cell_start() {
    let good = real("minimal");
    let root = u32::from_le_bytes(good[0x24..0x28].try_into().unwrap());
    for bad in [root + 4, root + 8, 0xFFFF_FFF0, 0] {
        let mut b = good.clone();
        put32(&mut b, 0x24, bad);
        fix_checksum(&mut b);
        assert!(Hive::open(b).is_err(), "root {bad:#x}");
    }
}

/// Every byte of two real hives set to a few hostile values, one at a time:
/// no panics, whatever the result.
#[test]
fn single_byte_damage_never_panics() {
    for name in ["special", "rlenvalue_test_hive"] {
        let good = real(name);
        for off in 0..good.len() {
            for v in [0x00, 0xFF, 0x80] {
                if good[off] == v {
                    continue;
                }
                let mut b = good.clone();
                b[off] = v;
                exercise(b);
            }
        }
    }
}

/// [`Hive::read_at`] over bytes in memory, counting what it reads.
fn read_at(b: &[u8], claimed_len: u64, read: &mut u64) -> gx_hive::Result<Hive> {
    Hive::read_at(claimed_len, &mut |buf, off| {
        *read += buf.len() as u64;
        let off = off as usize;
        // Past the bytes we have, the "file" is zeros (a sparse tail).
        buf.fill(0);
        if off < b.len() {
            let n = buf.len().min(b.len() - off);
            buf[..n].copy_from_slice(&b[off..off + n]);
        }
        Ok(())
    })
}

/// Reading through `read_at` decides as opening the whole file does: same
/// errors, warnings and contents, on good hives and damaged ones.
#[test]
fn read_at_agrees_with_open() {
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for name in ["minimal", "special", "rlenvalue_test_hive", "alltypes"] {
        let good = real(name);
        for len in [0, 0x1000, 0x1FFF, 0x2000, 0x2800, good.len()] {
            cases.push(good[..len.min(good.len())].to_vec());
        }
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0xAB; 0x3000]);
        cases.push(trailing);
        for off in (0..good.len().min(0x3000)).step_by(4) {
            for v in [0u32, 0xFFFF_FFFF, 0x1000, 0x2000] {
                let mut b = good.clone();
                put32(&mut b, off, v);
                cases.push(b);
            }
        }
    }
    for b in cases {
        let whole = Hive::open(b.clone());
        let mut n = 0;
        let part = read_at(&b, b.len() as u64, &mut n);
        match (&whole, &part) {
            (Ok(w), Ok(p)) => {
                assert_eq!(w.warnings(), p.warnings());
                assert_eq!(export_all(w).ok(), export_all(p).ok());
            }
            (Err(w), Err(p)) => assert_eq!(w.to_string(), p.to_string()),
            _ => panic!(
                "open and read_at disagree on a {}-byte hive: {:?} / {:?}",
                b.len(),
                whole.as_ref().err(),
                part.as_ref().err()
            ),
        }
    }
}

/// A "regf" block followed by a gigabyte of nothing (a sparse file): an
/// error after a few small reads.
#[test]
fn a_hive_claiming_a_gigabyte_of_bins_is_read_in_pieces() {
    let mut b = real("minimal")[..0x1000].to_vec();
    put32(&mut b, 0x28, (1 << 30) - 0x1000);
    fix_checksum(&mut b);
    let mut n = 0;
    let e = read_at(&b, 1 << 30, &mut n).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("hbin"), "{e}");
    assert!(n <= 0x3000, "read {n} bytes");
}

/// A well-formed hive bin header claiming nearly a gigabyte of bin, then
/// nothing (found by fuzz_hive): the cell chain breaks at once, and only the
/// first piece of the bin is read.
#[test]
fn a_hive_bin_claiming_a_gigabyte_is_read_in_pieces() {
    let mut b = real("minimal")[..0x1000].to_vec();
    let bin = (1u32 << 30) - 0x2000;
    put32(&mut b, 0x28, bin);
    fix_checksum(&mut b);
    let mut hbin = vec![0u8; 0x20];
    hbin[0..4].copy_from_slice(b"hbin");
    put32(&mut hbin, 8, bin);
    b.extend_from_slice(&hbin);
    let mut n = 0;
    let e = read_at(&b, 1 << 30, &mut n).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("size 0"), "{e}");
    assert!(n <= 2 << 20, "read {n} bytes");
    // Opening the whole file (all of it in memory) says the same.
    let mut whole = b.clone();
    whole.resize(1 << 24, 0);
    put32(&mut whole, 0x28, (1 << 24) - 0x1000);
    put32(&mut whole, 0x1008, (1 << 24) - 0x1000);
    fix_checksum(&mut whole);
    let mut n = 0;
    let via_read = read_at(&whole, whole.len() as u64, &mut n).unwrap_err();
    assert_eq!(
        Hive::open(whole).unwrap_err().to_string(),
        via_read.to_string()
    );
}

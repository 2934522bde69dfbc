//! The hive editor's API, each write checked by the independent structural
//! checker (tests/common), by our reader, and by hivex reading the result.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use gx_hive::{ErrorKind, Hive, HiveEditor, KeyId, SetValue};

fn minimal() -> Vec<u8> {
    test_hives()
        .into_iter()
        .find(|(n, _)| n == "minimal")
        .unwrap()
        .1
}

fn hive(name: &str) -> Vec<u8> {
    test_hives().into_iter().find(|(n, _)| n == name).unwrap().1
}

fn sv(name: &str, t: u32, data: &[u8]) -> SetValue {
    SetValue {
        name: name.into(),
        value_type: t,
        data: data.to_vec(),
    }
}

/// Checks the written hive and, when hivex is installed, that hivex reads
/// it exactly as we do.
fn verify(input: &[u8], out: &[u8], test: &str) -> Report {
    let r = check_written(input, out);
    if have_hivex(test) {
        let dir = scratch(test);
        let f = dir.join("h");
        std::fs::write(&f, out).unwrap();
        assert_same(test, &our_export(out), &hivex_export(&f));
    }
    r
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

#[test]
fn the_checker_catches_broken_hives() {
    let ok = minimal();
    let mut ed = HiveEditor::open(ok.clone()).unwrap();
    let root = ed.root();
    for n in ["b", "a", "c"] {
        ed.add_child(root, n).unwrap();
    }
    let out = ed.commit().unwrap();
    let r = check(&out).unwrap();
    assert!(r.unsorted.is_empty() && r.bad_hash.is_empty());
    let h = Hive::open(out.clone()).unwrap();
    let nk = 0x1000 + h.root().offset() as usize + 4;
    let lh = 0x1000 + u32_at(&out, nk + 0x1C) as usize;
    // Swap the first two entries: unsorted.
    let mut bad = out.clone();
    bad.copy_within(lh + 8..lh + 16, lh + 0x100);
    bad.copy_within(lh + 16..lh + 24, lh + 8);
    bad.copy_within(lh + 0x100..lh + 0x108, lh + 16);
    fix_checksum(&mut bad);
    assert!(!check(&bad).unwrap().unsorted.is_empty());
    // A wrong hash.
    let mut bad = out.clone();
    bad[lh + 12] ^= 1;
    fix_checksum(&mut bad);
    assert!(!check(&bad).unwrap().bad_hash.is_empty());
    // A reference count off by one.
    let mut bad = out.clone();
    let sk = 0x1000 + u32_at(&out, nk + 0x2C) as usize + 4;
    let refs = u32_at(&bad, sk + 0x0C);
    bad[sk + 0x0C..sk + 0x10].copy_from_slice(&(refs + 1).to_le_bytes());
    fix_checksum(&mut bad);
    assert!(check(&bad).unwrap_err().contains("refcount"));
    // A bad checksum.
    let mut bad = out.clone();
    bad[0x30] ^= 1;
    assert!(check(&bad).unwrap_err().contains("checksum"));
    // A used cell nothing refers to.
    let mut bad = out;
    let h = Hive::open(bad.clone()).unwrap();
    let b_key = h.lookup("b").unwrap().unwrap().offset() as usize + 0x1000;
    drop(h);
    // Unlink "b" from the list without freeing it: count 3 -> 2.
    bad[lh + 6] = 2;
    bad[nk + 0x14] = 2;
    bad.copy_within(lh + 24..lh + 32, lh + 16);
    fix_checksum(&mut bad);
    let r = check(&bad);
    assert!(
        r.as_ref().map_or(true, |r| r
            .unreferenced
            .contains(&((b_key - 0x1000) as u32))),
        "{r:?}"
    );
}

fn fix_checksum(b: &mut [u8]) {
    let sum = (0..127).fold(0u32, |s, i| s ^ u32_at(b, i * 4));
    b[0x1FC..0x200].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn new_keys_inherit_security_and_names_are_latin1_or_utf16() {
    let input = hive("special");
    let mut ed = HiveEditor::open(input.clone()).unwrap();
    let root = ed.root();
    let a = ed.add_child(root, "Plain").unwrap();
    ed.add_child(a, "\u{e4}pfel").unwrap();
    ed.add_child(a, "\u{20ac}uro").unwrap();
    let out = ed.commit().unwrap();
    verify(&input, &out, "names");
    let before = Hive::open(input).unwrap();
    let h = Hive::open(out).unwrap();
    let root_sk = before.root().security_descriptor().unwrap();
    let plain = h.lookup("Plain").unwrap().unwrap();
    assert_eq!(plain.flags() & 0x20, 0x20);
    assert_eq!(plain.security_descriptor().unwrap(), root_sk);
    assert_eq!(plain.timestamp(), before.root().timestamp());
    let latin = h.lookup("plain\\\u{c4}PFEL").unwrap().unwrap();
    assert_eq!(latin.flags() & 0x20, 0x20);
    assert_eq!(latin.name(), "\u{e4}pfel");
    let wide = h.lookup("Plain\\\u{20ac}URO").unwrap().unwrap();
    assert_eq!(wide.flags() & 0x20, 0);
    assert_eq!(wide.name(), "\u{20ac}uro");
}

#[test]
fn duplicate_names_root_and_bad_names_are_refused() {
    let mut ed = HiveEditor::open(minimal()).unwrap();
    let root = ed.root();
    let a = ed.add_child(root, "Abc").unwrap();
    for dup in ["abc", "ABC", "Abc"] {
        assert_eq!(
            ed.add_child(root, dup).unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }
    ed.add_child(a, "\u{e4}").unwrap();
    // Case-insensitive beyond ASCII, as Windows compares.
    assert_eq!(
        ed.add_child(a, "\u{c4}").unwrap_err().kind(),
        ErrorKind::Invalid
    );
    for bad in ["", "a\\b", "a\0b"] {
        assert_eq!(
            ed.add_child(root, bad).unwrap_err().kind(),
            ErrorKind::Invalid,
            "{bad:?}"
        );
    }
    let long = "x".repeat(256);
    assert_eq!(
        ed.add_child(root, &long).unwrap_err().kind(),
        ErrorKind::Limit
    );
    ed.add_child(root, &"x".repeat(255)).unwrap();
    assert_eq!(
        ed.delete_child(root).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    // Deleted keys are gone for good.
    ed.delete_child(a).unwrap();
    assert_eq!(ed.name(a).unwrap_err().kind(), ErrorKind::Invalid);
    assert!(ed.lookup("abc").unwrap().is_none());
    let again = ed.add_child(root, "ABC").unwrap();
    assert_eq!(ed.lookup("abc").unwrap(), Some(again));
    let out = ed.commit().unwrap();
    verify(&minimal(), &out, "dups");
}

#[test]
fn key_depth_is_bounded() {
    let mut ed = HiveEditor::open(minimal()).unwrap();
    let mut k = ed.root();
    for i in 0..512 {
        k = ed.add_child(k, &format!("d{i}")).unwrap();
    }
    assert_eq!(
        ed.add_child(k, "too-deep").unwrap_err().kind(),
        ErrorKind::Limit
    );
    let out = ed.commit().unwrap();
    check_written(&minimal(), &out);
}

#[test]
fn values_inline_cell_and_big_data() {
    for minor in [5u32, 3] {
        let mut input = minimal();
        input[0x18..0x1C].copy_from_slice(&minor.to_le_bytes());
        fix_checksum(&mut input);
        let mut ed = HiveEditor::open(input.clone()).unwrap();
        let root = ed.root();
        let k = ed.add_child(root, "V").unwrap();
        let big: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        let exact: Vec<u8> = (0..16_344u32).map(|i| i as u8).collect();
        let vals = vec![
            sv("", 1, b"d\0\0\0"),
            sv("zero", 3, b""),
            sv("four", 4, &[1, 2, 3, 4]),
            sv("five", 3, &[1, 2, 3, 4, 5]),
            sv("exact", 3, &exact),
            sv("big", 3, &big),
            sv("\u{20ac}", 1, b"e\0\0\0"),
        ];
        ed.set_values(k, vals.clone()).unwrap();
        assert_eq!(ed.values(k).unwrap(), vals);
        let out = ed.commit().unwrap();
        verify(&input, &out, &format!("values-minor{minor}"));
        let h = Hive::open(out.clone()).unwrap();
        let node = h.lookup("V").unwrap().unwrap();
        for v in &vals {
            let got = node.value(&v.name).unwrap().unwrap();
            assert_eq!(got.data().unwrap(), v.data, "{}", v.name);
            assert_eq!(got.value_type(), v.value_type);
            assert_eq!(got.is_inline(), v.data.len() <= 4, "{}", v.name);
        }
        // Big data (db) only from minor version 4 on.
        let big = node.value("big").unwrap().unwrap();
        let cell = u32_at(&out, 0x1000 + big.offset() as usize + 4 + 8) as usize + 0x1000;
        let is_db = &out[cell + 4..cell + 6] == b"db";
        assert_eq!(is_db, minor >= 4);
        assert_eq!(node.value_count(), 7);
    }
}

#[test]
fn set_value_replaces_in_place_and_set_values_replaces_all() {
    let input = hive("alltypes");
    let mut ed = HiveEditor::open(input.clone()).unwrap();
    let k = ed.lookup("Types").unwrap().unwrap();
    let before = ed.values(k).unwrap();
    let second = before[1].name.clone();
    ed.set_value(k, sv(&second.to_uppercase(), 4, &[9, 9, 9, 9]))
        .unwrap();
    ed.set_value(k, sv("appended", 3, b"xyz")).unwrap();
    let after = ed.values(k).unwrap();
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[1].data, [9, 9, 9, 9]);
    assert_eq!(after.last().unwrap().name, "appended");
    assert_eq!(after[0], before[0]);
    let out = ed.commit().unwrap();
    verify(&input, &out, "set_value");
    // The same edits give the same bytes.
    assert_eq!(ed.commit().unwrap(), out);

    let mut ed = HiveEditor::open(input.clone()).unwrap();
    let k = ed.lookup("Types").unwrap().unwrap();
    ed.set_values(k, vec![sv("only", 4, &[1, 0, 0, 0])])
        .unwrap();
    assert_eq!(
        ed.set_values(k, vec![sv("a", 1, b""), sv("A", 1, b"")])
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    let out = ed.commit().unwrap();
    verify(&input, &out, "set_values");
    let h = Hive::open(out).unwrap();
    assert_eq!(h.lookup("Types").unwrap().unwrap().value_count(), 1);
    // An empty set removes every value.
    let mut ed = HiveEditor::open(input.clone()).unwrap();
    let k = ed.lookup("Types").unwrap().unwrap();
    ed.set_values(k, Vec::new()).unwrap();
    let out = ed.commit().unwrap();
    verify(&input, &out, "set_values-empty");
}

#[test]
fn commit_updates_the_base_block_like_hivex() {
    let input = hive("windows-system");
    let seq = u32_at(&input, 4);
    let mut ed = HiveEditor::open(input.clone()).unwrap();
    let root = ed.root();
    ed.add_child(root, "X").unwrap();
    let out = ed.commit().unwrap();
    assert_eq!((u32_at(&out, 4), u32_at(&out, 8)), (seq + 1, seq + 1));
    // The last-written time stays, as hivex leaves it.
    assert_eq!(out[0x0C..0x14], input[0x0C..0x14]);
    assert_eq!(u32_at(&out, 0x28) as usize, out.len() - 0x1000);
    assert!(out.len() > input.len() && out.len() % 0x1000 == 0);
    // Old bins are untouched except patched records; the new bin follows.
    let end = 0x1000 + u32_at(&input, 0x28) as usize;
    assert_eq!(&out[end..end + 4], b"hbin");
    // Nothing edited: still a commit (sequence numbers move), same content.
    let ed = HiveEditor::open(input.clone()).unwrap();
    assert!(!ed.is_modified());
    let same = ed.commit().unwrap();
    assert_eq!(same.len(), input.len());
    assert_eq!(same[0x1000..], input[0x1000..]);
}

#[test]
fn deleting_frees_subtrees_and_security_records() {
    for name in ["special", "windows-software", "windows-system", "alltypes"] {
        let input = hive(name);
        let before = check(&input).unwrap();
        let mut ed = HiveEditor::open(input.clone()).unwrap();
        let root = ed.root();
        let children = ed.children(root).unwrap();
        // Modify one subtree before deleting it: its pending changes go too.
        let first = children[0];
        let tmp = ed.add_child(first, "pending").unwrap();
        ed.set_values(tmp, vec![sv("v", 3, &[1; 100])]).unwrap();
        for c in &children {
            ed.delete_child(*c).unwrap();
        }
        assert!(ed.children(root).unwrap().is_empty());
        let out = ed.commit().unwrap();
        let after = verify(&input, &out, &format!("delete-{name}"));
        assert_eq!(after.keys, ["\\"]);
        // Only the root's record is left: others reached zero and went.
        assert_eq!(
            after.sk_count, 1,
            "{name}: {} sk records before",
            before.sk_count
        );
        let h = Hive::open(out).unwrap();
        assert_eq!(h.root().subkey_count(), 0);
        assert!(h.root().children().unwrap().is_empty());
    }
}

#[test]
fn big_lists_split_into_ri_and_ri_lists_take_new_keys() {
    let input = minimal();
    let mut ed = HiveEditor::open(input.clone()).unwrap();
    let root = ed.root();
    let parent = ed.add_child(root, "Big").unwrap();
    let n = 66_000;
    for i in 0..n {
        ed.add_child(parent, &format!("k{:06}", (i * 7_919) % n))
            .unwrap();
    }
    let out = ed.commit().unwrap();
    let r = check_written(&input, &out);
    assert!(r.list_kinds.contains_key("ri"), "{:?}", r.list_kinds);
    assert_eq!(r.keys.len(), n + 2);

    // Edit the ri hive: new keys at the start, middle and end, a deletion
    // that leaves one leaf, values on a key inside.
    let mut ed = HiveEditor::open(out.clone()).unwrap();
    let big = ed.lookup("Big").unwrap().unwrap();
    for name in ["a-first", "k033000x", "zz-last"] {
        ed.add_child(big, name).unwrap();
    }
    let victim = ed.lookup("Big\\k000001").unwrap().unwrap();
    ed.delete_child(victim).unwrap();
    let k = ed.lookup("Big\\K050000").unwrap().unwrap();
    ed.set_value(k, sv("v", 4, &[1, 2, 3, 4])).unwrap();
    let out2 = ed.commit().unwrap();
    let r2 = check_written(&out, &out2);
    assert_eq!(r2.keys.len(), n + 2 + 3 - 1);
    // Leaves that did not change kept their cells: the file grew by less
    // than one copy of the whole list.
    assert!(
        out2.len() - out.len() < 66_000 * 8 / 2,
        "{}",
        out2.len() - out.len()
    );
    if have_hivex("ri") {
        let dir = scratch("ri");
        let f = dir.join("h");
        std::fs::write(&f, &out2).unwrap();
        assert_same("ri", &our_export(&out2), &hivex_export(&f));
    }
}

#[test]
fn limits_give_clear_errors() {
    // Hive size.
    let mut ed = HiveEditor::open(minimal()).unwrap();
    ed.set_max_hive_size(64 * 1024);
    let root = ed.root();
    let k = ed.add_child(root, "k").unwrap();
    let e = ed
        .set_values(k, vec![sv("v", 3, &vec![0; 100_000])])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.to_string().contains("65536"), "{e}");
    let mut i = 0;
    let e = loop {
        match ed.add_child(root, &format!("key{i}")) {
            Ok(_) => i += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    // Commit enforces it too (lists are only sized there).
    let out = ed.commit();
    assert!(out.as_ref().map_or(true, |o| o.len() <= 64 * 1024));

    // Value size.
    let mut ed = HiveEditor::open(minimal()).unwrap();
    let root = ed.root();
    let e = ed
        .set_values(
            root,
            vec![sv("v", 3, &vec![0; gx_hive::MAX_VALUE_DATA + 1])],
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    let e = ed
        .set_values(root, vec![sv(&"n".repeat(16_384), 3, b"")])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");

    // Subkeys per key.
    let mut ed = HiveEditor::open(minimal()).unwrap();
    let root = ed.root();
    for i in 0..gx_hive::MAX_SUBKEYS_PER_KEY {
        ed.add_child(root, &format!("{i}")).unwrap();
    }
    let e = ed.add_child(root, "one-more").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
}

#[test]
fn editing_hostile_hives_never_panics() {
    // Every cell of a real hive flipped in turn: opening may fail, edits
    // and commits may fail, nothing may panic, and what commits reads back.
    let input = hive("windows-system");
    let mut committed = 0;
    for pos in (0x1000..input.len()).step_by(61) {
        let mut b = input.clone();
        b[pos] ^= 0xA5;
        let Ok(mut ed) = HiveEditor::open(b) else {
            continue;
        };
        let root = ed.root();
        let _ = ed.add_child(root, "new");
        if let Ok(children) = ed.children(root) {
            if let Some(&c) = children.first() {
                let _ = ed.set_value(c, sv("v", 1, b"x\0\0\0"));
                let _: Result<Vec<KeyId>, _> = ed.children(c);
            }
            if let Some(&c) = children.last() {
                let _ = ed.delete_child(c);
            }
        }
        if let Ok(out) = ed.commit() {
            Hive::open(out).unwrap();
            committed += 1;
        }
    }
    assert!(committed > 0);
}

#[test]
fn li_and_lf_lists_keep_their_kind() {
    let mut ed = HiveEditor::open(minimal()).unwrap();
    let root = ed.root();
    for n in ["b", "d", "f"] {
        ed.add_child(root, n).unwrap();
    }
    let base = ed.commit().unwrap();
    let nk = 0x1000 + Hive::open(base.clone()).unwrap().root().offset() as usize + 4;
    let list = 0x1000 + u32_at(&base, nk + 0x1C) as usize;
    for kind in [*b"li", *b"lf"] {
        let mut input = base.clone();
        input[list + 4..list + 6].copy_from_slice(&kind);
        if &kind == b"li" {
            for i in 0..3 {
                let off = u32_at(&base, list + 8 + 8 * i);
                input[list + 8 + 4 * i..list + 12 + 4 * i].copy_from_slice(&off.to_le_bytes());
            }
        } else {
            for (i, n) in [b'b', b'd', b'f'].iter().enumerate() {
                input[list + 12 + 8 * i..list + 16 + 8 * i].copy_from_slice(&[*n, 0, 0, 0]);
            }
        }
        fix_checksum(&mut input);
        let mut ed = HiveEditor::open(input.clone()).unwrap();
        let root = ed.root();
        ed.add_child(root, "c").unwrap();
        ed.add_child(root, "zz").unwrap();
        let d = ed.lookup("d").unwrap().unwrap();
        ed.delete_child(d).unwrap();
        let out = ed.commit().unwrap();
        let r = verify(&input, &out, &format!("list-{}", kind[1] as char));
        assert_eq!(r.keys, ["\\", "\\b", "\\c", "\\f", "\\zz"]);
        let kinds: Vec<&String> = r.list_kinds.keys().collect();
        assert_eq!(kinds, [&String::from_utf8(kind.to_vec()).unwrap()]);
        if &kind == b"lf" {
            let nl = 0x1000 + u32_at(&out, nk + 0x1C) as usize;
            assert_eq!(&out[nl + 12..nl + 16], b"b\0\0\0");
            assert_eq!(&out[nl + 20..nl + 24], b"c\0\0\0");
        }
    }
}

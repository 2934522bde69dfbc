//! `.reg` merges against hivex: hivex's own import test scenarios (expected
//! exports made by tests/expected/hive-merge/make.sh with hivexregedit),
//! inputs that must not merge, and on every test hive a generated merge
//! that adds, changes and deletes keys and values, run through both
//! `hivexregedit --merge` and ours; hivexregedit then reads our hive and
//! its export must equal the export of its own.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read as _;

use common::*;
use gx_hive::{ErrorKind, HiveEditor, ImportOptions, SingleHive, reg_import};

fn merge_dir() -> std::path::PathBuf {
    expected_dir().join("hive-merge")
}

fn minimal() -> Vec<u8> {
    test_hives()
        .into_iter()
        .find(|(n, _)| n == "minimal")
        .unwrap()
        .1
}

#[test]
fn hivex_import_scenarios_step_by_step() {
    let mut hive = minimal();
    let dir = scratch("steps");
    for n in 1..=5 {
        let reg = merge_dir().join(format!("step{n}.reg"));
        let out = our_merge(&hive, &[&reg], None, None).unwrap();
        check_written(&hive, &out);
        let expected = std::fs::read(merge_dir().join(format!("step{n}.expected"))).unwrap();
        assert_same(&format!("step {n}"), &our_export(&out), &expected);
        if have_hivex("hivex_import_scenarios_step_by_step") {
            let f = dir.join("ours.hive");
            std::fs::write(&f, &out).unwrap();
            assert_same(
                &format!("step {n} read by hivex"),
                &hivex_export(&f),
                &expected,
            );
        }
        hive = out;
    }
}

#[test]
fn bad_inputs_fail_and_name_the_line() {
    let table = std::fs::read_to_string(merge_dir().join("bad.expected")).unwrap();
    let mut n = 0;
    for line in table.lines() {
        let (file, hivex) = line.split_once('\t').unwrap();
        let reg = merge_dir().join(file);
        let e = our_merge(&minimal(), &[&reg], None, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{file}: {e}");
        assert!(e.to_string().contains(": line "), "{file}: {e}");
        if hivex == "accepted" {
            eprintln!("{file}: hivex accepts this (and stores garbage); we refuse: {e}");
        }
        n += 1;
    }
    assert!(n >= 8);
    // The line named is the one that failed.
    let e = our_merge(
        &minimal(),
        &[&merge_dir().join("bad-no-blank-line.reg")],
        None,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
    let e = our_merge(
        &minimal(),
        &[&merge_dir().join("bad-quote2.reg")],
        None,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
}

#[test]
fn generated_merges_match_hivex_on_every_test_hive() {
    let hivex = have_hivex("generated_merges_match_hivex_on_every_test_hive");
    let dir = scratch("generated");
    for (name, hive) in test_hives() {
        generated_merge_matches_hivex(&name, &hive, &dir, hivex);
    }
}

#[test]
fn merges_over_several_files_with_prefix_and_encoding() {
    let hivex = have_hivex("merges_over_several_files_with_prefix_and_encoding");
    let dir = scratch("prefix");
    let a = dir.join("a.reg");
    let b = dir.join("b.reg");
    std::fs::write(
        &a,
        "REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Gx]\r\n\"s\"=\"abc\"\r\n\"t\"=\"\u{e4}\"\r\n\r\n[hkey_local_machine\\software\\Gx\\Two]\r\n@=str(2):\"x\"\r\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Gx]\n\"s\"=-\n\"u\"=\"new\"\n\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Gx\\Two]\n",
    )
    .unwrap();
    for enc in [
        None,
        Some("ASCII"),
        Some("UTF-8"),
        Some("UTF-16BE"),
        Some("latin1"),
    ] {
        let prefix = Some("HKEY_LOCAL_MACHINE\\SOFTWARE");
        let ours = our_merge(&minimal(), &[&a, &b], prefix, enc).unwrap();
        check_written(&minimal(), &ours);
        if hivex {
            let theirs = hivex_merge(&minimal(), &[&a, &b], prefix, enc, &dir).unwrap();
            let f = dir.join("t.hive");
            std::fs::write(&f, &theirs).unwrap();
            assert_same(
                &format!("encoding {enc:?}"),
                &our_export(&ours),
                &hivex_export(&f),
            );
        }
    }
    // Without the prefix the paths are taken as they are: their first
    // component does not exist.
    let e = our_merge(&minimal(), &[&a], None, None).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
}

#[test]
fn errors_leave_nothing_committed_and_name_the_file() {
    let dir = scratch("errors");
    let good = dir.join("good.reg");
    let bad = dir.join("bad.reg");
    std::fs::write(&good, "[\\A]\n\"x\"=dword:00000001\n").unwrap();
    std::fs::write(&bad, "[\\B]\n\n\n[\\B]\n\"y\"=dword:1\n").unwrap();
    let mut ed = HiveEditor::open(minimal()).unwrap();
    let opts = ImportOptions::default();
    for f in [&good, &bad] {
        let r = reg_import(
            std::io::BufReader::new(std::fs::File::open(f).unwrap()),
            &f.display().to_string(),
            &mut SingleHive {
                editor: &mut ed,
                prefix: None,
            },
            &opts,
        );
        if f == &bad {
            let e = r.unwrap_err();
            assert!(e.to_string().contains("bad.reg: line 5"), "{e}");
        } else {
            r.unwrap();
        }
    }
}

#[test]
fn hostile_reg_inputs_fail_cleanly() {
    let cases: &[(&str, &[u8])] = &[
        ("utf-16 file", b"\xff\xfeW\0i\0"),
        ("nul in name", b"[\\A]\n\"a\0b\"=dword:00000001\n"),
        ("bad utf-8 key", b"[\\\xff]\n"),
        ("type overflow", b"[\\A]\n\"a\"=hex(123456789):00\n"),
        ("delete root", b"[-]\n"),
        ("trailing backslash new key", b"[\\New\\]\n"),
        ("empty component", b"[\\\\]\n\"a\"=-\n[x\n"),
    ];
    for (what, input) in cases {
        let mut ed = HiveEditor::open(minimal()).unwrap();
        let r = reg_import(
            *input,
            what,
            &mut SingleHive {
                editor: &mut ed,
                prefix: None,
            },
            &ImportOptions::default(),
        );
        let e = r.expect_err(what);
        assert!(e.to_string().contains("line"), "{what}: {e}");
    }
    // A line beyond the limit is refused without reading all of it.
    let mut ed = HiveEditor::open(minimal()).unwrap();
    let huge = std::io::repeat(b'0').take(gx_hive::MAX_LINE as u64 + 10);
    let mut input = std::io::Cursor::new(b"[\\A]\n\"v\"=hex:".to_vec()).chain(huge);
    let e = reg_import(
        std::io::BufReader::new(&mut input),
        "huge",
        &mut SingleHive {
            editor: &mut ed,
            prefix: None,
        },
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
}

#[test]
fn surviving_values_keep_their_order_and_new_ones_follow() {
    let dir = scratch("order");
    let first = dir.join("first.reg");
    let second = dir.join("second.reg");
    std::fs::write(
        &first,
        "[\\K]\n\"a\"=dword:00000001\n\"b\"=dword:00000002\n\"c\"=dword:00000003\n",
    )
    .unwrap();
    // b is set again (it moves to the end), d is new, a goes; a value named
    // twice in one section is set once, with its last data.
    std::fs::write(
        &second,
        "[\\K]\n\"B\"=dword:00000020\n\"a\"=-\n\"d\"=dword:00000004\n\"d\"=dword:00000005\n",
    )
    .unwrap();
    let out = our_merge(&minimal(), &[&first, &second], None, None).unwrap();
    check_written(&minimal(), &out);
    let h = gx_hive::Hive::open(out).unwrap();
    let k = h.lookup("K").unwrap().unwrap();
    let got: Vec<(String, u32)> = k
        .values()
        .unwrap()
        .iter()
        .map(|v| (v.name(), v.as_dword().unwrap()))
        .collect();
    let want = [("c", 3), ("B", 0x20), ("d", 5)].map(|(n, d)| (n.to_string(), d));
    assert_eq!(got, want);
}

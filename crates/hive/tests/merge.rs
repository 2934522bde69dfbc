//! `.reg` merges against hivex: hivex's own import test scenarios (expected
//! exports made by tests/expected/hive-merge/make.sh with hivexregedit),
//! inputs that must not merge, and on every test hive a generated merge
//! that adds, changes and deletes keys and values, run through both
//! `hivexregedit --merge` and ours; hivexregedit then reads our hive and
//! its export must equal the export of its own.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::io::Read as _;

use common::*;
use gx_hive::{ErrorKind, Hive, HiveEditor, ImportOptions, SingleHive, reg_import};

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

/// Names the generated scenarios can write in a .reg file and hivex can
/// match (hivex folds only ASCII case and compares names as C strings).
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.is_ascii()
        && !name.chars().any(|c| c.is_control())
        && !name.starts_with(' ')
}

fn quote(name: &str) -> String {
    if name.is_empty() {
        "@".into()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A merge that touches a hive everywhere: new keys (one with 300
/// siblings, deep chains, a UTF-16 name), every value form, changed and
/// deleted values of existing keys, new subkeys of existing keys, deleted
/// existing subtrees and a missing one.
fn scenario(hive: &[u8]) -> String {
    let h = Hive::open(hive.to_vec()).unwrap();
    let mut keys: Vec<(String, Vec<String>, bool)> = Vec::new();
    h.walk(h.root(), &gx_hive::WalkOptions::default(), |e| {
        let path: String = e.names.iter().skip(1).map(|n| format!("\\{n}")).collect();
        let ok = e.names.iter().skip(1).all(|n| plain(n));
        let vals = e.node.values()?.iter().map(|v| v.name()).collect();
        keys.push((path, vals, ok));
        Ok(gx_hive::Visit::Continue)
    })
    .unwrap();
    let mut r = String::from("Windows Registry Editor Version 5.00\n\n; generated\n\n");
    r.push_str("[\\GxAdded]\n@=\"default\"\n\"s\"=\"text with \\\"quotes\\\" and \\\\\"\n");
    r.push_str("\"e\"=str(2):\"%SystemRoot%\\\\x\"\n\"w\"=str:\"wine\"\n");
    r.push_str("\"m\"=hex(7):61,00,00,00,62,00,00,00,00,00\n\"d\"=dword:0000002a\n");
    r.push_str("\"q\"=hex(b):01,02,03,04,05,06,07,08\n\"b\"=hex:01,02,03,\\\n  04,05\n");
    r.push_str("\"tiny\"=hex:01\n\"four\"=hex:01,02,03,04\n\"five\"=hex:01,02,03,04,05\n");
    r.push_str("\"zero\"=hex(0):\n\"odd type\"=hex(12345678):ff\n");
    let big: Vec<String> = (0..20_000).map(|i| format!("{:02x}", i % 251)).collect();
    writeln!(r, "\"big\"=hex:{}", big.join(",")).unwrap();
    r.push_str("\"\u{e4}pfel\"=\"latin-1 name\"\n\"\u{20ac}uro\"=\"utf-16 name\"\n\n");
    r.push_str("[\\GxAdded\\Sub]\n\n[\\GxAdded\\Sub\\Deeper]\n\"x\"=dword:00000001\n\n");
    r.push_str("[\\GxAdded\\\u{20ac}uro key]\n\n[\\GxAdded\\\u{c4}rger]\n\n");
    // Siblings in a scrambled order: the list must come out sorted.
    r.push_str("[\\GxAdded\\Many]\n\n");
    for i in 0..300u32 {
        let k = (i * 7919) % 300;
        writeln!(r, "[\\GxAdded\\Many\\K{k:03}]").unwrap();
        if i == 0 {
            // One new key with both values and siblings.
            r.push_str("\"first\"=dword:00000001\n");
        }
        r.push('\n');
    }
    let mut deletes = Vec::new();
    for (i, (path, vals, ok)) in keys.iter().enumerate() {
        if !ok {
            continue;
        }
        if i % 2 == 0 {
            writeln!(r, "[{}]", if path.is_empty() { "\\" } else { path }).unwrap();
            let plain_vals: Vec<&String> =
                vals.iter().filter(|v| v.is_empty() || plain(v)).collect();
            if let Some(v) = plain_vals.first() {
                writeln!(r, "{}=hex(4):78,56,34,12", quote(v)).unwrap();
            }
            if let Some(v) = plain_vals.get(1) {
                writeln!(r, "{}=-", quote(v)).unwrap();
            }
            writeln!(r, "\"gx-new\"=\"added to {}\"", path.replace('\\', "/")).unwrap();
            r.push('\n');
            writeln!(r, "[{path}\\gxchild]\n\"v\"=dword:00000007\n").unwrap();
        }
        if i % 5 == 3 && !path.is_empty() {
            deletes.push(path.clone());
        }
    }
    // Existing keys in another case merge into the same key.
    if let Some((path, _, _)) = keys.iter().find(|(p, _, ok)| *ok && !p.is_empty()) {
        writeln!(r, "[{}]\n\"case\"=\"same key\"\n", path.to_uppercase()).unwrap();
    }
    for d in deletes {
        writeln!(r, "[-{d}]\n").unwrap();
    }
    r.push_str("[-\\GxAdded\\Many\\K150]\n\n[-\\GxAdded\\Sub]\n\n[-\\No\\Such\\Key]\n");
    r
}

#[test]
fn generated_merges_match_hivex_on_every_test_hive() {
    let hivex = have_hivex("generated_merges_match_hivex_on_every_test_hive");
    let dir = scratch("generated");
    let mut compared = 0;
    for (name, hive) in test_hives() {
        let text = scenario(&hive);
        let reg = dir.join(format!("{name}.reg"));
        std::fs::write(&reg, &text).unwrap();
        let ours = our_merge(&hive, &[&reg], None, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = check_written(&hive, &ours);
        assert!(
            report.keys.iter().any(|k| k == "\\GxAdded\\Many\\K299"),
            "{name}"
        );
        assert!(
            !report.keys.iter().any(|k| k == "\\GxAdded\\Many\\K150"),
            "{name}"
        );
        if !hivex {
            continue;
        }
        let theirs = hivex_merge(&hive, &[&reg], None, None, &dir)
            .unwrap_or_else(|e| panic!("{name}: hivexregedit --merge failed: {e}"));
        let theirs_file = dir.join(format!("{name}.hivex.hive"));
        std::fs::write(&theirs_file, &theirs).unwrap();
        let ours_file = dir.join(format!("{name}.ours.hive"));
        std::fs::write(&ours_file, &ours).unwrap();
        let expected = hivex_export(&theirs_file);
        assert_same(
            &format!("{name}: hivex reading ours"),
            &hivex_export(&ours_file),
            &expected,
        );
        assert_same(
            &format!("{name}: our export of ours"),
            &our_export(&ours),
            &expected,
        );
        compared += 1;
    }
    if hivex {
        assert_eq!(compared, test_hives().len());
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

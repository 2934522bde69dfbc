//! Our export and single-value output against hivex's, on every key of every
//! hive under tests/expected/hive (the real hives from the hivex project and
//! hives built with `hivexregedit --merge`). The expected files were made by
//! tests/expected/hive/make.sh; `live_hivexregedit` also runs hivexregedit
//! itself when it is installed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use gx_hive::{ExportOptions, Hive, export_path, print_value};

const PREFIX: &str = "HKEY_LOCAL_MACHINE\\SOFTWARE";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/expected/hive")
}

fn hives() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".hive").map(str::to_owned)
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 6,
        "expected hives missing from {}",
        dir().display()
    );
    v
}

fn open(name: &str) -> Hive {
    Hive::open(std::fs::read(dir().join(format!("{name}.hive"))).unwrap()).unwrap()
}

/// Lines "INDEX<TAB>FIELD<TAB>..." of a list file.
fn list(name: &str, file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir().join(name).join(file)).unwrap();
    text.lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn export_to_vec(hive: &Hive, path: &str, opts: &ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    export_path(hive, path, opts, &mut out).unwrap_or_else(|e| panic!("export {path}: {e}"));
    out
}

fn assert_same(what: &str, ours: &[u8], expected: &[u8]) {
    if ours != expected {
        panic!(
            "{what}: differs\n--- ours\n{}\n--- hivex\n{}",
            String::from_utf8_lossy(ours),
            String::from_utf8_lossy(expected)
        );
    }
}

fn hivexregedit_opts(prefix: Option<&str>) -> ExportOptions {
    ExportOptions {
        prefix: prefix.map(str::to_owned),
        header: true,
        ..Default::default()
    }
}

#[test]
fn every_key_of_every_hive_exports_like_hivexregedit() {
    let mut compared = 0;
    for name in hives() {
        let hive = open(&name);
        for row in list(&name, "keys.txt") {
            let (i, path) = (&row[0], &row[1]);
            let expected = std::fs::read(dir().join(&name).join(format!("{i}.reg"))).unwrap();
            let ours = export_to_vec(&hive, path, &hivexregedit_opts(None));
            assert_same(&format!("{name} {path}"), &ours, &expected);
            let expected =
                std::fs::read(dir().join(&name).join(format!("{i}.prefix.reg"))).unwrap();
            let ours = export_to_vec(&hive, path, &hivexregedit_opts(Some(PREFIX)));
            assert_same(&format!("{name} {path} with prefix"), &ours, &expected);
            compared += 2;
        }
    }
    assert!(compared > 100, "only {compared} exports compared");
}

#[test]
fn unsafe_printable_strings_and_max_depth_like_hivexregedit() {
    for name in hives() {
        let hive = open(&name);
        let opts = ExportOptions {
            unsafe_printable_strings: true,
            ..hivexregedit_opts(None)
        };
        let expected = std::fs::read(dir().join(&name).join("ups.reg")).unwrap();
        assert_same(
            &format!("{name} --unsafe-printable-strings"),
            &export_to_vec(&hive, "\\", &opts),
            &expected,
        );
        let opts = ExportOptions {
            max_depth: Some(2),
            ..hivexregedit_opts(None)
        };
        let expected = std::fs::read(dir().join(&name).join("depth2.reg")).unwrap();
        assert_same(
            &format!("{name} --max-depth 2"),
            &export_to_vec(&hive, "\\", &opts),
            &expected,
        );
    }
}

#[test]
fn single_values_print_like_hivexget() {
    let mut compared = 0;
    for name in hives() {
        let hive = open(&name);
        let values = dir().join(&name).join("values.txt");
        if !values.exists() {
            continue;
        }
        for row in list(&name, "values.txt") {
            let (i, path, vname) = (&row[0], &row[1], &row[2]);
            let node = hive.lookup(path).unwrap().unwrap();
            let mut ours = Vec::new();
            let r = print_value(&node, vname, &mut ours);
            let file = dir().join(&name).join(format!("{i}.val"));
            match std::fs::read(&file) {
                Ok(expected) => {
                    r.unwrap_or_else(|e| panic!("{name} {path} {vname}: {e}"));
                    assert_same(&format!("{name} {path} value {vname}"), &ours, &expected);
                }
                // hivexget failed on it (e.g. invalid UTF-16): so must we.
                Err(_) => assert!(
                    r.is_err(),
                    "{name} {path} {vname}: hivexget failed, we did not"
                ),
            }
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} values compared");
}

#[test]
fn live_hivexregedit() {
    if Command::new("hivexregedit").arg("--help").output().is_err() {
        gx_testdata::skip_or_fail!(
            "live_hivexregedit: hivexregedit is not installed (scripts/setup installs libwin-hivex-perl)"
        );
        return;
    }
    // The root's export holds every key; the committed files cover each
    // key's own export, so one run per hive keeps this test quick.
    for name in hives() {
        let file = dir().join(format!("{name}.hive"));
        let hive = open(&name);
        let out = Command::new("hivexregedit")
            .args(["--export", "--prefix", PREFIX])
            .arg(&file)
            .arg("\\")
            .output()
            .unwrap();
        assert!(out.status.success(), "hivexregedit failed on {name}");
        let ours = export_to_vec(&hive, "\\", &hivexregedit_opts(Some(PREFIX)));
        assert_same(&format!("live {name}"), &ours, &out.stdout);
    }
}

#[test]
fn api_on_real_hives() {
    let hive = open("windows-software");
    assert!(hive.warnings().is_empty(), "{:?}", hive.warnings());
    let cv = hive
        .lookup("microsoft\\WINDOWS NT\\currentversion")
        .unwrap()
        .unwrap();
    assert_eq!(cv.name(), "CurrentVersion");
    let pn = cv.value("productname").unwrap().unwrap();
    assert_eq!(pn.value_type(), gx_hive::types::REG_SZ);
    assert!(!pn.as_string().unwrap().is_empty());
    assert!(hive.lookup("\\Microsoft\\NoSuchKey").unwrap().is_none());
    assert_eq!(
        hive.lookup("").unwrap().unwrap().offset(),
        hive.root().offset()
    );
    assert_eq!(
        hive.lookup("\\").unwrap().unwrap().offset(),
        hive.root().offset()
    );
    assert!(cv.timestamp() > 0);

    let t = open("alltypes");
    let types = t.lookup("Types").unwrap().unwrap();
    let v = |n: &str| types.value(n).unwrap().unwrap();
    assert_eq!(v("dword").as_dword().unwrap(), 0x1234_5678);
    assert_eq!(v("dword-be").as_dword().unwrap(), 0x1234_5678);
    assert!(v("dword-short").as_dword().is_err());
    assert_eq!(v("qword").as_qword().unwrap(), 0x0102_0304_0506_0708);
    assert_eq!(v("sz").as_string().unwrap(), "Hello");
    assert_eq!(v("sz-embedded-nul").as_string().unwrap(), "A");
    assert_eq!(v("sz-euro").as_string().unwrap(), "\u{20ac}");
    assert!(v("sz-lone-surrogate").as_string().is_err());
    assert_eq!(v("multi").as_multi_string().unwrap(), ["a", "bc"]);
    assert_eq!(v("multi-empty-middle").as_multi_string().unwrap(), ["a"]);
    assert_eq!(v("").as_string().unwrap(), "def");
    assert_eq!(v("type-max").value_type(), 0xFFFF_FFFF);
    assert_eq!(v("binary").type_name(), Some("REG_BINARY"));
    assert_eq!(v("unnamed-type").type_name(), None);
    let big = t
        .lookup("Big")
        .unwrap()
        .unwrap()
        .value("big")
        .unwrap()
        .unwrap();
    let data = big.data().unwrap();
    assert_eq!(data.len(), 17000);
    assert!(data.iter().enumerate().all(|(i, &b)| b as usize == i % 251));
    // Case-insensitive through non-ASCII letters, as Windows does.
    assert!(t.lookup("ORDER\\Ä").unwrap().is_some());
    let special = open("special");
    assert!(special.lookup("zero").unwrap().is_some());
    assert!(special.root().security_descriptor().unwrap().is_some());
}

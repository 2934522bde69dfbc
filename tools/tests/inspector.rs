//! gx-inspector and gx-win-reg against what libguestfs printed for the same
//! images: tests/expected/inspector/IMAGE.xml (made by
//! tests/expected/inspector/make.sh with virt-inspector) and
//! tests/expected/win-reg/*.reg (tests/expected/win-reg/make.sh, virt-win-reg).
//! Also: the XML validates against virt-inspector's RELAX NG schema
//! (tests/expected/inspector/virt-inspector.rng, with xmllint), `--xpath`,
//! and `-i`-style mounting in gx-ls/gx-cat.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

const INSPECTOR: &str = env!("CARGO_BIN_EXE_gx-inspector");
const WIN_REG: &str = env!("CARGO_BIN_EXE_gx-win-reg");

/// An image from images/out, building the phony guests when needed.
fn image(name: &str) -> PathBuf {
    let p = gx_testdata::images().join(name);
    if !p.exists() && name.starts_with("phony-") {
        let script = gx_testdata::workspace_root().join("images/phony.sh");
        let ok = Command::new("bash")
            .arg(&script)
            .arg(gx_testdata::images())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "images/phony.sh failed");
    }
    gx_testdata::image(name)
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"))
}

/// Drop NTFS volume serial lines (16 hex digits), as libguestfs's own test does.
fn without_ntfs_uuids(xml: &str) -> String {
    xml.lines()
        .filter(|l| {
            let t = l.trim();
            !(t.starts_with("<uuid>")
                && t.ends_with("</uuid>")
                && t.len() == "<uuid></uuid>".len() + 16
                && t[6..22].bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Validate against virt-inspector.rng (guestfs-tools' RELAX NG schema of
/// virt-inspector's output, committed as test data: its header allows
/// copying): `Some(errors)` when invalid, `None` when valid (or, off CI,
/// when xmllint is missing).
fn schema_errors(xml: &str, what: &str) -> Option<String> {
    let rng = gx_testdata::expected("inspector/virt-inspector.rng");
    if Command::new("xmllint").arg("--version").output().is_err() {
        gx_testdata::skip_or_fail!(
            "schema validation of {what}: xmllint is not installed (libxml2-utils)"
        );
        return None;
    }
    let dir = std::env::temp_dir().join(format!("gx-inspector-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(format!("{}.xml", what.replace('/', "_")));
    std::fs::write(&file, xml).expect("write xml");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--relaxng")
        .arg(&rng)
        .arg(&file)
        .output()
        .expect("xmllint");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Our XML must validate -- unless virt-inspector's own output for the image
/// does not either (the schema's distro list lacks some distros, e.g. rocky).
fn validate(got: &str, want: &str, what: &str) {
    if let Some(e) = schema_errors(got, what) {
        let theirs = schema_errors(want, &format!("{what}-expected"));
        assert!(
            theirs.is_some(),
            "{what}: output does not validate against virt-inspector.rng:\n{e}"
        );
        eprintln!(
            "note: {what}: neither virt-inspector's nor our XML validates against the schema:\n{e}"
        );
    }
}

#[test]
fn inspector_xml_equals_virt_inspector() {
    let dir = gx_testdata::expected("inspector");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/expected/inspector")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".xml").map(str::to_string))
        .collect();
    names.sort();
    assert!(
        names.iter().any(|n| n == "linux.img"),
        "expected files present"
    );
    let mut failures = Vec::new();
    for img in &names {
        let path = image(img);
        let want = std::fs::read_to_string(dir.join(format!("{img}.xml"))).expect("expected xml");
        let extra = std::fs::read_to_string(dir.join("ARGS")).unwrap_or_default();
        let mut args: Vec<&str> = extra
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(i, _)| i == img)
            .flat_map(|(_, a)| a.split_whitespace())
            .collect();
        args.extend(["--format=raw", "-a", path.to_str().expect("utf-8 path")]);
        let out = run(INSPECTOR, &args);
        assert!(
            out.status.success(),
            "{img}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).expect("utf-8 xml");
        validate(&got, &want, img);
        if without_ntfs_uuids(&got) != without_ntfs_uuids(&want) {
            failures.push(format!(
                "{img}:\n--- virt-inspector\n{want}\n--- gx-inspector\n{got}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_applications_and_xpath() {
    let linux = image("linux.img");
    let out = run(
        INSPECTOR,
        &[
            "--no-applications",
            "--no-icon",
            "-a",
            linux.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(!xml.contains("<applications>"));
    assert!(xml.contains("<hostname>debian12.test</hostname>"));

    // --no-icon leaves out the icon the guest has (compared with
    // virt-inspector's in inspector_xml_equals_virt_inspector).
    let debian = image("phony-debian.img");
    let with = run(INSPECTOR, &["-a", debian.to_str().unwrap()]);
    let without = run(INSPECTOR, &["--no-icon", "-a", debian.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&with.stdout).contains("<icon>"));
    assert!(!String::from_utf8_lossy(&without.stdout).contains("<icon>"));

    let xpath = |q: &str| {
        let mut child = Command::new(INSPECTOR)
            .args(["--xpath", q])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(xml.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{q}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(xpath("//osinfo"), "<osinfo>debian12</osinfo>\n");
    assert_eq!(
        xpath("string(/operatingsystems/operatingsystem/root)"),
        "/dev/sda2\n"
    );
    assert_eq!(
        xpath("//filesystem[@dev='/dev/sda1']/label/text()"),
        "EFI\n"
    );
    assert_eq!(xpath("count(//mountpoint)"), "2\n");
}

#[test]
fn inspector_without_an_os_fails() {
    let out = run(INSPECTOR, &["-a", image("multi.img").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no operating system could be detected"));
}

#[test]
fn win_reg_equals_virt_win_reg() {
    let dir = gx_testdata::expected("win-reg");
    let commands =
        std::fs::read_to_string(dir.join("COMMANDS")).expect("tests/expected/win-reg/COMMANDS");
    let win = image("windows.img");
    let mut checked = 0;
    for line in commands
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        // OUTFILE<TAB>arg<TAB>arg...; the image is added as the first disk.
        let mut f = line.split('\t');
        let outfile = f.next().unwrap();
        let args: Vec<&str> = f.collect();
        let mut all: Vec<&str> = Vec::new();
        let (opts, rest): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with("--"));
        all.extend(opts);
        all.push(win.to_str().unwrap());
        all.extend(rest);
        let out = run(WIN_REG, &all);
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = std::fs::read(dir.join(outfile)).expect("expected output");
        assert!(
            out.stdout == want,
            "{line}:\n--- virt-win-reg\n{}\n--- gx-win-reg\n{}",
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&out.stdout)
        );
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn ls_and_cat_inspect_without_m() {
    let linux = image("linux.img");
    let out = run(
        env!("CARGO_BIN_EXE_gx-ls"),
        &["-a", linux.to_str().unwrap(), "/boot/efi/EFI"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "BOOT\ndebian\n");
    let win = image("windows.img");
    let out = run(
        env!("CARGO_BIN_EXE_gx-cat"),
        &[
            "-a",
            win.to_str().unwrap(),
            r"c:\USERS\test\Documents\NOTES.TXT",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"Guestx test notes\r\n");
    let out = run(
        env!("CARGO_BIN_EXE_gx-cat"),
        &["-a", win.to_str().unwrap(), r"D:\x"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("drive 'd:' not found."));
    let out = run(
        env!("CARGO_BIN_EXE_gx-ls"),
        &["-a", image("multi.img").to_str().unwrap(), "/"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no operating system was found on this disk")
    );
}

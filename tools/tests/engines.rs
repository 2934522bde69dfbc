//! `--engine`: gx-ls, gx-cat and gx-df print byte-identical output whichever
//! engine answers (ext4 and XFS), and `auto` (the default) reaches the
//! appliance for a filesystem the direct engine cannot read (gx-df on an
//! exfat image).
//!
//! Each `--engine appliance` run boots the appliance (QEMU TCG here), so the
//! list is short. Skips, saying why, when the appliance cannot run here
//! (no kernel, no QEMU, or no gx-agent binary built next to the tools).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const LS: &str = env!("CARGO_BIN_EXE_gx-ls");
const CAT: &str = env!("CARGO_BIN_EXE_gx-cat");
const DF: &str = env!("CARGO_BIN_EXE_gx-df");

fn appliance_missing() -> Option<String> {
    gx_testdata::appliance_missing(LS)
}

fn run(bin: &str, args: &[&str]) -> Output {
    let out = Command::new(bin)
        // The engine comes from the command line in these tests, not the
        // caller's environment.
        .env_remove("GX_ENGINE")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn tools_print_the_same_on_both_engines() {
    if let Some(why) = appliance_missing() {
        gx_testdata::skip_or_fail!("tools_print_the_same_on_both_engines: {why}");
        return;
    }
    let img = gx_testdata::image("linux.qcow2");
    let img = img.to_str().unwrap();
    let before = gx_testdata::file_digest(Path::new(img));
    let xfs = gx_testdata::image("xfs.img");
    let xfs = xfs.to_str().unwrap();
    let cases: [(&str, Vec<&str>); 6] = [
        (LS, vec!["-a", img, "-m", "/dev/sda2", "-l", "-R", "/etc"]),
        (CAT, vec!["-a", img, "-m", "/dev/sda2", "/etc/hostname"]),
        (DF, vec!["-a", img]),
        (
            LS,
            vec![
                "--format=raw",
                "-a",
                xfs,
                "-m",
                "/dev/sda",
                "-lR",
                "/links",
                "/devs",
                "/files",
            ],
        ),
        (
            CAT,
            vec!["--format=raw", "-a", xfs, "-m", "/dev/sda", "/links/short"],
        ),
        (DF, vec!["--format=raw", "-a", xfs]),
    ];
    for (bin, args) in &cases {
        let mut direct = vec!["--engine", "direct"];
        direct.extend(args);
        let mut app = vec!["--engine", "appliance"];
        app.extend(args);
        let d = run(bin, &direct);
        let a = run(bin, &app);
        assert!(!d.stdout.is_empty(), "{bin} {args:?}: no output");
        assert_eq!(
            String::from_utf8_lossy(&d.stdout),
            String::from_utf8_lossy(&a.stdout),
            "{bin} {args:?}: direct vs appliance"
        );
    }
    assert_eq!(
        before,
        gx_testdata::file_digest(Path::new(img)),
        "{img} changed"
    );
}

#[test]
fn df_auto_reaches_the_appliance_for_exfat() {
    if let Some(why) = appliance_missing() {
        gx_testdata::skip_or_fail!("df_auto_reaches_the_appliance_for_exfat: {why}");
        return;
    }
    let img = gx_testdata::image("probe/exfat.img");
    let s = img.to_str().unwrap();
    let before = gx_testdata::file_digest(&img);
    // Direct alone cannot read exfat: gx-df leaves the filesystem out.
    let d = run(DF, &["--engine", "direct", "--format=raw", "-a", s]);
    let d = String::from_utf8_lossy(&d.stdout).into_owned();
    assert!(!d.contains("exfat.img:/dev/sda"), "{d}");
    // auto is the default.
    let a = run(DF, &["--format=raw", "-a", s]);
    let a = String::from_utf8_lossy(&a.stdout).into_owned();
    let row = a
        .lines()
        .find(|l| l.starts_with("exfat.img:/dev/sda"))
        .unwrap_or_else(|| panic!("no exfat row in:\n{a}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.len(), 5, "{row}");
    assert!(cols[1].parse::<u64>().unwrap() > 0, "{row}");
    assert_eq!(before, gx_testdata::file_digest(&img), "exfat.img changed");
}

//! Damaged and hostile inputs: every tool gives a clear error (or, where
//! libguestfs reads on, an answer), a non-zero exit when it fails, never a
//! panic or a hang, and the image is byte-identical afterwards.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Run a tool with a deadline; a hang fails the test instead of blocking it.
fn run_bounded(bin: &str, args: &[&str], cwd: &Path) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{bin} {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_no_panic(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{what}: panicked: {err}"
    );
    assert_ne!(out.status.code(), Some(101), "{what}: exited like a panic");
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1), "{what}: exit status");
        assert!(
            err.contains(": error: "),
            "{what}: no clear error message: {err:?}"
        );
    }
}

const LS: &str = env!("CARGO_BIN_EXE_gx-ls");
const CAT: &str = env!("CARGO_BIN_EXE_gx-cat");
const DF: &str = env!("CARGO_BIN_EXE_gx-df");
const FS: &str = env!("CARGO_BIN_EXE_gx-filesystems");

#[test]
fn damaged_images_give_clear_errors_and_stay_unchanged() {
    let dir = gx_testdata::images().join("damaged");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.len() >= 8,
        "expected the damaged image set, found {names:?}"
    );
    for name in &names {
        let path = dir.join(name);
        let before = gx_testdata::file_digest(&path);
        let runs: Vec<(&str, Vec<&str>)> = vec![
            (FS, vec!["-a", name, "--all", "--long"]),
            (DF, vec!["-a", name]),
            (LS, vec!["-a", name, "-m", "/dev/sda", "-lR", "/"]),
            (LS, vec!["-a", name, "-m", "/dev/sda1", "-lR", "/"]),
            (CAT, vec!["-a", name, "-m", "/dev/sda", "/etc/hostname"]),
            (LS, vec!["--format=raw", "-a", name, "-m", "/dev/sda", "/"]),
        ];
        for (bin, args) in runs {
            let out = run_bounded(bin, &args, &dir);
            check_no_panic(&format!("{bin} {args:?}"), &out);
        }
        assert_eq!(
            before,
            gx_testdata::file_digest(&path),
            "{name} was modified"
        );
    }
}

#[test]
fn specific_damage_is_reported_as_such() {
    let dir = gx_testdata::images().join("damaged");
    let out = run_bounded(FS, &["-a", "both-gpt-bad.img"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("both-gpt-bad.img") && err.contains("CRC"),
        "{err}"
    );

    let out = run_bounded(FS, &["-a", "truncated-header.qcow2"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));

    // A directory that contains itself: listing recursively stops with an error.
    let out = run_bounded(
        LS,
        &["-a", "loop-ext4.img", "-m", "/dev/sda", "-lR", "/"],
        &dir,
    );
    check_no_panic("loop-ext4", &out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a directory loop must be an error"
    );
    let out = run_bounded(
        LS,
        &["-a", "loop-ext4.img", "-m", "/dev/sda", "-R", "/"],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a directory loop must be an error"
    );
}

#[test]
fn a_raw_image_with_a_qcow2_header_is_raw_when_told() {
    // CVE-2010-3851: with --format=raw the header must never be interpreted
    // (it names a host file as its backing file).
    let dir = gx_testdata::images().join("damaged");
    let out = run_bounded(
        FS,
        &[
            "--format=raw",
            "-a",
            "raw-with-qcow2-header.img",
            "--blkdevs",
            "--long",
        ],
        &dir,
    );
    assert!(out.status.success());
    let size = std::fs::metadata(dir.join("raw-with-qcow2-header.img"))
        .unwrap()
        .len();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(" {size} ")),
        "device size must be the file size: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn usage_errors_exit_1() {
    let img = gx_testdata::image("linux.img");
    let img = img.to_str().unwrap();
    for (bin, args) in [
        (LS, vec!["-a", img, "-m", "/dev/sda2", "--csv", "/etc"]),
        (
            LS,
            vec!["-a", img, "-m", "/dev/sda2", "-lR", "-h", "--csv", "/etc"],
        ),
        (DF, vec!["-a", img, "-h", "--csv"]),
        (LS, vec!["-a", img, "--format=vmdk", "/"]),
        (CAT, vec!["-a", img, "-m", "/dev/sdz9", "/etc/hostname"]),
        (CAT, vec!["-a", "/nonexistent.img", "-m", "/dev/sda", "/x"]),
    ] {
        let out = run_bounded(bin, &args, Path::new("/"));
        assert_eq!(out.status.code(), Some(1), "{bin} {args:?}");
        check_no_panic(bin, &out);
    }
}

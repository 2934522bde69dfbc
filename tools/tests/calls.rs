//! gx-fish runs the scripts in tests/expected/calls/ on the test images and
//! prints exactly what guestfish printed for them (recorded by
//! tests/expected/calls/make-calls.sh with the real libguestfs): the API's
//! read calls, their argument parsing and each return kind's output format,
//! answered by the direct engine without booting anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn calls_dir() -> PathBuf {
    gx_testdata::workspace_root().join("tests/expected/calls")
}

/// The (name, image, options) list make-calls.sh runs.
fn cases() -> Vec<(String, String, Vec<String>)> {
    let script = std::fs::read_to_string(calls_dir().join("make-calls.sh")).unwrap();
    let list = script
        .split("<<'LIST'\n")
        .nth(1)
        .and_then(|s| s.split("\nLIST").next())
        .expect("make-calls.sh has a LIST here-document");
    list.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut w = l.split_whitespace().map(str::to_string);
            let name = w.next().unwrap();
            let img = w.next().unwrap();
            (name, img, w.collect())
        })
        .collect()
}

fn gx_fish() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gx-fish"))
}

#[test]
fn gx_fish_prints_what_guestfish_prints() {
    let images = gx_testdata::images();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, img, opts) in cases() {
        let dir = calls_dir();
        let want_out = std::fs::read(dir.join(format!("{name}.out"))).unwrap();
        let want_rc: i32 = std::fs::read_to_string(dir.join(format!("{name}.rc")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let want_err = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
        let before = gx_testdata::file_digest(&images.join(&img));
        let script = std::fs::File::open(dir.join(format!("{name}.fish"))).unwrap();
        let out = Command::new(gx_fish())
            .current_dir(images)
            .env("GX_ENGINE", "direct")
            .arg("--ro")
            .args(&opts)
            .args(["-a", &img])
            .stdin(Stdio::from(script))
            .output()
            .unwrap();
        ran += 1;
        let rc = out.status.code().unwrap_or(-1);
        let err = String::from_utf8_lossy(&out.stderr);
        if out.stdout != want_out {
            let got = String::from_utf8_lossy(&out.stdout);
            let want = String::from_utf8_lossy(&want_out);
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
            failures.push(format!(
                "{name}: stdout differs from guestfish's at line {}: got {:?}, want {:?} \
                 (stderr: {err})",
                first + 1,
                got.lines().nth(first),
                want.lines().nth(first)
            ));
        }
        if rc != want_rc {
            failures.push(format!("{name}: exit {rc}, guestfish exited {want_rc}"));
        }
        // guestfish prefixes a script's errors with FILE:LINE; compare
        // what follows.
        for line in want_err.lines() {
            let msg = line.splitn(3, ':').nth(2).map(str::trim).unwrap_or(line);
            if !err.contains(msg) {
                failures.push(format!("{name}: stderr lacks {msg:?}: {err}"));
            }
        }
        assert_eq!(
            before,
            gx_testdata::file_digest(&images.join(&img)),
            "{img} changed"
        );
    }
    assert!(ran >= 3, "only {ran} scripts");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

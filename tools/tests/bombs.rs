//! Resource bombs (images/out/bombs, see images/build.sh): images of a few
//! hundred KiB whose partition table, filesystem, registry hive, rpm
//! database or qcow2 header claims an enormous size. Every tool must answer
//! each quickly, in little memory, with a clear error where the claim is
//! impossible to honour, and leave the image byte-identical.
//!
//! Peak memory is the children's `ru_maxrss`: this file holds one test, so
//! the only children of this process are the tools it runs, one at a time,
//! and the high-water mark after each says whether that one went over.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const LS: &str = env!("CARGO_BIN_EXE_gx-ls");
const CAT: &str = env!("CARGO_BIN_EXE_gx-cat");
const DF: &str = env!("CARGO_BIN_EXE_gx-df");
const FS: &str = env!("CARGO_BIN_EXE_gx-filesystems");
const INSPECTOR: &str = env!("CARGO_BIN_EXE_gx-inspector");
const WINREG: &str = env!("CARGO_BIN_EXE_gx-win-reg");

/// The goal is under 1 s (release build); debug builds of our crates on a
/// busy 2-core CI machine get headroom, and `scripts/bench-bombs` measures
/// the release tools.
const DEADLINE: Duration = Duration::from_secs(20);
const MAX_RSS_KIB: i64 = 100 * 1024;

fn children_maxrss_kib() -> i64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss()
}

/// Runs a tool on the direct engine (the appliance would take the hostile
/// filesystem into its VM, which is the point of it, but slowly).
fn run(bin: &str, args: &[&str], dir: &Path) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("GX_ENGINE", "direct")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes on threads so a chatty tool cannot block on them.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).unwrap();
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).unwrap();
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    let out = Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    };
    (out, took)
}

/// For each bomb: a run that must fail, and what its message must say
/// (the field, or what was refused). Bombs whose claim is possible (a huge
/// but well-formed FAT32, a filesystem at the group limit, a directory of
/// holes) have none: those must just be quick and small.
const MUST_FAIL: &[(&str, &str, &[&str], &str)] = &[
    (
        "ext4-groups.qcow2",
        LS,
        &["-m", "/dev/sda", "/"],
        "block groups",
    ),
    (
        "ext4-journal.qcow2",
        LS,
        &["-m", "/dev/sda", "/"],
        "journal",
    ),
    (
        "fat-chain.qcow2",
        CAT,
        &["-m", "/dev/sda", "/BIG.BIN"],
        "pieces",
    ),
    (
        "ntfs-record.qcow2",
        LS,
        &["-m", "/dev/sda:/:ro:ntfs", "/"],
        "clusters_per_mft_record",
    ),
    (
        "ntfs-index.qcow2",
        LS,
        &["-m", "/dev/sda", "/"],
        "index_record_size",
    ),
    ("gpt-entries.qcow2", FS, &[], "partition entries"),
    ("qcow2-l1.qcow2", FS, &[], "L1 table"),
    ("qcow2-refcount.qcow2", FS, &[], "refcount_table_clusters"),
    ("hive.qcow2", WINREG, &["HKLM\\SOFTWARE"], "hbin"),
    ("hive.qcow2", INSPECTOR, &[], "registry hive"),
    ("rpmdb.qcow2", INSPECTOR, &[], "/var/lib/rpm/Packages"),
];

#[test]
fn bombs_give_quick_small_clear_answers() {
    let dir = gx_testdata::images().join("bombs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".qcow2"))
        .collect();
    names.sort();
    assert!(names.len() >= 13, "expected the bomb set, found {names:?}");
    let mut report = Vec::new();
    for name in &names {
        let path = dir.join(name);
        let before = gx_testdata::file_digest(&path);
        let mut runs: Vec<(&str, Vec<String>)> = vec![
            (FS, vec!["--all".into(), "--long".into()]),
            (DF, vec![]),
            (
                LS,
                vec!["-m".into(), "/dev/sda".into(), "-lR".into(), "/".into()],
            ),
            (
                CAT,
                vec!["-m".into(), "/dev/sda".into(), "/etc/hostname".into()],
            ),
            (INSPECTOR, vec![]),
            (WINREG, vec!["HKLM\\SYSTEM".into()]),
        ];
        // Each filesystem parser on every bomb, whatever the probe says.
        for t in ["ext4", "vfat", "ntfs"] {
            runs.push((
                LS,
                vec!["-m".into(), format!("/dev/sda:/:ro:{t}"), "/".into()],
            ));
        }
        for &(bomb, bin, args, _) in MUST_FAIL {
            if bomb == name {
                runs.push((bin, args.iter().map(|a| a.to_string()).collect()));
            }
        }
        for (bin, args) in runs {
            let mut full = vec!["-a", name.as_str()];
            if bin == WINREG {
                full = vec![name.as_str()];
            }
            full.extend(args.iter().map(String::as_str));
            let what = format!(
                "{} {}",
                Path::new(bin).file_name().unwrap().to_string_lossy(),
                full.join(" ")
            );
            let (out, took) = run(bin, &full, &dir);
            let err = String::from_utf8_lossy(&out.stderr);
            let rss = children_maxrss_kib();
            assert!(
                rss < MAX_RSS_KIB,
                "{what}: peak memory {rss} KiB (limit {MAX_RSS_KIB})"
            );
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{what}: ended with {:?}: {err}",
                out.status
            );
            assert!(!err.contains("panicked"), "{what}: {err}");
            if !out.status.success() {
                assert!(err.contains("error"), "{what}: no clear error: {err:?}");
            }
            if let Some(&(_, _, _, want)) = MUST_FAIL
                .iter()
                .find(|(b, bin2, a, _)| b == name && *bin2 == bin && full.ends_with(a))
            {
                assert_eq!(out.status.code(), Some(1), "{what} must fail: {err}");
                assert!(
                    err.contains(want),
                    "{what}: error should say {want:?}: {err}"
                );
            }
            report.push(format!("{what}: {} ms", took.as_millis()));
        }
        assert_eq!(
            before,
            gx_testdata::file_digest(&path),
            "{name} was modified"
        );
    }
    eprintln!("{}", report.join("\n"));
}

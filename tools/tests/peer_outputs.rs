//! Each tool's output against what the real libguestfs tool printed for the
//! same image and arguments. The expected files and the exact commands that
//! made them are in tests/expected/tools/ (made by tests/expected/make-tools.sh
//! with libguestfs under TCG); every `virt-X` line of COMMANDS is run here as
//! `gx-X` with the same arguments, in the images directory, and stdout and
//! the exit status must match byte for byte. Outputs that depend on the time
//! (`--time-relative`, `--time-days`) were made with the tool's clock frozen
//! by libfaketime, and are compared under the same frozen clock.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

/// Outputs we knowingly do not reproduce, with the reason.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

fn tool_binary(virt: &str) -> Option<&'static str> {
    Some(match virt {
        "virt-ls" => env!("CARGO_BIN_EXE_gx-ls"),
        "virt-cat" => env!("CARGO_BIN_EXE_gx-cat"),
        "virt-df" => env!("CARGO_BIN_EXE_gx-df"),
        "virt-filesystems" => env!("CARGO_BIN_EXE_gx-filesystems"),
        _ => return None,
    })
}

/// libfaketime (installed by scripts/setup, as for images/build.sh).
fn faketime_lib() -> String {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.exists());
    match found {
        Some(p) => p.display().to_string(),
        None => {
            panic!("libfaketime is not installed (run scripts/setup): needed for .faketime outputs")
        }
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn tools_print_what_libguestfs_prints() {
    let expected_dir = gx_testdata::expected("tools");
    let commands = std::fs::read_to_string(expected_dir.join("COMMANDS"))
        .expect("tests/expected/tools/COMMANDS (made by tests/expected/make-tools.sh)");
    let images = gx_testdata::images();
    // "# Names ending in .faketime were made with the tool's clock frozen at
    // 2025-06-01 12:00:00" (the rest of the line in parentheses).
    let fake_now = commands
        .lines()
        .find_map(|l| l.split_once("clock frozen at ").map(|(_, t)| t))
        .map(|t| t.split(" (").next().unwrap_or(t).trim().to_string());
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in commands
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut f = line.splitn(3, '\t');
        let (Some(name), Some(rc), Some(cmdline)) = (f.next(), f.next(), f.next()) else {
            panic!("bad COMMANDS line: {line:?}");
        };
        if let Some((_, why)) = KNOWN_DIFFERENCES.iter().find(|(n, _)| *n == name) {
            eprintln!("skip {name}: {why}");
            continue;
        }
        let words = split_words(cmdline);
        let Some(bin) = words.first().and_then(|w| tool_binary(w)) else {
            continue;
        };
        let mut cmd = Command::new(bin);
        cmd.args(&words[1..]).current_dir(images).env("TZ", "UTC");
        if name.contains(".faketime") {
            // The clock libguestfs's tool ran under (see make-tools.sh).
            let now = fake_now.as_deref().expect("COMMANDS names the frozen time");
            cmd.env("LD_PRELOAD", faketime_lib())
                .env("FAKETIME", now)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("run {bin}: {e}"));
        checked += 1;
        let want_ok = rc == "0";
        if out.status.success() != want_ok {
            failures.push(format!(
                "{name}: exit status {:?}, libguestfs exited {rc}\n  command: {cmdline}\n  stderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let path = expected_dir.join(name);
        let matches = if let Some(base) = name.strip_suffix(".sha256") {
            let want = std::fs::read_to_string(&path).unwrap();
            let got = format!("{}  {}\n", sha256_hex(&out.stdout), out.stdout.len());
            if want != got {
                failures.push(format!("{base}: sha256/length {got:?}, expected {want:?}"));
            }
            continue;
        } else {
            let want = std::fs::read(&path).unwrap();
            if lists_a_mount_root(&words) {
                normalise_root_listing(&want) == normalise_root_listing(&out.stdout)
            } else {
                want == out.stdout
            }
        };
        if !matches {
            failures.push(format!(
                "{name}: output differs\n  command: {cmdline}\n{}",
                diff(&path, &out.stdout)
            ));
        }
    }
    assert!(checked > 0, "no virt-* commands found in COMMANDS");
    assert!(
        failures.is_empty(),
        "{} of {checked} outputs differ from libguestfs:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// COMMANDS joins arguments with spaces; the only argument with spaces in it
/// is a guest path, so a word that follows a path and is neither an option
/// nor another path continues that path.
fn split_words(cmdline: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in cmdline.split(' ') {
        let continues = words.last().is_some_and(|prev| {
            prev.starts_with('/')
                && !w.starts_with('-')
                && !w.starts_with('/')
                && words.len() >= 2
                && words[words.len() - 2] != "-m"
                && words[words.len() - 2] != "-a"
        });
        if continues {
            let last = words.len() - 1;
            words[last].push(' ');
            words[last].push_str(w);
        } else {
            words.push(w.to_string());
        }
    }
    words
}

/// `virt-ls -l /` runs `ls -la` on the mountpoint in the appliance, whose `..`
/// is the appliance's own root (its link count and time change from run to
/// run, and its width pads the link-count column); we show the guest's root
/// there. Such listings are compared without the `..` line, without the
/// `total` line (which counts `..`'s blocks) and with runs of spaces folded.
fn lists_a_mount_root(words: &[String]) -> bool {
    words.iter().any(|w| w == "-l") && words.last().is_some_and(|w| w == "/")
}

fn normalise_root_listing(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.ends_with(" ..") && !l.starts_with("total "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A unified diff (via diff(1) when present) of expected vs got.
fn diff(expected: &Path, got: &[u8]) -> String {
    let tmp = std::env::temp_dir().join(format!("gx-peer-{}", std::process::id()));
    std::fs::write(&tmp, got).unwrap();
    let d = Command::new("diff")
        .arg("-u")
        .arg(expected)
        .arg(&tmp)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|_| "(diff not available)".into());
    let _ = std::fs::remove_file(&tmp);
    d.lines().take(40).collect::<Vec<_>>().join("\n")
}

//! The direct and appliance engines agree call by call on the LVM, LUKS and
//! XFS guests: gx-fish runs the same calls with `GX_ENGINE=direct` and with
//! `GX_ENGINE=appliance` (the appliance answers with the kernel's LVM,
//! dm-crypt and XFS, and lvm/cryptsetup), and each call's output must be the
//! same (one named exception: see `known_difference`). The scripts of
//! tests/expected/calls (lvm-rhel6, lvm-rhel9, lvm-span, xfs: also compared
//! with guestfish's output by calls.rs) are reused; the LUKS guests
//! (lvm-on-luks, lvm-on-luks1, luks-on-lvm, lvm-rhel9-luks) have their own
//! calls below, whose passphrase gx-fish reads from stdin as
//! `cryptsetup-open` asks for it.
//!
//! The calls go on the command line (separated by `:`), each preceded by an
//! `echo ==== CALL` marker, so the output splits into one piece per call.
//! Each `--engine appliance` run boots the appliance (QEMU TCG here). Skips,
//! saying why, when the appliance cannot run here; fails instead under CI.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

const FISH: &str = env!("CARGO_BIN_EXE_gx-fish");
const MARK: &str = "==== ";

fn appliance_missing() -> Option<String> {
    gx_testdata::appliance_missing(FISH)
}

/// The calls of a gx-fish script: one word list per line, without comments,
/// blank lines and `echo`.
fn calls_of(script: &str) -> Vec<Vec<String>> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("echo "))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

struct Run {
    /// (call, its output), in order, for the calls that ran.
    calls: Vec<(String, String)>,
    stderr: String,
    code: Option<i32>,
}

fn run(engine: &str, drives: &[&str], calls: &[Vec<String>], stdin: &str) -> Run {
    let mut args: Vec<String> = vec!["--ro".into(), "--format=raw".into()];
    for d in drives {
        args.push("-a".into());
        args.push((*d).into());
    }
    for (i, c) in calls.iter().enumerate() {
        if i > 0 {
            args.push(":".into());
        }
        args.push("echo".into());
        args.push(MARK.trim().into());
        args.extend(c.iter().cloned());
        args.push(":".into());
        args.extend(c.iter().cloned());
    }
    let mut child = Command::new(FISH)
        .current_dir(gx_testdata::images())
        .env("GX_ENGINE", engine)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut calls = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(call) = line.strip_prefix(MARK) {
            calls.push((call.trim_end().to_string(), String::new()));
        } else if let Some((_, o)) = calls.last_mut() {
            o.push_str(line);
        }
    }
    Run {
        calls,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

/// The one difference we knowingly leave: XFS and FAT report their device
/// number as `f_fsid`. The direct engine gives the number libguestfs's
/// appliance has (virtio-scsi: /dev/sdX, major 8; tests/expected/calls/*.out
/// hold guestfish's values and calls.rs compares them), while our appliance's
/// disks are virtio-blk (/dev/vdX, another major). Accepted only for
/// `statvfs`, when `fsid` is the only line that differs, the direct value is
/// major 8 and both have the same minor (the same partition).
fn known_difference(call: &str, direct: &str, appliance: &str) -> bool {
    if !call.starts_with("statvfs ") {
        return false;
    }
    let (d, a): (Vec<&str>, Vec<&str>) = (direct.lines().collect(), appliance.lines().collect());
    if d.len() != a.len() {
        return false;
    }
    let mut fsids = None;
    for (dl, al) in d.iter().zip(&a) {
        if dl == al {
            continue;
        }
        match (dl.strip_prefix("fsid: "), al.strip_prefix("fsid: ")) {
            (Some(x), Some(y)) if fsids.is_none() => fsids = Some((x, y)),
            _ => return false,
        }
    }
    let Some((Ok(x), Ok(y))) = fsids.map(|(x, y)| (x.parse::<u64>(), y.parse::<u64>())) else {
        return false;
    };
    // Old-style encoded dev_t (huge_encode_dev of a small number): major << 8 | minor.
    x >> 8 == 8 && y >> 8 != 8 && x & 0xff == y & 0xff && y < 1 << 16
}

/// Runs `calls` on both engines; returns what differs, call by call.
fn compare(what: &str, drives: &[&str], calls: &[Vec<String>], stdin: &str) -> Vec<String> {
    let before: Vec<u64> = drives
        .iter()
        .map(|d| gx_testdata::file_digest(&gx_testdata::image(d)))
        .collect();
    let d = run("direct", drives, calls, stdin);
    let a = run("appliance", drives, calls, stdin);
    let mut diffs = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let call = c.join(" ");
        match (d.calls.get(i), a.calls.get(i)) {
            (Some((_, dout)), Some((_, aout))) if dout == aout => {}
            (Some((_, dout)), Some((_, aout))) if known_difference(&call, dout, aout) => {
                eprintln!(
                    "{what}: `{call}`: f_fsid of a partition differs by the disk's major \
                     number only (see known_difference)"
                );
            }
            (Some((_, dout)), Some((_, aout))) => diffs.push(format!(
                "{what}: `{call}`\n--- direct\n{dout}--- appliance\n{aout}"
            )),
            (dc, ac) => {
                diffs.push(format!(
                    "{what}: `{call}` ran on {} (direct exit {:?}: {}; appliance exit {:?}: {})",
                    match (dc.is_some(), ac.is_some()) {
                        (true, false) => "direct only",
                        (false, true) => "the appliance only",
                        _ => "neither",
                    },
                    d.code,
                    d.stderr.trim(),
                    a.code,
                    a.stderr.trim()
                ));
                break;
            }
        }
    }
    if d.code != Some(0) || a.code != Some(0) {
        diffs.push(format!(
            "{what}: exit direct {:?} ({}), appliance {:?} ({})",
            d.code,
            d.stderr.trim(),
            a.code,
            a.stderr.trim()
        ));
    }
    assert!(
        d.calls.len() >= calls.len().min(1),
        "{what}: no output at all from the direct engine: {}",
        d.stderr
    );
    for (dr, b) in drives.iter().zip(before) {
        assert_eq!(
            b,
            gx_testdata::file_digest(&gx_testdata::image(dr)),
            "{dr} changed"
        );
    }
    diffs
}

fn script(name: &str) -> Vec<Vec<String>> {
    let p = gx_testdata::workspace_root().join(format!("tests/expected/calls/{name}.fish"));
    calls_of(&std::fs::read_to_string(p).unwrap())
}

#[test]
fn engines_agree_on_lvm_and_xfs() {
    if let Some(why) = appliance_missing() {
        gx_testdata::skip_or_fail!("engines_agree_on_lvm_and_xfs: {why}");
        return;
    }
    let cases: [(&str, &[&str]); 4] = [
        ("lvm-rhel6", &["lvm-rhel6.img"]),
        ("lvm-rhel9", &["lvm-rhel9.img"]),
        ("lvm-span", &["lvm-span-a.img", "lvm-span-b.img"]),
        ("xfs", &["xfs.img"]),
    ];
    let mut diffs = Vec::new();
    for (name, drives) in cases {
        let calls = script(name);
        assert!(calls.len() > 10, "{name}: {} calls", calls.len());
        diffs.extend(compare(name, drives, &calls, ""));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// LVM on LUKS2 (Argon2id) and on LUKS1, LUKS2 on LVM: the device-mapper
/// names, the LVs found once the container is open, and reads through both.
const LVM_ON_LUKS: &str = "
run
list-filesystems
vfs-type /dev/sda2
luks-uuid /dev/sda2
cryptsetup-open /dev/sda2 luks
list-dm-devices
vg-activate-all true
lvs
vgs
pvs
list-filesystems
vfs-type /dev/vg_crypt/lv_root
vfs-label /dev/vg_crypt/lv_root
vfs-uuid /dev/mapper/vg_crypt-lv_swap
blockdev-getsize64 /dev/mapper/luks
blockdev-getsize64 /dev/vg_crypt/lv_root
mount-ro /dev/vg_crypt/lv_root /
cat /secret.txt
ls /etc
cat /etc/sysconfig/network
checksum sha256 /bin/ls
statvfs /
mount-ro /dev/sda1 /boot
ls /boot/grub
";

const LUKS_ON_LVM: &str = "
run
lvs
list-filesystems
vfs-type /dev/vg-enc/secret-lv
luks-uuid /dev/vg-enc/secret-lv
cryptsetup-open /dev/vg-enc/secret-lv secret
list-dm-devices
list-filesystems
vfs-label /dev/mapper/secret
blockdev-getsize64 /dev/mapper/secret
mount-ro /dev/mapper/secret /
cat /secret.txt
statvfs /
umount /
mount-ro /dev/vg-enc/plain /
cat /plain.txt
";

/// The RHEL 9 style guest with its PV inside LUKS2: XFS read through LVM
/// through dm-crypt, and inspection once the container is open.
const RHEL9_LUKS: &str = "
run
list-filesystems
vfs-type /dev/sda3
luks-uuid /dev/sda3
cryptsetup-open /dev/sda3 luks-9e9e9e9e-1111-4000-8000-000000000004
list-dm-devices
vg-activate-all true
lvs
vgs
pvs
list-filesystems
vfs-type /dev/rhel/root
vfs-uuid /dev/mapper/rhel-root
blockdev-getsize64 /dev/rhel/root
blockdev-getsize64 /dev/mapper/luks-9e9e9e9e-1111-4000-8000-000000000004
mount-ro /dev/rhel/root /
mount-ro /dev/sda2 /boot
cat /etc/os-release
ls /etc
checksum sha256 /var/lib/rpm/rpmdb.sqlite
statvfs /
ls /boot/loader/entries
umount-all
inspect-os
inspect-get-product-name /dev/rhel/root
inspect-get-mountpoints /dev/rhel/root
";

#[test]
fn engines_agree_on_luks() {
    if let Some(why) = appliance_missing() {
        gx_testdata::skip_or_fail!("engines_agree_on_luks: {why}");
        return;
    }
    let key = |f: &str| {
        std::fs::read_to_string(gx_testdata::image(&format!("volumes/{f}"))).unwrap() + "\n"
    };
    let cases = [
        (
            "lvm-on-luks",
            "lvm-on-luks.img",
            LVM_ON_LUKS,
            key("lvm-on-luks.key"),
        ),
        (
            "lvm-on-luks1",
            "lvm-on-luks1.img",
            LVM_ON_LUKS,
            key("lvm-on-luks.key"),
        ),
        (
            "luks-on-lvm",
            "luks-on-lvm.img",
            LUKS_ON_LVM,
            key("luks-on-lvm.key"),
        ),
        (
            "lvm-rhel9-luks",
            "lvm-rhel9-luks.img",
            RHEL9_LUKS,
            key("lvm-rhel9-luks.key"),
        ),
    ];
    let mut diffs = Vec::new();
    for (name, img, script, k) in cases {
        diffs.extend(compare(name, &[img], &calls_of(script), &k));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

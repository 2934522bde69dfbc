//! gx-win-reg --merge against virt-win-reg --merge: each case of
//! tests/expected/win-reg-merge/CASES is merged into a copy of the Windows
//! test guest, then gx-inspector must print what virt-inspector printed
//! after virt-win-reg merged the same files (make.sh there made the expected
//! files with the peer), and gx-win-reg must export the listed keys as
//! virt-win-reg exported them. Every hive of the merged guest must then read
//! back with no warnings, and hivexregedit must read it as we do.
//! Also: bad input and a running VM leave the image untouched.
//!
//! The merges boot the appliance (QEMU TCG here); those tests skip, saying
//! why, when it cannot run here.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const WIN_REG: &str = env!("CARGO_BIN_EXE_gx-win-reg");
const INSPECTOR: &str = env!("CARGO_BIN_EXE_gx-inspector");

/// The hives of the Windows test guest.
const HIVES: &[&str] = &[
    "/Windows/System32/config/SOFTWARE",
    "/Windows/System32/config/SYSTEM",
    "/Windows/System32/config/DEFAULT",
    "/Windows/System32/config/SAM",
    "/Windows/System32/config/SECURITY",
    "/Users/test/NTUSER.DAT",
    "/Users/Default/NTUSER.DAT",
];

fn appliance_missing() -> Option<String> {
    gx_testdata::appliance_missing(WIN_REG)
}

/// A copy of the Windows test guest, removed when dropped.
struct Copy {
    dir: PathBuf,
    img: PathBuf,
}

impl Copy {
    fn new(tag: &str) -> Copy {
        let dir =
            std::env::temp_dir().join(format!("gx-win-reg-merge-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("windows.img");
        std::fs::copy(gx_testdata::image("windows.img"), &img).unwrap();
        Copy { dir, img }
    }

    fn s(&self) -> &str {
        self.img.to_str().unwrap()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("GX_ENGINE")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"))
}

fn ok(bin: &str, args: &[&str]) -> Vec<u8> {
    let out = run(bin, args);
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// NTFS volume serial lines, which the inspector tests ignore too.
fn without_ntfs_uuids(xml: &str) -> String {
    xml.lines()
        .filter(|l| {
            let t = l.trim();
            !(t.starts_with("<uuid>") && t.ends_with("</uuid>") && t.len() == 13 + 16)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads every hive of the guest with the direct engine.
fn guest_hives(img: &Path) -> Vec<(String, Vec<u8>)> {
    let mut g = gx_guestfs::Handle::new();
    g.add_drive_opts(
        img,
        gx_guestfs::DriveOptions {
            format: Some(gx_guestfs::Format::Raw),
            readonly: true,
        },
    )
    .unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda1", "/").unwrap();
    HIVES
        .iter()
        .map(|h| (h.to_string(), g.read_file(h).unwrap()))
        .collect()
}

/// Every hive reads back with our reader (no warnings, every value) and,
/// when hivexregedit is installed, hivex exports it as we do.
fn check_hives(img: &Path, dir: &Path, what: &str) {
    let hivex = Command::new("hivexregedit").arg("--help").output().is_ok();
    if !hivex {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "hivexregedit is missing (scripts/setup installs libwin-hivex-perl)"
        );
        gx_testdata::skip_or_fail!(
            "hivex reading the merged hives of {what}: hivexregedit missing"
        );
    }
    for (path, bytes) in guest_hives(img) {
        let h = gx_hive::Hive::open(bytes.clone()).unwrap();
        assert!(h.warnings().is_empty(), "{what} {path}: {:?}", h.warnings());
        let b = h.base_block();
        assert_eq!(b.primary_sequence_number, b.secondary_sequence_number);
        let mut ours = Vec::new();
        let opts = gx_hive::ExportOptions {
            header: true,
            ..Default::default()
        };
        gx_hive::export_path(&h, "\\", &opts, &mut ours)
            .unwrap_or_else(|e| panic!("{what} {path}: {e}"));
        if hivex {
            let f = dir.join("hive");
            std::fs::write(&f, &bytes).unwrap();
            let out = Command::new("hivexregedit")
                .arg("--export")
                .arg(&f)
                .arg("\\")
                .output()
                .unwrap();
            assert!(out.status.success(), "{what} {path}: hivexregedit failed");
            assert!(
                out.stdout == ours,
                "{what} {path}: hivex reads it otherwise"
            );
        }
    }
}

#[test]
fn merges_equal_virt_win_reg() {
    if let Some(why) = appliance_missing() {
        gx_testdata::skip_or_fail!("merges_equal_virt_win_reg: {why}");
        return;
    }
    let dir = gx_testdata::expected("win-reg-merge");
    let cases = std::fs::read_to_string(dir.join("CASES")).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in cases
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split('\t').collect();
        let (name, opts, regs, keys) = (f[0], f[1], f[2], &f[3..]);
        let copy = Copy::new(name);
        let mut args: Vec<String> = vec!["--merge".into()];
        if opts != "-" {
            args.extend(opts.split(' ').map(str::to_owned));
        }
        args.push(copy.s().into());
        args.extend(regs.split(' ').map(|r| dir.join(r).display().to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(WIN_REG, &a);

        let got = String::from_utf8(ok(INSPECTOR, &["--format=raw", "-a", copy.s()])).unwrap();
        let want = std::fs::read_to_string(dir.join(format!("{name}.inspector.xml"))).unwrap();
        if without_ntfs_uuids(&got) != without_ntfs_uuids(&want) {
            failures.push(format!(
                "{name}: inspector\n--- virt-inspector\n{want}\n--- gx-inspector\n{got}"
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            let got = ok(WIN_REG, &[copy.s(), key]);
            let want = std::fs::read(dir.join(format!("{name}.{}.reg", i + 1))).unwrap();
            if got != want {
                failures.push(format!(
                    "{name}: {key}\n--- virt-win-reg\n{}\n--- gx-win-reg\n{}",
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                ));
            }
        }
        check_hives(&copy.img, &copy.dir, name);
        checked += 1;
    }
    assert!(checked >= 3);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs a merge that must fail; the image must not change.
fn fails_unchanged(copy: &Copy, reg: &str, args: &[&str], want: &str) {
    let f = copy.dir.join("in.reg");
    std::fs::write(&f, reg).unwrap();
    let before = gx_testdata::file_digest(&copy.img);
    let mut a = vec!["--merge"];
    a.extend(args);
    a.push(copy.s());
    a.push(f.to_str().unwrap());
    let out = run(WIN_REG, &a);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{reg:?}: {err}");
    assert!(err.contains(want), "{reg:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        before,
        gx_testdata::file_digest(&copy.img),
        "{reg:?}: image changed"
    );
}

#[test]
fn bad_input_leaves_the_image_unchanged() {
    let copy = Copy::new("bad");
    let cases = [
        (
            "[HKLM\\SOFTWARE\\A]\n\"ok\"=dword:00000001\n\n[HKLM\\SOFTWARE\\B]\n\"x\"=dword:1\n",
            "line 5: parse error",
        ),
        (
            "[HKLM\\SOFTWARE\\A]\n[HKLM\\SOFTWARE\\B]\n",
            "line 2: unexpected text",
        ),
        (
            "[HKLM\\NoSuchHive\\A]\n",
            "line 1: HKLM\\NoSuchHive\\A: not a supported Windows Registry path",
        ),
        (
            "[HKCU\\Software]\n",
            "not a supported Windows Registry path",
        ),
        (
            "[-HKLM\\SOFTWARE]\n",
            "line 1: the root key of a hive cannot be deleted",
        ),
        ("[HKLM\\SOFTWARE\\No\\Such\\Parent]\n", "since parent"),
        (
            "[HKU\\nobody\\Software]\n",
            "nobody: cannot find user directory",
        ),
        // S-1-5-18's profile has no ntuser.dat in this guest.
        (
            "[HKU\\LocalSystem\\Software]\n",
            "could not download registry file",
        ),
        ("[HKLM\\SOFTWARE\\A]\n\"v\"=hex:0\n", "odd number of digits"),
    ];
    for (reg, want) in cases {
        fails_unchanged(&copy, reg, &[], want);
    }
    fails_unchanged(
        &copy,
        "[HKLM\\SOFTWARE\\A]\n",
        &["--encoding", "EBCDIC"],
        "unknown string encoding",
    );
    // A value beyond what a hive may hold (hivex reads at most 8,000,000
    // bytes): refused, naming the line, before anything is written.
    let mut huge = String::from("[HKLM\\SOFTWARE\\A]\n\"v\"=hex:");
    huge.push_str(&"00,".repeat(gx_hive::MAX_VALUE_DATA));
    huge.push_str("00\n");
    fails_unchanged(&copy, &huge, &[], "line 2: hex data of 8000001 bytes");
    // A .reg that changes nothing needs no appliance and writes nothing.
    let f = copy.dir.join("noop.reg");
    std::fs::write(
        &f,
        "[-HKLM\\SOFTWARE\\No\\Such\\Key]\n\n[HKLM\\SOFTWARE\\Guestx]\n",
    )
    .unwrap();
    let before = gx_testdata::file_digest(&copy.img);
    ok(WIN_REG, &["--merge", copy.s(), f.to_str().unwrap()]);
    assert_eq!(before, gx_testdata::file_digest(&copy.img));
}

#[test]
fn refused_on_an_image_a_running_qemu_holds() {
    let copy = Copy::new("live");
    let Ok(mut qemu) = Command::new("qemu-io")
        .args(["-f", "raw"])
        .arg(&copy.img)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "qemu-io is missing (scripts/setup installs qemu-utils)"
        );
        gx_testdata::skip_or_fail!(
            "refused_on_an_image_a_running_qemu_holds: qemu-io not installed"
        );
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gx_cli::lock::held_for_write(&copy.img).unwrap() {
        assert!(Instant::now() < deadline, "qemu-io never locked the image");
        std::thread::sleep(Duration::from_millis(20));
    }
    fails_unchanged(
        &copy,
        "[HKLM\\SOFTWARE\\Live]\n\"x\"=dword:00000001\n",
        &[],
        "running virtual machine",
    );
    drop(qemu.stdin.take());
    let _ = qemu.kill();
    let _ = qemu.wait();
}

#[test]
fn merge_reads_stdin_and_several_files() {
    if let Some(why) = appliance_missing() {
        gx_testdata::skip_or_fail!("merge_reads_stdin_and_several_files: {why}");
        return;
    }
    let copy = Copy::new("stdin");
    let mut child = Command::new(WIN_REG)
        .args(["--merge", copy.s()])
        .env_remove("GX_ENGINE")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // CRLF lines; one user's hive through its name and its SID (one
        // file: both changes must land, where virt-win-reg keeps one).
        let reg = concat!(
            "[HKLM\\SYSTEM\\GxStdin]\r\n\"s\"=\"from stdin\"\r\n\r\n",
            "[HKU\\test\\Software\\ByName]\r\n\r\n",
            "[HKU\\S-1-5-21-1004336348-1177238915-682003330-1001\\Software\\BySid]\r\n",
        );
        stdin.write_all(reg.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = ok(WIN_REG, &[copy.s(), "HKLM\\SYSTEM\\GxStdin", "s"]);
    assert_eq!(got, b"from stdin\n");
    let got = String::from_utf8(ok(WIN_REG, &[copy.s(), "HKU\\test\\Software"])).unwrap();
    assert!(
        got.contains("\\ByName]") && got.contains("\\BySid]"),
        "{got}"
    );
    check_hives(&copy.img, &copy.dir, "stdin");
}

//! Every read-only tool leaves the images byte-identical, and does what it
//! was asked: the exit status and a known piece of the output are checked,
//! so a tool that fails at once cannot pass.

#![allow(clippy::unwrap_used)]

use std::process::Command;

/// A file on the mounted device and its contents.
type File = Option<(&'static str, &'static str)>;

/// (image, device to mount, a file on it, a name `ls -lR` must list).
/// `chain-top.qcow2` holds no filesystem: mounting it must fail.
const CASES: &[(&str, &str, File, &str)] = &[
    (
        "linux.qcow2",
        "/dev/sda2",
        Some(("/etc/hostname", "debian12.test\n")),
        "os-release",
    ),
    (
        "linux.img",
        "/dev/sda1",
        Some(("/lowercase.txt", "lower\n")),
        "grubx64.efi",
    ),
    (
        "windows.img",
        "/dev/sda1",
        Some(("/autoexec.bat", "REM autoexec.bat\r\n")),
        "cmd.exe",
    ),
    (
        "multi.img",
        "/dev/sda5",
        Some(("/dir/inner.txt", "deeper\n")),
        "file.txt",
    ),
    ("chain-top.qcow2", "/dev/sda", None, ""),
    (
        "compressed.qcow2",
        "/dev/sda2",
        Some(("/etc/hostname", "debian12.test\n")),
        "os-release",
    ),
];

#[test]
fn read_only_tools_leave_images_byte_identical() {
    let dir = gx_testdata::images();
    for &(img, dev, file, listed) in CASES {
        let path = dir.join(img);
        let before = gx_testdata::file_digest(&path);
        let base = dir.join("chain-base.qcow2");
        let base_before = gx_testdata::file_digest(&base);
        let has_fs = file.is_some();
        let cat_path = file.map_or("/etc/hostname", |(p, _)| p);
        let runs: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
            (
                env!("CARGO_BIN_EXE_gx-ls"),
                vec!["-a", img, "-m", dev, "-lR", "--checksum", "/"],
                Some(listed),
            ),
            (
                env!("CARGO_BIN_EXE_gx-df"),
                vec!["-a", img, "-i"],
                // The header always; a line per filesystem where there is one.
                Some(if has_fs { img } else { "IFree" }),
            ),
            (
                env!("CARGO_BIN_EXE_gx-filesystems"),
                vec!["-a", img, "--all", "--long", "--uuid"],
                Some(dev),
            ),
            (
                env!("CARGO_BIN_EXE_gx-cat"),
                vec!["-a", img, "-m", dev, cat_path],
                file.map(|(_, c)| c),
            ),
        ];
        for (bin, args, want) in runs {
            let out = Command::new(bin)
                .args(&args)
                .current_dir(dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let what = format!("{bin} {args:?}");
            assert!(!err.contains("panicked"), "{what}: {err}");
            // Tools that mount fail, with their reason, where there is no
            // filesystem; everything else must succeed.
            let mounts = args.contains(&"-m");
            if mounts && !has_fs {
                assert_eq!(out.status.code(), Some(1), "{what}: {stdout}");
                assert!(err.contains("could not be mounted"), "{what}: {err}");
                continue;
            }
            assert!(out.status.success(), "{what} failed: {err}");
            assert!(err.is_empty(), "{what}: unexpected stderr: {err}");
            let want = want.unwrap();
            if bin.ends_with("gx-cat") {
                assert_eq!(stdout, want, "{what}");
            } else {
                assert!(
                    stdout.contains(want),
                    "{what}: {want:?} missing in {stdout}"
                );
            }
        }
        assert_eq!(before, gx_testdata::file_digest(&path), "{img} changed");
        assert_eq!(
            base_before,
            gx_testdata::file_digest(&base),
            "chain base changed"
        );
    }
}

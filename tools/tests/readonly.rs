//! Every read-only tool leaves the images byte-identical.

use std::process::Command;

#[test]
fn read_only_tools_leave_images_byte_identical() {
    let dir = gx_testdata::images();
    for (img, dev) in [
        ("linux.qcow2", "/dev/sda2"),
        ("linux.img", "/dev/sda1"),
        ("windows.img", "/dev/sda1"),
        ("multi.img", "/dev/sda5"),
        ("chain-top.qcow2", "/dev/sda"),
        ("compressed.qcow2", "/dev/sda2"),
    ] {
        let path = dir.join(img);
        let before = gx_testdata::file_digest(&path);
        let base = dir.join("chain-base.qcow2");
        let base_before = gx_testdata::file_digest(&base);
        for (bin, args) in [
            (
                env!("CARGO_BIN_EXE_gx-ls"),
                vec!["-a", img, "-m", dev, "-lR", "--checksum", "/"],
            ),
            (env!("CARGO_BIN_EXE_gx-df"), vec!["-a", img, "-i"]),
            (
                env!("CARGO_BIN_EXE_gx-filesystems"),
                vec!["-a", img, "--all", "--long", "--uuid"],
            ),
            (
                env!("CARGO_BIN_EXE_gx-cat"),
                vec!["-a", img, "-m", dev, "/etc/hostname"],
            ),
        ] {
            let out = Command::new(bin)
                .args(&args)
                .current_dir(dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{bin} {args:?}: {err}");
        }
        assert_eq!(before, gx_testdata::file_digest(&path), "{img} changed");
        assert_eq!(
            base_before,
            gx_testdata::file_digest(&base),
            "chain base changed"
        );
    }
}

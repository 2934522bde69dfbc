//! An image a running VM holds open for writing (QEMU's lock on it) is opened
//! read-only with a note, and asking to write to it is refused. `qemu-io`
//! stands in for the VM: it opens the image read-write and takes QEMU's locks.

use gx_cli::{Common, DriveArg, Source};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn image_in_use_by_qemu_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .write_all(&vec![0u8; 1 << 20])
        .unwrap();
    assert!(!gx_cli::lock::held_for_write(&img).unwrap());

    let Ok(mut qemu) = Command::new("qemu-io")
        .args(["-f", "raw"])
        .arg(&img)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        gx_testdata::skip_or_fail!(
            "image_in_use_by_qemu_is_read_only: qemu-io not installed (package qemu-utils)"
        );
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gx_cli::lock::held_for_write(&img).unwrap() {
        assert!(Instant::now() < deadline, "qemu-io never locked the image");
        std::thread::sleep(Duration::from_millis(20));
    }

    let common = Common {
        drives: vec![DriveArg {
            source: Source::File(img.clone()),
            format: Some(gx_guestfs::Format::Raw),
        }],
        ..Default::default()
    };
    let err = common
        .launch(false)
        .err()
        .expect("writing to a live image must be refused");
    assert!(err.to_string().contains("running virtual machine"), "{err}");
    let g = common
        .launch(true)
        .expect("read-only access to a live image works");
    assert_eq!(g.list_devices().unwrap(), vec!["/dev/sda".to_string()]);

    drop(qemu.stdin.take());
    let _ = qemu.kill();
    let _ = qemu.wait();
}

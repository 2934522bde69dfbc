//! gx-df with no -a or -d: every domain of a libvirt test-driver file in
//! turn, by name, as guestfs-tools' df/test-virt-df-guests.sh runs virt-df.
//! The expected stdout and exit code are what virt-df printed for the same
//! file (tests/expected/df-domains/, made by its make.sh with libguestfs):
//! a domain without disks and one with a missing disk are passed over, the
//! phony Fedora and Debian are listed in name order.

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn check(name: &str, args: &[&str]) {
    let dir = gx_testdata::expected("df-domains");
    let images = gx_testdata::images();
    let xml = std::fs::read_to_string(dir.join("guests.xml.in"))
        .unwrap()
        .replace("@IMAGES@", &images.display().to_string());
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("guests.xml");
    std::fs::write(&file, xml).unwrap();
    let uri = format!("test://{}", file.display());
    let out = Command::new(env!("CARGO_BIN_EXE_gx-df"))
        .arg("-c")
        .arg(&uri)
        .args(args)
        .output()
        .unwrap();
    let want = std::fs::read_to_string(dir.join(name)).unwrap();
    let want_rc: i32 = std::fs::read_to_string(dir.join(format!("{name}.rc")))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        want,
        "gx-df -c {uri} {args:?}; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(want_rc), "exit status");
}

#[test]
fn df_lists_every_domain_of_the_connection() {
    check("df-guests", &[]);
}

#[test]
fn df_every_domain_uuid_csv() {
    check("df-guests-uuid-csv", &["--uuid", "--csv"]);
}

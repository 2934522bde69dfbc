//! The hives of the Windows test guest (images/out/windows.img), read with
//! the direct engine, each merged with the generated scenario of the hive
//! crate's tests (new keys and every value form, changed and deleted values,
//! deleted subtrees) by us and by `hivexregedit --merge`: hivex must read
//! our hive as its own, and the independent structural checker must pass.
#![allow(clippy::unwrap_used, dead_code)]

#[path = "../../crates/hive/tests/common/mod.rs"]
mod common;

const HIVES: &[&str] = &[
    "/Windows/System32/config/SOFTWARE",
    "/Windows/System32/config/SYSTEM",
    "/Windows/System32/config/DEFAULT",
    "/Windows/System32/config/SAM",
    "/Windows/System32/config/SECURITY",
    "/Users/test/NTUSER.DAT",
    "/Users/Default/NTUSER.DAT",
];

#[test]
fn guest_hives_merge_like_hivex() {
    let mut g = gx_guestfs::Handle::new();
    g.add_drive_opts(
        gx_testdata::image("windows.img"),
        gx_guestfs::DriveOptions {
            format: Some(gx_guestfs::Format::Raw),
            readonly: true,
        },
    )
    .unwrap();
    g.launch().unwrap();
    g.mount_ro("/dev/sda1", "/").unwrap();
    let hivex = common::have_hivex("guest_hives_merge_like_hivex");
    let dir = common::scratch("guest-hives");
    for path in HIVES {
        let hive = g.read_file(path).unwrap();
        common::generated_merge_matches_hivex(path, &hive, &dir, hivex);
    }
}

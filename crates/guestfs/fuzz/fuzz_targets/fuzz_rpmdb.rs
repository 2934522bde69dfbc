//! rpm Berkeley DB Packages files: any bytes read as the hash database, every
//! header parsed. Must never panic, hang or allocate without bound.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gx_guestfs::inspect::fuzz_rpm_bdb(data);
});

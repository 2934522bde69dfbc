//! Fuzz the ext2/3/4 reader: the input is a whole filesystem image (seeded
//! with small real ones by make-seeds.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod walk;

fuzz_target!(|data: &[u8]| {
    walk::open_and_walk(data, "ext4");
});

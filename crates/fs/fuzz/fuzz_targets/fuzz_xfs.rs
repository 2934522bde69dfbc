//! Fuzz the XFS reader: the input is the start of a filesystem image, read
//! as a 64 MiB device whose remaining bytes are zeros (XFS images are mostly
//! empty space; seeds from make-seeds-xfs.sh are trimmed of trailing zeros,
//! so mutations land on metadata).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod walk;

fuzz_target!(|data: &[u8]| {
    walk::open_and_walk_padded(data, "xfs", 64 << 20);
});

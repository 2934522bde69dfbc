//! Fuzz the XFS reader: the input is the start of a filesystem image, read
//! as a 64 MiB device whose remaining bytes are zeros (XFS images are mostly
//! empty space; seeds from make-seeds-xfs.sh are trimmed of trailing zeros,
//! so mutations land on metadata). The same bytes are then read as the
//! start of a sparse 4 TiB device and of a huge one (see walk.rs), so that
//! every size field may claim up to that much and still pass a device-size
//! check: run with `-malloc_limit_mb=128`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod walk;

fuzz_target!(|data: &[u8]| {
    walk::open_and_walk_padded(data, "xfs", 64 << 20);
    walk::open_and_walk(data, "xfs");
});

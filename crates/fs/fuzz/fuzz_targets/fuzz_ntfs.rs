//! Fuzz the NTFS reader: the input is a whole filesystem image (seeded
//! with small real ones by make-seeds-fat-ntfs.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

mod walk;

static HOOK: Once = Once::new();
static PANICS: AtomicUsize = AtomicUsize::new(0);

fuzz_target!(|data: &[u8]| {
    // The ntfs crate panics on some inputs (for example an `unreachable!`
    // on binrw errors); gx-fs catches those at its API and returns Corrupt.
    // libFuzzer's own hook would abort even on a caught panic, so replace it
    // with one that only reports the first few. A panic that escapes gx-fs
    // still aborts: libfuzzer-sys aborts when the closure unwinds.
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if PANICS.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("caught panic inside the ntfs crate: {info}");
            }
        }))
    });
    walk::open_and_walk(data, "ntfs");
});

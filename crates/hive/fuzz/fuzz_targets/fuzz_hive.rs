//! bytes -> Hive::open -> walk every key and value -> export to a sink.
//! Any panic, hang or unbounded allocation is a bug.
#![no_main]

use gx_hive::{ExportOptions, Hive, Visit, WalkOptions, export, print_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exercise(Hive::open(data.to_vec()));
    // The same bytes as the start of a 1 GiB file of zeros, read through
    // `read_at` (which must not trust the sizes the bytes claim).
    exercise(Hive::read_at(1 << 30, &mut |buf, off| {
        buf.fill(0);
        if let Some(src) = usize::try_from(off).ok().and_then(|o| data.get(o..)) {
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
        }
        Ok(())
    }));
});

fn exercise(hive: gx_hive::Result<Hive>) {
    let Ok(hive) = hive else {
        return;
    };
    let _ = hive.walk(hive.root(), &WalkOptions::default(), |e| {
        let _ = e.node.class_name();
        let _ = e.node.security_descriptor();
        let _ = e.node.timestamp();
        for v in e.node.values()? {
            let _ = v.data();
            let _ = v.as_string();
            let _ = v.as_multi_string();
            let _ = v.as_dword();
            let _ = v.as_qword();
            let _ = print_value(&e.node, &v.name(), &mut std::io::sink());
        }
        if let Some(first) = e.names.last() {
            let _ = e.node.child(first);
        }
        Ok(Visit::Continue)
    });
    for unsafe_printable_strings in [false, true] {
        let opts = ExportOptions {
            prefix: Some("HKEY_LOCAL_MACHINE\\SOFTWARE".into()),
            unsafe_printable_strings,
            header: true,
            ..Default::default()
        };
        let _ = export(&hive, hive.root(), &opts, &mut std::io::sink());
    }
    let _ = hive.lookup("a\\b\\c");
}

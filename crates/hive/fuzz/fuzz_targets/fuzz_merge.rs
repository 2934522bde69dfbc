//! bytes -> a .reg file merged into a real hive -> commit -> the result
//! must open with no warnings and read back whole. The first byte picks
//! the string encoding and whether a prefix is stripped. Any panic, hang or
//! runaway allocation is a bug; errors are fine.
#![no_main]

use gx_hive::{
    Hive, HiveEditor, ImportOptions, SingleHive, StringEncoding, Visit, WalkOptions, reg_import,
};
use libfuzzer_sys::fuzz_target;

const HIVE: &[u8] = include_bytes!("../seeds/alltypes.hive");

fuzz_target!(|data: &[u8]| {
    let Some((&mode, reg)) = data.split_first() else {
        return;
    };
    let Ok(mut ed) = HiveEditor::open(HIVE.to_vec()) else {
        return;
    };
    // Small, so that inputs that grow the hive hit the limit quickly.
    ed.set_max_hive_size(4 << 20);
    let encoding = [
        StringEncoding::Utf16Le,
        StringEncoding::Utf16Be,
        StringEncoding::Utf16,
        StringEncoding::Utf8,
        StringEncoding::Latin1,
        StringEncoding::Ascii,
    ][usize::from(mode % 6)];
    let prefix = (mode & 0x80 != 0).then(|| "HKEY_LOCAL_MACHINE\\SOFTWARE".to_string());
    let mut target = SingleHive {
        editor: &mut ed,
        prefix,
    };
    if reg_import(reg, "fuzz", &mut target, &ImportOptions { encoding }).is_err() {
        return;
    }
    let Ok(out) = ed.commit() else {
        return;
    };
    let hive = Hive::open(out).expect("a committed hive opens");
    assert!(hive.warnings().is_empty(), "{:?}", hive.warnings());
    hive.walk(hive.root(), &WalkOptions::default(), |e| {
        for v in e.node.values()? {
            v.data()?;
        }
        Ok(Visit::Continue)
    })
    .expect("a committed hive reads back");
});

//! bytes -> HiveEditor::open -> add, change and delete keys and values ->
//! commit -> the result must open and read back as far as the input did.
//! Any panic, hang or runaway allocation is a bug; errors are fine.
#![no_main]

use gx_hive::{Hive, HiveEditor, SetValue, Visit, WalkOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut ed) = HiveEditor::open(data.to_vec()) else {
        return;
    };
    ed.set_max_hive_size(8 << 20);
    let root = ed.root();
    let _ = ed.add_child(root, "fuzz-new");
    if let Ok(children) = ed.children(root) {
        for (i, &c) in children.iter().enumerate().take(8) {
            let _ = match i % 4 {
                0 => ed.set_value(
                    c,
                    SetValue {
                        name: "v".into(),
                        value_type: 1,
                        data: b"x\0\0\0".to_vec(),
                    },
                ),
                1 => ed.delete_child(c),
                2 => ed.add_child(c, "sub").map(|_| ()),
                _ => ed.set_values(c, Vec::new()),
            };
            let _ = ed.values(c);
            let _ = ed.children(c);
        }
    }
    let _ = ed.lookup("a\\b");
    let Ok(out) = ed.commit() else {
        return;
    };
    // Whatever was corrupt may still be; the hive must at least open.
    let hive = Hive::open(out).expect("a committed hive opens");
    let _ = hive.walk(hive.root(), &WalkOptions::default(), |e| {
        for v in e.node.values()? {
            let _ = v.data();
        }
        Ok(Visit::Continue)
    });
});

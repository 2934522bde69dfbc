//! The committed generated files must be what the table produces now.

use std::path::Path;

#[test]
fn generated_files_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut stale = Vec::new();
    for (rel, text) in gx_api::generate::outputs() {
        let want = gx_api::generate::rustfmt(&text).expect("rustfmt");
        let have = std::fs::read_to_string(root.join(rel)).unwrap_or_default();
        if have != want {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `cargo run -p gx-api --bin gx-generate`"
    );
}

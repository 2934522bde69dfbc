//! Writes every file generated from the API table (see `gx_api::generate`), then
//! runs rustfmt on the Rust ones. Run from anywhere in the workspace:
//! `cargo run -p gx-api --bin gx-generate`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut written = Vec::new();
    for (rel, text) in gx_api::generate::outputs() {
        let path = root.join(rel);
        let text = match gx_api::generate::rustfmt(&text) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("gx-generate: {rel}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old != text {
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("gx-generate: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            written.push(rel);
        }
    }
    if written.is_empty() {
        println!("gx-generate: every generated file is up to date");
    } else {
        for w in written {
            println!("gx-generate: wrote {w}");
        }
    }
    ExitCode::SUCCESS
}

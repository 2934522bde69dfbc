//! The tools that are guestfish one-liners in libguestfs (virt-tar-in,
//! virt-tar-out, virt-copy-in, virt-copy-out are shell scripts running
//! `guestfish --rw -i tar-in "$@"` and the like): ours run gx-fish from the
//! same directory the same way, so they take every gx-fish option.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

/// A one-liner tool: its name, the gx-fish options and command it runs,
/// and its usage for `--help`.
#[derive(Debug, Clone, Copy)]
pub struct Wrapper {
    pub name: &'static str,
    /// What goes before the user's arguments: `["--rw", "-i", "tar-in"]`.
    pub fish_args: &'static [&'static str],
    pub usage: &'static str,
    pub about: &'static str,
}

/// gx-fish next to this executable (else on `$PATH`).
fn gx_fish() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("gx-fish")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("gx-fish"))
}

/// Runs the wrapper: `--help` prints the usage; anything else becomes
/// `gx-fish FISH_ARGS... ARGS...` (this process is replaced).
pub fn run(w: &Wrapper) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{} - {}\n\nUsage:\n{}", w.name, w.about, w.usage);
        println!(
            "\nIt runs `gx-fish {} ARGS...`: every gx-fish option (-a, -d, --format, \
             -m, -v, -x, --key, ...) works here too.",
            w.fish_args.join(" ")
        );
        std::process::exit(0);
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        println!("{} {}", w.name, env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    let err = std::process::Command::new(gx_fish())
        .arg0(w.name)
        .args(w.fish_args)
        .args(&args)
        .exec();
    eprintln!("{}: cannot run gx-fish: {err}", w.name);
    std::process::exit(1)
}

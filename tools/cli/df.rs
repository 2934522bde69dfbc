//! `gx-df`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

/// The `gx-df` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-df",
        "display free space on virtual filesystems",
        Features::default(),
    )
    .arg(
        Arg::new("csv")
            .long("csv")
            .action(ArgAction::SetTrue)
            .help("Output as Comma-Separated Values"),
    )
    .arg(
        Arg::new("human")
            .short('h')
            .long("human-readable")
            .action(ArgAction::SetTrue)
            .help("Print sizes in human-readable format"),
    )
    .arg(
        Arg::new("inodes")
            .short('i')
            .long("inodes")
            .action(ArgAction::SetTrue)
            .help("Display inodes"),
    )
    .arg(
        Arg::new("uuid")
            .long("uuid")
            .action(ArgAction::SetTrue)
            .help("Print UUIDs instead of names"),
    )
    .arg(
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .conflicts_with_all(["csv", "human"])
            .help("Output as JSON (schema in the man page)")
            .long_help(
                "Output as one JSON document, for programs (the other options \
                 choose nothing: every field is always there):\n\n\
                 {\"filesystems\": [{\"virtual_machine\": NAME, \"filesystem\": DEVICE, \
                 \"vfs_type\": TYPE, \"block_size\": BYTES, \"size_bytes\": BYTES, \
                 \"used_bytes\": BYTES, \"available_bytes\": BYTES, \"inodes\": N, \
                 \"inodes_used\": N, \"inodes_free\": N}, ...]}\n\n\
                 One object per filesystem, in the text output's order; sizes in \
                 bytes (statvfs blocks x block size; used = total - free; available \
                 is what an unprivileged user may still use). Filesystems that cannot \
                 be mounted are left out with a note on stderr, as in the text output.",
            ),
    )
    .arg(
        Arg::new("one-per-guest")
            .long("one-per-guest")
            .action(ArgAction::SetTrue)
            .help("Separate appliance per guest (no effect)"),
    )
    .arg(
        Arg::new("threads")
            .short('P')
            .value_name("nr_threads")
            .help("Use at most nr_threads (no effect)"),
    )
    .arg(
        Arg::new("disks")
            .num_args(0..)
            .action(ArgAction::Append)
            .hide(true),
    )
}

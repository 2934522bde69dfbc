//! `gx-ls`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

fn flag(name: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue)
}

/// The `gx-ls` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-ls",
        "list files in a virtual machine",
        Features {
            mount: true,
            ..Default::default()
        },
    )
    .arg(
        Arg::new("long")
            .short('l')
            .long("long")
            .action(ArgAction::SetTrue)
            .help("Long listing"),
    )
    .arg(
        Arg::new("recursive")
            .short('R')
            .long("recursive")
            .action(ArgAction::SetTrue)
            .help("Recursive listing"),
    )
    .arg(
        Arg::new("human")
            .short('h')
            .long("human-readable")
            .action(ArgAction::SetTrue)
            .help("Human-readable sizes in output"),
    )
    .arg(flag("csv").help("Comma-Separated Values output"))
    .arg(flag("uids").alias("uid").help("Display UID, GID"))
    .arg(flag("times").alias("time").help("Display file times"))
    .arg(flag("time-t").help("Display file times as time_t's"))
    .arg(flag("time-relative").help("Display file times as seconds before now"))
    .arg(flag("time-days").help("Display file times as days before now"))
    .arg(
        flag("extra-stats")
            .alias("extra-stat")
            .help("Display extra stats"),
    )
    .arg(
        Arg::new("checksum")
            .long("checksum")
            .alias("checksums")
            .value_name("crc|md5|sha1|sha224|sha256|sha384|sha512")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("md5")
            .help("Display file checksums"),
    )
    .arg(
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .conflicts_with_all([
                "csv",
                "human",
                "uids",
                "times",
                "time-t",
                "time-relative",
                "time-days",
                "extra-stats",
            ])
            .help("Output as JSON (schema in the man page)")
            .long_help(
                "Output as one JSON document, for programs: the entries of each \
                 directory (with -R: the directory itself, then everything below it, in \
                 -lR's order), every field always there:\n\n\
                 {\"entries\": [{\"path\": PATH, \"type\": \"regular\"|\"directory\"|\
                 \"symlink\"|\"chardev\"|\"blockdev\"|\"fifo\"|\"socket\"|\"unknown\", \
                 \"mode\": PERMISSION_BITS, \"size\": BYTES, \"uid\": N, \"gid\": N, \
                 \"atime\", \"mtime\", \"ctime\": SECONDS_SINCE_EPOCH, \"dev\", \"ino\", \
                 \"nlink\", \"rdev\", \"blocks\": N, \"link\": TARGET|null, \"checksum\": \
                 HEX|null}, ...]}\n\n\
                 mode holds the permission bits (07777) as a number; blocks counts 512-byte \
                 units; link is a symlink's target; checksum is given for regular files \
                 with --checksum. One entry per line. A directory that cannot be listed \
                 is an error on stderr (and exit status 1); the document stays complete.",
            ),
    )
    .arg(
        Arg::new("dirs")
            .value_name("dir")
            .num_args(0..)
            .action(ArgAction::Append),
    )
}

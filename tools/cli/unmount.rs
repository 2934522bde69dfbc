//! `gx-unmount`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};

/// The `gx-unmount` command line.
pub fn command() -> Command {
    Command::new("gx-unmount")
        .about("unmount a gx-mount (FUSE) filesystem")
        .override_usage("gx-unmount [--options] MOUNTPOINT")
        .after_help(
            "Runs fusermount3 -u, retrying with back-off (1, 2, 4... seconds) while the mount \
is busy. gx-mount syncs and exits shortly after: wait for its --pid-file PID before using \
the image. Exit status: 0 unmounted; 1 program error; 2 still busy after the retries (who \
holds it is shown with fuser -v -m), or MOUNTPOINT is not a mount point at all; 3 \
MOUNTPOINT is a mount point, but not of a FUSE filesystem.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("fd")
                .long("fd")
                .value_name("fd")
                .help("Wait for pipe fd to close, then unmount"),
        )
        .arg(
            Arg::new("no-retry")
                .long("no-retry")
                .action(ArgAction::SetTrue)
                .help("Don't retry fusermount"),
        )
        .arg(
            Arg::new("retry")
                .long("retry")
                .value_name("N")
                .value_parser(clap::value_parser!(u32).range(0..=20))
                .help("Retry fusermount N times (default: 5)"),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("Don't print fusermount errors"),
        )
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::SetTrue)
                .help("Verbose messages"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Display version and exit"),
        )
        .arg(
            Arg::new("help")
                .long("help")
                .action(ArgAction::Help)
                .help("Display brief help"),
        )
        .arg(
            Arg::new("mountpoint")
                .value_name("mountpoint")
                .num_args(0..)
                .action(ArgAction::Append),
        )
}

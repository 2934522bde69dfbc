//! `gx-mount`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

/// The `gx-mount` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-mount",
        "mount a guest filesystem on the host using FUSE",
        Features {
            mount: true,
            rw: true,
            inspector: true,
        },
    )
    .override_usage("gx-mount [--options] -a IMAGE [-m dev[:mnt]...|-i] MOUNTPOINT")
    .after_help(
        "gx-mount returns once MOUNTPOINT is mounted and keeps serving it in the background \
(--no-fork: in the foreground). With --ro the image is read in-process and never written; \
otherwise (the default, as guestmount) a small VM boots and the guest's kernel makes every \
change. Unmount with gx-unmount (or fusermount3 -u); the daemon then syncs, powers the VM \
off and exits: to know the image is complete, wait for the --pid-file PID to exit. \
SIGINT, SIGTERM and SIGHUP unmount and exit the same way. Exit status 0 when mounted, \
1 on error.",
    )
    .arg(
        Arg::new("option")
            .short('o')
            .long("option")
            .value_name("option")
            .action(ArgAction::Append)
            .help("Pass extra option to FUSE (comma-separated)"),
    )
    .arg(
        Arg::new("no-sync")
            .short('n')
            .long("no-sync")
            .action(ArgAction::SetTrue)
            .help("Don't autosync"),
    )
    .arg(
        Arg::new("dir-cache-timeout")
            .long("dir-cache-timeout")
            .value_name("seconds")
            .value_parser(clap::value_parser!(u64))
            .help("Set readdir cache timeout (default 60 s)"),
    )
    .arg(
        Arg::new("pid-file")
            .long("pid-file")
            .value_name("filename")
            .help("Write PID to filename"),
    )
    .arg(
        Arg::new("fd")
            .long("fd")
            .value_name("fd")
            .help("Write to pipe fd when mountpoint is ready"),
    )
    .arg(
        Arg::new("no-fork")
            .long("no-fork")
            .action(ArgAction::SetTrue)
            .help("Don't daemonize"),
    )
    .arg(
        Arg::new("fuse-help")
            .long("fuse-help")
            .action(ArgAction::SetTrue)
            .help("Display extra FUSE options"),
    )
    .arg(
        Arg::new("live")
            .long("live")
            .action(ArgAction::SetTrue)
            .hide(true),
    )
    .arg(
        Arg::new("selinux")
            .long("selinux")
            .action(ArgAction::SetTrue)
            .help("For backwards compat only, does nothing"),
    )
    .arg(
        Arg::new("args")
            .value_name("mountpoint")
            .num_args(0..)
            .action(ArgAction::Append),
    )
}

//! `gx-rescue`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

/// The `gx-rescue` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-rescue",
        "run a rescue shell on a virtual machine",
        Features {
            mount: true,
            rw: true,
            inspector: true,
        },
    )
    .arg(
        Arg::new("append")
            .long("append")
            .value_name("kernelopts")
            .allow_hyphen_values(true)
            .help("Append kernel options"),
    )
    .arg(
        Arg::new("escape")
            .short('e')
            .value_name("^x|none")
            .help("Set or disable escape key (default ^])"),
    )
    .arg(
        Arg::new("memsize")
            .long("memsize")
            .value_name("MB")
            .help("Set memory size in megabytes"),
    )
    .arg(
        Arg::new("network")
            .long("network")
            .action(ArgAction::SetTrue)
            .help("Enable network (not available: the appliance has none)"),
    )
    .arg(
        Arg::new("scratch")
            .long("scratch")
            .value_name("N")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("1")
            .action(ArgAction::Append)
            .help("Add scratch disk(s)"),
    )
    .arg(
        Arg::new("selinux")
            .long("selinux")
            .action(ArgAction::SetTrue)
            .help("For backwards compat only, does nothing"),
    )
    .arg(
        Arg::new("smp")
            .long("smp")
            .value_name("N")
            .help("Enable SMP with N >= 2 virtual CPUs"),
    )
    .arg(
        Arg::new("suggest")
            .long("suggest")
            .action(ArgAction::SetTrue)
            .help("Suggest mount commands for this guest"),
    )
    .arg(
        Arg::new("args")
            .value_name("disk")
            .num_args(0..)
            .action(ArgAction::Append),
    )
}

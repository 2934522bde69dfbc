//! `gx-edit`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

/// The `gx-edit` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-edit",
        "edit a file in a virtual machine",
        Features {
            mount: true,
            ..Default::default()
        },
    )
    .arg(
        Arg::new("backup")
            .short('b')
            .long("backup")
            .value_name(".ext")
            .action(ArgAction::Append)
            .allow_hyphen_values(true)
            .help("Backup original as original.ext"),
    )
    .arg(
        Arg::new("expr")
            .short('e')
            .long("expr")
            .visible_alias("edit")
            .value_name("expr")
            .action(ArgAction::Append)
            .allow_hyphen_values(true)
            .help("Non-interactive editing using Perl expr"),
    )
    .arg(
        Arg::new("files")
            .value_name("file")
            .num_args(0..)
            .action(ArgAction::Append),
    )
}

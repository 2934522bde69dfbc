//! `gx-cat`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

/// The `gx-cat` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-cat",
        "display files in a virtual machine",
        Features {
            mount: true,
            ..Default::default()
        },
    )
    .arg(
        Arg::new("files")
            .value_name("file")
            .num_args(0..)
            .action(ArgAction::Append),
    )
}

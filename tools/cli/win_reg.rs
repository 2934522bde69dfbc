//! `gx-win-reg`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};

/// The `gx-win-reg` command line.
pub fn command() -> Command {
    Command::new("gx-win-reg")
        .about("export entries from a Windows Registry in a virtual machine")
        .override_usage("gx-win-reg [--options] DOMAIN|IMAGE... 'HKLM\\Path\\To\\Subkey' [name|@]")
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("help")
                .long("help")
                .action(ArgAction::Help)
                .help("Display brief help"),
        )
        .arg(
            Arg::new("version")
                .long("version")
                .action(ArgAction::Version)
                .help("Display version and exit"),
        )
        .arg(
            Arg::new("connect")
                .short('c')
                .long("connect")
                .value_name("uri")
                .help("Specify libvirt URI"),
        )
        .arg(
            Arg::new("debug")
                .short('d')
                .long("debug")
                .action(ArgAction::SetTrue)
                .help("Debug messages"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_name("raw|qcow2")
                .help("Format of the disk images"),
        )
        .arg(
            Arg::new("merge")
                .long("merge")
                .action(ArgAction::SetTrue)
                .help("Merge .reg files into the Registry (stdin when none is given)"),
        )
        .arg(
            Arg::new("encoding")
                .long("encoding")
                .value_name("UTF-16LE|ASCII")
                .help("String encoding for --merge"),
        )
        .arg(
            Arg::new("unsafe-printable-strings")
                .long("unsafe-printable-strings")
                .action(ArgAction::SetTrue)
                .help("Print REG_SZ/REG_EXPAND_SZ as text (assumes UTF-16LE)"),
        )
        .arg(
            Arg::new("args")
                .num_args(0..)
                .action(ArgAction::Append)
                .allow_hyphen_values(true),
        )
}

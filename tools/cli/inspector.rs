//! `gx-inspector`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

/// The `gx-inspector` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-inspector",
        "display information about a virtual machine",
        Features::default(),
    )
    .arg(
        Arg::new("no-applications")
            .long("no-applications")
            .action(ArgAction::SetTrue)
            .help("Do not output the installed applications"),
    )
    .arg(
        Arg::new("no-icon")
            .long("no-icon")
            .action(ArgAction::SetTrue)
            .help("Do not output the guest icon"),
    )
    .arg(
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .conflicts_with("xpath")
            .help("Output as JSON instead of XML (schema in the man page)")
            .long_help(
                "Output the same inspection as one JSON document instead of XML, for \
                 programs. Every key is always there, null where the XML leaves an \
                 element out:\n\n\
                 {\"operatingsystems\": [{\"root\", \"name\", \"arch\", \"distro\", \
                 \"product_name\", \"product_variant\": STRING|null, \"major_version\", \
                 \"minor_version\": NUMBER, \"package_format\", \"package_management\", \
                 \"windows_systemroot\", \"windows_current_control_set\", \"hostname\", \
                 \"osinfo\": STRING|null, \"mountpoints\": [{\"mountpoint\", \"device\"}], \
                 \"filesystems\": [{\"device\", \"type\", \"label\", \"uuid\"}], \
                 \"drive_mappings\": [{\"name\", \"device\"}], \"applications\": \
                 [{\"name\", \"display_name\", \"epoch\": NUMBER, \"version\", \"release\", \
                 \"arch\", \"install_path\", \"publisher\", \"url\", \"source_package\", \
                 \"summary\", \"description\"}]|null (with --no-applications), \
                 \"icon\": BASE64|null}]}\n\n\
                 Values are those of the XML elements of the same names.",
            ),
    )
    .arg(
        Arg::new("xpath")
            .long("xpath")
            .value_name("query")
            .help("Run an XPath query over XML read on stdin"),
    )
    .arg(
        Arg::new("images")
            .value_name("image")
            .num_args(0..)
            .action(ArgAction::Append),
    )
}

//! `gx-filesystems`'s options and help, as the tool parses them and as its man
//! page and shell completions describe them.

use clap::{Arg, ArgAction, Command};
use gx_cli::Features;

fn flag(name: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue)
}

/// The `gx-filesystems` command line.
pub fn command() -> Command {
    gx_cli::command(
        "gx-filesystems",
        "list filesystems, partitions, block devices in a VM",
        Features::default(),
    )
    .arg(flag("all").help("Display everything"))
    .arg(
        flag("blkdevs")
            .alias("block-devices")
            .help("Display block devices"),
    )
    .arg(flag("csv").help("Output as Comma-Separated Values"))
    .arg(flag("extra").help("Display swap and data filesystems"))
    .arg(flag("filesystems").help("Display mountable filesystems"))
    .arg(
        Arg::new("human")
            .short('h')
            .long("human-readable")
            .action(ArgAction::SetTrue)
            .help("Human-readable sizes in --long output"),
    )
    .arg(
        Arg::new("long")
            .short('l')
            .long("long")
            .action(ArgAction::SetTrue)
            .help("Long output"),
    )
    .arg(
        flag("lvs")
            .alias("logvols")
            .alias("logical-volumes")
            .help("Display LVM logical volumes"),
    )
    .arg(flag("no-title").help("No title in --long output"))
    .arg(flag("parts").alias("partitions").help("Display partitions"))
    .arg(
        flag("pvs")
            .alias("physvols")
            .alias("physical-volumes")
            .help("Display LVM physical volumes"),
    )
    .arg(
        flag("uuid")
            .alias("uuids")
            .help("Add UUIDs to --long output"),
    )
    .arg(
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .conflicts_with_all(["csv", "human", "long", "no-title", "uuid"])
            .help("Output as JSON (schema in the man page)")
            .long_help(
                "Output as one JSON document, for programs: the rows --long --uuid would \
                 show (the selection options choose which), every field always there:\n\n\
                 {\"entries\": [{\"name\": DEVICE, \"type\": \"filesystem\"|\"partition\"|\
                 \"device\", \"vfs_type\": TYPE|null, \"label\": LABEL|null, \"mbr_id\": \
                 \"HH\"|null, \"size\": BYTES, \"parent\": DEVICE|null, \"uuid\": UUID|null}, \
                 ...]}\n\n\
                 In the text output's order. size is the filesystem's own size where it can \
                 be mounted, else the device's; vfs_type, label and uuid are for \
                 filesystems, mbr_id (two hex digits) for MBR partitions, parent for \
                 partitions; null where a field does not apply or is empty.",
            ),
    )
    .arg(
        flag("vgs")
            .alias("volgroups")
            .alias("volume-groups")
            .help("Display LVM volume groups"),
    )
}

//! Partition tables. Reading them is the direct engine's own parser; writing
//! goes to the appliance (parted and sgdisk on the guest's devices).

use super::*;
use crate::{Action, Engine::*, FishOutput, Ret};

const W: Action = Action {
    engine: Appliance,
    writes: true,
    ..Action::DEFAULT
};
const R: Action = Action {
    engine: Both,
    ..Action::DEFAULT
};

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "part_init",
        args: &[dev("device"), s("parttype")],
        proc_nr: Some(55),
        shortdesc: "create an empty partition table",
        longdesc: "Write a new, empty partition table on `device`: `parttype` is `mbr` (or \
`msdos`) or `gpt` (or `efi`). Whatever was there is lost.",
        ..W
    },
    Action {
        name: "part_add",
        args: &[
            dev("device"),
            s("prlogex"),
            int64("startsect"),
            int64("endsect"),
        ],
        proc_nr: Some(56),
        shortdesc: "add a partition to the device",
        longdesc: "Add a partition from sector `startsect` to sector `endsect` inclusive (a \
negative `endsect` counts back from the end of the disk). `prlogex` is `primary` (`p`), \
`logical` (`l`) or `extended` (`e`); GPT has only primary partitions. Nothing checks \
alignment: choose sectors that are multiples of 2048 for 1 MiB alignment.",
        ..W
    },
    Action {
        name: "part_disk",
        args: &[dev("device"), s("parttype")],
        proc_nr: Some(57),
        shortdesc: "partition whole disk with a single primary partition",
        longdesc: "`part_init`, then one primary partition from sector 128 to 128 sectors \
before the end of the disk (64 KiB aligned, with room for the backup GPT), as libguestfs \
makes it.",
        ..W
    },
    Action {
        name: "part_del",
        args: &[dev("device"), int("partnum")],
        proc_nr: Some(114),
        shortdesc: "delete a partition",
        longdesc: "Delete partition `partnum` of `device`; its data stays on the disk.",
        ..W
    },
    Action {
        name: "part_resize",
        args: &[dev("device"), int("partnum"), int64("endsect")],
        proc_nr: Some(118),
        shortdesc: "resize a partition",
        longdesc: "Move the end of partition `partnum` to sector `endsect` (inclusive), \
keeping its start. The filesystem inside is not resized.",
        ..W
    },
    Action {
        name: "part_expand_gpt",
        args: &[dev("device")],
        proc_nr: Some(119),
        group: Some("gdisk"),
        shortdesc: "move backup GPT header to the end of the disk",
        longdesc: "After a disk has grown, move the backup GPT to its new end (sgdisk -e).",
        ..W
    },
    Action {
        name: "part_set_name",
        args: &[dev("device"), int("partnum"), s("name")],
        proc_nr: Some(115),
        shortdesc: "set partition name",
        longdesc: "Set the name of GPT partition `partnum`.",
        ..W
    },
    Action {
        name: "part_set_bootable",
        args: &[dev("device"), int("partnum"), b("bootable")],
        proc_nr: Some(116),
        shortdesc: "make a partition bootable",
        longdesc: "Set or clear parted's `boot` flag of partition `partnum`: the active \
flag on MBR; on GPT, parted makes the partition an EFI system partition.",
        ..W
    },
    Action {
        name: "part_set_gpt_type",
        args: &[dev("device"), int("partnum"), guid("guid")],
        proc_nr: Some(117),
        group: Some("gdisk"),
        shortdesc: "set the type GUID of a GPT partition",
        longdesc: "Set the partition type GUID of GPT partition `partnum`.",
        ..W
    },
    Action {
        name: "part_set_gpt_guid",
        args: &[dev("device"), int("partnum"), guid("guid")],
        proc_nr: Some(126),
        group: Some("gdisk"),
        shortdesc: "set the GUID of a GPT partition",
        longdesc: "Set the unique GUID of GPT partition `partnum`.",
        ..W
    },
    Action {
        name: "part_set_disk_guid",
        args: &[dev("device"), guid("guid")],
        proc_nr: Some(128),
        group: Some("gdisk"),
        shortdesc: "set the GUID of a GPT-partitioned disk",
        longdesc: "Set the disk GUID of the GPT on `device`.",
        ..W
    },
    Action {
        name: "part_set_mbr_id",
        args: &[dev("device"), int("partnum"), int("idbyte")],
        proc_nr: Some(124),
        shortdesc: "set the MBR type byte (ID byte) of a partition",
        longdesc: "Set the type byte of MBR partition `partnum` (0x83 Linux, 0x07 NTFS, \
0x0c FAT32 LBA, ...).",
        ..W
    },
    Action {
        name: "part_list",
        args: &[dev("device")],
        ret: Ret::StructList("partition"),
        proc_nr: Some(58),
        shortdesc: "list partitions on a device",
        longdesc: "The partitions of `device`: number, start and end (inclusive) and size, in \
bytes. An extended partition is listed; its logical partitions follow from 5.",
        ..R
    },
    Action {
        name: "part_get_parttype",
        args: &[dev("device")],
        ret: Ret::String,
        proc_nr: Some(59),
        shortdesc: "get the partition table type",
        longdesc: "The partition table type of `device`: `msdos` or `gpt` (an error when it \
has none).",
        ..R
    },
    Action {
        name: "part_get_name",
        args: &[dev("device"), int("partnum")],
        ret: Ret::String,
        proc_nr: Some(120),
        shortdesc: "get partition name",
        longdesc: "The name of GPT partition `partnum` (empty on MBR).",
        ..R
    },
    Action {
        name: "part_get_bootable",
        args: &[dev("device"), int("partnum")],
        ret: Ret::Bool,
        proc_nr: Some(121),
        shortdesc: "return true if a partition is bootable",
        longdesc: "Whether parted shows a `boot` flag on partition `partnum` (MBR active, \
GPT `boot` or `legacy_boot`).",
        ..R
    },
    Action {
        name: "part_get_gpt_type",
        args: &[dev("device"), int("partnum")],
        ret: Ret::String,
        proc_nr: Some(122),
        group: Some("gdisk"),
        shortdesc: "get the type GUID of a GPT partition",
        longdesc: "The partition type GUID of GPT partition `partnum`, upper case.",
        ..R
    },
    Action {
        name: "part_get_gpt_guid",
        args: &[dev("device"), int("partnum")],
        ret: Ret::String,
        proc_nr: Some(125),
        group: Some("gdisk"),
        shortdesc: "get the GUID of a GPT partition",
        longdesc: "The unique GUID of GPT partition `partnum`, upper case.",
        ..R
    },
    Action {
        name: "part_get_disk_guid",
        args: &[dev("device")],
        ret: Ret::String,
        proc_nr: Some(127),
        group: Some("gdisk"),
        shortdesc: "get the GUID of a GPT-partitioned disk",
        longdesc: "The disk GUID of the GPT on `device`, upper case.",
        ..R
    },
    Action {
        name: "part_get_mbr_id",
        args: &[dev("device"), int("partnum")],
        ret: Ret::Int,
        proc_nr: Some(123),
        fish_output: FishOutput::Hex,
        shortdesc: "get the MBR type byte (ID byte) from a partition",
        longdesc: "The type byte of MBR partition `partnum`.",
        ..R
    },
    Action {
        name: "part_get_mbr_part_type",
        args: &[dev("device"), int("partnum")],
        ret: Ret::String,
        proc_nr: Some(129),
        shortdesc: "get the MBR partition type",
        longdesc: "`primary`, `extended` or `logical` for MBR partition `partnum`; `primary` \
for every GPT partition.",
        ..R
    },
    Action {
        name: "part_to_dev",
        args: &[dev("partition")],
        ret: Ret::String,
        engine: Handle,
        shortdesc: "convert partition name to device name",
        longdesc: "The disk a partition is on: /dev/sda for /dev/sda1. An error for a name \
that is not a partition.",
        ..Action::DEFAULT
    },
    Action {
        name: "part_to_partnum",
        args: &[dev("partition")],
        ret: Ret::Int,
        engine: Handle,
        shortdesc: "convert partition name to partition number",
        longdesc: "The number of a partition: 1 for /dev/sda1.",
        ..Action::DEFAULT
    },
];

//! Block devices and what is on them.

use super::*;
use crate::{Action, Engine::*, Ret};

const A: Action = Action::DEFAULT;

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "list_devices",
        ret: Ret::StringList,
        engine: Both,
        proc_nr: Some(2),
        shortdesc: "list the block devices",
        longdesc: "The disks: /dev/sda, /dev/sdb, ... in the order they were added.",
        ..A
    },
    Action {
        name: "list_partitions",
        ret: Ret::StringList,
        engine: Both,
        proc_nr: Some(3),
        shortdesc: "list the partitions",
        longdesc: "The partitions of every disk, disk by disk (logical partitions from 5). \
Logical volumes are not partitions: see `lvs`.",
        ..A
    },
    Action {
        name: "list_filesystems",
        ret: Ret::Hashtable,
        engine: Both,
        proc_nr: Some(53),
        shortdesc: "list filesystems",
        longdesc: "Every device, partition and logical volume that could hold a filesystem, \
with its type (`ext4`, `vfat`, `ntfs`, `xfs`, `swap`, ... or `unknown`). Extended \
partitions and volume members (LVM physical volumes, encrypted devices) are left out.",
        ..A
    },
    Action {
        name: "vfs_type",
        args: &[mountable("mountable")],
        ret: Ret::String,
        engine: Both,
        proc_nr: Some(50),
        shortdesc: "get the Linux VFS type corresponding to a mounted device",
        longdesc: "The filesystem type on `mountable` as blkid names it (`ext4`, `vfat`, \
`ntfs`, `swap`, `LVM2_member`, `crypto_LUKS`, ...), empty when nothing is recognised.",
        ..A
    },
    Action {
        name: "vfs_label",
        args: &[mountable("mountable")],
        ret: Ret::String,
        engine: Both,
        proc_nr: Some(51),
        shortdesc: "get the filesystem label",
        longdesc: "The label of the filesystem on `mountable`; empty when it has none.",
        ..A
    },
    Action {
        name: "vfs_uuid",
        args: &[mountable("mountable")],
        ret: Ret::String,
        engine: Both,
        proc_nr: Some(52),
        aliases: &["get-uuid"],
        shortdesc: "get the filesystem UUID",
        longdesc: "The UUID of the filesystem on `mountable`; empty when it has none.",
        ..A
    },
    Action {
        name: "get_e2label",
        args: &[dev("device")],
        ret: Ret::String,
        deprecated_by: Some("vfs_label"),
        shortdesc: "get the ext2/3/4 filesystem label",
        longdesc: "`vfs_label`.",
        ..A
    },
    Action {
        name: "get_e2uuid",
        args: &[dev("device")],
        ret: Ret::String,
        deprecated_by: Some("vfs_uuid"),
        shortdesc: "get the ext2/3/4 filesystem UUID",
        longdesc: "`vfs_uuid`.",
        ..A
    },
    Action {
        name: "blkid",
        args: &[dev("device")],
        ret: Ret::Hashtable,
        engine: Appliance,
        proc_nr: Some(108),
        shortdesc: "print block device attributes",
        longdesc: "What `blkid -p -i` finds on `device`, as key/value pairs (TYPE, UUID, \
LABEL, USAGE, PART_ENTRY_*, ...), values as blkid's export format writes them.",
        ..A
    },
    Action {
        name: "blockdev_getsize64",
        args: &[dev("device")],
        ret: Ret::Int64,
        engine: Both,
        proc_nr: Some(4),
        shortdesc: "get total size of device in bytes",
        longdesc: "The size of `device` in bytes.",
        ..A
    },
    Action {
        name: "blockdev_getsz",
        args: &[dev("device")],
        ret: Ret::Int64,
        shortdesc: "get total size of device in 512-byte sectors",
        longdesc: "The size of `device` in 512-byte sectors, whatever its sector size.",
        ..A
    },
    Action {
        name: "blockdev_getss",
        args: &[dev("device")],
        ret: Ret::Int,
        engine: Both,
        proc_nr: Some(5),
        shortdesc: "get sectorsize of block device",
        longdesc: "The logical sector size of `device` (512 here).",
        ..A
    },
    Action {
        name: "blockdev_getbsz",
        args: &[dev("device")],
        ret: Ret::Int,
        engine: Both,
        proc_nr: Some(109),
        shortdesc: "get blocksize of block device",
        longdesc: "The kernel's block size for `device` (4096 unless a filesystem set \
another).",
        ..A
    },
    Action {
        name: "blockdev_getro",
        args: &[dev("device")],
        ret: Ret::Bool,
        engine: Both,
        proc_nr: Some(110),
        shortdesc: "is block device set to read-only",
        longdesc: "True when `device` is read-only (its drive was added read-only, or \
`blockdev_setro` was called).",
        ..A
    },
    Action {
        name: "blockdev_setro",
        args: &[dev("device")],
        engine: Appliance,
        proc_nr: Some(111),
        shortdesc: "set block device to read-only",
        longdesc: "Make the kernel refuse writes to `device`.",
        ..A
    },
    Action {
        name: "blockdev_setrw",
        args: &[dev("device")],
        engine: Appliance,
        proc_nr: Some(112),
        shortdesc: "set block device to read-write",
        longdesc: "Undo `blockdev_setro`.",
        ..A
    },
    Action {
        name: "blockdev_flushbufs",
        args: &[dev("device")],
        engine: Appliance,
        proc_nr: Some(113),
        shortdesc: "flush device buffers",
        longdesc: "Write the kernel's buffers for `device` out and drop them.",
        ..A
    },
    Action {
        name: "blockdev_rereadpt",
        args: &[dev("device")],
        engine: Appliance,
        proc_nr: Some(69),
        shortdesc: "reread partition table",
        longdesc: "Make the kernel read the partition table of `device` again.",
        ..A
    },
    Action {
        name: "zero",
        args: &[dev("device")],
        engine: Appliance,
        writes: true,
        proc_nr: Some(68),
        shortdesc: "write zeroes to the device",
        longdesc: "Zero the first MiB of `device`, which destroys partition tables, \
filesystem superblocks and other signatures (pages already zero are not written).",
        ..A
    },
    Action {
        name: "zero_device",
        args: &[dev("device")],
        engine: Appliance,
        writes: true,
        proc_nr: Some(95),
        shortdesc: "write zeroes to an entire device",
        longdesc: "Zero the whole of `device`, skipping blocks that already read as zero so \
that sparse images stay sparse.",
        ..A
    },
];

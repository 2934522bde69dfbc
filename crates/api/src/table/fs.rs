//! Making, naming, checking and resizing filesystems: the appliance's
//! mkfs, e2fsprogs, ntfsprogs and xfsprogs on the guest's devices.

use super::*;
use crate::{Action, Engine::*, FishOutput, Ret};

const W: Action = Action {
    engine: Appliance,
    writes: true,
    ..Action::DEFAULT
};

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "mkfs",
        args: &[s("fstype"), dev("device")],
        optargs: &[
            oi("blocksize"),
            os("features"),
            oi("inode"),
            oi("sectorsize"),
            os("label"),
        ],
        aliases: &["mkfs-opts"],
        proc_nr: Some(54),
        shortdesc: "make a filesystem",
        longdesc: "Make a filesystem of type `fstype` (`ext2`, `ext3`, `ext4`, `vfat`, \
`fat`, `ntfs`, `xfs`, `btrfs`, as the appliance has the tools) on `device`. \
`blocksize` is the block (cluster, for FAT and NTFS) size in bytes, `features` the \
ext2/3/4 features (mke2fs -O), `inode` the ext2/3/4 inode size, `sectorsize` the \
sector size of FAT and XFS, `label` the filesystem label.",
        ..W
    },
    Action {
        name: "mkswap",
        args: &[dev("device")],
        optargs: &[os("label"), os("uuid")],
        aliases: &["mkswap-opts"],
        proc_nr: Some(158),
        shortdesc: "create a swap partition",
        longdesc: "Make `device` a Linux swap area, with `label` and `uuid` if given.",
        ..W
    },
    Action {
        name: "mkswap_L",
        handle_mut: true,
        args: &[s("label"), dev("device")],
        engine: Handle,
        deprecated_by: Some("mkswap"),
        shortdesc: "create a swap partition with a label",
        longdesc: "`mkswap` with `label`.",
        ..W
    },
    Action {
        name: "mkswap_U",
        handle_mut: true,
        args: &[s("uuid"), dev("device")],
        engine: Handle,
        deprecated_by: Some("mkswap"),
        shortdesc: "create a swap partition with an explicit UUID",
        longdesc: "`mkswap` with `uuid`.",
        ..W
    },
    Action {
        name: "set_label",
        args: &[mountable("mountable"), s("label")],
        proc_nr: Some(159),
        shortdesc: "set filesystem label",
        longdesc: "Set the label of the filesystem on `mountable`: ext2/3/4 (16 bytes at \
most), FAT (11), NTFS, XFS (12), btrfs and swap.",
        ..W
    },
    Action {
        name: "set_e2label",
        handle_mut: true,
        args: &[dev("device"), s("label")],
        engine: Handle,
        deprecated_by: Some("set_label"),
        shortdesc: "set the ext2/3/4 filesystem label",
        longdesc: "`set_label`.",
        ..W
    },
    Action {
        name: "set_uuid",
        args: &[dev("device"), s("uuid")],
        proc_nr: Some(160),
        shortdesc: "set the filesystem UUID",
        longdesc: "Set the UUID of the filesystem on `device` (ext2/3/4, XFS, btrfs, swap).",
        ..W
    },
    Action {
        name: "set_e2uuid",
        handle_mut: true,
        args: &[dev("device"), s("uuid")],
        engine: Handle,
        deprecated_by: Some("set_uuid"),
        shortdesc: "set the ext2/3/4 filesystem UUID",
        longdesc: "`set_uuid`; `uuid` may also be `clear`, `random` or `time`, as tune2fs -U \
takes them.",
        ..W
    },
    Action {
        name: "set_uuid_random",
        args: &[dev("device")],
        proc_nr: Some(161),
        shortdesc: "set a random UUID for the filesystem",
        longdesc: "Give the filesystem on `device` a new random UUID.",
        ..W
    },
    Action {
        name: "resize2fs",
        args: &[dev("device")],
        proc_nr: Some(60),
        shortdesc: "resize an ext2, ext3 or ext4 filesystem",
        longdesc: "Grow or shrink the ext2/3/4 filesystem on `device` to fill it. Run \
`e2fsck_f` first, as resize2fs requires.",
        ..W
    },
    Action {
        name: "resize2fs_size",
        args: &[dev("device"), int64("size")],
        proc_nr: Some(162),
        shortdesc: "resize an ext2, ext3 or ext4 filesystem (with size)",
        longdesc: "Like `resize2fs`, to `size` bytes.",
        ..W
    },
    Action {
        name: "resize2fs_M",
        args: &[dev("device")],
        proc_nr: Some(163),
        shortdesc: "resize an ext2, ext3 or ext4 filesystem to the minimum size",
        longdesc: "Shrink the ext2/3/4 filesystem on `device` to its minimum size.",
        ..W
    },
    Action {
        name: "e2fsck",
        args: &[dev("device")],
        optargs: &[ob("correct"), ob("forceall"), ob("forceno")],
        proc_nr: Some(164),
        shortdesc: "check an ext2/ext3 filesystem",
        longdesc: "Check the ext2/3/4 filesystem on `device` even if it looks clean. \
`correct` repairs what is safe without asking (e2fsck -p); `forceall` answers yes to \
every question (-y); `forceno` answers no (-n: check only). Errors left unrepaired are \
an error.",
        ..W
    },
    Action {
        name: "e2fsck_f",
        handle_mut: true,
        args: &[dev("device")],
        engine: Handle,
        deprecated_by: Some("e2fsck"),
        shortdesc: "check an ext2/ext3 filesystem",
        longdesc: "`e2fsck` with `correct:true`.",
        ..W
    },
    Action {
        name: "fsck",
        args: &[s("fstype"), dev("device")],
        ret: Ret::Int,
        fish_output: FishOutput::Hex,
        proc_nr: Some(165),
        shortdesc: "run the filesystem checker",
        longdesc: "Run fsck -a -t `fstype` on `device`; its exit status (a bit field, see \
fsck(8)) is the result, not an error.",
        ..W
    },
    Action {
        name: "ntfsresize",
        args: &[dev("device")],
        optargs: &[oi64("size"), ob("force")],
        aliases: &["ntfsresize-opts"],
        proc_nr: Some(166),
        group: Some("ntfsprogs"),
        shortdesc: "resize an NTFS filesystem",
        longdesc: "Grow or shrink the NTFS filesystem on `device` to fill it, or to `size` \
bytes. `force` resizes even when the filesystem is marked for a check (Windows then \
checks it at its next boot).",
        ..W
    },
    Action {
        name: "ntfsresize_size",
        handle_mut: true,
        args: &[dev("device"), int64("size")],
        engine: Handle,
        group: Some("ntfsprogs"),
        deprecated_by: Some("ntfsresize"),
        shortdesc: "resize an NTFS filesystem (with size)",
        longdesc: "`ntfsresize` with `size`.",
        ..W
    },
    Action {
        name: "xfs_growfs",
        args: &[path("path")],
        optargs: &[
            ob("datasec"),
            ob("logsec"),
            ob("rtsec"),
            oi64("datasize"),
            oi64("logsize"),
            oi64("rtsize"),
            oi64("rtextsize"),
            oi("maxpct"),
        ],
        proc_nr: Some(167),
        group: Some("xfs"),
        shortdesc: "expand an existing XFS filesystem",
        longdesc: "Grow the mounted XFS filesystem at guest path `path`: `datasec` its data \
section to fill the device (to `datasize` blocks if given), `logsec`/`logsize` the log, \
`maxpct` the inode space limit.",
        ..W
    },
];

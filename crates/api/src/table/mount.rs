//! The mount table. The Handle owns it (the direct engine keeps it as a path
//! map, the appliance as real mounts, and `auto` replays it when it moves),
//! so these are hand-written; the agent's calls carry them out there.

use super::*;
use crate::{Action, Ret};

const A: Action = Action::DEFAULT;

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "mount",
        handle_mut: true,
        args: &[mountable("mountable"), s("mountpoint")],
        proc_nr: Some(6),
        shortdesc: "mount a guest disk at a position in the filesystem",
        longdesc: "Mount the filesystem on `mountable` read-write at `mountpoint`, a guest \
path (`/` first; other mountpoints must exist as directories). Read-write mounts live in \
the appliance: in `auto` this starts it. On a drive added read-only the writes go to \
the appliance's throw-away overlay.",
        ..A
    },
    Action {
        name: "mount_ro",
        handle_mut: true,
        args: &[mountable("mountable"), s("mountpoint")],
        proc_nr: Some(7),
        shortdesc: "mount a guest disk, read-only",
        longdesc: "Mount the filesystem on `mountable` read-only at `mountpoint`. The direct \
engine does this in-process for the filesystems it reads (ext2/3/4, FAT, NTFS).",
        ..A
    },
    Action {
        name: "mount_options",
        handle_mut: true,
        args: &[s("options"), mountable("mountable"), s("mountpoint")],
        proc_nr: Some(8),
        shortdesc: "mount a guest disk with mount options",
        longdesc: "Mount with mount(8) options (`ro`, `rw`, `noatime`, ...; empty for none). \
`rw`, or no `ro`, needs the appliance.",
        ..A
    },
    Action {
        name: "mount_vfs",
        handle_mut: true,
        args: &[
            s("options"),
            s("vfstype"),
            mountable("mountable"),
            s("mountpoint"),
        ],
        proc_nr: Some(9),
        shortdesc: "mount a guest disk with mount options and vfstype",
        longdesc: "Like `mount_options`, naming the filesystem type instead of detecting it.",
        ..A
    },
    Action {
        name: "umount",
        handle_mut: true,
        args: &[dev_or_path("pathordevice")],
        optargs: &[ob("force"), ob("lazyunmount")],
        aliases: &["unmount"],
        proc_nr: Some(10),
        shortdesc: "unmount a filesystem",
        longdesc: "Unmount the filesystem mounted at the mountpoint or from the device \
`pathordevice`. `force` and `lazyunmount` are passed to the kernel in the appliance.",
        ..A
    },
    Action {
        name: "umount_all",
        handle_mut: true,
        aliases: &["unmount-all"],
        proc_nr: Some(11),
        shortdesc: "unmount all filesystems",
        longdesc: "Unmount every mounted filesystem, deepest first.",
        ..A
    },
    Action {
        name: "mounts",
        ret: Ret::StringList,
        proc_nr: Some(12),
        shortdesc: "show mounted filesystems",
        longdesc: "The devices mounted, in mount order.",
        ..A
    },
    Action {
        name: "mountpoints",
        ret: Ret::Hashtable,
        proc_nr: Some(13),
        shortdesc: "show mountpoints",
        longdesc: "Pairs of device and mountpoint, in mount order.",
        ..A
    },
    Action {
        name: "sync",
        handle_mut: true,
        proc_nr: Some(40),
        shortdesc: "sync disks, writes are flushed through to the disk image",
        longdesc: "Flush every write to the disk images. Nothing to do when the appliance has \
not started (the direct engine never writes).",
        ..A
    },
];

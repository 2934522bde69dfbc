//! LVM and encrypted devices. The direct engine reads LVM metadata and
//! decrypts LUKS in-process; creating and changing them is the appliance's
//! lvm and cryptsetup.

use super::*;
use crate::{Action, Engine::*, Ret};

const W: Action = Action {
    engine: Appliance,
    writes: true,
    group: Some("lvm2"),
    ..Action::DEFAULT
};
const R: Action = Action {
    engine: Both,
    group: Some("lvm2"),
    ..Action::DEFAULT
};

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "pvcreate",
        args: &[dev("device")],
        proc_nr: Some(130),
        shortdesc: "create an LVM physical volume",
        longdesc: "Make `device` an LVM physical volume.",
        ..W
    },
    Action {
        name: "vgcreate",
        args: &[s("volgroup"), devlist("physvols")],
        proc_nr: Some(131),
        shortdesc: "create an LVM volume group",
        longdesc: "Create the volume group `volgroup` over the physical volumes `physvols`.",
        ..W
    },
    Action {
        name: "lvcreate",
        args: &[s("logvol"), s("volgroup"), int("mbytes")],
        proc_nr: Some(132),
        shortdesc: "create an LVM logical volume",
        longdesc: "Create the logical volume `logvol` of `mbytes` MiB in `volgroup`; it \
appears as /dev/`volgroup`/`logvol`.",
        ..W
    },
    Action {
        name: "lvcreate_free",
        args: &[s("logvol"), s("volgroup"), int("percent")],
        proc_nr: Some(133),
        shortdesc: "create an LVM logical volume in % remaining free space",
        longdesc: "Create `logvol` using `percent` (1 to 100) of the free space of `volgroup`.",
        ..W
    },
    Action {
        name: "lvresize",
        args: &[dev("device"), int("mbytes")],
        proc_nr: Some(134),
        shortdesc: "resize an LVM logical volume",
        longdesc: "Grow or shrink the logical volume `device` to `mbytes` MiB. Its filesystem \
is not resized: shrinking below it loses data.",
        ..W
    },
    Action {
        name: "lvresize_free",
        args: &[dev("lv"), int("percent")],
        proc_nr: Some(135),
        shortdesc: "expand an LV to fill free space",
        longdesc: "Grow the logical volume `lv` by `percent` (1 to 100) of its volume group's \
free space.",
        ..W
    },
    Action {
        name: "pvresize",
        args: &[dev("device")],
        proc_nr: Some(136),
        shortdesc: "resize an LVM physical volume",
        longdesc: "Make the physical volume `device` fill its (grown) device.",
        ..W
    },
    Action {
        name: "lvremove",
        args: &[dev("device")],
        proc_nr: Some(141),
        shortdesc: "remove an LVM logical volume",
        longdesc: "Remove the logical volume `device` (/dev/VG/LV), or every logical volume of \
a volume group given as /dev/VG.",
        ..W
    },
    Action {
        name: "vgremove",
        args: &[s("vgname")],
        proc_nr: Some(142),
        shortdesc: "remove an LVM volume group",
        longdesc: "Remove the volume group `vgname` and its logical volumes.",
        ..W
    },
    Action {
        name: "pvremove",
        args: &[dev("device")],
        proc_nr: Some(143),
        shortdesc: "remove an LVM physical volume",
        longdesc: "Wipe the LVM label of `device`; its volume group must be gone.",
        ..W
    },
    Action {
        name: "lvrename",
        args: &[s("logvol"), s("newlogvol")],
        proc_nr: Some(144),
        shortdesc: "rename an LVM logical volume",
        longdesc: "Rename the logical volume `logvol` (/dev/VG/LV) to `newlogvol` (same VG).",
        ..W
    },
    Action {
        name: "vgrename",
        args: &[s("volgroup"), s("newvolgroup")],
        proc_nr: Some(145),
        shortdesc: "rename an LVM volume group",
        longdesc: "Rename the volume group `volgroup` to `newvolgroup`.",
        ..W
    },
    Action {
        name: "lvm_remove_all",
        proc_nr: Some(146),
        shortdesc: "remove all LVM LVs, VGs and PVs",
        longdesc: "Remove every logical volume, volume group and physical volume.",
        ..W
    },
    Action {
        name: "vg_activate_all",
        args: &[b("activate")],
        proc_nr: Some(65),
        shortdesc: "activate or deactivate all volume groups",
        longdesc: "Make the logical volumes of every volume group appear (or go). The direct \
engine always shows them, so there it does nothing.",
        ..R
    },
    Action {
        name: "vg_activate",
        args: &[b("activate"), slist("volgroups")],
        proc_nr: Some(137),
        shortdesc: "activate or deactivate some volume groups",
        longdesc: "`vg_activate_all` for the volume groups named (all of them when the list \
is empty).",
        ..R
    },
    Action {
        name: "lvm_scan",
        handle_mut: true,
        args: &[b("activate")],
        engine: Handle,
        proc_nr: Some(150),
        shortdesc: "scan for LVM physical volumes, volume groups and logical volumes",
        longdesc: "Look for LVM metadata again (after `cryptsetup_open`, say), and with \
`activate` make the logical volumes found appear.",
        ..R
    },
    Action {
        name: "vgscan",
        handle_mut: true,
        engine: Handle,
        deprecated_by: Some("lvm_scan"),
        shortdesc: "rescan for LVM physical volumes, volume groups and logical volumes",
        longdesc: "`lvm_scan` with `activate` true.",
        ..R
    },
    Action {
        name: "lvs",
        ret: Ret::StringList,
        proc_nr: Some(62),
        shortdesc: "list the LVM logical volumes (LVs)",
        longdesc: "Every logical volume as /dev/VG/LV, sorted.",
        ..R
    },
    Action {
        name: "vgs",
        ret: Ret::StringList,
        proc_nr: Some(63),
        shortdesc: "list the LVM volume groups (VGs)",
        longdesc: "Every volume group name, sorted.",
        ..R
    },
    Action {
        name: "pvs",
        ret: Ret::StringList,
        proc_nr: Some(64),
        shortdesc: "list the LVM physical volumes (PVs)",
        longdesc: "Every physical volume's device, sorted.",
        ..R
    },
    Action {
        name: "lvs_full",
        ret: Ret::StructList("lvm_lv"),
        proc_nr: Some(138),
        shortdesc: "list the LVM logical volumes (LVs)",
        longdesc: "Every logical volume with the fields lvs(8) reports.",
        ..R
    },
    Action {
        name: "vgs_full",
        ret: Ret::StructList("lvm_vg"),
        proc_nr: Some(139),
        shortdesc: "list the LVM volume groups (VGs)",
        longdesc: "Every volume group with the fields vgs(8) reports.",
        ..R
    },
    Action {
        name: "pvs_full",
        ret: Ret::StructList("lvm_pv"),
        proc_nr: Some(140),
        shortdesc: "list the LVM physical volumes (PVs)",
        longdesc: "Every physical volume with the fields pvs(8) reports.",
        ..R
    },
    Action {
        name: "lvuuid",
        args: &[dev("device")],
        ret: Ret::String,
        proc_nr: Some(153),
        shortdesc: "get the UUID of a logical volume",
        longdesc: "The LVM UUID of the logical volume `device` as lvm prints it, with \
dashes (the `*_full` calls give UUIDs without them).",
        ..R
    },
    Action {
        name: "vguuid",
        args: &[s("vgname")],
        ret: Ret::String,
        proc_nr: Some(154),
        shortdesc: "get the UUID of a volume group",
        longdesc: "The LVM UUID of the volume group `vgname`.",
        ..R
    },
    Action {
        name: "pvuuid",
        args: &[dev("device")],
        ret: Ret::String,
        proc_nr: Some(155),
        shortdesc: "get the UUID of a physical volume",
        longdesc: "The LVM UUID of the physical volume `device`.",
        ..R
    },
    Action {
        name: "vglvuuids",
        args: &[s("vgname")],
        ret: Ret::StringList,
        proc_nr: Some(151),
        shortdesc: "get the LV UUIDs of all LVs in the volume group",
        longdesc: "The UUIDs of the logical volumes of `vgname`.",
        ..R
    },
    Action {
        name: "vgpvuuids",
        args: &[s("vgname")],
        ret: Ret::StringList,
        proc_nr: Some(152),
        shortdesc: "get the PV UUIDs containing the volume group",
        longdesc: "The UUIDs of the physical volumes of `vgname`.",
        ..R
    },
    Action {
        name: "list_dm_devices",
        ret: Ret::StringList,
        proc_nr: Some(147),
        shortdesc: "list device mapper devices",
        longdesc: "The /dev/mapper devices other than logical volumes: opened encrypted \
devices.",
        ..R
    },
    Action {
        name: "lvm_canonical_lv_name",
        args: &[s("lvname")],
        ret: Ret::String,
        proc_nr: Some(148),
        shortdesc: "get canonical name of an LV",
        longdesc: "The /dev/VG/LV name of a logical volume given as /dev/mapper/VG-LV (or \
/dev/VG/LV). An error when it is not a logical volume.",
        ..R
    },
    Action {
        name: "is_lv",
        args: &[mountable("mountable")],
        ret: Ret::Bool,
        proc_nr: Some(149),
        shortdesc: "test if mountable is a logical volume",
        longdesc: "True if `mountable` is an LVM logical volume.",
        ..R
    },
    // Encrypted devices: opened devices are part of the handle's state
    // (replayed when `auto` moves to the appliance), hence hand-written.
    Action {
        name: "cryptsetup_open",
        handle_mut: true,
        args: &[dev("device"), key("key"), s("mapname")],
        optargs: &[ob("readonly"), os("crypttype"), os("cipher")],
        engine: Handle,
        proc_nr: Some(156),
        group: Some("luks"),
        shortdesc: "open an encrypted block device",
        longdesc: "Unlock the encrypted `device` (LUKS1, LUKS2) with `key`; the plain device \
appears as /dev/mapper/`mapname`, and LVM on it is scanned. `crypttype` is `luks` \
(detected when absent); `readonly` is implied on read-only drives. The direct engine \
decrypts in-process; the key is never logged or written.",
        ..R
    },
    Action {
        name: "cryptsetup_close",
        handle_mut: true,
        args: &[dev("device")],
        engine: Handle,
        proc_nr: Some(157),
        group: Some("luks"),
        shortdesc: "close an encrypted device",
        longdesc: "Close the unlocked device /dev/mapper/NAME.",
        ..R
    },
    Action {
        name: "luks_uuid",
        args: &[dev("device")],
        ret: Ret::String,
        proc_nr: Some(169),
        group: Some("luks"),
        shortdesc: "get the UUID of a LUKS device",
        longdesc: "The UUID in the LUKS header of the encrypted `device`.",
        ..R
    },
    Action {
        name: "luks_open",
        handle_mut: true,
        args: &[dev("device"), key("key"), s("mapname")],
        engine: Handle,
        group: Some("luks"),
        deprecated_by: Some("cryptsetup_open"),
        shortdesc: "open a LUKS-encrypted block device",
        longdesc: "`cryptsetup_open`.",
        ..R
    },
    Action {
        name: "luks_open_ro",
        handle_mut: true,
        args: &[dev("device"), key("key"), s("mapname")],
        engine: Handle,
        group: Some("luks"),
        deprecated_by: Some("cryptsetup_open"),
        shortdesc: "open a LUKS-encrypted block device read-only",
        longdesc: "`cryptsetup_open` with `readonly:true`.",
        ..R
    },
    Action {
        name: "luks_close",
        handle_mut: true,
        args: &[dev("device")],
        engine: Handle,
        group: Some("luks"),
        deprecated_by: Some("cryptsetup_close"),
        shortdesc: "close a LUKS device",
        longdesc: "`cryptsetup_close`.",
        ..R
    },
];

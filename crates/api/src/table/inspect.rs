//! Inspection: host-side logic over the other calls (crates/guestfs's
//! `inspect` module), hence hand-written and the same on both engines.

use super::*;
use crate::{Action, Ret};

const A: Action = Action::DEFAULT;
const ROOT: &[crate::Arg] = &[mountable("root")];

const fn getter(
    name: &'static str,
    ret: Ret,
    shortdesc: &'static str,
    longdesc: &'static str,
) -> Action {
    Action {
        name,
        args: ROOT,
        ret,
        shortdesc,
        longdesc,
        ..A
    }
}

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "inspect_os",
        handle_mut: true,
        ret: Ret::StringList,
        shortdesc: "inspect disk and return list of operating systems found",
        longdesc: "Look at every filesystem for an operating system and return the root \
device of each one found (empty if none). The other `inspect_get_*` calls then describe \
one root. Filesystems are mounted read-only one at a time and nothing stays mounted.",
        ..A
    },
    Action {
        name: "inspect_get_roots",
        ret: Ret::StringList,
        shortdesc: "return list of operating systems found by last inspection",
        longdesc: "The roots the last `inspect_os` returned.",
        ..A
    },
    getter(
        "inspect_get_type",
        Ret::String,
        "get type of inspected operating system",
        "`linux`, `windows`, `freebsd`, `netbsd`, `openbsd`, `hurd`, `dos`, `minix` or \
`unknown`.",
    ),
    getter(
        "inspect_get_arch",
        Ret::String,
        "get architecture of inspected operating system",
        "The architecture (`x86_64`, `i386`, `aarch64`, ...) from the guest's binaries, or \
`unknown`.",
    ),
    getter(
        "inspect_get_distro",
        Ret::String,
        "get distro of inspected operating system",
        "The distribution (`debian`, `ubuntu`, `fedora`, `rhel`, `centos`, `rocky`, \
`archlinux`, `alpine`, `opensuse`, `windows`, ...) or `unknown`.",
    ),
    getter(
        "inspect_get_major_version",
        Ret::Int,
        "get major version of inspected operating system",
        "The major version (0 when unknown).",
    ),
    getter(
        "inspect_get_minor_version",
        Ret::Int,
        "get minor version of inspected operating system",
        "The minor version (0 when unknown).",
    ),
    getter(
        "inspect_get_product_name",
        Ret::String,
        "get product name of inspected operating system",
        "The product name as the guest states it (`Debian GNU/Linux 12 (bookworm)`), or \
`unknown`.",
    ),
    getter(
        "inspect_get_product_variant",
        Ret::String,
        "get product variant of inspected operating system",
        "The variant (`Server`, `Client`, ... for Windows), or `unknown`.",
    ),
    getter(
        "inspect_get_mountpoints",
        Ret::Hashtable,
        "get mountpoints of inspected operating system",
        "Where the guest mounts its filesystems (from its fstab, or its drive letters): \
mountpoint and device pairs, `/` first.",
    ),
    getter(
        "inspect_get_filesystems",
        Ret::StringList,
        "get filesystems associated with inspected operating system",
        "Every filesystem that belongs to this operating system.",
    ),
    Action {
        deprecated_by: Some("inspect_get_type"),
        ..getter(
            "inspect_get_format",
            Ret::String,
            "get format of inspected operating system",
            "`installed` for an installed system (install media are not recognised).",
        )
    },
    Action {
        deprecated_by: Some("inspect_get_type"),
        ..getter(
            "inspect_is_live",
            Ret::Bool,
            "get live flag for install disk",
            "Always false.",
        )
    },
    Action {
        deprecated_by: Some("inspect_get_type"),
        ..getter(
            "inspect_is_netinst",
            Ret::Bool,
            "get netinst (network installer) flag for install disk",
            "Always false.",
        )
    },
    Action {
        deprecated_by: Some("inspect_get_type"),
        ..getter(
            "inspect_is_multipart",
            Ret::Bool,
            "get multipart flag for install disk",
            "Always false.",
        )
    },
    getter(
        "inspect_get_windows_systemroot",
        Ret::String,
        "get Windows systemroot of inspected operating system",
        "The Windows system directory (`/Windows`) as a guest path.",
    ),
    getter(
        "inspect_get_windows_software_hive",
        Ret::String,
        "get the path of the Windows software hive",
        "The guest path of the SOFTWARE registry hive.",
    ),
    getter(
        "inspect_get_windows_system_hive",
        Ret::String,
        "get the path of the Windows system hive",
        "The guest path of the SYSTEM registry hive.",
    ),
    getter(
        "inspect_get_windows_current_control_set",
        Ret::String,
        "get Windows CurrentControlSet of inspected operating system",
        "The control set Windows uses (`ControlSet001`).",
    ),
    getter(
        "inspect_get_drive_mappings",
        Ret::Hashtable,
        "get drive letter mappings",
        "Windows drive letters and their devices (`C` -> /dev/sda2).",
    ),
    getter(
        "inspect_get_package_format",
        Ret::String,
        "get package format used by the operating system",
        "`rpm`, `deb`, `pacman`, `apk`, `ebuild`, ... or `unknown`.",
    ),
    getter(
        "inspect_get_package_management",
        Ret::String,
        "get package management tool used by the operating system",
        "`dnf`, `yum`, `apt`, `pacman`, `apk`, `zypper`, `portage`, ... or `unknown`.",
    ),
    getter(
        "inspect_get_hostname",
        Ret::String,
        "get hostname of the operating system",
        "The hostname the guest configures, or `unknown`.",
    ),
    getter(
        "inspect_get_build_id",
        Ret::String,
        "get the system build ID",
        "The build id (`BUILD_ID` of os-release, the Windows build number), or `unknown`.",
    ),
    getter(
        "inspect_get_osinfo",
        Ret::String,
        "get a possible osinfo short ID corresponding to this operating system",
        "The libosinfo short id (`debian12`, `fedora39`, `win10`, ...), or `unknown`.",
    ),
    getter(
        "inspect_list_applications2",
        Ret::StructList("application2"),
        "get list of applications installed in the operating system",
        "The installed packages (rpm, dpkg, pacman, apk databases; Windows uninstall \
keys), sorted by name. Needs the guest's filesystems mounted (`-i` does it).",
    ),
    Action {
        deprecated_by: Some("inspect_list_applications2"),
        ..getter(
            "inspect_list_applications",
            Ret::StructList("application"),
            "get list of applications installed in the operating system",
            "`inspect_list_applications2` without the architecture and class.",
        )
    },
    Action {
        optargs: &[ob("favicon"), ob("highquality")],
        ..getter(
            "inspect_get_icon",
            Ret::BufferOut,
            "get the icon corresponding to this operating system",
            "The distribution's icon (a PNG) as libguestfs finds it in the guest, or nothing \
(an empty result) when there is none. `favicon` allows the website's small icon; \
`highquality` asks for one at least 256 pixels wide. Needs the guest's filesystems \
mounted.",
        )
    },
];

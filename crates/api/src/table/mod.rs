//! The rows of the table, one file per area. A row is an [`Action`] literal
//! that starts from [`Action::DEFAULT`]; the short constructors below keep the
//! argument lists readable (`args: &[dev("device"), path("dir")]`).
//!
//! Wire procedure numbers (`proc_nr`) are unique across all files and never
//! reused: the highest one in use is [`LAST_PROC_NR`] (a test checks both).

use crate::{Action, Arg, ArgKind, FieldKind, OptArg, OptKind, StrKind, StructDef};

mod config;
mod disks;
mod files;
mod fish;
mod fs;
mod inspect;
mod internal;
mod lvm;
mod mount;
mod parts;
mod writes;

pub use fish::FISH_COMMANDS;

/// The highest wire procedure number in use; a new call takes the next one.
pub const LAST_PROC_NR: u32 = 174;

static GROUPS: &[&[Action]] = &[
    config::ACTIONS,
    mount::ACTIONS,
    files::ACTIONS,
    writes::ACTIONS,
    disks::ACTIONS,
    parts::ACTIONS,
    lvm::ACTIONS,
    fs::ACTIONS,
    inspect::ACTIONS,
    internal::ACTIONS,
];

/// Every call, area by area.
pub fn actions() -> impl Iterator<Item = &'static Action> {
    GROUPS.iter().flat_map(|g| g.iter())
}

const fn arg(name: &'static str, kind: ArgKind) -> Arg {
    Arg { name, kind }
}
pub(crate) const fn s(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::Plain))
}
pub(crate) const fn dev(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::Device))
}
pub(crate) const fn mountable(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::Mountable))
}
pub(crate) const fn path(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::Pathname))
}
pub(crate) const fn dev_or_path(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::DevOrPath))
}
pub(crate) const fn file_in(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::FileIn))
}
pub(crate) const fn file_out(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::FileOut))
}
pub(crate) const fn key(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::Key))
}
pub(crate) const fn guid(name: &'static str) -> Arg {
    arg(name, ArgKind::Str(StrKind::Guid))
}
pub(crate) const fn opt_s(name: &'static str) -> Arg {
    arg(name, ArgKind::OptStr)
}
pub(crate) const fn slist(name: &'static str) -> Arg {
    arg(name, ArgKind::StrList(StrKind::Plain))
}
pub(crate) const fn devlist(name: &'static str) -> Arg {
    arg(name, ArgKind::StrList(StrKind::Device))
}
pub(crate) const fn namelist(name: &'static str) -> Arg {
    arg(name, ArgKind::StrList(StrKind::Filename))
}
pub(crate) const fn b(name: &'static str) -> Arg {
    arg(name, ArgKind::Bool)
}
pub(crate) const fn int(name: &'static str) -> Arg {
    arg(name, ArgKind::Int)
}
pub(crate) const fn int64(name: &'static str) -> Arg {
    arg(name, ArgKind::Int64)
}
pub(crate) const fn buf(name: &'static str) -> Arg {
    arg(name, ArgKind::BufferIn)
}

const fn opt(name: &'static str, kind: OptKind) -> OptArg {
    OptArg { name, kind }
}
pub(crate) const fn ob(name: &'static str) -> OptArg {
    opt(name, OptKind::Bool)
}
pub(crate) const fn oi(name: &'static str) -> OptArg {
    opt(name, OptKind::Int)
}
pub(crate) const fn oi64(name: &'static str) -> OptArg {
    opt(name, OptKind::Int64)
}
pub(crate) const fn os(name: &'static str) -> OptArg {
    opt(name, OptKind::Str)
}
pub(crate) const fn osl(name: &'static str) -> OptArg {
    opt(name, OptKind::StrList)
}

use FieldKind::*;

/// The structs calls return, with libguestfs's field names and order.
pub static STRUCTS: &[StructDef] = &[
    StructDef {
        name: "stat",
        rust_name: "Stat",
        doc: "`stat`/`lstat` (deprecated for `statns`): times in whole seconds.",
        fields: &[
            ("dev", Int64),
            ("ino", Int64),
            ("mode", Int64),
            ("nlink", Int64),
            ("uid", Int64),
            ("gid", Int64),
            ("rdev", Int64),
            ("size", Int64),
            ("blksize", Int64),
            ("blocks", Int64),
            ("atime", Int64),
            ("mtime", Int64),
            ("ctime", Int64),
        ],
    },
    StructDef {
        name: "statns",
        rust_name: "StatNs",
        doc: "`statns`/`lstatns`: stat(2) with nanosecond times.",
        fields: &[
            ("st_dev", Int64),
            ("st_ino", Int64),
            ("st_mode", Int64),
            ("st_nlink", Int64),
            ("st_uid", Int64),
            ("st_gid", Int64),
            ("st_rdev", Int64),
            ("st_size", Int64),
            ("st_blksize", Int64),
            ("st_blocks", Int64),
            ("st_atime_sec", Int64),
            ("st_atime_nsec", Int64),
            ("st_mtime_sec", Int64),
            ("st_mtime_nsec", Int64),
            ("st_ctime_sec", Int64),
            ("st_ctime_nsec", Int64),
            ("st_spare1", Int64),
            ("st_spare2", Int64),
            ("st_spare3", Int64),
            ("st_spare4", Int64),
            ("st_spare5", Int64),
            ("st_spare6", Int64),
        ],
    },
    StructDef {
        name: "statvfs",
        rust_name: "StatVfs",
        doc: "`statvfs`: filesystem statistics as statvfs(2) gives them.",
        fields: &[
            ("bsize", Int64),
            ("frsize", Int64),
            ("blocks", Int64),
            ("bfree", Int64),
            ("bavail", Int64),
            ("files", Int64),
            ("ffree", Int64),
            ("favail", Int64),
            ("fsid", Int64),
            ("flag", Int64),
            ("namemax", Int64),
        ],
    },
    StructDef {
        name: "dirent",
        rust_name: "Dirent",
        doc: "`readdir`: one directory entry; `ftyp` is one of b c d f l r s u ?.",
        fields: &[("ino", Int64), ("ftyp", Char), ("name", Str)],
    },
    StructDef {
        name: "version",
        rust_name: "Version",
        doc: "`version`: the library's version.",
        fields: &[
            ("major", Int64),
            ("minor", Int64),
            ("release", Int64),
            ("extra", Str),
        ],
    },
    StructDef {
        name: "xattr",
        rust_name: "Xattr",
        doc: "An extended attribute: name and raw value.",
        fields: &[("attrname", Str), ("attrval", Buffer)],
    },
    StructDef {
        name: "partition",
        rust_name: "Partition",
        doc: "`part_list`: number, and start, end (inclusive) and size in bytes.",
        fields: &[
            ("part_num", Int32),
            ("part_start", Bytes),
            ("part_end", Bytes),
            ("part_size", Bytes),
        ],
    },
    StructDef {
        name: "lvm_pv",
        rust_name: "LvmPv",
        doc: "`pvs_full`: an LVM physical volume.",
        fields: &[
            ("pv_name", Device),
            ("pv_uuid", Uuid),
            ("pv_fmt", Str),
            ("pv_size", Bytes),
            ("dev_size", Bytes),
            ("pv_free", Bytes),
            ("pv_used", Bytes),
            ("pv_attr", Str),
            ("pv_pe_count", Int64),
            ("pv_pe_alloc_count", Int64),
            ("pv_tags", Str),
            ("pe_start", Bytes),
            ("pv_mda_count", Int64),
            ("pv_mda_free", Bytes),
        ],
    },
    StructDef {
        name: "lvm_vg",
        rust_name: "LvmVg",
        doc: "`vgs_full`: an LVM volume group.",
        fields: &[
            ("vg_name", Str),
            ("vg_uuid", Uuid),
            ("vg_fmt", Str),
            ("vg_attr", Str),
            ("vg_size", Bytes),
            ("vg_free", Bytes),
            ("vg_sysid", Str),
            ("vg_extent_size", Bytes),
            ("vg_extent_count", Int64),
            ("vg_free_count", Int64),
            ("max_lv", Int64),
            ("max_pv", Int64),
            ("pv_count", Int64),
            ("lv_count", Int64),
            ("snap_count", Int64),
            ("vg_seqno", Int64),
            ("vg_tags", Str),
            ("vg_mda_count", Int64),
            ("vg_mda_free", Bytes),
        ],
    },
    StructDef {
        name: "lvm_lv",
        rust_name: "LvmLv",
        doc: "`lvs_full`: an LVM logical volume.",
        fields: &[
            ("lv_name", Str),
            ("lv_uuid", Uuid),
            ("lv_attr", Str),
            ("lv_major", Int64),
            ("lv_minor", Int64),
            ("lv_kernel_major", Int64),
            ("lv_kernel_minor", Int64),
            ("lv_size", Bytes),
            ("seg_count", Int64),
            ("origin", Str),
            ("snap_percent", OptPercent),
            ("copy_percent", OptPercent),
            ("move_pv", Str),
            ("lv_tags", Str),
            ("mirror_log", Str),
            ("modules", Str),
        ],
    },
    StructDef {
        name: "application",
        rust_name: "Application",
        doc: "`inspect_list_applications` (deprecated for `application2`).",
        fields: &[
            ("app_name", Str),
            ("app_display_name", Str),
            ("app_epoch", Int32),
            ("app_version", Str),
            ("app_release", Str),
            ("app_install_path", Str),
            ("app_trans_path", Str),
            ("app_publisher", Str),
            ("app_url", Str),
            ("app_source_package", Str),
            ("app_summary", Str),
            ("app_description", Str),
        ],
    },
    StructDef {
        name: "application2",
        rust_name: "Application2",
        doc: "`inspect_list_applications2`: an installed application.",
        fields: &[
            ("app2_name", Str),
            ("app2_display_name", Str),
            ("app2_epoch", Int32),
            ("app2_version", Str),
            ("app2_release", Str),
            ("app2_arch", Str),
            ("app2_install_path", Str),
            ("app2_trans_path", Str),
            ("app2_publisher", Str),
            ("app2_url", Str),
            ("app2_source_package", Str),
            ("app2_summary", Str),
            ("app2_description", Str),
            ("app2_class", Str),
            ("app2_spare2", Str),
            ("app2_spare3", Str),
            ("app2_spare4", Str),
        ],
    },
];

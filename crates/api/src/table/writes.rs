//! Changing files: only the appliance writes, with the guest's own kernel
//! doing the filesystem work. In `auto` the first of these starts it.

use super::*;
use crate::{Action, Engine::*, Ret};

const A: Action = Action {
    engine: Appliance,
    writes: true,
    ..Action::DEFAULT
};

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "write",
        args: &[path("path"), buf("content")],
        proc_nr: Some(20),
        shortdesc: "create a new file",
        longdesc: "Create `path`, or replace its contents, with `content` (any bytes).",
        ..A
    },
    Action {
        name: "write_append",
        args: &[path("path"), buf("content")],
        proc_nr: Some(21),
        shortdesc: "append content to end of file",
        longdesc: "Append `content` to `path`, creating it if it does not exist.",
        ..A
    },
    Action {
        name: "upload",
        args: &[file_in("filename"), dev_or_path("remotefilename")],
        proc_nr: Some(19),
        // Written by hand: large files go through the staging disk.
        engine: Handle,
        handle_mut: true,
        shortdesc: "upload a file from the local machine",
        longdesc: "Copy the local file `filename` (`-` is stdin in gx-fish) to the guest file \
(or device) `remotefilename`, created or truncated, streaming in constant memory.",
        ..A
    },
    Action {
        name: "upload_offset",
        args: &[
            file_in("filename"),
            dev_or_path("remotefilename"),
            int64("offset"),
        ],
        proc_nr: Some(91),
        shortdesc: "upload a file from the local machine with offset",
        longdesc: "Like `upload`, writing at `offset` of `remotefilename` without truncating \
it (a missing file is created).",
        ..A
    },
    Action {
        name: "pwrite",
        args: &[path("path"), buf("content"), int64("offset")],
        ret: Ret::Int,
        proc_nr: Some(92),
        // Written by hand: large writes go through the staging disk.
        engine: Handle,
        handle_mut: true,
        shortdesc: "write to part of a file",
        longdesc: "Write `content` to the existing file `path` at `offset`; the number of \
bytes written.",
        ..A
    },
    Action {
        name: "pwrite_device",
        args: &[dev("device"), buf("content"), int64("offset")],
        ret: Ret::Int,
        proc_nr: Some(93),
        shortdesc: "write to part of a device",
        longdesc: "Write `content` to `device` at `offset`; the number of bytes written.",
        ..A
    },
    Action {
        name: "mkdir",
        args: &[path("path")],
        proc_nr: Some(22),
        shortdesc: "create a directory",
        longdesc: "Create the directory `path`; its parent must exist.",
        ..A
    },
    Action {
        name: "mkdir_p",
        args: &[path("path")],
        proc_nr: Some(23),
        shortdesc: "create a directory and parents",
        longdesc: "Create `path` and any missing parents; no error if it exists.",
        ..A
    },
    Action {
        name: "mkdir_mode",
        args: &[path("path"), int("mode")],
        proc_nr: Some(24),
        shortdesc: "create a directory with a particular mode",
        longdesc: "Create the directory `path` with permissions `mode` (less the umask 022).",
        ..A
    },
    Action {
        name: "rmdir",
        args: &[path("path")],
        proc_nr: Some(27),
        shortdesc: "remove a directory",
        longdesc: "Remove the empty directory `path`.",
        ..A
    },
    Action {
        name: "rm",
        args: &[path("path")],
        proc_nr: Some(25),
        shortdesc: "remove a file",
        longdesc: "Remove the file (not a directory) `path`.",
        ..A
    },
    Action {
        name: "rm_f",
        args: &[path("path")],
        proc_nr: Some(87),
        shortdesc: "remove a file ignoring errors",
        longdesc: "Remove the file `path`; no error if it does not exist. A directory is still \
an error.",
        ..A
    },
    Action {
        name: "rm_rf",
        args: &[path("path")],
        proc_nr: Some(26),
        shortdesc: "remove a file or directory recursively",
        longdesc: "Remove `path` and everything below it; no error if it does not exist.",
        ..A
    },
    Action {
        name: "mv",
        args: &[path("src"), path("dest")],
        proc_nr: Some(28),
        shortdesc: "move a file",
        longdesc: "Move `src` to `dest` as mv(1) does, across filesystems too.",
        ..A
    },
    Action {
        name: "rename",
        args: &[path("oldpath"), path("newpath")],
        proc_nr: Some(37),
        shortdesc: "rename a file on the same filesystem",
        longdesc: "rename(2): atomically replace `newpath` with `oldpath`, on one filesystem.",
        ..A
    },
    Action {
        name: "cp",
        args: &[path("src"), path("dest")],
        proc_nr: Some(29),
        shortdesc: "copy a file",
        longdesc: "Copy the file `src` to `dest` (cp(1)).",
        ..A
    },
    Action {
        name: "cp_a",
        args: &[path("src"), path("dest")],
        proc_nr: Some(30),
        shortdesc: "copy a file or directory recursively",
        longdesc: "Copy `src` to `dest` recursively, keeping modes, owners, times and links \
(cp -a).",
        ..A
    },
    Action {
        name: "cp_r",
        args: &[path("src"), path("dest")],
        proc_nr: Some(88),
        shortdesc: "copy a file or directory recursively",
        longdesc: "Copy `src` to `dest` recursively without keeping attributes (cp -rP).",
        ..A
    },
    Action {
        name: "chmod",
        args: &[int("mode"), path("path")],
        proc_nr: Some(31),
        shortdesc: "change file mode",
        longdesc: "Set the permission bits of `path` to `mode` (write it in octal: \
`chmod 0644 /file`).",
        ..A
    },
    Action {
        name: "chown",
        args: &[int("owner"), int("group"), path("path")],
        proc_nr: Some(32),
        shortdesc: "change file owner and group",
        longdesc: "Set the owner and group of `path` (numeric ids; symlinks followed).",
        ..A
    },
    Action {
        name: "lchown",
        args: &[int("owner"), int("group"), path("path")],
        proc_nr: Some(33),
        shortdesc: "change file owner and group",
        longdesc: "Like `chown`, for the symlink itself when `path` is one.",
        ..A
    },
    Action {
        name: "touch",
        args: &[path("path")],
        proc_nr: Some(34),
        shortdesc: "update file timestamps or create a new file",
        longdesc: "Create the empty file `path`, or set its times to now.",
        ..A
    },
    Action {
        name: "ln",
        args: &[s("target"), path("linkname")],
        proc_nr: Some(36),
        shortdesc: "create a hard link",
        longdesc: "Make `linkname` a hard link to `target`.",
        ..A
    },
    Action {
        name: "ln_f",
        args: &[s("target"), path("linkname")],
        proc_nr: Some(89),
        shortdesc: "create a hard link",
        longdesc: "Like `ln`, replacing `linkname` if it exists.",
        ..A
    },
    Action {
        name: "ln_s",
        args: &[s("target"), path("linkname")],
        proc_nr: Some(35),
        shortdesc: "create a symbolic link",
        longdesc: "Make `linkname` a symbolic link whose target is the string `target`.",
        ..A
    },
    Action {
        name: "ln_sf",
        args: &[s("target"), path("linkname")],
        proc_nr: Some(90),
        shortdesc: "create a symbolic link",
        longdesc: "Like `ln_s`, replacing `linkname` if it exists.",
        ..A
    },
    Action {
        name: "utimens",
        args: &[
            path("path"),
            int64("atsecs"),
            int64("atnsecs"),
            int64("mtsecs"),
            int64("mtnsecs"),
        ],
        proc_nr: Some(170),
        shortdesc: "set timestamp of a file with nanosecond precision",
        longdesc: "Set the access and modification times of `path` (a symlink itself, not \
its target). A nanoseconds value of -1 means now, -2 leaves that time unchanged.",
        ..A
    },
    Action {
        name: "mknod",
        args: &[int("mode"), int("devmajor"), int("devminor"), path("path")],
        proc_nr: Some(171),
        group: Some("mknod"),
        shortdesc: "make block, character or FIFO devices",
        longdesc: "Create the special file `path`: `mode` holds the type (S_IFBLK 0060000, \
S_IFCHR 0020000, S_IFIFO 0010000, S_IFSOCK 0140000) and the permission bits (less the \
umask 022); `devmajor`/`devminor` are the device numbers.",
        ..A
    },
    Action {
        name: "mkfifo",
        handle_mut: true,
        args: &[int("mode"), path("path")],
        engine: Handle,
        group: Some("mknod"),
        shortdesc: "make FIFO (named pipe)",
        longdesc: "`mknod` of a FIFO with permissions `mode`.",
        ..A
    },
    Action {
        name: "mknod_b",
        handle_mut: true,
        args: &[int("mode"), int("devmajor"), int("devminor"), path("path")],
        engine: Handle,
        group: Some("mknod"),
        shortdesc: "make block device node",
        longdesc: "`mknod` of a block device with permissions `mode`.",
        ..A
    },
    Action {
        name: "mknod_c",
        handle_mut: true,
        args: &[int("mode"), int("devmajor"), int("devminor"), path("path")],
        engine: Handle,
        group: Some("mknod"),
        shortdesc: "make char device node",
        longdesc: "`mknod` of a character device with permissions `mode`.",
        ..A
    },
    Action {
        name: "truncate",
        args: &[path("path")],
        proc_nr: Some(38),
        shortdesc: "truncate a file to zero size",
        longdesc: "Cut the existing file `path` to zero bytes.",
        ..A
    },
    Action {
        name: "truncate_size",
        args: &[path("path"), int64("size")],
        proc_nr: Some(39),
        shortdesc: "truncate a file to a particular size",
        longdesc: "Set the length of the existing file `path` to `size`; growing leaves a \
hole (sparse).",
        ..A
    },
    Action {
        name: "fallocate64",
        args: &[path("path"), int64("len")],
        proc_nr: Some(94),
        shortdesc: "preallocate a file in the guest filesystem",
        longdesc: "Create (or replace) `path` as a file of `len` bytes with its blocks \
allocated (zeroes), unlike `truncate_size`, which leaves a hole.",
        ..A
    },
    Action {
        name: "fallocate",
        handle_mut: true,
        args: &[path("path"), int("len")],
        engine: Handle,
        deprecated_by: Some("fallocate64"),
        shortdesc: "preallocate a file in the guest filesystem",
        longdesc: "`fallocate64` with a 31-bit length.",
        ..A
    },
    Action {
        name: "fill",
        args: &[int("c"), int("len"), path("path")],
        proc_nr: Some(96),
        shortdesc: "fill a file with octets",
        longdesc: "Write `len` bytes of value `c` (0 to 255) from the start of `path`, \
creating it if needed; as in libguestfs, a longer file keeps the rest.",
        ..A
    },
    Action {
        name: "fill_pattern",
        args: &[s("pattern"), int("len"), path("path")],
        proc_nr: Some(97),
        shortdesc: "fill a file with a repeating pattern of bytes",
        longdesc: "Write `len` bytes of `pattern` repeated (the last copy cut short) from \
the start of `path`, creating it if needed; a longer file keeps the rest.",
        ..A
    },
    Action {
        name: "copy_attributes",
        args: &[path("src"), path("dest")],
        optargs: &[ob("all"), ob("mode"), ob("xattributes"), ob("ownership")],
        proc_nr: Some(99),
        shortdesc: "copy the attributes of a path (file/directory) to another",
        longdesc: "Copy attributes of `src` to `dest`: `mode` the permission bits, \
`ownership` owner and group, `xattributes` every extended attribute (SELinux labels \
included), `all` everything. Without options, nothing is copied.",
        ..A
    },
    Action {
        name: "setxattr",
        args: &[s("xattr"), buf("val"), int("vallen"), path("path")],
        proc_nr: Some(100),
        group: Some("linuxxattrs"),
        shortdesc: "set extended attribute of a file or directory",
        longdesc: "Set the extended attribute `xattr` of `path` to the first `vallen` bytes \
of `val` (symlinks followed).",
        ..A
    },
    Action {
        name: "lsetxattr",
        args: &[s("xattr"), buf("val"), int("vallen"), path("path")],
        proc_nr: Some(101),
        group: Some("linuxxattrs"),
        shortdesc: "set extended attribute of a file or directory",
        longdesc: "Like `setxattr`, on the symlink itself when `path` is one.",
        ..A
    },
    Action {
        name: "removexattr",
        args: &[s("xattr"), path("path")],
        proc_nr: Some(102),
        group: Some("linuxxattrs"),
        shortdesc: "remove extended attribute of a file or directory",
        longdesc: "Remove the extended attribute `xattr` of `path` (symlinks followed).",
        ..A
    },
    Action {
        name: "lremovexattr",
        args: &[s("xattr"), path("path")],
        proc_nr: Some(103),
        group: Some("linuxxattrs"),
        shortdesc: "remove extended attribute of a file or directory",
        longdesc: "Like `removexattr`, on the symlink itself when `path` is one.",
        ..A
    },
    Action {
        name: "tar_in",
        args: &[file_in("tarfile"), path("directory")],
        optargs: &[
            os("compress"),
            ob("xattrs"),
            ob("selinux"),
            ob("acls"),
            ob("keepdirlink"),
        ],
        proc_nr: Some(104),
        shortdesc: "unpack tarfile to directory",
        longdesc: "Unpack the local tar archive `tarfile` (`-` is stdin in gx-fish) into the \
guest directory `directory`, keeping modes, owners (by number), times, links and, with \
`xattrs`/`selinux`, extended attributes. `compress` is `gzip`, `xz` or `zstd` when \
the archive is compressed. `keepdirlink` keeps an existing symlink to a directory \
instead of replacing it.",
        ..A
    },
    Action {
        name: "tgz_in",
        handle_mut: true,
        args: &[file_in("tarball"), path("directory")],
        engine: Handle,
        deprecated_by: Some("tar_in"),
        shortdesc: "unpack compressed tarball to directory",
        longdesc: "`tar_in` with `compress:gzip`.",
        ..A
    },
    Action {
        name: "txz_in",
        handle_mut: true,
        args: &[file_in("tarball"), path("directory")],
        engine: Handle,
        deprecated_by: Some("tar_in"),
        shortdesc: "unpack compressed tarball to directory",
        longdesc: "`tar_in` with `compress:xz`.",
        ..A
    },
    Action {
        name: "zero_free_space",
        args: &[path("directory")],
        proc_nr: Some(98),
        shortdesc: "zero free space in a filesystem",
        longdesc: "Fill the free space of the filesystem holding `directory` with zeroes (a \
temporary file that grows until the disk is full, then is removed), so that the image \
compresses or sparsifies well.",
        ..A
    },
    // Running programs in the appliance. They may write to the guest.
    Action {
        name: "sh",
        args: &[s("command")],
        ret: Ret::String,
        proc_nr: Some(66),
        shortdesc: "run a command via the shell",
        longdesc: "Run `command` with /bin/sh -c in the appliance, the guest's filesystems \
mounted under /sysroot; its standard output. A failing command is an error carrying its \
standard error.",
        ..A
    },
    Action {
        name: "sh_lines",
        args: &[s("command")],
        ret: Ret::StringList,
        proc_nr: Some(105),
        shortdesc: "run a command via the shell returning lines",
        longdesc: "`sh`, its output split into lines.",
        ..A
    },
    Action {
        name: "command",
        args: &[slist("arguments")],
        ret: Ret::String,
        proc_nr: Some(106),
        shortdesc: "run a command from the guest filesystem",
        longdesc: "Run the program `arguments[0]` of the guest, chrooted into the mounted \
guest with /dev, /proc and /sys available, with the other words as its arguments; its \
standard output.",
        ..A
    },
    Action {
        name: "command_lines",
        args: &[slist("arguments")],
        ret: Ret::StringList,
        proc_nr: Some(107),
        shortdesc: "run a command, returning lines",
        longdesc: "`command`, its output split into lines.",
        ..A
    },
];

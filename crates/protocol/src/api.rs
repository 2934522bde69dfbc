//! THE API table: every call the agent serves, defined once. Everything else is
//! generated from it: [`crate::Call`] (wire messages), [`crate::Handler`] +
//! [`crate::dispatch`] (the agent side), [`crate::CALLS`] (names, help, the
//! gx-fish command list) and the host client's typed methods (gx-appliance
//! expands [`with_api!`] with its own macro).
//!
//! Entry: `nr Pascal name(arg: Type, ...) -> RetType, stream, "doc";`
//! - `nr` is the wire procedure number: never reuse or renumber one.
//! - argument types are tokens: `Str`, `OptStr`, `StrList`, `Bool`, `Int` (i32),
//!   `Int64`, `Buf` (bytes); see [`arg_owned!`] and [`arg_ref!`].
//! - `stream` is `none`, `file_in` (host sends chunks after the call: upload) or
//!   `file_out` (agent sends chunks before its reply: download).
//! - names and argument names follow libguestfs, so guestfish scripts map 1:1.

/// Expands `$m! { entries }` with the whole API table.
#[macro_export]
macro_rules! with_api {
    ($m:ident) => {
        $m! {
            1 Ping ping() -> String, none, "Check the agent answers; returns its name and version.";
            2 ListDevices list_devices() -> Vec<String>, none, "List the block devices (/dev/sda, ...), in drive order.";
            3 ListPartitions list_partitions() -> Vec<String>, none, "List the partitions of all block devices.";
            4 BlockdevGetsize64 blockdev_getsize64(device: Str) -> i64, none, "Size of a block device in bytes.";
            5 BlockdevGetss blockdev_getss(device: Str) -> i32, none, "Logical sector size of a block device.";
            6 Mount mount(mountable: Str, mountpoint: Str) -> (), none, "Mount a filesystem read-write (mountpoint is relative to the guest root).";
            7 MountRo mount_ro(mountable: Str, mountpoint: Str) -> (), none, "Mount a filesystem read-only.";
            8 MountOptions mount_options(options: Str, mountable: Str, mountpoint: Str) -> (), none, "Mount with mount(8)-style options.";
            9 MountVfs mount_vfs(options: Str, vfstype: Str, mountable: Str, mountpoint: Str) -> (), none, "Mount with options and an explicit filesystem type.";
            10 Umount umount(pathordevice: Str) -> (), none, "Unmount a filesystem by mountpoint or device.";
            11 UmountAll umount_all() -> (), none, "Unmount everything, deepest first.";
            12 Mounts mounts() -> Vec<String>, none, "Devices currently mounted.";
            13 MountPoints mountpoints() -> Vec<(String, String)>, none, "Pairs of device and mountpoint.";
            14 Ls ls(directory: Str) -> Vec<String>, none, "Names in a directory, sorted, without . and ..";
            15 Ll ll(directory: Str) -> String, none, "Long listing of a directory (ls -la), for humans.";
            16 Cat cat(path: Str) -> String, none, "Contents of a small text file.";
            17 ReadFile read_file(path: Str) -> Vec<u8>, none, "Contents of a file (up to the frame limit; use download for big files).";
            18 Download download(remotefilename: Str) -> (), file_out, "Stream a file from the guest.";
            19 Upload upload(remotefilename: Str) -> (), file_in, "Stream data into a file in the guest (created or truncated).";
            20 Write write(path: Str, content: Buf) -> (), none, "Create or replace a file with the given content.";
            21 WriteAppend write_append(path: Str, content: Buf) -> (), none, "Append content to a file.";
            22 Mkdir mkdir(path: Str) -> (), none, "Create a directory.";
            23 MkdirP mkdir_p(path: Str) -> (), none, "Create a directory and its parents; no error if it exists.";
            24 MkdirMode mkdir_mode(path: Str, mode: Int) -> (), none, "Create a directory with a mode.";
            25 Rm rm(path: Str) -> (), none, "Remove a file.";
            26 RmRf rm_rf(path: Str) -> (), none, "Remove a file or directory tree; no error if missing.";
            27 Rmdir rmdir(path: Str) -> (), none, "Remove an empty directory.";
            28 Mv mv(src: Str, dest: Str) -> (), none, "Move a file or directory (mv(1)).";
            29 Cp cp(src: Str, dest: Str) -> (), none, "Copy a file.";
            30 CpA cp_a(src: Str, dest: Str) -> (), none, "Copy a file or tree keeping attributes (cp -a).";
            31 Chmod chmod(mode: Int, path: Str) -> (), none, "Change permissions.";
            32 Chown chown(owner: Int, group: Int, path: Str) -> (), none, "Change owner and group (follows symlinks).";
            33 Lchown lchown(owner: Int, group: Int, path: Str) -> (), none, "Change owner and group of the link itself.";
            34 Touch touch(path: Str) -> (), none, "Create an empty file or update its times.";
            35 LnS ln_s(target: Str, linkname: Str) -> (), none, "Create a symbolic link.";
            36 Ln ln(target: Str, linkname: Str) -> (), none, "Create a hard link.";
            37 Rename rename(oldpath: Str, newpath: Str) -> (), none, "rename(2).";
            38 Truncate truncate(path: Str) -> (), none, "Truncate a file to zero length.";
            39 TruncateSize truncate_size(path: Str, size: Int64) -> (), none, "Set a file's length.";
            40 Sync sync() -> (), none, "Flush everything to the disks.";
            41 Statvfs statvfs(path: Str) -> $crate::StatVfs, none, "Filesystem statistics (statvfs(2)).";
            42 Lstatns lstatns(path: Str) -> $crate::StatNs, none, "lstat(2) with nanosecond times.";
            43 Exists exists(path: Str) -> bool, none, "Whether the path exists (no error if not).";
            44 IsFile is_file(path: Str) -> bool, none, "Whether the path is a regular file (symlinks not followed).";
            45 IsDir is_dir(path: Str) -> bool, none, "Whether the path is a directory (symlinks not followed).";
            46 Readlink readlink(path: Str) -> String, none, "Target of a symbolic link.";
            47 Filesize filesize(path: Str) -> i64, none, "Size of a file.";
            48 Find find(directory: Str) -> Vec<String>, none, "All names under a directory, relative, sorted (like libguestfs find).";
            49 Pread pread(path: Str, count: Int, offset: Int64) -> Vec<u8>, none, "Read part of a file.";
            50 VfsType vfs_type(mountable: Str) -> String, none, "Filesystem type of a device (blkid TYPE), empty if none.";
            51 VfsLabel vfs_label(mountable: Str) -> String, none, "Filesystem label, empty if none.";
            52 VfsUuid vfs_uuid(mountable: Str) -> String, none, "Filesystem UUID, empty if none.";
            53 ListFilesystems list_filesystems() -> Vec<(String, String)>, none, "Every device/partition/LV with its filesystem type.";
            54 Mkfs mkfs(fstype: Str, device: Str) -> (), none, "Make a filesystem: ext2/3/4, vfat, ntfs, xfs, btrfs (as the appliance has the tools).";
            55 PartInit part_init(device: Str, parttype: Str) -> (), none, "Write an empty partition table: msdos (mbr) or gpt.";
            56 PartAdd part_add(device: Str, prlogex: Str, startsect: Int64, endsect: Int64) -> (), none, "Add a partition: primary/logical/extended (p/l/e), sectors inclusive; endsect -1 means to the end.";
            57 PartDisk part_disk(device: Str, parttype: Str) -> (), none, "One partition table with one partition covering the disk.";
            58 PartList part_list(device: Str) -> Vec<$crate::Partition>, none, "Partitions: number, start, end, size in bytes.";
            59 PartGetParttype part_get_parttype(device: Str) -> String, none, "Partition table type: msdos or gpt.";
            60 Resize2fs resize2fs(device: Str) -> (), none, "Grow or shrink ext2/3/4 to its device.";
            61 E2fsckF e2fsck_f(device: Str) -> (), none, "Force a check and repair of ext2/3/4 (e2fsck -fy).";
            62 Lvs lvs() -> Vec<String>, none, "Logical volumes as /dev/VG/LV.";
            63 Vgs vgs() -> Vec<String>, none, "Volume group names.";
            64 Pvs pvs() -> Vec<String>, none, "Physical volumes.";
            65 VgActivateAll vg_activate_all(activate: Bool) -> (), none, "Activate or deactivate all volume groups.";
            66 Sh sh(command: Str) -> String, none, "Run a shell command (busybox sh) in the appliance; stdout.";
            67 Debug debug(subcmd: Str, extraargs: StrList) -> String, none, "Diagnostics: help, env, dmesg, ls, cat, modules, ...";
            68 Zero zero(device: Str) -> (), none, "Write zeroes over the first MiB of a device (destroys signatures).";
            69 BlockdevRereadpt blockdev_rereadpt(device: Str) -> (), none, "Make the kernel re-read a partition table.";
            70 Shutdown internal_shutdown() -> (), none, "Unmount, sync, reply, then power the appliance off.";
            71 Start internal_start(time_ns: Int64, seed: Buf, drives: Int) -> String, none, "First call after the hello (or after restoring a snapshot): set the clock (ns since the epoch, 0 = leave), mix in host entropy and reseed the kernel RNG, load the disk driver and wait for the drives (plus the helper disk); returns the agent's self-description.";
        }
    };
}

/// The owned Rust type of an argument type token (what travels and what the
/// agent's handler receives).
#[macro_export]
macro_rules! arg_owned {
    (Str) => { ::std::string::String };
    (OptStr) => { ::std::option::Option<::std::string::String> };
    (StrList) => { ::std::vec::Vec<::std::string::String> };
    (Bool) => { bool };
    (Int) => { i32 };
    (Int64) => { i64 };
    (Buf) => { ::std::vec::Vec<u8> };
}

/// The borrowed type a client method takes for an argument type token.
#[macro_export]
macro_rules! arg_ref {
    (Str) => { &str };
    (OptStr) => { ::std::option::Option<&str> };
    (StrList) => { &[&str] };
    (Bool) => { bool };
    (Int) => { i32 };
    (Int64) => { i64 };
    (Buf) => { &[u8] };
}

/// Converts a client argument ([`arg_ref!`]) into its owned form.
#[macro_export]
macro_rules! arg_into {
    (Str, $e:expr) => {
        ::std::string::ToString::to_string($e)
    };
    (OptStr, $e:expr) => {
        $e.map(::std::string::ToString::to_string)
    };
    (StrList, $e:expr) => {
        $e.iter()
            .map(|s| ::std::string::ToString::to_string(s))
            .collect()
    };
    (Bool, $e:expr) => {
        $e
    };
    (Int, $e:expr) => {
        $e
    };
    (Int64, $e:expr) => {
        $e
    };
    (Buf, $e:expr) => {
        $e.to_vec()
    };
}

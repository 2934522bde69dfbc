//! Reading files and directories. The primitives are answered by either
//! engine ([`Both`]); everything built from them (cat, head, is_file,
//! checksum, ...) is composed in the Handle, so it behaves the same whoever
//! answers and never boots anything the direct engine can read.

use super::*;
use crate::{Action, Engine::*, Ret};

const A: Action = Action::DEFAULT;

pub(super) static ACTIONS: &[Action] = &[
    // Directory listings.
    Action {
        name: "ls",
        args: &[path("directory")],
        ret: Ret::StringList,
        engine: Both,
        proc_nr: Some(14),
        shortdesc: "list the files in a directory",
        longdesc: "The names in `directory`, sorted, without `.` and `..`.",
        ..A
    },
    Action {
        name: "ls0",
        args: &[path("dir"), file_out("filenames")],
        shortdesc: "get list of files in a directory",
        longdesc: "Like `ls`, but writes the names to the local file `filenames`, each ended \
by a NUL byte (safe for names with newlines).",
        ..A
    },
    Action {
        name: "ll",
        args: &[path("directory")],
        ret: Ret::String,
        shortdesc: "list the files in a directory (long format)",
        longdesc: "A long listing of `directory` in the style of `ls -la`, for people to \
read; programs should use `lstatnslist` or `readdir`.",
        ..A
    },
    Action {
        name: "readdir",
        args: &[path("dir")],
        ret: Ret::StructList("dirent"),
        engine: Both,
        proc_nr: Some(75),
        shortdesc: "read directories entries",
        longdesc: "Every entry of `dir`, including `.` and `..`, in directory order: inode \
number, name and type (`b` block device, `c` char device, `d` directory, `f` FIFO, `l` \
symlink, `r` regular file, `s` socket, `u` unknown, `?` not reported).",
        ..A
    },
    Action {
        name: "find",
        args: &[path("directory")],
        ret: Ret::StringList,
        engine: Both,
        proc_nr: Some(48),
        shortdesc: "find all files and directories",
        longdesc: "Every file and directory below `directory`, recursively, as paths relative \
to it, sorted, as libguestfs returns them: with a leading slash (`/a`, `/b`, `/b/c`), except \
when `directory` ends in a slash (`/`, `/etc/`: `a`, `b`, `b/c`). Symlinks are listed, not \
followed.",
        ..A
    },
    Action {
        name: "find0",
        args: &[path("directory"), file_out("files")],
        shortdesc: "find all files and directories, returning NUL-separated list",
        longdesc: "Like `find`, but writes the names to the local file `files`, each ended by \
a NUL byte, in the order the walk meets them (each directory before its contents, entries in \
directory order) rather than sorted. (On the appliance engine they come sorted.)",
        ..A
    },
    // Stat.
    Action {
        name: "statns",
        args: &[path("path")],
        ret: Ret::Struct("statns"),
        engine: Both,
        proc_nr: Some(73),
        shortdesc: "get file information",
        longdesc: "stat(2) of `path`, following symlinks, with nanosecond times.",
        ..A
    },
    Action {
        name: "lstatns",
        args: &[path("path")],
        ret: Ret::Struct("statns"),
        engine: Both,
        proc_nr: Some(42),
        shortdesc: "get file information for a symbolic link",
        longdesc: "Like `statns`, but a final symlink is described itself, not followed.",
        ..A
    },
    Action {
        name: "lstatnslist",
        args: &[path("path"), namelist("names")],
        ret: Ret::StructList("statns"),
        engine: Both,
        proc_nr: Some(74),
        shortdesc: "lstat on multiple files",
        longdesc: "`lstatns` of each of `names` in the directory `path`, in one call: the \
fast way to list a directory with attributes.",
        ..A
    },
    Action {
        name: "stat",
        args: &[path("path")],
        ret: Ret::Struct("stat"),
        deprecated_by: Some("statns"),
        shortdesc: "get file information",
        longdesc: "`statns` with the times in whole seconds.",
        ..A
    },
    Action {
        name: "lstat",
        args: &[path("path")],
        ret: Ret::Struct("stat"),
        deprecated_by: Some("lstatns"),
        shortdesc: "get file information for a symbolic link",
        longdesc: "`lstatns` with the times in whole seconds.",
        ..A
    },
    Action {
        name: "lstatlist",
        args: &[path("path"), namelist("names")],
        ret: Ret::StructList("stat"),
        deprecated_by: Some("lstatnslist"),
        shortdesc: "lstat on multiple files",
        longdesc: "`lstatnslist` with the times in whole seconds.",
        ..A
    },
    Action {
        name: "statvfs",
        args: &[path("path")],
        ret: Ret::Struct("statvfs"),
        engine: Both,
        proc_nr: Some(41),
        shortdesc: "get file system statistics",
        longdesc: "statvfs(2) of the filesystem holding `path`: block and inode counts.",
        ..A
    },
    Action {
        name: "du",
        args: &[path("path")],
        ret: Ret::Int64,
        shortdesc: "estimate file space usage",
        longdesc: "The space `path` and everything below it use on disk, in KiB, as `du -s` \
counts it (allocated blocks; hard links once).",
        ..A
    },
    // Tests.
    Action {
        name: "exists",
        args: &[path("path")],
        ret: Ret::Bool,
        shortdesc: "test if file or directory exists",
        longdesc: "True if `path` exists (after following symlinks); false, not an error, if \
not.",
        ..A
    },
    Action {
        name: "is_file",
        args: &[path("path")],
        optargs: &[ob("followsymlinks")],
        ret: Ret::Bool,
        shortdesc: "test if a regular file",
        longdesc: "True if `path` is a regular file. A symlink counts only with \
`followsymlinks:true`, when it ends at a regular file.",
        ..A
    },
    Action {
        name: "is_dir",
        args: &[path("path")],
        optargs: &[ob("followsymlinks")],
        ret: Ret::Bool,
        shortdesc: "test if a directory",
        longdesc: "True if `path` is a directory. A symlink counts only with \
`followsymlinks:true`, when it ends at a directory.",
        ..A
    },
    Action {
        name: "is_symlink",
        args: &[path("path")],
        ret: Ret::Bool,
        shortdesc: "test if symbolic link",
        longdesc: "True if `path` is a symbolic link.",
        ..A
    },
    Action {
        name: "is_chardev",
        args: &[path("path")],
        optargs: &[ob("followsymlinks")],
        ret: Ret::Bool,
        shortdesc: "test if character device",
        longdesc: "True if `path` is a character device (see `is_file` for `followsymlinks`).",
        ..A
    },
    Action {
        name: "is_blockdev",
        args: &[path("path")],
        optargs: &[ob("followsymlinks")],
        ret: Ret::Bool,
        shortdesc: "test if block device",
        longdesc: "True if `path` is a block device (see `is_file` for `followsymlinks`).",
        ..A
    },
    Action {
        name: "is_fifo",
        args: &[path("path")],
        optargs: &[ob("followsymlinks")],
        ret: Ret::Bool,
        shortdesc: "test if FIFO (named pipe)",
        longdesc: "True if `path` is a FIFO (see `is_file` for `followsymlinks`).",
        ..A
    },
    Action {
        name: "is_socket",
        args: &[path("path")],
        optargs: &[ob("followsymlinks")],
        ret: Ret::Bool,
        shortdesc: "test if socket",
        longdesc: "True if `path` is a Unix socket (see `is_file` for `followsymlinks`).",
        ..A
    },
    // Links and names.
    Action {
        name: "readlink",
        args: &[path("path")],
        ret: Ret::String,
        engine: Both,
        proc_nr: Some(46),
        shortdesc: "read the target of a symbolic link",
        longdesc: "The target of the symlink `path`, as stored.",
        ..A
    },
    Action {
        name: "readlinklist",
        args: &[path("path"), namelist("names")],
        ret: Ret::StringList,
        shortdesc: "readlink on multiple files",
        longdesc: "`readlink` of each of `names` in the directory `path`; an empty string for \
a name that is not a symlink.",
        ..A
    },
    Action {
        name: "realpath",
        args: &[path("path")],
        ret: Ret::String,
        engine: Both,
        proc_nr: Some(76),
        shortdesc: "canonicalized absolute pathname",
        longdesc: "`path` with every symlink, `.` and `..` resolved, inside the guest.",
        ..A
    },
    Action {
        name: "case_sensitive_path",
        args: &[path("path")],
        ret: Ret::String,
        shortdesc: "return true path on case-insensitive filesystem",
        longdesc: "The path as the filesystem spells it, matching each component without \
regard to case (for Windows guests: `/windows/system32` becomes \
`/Windows/System32`). The last component may be missing, and is then returned as given.",
        ..A
    },
    Action {
        name: "filesize",
        args: &[path("file")],
        ret: Ret::Int64,
        shortdesc: "return the size of the file in bytes",
        longdesc: "The size of `file` in bytes, following symlinks.",
        ..A
    },
    // Contents.
    Action {
        name: "download",
        args: &[dev_or_path("remotefilename"), file_out("filename")],
        engine: Both,
        proc_nr: Some(18),
        shortdesc: "download a file to the local machine",
        longdesc: "Copy the guest file (or device) `remotefilename` to the local file \
`filename` (`-` is stdout in gx-fish), streaming in constant memory.",
        ..A
    },
    Action {
        name: "download_offset",
        args: &[
            dev_or_path("remotefilename"),
            file_out("filename"),
            int64("offset"),
            int64("size"),
        ],
        engine: Both,
        proc_nr: Some(77),
        shortdesc: "download a file to the local machine with offset and size",
        longdesc: "Like `download`, copying only `size` bytes from `offset` (fewer at the end \
of the file).",
        ..A
    },
    Action {
        name: "cat",
        args: &[path("path")],
        ret: Ret::String,
        shortdesc: "list the contents of a file",
        longdesc: "The contents of the small text file `path`. Binary files and files over the \
2 MiB reply limit need `download` or `read_file`.",
        ..A
    },
    Action {
        name: "read_file",
        args: &[path("path")],
        ret: Ret::BufferOut,
        shortdesc: "read a file",
        longdesc: "The contents of `path` as bytes (NULs allowed), up to the 2 MiB reply \
limit; use `download` for bigger files.",
        ..A
    },
    Action {
        name: "read_lines",
        args: &[path("path")],
        ret: Ret::StringList,
        shortdesc: "read file as lines",
        longdesc: "The lines of the text file `path`, without their `\\n` (or `\\r\\n`) \
endings. A final line without a newline is returned too.",
        ..A
    },
    Action {
        name: "head",
        args: &[path("path")],
        ret: Ret::StringList,
        shortdesc: "return first 10 lines of a file",
        longdesc: "The first 10 lines of `path`.",
        ..A
    },
    Action {
        name: "head_n",
        args: &[int("nrlines"), path("path")],
        ret: Ret::StringList,
        shortdesc: "return first N lines of a file",
        longdesc: "The first `nrlines` lines of `path`; with a negative number, every line \
but the last -`nrlines`; with 0, nothing.",
        ..A
    },
    Action {
        name: "tail",
        args: &[path("path")],
        ret: Ret::StringList,
        shortdesc: "return last 10 lines of a file",
        longdesc: "The last 10 lines of `path`.",
        ..A
    },
    Action {
        name: "tail_n",
        args: &[int("nrlines"), path("path")],
        ret: Ret::StringList,
        shortdesc: "return last N lines of a file",
        longdesc: "The last `nrlines` lines of `path`; with a negative number, the lines from \
line -`nrlines` on; with 0, nothing.",
        ..A
    },
    Action {
        name: "pread",
        args: &[path("path"), int("count"), int64("offset")],
        ret: Ret::BufferOut,
        engine: Both,
        proc_nr: Some(49),
        shortdesc: "read part of a file",
        longdesc: "Up to `count` bytes of `path` from `offset`; fewer at the end of the file.",
        ..A
    },
    Action {
        name: "pread_device",
        args: &[dev("device"), int("count"), int64("offset")],
        ret: Ret::BufferOut,
        engine: Both,
        proc_nr: Some(78),
        shortdesc: "read part of a device",
        longdesc: "Up to `count` bytes of `device` from `offset`.",
        ..A
    },
    Action {
        name: "wc_l",
        args: &[path("path")],
        ret: Ret::Int,
        shortdesc: "count lines in a file",
        longdesc: "The number of newline characters in `path`, as `wc -l` counts.",
        ..A
    },
    Action {
        name: "wc_w",
        args: &[path("path")],
        ret: Ret::Int,
        shortdesc: "count words in a file",
        longdesc: "The number of whitespace-separated words in `path`, as `wc -w` counts.",
        ..A
    },
    Action {
        name: "wc_c",
        args: &[path("path")],
        ret: Ret::Int,
        shortdesc: "count characters in a file",
        longdesc: "The size of `path` in bytes, as `wc -c` counts.",
        ..A
    },
    Action {
        name: "grep",
        args: &[s("regex"), path("path")],
        optargs: &[
            ob("extended"),
            ob("fixed"),
            ob("insensitive"),
            ob("compressed"),
        ],
        ret: Ret::StringList,
        engine: Both,
        proc_nr: Some(84),
        shortdesc: "return lines matching a pattern",
        longdesc: "The lines of `path` that match `regex`, a basic regular expression as \
grep(1) reads it; `extended:true` takes an extended one (`grep -E`), `fixed:true` a \
plain string (`grep -F`), `insensitive:true` ignores case, `compressed:true` reads a \
gzip-compressed file (`zgrep`). The direct engine matches in-process; a pattern it \
cannot translate (back-references) goes to the appliance's grep.",
        ..A
    },
    Action {
        name: "egrep",
        args: &[s("regex"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `extended:true`.",
        ..A
    },
    Action {
        name: "fgrep",
        args: &[s("pattern"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `fixed:true`.",
        ..A
    },
    Action {
        name: "grepi",
        args: &[s("regex"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `insensitive:true`.",
        ..A
    },
    Action {
        name: "egrepi",
        args: &[s("regex"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `extended:true insensitive:true`.",
        ..A
    },
    Action {
        name: "fgrepi",
        args: &[s("pattern"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `fixed:true insensitive:true`.",
        ..A
    },
    Action {
        name: "zgrep",
        args: &[s("regex"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `compressed:true`.",
        ..A
    },
    Action {
        name: "zegrep",
        args: &[s("regex"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `compressed:true extended:true`.",
        ..A
    },
    Action {
        name: "zfgrep",
        args: &[s("pattern"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `compressed:true fixed:true`.",
        ..A
    },
    Action {
        name: "zgrepi",
        args: &[s("regex"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `compressed:true insensitive:true`.",
        ..A
    },
    Action {
        name: "zegrepi",
        args: &[s("regex"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `compressed:true extended:true insensitive:true`.",
        ..A
    },
    Action {
        name: "zfgrepi",
        args: &[s("pattern"), path("path")],
        ret: Ret::StringList,
        deprecated_by: Some("grep"),
        shortdesc: "return lines matching a pattern",
        longdesc: "`grep` with `compressed:true fixed:true insensitive:true`.",
        ..A
    },
    // Checksums.
    Action {
        name: "checksum",
        args: &[s("csumtype"), path("path")],
        ret: Ret::String,
        shortdesc: "compute MD5, SHAx or CRC checksum of file",
        longdesc: "The checksum of `path` in hex: `csumtype` is `crc` (as cksum(1) prints \
it), `md5`, `sha1`, `sha224`, `sha256`, `sha384` or `sha512`.",
        ..A
    },
    Action {
        name: "checksum_device",
        args: &[s("csumtype"), dev("device")],
        ret: Ret::String,
        shortdesc: "compute MD5, SHAx or CRC checksum of the contents of a device",
        longdesc: "`checksum` of the whole of `device`.",
        ..A
    },
    Action {
        name: "checksums_out",
        args: &[s("csumtype"), path("directory"), file_out("sumsfile")],
        shortdesc: "compute MD5, SHAx or CRC checksum of files in a directory",
        longdesc: "Write the checksum of every regular file below `directory` to the local \
file `sumsfile`, one line per file as the `*sum` programs print them (`HASH  ./path`).",
        ..A
    },
    // Extended attributes.
    Action {
        name: "getxattrs",
        args: &[path("path")],
        ret: Ret::StructList("xattr"),
        engine: Both,
        proc_nr: Some(79),
        group: Some("linuxxattrs"),
        shortdesc: "list extended attributes of a file or directory",
        longdesc: "Every extended attribute of `path` (following symlinks), name and value.",
        ..A
    },
    Action {
        name: "lgetxattrs",
        args: &[path("path")],
        ret: Ret::StructList("xattr"),
        engine: Both,
        proc_nr: Some(80),
        group: Some("linuxxattrs"),
        shortdesc: "list extended attributes of a file or directory",
        longdesc: "Like `getxattrs`, for the symlink itself when `path` is one.",
        ..A
    },
    Action {
        name: "lxattrlist",
        args: &[path("path"), namelist("names")],
        ret: Ret::StructList("xattr"),
        engine: Both,
        proc_nr: Some(81),
        group: Some("linuxxattrs"),
        shortdesc: "lgetxattr on multiple files",
        longdesc: "`lgetxattrs` of each of `names` in the directory `path`, in one list: each \
file starts with an entry whose name is empty and whose value is the count of its \
attributes as a NUL-terminated decimal string (empty when the file could not be \
listed), followed by them.",
        ..A
    },
    Action {
        name: "getxattr",
        args: &[path("path"), s("name")],
        ret: Ret::BufferOut,
        engine: Both,
        proc_nr: Some(82),
        group: Some("linuxxattrs"),
        shortdesc: "get a single extended attribute",
        longdesc: "The value of the extended attribute `name` of `path`, following symlinks.",
        ..A
    },
    Action {
        name: "lgetxattr",
        args: &[path("path"), s("name")],
        ret: Ret::BufferOut,
        engine: Both,
        proc_nr: Some(83),
        group: Some("linuxxattrs"),
        shortdesc: "get a single extended attribute",
        longdesc: "Like `getxattr`, for the symlink itself when `path` is one.",
        ..A
    },
    // Archives.
    Action {
        name: "tar_out",
        args: &[s("directory"), file_out("tarfile")],
        optargs: &[
            os("compress"),
            ob("numericowner"),
            osl("excludes"),
            ob("xattrs"),
            ob("selinux"),
            ob("acls"),
        ],
        engine: Both,
        proc_nr: Some(85),
        shortdesc: "pack directory into tarfile",
        longdesc: "Write the tree below `directory` as a tar archive (GNU format: long names, \
modes, owners, times, symlinks, hard links, devices, sparse files) to the local file \
`tarfile`. `compress` is `gzip`, `xz`, `zstd` or none; `excludes` are glob patterns \
of paths to leave out; `xattrs`/`selinux` add extended attributes (SELinux labels) as \
PAX records; `numericowner` is accepted (owners are always stored by number). The \
direct engine builds the archive in-process.",
        ..A
    },
    Action {
        name: "tgz_out",
        args: &[path("directory"), file_out("tarball")],
        deprecated_by: Some("tar_out"),
        shortdesc: "pack directory into compressed tarball",
        longdesc: "`tar_out` with `compress:gzip`.",
        ..A
    },
    Action {
        name: "txz_out",
        args: &[path("directory"), file_out("tarball")],
        deprecated_by: Some("tar_out"),
        shortdesc: "pack directory into compressed tarball",
        longdesc: "`tar_out` with `compress:xz`.",
        ..A
    },
    Action {
        name: "copy_in",
        handle_mut: true,
        args: &[s("localpath"), path("remotedir")],
        writes: true,
        visibility: crate::Visibility::NotInFish,
        shortdesc: "copy local files or directories into an image",
        longdesc: "Copy the local file or directory `localpath`, recursively, into the \
existing guest directory `remotedir` (through `tar_in`, keeping modes, owners, times and \
links).",
        ..A
    },
    Action {
        name: "copy_out",
        args: &[path("remotepath"), s("localdir")],
        visibility: crate::Visibility::NotInFish,
        shortdesc: "copy remote files or directories out of an image",
        longdesc: "Copy the guest file or directory `remotepath`, recursively, into the \
existing local directory `localdir`: a file with `download`, a directory with `tar_out` \
unpacked by the host's tar.",
        ..A
    },
];

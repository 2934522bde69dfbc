//! The handle itself: drives, launch and shutdown, settings, versions and
//! optional groups. All hand-written in the Handle (policy).

use super::*;
use crate::{Action, Engine::*, Ret};

const A: Action = Action::DEFAULT;

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "add_drive",
        handle_mut: true,
        args: &[s("filename")],
        optargs: &[
            ob("readonly"),
            os("format"),
            os("iface"),
            os("name"),
            os("label"),
            os("protocol"),
            osl("server"),
            os("username"),
            os("secret"),
            os("cachemode"),
            os("discard"),
            ob("copyonread"),
            oi("blocksize"),
        ],
        aliases: &["add", "add-drive-opts"],
        shortdesc: "add an image to examine or modify",
        longdesc: "Add the disk image `filename` to the handle; the first image becomes \
/dev/sda, the second /dev/sdb, and so on. Call it before `launch`.

`readonly:true` opens the image so that nothing can ever be written to it: the direct \
engine never writes, and the appliance puts a throw-away overlay over it. `format:raw` or \
`format:qcow2` names the format; without it the format is detected, which is only safe \
for images you trust (a raw image can carry a forged qcow2 header). `blocksize` may be \
512 (the only sector size guestx supports). Network protocols, `iface`, `name`, `label`, \
`cachemode`, `discard` and `copyonread` are accepted for compatibility; a non-local \
`protocol` is refused.",
        ..A
    },
    Action {
        name: "add_drive_ro",
        handle_mut: true,
        args: &[s("filename")],
        aliases: &["add-ro"],
        shortdesc: "add an image read-only",
        longdesc: "The same as `add_drive` with `readonly:true`: the image is never changed.",
        ..A
    },
    Action {
        name: "add_drive_scratch",
        handle_mut: true,
        args: &[int64("size")],
        optargs: &[os("name"), os("label"), oi("blocksize")],
        aliases: &["scratch"],
        shortdesc: "add a temporary scratch drive",
        longdesc: "Add a new empty drive of `size` bytes, a sparse temporary file that is \
deleted when the handle closes. Useful for tests and for building a guest from nothing.",
        ..A
    },
    Action {
        name: "disk_create",
        handle_mut: true,
        args: &[s("filename"), s("format"), int64("size")],
        optargs: &[
            os("backingfile"),
            os("backingformat"),
            os("preallocation"),
            os("compat"),
            oi("clustersize"),
        ],
        writes: true,
        shortdesc: "create a blank disk image",
        longdesc: "Create a new local disk image `filename` of `size` bytes in `format` \
`raw` or `qcow2`. A raw image is a sparse file (`preallocation:sparse`, the default, \
or `full`); a qcow2 image is made by `qemu-img create`, and may have a `backingfile` \
(with its `backingformat`), in which case `size` may be -1 to take the backing file's \
size. Nothing boots.",
        ..A
    },
    Action {
        name: "launch",
        handle_mut: true,
        aliases: &["run"],
        shortdesc: "launch the backend",
        longdesc: "Open the drives. On the direct engine this reads the partition tables \
in-process and boots nothing; the appliance VM starts only when a call needs it (a \
write, or a filesystem the direct engine cannot read), or at once with `--engine \
appliance`. Call it after adding drives and before any other call.",
        ..A
    },
    Action {
        name: "shutdown",
        handle_mut: true,
        shortdesc: "shut the backend down",
        longdesc: "Unmount everything, sync, and power the appliance off if it runs. Writes \
are on the disk images once this returns. The handle can be launched again.",
        ..A
    },
    Action {
        name: "close",
        handle_mut: true,
        shortdesc: "shut down and forget the drives",
        longdesc: "`shutdown`, then remove every drive: the handle is as new.",
        ..A
    },
    Action {
        name: "version",
        ret: Ret::Struct("version"),
        shortdesc: "get the library version number",
        longdesc: "The version of guestx as major, minor, release and extra.",
        ..A
    },
    Action {
        name: "available",
        args: &[slist("groups")],
        shortdesc: "test availability of some parts of the API",
        longdesc: "Succeed if every optional group named is available in this build and on \
this host (their calls will work), else fail naming the first that is not. \
`available_all_groups` lists the groups.",
        ..A
    },
    Action {
        name: "available_all_groups",
        ret: Ret::StringList,
        shortdesc: "return a list of all optional groups",
        longdesc: "Every optional group name `available` knows, available or not.",
        ..A
    },
    Action {
        name: "set_verbose",
        handle_mut: true,
        args: &[b("verbose")],
        aliases: &["verbose"],
        shortdesc: "set verbose mode",
        longdesc: "Print debugging messages (including the appliance's console) to stderr.",
        ..A
    },
    Action {
        name: "get_verbose",
        ret: Ret::Bool,
        shortdesc: "get verbose mode",
        longdesc: "Whether verbose messages are on.",
        ..A
    },
    Action {
        name: "set_trace",
        handle_mut: true,
        args: &[b("trace")],
        aliases: &["trace"],
        shortdesc: "enable or disable command traces",
        longdesc: "Print each API call and its result to stderr, prefixed `libguestfs: trace:`.",
        ..A
    },
    Action {
        name: "debug_drives",
        ret: Ret::StringList,
        shortdesc: "debug the drives (internal use only)",
        longdesc: "One line per added drive, as libguestfs prints them: the path, then \
`readonly`, `format=FORMAT` and `protocol=file`. For testing the options that add drives.",
        ..A
    },
    Action {
        name: "get_trace",
        ret: Ret::Bool,
        shortdesc: "get command trace enabled flag",
        longdesc: "Whether calls are traced.",
        ..A
    },
    Action {
        name: "set_autosync",
        handle_mut: true,
        args: &[b("autosync")],
        aliases: &["autosync"],
        shortdesc: "set autosync mode",
        longdesc: "When on (the default), closing the handle unmounts and syncs first.",
        ..A
    },
    Action {
        name: "get_autosync",
        ret: Ret::Bool,
        shortdesc: "get autosync mode",
        longdesc: "Whether autosync is on.",
        ..A
    },
    Action {
        name: "set_pgroup",
        handle_mut: true,
        args: &[b("pgroup")],
        aliases: &["pgroup"],
        shortdesc: "set process group flag",
        longdesc: "When on, the appliance runs in a process group of its own, so that a \
Ctrl-C typed at the terminal does not reach it. Kept as a setting for compatibility; set \
it before `launch`.",
        ..A
    },
    Action {
        name: "get_pgroup",
        ret: Ret::Bool,
        shortdesc: "get process group flag",
        longdesc: "Whether the process group flag is set (off by default).",
        ..A
    },
    Action {
        name: "set_memsize",
        handle_mut: true,
        args: &[int("memsize")],
        aliases: &["memsize"],
        shortdesc: "set memory allocated to the appliance",
        longdesc: "Memory of the appliance VM in MiB (at least 128). Set it before `launch`.",
        ..A
    },
    Action {
        name: "get_memsize",
        ret: Ret::Int,
        shortdesc: "get memory allocated to the appliance",
        longdesc: "Memory of the appliance VM in MiB.",
        ..A
    },
    Action {
        name: "set_smp",
        handle_mut: true,
        args: &[int("smp")],
        aliases: &["smp"],
        shortdesc: "set number of virtual CPUs in the appliance",
        longdesc: "vCPUs of the appliance VM (1 to 255). Set it before `launch`.",
        ..A
    },
    Action {
        name: "get_smp",
        ret: Ret::Int,
        shortdesc: "get number of virtual CPUs in the appliance",
        longdesc: "vCPUs of the appliance VM.",
        ..A
    },
    Action {
        name: "set_backend",
        handle_mut: true,
        args: &[s("backend")],
        aliases: &["backend"],
        shortdesc: "set the backend",
        longdesc: "How the appliance is launched: `vmm` (our own VMM, needs hardware KVM), \
`qemu`, or `direct`/`libvirt`/empty, which mean choose for this host. Set it before \
`launch`.",
        ..A
    },
    Action {
        name: "get_backend",
        ret: Ret::String,
        shortdesc: "get the backend",
        longdesc: "The launcher `set_backend` chose: `vmm`, `qemu`, or `direct` when the host \
decides.",
        ..A
    },
    Action {
        name: "set_append",
        handle_mut: true,
        args: &[opt_s("append")],
        aliases: &["append"],
        shortdesc: "add options to the appliance kernel command line",
        longdesc: "Extra kernel command line options for the appliance; empty removes them.",
        ..A
    },
    Action {
        name: "get_append",
        ret: Ret::OptString,
        shortdesc: "get the additional kernel options",
        longdesc: "What `set_append` set, if anything.",
        ..A
    },
    Action {
        name: "set_program",
        handle_mut: true,
        args: &[s("program")],
        aliases: &["program"],
        shortdesc: "set the program name",
        longdesc: "The name used in messages.",
        ..A
    },
    Action {
        name: "get_program",
        ret: Ret::String,
        shortdesc: "get the program name",
        longdesc: "The name used in messages.",
        ..A
    },
    Action {
        name: "get_cachedir",
        ret: Ret::String,
        shortdesc: "get the appliance cache directory",
        longdesc: "Where the built appliance and its snapshots are cached.",
        ..A
    },
    Action {
        name: "get_tmpdir",
        ret: Ret::String,
        shortdesc: "get the temporary directory",
        longdesc: "Where temporary files go (`$TMPDIR`, else /tmp).",
        ..A
    },
    Action {
        name: "is_config",
        ret: Ret::Bool,
        shortdesc: "is in configuration state",
        longdesc: "True before `launch` (and after `shutdown`).",
        ..A
    },
    Action {
        name: "is_ready",
        ret: Ret::Bool,
        shortdesc: "is ready to accept commands",
        longdesc: "True after `launch`.",
        ..A
    },
    Action {
        name: "echo_daemon",
        args: &[slist("words")],
        ret: Ret::String,
        engine: Appliance,
        proc_nr: Some(72),
        shortdesc: "echo arguments back to the client",
        longdesc: "The words joined by single spaces, as the appliance received them: a test \
of the round trip.",
        ..A
    },
    Action {
        name: "debug",
        args: &[s("subcmd"), slist("extraargs")],
        ret: Ret::String,
        engine: Appliance,
        proc_nr: Some(67),
        shortdesc: "debugging and internals",
        longdesc: "Diagnostics inside the appliance; `debug help \"\"` lists the sub-commands.",
        ..A
    },
];

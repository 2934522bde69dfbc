//! gx-fish's own commands: not API calls, but listed, documented and looked
//! up with them. gx-fish implements them by hand (tools/gx-fish).

// Every row ends in `..F` so rows read alike, even those that set every field.
#![allow(clippy::needless_update)]

use crate::FishCommand;

const F: FishCommand = FishCommand {
    name: "",
    aliases: &[],
    usage: "",
    shortdesc: "",
    longdesc: "",
};

/// Sorted by name.
pub static FISH_COMMANDS: &[FishCommand] = &[
    FishCommand {
        name: "add-domain",
        aliases: &["domain"],
        usage: "dom [libvirturi:..] [readonly:true|false] [readonlydisk:error|read|write|ignore] [allowuuid:..] [live:..] [iface:..] [cachemode:..] [discard:..] [copyonread:..]",
        shortdesc: "add the disk(s) from a named libvirt domain",
        longdesc: "Add every disk of the libvirt guest `dom`, as `-d` does: its XML comes from \
`virsh dumpxml` (with `libvirturi`, else the `-c` URI), from libvirt's configuration \
directory, or from a libvirt test driver file (`test:///path/node.xml`). Disks come in \
their XML order with their format; `readonly:true` adds them all read-only. A disk marked \
`<readonly/>` is an error unless `readonly:true` (`readonlydisk:error`, the default), is \
added read-only (`read`), as the other disks (`write`), or skipped (`ignore`). Either every \
disk is added or none. Prints how many were added. A running guest needs `readonly:true`.",
        ..F
    },
    FishCommand {
        name: "alloc",
        aliases: &["allocate"],
        usage: "filename size",
        shortdesc: "allocate and add a disk file",
        longdesc: "Create the local file `filename` of `size` bytes, every block allocated \
and zeroed, and add it as the next drive (before `run`). Sizes take the usual suffixes: \
`1M`, `10G`. `sparse` makes a sparse file instead.",
        ..F
    },
    FishCommand {
        name: "copy-in",
        usage: "local [local ...] /remotedir",
        shortdesc: "copy local files or directories into an image",
        longdesc: "Copy local files and directories, recursively, into the existing guest \
directory `/remotedir`, keeping modes, times and links (through `tar-in`).",
        ..F
    },
    FishCommand {
        name: "copy-out",
        usage: "remote [remote ...] localdir",
        shortdesc: "copy remote files or directories out of an image",
        longdesc: "Copy guest files and directories, recursively, into the existing local \
directory `localdir` (files with `download`, directories with `tar-out`). With `--ro` \
the direct engine does it without booting anything. Use `glob copy-out /home/* .` for \
wildcards.",
        ..F
    },
    FishCommand {
        name: "delete-event",
        usage: "name",
        shortdesc: "delete a previously registered event handler",
        longdesc: "Delete every event handler registered under `name` with `event`.",
        ..F
    },
    FishCommand {
        name: "display",
        usage: "filename",
        shortdesc: "display an image",
        longdesc: "Download the guest image file `filename` and show it with `display` (or \
the program in `$GUESTFISH_DISPLAY_IMAGE`).",
        ..F
    },
    FishCommand {
        name: "echo",
        usage: "[params ...]",
        shortdesc: "display a line of text",
        longdesc: "Print the parameters, separated by spaces.",
        ..F
    },
    FishCommand {
        name: "edit",
        aliases: &["vi", "emacs"],
        usage: "filename",
        shortdesc: "edit a file",
        longdesc: "Download the guest file `filename`, edit it with `$EDITOR` (`vi` and \
`emacs` choose those editors), and upload it back if it changed.",
        ..F
    },
    FishCommand {
        name: "event",
        usage: "name eventset \"shell script ...\"",
        shortdesc: "register a handler for an event or events",
        longdesc: "Run the shell script (with `$SHELL -c`, else `/bin/sh -c`) whenever one of \
the events in `eventset` happens; `$EVENT` names the event and `$@` holds its arguments. \
`eventset` is `*` or a comma-separated list of `close`, `subprocess_quit`, `launch_done`, \
`progress`, `appliance`, `library`, `trace`, `enter`, `libvirt_auth`, `warning` (a word \
selects the first name it begins). Handlers belong to the handle: `reopen` drops them. \
guestx raises `close` (when the handle closes: at the end, on `reopen`, on `--remote exit`) \
and `launch_done`; the others are accepted and never raised.",
        ..F
    },
    FishCommand {
        name: "exit",
        aliases: &["quit", "q"],
        usage: "",
        shortdesc: "quit guestfish",
        longdesc: "End the session (end of input does the same).",
        ..F
    },
    FishCommand {
        name: "glob",
        usage: "command args...",
        shortdesc: "expand wildcards in command",
        longdesc: "Expand the wildcards (`*`, `?`, `[...]`) of each argument against the \
guest's files (or its devices, for `/dev/` patterns) and run `command` once for every \
combination of the matches. An argument that matches nothing is kept as it is.",
        ..F
    },
    FishCommand {
        name: "help",
        usage: "[cmd]",
        shortdesc: "display a list of commands or help on a command",
        longdesc: "`help` alone says how to begin; `help cmd` describes one command; \
`help -l` (or `--list`) lists every command.",
        ..F
    },
    FishCommand {
        name: "hexedit",
        usage: "<filename|device> [[start] max]",
        shortdesc: "edit with a hex editor",
        longdesc: "Download all or part (`max` bytes from `start`) of a guest file or \
device, edit it with `hexedit` (or `$HEXEDITOR`), and write it back. Sizes take suffixes \
(`1M`); large files need `max`.",
        ..F
    },
    FishCommand {
        name: "lcd",
        usage: "directory",
        shortdesc: "change working directory",
        longdesc: "Change gx-fish's own (local) current directory. `!cd` would only change \
that of a subshell.",
        ..F
    },
    FishCommand {
        name: "list-events",
        usage: "",
        shortdesc: "list event handlers",
        longdesc: "One line per registered handler: `\"NAME\" (N): EVENTS: SCRIPT`.",
        ..F
    },
    FishCommand {
        name: "man",
        aliases: &["manual"],
        usage: "",
        shortdesc: "open the manual",
        longdesc: "Show the gx-fish manual page.",
        ..F
    },
    FishCommand {
        name: "more",
        aliases: &["less"],
        usage: "filename",
        shortdesc: "view a file",
        longdesc: "Show the guest file `filename` with `$PAGER` (`less` chooses less).",
        ..F
    },
    FishCommand {
        name: "mount-local",
        usage: "localmountpoint [readonly:true|false] [options:..] [cachetimeout:N] [debugcalls:true|false]",
        shortdesc: "mount on the local filesystem",
        longdesc: "Mount the handle's filesystems on the host directory `localmountpoint` \
with FUSE, as gx-mount does. The mount exists at once; requests are served by \
`mount-local-run`, which returns when the mount is unmounted (`gx-unmount`, `fusermount3 -u`). \
`readonly:true` refuses writes; `options` takes FUSE options (allow_other, allow_root, \
default_permissions, ro); `cachetimeout` is how long names and attributes are cached \
(60 s); `debugcalls:true` prints each request.",
        ..F
    },
    FishCommand {
        name: "mount-local-run",
        usage: "",
        shortdesc: "run main loop of mount on the local filesystem",
        longdesc: "Serve the `mount-local` mount until it is unmounted from outside. The \
handle is the mount's meanwhile; it comes back, with what the mount wrote, when this returns.",
        ..F
    },
    FishCommand {
        name: "not",
        usage: "command [args...]",
        shortdesc: "negate a command",
        longdesc: "Run `command` and invert its success: `not cat /foo` succeeds when /foo \
cannot be read. Boolean results are not inverted.",
        ..F
    },
    FishCommand {
        name: "reopen",
        usage: "",
        shortdesc: "close and reopen libguestfs handle",
        longdesc: "Close the handle (shutting the appliance down) and open a fresh one with \
no drives.",
        ..F
    },
    FishCommand {
        name: "setenv",
        usage: "VAR value",
        shortdesc: "set an environment variable",
        longdesc: "Set the environment variable `VAR` to `value`.",
        ..F
    },
    FishCommand {
        name: "sparse",
        usage: "filename size",
        shortdesc: "create a sparse disk image and add",
        longdesc: "Like `alloc`, but the file is sparse: blocks are allocated only when \
written.",
        ..F
    },
    FishCommand {
        name: "supported",
        usage: "",
        shortdesc: "list supported groups of commands",
        longdesc: "Every optional group, each with `yes` or `no` (see `available`).",
        ..F
    },
    FishCommand {
        name: "time",
        usage: "command args...",
        shortdesc: "print elapsed time taken to run a command",
        longdesc: "Run `command`, then print the time it took.",
        ..F
    },
    FishCommand {
        name: "umount-local",
        usage: "[retry:true|false]",
        shortdesc: "unmount a locally mounted filesystem",
        longdesc: "Unmount a `mount-local` mount that `mount-local-run` is not serving yet. \
While it is served this shell is busy: unmount it from elsewhere with `gx-unmount`.",
        ..F
    },
    FishCommand {
        name: "unsetenv",
        usage: "VAR",
        shortdesc: "unset an environment variable",
        longdesc: "Remove `VAR` from the environment.",
        ..F
    },
];

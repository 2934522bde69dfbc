//! Host <-> agent session calls: not part of the public API.

use super::*;
use crate::{Action, Engine::*, Ret, Visibility::Internal};

const A: Action = Action {
    engine: Appliance,
    visibility: Internal,
    ..Action::DEFAULT
};

pub(super) static ACTIONS: &[Action] = &[
    Action {
        name: "ping",
        ret: Ret::String,
        proc_nr: Some(1),
        shortdesc: "check the agent answers",
        longdesc: "The agent's name and version.",
        ..A
    },
    Action {
        name: "internal_start",
        args: &[int64("time_ns"), buf("seed"), int("drives")],
        ret: Ret::String,
        proc_nr: Some(71),
        shortdesc: "start a session",
        longdesc: "The first call after the hello (or after restoring a snapshot): set the \
clock (ns since the epoch, 0 = leave), mix in host entropy and reseed the kernel RNG, \
load the disk driver and wait for the drives (plus the helper disk); returns the \
agent's self-description.",
        ..A
    },
    Action {
        name: "internal_shutdown",
        proc_nr: Some(70),
        shortdesc: "end a session",
        longdesc: "Unmount, sync, reply, then power the appliance off.",
        ..A
    },
    Action {
        name: "internal_pwrite_staged",
        args: &[
            path("path"),
            int64("offset"),
            int64("stage_offset"),
            int("len"),
        ],
        ret: Ret::Int,
        proc_nr: Some(174),
        writes: true,
        shortdesc: "write to part of a file from the staging disk",
        longdesc: "Like `pwrite`, with the `len` bytes to write at `offset` of the existing \
file `path` taken from the staging disk at `stage_offset` (a multiple of 4096) instead of the \
call: the host put them there (a file it attached as the last virtio disk, serial `gxstage`), \
so they enter the guest by the disk's DMA rather than through the channel. The agent binds \
the staging disk at the first such call. Returns the number of bytes written.",
        ..A
    },
    Action {
        name: "internal_rescue",
        args: &[int("rows"), int("cols"), s("term"), b("bind")],
        ret: Ret::Int,
        proc_nr: Some(172),
        shortdesc: "run the rescue shell",
        longdesc: "A root shell (job control, `><rescue>` prompt) on a pseudo-terminal of \
`rows` x `cols` and type `term` in the appliance, with the helper programs on its PATH; \
`bind` also binds /dev, /proc and /sys under /sysroot (virt-rescue -i). While it runs \
the call is a duplex stream: the host's Chunk frames of this serial are typed into the \
terminal, the agent's Chunk frames are what the terminal shows, the host's Cancel hangs \
up, and calls without streams (sync, umount_all) are still answered under their own \
serials. The reply is the shell's exit status (128 + signal if killed).",
        ..A
    },
    Action {
        name: "internal_rescue_resize",
        args: &[int("rows"), int("cols")],
        proc_nr: Some(173),
        shortdesc: "resize the rescue shell's terminal",
        longdesc: "Sent during an `internal_rescue` session when the user's terminal \
changed size: the pseudo-terminal takes the new size and its foreground jobs get SIGWINCH. \
Outside a session it is an error.",
        ..A
    },
];

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
];

//! `rescue`: gx-rescue's interactive shell in the appliance (the
//! `internal_rescue` session of [`gx_appliance::rescue`]), with the types a
//! tool needs to drive it.
//!
//! Must not: run anywhere but in the appliance (in `Auto` it starts it, as
//! any call the direct engine cannot do).

pub use gx_appliance::rescue::{RescueAction, RescueOptions, RescueTerminal};

use crate::{Handle, Result};

impl Handle {
    /// Runs the rescue shell with the Handle's drives and mounts until it
    /// exits or `term` quits; returns the shell's exit status.
    pub fn rescue(&self, opts: &RescueOptions, term: &mut dyn RescueTerminal) -> Result<i32> {
        self.trace_call(format_args!("internal_rescue {opts:?}"));
        self.appliance_call("internal_rescue", false, |a| a.rescue(opts, term))
    }
}

//! Where an appliance's time goes, phase by phase: the launch (finding the
//! cached appliance, starting the launcher, the boot or the snapshot restore,
//! the agent's `internal_start`), every call by name, and the shutdown.
//!
//! This module only measures and formats (mechanism); whoever owns the
//! appliance decides when to show it (the Handle prints it with `-v`).
//!
//! Must not: cost anything on the call path beyond two clock reads a call, or
//! grow with the number of calls (one entry per call name).

use std::fmt;
use std::time::Duration;

/// The phases of one appliance's life.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// Finding the kernel, the agent and the cached appliance (building it
    /// when missing), and the launcher binary.
    pub find: Duration,
    /// From starting the launcher (QEMU, gx-vmm) to it connecting the channel.
    pub spawn: Duration,
    /// Booting, from the channel's connection to the agent's hello (a cold
    /// launch; `None` when a snapshot was restored).
    pub boot: Option<Duration>,
    /// Saving a snapshot after a cold boot.
    pub save: Option<Duration>,
    /// Restoring a snapshot, from the channel's connection to the agent's
    /// first answer (`None` when booted).
    pub restore: Option<Duration>,
    /// The agent's `internal_start` round trip (clock, entropy, the disks).
    pub start: Duration,
    /// The calls after the launch, one entry per name, in first-call order.
    pub calls: Vec<CallTime>,
    /// The guest's part of the shutdown (`internal_shutdown`: unmount, sync);
    /// `None` when it was skipped (nothing to keep: read-only drives) or the
    /// VM had not shut down yet.
    pub shutdown_call: Option<Duration>,
    /// Ending the VM process: its power-off and exit, or killing it.
    pub vm_exit: Option<Duration>,
}

/// The calls of one name: how many and how long in all.
#[derive(Debug, Clone)]
pub struct CallTime {
    pub name: &'static str,
    pub count: u32,
    pub total: Duration,
}

impl Timings {
    /// From the launcher's start to a usable appliance.
    pub fn launch(&self) -> Duration {
        self.find
            + self.spawn
            + self.boot.unwrap_or_default()
            + self.save.unwrap_or_default()
            + self.restore.unwrap_or_default()
            + self.start
    }

    pub(crate) fn record(&mut self, name: &'static str, d: Duration) {
        match self.calls.iter_mut().find(|c| c.name == name) {
            Some(c) => {
                c.count = c.count.saturating_add(1);
                c.total += d;
            }
            None => self.calls.push(CallTime {
                name,
                count: 1,
                total: d,
            }),
        }
    }
}

/// Milliseconds with one decimal below 10 ms (round trips are sub-millisecond).
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

impl fmt::Display for Timings {
    /// `find appliance 2.1 ms, start launcher 35 ms, restore snapshot 180 ms,
    /// internal_start 40 ms; calls: mount_options 12 ms, download 1.2 ms (x2);
    /// shutdown: internal_shutdown 20 ms, VM exit 30 ms`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "find appliance {}, start launcher {}",
            ms(self.find),
            ms(self.spawn)
        )?;
        if let Some(b) = self.boot {
            write!(f, ", boot {}", ms(b))?;
        }
        if let Some(s) = self.save {
            write!(f, ", save snapshot {}", ms(s))?;
        }
        if let Some(r) = self.restore {
            write!(f, ", restore snapshot {}", ms(r))?;
        }
        write!(f, ", internal_start {}", ms(self.start))?;
        if !self.calls.is_empty() {
            f.write_str("; calls:")?;
            for (i, c) in self.calls.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                write!(f, "{sep}{} {}", c.name, ms(c.total))?;
                if c.count > 1 {
                    write!(f, " (x{})", c.count)?;
                }
            }
        }
        if self.shutdown_call.is_some() || self.vm_exit.is_some() {
            f.write_str("; shutdown:")?;
            match self.shutdown_call {
                Some(d) => write!(f, " internal_shutdown {}", ms(d))?,
                None => f.write_str(" no guest shutdown")?,
            }
            if let Some(d) = self.vm_exit {
                write!(f, ", VM exit {}", ms(d))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_summed_by_name_in_first_call_order() {
        let mut t = Timings::default();
        t.record("mount_ro", Duration::from_millis(12));
        t.record("download", Duration::from_micros(500));
        t.record("download", Duration::from_micros(700));
        assert_eq!(t.calls.len(), 2);
        assert_eq!(t.calls[1].count, 2);
        assert_eq!(t.calls[1].total, Duration::from_micros(1200));
        let s = t.to_string();
        assert!(
            s.contains("calls: mount_ro 12 ms, download 1.2 ms (x2)"),
            "{s}"
        );
    }

    #[test]
    fn launch_sums_its_phases() {
        let t = Timings {
            find: Duration::from_millis(2),
            spawn: Duration::from_millis(30),
            restore: Some(Duration::from_millis(200)),
            start: Duration::from_millis(40),
            ..Timings::default()
        };
        assert_eq!(t.launch(), Duration::from_millis(272));
        assert!(t.to_string().contains("restore snapshot 200 ms"));
        assert!(!t.to_string().contains("boot"));
    }
}

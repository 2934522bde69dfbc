//! Device plumbing: the port-I/O and MMIO buses the vCPU exits dispatch to,
//! interrupt lines, and the VM-wide exit request that power-off/reset/panic
//! devices and vCPU errors raise.

pub mod legacy;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Why a VM stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// ACPI S5 through the sleep control register, or KVM's SHUTDOWN system event.
    PowerOff,
    /// i8042 reset, ACPI reset register, or KVM's RESET system event
    /// (a kernel with `panic=1` reboots, so a panic ends up here).
    Reset,
    /// The guest triple-faulted (KVM_EXIT_SHUTDOWN).
    TripleFault,
    /// KVM reported a guest crash (KVM_SYSTEM_EVENT_CRASH).
    Crash,
    /// The guest kernel panicked and said so through the pvpanic device
    /// (PVPANIC_PANICKED written to its port), before any `panic=N` reboot.
    Panic,
    /// The host asked the VM to stop (watchdog, signal).
    Stopped,
    /// A vCPU failed: KVM error, emulation failure, unexpected exit.
    Error(String),
}

impl ExitReason {
    /// The process exit status `gx-vmm` reports for this reason (listed in
    /// [`EXIT_STATUS_HELP`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            ExitReason::PowerOff => 0,
            ExitReason::Reset => 2,
            ExitReason::TripleFault | ExitReason::Crash => 3,
            ExitReason::Stopped => 4,
            ExitReason::Panic => 5,
            ExitReason::Error(_) => 1,
        }
    }
}

/// The exit statuses of `gx-vmm`, as its `--help` shows them. Kept next to
/// [`ExitReason::exit_code`] so the two cannot drift apart (a test checks).
pub const EXIT_STATUS_HELP: &str = "\
Exit status (the guest's, when it ran):
  0  the guest powered off (ACPI S5)
  1  VMM error (bad arguments, KVM failure, vCPU emulation error)
  2  the guest rebooted (i8042 or ACPI reset)
  3  the guest triple-faulted, or KVM reported a guest crash
  4  the VM was stopped from the host (signal, watchdog)
  5  the guest kernel panicked (reported through pvpanic)";

/// The first exit request wins; everyone can wait for it.
#[derive(Default)]
pub struct ExitState {
    reason: Mutex<Option<ExitReason>>,
    cond: Condvar,
    crash_loaded: Arc<AtomicBool>,
}

impl ExitState {
    /// The guest announced (pvpanic PVPANIC_CRASH_LOADED) that a crash
    /// kernel is loaded: it will kexec into it rather than stop. Not an exit.
    pub fn note_crash_loaded(&self) {
        self.crash_loaded.store(true, Ordering::Relaxed);
    }

    /// A flag that turns true once the guest announced a loaded crash kernel;
    /// it outlives the VM.
    pub fn crash_loaded_flag(&self) -> Arc<AtomicBool> {
        self.crash_loaded.clone()
    }

    pub fn request(&self, reason: ExitReason) {
        let mut r = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if r.is_none() {
            *r = Some(reason);
            self.cond.notify_all();
        }
    }

    pub fn get(&self) -> Option<ExitReason> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn is_set(&self) -> bool {
        self.get().is_some()
    }

    /// Wait up to `timeout` for an exit request.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitReason> {
        let guard = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .cond
            .wait_timeout_while(guard, timeout, |r| r.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        guard.clone()
    }
}

/// An interrupt a device can raise (edge-triggered).
pub trait Interrupt: Send + Sync {
    fn trigger(&self);
}

/// A GSI raised through an irqfd: the write goes straight into KVM's irqchip.
pub struct IrqFd(pub vmm_sys_util::eventfd::EventFd);

impl Interrupt for IrqFd {
    fn trigger(&self) {
        // A failed write means the counter is saturated: an interrupt is pending anyway.
        let _ = self.0.write(1);
    }
}

/// A GSI raised with KVM_IRQ_LINE (pulse high then low): the fallback where
/// irqfd is unavailable.
pub struct IrqLine {
    pub vm: Arc<kvm_ioctls::VmFd>,
    pub gsi: u32,
}

impl Interrupt for IrqLine {
    fn trigger(&self) {
        let _ = self.vm.set_irq_line(self.gsi, true);
        let _ = self.vm.set_irq_line(self.gsi, false);
    }
}

/// A device on a bus. `offset` is relative to the device's base.
pub trait BusDevice: Send {
    fn read(&mut self, offset: u64, data: &mut [u8]);
    fn write(&mut self, offset: u64, data: &[u8]);
}

type SharedDevice = Arc<Mutex<dyn BusDevice>>;

/// An address-sorted map of non-overlapping device ranges.
#[derive(Default, Clone)]
pub struct Bus {
    ranges: Vec<(u64, u64, SharedDevice)>,
}

impl Bus {
    /// Add a device at `[base, base+len)`; refuses overlaps.
    pub fn insert(&mut self, base: u64, len: u64, dev: SharedDevice) -> Result<(), String> {
        let end = base
            .checked_add(len)
            .ok_or_else(|| format!("bus range {base:#x}+{len:#x} overflows"))?;
        if self.ranges.iter().any(|(b, l, _)| base < b + l && *b < end) {
            return Err(format!(
                "bus range {base:#x}..{end:#x} overlaps another device"
            ));
        }
        self.ranges.push((base, len, dev));
        self.ranges.sort_by_key(|r| r.0);
        Ok(())
    }

    fn find(&self, addr: u64) -> Option<(u64, &SharedDevice)> {
        let i = self.ranges.partition_point(|(b, _, _)| *b <= addr);
        let (base, len, dev) = self.ranges.get(i.checked_sub(1)?)?;
        (addr - base < *len).then_some((addr - base, dev))
    }

    /// Read from the device at `addr`; unclaimed addresses read as all ones,
    /// like an empty ISA bus.
    pub fn read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.find(addr) {
            Some((off, dev)) => {
                dev.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .read(off, data);
                true
            }
            None => {
                data.fill(0xff);
                false
            }
        }
    }

    /// Write to the device at `addr`; writes to unclaimed addresses are dropped.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr) {
            Some((off, dev)) => {
                dev.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .write(off, data);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Vec<(u64, Vec<u8>)>);
    impl BusDevice for Echo {
        fn read(&mut self, offset: u64, data: &mut [u8]) {
            data.fill(offset as u8);
        }
        fn write(&mut self, offset: u64, data: &[u8]) {
            self.0.push((offset, data.to_vec()));
        }
    }

    #[test]
    fn bus_dispatches_by_range_and_refuses_overlap() {
        let mut bus = Bus::default();
        let a = Arc::new(Mutex::new(Echo(vec![])));
        bus.insert(0x100, 0x10, a.clone()).expect("insert");
        assert!(bus.insert(0x10f, 1, a.clone()).is_err());
        assert!(bus.insert(0xf8, 0x10, a.clone()).is_err());
        bus.insert(0x110, 0x10, a.clone())
            .expect("adjacent is fine");
        let mut d = [0u8; 2];
        assert!(bus.read(0x105, &mut d));
        assert_eq!(d, [5, 5]);
        assert!(!bus.read(0x120, &mut d));
        assert_eq!(d, [0xff, 0xff]);
        assert!(bus.write(0x111, &[7]));
        assert!(!bus.write(0xff, &[7]));
        assert_eq!(a.lock().expect("lock").0, vec![(1, vec![7])]);
        assert!(bus.insert(u64::MAX, 2, a).is_err());
    }

    #[test]
    fn first_exit_request_wins() {
        let s = ExitState::default();
        assert_eq!(s.wait_timeout(Duration::from_millis(1)), None);
        s.request(ExitReason::PowerOff);
        s.request(ExitReason::Reset);
        assert_eq!(s.get(), Some(ExitReason::PowerOff));
        assert_eq!(ExitReason::PowerOff.exit_code(), 0);
    }

    #[test]
    fn every_exit_status_is_distinct_where_it_must_be_and_documented() {
        let all = [
            ExitReason::PowerOff,
            ExitReason::Reset,
            ExitReason::TripleFault,
            ExitReason::Crash,
            ExitReason::Stopped,
            ExitReason::Panic,
            ExitReason::Error("x".into()),
        ];
        for r in &all {
            let line = format!("\n  {}  ", r.exit_code());
            assert!(
                EXIT_STATUS_HELP.contains(&line),
                "{r:?}: status {} is not in the help text",
                r.exit_code()
            );
        }
        let panic = ExitReason::Panic.exit_code();
        assert_eq!(
            all.iter().filter(|r| r.exit_code() == panic).count(),
            1,
            "a panic has a status of its own"
        );
        // Every status the help lists is one some reason produces.
        for line in EXIT_STATUS_HELP.lines().skip(1) {
            let code: i32 = line
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .expect("code");
            assert!(all.iter().any(|r| r.exit_code() == code), "{line}");
        }
    }
}

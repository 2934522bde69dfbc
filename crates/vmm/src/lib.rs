//! gx-vmm: guestx's own KVM virtual machine monitor, in the line of
//! Firecracker and Cloud Hypervisor, sized for one job: booting the guestx
//! appliance (a stock x86_64 Linux kernel + initramfs) fast, with its disks
//! on virtio-blk, its host channel on a named virtio-serial port and entropy
//! from virtio-rng, all on virtio-mmio described by ACPI.
//!
//! This crate owns: KVM setup (memory, irqchip, PIT, vCPUs with filtered
//! CPUID and host-supported MSRs), loading an ELF vmlinux (PVH entry where
//! present) or a bzImage with initrd and command line, the e820 map and ACPI
//! tables, the 8250 serial console, i8042 reset, ACPI power-off, the pvpanic
//! port (`QEMU0001` in the DSDT: a guest kernel panic ends the VM with
//! [`ExitReason::Panic`], `gx-vmm` exit status 5), the virtio-mmio transport
//! and the blk/console/rng device models (every one offers
//! VIRTIO_F_INDIRECT_DESC and VIRTIO_F_EVENT_IDX, implemented once for all
//! queues: see [`virtio`]), and the `gx-vmm` binary. Callers describe a VM
//! with [`VmConfig`]; the CLI only builds one.
//!
//! It must not: trust anything the guest writes (every guest address, length
//! and descriptor chain is checked; a misbehaving guest gets an error status
//! or a device reset, never a VMM panic, hang or host access outside guest
//! memory), write to a disk the caller opened read-only, or pretend to boot a
//! stock kernel on a PVM host (see [`pvm`]).
//!
//! Tested by: device-model unit tests with hand-built virtqueues; our own
//! freestanding test guest (`tests/testguest.rs`, runs even on PVM); a stock
//! kernel boot on hardware KVM (`tests/linux_boot.rs`, skips elsewhere); and,
//! on these PVM machines, `appliance/agent/tests/nested_kvm.rs`: the appliance
//! (QEMU TCG, which emulates AMD SVM with nested paging) loads `kvm_amd` and
//! gx-vmm boots the stock kernel, bzImage and PVH vmlinux, and then the whole
//! appliance, inside it.
//!
//! `unsafe` is allowed here (and only here in the workspace besides the
//! agent) for the KVM memory mapping, signals and raw syscalls; every block
//! says why it is sound.
#![allow(unsafe_code)]

pub mod acpi;
pub mod arch;
pub mod devices;
pub mod error;
pub mod layout;
pub mod pvm;
pub mod virtio;
pub mod vm;

pub use devices::ExitReason;
pub use error::{Error, Result};
pub use vm::{
    ChannelConfig, ChannelEndpoint, DiskConfig, DiskMode, NotifyMode, PvmPolicy, RunningVm,
    SerialOutput, VmConfig, VmInfo, run, start,
};

/// CLOCK_MONOTONIC in nanoseconds (what `Instant` uses on Linux), comparable
/// across processes: `gx-vmm --report-startup` and its benchmark use it to time
/// process start to the first `KVM_RUN`.
pub fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid local `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

//! The guest physical memory map. One place, so the boot code, the ACPI
//! tables, the e820 map and the test guest all agree.
//!
//! The low addresses follow the convention Firecracker and vmm-reference use
//! (read from their `layout.rs`), so a stock kernel sees nothing unusual.

/// GDT used for the 64-bit (and PVH 32-bit) entry.
pub const GDT_START: u64 = 0x500;
/// A one-entry IDT: the kernel installs its own before enabling interrupts.
pub const IDT_START: u64 = 0x520;
/// `hvm_start_info` for the PVH entry, followed by its memory map.
pub const PVH_INFO_START: u64 = 0x6000;
/// Linux `boot_params` (the "zero page").
pub const ZERO_PAGE_START: u64 = 0x7000;
/// Boot stack pointer (grows down into the free page below).
pub const BOOT_STACK_POINTER: u64 = 0x8ff0;
/// Identity-mapping page tables: PML4, PDPT, then four PDs (4 GiB in 2 MiB pages).
pub const PML4_START: u64 = 0x9000;
pub const PDPTE_START: u64 = 0xa000;
pub const PDE_START: u64 = 0xb000;
/// Number of page directories: 4 x 1 GiB so the MMIO window below 4 GiB is mapped too.
pub const PDE_COUNT: u64 = 4;
/// Kernel command line and its maximum length (including the NUL).
pub const CMDLINE_START: u64 = 0x20000;
pub const CMDLINE_MAX_SIZE: usize = 4096;
/// Start of the Extended BIOS Data Area; RAM below it is usable.
pub const EBDA_START: u64 = 0x9fc00;
/// ACPI: the RSDP must be in the BIOS read-only area 0xe0000-0xfffff where
/// the kernel scans for it; the other tables follow it there.
pub const RSDP_START: u64 = 0xe0000;
pub const ACPI_TABLES_END: u64 = 0x10_0000;
/// Where the kernel is loaded (1 MiB).
pub const HIMEM_START: u64 = 0x10_0000;

/// 32-bit MMIO hole below 4 GiB: no RAM here.
pub const MMIO_GAP_START: u64 = 0xd000_0000;
pub const MMIO_GAP_END: u64 = 0x1_0000_0000;
/// virtio-mmio slots, one page each (registers + config space).
pub const VIRTIO_MMIO_START: u64 = MMIO_GAP_START;
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// First GSI handed to virtio-mmio devices; 0-4 are PIT/keyboard/cascade/COM.
pub const VIRTIO_IRQ_BASE: u32 = 5;
/// Last GSI an in-kernel IOAPIC pin can carry.
pub const IRQ_MAX: u32 = 23;
pub const IOAPIC_START: u64 = 0xfec0_0000;
pub const APIC_START: u64 = 0xfee0_0000;

/// Port I/O devices.
pub const SERIAL_PORT: u16 = 0x3f8;
pub const SERIAL_IRQ: u32 = 4;
pub const I8042_PORT: u16 = 0x60;
/// ACPI hardware-reduced sleep control / status / reset registers (one byte each),
/// named in the FADT. A write of SLP_EN|SLP_TYP(5) to the control register
/// powers the VM off; writing the reset value to the reset register reboots it.
pub const ACPI_SLEEP_CONTROL_PORT: u16 = 0x600;
pub const ACPI_SLEEP_STATUS_PORT: u16 = 0x601;
pub const ACPI_RESET_PORT: u16 = 0x602;
pub const ACPI_RESET_VALUE: u8 = 0x1;
/// QEMU's ISA pvpanic port (its default `ioport`), announced in the DSDT as `QEMU0001`.
pub const PVPANIC_PORT: u16 = 0x505;
/// The \_S5 sleep type the DSDT announces and the power-off device expects.
pub const ACPI_S5_SLEEP_TYPE: u8 = 5;

/// The address of the `index`th virtio-mmio slot.
pub fn virtio_mmio_addr(index: usize) -> u64 {
    VIRTIO_MMIO_START + (index as u64) * VIRTIO_MMIO_SIZE
}

/// The RAM ranges for `mem_size` bytes of guest memory: below the MMIO gap,
/// then the remainder from 4 GiB up.
pub fn ram_ranges(mem_size: u64) -> Vec<(u64, u64)> {
    if mem_size <= MMIO_GAP_START {
        vec![(0, mem_size)]
    } else {
        vec![
            (0, MMIO_GAP_START),
            (MMIO_GAP_END, mem_size - MMIO_GAP_START),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_ranges_split_around_the_mmio_gap() {
        assert_eq!(ram_ranges(64 << 20), vec![(0, 64 << 20)]);
        let big = ram_ranges(4 << 30);
        assert_eq!(big[0], (0, MMIO_GAP_START));
        assert_eq!(big[1].0, MMIO_GAP_END);
        assert_eq!(big[0].1 + big[1].1, 4 << 30);
    }

    // The low boot structures must not overlap; checked at compile time.
    const _: () = {
        assert!(IDT_START >= GDT_START + 4 * 8);
        assert!(PDE_START + PDE_COUNT * 0x1000 <= CMDLINE_START);
        assert!(ZERO_PAGE_START + 0x1000 <= PML4_START);
        assert!(PVH_INFO_START + 0x1000 <= ZERO_PAGE_START);
    };
}

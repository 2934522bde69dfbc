//! Per-vCPU state at power-on: CPUID, MSRs, general and special registers,
//! FPU and the local APIC's LINT pins.

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES, Msrs, kvm_fpu, kvm_msr_entry, kvm_regs};
use kvm_ioctls::{Kvm, VcpuFd};

use super::boot::{GDT_64, gdt_pvh};
use super::segment_from_gdt;
use crate::error::{Error, Result};
use crate::layout::*;

/// How the vCPU enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryMode {
    /// 64-bit long mode, `rsi` = zero page (Linux boot protocol, and our test guest).
    Linux64,
    /// 32-bit protected mode, paging off, `rbx` = `hvm_start_info` (PVH).
    Pvh32,
}

// CPUID bits we touch.
const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;
const LEAF1_ECX_TSC_DEADLINE: u32 = 1 << 24;
const LEAF1_EDX_HTT: u32 = 1 << 28;
const LEAF6_ECX_EPB: u32 = 1 << 3;

/// Filter the host's supported CPUID for vCPU `id` of `count`: announce a
/// hypervisor, give each vCPU its own APIC id, describe a flat topology (one
/// package, `count` cores, no SMT) and hide the energy-performance bias MSR
/// (KVM does not emulate it).
pub fn filter_cpuid(cpuid: &mut CpuId, id: u8, count: u8, tsc_deadline: bool) {
    for e in cpuid.as_mut_slice() {
        match e.function {
            1 => {
                e.ecx |= LEAF1_ECX_HYPERVISOR;
                if tsc_deadline {
                    e.ecx |= LEAF1_ECX_TSC_DEADLINE;
                }
                // ebx: [31:24] initial APIC id, [23:16] logical count, [15:8] CLFLUSH size in qwords.
                e.ebx = (u32::from(id) << 24) | (u32::from(count) << 16) | (8 << 8);
                if count > 1 {
                    e.edx |= LEAF1_EDX_HTT;
                } else {
                    e.edx &= !LEAF1_EDX_HTT;
                }
            }
            4 => {
                // eax[31:26] = cores per package - 1; keep the cache description.
                e.eax &= 0x3ff;
                if count > 1 {
                    e.eax |= (u32::from(count) - 1) << 26;
                }
            }
            6 => e.ecx &= !LEAF6_ECX_EPB,
            0xb => {
                // Extended topology: level 0 = SMT (1 thread), level 1 = core.
                e.edx = u32::from(id);
                match e.index {
                    0 => {
                        e.eax = 0;
                        e.ebx = 1;
                        e.ecx = 0x100; // level type SMT
                    }
                    1 => {
                        // Bits of APIC id below the package id: ceil(log2(count)).
                        e.eax = if count <= 1 {
                            0
                        } else {
                            8 - (count - 1).leading_zeros()
                        };
                        e.ebx = u32::from(count);
                        e.ecx = 0x201; // level type core, level number 1
                    }
                    _ => {
                        e.eax = 0;
                        e.ebx = 0;
                        e.ecx = e.index;
                    }
                }
            }
            _ => {}
        }
    }
}

/// The boot MSRs Linux expects a loader to set (from the Firecracker and
/// vmm-reference lists), restricted to those the host reports.
pub fn boot_msrs(supported: &[u32]) -> Vec<kvm_msr_entry> {
    const MSR_IA32_SYSENTER_CS: u32 = 0x174;
    const MSR_IA32_SYSENTER_ESP: u32 = 0x175;
    const MSR_IA32_SYSENTER_EIP: u32 = 0x176;
    const MSR_STAR: u32 = 0xc000_0081;
    const MSR_LSTAR: u32 = 0xc000_0082;
    const MSR_CSTAR: u32 = 0xc000_0083;
    const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
    const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
    const MSR_IA32_TSC: u32 = 0x10;
    const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
    const MISC_ENABLE_FAST_STRING: u64 = 1;
    const MSR_MTRR_DEF_TYPE: u32 = 0x2ff;
    // MTRRs enabled, default type write-back.
    const MTRR_DEF: u64 = (1 << 11) | 6;
    let wanted = [
        (MSR_IA32_SYSENTER_CS, 0),
        (MSR_IA32_SYSENTER_ESP, 0),
        (MSR_IA32_SYSENTER_EIP, 0),
        (MSR_STAR, 0),
        (MSR_CSTAR, 0),
        (MSR_KERNEL_GS_BASE, 0),
        (MSR_SYSCALL_MASK, 0),
        (MSR_LSTAR, 0),
        (MSR_IA32_TSC, 0),
        (MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
        (MSR_MTRR_DEF_TYPE, MTRR_DEF),
    ];
    wanted
        .iter()
        .filter(|(index, _)| supported.contains(index))
        .map(|&(index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect()
}

/// Set CPUID, then MSRs (KVM decides which MSRs exist from the guest CPUID),
/// registers, FPU and LAPIC for one vCPU.
pub fn setup_vcpu(
    kvm: &Kvm,
    vcpu: &VcpuFd,
    id: u8,
    count: u8,
    entry: u64,
    mode: EntryMode,
) -> Result<()> {
    let mut cpuid = kvm
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(|e| Error::kvm("KVM_GET_SUPPORTED_CPUID", e))?;
    let tsc_deadline = kvm.check_extension(kvm_ioctls::Cap::TscDeadlineTimer);
    filter_cpuid(&mut cpuid, id, count, tsc_deadline);
    vcpu.set_cpuid2(&cpuid)
        .map_err(|e| Error::kvm("KVM_SET_CPUID2", e))?;

    let supported = kvm
        .get_msr_index_list()
        .map_err(|e| Error::kvm("KVM_GET_MSR_INDEX_LIST", e))?;
    let entries = boot_msrs(supported.as_slice());
    let msrs = Msrs::from_entries(&entries).map_err(|e| Error::Vcpu {
        id,
        why: format!("building the MSR list: {e:?}"),
    })?;
    let written = vcpu
        .set_msrs(&msrs)
        .map_err(|e| Error::kvm("KVM_SET_MSRS", e))?;
    if written != entries.len() {
        let failed = entries.get(written).map(|e| e.index).unwrap_or(0);
        return Err(Error::Vcpu {
            id,
            why: format!(
                "KVM_SET_MSRS set {written} of {} MSRs (failed at {failed:#x})",
                entries.len()
            ),
        });
    }

    let mut regs = kvm_regs {
        rflags: 0x2,
        rip: entry,
        rsp: BOOT_STACK_POINTER,
        rbp: BOOT_STACK_POINTER,
        ..Default::default()
    };
    match mode {
        EntryMode::Linux64 => regs.rsi = ZERO_PAGE_START,
        EntryMode::Pvh32 => regs.rbx = PVH_INFO_START,
    }
    vcpu.set_regs(&regs)
        .map_err(|e| Error::kvm("KVM_SET_REGS", e))?;

    let mut sregs = vcpu
        .get_sregs()
        .map_err(|e| Error::kvm("KVM_GET_SREGS", e))?;
    let gdt = match mode {
        EntryMode::Linux64 => GDT_64,
        EntryMode::Pvh32 => gdt_pvh(),
    };
    let code = segment_from_gdt(gdt[1], 1);
    let data = segment_from_gdt(gdt[2], 2);
    let tss = segment_from_gdt(gdt[3], 3);
    sregs.gdt.base = GDT_START;
    sregs.gdt.limit = (gdt.len() * 8 - 1) as u16;
    sregs.idt.base = IDT_START;
    sregs.idt.limit = 7;
    sregs.cs = code;
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = tss;
    const CR0_PE: u64 = 1;
    const CR0_ET: u64 = 1 << 4;
    const CR0_NE: u64 = 1 << 5;
    const CR0_PG: u64 = 1 << 31;
    const CR4_PAE: u64 = 1 << 5;
    const EFER_LME: u64 = 1 << 8;
    const EFER_LMA: u64 = 1 << 10;
    match mode {
        EntryMode::Linux64 => {
            sregs.cr3 = PML4_START;
            sregs.cr4 = CR4_PAE;
            sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
            sregs.efer = EFER_LME | EFER_LMA;
        }
        EntryMode::Pvh32 => {
            sregs.cr0 = CR0_PE | CR0_ET;
            sregs.cr4 = 0;
            sregs.efer = 0;
        }
    }
    vcpu.set_sregs(&sregs)
        .map_err(|e| Error::kvm("KVM_SET_SREGS", e))?;

    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    vcpu.set_fpu(&fpu)
        .map_err(|e| Error::kvm("KVM_SET_FPU", e))?;

    set_lint(vcpu)
}

/// Route LINT0 to ExtINT and LINT1 to NMI, as a PC's firmware would, so the
/// kernel's legacy PIC/NMI paths work through the in-kernel irqchip.
fn set_lint(vcpu: &VcpuFd) -> Result<()> {
    const APIC_LVT0: usize = 0x350;
    const APIC_LVT1: usize = 0x360;
    const APIC_MODE_EXTINT: u32 = 0x7;
    const APIC_MODE_NMI: u32 = 0x4;
    let mut lapic = vcpu
        .get_lapic()
        .map_err(|e| Error::kvm("KVM_GET_LAPIC", e))?;
    for (reg, mode) in [(APIC_LVT0, APIC_MODE_EXTINT), (APIC_LVT1, APIC_MODE_NMI)] {
        let bytes: Vec<u8> = lapic.regs[reg..reg + 4].iter().map(|&b| b as u8).collect();
        let mut v = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        // Delivery mode is bits 8..10.
        v = (v & !0x700) | (mode << 8);
        for (dst, src) in lapic.regs[reg..reg + 4].iter_mut().zip(v.to_le_bytes()) {
            *dst = src as _;
        }
    }
    vcpu.set_lapic(&lapic)
        .map_err(|e| Error::kvm("KVM_SET_LAPIC", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvm_bindings::kvm_cpuid_entry2;

    #[test]
    fn cpuid_filter_sets_hypervisor_bit_and_apic_id() {
        let entries = [
            kvm_cpuid_entry2 {
                function: 1,
                edx: LEAF1_EDX_HTT,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 6,
                ecx: LEAF6_ECX_EPB | 1,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0xb,
                index: 1,
                ..Default::default()
            },
        ];
        let mut cpuid = CpuId::from_entries(&entries).expect("cpuid");
        filter_cpuid(&mut cpuid, 2, 1, false);
        let s = cpuid.as_slice();
        assert_ne!(s[0].ecx & LEAF1_ECX_HYPERVISOR, 0);
        assert_eq!(s[0].ebx >> 24, 2);
        assert_eq!(s[0].edx & LEAF1_EDX_HTT, 0);
        assert_eq!(s[1].ecx, 1);
        assert_eq!(s[2].edx, 2);
        assert_eq!(s[2].ebx, 1);
    }

    #[test]
    fn boot_msrs_only_lists_supported_ones() {
        let msrs = boot_msrs(&[0x10, 0x1a0, 0x10a]);
        let idx: Vec<u32> = msrs.iter().map(|m| m.index).collect();
        assert_eq!(idx, vec![0x10, 0x1a0]);
        assert!(boot_msrs(&[]).is_empty());
    }

    #[test]
    fn gdt_constants_match_encoder() {
        use crate::arch::gdt_entry;
        assert_eq!(GDT_64[1], gdt_entry(0xa09b, 0, 0xfffff));
        assert_eq!(GDT_64[2], gdt_entry(0xc093, 0, 0xfffff));
        assert_eq!(GDT_64[3], gdt_entry(0x808b, 0, 0xfffff));
    }
}

//! x86_64 boot setup: descriptor tables, identity page tables, register
//! state, CPUID and MSR filtering, the zero page / PVH start info and the e820
//! map. The pure parts (tables, e820, start info) are plain functions over
//! guest memory so they are unit-tested without KVM.

pub mod boot;
pub mod cpu;

/// One 8-byte GDT descriptor from access/flags, base and limit.
/// `flags` is the "0xa09b" style: high nibble of the upper byte = G/DB/L/AVL,
/// low byte = access byte (P, DPL, S, type).
pub fn gdt_entry(flags: u16, base: u32, limit: u32) -> u64 {
    ((u64::from(base) & 0xff00_0000) << (56 - 24))
        | ((u64::from(flags) & 0xf0ff) << 40)
        | ((u64::from(limit) & 0x000f_0000) << (48 - 16))
        | ((u64::from(base) & 0x00ff_ffff) << 16)
        | (u64::from(limit) & 0x0000_ffff)
}

/// The KVM segment register state that loading `entry` at `index` would give.
pub fn segment_from_gdt(entry: u64, index: u8) -> kvm_bindings::kvm_segment {
    let base = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000);
    let raw_limit = ((entry & 0xffff) | ((entry >> 32) & 0x000f_0000)) as u32;
    let g = ((entry >> 55) & 1) as u8;
    // With G set the limit is in 4 KiB units: KVM wants it in bytes.
    let limit = if g == 1 {
        (raw_limit << 12) | 0xfff
    } else {
        raw_limit
    };
    kvm_bindings::kvm_segment {
        base,
        limit,
        selector: u16::from(index) * 8,
        type_: ((entry >> 40) & 0xf) as u8,
        present: ((entry >> 47) & 1) as u8,
        dpl: ((entry >> 45) & 3) as u8,
        db: ((entry >> 54) & 1) as u8,
        s: ((entry >> 44) & 1) as u8,
        l: ((entry >> 53) & 1) as u8,
        g,
        avl: ((entry >> 52) & 1) as u8,
        padding: 0,
        // A zero-type segment (the NULL descriptor) is "unusable" to VMX.
        unusable: u8::from(((entry >> 47) & 1) == 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdt_entries_match_the_documented_encodings() {
        // 64-bit code segment, base 0, limit 0xfffff, as in Linux's boot GDT.
        assert_eq!(gdt_entry(0xa09b, 0, 0xfffff), 0x00af_9b00_0000_ffff);
        assert_eq!(gdt_entry(0xc093, 0, 0xfffff), 0x00cf_9300_0000_ffff);
        let seg = segment_from_gdt(gdt_entry(0xa09b, 0, 0xfffff), 1);
        assert_eq!(seg.selector, 8);
        assert_eq!(seg.l, 1);
        assert_eq!(seg.g, 1);
        assert_eq!(seg.limit, 0xffff_ffff);
        assert_eq!(seg.type_, 0xb);
        assert_eq!(seg.present, 1);
        let null = segment_from_gdt(0, 0);
        assert_eq!(null.unusable, 1);
    }
}

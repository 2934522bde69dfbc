//! What the VMM writes into guest memory before the first instruction runs:
//! GDT/IDT, identity page tables, the e820 map, and either Linux
//! `boot_params` (64-bit entry) or a PVH `hvm_start_info` (32-bit entry).

use linux_loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::gdt_entry;
use crate::error::{Error, Result};
use crate::layout::*;

pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;

/// One e820 entry: `(addr, size, type)`.
pub type E820Entry = (u64, u64, u32);

/// The GDT for the 64-bit entry: NULL, code, data, TSS (Linux boot.txt's layout).
pub const GDT_64: [u64; 4] = [
    0,
    0x00af_9b00_0000_ffff, // gdt_entry(0xa09b, 0, 0xfffff)
    0x00cf_9300_0000_ffff, // gdt_entry(0xc093, 0, 0xfffff)
    0x008f_8b00_0000_ffff, // gdt_entry(0x808b, 0, 0xfffff)
];

/// The GDT for the PVH entry (32-bit protected mode, flat segments).
pub fn gdt_pvh() -> [u64; 4] {
    [
        0,
        gdt_entry(0xc09b, 0, 0xffff_ffff),
        gdt_entry(0xc093, 0, 0xffff_ffff),
        gdt_entry(0x008b, 0, 0x67),
    ]
}

fn mem_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Memory(format!("{what}: {e}"))
}

/// Write the GDT and a null IDT.
pub fn write_gdt_idt(mem: &GuestMemoryMmap, gdt: &[u64; 4]) -> Result<()> {
    for (i, entry) in gdt.iter().enumerate() {
        mem.write_obj(*entry, GuestAddress(GDT_START + (i as u64) * 8))
            .map_err(|e| mem_err("writing the GDT", e))?;
    }
    mem.write_obj(0u64, GuestAddress(IDT_START))
        .map_err(|e| mem_err("writing the IDT", e))
}

/// Identity-map the first 4 GiB with 2 MiB pages: enough for the kernel's
/// 64-bit entry (which builds its own tables at once) and for a tiny guest
/// that touches the MMIO window below 4 GiB.
pub fn write_page_tables(mem: &GuestMemoryMmap) -> Result<()> {
    let w = |val: u64, addr: u64| {
        mem.write_obj(val, GuestAddress(addr))
            .map_err(|e| mem_err("writing page tables", e))
    };
    w(PDPTE_START | 0x03, PML4_START)?;
    for pd in 0..PDE_COUNT {
        w((PDE_START + pd * 0x1000) | 0x03, PDPTE_START + pd * 8)?;
        for i in 0..512u64 {
            // present | writable | page size (2 MiB)
            w(
                ((pd * 512 + i) << 21) | 0x83,
                PDE_START + pd * 0x1000 + i * 8,
            )?;
        }
    }
    Ok(())
}

/// The e820 map for RAM ranges `ram` (as `layout::ram_ranges` gives them).
/// The area from the EBDA to 1 MiB (which holds the ACPI tables) is reserved.
pub fn e820_map(ram: &[(u64, u64)]) -> Vec<E820Entry> {
    let mut map = vec![
        (0, EBDA_START, E820_RAM),
        (EBDA_START, HIMEM_START - EBDA_START, E820_RESERVED),
    ];
    for &(start, size) in ram {
        let end = start + size;
        let start = start.max(HIMEM_START);
        if end > start {
            map.push((start, end - start, E820_RAM));
        }
    }
    map
}

/// Where to put an initrd of `size` bytes: as high as possible below both the
/// end of low RAM and the kernel's `initrd_addr_max`, page aligned, and above
/// the kernel.
pub fn initrd_address(
    ram: &[(u64, u64)],
    size: u64,
    kernel_end: u64,
    initrd_addr_max: u64,
) -> Result<u64> {
    let low_end = ram.first().map(|&(s, l)| s + l).unwrap_or(0);
    let limit = low_end.min(initrd_addr_max.saturating_add(1));
    let addr = limit
        .checked_sub(size)
        .map(|a| a & !0xfff)
        .filter(|&a| a >= kernel_end)
        .ok_or_else(|| {
            Error::Config(format!(
                "initrd of {size} bytes does not fit between the kernel (ends at {kernel_end:#x}) and {limit:#x}: give the VM more memory"
            ))
        })?;
    Ok(addr)
}

/// Inputs for the Linux zero page.
pub struct LinuxBoot<'a> {
    /// The setup header of a bzImage; `None` for an ELF vmlinux.
    pub header: Option<setup_header>,
    pub cmdline_len: usize,
    pub initrd: Option<(u64, u64)>,
    pub e820: &'a [E820Entry],
    pub rsdp: Option<u64>,
}

/// Build and write `boot_params` at `ZERO_PAGE_START`.
pub fn write_boot_params(mem: &GuestMemoryMmap, b: &LinuxBoot<'_>) -> Result<()> {
    let mut params = boot_params::default();
    if let Some(h) = b.header {
        params.hdr = h;
    } else {
        // Defaults Linux's boot.txt asks a loader to fill for a bare vmlinux.
        params.hdr.boot_flag = 0xaa55;
        params.hdr.header = 0x5372_6448; // "HdrS"
        params.hdr.kernel_alignment = 0x0100_0000;
    }
    params.hdr.type_of_loader = 0xff;
    params.hdr.cmd_line_ptr = CMDLINE_START as u32;
    params.hdr.cmdline_size = b.cmdline_len as u32;
    if let Some((addr, size)) = b.initrd {
        params.hdr.ramdisk_image = addr as u32;
        params.hdr.ramdisk_size = size as u32;
    }
    if let Some(rsdp) = b.rsdp {
        params.acpi_rsdp_addr = rsdp;
    }
    if b.e820.len() > params.e820_table.len() {
        return Err(Error::Config("too many e820 entries".into()));
    }
    for (slot, &(addr, size, type_)) in params.e820_table.iter_mut().zip(b.e820) {
        *slot = boot_e820_entry {
            addr,
            size,
            r#type: type_,
        };
    }
    params.e820_entries = b.e820.len() as u8;
    mem.write_obj(params, GuestAddress(ZERO_PAGE_START))
        .map_err(|e| mem_err("writing boot_params", e))
}

/// The PVH start info magic ("xEn3" with the top bit set), from the Xen PVH ABI.
pub const XEN_HVM_START_MAGIC: u32 = 0x336e_c578;

/// Serialize `hvm_start_info` (version 1) plus its memory map and module list
/// and write them at `PVH_INFO_START`. Done by hand, field by field, because
/// the layout is a fixed ABI (Xen's `arch-x86/hvm/start_info.h`).
pub fn write_pvh_start_info(
    mem: &GuestMemoryMmap,
    e820: &[E820Entry],
    initrd: Option<(u64, u64)>,
    rsdp: Option<u64>,
) -> Result<()> {
    const INFO_SIZE: u64 = 56;
    const MODULE_SIZE: u64 = 32;
    let modlist = PVH_INFO_START + INFO_SIZE;
    let memmap = modlist + MODULE_SIZE;
    let mut info = Vec::with_capacity(56);
    info.extend_from_slice(&XEN_HVM_START_MAGIC.to_le_bytes());
    info.extend_from_slice(&1u32.to_le_bytes()); // version
    info.extend_from_slice(&0u32.to_le_bytes()); // flags
    info.extend_from_slice(&u32::from(initrd.is_some()).to_le_bytes()); // nr_modules
    info.extend_from_slice(&(if initrd.is_some() { modlist } else { 0 }).to_le_bytes());
    info.extend_from_slice(&CMDLINE_START.to_le_bytes());
    info.extend_from_slice(&rsdp.unwrap_or(0).to_le_bytes());
    info.extend_from_slice(&memmap.to_le_bytes());
    info.extend_from_slice(&(e820.len() as u32).to_le_bytes());
    info.extend_from_slice(&0u32.to_le_bytes());
    let mut tail = Vec::new();
    let (maddr, msize) = initrd.unwrap_or((0, 0));
    tail.extend_from_slice(&maddr.to_le_bytes());
    tail.extend_from_slice(&msize.to_le_bytes());
    tail.extend_from_slice(&0u64.to_le_bytes()); // cmdline_paddr
    tail.extend_from_slice(&0u64.to_le_bytes()); // reserved
    for &(addr, size, type_) in e820 {
        tail.extend_from_slice(&addr.to_le_bytes());
        tail.extend_from_slice(&size.to_le_bytes());
        tail.extend_from_slice(&type_.to_le_bytes());
        tail.extend_from_slice(&0u32.to_le_bytes());
    }
    if memmap + (e820.len() as u64) * 24 > ZERO_PAGE_START {
        return Err(Error::Config("PVH memory map too large".into()));
    }
    mem.write_slice(&info, GuestAddress(PVH_INFO_START))
        .and_then(|()| mem.write_slice(&tail, GuestAddress(modlist)))
        .map_err(|e| mem_err("writing hvm_start_info", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(size: usize) -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size)]).expect("mmap")
    }

    #[test]
    fn e820_reserves_ebda_and_acpi_area() {
        let map = e820_map(&ram_ranges(64 << 20));
        assert_eq!(map[0], (0, EBDA_START, E820_RAM));
        assert_eq!(map[1].2, E820_RESERVED);
        assert!(map[1].0 <= RSDP_START && map[1].0 + map[1].1 >= ACPI_TABLES_END);
        assert_eq!(map[2], (HIMEM_START, (64 << 20) - HIMEM_START, E820_RAM));
        let big = e820_map(&ram_ranges(5 << 30));
        assert_eq!(big.last().map(|e| e.0), Some(MMIO_GAP_END));
    }

    #[test]
    fn initrd_goes_high_and_refuses_overlap() {
        let ram = ram_ranges(64 << 20);
        let a = initrd_address(&ram, 0x1234, 0x20_0000, 0x37ff_ffff).expect("fits");
        assert_eq!(a % 0x1000, 0);
        assert!(a + 0x1234 <= 64 << 20);
        assert!(initrd_address(&ram, 63 << 20, 0x20_0000, 0x37ff_ffff).is_err());
        // initrd_addr_max below the end of RAM wins.
        let b = initrd_address(&ram, 0x1000, 0x20_0000, 0x00ff_ffff).expect("fits");
        assert!(b + 0x1000 <= 0x0100_0000);
    }

    #[test]
    fn page_tables_identity_map_4g() {
        let m = mem(1 << 20);
        write_page_tables(&m).expect("write");
        let pml4: u64 = m.read_obj(GuestAddress(PML4_START)).expect("read");
        assert_eq!(pml4, PDPTE_START | 3);
        let pd3: u64 = m.read_obj(GuestAddress(PDPTE_START + 24)).expect("read");
        assert_eq!(pd3, (PDE_START + 0x3000) | 3);
        // The last 2 MiB page maps 4G-2M.
        let last: u64 = m
            .read_obj(GuestAddress(PDE_START + 0x3000 + 511 * 8))
            .expect("read");
        assert_eq!(last, (0xffe0_0000) | 0x83);
    }

    #[test]
    fn boot_params_carry_cmdline_initrd_e820_and_rsdp() {
        let m = mem(1 << 20);
        let e820 = e820_map(&ram_ranges(64 << 20));
        write_boot_params(
            &m,
            &LinuxBoot {
                header: None,
                cmdline_len: 10,
                initrd: Some((0x300_0000, 0x1000)),
                e820: &e820,
                rsdp: Some(RSDP_START),
            },
        )
        .expect("write");
        let p: boot_params = m.read_obj(GuestAddress(ZERO_PAGE_START)).expect("read");
        assert_eq!({ p.hdr.boot_flag }, 0xaa55);
        assert_eq!({ p.hdr.cmd_line_ptr }, CMDLINE_START as u32);
        assert_eq!({ p.hdr.ramdisk_image }, 0x300_0000);
        assert_eq!({ p.e820_entries }, e820.len() as u8);
        assert_eq!({ p.acpi_rsdp_addr }, RSDP_START);
    }

    #[test]
    fn pvh_start_info_layout() {
        let m = mem(1 << 20);
        let e820 = e820_map(&ram_ranges(64 << 20));
        write_pvh_start_info(&m, &e820, Some((0x40_0000, 0x2000)), Some(RSDP_START))
            .expect("write");
        let magic: u32 = m.read_obj(GuestAddress(PVH_INFO_START)).expect("read");
        assert_eq!(magic, XEN_HVM_START_MAGIC);
        let nr_mod: u32 = m.read_obj(GuestAddress(PVH_INFO_START + 12)).expect("read");
        assert_eq!(nr_mod, 1);
        let memmap: u64 = m.read_obj(GuestAddress(PVH_INFO_START + 40)).expect("read");
        let entries: u32 = m.read_obj(GuestAddress(PVH_INFO_START + 48)).expect("read");
        assert_eq!(entries as usize, e820.len());
        let first_type: u32 = m.read_obj(GuestAddress(memmap + 16)).expect("read");
        assert_eq!(first_type, E820_RAM);
        let mod_addr: u64 = m.read_obj(GuestAddress(PVH_INFO_START + 56)).expect("read");
        assert_eq!(mod_addr, 0x40_0000);
    }
}

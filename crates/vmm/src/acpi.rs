//! ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT, MADT and a
//! DSDT that describes COM1, the pvpanic port (`QEMU0001`, as QEMU's ISA
//! pvpanic describes it, so Linux's pvpanic-mmio driver binds), every
//! virtio-mmio device (`LNRO0005`, as Firecracker and QEMU microvm do, so
//! stock kernels without `CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES` find them) and
//! `\_S5` for power-off.
//!
//! The fixed-layout tables are written field by field at the offsets of the
//! ACPI 6.x spec; the AML comes from `acpi_tables::aml`.

use acpi_tables::Aml;
use acpi_tables::aml;
use acpi_tables::sdt::Sdt;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::error::{Error, Result};
use crate::layout::*;

pub const OEM_ID: [u8; 6] = *b"GUESTX";

/// A virtio-mmio device as the DSDT announces it.
#[derive(Clone, Copy, Debug)]
pub struct MmioDeviceInfo {
    pub base: u64,
    pub len: u64,
    pub gsi: u32,
}

fn table_id(t: &[u8; 4]) -> [u8; 8] {
    let mut id = *b"GXVM____";
    id[4..].copy_from_slice(t);
    id
}

/// A Generic Address Structure for a one-byte I/O port.
fn gas_io_byte(port: u16) -> [u8; 12] {
    let mut g = [0u8; 12];
    g[0] = 1; // system I/O space
    g[1] = 8; // bit width
    g[3] = 1; // byte access
    g[4..12].copy_from_slice(&u64::from(port).to_le_bytes());
    g
}

pub fn build_dsdt(devices: &[MmioDeviceInfo]) -> Vec<u8> {
    let mut body: Vec<u8> = Vec::new();
    // COM1, so the kernel's 8250 driver binds through ACPI as well as legacy
    // probing. (Each object is built and serialised in one statement: the
    // AML builders borrow their children.)
    aml::Device::new(
        "_SB_.COM1".into(),
        vec![
            &aml::Name::new("_HID".into(), &aml::EISAName::new("PNP0501")),
            &aml::Name::new("_UID".into(), &aml::ZERO),
            &aml::Name::new(
                "_CRS".into(),
                &aml::ResourceTemplate::new(vec![
                    &aml::IO::new(SERIAL_PORT, SERIAL_PORT, 1, 8),
                    &aml::Interrupt::new(true, true, false, false, SERIAL_IRQ),
                ]),
            ),
        ],
    )
    .to_aml_bytes(&mut body);
    // pvpanic: QEMU's hw/misc/pvpanic-isa.c names it PEVT with _HID
    // "QEMU0001", one decoded I/O port and _STA 0xF (present, enabled, shown,
    // functioning). Linux's pvpanic-mmio takes the port from _CRS.
    aml::Device::new(
        "_SB_.PEVT".into(),
        vec![
            &aml::Name::new("_HID".into(), &"QEMU0001"),
            &aml::Name::new(
                "_CRS".into(),
                &aml::ResourceTemplate::new(vec![&aml::IO::new(PVPANIC_PORT, PVPANIC_PORT, 1, 1)]),
            ),
            &aml::Name::new("_STA".into(), &0x0fu8),
        ],
    )
    .to_aml_bytes(&mut body);
    for (i, d) in devices.iter().enumerate() {
        let name = format!("_SB_.V{i:03X}");
        aml::Device::new(
            name.as_str().into(),
            vec![
                &aml::Name::new("_HID".into(), &"LNRO0005"),
                &aml::Name::new("_UID".into(), &i),
                &aml::Name::new(
                    "_CRS".into(),
                    &aml::ResourceTemplate::new(vec![
                        &aml::Memory32Fixed::new(true, d.base as u32, d.len as u32),
                        // Edge-triggered, active high, exclusive: an irqfd pulse.
                        &aml::Interrupt::new(true, true, false, false, d.gsi),
                    ]),
                ),
            ],
        )
        .to_aml_bytes(&mut body);
    }
    // \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved.
    let s5 = aml::Package::new(vec![
        &ACPI_S5_SLEEP_TYPE,
        &aml::ZERO,
        &aml::ZERO,
        &aml::ZERO,
    ]);
    aml::Name::new("_S5_".into(), &s5).to_aml_bytes(&mut body);

    let mut dsdt = Sdt::new(*b"DSDT", 36, 6, OEM_ID, table_id(b"DSDT"), 1);
    dsdt.append_slice(&body);
    dsdt.update_checksum();
    dsdt.as_slice().to_vec()
}

/// FADT (ACPI 6.5 table 5.9, 276 bytes) for a hardware-reduced platform.
pub fn build_fadt(dsdt: u64) -> Vec<u8> {
    let mut f = Sdt::new(*b"FACP", 276, 6, OEM_ID, table_id(b"FACP"), 1);
    const HW_REDUCED_ACPI: u32 = 1 << 20;
    const RESET_REG_SUP: u32 = 1 << 10;
    const PWR_BUTTON: u32 = 1 << 4; // no fixed-feature power button
    const SLP_BUTTON: u32 = 1 << 5;
    const VGA_NOT_PRESENT: u16 = 1 << 2;
    const CMOS_RTC_NOT_PRESENT: u16 = 1 << 5;
    f.write_u32(40, dsdt as u32);
    f.write_u16(109, VGA_NOT_PRESENT | CMOS_RTC_NOT_PRESENT);
    f.write_u32(
        112,
        HW_REDUCED_ACPI | RESET_REG_SUP | PWR_BUTTON | SLP_BUTTON,
    );
    f.write_bytes(116, &gas_io_byte(ACPI_RESET_PORT));
    f.write_u8(128, ACPI_RESET_VALUE);
    f.write_u8(131, 5); // FADT minor version: 6.5
    f.write_u64(140, dsdt);
    f.write_bytes(244, &gas_io_byte(ACPI_SLEEP_CONTROL_PORT));
    f.write_bytes(256, &gas_io_byte(ACPI_SLEEP_STATUS_PORT));
    f.write_bytes(268, b"GXVMGXVM");
    f.update_checksum();
    f.as_slice().to_vec()
}

/// MADT: one local APIC per vCPU and the IOAPIC.
pub fn build_madt(cpus: u8) -> Vec<u8> {
    let mut m = Sdt::new(*b"APIC", 44, 5, OEM_ID, table_id(b"APIC"), 1);
    m.write_u32(36, APIC_START as u32);
    m.write_u32(40, 0); // no PC-AT dual 8259 setup to mask
    for id in 0..cpus {
        // Processor Local APIC: type 0, length 8, uid, APIC id, flags (enabled).
        m.append_slice(&[0, 8, id, id, 1, 0, 0, 0]);
    }
    // I/O APIC: type 1, length 12, id, reserved, address, GSI base 0.
    let mut ioapic = vec![1u8, 12, 0, 0];
    ioapic.extend_from_slice(&(IOAPIC_START as u32).to_le_bytes());
    ioapic.extend_from_slice(&0u32.to_le_bytes());
    m.append_slice(&ioapic);
    m.update_checksum();
    m.as_slice().to_vec()
}

pub fn build_xsdt(tables: &[u64]) -> Vec<u8> {
    let mut x = Sdt::new(*b"XSDT", 36, 1, OEM_ID, table_id(b"XSDT"), 1);
    for t in tables {
        x.append_slice(&t.to_le_bytes());
    }
    x.update_checksum();
    x.as_slice().to_vec()
}

pub fn build_rsdp(xsdt: u64) -> Vec<u8> {
    let mut v: Vec<u8> = Vec::new();
    acpi_tables::rsdp::Rsdp::new(OEM_ID, xsdt).to_aml_bytes(&mut v);
    v
}

/// Lay out every table from `RSDP_START` up; returns `(address, bytes)` pairs.
pub fn build_tables(cpus: u8, devices: &[MmioDeviceInfo]) -> Result<Vec<(u64, Vec<u8>)>> {
    let align = |a: u64| (a + 15) & !15;
    let dsdt_addr = align(RSDP_START + 36);
    let dsdt = build_dsdt(devices);
    let fadt_addr = align(dsdt_addr + dsdt.len() as u64);
    let fadt = build_fadt(dsdt_addr);
    let madt_addr = align(fadt_addr + fadt.len() as u64);
    let madt = build_madt(cpus);
    let xsdt_addr = align(madt_addr + madt.len() as u64);
    let xsdt = build_xsdt(&[fadt_addr, madt_addr]);
    if xsdt_addr + xsdt.len() as u64 > ACPI_TABLES_END {
        return Err(Error::Config(format!(
            "ACPI tables for {} devices do not fit below 1 MiB",
            devices.len()
        )));
    }
    Ok(vec![
        (RSDP_START, build_rsdp(xsdt_addr)),
        (dsdt_addr, dsdt),
        (fadt_addr, fadt),
        (madt_addr, madt),
        (xsdt_addr, xsdt),
    ])
}

/// Write the tables into guest memory; returns the RSDP address.
pub fn write_tables(mem: &GuestMemoryMmap, cpus: u8, devices: &[MmioDeviceInfo]) -> Result<u64> {
    for (addr, bytes) in build_tables(cpus, devices)? {
        mem.write_slice(&bytes, GuestAddress(addr))
            .map_err(|e| Error::Memory(format!("writing ACPI table at {addr:#x}: {e}")))?;
    }
    Ok(RSDP_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x))
    }

    fn devs() -> Vec<MmioDeviceInfo> {
        (0..3)
            .map(|i| MmioDeviceInfo {
                base: virtio_mmio_addr(i),
                len: VIRTIO_MMIO_SIZE,
                gsi: VIRTIO_IRQ_BASE + i as u32,
            })
            .collect()
    }

    #[test]
    fn every_table_checksums_and_links() {
        let t = build_tables(2, &devs()).expect("tables");
        let (rsdp_addr, rsdp) = &t[0];
        assert_eq!(*rsdp_addr, RSDP_START);
        assert_eq!(&rsdp[..8], b"RSD PTR ");
        assert_eq!(sum(&rsdp[..20]), 0);
        assert_eq!(sum(rsdp), 0);
        for (_, tbl) in &t[1..] {
            let len = u32::from_le_bytes([tbl[4], tbl[5], tbl[6], tbl[7]]) as usize;
            assert_eq!(len, tbl.len());
            assert_eq!(sum(tbl), 0, "{}", String::from_utf8_lossy(&tbl[..4]));
        }
        let xsdt_addr = u64::from_le_bytes(rsdp[24..32].try_into().expect("8"));
        let xsdt = &t.iter().find(|(a, _)| *a == xsdt_addr).expect("xsdt").1;
        assert_eq!(&xsdt[..4], b"XSDT");
        let sigs: Vec<&[u8]> = xsdt[36..]
            .chunks(8)
            .map(|c| {
                let a = u64::from_le_bytes(c.try_into().expect("8"));
                &t.iter().find(|(x, _)| *x == a).expect("linked").1[..4]
            })
            .collect();
        assert_eq!(sigs, vec![&b"FACP"[..], &b"APIC"[..]]);
    }

    #[test]
    fn fadt_is_hardware_reduced_with_sleep_registers() {
        let f = build_fadt(0xe0040);
        assert_eq!(f.len(), 276);
        let flags = u32::from_le_bytes(f[112..116].try_into().expect("4"));
        assert_ne!(flags & (1 << 20), 0);
        assert_eq!(
            u64::from_le_bytes(f[140..148].try_into().expect("8")),
            0xe0040
        );
        assert_eq!(f[244], 1);
        assert_eq!(
            u64::from_le_bytes(f[248..256].try_into().expect("8")),
            u64::from(ACPI_SLEEP_CONTROL_PORT)
        );
    }

    #[test]
    fn dsdt_lists_each_virtio_device_with_its_resources() {
        let d = build_dsdt(&devs());
        let hid = b"LNRO0005";
        let hits: Vec<usize> = d
            .windows(hid.len())
            .enumerate()
            .filter(|(_, w)| w == hid)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hits.len(), 3);
        for (i, at) in hits.iter().enumerate() {
            // The Memory32Fixed descriptor (0x86, length 9) that follows names the slot.
            let rest = &d[*at..];
            let m = rest
                .windows(3)
                .position(|w| w == [0x86, 9, 0])
                .expect("Memory32Fixed");
            let base = u32::from_le_bytes(rest[m + 4..m + 8].try_into().expect("4"));
            assert_eq!(u64::from(base), virtio_mmio_addr(i));
            let irq = rest
                .windows(3)
                .position(|w| w == [0x89, 6, 0])
                .expect("Interrupt");
            let gsi = u32::from_le_bytes(rest[irq + 5..irq + 9].try_into().expect("4"));
            assert_eq!(gsi, VIRTIO_IRQ_BASE + i as u32);
        }
        assert!(d.windows(4).any(|w| w == b"_S5_"));
        assert!(d.windows(4).any(|w| w == b"COM1"));
    }

    #[test]
    fn dsdt_announces_pvpanic_with_its_port() {
        let d = build_dsdt(&devs());
        let hid = b"QEMU0001";
        let at = d
            .windows(hid.len())
            .position(|w| w == hid)
            .expect("QEMU0001 in the DSDT");
        assert_eq!(
            d.windows(hid.len()).filter(|w| w == hid).count(),
            1,
            "one pvpanic device"
        );
        // The device is PEVT and the _HID is a string (0x0D prefix).
        let dev = d.windows(4).position(|w| w == b"PEVT").expect("PEVT");
        assert!(dev < at);
        assert_eq!(d[at - 1], 0x0d);
        let rest = &d[at..];
        // IO port descriptor: 0x47, decode16, min, max, alignment 1, length 1.
        let io = rest.windows(2).position(|w| w == [0x47, 1]).expect("IO");
        assert_eq!(&rest[io + 2..io + 8], &[0x05, 0x05, 0x05, 0x05, 1, 1]);
        assert_eq!(
            u16::from_le_bytes([rest[io + 2], rest[io + 3]]),
            PVPANIC_PORT
        );
        // _STA follows: Name(_STA, 0x0F) as a byte constant (0x0A 0x0F).
        let sta = rest.windows(4).position(|w| w == b"_STA").expect("_STA");
        assert_eq!(&rest[sta + 4..sta + 6], &[0x0a, 0x0f]);
        // Before the first virtio device, after COM1: inside the same DSDT body.
        let first_virtio = d.windows(8).position(|w| w == b"LNRO0005").expect("virtio");
        assert!(at < first_virtio);
    }

    #[test]
    fn madt_has_one_lapic_per_cpu() {
        let m = build_madt(4);
        assert_eq!(m.len(), 44 + 4 * 8 + 12);
        assert_eq!(m[44], 0);
        assert_eq!(m[44 + 3 * 8 + 3], 3);
        assert_eq!(m[44 + 4 * 8], 1);
    }
}

//! Legacy platform devices on port I/O: the 8250 UART (vm-superio), an i8042
//! that only knows the CPU-reset command, the ACPI hardware-reduced sleep
//! and reset registers that the FADT points at, and QEMU's ISA pvpanic port.

use std::io::Write;
use std::sync::Arc;

use super::{BusDevice, ExitReason, ExitState, Interrupt};
use crate::layout::{ACPI_RESET_VALUE, ACPI_S5_SLEEP_TYPE};

/// Adapts our interrupt to vm-superio's trigger.
pub struct SerialIrq(pub Arc<dyn Interrupt>);

impl vm_superio::Trigger for SerialIrq {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.trigger();
        Ok(())
    }
}

/// COM1.
pub struct Serial {
    inner: vm_superio::Serial<SerialIrq, vm_superio::serial::NoEvents, Box<dyn Write + Send>>,
}

impl Serial {
    pub fn new(irq: Arc<dyn Interrupt>, out: Box<dyn Write + Send>) -> Self {
        Serial {
            inner: vm_superio::Serial::new(SerialIrq(irq), out),
        }
    }

    /// Queue host input for the guest; returns how many bytes fitted.
    pub fn enqueue_input(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.inner.fifo_capacity());
        self.inner
            .enqueue_raw_bytes(&bytes[..n])
            .unwrap_or_default()
    }
}

impl BusDevice for Serial {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        if let (Ok(off), [b]) = (u8::try_from(offset), &mut *data) {
            *b = self.inner.read(off);
        } else {
            data.fill(0xff);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if let (Ok(off), [b]) = (u8::try_from(offset), data) {
            // An output error (closed stdout) must not stop the guest.
            let _ = self.inner.write(off, *b);
        }
    }
}

/// Enough of an i8042 for Linux's `reboot=k` path: the status port reads as
/// "nothing to read, ready for a command", and command 0xFE (pulse the CPU
/// reset line) ends the VM with [`ExitReason::Reset`].
pub struct I8042 {
    exit: Arc<ExitState>,
}

impl I8042 {
    pub fn new(exit: Arc<ExitState>) -> Self {
        I8042 { exit }
    }
}

impl BusDevice for I8042 {
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        // Output buffer empty, input buffer empty.
        data.fill(0);
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        const STATUS_CMD_OFFSET: u64 = 4; // port 0x64 from base 0x60
        const CMD_RESET_CPU: u8 = 0xfe;
        if offset == STATUS_CMD_OFFSET && data.first() == Some(&CMD_RESET_CPU) {
            self.exit.request(ExitReason::Reset);
        }
    }
}

/// The FADT's sleep control (offset 0), sleep status (1) and reset (2) registers.
pub struct AcpiPm {
    exit: Arc<ExitState>,
}

impl AcpiPm {
    pub fn new(exit: Arc<ExitState>) -> Self {
        AcpiPm { exit }
    }
}

/// Bits of the hardware-reduced sleep control register (ACPI 6.x, 4.8.3.7).
const SLP_EN: u8 = 1 << 5;
const SLP_TYP_SHIFT: u8 = 2;
const SLP_TYP_MASK: u8 = 0x7 << SLP_TYP_SHIFT;

impl BusDevice for AcpiPm {
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        // Sleep status: never woken; the others read as zero.
        data.fill(0);
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let Some(&v) = data.first() else { return };
        match offset {
            0 if v & SLP_EN != 0 && (v & SLP_TYP_MASK) >> SLP_TYP_SHIFT == ACPI_S5_SLEEP_TYPE => {
                self.exit.request(ExitReason::PowerOff)
            }
            2 if v == ACPI_RESET_VALUE => self.exit.request(ExitReason::Reset),
            _ => {}
        }
    }
}

/// pvpanic events (QEMU docs/specs/pvpanic.rst; Linux include/uapi/misc/pvpanic.h).
pub const PVPANIC_PANICKED: u8 = 1 << 0;
pub const PVPANIC_CRASH_LOADED: u8 = 1 << 1;
/// The events this device supports, which a read of its port returns.
pub const PVPANIC_EVENTS: u8 = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;

/// QEMU's ISA pvpanic device: one byte of port I/O (the DSDT announces it as
/// `QEMU0001`, which Linux's pvpanic-mmio driver binds). A read returns the
/// supported events; a write with PVPANIC_PANICKED ends the VM with
/// [`ExitReason::Panic`]; PVPANIC_CRASH_LOADED (a crash kernel will take
/// over) is only noted. Unknown bits are ignored, as QEMU does.
pub struct PvPanic {
    exit: Arc<ExitState>,
}

impl PvPanic {
    pub fn new(exit: Arc<ExitState>) -> Self {
        PvPanic { exit }
    }
}

impl BusDevice for PvPanic {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        // Only the byte at the port is ours; a wider access sees the
        // following (unclaimed) ports as zero.
        data.fill(0);
        if let (0, Some(b)) = (offset, data.first_mut()) {
            *b = PVPANIC_EVENTS;
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let (0, Some(&v)) = (offset, data.first()) else {
            return;
        };
        if v & PVPANIC_PANICKED != 0 {
            self.exit.request(ExitReason::Panic);
        } else if v & PVPANIC_CRASH_LOADED != 0 {
            self.exit.note_crash_loaded();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Count(Mutex<u32>);
    impl Interrupt for Count {
        fn trigger(&self) {
            if let Ok(mut c) = self.0.lock() {
                *c += 1;
            }
        }
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn serial_writes_thr_to_output_and_accepts_input() {
        let out = Sink::default();
        let irq = Arc::new(Count(Mutex::new(0)));
        let mut s = Serial::new(irq.clone(), Box::new(out.clone()));
        for b in b"hi" {
            s.write(0, &[*b]);
        }
        assert_eq!(&*out.0.lock().expect("lock"), b"hi");
        // Enable the received-data interrupt, then feed input.
        s.write(1, &[1]);
        assert_eq!(s.enqueue_input(b"x"), 1);
        let mut b = [0u8];
        s.read(0, &mut b);
        assert_eq!(b[0], b'x');
        assert!(*irq.0.lock().expect("lock") >= 1);
        // Wide accesses are ignored, not a panic.
        s.write(0, &[1, 2]);
    }

    #[test]
    fn i8042_reset_and_acpi_poweroff() {
        let exit = Arc::new(ExitState::default());
        let mut k = I8042::new(exit.clone());
        k.write(0, &[0xfe]);
        assert!(!exit.is_set(), "0xfe on the data port is not a reset");
        k.write(4, &[0xfe]);
        assert_eq!(exit.get(), Some(ExitReason::Reset));

        let exit = Arc::new(ExitState::default());
        let mut pm = AcpiPm::new(exit.clone());
        pm.write(0, &[(3 << 2) | SLP_EN]); // S3 is not power-off
        pm.write(0, &[5 << 2]); // no SLP_EN
        pm.write(1, &[0x34]);
        assert!(!exit.is_set());
        pm.write(0, &[(5 << 2) | SLP_EN]);
        assert_eq!(exit.get(), Some(ExitReason::PowerOff));

        let exit = Arc::new(ExitState::default());
        let mut pm = AcpiPm::new(exit.clone());
        pm.write(2, &[ACPI_RESET_VALUE]);
        assert_eq!(exit.get(), Some(ExitReason::Reset));
    }

    #[test]
    fn pvpanic_reads_capabilities_and_panics_on_bit_0() {
        let exit = Arc::new(ExitState::default());
        let crash = exit.crash_loaded_flag();
        let mut p = PvPanic::new(exit.clone());
        let mut b = [0xaau8];
        p.read(0, &mut b);
        assert_eq!(b[0], PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
        assert_eq!(b[0], 3);
        // A 16-bit read: our byte, then nothing.
        let mut w = [0xaau8; 2];
        p.read(0, &mut w);
        assert_eq!(w, [3, 0]);
        // Nothing, unknown bits, empty and misplaced writes do not end the VM.
        p.write(0, &[0]);
        p.write(0, &[0x80 | 0x04]);
        p.write(0, &[]);
        p.write(1, &[PVPANIC_PANICKED]);
        assert!(!exit.is_set());
        // Crash kernel loaded: noted, the VM goes on.
        p.write(0, &[PVPANIC_CRASH_LOADED]);
        assert!(!exit.is_set());
        assert!(crash.load(std::sync::atomic::Ordering::Relaxed));
        // Panicked (with other bits too): the VM ends with Panic.
        p.write(0, &[PVPANIC_PANICKED | 0x80]);
        assert_eq!(exit.get(), Some(ExitReason::Panic));
        assert_eq!(ExitReason::Panic.exit_code(), 5);
    }

    #[test]
    fn pvpanic_on_the_port_bus() {
        use crate::devices::Bus;
        use crate::layout::PVPANIC_PORT;
        use std::sync::Mutex;
        let exit = Arc::new(ExitState::default());
        let mut bus = Bus::default();
        bus.insert(
            u64::from(PVPANIC_PORT),
            1,
            Arc::new(Mutex::new(PvPanic::new(exit.clone()))),
        )
        .expect("insert");
        let mut b = [0u8];
        assert!(bus.read(0x505, &mut b));
        assert_eq!(b[0], PVPANIC_EVENTS);
        assert!(!bus.write(0x506, &[1]), "only port 0x505 is pvpanic");
        assert!(!exit.is_set());
        assert!(bus.write(0x505, &[1]));
        assert_eq!(exit.get(), Some(ExitReason::Panic));
    }
}

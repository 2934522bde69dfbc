//! Building and running a VM from a [`VmConfig`]: KVM setup, guest memory,
//! kernel loading, devices, ACPI, vCPU threads and the device I/O thread.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::thread::JoinHandleExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_bindings::{KVM_PIT_SPEAKER_DUMMY, kvm_pit_config, kvm_userspace_memory_region};
use kvm_ioctls::{Cap, IoEventAddress, Kvm, VcpuExit, VcpuFd, VmFd};
use linux_loader::loader::{BzImage, Elf, KernelLoader, elf::PvhBootCapability};
use vm_memory::{
    Address, Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion,
};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::acpi::{self, MmioDeviceInfo};
use crate::arch::boot::{self, LinuxBoot};
use crate::arch::cpu::{self, EntryMode};
use crate::devices::legacy::{AcpiPm, I8042, PvPanic, Serial};
use crate::devices::{Bus, ExitReason, ExitState, Interrupt, IrqFd, IrqLine};
use crate::error::{Error, Result};
use crate::layout::*;
use crate::pvm::{self, KvmFlavor};
use crate::virtio::VirtioDevice;
use crate::virtio::block::Block;
use crate::virtio::console::{Console, PortConfig};
use crate::virtio::mmio::{MmioTransport, REG_QUEUE_NOTIFY};
use crate::virtio::rng::Rng;

/// A disk for virtio-blk.
pub struct DiskConfig {
    pub device: gx_disk::Device,
    /// Advertise VIRTIO_BLK_F_RO and refuse writes.
    pub read_only: bool,
    /// What GET_ID answers (at most 20 bytes are used).
    pub serial: String,
}

/// How the guest may use a disk image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskMode {
    /// The guest writes the image.
    ReadWrite,
    /// Opened read-only; the guest sees VIRTIO_BLK_F_RO and writes fail.
    ReadOnly,
    /// Opened read-only, with a copy-on-write overlay (a sparse temporary
    /// file, see [`gx_disk::Overlay`]) taking at most this many bytes: the
    /// guest may write, the image stays byte-identical (libguestfs `--ro`
    /// sessions).
    CopyOnWrite { limit: u64 },
}

impl DiskConfig {
    /// Open `path` (raw or qcow2; detected when `format` is `None`).
    pub fn open(
        path: &std::path::Path,
        format: Option<gx_disk::Format>,
        mode: DiskMode,
        serial: impl Into<String>,
    ) -> Result<Self> {
        let mut opts = gx_disk::OpenOptions::new();
        opts.format = format;
        opts.readonly = mode != DiskMode::ReadWrite;
        let dev = gx_disk::open_image(path, &opts)
            .map_err(|e| Error::Device(format!("disk {}: {e}", path.display())))?;
        let device: gx_disk::Device = match mode {
            DiskMode::CopyOnWrite { limit } => Arc::new(gx_disk::Overlay::with_limit(dev, limit)),
            _ => dev,
        };
        Ok(DiskConfig {
            device,
            read_only: mode == DiskMode::ReadOnly,
            serial: serial.into(),
        })
    }
}

/// The host end of a named virtio-serial port.
pub enum ChannelEndpoint {
    /// Connect to a listening Unix socket at start-up.
    Connect(PathBuf),
    /// An already connected stream (e.g. one end of a socketpair).
    Stream(UnixStream),
}

pub struct ChannelConfig {
    pub name: String,
    pub endpoint: ChannelEndpoint,
}

/// Where the guest's serial console output goes.
pub enum SerialOutput {
    Stdout,
    Sink,
    Writer(Box<dyn Write + Send>),
}

/// What to do when `/dev/kvm` is PVM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PvmPolicy {
    /// Refuse with [`Error::PvmHost`]: stock kernels cannot boot there.
    Refuse,
    /// Run anyway (tiny test guests, or to see what happens).
    Allow,
}

/// How queue notifications and interrupts travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyMode {
    /// ioeventfd + irqfd where KVM offers them, else the fallback.
    Auto,
    /// Every notify is an MMIO exit handled on the vCPU thread, and
    /// interrupts use KVM_IRQ_LINE.
    Exits,
}

/// Everything a VM is built from. The `gx-vmm` CLI only fills this in.
pub struct VmConfig {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
    pub memory_mib: u64,
    pub cpus: u8,
    pub disks: Vec<DiskConfig>,
    pub channels: Vec<ChannelConfig>,
    pub rng: bool,
    pub serial: SerialOutput,
    /// Forward the VMM's stdin to the serial console.
    pub serial_input: bool,
    pub pvm: PvmPolicy,
    pub notify: NotifyMode,
}

impl VmConfig {
    /// A config with defaults for everything but the kernel.
    pub fn new(kernel: impl Into<PathBuf>) -> Self {
        VmConfig {
            kernel: kernel.into(),
            initrd: None,
            cmdline: String::new(),
            memory_mib: 512,
            cpus: 1,
            disks: Vec::new(),
            channels: Vec::new(),
            rng: true,
            serial: SerialOutput::Stdout,
            serial_input: false,
            pvm: PvmPolicy::Refuse,
            notify: NotifyMode::Auto,
        }
    }
}

/// Facts about a started VM, for tests and benchmarks.
#[derive(Clone, Debug)]
pub struct VmInfo {
    pub entry: u64,
    pub entry_mode: EntryMode,
    pub virtio_devices: Vec<(u32, MmioDeviceInfo)>,
    pub ioeventfd: bool,
    pub irqfd: bool,
}

/// A running VM: wait for it, or stop it.
pub struct RunningVm {
    exit: Arc<ExitState>,
    vcpus: Vec<JoinHandle<()>>,
    io_thread: Option<JoinHandle<()>>,
    io_stop: EventFd,
    first_run: Arc<OnceLock<Instant>>,
    info: VmInfo,
    // Kept alive for as long as the vCPUs may run.
    _vm: Arc<VmFd>,
}

/// Start a VM; it runs on its own threads until it exits or is stopped.
pub fn start(config: VmConfig) -> Result<RunningVm> {
    Builder::build(config)
}

/// Start a VM and wait for it to end.
pub fn run(config: VmConfig) -> Result<ExitReason> {
    Ok(start(config)?.wait())
}

impl RunningVm {
    pub fn info(&self) -> &VmInfo {
        &self.info
    }

    /// When the first vCPU first entered KVM_RUN.
    pub fn first_run(&self) -> Option<Instant> {
        self.first_run.get().copied()
    }

    /// A flag that turns true if the guest announces, through pvpanic, that a
    /// crash kernel is loaded (it will kexec into it on a panic instead of
    /// reporting [`ExitReason::Panic`]). It outlives the VM.
    pub fn crash_loaded_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.exit.crash_loaded_flag()
    }

    /// Ask the VM to stop (it ends with [`ExitReason::Stopped`] unless it already ended).
    pub fn stop(&self) {
        self.exit.request(ExitReason::Stopped);
    }

    /// Wait until the VM ends.
    pub fn wait(self) -> ExitReason {
        loop {
            if let Some(r) = self.exit.wait_timeout(Duration::from_secs(3600)) {
                let _ = r;
                return self.teardown();
            }
        }
    }

    /// Wait at most `timeout`; past it the VM is stopped and the result is
    /// [`ExitReason::Stopped`]. A watchdog for tests.
    pub fn wait_timeout(self, timeout: Duration) -> ExitReason {
        if self.exit.wait_timeout(timeout).is_none() {
            self.stop();
        }
        self.teardown()
    }

    fn teardown(mut self) -> ExitReason {
        let reason = self.exit.get().unwrap_or(ExitReason::Stopped);
        let _ = self.io_stop.write(1);
        // Kick vCPUs out of KVM_RUN until they notice the exit request. The
        // signal may land just before a thread enters KVM_RUN, so repeat.
        let sig = kick_signal();
        for h in &self.vcpus {
            for _ in 0..5000 {
                if h.is_finished() {
                    break;
                }
                // SAFETY: the thread handle is alive (not joined yet) and the
                // signal has a no-op handler installed.
                unsafe { libc::pthread_kill(h.as_pthread_t(), sig) };
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for h in self.vcpus.drain(..) {
            if h.is_finished() {
                let _ = h.join();
            }
        }
        if let Some(h) = self.io_thread.take() {
            let _ = h.join();
        }
        reason
    }
}

fn kick_signal() -> libc::c_int {
    vmm_sys_util::signal::SIGRTMIN() + 2
}

extern "C" fn noop_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = vmm_sys_util::signal::register_signal_handler(kick_signal(), noop_handler);
    });
}

struct Builder;

/// A loaded kernel: where to start and how.
struct Loaded {
    entry: u64,
    mode: EntryMode,
    kernel_end: u64,
    header: Option<linux_loader::bootparam::setup_header>,
}

fn load_kernel(mem: &GuestMemoryMmap, path: &PathBuf) -> Result<Loaded> {
    let kerr = |why: String| Error::Kernel {
        path: path.display().to_string(),
        why,
    };
    let mut f = File::open(path).map_err(|e| kerr(e.to_string()))?;
    match Elf::load(mem, None, &mut f, Some(GuestAddress(HIMEM_START))) {
        Ok(r) => {
            let (entry, mode) = match r.pvh_boot_cap {
                PvhBootCapability::PvhEntryPresent(a) => (a.raw_value(), EntryMode::Pvh32),
                _ => (r.kernel_load.raw_value(), EntryMode::Linux64),
            };
            Ok(Loaded {
                entry,
                mode,
                kernel_end: r.kernel_end,
                header: None,
            })
        }
        Err(linux_loader::loader::Error::Elf(
            linux_loader::loader::elf::Error::InvalidElfMagicNumber,
        )) => {
            let r = BzImage::load(mem, None, &mut f, Some(GuestAddress(HIMEM_START)))
                .map_err(|e| kerr(format!("neither ELF nor bzImage: {e}")))?;
            let header = r
                .setup_header
                .ok_or_else(|| kerr("bzImage without a setup header".into()))?;
            // The 64-bit entry point needs boot protocol 2.06+ (handover fields).
            if { header.version } < 0x0206 || { header.xloadflags } & 1 == 0 {
                return Err(kerr(
                    "bzImage has no 64-bit entry point (XLF_KERNEL_64)".into(),
                ));
            }
            Ok(Loaded {
                entry: r.kernel_load.raw_value() + 0x200,
                mode: EntryMode::Linux64,
                kernel_end: r.kernel_end,
                header: Some(header),
            })
        }
        Err(e) => Err(kerr(e.to_string())),
    }
}

impl Builder {
    fn build(mut config: VmConfig) -> Result<RunningVm> {
        if config.cpus == 0 {
            return Err(Error::Config("at least one vCPU is needed".into()));
        }
        if config.memory_mib < 16 {
            return Err(Error::Config("at least 16 MiB of memory is needed".into()));
        }
        if config.cmdline.len() + 1 > CMDLINE_MAX_SIZE {
            return Err(Error::Config(format!(
                "kernel command line is {} bytes; at most {} fit",
                config.cmdline.len(),
                CMDLINE_MAX_SIZE - 1
            )));
        }
        match pvm::detect() {
            KvmFlavor::Absent => {
                return Err(Error::Config(
                    "/dev/kvm does not exist: KVM is not available on this host".into(),
                ));
            }
            KvmFlavor::Pvm if config.pvm == PvmPolicy::Refuse => return Err(Error::PvmHost),
            _ => {}
        }
        install_kick_handler();

        let kvm = Kvm::new().map_err(|e| Error::kvm("opening /dev/kvm", e))?;
        for (cap, name) in [(Cap::Irqchip, "IRQCHIP"), (Cap::UserMemory, "USER_MEMORY")] {
            if !kvm.check_extension(cap) {
                return Err(Error::Config(format!("KVM lacks KVM_CAP_{name}")));
            }
        }
        let use_fds = config.notify == NotifyMode::Auto;
        let irqfd_ok = use_fds && kvm.check_extension(Cap::Irqfd);
        let ioeventfd_ok = use_fds && kvm.check_extension(Cap::Ioeventfd);

        let vm = Arc::new(
            kvm.create_vm()
                .map_err(|e| Error::kvm("KVM_CREATE_VM", e))?,
        );
        vm.set_tss_address(0xfffb_d000)
            .map_err(|e| Error::kvm("KVM_SET_TSS_ADDR", e))?;

        // Guest memory.
        let mem_size = config.memory_mib << 20;
        let ranges = ram_ranges(mem_size);
        let mem = GuestMemoryMmap::<()>::from_ranges(
            &ranges
                .iter()
                .map(|&(s, l)| (GuestAddress(s), l as usize))
                .collect::<Vec<_>>(),
        )
        .map_err(|e| Error::Memory(format!("allocating {mem_size} bytes: {e}")))?;
        for (slot, region) in mem.iter().enumerate() {
            let host = region
                .get_host_address(vm_memory::MemoryRegionAddress(0))
                .map_err(|e| Error::Memory(e.to_string()))?;
            let r = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: 0,
                guest_phys_addr: region.start_addr().raw_value(),
                memory_size: region.len(),
                userspace_addr: host as u64,
            };
            // SAFETY: the region is a live mmap owned by `mem`, which the VM's
            // threads keep alive (they hold clones) for as long as vCPUs run.
            unsafe { vm.set_user_memory_region(r) }
                .map_err(|e| Error::kvm("KVM_SET_USER_MEMORY_REGION", e))?;
        }

        // The irqchip and PIT must exist before the vCPUs.
        vm.create_irq_chip()
            .map_err(|e| Error::kvm("KVM_CREATE_IRQCHIP", e))?;
        let pit = kvm_pit_config {
            flags: KVM_PIT_SPEAKER_DUMMY,
            ..Default::default()
        };
        vm.create_pit2(pit)
            .map_err(|e| Error::kvm("KVM_CREATE_PIT2", e))?;

        let loaded = load_kernel(&mem, &config.kernel)?;

        // Command line.
        let mut cmdline = config.cmdline.clone().into_bytes();
        cmdline.push(0);
        mem.write_slice(&cmdline, GuestAddress(CMDLINE_START))
            .map_err(|e| Error::Memory(format!("writing the command line: {e}")))?;

        // Initrd.
        let initrd = match &config.initrd {
            None => None,
            Some(p) => {
                let mut f = File::open(p)
                    .map_err(|e| Error::io(format!("opening initrd {}", p.display()), e))?;
                let size = f
                    .metadata()
                    .map_err(|e| Error::io(format!("initrd {}", p.display()), e))?
                    .len();
                let max = loaded
                    .header
                    .map(|h| u64::from(h.initrd_addr_max))
                    .unwrap_or(0x37ff_ffff);
                let max = if max == 0 { 0x37ff_ffff } else { max };
                let addr = boot::initrd_address(&ranges, size, loaded.kernel_end, max)?;
                mem.read_exact_volatile_from(GuestAddress(addr), &mut f, size as usize)
                    .map_err(|e| Error::Memory(format!("loading initrd {}: {e}", p.display())))?;
                Some((addr, size))
            }
        };

        let exit = Arc::new(ExitState::default());
        let make_irq = |gsi: u32| -> Result<(Arc<dyn Interrupt>, bool)> {
            if irqfd_ok {
                let evt = EventFd::new(EFD_NONBLOCK).map_err(|e| Error::io("eventfd", e))?;
                if vm.register_irqfd(&evt, gsi).is_ok() {
                    return Ok((Arc::new(IrqFd(evt)), true));
                }
            }
            Ok((
                Arc::new(IrqLine {
                    vm: vm.clone(),
                    gsi,
                }),
                false,
            ))
        };

        // Port I/O devices.
        let mut pio = Bus::default();
        let (serial_irq, _) = make_irq(SERIAL_IRQ)?;
        let out: Box<dyn Write + Send> =
            match std::mem::replace(&mut config.serial, SerialOutput::Sink) {
                SerialOutput::Stdout => Box::new(std::io::stdout()),
                SerialOutput::Sink => Box::new(std::io::sink()),
                SerialOutput::Writer(w) => w,
            };
        let serial = Arc::new(Mutex::new(Serial::new(serial_irq, out)));
        pio.insert(u64::from(SERIAL_PORT), 8, serial.clone())
            .map_err(Error::Device)?;
        pio.insert(
            u64::from(I8042_PORT),
            5,
            Arc::new(Mutex::new(I8042::new(exit.clone()))),
        )
        .map_err(Error::Device)?;
        pio.insert(
            u64::from(ACPI_SLEEP_CONTROL_PORT),
            3,
            Arc::new(Mutex::new(AcpiPm::new(exit.clone()))),
        )
        .map_err(Error::Device)?;
        pio.insert(
            u64::from(PVPANIC_PORT),
            1,
            Arc::new(Mutex::new(PvPanic::new(exit.clone()))),
        )
        .map_err(Error::Device)?;

        // virtio devices: disks first, so they are vda, vdb, ... in order.
        let mut models: Vec<Box<dyn VirtioDevice>> = Vec::new();
        for d in &config.disks {
            models.push(Box::new(Block::new(
                d.device.clone(),
                d.read_only,
                &d.serial,
            )));
        }
        if !config.channels.is_empty() {
            let mut ports = Vec::new();
            for c in std::mem::take(&mut config.channels) {
                let stream = match c.endpoint {
                    ChannelEndpoint::Stream(s) => s,
                    ChannelEndpoint::Connect(p) => UnixStream::connect(&p).map_err(|e| {
                        Error::io(
                            format!("channel {}: connecting to {}", c.name, p.display()),
                            e,
                        )
                    })?,
                };
                ports.push(PortConfig {
                    name: c.name,
                    stream,
                });
            }
            models.push(Box::new(Console::new(ports).map_err(Error::Device)?));
        }
        if config.rng {
            models.push(Box::new(Rng));
        }
        if models.len() > (IRQ_MAX - VIRTIO_IRQ_BASE + 1) as usize {
            return Err(Error::Config(format!(
                "{} virtio devices: at most {} fit",
                models.len(),
                IRQ_MAX - VIRTIO_IRQ_BASE + 1
            )));
        }

        let mut mmio = Bus::default();
        let mut transports = Vec::new();
        let mut infos = Vec::new();
        let mut ioevents: Vec<(EventFd, usize, u32)> = Vec::new();
        let mut irqfd_used = false;
        let mut ioeventfd_used = false;
        for (i, model) in models.into_iter().enumerate() {
            let info = MmioDeviceInfo {
                base: virtio_mmio_addr(i),
                len: VIRTIO_MMIO_SIZE,
                gsi: VIRTIO_IRQ_BASE + i as u32,
            };
            let (irq, is_fd) = make_irq(info.gsi)?;
            irqfd_used |= is_fd;
            let t = MmioTransport::new(model, mem.clone(), irq).map_err(Error::Device)?;
            let dtype = t.device_type();
            let nq = t.queue_count();
            let t = Arc::new(Mutex::new(t));
            mmio.insert(info.base, info.len, t.clone())
                .map_err(Error::Device)?;
            if ioeventfd_ok {
                for q in 0..nq {
                    let evt = EventFd::new(EFD_NONBLOCK).map_err(|e| Error::io("eventfd", e))?;
                    let addr = IoEventAddress::Mmio(info.base + REG_QUEUE_NOTIFY);
                    if vm.register_ioevent(&evt, &addr, q as u32).is_ok() {
                        ioevents.push((evt, i, q as u32));
                        ioeventfd_used = true;
                    }
                }
            }
            transports.push(t);
            infos.push((dtype, info));
        }

        // ACPI, e820, boot structures.
        let dev_infos: Vec<MmioDeviceInfo> = infos.iter().map(|(_, i)| *i).collect();
        let rsdp = acpi::write_tables(&mem, config.cpus, &dev_infos)?;
        let e820 = boot::e820_map(&ranges);
        match loaded.mode {
            EntryMode::Linux64 => {
                boot::write_gdt_idt(&mem, &boot::GDT_64)?;
                boot::write_page_tables(&mem)?;
                boot::write_boot_params(
                    &mem,
                    &LinuxBoot {
                        header: loaded.header,
                        cmdline_len: cmdline.len(),
                        initrd,
                        e820: &e820,
                        rsdp: Some(rsdp),
                    },
                )?;
            }
            EntryMode::Pvh32 => {
                boot::write_gdt_idt(&mem, &boot::gdt_pvh())?;
                boot::write_pvh_start_info(&mem, &e820, initrd, Some(rsdp))?;
            }
        }

        // vCPUs.
        let mut vcpu_fds = Vec::new();
        for id in 0..config.cpus {
            let fd = vm
                .create_vcpu(u64::from(id))
                .map_err(|e| Error::kvm(format!("KVM_CREATE_VCPU {id}"), e))?;
            cpu::setup_vcpu(&kvm, &fd, id, config.cpus, loaded.entry, loaded.mode)?;
            vcpu_fds.push((id, fd));
        }

        // Device I/O thread.
        let io_stop = EventFd::new(EFD_NONBLOCK).map_err(|e| Error::io("eventfd", e))?;
        let io_ctx = IoThread {
            stop: io_stop.try_clone().map_err(|e| Error::io("eventfd", e))?,
            ioevents,
            transports: transports.clone(),
            serial: config.serial_input.then(|| serial.clone()),
        };
        let io_thread = std::thread::Builder::new()
            .name("gx-vmm-io".into())
            .spawn(move || io_ctx.run())
            .map_err(|e| Error::io("spawning the I/O thread", e))?;

        let first_run = Arc::new(OnceLock::new());
        let pio = Arc::new(pio);
        let mmio = Arc::new(mmio);
        let mut vcpus = Vec::new();
        for (id, fd) in vcpu_fds {
            let ctx = VcpuThread {
                id,
                fd,
                pio: pio.clone(),
                mmio: mmio.clone(),
                exit: exit.clone(),
                first_run: first_run.clone(),
                _mem: mem.clone(),
            };
            let h = std::thread::Builder::new()
                .name(format!("gx-vmm-vcpu{id}"))
                .spawn(move || ctx.run())
                .map_err(|e| Error::io("spawning a vCPU thread", e))?;
            vcpus.push(h);
        }

        Ok(RunningVm {
            exit,
            vcpus,
            io_thread: Some(io_thread),
            io_stop,
            first_run,
            info: VmInfo {
                entry: loaded.entry,
                entry_mode: loaded.mode,
                virtio_devices: infos,
                ioeventfd: ioeventfd_used,
                irqfd: irqfd_used,
            },
            _vm: vm,
        })
    }
}

struct VcpuThread {
    id: u8,
    fd: VcpuFd,
    pio: Arc<Bus>,
    mmio: Arc<Bus>,
    exit: Arc<ExitState>,
    first_run: Arc<OnceLock<Instant>>,
    // Guest memory must outlive KVM_RUN.
    _mem: GuestMemoryMmap,
}

impl VcpuThread {
    fn run(mut self) {
        while !self.exit.is_set() {
            let _ = self.first_run.set(Instant::now());
            let exit = self.fd.run();
            let r = match exit {
                Ok(VcpuExit::IoOut(port, data)) => {
                    self.pio.write(u64::from(port), data);
                    None
                }
                Ok(VcpuExit::IoIn(port, data)) => {
                    self.pio.read(u64::from(port), data);
                    None
                }
                Ok(VcpuExit::MmioRead(addr, data)) => {
                    self.mmio.read(addr, data);
                    None
                }
                Ok(VcpuExit::MmioWrite(addr, data)) => {
                    self.mmio.write(addr, data);
                    None
                }
                Ok(VcpuExit::Shutdown) => Some(ExitReason::TripleFault),
                Ok(VcpuExit::SystemEvent(t, _)) => Some(match t {
                    kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN => ExitReason::PowerOff,
                    kvm_bindings::KVM_SYSTEM_EVENT_RESET => ExitReason::Reset,
                    kvm_bindings::KVM_SYSTEM_EVENT_CRASH => ExitReason::Crash,
                    other => ExitReason::Error(format!("vCPU {}: system event {other}", self.id)),
                }),
                // With the in-kernel irqchip HLT stays in KVM; seeing it means
                // the guest halted with interrupts off for good.
                Ok(VcpuExit::Hlt) => Some(ExitReason::Error(format!("vCPU {}: halted", self.id))),
                Ok(VcpuExit::Intr) => None,
                Ok(VcpuExit::InternalError) => Some(ExitReason::Error(format!(
                    "vCPU {}: KVM internal error (instruction emulation failed) at rip {:#x}",
                    self.id,
                    self.fd.get_regs().map(|r| r.rip).unwrap_or(0)
                ))),
                Ok(VcpuExit::FailEntry(reason, cpu)) => Some(ExitReason::Error(format!(
                    "vCPU {}: VM entry failed (hardware reason {reason:#x} on cpu {cpu})",
                    self.id
                ))),
                Ok(other) => Some(ExitReason::Error(format!(
                    "vCPU {}: unexpected exit {other:?}",
                    self.id
                ))),
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => None,
                Err(e) => Some(ExitReason::Error(format!("vCPU {}: KVM_RUN: {e}", self.id))),
            };
            if let Some(r) = r {
                self.exit.request(r);
            }
        }
    }
}

struct IoThread {
    stop: EventFd,
    ioevents: Vec<(EventFd, usize, u32)>,
    transports: Vec<Arc<Mutex<MmioTransport>>>,
    serial: Option<Arc<Mutex<Serial>>>,
}

/// Epoll tokens: low values are fixed, then ioeventfds, then host fds.
const TOKEN_STOP: u64 = 0;
const TOKEN_STDIN: u64 = 1;
const TOKEN_IOEVENT_BASE: u64 = 1 << 32;
const TOKEN_HOST_BASE: u64 = 2 << 32;

impl IoThread {
    fn run(self) {
        let Ok(ep) = Epoll::new() else { return };
        let add = |fd: RawFd, events: EventSet, token: u64| {
            ep.ctl(ControlOperation::Add, fd, EpollEvent::new(events, token))
        };
        if add(self.stop.as_raw_fd(), EventSet::IN, TOKEN_STOP).is_err() {
            return;
        }
        let mut stdin_open = false;
        if self.serial.is_some() {
            stdin_open = add(0, EventSet::IN, TOKEN_STDIN).is_ok();
        }
        for (k, (evt, _, _)) in self.ioevents.iter().enumerate() {
            let _ = add(evt.as_raw_fd(), EventSet::IN, TOKEN_IOEVENT_BASE + k as u64);
        }
        // Host fds per transport, as registered now: fd -> (transport, events).
        let mut registered: Vec<(RawFd, usize, EventSet)> = Vec::new();
        let mut events = vec![EpollEvent::default(); 64];
        loop {
            self.sync_host_fds(&ep, &mut registered);
            let n = match ep.wait(-1, &mut events) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            for ev in &events[..n] {
                let token = ev.data();
                if token == TOKEN_STOP {
                    return;
                } else if token == TOKEN_STDIN {
                    let mut buf = [0u8; 64];
                    // SAFETY: reading into a local buffer of the given length.
                    let r = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                    if r <= 0 {
                        if stdin_open {
                            let _ = ep.ctl(ControlOperation::Delete, 0, EpollEvent::default());
                            stdin_open = false;
                        }
                    } else if let Some(s) = &self.serial {
                        // Bytes beyond the FIFO are dropped, as on a real UART.
                        s.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .enqueue_input(&buf[..r as usize]);
                    }
                } else if token >= TOKEN_HOST_BASE {
                    let ti = (token - TOKEN_HOST_BASE) as usize;
                    if let Some(t) = self.transports.get(ti) {
                        t.lock().unwrap_or_else(PoisonError::into_inner).host_io();
                    }
                } else if token >= TOKEN_IOEVENT_BASE {
                    let k = (token - TOKEN_IOEVENT_BASE) as usize;
                    if let Some((evt, ti, q)) = self.ioevents.get(k) {
                        let _ = evt.read();
                        if let Some(t) = self.transports.get(*ti) {
                            t.lock().unwrap_or_else(PoisonError::into_inner).notify(*q);
                        }
                    }
                }
            }
        }
    }

    /// Re-register host fds with the interest each device wants now (flow control).
    fn sync_host_fds(&self, ep: &Epoll, registered: &mut Vec<(RawFd, usize, EventSet)>) {
        let mut wanted: Vec<(RawFd, usize, EventSet)> = Vec::new();
        for (ti, t) in self.transports.iter().enumerate() {
            let fds = t.lock().unwrap_or_else(PoisonError::into_inner).host_fds();
            for (fd, rd, wr) in fds {
                let mut set = EventSet::empty();
                if rd {
                    set |= EventSet::IN;
                }
                if wr {
                    set |= EventSet::OUT;
                }
                wanted.push((fd, ti, set));
            }
        }
        for &(fd, ti, set) in &wanted {
            let token = TOKEN_HOST_BASE + ti as u64;
            match registered.iter().find(|r| r.0 == fd) {
                None => {
                    let _ = ep.ctl(ControlOperation::Add, fd, EpollEvent::new(set, token));
                }
                Some(r) if r.2 != set => {
                    let _ = ep.ctl(ControlOperation::Modify, fd, EpollEvent::new(set, token));
                }
                _ => {}
            }
        }
        for r in registered.iter() {
            if !wanted.iter().any(|w| w.0 == r.0) {
                let _ = ep.ctl(ControlOperation::Delete, r.0, EpollEvent::default());
            }
        }
        *registered = wanted;
    }
}

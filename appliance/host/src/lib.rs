//! gx-appliance: the host side of the guestx appliance.
//!
//! Owns: finding the kernel ([`kernel`]), building and caching the initramfs
//! ([`image`]), launching the VM ([`qemu`], or our own VMM: [`vmm`], which also
//! holds the rule that chooses between them) and the typed client
//! ([`Appliance`]), whose methods are generated from gx-protocol's API table and
//! carry libguestfs names (`appliance.mount_ro("/dev/sda1", "/")`).
//!
//! Must not: trust the agent (frames are size-checked by gx-protocol, every wait
//! is bounded by a timeout), leave a VM running after the [`Appliance`] is gone,
//! or write to a drive marked read-only (a throw-away qcow2 overlay under
//! QEMU, see [`overlay`], and gx-vmm's `cow` take its writes).

pub mod image;
pub mod kernel;
pub mod overlay;
pub mod qemu;
pub mod rescue;
pub mod snapshot;
pub mod timing;
pub mod vmm;

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gx_protocol::{
    CHUNK_SIZE, Call, CallError, HELLO_MAGIC, Hello, Kind, PROTOCOL_VERSION, Progress, ProtoError,
    StreamKind, read_frame, wire, write_frame,
};

pub use gx_protocol::{Partition, StatNs, StatVfs};
pub use timing::Timings;

/// Lines of console shown in launch and disconnect errors.
const CONSOLE_LINES: usize = 30;
/// Frames of no current call tolerated during one call (leftovers of an
/// abandoned exchange are a handful) before the agent counts as broken.
const MAX_STRAY_FRAMES: u32 = 256;

/// Every failure of the appliance, with what and why.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The call ran and failed in the guest: `errno` as the guest's libc has it.
    #[error("{call}: {message}")]
    Call {
        call: &'static str,
        errno: i32,
        message: String,
    },
    #[error("appliance kernel: {0}")]
    Kernel(String),
    #[error("building the appliance: {0}")]
    Build(String),
    /// Nothing on this host can run the appliance as asked (no launcher, a
    /// bad `GX_BACKEND`, a drive path the launcher cannot take); says what to do.
    #[error("{0}")]
    Setup(String),
    #[error("launching the appliance: {reason}\n--- last console lines ---\n{console}")]
    Launch { reason: String, console: String },
    #[error(
        "the appliance went away during {call}: {reason}\n--- last console lines ---\n{console}"
    )]
    Disconnected {
        call: &'static str,
        reason: String,
        console: String,
    },
    #[error("{call}: no answer from the appliance within {secs} s")]
    Timeout { call: &'static str, secs: u64 },
    #[error("{call}: protocol error: {source}")]
    Protocol {
        call: &'static str,
        source: ProtoError,
    },
    /// The host side of a stream failed (reading the upload source, writing the
    /// download destination); the call was cancelled.
    #[error("{call}: local I/O: {source}")]
    Local {
        call: &'static str,
        source: io::Error,
    },
    #[error("the appliance is unusable after an earlier failure; launch a new one")]
    Broken,
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// The guest's errno, when the call failed inside the guest.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Call { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One disk given to the appliance, in order: the first is `/dev/sda`.
#[derive(Debug, Clone)]
pub struct Drive {
    pub path: PathBuf,
    /// `raw` or `qcow2`; `None` means raw. Never probed: a guest could write a
    /// qcow2 header into a raw disk to make us open files it names.
    pub format: Option<String>,
    /// Writes go to a throw-away overlay; the file is never modified.
    pub readonly: bool,
}

impl Drive {
    pub fn new(path: impl Into<PathBuf>, format: Option<&str>, readonly: bool) -> Self {
        Drive {
            path: path.into(),
            format: format.map(str::to_string),
            readonly,
        }
    }
}

/// Which program runs the VM ([`Backend::choose`] picks one for this host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Our VMM (`gx-vmm`): needs hardware KVM.
    Vmm,
    /// QEMU microvm, with KVM when it is hardware KVM, else TCG.
    Qemu,
}

/// How to launch. `Config::default()` plus drives is the usual start.
#[derive(Debug, Clone)]
pub struct Config {
    pub drives: Vec<Drive>,
    pub memory_mib: u32,
    /// Virtual CPUs.
    pub smp: u32,
    /// From process start to the agent's hello; covers a hung or panicking boot.
    pub launch_timeout: Duration,
    /// For each call's next frame (a streamed call resets it per chunk).
    pub call_timeout: Duration,
    /// Echo the serial console to stderr.
    pub verbose: bool,
    /// Extra kernel command line options.
    pub append: Option<String>,
    /// `None`: [`Backend::choose`] (`GX_BACKEND`, else what the host can run).
    pub backend: Option<Backend>,
    /// The agent binary; `None`: `GX_AGENT`, else next to the current executable.
    pub agent: Option<PathBuf>,
    /// Restore a saved snapshot of a booted appliance when one fits, and save
    /// one after a boot (QEMU only; see [`snapshot`]). Default: on, unless
    /// `GX_NO_SNAPSHOT` is set.
    pub snapshot: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            drives: Vec::new(),
            memory_mib: 512,
            smp: 1,
            launch_timeout: Duration::from_secs(120),
            call_timeout: Duration::from_secs(600),
            verbose: std::env::var_os("GX_VERBOSE").is_some(),
            append: None,
            backend: None,
            agent: None,
            snapshot: std::env::var_os("GX_NO_SNAPSHOT").is_none(),
        }
    }
}

/// Called for each progress message of a long call.
pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// A running appliance and its channel. Calls are sequential (`&mut self`).
pub struct Appliance {
    vm: qemu::Vm,
    sock: UnixStream,
    rx: Rx,
    buf: Vec<u8>,
    serial: u32,
    config: Config,
    info: String,
    restored: bool,
    snapshot: Option<PathBuf>,
    broken: bool,
    closed: bool,
    progress: Option<ProgressFn>,
    launch_time: Duration,
    timings: Timings,
    backend: Backend,
    /// The staging disk's file (QEMU only), written at offset 0 before each
    /// `internal_pwrite_staged`.
    staging: Option<std::fs::File>,
    _tmp: tempfile::TempDir,
}

impl std::fmt::Debug for Appliance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appliance")
            .field("vm", &self.vm)
            .field("agent", &self.info)
            .finish()
    }
}

/// The VM as either launcher (QEMU, gx-vmm) runs it: kernel, initramfs,
/// command line, memory, the channel's socket, the drives in order, then the
/// read-only helper image (the agent finds it by its UUID and hides it), then
/// the staging file (QEMU only; see [`STAGING_SIZE`]).
#[derive(Debug, Clone)]
pub struct GuestSpec<'a> {
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    pub append: String,
    pub memory_mib: u32,
    pub smp: u32,
    pub socket: &'a Path,
    pub drives: &'a [Drive],
    pub helpers: Option<&'a Path>,
    pub staging: Option<&'a Path>,
}

/// The size of the staging file: a disk attached last (serial `gxstage`),
/// read-only to the guest, through which large `pwrite`s pass. The host
/// writes the bytes into the file (its page cache, which QEMU reads with
/// `cache=writeback`), then calls `internal_pwrite_staged`, and the agent
/// reads them from the disk with `O_DIRECT`: QEMU copies them into guest
/// memory in one go, instead of the channel's 4 KiB buffers the guest
/// copies each byte out of. The agent binds the disk at the first such
/// call, so a launch that never writes much does not pay for its probe.
/// Each piece of a write is at most this big.
pub const STAGING_SIZE: usize = 16 << 20;

/// One attempt to start the VM: boot it, or restore `snapshot`.
struct Boot<'a> {
    config: &'a Config,
    /// The launcher's binary: QEMU or gx-vmm, found once per launch.
    program: PathBuf,
    files: &'a image::ApplianceFiles,
    append: String,
    backend: Backend,
    start: Instant,
    /// How long finding the appliance's files and the launcher took.
    find: Duration,
}

impl Boot<'_> {
    /// The VM both launchers run, with its channel at `socket` and its
    /// staging disk backed by `staging`.
    fn guest<'s>(&'s self, socket: &'s Path, staging: Option<&'s Path>) -> GuestSpec<'s> {
        GuestSpec {
            kernel: &self.files.kernel,
            initrd: &self.files.initrd,
            append: self.append.clone(),
            memory_mib: self.config.memory_mib,
            smp: self.config.smp.max(1),
            socket,
            drives: &self.config.drives,
            helpers: self.files.helpers.as_deref(),
            staging,
        }
    }

    /// The QEMU VM that boots: no QMP, snapshot stream, RAM file or drive
    /// overlays yet (the caller sets those it needs).
    fn qemu_spec<'s>(
        &'s self,
        qemu_bin: &'s Path,
        socket: &'s Path,
        staging: &'s Path,
    ) -> qemu::VmSpec<'s> {
        qemu::VmSpec {
            qemu: qemu_bin,
            guest: self.guest(socket, Some(staging)),
            ram: None,
            overlays: &[],
            verbose: self.config.verbose,
            qmp: None,
            incoming: None,
        }
    }

    /// `restore`: the snapshot to restore (`boot == false`), or where to save
    /// one right after the hello (`boot == true`; saving is best effort).
    fn run(&self, snap: Option<&snapshot::Snapshot>, boot: bool) -> Result<Appliance> {
        let config = self.config;
        let prog = self.backend.program_name();
        // Mode 0700, removed on drop: the channel and QMP sockets live there.
        let tmp = tempfile::Builder::new().prefix("gx-").tempdir()?;
        let sock_path = tmp.path().join("channel.sock");
        let qmp_path = tmp.path().join("qmp.sock");
        let listener = UnixListener::bind(&sock_path)?;
        listener.set_nonblocking(true)?;
        let restore = snap.filter(|_| !boot);
        // A boot that saves a snapshot keeps its RAM in the file that
        // becomes the snapshot's (see `snapshot`).
        let save = snap
            .filter(|_| boot)
            .and_then(|s| match s.boot_ram(config.memory_mib) {
                Ok(r) => Some((s, r)),
                Err(e) => {
                    if config.verbose {
                        eprintln!("gx-appliance: not saving a snapshot: {e}");
                    }
                    None
                }
            });
        let restore_ram = restore.map(|s| s.ram());
        let stream = match restore.map(|s| s.open_stream()).transpose() {
            Ok(f) => f,
            Err(e) => {
                return Err(Error::Launch {
                    reason: format!("opening the snapshot: {e}"),
                    console: String::new(),
                });
            }
        };
        let mut timings = Timings {
            find: self.find,
            ..Timings::default()
        };
        let spawned = Instant::now();
        // Our own overlays for read-only drives (else QEMU's snapshot=on).
        let overlays: Vec<Option<PathBuf>> = match self.backend {
            Backend::Qemu => config
                .drives
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let o = tmp.path().join(format!("overlay{i}.qcow2"));
                    let fmt = d.format.as_deref().unwrap_or("raw");
                    (d.readonly && overlay::create(&o, &d.path, fmt).is_ok()).then_some(o)
                })
                .collect(),
            Backend::Vmm => Vec::new(),
        };
        let stub = restore.and_then(|_| snapshot::restore_kernel(&self.files.kernel));
        let mut staging = None;
        let mut vm = match self.backend {
            Backend::Qemu => {
                let ram = match (&save, &restore_ram) {
                    (Some((_, r)), _) => Some(qemu::Ram::Save(r)),
                    (None, Some(r)) => Some(qemu::Ram::Restore(r)),
                    (None, None) => None,
                };
                let stage_path = tmp.path().join("stage");
                staging = Some(create_staging(&stage_path)?);
                let mut spec = self.qemu_spec(&self.program, &sock_path, &stage_path);
                spec.qmp = (save.is_some() || restore.is_some()).then_some(qmp_path.as_path());
                spec.incoming = stream.as_ref();
                spec.ram = ram;
                spec.overlays = &overlays;
                if let Some(k) = &stub {
                    spec.guest.kernel = k;
                }
                qemu::Vm::start(&spec)?
            }
            Backend::Vmm => {
                let cmd = vmm::command(&vmm::VmmSpec {
                    vmm: &self.program,
                    guest: self.guest(&sock_path, None),
                })?;
                qemu::Vm::spawn(cmd, &self.program, config.verbose)?
            }
        };
        let started = Instant::now();
        // A restored VM answers in milliseconds; one that does not is broken
        // (and the caller boots instead), so do not wait the whole boot timeout.
        let deadline = match restore {
            Some(_) => started + config.launch_timeout.min(Duration::from_secs(20)),
            None => self.start + config.launch_timeout,
        };
        let fail = |vm: &mut qemu::Vm, reason: String| {
            vm.kill();
            // Give the console pumps a moment to drain what QEMU printed last.
            std::thread::sleep(Duration::from_millis(50));
            Error::Launch {
                reason,
                console: vm.console.tail(CONSOLE_LINES),
            }
        };
        // QEMU and gx-vmm connect to us as soon as they have parsed their options.
        let sock = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(fail(&mut vm, format!("accepting the channel: {e}"))),
            }
            if let Some(st) = vm.exited() {
                return Err(fail(
                    &mut vm,
                    format!("{prog} exited early ({})", exit_text(st)),
                ));
            }
            if Instant::now() > deadline {
                return Err(fail(&mut vm, format!("{prog} never connected the channel")));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        sock.set_nonblocking(false)?;
        let connected = Instant::now();
        timings.spawn = connected - spawned;
        if let Some(s) = restore {
            if let Err(e) = s.restore(&qmp_path, deadline) {
                return Err(fail(&mut vm, format!("restoring the snapshot: {e}")));
            }
        }
        let mut buf = Vec::new();
        let hello = match restore {
            // The restored agent already said hello to whoever saved it.
            Some(_) => None,
            None => Some(wait_hello(
                &sock, &mut buf, &mut vm, deadline, config, &fail,
            )?),
        };
        if hello.is_some() {
            timings.boot = Some(connected.elapsed());
        }
        if let Some((s, ram)) = &save {
            let t = Instant::now();
            let r = s.save(&qmp_path, ram, Duration::from_secs(30));
            if config.verbose {
                match &r {
                    Ok(()) => eprintln!(
                        "gx-appliance: saved snapshot {} in {:?}",
                        s.dir.display(),
                        t.elapsed()
                    ),
                    Err(e) => eprintln!("gx-appliance: not saving a snapshot: {e}"),
                }
            }
            if r.is_ok() {
                // The saved VM's RAM is the snapshot's now: it must not run
                // on. This launch goes on from the snapshot like any other.
                vm.kill();
                timings.save = Some(t.elapsed());
                let restored = self.run(Some(s), false);
                let mut a = match restored {
                    Ok(a) => a,
                    Err(e) => {
                        if config.verbose {
                            eprintln!("gx-appliance: the new snapshot did not restore: {e}");
                        }
                        s.discard();
                        return self.run(None, true);
                    }
                };
                a.restored = false;
                a.timings.boot = timings.boot;
                a.timings.save = timings.save;
                a.timings.spawn += timings.spawn;
                // As a boot describes itself: the agent's hello, then how
                // long its disks took (not "restored from a snapshot").
                let disks = a.info.split("; ").last().unwrap_or("");
                a.info = format!(
                    "{}; {}",
                    hello.as_ref().map(|h| h.agent.as_str()).unwrap_or_default(),
                    disks.trim_end_matches(" (restored from a snapshot)")
                );
                return Ok(a);
            }
        }
        let rx = Rx {
            pre: Vec::new(),
            pos: 0,
            sock: sock.try_clone()?,
        };
        let mut a = Appliance {
            vm,
            sock,
            rx,
            buf,
            serial: 0,
            config: config.clone(),
            info: String::new(),
            restored: restore.is_some(),
            snapshot: restore.map(|s| s.dir.clone()),
            broken: false,
            closed: false,
            progress: None,
            launch_time: Duration::ZERO,
            timings: Timings::default(),
            backend: self.backend,
            staging,
            _tmp: tmp,
        };
        // internal_start within what is left of the launch deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        a.sock
            .set_read_timeout(Some(left.max(Duration::from_millis(100))))?;
        a.sock
            .set_write_timeout(Some(left.max(Duration::from_millis(100))))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(0))
            .unwrap_or(0);
        let drives = i32::try_from(config.drives.len()).unwrap_or(i32::MAX);
        if restore.is_some() {
            // The first answer of a restored VM marks the end of the restore,
            // so that the breakdown tells it from internal_start's own time.
            if let Err(e) = a.ping() {
                a.closed = true;
                return Err(fail(&mut a.vm, format!("restoring the snapshot: {e}")));
            }
            timings.restore = Some(connected.elapsed());
        }
        let t = Instant::now();
        let info = match a.internal_start(now, &host_entropy()?, drives) {
            Ok(i) => i,
            Err(e) => {
                a.closed = true;
                return Err(fail(&mut a.vm, format!("starting the agent: {e}")));
            }
        };
        timings.start = t.elapsed();
        a.timings = timings;
        a.info = match hello {
            Some(h) => format!("{}; {}", h.agent, info.split("; ").last().unwrap_or("")),
            None => format!("{info} (restored from a snapshot)"),
        };
        a.sock.set_read_timeout(Some(config.call_timeout))?;
        a.sock.set_write_timeout(Some(config.call_timeout))?;
        a.launch_time = self.start.elapsed();
        Ok(a)
    }
}

/// A VM process's exit status in words (gx-vmm's statuses are the guest's:
/// see `gx-vmm --help`; QEMU with `-no-reboot` exits 0 on reboot or panic).
fn exit_text(st: std::process::ExitStatus) -> String {
    match st.code() {
        Some(5) => format!("{st}: the guest kernel panicked"),
        Some(3) => format!("{st}: the guest crashed (triple fault)"),
        _ => st.to_string(),
    }
}

/// The staging disk's backing file at `path`: sparse, [`STAGING_SIZE`] bytes.
fn create_staging(path: &Path) -> io::Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    f.set_len(STAGING_SIZE as u64)?;
    Ok(f)
}

/// 32 bytes from the host's RNG for the guest (see `internal_start`).
fn host_entropy() -> io::Result<Vec<u8>> {
    let mut b = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// Waits for the agent's hello, in slices so an early VM exit is noticed.
fn wait_hello(
    sock: &UnixStream,
    buf: &mut Vec<u8>,
    vm: &mut qemu::Vm,
    deadline: Instant,
    config: &Config,
    fail: &dyn Fn(&mut qemu::Vm, String) -> Error,
) -> Result<Hello> {
    let hello = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(
                vm,
                format!(
                    "the agent did not answer within {} s (guest hung or panicked?)",
                    config.launch_timeout.as_secs()
                ),
            ));
        }
        sock.set_read_timeout(Some(left.min(Duration::from_millis(250))))?;
        match read_frame(&mut &*sock, buf) {
            Ok(f) if f.kind == Kind::Hello => match wire::from_slice::<Hello>(f.payload) {
                Ok(h) => break h,
                Err(e) => return Err(fail(vm, format!("bad hello: {e}"))),
            },
            Ok(f) => return Err(fail(vm, format!("expected hello, got {:?}", f.kind))),
            Err(ProtoError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if let Some(st) = vm.exited() {
                    return Err(fail(
                        vm,
                        format!("the VM stopped during boot ({})", exit_text(st)),
                    ));
                }
            }
            Err(e) => return Err(fail(vm, format!("channel: {e}"))),
        }
    };
    if hello.magic != HELLO_MAGIC || hello.version != PROTOCOL_VERSION {
        return Err(fail(
            vm,
            format!(
                "agent speaks protocol {} (magic {:#x}), we speak {PROTOCOL_VERSION}: \
                 rebuild gx-agent with this library",
                hello.version, hello.magic
            ),
        ));
    }
    Ok(hello)
}

/// Where streamed data comes from or goes to.
enum HostStream<'a> {
    None,
    In(&'a mut dyn Read),
    Out(&'a mut dyn Write),
}

impl Appliance {
    /// Builds (or finds in the cache) the appliance, boots it with the drives
    /// (or restores a snapshot of a booted one: see [`snapshot`]), and runs
    /// `internal_start` (clock, entropy, disks).
    pub fn launch(config: Config) -> Result<Appliance> {
        let start = Instant::now();
        for d in &config.drives {
            if let Err(e) = std::fs::metadata(&d.path) {
                return Err(Error::Launch {
                    reason: format!("drive {}: {e}", d.path.display()),
                    console: String::new(),
                });
            }
        }
        let backend = match config.backend {
            Some(b) => b,
            None => Backend::choose()?,
        };
        let files = match std::env::var_os("GX_APPLIANCE_DIR") {
            Some(dir) => image::fixed_appliance(Path::new(&dir))?,
            None => {
                let k = kernel::find_kernel()?;
                let agent = match &config.agent {
                    Some(a) => a.clone(),
                    None => image::find_agent()?,
                };
                image::ensure_appliance(&k, &agent)?
            }
        };
        let mut append = qemu::KERNEL_APPEND.to_string();
        if backend == Backend::Qemu && qemu::accel() == "tcg" {
            append.push(' ');
            append.push_str(&qemu::tcg_append());
        }
        if let Some(a) = &config.append {
            append.push(' ');
            append.push_str(a);
        }
        let b = Boot {
            config: &config,
            program: match backend {
                Backend::Qemu => qemu::find_qemu()?,
                Backend::Vmm => vmm::find_vmm()?,
            },
            files: &files,
            append,
            backend,
            start,
            find: start.elapsed(),
        };
        let snap = match backend {
            Backend::Qemu if config.snapshot => {
                let layout =
                    qemu::layout_command(&b.qemu_spec(&b.program, Path::new("/"), Path::new("/")));
                snapshot::Snapshot::for_layout(&files.state_dir, &layout)
            }
            _ => None,
        };
        if let Some(s) = snap.as_ref().filter(|s| s.exists()) {
            match b.run(Some(s), false) {
                Ok(a) => return Ok(a),
                Err(e) => {
                    // A snapshot of an older QEMU or a damaged file: boot instead.
                    if config.verbose {
                        eprintln!(
                            "gx-appliance: snapshot {} did not restore: {e}",
                            s.dir.display()
                        );
                    }
                    s.discard();
                }
            }
        }
        b.run(snap.as_ref(), true)
    }

    /// The agent's self-description (version, kernel, how it started).
    pub fn agent_info(&self) -> &str {
        &self.info
    }

    /// Whether this appliance was restored from a snapshot rather than booted.
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// The snapshot this appliance was restored from, or saved after booting.
    pub fn snapshot_path(&self) -> Option<&Path> {
        self.snapshot.as_deref()
    }

    /// From `launch()` entry to the agent's hello.
    pub fn launch_time(&self) -> Duration {
        self.launch_time
    }

    /// Where this appliance's time went so far (see [`timing`]).
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// [`Appliance::shutdown`], returning the timings with the shutdown's.
    pub fn finish(mut self) -> (Result<()>, Timings) {
        let r = self.close();
        (r, std::mem::take(&mut self.timings))
    }

    /// Which launcher runs this appliance.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The VM process's id, QEMU's or gx-vmm's (for diagnostics and fault tests).
    pub fn pid(&self) -> u32 {
        self.vm.pid
    }

    /// The last lines of the serial console.
    pub fn console_tail(&self, lines: usize) -> String {
        self.vm.console.tail(lines)
    }

    pub fn drives(&self) -> &[Drive] {
        &self.config.drives
    }

    pub fn set_progress_callback(&mut self, f: Option<ProgressFn>) {
        self.progress = f;
    }

    /// Unmounts, syncs and powers the VM off; waits for QEMU to exit (killing it
    /// after 10 s). Errors from the guest's unmount are returned after the VM
    /// is gone. Dropping an [`Appliance`] does the same, ignoring errors.
    ///
    /// When every drive is read-only there is nothing to keep: the guest's
    /// writes went to the launcher's throw-away overlay (QEMU: [`overlay`] in
    /// the launch's private directory, or `snapshot=on`; gx-vmm `cow`: an
    /// unlinked file) and the helper disk is read-only, so the
    /// VM is ended at once, without the guest's unmount, sync and power-off.
    pub fn shutdown(mut self) -> Result<()> {
        self.close()
    }

    fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let throwaway = self.config.drives.iter().all(|d| d.readonly);
        let r = if self.broken || throwaway {
            Ok(())
        } else {
            // Bounded: a wedged agent must not hold up a drop for the full
            // call timeout.
            let _ = self.sock.set_read_timeout(Some(Duration::from_secs(30)));
            let t = Instant::now();
            let r = self.call_unit(Call::InternalShutdown);
            self.timings.shutdown_call = Some(t.elapsed());
            r
        };
        let t = Instant::now();
        if throwaway {
            self.vm.kill();
        } else {
            self.vm.wait_or_kill(Duration::from_secs(10));
        }
        self.timings.vm_exit = Some(t.elapsed());
        r
    }

    fn call_unit(&mut self, call: Call) -> Result<()> {
        let v = self.call_raw(call, HostStream::None)?;
        self.decode(v, "internal_shutdown")
    }

    fn decode<T: wire::Wire>(&mut self, payload: Vec<u8>, call: &'static str) -> Result<T> {
        gx_protocol::decode_reply(&payload).map_err(|source| {
            self.broken = true;
            Error::Protocol { call, source }
        })
    }

    fn gone(&mut self, call: &'static str, reason: String) -> Error {
        self.broken = true;
        // The VM may still be printing its last words (a panic): wait briefly.
        self.vm.wait_or_kill(Duration::from_millis(500));
        std::thread::sleep(Duration::from_millis(20));
        Error::Disconnected {
            call,
            reason,
            console: self.vm.console.tail(CONSOLE_LINES),
        }
    }

    fn proto_fail(&mut self, call: &'static str, e: ProtoError) -> Error {
        self.broken = true;
        match e {
            ProtoError::Closed => self.gone(call, "channel closed".into()),
            ProtoError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // The agent may be stuck in the call: the channel is out of step,
                // so the VM is of no further use.
                self.vm.kill();
                Error::Timeout {
                    call,
                    secs: self.config.call_timeout.as_secs(),
                }
            }
            ProtoError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                self.gone(call, e.to_string())
            }
            source => {
                self.vm.kill();
                Error::Protocol { call, source }
            }
        }
    }

    fn send(&mut self, kind: Kind, serial: u32, parts: &[&[u8]], call: &'static str) -> Result<()> {
        write_frame(&mut &self.sock, kind, serial, parts).map_err(|e| self.proto_fail(call, e))
    }

    /// Whether the agent sent something we have not read (used between upload
    /// chunks to notice its Cancel without blocking).
    fn pending(&mut self) -> bool {
        self.rx.pending()
    }

    /// Sends one call, streams its data, and returns the Reply payload.
    fn call_raw(&mut self, call: Call, stream: HostStream<'_>) -> Result<Vec<u8>> {
        let name = call.name();
        let t = Instant::now();
        let r = self.call_raw_untimed(call, stream);
        // The launch's and the shutdown's own calls are phases of their own.
        if self.launch_time > Duration::ZERO && name != "internal_shutdown" {
            self.timings.record(name, t.elapsed());
        }
        r
    }

    fn call_raw_untimed(&mut self, call: Call, mut stream: HostStream<'_>) -> Result<Vec<u8>> {
        if self.broken {
            return Err(Error::Broken);
        }
        let name = call.name();
        self.serial = self.serial.wrapping_add(1).max(1);
        let serial = self.serial;
        let payload = call.encode();
        self.send(Kind::Call, serial, &[&payload], name)?;
        let mut local_err: Option<io::Error> = None;
        let mut agent_cancelled = false;

        if let (StreamKind::FileIn, HostStream::In(src)) = (call.stream(), &mut stream) {
            let mut chunk = vec![0u8; CHUNK_SIZE];
            loop {
                if self.pending() {
                    // Only the agent's Cancel (or an early answer) can be here:
                    // stop sending and end our side of the stream.
                    agent_cancelled = true;
                    self.send(Kind::Cancel, serial, &[], name)?;
                    break;
                }
                let n = match read_full(*src, &mut chunk) {
                    Ok(n) => n,
                    Err(e) => {
                        local_err = Some(e);
                        self.send(Kind::Cancel, serial, &[], name)?;
                        break;
                    }
                };
                if n == 0 {
                    self.send(Kind::Chunk, serial, &[], name)?;
                    break;
                }
                self.send(Kind::Chunk, serial, &[&chunk[..n]], name)?;
            }
        }

        // A broken or hostile agent must not keep us here forever: frames that
        // belong to no call are bounded in number, and progress without data
        // in time (each read is already bounded by the call timeout).
        let mut strays = 0u32;
        let mut last_data = Instant::now();
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            let r = read_frame(&mut self.rx, &mut buf);
            let f = match r {
                Ok(f) => f,
                Err(e) => {
                    self.buf = buf;
                    return Err(self.proto_fail(name, e));
                }
            };
            let (kind, fserial) = (f.kind, f.serial);
            if fserial != serial || matches!(kind, Kind::Hello | Kind::Call) {
                // Leftovers of an earlier, abandoned exchange: a few at most.
                self.buf = buf;
                strays += 1;
                if strays > MAX_STRAY_FRAMES {
                    return Err(self.proto_fail(
                        name,
                        ProtoError::Malformed("the agent floods frames that belong to no call"),
                    ));
                }
                continue;
            }
            if kind == Kind::Progress {
                if last_data.elapsed() > self.config.call_timeout {
                    self.buf = buf;
                    return Err(
                        self.proto_fail(name, ProtoError::Io(io::ErrorKind::TimedOut.into()))
                    );
                }
            } else {
                last_data = Instant::now();
            }
            let out = match kind {
                Kind::Chunk => {
                    if let HostStream::Out(dst) = &mut stream {
                        if !f.payload.is_empty() && local_err.is_none() {
                            if let Err(e) = dst.write_all(f.payload) {
                                local_err = Some(e);
                                self.buf = buf;
                                self.send(Kind::Cancel, serial, &[], name)?;
                                continue;
                            }
                        }
                    }
                    None
                }
                Kind::Cancel => {
                    agent_cancelled = true;
                    None
                }
                Kind::Progress => {
                    if let (Some(cb), Ok(p)) = (
                        self.progress.as_mut(),
                        wire::from_slice::<Progress>(f.payload),
                    ) {
                        cb(&p);
                    }
                    None
                }
                Kind::Reply => Some(Ok(f.payload.to_vec())),
                Kind::Error => Some(Err(wire::from_slice::<CallError>(f.payload))),
                Kind::Hello | Kind::Call => None,
            };
            self.buf = buf;
            match out {
                None => continue,
                Some(Ok(v)) => {
                    return match local_err {
                        Some(source) => Err(Error::Local { call: name, source }),
                        None => Ok(v),
                    };
                }
                Some(Err(Ok(ce))) => {
                    // Our own stream failure is the real cause of a cancel.
                    if let Some(source) = local_err {
                        return Err(Error::Local { call: name, source });
                    }
                    let _ = agent_cancelled;
                    return Err(Error::Call {
                        call: name,
                        errno: ce.errno,
                        message: ce.message,
                    });
                }
                Some(Err(Err(source))) => {
                    self.broken = true;
                    return Err(Error::Protocol { call: name, source });
                }
            }
        }
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        // Sync and unmount so writes in the guest's page cache are not lost
        // when the caller forgot shutdown(); the Vm's own drop kills QEMU.
        let _ = self.close();
    }
}

/// The channel's read side, with a small read-ahead so we can look for a
/// waiting frame without blocking and without losing its first bytes.
struct Rx {
    pre: Vec<u8>,
    pos: usize,
    sock: UnixStream,
}

impl Rx {
    fn pending(&mut self) -> bool {
        if self.pos < self.pre.len() {
            return true;
        }
        if self.sock.set_nonblocking(true).is_err() {
            return false;
        }
        let mut b = [0u8; 64];
        let r = self.sock.read(&mut b);
        let _ = self.sock.set_nonblocking(false);
        match r {
            Ok(n) if n > 0 => {
                self.pre.clear();
                self.pre.extend_from_slice(&b[..n]);
                self.pos = 0;
                true
            }
            // EOF also counts: the next read reports it properly.
            Ok(_) => true,
            Err(_) => false,
        }
    }
}

impl Read for Rx {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.pre.len() {
            let n = out.len().min(self.pre.len() - self.pos);
            out[..n].copy_from_slice(&self.pre[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.sock.read(out)
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

mod generated;

impl Appliance {
    /// Whether this appliance has a staging disk ([`STAGING_SIZE`]): QEMU's
    /// do, gx-vmm's do not.
    pub fn has_staging(&self) -> bool {
        self.staging.is_some()
    }

    /// `pwrite` with the bytes passed through the staging disk, in pieces of
    /// at most [`STAGING_SIZE`]; a plain `pwrite` without one. Like `pwrite`
    /// it may write less than asked (a short write of a piece ends it).
    pub fn pwrite_staged(&mut self, path: &str, content: &[u8], offset: i64) -> Result<i32> {
        use std::os::unix::fs::FileExt;
        let Some(file) = self.staging.take() else {
            return self.pwrite(path, content, offset);
        };
        let mut done = 0usize;
        let r = loop {
            if done == content.len() {
                break Ok(());
            }
            let n = (content.len() - done).min(STAGING_SIZE);
            let piece = &content[done..done + n];
            if let Err(source) = file.write_all_at(piece, 0) {
                break Err(Error::Local {
                    call: "internal_pwrite_staged",
                    source,
                });
            }
            let at = i64::try_from(done)
                .ok()
                .and_then(|d| offset.checked_add(d))
                .ok_or_else(|| Error::Call {
                    call: "pwrite",
                    errno: libc::EINVAL,
                    message: "offset out of range".into(),
                });
            let len = i32::try_from(n).unwrap_or(i32::MAX);
            match at.and_then(|at| self.internal_pwrite_staged(path, at, 0, len)) {
                Ok(w) => {
                    let w = usize::try_from(w).unwrap_or(0).min(n);
                    done += w;
                    if w < n {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.staging = Some(file);
        // An error after some pieces were written reports what was written,
        // as a short write does.
        match r {
            Err(e) if done == 0 => Err(e),
            _ => Ok(i32::try_from(done).unwrap_or(i32::MAX)),
        }
    }

    /// `upload` of a guest file with its bytes passed through the staging
    /// disk ([`Appliance::pwrite_staged`], [`STAGING_SIZE`] at a time): the
    /// file is created or truncated (`write` of nothing, as `upload` opens
    /// it), then written piece by piece. Devices, and appliances without a
    /// staging disk, take the plain `upload`.
    pub fn upload_staged(&mut self, src: &mut dyn Read, remote: &str) -> Result<()> {
        if self.staging.is_none() || remote.starts_with("/dev/") {
            return self.upload(src, remote);
        }
        self.write(remote, b"")?;
        let mut buf = vec![0u8; STAGING_SIZE];
        let mut at = 0i64;
        loop {
            let n = read_full(src, &mut buf).map_err(|source| Error::Local {
                call: "upload",
                source,
            })?;
            if n == 0 {
                return Ok(());
            }
            let w = self.pwrite_staged(remote, &buf[..n], at)?;
            if usize::try_from(w).ok() != Some(n) {
                return Err(Error::Call {
                    call: "upload",
                    errno: libc::EIO,
                    message: format!("{remote}: short write ({w} of {n} bytes at {at})"),
                });
            }
            at += i64::from(w);
            if n < buf.len() {
                return Ok(());
            }
        }
    }

    /// Upload a local file (libguestfs `upload` takes a filename).
    pub fn upload_file(&mut self, local: &Path, remote: &str) -> Result<()> {
        let mut f = std::fs::File::open(local)?;
        self.upload(&mut f, remote)
    }

    /// Download into a local file.
    pub fn download_file(&mut self, remote: &str, local: &Path) -> Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(local)?);
        self.download(remote, &mut f)?;
        f.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appliance_is_send() {
        fn send<T: Send>() {}
        send::<Appliance>();
        send::<Error>();
    }
}

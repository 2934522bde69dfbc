//! Launching the appliance under QEMU `microvm` (virtio-mmio devices found via
//! ACPI), with KVM when it is real hardware virtualisation and TCG otherwise.
//!
//! The VM dies with us: QEMU is started through `setpriv --pdeathsig KILL` from
//! a thread that lives exactly as long as the VM (the death signal follows the
//! *thread* that forked), and it is killed when the [`Vm`] is dropped.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Drive, Error, GuestSpec};

/// The kernel command line: quiet, and every option measured to shorten the boot.
/// `initcall_blacklist`: built-in initcalls the appliance never needs that were
/// the slowest under TCG here (initcall_debug, medians of 4 boots, host load ~8
/// on 2 cores): kprobe trace
/// events ~100 ms, TCP cubic (parses the vmlinux BTF) ~80 ms, the KDF108 and
/// blake2s self-tests ~45 ms, the built-in X.509 certificates ~20 ms (modules
/// then load unverified: the kernel does not enforce signatures), IPv6 ~20 ms;
/// then (session 2, loglevel=8 initcall_debug, load < 1) BPF rstat kfuncs
/// ~42 ms, encrypted keys ~20 ms, blktrace ~19 ms, slab sysfs ~12 ms, the
/// graph tracer's tracefs ~8 ms (a cold boot measured ~40 ms faster, within
/// the noise). Not blacklisted though slow: default_bdi_init (writeback),
/// acpi_init, inet_init, chr_dev_init (/dev/null...), ged_driver_init (microvm's
/// ACPI events).
/// `init_on_alloc=0`: Debian zeroes every allocated page by default; without it
/// upload/download through the page cache measured ~10% faster.
pub const KERNEL_APPEND: &str = "console=ttyS0 quiet loglevel=4 mitigations=off nokaslr audit=0 \
8250.nr_uarts=1 random.trust_cpu=on no_timer_check tsc=reliable cryptomgr.notests \
noreplace-smp panic=-1 rdinit=/init init_on_alloc=0 \
initcall_blacklist=init_kprobe_trace,cubictcp_register,crypto_kdf108_init,blake2s_mod_init,\
load_system_certificate_list,init_trace_printk_function_export,inet6_init,\
bpf_rstat_kfunc_init,init_encrypted,init_blk_tracer,slab_sysfs_init,init_graph_tracefs";

/// Last bytes of the serial console (kernel messages, agent log), for errors.
#[derive(Debug, Clone, Default)]
pub struct Console(Arc<Mutex<VecDeque<u8>>>);

const CONSOLE_KEEP: usize = 64 << 10;

impl Console {
    fn push(&self, b: &[u8]) {
        if let Ok(mut q) = self.0.lock() {
            q.extend(b);
            let over = q.len().saturating_sub(CONSOLE_KEEP);
            q.drain(..over);
        }
    }

    /// The last `lines` lines.
    pub fn tail(&self, lines: usize) -> String {
        let text = match self.0.lock() {
            Ok(q) => String::from_utf8_lossy(&q.iter().copied().collect::<Vec<u8>>()).into_owned(),
            Err(_) => String::new(),
        };
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn pump(&self, mut r: impl Read + Send + 'static, verbose: bool) {
        let c = self.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if verbose {
                    eprint!("{}", String::from_utf8_lossy(&buf[..n]));
                }
                c.push(&buf[..n]);
            }
        });
    }
}

/// Which accelerator QEMU gets: `GX_QEMU_ACCEL` (kvm|tcg), else KVM when
/// `/dev/kvm` is usable real hardware virtualisation. On PVM hosts (no VT-x,
/// `kvm_pvm` loaded) KVM cannot boot a stock kernel, so TCG.
pub fn accel() -> &'static str {
    match std::env::var("GX_QEMU_ACCEL").as_deref() {
        Ok("kvm") => return "kvm",
        Ok("tcg") => return "tcg",
        _ => {}
    }
    match crate::vmm::kvm_flavor() {
        crate::vmm::KvmFlavor::Hardware => "kvm",
        _ => "tcg",
    }
}

/// Extra kernel options for TCG. The kernel calibrates the TSC against the PIT,
/// which fails on a busy host (the vCPU thread is descheduled mid-measurement)
/// and then hangs at boot; under TCG the guest TSC runs at the host's rate, so
/// tell it that rate (from the host's BogoMIPS, which Linux derives from the TSC).
pub fn tcg_append() -> String {
    let khz = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("bogomips"))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|b| (b * 500.0) as u64)
    });
    // Not `noapictimer`, though it skips the 100 ms LAPIC calibration (QEMU CPU
    // time to the hello 1.45 -> 1.26 s): with only the microvm PIT left, hrtimers
    // never fire here (even with nohz=off), so `sleep` and RCU grace periods
    // hang and lvm sticks in io_destroy.
    match khz {
        Some(k) if k > 0 => format!("tsc_early_khz={k}"),
        _ => String::new(),
    }
}

/// The fd a restoring QEMU reads the snapshot's migration stream from (no
/// `exec:cat` shell and process per launch).
pub const INCOMING_FD: i32 = 3;

/// Guest RAM in a file, for launch snapshots (see [`crate::snapshot`]): they
/// migrate with QEMU's `x-ignore-shared` capability (set over QMP: QEMU 7.2
/// has no command-line switch for it), so that a snapshot's migration stream
/// holds device state only and its RAM is the file itself.
#[derive(Debug, Clone, Copy)]
pub enum Ram<'a> {
    /// A shared mapping of this file (created): a booting VM whose RAM
    /// becomes the snapshot's once saved.
    Save(&'a Path),
    /// A private (copy-on-write) mapping of a saved snapshot's RAM: the
    /// guest's pages are read from the page cache as it touches them, and
    /// its writes never reach the file.
    Restore(&'a Path),
}

pub struct VmSpec<'a> {
    pub qemu: &'a Path,
    pub guest: GuestSpec<'a>,
    /// RAM in a file (snapshots only); `None`: anonymous memory.
    pub ram: Option<Ram<'a>>,
    /// Per drive, the overlay a read-only drive writes to
    /// ([`crate::overlay`]); a read-only drive without one gets QEMU's
    /// `snapshot=on`.
    pub overlays: &'a [Option<PathBuf>],
    pub verbose: bool,
    /// A QMP socket to create (to save or restore a snapshot).
    pub qmp: Option<&'a Path>,
    /// Restore the snapshot whose migration stream this is instead of
    /// booting: QEMU gets it as fd [`INCOMING_FD`] and waits (`-incoming
    /// defer`) for `migrate-incoming` over QMP (see
    /// [`crate::snapshot::Snapshot::restore`]).
    pub incoming: Option<&'a std::fs::File>,
}

/// A running QEMU process.
pub struct Vm {
    child: Option<Child>,
    /// Dropping this ends the thread that forked QEMU (arming its death signal
    /// only if QEMU is somehow still alive).
    _keepalive: mpsc::Sender<()>,
    pub console: Console,
    pub pid: u32,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").field("pid", &self.pid).finish()
    }
}

/// `p` as a value in a QEMU option list: commas doubled for its parser.
fn opt_path(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

fn drive_arg(i: usize, d: &Drive, overlay: Option<&Path>) -> String {
    if let Some(o) = overlay {
        // A read-only drive through our own throw-away overlay (see
        // `overlay`): the image is its backing file, opened read-only.
        return format!(
            "file={},format=qcow2,if=none,id=hd{i},cache=unsafe,aio=threads",
            opt_path(o)
        );
    }
    let path = opt_path(&d.path);
    let format = d.format.as_deref().unwrap_or("raw");
    // snapshot=on: writes go to a temporary overlay QEMU discards, so read-only
    // drives stay byte-identical even when the guest replays a journal.
    let ro = if d.readonly { ",snapshot=on" } else { "" };
    format!("file={path},format={format},if=none,id=hd{i},cache=writeback,aio=threads{ro}")
}

/// A command for `program` that the kernel kills when the thread that forks
/// it ends (`setpriv --pdeathsig KILL`, when util-linux has it).
pub fn dies_with_parent(program: &Path) -> Command {
    if Path::new("/usr/bin/setpriv").exists() {
        let mut c = Command::new("/usr/bin/setpriv");
        c.args(["--pdeathsig", "KILL", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn command(spec: &VmSpec<'_>) -> Command {
    let accel = accel();
    let mut c = dies_with_parent(spec.qemu);
    match spec.ram {
        None => {
            c.args(["-M", &format!("microvm,accel={accel},acpi=on")]);
        }
        Some(ram) => {
            let (path, share) = match ram {
                Ram::Save(p) => (p, "on"),
                Ram::Restore(p) => (p, "off"),
            };
            let path = opt_path(path);
            c.args([
                "-object",
                &format!(
                    "memory-backend-file,id=gxram,size={}M,mem-path={path},share={share}",
                    spec.guest.memory_mib
                ),
            ]);
            c.args([
                "-M",
                &format!("microvm,accel={accel},acpi=on,memory-backend=gxram"),
            ]);
        }
    }
    // Under TCG, hide ERMS/FSRM: with them glibc and the kernel copy with
    // `rep movsb`, which TCG emulates slowly (measured here, noisy host: upload
    // 21-32 -> 44-51 MB/s, download 39-96 -> 77-215 MB/s).
    let cpu = std::env::var("GX_QEMU_CPU").unwrap_or_else(|_| {
        if accel == "kvm" {
            "host"
        } else {
            "max,-erms,-fsrm"
        }
        .into()
    });
    c.args(["-cpu", &cpu]);
    c.args([
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ]);
    c.args([
        "-m",
        &spec.guest.memory_mib.to_string(),
        "-smp",
        &spec.guest.smp.to_string(),
    ]);
    c.arg("-kernel").arg(spec.guest.kernel);
    c.arg("-initrd").arg(spec.guest.initrd);
    c.args(["-append", &spec.guest.append]);
    c.args(["-serial", "stdio"]);
    c.args(["-device", "virtio-serial-device"]);
    let sock = opt_path(spec.guest.socket);
    c.args(["-chardev", &format!("socket,id=gxch,path={sock}")]);
    c.args([
        "-device",
        &format!(
            "virtserialport,chardev=gxch,name={}",
            gx_protocol::CHANNEL_NAME
        ),
    ]);
    c.args(["-object", "rng-random,filename=/dev/urandom,id=rng0"]);
    c.args(["-device", "virtio-rng-device,rng=rng0"]);
    for (i, d) in spec.guest.drives.iter().enumerate() {
        let overlay = spec.overlays.get(i).and_then(Option::as_deref);
        c.args(["-drive", &drive_arg(i, d, overlay)]);
        c.args(["-device", &format!("virtio-blk-device,drive=hd{i}")]);
    }
    if let Some(h) = spec.guest.helpers {
        // readonly=on, not snapshot=on: no temporary overlay file to create, and
        // any number of VMs share the image.
        let path = opt_path(h);
        c.args([
            "-drive",
            &format!("file={path},format=raw,if=none,id=gxhelpers,readonly=on,cache=writeback"),
        ]);
        c.args(["-device", "virtio-blk-device,drive=gxhelpers"]);
    }
    if let Some(st) = spec.guest.staging {
        // Last, after the helper disk: read-only to the guest, which finds it
        // by its serial (see `crate::STAGING_SIZE`).
        let path = opt_path(st);
        c.args([
            "-drive",
            &format!(
                "file={path},format=raw,if=none,id=gxstage,readonly=on,cache=writeback,aio=threads"
            ),
        ]);
        c.args(["-device", "virtio-blk-device,drive=gxstage,serial=gxstage"]);
    }
    if let Some(q) = spec.qmp {
        let q = opt_path(q);
        c.args(["-qmp", &format!("unix:{q},server=on,wait=off")]);
    }
    if let Some(f) = spec.incoming {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        c.args(["-incoming", "defer"]);
        let fd = f.as_raw_fd();
        // SAFETY: runs in the child between fork and exec, and only makes
        // async-signal-safe calls (dup2, fcntl) on an fd we keep open until
        // the child has started.
        #[allow(unsafe_code)]
        unsafe {
            c.pre_exec(move || {
                if fd == INCOMING_FD {
                    // dup2 onto itself keeps close-on-exec: clear it.
                    if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, INCOMING_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The command for `spec` with everything that does not change what the guest
/// sees replaced by placeholders (socket and drive paths, drive formats and
/// read-only flags: read-only drives are writable overlays to the guest, the
/// RAM file and its sharing), and no QMP or `-incoming`: two VMs with the same
/// layout command can share a snapshot (see [`crate::snapshot`]).
pub fn layout_command(spec: &VmSpec<'_>) -> Command {
    let drives: Vec<Drive> = spec
        .guest
        .drives
        .iter()
        .map(|_| Drive::new("/gx-drive", None, false))
        .collect();
    command(&VmSpec {
        qemu: spec.qemu,
        guest: GuestSpec {
            socket: Path::new("/gx-channel"),
            drives: &drives,
            staging: spec.guest.staging.map(|_| Path::new("/gx-stage")),
            ..spec.guest.clone()
        },
        ram: Some(Ram::Save(Path::new("/gx-ram"))),
        overlays: &[],
        verbose: false,
        qmp: None,
        incoming: None,
    })
}

impl Vm {
    pub fn start(spec: &VmSpec<'_>) -> Result<Vm, Error> {
        Vm::spawn(command(spec), spec.qemu, spec.verbose)
    }

    /// Runs a VM program (QEMU, gx-vmm) whose stdout/stderr are the console,
    /// from a thread that lives as long as the [`Vm`] (see the module doc).
    pub fn spawn(mut cmd: Command, program: &Path, verbose: bool) -> Result<Vm, Error> {
        let program = program.to_path_buf();
        let (tx_child, rx_child) = mpsc::channel();
        let (keepalive, wait_for_drop) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let r = cmd.spawn();
            let ok = r.is_ok();
            let _ = tx_child.send(r);
            if ok {
                // Returns when the Vm (the only sender) is dropped.
                let _ = wait_for_drop.recv();
            }
        });
        let mut child = rx_child
            .recv()
            .map_err(|_| Error::Launch {
                reason: "the launcher thread died".into(),
                console: String::new(),
            })?
            .map_err(|e| Error::Launch {
                reason: format!("cannot run {}: {e}", program.display()),
                console: String::new(),
            })?;
        let console = Console::default();
        if let Some(o) = child.stdout.take() {
            console.pump(o, verbose);
        }
        if let Some(e) = child.stderr.take() {
            console.pump(e, verbose);
        }
        let pid = child.id();
        Ok(Vm {
            child: Some(child),
            _keepalive: keepalive,
            console,
            pid,
        })
    }

    /// `Some(status)` once QEMU has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `t` for QEMU to exit by itself, then kills it.
    pub fn wait_or_kill(&mut self, t: Duration) -> Option<std::process::ExitStatus> {
        // Already killed and reaped: nothing to wait for.
        self.child.as_ref()?;
        let deadline = std::time::Instant::now() + t;
        while std::time::Instant::now() < deadline {
            if let Some(s) = self.exited() {
                self.child = None;
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
        None
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GX_QEMU`, else qemu-system-x86_64 on PATH.
pub fn find_qemu() -> Result<PathBuf, Error> {
    if let Some(q) = std::env::var_os("GX_QEMU") {
        return Ok(PathBuf::from(q));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Launch {
            reason: "qemu-system-x86_64 not found: install it (Debian: `apt-get install \
                     --no-install-recommends qemu-system-x86`, or run scripts/setup) or set GX_QEMU"
                .into(),
            console: String::new(),
        })
}

//! `gx-vmm`: boot a kernel on the guestx VMM with disks, named channels and
//! the serial console on stdio. The exit status is the guest's: 0 power-off,
//! 2 reboot, 3 triple fault or KVM-reported crash, 4 stopped by the host,
//! 5 kernel panic (reported through pvpanic, which a kernel does before its
//! `panic=N` reboot; without the pvpanic driver a panic shows as 2), 1 a VMM
//! error. `--help` lists the same ([`gx_vmm::devices::EXIT_STATUS_HELP`]).
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use gx_vmm::{
    ChannelConfig, ChannelEndpoint, DiskConfig, DiskMode, ExitReason, NotifyMode, PvmPolicy,
    SerialOutput, VmConfig,
};

#[derive(Parser, Debug)]
#[command(
    name = "gx-vmm",
    about = "Run a Linux kernel on guestx's KVM VMM",
    after_help = gx_vmm::devices::EXIT_STATUS_HELP
)]
struct Cli {
    /// Kernel: an uncompressed ELF vmlinux (PVH entry used when present) or a bzImage.
    #[arg(long)]
    kernel: PathBuf,
    /// Initramfs to load.
    #[arg(long)]
    initrd: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, default_value = "console=ttyS0 reboot=k panic=1")]
    cmdline: String,
    /// A disk: PATH[,ro|,cow][,cow-limit=SIZE][,format=raw|qcow2][,serial=ID]. `ro`
    /// shows the guest a read-only disk; `cow` lets it write to an overlay in a sparse
    /// temporary file ($TMPDIR, else /var/tmp), leaving the image untouched, up to
    /// cow-limit (K/M/G suffixes; default 8G), past which writes fail. Repeat for more
    /// disks (vda, vdb, ... in order).
    #[arg(long = "disk", value_name = "SPEC")]
    disks: Vec<String>,
    /// A named virtio-serial port joined to a listening Unix socket: NAME=SOCKET.
    #[arg(long = "channel", value_name = "NAME=SOCKET")]
    channels: Vec<String>,
    /// Guest memory, in MiB or with a K/M/G suffix.
    #[arg(long, default_value = "512M")]
    memory: String,
    /// Number of vCPUs.
    #[arg(long, default_value_t = 1)]
    cpus: u8,
    /// Leave out the virtio-rng device.
    #[arg(long)]
    no_rng: bool,
    /// Run even when /dev/kvm is PVM (stock kernels will not boot at speed, if at all).
    #[arg(long)]
    force_pvm: bool,
    /// Handle every virtqueue notification as an MMIO exit (no ioeventfd/irqfd).
    #[arg(long)]
    no_eventfds: bool,
    /// Print, on stderr, the time from process start to the first KVM_RUN.
    #[arg(long)]
    report_startup: bool,
    /// Print what was set up (entry point, devices, eventfds) on stderr.
    #[arg(short, long)]
    verbose: bool,
}

fn parse_memory(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'G' | 'g')) => (&s[..i], 1024),
        Some((i, 'M' | 'm')) => (&s[..i], 1),
        Some((i, 'K' | 'k')) => (&s[..i], 0),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("--memory {s:?}: not a size"))?;
    if mult == 0 {
        return Ok(n / 1024);
    }
    n.checked_mul(mult)
        .with_context(|| format!("--memory {s:?}: too large"))
}

/// A size in bytes, with an optional K/M/G suffix (powers of 1024).
fn parse_bytes(s: &str) -> Result<u64> {
    let (num, shift) = match s.char_indices().last() {
        Some((i, 'G' | 'g')) => (&s[..i], 30),
        Some((i, 'M' | 'm')) => (&s[..i], 20),
        Some((i, 'K' | 'k')) => (&s[..i], 10),
        _ => (s, 0),
    };
    let n: u64 = num.parse().with_context(|| format!("{s:?}: not a size"))?;
    n.checked_mul(1 << shift)
        .with_context(|| format!("{s:?}: too large"))
}

fn parse_disk(spec: &str, index: usize) -> Result<DiskConfig> {
    let mut parts = spec.split(',');
    let path = PathBuf::from(parts.next().unwrap_or_default());
    if path.as_os_str().is_empty() {
        bail!("--disk {spec:?}: no path");
    }
    let mut mode = DiskMode::ReadWrite;
    let mut format = None;
    let mut serial = format!("gx-disk-{index}");
    let mut cow_limit = None;
    for p in parts {
        match p.split_once('=') {
            None if p == "ro" => mode = DiskMode::ReadOnly,
            None if p == "cow" => {
                mode = DiskMode::CopyOnWrite {
                    limit: gx_disk::overlay::DEFAULT_LIMIT,
                }
            }
            Some(("format", f)) => {
                format = Some(f.parse().with_context(|| format!("--disk {spec:?}"))?)
            }
            Some(("serial", s)) => serial = s.to_string(),
            Some(("cow-limit", l)) => {
                cow_limit = Some(parse_bytes(l).with_context(|| format!("--disk {spec:?}"))?)
            }
            _ => bail!(
                "--disk {spec:?}: unknown option {p:?} (ro, cow, cow-limit=, format=, serial=)"
            ),
        }
    }
    if let Some(l) = cow_limit {
        let DiskMode::CopyOnWrite { limit } = &mut mode else {
            bail!("--disk {spec:?}: cow-limit= needs cow");
        };
        *limit = l;
    }
    DiskConfig::open(&path, format, mode, serial).with_context(|| format!("--disk {spec:?}"))
}

fn config_from(cli: Cli) -> Result<VmConfig> {
    let mut cfg = VmConfig::new(cli.kernel);
    cfg.initrd = cli.initrd;
    cfg.cmdline = cli.cmdline;
    cfg.memory_mib = parse_memory(&cli.memory)?;
    cfg.cpus = cli.cpus;
    cfg.rng = !cli.no_rng;
    cfg.serial = SerialOutput::Stdout;
    cfg.serial_input = true;
    cfg.pvm = if cli.force_pvm {
        PvmPolicy::Allow
    } else {
        PvmPolicy::Refuse
    };
    cfg.notify = if cli.no_eventfds {
        NotifyMode::Exits
    } else {
        NotifyMode::Auto
    };
    for (i, d) in cli.disks.iter().enumerate() {
        cfg.disks.push(parse_disk(d, i)?);
    }
    for c in &cli.channels {
        let (name, sock) = c
            .split_once('=')
            .with_context(|| format!("--channel {c:?}: expected NAME=SOCKET"))?;
        cfg.channels.push(ChannelConfig {
            name: name.to_string(),
            endpoint: ChannelEndpoint::Connect(PathBuf::from(sock)),
        });
    }
    Ok(cfg)
}

fn main() {
    let started = Instant::now();
    let cli = Cli::parse();
    let report = cli.report_startup;
    let verbose = cli.verbose;
    let mut crash_loaded = None;
    let result = (|| -> Result<ExitReason> {
        let cfg = config_from(cli)?;
        let vm = gx_vmm::start(cfg)?;
        crash_loaded = Some(vm.crash_loaded_flag());
        if verbose {
            let i = vm.info();
            eprintln!(
                "gx-vmm: entry {:#x} ({:?}), ioeventfd={} irqfd={}",
                i.entry, i.entry_mode, i.ioeventfd, i.irqfd
            );
            for (t, d) in &i.virtio_devices {
                eprintln!("gx-vmm: virtio type {t} at {:#x} gsi {}", d.base, d.gsi);
            }
        }
        let reason = if report {
            // The first KVM_RUN happens on the vCPU thread; wait for it briefly.
            let mut waited = 0;
            while vm.first_run().is_none() && waited < 5000 {
                std::thread::sleep(std::time::Duration::from_micros(100));
                waited += 1;
            }
            if let Some(t) = vm.first_run() {
                // Also as CLOCK_MONOTONIC, so a parent can measure from before exec.
                let back = Instant::now().duration_since(t).as_nanos();
                let abs = gx_vmm::monotonic_ns().saturating_sub(back);
                eprintln!(
                    "gx-vmm: first KVM_RUN {} us after main() (monotonic {abs} ns)",
                    t.duration_since(started).as_micros()
                );
            }
            vm.wait()
        } else {
            vm.wait()
        };
        Ok(reason)
    })();
    match result {
        Ok(reason) => {
            if crash_loaded.is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed)) {
                eprintln!("gx-vmm: the guest reported a loaded crash kernel (pvpanic)");
            }
            match &reason {
                ExitReason::Error(e) => eprintln!("gx-vmm: {e}"),
                ExitReason::Panic => eprintln!("gx-vmm: the guest kernel panicked (pvpanic)"),
                _ => {}
            }
            std::process::exit(reason.exit_code());
        }
        Err(e) => {
            eprintln!("gx-vmm: {e:#}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("512").expect("n"), 512);
        assert_eq!(parse_memory("512M").expect("n"), 512);
        assert_eq!(parse_memory("2G").expect("n"), 2048);
        assert_eq!(parse_memory("65536k").expect("n"), 64);
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("99999999999999999G").is_err());
    }

    #[test]
    fn help_lists_the_exit_statuses() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit status"), "{help}");
        for r in [ExitReason::PowerOff, ExitReason::Panic, ExitReason::Stopped] {
            assert!(help.contains(&format!("  {}  ", r.exit_code())), "{r:?}");
        }
        assert!(help.contains("pvpanic"));
    }

    #[test]
    fn disk_specs() {
        let d = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(d.path(), vec![0u8; 4096]).expect("w");
        let p = d.path().display().to_string();
        let ro = parse_disk(&format!("{p},ro,format=raw,serial=abc"), 0).expect("ro");
        assert!(ro.read_only);
        assert_eq!(ro.serial, "abc");
        let cow = parse_disk(&format!("{p},cow,format=raw"), 1).expect("cow");
        assert!(!cow.read_only);
        cow.device
            .write_at(&[1, 2, 3], 0)
            .expect("overlay takes writes");
        assert_eq!(
            std::fs::read(d.path()).expect("r")[..3],
            [0, 0, 0],
            "image untouched"
        );
        std::fs::write(d.path(), vec![0u8; 3 * 4096]).expect("w");
        let small = parse_disk(&format!("{p},cow,cow-limit=8K"), 2).expect("cow-limit");
        small
            .device
            .write_at(&[7; 8192], 0)
            .expect("within the limit");
        small
            .device
            .write_at(&[7], 8192 - 1)
            .expect("rewriting a written block costs nothing");
        let e = small
            .device
            .write_at(&[7], 8192)
            .expect_err("past the limit");
        assert!(e.to_string().contains("overlay is full"), "{e}");
        assert_eq!(std::fs::read(d.path()).expect("r"), vec![0u8; 3 * 4096]);
        assert!(parse_disk(&format!("{p},ro,cow-limit=1M"), 0).is_err());
        assert!(parse_disk(&format!("{p},cow,cow-limit=x"), 0).is_err());
        assert!(parse_disk(&format!("{p},bogus"), 0).is_err());
        assert!(parse_disk(&format!("{p},format=vmdk"), 0).is_err());
        assert!(parse_disk("", 0).is_err());
    }
}

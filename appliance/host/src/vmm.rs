//! Launching the appliance on our own VMM (the `gx-vmm` binary of crates/vmm),
//! and choosing between it and QEMU.
//!
//! The VMM runs as a child process, like QEMU: a crash in it cannot take the
//! tool down, the console is its stdout, and the same death-signal and
//! kill-on-drop rules keep it from outliving us ([`crate::qemu::Vm`]). It gets
//! the same kernel (the cached ELF vmlinux, booted through its PVH entry),
//! initramfs, command line and devices as QEMU: one virtio-blk per drive
//! (read-only drives through its copy-on-write overlay, a sparse temporary file, so the image
//! stays byte-identical even when the guest replays a journal), the
//! virtio-console port `org.guestx.channel.0` on the socket we listen on, and
//! virtio-rng.
//!
//! Choice ([`Backend::choose`]), as DESIGN.md says: `GX_BACKEND` when set;
//! else our VMM when `/dev/kvm` is hardware KVM (not PVM, which cannot run a
//! stock kernel) and `gx-vmm` is installed; else QEMU (KVM when it works, else
//! TCG); else an error naming what is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Backend, Drive, Error, GuestSpec};

/// What `/dev/kvm` is on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvmFlavor {
    /// Hardware virtualisation (VT-x/AMD-V): our VMM boots Linux at speed.
    Hardware,
    /// `kvm_pvm` (pagetable-based KVM without VT-x): only PVM-enlightened
    /// kernels run; a stock kernel dies during boot.
    Pvm,
    /// No usable `/dev/kvm` (missing, or no permission).
    Missing,
}

/// Reads `/dev/kvm` and `/sys/module/kvm_pvm`.
pub fn kvm_flavor() -> KvmFlavor {
    let usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !usable {
        KvmFlavor::Missing
    } else if Path::new("/sys/module/kvm_pvm").exists() {
        KvmFlavor::Pvm
    } else {
        KvmFlavor::Hardware
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Vmm => "vmm",
            Backend::Qemu => "qemu",
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Backend, Error> {
        match s {
            "vmm" | "gx-vmm" => Ok(Backend::Vmm),
            "qemu" => Ok(Backend::Qemu),
            other => Err(Error::Setup(format!(
                "unknown backend '{other}' (expecting vmm or qemu)"
            ))),
        }
    }
}

impl Backend {
    /// The launcher to use: `GX_BACKEND` (vmm|qemu) when set, else detected
    /// from the host (see the module doc).
    pub fn choose() -> Result<Backend, Error> {
        match std::env::var("GX_BACKEND") {
            Ok(v) if !v.is_empty() => v.parse().map_err(|e| match e {
                Error::Setup(m) => Error::Setup(format!("GX_BACKEND: {m}")),
                e => e,
            }),
            _ => Backend::detect(
                kvm_flavor(),
                find_vmm().is_ok(),
                crate::qemu::find_qemu().is_ok(),
            ),
        }
    }

    /// The rule, separated from the probing so it can be tested.
    pub fn detect(kvm: KvmFlavor, have_vmm: bool, have_qemu: bool) -> Result<Backend, Error> {
        if kvm == KvmFlavor::Hardware && have_vmm {
            return Ok(Backend::Vmm);
        }
        if have_qemu {
            return Ok(Backend::Qemu);
        }
        let kvm_says = match kvm {
            KvmFlavor::Hardware => {
                "/dev/kvm is hardware KVM but gx-vmm was not found \
                                    (build it: `cargo build -p gx-vmm`, or set GX_VMM)"
            }
            KvmFlavor::Pvm => {
                "/dev/kvm is PVM (kvm_pvm), which cannot run the appliance's \
                               stock kernel on our VMM"
            }
            KvmFlavor::Missing => "/dev/kvm is missing or not accessible, so our VMM cannot run",
        };
        Err(Error::Setup(format!(
            "no way to run the appliance: {kvm_says}, and qemu-system-x86_64 was not found \
             (Debian: `apt-get install --no-install-recommends qemu-system-x86`, or run \
             scripts/setup; or set GX_QEMU)"
        )))
    }

    /// How errors name the program.
    pub fn program_name(self) -> &'static str {
        match self {
            Backend::Vmm => "gx-vmm",
            Backend::Qemu => "QEMU",
        }
    }
}

/// `GX_VMM`, else `gx-vmm` next to the current executable (or one directory
/// up: test binaries live in target/*/deps), else on `PATH`.
pub fn find_vmm() -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os("GX_VMM") {
        return Ok(PathBuf::from(p));
    }
    let mut dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    for _ in 0..2 {
        if let Some(d) = dir {
            let cand = d.join("gx-vmm");
            if cand.is_file() {
                return Ok(cand);
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("gx-vmm"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Setup(
                "gx-vmm not found next to this program or on PATH: build it \
                     (`cargo build -p gx-vmm`) or set GX_VMM"
                    .into(),
            )
        })
}

/// What the VMM is asked to run.
pub struct VmmSpec<'a> {
    pub vmm: &'a Path,
    pub guest: GuestSpec<'a>,
}

/// gx-vmm's `--disk` value for one drive. Its option syntax separates fields
/// with commas and has no escape, so a path with a comma is refused here
/// rather than misparsed there.
pub fn disk_arg(d: &Drive) -> Result<String, Error> {
    let path = d.path.to_str().ok_or_else(|| {
        Error::Setup(format!("drive {}: the path is not UTF-8", d.path.display()))
    })?;
    if path.contains(',') {
        return Err(Error::Setup(format!(
            "drive {path}: gx-vmm cannot take a path containing ',' (use the qemu backend \
                 or rename the file)"
        )));
    }
    let format = d.format.as_deref().unwrap_or("raw");
    // cow: the guest may write (journal replay on mount), into a temporary
    // overlay file only.
    let mode = if d.readonly { ",cow" } else { "" };
    Ok(format!("{path}{mode},format={format}"))
}

pub fn command(spec: &VmmSpec<'_>) -> Result<Command, Error> {
    let mut c = crate::qemu::dies_with_parent(spec.vmm);
    c.arg("--kernel").arg(spec.guest.kernel);
    c.arg("--initrd").arg(spec.guest.initrd);
    c.args(["--cmdline", &spec.guest.append]);
    c.args(["--memory", &format!("{}M", spec.guest.memory_mib)]);
    c.args(["--cpus", &spec.guest.smp.min(255).to_string()]);
    let sock = spec.guest.socket.to_str().ok_or_else(|| {
        Error::Setup(format!(
            "socket path {} is not UTF-8",
            spec.guest.socket.display()
        ))
    })?;
    c.args([
        "--channel",
        &format!("{}={sock}", gx_protocol::CHANNEL_NAME),
    ]);
    for d in spec.guest.drives {
        c.args(["--disk", &disk_arg(d)?]);
    }
    if let Some(h) = spec.guest.helpers {
        c.args(["--disk", &disk_arg(&Drive::new(h, Some("raw"), true))?]);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_follows_the_design_rule() {
        use KvmFlavor::*;
        assert_eq!(
            Backend::detect(Hardware, true, true).ok(),
            Some(Backend::Vmm)
        );
        assert_eq!(
            Backend::detect(Hardware, true, false).ok(),
            Some(Backend::Vmm)
        );
        // PVM cannot boot a stock kernel on our VMM: QEMU (TCG) instead.
        assert_eq!(Backend::detect(Pvm, true, true).ok(), Some(Backend::Qemu));
        assert_eq!(
            Backend::detect(Missing, true, true).ok(),
            Some(Backend::Qemu)
        );
        assert_eq!(
            Backend::detect(Hardware, false, true).ok(),
            Some(Backend::Qemu)
        );
        let e = Backend::detect(Pvm, true, false)
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("PVM") && e.contains("qemu-system-x86_64"), "{e}");
        let e = Backend::detect(Missing, false, false)
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("/dev/kvm is missing"));
    }

    #[test]
    fn backend_names_parse() {
        assert_eq!("vmm".parse::<Backend>().ok(), Some(Backend::Vmm));
        assert_eq!("qemu".parse::<Backend>().ok(), Some(Backend::Qemu));
        assert!("kvmtool".parse::<Backend>().is_err());
    }

    #[test]
    fn disk_args_use_the_cow_overlay_for_read_only_drives() {
        let ro = Drive::new("/x/disk.img", None, true);
        assert_eq!(
            disk_arg(&ro).ok().as_deref(),
            Some("/x/disk.img,cow,format=raw")
        );
        let rw = Drive::new("/x/d.qcow2", Some("qcow2"), false);
        assert_eq!(
            disk_arg(&rw).ok().as_deref(),
            Some("/x/d.qcow2,format=qcow2")
        );
        assert!(disk_arg(&Drive::new("/x/a,b.img", None, true)).is_err());
    }
}

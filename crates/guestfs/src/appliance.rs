//! The appliance engine: the Handle's calls answered by the agent in the
//! appliance VM ([`gx_appliance`]), for what the direct engine cannot do
//! (filesystems it does not parse, journals on external devices, every write).
//!
//! This module owns the translation between the two sides: drives become
//! appliance drives (read-only ones behind the launcher's copy-on-write
//! overlay, so the image stays byte-identical), and appliance errors become
//! [`Error`]s with a matching [`ErrorKind`] (from the guest's errno). The
//! calls themselves are the generated client's (`gx_appliance::Appliance`),
//! dispatched by the Handle's generated methods.
//!
//! It must not: decide which engine answers (the Handle does).

use gx_appliance::{Appliance, Backend, Config};

use crate::{Drive, Error, ErrorKind, Format, Result};

pub(crate) struct ApplianceEngine {
    app: Appliance,
}

/// How the Handle wants the appliance launched.
pub(crate) struct LaunchOptions {
    pub backend: Option<Backend>,
    pub verbose: bool,
    pub memsize: i32,
    pub smp: i32,
    pub append: Option<String>,
}

impl ApplianceEngine {
    /// Boots the appliance with the Handle's drives, in order.
    pub(crate) fn launch(drives: &[Drive], opts: &LaunchOptions) -> Result<Self> {
        let mut ad = Vec::with_capacity(drives.len());
        for d in drives {
            // The appliance never probes a format (a guest could forge a
            // qcow2 header in a raw disk); an autodetecting drive gets the
            // format detected here, on the host, as the direct engine does.
            let format = match d.options.format {
                Some(f) => f,
                None => gx_disk::detect_format(&d.path)?,
            };
            let format = match format {
                Format::Raw => "raw",
                Format::Qcow2 => "qcow2",
            };
            ad.push(gx_appliance::Drive::new(
                &d.path,
                Some(format),
                d.options.readonly,
            ));
        }
        let config = Config {
            drives: ad,
            backend: opts.backend,
            verbose: opts.verbose || Config::default().verbose,
            memory_mib: u32::try_from(opts.memsize).unwrap_or(512),
            smp: u32::try_from(opts.smp).unwrap_or(1),
            append: opts.append.clone(),
            ..Config::default()
        };
        let app = Appliance::launch(config).map_err(|e| convert("launch", e))?;
        Ok(ApplianceEngine { app })
    }

    /// Which launcher runs the VM.
    pub(crate) fn backend(&self) -> Backend {
        self.app.backend()
    }

    /// Powers the VM off; returns where the appliance's time went.
    pub(crate) fn shutdown(self) -> (Result<()>, gx_appliance::Timings) {
        let (r, t) = self.app.finish();
        (r.map_err(|e| convert("shutdown", e)), t)
    }

    /// The typed client, for calls that map one to one; errors converted.
    pub(crate) fn app(&mut self) -> &mut Appliance {
        &mut self.app
    }

    pub(crate) fn mount(&mut self, req: &MountReq) -> Result<()> {
        let r = match (&req.vfstype, &req.options) {
            (Some(t), o) => {
                self.app
                    .mount_vfs(o.as_deref().unwrap_or(""), t, &req.device, &req.mountpoint)
            }
            (None, Some(o)) => self.app.mount_options(o, &req.device, &req.mountpoint),
            (None, None) => self.app.mount_ro(&req.device, &req.mountpoint),
        };
        r.map_err(|e| convert("mount", e))
    }

    pub(crate) fn umount_all(&mut self) -> Result<()> {
        self.app.umount_all().map_err(|e| convert("umount_all", e))
    }

    pub(crate) fn mountpoints(&mut self) -> Result<Vec<(String, String)>> {
        self.app
            .mountpoints()
            .map_err(|e| convert("mountpoints", e))
    }
}

/// One mount the Handle was asked for, kept so that a switch from the direct
/// engine to the appliance can replay the mount table there.
#[derive(Debug, Clone)]
pub(crate) struct MountReq {
    pub options: Option<String>,
    pub vfstype: Option<String>,
    pub device: String,
    pub mountpoint: String,
}

/// The kind a guest errno stands for.
pub(crate) fn errno_kind(errno: i32) -> ErrorKind {
    match errno {
        libc::ENOENT | libc::ENXIO | libc::ENODEV => ErrorKind::NotFound,
        libc::EACCES | libc::EPERM => ErrorKind::Permission,
        libc::EROFS => ErrorKind::ReadOnly,
        libc::ENOTSUP | libc::ENOSYS => ErrorKind::Unsupported,
        libc::EUCLEAN => ErrorKind::Corrupt,
        libc::EINVAL
        | libc::ENOTDIR
        | libc::EISDIR
        | libc::EEXIST
        | libc::ENOTEMPTY
        | libc::ELOOP
        | libc::ENAMETOOLONG
        | libc::EFBIG
        | libc::EBUSY => ErrorKind::InvalidArgument,
        _ => ErrorKind::Io,
    }
}

/// An appliance failure as the Handle's error: what (the call), why (the
/// guest's message, or why the VM is gone).
pub(crate) fn convert(call: &str, e: gx_appliance::Error) -> Error {
    use gx_appliance::Error as A;
    match e {
        A::Call { errno, message, .. } => {
            let msg = if message.starts_with(call) {
                message
            } else {
                format!("{call}: {message}")
            };
            Error::with_errno(errno_kind(errno), msg, errno)
        }
        // Our side of a stream failed (a closed pipe while downloading):
        // keep the io::Error as the source, so tools can see a broken pipe.
        A::Local { call, source } => Error::io(format!("{call}: local I/O"), source),
        A::Io(source) => Error::io(format!("{call}: appliance"), source),
        other => Error::new(ErrorKind::Io, format!("{call}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_kinds() {
        assert_eq!(errno_kind(libc::ENOENT), ErrorKind::NotFound);
        assert_eq!(errno_kind(libc::EROFS), ErrorKind::ReadOnly);
        assert_eq!(errno_kind(libc::EACCES), ErrorKind::Permission);
        assert_eq!(errno_kind(libc::ENOTDIR), ErrorKind::InvalidArgument);
        assert_eq!(errno_kind(libc::EIO), ErrorKind::Io);
        let e = convert(
            "ls",
            gx_appliance::Error::Call {
                call: "ls",
                errno: libc::ENOENT,
                message: "ls: /nope: No such file or directory".into(),
            },
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.message(), "ls: /nope: No such file or directory");
    }
}

//! The VMM's error type: what failed and why, with the KVM or I/O cause.

use std::io;

/// Everything that can stop the VMM from building or running a VM.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("KVM: {what}: {source}")]
    Kvm {
        what: String,
        #[source]
        source: kvm_ioctls::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("guest memory: {0}")]
    Memory(String),
    #[error("loading the kernel {path}: {why}")]
    Kernel { path: String, why: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(
        "this host's KVM is PVM (/sys/module/kvm_pvm exists): stock kernels cannot run at speed; use the QEMU backend (gx-vmm --force-pvm tries anyway)"
    )]
    PvmHost,
    #[error("device: {0}")]
    Device(String),
    #[error("vCPU {id}: {why}")]
    Vcpu { id: u8, why: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn kvm(what: impl Into<String>, source: kvm_ioctls::Error) -> Self {
        Error::Kvm {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

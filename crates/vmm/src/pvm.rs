//! Telling hardware KVM from PVM (Pagetable-based VM, no VT-x/AMD-V).
//! Under PVM an ordinary guest's ring 0 is emulated an instruction at a time
//! (~1.7 M instr/s measured here) and some instructions are missing, so a
//! stock kernel never finishes booting: say so instead of hanging.

use std::path::Path;

/// What serves `/dev/kvm` on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvmFlavor {
    /// `kvm_pvm` is loaded.
    Pvm,
    /// Anything else: hardware-assisted KVM (kvm_intel / kvm_amd).
    Hardware,
    /// No /dev/kvm at all.
    Absent,
}

/// Detect under a sysfs/devfs root (for tests); see [`detect`].
pub fn detect_at(sys_module: &Path, dev_kvm: &Path) -> KvmFlavor {
    if !dev_kvm.exists() {
        KvmFlavor::Absent
    } else if sys_module.join("kvm_pvm").exists() {
        KvmFlavor::Pvm
    } else {
        KvmFlavor::Hardware
    }
}

pub fn detect() -> KvmFlavor {
    detect_at(Path::new("/sys/module"), Path::new("/dev/kvm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_sysfs() {
        let d = tempfile::tempdir().expect("tmp");
        let kvm = d.path().join("kvm");
        assert_eq!(detect_at(d.path(), &kvm), KvmFlavor::Absent);
        std::fs::write(&kvm, b"").expect("w");
        assert_eq!(detect_at(d.path(), &kvm), KvmFlavor::Hardware);
        std::fs::create_dir(d.path().join("kvm_pvm")).expect("mkdir");
        assert_eq!(detect_at(d.path(), &kvm), KvmFlavor::Pvm);
    }
}

//! Boots the real appliance kernel (Debian's cloud kernel, or `GX_KERNEL`)
//! with a one-file initramfs whose /init reports over the serial console and
//! powers off through ACPI. Needs hardware KVM: on a PVM host (or without
//! /dev/kvm, or without a kernel) it prints why and skips.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gx_vmm::{ExitReason, PvmPolicy, SerialOutput, VmConfig};

const WATCHDOG: Duration = Duration::from_secs(60);

fn find_kernel() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("GX_KERNEL") {
        return Some(PathBuf::from(k));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    found.sort();
    found.pop()
}

#[test]
fn stock_kernel_boots_to_init_and_powers_off() {
    if let Some(why) = common::kvm_unavailable() {
        common::skip(&format!("booting a stock kernel needs hardware KVM: {why}"));
        return;
    }
    if common::is_pvm() {
        common::skip(
            "stock_kernel_boots_to_init_and_powers_off: needs hardware KVM; this host's /dev/kvm \
             is PVM (/sys/module/kvm_pvm), where ring 0 is emulated and stock kernels die during boot",
        );
        return;
    }
    let Some(kernel) = find_kernel() else {
        gx_testdata::skip_or_fail!("no kernel: set GX_KERNEL or install linux-image-cloud-amd64");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let initrd = match gx_testdata::test_init_initrd(tmp.path()) {
        Ok(i) => i,
        Err(why) => {
            gx_testdata::skip_or_fail!("the test /init cannot be built: {why}");
            return;
        }
    };

    let serial = common::Capture::default();
    let mut cfg = VmConfig::new(&kernel);
    cfg.initrd = Some(initrd);
    cfg.cmdline =
        "console=ttyS0 reboot=k panic=1 quiet loglevel=4 8250.nr_uarts=1 rdinit=/init".into();
    cfg.memory_mib = 512;
    cfg.pvm = PvmPolicy::Refuse;
    cfg.serial = SerialOutput::Writer(Box::new(serial.clone()));
    let t0 = Instant::now();
    let vm = gx_vmm::start(cfg).expect("VM starts");
    let reason = vm.wait_timeout(WATCHDOG);
    let out = String::from_utf8_lossy(&serial.0.lock().expect("serial").clone()).into_owned();
    println!("--- serial ---\n{out}--- end ({:?}) ---", t0.elapsed());
    assert_ne!(
        reason,
        ExitReason::Stopped,
        "watchdog: no power-off within {WATCHDOG:?}"
    );
    assert!(
        out.contains("GX-INIT started"),
        "the kernel did not reach /init"
    );
    assert!(
        out.contains("GX-INIT acpi-virtio found"),
        "ACPI did not enumerate LNRO0005"
    );
    assert_eq!(reason, ExitReason::PowerOff);
}

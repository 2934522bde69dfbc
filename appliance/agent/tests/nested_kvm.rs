//! Our VMM on real KVM, here: these machines' `/dev/kvm` is PVM, which cannot
//! run a stock kernel (see DESIGN.md), but QEMU's TCG emulates AMD SVM with
//! nested paging. So the appliance (under TCG) loads `kvm` and `kvm_amd`, and
//! inside it `gx-vmm` boots the stock appliance kernel, as a bzImage and as the
//! extracted ELF vmlinux through its PVH entry, to a static `/init` that checks
//! the ACPI tables list the virtio-mmio devices and powers off. That is the
//! KVM API of hardware virtualisation (what `gx-vmm` meets on a real host),
//! only slow. Skips, saying why, where a piece is missing; on a host whose
//! `/dev/kvm` is hardware KVM, crates/vmm's `linux_boot` test covers this
//! directly.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use gx_appliance::{Appliance, Config};

fn why_not() -> Option<String> {
    if gx_appliance::qemu::find_qemu().is_err() {
        return Some("no qemu-system-x86_64 (run scripts/setup)".into());
    }
    if gx_appliance::qemu::accel() != "tcg" {
        return Some(
            "QEMU runs with KVM here, not TCG: nested SVM is not emulated (crates/vmm's \
             linux_boot test boots the kernel on this host's KVM directly)"
                .into(),
        );
    }
    if Command::new("gcc").arg("--version").output().is_err() {
        return Some("no gcc to build the static /init (run scripts/setup)".into());
    }
    None
}

#[test]
fn gx_vmm_boots_the_stock_kernel_on_nested_kvm() {
    if gx_appliance::qemu::find_qemu().is_ok() && gx_appliance::qemu::accel() != "tcg" {
        gx_testdata::skip!(
            "SKIP gx_vmm_boots_the_stock_kernel_on_nested_kvm: QEMU runs with KVM here, not \
             TCG: nested SVM is not emulated (crates/vmm's linux_boot test boots the kernel \
             on this host's KVM directly)"
        );
        return;
    }
    if let Some(why) = why_not() {
        gx_testdata::skip_or_fail!("gx_vmm_boots_the_stock_kernel_on_nested_kvm: {why}");
        return;
    }
    let k = match gx_appliance::kernel::find_kernel() {
        Ok(k) => k,
        Err(e) => {
            gx_testdata::skip_or_fail!("gx_vmm_boots_the_stock_kernel_on_nested_kvm: {e}");
            return;
        }
    };
    let modules: Vec<PathBuf> = [
        "kernel/virt/lib/irqbypass.ko",
        "kernel/arch/x86/kvm/kvm.ko",
        "kernel/arch/x86/kvm/kvm-amd.ko",
    ]
    .iter()
    .map(|m| k.modules.join(m))
    .collect();
    if let Some(m) = modules.iter().find(|m| !m.is_file()) {
        gx_testdata::skip_or_fail!(
            "gx_vmm_boots_the_stock_kernel_on_nested_kvm: {} is missing (an uncompressed \
             kvm_amd module for the appliance kernel is needed)",
            m.display()
        );
        return;
    }
    let vmm = match gx_appliance::vmm::find_vmm() {
        Ok(v) => v,
        Err(e) => {
            gx_testdata::skip_or_fail!("gx_vmm_boots_the_stock_kernel_on_nested_kvm: {e}");
            return;
        }
    };
    let agent = PathBuf::from(env!("CARGO_BIN_EXE_gx-agent"));
    // The extracted vmlinux the appliance boots (PVH entry), from the cache.
    let files = gx_appliance::image::ensure_appliance(&k, &agent).expect("appliance");
    let vmlinux = files.kernel.clone();

    let tmp = tempfile::tempdir().expect("tmp");
    let initrd = gx_testdata::test_init_initrd(tmp.path()).expect("the test /init");

    let mut g = Appliance::launch(Config {
        agent: Some(agent),
        // Room for the uploads (in the appliance's RAM) and the nested guest.
        memory_mib: 2048,
        launch_timeout: Duration::from_secs(180),
        call_timeout: Duration::from_secs(300),
        ..Config::default()
    })
    .expect("launch");
    // Paths are the guest's, under /sysroot: give it a root in RAM.
    g.sh("mount -t tmpfs -o mode=755 tmpfs /sysroot")
        .expect("a tmpfs root");
    for (src, dst) in [
        (&modules[0], "/irqbypass.ko"),
        (&modules[1], "/kvm.ko"),
        (&modules[2], "/kvm-amd.ko"),
        (&vmm, "/gx-vmm"),
        (&k.image, "/bzImage"),
        (&vmlinux, "/vmlinux"),
        (&initrd, "/initrd.cpio"),
    ] {
        g.upload_file(src, dst).expect("upload");
    }
    let kvm = g
        .sh(
            "insmod irqbypass.ko; insmod kvm.ko; insmod kvm-amd.ko 2>&1; \
             chmod 755 gx-vmm; test -c /dev/kvm && echo KVM-READY; \
             grep -c -w svm /proc/cpuinfo || true",
        )
        .expect("loading kvm_amd");
    if !kvm.contains("KVM-READY") {
        gx_testdata::skip!(
            "SKIP gx_vmm_boots_the_stock_kernel_on_nested_kvm: kvm_amd did not load in the \
             appliance (QEMU's CPU model lacks SVM?): {kvm}"
        );
        return;
    }
    for kernel in ["bzImage", "vmlinux"] {
        let t = Instant::now();
        let out = g
            .sh(&format!(
                "./gx-vmm --kernel {kernel} --initrd initrd.cpio --memory 256M \
                 --cmdline 'console=ttyS0 reboot=k panic=1 loglevel=4 8250.nr_uarts=1 \
                 rdinit=/init' 2>&1; echo gx-vmm-exit=$?"
            ))
            .expect("running gx-vmm");
        eprintln!("--- gx-vmm {kernel} in {:?} ---\n{out}", t.elapsed());
        assert!(
            out.contains("GX-INIT started"),
            "{kernel}: no /init:\n{out}"
        );
        assert!(
            out.contains("GX-INIT acpi-virtio found"),
            "{kernel}: ACPI did not list the virtio-mmio devices:\n{out}"
        );
        assert!(
            out.contains("gx-vmm-exit=0"),
            "{kernel}: not a clean power-off:\n{out}"
        );
    }

    // The whole appliance on gx-vmm, driven by the real gx-cat in there: the
    // VMM launcher (--backend vmm) with a fixed appliance (GX_APPLIANCE_DIR).
    let gx_cat = vmm.with_file_name("gx-cat");
    if !gx_cat.is_file() {
        gx_testdata::skip_or_fail!(
            "the appliance part of gx_vmm_boots_the_stock_kernel_on_nested_kvm: \
             {} is not built (cargo build -p gx-tools)",
            gx_cat.display()
        );
        g.shutdown().expect("shutdown");
        return;
    }
    let linux = gx_testdata::image("linux.img");
    g.mkdir("/appl").expect("mkdir");
    let mut uploads = vec![
        (files.kernel.clone(), "/appl/kernel"),
        (files.initrd.clone(), "/appl/initrd"),
        (gx_cat, "/gx-cat"),
        (linux.clone(), "/linux.img"),
    ];
    if let Some(h) = &files.helpers {
        uploads.push((h.clone(), "/appl/helpers.img"));
    }
    for (src, dst) in &uploads {
        g.upload_file(src, dst).expect("upload");
    }
    let t = Instant::now();
    let out = g
        .sh(
            "chmod 755 gx-cat; GX_APPLIANCE_DIR=/sysroot/appl GX_VMM=/sysroot/gx-vmm \
             ./gx-cat --engine appliance --backend vmm --format=raw -a linux.img \
             /etc/hostname /etc/fstab 2>&1; echo gx-cat-exit=$?",
        )
        .expect("gx-cat on gx-vmm");
    eprintln!("--- gx-cat --backend vmm in {:?} ---\n{out}", t.elapsed());
    g.shutdown().expect("shutdown");
    let direct = Command::new(vmm.with_file_name("gx-cat"))
        .args(["--engine", "direct", "--format=raw", "-a"])
        .arg(&linux)
        .args(["/etc/hostname", "/etc/fstab"])
        .output()
        .expect("gx-cat direct");
    assert!(direct.status.success());
    let direct = String::from_utf8_lossy(&direct.stdout).into_owned();
    assert_eq!(
        out,
        format!("{direct}gx-cat-exit=0\n"),
        "the appliance on gx-vmm and the direct engine differ"
    );
}

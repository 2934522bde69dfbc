//! Boots our own tiny test guest (testguest/guest.c) under /dev/kvm and
//! checks, step by step, what it reports over the serial port and what it
//! did to the disks and the channel. Runs on PVM hosts too: the guest is a
//! few hundred thousand instructions, fine under PVM's emulation.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use gx_disk::{BlockDevice, MemDevice};
use gx_vmm::{
    ChannelConfig, ChannelEndpoint, DiskConfig, ExitReason, NotifyMode, PvmPolicy, SerialOutput,
    VmConfig,
};

/// Wall-clock limit for one guest run; past it the VM is stopped and the test fails.
const WATCHDOG: Duration = Duration::from_secs(120);

fn run_guest(notify: NotifyMode) {
    if let Some(why) = common::kvm_unavailable() {
        common::skip(&format!("test guest boot needs /dev/kvm: {why}"));
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let elf = common::build_guest(tmp.path(), &["start.S", "guest.c"]);

    let mut img = vec![0u8; 64 * 1024];
    img[..16].copy_from_slice(b"GXDISK0-SECTOR0!");
    let disk0 = Arc::new(MemDevice::new(img, true, "disk0"));
    let mut ro_img = vec![0u8; 32 * 1024];
    ro_img[..16].copy_from_slice(b"GXDISK1-READONLY");
    let disk1 = Arc::new(MemDevice::new(ro_img.clone(), true, "disk1"));

    let (host, guest_end) = UnixStream::pair().expect("socketpair");
    let host_side = std::thread::spawn(move || -> Vec<u8> {
        let mut host = host;
        let _ = host.set_read_timeout(Some(WATCHDOG));
        let mut got = Vec::new();
        let mut b = [0u8; 64];
        while !got.ends_with(b"\n") {
            match host.read(&mut b) {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&b[..n]),
            }
        }
        let _ = host.write_all(b"pong from host\n");
        got
    });

    let serial = common::Capture::default();
    let mut cfg = VmConfig::new(&elf);
    cfg.memory_mib = 64;
    cfg.pvm = PvmPolicy::Allow;
    cfg.notify = notify;
    cfg.serial = SerialOutput::Writer(Box::new(serial.clone()));
    cfg.disks = vec![
        DiskConfig {
            device: disk0.clone(),
            read_only: false,
            serial: "gx-disk-0".into(),
        },
        DiskConfig {
            device: disk1.clone(),
            read_only: true,
            serial: "gx-disk-1".into(),
        },
    ];
    cfg.channels = vec![ChannelConfig {
        name: "org.guestx.channel.0".into(),
        endpoint: ChannelEndpoint::Stream(guest_end),
    }];
    cfg.rng = true;

    let vm = gx_vmm::start(cfg).expect("VM starts");
    let info = vm.info().clone();
    println!(
        "entry {:#x} ({:?}), ioeventfd={} irqfd={}, pvm={}",
        info.entry,
        info.entry_mode,
        info.ioeventfd,
        info.irqfd,
        common::is_pvm()
    );
    let reason = vm.wait_timeout(WATCHDOG);
    let out = String::from_utf8_lossy(&serial.0.lock().expect("serial").clone()).into_owned();
    println!("--- guest serial ---\n{out}--- end ---");
    assert_ne!(
        reason,
        ExitReason::Stopped,
        "watchdog: the guest did not finish in {WATCHDOG:?}"
    );
    assert!(!out.contains("GXTEST FAIL"), "the guest reported a failure");
    assert_eq!(
        reason,
        ExitReason::PowerOff,
        "guest should power off via ACPI"
    );

    // Every step, in order.
    let steps = [
        "GXTEST start",
        "GXTEST zeropage e820=",
        "GXTEST acpi ok cpus=1 virtio=4 sleep_port=0x600",
        "GXTEST pvpanic port=0x505 events=0x3",
        "GXTEST dev 0xd0000000 gsi=5 type=2",
        "GXTEST blk0 capacity=128 sector0=GXDISK0-SECTOR0!",
        "GXTEST blk0 write+flush+readback ok id=gx-disk-0",
        "GXTEST blk0 indirect read ok avail_event=6",
        "GXTEST dev 0xd0001000 gsi=6 type=2",
        "GXTEST blk1 capacity=64 sector0=GXDISK1-READONLY",
        "GXTEST blk1 ro-write status=1",
        "GXTEST dev 0xd0002000 gsi=7 type=3",
        "GXTEST console port1 name=org.guestx.channel.0",
        "GXTEST console exchange ok",
        "GXTEST dev 0xd0003000 gsi=8 type=4",
        "GXTEST rng ok",
        "GXTEST PASS",
    ];
    let mut rest = out.as_str();
    for s in steps {
        let at = rest.find(s).unwrap_or_else(|| panic!("missing step {s:?}"));
        rest = &rest[at + s.len()..];
    }

    // Host-side checks: what the guest wrote, what it did not, what it said.
    let mut sector1 = [0u8; 20];
    disk0.read_at(&mut sector1, 512).expect("read disk0");
    assert_eq!(&sector1, b"GUEST-WROTE-SECTOR-1");
    let mut ro_now = vec![0u8; ro_img.len()];
    disk1.read_at(&mut ro_now, 0).expect("read disk1");
    assert!(ro_now == ro_img, "read-only disk changed");
    let said = host_side.join().expect("host thread");
    assert_eq!(said, b"ping from guest\n");
}

#[test]
fn test_guest_drives_every_device_with_ioeventfd_irqfd() {
    run_guest(NotifyMode::Auto);
}

#[test]
fn test_guest_drives_every_device_with_mmio_exits() {
    run_guest(NotifyMode::Exits);
}

/// The guest reports a kernel panic through the pvpanic port it found in the
/// DSDT (QEMU0001); the VMM must end with `ExitReason::Panic` (gx-vmm exit
/// status 5), not power-off or reset.
#[test]
fn test_guest_pvpanic_ends_the_vm_with_panic() {
    if let Some(why) = common::kvm_unavailable() {
        common::skip(&format!("test guest boot needs /dev/kvm: {why}"));
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let elf = common::build_guest(tmp.path(), &["start.S", "guest.c"]);
    let serial = common::Capture::default();
    let mut cfg = VmConfig::new(&elf);
    cfg.memory_mib = 64;
    cfg.pvm = PvmPolicy::Allow;
    cfg.cmdline = "gxtest=panic".into();
    cfg.rng = false;
    cfg.serial = SerialOutput::Writer(Box::new(serial.clone()));
    let reason = gx_vmm::start(cfg)
        .expect("VM starts")
        .wait_timeout(WATCHDOG);
    let out = String::from_utf8_lossy(&serial.0.lock().expect("serial").clone()).into_owned();
    println!("--- guest serial ---\n{out}--- end ---");
    assert!(!out.contains("GXTEST FAIL"), "the guest reported a failure");
    let mut rest = out.as_str();
    for s in [
        "GXTEST acpi ok cpus=1 virtio=0",
        "GXTEST pvpanic port=0x505 events=0x3",
        "GXTEST panicking",
    ] {
        let at = rest.find(s).unwrap_or_else(|| panic!("missing step {s:?}"));
        rest = &rest[at + s.len()..];
    }
    assert_eq!(reason, ExitReason::Panic);
    assert_eq!(reason.exit_code(), 5);
}

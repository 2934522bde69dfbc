//! Start-up cost of the VMM: from just before the parent spawns `gx-vmm`
//! to the guest's first KVM_RUN (goal: under 10 ms), measured on a guest that
//! powers off at once. Prints each run and the median. Needs /dev/kvm; skips
//! with a message otherwise. Run: `cargo bench -p gx-vmm --bench startup`.

use std::path::Path;
use std::process::Command;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    if !Path::new("/dev/kvm").exists() {
        println!("SKIP: startup benchmark needs /dev/kvm");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testguest");
    let tmp = std::env::temp_dir().join(format!("gx-vmm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let elf = tmp.join("poweroff.elf");
    let st = Command::new("gcc")
        .args([
            "-nostdlib",
            "-static",
            "-no-pie",
            "-Wl,--build-id=none",
            "-Wl,--no-warn-rwx-segments",
        ])
        .arg(format!("-Wl,-T,{}", dir.join("guest.ld").display()))
        .arg("-o")
        .arg(&elf)
        .arg(dir.join("poweroff.S"))
        .status()
        .expect("gcc");
    assert!(st.success(), "building the power-off guest");

    let bin = env!("CARGO_BIN_EXE_gx-vmm");
    let runs = 21;
    let (mut to_run, mut in_proc, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let t0 = gx_vmm::monotonic_ns();
        let out = Command::new(bin)
            .args(["--kernel"])
            .arg(&elf)
            .args([
                "--memory",
                "512M",
                "--force-pvm",
                "--report-startup",
                "--no-rng",
            ])
            .output()
            .expect("spawn gx-vmm");
        let t1 = gx_vmm::monotonic_ns();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "gx-vmm failed: {err}");
        let line = err
            .lines()
            .find(|l| l.contains("first KVM_RUN"))
            .expect("startup line");
        let us: f64 = line
            .split_whitespace()
            .nth(3)
            .and_then(|s| s.parse().ok())
            .expect("us");
        let abs: u128 = line
            .rsplit("monotonic ")
            .next()
            .and_then(|s| s.trim_end_matches(" ns)").parse().ok())
            .expect("monotonic");
        let spawn_to_run = (abs.saturating_sub(t0)) as f64 / 1000.0;
        let whole = (t1 - t0) as f64 / 1000.0;
        if i > 0 {
            // The first run warms the page cache; keep it out of the median.
            to_run.push(spawn_to_run);
            in_proc.push(us);
            total.push(whole);
        }
        println!(
            "run {i:2}: spawn->first KVM_RUN {spawn_to_run:8.0} us (main->KVM_RUN {us:6.0} us), spawn->exit {whole:8.0} us"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    println!(
        "median of {}: spawn->first KVM_RUN {:.2} ms, main()->first KVM_RUN {:.2} ms, whole run to power-off {:.2} ms",
        to_run.len(),
        median(&mut to_run) / 1000.0,
        median(&mut in_proc) / 1000.0,
        median(&mut total) / 1000.0
    );
}

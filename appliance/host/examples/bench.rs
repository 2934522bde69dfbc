//! Appliance benchmark: median launch time (launch() entry to the agent ready for
//! calls) over N runs, booting and restoring a snapshot, whole launch+shutdown, and upload/download throughput through the
//! protocol into the appliance's RAM (a tmpfs mounted on /sysroot).
//!
//! `cargo run --release -p gx-appliance --example bench` after
//! `cargo build --release -p gx-agent` (the agent is found next to target/release).

use std::io::Read;
use std::time::{Duration, Instant};

use gx_appliance::{Appliance, Config};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> anyhow_free::Result {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let mb: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    // Warm the cache (builds the appliance the first time, saves the snapshot).
    let a = Appliance::launch(Config::default())?;
    a.shutdown()?;

    for (what, snapshot) in [("boot", false), ("restore from snapshot", true)] {
        let mut launch = Vec::new();
        let mut whole = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let a = Appliance::launch(Config {
                snapshot,
                ..Config::default()
            })?;
            launch.push(a.launch_time());
            eprintln!("  {:?}: {}", a.launch_time(), a.agent_info());
            // A row must measure what it names: a "restore" that booted
            // (a snapshot that failed to restore) would pass as a slow
            // restore, and a boot must not have restored.
            if a.restored() != snapshot {
                let got = if a.restored() { "restored" } else { "booted" };
                a.shutdown()?;
                return Err(format!("launch by {what}: the appliance {got}").into());
            }
            a.shutdown()?;
            whole.push(t.elapsed());
        }
        println!(
            "launch by {what} (to agent ready): median {:?} of {runs}: {:?}",
            median(launch.clone()),
            launch
        );
        println!("launch by {what} + shutdown: median {:?}", median(whole));
    }

    let mut a = Appliance::launch(Config::default())?;
    // A tmpfs as the guest's root: files in the appliance's RAM.
    a.sh("mount -t tmpfs -o size=90% tmpfs /sysroot")?;
    let size = mb << 20;
    let mut up = Vec::new();
    let mut down = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        a.upload(&mut std::io::repeat(0x5a).take(size as u64), "/bench.bin")?;
        up.push(t.elapsed());
        let mut sink = Counting(0);
        let t = Instant::now();
        a.download("/bench.bin", &mut sink)?;
        down.push(t.elapsed());
        assert_eq!(sink.0, size);
        a.rm("/bench.bin")?;
    }
    // The protocol alone: upload into the guest's /dev/null (a device node in
    // /sysroot), so the guest's page cache is not part of the measurement.
    a.sh("mknod /sysroot/null c 1 3")?;
    let mut sink = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        a.upload(&mut std::io::repeat(0x5a).take(size as u64), "/null")?;
        sink.push(t.elapsed());
    }
    let rate = |d: Duration| size as f64 / d.as_secs_f64() / 1e6;
    println!(
        "upload {mb} MiB into a file in the appliance's RAM: median {:.0} MB/s",
        rate(median(up))
    );
    println!(
        "upload {mb} MiB into the guest's /dev/null (protocol only): median {:.0} MB/s",
        rate(median(sink))
    );
    println!(
        "download {mb} MiB from a file in the appliance's RAM: median {:.0} MB/s",
        rate(median(down))
    );
    let t = Instant::now();
    for _ in 0..200 {
        a.ping()?;
    }
    println!("round trip (ping): {:?}", t.elapsed() / 200);
    a.shutdown()?;
    Ok(())
}

struct Counting(usize);
impl std::io::Write for Counting {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}

//! Runs shell commands in a fresh appliance and prints their output, timed: a
//! diagnostic for the appliance itself (`cargo run -p gx-appliance --example
//! sh -- 'dmesg | tail' 'cat /proc/meminfo'`). No disks are attached.

use std::time::Instant;

use gx_appliance::{Appliance, Config};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = Appliance::launch(Config::default())?;
    eprintln!("launched in {:?}: {}", a.launch_time(), a.agent_info());
    for cmd in std::env::args().skip(1) {
        let t = Instant::now();
        let out = a.sh(&cmd)?;
        print!("{out}");
        eprintln!("[{cmd}: {:?}]", t.elapsed());
    }
    a.shutdown()?;
    Ok(())
}

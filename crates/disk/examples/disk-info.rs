//! `cargo run -p gx-disk --example disk-info -- [--format raw|qcow2] [--read] IMAGE...`
//!
//! Prints each image's format, size and partition table with libguestfs
//! device names; `--read` also reads the whole virtual disk and reports the rate.
//! A debugging aid for the disk layer, not a tool users are meant to run.

use gx_disk::{Format, OpenOptions, device_name, open_image, partition_name};
use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let mut format: Option<Format> = None;
    let mut read = false;
    let mut images = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--format" => format = Some(args.next().ok_or("--format needs a value")?.parse()?),
            "--read" => read = true,
            _ => images.push(PathBuf::from(a)),
        }
    }
    for (i, path) in images.iter().enumerate() {
        let detected = match format {
            Some(f) => f,
            None => gx_disk::detect_format(path)?,
        };
        let dev = open_image(path, &OpenOptions::new().format(Some(detected)))?;
        println!(
            "{}: {} ({detected}), {} bytes",
            device_name(i),
            path.display(),
            dev.size()
        );
        match gx_disk::read_partitions(dev.as_ref()) {
            Ok(None) => println!("  no partition table"),
            Ok(Some(t)) => {
                println!(
                    "  {} table, disk id {}",
                    t.kind.libguestfs_name(),
                    t.disk_id
                );
                for p in &t.partitions {
                    println!(
                        "  {} {:?} start {} size {} mbr_type {:?} gpt_type {} name {:?}{}",
                        partition_name(i, p.number),
                        p.kind,
                        p.start,
                        p.size,
                        p.mbr_type,
                        p.gpt_type.map(|g| g.to_string()).unwrap_or_default(),
                        p.name.as_deref().unwrap_or(""),
                        if p.bootable { " bootable" } else { "" }
                    );
                }
                for w in &t.warnings {
                    println!("  warning: {w}");
                }
            }
            Err(e) => println!("  partition table error: {e}"),
        }
        if read {
            let t0 = Instant::now();
            let mut buf = vec![0u8; 1 << 20];
            let mut off = 0u64;
            while off < dev.size() {
                let n = (dev.size() - off).min(buf.len() as u64) as usize;
                dev.read_at(&mut buf[..n], off)?;
                off += n as u64;
            }
            let s = t0.elapsed().as_secs_f64();
            println!(
                "  read {} MiB in {:.3} s ({:.0} MiB/s)",
                off >> 20,
                s,
                (off as f64 / 1048576.0) / s.max(1e-9)
            );
        }
    }
    Ok(())
}

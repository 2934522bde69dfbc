//! gx-cat: display files from a virtual machine, like virt-cat. Files are
//! streamed to stdout in constant memory, binary-safe, one after another.

use anyhow::{Result, bail};
use gx_cli::Common;
use std::io::Write;

fn main() {
    gx_cli::run("gx-cat", real_main)
}

fn real_main() -> Result<i32> {
    let cmd = gx_tools::cli::cat::command();
    let m = gx_cli::parse(cmd);
    let mut common = Common::from_matches(&m)?;
    let mut files: Vec<String> = m
        .get_many::<String>("files")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    // Old-style `tool disk.img file`: leading arguments name the drives.
    common.take_positional_drives(&mut files, 1);
    if files.is_empty() {
        bail!("you must give at least one file to display (try --help)");
    }
    if common.drives.is_empty() {
        bail!("you must specify at least one -a or -d option.");
    }
    let mut g = common.launch(true)?;
    // No -m: inspect and mount the guest; on Windows, paths may use drive
    // letters and any case (C:\Users\...), as with virt-cat.
    let mut windows_root = None;
    if common.mounts.is_empty() {
        gx_cli::inspect::inspect_and_mount(&mut g)?;
        windows_root = gx_cli::inspect::root(&g).filter(|r| gx_cli::inspect::is_windows(&g, r));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut errors = 0;
    for f in &files {
        let path = match &windows_root {
            Some(root) => match gx_cli::inspect::windows_path(&mut g, root, f) {
                Ok(p) => p,
                Err(e) => {
                    out.flush()?;
                    eprintln!("gx-cat: error: {f}: {e:#}");
                    errors += 1;
                    continue;
                }
            },
            None => f.clone(),
        };
        if let Err(e) = g.download(&path, &mut out) {
            if e.kind() == gx_guestfs::ErrorKind::Io {
                if let Some(io) =
                    std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>())
                {
                    if io.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(0);
                    }
                }
            }
            out.flush()?;
            eprintln!("gx-cat: error: {e}");
            errors += 1;
        }
    }
    out.flush()?;
    Ok(if errors == 0 { 0 } else { 1 })
}

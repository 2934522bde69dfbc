//! gx-cat: display files from a virtual machine, like virt-cat. Files are
//! streamed to stdout in constant memory, binary-safe, one after another.

use anyhow::{Result, bail};
use clap::{Arg, ArgAction};
use gx_cli::{Common, DriveArg, Features, Source};
use std::io::Write;
use std::path::PathBuf;

fn main() {
    gx_cli::run("gx-cat", real_main)
}

fn real_main() -> Result<i32> {
    let cmd = gx_cli::command(
        "gx-cat",
        "display files in a virtual machine",
        Features {
            mount: true,
            ..Default::default()
        },
    )
    .arg(Arg::new("files").value_name("file").num_args(0..).action(ArgAction::Append));
    let m = gx_cli::parse(cmd);
    let mut common = Common::from_matches(&m)?;
    let mut files: Vec<String> = m
        .get_many::<String>("files")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    if common.drives.is_empty() {
        while files.len() > 1 {
            let a = files.remove(0);
            let source = if gx_cli::domain::looks_like_image(&a) {
                Source::File(PathBuf::from(a))
            } else {
                Source::Domain(a)
            };
            common.drives.push(DriveArg {
                source,
                format: None,
            });
        }
    }
    if files.is_empty() {
        bail!("you must give at least one file to display (try --help)");
    }
    if common.drives.is_empty() {
        bail!("you must specify at least one -a or -d option.");
    }
    if common.mounts.is_empty() {
        bail!(
            "no -m option given: say which filesystem holds the file with -m DEVICE (automatic inspection is not implemented yet; gx-filesystems lists the candidates)"
        );
    }
    let g = common.launch(true)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut errors = 0;
    for f in &files {
        if let Err(e) = g.download(f, &mut out) {
            if e.kind() == gx_guestfs::ErrorKind::Io {
                if let Some(io) = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
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

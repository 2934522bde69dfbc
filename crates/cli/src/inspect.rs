//! Inspection for the tools: find the one operating system on the disks and
//! mount it read-only as the guest would (libguestfs's `-i`, and what virt-ls
//! and virt-cat do when no `-m` is given), and Windows drive-letter paths.

use anyhow::{Result, anyhow, bail};
use gx_guestfs::Handle;

pub const NO_OS: &str = "no operating system was found on this disk

If using guestfish ‘-i’ option, remove this option and instead
use the commands ‘run’ followed by ‘list-filesystems’.
You can then mount filesystems you want by hand using the
‘mount’ or ‘mount-ro’ command.

If using guestmount ‘-i’, remove this option and choose the
filesystem(s) you want to see by manually adding ‘-m’ option(s).
Use ‘gx-filesystems’ to see what filesystems are available.

If using other gx tools, this disk image won’t work
with these tools.  Use the gx-fish equivalent commands
(see the gx tool manual page).";

pub const MULTI_OS: &str = "multi-boot operating systems are not supported

If using guestfish ‘-i’ option, remove this option and instead
use the commands ‘run’ followed by ‘list-filesystems’.
You can then mount filesystems you want by hand using the
‘mount’ or ‘mount-ro’ command.

If using guestmount ‘-i’, remove this option and choose the
filesystem(s) you want to see by manually adding ‘-m’ option(s).
Use ‘gx-filesystems’ to see what filesystems are available.

If using other gx tools, multi-boot operating systems won’t work
with these tools.  Use the gx-fish equivalent commands
(see the gx tool manual page).";

/// Inspect the guest and mount its single root and the fstab mountpoints
/// read-only, shortest mountpoint first. Fails when no OS or several are found.
pub fn inspect_and_mount(g: &mut Handle) -> Result<()> {
    let roots = g.inspect_os()?;
    match roots.as_slice() {
        [] => bail!(NO_OS),
        [root] => mount_root(g, root, &prog_name()),
        _ => bail!(MULTI_OS),
    }
}

/// The program name for warnings, as the tools print it.
fn prog_name() -> String {
    std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "gx".into())
}

/// Mount one inspected root's filesystems read-only (libguestfs's
/// `inspect_mount_root`): `/` must mount; other failures are counted and
/// reported once on stderr as `PROG: some filesystems could not be mounted (ignored)`.
pub fn mount_root(g: &mut Handle, root: &str, prog: &str) -> Result<()> {
    mount_root_mode(g, root, prog, true)
}

/// [`mount_root`], read-write when `readonly` is false (gx-mount --rw).
pub fn mount_root_mode(g: &mut Handle, root: &str, prog: &str, readonly: bool) -> Result<()> {
    let verbose = g.verbose();
    mount_root_reporting(g, root, prog, readonly, |dev, mp, e| {
        if verbose && mp != "/" {
            eprintln!("{prog}: {dev} on {mp}: {e}");
        }
    })
}

/// [`mount_root_mode`], telling `report` of each failed mount (device,
/// mountpoint, error) as it happens: gx-fish prints every one as
/// guestfish's error handler does, the other tools only with `-v`.
pub fn mount_root_reporting(
    g: &mut Handle,
    root: &str,
    prog: &str,
    readonly: bool,
    mut report: impl FnMut(&str, &str, &gx_guestfs::Error),
) -> Result<()> {
    let mut mps = g.inspect_get_mountpoints(root)?;
    mps.sort_by(|a, b| {
        a.0.len()
            .cmp(&b.0.len())
            .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
    });
    let mut errors = 0;
    for (mp, dev) in &mps {
        let r = if readonly {
            g.mount_ro(dev, mp)
        } else {
            g.mount(dev, mp)
        };
        if let Err(e) = r {
            report(dev, mp, &e);
            if mp == "/" {
                return Err(anyhow!(e).context(format!("mounting the guest's root {dev} on /")));
            }
            errors += 1;
        }
    }
    if errors > 0 {
        eprintln!("{prog}: some filesystems could not be mounted (ignored)");
    }
    Ok(())
}

/// The single inspected root, after [`inspect_and_mount`].
pub fn root(g: &Handle) -> Option<String> {
    g.inspect_get_roots().ok()?.into_iter().next()
}

/// True when the inspected root is Windows.
pub fn is_windows(g: &Handle, root: &str) -> bool {
    g.inspect_get_type(root).is_ok_and(|t| t == "windows")
}

/// Turn a Windows path (`C:\Users\x`, any case) into a guest path, mounting
/// the drive's filesystem on `/` in place of what is there (as virt-cat's
/// `windows_path` does): drive letter through the drive mappings,
/// backslashes to slashes, then the real case of every component.
pub fn windows_path(g: &mut Handle, root: &str, path: &str) -> Result<String> {
    windows_path_mode(g, root, path, true)
}

/// [`windows_path`], mounting the drive read-write when `readonly` is false
/// (gx-edit writes there).
pub fn windows_path_mode(g: &mut Handle, root: &str, path: &str, readonly: bool) -> Result<String> {
    let b = path.as_bytes();
    let rest = if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        let letter = b[0].to_ascii_lowercase();
        let drives = g.inspect_get_drive_mappings(root)?;
        if drives.is_empty() {
            bail!("to use Windows drive letters, this must be a Windows guest");
        }
        let device = drives
            .iter()
            .find(|(l, _)| l.len() == 1 && l.as_bytes()[0].to_ascii_lowercase() == letter)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| anyhow!("drive '{}:' not found.", letter as char))?;
        g.umount_all()?;
        if readonly {
            g.mount_ro(&device, "/")?;
        } else {
            g.mount(&device, "/")?;
        }
        path[2..].to_string()
    } else if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    let rest = rest.replace('\\', "/");
    Ok(g.case_sensitive_path(&rest)?)
}

//! gx-resize: virt-resize's work, split by who does it best.
//!
//! This crate owns: the command line ([`cli`]), the plan as virt-resize
//! computes it ([`plan`], pure), the new partition table written by our
//! own code on the host ([`table`]), the sparse, parallel host copy of the
//! partitions ([`copy`]), reading the source's layout and content
//! ([`examine`], through a read-only Handle), growing content in the
//! appliance ([`expand`]), how it all talks ([`ui`]), and [`run`], which
//! puts them in virt-resize's order.
//!
//! It must not: write the source disk (it is opened read-only, and so is
//! the Handle that examines it), write anything with `--dry-run`, or leave
//! an interrupted output unannounced.
#![forbid(unsafe_code)]

pub mod cli;
pub mod copy;
pub mod examine;
pub mod expand;
pub mod plan;
pub mod table;
pub mod ui;

use crate::cli::Options;
use crate::copy::{CopyError, CopyOptions, Job};
use crate::plan::{Available, Content, Op, PartId, Plan, Request, SECTOR, SummaryLine};
use crate::table::{LINUX_FILESYSTEM, NewPartition, NewTable};
use crate::ui::Ui;
use gx_disk::{BlockDevice, Device, Format, Guid, OpenOptions, TableKind};
use gx_guestfs::{Backend, DriveOptions, Engine, Handle};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use cli::command;

/// What the appliance can grow besides ext2/3/4, swap and PVs.
pub const AVAILABLE: Available = Available {
    ntfs: true,
    btrfs: true,
    xfs: true,
    f2fs: false,
};

/// Why gx-resize stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message in virt-resize's words.
    #[error("{0}")]
    Message(String),
    /// Ctrl-C (or SIGTERM) during the work.
    #[error(
        "interrupted: {0} is incomplete and must not be used: delete it and run gx-resize again (the input disk was not changed)"
    )]
    Interrupted(String),
}

fn msg(e: impl std::fmt::Display) -> Error {
    Error::Message(e.to_string())
}

/// What `--machine-readable` alone prints: the features of this binary.
pub fn capabilities() -> String {
    let mut s = String::from(
        "virt-resize\nntfsresize-force\n32bitok\n128-sector-alignment\nalignment\nalign-first\n",
    );
    for (ok, name) in [
        (AVAILABLE.ntfs, "ntfs"),
        (AVAILABLE.btrfs, "btrfs"),
        (AVAILABLE.xfs, "xfs"),
        (AVAILABLE.f2fs, "f2fs"),
    ] {
        if ok {
            s.push_str(name);
            s.push('\n');
        }
    }
    s
}

fn parse_format(f: &Option<String>) -> Result<Option<Format>, Error> {
    f.as_deref()
        .map(str::parse::<Format>)
        .transpose()
        .map_err(msg)
}

/// A random (version 4) GUID, as parted gives a new partition.
fn random_guid() -> Guid {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    if b == [0; 16] {
        // No /dev/urandom: the clock and pid are unique enough for a GUID.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b[..16].copy_from_slice(&(t ^ (u128::from(std::process::id()) << 64)).to_le_bytes());
    }
    // On disk the version is the high nibble of byte 7 (a little-endian field).
    b[7] = (b[7] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Guid(b)
}

/// The new table for `plan` on a disk of `sectors`.
pub fn new_table(plan: &Plan, extra_guid: Guid) -> NewTable {
    let linux = Guid::parse(LINUX_FILESYSTEM).unwrap_or_default();
    let partitions = plan
        .targets
        .iter()
        .map(|t| match t.source {
            Some(i) => {
                let p = &plan.partitions[i].0;
                NewPartition {
                    number: t.number,
                    start: t.start,
                    end: t.end,
                    mbr_type: match p.id {
                        PartId::Mbr(m) => m,
                        _ => 0x83,
                    },
                    bootable: p.bootable,
                    gpt_type: match p.id {
                        PartId::Gpt(g) => g,
                        _ => linux,
                    },
                    gpt_guid: p.guid.unwrap_or(extra_guid),
                    name: p.label.clone().unwrap_or_default(),
                    attributes: p.attributes.unwrap_or(0),
                }
            }
            // parted's defaults for `mkpart primary`.
            None => NewPartition {
                number: t.number,
                start: t.start,
                end: t.end,
                mbr_type: 0x83,
                bootable: false,
                gpt_type: linux,
                gpt_guid: extra_guid,
                name: "primary".into(),
                attributes: 0,
            },
        })
        .collect();
    NewTable {
        kind: plan.kind,
        disk_id: plan.disk_id,
        sectors: plan.out_sectors,
        partitions,
    }
}

/// Where the boot loader area of the source goes: `(offset, len)` on both
/// disks, from after the table up to 2 MiB further but never into the first
/// new partition (whose data is copied exactly) or the backup GPT.
pub fn boot_loader_area(plan: &Plan, insize: u64, outsize: u64) -> Option<(u64, u64)> {
    let start = match plan.kind {
        TableKind::Mbr => 512,
        // Protective MBR, header and 32 sectors of entries.
        TableKind::Gpt => 17408,
    };
    let mut end = (start + plan::MAX_BOOTLOADER).min(insize).min(outsize);
    if let Some(t) = plan.targets.first() {
        end = end.min(t.start.saturating_mul(SECTOR));
    }
    if plan.kind == TableKind::Gpt {
        end = end.min(plan.out_sectors.saturating_sub(33) * SECTOR);
    }
    (end > start).then_some((start, end - start))
}

fn describe_plan(ui: &Ui, plan: &Plan) {
    if !ui.verbose {
        return;
    }
    ui.debug(&format!("{} partitions found", plan.partitions.len()));
    for (p, op) in &plan.partitions {
        ui.debug(&format!(
            "{}: {} {}-{} ({} bytes), bootable {}, {:?}, content {}, op {op:?}",
            p.name,
            p.number,
            p.start,
            p.start + p.size - 1,
            p.size,
            p.bootable,
            p.id,
            p.content.describe()
        ));
    }
    for t in &plan.targets {
        ui.debug(&format!(
            "target partition {}: {}-{} ({} sectors) from {:?}",
            t.number,
            t.start,
            t.end,
            t.end - t.start + 1,
            t.source.map(|i| plan.partitions[i].0.name.clone())
        ));
    }
}

fn print_summary(ui: &Ui, plan: &Plan) {
    if ui.quiet {
        return;
    }
    ui.print("**********\n\nSummary of changes:\n\n");
    for line in &plan.summary {
        match line {
            SummaryLine::Info(t) => ui.info(&format!("{t}\n")),
            SummaryLine::Warning(t) => ui.warning(t),
        }
    }
    ui.print("**********\n");
}

/// Copy `jobs` with a progress display; Ctrl-C makes it an [`Error::Interrupted`].
fn copy_with_progress(
    ui: &Ui,
    src: &dyn BlockDevice,
    dst: &dyn BlockDevice,
    jobs: &[Job],
    opts: &CopyOptions,
    cancel: &AtomicBool,
    outdisk: &str,
) -> Result<copy::CopyStats, Error> {
    let total: u64 = jobs.iter().map(|j| j.len).sum();
    let done = AtomicU64::new(0);
    let mut progress = ui.progress(total);
    let main = std::thread::current();
    let result = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let r = copy::copy(src, dst, jobs, opts, &done, cancel);
            // Wake the display loop now rather than at its next tick.
            main.unpark();
            r
        });
        while !h.is_finished() {
            progress.update(done.load(Ordering::Relaxed));
            std::thread::park_timeout(Duration::from_millis(100));
        }
        h.join()
    });
    match result {
        Ok(Ok(stats)) => {
            progress.finish(done.load(Ordering::Relaxed));
            Ok(stats)
        }
        Ok(Err(CopyError::Interrupted)) => Err(Error::Interrupted(outdisk.to_string())),
        Ok(Err(CopyError::Disk(e))) => Err(msg(e)),
        Err(_) => Err(msg("the copy thread panicked")),
    }
}

/// Resize as the options say. `cancel` is set by the caller's Ctrl-C handler.
pub fn run(o: &Options, ui: &Ui, cancel: &AtomicBool) -> Result<(), Error> {
    let input_format = parse_format(&o.format)?;
    let output_format = parse_format(&o.output_format)?;
    let interrupted = || cancel.load(Ordering::Relaxed);

    ui.message(&format!("Examining {}", o.indisk));
    let inpath = Path::new(&o.indisk);
    let outpath = Path::new(&o.outdisk);
    for (name, p) in [(&o.indisk, inpath), (&o.outdisk, outpath)] {
        if let Err(e) = std::fs::metadata(p) {
            // The words libguestfs's add_drive uses (strerror).
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
                std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
                _ => e.to_string(),
            };
            return Err(msg(format!("{name}: {why}")));
        }
    }
    // The same file under two names (a link, ./x and x) would be read while
    // it is overwritten.
    if let (Ok(a), Ok(b)) = (std::fs::metadata(inpath), std::fs::metadata(outpath)) {
        use std::os::unix::fs::MetadataExt;
        if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
            return Err(msg(
                "you cannot use the same disk image for input and output",
            ));
        }
    }
    let src: Device =
        gx_disk::open_image(inpath, &OpenOptions::new().format(input_format)).map_err(msg)?;
    let out_fmt = match output_format {
        Some(f) => f,
        None => gx_disk::detect_format(outpath).map_err(msg)?,
    };
    // Read-only until the plan is made: --dry-run must not touch the output.
    let outsize = gx_disk::open_image(outpath, &OpenOptions::new().format(Some(out_fmt)))
        .map_err(msg)?
        .size();
    let insize = src.size();
    ui.debug(&format!("{} size {insize} bytes", o.indisk));
    ui.debug(&format!("{} size {outsize} bytes", o.outdisk));
    for (name, size) in [(&o.indisk, insize), (&o.outdisk, outsize)] {
        if size < plan::MAX_BOOTLOADER {
            return Err(msg(format!(
                "{name}: file is too small to be a disk image ({size} bytes)"
            )));
        }
    }

    let source = {
        let mut g = Handle::new();
        g.set_verbose(o.verbose).map_err(msg)?;
        g.set_trace(o.trace).map_err(msg)?;
        g.set_engine(Engine::Auto).map_err(msg)?;
        g.add_drive_opts(
            inpath,
            DriveOptions {
                format: input_format,
                readonly: true,
            },
        )
        .map_err(msg)?;
        g.launch().map_err(msg)?;
        let s = examine::examine(&*src, &mut g, &o.indisk).map_err(msg)?;
        let _ = g.shutdown();
        s
    };

    let req = Request {
        input_name: o.indisk.clone(),
        expand: o.expand.clone(),
        shrink: o.shrink.clone(),
        resizes: o.resizes.clone(),
        resizes_force: o.resizes_force.clone(),
        deletes: o.deletes.clone(),
        ignores: o.ignores.clone(),
        lv_expands: o.lv_expands.clone(),
        align_first: o.align_first,
        alignment: o.alignment,
        extra_partition: o.extra_partition,
        expand_content: o.expand_content,
        unknown_fs: o.unknown_fs,
        available: AVAILABLE,
    };
    let plan = plan::plan(&source, &req, outsize).map_err(msg)?;
    describe_plan(ui, &plan);
    print_summary(ui, &plan);
    if o.dryrun {
        return Ok(());
    }

    // From here on the output is written. A qcow2 output (which the user
    // made, as with virt-resize) is written through imago, the workspace's
    // qcow2 library, in this process: no qemu-img or NBD server to run, and
    // blocks we skip stay unallocated clusters. The tests check the result
    // with `qemu-img check` and read it back through QEMU (the appliance).
    ui.message(&format!(
        "Setting up initial partition table on {}",
        o.outdisk
    ));
    let out: Device = gx_disk::open_image(
        outpath,
        &OpenOptions::new().format(Some(out_fmt)).readonly(false),
    )
    .map_err(msg)?;
    let mut boot_code = [0u8; 446];
    if o.copy_boot_loader {
        src.read_at(&mut boot_code, 0).map_err(msg)?;
    }
    let table = new_table(&plan, random_guid());
    for w in table::writes(&table, &boot_code).map_err(msg)? {
        out.write_at(&w.data, w.offset).map_err(msg)?;
    }

    let copy_opts = CopyOptions {
        sparse: o.sparse,
        ..CopyOptions::default()
    };
    let t0 = Instant::now();
    let mut stats = copy::CopyStats::default();
    if o.copy_boot_loader {
        if let Some((off, len)) = boot_loader_area(&plan, insize, outsize) {
            let job = [Job {
                src_offset: off,
                dst_offset: off,
                len,
            }];
            let s = copy::copy(&*src, &*out, &job, &copy_opts, &AtomicU64::new(0), cancel)
                .map_err(|e| match e {
                    CopyError::Interrupted => Error::Interrupted(o.outdisk.clone()),
                    CopyError::Disk(e) => msg(e),
                })?;
            stats.read += s.read;
            stats.written += s.written;
        }
    }
    for t in &plan.targets {
        let Some(i) = t.source else { continue };
        let (p, op) = &plan.partitions[i];
        let newsize = match op {
            Op::Copy => p.size,
            Op::Resize(n) => *n,
            Op::Ignore | Op::Delete => continue,
        };
        ui.message(&format!("Copying {}", p.name));
        let job = [Job {
            src_offset: p.start,
            dst_offset: t.start.saturating_mul(SECTOR),
            len: newsize.min(p.size),
        }];
        let s = copy_with_progress(ui, &*src, &*out, &job, &copy_opts, cancel, &o.outdisk)?;
        stats.read += s.read;
        stats.written += s.written;
    }
    ui.debug(&format!(
        "host copy: {} bytes read, {} bytes written in {:.3} s",
        stats.read,
        stats.written,
        t0.elapsed().as_secs_f64()
    ));

    if plan.align_first_partition {
        fix_ntfs_boot_record(ui, &plan, &*out)?;
    }
    // A qcow2's metadata must be written before QEMU opens it. Raw writes
    // are in the page cache, which QEMU reads too; making them durable is
    // left to the fsync at the end, so the disk writes them back while the
    // appliance boots.
    if out_fmt == Format::Qcow2 || !plan.to_be_expanded() {
        out.flush().map_err(msg)?;
    }
    drop(out);
    if interrupted() {
        return Err(Error::Interrupted(o.outdisk.clone()));
    }

    if plan.to_be_expanded() {
        expand_all(o, ui, &plan, out_fmt).map_err(|e| {
            if interrupted() {
                Error::Interrupted(o.outdisk.clone())
            } else {
                e
            }
        })?;
    }

    // The appliance wrote through its own cache: make it all durable.
    if let Ok(f) = std::fs::File::open(outpath) {
        f.sync_all()
            .map_err(|e| msg(format!("{}: fsync: {e}", o.outdisk)))?;
    }
    if !o.quiet {
        ui.print("\n");
        ui.info("Resize operation completed with no errors.  Before deleting the old disk, carefully check that the resized disk boots and works correctly.");
    }
    Ok(())
}

/// A moved bootable NTFS first partition: its boot record's "hidden sectors"
/// must say where it now starts, or Windows does not boot.
fn fix_ntfs_boot_record(ui: &Ui, plan: &Plan, out: &dyn BlockDevice) -> Result<(), Error> {
    let Some(t) = plan.targets.first() else {
        return Ok(());
    };
    let Some(i) = t.source else { return Ok(()) };
    let p = &plan.partitions[i].0;
    if !(matches!(&p.content, Content::Fs(fs, _) if fs == "ntfs") && p.bootable) {
        return Ok(());
    }
    let base = t.start.saturating_mul(SECTOR);
    let mut magic = [0u8; 8];
    out.read_at(&mut magic, base + 3).map_err(msg)?;
    if &magic != b"NTFS    " {
        ui.warning("first partition is NTFS but does not contain NTFS boot loader magic");
        return Ok(());
    }
    ui.message("Fixing first NTFS partition boot record");
    let mut old = [0u8; 4];
    out.read_at(&mut old, base + 0x1c).map_err(msg)?;
    ui.debug(&format!(
        "old hidden sectors value: 0x{:x}",
        u32::from_le_bytes(old)
    ));
    let hidden = u32::try_from(t.start).map_err(msg)?;
    out.write_at(&hidden.to_le_bytes(), base + 0x1c)
        .map_err(msg)?;
    Ok(())
}

fn expand_all(o: &Options, ui: &Ui, plan: &Plan, out_fmt: Format) -> Result<(), Error> {
    let mut g = Handle::new();
    g.set_verbose(o.verbose).map_err(msg)?;
    g.set_trace(o.trace).map_err(msg)?;
    g.set_engine(Engine::Appliance).map_err(msg)?;
    if let Some(b) = &o.backend {
        g.set_backend_kind(Some(b.parse::<Backend>().map_err(msg)?));
    }
    g.add_drive_opts(
        &o.outdisk,
        DriveOptions {
            format: Some(out_fmt),
            readonly: false,
        },
    )
    .map_err(msg)?;
    g.launch().map_err(msg)?;
    for t in &plan.targets {
        let Some(i) = t.source else { continue };
        let (p, op) = &plan.partitions[i];
        if !matches!(op, Op::Resize(_)) || !plan.can_expand(&p.content) {
            continue;
        }
        let Some(m) = plan::method(&p.content) else {
            continue;
        };
        let target = format!("{}{}", plan::SOURCE_NAME_DISK, t.number);
        let now = if target != p.name {
            format!(" (now {target})")
        } else {
            String::new()
        };
        ui.message(&format!(
            "Expanding {}{now} using the ‘{}’ method",
            p.name,
            m.name()
        ));
        for w in expand::expand_content(&mut g, &target, m, o.ntfsresize_force).map_err(msg)? {
            ui.warning(&w);
        }
    }
    for (lv, e) in &plan.lvs {
        if !e || !plan.can_expand(&lv.content) {
            continue;
        }
        let Some(m) = plan::method(&lv.content) else {
            continue;
        };
        ui.message(&format!(
            "Expanding {} using the ‘{}’ method",
            lv.name,
            m.name()
        ));
        g.lvresize_free(&lv.name, 100).map_err(msg)?;
        for w in expand::expand_content(&mut g, &lv.name, m, o.ntfsresize_force).map_err(msg)? {
            ui.warning(&w);
        }
    }
    g.shutdown().map_err(msg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_guids_are_version_4() {
        let a = random_guid();
        let b = random_guid();
        assert_ne!(a, b);
        let s = a.to_string();
        assert_eq!(&s[14..15], "4", "{s}");
        assert!("89AB".contains(&s[19..20]), "{s}");
    }
}

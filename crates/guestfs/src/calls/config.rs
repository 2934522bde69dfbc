//! Drives, launch and shutdown, settings, versions and optional groups.

use std::path::Path;

use crate::{
    AddDriveOpts, AddDriveScratchOpts, DiskCreateOpts, Drive, DriveOptions, Engine, Error,
    ErrorKind, Format, Handle, Result, Version, direct,
};

/// Optional groups `available` knows, with the host programs the appliance
/// needs for each (it copies them from the host): a group is available when
/// they are all there. Groups the direct engine serves alone need none.
const GROUPS: &[(&str, &[&str])] = &[
    ("blkid", &["blkid"]),
    ("btrfs", &["mkfs.btrfs"]),
    ("gdisk", &["sgdisk"]),
    ("linuxfsuuid", &[]),
    ("linuxxattrs", &[]),
    ("luks", &["cryptsetup"]),
    ("lvm2", &["lvm"]),
    ("mknod", &[]),
    ("ntfs3g", &["ntfs-3g"]),
    ("ntfsprogs", &["ntfsresize", "ntfslabel"]),
    ("wipefs", &["wipefs"]),
    ("xfs", &["mkfs.xfs", "xfs_admin"]),
    ("xz", &["xz"]),
    ("zstd", &["zstd"]),
];

/// Where the appliance builder looks for host programs.
const PROGRAM_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

fn have_program(p: &str) -> bool {
    PROGRAM_DIRS.iter().any(|d| Path::new(d).join(p).is_file())
}

impl Handle {
    /// `add_drive`: add a disk image (see the table for the options).
    pub(crate) fn impl_add_drive(&mut self, filename: &str, opts: AddDriveOpts) -> Result<()> {
        // libguestfs traces the call as given, remote protocols included.
        // A network drive (nbd, ssh, iscsi, ...) is accepted here, as by
        // libguestfs, which leaves it to the backend; `launch` refuses it.
        if let Some(p) = opts.protocol.as_deref().filter(|p| *p != "file") {
            return self.push_drive(
                filename.as_ref(),
                DriveOptions {
                    format: None,
                    readonly: opts.readonly.unwrap_or(false),
                },
                Some(p.to_string()),
            );
        }
        if let Some(bs) = opts.blocksize {
            if bs != 512 {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "add_drive: {filename}: blocksize {bs}: only 512-byte sectors are supported"
                    ),
                ));
            }
        }
        let format = match opts.format.as_deref() {
            None => None,
            Some(f) => Some(f.parse::<Format>().map_err(|_| {
                Error::invalid(format!(
                    "add_drive: {filename}: format \"{f}\" is not supported (raw or qcow2)"
                ))
            })?),
        };
        self.push_drive(
            filename.as_ref(),
            DriveOptions {
                format,
                readonly: opts.readonly.unwrap_or(false),
            },
            None,
        )
    }

    /// `add_drive_ro`.
    pub(crate) fn impl_add_drive_ro(&mut self, filename: &str) -> Result<()> {
        self.add_drive(
            filename,
            AddDriveOpts {
                readonly: Some(true),
                ..AddDriveOpts::default()
            },
        )
    }

    /// `add_drive_scratch`: a sparse temporary raw file, deleted on close.
    pub(crate) fn impl_add_drive_scratch(
        &mut self,
        size: i64,
        _opts: AddDriveScratchOpts,
    ) -> Result<()> {
        if self.launched {
            return Err(Error::invalid(
                "add_drive_scratch: drives cannot be added after launch",
            ));
        }
        let size = u64::try_from(size)
            .map_err(|_| Error::invalid(format!("add_drive_scratch: size {size} is negative")))?;
        let f = tempfile::Builder::new()
            .prefix("gx-scratch-")
            .suffix(".img")
            .tempfile()
            .map_err(|e| Error::io("add_drive_scratch: creating a temporary file", e))?;
        f.as_file()
            .set_len(size)
            .map_err(|e| Error::io("add_drive_scratch: sizing the temporary file", e))?;
        let (_, path) = f
            .keep()
            .map_err(|e| Error::io("add_drive_scratch: keeping the temporary file", e.error))?;
        self.drives.push(Drive {
            path,
            options: DriveOptions {
                format: Some(Format::Raw),
                readonly: false,
            },
            scratch: true,
            protocol: None,
        });
        Ok(())
    }

    /// `disk_create`: a new raw (sparse or preallocated) or qcow2 image.
    pub(crate) fn impl_disk_create(
        &mut self,
        filename: &str,
        format: &str,
        size: i64,
        opts: DiskCreateOpts,
    ) -> Result<()> {
        let bad = |m: String| Error::invalid(format!("disk_create: {filename}: {m}"));
        if size < -1 || (size == -1 && opts.backingfile.is_none()) {
            return Err(bad(format!("invalid size {size}")));
        }
        match format {
            "raw" => {
                if opts.backingfile.is_some() {
                    return Err(bad("a raw image cannot have a backing file".into()));
                }
                if opts.compat.is_some() || opts.clustersize.is_some() {
                    return Err(bad("compat and clustersize are qcow2 options".into()));
                }
                let size = u64::try_from(size).map_err(|_| bad("size missing".into()))?;
                let full = match opts.preallocation.as_deref() {
                    None | Some("off") | Some("sparse") => false,
                    Some("full") => true,
                    Some(p) => return Err(bad(format!("invalid preallocation \"{p}\""))),
                };
                let f = std::fs::File::create(filename)
                    .map_err(|e| Error::io(format!("disk_create: {filename}"), e))?;
                if full {
                    use std::io::Write;
                    let mut w = std::io::BufWriter::new(&f);
                    let zero = vec![0u8; 1 << 20];
                    let mut left = size;
                    while left > 0 {
                        let n = left.min(zero.len() as u64) as usize;
                        w.write_all(&zero[..n])
                            .map_err(|e| Error::io(format!("disk_create: {filename}"), e))?;
                        left -= n as u64;
                    }
                    w.flush()
                        .map_err(|e| Error::io(format!("disk_create: {filename}"), e))?;
                } else {
                    f.set_len(size)
                        .map_err(|e| Error::io(format!("disk_create: {filename}"), e))?;
                }
                Ok(())
            }
            "qcow2" => {
                let mut o: Vec<String> = Vec::new();
                if let Some(b) = &opts.backingfile {
                    o.push(format!("backing_file={}", qemu_opt(b)));
                }
                if let Some(b) = &opts.backingformat {
                    o.push(format!("backing_fmt={}", qemu_opt(b)));
                }
                if let Some(p) = &opts.preallocation {
                    let p = match p.as_str() {
                        "sparse" => "off",
                        other => other,
                    };
                    o.push(format!("preallocation={}", qemu_opt(p)));
                }
                if let Some(c) = &opts.compat {
                    o.push(format!("compat={}", qemu_opt(c)));
                }
                if let Some(c) = opts.clustersize {
                    o.push(format!("cluster_size={c}"));
                }
                let mut cmd = std::process::Command::new("qemu-img");
                cmd.args(["create", "-q", "-f", "qcow2"]);
                if !o.is_empty() {
                    cmd.args(["-o", &o.join(",")]);
                }
                cmd.arg(filename);
                if size >= 0 {
                    cmd.arg(size.to_string());
                }
                let out = cmd.output().map_err(|e| {
                    Error::io("disk_create: running qemu-img (install qemu-utils)", e)
                })?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(bad(String::from_utf8_lossy(&out.stderr).trim().to_string()))
                }
            }
            other => Err(bad(format!(
                "unsupported format \"{other}\" (raw or qcow2)"
            ))),
        }
    }

    /// Open every drive and read its partition table (direct engine), or
    /// boot the appliance (`Appliance` mode).
    pub(crate) fn impl_launch(&mut self) -> Result<()> {
        if self.launched {
            return Err(Error::invalid("launch: the handle is already launched"));
        }
        *self.appliance_failed.get_mut() = None;
        if let Some(d) = self.drives.iter().find(|d| d.protocol.is_some()) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "launch: {}: protocol \"{}\" is not supported: guestx opens local files and block devices only",
                    d.path.display(),
                    d.protocol.as_deref().unwrap_or_default()
                ),
            ));
        }
        let clock = std::time::Instant::now();
        self.launch_clock = Some((clock, std::time::Duration::ZERO));
        match self.mode {
            Engine::Direct => self.engine = Some(direct::Direct::open(&self.drives)?),
            Engine::Auto => match direct::Direct::open(&self.drives) {
                Ok(d) => self.engine = Some(d),
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    self.ensure_appliance(Some(&e))?;
                    self.on_appliance.set(true);
                }
                Err(e) => return Err(e),
            },
            Engine::Appliance => {
                // Device-level reads (device_kind, inspection's partition
                // queries) use it when the images parse; nothing else does.
                self.engine = direct::Direct::open(&self.drives).ok();
                self.launch_clock = Some((clock, clock.elapsed()));
                self.ensure_appliance(None)?;
                self.on_appliance.set(true);
            }
        }
        self.launched = true;
        self.fire_event(crate::Event::LaunchDone);
        Ok(())
    }

    /// Unmount everything, power the appliance off (if it runs: its writes
    /// are then on the disk images) and drop the engines. The handle can be
    /// launched again.
    pub(crate) fn impl_shutdown(&mut self) -> Result<()> {
        self.engine = None;
        self.mounts.clear();
        self.crypt_opens.clear();
        self.launched = false;
        self.on_appliance.set(false);
        let clock = self.launch_clock.take();
        let Some(a) = self.appliance.get_mut().take() else {
            return Ok(());
        };
        let (r, t) = a.shutdown();
        self.fire_event(crate::Event::SubprocessQuit);
        if self.settings.verbose {
            // One line for every tool: where an appliance run's time went.
            let (open, total) = match clock {
                Some((at, open)) => (open, at.elapsed()),
                None => (std::time::Duration::ZERO, t.launch()),
            };
            eprintln!(
                "libguestfs: timing: open images {}, {t}; total {} from launch to shutdown",
                gx_appliance::timing::ms(open),
                gx_appliance::timing::ms(total)
            );
        }
        r
    }

    /// `close`: shut down and forget every drive.
    pub(crate) fn impl_close(&mut self) -> Result<()> {
        let r = self.shutdown();
        crate::calls::remove_scratch(&self.drives);
        self.drives.clear();
        r
    }

    /// `version`: guestx's version.
    pub(crate) fn impl_version(&self) -> Result<Version> {
        let mut it = env!("CARGO_PKG_VERSION")
            .split('.')
            .map(|p| p.parse::<i64>().unwrap_or(0));
        Ok(Version {
            major: it.next().unwrap_or(0),
            minor: it.next().unwrap_or(0),
            release: it.next().unwrap_or(0),
            extra: "guestx".into(),
        })
    }

    /// `available`: every group named must be available.
    pub(crate) fn impl_available(&self, groups: &[String]) -> Result<()> {
        for g in groups {
            match GROUPS.iter().find(|(n, _)| n == g) {
                None => {
                    return Err(Error::invalid(format!("available: {g}: unknown group")));
                }
                Some((_, progs)) if !progs.iter().all(|p| have_program(p)) => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!("available: {g}: group not available"),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// `available_all_groups`.
    pub(crate) fn impl_available_all_groups(&self) -> Result<Vec<String>> {
        Ok(GROUPS.iter().map(|(n, _)| n.to_string()).collect())
    }

    pub(crate) fn impl_set_verbose(&mut self, verbose: bool) -> Result<()> {
        self.settings.verbose = verbose;
        Ok(())
    }
    pub(crate) fn impl_get_verbose(&self) -> Result<bool> {
        Ok(self.settings.verbose)
    }
    pub(crate) fn impl_set_trace(&mut self, trace: bool) -> Result<()> {
        self.settings.trace = trace;
        Ok(())
    }
    /// `debug_drives`: each drive as libguestfs's `drive_to_string` shows it.
    pub(crate) fn impl_debug_drives(&self) -> Result<Vec<String>> {
        Ok(self
            .drives
            .iter()
            .map(|d| {
                let mut line = d.path.display().to_string();
                if d.options.readonly {
                    line.push_str(" readonly");
                }
                if let Some(f) = d.options.format {
                    line.push_str(&format!(" format={f}"));
                }
                line.push_str(" protocol=file");
                line
            })
            .collect())
    }
    pub(crate) fn impl_get_trace(&self) -> Result<bool> {
        Ok(self.settings.trace)
    }
    pub(crate) fn impl_set_autosync(&mut self, autosync: bool) -> Result<()> {
        self.settings.autosync = autosync;
        Ok(())
    }
    pub(crate) fn impl_get_autosync(&self) -> Result<bool> {
        Ok(self.settings.autosync)
    }
    pub(crate) fn impl_set_pgroup(&mut self, pgroup: bool) -> Result<()> {
        self.settings.pgroup = pgroup;
        Ok(())
    }
    pub(crate) fn impl_get_pgroup(&self) -> Result<bool> {
        Ok(self.settings.pgroup)
    }
    pub(crate) fn impl_set_memsize(&mut self, memsize: i32) -> Result<()> {
        if memsize < 128 {
            return Err(Error::invalid(format!(
                "set_memsize: {memsize} MiB is too small (128 at least)"
            )));
        }
        self.settings.memsize = memsize;
        Ok(())
    }
    pub(crate) fn impl_get_memsize(&self) -> Result<i32> {
        Ok(self.settings.memsize)
    }
    pub(crate) fn impl_set_smp(&mut self, smp: i32) -> Result<()> {
        if !(1..=255).contains(&smp) {
            return Err(Error::invalid(format!(
                "set_smp: {smp}: must be between 1 and 255"
            )));
        }
        self.settings.smp = smp;
        Ok(())
    }
    pub(crate) fn impl_get_smp(&self) -> Result<i32> {
        Ok(self.settings.smp)
    }
    /// `set_backend`: `vmm`, `qemu`, or `direct`/`libvirt`/empty (choose).
    pub(crate) fn impl_set_backend(&mut self, backend: &str) -> Result<()> {
        self.backend = match backend {
            "" | "direct" | "libvirt" => None,
            b => Some(b.parse::<crate::Backend>().map_err(|_| {
                Error::invalid(format!(
                    "set_backend: unknown backend \"{b}\" (vmm, qemu or direct)"
                ))
            })?),
        };
        Ok(())
    }
    pub(crate) fn impl_get_backend(&self) -> Result<String> {
        Ok(match self.appliance_backend().or(self.backend) {
            Some(b) => b.to_string(),
            None => "direct".into(),
        })
    }
    pub(crate) fn impl_set_append(&mut self, append: Option<&str>) -> Result<()> {
        self.settings.append = append.filter(|s| !s.is_empty()).map(str::to_string);
        Ok(())
    }
    pub(crate) fn impl_get_append(&self) -> Result<Option<String>> {
        Ok(self.settings.append.clone())
    }
    pub(crate) fn impl_set_program(&mut self, program: &str) -> Result<()> {
        self.settings.program = program.to_string();
        Ok(())
    }
    pub(crate) fn impl_get_program(&self) -> Result<String> {
        Ok(self.settings.program.clone())
    }
    pub(crate) fn impl_get_cachedir(&self) -> Result<String> {
        Ok(gx_appliance::image::cache_root().display().to_string())
    }
    pub(crate) fn impl_get_tmpdir(&self) -> Result<String> {
        Ok(std::env::temp_dir().display().to_string())
    }
    pub(crate) fn impl_is_config(&self) -> Result<bool> {
        Ok(!self.launched)
    }
    pub(crate) fn impl_is_ready(&self) -> Result<bool> {
        Ok(self.launched)
    }
}

/// A qemu-img `-o` value: commas are doubled.
fn qemu_opt(s: &str) -> String {
    s.replace(',', ",,")
}

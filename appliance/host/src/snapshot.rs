//! Launching from a saved snapshot of a booted appliance (QEMU only).
//!
//! Booting the stock kernel under TCG costs about 1.3 s here, nearly all of it
//! inside the kernel. So the first launch with a given VM layout boots as usual
//! and, right after the agent's hello, saves the whole VM; every launch,
//! that first one included, then restores that snapshot.
//!
//! A snapshot is a directory of two files. The VM that boots to save one has
//! its RAM in a shared file mapping ([`crate::qemu::Ram::Save`]); QEMU's
//! migration with the `x-ignore-shared` capability then writes only the
//! device state (`vmstate`, ~64 KB), and the RAM file itself (`ram`, sparse,
//! ~95 MB of data for 512 MB of RAM, most of it the kernel image) is the
//! snapshot's memory. That VM is killed once saved: run on, it would write
//! into the snapshot. A restoring VM maps `ram` privately
//! ([`crate::qemu::Ram::Restore`]): its pages come from the page cache as the
//! guest touches them and its writes stay in its own copy-on-write pages, so
//! any number of VMs restore one snapshot at once and none of them changes
//! it. Restoring thus reads ~64 KB instead of streaming the whole RAM through
//! a pipe (the previous format, one 80 MB migration stream: 124-161 ms of a
//! launch here; now ~40-60 ms, under load).
//!
//! Why this is safe:
//! - The snapshot is taken before the host's first call, and the agent binds
//!   the disk driver to the disks only in `internal_start` (the first call;
//!   the driver is loaded before the hello with the virtio bus's automatic
//!   probing off), so the saved guest has never seen a disk: each launch
//!   probes its own drives afresh.
//!   The VM layout (device count and order, memory, CPU, kernel command line,
//!   QEMU binary) is part of the snapshot's key, so only a VM with exactly the
//!   same devices restores it; the drives' files, formats and read-only flags
//!   are host-side and may differ.
//! - `internal_start` also sets the guest's clock (else it would be the
//!   snapshot's time) and mixes fresh host entropy into the kernel RNG and
//!   reseeds it (else every restored VM would replay the same random stream:
//!   the same UUIDs from mkfs).
//! - A snapshot that fails to restore is deleted and the launch boots instead.
//!
//! Disable with `GX_NO_SNAPSHOT=1` or `Config::snapshot = false`.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::image::{Fnv, unique};

/// Snapshots kept per appliance directory (one per VM layout in use, ~95 MB
/// of data each, in a sparse RAM file); the oldest beyond this are removed when one is saved.
const KEEP: usize = 4;

/// Bump when what the agent does before its hello changes in a way the
/// appliance key does not capture.
const SNAPSHOT_VERSION: u32 = 3;

/// Where the snapshot for one VM layout lives: a directory holding the
/// migration stream (`vmstate`, device state only) and the guest's RAM
/// (`ram`, a sparse file of the VM's memory size). The two are made by one
/// save and only make sense together, so they are published together: the
/// directory is written under a temporary name and renamed into place.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub dir: PathBuf,
}

impl Snapshot {
    /// The snapshot for the VM that `cmd` starts (with placeholder drive and
    /// socket paths: see [`crate::qemu::layout_command`]), kept in `dir`. `None`
    /// when the path cannot be passed to QEMU's `exec:` safely.
    pub fn for_layout(dir: &Path, layout: &Command) -> Option<Snapshot> {
        let mut h = Fnv::new();
        h.add(&SNAPSHOT_VERSION.to_le_bytes());
        h.add(&gx_protocol::PROTOCOL_VERSION.to_le_bytes());
        let prog = Path::new(layout.get_program());
        h.add_file_id(prog);
        let cache = crate::image::cache_root();
        for a in layout.get_args() {
            h.add(a.as_encoded_bytes());
            // The real QEMU binary behind the setpriv wrapper. Files in the cache
            // (kernel, initramfs) are named by a hash of their inputs already,
            // and the initramfs's mtime marks its last use.
            let p = Path::new(a);
            if p.is_absolute() && p.is_file() && !p.starts_with(&cache) {
                h.add_file_id(p);
            }
        }
        for fw in [
            "/usr/share/qemu/bios-microvm.bin",
            "/usr/share/seabios/bios-microvm.bin",
        ] {
            h.add_file_id(Path::new(fw));
        }
        let dir = dir.join(format!("snapshot-{:016x}", h.0));
        shell_quote(&dir.join(VMSTATE))?;
        Some(Snapshot { dir })
    }

    /// The migration stream.
    pub fn vmstate(&self) -> PathBuf {
        self.dir.join(VMSTATE)
    }

    /// The guest RAM file.
    pub fn ram(&self) -> PathBuf {
        self.dir.join(RAM)
    }

    pub fn exists(&self) -> bool {
        self.vmstate().is_file() && self.ram().is_file()
    }

    /// The migration stream, for a restoring VM
    /// ([`crate::qemu::VmSpec::incoming`]).
    pub fn open_stream(&self) -> io::Result<std::fs::File> {
        std::fs::File::open(self.vmstate())
    }

    /// Starts restoring this snapshot into the VM behind the QMP socket
    /// `qmp`, started with [`Self::open_stream`] and this snapshot's RAM
    /// ([`crate::qemu::Ram::Restore`]). Returns once QEMU reads the stream;
    /// the restore ends when the agent answers.
    pub fn restore(&self, qmp: &Path, deadline: Instant) -> io::Result<()> {
        let mut q = Qmp::connect(qmp, deadline)?;
        q.execute("migrate-set-capabilities", IGNORE_SHARED)?;
        q.execute(
            "migrate-incoming",
            &format!(r#"{{"uri": "fd:{}"}}"#, crate::qemu::INCOMING_FD),
        )?;
        Ok(())
    }

    /// Forgets a snapshot that did not restore.
    pub fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Where a VM with `memory_mib` of RAM that boots to save this snapshot
    /// keeps its RAM until then ([`crate::qemu::Ram::Save`]): a fresh name
    /// beside the snapshot (the same filesystem, so that saving renames it).
    /// Creates the directory. Refused when that filesystem has less free
    /// space than the RAM and a margin: the file is sparse, but a guest that
    /// touched a page the filesystem could not give would kill QEMU
    /// (SIGBUS), so such a launch boots without saving instead.
    pub fn boot_ram(&self, memory_mib: u32) -> io::Result<PathBuf> {
        let dir = self.parent();
        // Under the cache, only once the cache passed its ownership checks.
        if dir.starts_with(crate::image::cache_root()) {
            crate::image::ensure_cache_root().map_err(|e| io::Error::other(e.to_string()))?;
        }
        crate::image::create_private_dir(dir).map_err(|e| io::Error::other(e.to_string()))?;
        let fs = nix::sys::statvfs::statvfs(dir).map_err(io::Error::from)?;
        let free = fs.blocks_available().saturating_mul(fs.fragment_size());
        let need = (u64::from(memory_mib) << 20) + (256 << 20);
        if free < need {
            return Err(io::Error::other(format!(
                "{} MiB free in {}, a snapshot's RAM wants {} MiB",
                free >> 20,
                dir.display(),
                need >> 20
            )));
        }
        Ok(self.tmp_name("ram"))
    }

    /// The directory the snapshot lives in (the appliance's state directory).
    fn parent(&self) -> &Path {
        self.dir.parent().unwrap_or(Path::new("."))
    }

    /// `.<snapshot-name>.<what>.tmp-<pid>-<n>` beside the snapshot.
    fn tmp_name(&self, what: &str) -> PathBuf {
        self.parent().join(format!(
            ".{}.{what}.tmp-{}-{}",
            self.dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id(),
            unique()
        ))
    }

    /// Saves the VM behind the QMP socket `qmp`, whose RAM is the shared
    /// file `ram` (from [`Self::boot_ram`]), as this snapshot. Bounded by
    /// `timeout`. On success the VM is left paused, its RAM now the
    /// snapshot's: the caller must end it (its guest would write on into
    /// the snapshot) and restore the snapshot to go on. On failure the VM
    /// is resumed (best effort), `ram` is unlinked (the VM keeps its
    /// mapping) and nothing is left at the snapshot's path.
    pub fn save(&self, qmp: &Path, ram: &Path, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let tmp = self.tmp_name("dir");
        let r = (|| {
            std::fs::create_dir(&tmp)?;
            let quoted = shell_quote(&tmp.join(VMSTATE))
                .ok_or_else(|| io::Error::other("snapshot path needs quoting we do not do"))?;
            let mut q = Qmp::connect(qmp, deadline)?;
            let r = (|| {
                // Device state only (the RAM is the file): no bandwidth cap
                // to lift.
                q.execute("migrate-set-capabilities", IGNORE_SHARED)?;
                q.execute(
                    "migrate",
                    &format!(r#"{{"uri": "exec:cat > {}"}}"#, json_str(&quoted)),
                )?;
                loop {
                    let r = q.execute("query-migrate", "")?;
                    let status = json_field(&r, "status").unwrap_or_default();
                    match status.as_str() {
                        "completed" => break,
                        "failed" | "cancelled" => {
                            return Err(io::Error::other(format!("migration {status}: {r}")));
                        }
                        _ => {}
                    }
                    if Instant::now() > deadline {
                        let _ = q.execute("migrate_cancel", "");
                        return Err(io::Error::other("saving the snapshot took too long"));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(())
            })();
            if r.is_err() {
                // The source VM is paused once migration completes, and
                // maybe when it failed: run it on.
                let _ = q.execute("cont", "");
            }
            r?;
            // The VM is paused for good: its RAM will not change any more.
            std::fs::rename(ram, tmp.join(RAM))?;
            match std::fs::rename(&tmp, &self.dir) {
                Ok(()) => {}
                // Another launch of this layout saved it first (rename(2)
                // will not replace a directory that is not empty): keep
                // theirs, which is as good.
                Err(_) if self.exists() => {
                    let _ = std::fs::remove_dir_all(&tmp);
                }
                Err(e) => return Err(e),
            }
            prune(self.parent(), KEEP);
            Ok(())
        })();
        if r.is_err() {
            let _ = std::fs::remove_file(ram);
            let _ = std::fs::remove_dir_all(&tmp);
        }
        r
    }
}

/// Migrate shared RAM by reference: the RAM file is the snapshot's RAM.
const IGNORE_SHARED: &str =
    r#"{"capabilities": [{"capability": "x-ignore-shared", "state": true}]}"#;

/// File names inside a snapshot's directory.
const VMSTATE: &str = "vmstate";
const RAM: &str = "ram";

/// The kernel QEMU is given when restoring: a stub of `vmlinux` (its ELF
/// header and PVH note, one 16-byte segment) kept next to it, or `None` when
/// `vmlinux` is no PVH ELF (a bzImage) or the stub cannot be written; then the
/// kernel itself is given.
///
/// Why: QEMU loads `-kernel` before it restores (~36 MB of segments copied
/// into ROM blobs and into guest RAM, ~35 ms here), and the restore then
/// overwrites all of it. What the restore needs from the kernel is only what
/// decides the VM's layout: an ELF with a PVH entry (so that the same `pvh.bin`
/// option ROM is set up); the entry itself is never used again (`-no-reboot`).
pub fn restore_kernel(vmlinux: &Path) -> Option<PathBuf> {
    // Only beside the vmlinux we extracted into the cache, never beside a
    // kernel the user named.
    if !vmlinux.starts_with(crate::image::cache_root()) {
        return None;
    }
    let stub = vmlinux.with_file_name("pvh-restore-stub.elf");
    if stub.is_file() {
        return Some(stub);
    }
    let bytes = pvh_stub(vmlinux).ok()??;
    let tmp = vmlinux.with_file_name(format!(
        ".pvh-restore-stub.tmp-{}-{}",
        std::process::id(),
        unique()
    ));
    let r = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &stub));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return None;
    }
    Some(stub)
}

/// Where the stub's one loadable segment lies in its file (and its size).
const STUB_LOAD_OFFSET: usize = 0x1000;
const STUB_LOAD_SIZE: usize = 16;

/// The stub's bytes: `vmlinux`'s ELF header, then two program headers (a
/// PT_LOAD of 16 bytes of `hlt` at the kernel's first load address, and its
/// PT_NOTE, whose notes are copied as they are). `None` when it is no ELF64
/// with a note segment.
fn pvh_stub(vmlinux: &Path) -> io::Result<Option<Vec<u8>>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(vmlinux)?;
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh)?;
    // ELF64, little-endian.
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Ok(None);
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u64_at = |b: &[u8], o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        u64::from_le_bytes(a)
    };
    let phoff = u64_at(&eh, 32);
    let phentsize = usize::from(u16_at(&eh, 54));
    let phnum = usize::from(u16_at(&eh, 56));
    if phentsize != 56 || phnum == 0 || phnum > 64 {
        return Ok(None);
    }
    let mut ph = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut ph)?;
    let phdrs: Vec<&[u8]> = ph.chunks(phentsize).collect();
    let p_type = |p: &[u8]| u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
    let Some(load) = phdrs.iter().find(|p| p_type(p) == 1) else {
        return Ok(None);
    };
    let Some(note) = phdrs.iter().find(|p| p_type(p) == 4) else {
        return Ok(None);
    };
    let note_size = u64_at(note, 32);
    if note_size == 0 || note_size > 64 << 10 {
        return Ok(None);
    }
    let mut notes = vec![0u8; note_size as usize];
    f.seek(SeekFrom::Start(u64_at(note, 8)))?;
    f.read_exact(&mut notes)?;
    // Only a kernel with a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, 18) is
    // booted by QEMU as PVH; anything else is left alone.
    if !has_note(&notes, b"Xen\0", 18) {
        return Ok(None);
    }
    let note_off = 64 + 2 * 56;
    if note_off + notes.len() > STUB_LOAD_OFFSET {
        return Ok(None);
    }
    let mut out = eh.to_vec();
    out[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    out[40..48].copy_from_slice(&0u64.to_le_bytes()); // e_shoff
    out[56..58].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
    out[60..64].copy_from_slice(&[0; 4]); // e_shnum, e_shstrndx
    let paddr = u64_at(load, 24);
    let mut phdr =
        |ty: u32, flags: u32, off: usize, vaddr: u64, paddr: u64, size: u64, align: u64| {
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&(off as u64).to_le_bytes());
            out.extend_from_slice(&vaddr.to_le_bytes());
            out.extend_from_slice(&paddr.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&align.to_le_bytes());
        };
    phdr(
        1,
        5,
        STUB_LOAD_OFFSET,
        paddr,
        paddr,
        STUB_LOAD_SIZE as u64,
        0x1000,
    );
    phdr(
        4,
        u32::from_le_bytes([note[4], note[5], note[6], note[7]]),
        note_off,
        u64_at(note, 16),
        u64_at(note, 24),
        note_size,
        u64_at(note, 48),
    );
    out.extend_from_slice(&notes);
    out.resize(STUB_LOAD_OFFSET, 0);
    out.extend_from_slice(&[0xf4; STUB_LOAD_SIZE]); // hlt
    Ok(Some(out))
}

/// Whether an ELF note segment holds a note of `name` (NUL included) and `ty`.
fn has_note(mut notes: &[u8], name: &[u8], ty: u32) -> bool {
    let word = |b: &[u8], o: usize| -> Option<usize> {
        let w = b.get(o..o + 4)?;
        usize::try_from(u32::from_le_bytes([w[0], w[1], w[2], w[3]])).ok()
    };
    let up4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    while notes.len() >= 12 {
        let (Some(namesz), Some(descsz), Some(t)) =
            (word(notes, 0), word(notes, 4), word(notes, 8))
        else {
            return false;
        };
        let Some(n) = up4(namesz) else { return false };
        let Some(d) = up4(descsz) else { return false };
        if notes.get(12..12 + namesz) == Some(name) && t == ty as usize {
            return true;
        }
        let Some(next) = n.checked_add(d).and_then(|x| x.checked_add(12)) else {
            return false;
        };
        notes = notes.get(next..).unwrap_or_default();
    }
    false
}

/// Removes all but the `keep` most recently modified snapshots in `dir`,
/// snapshots of the older one-file format (`snapshot-*.vmstate`), and the
/// temporary files of saves whose process is gone (a launch killed while
/// booting leaves its RAM file behind).
fn prune(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut snaps: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for e in rd.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        let p = e.path();
        if n.starts_with("snapshot-") && n.ends_with(".vmstate") {
            let _ = std::fs::remove_file(&p);
        } else if n.starts_with("snapshot-") {
            if let Some(t) = e.metadata().ok().and_then(|m| m.modified().ok()) {
                snaps.push((t, p));
            }
        } else if n.starts_with(".snapshot-") {
            let pid = n
                .rsplit_once(".tmp-")
                .and_then(|(_, t)| t.split('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
            }
        }
    }
    snaps.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (_, p) in snaps.into_iter().skip(keep) {
        let _ = std::fs::remove_dir_all(p);
    }
}

/// `'path'` for /bin/sh, or `None` when the path holds a quote or is not UTF-8.
fn shell_quote(p: &Path) -> Option<String> {
    let s = p.to_str()?;
    if s.contains('\'') || s.contains('"') || s.contains('\\') || s.contains('\n') {
        return None;
    }
    Some(format!("'{s}'"))
}

/// `s` as the inside of a JSON string (it has no quotes or backslashes: see
/// [`shell_quote`]; control characters are escaped anyway).
fn json_str(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{:04x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The string value of the first `"name": "value"` in a JSON line.
fn json_field(line: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let at = line.find(&key)? + key.len();
    let rest = line[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// A minimal QMP client: one command at a time, answers read line by line
/// (QEMU writes one JSON object per line), events skipped.
struct Qmp {
    rd: BufReader<UnixStream>,
    wr: UnixStream,
}

impl Qmp {
    fn connect(path: &Path, deadline: Instant) -> io::Result<Qmp> {
        let s = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(100))))?;
        let mut q = Qmp {
            rd: BufReader::new(s.try_clone()?),
            wr: s,
        };
        let mut greeting = String::new();
        q.rd.read_line(&mut greeting)?;
        if !greeting.contains("\"QMP\"") {
            return Err(io::Error::other(format!("not a QMP greeting: {greeting}")));
        }
        q.execute("qmp_capabilities", "")?;
        Ok(q)
    }

    /// Runs `cmd` with `args` (a JSON object, or empty); the `return` line.
    fn execute(&mut self, cmd: &str, args: &str) -> io::Result<String> {
        let msg = if args.is_empty() {
            format!("{{\"execute\": \"{cmd}\"}}\n")
        } else {
            format!("{{\"execute\": \"{cmd}\", \"arguments\": {args}}}\n")
        };
        self.wr.write_all(msg.as_bytes())?;
        loop {
            let mut line = String::new();
            if self.rd.read_line(&mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "QEMU closed the QMP socket",
                ));
            }
            if line.contains("\"return\"") {
                return Ok(line);
            }
            if line.contains("\"error\"") {
                let desc = json_field(&line, "desc").unwrap_or(line);
                return Err(io::Error::other(format!("QMP {cmd}: {desc}")));
            }
            // An event: skip.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 like a vmlinux: two PT_LOADs and a PT_NOTE holding a GNU note,
    /// then Xen notes, the PVH entry (type 18) last.
    fn fake_vmlinux(pvh: bool) -> Vec<u8> {
        let mut notes = Vec::new();
        let mut note = |name: &[u8], ty: u32, desc: &[u8]| {
            notes.extend_from_slice(&(name.len() as u32).to_le_bytes());
            notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            notes.extend_from_slice(&ty.to_le_bytes());
            notes.extend_from_slice(name);
            notes.resize(notes.len().next_multiple_of(4), 0);
            notes.extend_from_slice(desc);
            notes.resize(notes.len().next_multiple_of(4), 0);
        };
        note(b"GNU\0", 3, &[7; 20]);
        note(b"Xen\0", 6, b"linux\0");
        if pvh {
            note(b"Xen\0", 18, &0x0100_0850u64.to_le_bytes());
        }
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&0x0100_0000u64.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&3u16.to_le_bytes());
        let data = 0x2000u64;
        let note_off = 0x1000u64;
        let ph = |ty: u32, off: u64, vaddr: u64, paddr: u64, size: u64, align: u64| {
            let mut p = Vec::new();
            p.extend_from_slice(&ty.to_le_bytes());
            p.extend_from_slice(&5u32.to_le_bytes());
            for v in [off, vaddr, paddr, size, size, align] {
                p.extend_from_slice(&v.to_le_bytes());
            }
            p
        };
        f.extend(ph(
            1,
            data,
            0xffff_ffff_8100_0000,
            0x0100_0000,
            0x100,
            0x20_0000,
        ));
        f.extend(ph(
            1,
            data + 0x100,
            0xffff_ffff_8200_0000,
            0x0200_0000,
            0x100,
            0x20_0000,
        ));
        let n = notes.len() as u64;
        f.extend(ph(4, note_off, 0xffff_ffff_8243_7e70, 0x0243_7e70, n, 4));
        f.resize(note_off as usize, 0);
        f.extend_from_slice(&notes);
        f.resize(data as usize + 0x200, 0x90);
        f
    }

    /// readelf (binutils) is the oracle: the stub has one 16-byte LOAD at the
    /// kernel's first physical address and the PVH entry note.
    #[test]
    fn restore_stub_keeps_the_pvh_entry_and_drops_the_kernel() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("vmlinux");
        std::fs::write(&k, fake_vmlinux(true)).unwrap();
        let stub = pvh_stub(&k).unwrap().expect("a stub");
        assert_eq!(stub.len(), STUB_LOAD_OFFSET + STUB_LOAD_SIZE);
        let sp = d.path().join("stub");
        std::fs::write(&sp, &stub).unwrap();
        let out = Command::new("readelf").args(["-lnW"]).arg(&sp).output();
        let out = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            other => panic!("readelf (binutils) is needed: {other:?}"),
        };
        let loads: Vec<&str> = out
            .lines()
            .filter(|l| l.trim().starts_with("LOAD"))
            .collect();
        assert_eq!(loads.len(), 1, "{out}");
        let f: Vec<&str> = loads[0].split_whitespace().collect();
        assert_eq!(
            &f[1..6],
            [
                "0x001000",
                "0x0000000001000000",
                "0x0000000001000000",
                "0x000010",
                "0x000010"
            ],
            "{out}"
        );
        assert!(
            out.contains("(0x00000012)") && out.contains("50 08 00 01 00 00 00 00"),
            "{out}"
        );
        // No PVH note, or no ELF: no stub (QEMU would boot those differently).
        std::fs::write(&k, fake_vmlinux(false)).unwrap();
        assert!(pvh_stub(&k).unwrap().is_none());
        std::fs::write(
            &k,
            b"MZ not an ELF at all, but long enough for a header .....................",
        )
        .unwrap();
        assert!(pvh_stub(&k).unwrap().is_none());
    }

    #[test]
    fn json_fields_are_found() {
        let l = r#"{"return": {"expected-downtime": 300, "status": "completed", "x": 1}}"#;
        assert_eq!(json_field(l, "status").as_deref(), Some("completed"));
        assert_eq!(json_field(r#"{"a":"b"}"#, "a").as_deref(), Some("b"));
        assert_eq!(json_field(l, "nope"), None);
    }

    /// A boot that saves keeps the VM's RAM in a file beside the snapshot:
    /// refused on a filesystem without room for it (a tmpfs of 400 MiB
    /// here), allowed where there is.
    #[test]
    fn boot_ram_wants_room_for_the_ram() {
        let d = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=400m,mode=0700", "tmpfs"])
            .arg(d.path())
            .status();
        if !st.is_ok_and(|s| s.success()) {
            gx_testdata::skip_or_fail!(
                "boot_ram_wants_room_for_the_ram: cannot mount a tmpfs (needs root)"
            );
            return;
        }
        let snap = Snapshot {
            dir: d.path().join("cache/snapshot-1"),
        };
        let small = snap.boot_ram(64);
        let big = snap.boot_ram(512);
        let _ = std::process::Command::new("umount").arg(d.path()).status();
        let small = small.expect("room for 64 MiB");
        assert!(small.starts_with(d.path().join("cache")), "{small:?}");
        let e = big.expect_err("no room for 512 MiB + margin in 400 MiB");
        assert!(e.to_string().contains("free"), "{e}");
    }

    #[test]
    fn only_safe_paths_are_quoted() {
        assert_eq!(
            shell_quote(Path::new("/a b/c")).as_deref(),
            Some("'/a b/c'")
        );
        assert_eq!(shell_quote(Path::new("/a'b")), None);
        assert_eq!(shell_quote(Path::new("/a\"b")), None);
    }

    #[test]
    fn prune_keeps_the_newest() {
        let d = std::env::temp_dir().join(format!("gx-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..6 {
            let s = d.join(format!("snapshot-{i}"));
            std::fs::create_dir(&s).unwrap();
            std::fs::write(s.join("vmstate"), b"x").unwrap();
            std::thread::sleep(Duration::from_millis(15));
        }
        std::fs::write(d.join("initrd"), b"x").unwrap();
        // The older format, and leftovers of a dead process and of us.
        std::fs::write(d.join("snapshot-9.vmstate"), b"x").unwrap();
        let dead = ".snapshot-1.ram.tmp-999999999-1";
        let live = format!(".snapshot-1.ram.tmp-{}-2", std::process::id());
        std::fs::write(d.join(dead), b"x").unwrap();
        std::fs::write(d.join(&live), b"x").unwrap();
        prune(&d, 4);
        let mut left: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                live.as_str(),
                "initrd",
                "snapshot-2",
                "snapshot-3",
                "snapshot-4",
                "snapshot-5"
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

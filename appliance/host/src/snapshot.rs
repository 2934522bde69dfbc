//! Launching from a saved snapshot of a booted appliance (QEMU only).
//!
//! Booting the stock kernel under TCG costs about 1.3 s here, nearly all of it
//! inside the kernel. So the first launch with a given VM layout boots as usual
//! and, right after the agent's hello, saves the whole VM (QEMU migration to a
//! file, ~80 MB, most of it the kernel image); later launches start QEMU with
//! `-incoming` from that file and are ready in ~0.15 s.
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

/// Snapshots kept per appliance directory (one per VM layout in use, ~80 MB
/// each); the oldest beyond this are removed when one is saved.
const KEEP: usize = 4;

/// Bump when what the agent does before its hello changes in a way the
/// appliance key does not capture.
const SNAPSHOT_VERSION: u32 = 2;

/// Where the snapshot for one VM layout lives.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub path: PathBuf,
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
        let path = dir.join(format!("snapshot-{:016x}.vmstate", h.0));
        shell_quote(&path)?;
        Some(Snapshot { path })
    }

    pub fn exists(&self) -> bool {
        self.path.is_file()
    }

    /// `-incoming` argument that restores it.
    pub fn incoming(&self) -> String {
        format!("exec:cat {}", shell_quote(&self.path).unwrap_or_default())
    }

    /// Forgets a snapshot that did not restore.
    pub fn discard(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Saves the running VM behind the QMP socket `qmp` to this snapshot and
    /// lets it run on. Bounded by `timeout`; on failure the VM is still resumed
    /// (best effort) and nothing is left at the snapshot's path.
    pub fn save(&self, qmp: &Path, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id(),
            unique()
        ));
        let quoted = shell_quote(&tmp)
            .ok_or_else(|| io::Error::other("snapshot path needs quoting we do not do"))?;
        // Under the cache, only once the cache passed its ownership checks.
        if dir.starts_with(crate::image::cache_root()) {
            crate::image::ensure_cache_root().map_err(|e| io::Error::other(e.to_string()))?;
        }
        crate::image::create_private_dir(dir).map_err(|e| io::Error::other(e.to_string()))?;
        let mut q = Qmp::connect(qmp, deadline)?;
        let r = (|| {
            // The default cap (128 MiB/s) would make saving take ~0.6 s.
            q.execute(
                "migrate-set-parameters",
                r#"{"max-bandwidth": 68719476736}"#,
            )?;
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
        // The source VM is paused once migration completes: run it on either way.
        let cont = q.execute("cont", "");
        let r = r.and(cont.map(|_| ()));
        match r {
            Ok(()) => {
                std::fs::rename(&tmp, &self.path)?;
                prune(dir, KEEP);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}

/// Removes all but the `keep` most recently modified snapshots in `dir`.
fn prune(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut snaps: Vec<(std::time::SystemTime, PathBuf)> = rd
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("snapshot-") && n.ends_with(".vmstate")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    snaps.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (_, p) in snaps.into_iter().skip(keep) {
        let _ = std::fs::remove_file(p);
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

    #[test]
    fn json_fields_are_found() {
        let l = r#"{"return": {"expected-downtime": 300, "status": "completed", "x": 1}}"#;
        assert_eq!(json_field(l, "status").as_deref(), Some("completed"));
        assert_eq!(json_field(r#"{"a":"b"}"#, "a").as_deref(), Some("b"));
        assert_eq!(json_field(l, "nope"), None);
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
            std::fs::write(d.join(format!("snapshot-{i}.vmstate")), b"x").unwrap();
            std::thread::sleep(Duration::from_millis(15));
        }
        std::fs::write(d.join("initrd"), b"x").unwrap();
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
                "initrd",
                "snapshot-2.vmstate",
                "snapshot-3.vmstate",
                "snapshot-4.vmstate",
                "snapshot-5.vmstate"
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

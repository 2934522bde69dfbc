//! The cache directory: where it is, created private and refused when someone else could have prepared it (libguestfs's checks), the key hash, and pruning of what nobody used for a week.

use super::*;

/// `$GX_CACHE_DIR`, else `$XDG_CACHE_HOME/guestx`, else `~/.cache/guestx`,
/// else a per-user directory in the system's temporary directory. Only a
/// path: [`ensure_cache_root`] creates and checks it before anything in it
/// is trusted.
pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("GX_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("guestx");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(h).join(".cache/guestx");
    }
    std::env::temp_dir().join(format!("guestx-cache-{}", euid()))
}

/// The effective uid: the owner of our own /proc entry.
pub(super) fn euid() -> u32 {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// [`cache_root`], created (mode 0700) if missing, and refused unless it is
/// a real directory (not a symlink) owned by us and not writable by group
/// or others: what is cached there (initramfs, agent, kernel, VM snapshots)
/// runs in the appliance, so a directory another user can plant files in,
/// e.g. one pre-created under the shared `/tmp` fallback name, must not be
/// used. The same checks as libguestfs's on its cached appliance
/// (lib/tmpdirs.c).
pub fn ensure_cache_root() -> Result<PathBuf, Error> {
    let root = cache_root();
    create_private_dir(&root)?;
    check_private_dir(&root, euid())?;
    Ok(root)
}

/// Creates `dir` and any missing parents with mode 0700 (an existing one is
/// left as it is, for [`check_private_dir`] to judge).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Build(format!("creating cache dir {}: {e}", dir.display())))
}

/// Refuses a cache directory someone else could have prepared.
pub(super) fn check_private_dir(dir: &Path, uid: u32) -> Result<(), Error> {
    let refuse = |why: String| {
        Err(Error::Build(format!(
            "security: cache directory {} {why}; remove it, or set GX_CACHE_DIR or \
             XDG_CACHE_HOME to a directory of your own",
            dir.display()
        )))
    };
    let m = fs::symlink_metadata(dir)
        .map_err(|e| Error::Build(format!("cache dir {}: {e}", dir.display())))?;
    if !m.file_type().is_dir() {
        return refuse(format!("is not a directory (mode {:o})", m.mode()));
    }
    if m.uid() != uid {
        return refuse(format!("is not owned by UID {uid} (owner {})", m.uid()));
    }
    if m.mode() & 0o022 != 0 {
        return refuse(format!(
            "is writable by group or others (mode {:o})",
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

/// FNV-1a, 64 bit: a cache key, not a security boundary (the cache directory is
/// the user's own).
#[derive(Debug)]
pub(crate) struct Fnv(pub(crate) u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn add(&mut self, b: &[u8]) {
        for x in b {
            self.0 ^= u64::from(*x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
    pub(crate) fn add_file_id(&mut self, p: &Path) {
        self.add(p.as_os_str().as_encoded_bytes());
        if let Ok(m) = fs::metadata(p) {
            self.add(&m.len().to_le_bytes());
            self.add(&m.mtime().to_le_bytes());
            self.add(&m.mtime_nsec().to_le_bytes());
            self.add(&m.ino().to_le_bytes());
        }
    }
}

pub(super) fn prune(root: &Path, keep: &Path) {
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    let hour = std::time::Duration::from_secs(3600);
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let max_age = if name.starts_with("appliance-") || name.starts_with("fixed-") {
            // fixed-*: snapshots of a fixed appliance (GX_APPLIANCE_DIR).
            week
        } else if name.starts_with(".appliance-") || name.starts_with(".kernel-") {
            // A builder that died half-way.
            hour
        } else {
            continue;
        };
        let stamp = if p.join("initrd").exists() {
            p.join("initrd")
        } else {
            p.clone()
        };
        let old = fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if old && p != keep {
            let _ = fs::remove_dir_all(&p);
        }
    }
}

pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

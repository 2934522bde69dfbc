//! The helper disk: a read-only ext2 image with the helper programs, their libraries and the extra modules, which the agent mounts on first use.

use super::*;

/// Where the agent mounts the helper image, and the file in the initramfs that
/// names it (the image's ext2 UUID, 32 hex digits).
pub(super) const HELPERS_MOUNT: &str = "/gx/helpers";

pub(super) const HELPERS_ID: &str = "/gx/helpers.uuid";

pub(super) fn find_mke2fs() -> Option<PathBuf> {
    PROGRAM_DIRS
        .iter()
        .map(|d| Path::new(d).join("mke2fs"))
        .find(|p| p.is_file())
}

/// A UUID for the helper image, from the cache key (32 hex digits, no dashes).
pub(super) fn helper_uuid(id: u64) -> String {
    let mut h = Fnv::new();
    h.add(&id.to_le_bytes());
    h.add(b"gx-helpers");
    format!("{:016x}{:016x}", id, h.0)
}

/// `mke2fs -d`: a read-only ext2 image of `staging` (ext4 in the guest kernel
/// is built in and mounts ext2; no journal, nothing to replay).
pub(super) fn make_ext2(staging: &Path, image: &Path, uuid: &str) -> Result<(), Error> {
    let mke2fs = find_mke2fs().ok_or_else(|| Error::Build("mke2fs not found".into()))?;
    let (mut bytes, mut inodes) = (0u64, 16u64);
    pub(super) fn walk(p: &Path, bytes: &mut u64, inodes: &mut u64) {
        if let Ok(rd) = fs::read_dir(p) {
            for e in rd.flatten() {
                *inodes += 1;
                if let Ok(m) = e.metadata() {
                    // Data rounded up to blocks, plus an indirect block per 4 MiB.
                    *bytes += m.len().div_ceil(4096) * 4096 + m.len() / 1024 + 4096;
                    if m.is_dir() {
                        walk(&e.path(), bytes, inodes);
                    }
                }
            }
        }
    }
    walk(staging, &mut bytes, &mut inodes);
    let kib = (bytes + bytes / 8) / 1024 + 8192;
    let u = uuid.as_bytes();
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        String::from_utf8_lossy(&u[0..8]),
        String::from_utf8_lossy(&u[8..12]),
        String::from_utf8_lossy(&u[12..16]),
        String::from_utf8_lossy(&u[16..20]),
        String::from_utf8_lossy(&u[20..32])
    );
    let out = Command::new(&mke2fs)
        .args([
            "-q",
            "-F",
            "-t",
            "ext2",
            "-b",
            "4096",
            "-m",
            "0",
            "-L",
            "gx-helpers",
        ])
        .args(["-N", &(inodes + 64).to_string(), "-U", &dashed])
        .args(["-E", "root_owner=0:0", "-d"])
        .arg(staging)
        .arg(image)
        .arg(format!("{kib}k"))
        .env("E2FSPROGS_FAKE_TIME", "0")
        .output()
        .map_err(|e| Error::Build(format!("running {}: {e}", mke2fs.display())))?;
    if !out.status.success() {
        return Err(Error::Build(format!(
            "mke2fs -d failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

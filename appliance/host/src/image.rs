//! Building the appliance: the initramfs (our own cpio newc writer) holding the
//! agent as `/init`, the kernel modules it needs in load order, and host helper
//! programs with their shared libraries (like supermin); plus the cache, keyed by
//! a hash of every input's identity, under `$XDG_CACHE_HOME/guestx/`.
//!
//! Concurrency: each builder writes into its own temporary directory and renames
//! it into place; a builder that loses the race drops its copy. Readers only ever
//! see complete directories.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;
use crate::kernel::{self, Kernel};

/// Bump when the layout of what we build changes, so old caches are not reused.
const BUILDER_VERSION: u32 = 3;

/// Loaded by the agent at boot: just what it needs to reach its channel and disks.
const BOOT_MODULES: &[&str] = &["virtio_mmio", "virtio_blk", "virtio_console", "virtio_rng"];
/// Loaded by the agent before the first call that may need them.
const EXTRA_MODULES: &[&str] = &[
    "fat",
    "vfat",
    "msdos",
    "nls_ascii",
    "nls_cp437",
    "nls_iso8859_1",
    "nls_utf8",
    "fuse",
    "dm_mod",
    "dm_snapshot",
    "dm_mirror",
    "dm_zero",
    "xfs",
    "isofs",
    "loop",
    "exfat",
    "crc32c_intel",
];
/// Host programs the agent may run. Missing ones are skipped: their calls then
/// fail with a message saying the tool is not in the appliance.
const PROGRAMS: &[&str] = &[
    "busybox",
    "blkid",
    "mke2fs",
    "e2fsck",
    "resize2fs",
    "tune2fs",
    "mkfs.vfat",
    "fsck.vfat",
    "mkntfs",
    "ntfs-3g",
    "ntfsresize",
    "mkfs.xfs",
    "xfs_repair",
    "lvm",
    "parted",
    "sfdisk",
    "sgdisk",
    "wipefs",
    "mkswap",
];
const PROGRAM_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// LVM without udev or lvmetad, and without a devices file (it would hide the
/// appliance's disks).
const LVM_CONF: &str = "devices {\n  use_devicesfile = 0\n  obtain_device_list_from_udev = 0\n}\n\
activation {\n  udev_sync = 0\n  udev_rules = 0\n  monitoring = 0\n}\n\
global {\n  use_lvmpolld = 0\n  locking_dir = \"/run/lock/lvm\"\n}\n";

/// A built appliance.
#[derive(Debug, Clone)]
pub struct ApplianceFiles {
    /// ELF vmlinux (PVH) when extraction worked, else the bzImage.
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Helper programs that were found and copied in.
    pub programs: Vec<String>,
}

/// `$XDG_CACHE_HOME/guestx`, else `~/.cache/guestx`, else a per-user dir in /tmp.
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
    std::env::temp_dir().join(format!("guestx-cache-{}", uid()))
}

fn uid() -> u32 {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// FNV-1a, 64 bit: a cache key, not a security boundary (the cache directory is
/// the user's own).
#[derive(Debug)]
struct Fnv(u64);
impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, b: &[u8]) {
        for x in b {
            self.0 ^= u64::from(*x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
    fn add_file_id(&mut self, p: &Path) {
        self.add(p.as_os_str().as_encoded_bytes());
        if let Ok(m) = fs::metadata(p) {
            self.add(&m.len().to_le_bytes());
            self.add(&m.mtime().to_le_bytes());
            self.add(&m.mtime_nsec().to_le_bytes());
            self.add(&m.ino().to_le_bytes());
        }
    }
}

/// Finds the agent binary: `GX_AGENT`, else next to the current executable,
/// else one directory up (test binaries live in target/*/deps).
pub fn find_agent() -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os("GX_AGENT") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| Error::Build(format!("current_exe: {e}")))?;
    let mut dir = exe.parent().map(Path::to_path_buf);
    for _ in 0..2 {
        if let Some(d) = dir {
            let cand = d.join("gx-agent");
            if cand.is_file() {
                return Ok(cand);
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    Err(Error::Build(
        "the agent binary gx-agent was not found next to this program: build it \
         (`cargo build -p gx-agent`) or set GX_AGENT to its path"
            .into(),
    ))
}

/// Returns the cached appliance for these inputs, building it if needed.
pub fn ensure_appliance(kernel: &Kernel, agent: &Path) -> Result<ApplianceFiles, Error> {
    let root = cache_root();
    fs::create_dir_all(&root)
        .map_err(|e| Error::Build(format!("creating cache dir {}: {e}", root.display())))?;

    let kern = ensure_kernel(&root, kernel)?;

    let programs = find_programs();
    let mut h = Fnv::new();
    h.add(&BUILDER_VERSION.to_le_bytes());
    h.add(kernel.version.as_bytes());
    // What we put in is an input too, so editing these lists rebuilds.
    for list in [BOOT_MODULES, EXTRA_MODULES, PROGRAMS] {
        h.add(list.join(",").as_bytes());
    }
    h.add(LVM_CONF.as_bytes());
    h.add_file_id(&kernel.modules.join("modules.dep"));
    h.add_file_id(agent);
    for (_, p) in &programs {
        h.add_file_id(p);
    }
    let dir = root.join(format!("appliance-{:016x}", h.0));
    let initrd = dir.join("initrd");
    if !initrd.exists() {
        let tmp = root.join(format!(
            ".appliance-{:016x}.tmp-{}-{}",
            h.0,
            std::process::id(),
            unique()
        ));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| Error::Build(format!("{}: {e}", tmp.display())))?;
        let r = write_initrd(&tmp.join("initrd"), kernel, agent, &programs);
        if let Err(e) = r {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        // Another builder may have won meanwhile: then its result stands.
        if fs::rename(&tmp, &dir).is_err() {
            let _ = fs::remove_dir_all(&tmp);
            if !initrd.exists() {
                return Err(Error::Build(format!("cannot install {}", dir.display())));
            }
        }
    }
    // Mark it used (like libguestfs does), then drop appliances nobody used for
    // a week: every agent or host update leaves the previous one behind.
    let _ = fs::OpenOptions::new()
        .write(true)
        .open(&initrd)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    prune(&root, &dir);
    Ok(ApplianceFiles {
        kernel: kern,
        initrd,
        programs: programs.into_iter().map(|(n, _)| n).collect(),
    })
}

fn prune(root: &Path, keep: &Path) {
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    let hour = std::time::Duration::from_secs(3600);
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let max_age = if name.starts_with("appliance-") {
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

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The vmlinux extracted once per kernel, or the bzImage when that fails.
fn ensure_kernel(root: &Path, k: &Kernel) -> Result<PathBuf, Error> {
    if std::env::var_os("GX_NO_VMLINUX").is_some() {
        return Ok(k.image.clone());
    }
    let mut h = Fnv::new();
    h.add(&BUILDER_VERSION.to_le_bytes());
    h.add_file_id(&k.image);
    let dir = root.join(format!("kernel-{:016x}", h.0));
    let vmlinux = dir.join("vmlinux");
    let none = dir.join("no-vmlinux");
    if vmlinux.exists() {
        return Ok(vmlinux);
    }
    if none.exists() {
        return Ok(k.image.clone());
    }
    let tmp = root.join(format!(
        ".kernel-{:016x}.tmp-{}-{}",
        h.0,
        std::process::id(),
        unique()
    ));
    fs::create_dir_all(&tmp).map_err(|e| Error::Build(format!("{}: {e}", tmp.display())))?;
    let wrote = match kernel::extract_vmlinux(k) {
        Some(elf) => fs::write(tmp.join("vmlinux"), elf),
        // Remember the failure so we do not retry on every launch.
        None => fs::write(tmp.join("no-vmlinux"), b""),
    };
    if let Err(e) = wrote {
        let _ = fs::remove_dir_all(&tmp);
        return Err(Error::Build(format!("writing vmlinux: {e}")));
    }
    if fs::rename(&tmp, &dir).is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    Ok(if vmlinux.exists() {
        vmlinux
    } else {
        k.image.clone()
    })
}

fn find_programs() -> Vec<(String, PathBuf)> {
    PROGRAMS
        .iter()
        .filter_map(|n| {
            PROGRAM_DIRS
                .iter()
                .map(|d| Path::new(d).join(n))
                .find(|p| p.is_file())
                .map(|p| (n.to_string(), p))
        })
        .collect()
}

/// Shared libraries and the ELF interpreter a program needs, from `ldd`.
fn libraries(prog: &Path) -> Result<Vec<PathBuf>, Error> {
    let out = Command::new("ldd")
        .arg(prog)
        .output()
        .map_err(|e| Error::Build(format!("running ldd (from libc-bin): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // Static programs: "not a dynamic executable".
        return Ok(Vec::new());
    }
    let mut v = Vec::new();
    for l in text.lines() {
        let l = l.trim();
        if l.contains("not found") {
            return Err(Error::Build(format!("{}: {l}", prog.display())));
        }
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no path.
        let path = match l.split_once("=>") {
            Some((_, rhs)) => rhs.trim().split(' ').next().unwrap_or(""),
            None => l.split(' ').next().unwrap_or(""),
        };
        if path.starts_with('/') {
            v.push(PathBuf::from(path));
        }
    }
    Ok(v)
}

/// Module name -> (path relative to the modules dir, dependencies), from modules.dep.
fn read_modules_dep(k: &Kernel) -> Result<BTreeMap<String, (String, Vec<String>)>, Error> {
    let dep = k.modules.join("modules.dep");
    let text = fs::read_to_string(&dep)
        .map_err(|e| Error::Build(format!("reading {}: {e}", dep.display())))?;
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let Some((path, deps)) = l.split_once(':') else {
            continue;
        };
        let deps = deps.split_whitespace().map(str::to_string).collect();
        m.insert(module_name(path), (path.to_string(), deps));
    }
    Ok(m)
}

fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let base = file.split(".ko").next().unwrap_or(file);
    base.replace('-', "_")
}

/// Resolves wanted modules to paths in load order (dependencies first); builtins
/// and unknown modules are skipped.
fn module_order(
    deps: &BTreeMap<String, (String, Vec<String>)>,
    wanted: &[&str],
    already: &mut BTreeSet<String>,
) -> Vec<String> {
    fn visit(
        name: &str,
        deps: &BTreeMap<String, (String, Vec<String>)>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        let Some((path, ds)) = deps.get(name) else {
            return;
        };
        if !seen.insert(name.to_string()) {
            return;
        }
        for d in ds {
            visit(&module_name(d), deps, seen, out);
        }
        out.push(path.clone());
    }
    let mut out = Vec::new();
    for w in wanted {
        visit(&w.replace('-', "_"), deps, already, &mut out);
    }
    out
}

/// Reads a module file, decompressing .ko.xz/.ko.zst/.ko.gz on the host (the
/// agent's finit_module is given plain ELF objects).
fn module_bytes(path: &Path) -> Result<Vec<u8>, Error> {
    let name = path.to_string_lossy();
    let tool: Option<(&str, &[&str])> = if name.ends_with(".xz") {
        Some(("xz", &["-dc"]))
    } else if name.ends_with(".zst") {
        Some(("zstd", &["-dcq"]))
    } else if name.ends_with(".gz") {
        Some(("gzip", &["-dc"]))
    } else {
        None
    };
    match tool {
        None => fs::read(path).map_err(|e| Error::Build(format!("{}: {e}", path.display()))),
        Some((t, args)) => {
            let out = Command::new(t)
                .args(args)
                .arg(path)
                .output()
                .map_err(|e| Error::Build(format!("{t} (to decompress {name}): {e}")))?;
            if !out.status.success() {
                return Err(Error::Build(format!("{t} failed on {name}")));
            }
            Ok(out.stdout)
        }
    }
}

fn strip_compression(rel: &str) -> String {
    for ext in [".xz", ".zst", ".gz"] {
        if let Some(s) = rel.strip_suffix(ext) {
            return s.to_string();
        }
    }
    rel.to_string()
}

fn write_initrd(
    out: &Path,
    k: &Kernel,
    agent: &Path,
    programs: &[(String, PathBuf)],
) -> Result<(), Error> {
    let deps = read_modules_dep(k)?;
    let mut seen = BTreeSet::new();
    let boot = module_order(&deps, BOOT_MODULES, &mut seen);
    let extra = module_order(&deps, EXTRA_MODULES, &mut seen);

    let mut cpio = Cpio::new(out)?;
    let moddir = format!("/lib/modules/{}", k.version);
    let mut lists = [String::new(), String::new()];
    for (i, set) in [&boot, &extra].iter().enumerate() {
        for rel in set.iter() {
            let dst = format!("{moddir}/{}", strip_compression(rel));
            cpio.file(&dst, 0o644, &module_bytes(&k.modules.join(rel))?)?;
            lists[i].push_str(&dst);
            lists[i].push('\n');
        }
    }
    cpio.file("/gx/modules.boot", 0o644, lists[0].as_bytes())?;
    cpio.file("/gx/modules.extra", 0o644, lists[1].as_bytes())?;

    let agent_bytes = fs::read(agent)
        .map_err(|e| Error::Build(format!("reading agent {}: {e}", agent.display())))?;
    cpio.file("/init", 0o755, &agent_bytes)?;
    let mut libs = BTreeSet::new();
    for l in libraries(agent)? {
        libs.insert(l);
    }
    for (_, p) in programs {
        let bytes = fs::read(p).map_err(|e| Error::Build(format!("{}: {e}", p.display())))?;
        cpio.file(&p.to_string_lossy(), 0o755, &bytes)?;
        for l in libraries(p)? {
            libs.insert(l);
        }
    }
    for l in &libs {
        // Copy the file's content under the path the loader asks for; symlinks
        // on the host (merged /usr, versioned sonames) become plain files.
        let bytes = fs::read(l).map_err(|e| Error::Build(format!("{}: {e}", l.display())))?;
        cpio.file(&l.to_string_lossy(), 0o755, &bytes)?;
    }
    if programs.iter().any(|(n, _)| n == "busybox") {
        cpio.symlink("/bin/sh", "/usr/bin/busybox")?;
    }
    cpio.file("/etc/lvm/lvm.conf", 0o644, LVM_CONF.as_bytes())?;
    cpio.symlink("/etc/mtab", "/proc/self/mounts")?;
    cpio.file("/etc/passwd", 0o644, b"root:x:0:0:root:/:/bin/sh\n")?;
    cpio.file("/etc/group", 0o644, b"root:x:0:\n")?;
    for d in [
        "/proc",
        "/sys",
        "/dev",
        "/sysroot",
        "/tmp",
        "/run",
        "/run/lock",
        "/run/lvm",
    ] {
        cpio.dir(d)?;
    }
    // The kernel opens /dev/console for PID 1's stdio before devtmpfs exists.
    cpio.chardev("/dev/console", 0o600, 5, 1)?;
    cpio.finish()
}

/// A cpio "newc" archive writer, the format the kernel unpacks into rootfs.
struct Cpio {
    w: BufWriter<fs::File>,
    path: PathBuf,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    fn new(path: &Path) -> Result<Self, Error> {
        let f =
            fs::File::create(path).map_err(|e| Error::Build(format!("{}: {e}", path.display())))?;
        Ok(Cpio {
            w: BufWriter::with_capacity(1 << 20, f),
            path: path.to_path_buf(),
            ino: 1,
            dirs: BTreeSet::new(),
        })
    }

    fn err(&self, e: std::io::Error) -> Error {
        Error::Build(format!("writing {}: {e}", self.path.display()))
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) -> Result<(), Error> {
        let name = name.trim_start_matches('/');
        let namesize = name.len() + 1;
        let filesize = u32::try_from(data.len())
            .map_err(|_| Error::Build(format!("{name}: too big for cpio newc")))?;
        self.ino += 1;
        let hdr = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino, mode, 0, 0, 1, 0, filesize, 0, 0, rdev.0, rdev.1, namesize, 0
        );
        let pad = |n: usize| (4 - n % 4) % 4;
        let r = (|| {
            self.w.write_all(hdr.as_bytes())?;
            self.w.write_all(name.as_bytes())?;
            self.w
                .write_all(&[0u8; 4][..1 + pad(hdr.len() + namesize)])?;
            self.w.write_all(data)?;
            self.w.write_all(&[0u8; 4][..pad(data.len())])
        })();
        r.map_err(|e| self.err(e))
    }

    /// Creates missing parent directories first: the kernel does not.
    fn parents(&mut self, path: &str) -> Result<(), Error> {
        let mut cur = String::new();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            cur.push('/');
            cur.push_str(p);
            if self.dirs.insert(cur.clone()) {
                self.entry(&cur.clone(), 0o040755, &[], (0, 0))?;
            }
        }
        Ok(())
    }

    fn dir(&mut self, path: &str) -> Result<(), Error> {
        self.parents(path)?;
        if self.dirs.insert(path.to_string()) {
            self.entry(path, 0o040755, &[], (0, 0))?;
        }
        Ok(())
    }

    fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<(), Error> {
        self.parents(path)?;
        self.entry(path, 0o100000 | perm, data, (0, 0))
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<(), Error> {
        self.parents(path)?;
        self.entry(path, 0o120777, target.as_bytes(), (0, 0))
    }

    fn chardev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<(), Error> {
        self.parents(path)?;
        self.entry(path, 0o020000 | perm, &[], (major, minor))
    }

    fn finish(mut self) -> Result<(), Error> {
        self.entry("TRAILER!!!", 0, &[], (0, 0))?;
        self.w.flush().map_err(|e| self.err(e))?;
        self.w.get_ref().sync_all().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_normalise() {
        assert_eq!(module_name("kernel/fs/fat/vfat.ko.xz"), "vfat");
        assert_eq!(
            module_name("kernel/drivers/char/hw_random/virtio-rng.ko"),
            "virtio_rng"
        );
    }

    #[test]
    fn module_order_puts_dependencies_first() {
        let mut m = BTreeMap::new();
        m.insert(
            "a".into(),
            ("a.ko".into(), vec!["b.ko".into(), "c.ko".into()]),
        );
        m.insert("b".into(), ("b.ko".into(), vec!["c.ko".into()]));
        m.insert("c".into(), ("c.ko".into(), vec![]));
        let mut seen = BTreeSet::new();
        assert_eq!(
            module_order(&m, &["a", "nope"], &mut seen),
            vec!["c.ko", "b.ko", "a.ko"]
        );
        // Already loaded at boot: not listed again.
        assert!(module_order(&m, &["b"], &mut seen).is_empty());
    }

    #[test]
    fn cpio_is_readable_by_cpio_tool() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("x.cpio");
        let mut c = Cpio::new(&p).expect("new");
        c.file("/a/b/c.txt", 0o644, b"hello").expect("file");
        c.symlink("/a/l", "b/c.txt").expect("link");
        c.chardev("/dev/console", 0o600, 5, 1).expect("dev");
        c.finish().expect("finish");
        let Ok(out) = Command::new("cpio").args(["-it", "-F"]).arg(&p).output() else {
            eprintln!("cpio tool not installed; skipping the cross-check");
            return;
        };
        let list = String::from_utf8_lossy(&out.stdout);
        for n in ["a", "a/b", "a/b/c.txt", "a/l", "dev/console"] {
            assert!(list.lines().any(|l| l == n), "{n} missing from {list}");
        }
    }
}

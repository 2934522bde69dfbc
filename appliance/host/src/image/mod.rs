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

mod cache;
mod cpio;
mod helpers;
mod modules;
use self::{cache::*, cpio::*, helpers::*, modules::*};
pub(crate) use cache::{Fnv, create_private_dir, unique};
pub use cache::{cache_root, ensure_cache_root};

/// Bump when the layout of what we build changes, so old caches are not reused.
const BUILDER_VERSION: u32 = 6;

/// Loaded by the agent at boot: just what it needs to reach its channel.
const BOOT_MODULES: &[&str] = &["virtio_mmio", "virtio_console", "virtio_rng"];
/// The disk driver: loaded by the agent before its hello with the virtio
/// bus's automatic probing off, and bound to the disks at `internal_start`, so
/// that a saved snapshot of a booted appliance knows nothing about the disks
/// (see `snapshot`); they are probed fresh each launch.
const DISK_MODULES: &[&str] = &["virtio_blk"];
/// Loaded at boot only when the VM has a pvpanic device (our VMM does): a
/// kernel panic then ends the VM with its own exit status, not as a reboot.
const PANIC_MODULES: &[&str] = &["pvpanic_mmio"];
/// Loaded by the agent before the first call that needs them, one group at a
/// time (`/gx/modules.extra.<group>`; `/gx/modules.extra` has them all): under
/// TCG each module costs ~35 ms, and ext4 (built into Debian's kernel) needs
/// none. Built-in names are skipped, so a kernel with ext4 as a module gets it.
/// The agent's `modules_for_fs` names the group a filesystem type needs.
const EXTRA_GROUPS: &[(&str, &[&str])] = &[
    ("ext", &["ext4"]),
    (
        "fat",
        &[
            "fat",
            "vfat",
            "msdos",
            "nls_ascii",
            "nls_cp437",
            "nls_iso8859_1",
            "nls_utf8",
        ],
    ),
    ("exfat", &["exfat", "nls_utf8"]),
    ("fuse", &["fuse"]),
    (
        "dm",
        &[
            "dm_mod",
            "dm_snapshot",
            "dm_mirror",
            "dm_zero",
            // cryptsetup: the dm-crypt target, the usual LUKS ciphers, and
            // the kernel crypto API it opens keyslots through.
            "dm_crypt",
            "xts",
            "ecb",
            "cbc",
            "essiv",
            "aesni_intel",
            "algif_skcipher",
            "algif_hash",
        ],
    ),
    ("xfs", &["xfs", "crc32c_intel"]),
    ("btrfs", &["btrfs"]),
    ("isofs", &["isofs"]),
    ("loop", &["loop"]),
];
/// Host programs the agent may run. Missing ones are skipped: their calls then
/// fail with a message saying the tool is not in the appliance.
const PROGRAMS: &[&str] = &[
    "busybox",
    // GNU versions where busybox's lack what the calls need (cp -a keeping
    // xattrs, tar --xattrs/--selinux, grep's regex dialects).
    "cp",
    "mv",
    "grep",
    "tar",
    "gzip",
    "xz",
    "zstd",
    "blkid",
    "wipefs",
    "mke2fs",
    "e2fsck",
    "resize2fs",
    "tune2fs",
    "e2label",
    "mkfs.vfat",
    "fsck.vfat",
    "fatlabel",
    "mkntfs",
    "ntfs-3g",
    "ntfsresize",
    "ntfslabel",
    "mkfs.xfs",
    "xfs_repair",
    "xfs_admin",
    "xfs_db",
    "xfs_growfs",
    "mkfs.btrfs",
    "btrfs",
    "btrfstune",
    "mkswap",
    "swaplabel",
    // fsck runs fsck.TYPE.
    "fsck",
    "fsck.ext2",
    "fsck.ext3",
    "fsck.ext4",
    "fsck.fat",
    "fsck.msdos",
    "fsck.xfs",
    "fsck.btrfs",
    "lvm",
    "dmsetup",
    "cryptsetup",
    "parted",
    "sfdisk",
    "sgdisk",
    // gx-rescue's shell: bash (job control, editing) over busybox's ash,
    // and the repair tools a rescue needs that no call runs.
    "bash",
    "ntfsfix",
    "fdisk",
    "gdisk",
    "mount",
    "umount",
    "chroot",
    "lsblk",
    "dumpe2fs",
    "debugfs",
    "less",
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
    /// The read-only helper image (programs, libraries, extra modules) to attach
    /// as the last disk; `None` when they are all in the initramfs.
    pub helpers: Option<PathBuf>,
    /// Helper programs that were found and copied in.
    pub programs: Vec<String>,
    /// Where launch snapshots of this appliance are kept (see `snapshot`).
    pub state_dir: PathBuf,
}

/// A prebuilt ("fixed") appliance in `dir`: `kernel` (the ELF vmlinux or a
/// bzImage), `initrd`, and `helpers.img` when the initramfs was built with a
/// helper disk. For hosts that cannot build one (no readable kernel, no
/// modules): build it elsewhere and copy the three files (`GX_APPLIANCE_DIR`;
/// libguestfs calls this a fixed appliance). Nothing is checked beyond their
/// presence: the agent inside must speak this library's protocol.
pub fn fixed_appliance(dir: &Path) -> Result<ApplianceFiles, Error> {
    let kernel = dir.join("kernel");
    let initrd = dir.join("initrd");
    for f in [&kernel, &initrd] {
        if let Err(e) = fs::File::open(f) {
            return Err(Error::Build(format!(
                "fixed appliance {}: {}: {e} (expected the files kernel, initrd and, if it was \
                 built with one, helpers.img)",
                dir.display(),
                f.display()
            )));
        }
    }
    let helpers = Some(dir.join("helpers.img")).filter(|p| p.is_file());
    // Snapshots go to our cache, not into the user's directory.
    let mut h = Fnv::new();
    h.add(dir.as_os_str().as_encoded_bytes());
    Ok(ApplianceFiles {
        kernel,
        initrd,
        helpers,
        programs: Vec::new(),
        state_dir: ensure_cache_root()?.join(format!("fixed-{:016x}", h.0)),
    })
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
    let root = ensure_cache_root()?;

    let kern = ensure_kernel(&root, kernel)?;

    let programs = find_programs();
    let mut h = Fnv::new();
    h.add(&BUILDER_VERSION.to_le_bytes());
    h.add(kernel.version.as_bytes());
    // What we put in is an input too, so editing these lists rebuilds.
    for list in [
        BOOT_MODULES,
        DISK_MODULES,
        PANIC_MODULES,
        EXTRA_GROUPS
            .iter()
            .flat_map(|(g, m)| std::iter::once(*g).chain(m.iter().copied()))
            .collect::<Vec<_>>()
            .as_slice(),
        PROGRAMS,
    ] {
        h.add(list.join(",").as_bytes());
    }
    h.add(LVM_CONF.as_bytes());
    h.add(&[u8::from(std::env::var_os("GX_NO_HELPER_DISK").is_some())]);
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
        let r = write_appliance(&tmp, kernel, agent, &programs, h.0);
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
    let helpers = Some(dir.join("helpers.img")).filter(|p| p.is_file());
    Ok(ApplianceFiles {
        kernel: kern,
        initrd,
        helpers,
        programs: programs.into_iter().map(|(n, _)| n).collect(),
        state_dir: dir,
    })
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

/// Builds the appliance into `dir`: `initrd`, and when the host has `mke2fs`
/// with `-d`, `helpers.img` too.
///
/// Split layout (the default): the initramfs holds only what the boot needs
/// (the agent as `/init`, its libraries, the virtio modules), so the kernel
/// unpacks ~3 MB instead of ~35 MB at every launch. The helper programs, their
/// libraries and the extra modules go to a read-only ext2 image, attached as the
/// last virtio-blk disk, which the agent mounts at `/gx/helpers` on first use
/// (and hides from the device lists). Their usual paths in the initramfs
/// (`/usr/sbin/lvm`, `/lib/x86_64-linux-gnu/liblvm...`) are symlinks into it,
/// so programs run as before.
///
/// Without a usable `mke2fs` everything goes into the initramfs, as before.
fn write_appliance(
    dir: &Path,
    k: &Kernel,
    agent: &Path,
    programs: &[(String, PathBuf)],
    id: u64,
) -> Result<(), Error> {
    let split = std::env::var_os("GX_NO_HELPER_DISK").is_none() && find_mke2fs().is_some();
    if split {
        let staging = dir.join("helpers.d");
        let uuid = helper_uuid(id);
        let r = write_initrd(
            &dir.join("initrd"),
            k,
            agent,
            programs,
            Some((&staging, &uuid)),
        )
        .and_then(|()| make_ext2(&staging, &dir.join("helpers.img"), &uuid));
        let _ = fs::remove_dir_all(&staging);
        match r {
            Ok(()) => return Ok(()),
            Err(e) => {
                // An old mke2fs (no -d) or a full disk: fall back to one image.
                let _ = fs::remove_file(dir.join("helpers.img"));
                if std::env::var_os("GX_VERBOSE").is_some() {
                    eprintln!("guestx: no helper disk ({e}); putting everything in the initramfs");
                }
            }
        }
    }
    write_initrd(&dir.join("initrd"), k, agent, programs, None)
}

/// The agent without debug info (6 MB -> 1 MB with line tables); as is when
/// `strip` (binutils) is missing.
fn agent_bytes(agent: &Path, scratch: &Path) -> Result<Vec<u8>, Error> {
    let tmp = scratch.with_extension("agent.tmp");
    let stripped = Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(&tmp)
        .arg(agent)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let r = if stripped {
        fs::read(&tmp)
    } else {
        fs::read(agent)
    };
    let _ = fs::remove_file(&tmp);
    r.map_err(|e| Error::Build(format!("reading agent {}: {e}", agent.display())))
}

/// Where files that are not needed to boot go: the cpio itself, or the helper
/// image's staging tree with a symlink in the cpio.
struct Sink<'a> {
    cpio: Cpio,
    helpers: Option<&'a Path>,
}

impl Sink<'_> {
    /// A file at `path` (absolute) that the boot does not need; `link`: also
    /// reachable at `path` itself (a symlink into the mounted image).
    fn extra(&mut self, path: &str, perm: u32, data: &[u8], link: bool) -> Result<(), Error> {
        let Some(staging) = self.helpers else {
            return self.cpio.file(path, perm, data);
        };
        use std::os::unix::fs::PermissionsExt;
        let dst = staging.join(path.trim_start_matches('/'));
        let io = |e: std::io::Error| Error::Build(format!("{}: {e}", dst.display()));
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        fs::write(&dst, data).map_err(io)?;
        fs::set_permissions(&dst, fs::Permissions::from_mode(perm)).map_err(io)?;
        if link {
            self.cpio.symlink(path, &format!("{HELPERS_MOUNT}{path}"))?;
        }
        Ok(())
    }

    /// The path the agent loads an extra module from.
    fn extra_path(&self, path: &str) -> String {
        match self.helpers {
            Some(_) => format!("{HELPERS_MOUNT}{path}"),
            None => path.to_string(),
        }
    }
}

fn write_initrd(
    out: &Path,
    k: &Kernel,
    agent: &Path,
    programs: &[(String, PathBuf)],
    helpers: Option<(&Path, &str)>,
) -> Result<(), Error> {
    let deps = read_modules_dep(k)?;
    let mut seen = BTreeSet::new();
    let boot = module_order(&deps, BOOT_MODULES, &mut seen);
    let disks = module_order(&deps, DISK_MODULES, &mut seen);
    let panic = module_order(&deps, PANIC_MODULES, &mut seen);
    // Each group in dependency order, as if loaded first; stored once.
    let groups: Vec<(&str, Vec<String>)> = EXTRA_GROUPS
        .iter()
        .map(|(g, m)| (*g, module_order(&deps, m, &mut seen.clone())))
        .collect();
    let mut extra: Vec<String> = Vec::new();
    for (_, mods) in &groups {
        for m in mods {
            if !extra.contains(m) {
                extra.push(m.clone());
            }
        }
    }

    let mut s = Sink {
        cpio: Cpio::new(out)?,
        helpers: helpers.map(|(p, _)| p),
    };
    if let Some((_, uuid)) = helpers {
        s.cpio.file(HELPERS_ID, 0o644, uuid.as_bytes())?;
        s.cpio.dir(HELPERS_MOUNT)?;
    }
    let moddir = format!("/lib/modules/{}", k.version);
    let mut lists = [String::new(), String::new(), String::new(), String::new()];
    for (list, mods) in [(0, &boot), (2, &disks), (3, &panic)] {
        for rel in mods {
            let dst = format!("{moddir}/{}", strip_compression(rel));
            s.cpio.file(
                &dst,
                0o644,
                &without_btf(module_bytes(&k.modules.join(rel))?),
            )?;
            lists[list].push_str(&dst);
            lists[list].push('\n');
        }
    }
    for rel in &extra {
        let dst = format!("{moddir}/{}", strip_compression(rel));
        // Loaded straight from the helper image: no symlink needed.
        let bytes = without_btf(module_bytes(&k.modules.join(rel))?);
        s.extra(&dst, 0o644, &bytes, false)?;
        lists[1].push_str(&s.extra_path(&dst));
        lists[1].push('\n');
    }
    s.cpio
        .file("/gx/modules.boot", 0o644, lists[0].as_bytes())?;
    s.cpio
        .file("/gx/modules.extra", 0o644, lists[1].as_bytes())?;
    for (g, mods) in &groups {
        let list: String = mods
            .iter()
            .map(|rel| {
                let dst = format!("{moddir}/{}", strip_compression(rel));
                format!("{}\n", s.extra_path(&dst))
            })
            .collect();
        s.cpio
            .file(&format!("/gx/modules.extra.{g}"), 0o644, list.as_bytes())?;
    }
    s.cpio
        .file("/gx/modules.disks", 0o644, lists[2].as_bytes())?;
    s.cpio
        .file("/gx/modules.panic", 0o644, lists[3].as_bytes())?;

    s.cpio.file("/init", 0o755, &agent_bytes(agent, out)?)?;
    // The agent's own libraries are needed to boot: real files in the cpio.
    let agent_libs: BTreeSet<PathBuf> = libraries(agent)?.into_iter().collect();
    for l in &agent_libs {
        let bytes = fs::read(l).map_err(|e| Error::Build(format!("{}: {e}", l.display())))?;
        s.cpio.file(&l.to_string_lossy(), 0o755, &bytes)?;
    }
    let mut libs = BTreeSet::new();
    for (_, p) in programs {
        let bytes = fs::read(p).map_err(|e| Error::Build(format!("{}: {e}", p.display())))?;
        s.extra(&p.to_string_lossy(), 0o755, &bytes, true)?;
        for l in libraries(p)? {
            if !agent_libs.contains(&l) {
                libs.insert(l);
            }
        }
    }
    for l in &libs {
        // Copy the file's content under the path the loader asks for; symlinks
        // on the host (merged /usr, versioned sonames) become plain files.
        let bytes = fs::read(l).map_err(|e| Error::Build(format!("{}: {e}", l.display())))?;
        s.extra(&l.to_string_lossy(), 0o755, &bytes, true)?;
    }
    let mut cpio = s.cpio;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dirs_are_created_private_and_foreign_ones_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let me = euid();
        let d = t.path().join("a/b/guestx");
        create_private_dir(&d).unwrap();
        assert_eq!(fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        check_private_dir(&d, me).unwrap();
        // An existing 0755 cache (as earlier versions made it) is fine.
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        check_private_dir(&d, me).unwrap();
        for mode in [0o775, 0o757, 0o1777] {
            fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
            let e = check_private_dir(&d, me).unwrap_err().to_string();
            assert!(e.contains("writable by group or others"), "{mode:o}: {e}");
        }
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        let e = check_private_dir(&d, me + 1).unwrap_err().to_string();
        assert!(e.contains("not owned by UID"), "{e}");
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        let e = check_private_dir(&link, me).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        let file = t.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(check_private_dir(&file, me).is_err());
    }

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

    /// A minimal ELF64 object: null section, ".BTF", ".shstrtab".
    fn tiny_elf() -> Vec<u8> {
        let strtab = b"\0.BTF\0.shstrtab\0";
        let mut m = vec![0u8; 0x40];
        m[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let str_off = m.len();
        m.extend_from_slice(strtab);
        let shoff = m.len();
        m[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        m[0x3a..0x3c].copy_from_slice(&0x40u16.to_le_bytes());
        m[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        m[0x3e..0x40].copy_from_slice(&2u16.to_le_bytes());
        for name in [0u32, 1, 6] {
            let mut h = [0u8; 0x40];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(str_off as u64).to_le_bytes());
            m.extend_from_slice(&h);
        }
        m
    }

    #[test]
    fn btf_section_is_unnamed_and_signature_dropped() {
        let elf = tiny_elf();
        let shoff = elf.len() - 3 * 0x40;
        let mut signed = elf.clone();
        signed.extend_from_slice(b"SIGNATURE");
        let mut info = [0u8; 12];
        info[8..].copy_from_slice(&9u32.to_be_bytes());
        signed.extend_from_slice(&info);
        signed.extend_from_slice(b"~Module signature appended~\n");
        let out = without_btf(signed);
        assert_eq!(out.len(), elf.len(), "signature removed");
        let name = |m: &[u8], i: usize| {
            let h = shoff + i * 0x40;
            u32::from_le_bytes([m[h], m[h + 1], m[h + 2], m[h + 3]])
        };
        assert_eq!(name(&out, 1), 0, ".BTF renamed");
        assert_eq!(name(&out, 2), 6, ".shstrtab kept");
        // Not ELF, or no .BTF: unchanged (signature kept).
        assert_eq!(without_btf(b"junk".to_vec()), b"junk".to_vec());
        let mut no_btf = elf.clone();
        no_btf[shoff + 0x40] = 6;
        assert_eq!(without_btf(no_btf.clone()), no_btf);
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
            gx_testdata::skip_or_fail!("cpio_is_readable_by_cpio_tool: cpio is not installed");
            return;
        };
        let list = String::from_utf8_lossy(&out.stdout);
        for n in ["a", "a/b", "a/b/c.txt", "a/l", "dev/console"] {
            assert!(list.lines().any(|l| l == n), "{n} missing from {list}");
        }
    }
}

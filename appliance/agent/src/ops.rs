//! The API calls, as the agent implements them. Guest paths are always resolved
//! inside `/sysroot` (symlinks included); device names arrive as `/dev/sdX` and
//! leave as `/dev/sdX`, while the kernel here calls them `/dev/vdX`.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gx_protocol::{CallError, Handler, MAX_FRAME, Partition, StatNs, StatVfs};

use crate::{io_err, sys};

const SYSROOT: &str = "/sysroot";
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Written by the initramfs builder: the ext2 UUID (32 hex digits) of the
/// helper image, a read-only disk attached after the user's drives that holds
/// the helper programs, their libraries and the extra modules. Their usual
/// paths in the initramfs are symlinks into [`HELPERS_MOUNT`].
const HELPERS_ID: &str = "/gx/helpers.uuid";
const HELPERS_MOUNT: &str = "/gx/helpers";
type R<T> = Result<T, CallError>;

pub struct Ops {
    /// The agent's self-description (version, kernel), for `internal_start`.
    pub info: String,
    /// Groups of extra modules loaded so far (`/gx/modules.extra.<group>`).
    modules_loaded: Vec<&'static str>,
    /// Set by `debug lying-frame`: the next reply is replaced by a bad frame.
    pub inject_lie: bool,
    /// Set by `debug flood` (false) / `debug progress-flood` (true): frames
    /// are sent forever instead of the reply.
    pub inject_flood: Option<bool>,
}

/// Loads every module listed (one path per line, dependencies first). Failures
/// are logged, not fatal: a missing filesystem driver only fails its own calls.
pub fn load_modules(list: &str) {
    let Ok(text) = fs::read_to_string(list) else {
        return;
    };
    for m in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let r = File::open(m).and_then(|f| sys::finit_module(&f));
        match r {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => crate::log(&format!("module {m}: {e}")),
        }
    }
}

/// The helper disk's kernel name (`vdc`), found once by its ext2 UUID; `None`
/// when the appliance has no helper image (everything is in the initramfs).
fn helper_disk() -> Option<&'static str> {
    static DISK: OnceLock<Option<String>> = OnceLock::new();
    DISK.get_or_init(|| {
        let want = fs::read_to_string(HELPERS_ID).ok()?;
        let want = want.trim().to_ascii_lowercase();
        // Attached last, so look there first.
        all_disks()
            .into_iter()
            .rev()
            .find(|d| ext2_uuid(&format!("/dev/{d}")).as_deref() == Some(want.as_str()))
    })
    .as_deref()
}

/// The UUID of the ext2/3/4 filesystem on `dev`, as 32 hex digits.
fn ext2_uuid(dev: &str) -> Option<String> {
    let mut f = File::open(dev).ok()?;
    let mut sb = [0u8; 1024];
    f.seek(SeekFrom::Start(1024)).ok()?;
    f.read_exact(&mut sb).ok()?;
    if u16::from_le_bytes([sb[56], sb[57]]) != 0xef53 {
        return None;
    }
    Some(sb[104..120].iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether the guest device `g` (`/dev/vdc`, `/dev/vdc1`) is the helper disk.
fn is_helper(g: &str) -> bool {
    let (Some(h), Some(n)) = (helper_disk(), g.strip_prefix("/dev/")) else {
        return false;
    };
    n.strip_prefix(h)
        .is_some_and(|rest| rest.bytes().all(|c| c.is_ascii_digit()))
}

/// Mounts the helper image (once) before anything runs a helper program or
/// loads an extra module; the boot does not wait for it.
pub fn ensure_helpers() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if !Path::new(HELPERS_ID).exists() {
            return;
        }
        let Some(d) = helper_disk() else {
            crate::log("the helper disk is missing: helper programs are unavailable");
            return;
        };
        let dev = format!("/dev/{d}");
        let flags = libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOATIME;
        let mp = Path::new(HELPERS_MOUNT);
        let r = sys::mount(&dev, mp, "ext4", flags, "")
            .or_else(|_| sys::mount(&dev, mp, "ext2", flags, ""));
        if let Err(e) = r {
            crate::log(&format!("mounting the helper disk {dev}: {e}"));
        }
    });
}

fn err(errno: i32, msg: impl Into<String>) -> CallError {
    CallError::new(errno, msg)
}

fn path_err(what: &str, path: &str, e: io::Error) -> CallError {
    io_err(&format!("{what}: {path}"), e)
}

/// Copy `from` to `to` in protocol-sized chunks; errors name `path` and
/// which side failed (`read_what` / `write_what`).
fn pump(
    from: &mut dyn Read,
    to: &mut dyn Write,
    path: &str,
    read_what: &str,
    write_what: &str,
) -> R<()> {
    let mut buf = vec![0u8; gx_protocol::CHUNK_SIZE];
    loop {
        let n = from
            .read(&mut buf)
            .map_err(|e| path_err(read_what, path, e))?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])
            .map_err(|e| path_err(write_what, path, e))?;
    }
}

/// `/dev/sdb3` (or hd/vd) -> `/dev/vdb3`; anything else unchanged.
pub fn to_guest_dev(dev: &str) -> String {
    for p in ["/dev/sd", "/dev/hd", "/dev/vd"] {
        if let Some(rest) = dev.strip_prefix(p) {
            if rest.starts_with(|c: char| c.is_ascii_lowercase()) {
                return format!("/dev/vd{rest}");
            }
        }
    }
    dev.to_string()
}

/// `/dev/vdb3` -> `/dev/sdb3`.
pub fn to_user_dev(dev: &str) -> String {
    match dev.strip_prefix("/dev/vd") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => {
            format!("/dev/sd{rest}")
        }
        _ => dev.to_string(),
    }
}

fn check_device(dev: &str) -> R<String> {
    let g = to_guest_dev(dev);
    if !g.starts_with("/dev/") {
        return Err(err(libc::EINVAL, format!("{dev}: not a device name")));
    }
    if !Path::new(&g).exists() || is_helper(&g) {
        return Err(err(libc::ENOENT, format!("{dev}: no such device")));
    }
    Ok(g)
}

/// Resolves a guest absolute path to a host path under /sysroot, following
/// symlinks *inside* the guest tree (an absolute link target restarts at the
/// guest root, `..` never climbs above it). `follow_last`: whether a symlink
/// in the last component is followed too.
pub fn resolve(path: &str, follow_last: bool) -> R<PathBuf> {
    if !path.starts_with('/') {
        return Err(err(libc::EINVAL, format!("{path}: path must be absolute")));
    }
    let mut parts: Vec<Vec<u8>> = Vec::new();
    // Work list of remaining components, reversed so pop() gives the next one.
    let mut todo: Vec<Vec<u8>> = split(path.as_bytes());
    todo.reverse();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_slice() {
            b"." => continue,
            b".." => {
                parts.pop();
                continue;
            }
            _ => {}
        }
        let is_last = todo.is_empty();
        let mut candidate = PathBuf::from(SYSROOT);
        for p in &parts {
            candidate.push(OsStr::from_bytes(p));
        }
        candidate.push(OsStr::from_bytes(&c));
        let is_link = fs::symlink_metadata(&candidate)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if is_link && (!is_last || follow_last) {
            links += 1;
            if links > 40 {
                return Err(err(libc::ELOOP, format!("{path}: too many symbolic links")));
            }
            let target = fs::read_link(&candidate).map_err(|e| path_err("readlink", path, e))?;
            let t = target.as_os_str().as_bytes();
            if t.starts_with(b"/") {
                parts.clear();
            }
            let mut more = split(t);
            more.reverse();
            todo.extend(more);
            continue;
        }
        parts.push(c);
    }
    let mut out = PathBuf::from(SYSROOT);
    for p in &parts {
        out.push(OsStr::from_bytes(p));
    }
    Ok(out)
}

fn split(p: &[u8]) -> Vec<Vec<u8>> {
    p.split(|b| *b == b'/')
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The parent resolved (following links), the last component kept as is: for
/// calls that create or remove the name itself (mkdir, rm, ln_s, rename).
fn resolve_parent(path: &str) -> R<PathBuf> {
    let p = Path::new(path);
    let name = match p.components().next_back() {
        Some(Component::Normal(n)) => n.to_os_string(),
        _ => return Err(err(libc::EINVAL, format!("{path}: no file name"))),
    };
    let parent = p.parent().and_then(Path::to_str).unwrap_or("/");
    let mut out = resolve(if parent.is_empty() { "/" } else { parent }, true)?;
    out.push(name);
    Ok(out)
}

/// Runs a helper program; stdout on success, else an error with its stderr.
fn run(prog: &str, args: &[&str]) -> R<String> {
    ensure_helpers();
    let out = Command::new(prog)
        .args(args)
        .env("PATH", PATH)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            let hint = if e.kind() == io::ErrorKind::NotFound {
                " (not in this appliance: the host lacks it when the appliance was built)"
            } else {
                ""
            };
            err(errno, format!("{prog}: {e}{hint}"))
        })?;
    stdout_or_error(&format!("{prog} {}", args.join(" ")), &out)
}

/// A finished program's stdout, or an EIO error naming `what`, its exit
/// status and its stderr.
fn stdout_or_error(what: &str, out: &std::process::Output) -> R<String> {
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = tail(&String::from_utf8_lossy(&out.stderr));
    Err(err(libc::EIO, format!("{what}: {}{stderr}", out.status)))
}

/// `": text"` for a program's trimmed output, or nothing when it is empty.
fn tail(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

fn have(prog: &str) -> bool {
    ensure_helpers();
    PATH.split(':').any(|d| Path::new(d).join(prog).exists())
}

/// The user's block devices in drive order: vda..vdz, vdaa... (not the helper
/// disk, which is attached last).
fn disks() -> Vec<String> {
    let helper = helper_disk();
    all_disks()
        .into_iter()
        .filter(|d| Some(d.as_str()) != helper)
        .collect()
}

fn all_disks() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir("/sys/block")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("vd"))
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    v
}

fn partitions_of(disk: &str) -> Vec<String> {
    let mut v: Vec<(u32, String)> = fs::read_dir(format!("/sys/block/{disk}"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let num = n.strip_prefix(disk)?.parse().ok()?;
                    e.path().join("partition").exists().then_some((num, n))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

struct MountEntry {
    dev: String,
    dir: String,
}

fn mount_table() -> Vec<MountEntry> {
    let text = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let dev = unescape(f.next()?);
            let dir = unescape(f.next()?);
            (dir == SYSROOT || dir.starts_with("/sysroot/")).then_some(MountEntry { dev, dir })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    // /proc/mounts escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn guest_rel(dir: &str) -> String {
    match dir.strip_prefix(SYSROOT) {
        Some("") => "/".into(),
        Some(r) => r.into(),
        None => dir.into(),
    }
}

/// Splits mount(8)-style options into flags and the data string the fs gets.
fn parse_options(options: &str) -> (libc::c_ulong, String) {
    let mut flags = 0;
    let mut data = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => flags |= libc::MS_RDONLY,
            "rw" | "defaults" => {}
            "nosuid" => flags |= libc::MS_NOSUID,
            "nodev" => flags |= libc::MS_NODEV,
            "noexec" => flags |= libc::MS_NOEXEC,
            "sync" => flags |= libc::MS_SYNCHRONOUS,
            "noatime" => flags |= libc::MS_NOATIME,
            "nodiratime" => flags |= libc::MS_NODIRATIME,
            "relatime" => flags |= libc::MS_RELATIME,
            "remount" => flags |= libc::MS_REMOUNT,
            "bind" => flags |= libc::MS_BIND,
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

/// `busybox APPLET... SRC DEST` (mv, cp, cp -a) on resolved paths.
fn busybox_src_dest(applet: &[&str], src: &Path, dest: &Path) -> R<()> {
    let (s, d) = (src.to_string_lossy(), dest.to_string_lossy());
    let args: Vec<&str> = applet.iter().copied().chain([&*s, &*d]).collect();
    run("busybox", &args).map(|_| ())
}

/// What the direct engine's probe (gx-disk, blkid's rules, libguestfs's
/// labels) finds on a guest device, read in-process: no blkid run (~70 ms each
/// under TCG), and the same answers as the direct engine. `None` when it
/// recognises nothing: then blkid, which knows more formats, is asked.
fn probe(dev: &str) -> Option<gx_disk::probe::Probe> {
    let d = gx_disk::RawDevice::open_ro(Path::new(dev)).ok()?;
    gx_disk::probe::probe(&d).ok().filter(|p| p.is_known())
}

/// The filesystem type for mounting and listing: the probe's, else blkid's,
/// else `""`.
fn probe_type(dev: &str) -> String {
    match probe(dev) {
        Some(p) => p.fs_type,
        None => blkid(dev, "TYPE").unwrap_or_default(),
    }
}

/// The group of extra modules (see the initramfs builder's `EXTRA_GROUPS`)
/// that mounting `fstype` needs; `"all"` when the type is not known.
fn modules_for_fs(fstype: &str) -> &'static str {
    match fstype {
        "ext2" | "ext3" | "ext4" => "ext",
        "vfat" | "msdos" | "fat" => "fat",
        "exfat" => "exfat",
        "ntfs" | "ntfs-3g" => "fuse",
        "xfs" => "xfs",
        "iso9660" => "isofs",
        _ => "all",
    }
}

fn blkid(dev: &str, tag: &str) -> R<String> {
    if !have("blkid") {
        return Err(err(libc::ENOSYS, "blkid is not in this appliance"));
    }
    let out = Command::new("blkid")
        .args(["-c", "/dev/null", "-o", "value", "-s", tag, dev])
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io_err("blkid", e))?;
    // Exit 2: nothing found, which is an empty answer, not an error.
    match out.status.code() {
        Some(0) | Some(2) => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        _ => Err(err(
            libc::EIO,
            format!(
                "blkid {dev}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )),
    }
}

fn metadata(path: &str, follow: bool) -> R<fs::Metadata> {
    let p = resolve(path, follow)?;
    fs::symlink_metadata(&p).map_err(|e| path_err("stat", path, e))
}

fn read_limited(path: &str, limit: usize) -> R<Vec<u8>> {
    let p = resolve(path, true)?;
    let f = File::open(&p).map_err(|e| path_err("open", path, e))?;
    let mut v = Vec::new();
    f.take(limit as u64 + 1)
        .read_to_end(&mut v)
        .map_err(|e| path_err("read", path, e))?;
    if v.len() > limit {
        return Err(err(
            libc::EFBIG,
            format!("{path}: file is larger than {limit} bytes: use download"),
        ));
    }
    Ok(v)
}

/// What fits in one reply frame, with room for the header and length.
const REPLY_DATA_MAX: usize = MAX_FRAME - 64;

impl Ops {
    pub fn new() -> Self {
        Ops {
            info: String::new(),
            modules_loaded: Vec::new(),
            inject_lie: false,
            inject_flood: None,
        }
    }

    /// Filesystem drivers, fuse, device-mapper: each group loaded at the first
    /// call that needs it, so the boot and calls that need none pay nothing
    /// (each module costs ~35 ms under TCG). `"all"` loads every group.
    fn need_modules(&mut self, group: &'static str) {
        if self.modules_loaded.contains(&group) || self.modules_loaded.contains(&"all") {
            return;
        }
        self.modules_loaded.push(group);
        ensure_helpers();
        if group == "all" {
            load_modules("/gx/modules.extra");
        } else {
            load_modules(&format!("/gx/modules.extra.{group}"));
        }
    }

    fn do_mount(&mut self, options: &str, vfstype: Option<&str>, dev: &str, mp: &str) -> R<()> {
        let g = check_device(dev)?;
        let target = resolve(mp, true)?;
        let fstype = match vfstype {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => probe_type(&g),
        };
        self.need_modules(modules_for_fs(&fstype));
        let (flags, data) = parse_options(options);
        if fstype == "ntfs" || fstype == "ntfs-3g" {
            let mut o = vec![];
            if !options.is_empty() {
                o.push(options.to_string());
            }
            let tgt = target.to_string_lossy().into_owned();
            let mut args = vec![g.as_str(), tgt.as_str()];
            let joined = o.join(",");
            if !joined.is_empty() {
                args.push("-o");
                args.push(&joined);
            }
            return run("ntfs-3g", &args).map(|_| ());
        }
        let tries: Vec<String> = if fstype.is_empty() {
            // No blkid: try what the kernel knows.
            fs::read_to_string("/proc/filesystems")
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.starts_with("nodev"))
                .map(|l| l.trim().to_string())
                .collect()
        } else {
            vec![fstype.clone()]
        };
        let mut last = io::Error::from_raw_os_error(libc::EINVAL);
        for t in &tries {
            match sys::mount(&g, &target, t, flags, &data) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        // The kernel says why in its log, not in the errno.
        let why = run("busybox", &["dmesg"]).unwrap_or_default();
        let why: Vec<&str> = why.lines().rev().take(2).collect();
        let mut e = io_err(
            &format!("mount {dev} on {mp} (type {fstype}, options '{options}')"),
            last,
        );
        if !why.is_empty() {
            e.message.push_str(&format!(
                " [kernel: {}]",
                why.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        Err(e)
    }
}

fn lvm_list(args: &[&str]) -> R<Vec<String>> {
    if !have("lvm") {
        return Err(err(libc::ENOSYS, "lvm is not in this appliance"));
    }
    let out = run("lvm", args)?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn parted_print(dev: &str) -> R<Vec<String>> {
    let out = run("parted", &["-s", "-m", dev, "unit", "b", "print"])?;
    Ok(out.lines().map(str::to_string).collect())
}

fn find_walk(base: &Path, rel: &mut PathBuf, out: &mut Vec<String>) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(base.join(&*rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for n in names {
        rel.push(&n);
        out.push(rel.to_string_lossy().into_owned());
        let full = base.join(&*rel);
        if fs::symlink_metadata(&full)?.is_dir() {
            find_walk(base, rel, out)?;
        }
        rel.pop();
    }
    Ok(())
}

impl Handler for Ops {
    fn ping(&mut self) -> R<String> {
        Ok(format!("gx-agent {}", env!("CARGO_PKG_VERSION")))
    }

    fn list_devices(&mut self) -> R<Vec<String>> {
        Ok(disks()
            .iter()
            .map(|d| to_user_dev(&format!("/dev/{d}")))
            .collect())
    }

    fn list_partitions(&mut self) -> R<Vec<String>> {
        Ok(disks()
            .iter()
            .flat_map(|d| partitions_of(d))
            .map(|p| to_user_dev(&format!("/dev/{p}")))
            .collect())
    }

    fn blockdev_getsize64(&mut self, device: String) -> R<i64> {
        let g = check_device(&device)?;
        let mut f = File::open(&g).map_err(|e| path_err("open", &device, e))?;
        let n = f
            .seek(SeekFrom::End(0))
            .map_err(|e| path_err("seek", &device, e))?;
        i64::try_from(n).map_err(|_| err(libc::EOVERFLOW, "size overflows i64"))
    }

    fn blockdev_getss(&mut self, device: String) -> R<i32> {
        let g = check_device(&device)?;
        let f = File::open(&g).map_err(|e| path_err("open", &device, e))?;
        sys::blk_sector_size(&f).map_err(|e| path_err("BLKSSZGET", &device, e))
    }

    fn mount(&mut self, mountable: String, mountpoint: String) -> R<()> {
        self.do_mount("", None, &mountable, &mountpoint)
    }

    fn mount_ro(&mut self, mountable: String, mountpoint: String) -> R<()> {
        self.do_mount("ro", None, &mountable, &mountpoint)
    }

    fn mount_options(&mut self, options: String, mountable: String, mountpoint: String) -> R<()> {
        self.do_mount(&options, None, &mountable, &mountpoint)
    }

    fn mount_vfs(
        &mut self,
        options: String,
        vfstype: String,
        mountable: String,
        mountpoint: String,
    ) -> R<()> {
        self.do_mount(&options, Some(&vfstype), &mountable, &mountpoint)
    }

    fn umount(&mut self, pathordevice: String) -> R<()> {
        let target = if pathordevice.starts_with("/dev/") {
            let g = to_guest_dev(&pathordevice);
            mount_table()
                .into_iter()
                .rev()
                .find(|m| m.dev == g)
                .map(|m| PathBuf::from(m.dir))
                .ok_or_else(|| err(libc::EINVAL, format!("{pathordevice}: not mounted")))?
        } else {
            resolve(&pathordevice, true)?
        };
        sys::umount(&target).map_err(|e| path_err("umount", &pathordevice, e))
    }

    fn umount_all(&mut self) -> R<()> {
        let mut dirs: Vec<String> = mount_table().into_iter().map(|m| m.dir).collect();
        // Deepest first, so nested mounts come off before their parents.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
        for d in dirs {
            sys::umount(Path::new(&d)).map_err(|e| path_err("umount", &guest_rel(&d), e))?;
        }
        Ok(())
    }

    fn mounts(&mut self) -> R<Vec<String>> {
        Ok(mount_table().iter().map(|m| to_user_dev(&m.dev)).collect())
    }

    fn mountpoints(&mut self) -> R<Vec<(String, String)>> {
        Ok(mount_table()
            .iter()
            .map(|m| (to_user_dev(&m.dev), guest_rel(&m.dir)))
            .collect())
    }

    fn ls(&mut self, directory: String) -> R<Vec<String>> {
        let p = resolve(&directory, true)?;
        let mut v: Vec<String> = fs::read_dir(&p)
            .map_err(|e| path_err("ls", &directory, e))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<_>>()
            .map_err(|e| path_err("ls", &directory, e))?;
        v.sort();
        Ok(v)
    }

    fn ll(&mut self, directory: String) -> R<String> {
        let p = resolve(&directory, true)?;
        run("busybox", &["ls", "-la", &p.to_string_lossy()])
    }

    fn cat(&mut self, path: String) -> R<String> {
        let v = read_limited(&path, REPLY_DATA_MAX)?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    }

    fn read_file(&mut self, path: String) -> R<Vec<u8>> {
        read_limited(&path, REPLY_DATA_MAX)
    }

    fn download(&mut self, remotefilename: String, out: &mut dyn gx_protocol::FileOut) -> R<()> {
        let p = resolve(&remotefilename, true)?;
        let mut f = File::open(&p).map_err(|e| path_err("open", &remotefilename, e))?;
        if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
            // Devices, FIFOs: plain reads.
            return pump(&mut f, out, &remotefilename, "read", "download");
        }
        out.send_file(&mut f)
            .map(|_| ())
            .map_err(|e| path_err("download", &remotefilename, e))
    }

    fn upload(&mut self, remotefilename: String, data: &mut dyn Read) -> R<()> {
        let p = resolve(&remotefilename, true)?;
        let mut f = File::create(&p).map_err(|e| path_err("create", &remotefilename, e))?;
        pump(data, &mut f, &remotefilename, "upload", "write")
    }

    fn write(&mut self, path: String, content: Vec<u8>) -> R<()> {
        let p = resolve(&path, true)?;
        fs::write(&p, content).map_err(|e| path_err("write", &path, e))
    }

    fn write_append(&mut self, path: String, content: Vec<u8>) -> R<()> {
        let p = resolve(&path, true)?;
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&p)
            .and_then(|mut f| f.write_all(&content))
            .map_err(|e| path_err("write_append", &path, e))
    }

    fn mkdir(&mut self, path: String) -> R<()> {
        let p = resolve_parent(&path)?;
        fs::create_dir(&p).map_err(|e| path_err("mkdir", &path, e))
    }

    fn mkdir_p(&mut self, path: String) -> R<()> {
        let p = resolve(&path, true)?;
        fs::create_dir_all(&p).map_err(|e| path_err("mkdir_p", &path, e))
    }

    fn mkdir_mode(&mut self, path: String, mode: i32) -> R<()> {
        let p = resolve_parent(&path)?;
        fs::DirBuilder::new()
            .mode(mode as u32)
            .create(&p)
            .map_err(|e| path_err("mkdir_mode", &path, e))
    }

    fn rm(&mut self, path: String) -> R<()> {
        let p = resolve_parent(&path)?;
        fs::remove_file(&p).map_err(|e| path_err("rm", &path, e))
    }

    fn rm_rf(&mut self, path: String) -> R<()> {
        let p = resolve_parent(&path)?;
        let r = match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&p),
            Ok(_) => fs::remove_file(&p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        r.map_err(|e| path_err("rm_rf", &path, e))
    }

    fn rmdir(&mut self, path: String) -> R<()> {
        let p = resolve_parent(&path)?;
        fs::remove_dir(&p).map_err(|e| path_err("rmdir", &path, e))
    }

    fn mv(&mut self, src: String, dest: String) -> R<()> {
        busybox_src_dest(
            &["mv", "-f"],
            &resolve_parent(&src)?,
            &resolve(&dest, true)?,
        )
    }

    fn cp(&mut self, src: String, dest: String) -> R<()> {
        busybox_src_dest(&["cp"], &resolve(&src, true)?, &resolve(&dest, true)?)
    }

    fn cp_a(&mut self, src: String, dest: String) -> R<()> {
        busybox_src_dest(&["cp", "-a"], &resolve(&src, true)?, &resolve(&dest, true)?)
    }

    fn chmod(&mut self, mode: i32, path: String) -> R<()> {
        let p = resolve(&path, true)?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode as u32 & 0o7777))
            .map_err(|e| path_err("chmod", &path, e))
    }

    fn chown(&mut self, owner: i32, group: i32, path: String) -> R<()> {
        let p = resolve(&path, true)?;
        std::os::unix::fs::chown(&p, id(owner), id(group)).map_err(|e| path_err("chown", &path, e))
    }

    fn lchown(&mut self, owner: i32, group: i32, path: String) -> R<()> {
        let p = resolve(&path, false)?;
        std::os::unix::fs::lchown(&p, id(owner), id(group))
            .map_err(|e| path_err("lchown", &path, e))
    }

    fn touch(&mut self, path: String) -> R<()> {
        let p = resolve(&path, true)?;
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&p)
            .map_err(|e| path_err("touch", &path, e))?;
        let now = std::time::SystemTime::now();
        f.set_times(fs::FileTimes::new().set_accessed(now).set_modified(now))
            .map_err(|e| path_err("touch", &path, e))
    }

    fn ln_s(&mut self, target: String, linkname: String) -> R<()> {
        let l = resolve_parent(&linkname)?;
        std::os::unix::fs::symlink(&target, &l).map_err(|e| path_err("ln_s", &linkname, e))
    }

    fn ln(&mut self, target: String, linkname: String) -> R<()> {
        let t = resolve(&target, false)?;
        let l = resolve_parent(&linkname)?;
        fs::hard_link(&t, &l).map_err(|e| path_err("ln", &linkname, e))
    }

    fn rename(&mut self, oldpath: String, newpath: String) -> R<()> {
        let o = resolve_parent(&oldpath)?;
        let n = resolve_parent(&newpath)?;
        fs::rename(&o, &n).map_err(|e| path_err("rename", &oldpath, e))
    }

    fn truncate(&mut self, path: String) -> R<()> {
        self.truncate_size(path, 0)
    }

    fn truncate_size(&mut self, path: String, size: i64) -> R<()> {
        let p = resolve(&path, true)?;
        let size = u64::try_from(size).map_err(|_| err(libc::EINVAL, "negative size"))?;
        OpenOptions::new()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_len(size))
            .map_err(|e| path_err("truncate", &path, e))
    }

    fn sync(&mut self) -> R<()> {
        sys::sync();
        Ok(())
    }

    fn statvfs(&mut self, path: String) -> R<StatVfs> {
        let p = resolve(&path, true)?;
        let s = sys::statvfs(&p).map_err(|e| path_err("statvfs", &path, e))?;
        Ok(StatVfs {
            bsize: s.f_bsize as i64,
            frsize: s.f_frsize as i64,
            blocks: s.f_blocks as i64,
            bfree: s.f_bfree as i64,
            bavail: s.f_bavail as i64,
            files: s.f_files as i64,
            ffree: s.f_ffree as i64,
            favail: s.f_favail as i64,
            fsid: s.f_fsid as i64,
            flag: s.f_flag as i64,
            namemax: s.f_namemax as i64,
        })
    }

    fn lstatns(&mut self, path: String) -> R<StatNs> {
        let m = metadata(&path, false)?;
        Ok(StatNs {
            st_dev: m.dev() as i64,
            st_ino: m.ino() as i64,
            st_mode: i64::from(m.mode()),
            st_nlink: m.nlink() as i64,
            st_uid: i64::from(m.uid()),
            st_gid: i64::from(m.gid()),
            st_rdev: m.rdev() as i64,
            st_size: m.size() as i64,
            st_blksize: m.blksize() as i64,
            st_blocks: m.blocks() as i64,
            st_atime_sec: m.atime(),
            st_atime_nsec: m.atime_nsec(),
            st_mtime_sec: m.mtime(),
            st_mtime_nsec: m.mtime_nsec(),
            st_ctime_sec: m.ctime(),
            st_ctime_nsec: m.ctime_nsec(),
        })
    }

    fn exists(&mut self, path: String) -> R<bool> {
        Ok(resolve(&path, true).map(|p| p.exists()).unwrap_or(false))
    }

    fn is_file(&mut self, path: String) -> R<bool> {
        Ok(metadata(&path, false).map(|m| m.is_file()).unwrap_or(false))
    }

    fn is_dir(&mut self, path: String) -> R<bool> {
        Ok(metadata(&path, false).map(|m| m.is_dir()).unwrap_or(false))
    }

    fn readlink(&mut self, path: String) -> R<String> {
        let p = resolve(&path, false)?;
        fs::read_link(&p)
            .map(|t| t.to_string_lossy().into_owned())
            .map_err(|e| path_err("readlink", &path, e))
    }

    fn filesize(&mut self, path: String) -> R<i64> {
        Ok(metadata(&path, true)?.len() as i64)
    }

    fn find(&mut self, directory: String) -> R<Vec<String>> {
        let base = resolve(&directory, true)?;
        let mut out = Vec::new();
        find_walk(&base, &mut PathBuf::new(), &mut out)
            .map_err(|e| path_err("find", &directory, e))?;
        Ok(out)
    }

    fn pread(&mut self, path: String, count: i32, offset: i64) -> R<Vec<u8>> {
        let p = resolve(&path, true)?;
        let count = usize::try_from(count).map_err(|_| err(libc::EINVAL, "negative count"))?;
        let offset = u64::try_from(offset).map_err(|_| err(libc::EINVAL, "negative offset"))?;
        if count > REPLY_DATA_MAX {
            return Err(err(
                libc::EINVAL,
                format!("count {count} is over the message limit"),
            ));
        }
        let mut f = File::open(&p).map_err(|e| path_err("open", &path, e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| path_err("seek", &path, e))?;
        let mut v = Vec::new();
        f.take(count as u64)
            .read_to_end(&mut v)
            .map_err(|e| path_err("pread", &path, e))?;
        Ok(v)
    }

    fn vfs_type(&mut self, mountable: String) -> R<String> {
        let g = check_device(&mountable)?;
        match probe(&g) {
            Some(p) => Ok(p.fs_type),
            None => blkid(&g, "TYPE"),
        }
    }

    fn vfs_label(&mut self, mountable: String) -> R<String> {
        let g = check_device(&mountable)?;
        match probe(&g) {
            Some(p) => Ok(p.label),
            None => blkid(&g, "LABEL"),
        }
    }

    fn vfs_uuid(&mut self, mountable: String) -> R<String> {
        let g = check_device(&mountable)?;
        match probe(&g) {
            Some(p) => Ok(p.uuid),
            None => blkid(&g, "UUID"),
        }
    }

    fn list_filesystems(&mut self) -> R<Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut pv = false;
        for d in disks() {
            let parts = partitions_of(&d);
            let devs: Vec<String> = if parts.is_empty() { vec![d] } else { parts };
            for p in devs {
                let g = format!("/dev/{p}");
                let t = probe_type(&g);
                pv |= t == "LVM2_member";
                // An MBR extended partition holds no filesystem of its own.
                if t.is_empty() && is_extended(&p) {
                    continue;
                }
                let t = if t.is_empty() {
                    "unknown".to_string()
                } else {
                    t
                };
                out.push((to_user_dev(&g), t));
            }
        }
        // No physical volume, no logical volumes: skip lvm (~0.3 s under TCG).
        if let Some(lvs) = pv.then(|| self.lvs().ok()).flatten() {
            for lv in lvs {
                let t = probe_type(&lv);
                out.push((lv, if t.is_empty() { "unknown".into() } else { t }));
            }
        }
        Ok(out)
    }

    fn mkfs(&mut self, fstype: String, device: String) -> R<()> {
        let g = check_device(&device)?;
        let r = match fstype.as_str() {
            "ext2" | "ext3" | "ext4" => run("mke2fs", &["-q", "-F", "-t", &fstype, &g]),
            "vfat" | "fat" | "msdos" => run("mkfs.vfat", &[&g]),
            "ntfs" => run("mkntfs", &["-Q", "-F", "-q", &g]),
            "xfs" => run("mkfs.xfs", &["-f", "-q", &g]),
            "btrfs" => run("mkfs.btrfs", &["-f", "-q", &g]),
            "swap" => run("mkswap", &[&g]),
            other => {
                return Err(err(
                    libc::EINVAL,
                    format!("mkfs: unsupported filesystem type {other}"),
                ));
            }
        };
        r.map(|_| ())
    }

    fn part_init(&mut self, device: String, parttype: String) -> R<()> {
        let g = check_device(&device)?;
        let label = match parttype.as_str() {
            "msdos" | "mbr" => "msdos",
            "gpt" | "efi" => "gpt",
            other => {
                return Err(err(
                    libc::EINVAL,
                    format!("part_init: unknown type {other}"),
                ));
            }
        };
        run("parted", &["-s", &g, "mklabel", label]).map(|_| ())
    }

    fn part_add(&mut self, device: String, prlogex: String, startsect: i64, endsect: i64) -> R<()> {
        let g = check_device(&device)?;
        let kind = match prlogex.as_str() {
            "p" | "primary" => "primary",
            "l" | "logical" => "logical",
            "e" | "extended" => "extended",
            other => return Err(err(libc::EINVAL, format!("part_add: bad type {other}"))),
        };
        let start = format!("{startsect}s");
        let end = format!("{endsect}s");
        run(
            "parted",
            &["-s", "-a", "none", &g, "--", "mkpart", kind, &start, &end],
        )
        .map(|_| ())
    }

    fn part_disk(&mut self, device: String, parttype: String) -> R<()> {
        self.part_init(device.clone(), parttype.clone())?;
        // Leave room for the GPT backup at the end; start on the usual 1 MiB.
        let end = if parttype == "gpt" || parttype == "efi" {
            -34
        } else {
            -1
        };
        self.part_add(device, "p".into(), 2048, end)
    }

    fn part_list(&mut self, device: String) -> R<Vec<Partition>> {
        let g = check_device(&device)?;
        let mut out = Vec::new();
        for l in parted_print(&g)?.iter().skip(2) {
            let f: Vec<&str> = l.trim_end_matches(';').split(':').collect();
            if f.len() < 4 {
                continue;
            }
            let num = |s: &str| s.trim_end_matches('B').parse::<i64>().ok();
            if let (Ok(n), Some(s), Some(e), Some(z)) =
                (f[0].parse::<i32>(), num(f[1]), num(f[2]), num(f[3]))
            {
                out.push(Partition {
                    part_num: n,
                    part_start: s,
                    part_end: e,
                    part_size: z,
                });
            }
        }
        Ok(out)
    }

    fn part_get_parttype(&mut self, device: String) -> R<String> {
        let g = check_device(&device)?;
        let lines = parted_print(&g)?;
        lines
            .get(1)
            .and_then(|l| l.split(':').nth(5))
            .map(str::to_string)
            .ok_or_else(|| {
                err(
                    libc::EINVAL,
                    format!("{device}: cannot read the partition table type"),
                )
            })
    }

    fn resize2fs(&mut self, device: String) -> R<()> {
        let g = check_device(&device)?;
        run("resize2fs", &[&g]).map(|_| ())
    }

    fn e2fsck_f(&mut self, device: String) -> R<()> {
        let g = check_device(&device)?;
        ensure_helpers();
        let out = Command::new("e2fsck")
            .args(["-f", "-y", &g])
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io_err("e2fsck", e))?;
        // 0: clean, 1: errors fixed. Anything else is a failure.
        match out.status.code() {
            Some(0) | Some(1) => Ok(()),
            _ => Err(err(
                libc::EIO,
                format!(
                    "e2fsck -fy {device}: {}{}",
                    out.status,
                    tail(&String::from_utf8_lossy(&out.stdout))
                ),
            )),
        }
    }

    fn lvs(&mut self) -> R<Vec<String>> {
        self.need_modules("dm");
        let l = lvm_list(&[
            "lvs",
            "--noheadings",
            "--separator",
            "/",
            "-o",
            "vg_name,lv_name",
        ])?;
        Ok(l.into_iter().map(|s| format!("/dev/{s}")).collect())
    }

    fn vgs(&mut self) -> R<Vec<String>> {
        self.need_modules("dm");
        lvm_list(&["vgs", "--noheadings", "-o", "vg_name"])
    }

    fn pvs(&mut self) -> R<Vec<String>> {
        self.need_modules("dm");
        let l = lvm_list(&["pvs", "--noheadings", "-o", "pv_name"])?;
        Ok(l.iter().map(|p| to_user_dev(p)).collect())
    }

    fn vg_activate_all(&mut self, activate: bool) -> R<()> {
        self.need_modules("dm");
        run("lvm", &["vgchange", "-a", if activate { "y" } else { "n" }]).map(|_| ())
    }

    fn sh(&mut self, command: String) -> R<String> {
        // A shell may do anything (lvm, mount -t ...): give it every module.
        self.need_modules("all");
        let out = Command::new("busybox")
            .args(["sh", "-c", &command])
            .current_dir(SYSROOT)
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io_err("sh", e))?;
        stdout_or_error("sh", &out)
    }

    fn debug(&mut self, subcmd: String, extraargs: Vec<String>) -> R<String> {
        let args: Vec<&str> = extraargs.iter().map(String::as_str).collect();
        match subcmd.as_str() {
            "help" => Ok(
                "help env dmesg ls ll cat modules mounts sleep-ms exit lying-frame flood \
                    progress-flood\n"
                    .into(),
            ),
            "env" => Ok(std::env::vars()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect()),
            "dmesg" => run("busybox", &["dmesg"]),
            "ls" => run("busybox", &[&["ls"][..], &args].concat()),
            "ll" => run("busybox", &[&["ls", "-la"][..], &args].concat()),
            "cat" => {
                let p = args
                    .first()
                    .ok_or_else(|| err(libc::EINVAL, "cat: which file?"))?;
                let v = fs::read(p).map_err(|e| path_err("cat", p, e))?;
                Ok(String::from_utf8_lossy(&v[..v.len().min(REPLY_DATA_MAX)]).into_owned())
            }
            "modules" => fs::read_to_string("/proc/modules").map_err(|e| io_err("modules", e)),
            "mounts" => fs::read_to_string("/proc/self/mounts").map_err(|e| io_err("mounts", e)),
            // Fault injection for the host's tests: a slow call, a dead agent, a
            // reply whose length lies.
            "sleep-ms" => {
                let ms: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(String::new())
            }
            "exit" => {
                // As PID 1 this panics the kernel; panic=-1 and -no-reboot end
                // the VM: the host sees the channel close mid-call.
                crate::log("exiting on request (debug exit)");
                std::process::exit(1);
            }
            "lying-frame" => {
                // The reply to this call will claim 64 MiB (see run_call): the
                // host must refuse it without allocating that much.
                self.inject_lie = true;
                Ok(String::new())
            }
            // Instead of replying, send frames forever (see run_call): stray
            // replies of other calls, or progress of this one. The host must
            // give up, not loop.
            "flood" => {
                self.inject_flood = Some(false);
                Ok(String::new())
            }
            "progress-flood" => {
                self.inject_flood = Some(true);
                Ok(String::new())
            }
            other => Err(err(
                libc::EINVAL,
                format!("debug: unknown subcommand {other}"),
            )),
        }
    }

    fn zero(&mut self, device: String) -> R<()> {
        let g = check_device(&device)?;
        let mut f = OpenOptions::new()
            .write(true)
            .open(&g)
            .map_err(|e| path_err("open", &device, e))?;
        let z = vec![0u8; 1 << 20];
        let size = f
            .seek(SeekFrom::End(0))
            .map_err(|e| path_err("seek", &device, e))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| path_err("seek", &device, e))?;
        let n = (size as usize).min(z.len());
        f.write_all(&z[..n])
            .and_then(|_| f.sync_all())
            .map_err(|e| path_err("zero", &device, e))
    }

    fn blockdev_rereadpt(&mut self, device: String) -> R<()> {
        let g = check_device(&device)?;
        let f = File::open(&g).map_err(|e| path_err("open", &device, e))?;
        sys::blk_reread_pt(&f).map_err(|e| path_err("BLKRRPART", &device, e))
    }

    fn internal_shutdown(&mut self) -> R<()> {
        let r = self.umount_all();
        sys::sync();
        r
    }

    fn internal_start(&mut self, time_ns: i64, seed: Vec<u8>, drives: i32) -> R<String> {
        let t = Instant::now();
        if time_ns > 0 {
            if let Err(e) = sys::set_realtime(time_ns) {
                crate::log(&format!("setting the clock: {e}"));
            }
        }
        if !seed.is_empty() {
            sys::add_entropy_and_reseed(&seed).map_err(|e| io_err("seeding the RNG", e))?;
        }
        load_modules("/gx/modules.disks");
        // virtio_blk probes synchronously when it loads; the wait only covers a
        // driver that binds late.
        let want =
            usize::try_from(drives).unwrap_or(0) + usize::from(Path::new(HELPERS_ID).exists());
        let deadline = t + Duration::from_secs(20);
        loop {
            let have = all_disks().len();
            if have >= want {
                break;
            }
            if Instant::now() > deadline {
                return Err(err(
                    libc::EIO,
                    format!("only {have} of {want} disks appeared within 20 s"),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(format!(
            "{}; disks ready in {} ms",
            self.info,
            t.elapsed().as_millis()
        ))
    }
}

fn is_extended(part: &str) -> bool {
    // The kernel shows an extended partition as 1 KiB (2 sectors) or less.
    fs::read_to_string(format!("/sys/class/block/{part}/size"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .is_some_and(|s| s <= 2)
}

fn id(v: i32) -> Option<u32> {
    // -1 means "leave unchanged", as in chown(2).
    u32::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_translate_both_ways() {
        assert_eq!(to_guest_dev("/dev/sda"), "/dev/vda");
        assert_eq!(to_guest_dev("/dev/sdb12"), "/dev/vdb12");
        assert_eq!(to_guest_dev("/dev/hdc1"), "/dev/vdc1");
        assert_eq!(to_guest_dev("/dev/mapper/vg-lv"), "/dev/mapper/vg-lv");
        assert_eq!(to_guest_dev("/dev/sd"), "/dev/sd");
        assert_eq!(to_user_dev("/dev/vdaa3"), "/dev/sdaa3");
        assert_eq!(to_user_dev("/dev/vg/lv"), "/dev/vg/lv");
    }

    #[test]
    fn mount_options_split_into_flags_and_data() {
        let (f, d) = parse_options("ro,noatime,errors=remount-ro,data=ordered");
        assert_eq!(f, libc::MS_RDONLY | libc::MS_NOATIME);
        assert_eq!(d, "errors=remount-ro,data=ordered");
        assert_eq!(parse_options(""), (0, String::new()));
    }

    #[test]
    fn proc_mounts_escapes() {
        assert_eq!(unescape("/sysroot/a\\040b"), "/sysroot/a b");
        assert_eq!(unescape("/x\\\\y"), "/x\\\\y");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }
}

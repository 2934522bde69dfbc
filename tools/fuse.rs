//! A guest's filesystem as a FUSE mount (gx-mount, and gx-fish's
//! `mount-local`): each kernel request becomes a Handle call on a guest
//! path. Reads are answered by whichever engine the handle uses (the direct
//! engine for a read-only mount: no VM); writes go to the appliance.
//!
//! Node ids are ours (the kernel's `nodeid`), one per guest path looked up,
//! forgotten when the kernel forgets them; `st_ino` is the guest's inode
//! number with `-o use_ino`, else the node id (as libfuse's high-level API
//! does). Directories are listed with their attributes in one go
//! (readdirplus), so a walk costs one call per directory, not per entry.
//!
//! Requests are taken one at a time from the kernel; file data of a
//! read-only mount is read by a pool of worker threads, each with its own
//! Handle on the same drives (the direct engine opens in milliseconds), so
//! the kernel's parallel read-ahead is served in parallel.
//!
//! Must not: write anything in a read-only mount, or hold a guest path past
//! the rename or unlink that changed it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    FileAttr, FileType, Filesystem, KernelConfig, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow,
};
use gx_guestfs::{Handle, StatExt, StatNs};

/// What `-o` options and the mode say about serving requests.
#[derive(Debug, Clone)]
pub struct Options {
    pub readonly: bool,
    /// How long the kernel may cache attributes and names.
    pub attr_ttl: Duration,
    pub entry_ttl: Duration,
    /// Report the guest's inode numbers (`-o use_ino`).
    pub use_ino: bool,
    /// Keep file data cached across opens (`-o kernel_cache`; always for a
    /// read-only mount, whose image cannot change under us).
    pub kernel_cache: bool,
    /// Show every file as owned by this uid/gid (`-o uid=`, `-o gid=`).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Show permissions masked with this (`-o umask=`).
    pub umask: Option<u32>,
    /// Print each request to stderr (`-x`).
    pub trace: bool,
    /// Sync before exiting (not with `-n`).
    pub sync: bool,
    /// Shut the appliance down when the mount ends (gx-mount; not
    /// gx-fish's `mount-local`, whose session goes on).
    pub shutdown: bool,
}

/// Makes a new Handle on the same drives with the same mounts, for a
/// worker thread (read-only mounts only).
pub type HandleFactory = Arc<dyn Fn() -> gx_guestfs::Result<Handle> + Send + Sync>;

/// Where the Handle goes when the mount ends, for whoever lent it.
pub type HandleSlot = Rc<RefCell<Option<Handle>>>;

type Job = Box<dyn FnOnce(&Handle) + Send>;

/// Worker threads reading file data, each with its own Handle.
struct Workers {
    jobs: Option<mpsc::Sender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn start(n: usize, factory: HandleFactory) -> Workers {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..n)
            .map(|_| {
                let rx = rx.clone();
                let factory = factory.clone();
                std::thread::spawn(move || {
                    // A worker that cannot open the image takes no jobs;
                    // the others (and the main thread) still serve.
                    let Ok(g) = factory() else { return };
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&g),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Workers {
            jobs: Some(tx),
            threads,
        }
    }

    /// Hands `job` to a worker; gives it back when none is running.
    fn submit(&self, job: Job) -> Result<(), Job> {
        if self.threads.iter().all(|t| t.is_finished()) {
            return Err(job);
        }
        match &self.jobs {
            Some(tx) => tx.send(job).map_err(|e| e.0),
            None => Err(job),
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Node {
    path: String,
    /// The kernel's lookup count: the node is forgotten at zero.
    lookups: u64,
}

/// Entries of an open directory, served page by page.
struct DirList {
    entries: Vec<(String, FileType, i64)>,
}

pub struct GuestFs {
    g: Handle,
    opts: Options,
    workers: Option<Workers>,
    slot: Option<HandleSlot>,
    nodes: HashMap<u64, Node>,
    by_path: HashMap<String, u64>,
    next_node: u64,
    dirs: HashMap<u64, DirList>,
    next_fh: u64,
    /// Paths known to have no `security.capability` (read-write mounts).
    /// The kernel asks for it before every write(2) to see whether the write
    /// must drop capabilities; under TCG each such RPC into the appliance
    /// cost as much as ~100 KiB of file data (763 of them copying 100 MB).
    /// We are the image's only writer, so the answer holds until we change
    /// names or attributes: every such operation clears the set.
    no_caps: HashSet<String>,
    /// Write-back data gathered into one larger guest write (see `write`).
    pending: Option<Pending>,
    /// Errors of gathered writes that failed after the kernel was told they
    /// succeeded, by node: the file's next flush (close) or fsync reports
    /// them, as the kernel reports a failed write-back.
    write_errors: HashMap<u64, i32>,
    /// The last gathering buffer, kept for the next run: a fresh one of a
    /// few MiB is pages the kernel must fault in and zero each time (page
    /// faults were the largest item in this process's profile copying in).
    spare: Vec<u8>,
}

/// Consecutive write-back data of one file not sent to the guest yet.
struct Pending {
    ino: u64,
    path: String,
    offset: i64,
    data: Vec<u8>,
}

/// The most write-back data gathered into one guest write. The kernel sends
/// at most 1 MiB per FUSE write; each appliance call pays a fixed cost under
/// TCG (the call's round trip, path resolution and open in the guest, the
/// direct write's setup), so several of them go as one. Such a write passes
/// through the appliance's staging disk, not the call's frame (see
/// `Handle::pwrite`; without a staging disk it is sent in frame-sized
/// pieces). Copying 100 MB in under TCG, medians of 7 alternating runs on
/// a loaded host: 3 MiB 200 MB/s, 8 MiB 207 MB/s, 16 MiB 159 MB/s.
const GATHER_MAX: usize = 8 << 20;

/// Write-back pages: only writes made of whole pages at page offsets are
/// gathered (a partial page ends a run and is sent at once).
const PAGE: usize = 4096;

/// The errno for a Handle error.
fn errno(e: &gx_guestfs::Error) -> i32 {
    let n = e.errno();
    if n > 0 { n } else { libc::EIO }
}

fn child(dir: &str, name: &OsStr) -> String {
    gx_guestfs::path::child(dir, &String::from_utf8_lossy(name.as_bytes()))
}

fn kind_of(st: &StatNs) -> FileType {
    match st.file_type() {
        gx_guestfs::FileType::Directory => FileType::Directory,
        gx_guestfs::FileType::Symlink => FileType::Symlink,
        gx_guestfs::FileType::CharDevice => FileType::CharDevice,
        gx_guestfs::FileType::BlockDevice => FileType::BlockDevice,
        gx_guestfs::FileType::Fifo => FileType::NamedPipe,
        gx_guestfs::FileType::Socket => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn ftyp_kind(c: u8) -> FileType {
    match c {
        b'd' => FileType::Directory,
        b'l' => FileType::Symlink,
        b'c' => FileType::CharDevice,
        b'b' => FileType::BlockDevice,
        b'f' => FileType::NamedPipe,
        b's' => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    let nsec = u32::try_from(nsec.clamp(0, 999_999_999)).unwrap_or(0);
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec)
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + Duration::new(0, nsec)
    }
}

/// A time as utimens takes it: seconds, nanoseconds (-1 now, -2 leave).
fn utime(t: Option<TimeOrNow>) -> (i64, i64) {
    match t {
        None => (0, -2),
        Some(TimeOrNow::Now) => (0, -1),
        Some(TimeOrNow::SpecificTime(st)) => match st.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
            Err(e) => {
                let d = e.duration();
                (-(d.as_secs() as i64), 0)
            }
        },
    }
}

impl GuestFs {
    /// A filesystem serving `g`. `factory` (read-only mounts) gives the
    /// read workers their Handles; `slot` receives `g` back when the mount
    /// ends.
    pub fn new(
        g: Handle,
        opts: Options,
        factory: Option<HandleFactory>,
        slot: Option<HandleSlot>,
    ) -> GuestFs {
        let mut nodes = HashMap::new();
        nodes.insert(
            fuser::FUSE_ROOT_ID,
            Node {
                path: "/".into(),
                lookups: 1,
            },
        );
        let mut by_path = HashMap::new();
        by_path.insert("/".to_string(), fuser::FUSE_ROOT_ID);
        let workers = match factory {
            Some(f) if opts.readonly => {
                let n = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
                Some(Workers::start(n, f))
            }
            _ => None,
        };
        GuestFs {
            g,
            opts,
            workers,
            slot,
            nodes,
            by_path,
            next_node: 2,
            dirs: HashMap::new(),
            next_fh: 1,
            no_caps: HashSet::new(),
            pending: None,
            write_errors: HashMap::new(),
            spare: Vec::new(),
        }
    }

    fn trace(&self, what: std::fmt::Arguments<'_>) {
        if self.opts.trace {
            eprintln!("gx-mount: {what}");
        }
    }

    fn path(&self, ino: u64) -> Option<String> {
        self.nodes.get(&ino).map(|n| n.path.clone())
    }

    /// The node id of `path`, counting one more kernel lookup.
    fn remember(&mut self, path: &str) -> u64 {
        if let Some(&id) = self.by_path.get(path) {
            if let Some(n) = self.nodes.get_mut(&id) {
                n.lookups += 1;
            }
            return id;
        }
        let id = self.next_node;
        self.next_node += 1;
        self.nodes.insert(
            id,
            Node {
                path: path.to_string(),
                lookups: 1,
            },
        );
        self.by_path.insert(path.to_string(), id);
        id
    }

    /// Moves every node at or below `from` to `to` (after a rename).
    fn rename_nodes(&mut self, from: &str, to: &str) {
        let prefix = format!("{}/", from.trim_end_matches('/'));
        let moved: Vec<(String, u64)> = self
            .by_path
            .iter()
            .filter(|(p, _)| p.as_str() == from || p.starts_with(&prefix))
            .map(|(p, id)| (p.clone(), *id))
            .collect();
        for (old, id) in moved {
            let new = format!("{to}{}", &old[from.len()..]);
            self.by_path.remove(&old);
            self.by_path.insert(new.clone(), id);
            if let Some(n) = self.nodes.get_mut(&id) {
                n.path = new;
            }
        }
    }

    fn forget_path(&mut self, path: &str) {
        if let Some(id) = self.by_path.remove(path) {
            self.nodes.remove(&id);
        }
    }

    fn attr(&self, ino: u64, st: &StatNs) -> FileAttr {
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        FileAttr {
            ino: if self.opts.use_ino { u(st.st_ino) } else { ino },
            size: u(st.st_size),
            blocks: u(st.st_blocks),
            atime: time(st.st_atime_sec, st.st_atime_nsec),
            mtime: time(st.st_mtime_sec, st.st_mtime_nsec),
            ctime: time(st.st_ctime_sec, st.st_ctime_nsec),
            crtime: time(st.st_ctime_sec, st.st_ctime_nsec),
            kind: kind_of(st),
            perm: u16::try_from(match self.opts.umask {
                Some(m) => st.perm() & !m,
                None => st.perm(),
            })
            .unwrap_or(0),
            nlink: u32::try_from(st.st_nlink).unwrap_or(u32::MAX),
            uid: self
                .opts
                .uid
                .unwrap_or_else(|| u32::try_from(st.st_uid).unwrap_or(0)),
            gid: self
                .opts
                .gid
                .unwrap_or_else(|| u32::try_from(st.st_gid).unwrap_or(0)),
            rdev: u32::try_from(st.st_rdev).unwrap_or(0),
            blksize: u32::try_from(st.st_blksize).unwrap_or(4096),
            flags: 0,
        }
    }

    /// lstat of a new or changed name, as an entry reply (one lookup).
    fn entry_of(&mut self, path: &str, reply: ReplyEntry) {
        match self.g.lstatns(path) {
            Ok(st) => {
                let id = self.remember(path);
                let attr = self.attr(id, &st);
                reply.entry(&self.opts.entry_ttl, &attr, 0);
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn refuse_write(&self) -> Option<i32> {
        self.opts.readonly.then_some(libc::EROFS)
    }

    /// Sends the gathered write-back data to the guest. Called first by
    /// every operation but `write` (and `forget`), so nothing ever sees the
    /// guest without it. A failure is kept for the file's next flush or fsync.
    fn settle(&mut self) {
        let Some(mut pd) = self.pending.take() else {
            return;
        };
        let mut done = 0;
        while done < pd.data.len() {
            let at = pd
                .offset
                .saturating_add(i64::try_from(done).unwrap_or(i64::MAX));
            match self.g.pwrite(&pd.path, &pd.data[done..], at) {
                Ok(n) if n > 0 => done += usize::try_from(n).unwrap_or(0),
                Ok(_) => {
                    self.write_errors.insert(pd.ino, libc::EIO);
                    break;
                }
                Err(e) => {
                    self.trace(format_args!("write {} at {at}: {e}", pd.path));
                    self.write_errors.insert(pd.ino, errno(&e));
                    break;
                }
            }
        }
        pd.data.clear();
        self.spare = pd.data;
    }

    /// Before an operation that may change names or attributes: sends the
    /// gathered writes first ([`Self::settle`]), forgets what
    /// [`Self::no_caps`] knew, then [`Self::refuse_write`].
    fn begin_change(&mut self) -> Option<i32> {
        self.settle();
        self.no_caps.clear();
        self.refuse_write()
    }
}

impl Drop for GuestFs {
    /// A filesystem that never served (the mount failed) still gives the
    /// handle back.
    fn drop(&mut self) {
        self.settle();
        if let Some(slot) = self.slot.take() {
            *slot.borrow_mut() = Some(std::mem::take(&mut self.g));
        }
    }
}

macro_rules! path_or {
    ($self:ident, $ino:expr, $reply:ident) => {
        match $self.path($ino) {
            Some(p) => p,
            None => return $reply.error(libc::ENOENT),
        }
    };
}

macro_rules! try_reply {
    ($e:expr, $reply:ident) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $reply.error(errno(&e)),
        }
    };
}

impl Filesystem for GuestFs {
    fn init(&mut self, _req: &Request<'_>, config: &mut KernelConfig) -> Result<(), libc::c_int> {
        use fuser::consts::*;
        let _ = config.add_capabilities(FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO);
        if !self.opts.readonly {
            // Writes reach us in large pieces: the kernel gathers them.
            let _ = config.add_capabilities(FUSE_WRITEBACK_CACHE | FUSE_BIG_WRITES);
            let _ = config.set_max_write(1 << 20);
        }
        let _ = config.set_max_readahead(1 << 20);
        Ok(())
    }

    fn destroy(&mut self) {
        // The session is over (unmounted): flush the guest's writes, and
        // power the appliance off or hand the Handle back.
        self.workers = None;
        self.settle();
        if self.opts.sync && !self.opts.readonly {
            let _ = self.g.sync();
        }
        if self.opts.shutdown {
            let _ = self.g.shutdown();
        }
        if let Some(slot) = self.slot.take() {
            *slot.borrow_mut() = Some(std::mem::take(&mut self.g));
        }
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        self.settle();
        let dir = path_or!(self, parent, reply);
        let p = child(&dir, name);
        self.trace(format_args!("lookup {p}"));
        self.entry_of(&p, reply);
    }

    fn forget(&mut self, _req: &Request<'_>, ino: u64, nlookup: u64) {
        if ino == fuser::FUSE_ROOT_ID {
            return;
        }
        let gone = match self.nodes.get_mut(&ino) {
            Some(n) => {
                n.lookups = n.lookups.saturating_sub(nlookup);
                n.lookups == 0
            }
            None => false,
        };
        if gone {
            if let Some(n) = self.nodes.remove(&ino) {
                if self.by_path.get(&n.path) == Some(&ino) {
                    self.by_path.remove(&n.path);
                }
            }
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        self.settle();
        let p = path_or!(self, ino, reply);
        let st = try_reply!(self.g.lstatns(&p), reply);
        reply.attr(&self.opts.attr_ttl, &self.attr(ino, &st));
    }

    fn readlink(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyData) {
        self.settle();
        let p = path_or!(self, ino, reply);
        let t = try_reply!(self.g.readlink(&p), reply);
        reply.data(t.as_bytes());
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        self.settle();
        let p = path_or!(self, ino, reply);
        self.trace(format_args!("open {p} {flags:#o}"));
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            if let Some(e) = self.refuse_write() {
                return reply.error(e);
            }
        }
        if flags & libc::O_TRUNC != 0 && !self.opts.readonly {
            try_reply!(self.g.truncate(&p), reply);
        }
        let keep = if self.opts.kernel_cache || self.opts.readonly {
            fuser::consts::FOPEN_KEEP_CACHE
        } else {
            0
        };
        reply.opened(0, keep);
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        self.settle();
        let p = path_or!(self, ino, reply);
        let count = i32::try_from(size).unwrap_or(i32::MAX);
        let job: Job = Box::new(move |g: &Handle| match g.pread(&p, count, offset) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(&e)),
        });
        let job = match &self.workers {
            Some(w) => match w.submit(job) {
                Ok(()) => return,
                Err(job) => job,
            },
            None => job,
        };
        job(&self.g);
    }

    /// SEEK_DATA / SEEK_HOLE (the kernel answers the other whences itself):
    /// `cp --sparse`, `tar -S` and backup tools find a guest file's holes.
    fn lseek(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        self.settle();
        let hole = match whence {
            libc::SEEK_DATA => false,
            libc::SEEK_HOLE => true,
            _ => return reply.error(libc::EINVAL),
        };
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(libc::ENXIO);
        };
        let p = path_or!(self, ino, reply);
        match try_reply!(self.g.seek_data(&p, offset, hole), reply) {
            Some(at) => reply.offset(i64::try_from(at).unwrap_or(i64::MAX)),
            None => reply.error(libc::ENXIO),
        }
    }

    fn opendir(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        self.settle();
        let p = path_or!(self, ino, reply);
        let entries = try_reply!(self.g.readdir(&p), reply);
        let fh = self.next_fh;
        self.next_fh += 1;
        self.dirs.insert(
            fh,
            DirList {
                entries: entries
                    .into_iter()
                    .map(|d| (d.name, ftyp_kind(d.ftyp), d.ino))
                    .collect(),
            },
        );
        reply.opened(fh, 0);
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let Some(list) = self.dirs.get(&fh) else {
            return reply.error(libc::EBADF);
        };
        let start = usize::try_from(offset).unwrap_or(0);
        for (i, (name, kind, dino)) in list.entries.iter().enumerate().skip(start) {
            let shown = if self.opts.use_ino {
                u64::try_from(*dino).unwrap_or(ino)
            } else {
                ino.wrapping_add(i as u64 + 1)
            };
            if reply.add(shown.max(1), (i + 1) as i64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        fh: u64,
        offset: i64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let dir = path_or!(self, ino, reply);
        let Some(list) = self.dirs.get(&fh) else {
            return reply.error(libc::EBADF);
        };
        let start = usize::try_from(offset).unwrap_or(0);
        let page: Vec<(usize, String)> = list
            .entries
            .iter()
            .enumerate()
            .skip(start)
            .map(|(i, (n, _, _))| (i, n.clone()))
            .collect();
        // Attributes of the page in one call (`.` and `..` are not looked up).
        let names: Vec<String> = page
            .iter()
            .filter(|(_, n)| n != "." && n != "..")
            .map(|(_, n)| n.clone())
            .collect();
        let stats = try_reply!(self.g.lstatnslist(&dir, &names), reply);
        let mut stats = stats.into_iter();
        for (i, name) in page {
            if name == "." || name == ".." {
                let attr = FileAttr {
                    ino,
                    size: 0,
                    blocks: 0,
                    atime: UNIX_EPOCH,
                    mtime: UNIX_EPOCH,
                    ctime: UNIX_EPOCH,
                    crtime: UNIX_EPOCH,
                    kind: FileType::Directory,
                    perm: 0o755,
                    nlink: 2,
                    uid: 0,
                    gid: 0,
                    rdev: 0,
                    blksize: 4096,
                    flags: 0,
                };
                // No lookup is counted for these: the kernel ignores them.
                if reply.add(ino, (i + 1) as i64, &name, &Duration::ZERO, &attr, 0) {
                    break;
                }
                continue;
            }
            let Some(st) = stats.next() else { break };
            let p = gx_guestfs::path::child(&dir, &name);
            let id = self.remember(&p);
            let attr = self.attr(id, &st);
            if reply.add(id, (i + 1) as i64, &name, &self.opts.entry_ttl, &attr, 0) {
                // Not sent: the kernel will not count this lookup.
                self.forget(_req, id, 1);
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        _flags: i32,
        reply: ReplyEmpty,
    ) {
        self.dirs.remove(&fh);
        reply.ok();
    }

    fn statfs(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyStatfs) {
        self.settle();
        let p = self.path(ino).unwrap_or_else(|| "/".into());
        let s = try_reply!(self.g.statvfs(&p), reply);
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        reply.statfs(
            u(s.blocks),
            u(s.bfree),
            u(s.bavail),
            u(s.files),
            u(s.ffree),
            u32::try_from(s.bsize).unwrap_or(4096),
            u32::try_from(s.namemax).unwrap_or(255),
            u32::try_from(s.frsize).unwrap_or(4096),
        );
    }

    fn getxattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        name: &OsStr,
        size: u32,
        reply: ReplyXattr,
    ) {
        self.settle();
        let p = path_or!(self, ino, reply);
        let caps = !self.opts.readonly && name.as_bytes() == b"security.capability";
        if caps && self.no_caps.contains(&p) {
            return reply.error(libc::ENODATA);
        }
        let v = match self.g.lgetxattr(&p, &name.to_string_lossy()) {
            Ok(v) => v,
            Err(e) if e.kind() == gx_guestfs::ErrorKind::NotFound || errno(&e) == libc::ENODATA => {
                if caps {
                    self.no_caps.insert(p);
                }
                return reply.error(libc::ENODATA);
            }
            Err(e) => return reply.error(errno(&e)),
        };
        if size == 0 {
            reply.size(u32::try_from(v.len()).unwrap_or(u32::MAX));
        } else if v.len() > size as usize {
            reply.error(libc::ERANGE);
        } else {
            reply.data(&v);
        }
    }

    fn listxattr(&mut self, _req: &Request<'_>, ino: u64, size: u32, reply: ReplyXattr) {
        self.settle();
        let p = path_or!(self, ino, reply);
        let list = match self.g.lgetxattrs(&p) {
            Ok(l) => l,
            // A filesystem without extended attributes has none.
            Err(e) if e.kind() == gx_guestfs::ErrorKind::Unsupported => Vec::new(),
            Err(e) => return reply.error(errno(&e)),
        };
        let mut buf = Vec::new();
        for x in list {
            buf.extend_from_slice(x.attrname.as_bytes());
            buf.push(0);
        }
        if size == 0 {
            reply.size(u32::try_from(buf.len()).unwrap_or(u32::MAX));
        } else if buf.len() > size as usize {
            reply.error(libc::ERANGE);
        } else {
            reply.data(&buf);
        }
    }

    fn access(&mut self, _req: &Request<'_>, _ino: u64, mask: i32, reply: ReplyEmpty) {
        self.settle();
        if mask & libc::W_OK != 0 {
            if let Some(e) = self.refuse_write() {
                return reply.error(e);
            }
        }
        reply.ok();
    }

    // Writes: the appliance.

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let p = path_or!(self, ino, reply);
        self.trace(format_args!("setattr {p}"));
        if let Some(m) = mode {
            try_reply!(self.g.chmod((m & 0o7777) as i32, &p), reply);
        }
        if uid.is_some() || gid.is_some() {
            let id = |v: Option<u32>| v.map_or(-1, |v| v as i32);
            try_reply!(self.g.lchown(id(uid), id(gid), &p), reply);
        }
        if let Some(sz) = size {
            let sz = i64::try_from(sz).unwrap_or(i64::MAX);
            try_reply!(self.g.truncate_size(&p, sz), reply);
        }
        if atime.is_some() || mtime.is_some() {
            let (a, an) = utime(atime);
            let (m, mn) = utime(mtime);
            try_reply!(self.g.utimens(&p, a, an, m, mn), reply);
        }
        let st = try_reply!(self.g.lstatns(&p), reply);
        reply.attr(&self.opts.attr_ttl, &self.attr(ino, &st));
    }

    fn mknod(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let dir = path_or!(self, parent, reply);
        let p = child(&dir, name);
        let (major, minor) = (libc::major(rdev.into()), libc::minor(rdev.into()));
        if mode & libc::S_IFMT == libc::S_IFREG {
            try_reply!(self.g.write(&p, b""), reply);
            try_reply!(self.g.chmod((mode & !umask & 0o7777) as i32, &p), reply);
        } else {
            try_reply!(
                self.g
                    .mknod((mode & !umask) as i32, major as i32, minor as i32, &p),
                reply
            );
        }
        self.entry_of(&p, reply);
    }

    fn mkdir(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let dir = path_or!(self, parent, reply);
        let p = child(&dir, name);
        try_reply!(self.g.mkdir(&p), reply);
        try_reply!(self.g.chmod((mode & !umask & 0o7777) as i32, &p), reply);
        self.entry_of(&p, reply);
    }

    fn unlink(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let dir = path_or!(self, parent, reply);
        let p = child(&dir, name);
        try_reply!(self.g.rm(&p), reply);
        self.forget_path(&p);
        reply.ok();
    }

    fn rmdir(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let dir = path_or!(self, parent, reply);
        let p = child(&dir, name);
        try_reply!(self.g.rmdir(&p), reply);
        self.forget_path(&p);
        reply.ok();
    }

    fn symlink(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let dir = path_or!(self, parent, reply);
        let p = child(&dir, link_name);
        try_reply!(self.g.ln_s(&target.to_string_lossy(), &p), reply);
        self.entry_of(&p, reply);
    }

    fn rename(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
        reply: ReplyEmpty,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        if flags != 0 {
            // RENAME_NOREPLACE / RENAME_EXCHANGE are not offered.
            return reply.error(libc::EINVAL);
        }
        let from = child(&path_or!(self, parent, reply), name);
        let to = child(&path_or!(self, newparent, reply), newname);
        try_reply!(self.g.rename(&from, &to), reply);
        self.forget_path(&to);
        self.rename_nodes(&from, &to);
        reply.ok();
    }

    fn link(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        newparent: u64,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let target = path_or!(self, ino, reply);
        let p = child(&path_or!(self, newparent, reply), newname);
        try_reply!(self.g.ln(&target, &p), reply);
        self.entry_of(&p, reply);
    }

    fn create(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let dir = path_or!(self, parent, reply);
        let p = child(&dir, name);
        self.trace(format_args!("create {p}"));
        try_reply!(self.g.write(&p, b""), reply);
        try_reply!(self.g.chmod((mode & !umask & 0o7777) as i32, &p), reply);
        let st = try_reply!(self.g.lstatns(&p), reply);
        let id = self.remember(&p);
        let attr = self.attr(id, &st);
        reply.created(&self.opts.entry_ttl, &attr, 0, 0, 0);
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        if let Some(e) = self.refuse_write() {
            return reply.error(e);
        }
        let p = path_or!(self, ino, reply);
        self.trace(format_args!("write {p} {} bytes at {offset}", data.len()));
        let len = u32::try_from(data.len()).unwrap_or(0);
        let whole = data.len() % PAGE == 0;
        // The kernel's write-back of a file comes as consecutive writes: gather
        // them. The kernel is told each succeeded; a later failure is reported
        // by the file's flush or fsync (write-back caching does the same).
        if let Some(pd) = &mut self.pending {
            let end = pd
                .offset
                .checked_add(i64::try_from(pd.data.len()).unwrap_or(i64::MAX));
            if pd.ino == ino && end == Some(offset) && pd.data.len() + data.len() <= GATHER_MAX {
                pd.data.extend_from_slice(data);
                if !whole {
                    self.settle();
                    if let Some(e) = self.write_errors.remove(&ino) {
                        return reply.error(e);
                    }
                }
                return reply.written(len);
            }
        }
        self.settle();
        if whole && data.len() < GATHER_MAX && offset % PAGE as i64 == 0 {
            let mut buf = std::mem::take(&mut self.spare);
            buf.reserve(GATHER_MAX);
            buf.extend_from_slice(data);
            self.pending = Some(Pending {
                ino,
                path: p,
                offset,
                data: buf,
            });
            return reply.written(len);
        }
        let n = try_reply!(self.g.pwrite(&p, data, offset), reply);
        reply.written(u32::try_from(n).unwrap_or(0));
    }

    fn flush(&mut self, _req: &Request<'_>, ino: u64, _fh: u64, _lo: u64, reply: ReplyEmpty) {
        self.settle();
        match self.write_errors.remove(&ino) {
            Some(e) => reply.error(e),
            None => reply.ok(),
        }
    }

    fn release(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _flags: i32,
        _lock_owner: Option<u64>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.settle();
        reply.ok();
    }

    fn fsync(&mut self, _req: &Request<'_>, ino: u64, _fh: u64, _ds: bool, reply: ReplyEmpty) {
        if self.opts.readonly {
            return reply.ok();
        }
        self.settle();
        if let Some(e) = self.write_errors.remove(&ino) {
            return reply.error(e);
        }
        try_reply!(self.g.sync(), reply);
        reply.ok();
    }

    fn setxattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        name: &OsStr,
        value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let p = path_or!(self, ino, reply);
        let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
        try_reply!(
            self.g.lsetxattr(&name.to_string_lossy(), value, len, &p),
            reply
        );
        reply.ok();
    }

    fn removexattr(&mut self, _req: &Request<'_>, ino: u64, name: &OsStr, reply: ReplyEmpty) {
        if let Some(e) = self.begin_change() {
            return reply.error(e);
        }
        let p = path_or!(self, ino, reply);
        try_reply!(self.g.lremovexattr(&name.to_string_lossy(), &p), reply);
        reply.ok();
    }
}

//! Read-only filesystems for the direct engine, behind one trait.
//!
//! This crate owns parsing filesystems in our own process:
//! - ext2/3/4 ([`Ext4Fs`]): ext4-view checks the filesystem at open and reads
//!   symlink targets; superblock, inodes, directories, extent/indirect maps and
//!   file data are our own code (ext4-view lacks inode numbers, link and block
//!   counts, and panics on some sparse ext2/3 files);
//! - FAT12/16/32 with long names: our own parser (fatfs 0.3 cannot bound a
//!   cyclic directory chain, wants a writable device and re-walks chains on
//!   every seek);
//! - NTFS: the ntfs crate, every call behind `catch_unwind`, with our own
//!   bounded index walk and case-insensitive lookup through `$UpCase`;
//! - XFS v4 and v5 ([`XfsFs`]): our own parser, CRCs checked; a dirty log is
//!   `Unsupported` (no replay).
//!
//! Every filesystem [`open`] returns is wrapped so that a panic in any parser
//! becomes a `Corrupt` error.
//!
//! It must not: write to the device (parsers only call `BlockDevice::read_at`),
//! follow symlinks across the filesystem (the Handle resolves paths across
//! mountpoints: paths given to a [`Filesystem`] have no symlinks in their
//! directory components), or trust any on-disk number. What a parser cannot do
//! is an [`ErrorKind::Unsupported`] error naming the feature, so the Handle can
//! fall back to the appliance.
#![forbid(unsafe_code)]

pub use gx_disk::{Error, ErrorKind, Result};

use gx_disk::Device;

mod ext4;
mod jbd2;
pub use ext4::Ext4Fs;
mod fat;
mod ntfs;
mod xfs;
pub use xfs::XfsFs;

/// File type, as the `S_IFMT` bits say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Unknown,
}

impl FileType {
    /// The `S_IFMT` bits for this type (0 for unknown).
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => 0o100000,
            FileType::Directory => 0o040000,
            FileType::Symlink => 0o120000,
            FileType::CharDevice => 0o020000,
            FileType::BlockDevice => 0o060000,
            FileType::Fifo => 0o010000,
            FileType::Socket => 0o140000,
            FileType::Unknown => 0,
        }
    }

    /// The type from a full `st_mode`.
    pub fn from_mode(mode: u32) -> FileType {
        match mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            _ => FileType::Unknown,
        }
    }
}

/// A timestamp: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// What `lstat` says about a file (libguestfs's `statns` fields).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    /// Device number of the filesystem (the Handle fills it in; 0 from parsers).
    pub dev: u64,
    pub ino: u64,
    /// Full mode: type bits and permission bits.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    /// Allocated space in 512-byte units, as `st_blocks`.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Stat {
    /// The file type from `mode`.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }
}

/// One directory entry (never `.` or `..`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub ino: u64,
    pub file_type: FileType,
}

/// One extended attribute (libguestfs's `xattr` struct): the full name
/// with its namespace prefix (`user.`, `security.`, `trusted.`, `system.`)
/// and the value as the kernel's getxattr returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XAttr {
    pub attrname: String,
    pub attrval: Vec<u8>,
}

/// What `statvfs` says (libguestfs's `statvfs` struct).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatVfs {
    pub bsize: u64,
    pub frsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub favail: u64,
    pub fsid: u64,
    pub flag: u64,
    pub namemax: u64,
}

/// A mounted, read-only filesystem.
///
/// Paths are absolute inside this filesystem (`/`, `/etc/hostname`), with no
/// `.`/`..` components and no symlinks in their directory part. Not `Send`:
/// ext4-view and fatfs are single-threaded, so an engine that needs threads
/// keeps a filesystem on one thread behind a channel.
pub trait Filesystem {
    /// The filesystem type as libguestfs's `vfs_type` names it (`ext4`, `vfat`, `ntfs`).
    fn fs_type(&self) -> &'static str;

    /// Stat without following a final symlink.
    fn lstat(&self, path: &str) -> Result<Stat>;

    /// The entries of a directory, without `.` and `..`, in on-disk order.
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>>;

    /// Every entry of a directory, `.` and `..` included, in the order the
    /// kernel's readdir(3) returns them on a mount of this filesystem (ext4:
    /// hash order on `dir_index` filesystems). By default `.` and `..`
    /// first, then [`Filesystem::read_dir`]'s order.
    fn read_dir_all(&self, path: &str) -> Result<Vec<DirEntry>> {
        let here = self.lstat(path)?;
        let parent_path = match path.trim_end_matches('/').rfind('/') {
            Some(0) | None => "/".to_string(),
            Some(i) => path[..i].to_string(),
        };
        let parent = self.lstat(&parent_path)?;
        let mut v = vec![
            DirEntry {
                name: ".".into(),
                ino: here.ino,
                file_type: FileType::Directory,
            },
            DirEntry {
                name: "..".into(),
                ino: parent.ino,
                file_type: FileType::Directory,
            },
        ];
        v.extend(self.read_dir(path)?);
        Ok(v)
    }

    /// Readdir-plus: the entries of a directory as [`Filesystem::read_dir`]
    /// gives them, each with what [`Filesystem::lstat`] of its path gives,
    /// in one pass (each entry's inode read by its number, no name looked
    /// up). Filesystems without such a pass say `Unsupported` and callers
    /// stat each name instead (doing it here would read the directory a
    /// second time).
    fn lstat_dir(&self, path: &str) -> Result<Vec<(DirEntry, Stat)>> {
        Err(Error::unsupported(format!(
            "{path}: no readdir-plus on {}",
            self.fs_type()
        )))
    }

    /// The target of a symlink.
    fn readlink(&self, path: &str) -> Result<String>;

    /// Read up to `buf.len()` bytes of a regular file at `offset`; returns the
    /// number read (0 at end of file). Reading a range is how large files are
    /// streamed in constant memory.
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize>;

    /// `lseek(SEEK_DATA)` (`hole == false`) or `lseek(SEEK_HOLE)` on a
    /// regular file: the first offset at or after `offset` inside data, or
    /// inside a hole (the end of the file counts as one). `None` where the
    /// kernel says ENXIO: `offset` at or past the end, or no data after it.
    /// By default the whole file is data, which is always a right answer
    /// (a hole may be reported as data, never the reverse).
    fn seek_data(&self, path: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        Ok(seek_all_data(self.lstat(path)?.size, offset, hole))
    }

    /// Space and inode counts.
    fn statvfs(&self) -> Result<StatVfs>;

    /// True when names compare case-insensitively (FAT, NTFS).
    fn case_insensitive(&self) -> bool {
        false
    }

    /// The extended attributes of a file, not following a final symlink,
    /// in the order the kernel's listxattr gives them (libguestfs's
    /// `lgetxattrs`). Filesystems that do not read them say `Unsupported`.
    fn lgetxattrs(&self, path: &str) -> Result<Vec<XAttr>> {
        Err(Error::unsupported(format!(
            "{path}: the direct engine does not read extended attributes on {}",
            self.fs_type()
        )))
    }
}

/// Open `dev` as the filesystem `fs_type` (as probed: `ext2`, `ext3`, `ext4`,
/// `vfat`, `ntfs`, `xfs`), read-only.
pub fn open(dev: Device, fs_type: &str) -> Result<Box<dyn Filesystem>> {
    let what = dev.describe();
    let fs: Box<dyn Filesystem> = guard(&what, || {
        Ok::<Box<dyn Filesystem>, Error>(match fs_type {
            "ext2" | "ext3" | "ext4" => Box::new(ext4::Ext4Fs::open(dev.clone())?),
            "vfat" => Box::new(fat::FatFs::open(dev.clone())?),
            "ntfs" => Box::new(ntfs::NtfsFs::open(dev.clone())?),
            "xfs" => Box::new(xfs::XfsFs::open(dev.clone())?),
            _ => {
                return Err(Error::unsupported(format!(
                    "{what}: the direct engine cannot read {fs_type} filesystems"
                )));
            }
        })
    })?;
    Ok(Box::new(Guarded { inner: fs, what }))
}

/// Run a parser call, turning a panic inside it (our code or a crate's, on
/// data nobody anticipated) into a `Corrupt` error: a hostile image must give
/// an error, never bring the process down.
fn guard<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(Error::corrupt(format!(
                "{what}: the filesystem parser failed on this data ({msg})"
            )))
        }
    }
}

/// [`Filesystem::seek_data`] for a file of `size` bytes read as all data:
/// SEEK_DATA stays at `offset`, SEEK_HOLE goes to the end; ENXIO (`None`)
/// from the end on.
pub fn seek_all_data(size: u64, offset: u64, hole: bool) -> Option<u64> {
    (offset < size).then_some(if hole { size } else { offset })
}

/// SEEK_DATA (`hole` false) or SEEK_HOLE (`hole` true) from `offset` in a
/// file of `size` bytes whose data lies in `spans` (byte ranges `[start,
/// end)`, in file order, not overlapping; what they leave out is a hole).
/// `None` where lseek says ENXIO. The caller has checked `offset < size`.
pub fn seek_in_spans(
    spans: impl Iterator<Item = (u64, u64)>,
    size: u64,
    offset: u64,
    hole: bool,
) -> Option<u64> {
    if !hole {
        return spans
            .filter(|&(_, end)| end > offset)
            .map(|(start, _)| start.max(offset))
            .find(|&at| at < size);
    }
    let mut pos = offset;
    for (start, end) in spans {
        if end <= pos {
            continue;
        }
        if start > pos {
            break;
        }
        pos = end;
    }
    Some(pos.min(size))
}

/// Every call of a filesystem behind [`guard`].
struct Guarded {
    inner: Box<dyn Filesystem>,
    what: String,
}

impl Filesystem for Guarded {
    fn fs_type(&self) -> &'static str {
        self.inner.fs_type()
    }
    fn lstat(&self, path: &str) -> Result<Stat> {
        guard(&self.what, || self.inner.lstat(path))
    }
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        guard(&self.what, || self.inner.read_dir(path))
    }
    fn read_dir_all(&self, path: &str) -> Result<Vec<DirEntry>> {
        guard(&self.what, || self.inner.read_dir_all(path))
    }
    fn lstat_dir(&self, path: &str) -> Result<Vec<(DirEntry, Stat)>> {
        guard(&self.what, || self.inner.lstat_dir(path))
    }
    fn readlink(&self, path: &str) -> Result<String> {
        guard(&self.what, || self.inner.readlink(path))
    }
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        guard(&self.what, || self.inner.read_at(path, offset, buf))
    }
    fn seek_data(&self, path: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        guard(&self.what, || self.inner.seek_data(path, offset, hole))
    }
    fn statvfs(&self) -> Result<StatVfs> {
        guard(&self.what, || self.inner.statvfs())
    }
    fn case_insensitive(&self) -> bool {
        self.inner.case_insensitive()
    }
    fn lgetxattrs(&self, path: &str) -> Result<Vec<XAttr>> {
        guard(&self.what, || self.inner.lgetxattrs(path))
    }
}

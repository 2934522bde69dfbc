//! XFS, read-only: v4 and v5 (CRC) filesystems with an internal log.
//!
//! Our own parser, in parts: [`sb`] (superblock and addressing), [`log`]
//! (is the log clean?), [`inode`] (inode core, forks, extent lists and the
//! bmbt), [`dir`] (every directory format and the hash index), [`attr`]
//! (extended attributes), [`crc`] (CRC-32C). This module ties them to the
//! [`Filesystem`] trait: path lookup with a small directory cache, file and
//! symlink data, `statvfs` as the kernel's xfs_fs_statfs computes it on a
//! read-only mount.
//!
//! It must not write (it only calls `read_at`), trust an on-disk number
//! before checking it, or read a filesystem whose log still holds
//! transactions: those are `Unsupported` (the appliance's kernel replays
//! them), as are realtime files, external logs and ASCII-CI names. On v5
//! filesystems every metadata block read has its CRC, block number, UUID and
//! owner checked.

mod attr;
mod crc;
mod dir;
mod inode;
mod log;
mod sb;

use crate::{DirEntry, FileType, Filesystem, Stat, StatVfs, XAttr};
use gx_disk::{Device, Error, Result};
use inode::{FMT_LOCAL, Fork, Inode};
use sb::Superblock;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// XFS_SYMLINK_MAXLEN.
const SYMLINK_MAXLEN: u64 = 1024;
const XFS_SYMLINK_MAGIC: u32 = 0x5853_4c4d; // XSLM
/// MAXNAMELEN - 1.
const NAME_MAX: u64 = 255;
/// Directories cached for lookups (`ll` looks up every entry of the
/// directory it lists), and the largest one worth caching.
const DIR_CACHE_DIRS: usize = 8;
const DIR_CACHE_MAX_ENTRIES: usize = 200_000;

pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

pub(crate) fn be64(b: &[u8], off: usize) -> u64 {
    (u64::from(be32(b, off)) << 32) | u64::from(be32(b, off + 4))
}

type DirMap = HashMap<Vec<u8>, u64>;
/// Extent lists by (inode, attribute fork?).
type ExtentCache = Vec<((u64, bool), Rc<Vec<inode::Extent>>)>;

/// A read-only XFS filesystem.
pub struct XfsFs {
    dev: Device,
    name: String,
    sb: Superblock,
    dir_cache: RefCell<Vec<(u64, Rc<DirMap>)>>,
    extent_cache: RefCell<ExtentCache>,
    inode_cache: RefCell<Vec<Rc<Inode>>>,
    /// The inode of the file `read_at` last read, so streaming a file does
    /// not resolve its path for every chunk.
    open_file: RefCell<Option<(String, Rc<Inode>)>>,
    /// The directory `read_dir` or `lstat_dir` last listed (inode, entries):
    /// a walk lists each directory (`ls`) and then stats its entries
    /// (`lstatnslist`), and must not parse its blocks twice.
    last_dir: RefCell<Option<(u64, Rc<Vec<dir::RawEntry>>)>>,
}

impl std::fmt::Debug for XfsFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XfsFs").field("name", &self.name).finish()
    }
}

impl XfsFs {
    /// Open `dev` as XFS: check the superblock, the root inode and that the
    /// log is clean.
    pub fn open(dev: Device) -> Result<XfsFs> {
        let name = dev.describe();
        let mut raw = vec![0u8; 512];
        dev.read_at(&mut raw, 0)
            .map_err(|e| e.context(format!("{name}: reading the xfs superblock")))?;
        let sectsize = usize::from(be16(&raw, 102));
        if sectsize > 512 && sectsize <= 32768 && sectsize.is_power_of_two() {
            raw = vec![0u8; sectsize];
            dev.read_at(&mut raw, 0)
                .map_err(|e| e.context(format!("{name}: reading the xfs superblock")))?;
        }
        let sb = Superblock::parse(&raw, dev.size(), &name)?;
        let fs = XfsFs {
            dev,
            name,
            sb,
            dir_cache: RefCell::new(Vec::new()),
            extent_cache: RefCell::new(Vec::new()),
            inode_cache: RefCell::new(Vec::new()),
            open_file: RefCell::new(None),
            last_dir: RefCell::new(None),
        };
        if fs.sb.rblocks != 0 {
            // Realtime files are refused one by one; the rest reads fine.
        }
        if fs.sb.logstart == 0 {
            return Err(Error::unsupported(format!(
                "{}: xfs: the log is on an external device",
                fs.name
            )));
        }
        let log_byte = fs
            .sb
            .fsb_to_byte(fs.sb.logstart, u64::from(fs.sb.logblocks))
            .ok_or_else(|| {
                fs.corrupt(format!(
                    "log at block {:#x} ({} blocks) is outside the filesystem",
                    fs.sb.logstart, fs.sb.logblocks
                ))
            })?;
        match log::check(
            &fs.dev,
            log_byte,
            u64::from(fs.sb.logblocks),
            u64::from(fs.sb.blocksize),
        )
        .map_err(|e| e.context(format!("{}: xfs: reading the log", fs.name)))?
        {
            log::LogState::Clean => {}
            log::LogState::Dirty(why) => {
                return Err(Error::unsupported(format!(
                    "{}: xfs: the log needs recovery (the filesystem was not cleanly unmounted: {why}); the direct engine does not replay XFS logs",
                    fs.name
                )));
            }
        }
        let root = fs.read_inode(fs.sb.rootino)?;
        if root.file_type() != FileType::Directory {
            return Err(fs.corrupt(format!(
                "root inode {} is not a directory (mode {:o})",
                fs.sb.rootino, root.mode
            )));
        }
        Ok(fs)
    }

    fn corrupt(&self, why: impl std::fmt::Display) -> Error {
        Error::corrupt(format!("{}: xfs: {why}", self.name))
    }

    /// The inode of `name` in directory `dir`.
    fn lookup(&self, dir: &Inode, name: &[u8]) -> Result<Option<u64>> {
        if let Some((_, map)) = self.dir_cache.borrow().iter().find(|(i, _)| *i == dir.ino) {
            return Ok(map.get(name).copied());
        }
        if self.dir_has_index(dir) {
            return self.dir_lookup_hashed(dir, name);
        }
        let map = self.cache_dir(dir, &self.dir_entries(dir)?);
        Ok(map.get(name).copied())
    }

    /// The entries of directory `dir`, parsed once for a listing and the
    /// readdir-plus that follows it.
    fn listed(&self, dir: &Inode) -> Result<Rc<Vec<dir::RawEntry>>> {
        if let Some((ino, e)) = &*self.last_dir.borrow() {
            if *ino == dir.ino {
                return Ok(e.clone());
            }
        }
        let entries = Rc::new(self.dir_entries(dir)?);
        // A huge directory is not kept: its listing's own copy is enough
        // memory (it is parsed again for the readdir-plus instead).
        *self.last_dir.borrow_mut() =
            (entries.len() <= DIR_CACHE_MAX_ENTRIES).then(|| (dir.ino, entries.clone()));
        Ok(entries)
    }

    fn cache_dir(&self, dir: &Inode, entries: &[dir::RawEntry]) -> Rc<DirMap> {
        let map: Rc<DirMap> = Rc::new(entries.iter().map(|e| (e.name.clone(), e.ino)).collect());
        if entries.len() <= DIR_CACHE_MAX_ENTRIES {
            let mut cache = self.dir_cache.borrow_mut();
            cache.retain(|(i, _)| *i != dir.ino);
            if cache.len() >= DIR_CACHE_DIRS {
                cache.remove(0);
            }
            cache.push((dir.ino, map.clone()));
        }
        map
    }

    /// Resolve an absolute path (no symlinks in it are followed).
    fn resolve(&self, path: &str) -> Result<Inode> {
        if !path.starts_with('/') {
            return Err(Error::invalid(format!("{path}: path is not absolute")));
        }
        let mut inode = self.dir_inode(self.sb.rootino)?;
        let mut comps = path.split('/').filter(|c| !c.is_empty()).peekable();
        // One lookup per component: the work is bounded by the path.
        while let Some(comp) = comps.next() {
            if comp == "." || comp == ".." {
                return Err(Error::invalid(format!(
                    "{path}: path has a {comp} component"
                )));
            }
            if inode.file_type() != FileType::Directory {
                return Err(Error::not_found(format!(
                    "{path}: a component is not a directory"
                )));
            }
            let ino = self
                .lookup(&inode, comp.as_bytes())
                .map_err(|e| e.context(path))?
                .ok_or_else(|| Error::not_found(format!("{path}: no such file or directory")))?;
            inode = if comps.peek().is_some() {
                self.dir_inode(ino)
            } else {
                self.read_inode(ino).map(Rc::new)
            }
            .map_err(|e| e.context(path))?;
        }
        Ok(Rc::unwrap_or_clone(inode))
    }

    /// An inode met as a directory on the way down a path, through a small
    /// cache: resolving every entry of a listing re-walks the same ones.
    fn dir_inode(&self, ino: u64) -> Result<Rc<Inode>> {
        if let Some(i) = self.inode_cache.borrow().iter().find(|i| i.ino == ino) {
            return Ok(i.clone());
        }
        let i = Rc::new(self.read_inode(ino)?);
        let mut cache = self.inode_cache.borrow_mut();
        if cache.len() >= DIR_CACHE_DIRS * 2 {
            cache.remove(0);
        }
        cache.push(i.clone());
        Ok(i)
    }

    fn stat_of(&self, i: &Inode) -> Stat {
        let rdev = match i.file_type() {
            FileType::CharDevice | FileType::BlockDevice if i.dfork.len() >= 4 => {
                // An IRIX-style dev_t: 14-bit major, 18-bit minor; Linux
                // keeps 9 bits of the major (xfs_to_linux_dev_t).
                let d = be32(&i.dfork, 0);
                makedev(u64::from((d >> 18) & 0x1ff), u64::from(d & 0x3ffff))
            }
            _ => 0,
        };
        Stat {
            dev: 0,
            ino: i.ino,
            mode: u32::from(i.mode),
            nlink: u64::from(i.nlink),
            uid: i.uid,
            gid: i.gid,
            rdev,
            size: i.size,
            // The kernel's xfs_stat_blksize without largeio: PAGE_SIZE.
            blksize: 4096,
            blocks: i.nblocks.saturating_mul(u64::from(self.sb.blocksize) / 512),
            atime: i.atime,
            mtime: i.mtime,
            ctime: i.ctime,
        }
    }

    fn symlink_target(&self, i: &Inode) -> Result<Vec<u8>> {
        let ino = i.ino;
        if i.size == 0 || i.size > SYMLINK_MAXLEN {
            return Err(self.corrupt(format!("symlink inode {ino}: length {}", i.size)));
        }
        let len = i.size as usize;
        if i.format == FMT_LOCAL {
            return i.dfork.get(..len).map(<[u8]>::to_vec).ok_or_else(|| {
                self.corrupt(format!(
                    "symlink inode {ino}: {len} bytes do not fit in the inode"
                ))
            });
        }
        let ext = self.extents(i, Fork::Data)?;
        let hdr = if self.sb.v5 { 56 } else { 0 };
        let per = self.sb.blocksize as usize - hdr;
        let mut out = Vec::with_capacity(len);
        let mut lblk = 0u64;
        while out.len() < len {
            let fsb = Self::map_block(&ext, lblk).ok_or_else(|| {
                self.corrupt(format!("symlink inode {ino}: block {lblk} is a hole"))
            })?;
            let b = self.read_fsb(fsb)?;
            let want = (len - out.len()).min(per);
            if self.sb.v5 {
                let daddr = self.sb.fsb_to_byte(fsb, 1).unwrap_or(0) >> 9;
                let ok = be32(&b, 0) == XFS_SYMLINK_MAGIC
                    && be32(&b, 4) as usize == out.len()
                    && be32(&b, 8) as usize == want
                    && crc::verify(&b, 12)
                    && b[16..32] == self.sb.meta_uuid
                    && be64(&b, 32) == ino
                    && be64(&b, 40) == daddr;
                if !ok {
                    return Err(self.corrupt(format!(
                        "symlink inode {ino}: block {lblk}: bad header or checksum"
                    )));
                }
            }
            out.extend_from_slice(&b[hdr..hdr + want]);
            lblk += 1;
        }
        Ok(out)
    }

    /// Free blocks and inode counts as the kernel would start from at mount:
    /// the superblock's, unless they are obviously wrong, then the sums of
    /// the AG headers (xfs_check_summary_counts, xfs_initialize_perag_data).
    /// Also the btree blocks the kernel counts as unavailable once it has
    /// read the AGFs.
    fn summary_counts(&self) -> Result<(u64, u64, u64, u64)> {
        let sb = &self.sb;
        let max_inodes = sb.dblocks << sb.inopblog;
        let sane = sb.fdblocks <= sb.dblocks
            && sb.icount >= 64
            && sb.icount <= max_inodes
            && sb.ifree <= sb.icount;
        if sane {
            return Ok((sb.fdblocks, sb.icount, sb.ifree, 0));
        }
        let (mut free, mut icount, mut ifree, mut btree) = (0u64, 0u64, 0u64, 0u64);
        for agno in 0..sb.agcount {
            let ag = (u64::from(agno) * u64::from(sb.agblocks)) << sb.blocklog;
            let sect = u64::from(sb.sectsize);
            let mut agf = vec![0u8; sb.sectsize as usize];
            self.dev.read_at(&mut agf, ag + sect)?;
            let mut agi = vec![0u8; sb.sectsize as usize];
            self.dev.read_at(&mut agi, ag + 2 * sect)?;
            if be32(&agf, 0) != 0x5841_4746 || be32(&agi, 0) != 0x5841_4749 {
                return Err(self.corrupt(format!("AG {agno}: bad AGF or AGI magic")));
            }
            if sb.v5 && (!crc::verify(&agf, 216) || !crc::verify(&agi, 312)) {
                return Err(self.corrupt(format!("AG {agno}: AGF or AGI checksum mismatch")));
            }
            // agf_btreeblks, agf_freeblks, agf_flcount.
            let btreeblks = u64::from(be32(&agf, 60));
            free += u64::from(be32(&agf, 52)) + u64::from(be32(&agf, 48)) + btreeblks;
            // The kernel leaves the rmapbt (bar its root) out of m_allocbt_blks.
            btree += if sb.rmapbt() {
                btreeblks.saturating_sub(u64::from(be32(&agf, 80)).saturating_sub(1))
            } else {
                btreeblks
            };
            icount += u64::from(be32(&agi, 16));
            ifree += u64::from(be32(&agi, 28));
        }
        if free > sb.dblocks || ifree > icount {
            return Err(self.corrupt("summary counters are wrong and the AG headers disagree"));
        }
        Ok((free, icount, ifree, btree))
    }
}

/// glibc's `makedev`.
fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
}

fn file_type_of_dirent(t: u8) -> FileType {
    match t {
        1 => FileType::Regular,
        2 => FileType::Directory,
        3 => FileType::CharDevice,
        4 => FileType::BlockDevice,
        5 => FileType::Fifo,
        6 => FileType::Socket,
        7 => FileType::Symlink,
        _ => FileType::Unknown,
    }
}

impl Filesystem for XfsFs {
    fn fs_type(&self) -> &'static str {
        "xfs"
    }

    fn lstat(&self, path: &str) -> Result<Stat> {
        let inode = self.resolve(path)?;
        Ok(self.stat_of(&inode))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let dir = self.resolve(path)?;
        if dir.file_type() != FileType::Directory {
            return Err(Error::invalid(format!("{path}: not a directory")));
        }
        let entries = self.listed(&dir).map_err(|e| e.context(path))?;
        self.cache_dir(&dir, &entries);
        Ok(entries
            .iter()
            .map(|e| DirEntry {
                name: String::from_utf8_lossy(&e.name).into_owned(),
                ino: e.ino,
                file_type: file_type_of_dirent(e.ftype),
            })
            .collect())
    }

    /// One pass over the directory; each name's inode is the one a lookup
    /// of it finds (the directory's name map, as `lstat` uses once the
    /// directory was listed), read by its number.
    fn lstat_dir(&self, path: &str) -> Result<Vec<(DirEntry, Stat)>> {
        let dir = self.resolve(path)?;
        if dir.file_type() != FileType::Directory {
            return Err(Error::invalid(format!("{path}: not a directory")));
        }
        let entries = self.listed(&dir).map_err(|e| e.context(path))?;
        let map = self.cache_dir(&dir, &entries);
        let base = path.trim_end_matches('/');
        let mut window = (0, Vec::new());
        entries
            .iter()
            .map(|e| {
                let name = String::from_utf8_lossy(&e.name).into_owned();
                let ino = map.get(&e.name).copied().unwrap_or(e.ino);
                let st = self
                    .read_inode_windowed(ino, &mut window)
                    .map(|i| self.stat_of(&i))
                    .map_err(|err| err.context(format!("{base}/{name}")))?;
                Ok((
                    DirEntry {
                        name,
                        ino: e.ino,
                        file_type: file_type_of_dirent(e.ftype),
                    },
                    st,
                ))
            })
            .collect()
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Symlink {
            return Err(Error::invalid(format!("{path}: not a symbolic link")));
        }
        let t = self.symlink_target(&inode).map_err(|e| e.context(path))?;
        Ok(String::from_utf8_lossy(&t).into_owned())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let cached = match &*self.open_file.borrow() {
            Some((p, inode)) if p == path => Some(inode.clone()),
            _ => None,
        };
        let inode = match cached {
            Some(inode) => inode,
            None => {
                let inode = self.resolve(path)?;
                match inode.file_type() {
                    FileType::Regular => {}
                    FileType::Directory => {
                        return Err(Error::invalid(format!("{path}: is a directory")));
                    }
                    _ => return Err(Error::invalid(format!("{path}: not a regular file"))),
                }
                if inode.is_realtime() {
                    return Err(Error::unsupported(format!(
                        "{}: xfs: {path}: the file's data is on the realtime device",
                        self.name
                    )));
                }
                let inode = Rc::new(inode);
                *self.open_file.borrow_mut() = Some((path.to_string(), inode.clone()));
                inode
            }
        };
        if offset >= inode.size {
            return Ok(0);
        }
        let n = (inode.size - offset).min(buf.len() as u64) as usize;
        let ext = self
            .extents(&inode, Fork::Data)
            .map_err(|e| e.context(path))?;
        self.read_fork(&ext, offset, &mut buf[..n])
            .map_err(|e| e.context(format!("{path}: offset {offset}")))?;
        Ok(n)
    }

    /// From the data fork's extent list: unwritten extents are holes, as
    /// the kernel reports them for data not in its page cache.
    fn seek_data(&self, path: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        let inode = self.resolve(path)?;
        if inode.file_type() != FileType::Regular {
            return Err(Error::invalid(format!("{path}: not a regular file")));
        }
        let size = inode.size;
        if offset >= size || inode.is_realtime() {
            return Ok(crate::seek_all_data(size, offset, hole));
        }
        let bs = u64::from(self.sb.blocksize);
        let ext = self
            .extents(&inode, Fork::Data)
            .map_err(|e| e.context(path))?;
        let spans = ext.iter().filter(|e| !e.unwritten).map(|e| {
            (
                e.off.saturating_mul(bs),
                e.off.saturating_add(e.count).saturating_mul(bs),
            )
        });
        Ok(crate::seek_in_spans(spans, size, offset, hole))
    }

    fn statvfs(&self) -> Result<StatVfs> {
        let sb = &self.sb;
        let (fdblocks, icount, ifree, allocbt) = self.summary_counts()?;
        // xfs_fs_statfs on a read-only mount: no reserve pool and no AG
        // reservations are taken then, so only the AGFL/bmbt set-aside
        // (xfs_alloc_set_aside: 8 blocks per AG) and the free-space btree
        // blocks counted once the AGFs were read are unavailable.
        let set_aside = u64::from(sb.agcount) * 8;
        let bfree = fdblocks.saturating_sub(set_aside + allocbt);
        let lsize = if sb.logstart != 0 {
            u64::from(sb.logblocks)
        } else {
            0
        };
        let fakeinos = bfree << sb.inopblog;
        let mut files = icount.saturating_add(fakeinos).min(1u64 << 56);
        // The inode limit from imax_pct, in whole inode chunks.
        let ialloc_blks = (64u64.max(u64::from(sb.inopblock))) >> sb.inopblog;
        if sb.imax_pct != 0 && ialloc_blks != 0 {
            let icount_max = sb.dblocks * u64::from(sb.imax_pct) / 100 / ialloc_blks;
            files = files.min((icount_max * ialloc_blks) << sb.inopblog);
        }
        files = files.max(sb.icount);
        let ffree = files.saturating_sub(icount.saturating_sub(ifree));
        Ok(StatVfs {
            bsize: u64::from(sb.blocksize),
            frsize: u64::from(sb.blocksize),
            blocks: sb.dblocks - lsize,
            bfree,
            bavail: bfree,
            files,
            ffree,
            favail: ffree,
            // The kernel uses the device number, which only the Handle knows.
            fsid: 0,
            // ST_RDONLY | ST_RELATIME, as on a `mount -o ro`.
            flag: 1 | 4096,
            namemax: NAME_MAX,
        })
    }

    fn lgetxattrs(&self, path: &str) -> Result<Vec<XAttr>> {
        let inode = self.resolve(path)?;
        self.xattrs(&inode).map_err(|e| e.context(path))
    }
}

//! NTFS, read-only, through the ntfs crate.
//!
//! The crate parses boot sector, MFT records, attributes and data runs; we
//! walk directory B-trees ourselves (its iterators follow a subnode VCN that
//! points back up the tree forever, and spin on an index entry of length 0),
//! with every VCN visited at most once, and we keep parsed directories in a
//! bounded cache so repeated lookups are hash lookups. Every call into the
//! crate runs under `catch_unwind` as a last guard: a panic inside it on a
//! hostile image becomes a `Corrupt` error.
//!
//! What `lstat` reports copies ntfs-3g as libguestfs mounts it (no
//! `permissions` option): mode 0777 for everything, uid/gid 0, inode = MFT
//! record number, nlink = the record's link count for files and 1 for
//! directories, size = the unnamed `$DATA` length (a directory's
//! `$INDEX_ALLOCATION` length), blocks from the allocated size, atime /
//! mtime / ctime from `$STANDARD_INFORMATION` (access, data change, MFT
//! change). Interix special files that ntfs-3g makes (symlinks `IntxLNK`,
//! devices, FIFOs and sockets as empty/1-byte system files) are shown as
//! ntfs-3g shows them; Windows symlinks and junctions are symlinks, and only
//! relative symlink targets can be read (absolute ones name Windows drive
//! paths: `Unsupported`). Compressed and encrypted data: `Unsupported`.
//!
//! Known difference from the peer: ntfs-3g looks names up case-sensitively;
//! we look up the exact name first, then case-insensitively through the
//! volume's `$UpCase` table, as Windows does.

use crate::{DirEntry, FileType, Filesystem, Stat, StatVfs, Timespec};
use gx_disk::bytes::{le16, le32};
use gx_disk::{Device, Error, ErrorKind, Result};
use ntfs::indexes::NtfsFileNameIndex;
use ntfs::structured_values::{
    NtfsFileAttributeFlags, NtfsFileName, NtfsFileNamespace, NtfsIndexAllocation, NtfsIndexRoot,
};
use ntfs::{
    Ntfs, NtfsAttributeFlags, NtfsAttributeType, NtfsError, NtfsFile, NtfsIndexEntryFlags,
    NtfsIndexNodeEntries, NtfsReadSeek,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

const ROOT_RECORD: u64 = 5;
/// Records below this are NTFS metadata ($MFT ... $Extend); ntfs-3g hides them.
const FIRST_USER_RECORD: u64 = 16;
const MAX_DEPTH: usize = 64;
/// Bounds on MFT and index record sizes: Windows writes 1 KiB and 4 KiB.
const MIN_RECORD: u32 = 512;
const MAX_RECORD: u32 = 64 * 1024;
const DIR_CACHE_ENTRIES: usize = 200_000;
const IO_BLOCK: u64 = 4096;
const IO_CACHE_BLOCKS: usize = 1024;
const REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;
const REPARSE_TAG_MOUNT_POINT: u32 = 0xA000_0003;

/// `Read + Seek` over the device with a small block cache: the crate reads
/// records and index blocks in small pieces.
struct CachedIo {
    dev: Device,
    pos: u64,
    cache: HashMap<u64, Vec<u8>>,
    /// Cached block numbers, oldest first: the oldest is evicted and its
    /// buffer reused, so a walk through an MFT larger than the cache costs
    /// no allocation (and no fresh pages) per block.
    order: VecDeque<u64>,
}

impl CachedIo {
    fn new(dev: Device) -> CachedIo {
        CachedIo {
            dev,
            pos: 0,
            cache: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn block(&mut self, b: u64) -> std::io::Result<&Vec<u8>> {
        if !self.cache.contains_key(&b) {
            let start = b * IO_BLOCK;
            let len = self.dev.size().saturating_sub(start).min(IO_BLOCK) as usize;
            let mut buf = if self.order.len() >= IO_CACHE_BLOCKS {
                self.order
                    .pop_front()
                    .and_then(|old| self.cache.remove(&old))
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            buf.resize(len, 0);
            self.dev
                .read_at(&mut buf, start)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            self.cache.insert(b, buf);
            self.order.push_back(b);
        }
        self.cache
            .get(&b)
            .ok_or_else(|| std::io::Error::other("cache block vanished"))
    }
}

impl Read for CachedIo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.dev.size();
        if self.pos >= size || buf.is_empty() {
            return Ok(0);
        }
        let n = (size - self.pos).min(buf.len() as u64) as usize;
        if n as u64 >= IO_BLOCK {
            // Bulk file data: straight from the device, not through the cache.
            self.dev
                .read_at(&mut buf[..n], self.pos)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            self.pos += n as u64;
            return Ok(n);
        }
        let mut done = 0;
        while done < n {
            let pos = self.pos;
            let within = (pos % IO_BLOCK) as usize;
            let block = self.block(pos / IO_BLOCK)?;
            let avail = block.len().saturating_sub(within).min(n - done);
            if avail == 0 {
                break;
            }
            buf[done..done + avail].copy_from_slice(&block[within..within + avail]);
            done += avail;
            self.pos += avail as u64;
        }
        Ok(done)
    }
}

impl Seek for CachedIo {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.dev.size().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let p = new.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek out of range")
        })?;
        self.pos = p;
        Ok(p)
    }
}

/// Data runs followed for SEEK_DATA/SEEK_HOLE before the rest of the file
/// counts as data (a hostile run list can be as long as the volume).
const MAX_SEEK_RUNS: usize = 1 << 20;

/// The node key of the index root's entries: before every VCN (VCNs are
/// never negative).
const ROOT_NODE: i64 = -1;

#[derive(Debug, Clone)]
struct NEntry {
    name: String,
    record: u64,
    attrs: NtfsFileAttributeFlags,
    dos_only: bool,
}

#[derive(Debug)]
struct DirData {
    entries: Vec<NEntry>,
    exact: HashMap<String, usize>,
    folded: HashMap<Vec<u16>, usize>,
}

pub(crate) struct NtfsFs {
    ntfs: Ntfs,
    io: RefCell<CachedIo>,
    name: String,
    upcase: Vec<u16>,
    dirs: RefCell<(usize, HashMap<u64, Rc<DirData>>)>,
    vfs: RefCell<Option<StatVfs>>,
}

/// What a record is, as ntfs-3g would show it.
enum Kind {
    Dir,
    File,
    /// Symlink with its target (None: cannot be translated).
    Symlink(Option<String>, u64),
    Special(FileType, u64),
}

fn conv(name: &str, what: &str, e: NtfsError) -> Error {
    match e {
        NtfsError::Io(io) => {
            let kind = io.kind();
            let err = Error::io(format!("{name}: {what}: {io}"), io);
            if matches!(
                kind,
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) {
                Error::corrupt(err.message().to_string())
            } else {
                err
            }
        }
        other => Error::corrupt(format!("{name}: {what}: {other}")),
    }
}

fn nt_time(t: u64) -> Timespec {
    // 100 ns ticks since 1601-01-01.
    let unix = i128::from(t) - 116_444_736_000_000_000;
    let sec = unix.div_euclid(10_000_000);
    let nsec = unix.rem_euclid(10_000_000) * 100;
    Timespec {
        sec: i64::try_from(sec).unwrap_or(i64::MAX),
        nsec: nsec as i64,
    }
}

fn guard<T>(name: &str, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(Error::corrupt(format!(
            "{name}: {what}: the NTFS parser failed on inconsistent metadata"
        ))),
    }
}

impl NtfsFs {
    pub(crate) fn open(dev: Device) -> Result<NtfsFs> {
        let name = dev.describe();
        guard(&name, "opening NTFS", || {
            Self::open_inner(dev, name.clone())
        })
    }

    fn open_inner(dev: Device, name: String) -> Result<NtfsFs> {
        // The crate panics (an `unreachable!`) when the boot sector is cut short.
        if dev.size() < 512 {
            return Err(Error::corrupt(format!(
                "{name}: too small for an NTFS boot sector"
            )));
        }
        let mut io = CachedIo::new(dev);
        let ntfs =
            Ntfs::new(&mut io).map_err(|e| conv(&name, "reading the NTFS boot sector", e))?;
        // The crate allocates a whole record on every file it opens; Windows
        // and Linux use 1 or 4 KiB (Linux refuses more than 4 KiB).
        let frs = ntfs.file_record_size();
        if !(MIN_RECORD..=MAX_RECORD).contains(&frs) || !frs.is_power_of_two() {
            return Err(Error::corrupt(format!(
                "{name}: NTFS boot sector: clusters_per_mft_record gives {frs}-byte MFT records \
                 (must be a power of two from {MIN_RECORD} to {MAX_RECORD})"
            )));
        }
        let mut fs = NtfsFs {
            ntfs,
            io: RefCell::new(io),
            name,
            upcase: Vec::new(),
            dirs: RefCell::new((0, HashMap::new())),
            vfs: RefCell::new(None),
        };
        fs.upcase = fs.read_upcase()?;
        Ok(fs)
    }

    /// The error converter for one step; it borrows `what` (it is built on
    /// every call, errors or not: a copy here would be one allocation per
    /// attribute read of every record a walk stats).
    fn err<'a>(&'a self, what: &'a str) -> impl FnOnce(NtfsError) -> Error + 'a {
        move |e| conv(&self.name, what, e)
    }

    fn read_upcase(&self) -> Result<Vec<u16>> {
        let io = &mut *self.io.borrow_mut();
        let file = self
            .ntfs
            .file(io, 10)
            .map_err(self.err("reading $UpCase"))?;
        let bytes = read_data(&file, io, 131_072, "").map_err(self.err("reading $UpCase"))?;
        if bytes.len() != 131_072 {
            return Err(Error::corrupt(format!(
                "{}: $UpCase is {} bytes, not 131072",
                self.name,
                bytes.len()
            )));
        }
        Ok(bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    }

    fn fold(&self, name: &str) -> Vec<u16> {
        name.encode_utf16()
            .map(|u| self.upcase.get(usize::from(u)).copied().unwrap_or(u))
            .collect()
    }

    /// Parse the directory in MFT record `rec`.
    fn dir(&self, rec: u64, path: &str) -> Result<Rc<DirData>> {
        if let Some(d) = self.dirs.borrow().1.get(&rec) {
            return Ok(d.clone());
        }
        let what = format!("directory {path}");
        let mut out = Vec::new();
        {
            let io = &mut *self.io.borrow_mut();
            let file = self.ntfs.file(io, rec).map_err(self.err(&what))?;
            if !file.is_directory() {
                return Err(Error::invalid(format!(
                    "{}: {path}: not a directory",
                    self.name
                )));
            }
            let mut root_item = None;
            let mut alloc_item = None;
            let mut attrs = file.attributes();
            while let Some(item) = attrs.next(io) {
                let item = item.map_err(self.err(&what))?;
                let a = item.to_attribute().map_err(self.err(&what))?;
                let ty = a.ty().map_err(self.err(&what))?;
                let is_i30 = a.name().map_err(self.err(&what))? == "$I30";
                match ty {
                    NtfsAttributeType::IndexRoot if is_i30 && root_item.is_none() => {
                        root_item = Some(item)
                    }
                    NtfsAttributeType::IndexAllocation if is_i30 && alloc_item.is_none() => {
                        alloc_item = Some(item)
                    }
                    _ => {}
                }
            }
            let root_item = root_item
                .ok_or_else(|| Error::corrupt(format!("{}: {what}: no $INDEX_ROOT", self.name)))?;
            let root_attr = root_item.to_attribute().map_err(self.err(&what))?;
            let root = root_attr
                .resident_structured_value::<NtfsIndexRoot>()
                .map_err(self.err(&what))?;
            let alloc_attr = match &alloc_item {
                Some(i) => Some(i.to_attribute().map_err(self.err(&what))?),
                None => None,
            };
            let alloc = match &alloc_attr {
                Some(a) => Some(
                    a.structured_value::<_, NtfsIndexAllocation>(io)
                        .map_err(self.err(&what))?,
                ),
                None => None,
            };
            let entries = root
                .entries::<NtfsFileNameIndex>()
                .map_err(self.err(&what))?;
            let mut visited = HashSet::new();
            let record_size = root.index_record_size();
            // The crate allocates a whole index record per node it reads.
            if !(MIN_RECORD..=MAX_RECORD).contains(&record_size) || !record_size.is_power_of_two() {
                return Err(Error::corrupt(format!(
                    "{}: {what}: $INDEX_ROOT index_record_size {record_size} (must be a power of \
                     two from {MIN_RECORD} to {MAX_RECORD})",
                    self.name
                )));
            }
            self.walk(
                io,
                entries,
                alloc.as_ref(),
                record_size,
                &mut visited,
                (0, ROOT_NODE),
                &what,
                &mut out,
            )?;
        }
        // libntfs's readdir order (ntfs-3g, hence libguestfs's appliance):
        // the index root's entries, then each index record's in VCN order.
        // The walk gave B-tree order; a stable sort by node keeps each
        // node's own order.
        out.sort_by_key(|(node, _)| *node);
        let mut data = DirData {
            entries: Vec::new(),
            exact: HashMap::new(),
            folded: HashMap::new(),
        };
        for (_, e) in out {
            let i = data.entries.len();
            data.exact.entry(e.name.clone()).or_insert(i);
            data.folded.entry(self.fold(&e.name)).or_insert(i);
            data.entries.push(e);
        }
        let data = Rc::new(data);
        let mut cache = self.dirs.borrow_mut();
        if cache.0 + data.entries.len() > DIR_CACHE_ENTRIES {
            cache.1.clear();
            cache.0 = 0;
        }
        cache.0 += data.entries.len();
        cache.1.insert(rec, data.clone());
        Ok(data)
    }

    /// In-order walk of one B-tree node (`at`: its depth, and its VCN or
    /// [`ROOT_NODE`]) and its subnodes; each entry comes with its node.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        io: &mut CachedIo,
        entries: NtfsIndexNodeEntries<'_, NtfsFileNameIndex>,
        alloc: Option<&NtfsIndexAllocation<'_, '_>>,
        record_size: u32,
        visited: &mut HashSet<i64>,
        at: (usize, i64),
        what: &str,
        out: &mut Vec<(i64, NEntry)>,
    ) -> Result<()> {
        let (depth, node) = at;
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(format!(
                "{}: {what}: index B-tree deeper than {MAX_DEPTH}",
                self.name
            )));
        }
        for entry in entries {
            let entry = entry.map_err(self.err(what))?;
            let last = entry.flags().contains(NtfsIndexEntryFlags::LAST_ENTRY);
            if !last && entry.index_entry_length() < 16 {
                return Err(Error::corrupt(format!(
                    "{}: {what}: index entry of length {}",
                    self.name,
                    entry.index_entry_length()
                )));
            }
            if let Some(vcn) = entry.subnode_vcn() {
                let vcn = vcn.map_err(self.err(what))?;
                if !visited.insert(vcn.value()) {
                    return Err(Error::corrupt(format!(
                        "{}: {what}: index B-tree visits VCN {} twice (a cycle)",
                        self.name,
                        vcn.value()
                    )));
                }
                let alloc = alloc.ok_or_else(|| {
                    Error::corrupt(format!(
                        "{}: {what}: subnode without $INDEX_ALLOCATION",
                        self.name
                    ))
                })?;
                let record = alloc
                    .record_from_vcn(io, record_size, vcn)
                    .map_err(self.err(what))?;
                let sub = record
                    .entries::<NtfsFileNameIndex>()
                    .map_err(self.err(what))?;
                self.walk(
                    io,
                    sub,
                    Some(alloc),
                    record_size,
                    visited,
                    (depth + 1, vcn.value()),
                    what,
                    out,
                )?;
            }
            if last {
                break;
            }
            let Some(key) = entry.key() else { continue };
            let key: NtfsFileName = key.map_err(self.err(what))?;
            let record = entry.file_reference().file_record_number();
            if record < FIRST_USER_RECORD {
                continue;
            }
            out.push((
                node,
                NEntry {
                    name: key.name().to_string_lossy(),
                    record,
                    attrs: key.file_attributes(),
                    dos_only: key.namespace() == NtfsFileNamespace::Dos,
                },
            ));
        }
        Ok(())
    }

    /// The MFT record number of `path`.
    fn lookup(&self, path: &str) -> Result<u64> {
        let mut rec = ROOT_RECORD;
        let mut so_far = String::new();
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            let dir = self
                .dir(rec, if so_far.is_empty() { "/" } else { &so_far })
                .map_err(|e| {
                    if e.kind() == ErrorKind::InvalidArgument {
                        Error::not_found(format!(
                            "{}: {path}: {so_far} is not a directory",
                            self.name
                        ))
                    } else {
                        e
                    }
                })?;
            let i = match dir.exact.get(comp) {
                Some(&i) => i,
                None => *dir.folded.get(&self.fold(comp)).ok_or_else(|| {
                    Error::not_found(format!("{}: {path}: no such file or directory", self.name))
                })?,
            };
            rec = dir.entries[i].record;
            so_far.push('/');
            so_far.push_str(comp);
        }
        Ok(rec)
    }

    fn kind(
        &self,
        file: &NtfsFile<'_>,
        io: &mut CachedIo,
        attrs: NtfsFileAttributeFlags,
        what: &str,
    ) -> Result<Kind> {
        if file.is_directory() {
            if attrs.contains(NtfsFileAttributeFlags::REPARSE_POINT) {
                return self
                    .reparse_kind(file, io, what)
                    .map(|k| k.unwrap_or(Kind::Dir));
            }
            return Ok(Kind::Dir);
        }
        if attrs.contains(NtfsFileAttributeFlags::REPARSE_POINT) {
            if let Some(k) = self.reparse_kind(file, io, what)? {
                return Ok(k);
            }
            return Ok(Kind::File);
        }
        if attrs.contains(NtfsFileAttributeFlags::SYSTEM) {
            // ntfs-3g's Interix special files.
            let len = data_len(file, io).map_err(self.err(what))?;
            match len {
                0 => return Ok(Kind::Special(FileType::Fifo, 0)),
                1 => return Ok(Kind::Special(FileType::Socket, 0)),
                8..=4096 => {
                    let d = read_data(file, io, 4096, "").map_err(self.err(what))?;
                    if d.len() > 8 && d.starts_with(b"IntxLNK\x01") && d.len() % 2 == 0 {
                        let units: Vec<u16> = d[8..]
                            .chunks_exact(2)
                            .map(|c| u16::from_le_bytes([c[0], c[1]]))
                            .collect();
                        let t = String::from_utf16_lossy(&units);
                        let n = t.len() as u64;
                        return Ok(Kind::Symlink(Some(t), n));
                    }
                    if d.len() == 24 && (d.starts_with(b"IntxCHR\0") || d.starts_with(b"IntxBLK\0"))
                    {
                        let major = gx_disk::bytes::le64(&d, 8)?;
                        let minor = gx_disk::bytes::le64(&d, 16)?;
                        let rdev =
                            ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12);
                        let t = if d[4] == b'C' {
                            FileType::CharDevice
                        } else {
                            FileType::BlockDevice
                        };
                        return Ok(Kind::Special(t, rdev));
                    }
                }
                _ => {}
            }
        }
        Ok(Kind::File)
    }

    fn reparse_kind(
        &self,
        file: &NtfsFile<'_>,
        io: &mut CachedIo,
        what: &str,
    ) -> Result<Option<Kind>> {
        let mut attrs = file.attributes();
        let mut data = None;
        while let Some(item) = attrs.next(io) {
            let item = item.map_err(self.err(what))?;
            let a = item.to_attribute().map_err(self.err(what))?;
            if a.ty().map_err(self.err(what))? == NtfsAttributeType::ReparsePoint {
                let mut v = a.value(io).map_err(self.err(what))?;
                let len = v.len().min(16 * 1024) as usize;
                let mut buf = vec![0u8; len];
                v.read_exact(io, &mut buf).map_err(self.err(what))?;
                data = Some(buf);
                break;
            }
        }
        let Some(d) = data else { return Ok(None) };
        if d.len() < 8 {
            return Ok(None);
        }
        let tag = le32(&d, 0)?;
        if tag != REPARSE_TAG_SYMLINK && tag != REPARSE_TAG_MOUNT_POINT {
            return Ok(None);
        }
        // Header (8) + substitute name offset/length, print name offset/length
        // (+ flags for symlinks), then the path buffer.
        let body = &d[8..];
        let get16 = |o: usize| le16(body, o).ok().map(usize::from);
        let (Some(off), Some(len)) = (get16(0), get16(2)) else {
            return Ok(Some(Kind::Symlink(None, 0)));
        };
        let (relative, buf_start) = if tag == REPARSE_TAG_SYMLINK {
            let flags = le32(body, 8).unwrap_or(0);
            (flags & 1 != 0, 12)
        } else {
            (false, 8)
        };
        let target = body.get(buf_start + off..buf_start + off + len).map(|b| {
            String::from_utf16_lossy(
                &b.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect::<Vec<_>>(),
            )
        });
        let Some(target) = target else {
            return Ok(Some(Kind::Symlink(None, 0)));
        };
        let size = target.len() as u64;
        if relative {
            Ok(Some(Kind::Symlink(Some(target.replace('\\', "/")), size)))
        } else {
            Ok(Some(Kind::Symlink(None, size)))
        }
    }

    fn stat_record(&self, rec: u64, path: &str) -> Result<(Stat, Kind)> {
        let what = format!("file {path}");
        let io = &mut *self.io.borrow_mut();
        let file = self.ntfs.file(io, rec).map_err(self.err(&what))?;
        let info = file.info().map_err(self.err(&what))?;
        let attrs = info.file_attributes();
        let kind = self.kind(&file, io, attrs, &what)?;
        let mut st = Stat {
            ino: rec,
            blksize: 4096,
            atime: nt_time(info.access_time().nt_timestamp()),
            mtime: nt_time(info.modification_time().nt_timestamp()),
            ctime: nt_time(info.mft_record_modification_time().nt_timestamp()),
            nlink: u64::from(file.hard_link_count()),
            ..Stat::default()
        };
        let (ty, size, alloc) = match &kind {
            Kind::Dir => {
                st.nlink = 1;
                let (size, alloc) = index_alloc_size(&file, io, self.ntfs.cluster_size())
                    .map_err(self.err(&what))?;
                (FileType::Directory, size, alloc)
            }
            Kind::File => {
                let (size, alloc) =
                    data_sizes(&file, io, self.ntfs.cluster_size()).map_err(self.err(&what))?;
                (FileType::Regular, size, alloc)
            }
            Kind::Symlink(_, n) => {
                let (_, alloc) =
                    data_sizes(&file, io, self.ntfs.cluster_size()).map_err(self.err(&what))?;
                (FileType::Symlink, *n, alloc)
            }
            Kind::Special(t, rdev) => {
                st.rdev = *rdev;
                let (_, alloc) =
                    data_sizes(&file, io, self.ntfs.cluster_size()).map_err(self.err(&what))?;
                (*t, 0, alloc)
            }
        };
        st.mode = ty.mode_bits() | 0o777;
        st.size = size;
        st.blocks = alloc.div_ceil(512);
        Ok((st, kind))
    }

    fn compute_statvfs(&self) -> Result<StatVfs> {
        let io = &mut *self.io.borrow_mut();
        let cs = u64::from(self.ntfs.cluster_size());
        let clusters = self.ntfs.size() / cs;
        // $Bitmap: one bit per cluster; count clear bits among the first `clusters`.
        let bitmap_file = self.ntfs.file(io, 6).map_err(self.err("reading $Bitmap"))?;
        let free =
            count_free_clusters(&bitmap_file, io, clusters).map_err(self.err("reading $Bitmap"))?;
        // The MFT's own $BITMAP attribute: one bit per record.
        let mft = self.ntfs.file(io, 0).map_err(self.err("reading $MFT"))?;
        let (mft_bitmap, mft_bitmap_alloc) =
            attr_bytes(&mft, io, NtfsAttributeType::Bitmap, 1 << 24)
                .map_err(self.err("reading the $MFT bitmap"))?;
        let used_records: u64 = mft_bitmap.iter().map(|b| u64::from(b.count_ones())).sum();
        // ntfs-3g: records that would fit in free clusters count as free inodes too.
        let record_size = u64::from(self.ntfs.file_record_size()).max(1);
        let from_free = if cs >= record_size {
            free.saturating_mul(cs / record_size)
        } else {
            free / (record_size / cs)
        };
        let bitmap_bits = mft_bitmap_alloc.saturating_mul(8);
        let free_records = bitmap_bits.saturating_sub(used_records);
        Ok(StatVfs {
            bsize: cs,
            frsize: cs,
            blocks: clusters,
            bfree: free,
            bavail: free,
            files: bitmap_bits.saturating_add(from_free),
            ffree: from_free.saturating_add(free_records),
            favail: from_free.saturating_add(free_records),
            fsid: 0,
            flag: 0x1001,
            namemax: 255,
        })
    }
}

/// Clear bits among the first `clusters` bits of `$Bitmap`, read in
/// pieces so a hostile size cannot make us allocate it whole.
fn count_free_clusters(file: &NtfsFile<'_>, io: &mut CachedIo, clusters: u64) -> ntfs::Result<u64> {
    let Some(item) = file.data(io, "") else {
        return Ok(0);
    };
    let item = item?;
    let a = item.to_attribute()?;
    let mut v = a.value(io)?;
    let mut bits_left = clusters.min(v.len().saturating_mul(8));
    let mut free = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    while bits_left > 0 {
        let n = (bits_left.div_ceil(8)).min(buf.len() as u64) as usize;
        v.read_exact(io, &mut buf[..n])?;
        let bits = bits_left.min(n as u64 * 8);
        free += count_zero_bits(&buf[..n], bits);
        bits_left -= bits;
    }
    Ok(free)
}

fn count_zero_bits(bitmap: &[u8], bits: u64) -> u64 {
    let full = (bits / 8) as usize;
    let mut free: u64 = bitmap
        .iter()
        .take(full)
        .map(|b| u64::from(b.count_zeros()))
        .sum();
    let rest = bits % 8;
    if rest != 0 {
        if let Some(b) = bitmap.get(full) {
            free += u64::from((!b & ((1u8 << rest) - 1)).count_ones());
        }
    }
    // Bits past the end of a short bitmap count as used.
    free
}

/// Up to `max` bytes of the unnamed attribute of type `ty`, and its allocated size.
fn attr_bytes(
    file: &NtfsFile<'_>,
    io: &mut CachedIo,
    ty: NtfsAttributeType,
    max: u64,
) -> ntfs::Result<(Vec<u8>, u64)> {
    let mut attrs = file.attributes();
    while let Some(item) = attrs.next(io) {
        let item = item?;
        let a = item.to_attribute()?;
        if a.ty()? != ty || !a.name()?.is_empty() {
            continue;
        }
        let mut v = a.value(io)?;
        let alloc = value_alloc(&v, a.is_resident(), file.ntfs().cluster_size());
        let len = v.len().min(max) as usize;
        let mut buf = vec![0u8; len];
        v.read_exact(io, &mut buf)?;
        return Ok((buf, alloc));
    }
    Ok((Vec::new(), 0))
}

fn value_alloc(
    v: &ntfs::attribute_value::NtfsAttributeValue<'_, '_>,
    resident: bool,
    cluster: u32,
) -> u64 {
    use ntfs::attribute_value::NtfsAttributeValue as V;
    match v {
        _ if resident => v.len().div_ceil(8) * 8,
        V::NonResident(nr) => nr
            .data_runs()
            .filter_map(|r| r.ok())
            .filter(|r| r.data_position().value().is_some())
            .map(|r| r.allocated_size())
            .sum(),
        _ => v.len().div_ceil(u64::from(cluster)) * u64::from(cluster),
    }
}

/// Read up to `max` bytes of the named `$DATA` stream.
fn read_data(
    file: &NtfsFile<'_>,
    io: &mut CachedIo,
    max: u64,
    stream: &str,
) -> ntfs::Result<Vec<u8>> {
    let Some(item) = file.data(io, stream) else {
        return Ok(Vec::new());
    };
    let item = item?;
    let a = item.to_attribute()?;
    let mut v = a.value(io)?;
    let len = v.len().min(max) as usize;
    let mut buf = vec![0u8; len];
    v.read_exact(io, &mut buf)?;
    Ok(buf)
}

fn data_len(file: &NtfsFile<'_>, io: &mut CachedIo) -> ntfs::Result<u64> {
    match file.data(io, "") {
        None => Ok(0),
        Some(item) => Ok(item?.to_attribute()?.value_length()),
    }
}

/// (size, allocated bytes) of the unnamed `$DATA`.
fn data_sizes(file: &NtfsFile<'_>, io: &mut CachedIo, cluster: u32) -> ntfs::Result<(u64, u64)> {
    let Some(item) = file.data(io, "") else {
        return Ok((0, 0));
    };
    let item = item?;
    let a = item.to_attribute()?;
    let size = a.value_length();
    let resident = a.is_resident();
    let v = a.value(io)?;
    Ok((size, value_alloc(&v, resident, cluster)))
}

fn index_alloc_size(
    file: &NtfsFile<'_>,
    io: &mut CachedIo,
    cluster: u32,
) -> ntfs::Result<(u64, u64)> {
    let mut attrs = file.attributes();
    while let Some(item) = attrs.next(io) {
        let item = item?;
        let a = item.to_attribute()?;
        if a.ty()? == NtfsAttributeType::IndexAllocation && a.name()? == "$I30" {
            let size = a.value_length();
            let v = a.value(io)?;
            return Ok((size, value_alloc(&v, false, cluster)));
        }
    }
    Ok((0, 0))
}

impl NtfsFs {
    fn lstat_inner(&self, path: &str) -> Result<Stat> {
        let rec = self.lookup(path)?;
        Ok(self.stat_record(rec, path)?.0)
    }

    fn read_dir_inner(&self, path: &str) -> Result<Vec<DirEntry>> {
        let rec = self.lookup(path)?;
        let d = self.dir(rec, path)?;
        Ok(d.entries
            .iter()
            .filter(|e| !e.dos_only)
            .map(|e| DirEntry {
                name: e.name.clone(),
                ino: e.record,
                file_type: if e.attrs.contains(NtfsFileAttributeFlags::IS_DIRECTORY) {
                    FileType::Directory
                } else if e.attrs.contains(NtfsFileAttributeFlags::REPARSE_POINT)
                    || e.attrs.contains(NtfsFileAttributeFlags::SYSTEM)
                {
                    // Symlink or special file: only the record says which.
                    self.stat_record(e.record, path)
                        .map(|(st, _)| st.file_type())
                        .unwrap_or(FileType::Unknown)
                } else {
                    FileType::Regular
                },
            })
            .collect())
    }

    /// Readdir-plus: the entries [`Self::read_dir_inner`] gives, each with
    /// the stat of the record a lookup of its name finds (the first entry
    /// of that exact name), from the directory's parsed index: no name is
    /// looked up from the root again.
    fn lstat_dir_inner(&self, path: &str) -> Result<Vec<(DirEntry, Stat)>> {
        let rec = self.lookup(path)?;
        let d = self.dir(rec, path)?;
        let base = path.trim_end_matches('/');
        let mut out = Vec::with_capacity(d.entries.len());
        for e in d.entries.iter().filter(|e| !e.dos_only) {
            let child = format!("{base}/{}", e.name);
            let found = d
                .exact
                .get(&e.name)
                .and_then(|&i| d.entries.get(i))
                .map_or(e.record, |f| f.record);
            let (st, _) = self.stat_record(found, &child)?;
            let file_type = if e.attrs.contains(NtfsFileAttributeFlags::IS_DIRECTORY) {
                FileType::Directory
            } else if e.attrs.contains(NtfsFileAttributeFlags::REPARSE_POINT)
                || e.attrs.contains(NtfsFileAttributeFlags::SYSTEM)
            {
                if found == e.record {
                    st.file_type()
                } else {
                    self.stat_record(e.record, &child)
                        .map(|(st, _)| st.file_type())
                        .unwrap_or(FileType::Unknown)
                }
            } else {
                FileType::Regular
            };
            out.push((
                DirEntry {
                    name: e.name.clone(),
                    ino: e.record,
                    file_type,
                },
                st,
            ));
        }
        Ok(out)
    }

    fn readlink_inner(&self, path: &str) -> Result<String> {
        let rec = self.lookup(path)?;
        match self.stat_record(rec, path)?.1 {
            Kind::Symlink(Some(t), _) => Ok(t),
            Kind::Symlink(None, _) => Err(Error::unsupported(format!(
                "{}: {path}: absolute Windows symlink or junction targets are not translated",
                self.name
            ))),
            _ => Err(Error::invalid(format!(
                "{}: {path}: not a symbolic link",
                self.name
            ))),
        }
    }

    /// SEEK_DATA/SEEK_HOLE from the unnamed `$DATA`'s data runs: a sparse
    /// run (no LCN) is a hole. Compressed and encrypted files, and data
    /// split over an attribute list, are all data (always a right answer:
    /// a compressed unit's sparse runs hold compressed data, not zeros).
    fn seek_data_inner(&self, path: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        let (rec, st) = self.regular(path)?;
        let size = st.size;
        if offset >= size {
            return Ok(None);
        }
        let what = format!("seeking in {path}");
        let io = &mut *self.io.borrow_mut();
        let file = self.ntfs.file(io, rec).map_err(self.err(&what))?;
        let Some(item) = file.data(io, "") else {
            return Ok(crate::seek_all_data(size, offset, hole));
        };
        let item = item.map_err(self.err(&what))?;
        let a = item.to_attribute().map_err(self.err(&what))?;
        let flags = a.flags();
        if a.is_resident()
            || flags.intersects(NtfsAttributeFlags::COMPRESSED | NtfsAttributeFlags::ENCRYPTED)
        {
            return Ok(crate::seek_all_data(size, offset, hole));
        }
        let v = a.value(io).map_err(self.err(&what))?;
        let ntfs::attribute_value::NtfsAttributeValue::NonResident(nr) = v else {
            return Ok(crate::seek_all_data(size, offset, hole));
        };
        let mut spans = Vec::new();
        let mut at = 0u64;
        for (i, run) in nr.data_runs().enumerate() {
            if i >= MAX_SEEK_RUNS || at >= size {
                break;
            }
            let run = run.map_err(self.err(&what))?;
            let end = at.saturating_add(run.allocated_size());
            if run.data_position().value().is_some() {
                spans.push((at, end));
            }
            at = end;
        }
        if at < size {
            // Runs that stop short of the size (or too many to follow):
            // what is past them counts as data.
            spans.push((at, size));
        }
        Ok(crate::seek_in_spans(spans.into_iter(), size, offset, hole))
    }

    /// The MFT record and stat of `path`, which must be a regular file.
    fn regular(&self, path: &str) -> Result<(u64, Stat)> {
        let rec = self.lookup(path)?;
        let (st, _) = self.stat_record(rec, path)?;
        if st.file_type() != FileType::Regular {
            return Err(Error::invalid(format!(
                "{}: {path}: not a regular file",
                self.name
            )));
        }
        Ok((rec, st))
    }

    fn read_at_inner(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let (rec, _) = self.regular(path)?;
        let what = format!("reading {path}");
        let io = &mut *self.io.borrow_mut();
        let file = self.ntfs.file(io, rec).map_err(self.err(&what))?;
        let info = file.info().map_err(self.err(&what))?;
        if info
            .file_attributes()
            .contains(NtfsFileAttributeFlags::REPARSE_POINT)
        {
            return Err(Error::unsupported(format!(
                "{}: {path}: data behind a reparse point (e.g. WOF/deduplication) is not supported",
                self.name
            )));
        }
        let Some(item) = file.data(io, "") else {
            return Ok(0);
        };
        let item = item.map_err(self.err(&what))?;
        let a = item.to_attribute().map_err(self.err(&what))?;
        let flags = a.flags();
        if flags.contains(NtfsAttributeFlags::COMPRESSED) {
            return Err(Error::unsupported(format!(
                "{}: {path}: NTFS compressed files are not supported",
                self.name
            )));
        }
        if flags.contains(NtfsAttributeFlags::ENCRYPTED) {
            return Err(Error::unsupported(format!(
                "{}: {path}: NTFS encrypted files are not supported",
                self.name
            )));
        }
        let mut v = a.value(io).map_err(self.err(&what))?;
        let len = v.len();
        if offset >= len || buf.is_empty() {
            return Ok(0);
        }
        let want = (len - offset).min(buf.len() as u64) as usize;
        v.seek(io, SeekFrom::Start(offset))
            .map_err(self.err(&what))?;
        let mut done = 0;
        while done < want {
            let n = v.read(io, &mut buf[done..want]).map_err(self.err(&what))?;
            if n == 0 {
                return Err(Error::corrupt(format!(
                    "{}: {path}: data ends at {} of {len} bytes",
                    self.name,
                    offset + done as u64
                )));
            }
            done += n;
        }
        Ok(done)
    }
}

impl Filesystem for NtfsFs {
    fn fs_type(&self) -> &'static str {
        "ntfs"
    }

    fn lstat(&self, path: &str) -> Result<Stat> {
        guard(&self.name, path, || self.lstat_inner(path))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        guard(&self.name, path, || self.read_dir_inner(path))
    }

    fn lstat_dir(&self, path: &str) -> Result<Vec<(DirEntry, Stat)>> {
        guard(&self.name, path, || self.lstat_dir_inner(path))
    }

    fn readlink(&self, path: &str) -> Result<String> {
        guard(&self.name, path, || self.readlink_inner(path))
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        guard(&self.name, path, || self.read_at_inner(path, offset, buf))
    }

    fn seek_data(&self, path: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        guard(&self.name, path, || {
            self.seek_data_inner(path, offset, hole)
        })
    }

    fn statvfs(&self) -> Result<StatVfs> {
        if let Some(v) = *self.vfs.borrow() {
            return Ok(v);
        }
        let v = guard(&self.name, "statvfs", || self.compute_statvfs())?;
        *self.vfs.borrow_mut() = Some(v);
        Ok(v)
    }

    fn case_insensitive(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_times() {
        assert_eq!(
            nt_time(116_444_736_000_000_000),
            Timespec { sec: 0, nsec: 0 }
        );
        let t = nt_time(116_444_736_000_000_000 + 17_956_304_083_491_394);
        assert_eq!(
            t,
            Timespec {
                sec: 1_795_630_408,
                nsec: 349_139_400
            }
        );
        assert_eq!(nt_time(0).sec, -11_644_473_600);
    }

    #[test]
    fn zero_bits() {
        assert_eq!(count_zero_bits(&[0xFF, 0x00], 16), 8);
        assert_eq!(count_zero_bits(&[0x0F, 0x01], 12), 4 + 3);
        assert_eq!(count_zero_bits(&[0x00], 16), 8);
    }
}

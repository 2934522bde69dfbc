//! FAT12/16/32 with long names, read-only, parsed by our own code.
//!
//! We parse FAT ourselves rather than through the fatfs crate: fatfs needs a
//! writable device, may write the dirty flag and FSInfo on mount and drop,
//! hides each entry's first cluster (so a cycling directory chain cannot be
//! caught before it spins forever inside its iterator), reads one field at a
//! time, and walks a file's chain from the start on every seek. Here every
//! chain walk is bounded by the cluster count, a repeated cluster is a
//! `Corrupt` error, and a file's chain is kept as extents so ranged reads
//! stream in constant time per chunk.
//!
//! What `lstat` reports copies Linux's vfat driver as libguestfs mounts it
//! (`ro,fmask=0022,dmask=0022,codepage=437,iocharset=ascii,shortname=mixed,utf8`):
//! uid/gid 0, mode 0755 (write bits cleared by the read-only attribute on
//! files), directory nlink from the count of subdirectory entries, directory
//! size from the cluster chain, blocks rounded up to whole clusters, times as
//! UTC, atime at midnight of the access date, ctime equal to mtime, root times
//! 0. Inode numbers: root is 1 as in Linux; Linux numbers other inodes in the
//! order it first meets them, which nothing can reproduce, so we use the
//! position of the short entry on disk divided by 32 (unique and stable).

use crate::{DirEntry, FileType, Filesystem, Stat, StatVfs, Timespec};
use gx_disk::bytes::{le16, le32};
use gx_disk::{Device, Error, ErrorKind, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

const ATTR_RO: u8 = 0x01;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_DIR: u8 = 0x10;
const ATTR_LFN: u8 = 0x0F;
const CASE_LOWER_BASE: u8 = 0x08;
const CASE_LOWER_EXT: u8 = 0x10;

/// The FAT specification's limit on entries in one directory (2 MiB of
/// entries); neither Windows nor Linux creates larger directories, so a
/// longer chain is damage (or a cycle), not data.
const MAX_DIR_BYTES: u64 = 65536 * 32;

/// Bound on cached directory entries across all cached directories.
const DIR_CACHE_ENTRIES: usize = 200_000;

/// The most pieces (runs of contiguous clusters) one chain is kept in: a
/// file fragmented further (or a crafted FAT) would cost memory by its size.
const MAX_CHAIN_EXTENTS: usize = 1 << 20;

const FAT_BLOCK: u64 = 4096;
const FAT_CACHE_BLOCKS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FatKind {
    Fat12,
    Fat16,
    Fat32,
}

/// One directory entry as parsed from disk.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    /// The 8.3 alias, formatted; lookups match it too, as Linux does.
    short: String,
    attr: u8,
    first_cluster: u32,
    size: u32,
    time: u16,
    date: u16,
    adate: u16,
    /// Byte position of the short entry on the device.
    pos: u64,
}

impl Entry {
    fn is_dir(&self) -> bool {
        self.attr & ATTR_DIR != 0
    }

    /// As a directory listing gives it (inode number: the entry's position
    /// in 32-byte slots, as [`FatFs::stat_entry`] numbers it).
    fn dir_entry(&self) -> DirEntry {
        DirEntry {
            name: self.name.clone(),
            ino: self.pos / 32,
            file_type: if self.is_dir() {
                FileType::Directory
            } else {
                FileType::Regular
            },
        }
    }
}

/// A parsed directory: entries in on-disk order plus a lookup index.
#[derive(Debug)]
struct DirData {
    entries: Vec<Entry>,
    /// Case-folded long and short names to an index in `entries`.
    index: HashMap<String, usize>,
    /// Entries with the directory attribute, `.` and `..` included: Linux's nlink.
    dir_entries: u64,
    /// Size in bytes as Linux reports it (chain length times cluster size).
    size: u64,
}

/// A run of consecutive clusters.
#[derive(Debug, Clone, Copy)]
struct Extent {
    first: u32,
    count: u32,
}

pub(crate) struct FatFs {
    dev: Device,
    name: String,
    kind: FatKind,
    cluster_size: u64,
    fat_start: u64,
    fat_bytes: u64,
    /// FAT12/16: the fixed root directory region (offset, length).
    root_region: Option<(u64, u64)>,
    root_cluster: u32,
    data_start: u64,
    cluster_count: u32,
    fat_cache: RefCell<HashMap<u64, Rc<Vec<u8>>>>,
    dir_cache: RefCell<(usize, HashMap<u32, Rc<DirData>>)>,
    chain_cache: RefCell<Option<(u32, Rc<Vec<Extent>>)>>,
    free_cache: RefCell<Option<u64>>,
}

impl FatFs {
    pub(crate) fn open(dev: Device) -> Result<FatFs> {
        let name = dev.describe();
        let bad = |why: String| Error::corrupt(format!("{name}: FAT boot sector: {why}"));
        let mut bs = [0u8; 512];
        dev.read_at(&mut bs, 0)
            .map_err(|e| e.context(format!("{name}: reading the FAT boot sector")))?;
        let bps = u64::from(le16(&bs, 11)?);
        if !matches!(bps, 512 | 1024 | 2048 | 4096) {
            return Err(bad(format!("bytes per sector {bps} is not 512-4096")));
        }
        let spc = u64::from(bs[13]);
        if spc == 0 || !spc.is_power_of_two() {
            return Err(bad(format!(
                "sectors per cluster {spc} is not a power of two"
            )));
        }
        let reserved = u64::from(le16(&bs, 14)?);
        if reserved == 0 {
            return Err(bad("no reserved sectors".into()));
        }
        let nfats = u64::from(bs[16]);
        if nfats == 0 {
            return Err(bad("no FATs".into()));
        }
        let root_entries = u64::from(le16(&bs, 17)?);
        let total16 = u64::from(le16(&bs, 19)?);
        let fat16_len = u64::from(le16(&bs, 22)?);
        let total32 = u64::from(le32(&bs, 32)?);
        let fat32_len = u64::from(le32(&bs, 36)?);
        let root_cluster32 = le32(&bs, 44)?;
        let total_sectors = if total16 != 0 { total16 } else { total32 };
        // Linux decides FAT32 by the 16-bit FAT length being zero, not by the
        // cluster count; do the same so we agree on odd images.
        let is32 = fat16_len == 0;
        let fat_len = if is32 { fat32_len } else { fat16_len };
        if fat_len == 0 {
            return Err(bad("FAT length is zero".into()));
        }
        if !is32 && (root_entries == 0 || (root_entries * 32) % bps != 0) {
            return Err(bad(format!(
                "bogus number of root directory entries {root_entries}"
            )));
        }
        let overflow = || bad("sizes overflow".into());
        let fat_start = reserved.checked_mul(bps).ok_or_else(overflow)?;
        let fat_bytes = fat_len.checked_mul(bps).ok_or_else(overflow)?;
        let root_start = nfats
            .checked_mul(fat_bytes)
            .and_then(|v| v.checked_add(fat_start))
            .ok_or_else(overflow)?;
        let root_len = if is32 { 0 } else { root_entries * 32 };
        let data_start = root_start.checked_add(root_len).ok_or_else(overflow)?;
        let total_bytes = total_sectors.checked_mul(bps).ok_or_else(overflow)?;
        if total_bytes <= data_start {
            return Err(bad(format!(
                "{total_sectors} sectors leave no room for data after {data_start} bytes of metadata"
            )));
        }
        let cluster_size = spc * bps;
        let clusters = (total_bytes - data_start) / cluster_size;
        let kind = if is32 {
            FatKind::Fat32
        } else if clusters > 4084 {
            FatKind::Fat16
        } else {
            FatKind::Fat12
        };
        let fat_entries = match kind {
            FatKind::Fat12 => fat_bytes * 2 / 3,
            FatKind::Fat16 => fat_bytes / 2,
            FatKind::Fat32 => fat_bytes / 4,
        };
        let max_clusters = match kind {
            FatKind::Fat12 => 0xFF4,
            FatKind::Fat16 => 0xFFF4,
            FatKind::Fat32 => 0x0FFF_FFF4,
        };
        if clusters == 0 || clusters > max_clusters || clusters + 2 > fat_entries {
            return Err(bad(format!(
                "{clusters} clusters do not fit a {kind:?} FAT of {fat_entries} entries"
            )));
        }
        let cluster_count = u32::try_from(clusters).map_err(|_| overflow())?;
        let fs = FatFs {
            dev,
            name: name.clone(),
            kind,
            cluster_size,
            fat_start,
            fat_bytes,
            root_region: (!is32).then_some((root_start, root_len)),
            root_cluster: if is32 { root_cluster32 } else { 0 },
            data_start,
            cluster_count,
            fat_cache: RefCell::new(HashMap::new()),
            dir_cache: RefCell::new((0, HashMap::new())),
            chain_cache: RefCell::new(None),
            free_cache: RefCell::new(None),
        };
        if is32 && !fs.valid_cluster(root_cluster32) {
            return Err(bad(format!(
                "root directory cluster {root_cluster32} is out of range"
            )));
        }
        Ok(fs)
    }

    fn valid_cluster(&self, c: u32) -> bool {
        c >= 2 && u64::from(c) < u64::from(self.cluster_count) + 2
    }

    /// Read from the device; running past its end means the filesystem's
    /// numbers are wrong, so say so as corruption.
    fn read(&self, buf: &mut [u8], off: u64, what: &dyn Fn() -> String) -> Result<()> {
        self.dev.read_at(buf, off).map_err(|e| {
            if e.kind() == ErrorKind::InvalidArgument {
                Error::corrupt(format!("{}: {}: {}", self.name, what(), e.message()))
            } else {
                e.context(format!("{}: {}", self.name, what()))
            }
        })
    }

    fn fat_byte(&self, off: u64) -> Result<u8> {
        let block = off / FAT_BLOCK;
        let within = (off % FAT_BLOCK) as usize;
        if let Some(b) = self.fat_cache.borrow().get(&block) {
            return b.get(within).copied().ok_or_else(|| {
                Error::corrupt(format!("{}: FAT offset {off} past its end", self.name))
            });
        }
        let start = block * FAT_BLOCK;
        let len = (self.fat_bytes - start).min(FAT_BLOCK) as usize;
        let mut buf = vec![0u8; len];
        self.read(&mut buf, self.fat_start + start, &|| {
            "reading the FAT".into()
        })?;
        let v = buf.get(within).copied().ok_or_else(|| {
            Error::corrupt(format!("{}: FAT offset {off} past its end", self.name))
        })?;
        let mut cache = self.fat_cache.borrow_mut();
        if cache.len() >= FAT_CACHE_BLOCKS {
            cache.clear();
        }
        cache.insert(block, Rc::new(buf));
        Ok(v)
    }

    /// The FAT entry for cluster `c`, with end-of-chain and bad markers
    /// normalised to `None` (Linux treats bad-cluster markers as the end).
    fn next_cluster(&self, c: u32) -> Result<Option<u32>> {
        let v = match self.kind {
            FatKind::Fat12 => {
                let off = u64::from(c) * 3 / 2;
                let raw =
                    u16::from(self.fat_byte(off)?) | (u16::from(self.fat_byte(off + 1)?) << 8);
                let v = if c & 1 == 1 { raw >> 4 } else { raw & 0xFFF };
                if v >= 0xFF7 {
                    return Ok(None);
                }
                u32::from(v)
            }
            FatKind::Fat16 => {
                let off = u64::from(c) * 2;
                let v = u16::from(self.fat_byte(off)?) | (u16::from(self.fat_byte(off + 1)?) << 8);
                if v >= 0xFFF7 {
                    return Ok(None);
                }
                u32::from(v)
            }
            FatKind::Fat32 => {
                let off = u64::from(c) * 4;
                let mut b = [0u8; 4];
                for (i, x) in b.iter_mut().enumerate() {
                    *x = self.fat_byte(off + i as u64)?;
                }
                let v = u32::from_le_bytes(b) & 0x0FFF_FFFF;
                if v >= 0x0FFF_FFF7 {
                    return Ok(None);
                }
                v
            }
        };
        if !self.valid_cluster(v) {
            return Err(Error::corrupt(format!(
                "{}: FAT entry of cluster {c} points to {} cluster {v}",
                self.name,
                if v == 0 { "free" } else { "out-of-range" }
            )));
        }
        Ok(Some(v))
    }

    /// Walk the chain from `first`, at most `limit` clusters (stop early at
    /// the end of the chain). A cluster met twice is a cycle: `Corrupt`.
    fn chain(&self, first: u32, limit: u64, what: &dyn Fn() -> String) -> Result<Vec<Extent>> {
        if !self.valid_cluster(first) {
            return Err(Error::corrupt(format!(
                "{}: {}: first cluster {first} is out of range (2..{})",
                self.name,
                what(),
                u64::from(self.cluster_count) + 2
            )));
        }
        let mut extents: Vec<Extent> = vec![Extent { first, count: 1 }];
        let mut cur = first;
        let mut walked = 1u64;
        // The walk can never be longer than the cluster count without
        // repeating a cluster; the overlap check below names the cycle.
        let limit = limit.min(u64::from(self.cluster_count));
        while walked < limit {
            let Some(next) = self.next_cluster(cur)? else {
                break;
            };
            walked += 1;
            match extents.last_mut() {
                Some(last) if u64::from(last.first) + u64::from(last.count) == u64::from(next) => {
                    last.count += 1
                }
                _ => {
                    if extents.len() >= MAX_CHAIN_EXTENTS {
                        return Err(Error::unsupported(format!(
                            "{}: {}: cluster chain in more than {MAX_CHAIN_EXTENTS} pieces",
                            self.name,
                            what()
                        )));
                    }
                    extents.push(Extent {
                        first: next,
                        count: 1,
                    })
                }
            }
            cur = next;
        }
        if walked == u64::from(self.cluster_count) && self.next_cluster(cur)?.is_some() {
            return Err(Error::corrupt(format!(
                "{}: {}: cluster chain is longer than the volume (a cycle)",
                self.name,
                what()
            )));
        }
        let mut sorted: Vec<(u32, u32)> = extents.iter().map(|e| (e.first, e.count)).collect();
        sorted.sort_unstable();
        for w in sorted.windows(2) {
            if u64::from(w[0].0) + u64::from(w[0].1) > u64::from(w[1].0) {
                return Err(Error::corrupt(format!(
                    "{}: {}: cluster chain cycles (cluster {} is used twice)",
                    self.name,
                    what(),
                    w[1].0
                )));
            }
        }
        Ok(extents)
    }

    fn cluster_offset(&self, c: u32) -> u64 {
        // valid_cluster was checked on every cluster a chain yields, so this
        // stays inside the volume's declared data area.
        self.data_start + u64::from(c - 2) * self.cluster_size
    }

    /// Read and parse a directory: the root (`cluster == 0`) or a subdirectory.
    fn dir(&self, cluster: u32, path: &str) -> Result<Rc<DirData>> {
        if let Some(d) = self.dir_cache.borrow().1.get(&cluster) {
            return Ok(d.clone());
        }
        let what = || format!("directory {path}");
        let mut raw = Vec::new();
        let mut regions: Vec<(u64, u64)> = Vec::new();
        let size;
        if cluster == 0 && self.root_region.is_some() {
            let (off, len) = self.root_region.unwrap_or((0, 0));
            regions.push((off, len));
            size = len;
        } else {
            let start = if cluster == 0 {
                self.root_cluster
            } else {
                cluster
            };
            let max_clusters = (MAX_DIR_BYTES / self.cluster_size).max(1);
            let extents = self.chain(start, max_clusters + 1, &what)?;
            let n: u64 = extents.iter().map(|e| u64::from(e.count)).sum();
            if n > max_clusters {
                return Err(Error::corrupt(format!(
                    "{}: {}: cluster chain longer than the FAT limit of 65536 entries (a cycle or damage)",
                    self.name,
                    what()
                )));
            }
            size = n * self.cluster_size;
            for e in &extents {
                regions.push((
                    self.cluster_offset(e.first),
                    u64::from(e.count) * self.cluster_size,
                ));
            }
        }
        // Read region by region, stopping at the end-of-directory marker.
        'outer: for &(off, len) in &regions {
            let mut done = 0u64;
            while done < len {
                let n = (len - done).min(64 * 1024) as usize;
                let at = raw.len();
                raw.resize(at + n, 0);
                self.read(&mut raw[at..], off + done, &what)?;
                let chunk_start = at;
                let mut p = chunk_start;
                while p + 32 <= raw.len() {
                    if raw[p] == 0 {
                        raw.truncate(p);
                        // Keep positions of the parsed part; nothing follows.
                        break 'outer;
                    }
                    p += 32;
                }
                done += n as u64;
            }
        }
        let data = Rc::new(self.parse_dir(&raw, &regions, size)?);
        let mut cache = self.dir_cache.borrow_mut();
        if cache.0 + data.entries.len() > DIR_CACHE_ENTRIES {
            cache.1.clear();
            cache.0 = 0;
        }
        cache.0 += data.entries.len();
        cache.1.insert(cluster, data.clone());
        Ok(data)
    }

    /// Parse raw directory bytes; `regions` says where on the device each
    /// part of them lies (for inode numbers).
    fn parse_dir(&self, raw: &[u8], regions: &[(u64, u64)], size: u64) -> Result<DirData> {
        let mut entries = Vec::new();
        let mut index = HashMap::new();
        let mut dir_entries = 0u64;
        let mut lfn: Vec<u16> = Vec::new();
        let mut lfn_next = 0u8; // ordinal expected next; 0 when complete
        let mut lfn_sum = 0u8;
        let mut lfn_active = false;
        let mut region = 0usize;
        let mut region_start = 0u64; // byte of the directory where `region` starts
        for (i, e) in raw.chunks_exact(32).enumerate() {
            if e[0] == 0xE5 {
                lfn_active = false;
                continue;
            }
            if e[11] == ATTR_LFN {
                let ord = e[0];
                let seq = ord & 0x1F;
                let mut part = [0u16; 13];
                for (k, off) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
                    .iter()
                    .enumerate()
                {
                    part[k] = le16(e, *off)?;
                }
                if ord & 0x40 != 0 {
                    if seq == 0 || seq > 20 {
                        lfn_active = false;
                        continue;
                    }
                    lfn = vec![0xFFFF; usize::from(seq) * 13];
                    lfn_sum = e[13];
                    lfn_active = true;
                } else if !lfn_active || seq != lfn_next || e[13] != lfn_sum || seq == 0 {
                    lfn_active = false;
                    continue;
                }
                let at = usize::from(seq - 1) * 13;
                lfn[at..at + 13].copy_from_slice(&part);
                lfn_next = seq - 1;
                continue;
            }
            let had_lfn = lfn_active && lfn_next == 0;
            lfn_active = false;
            if e[11] & ATTR_VOLUME != 0 {
                continue;
            }
            if e[11] & ATTR_DIR != 0 {
                dir_entries += 1;
            }
            if &e[0..11] == b".          " || &e[0..11] == b"..         " {
                continue;
            }
            let short = short_name(e);
            let mut name = short.clone();
            if had_lfn && lfn_checksum(&e[0..11]) == lfn_sum {
                let end = lfn.iter().position(|&u| u == 0).unwrap_or(lfn.len());
                let long: Vec<u16> = lfn[..end]
                    .iter()
                    .copied()
                    .filter(|&u| u != 0xFFFF)
                    .collect();
                if !long.is_empty() {
                    name = String::from_utf16_lossy(&long);
                }
            }
            if name.is_empty() || name.contains('/') {
                continue;
            }
            let byte = (i as u64) * 32;
            while let Some(&(_, len)) = regions.get(region) {
                if byte < region_start + len {
                    break;
                }
                region_start += len;
                region += 1;
            }
            let Some(&(region_off, _)) = regions.get(region) else {
                return Err(Error::corrupt(format!(
                    "{}: directory entry {i} lies past its clusters",
                    self.name
                )));
            };
            let pos = region_off + (byte - region_start);
            let first_cluster = if self.kind == FatKind::Fat32 {
                (u32::from(le16(e, 20)?) << 16) | u32::from(le16(e, 26)?)
            } else {
                u32::from(le16(e, 26)?)
            };
            let entry = Entry {
                name,
                short,
                attr: e[11],
                first_cluster,
                size: le32(e, 28)?,
                time: le16(e, 22)?,
                date: le16(e, 24)?,
                adate: le16(e, 18)?,
                pos,
            };
            let idx = entries.len();
            index.entry(fold(&entry.name)).or_insert(idx);
            index.entry(fold(&entry.short)).or_insert(idx);
            entries.push(entry);
        }
        Ok(DirData {
            entries,
            index,
            dir_entries,
            size,
        })
    }

    /// Find the entry for `path` (not the root).
    fn lookup(&self, path: &str) -> Result<Entry> {
        let mut dir_cluster = 0u32;
        let mut found: Option<Entry> = None;
        let mut so_far = String::new();
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            if let Some(prev) = &found {
                if !prev.is_dir() {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("{}: {so_far}: not a directory", self.name),
                    ));
                }
                dir_cluster = prev.first_cluster;
                if dir_cluster == 0 {
                    return Err(Error::not_found(format!(
                        "{}: {path}: no such file or directory",
                        self.name
                    )));
                }
            }
            let dir = self.dir(dir_cluster, if so_far.is_empty() { "/" } else { &so_far })?;
            // Linux's vfat ignores trailing dots in a looked-up name.
            let key = comp.trim_end_matches('.');
            let key = if key.is_empty() { comp } else { key };
            let Some(&i) = dir.index.get(&fold(key)) else {
                return Err(Error::not_found(format!(
                    "{}: {path}: no such file or directory",
                    self.name
                )));
            };
            found = Some(dir.entries[i].clone());
            so_far.push('/');
            so_far.push_str(comp);
        }
        found.ok_or_else(|| Error::invalid(format!("{}: lookup of the root", self.name)))
    }

    /// The first cluster of directory `path` as [`Self::dir`] takes it (0
    /// for the root); `None` for a directory with no cluster (empty).
    fn dir_cluster(&self, path: &str) -> Result<Option<u32>> {
        if Self::is_root(path) {
            return Ok(Some(0));
        }
        let e = self.lookup(path)?;
        if !e.is_dir() {
            return Err(Error::invalid(format!(
                "{}: {path}: not a directory",
                self.name
            )));
        }
        Ok((e.first_cluster != 0).then_some(e.first_cluster))
    }

    fn is_root(path: &str) -> bool {
        path.split('/').all(|c| c.is_empty())
    }

    fn stat_entry(&self, e: &Entry, path: &str) -> Result<Stat> {
        let mut st = Stat {
            ino: e.pos / 32,
            uid: 0,
            gid: 0,
            blksize: self.cluster_size,
            ..Stat::default()
        };
        let mtime = fat_time(e.time, e.date);
        st.mtime = mtime;
        st.ctime = mtime;
        st.atime = fat_time(0, e.adate);
        if e.is_dir() {
            st.mode = FileType::Directory.mode_bits() | 0o755;
            if e.first_cluster == 0 {
                st.nlink = 0;
                st.size = 0;
            } else {
                let d = self.dir(e.first_cluster, path)?;
                st.nlink = d.dir_entries;
                st.size = d.size;
            }
        } else {
            let perm = if e.attr & ATTR_RO != 0 { 0o555 } else { 0o755 };
            st.mode = FileType::Regular.mode_bits() | perm;
            st.nlink = 1;
            st.size = u64::from(e.size);
        }
        st.blocks = st.size.div_ceil(self.cluster_size) * self.cluster_size / 512;
        Ok(st)
    }

    fn file_extents(&self, e: &Entry, path: &str) -> Result<Rc<Vec<Extent>>> {
        if let Some((c, ext)) = &*self.chain_cache.borrow() {
            if *c == e.first_cluster {
                return Ok(ext.clone());
            }
        }
        let need = u64::from(e.size).div_ceil(self.cluster_size);
        let extents = self.chain(e.first_cluster, need, &|| format!("file {path}"))?;
        let have: u64 = extents.iter().map(|x| u64::from(x.count)).sum();
        if have < need {
            return Err(Error::corrupt(format!(
                "{}: file {path}: cluster chain ends after {have} of {need} clusters",
                self.name
            )));
        }
        let ext = Rc::new(extents);
        *self.chain_cache.borrow_mut() = Some((e.first_cluster, ext.clone()));
        Ok(ext)
    }

    fn free_clusters(&self) -> Result<u64> {
        if let Some(n) = *self.free_cache.borrow() {
            return Ok(n);
        }
        let end = u64::from(self.cluster_count) + 2;
        let mut free = 0u64;
        match self.kind {
            FatKind::Fat12 => {
                for c in 2..end {
                    let off = c * 3 / 2;
                    let raw =
                        u16::from(self.fat_byte(off)?) | (u16::from(self.fat_byte(off + 1)?) << 8);
                    let v = if c & 1 == 1 { raw >> 4 } else { raw & 0xFFF };
                    free += u64::from(v == 0);
                }
            }
            FatKind::Fat16 | FatKind::Fat32 => {
                let width = if self.kind == FatKind::Fat16 { 2 } else { 4 };
                let mut buf = vec![0u8; 1 << 20];
                let zeros = vec![0u8; buf.len()];
                let mut c = 2u64;
                while c < end {
                    let n = ((end - c) * width).min(buf.len() as u64) as usize;
                    self.read(&mut buf[..n], self.fat_start + c * width, &|| {
                        "reading the FAT".into()
                    })?;
                    c += n as u64 / width;
                    // A free stretch (most of a large, young volume) is one
                    // memcmp, not a loop over entries.
                    if buf[..n] == zeros[..n] {
                        free += n as u64 / width;
                        continue;
                    }
                    for ent in buf[..n].chunks_exact(width as usize) {
                        let v = if width == 2 {
                            u32::from(le16(ent, 0)?)
                        } else {
                            le32(ent, 0)? & 0x0FFF_FFFF
                        };
                        free += u64::from(v == 0);
                    }
                }
            }
        }
        *self.free_cache.borrow_mut() = Some(free);
        Ok(free)
    }
}

/// Case folding for lookups: Linux's vfat with `iocharset=ascii` folds only ASCII.
fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn lfn_checksum(short: &[u8]) -> u8 {
    short.iter().fold(0u8, |sum, &b| {
        ((sum & 1) << 7).wrapping_add(sum >> 1).wrapping_add(b)
    })
}

/// The 8.3 name as Linux shows it with `shortname=mixed`: trailing spaces
/// dropped, the NT lower-case flags honoured, bytes decoded as code page 437.
fn short_name(e: &[u8]) -> String {
    let mut base: Vec<u8> = e[0..8].to_vec();
    if base[0] == 0x05 {
        base[0] = 0xE5;
    }
    let trim = |v: &[u8]| -> Vec<u8> {
        let end = v.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
        v[..end].to_vec()
    };
    let base = trim(&base);
    let ext = trim(&e[8..11]);
    let decode = |v: &[u8], lower: bool| -> String {
        v.iter()
            .map(|&b| {
                let b = if lower { b.to_ascii_lowercase() } else { b };
                cp437(b)
            })
            .collect()
    };
    let mut s = decode(&base, e[12] & CASE_LOWER_BASE != 0);
    if !ext.is_empty() {
        s.push('.');
        s.push_str(&decode(&ext, e[12] & CASE_LOWER_EXT != 0));
    }
    s
}

fn cp437(b: u8) -> char {
    const HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";
    if b < 0x80 {
        char::from(b)
    } else {
        HIGH.chars().nth(usize::from(b - 0x80)).unwrap_or('?')
    }
}

/// FAT local time (taken as UTC, as libguestfs's appliance runs in UTC) to
/// Unix time, with Linux's clamping of out-of-range months and days.
fn fat_time(time: u16, date: u16) -> Timespec {
    const DAYS_BEFORE_MONTH: [i64; 16] = [
        0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 0, 0, 0,
    ];
    let year = i64::from(date >> 9);
    let month = usize::from((date >> 5) & 0xF).max(1);
    let day = i64::from(date & 0x1F).max(1) - 1;
    let is_leap = year % 4 == 0 && year != 120;
    let mut leap_days = (year + 3) / 4;
    if year > 120 {
        leap_days -= 1;
    }
    if is_leap && month > 2 {
        leap_days += 1;
    }
    let days = year * 365 + leap_days + DAYS_BEFORE_MONTH[month] + day + 3652;
    let secs = i64::from(time & 0x1F) * 2
        + i64::from((time >> 5) & 0x3F) * 60
        + i64::from(time >> 11) * 3600;
    Timespec {
        sec: days * 86400 + secs,
        nsec: 0,
    }
}

impl Filesystem for FatFs {
    fn fs_type(&self) -> &'static str {
        "vfat"
    }

    fn lstat(&self, path: &str) -> Result<Stat> {
        if Self::is_root(path) {
            let d = self.dir(0, "/")?;
            let size = d.size;
            return Ok(Stat {
                ino: 1,
                mode: FileType::Directory.mode_bits() | 0o755,
                // The root has no `.`/`..` entries; Linux adds 2 for them.
                nlink: d.dir_entries + 2,
                size,
                blksize: self.cluster_size,
                blocks: size.div_ceil(self.cluster_size) * self.cluster_size / 512,
                ..Stat::default()
            });
        }
        let e = self.lookup(path)?;
        self.stat_entry(&e, path)
    }

    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let Some(cluster) = self.dir_cluster(path)? else {
            return Ok(Vec::new());
        };
        let d = self.dir(cluster, path)?;
        Ok(d.entries.iter().map(Entry::dir_entry).collect())
    }

    /// One pass over the directory's parsed entries (the walk reads each
    /// directory's cluster chain once: a subdirectory parsed here for its
    /// nlink and size is the one the walk descends into next). Each name
    /// gets the entry a lookup of it would find (the first of a case-folded
    /// name, trailing dots ignored); a name no lookup finds is left out, so
    /// the caller's lookup gives its error.
    fn lstat_dir(&self, path: &str) -> Result<Vec<(DirEntry, Stat)>> {
        let Some(cluster) = self.dir_cluster(path)? else {
            return Ok(Vec::new());
        };
        let d = self.dir(cluster, path)?;
        let base = path.trim_end_matches('/');
        let mut out = Vec::with_capacity(d.entries.len());
        for e in &d.entries {
            let key = e.name.trim_end_matches('.');
            let key = if key.is_empty() { e.name.as_str() } else { key };
            let Some(found) = d.index.get(&fold(key)).and_then(|&i| d.entries.get(i)) else {
                continue;
            };
            let child = format!("{base}/{}", e.name);
            let st = self.stat_entry(found, &child)?;
            out.push((e.dir_entry(), st));
        }
        Ok(out)
    }

    fn readlink(&self, path: &str) -> Result<String> {
        if !Self::is_root(path) {
            self.lookup(path)?;
        }
        Err(Error::invalid(format!(
            "{}: {path}: not a symbolic link (FAT has none)",
            self.name
        )))
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if Self::is_root(path) {
            return Err(Error::invalid(format!(
                "{}: {path}: is a directory",
                self.name
            )));
        }
        let e = self.lookup(path)?;
        if e.is_dir() {
            return Err(Error::invalid(format!(
                "{}: {path}: is a directory",
                self.name
            )));
        }
        let size = u64::from(e.size);
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = (size - offset).min(buf.len() as u64);
        let extents = self.file_extents(&e, path)?;
        let mut done = 0u64;
        let mut ext_start = 0u64; // byte offset in the file where this extent starts
        for x in extents.iter() {
            let ext_len = u64::from(x.count) * self.cluster_size;
            let pos = offset + done;
            if done >= want {
                break;
            }
            if pos < ext_start + ext_len {
                let within = pos - ext_start;
                let n = (ext_len - within).min(want - done);
                let dev_off = self.cluster_offset(x.first) + within;
                let dst = &mut buf[done as usize..(done + n) as usize];
                self.read(dst, dev_off, &|| format!("reading file {path}"))?;
                done += n;
            }
            ext_start += ext_len;
        }
        Ok(done as usize)
    }

    fn statvfs(&self) -> Result<StatVfs> {
        let free = self.free_clusters()?;
        Ok(StatVfs {
            bsize: self.cluster_size,
            frsize: self.cluster_size,
            blocks: u64::from(self.cluster_count),
            bfree: free,
            bavail: free,
            files: 0,
            ffree: 0,
            favail: 0,
            fsid: 0,
            // ST_RDONLY | ST_RELATIME, as the peer's read-only mount reports.
            flag: 0x1001,
            // 255 UTF-16 units, each up to 6 bytes with the `utf8` option.
            namemax: 1530,
        })
    }

    fn case_insensitive(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat_times_match_linux() {
        // 2026-11-25 18:13:22 (what the peer showed for an mtools-made file).
        let date = ((2026 - 1980) << 9) | (11 << 5) | 25;
        let time = (18 << 11) | (13 << 5) | 11;
        assert_eq!(fat_time(time, date).sec, 1795630402);
        assert_eq!(fat_time(0, date).sec, 1795564800);
        // 1980-01-01, and a zero date clamps to it.
        assert_eq!(fat_time(0, (1 << 5) | 1).sec, 315532800);
        assert_eq!(fat_time(0, 0).sec, 315532800);
    }

    #[test]
    fn short_names() {
        let mut e = [0u8; 32];
        e[0..11].copy_from_slice(b"HELLO   TXT");
        assert_eq!(short_name(&e), "HELLO.TXT");
        e[12] = CASE_LOWER_BASE | CASE_LOWER_EXT;
        assert_eq!(short_name(&e), "hello.txt");
        e[0..11].copy_from_slice(b"N\xD8         ");
        e[12] = 0;
        assert_eq!(short_name(&e), "N╪");
        assert_eq!(cp437(0xFF), '\u{a0}');
        assert_eq!(cp437(0x80), 'Ç');
    }
}

//! Directories: parsing directory blocks (linear scan; htree or not, every
//! entry is in a leaf), a bounded cache of parsed directories, path
//! resolution through a bounded dentry cache.

use super::*;

/// One directory entry as stored, name in raw bytes.
#[derive(Debug, Clone)]
pub(super) struct RawEntry {
    pub(super) name: Vec<u8>,
    pub(super) ino: u32,
    pub(super) file_type: u8,
}

pub(super) fn file_type_of_dirent(t: u8) -> FileType {
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

impl Ext4Fs {
    /// Every entry of a directory (including `.` and `..`), in on-disk order.
    pub(super) fn dir_entries(&self, dir: &Inode) -> Result<Vec<RawEntry>> {
        let ino = dir.ino;
        if dir.flags & INODE_FLAG_ENCRYPT != 0 {
            return Err(Error::unsupported(format!(
                "{}: directory inode {ino} is encrypted",
                self.name
            )));
        }
        let bs = u64::from(self.sb.block_size);
        if dir.size > self.dev.size() {
            return Err(self.corrupt(format!(
                "directory inode {ino}: size {} is larger than the device",
                dir.size
            )));
        }
        let nblocks = dir.size.div_ceil(bs);
        if nblocks > MAX_DIR_BLOCKS {
            return Err(Error::unsupported(format!(
                "{}: directory inode {ino}: i_size {} is more than the direct engine reads \
                 ({MAX_DIR_BLOCKS} blocks)",
                self.name, dir.size
            )));
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut lblk = 0;
        // Run by run, so holes cost nothing however large the size claims.
        while lblk < nblocks {
            let (phys, run) = self.map_run(dir, lblk)?;
            let run = run.min(nblocks - lblk);
            if let Some(first) = phys {
                for phys in first..first + run {
                    if !seen.insert(phys) {
                        return Err(self.corrupt(format!(
                            "directory inode {ino}: block {phys} appears twice in its block map"
                        )));
                    }
                    let block = self.read_block(phys)?;
                    self.parse_dir_block(ino, phys, &block, &mut out)?;
                    if out.len() > MAX_DIR_ENTRIES {
                        return Err(Error::unsupported(format!(
                            "{}: directory inode {ino} has more than {MAX_DIR_ENTRIES} entries",
                            self.name
                        )));
                    }
                }
            }
            lblk += run;
        }
        Ok(out)
    }

    pub(super) fn parse_dir_block(
        &self,
        dir_ino: u32,
        phys: u64,
        b: &[u8],
        out: &mut Vec<RawEntry>,
    ) -> Result<()> {
        let bs = b.len();
        let mut off = 0usize;
        while off < bs {
            let at = || format!("directory inode {dir_ino}, block {phys}, offset {off}");
            if off + 8 > bs {
                return Err(self.corrupt(format!("{}: entry header runs past the block", at())));
            }
            let ino = le32(b, off)?;
            let raw_rec = usize::from(le16(b, off + 4)?);
            // 64 KiB blocks cannot store their own size in 16 bits.
            let rec_len = if bs >= 65536 && (raw_rec == 65535 || raw_rec == 0) {
                65536
            } else {
                raw_rec
            };
            let name_len = usize::from(b[off + 6]);
            let file_type = b[off + 7];
            if rec_len < 12 || rec_len % 4 != 0 || off + rec_len > bs {
                return Err(self.corrupt(format!("{}: bad record length {rec_len}", at())));
            }
            if 8 + name_len > rec_len {
                return Err(self.corrupt(format!(
                    "{}: name length {name_len} does not fit in record length {rec_len}",
                    at()
                )));
            }
            if ino != 0 {
                if ino > self.sb.inodes_count {
                    return Err(self.corrupt(format!(
                        "{}: inode number {ino} is out of range (1..={})",
                        at(),
                        self.sb.inodes_count
                    )));
                }
                let name = &b[off + 8..off + 8 + name_len];
                if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
                    return Err(self.corrupt(format!(
                        "{}: invalid file name {:?}",
                        at(),
                        String::from_utf8_lossy(name)
                    )));
                }
                out.push(RawEntry {
                    name: name.to_vec(),
                    ino,
                    file_type,
                });
            }
            off += rec_len;
        }
        Ok(())
    }

    /// A directory's entries and name index, parsed once and then kept in
    /// a bounded cache: a walk lists a directory and then looks up every
    /// name in it, and resolving a path looks up each ancestor again.
    pub(super) fn dir_data(&self, dir: &Inode) -> Result<Rc<DirData>> {
        if let Some(d) = self.dirs.borrow().map.get(&dir.ino) {
            return Ok(d.clone());
        }
        let entries = self.dir_entries(dir)?;
        let mut index = HashMap::with_capacity(entries.len());
        for e in &entries {
            // The first of duplicate names wins, as a linear scan finds it.
            index.entry(e.name.clone()).or_insert(e.ino);
        }
        let data = Rc::new(DirData { entries, index });
        let n = data.entries.len();
        if n <= DIR_CACHE_MAX_ENTRIES {
            let mut cache = self.dirs.borrow_mut();
            if cache.entries + n > DIR_CACHE_MAX_ENTRIES || cache.map.len() >= DIR_CACHE_DIRS {
                cache.map.clear();
                cache.entries = 0;
            }
            cache.entries += n;
            cache.map.insert(dir.ino, data.clone());
        }
        Ok(data)
    }

    /// The inode that `name` names in directory `dir`: from the parsed
    /// directory when cached; else through its hash index for the first few
    /// lookups (a path resolved once reads a leaf or two, not the whole
    /// directory); after that, or without an index, the directory is parsed
    /// once and cached, so a walk never parses a block twice.
    pub(super) fn lookup(&self, dir: &Inode, name: &[u8]) -> Result<Option<u32>> {
        if let Some(d) = self.dirs.borrow().map.get(&dir.ino) {
            return Ok(d.index.get(name).copied());
        }
        if dir.flags & INODE_FLAG_INDEX != 0 {
            let uses = {
                let mut h = self.htree_uses.borrow_mut();
                if h.len() >= DENTRY_CACHE {
                    h.clear();
                }
                let n = h.entry(dir.ino).or_insert(0);
                *n += 1;
                *n
            };
            if uses <= HTREE_LOOKUPS {
                if let Some(found) = self.htree_lookup(dir, name)? {
                    return Ok(found);
                }
            }
        }
        Ok(self.dir_data(dir)?.index.get(name).copied())
    }

    /// Resolve an absolute path (no symlinks in it are followed).
    ///
    /// Directories met on the way are remembered by path (a bounded dentry
    /// cache), so resolving the entries of one directory one after another
    /// costs one lookup each, not one per component.
    pub(super) fn resolve(&self, path: &str) -> Result<Inode> {
        if !path.starts_with('/') {
            return Err(Error::invalid(format!("{path}: path is not absolute")));
        }
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let mut start = 0;
        let mut inode = None;
        if comps.len() > 1 {
            let parent = comps[..comps.len() - 1].join("/");
            if let Some(i) = self.dentries.borrow().map.get(&parent) {
                inode = Some(i.clone());
                start = comps.len() - 1;
            }
        }
        let mut inode = match inode {
            Some(i) => i,
            None => self.read_inode(ROOT_INO)?,
        };
        // One directory read per component, so the work is bounded by the
        // path's length whatever the directories contain.
        for (i, comp) in comps.iter().enumerate().skip(start) {
            if *comp == "." || *comp == ".." {
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
            inode = self.read_inode(ino).map_err(|e| e.context(path))?;
            if inode.file_type() == FileType::Directory {
                let mut d = self.dentries.borrow_mut();
                if d.map.len() >= DENTRY_CACHE {
                    d.map.clear();
                }
                d.map.insert(comps[..=i].join("/"), inode.clone());
            }
        }
        Ok(inode)
    }
}

/// A parsed directory: its entries in on-disk order and a name index.
pub(super) struct DirData {
    pub(super) entries: Vec<RawEntry>,
    pub(super) index: HashMap<Vec<u8>, u32>,
}

/// Parsed directories by inode number, bounded by their total entries.
#[derive(Default)]
pub(super) struct DirCache {
    pub(super) map: HashMap<u32, Rc<DirData>>,
    pub(super) entries: usize,
}

/// Directory inodes by path (components joined with `/`, no leading one).
#[derive(Default)]
pub(super) struct Dentries {
    pub(super) map: HashMap<String, Inode>,
}

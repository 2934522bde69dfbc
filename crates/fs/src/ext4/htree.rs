//! Hashed directory lookups (htree): one name found by reading the index
//! blocks and the leaf (or, on hash collisions, the few leaves) its hash
//! points to, as the kernel's `ext4_dx_find_entry` does, instead of parsing
//! the whole directory.
//!
//! It must not give an answer the linear scan would not: any index that does
//! not look exactly as the kernel writes it (unknown hash version, bad
//! counts, a block outside the directory, more levels than the filesystem
//! allows) makes it say "not usable" and the caller scans linearly.

use super::*;

/// Index levels below the root without the large_dir feature (refused).
const MAX_LEVELS: u8 = 1;

/// One index block on the path from the root to a leaf.
struct Frame {
    block: Vec<u8>,
    /// Offset of its `dx_countlimit` header (the first entry).
    base: usize,
    count: usize,
    /// The entry taken.
    at: usize,
}

impl Frame {
    fn hash(&self, i: usize) -> Result<u32> {
        // Entry 0 holds the count and limit where the hash would be: its
        // hash is implicitly 0.
        if i == 0 {
            Ok(0)
        } else {
            le32(&self.block, self.base + i * 8)
        }
    }

    fn child(&self, i: usize) -> Result<u32> {
        // The kernel ignores the top 4 bits (dx_get_block).
        Ok(le32(&self.block, self.base + i * 8 + 4)? & 0x0fff_ffff)
    }
}

impl Ext4Fs {
    /// Look `name` up through `dir`'s hash index: `Ok(None)` when the index
    /// cannot be used (the caller scans), else whether the name is there.
    pub(super) fn htree_lookup(&self, dir: &Inode, name: &[u8]) -> Result<Option<Option<u32>>> {
        if dir.flags & INODE_FLAG_INDEX == 0
            || dir.flags & INODE_FLAG_ENCRYPT != 0
            // The hash is of the casefolded name, which we do not compute.
            || dir.flags & INODE_FLAG_CASEFOLD != 0
            || self.sb.feature_compat & COMPAT_DIR_INDEX == 0
        {
            return Ok(None);
        }
        let bs = u64::from(self.sb.block_size);
        let nblocks = dir.size / bs;
        let Some(root) = self.index_block(dir, 0, nblocks)? else {
            return Ok(None);
        };
        // dx_root_info, after the fake `.` (12 bytes) and `..` entries.
        let (Some(&version), Some(&info_len), Some(&levels)) =
            (root.get(0x1c), root.get(0x1d), root.get(0x1e))
        else {
            return Ok(None);
        };
        if info_len != 8 || levels > MAX_LEVELS || version > hash::DX_HASH_TEA {
            return Ok(None);
        }
        let mut version = version;
        if self.sb.flags & FLAGS_UNSIGNED_HASH != 0 {
            version += hash::DX_HASH_UNSIGNED_DELTA;
        }
        let (hash, _) = hash::dirhash(name, version, &self.sb.hash_seed);

        // Down from the root: in each index block, the last entry whose
        // hash is not above ours.
        let mut frames: Vec<Frame> = Vec::with_capacity(usize::from(levels) + 1);
        let mut block = root;
        let mut base = 0x20;
        loop {
            let Some(frame) = self.frame(block, base, hash)? else {
                return Ok(None);
            };
            let child = frame.child(frame.at)?;
            frames.push(frame);
            if frames.len() > usize::from(levels) {
                break;
            }
            let Some(node) = self.index_block(dir, u64::from(child), nblocks)? else {
                return Ok(None);
            };
            // A dx_node starts with a fake empty entry spanning the block.
            if le32(&node, 0)? != 0 {
                return Ok(None);
            }
            block = node;
            base = 8;
        }

        // The leaf, then the next ones while their hash continues ours.
        let mut leaves = 0u64;
        loop {
            let Some(leaf) = frames.last() else {
                return Ok(None);
            };
            let lblk = u64::from(leaf.child(leaf.at)?);
            if lblk >= nblocks {
                return Ok(None);
            }
            let Some(phys) = self.map_block(dir, lblk)? else {
                return Ok(None);
            };
            let block = self.read_block(phys)?;
            let mut entries = Vec::new();
            self.parse_dir_block(dir.ino, phys, &block, &mut entries)?;
            if let Some(e) = entries.iter().find(|e| e.name == name) {
                return Ok(Some(Some(e.ino)));
            }
            leaves += 1;
            if leaves > nblocks || !next_leaf(&mut frames, hash, self, dir, nblocks)? {
                return Ok(Some(None));
            }
        }
    }

    /// Logical block `lblk` of a directory, if mapped and inside it.
    fn index_block(&self, dir: &Inode, lblk: u64, nblocks: u64) -> Result<Option<Vec<u8>>> {
        if lblk >= nblocks {
            return Ok(None);
        }
        match self.map_block(dir, lblk)? {
            Some(phys) => Ok(Some(self.read_block(phys)?)),
            None => Ok(None),
        }
    }

    /// Check an index block's header and find the entry for `hash`.
    fn frame(&self, block: Vec<u8>, base: usize, hash: u32) -> Result<Option<Frame>> {
        let limit = usize::from(le16(&block, base)?);
        let count = usize::from(le16(&block, base + 2)?);
        if count == 0 || count > limit || base + limit * 8 > block.len() {
            return Ok(None);
        }
        let mut f = Frame {
            block,
            base,
            count,
            at: 0,
        };
        // Binary search, as dx_probe: entry 0 always matches.
        let (mut lo, mut hi) = (1usize, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if f.hash(mid)? > hash {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        f.at = lo - 1;
        Ok(Some(f))
    }
}

/// Step to the next leaf if its hash continues `hash` (a collision run
/// spilled over), as the kernel's `ext4_htree_next_block`; false when not.
fn next_leaf(
    frames: &mut [Frame],
    hash: u32,
    fs: &Ext4Fs,
    dir: &Inode,
    nblocks: u64,
) -> Result<bool> {
    // The deepest level that has an entry after the one taken.
    let Some(level) = (0..frames.len())
        .rev()
        .find(|&l| frames[l].at + 1 < frames[l].count)
    else {
        return Ok(false);
    };
    frames[level].at += 1;
    let next_hash = frames[level].hash(frames[level].at)?;
    if next_hash & !1 != hash {
        return Ok(false);
    }
    // Below that level, start again at each block's first entry.
    for l in level + 1..frames.len() {
        let child = frames[l - 1].child(frames[l - 1].at)?;
        let Some(node) = fs.index_block(dir, u64::from(child), nblocks)? else {
            return Ok(false);
        };
        let Some(mut f) = fs.frame(node, 8, 0)? else {
            return Ok(false);
        };
        f.at = 0;
        frames[l] = f;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// An ext4 image (1 KiB blocks) with one directory of `n` files,
    /// indexed by e2fsck -D (mke2fs -d writes directories unindexed).
    fn indexed_image(dir: &std::path::Path, n: usize) -> Option<std::path::PathBuf> {
        let src = dir.join("src/big");
        std::fs::create_dir_all(&src).unwrap();
        for i in 0..n {
            std::fs::write(src.join(format!("name-{i:05}-{}", "y".repeat(i % 40))), b"").unwrap();
        }
        let img = dir.join("htree.img");
        let ok = Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-b", "1024", "-N", "20000", "-d"])
            .arg(dir.join("src"))
            .arg(&img)
            .arg("32M")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            gx_testdata::skip_or_fail!("mke2fs is not installed");
            return None;
        }
        // Exit status 1: "errors corrected" (the directories it indexed).
        let st = Command::new("e2fsck")
            .args(["-f", "-y", "-D"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(st.status.code().is_some_and(|c| c <= 1), "{st:?}");
        Some(img)
    }

    #[test]
    fn htree_lookup_finds_what_the_scan_finds() {
        let t = tempfile::tempdir().unwrap();
        let n = 9000;
        let Some(img) = indexed_image(t.path(), n) else {
            return;
        };
        let dev: Device = std::sync::Arc::new(gx_disk::RawDevice::open_ro(&img).unwrap());
        let fs = Ext4Fs::open(dev).unwrap();
        let dir = fs.resolve("/big").unwrap();
        assert!(
            dir.flags & INODE_FLAG_INDEX != 0,
            "e2fsck -D did not index /big"
        );
        let root = fs
            .read_block(fs.map_block(&dir, 0).unwrap().unwrap())
            .unwrap();
        assert_eq!(
            root[0x1e], 1,
            "a two-level index, so both levels are walked"
        );
        // The oracle: every name the image was built from, found by the
        // linear scan (checked against debugfs in tests/ext4.rs).
        let all = fs.dir_entries(&dir).unwrap();
        assert_eq!(all.len(), n + 2);
        for e in &all {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let got = fs.htree_lookup(&dir, &e.name).unwrap();
            assert_eq!(
                got,
                Some(Some(e.ino)),
                "{}",
                String::from_utf8_lossy(&e.name)
            );
        }
        for missing in ["name-00001", "nope", "name-99999-", "NAME-00001-y"] {
            assert_eq!(
                fs.htree_lookup(&dir, missing.as_bytes()).unwrap(),
                Some(None)
            );
        }
        // Not indexed: the caller scans.
        let root_dir = fs.read_inode(ROOT_INO).unwrap();
        assert_eq!(fs.htree_lookup(&root_dir, b"big").unwrap(), None);
        // And through the public calls, before and after the cache takes over.
        for i in (0..n).step_by(7) {
            let name = format!("/big/name-{i:05}-{}", "y".repeat(i % 40));
            assert!(fs.lstat(&name).is_ok(), "{name}");
        }
    }
}

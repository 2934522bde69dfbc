//! Reading rpm's Berkeley DB `Packages` file (rpm < 4.16: CentOS/RHEL 7
//! and 8, SLES 15 before SP3): a Berkeley DB *hash* database whose values are
//! rpm header blobs. Only what that needs, read-only, from a private copy:
//! the hash meta page, the bucket pages in cursor order (bucket 0, 1, ... each
//! with its chain), on-page items and off-page (overflow) values.
//!
//! Layout (Berkeley DB 4.x/5.x, `dbinc/db_page.h`): page 0 is the meta page
//! (magic 0x061561 at 12, page size at 20, last page at 32, max bucket at 72,
//! the 32 `spares` at 96); every other page has a 26-byte header (next page
//! at 16, entry count at 20, high free offset at 22, type at 25) and, on hash
//! pages, an array of 2-byte item offsets after it. Items alternate key and
//! value; an item's first byte is its kind: 1 on-page data (running to the
//! previous item's offset), 3 off-page (`pgno` at +4, total length at +8) on a
//! chain of overflow pages (type 7) each holding `high free offset` bytes.
//! Both byte orders exist; the magic tells which. Nothing read is trusted:
//! every offset and length is checked, every chain is bounded.

use std::fs::File;
use std::os::unix::fs::FileExt;

const HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;
/// Largest value read (an rpm header; rpm's own limit is 256 MiB of data).
const MAX_VALUE: usize = 256 << 20;

/// Positional reads: the copied file, or bytes in memory (tests, fuzzing).
pub(crate) trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| self.get(o..o.checked_add(buf.len())?))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// An open Packages file.
pub(crate) struct Bdb<F: ReadAt + ?Sized> {
    page_size: usize,
    last_pgno: u32,
    max_bucket: u32,
    spares: [u32; 32],
    big_endian: bool,
    file: Box<F>,
}

type R<T> = std::result::Result<T, String>;

impl<F: ReadAt + ?Sized> Bdb<F> {
    pub(crate) fn open(file: Box<F>) -> R<Bdb<F>> {
        let mut meta = [0u8; 224];
        file.read_exact_at(&mut meta, 0)
            .map_err(|e| format!("cannot read the meta page: {e}"))?;
        let le = u32::from_le_bytes([meta[12], meta[13], meta[14], meta[15]]);
        let big_endian = match le {
            HASH_MAGIC => false,
            m if m.swap_bytes() == HASH_MAGIC => true,
            _ => return Err("not a Berkeley DB hash database (bad magic)".into()),
        };
        let u = |at: usize| {
            let b = [meta[at], meta[at + 1], meta[at + 2], meta[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        if meta[25] != P_HASHMETA {
            return Err(format!("meta page has type {}, not hash meta", meta[25]));
        }
        if meta[24] != 0 {
            return Err("encrypted Berkeley DB databases are not supported".into());
        }
        let page_size = u(20) as usize;
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!("implausible page size {page_size}"));
        }
        let mut spares = [0u32; 32];
        for (i, s) in spares.iter_mut().enumerate() {
            *s = u(96 + 4 * i);
        }
        Ok(Bdb {
            file,
            page_size,
            last_pgno: u(32),
            max_bucket: u(72),
            spares,
            big_endian,
        })
    }

    fn u16_at(&self, p: &[u8], at: usize) -> R<u16> {
        use gx_disk::bytes::{be16, le16};
        let r = if self.big_endian {
            be16(p, at)
        } else {
            le16(p, at)
        };
        r.map_err(|e| format!("truncated page: {e}"))
    }

    fn u32_at(&self, p: &[u8], at: usize) -> R<u32> {
        use gx_disk::bytes::{be32, le32};
        let r = if self.big_endian {
            be32(p, at)
        } else {
            le32(p, at)
        };
        r.map_err(|e| format!("truncated page: {e}"))
    }

    fn page(&self, pgno: u32) -> R<Vec<u8>> {
        if pgno == 0 || pgno > self.last_pgno {
            return Err(format!("page {pgno} is outside the database"));
        }
        let mut p = vec![0u8; self.page_size];
        self.file
            .read_exact_at(&mut p, u64::from(pgno) * self.page_size as u64)
            .map_err(|e| format!("cannot read page {pgno}: {e}"))?;
        Ok(p)
    }

    /// The first page of `bucket` (Berkeley DB's BUCKET_TO_PAGE: the bucket
    /// plus the spare pages allocated before its doubling, `spares[ceil(log2
    /// (bucket + 1))]`).
    fn bucket_page(&self, bucket: u32) -> R<u32> {
        let n = u64::from(bucket) + 1;
        let log = 64 - (n - 1).leading_zeros() as usize; // ceil(log2(n))
        let spare = *self.spares.get(log).ok_or("bucket out of range")?;
        bucket
            .checked_add(spare)
            .ok_or_else(|| format!("bucket {bucket} maps past the file"))
    }

    /// Every value, in cursor order, at most `max` of them. A value that
    /// cannot be read is skipped (as librpm skips headers it cannot load);
    /// a damaged page structure is an error.
    pub(crate) fn values(&self, max: usize) -> R<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut total = 0u64;
        let file_bytes = (u64::from(self.last_pgno) + 1) * self.page_size as u64;
        // More buckets than pages is a damaged meta page.
        if self.max_bucket > self.last_pgno {
            return Err(format!(
                "{} buckets in {} pages",
                self.max_bucket, self.last_pgno
            ));
        }
        for bucket in 0..=self.max_bucket {
            let mut pgno = self.bucket_page(bucket)?;
            while pgno != 0 {
                if !seen.insert(pgno) {
                    return Err(format!("page {pgno} is linked twice"));
                }
                let p = self.page(pgno)?;
                if !matches!(p[25], P_HASH | P_HASH_UNSORTED) {
                    return Err(format!("page {pgno} has type {}, not hash", p[25]));
                }
                let entries = usize::from(self.u16_at(&p, 20)?);
                // Items are key, value pairs: the values are the odd ones.
                for i in (1..entries).step_by(2) {
                    if out.len() >= max {
                        return Ok(out);
                    }
                    if let Ok(v) = self.item(&p, i) {
                        // Every value byte lives on a page of its own, so more
                        // than the file holds means values share pages (a
                        // crafted file multiplying one big chain).
                        total += v.len() as u64;
                        if total > file_bytes {
                            return Err("the values add up to more than the file".into());
                        }
                        out.push(v);
                    }
                }
                pgno = self.u32_at(&p, 16)?;
            }
        }
        Ok(out)
    }

    /// Item `i` of hash page `p`.
    fn item(&self, p: &[u8], i: usize) -> R<Vec<u8>> {
        let off = usize::from(self.u16_at(p, PAGE_HEADER + 2 * i)?);
        // An item runs up to the previous one (items grow down from the end).
        let end = if i == 0 {
            self.page_size
        } else {
            usize::from(self.u16_at(p, PAGE_HEADER + 2 * (i - 1))?)
        };
        if off < PAGE_HEADER || off >= end || end > self.page_size {
            return Err(format!("item {i} at {off}..{end} is outside its page"));
        }
        match p[off] {
            H_KEYDATA => Ok(p[off + 1..end].to_vec()),
            H_OFFPAGE => {
                let pgno = self.u32_at(p, off + 4)?;
                let len = self.u32_at(p, off + 8)? as usize;
                self.overflow(pgno, len)
            }
            other => Err(format!("item kind {other} is not supported")),
        }
    }

    /// `len` bytes from the overflow chain starting at `pgno`.
    fn overflow(&self, mut pgno: u32, len: usize) -> R<Vec<u8>> {
        if len > MAX_VALUE {
            return Err(format!("value of {len} bytes is too large"));
        }
        let mut v = Vec::with_capacity(len.min(1 << 20));
        let mut seen = std::collections::HashSet::new();
        while v.len() < len {
            if pgno == 0 {
                return Err("overflow chain ends early".into());
            }
            if !seen.insert(pgno) {
                return Err(format!("overflow chain loops at page {pgno}"));
            }
            let p = self.page(pgno)?;
            if p[25] != P_OVERFLOW {
                return Err(format!("page {pgno} has type {}, not overflow", p[25]));
            }
            let n = usize::from(self.u16_at(&p, 22)?);
            let data = p
                .get(PAGE_HEADER..PAGE_HEADER + n)
                .ok_or_else(|| format!("overflow page {pgno} claims {n} bytes"))?;
            if n == 0 {
                return Err(format!("overflow page {pgno} is empty"));
            }
            v.extend_from_slice(&data[..n.min(len - v.len())]);
            pgno = self.u32_at(&p, 16)?;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: usize = 512;

    fn meta(max_bucket: u32, last: u32) -> Vec<u8> {
        let mut m = vec![0u8; PS];
        m[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        m[20..24].copy_from_slice(&(PS as u32).to_le_bytes());
        m[25] = P_HASHMETA;
        m[32..36].copy_from_slice(&last.to_le_bytes());
        m[72..76].copy_from_slice(&max_bucket.to_le_bytes());
        m
    }

    /// A hash page holding `items` (kind byte included), next page `next`.
    fn hash_page(items: &[Vec<u8>], next: u32) -> Vec<u8> {
        let mut p = vec![0u8; PS];
        p[16..20].copy_from_slice(&next.to_le_bytes());
        p[20..22].copy_from_slice(&(items.len() as u16).to_le_bytes());
        p[25] = P_HASH;
        let mut end = PS;
        for (i, it) in items.iter().enumerate() {
            let off = end - it.len();
            p[off..end].copy_from_slice(it);
            p[PAGE_HEADER + 2 * i..PAGE_HEADER + 2 * i + 2]
                .copy_from_slice(&(off as u16).to_le_bytes());
            end = off;
        }
        p
    }

    fn overflow_page(data: &[u8], next: u32) -> Vec<u8> {
        let mut p = vec![0u8; PS];
        p[16..20].copy_from_slice(&next.to_le_bytes());
        p[22..24].copy_from_slice(&(data.len() as u16).to_le_bytes());
        p[25] = P_OVERFLOW;
        p[PAGE_HEADER..PAGE_HEADER + data.len()].copy_from_slice(data);
        p
    }

    fn keydata(b: &[u8]) -> Vec<u8> {
        let mut v = vec![H_KEYDATA];
        v.extend_from_slice(b);
        v
    }

    fn offpage(pgno: u32, len: u32) -> Vec<u8> {
        let mut v = vec![H_OFFPAGE, 0, 0, 0];
        v.extend_from_slice(&pgno.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v
    }

    fn db(pages: &[Vec<u8>]) -> Bdb<[u8]> {
        Bdb::open(pages.concat().into_boxed_slice()).unwrap()
    }

    #[test]
    fn on_page_and_overflow_values_in_bucket_order() {
        let big: Vec<u8> = (0..700u32).map(|i| i as u8).collect();
        // Buckets 0 and 1 on pages 1 and 2: page = bucket + spares[ceil(log2(
        // bucket + 1))], so spares[0] = spares[1] = 1, as db_load writes them.
        let mut m = meta(1, 5);
        m[96..100].copy_from_slice(&1u32.to_le_bytes());
        m[100..104].copy_from_slice(&1u32.to_le_bytes());
        let pages = vec![
            m,
            hash_page(&[keydata(b"k1"), keydata(b"small")], 0),
            hash_page(&[keydata(b"k2"), offpage(3, 700)], 5),
            overflow_page(&big[..400], 4),
            overflow_page(&big[400..], 0),
            hash_page(&[keydata(b"k3"), keydata(b"chained")], 0),
        ];
        let d = db(&pages);
        let v = d.values(100).unwrap();
        assert_eq!(v, vec![b"small".to_vec(), big, b"chained".to_vec()]);
        assert_eq!(d.values(1).unwrap().len(), 1);
    }

    #[test]
    fn hostile_files_are_errors_not_panics() {
        assert!(Bdb::open(Box::new(tempfile::tempfile().unwrap())).is_err());
        assert!(
            Bdb::<[u8]>::open(vec![0u8; PS].into_boxed_slice()).is_err(),
            "bad magic"
        );
        // A chain that loops back on itself.
        let mut m = meta(0, 2);
        m[96..100].copy_from_slice(&1u32.to_le_bytes());
        let looped = db(&[m.clone(), hash_page(&[keydata(b"k"), keydata(b"v")], 1)]);
        assert!(looped.values(10).is_err());
        // Overflow chains that loop, end early or point outside the file:
        // the value is skipped, the rest still read.
        for bad in [offpage(2, 5000), offpage(9, 10), offpage(1, 10)] {
            let d = db(&[
                m.clone(),
                hash_page(&[keydata(b"k"), bad, keydata(b"k2"), keydata(b"ok")], 0),
                overflow_page(b"abc", 2),
            ]);
            assert_eq!(d.values(10).unwrap(), vec![b"ok".to_vec()]);
        }
        // Many items sharing one overflow chain: refused, not multiplied.
        let items: Vec<Vec<u8>> = (0..20)
            .flat_map(|_| [keydata(b"k"), offpage(2, 400)])
            .collect();
        let d = db(&[m.clone(), hash_page(&items, 0), overflow_page(&[7; 400], 0)]);
        assert!(d.values(100).is_err());
        // Item offsets outside the page, absurd counts, a bucket past the file.
        let mut p = hash_page(&[keydata(b"k"), keydata(b"v")], 0);
        p[20..22].copy_from_slice(&300u16.to_le_bytes());
        p[PAGE_HEADER..PAGE_HEADER + 2].copy_from_slice(&9999u16.to_le_bytes());
        assert!(db(&[m.clone(), p]).values(10).is_ok());
        let far = meta(100, 1);
        assert!(db(&[far, vec![0u8; PS]]).values(10).is_err());
    }
}

//! Throw-away qcow2 overlays for read-only drives, written by us.
//!
//! A read-only drive is given to the guest writable (a journal replay must
//! work) with its writes going to a temporary overlay, so the image stays
//! byte-identical. QEMU's `snapshot=on` makes such an overlay itself, but
//! creates it with four `fdatasync`s in `/var/tmp`: ~15 ms of every launch
//! here, far more on a slow disk. An empty qcow2 v3 overlay is four clusters
//! we can write directly (header with the backing file's name and format, a
//! refcount table, one refcount block, a zeroed L1 table), in the launch's
//! private directory and without a sync: it holds nothing worth keeping and
//! is removed with that directory. The drive then uses `cache=unsafe`, so the
//! guest's flushes of data that is thrown away cost nothing either.
//!
//! Only raw and qcow2 images (the formats a [`crate::Drive`] may have) get
//! one; QEMU opens the image as the overlay's backing file, read-only, as it
//! does with `snapshot=on`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

const CLUSTER_BITS: u32 = 16;
const CLUSTER: u64 = 1 << CLUSTER_BITS;
/// Guest bytes one L1 entry maps: an L2 table's 8-byte entries, one cluster each.
const L1_SPAN: u64 = (CLUSTER / 8) * CLUSTER;
/// QEMU's limits: a backing file name of at most 1023 bytes, an L1 table of
/// at most 32 MiB.
const MAX_BACKING_NAME: usize = 1023;
const MAX_L1_BYTES: u64 = 32 << 20;
const QCOW2_MAGIC: u32 = 0x5146_49fb;
/// Header extension: the backing file's format.
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const HEADER_LEN: usize = 104;

/// The virtual size of the image at `path` in `format` (raw: its length, a
/// block device's too; qcow2: the header's size field).
fn virtual_size(path: &Path, format: &str) -> io::Result<u64> {
    let mut f = File::open(path)?;
    match format {
        "raw" => f.seek(SeekFrom::End(0)),
        "qcow2" => {
            let mut h = [0u8; 32];
            f.read_exact(&mut h)?;
            if u32::from_be_bytes([h[0], h[1], h[2], h[3]]) != QCOW2_MAGIC {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not a qcow2 image",
                ));
            }
            let mut s = [0u8; 8];
            s.copy_from_slice(&h[24..32]);
            Ok(u64::from_be_bytes(s))
        }
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("no overlay for format {other}"),
        )),
    }
}

/// Writes an empty qcow2 overlay at `path` (created, not there before) whose
/// backing file is `backing` (made absolute) in `format`. An error leaves
/// the caller to use QEMU's `snapshot=on` instead.
pub fn create(path: &Path, backing: &Path, format: &str) -> io::Result<()> {
    let backing = std::path::absolute(backing)?;
    let name = backing.as_os_str().as_encoded_bytes();
    if name.is_empty() || name.len() > MAX_BACKING_NAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "backing file name too long for qcow2",
        ));
    }
    // QEMU sees a raw image's length rounded up to whole sectors.
    let size = virtual_size(&backing, format)?.next_multiple_of(512);
    let l1_entries = size.div_ceil(L1_SPAN);
    let l1_bytes = l1_entries * 8;
    if l1_bytes > MAX_L1_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "image too large for a qcow2 overlay",
        ));
    }
    let l1_clusters = l1_bytes.div_ceil(CLUSTER).max(1);
    // Clusters: 0 header, 1 refcount table, 2 refcount block, 3.. L1 table.
    let (rt_off, rb_off, l1_off) = (CLUSTER, 2 * CLUSTER, 3 * CLUSTER);
    let used = 3 + l1_clusters;
    // One refcount block (16-bit entries) counts 32,768 clusters: more than
    // the 515 an L1 table of the largest size takes.
    debug_assert!(used <= CLUSTER / 2);

    let mut header = vec![0u8; CLUSTER as usize];
    let put32 = |h: &mut [u8], at: usize, v: u32| h[at..at + 4].copy_from_slice(&v.to_be_bytes());
    let put64 = |h: &mut [u8], at: usize, v: u64| h[at..at + 8].copy_from_slice(&v.to_be_bytes());
    // Header extensions follow the header: the backing format, then the end.
    let mut at = HEADER_LEN;
    put32(&mut header, at, EXT_BACKING_FORMAT);
    put32(&mut header, at + 4, format.len() as u32);
    header[at + 8..at + 8 + format.len()].copy_from_slice(format.as_bytes());
    at += 8 + format.len().next_multiple_of(8);
    at += 8; // end of extensions: type 0, length 0
    let name_off = at;
    header[name_off..name_off + name.len()].copy_from_slice(name);

    put32(&mut header, 0, QCOW2_MAGIC);
    put32(&mut header, 4, 3); // version
    put64(&mut header, 8, name_off as u64); // backing_file_offset
    put32(&mut header, 16, name.len() as u32); // backing_file_size
    put32(&mut header, 20, CLUSTER_BITS);
    put64(&mut header, 24, size);
    put32(&mut header, 32, 0); // no encryption
    put32(&mut header, 36, l1_entries as u32); // l1_size
    put64(&mut header, 40, l1_off);
    put64(&mut header, 48, rt_off);
    put32(&mut header, 56, 1); // refcount_table_clusters
    // nb_snapshots, snapshots_offset, incompatible, compatible and autoclear
    // features: all zero.
    put32(&mut header, 96, 4); // refcount_order: 16-bit refcounts
    put32(&mut header, 100, HEADER_LEN as u32);

    let mut table = vec![0u8; CLUSTER as usize];
    put64(&mut table, 0, rb_off);
    let mut block = vec![0u8; CLUSTER as usize];
    for c in 0..used as usize {
        block[2 * c..2 * c + 2].copy_from_slice(&1u16.to_be_bytes());
    }

    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(&header)?;
    f.write_all(&table)?;
    f.write_all(&block)?;
    // The L1 table: zeros, left sparse.
    f.set_len(l1_off + l1_clusters * CLUSTER)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_other_than_raw_and_qcow2_get_none() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("a.img");
        std::fs::write(&img, vec![0u8; 4096]).unwrap();
        let e = create(&d.path().join("o.qcow2"), &img, "vmdk").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        // A raw file that claims to be qcow2 is refused, not misread.
        let e = create(&d.path().join("o.qcow2"), &img, "qcow2").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    fn run(cmd: &str, args: &[&str]) -> (bool, String) {
        let o = std::process::Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    }

    fn digest(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap()
    }

    /// QEMU's own tools are the oracle: the overlay passes `qemu-img check`,
    /// names its backing file and format, has the size QEMU gives the image,
    /// reads back as the image (`qemu-img compare`), and takes writes that
    /// never reach the image.
    #[test]
    fn qemu_reads_our_overlay_as_the_image() {
        if !run("sh", &["-c", "command -v qemu-img && command -v qemu-io"]).0 {
            gx_testdata::skip_or_fail!("overlay: qemu-img/qemu-io not installed (scripts/setup)");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        // A raw image of an odd length (QEMU rounds it up to 512), with
        // data at both ends, and the same as qcow2.
        let raw = d.path().join("disk,1.img");
        let mut data = vec![0u8; (3 << 20) + 777];
        for (i, b) in data.iter_mut().enumerate().step_by(4093) {
            *b = (i % 251) as u8 + 1;
        }
        *data.last_mut().unwrap() = 0x5a;
        std::fs::write(&raw, &data).unwrap();
        let qcow = d.path().join("disk.qcow2");
        let (ok, out) = run(
            "qemu-img",
            &[
                "convert",
                "-f",
                "raw",
                "-O",
                "qcow2",
                raw.to_str().unwrap(),
                qcow.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}");
        for (img, fmt) in [(&raw, "raw"), (&qcow, "qcow2")] {
            let o = d.path().join(format!("overlay-{fmt}.qcow2"));
            create(&o, img, fmt).unwrap();
            let (o_s, i_s) = (o.to_str().unwrap(), img.to_str().unwrap());
            let (ok, out) = run("qemu-img", &["check", "-f", "qcow2", o_s]);
            assert!(ok, "check {fmt}: {out}");
            let (ok, info) = run("qemu-img", &["info", "--output=json", "-f", "qcow2", o_s]);
            assert!(ok, "{info}");
            let (ok, base) = run("qemu-img", &["info", "--output=json", "-f", fmt, i_s]);
            assert!(ok, "{base}");
            let size = |j: &str| {
                let at = j.find("\"virtual-size\":").unwrap() + 15;
                j[at..]
                    .trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .to_string()
            };
            assert_eq!(size(&info), size(&base), "{info}");
            assert!(
                info.contains(&format!("\"backing-filename-format\": \"{fmt}\"")),
                "{info}"
            );
            assert!(info.contains(i_s), "{info}");
            let (same, out) = run("qemu-img", &["compare", "-f", "qcow2", "-F", fmt, o_s, i_s]);
            assert!(same, "compare {fmt}: {out}");
            // Writes go to the overlay only.
            let before = digest(img);
            let (ok, out) = run(
                "qemu-io",
                &[
                    "-f",
                    "qcow2",
                    "-c",
                    "write -P 0xab 65536 131072",
                    "-c",
                    "write -P 0xcd 0 512",
                    o_s,
                ],
            );
            assert!(ok, "write {fmt}: {out}");
            assert_eq!(digest(img), before, "{fmt}: the image changed");
            let (ok, out) = run("qemu-img", &["check", "-f", "qcow2", o_s]);
            assert!(ok, "check after writes {fmt}: {out}");
            let (same, _) = run("qemu-img", &["compare", "-f", "qcow2", "-F", fmt, o_s, i_s]);
            assert!(!same, "{fmt}: the writes did not land in the overlay");
        }
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("a.img");
        std::fs::write(&img, vec![0u8; 4096]).unwrap();
        let o = d.path().join("o.qcow2");
        std::fs::write(&o, b"mine").unwrap();
        assert!(create(&o, &img, "raw").is_err());
        assert_eq!(std::fs::read(&o).unwrap(), b"mine");
    }
}

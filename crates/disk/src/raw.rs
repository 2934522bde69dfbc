//! Raw image files (and host block devices) as [`BlockDevice`]s.
//!
//! A read-only open uses `O_RDONLY`, so no code path can write the image, and
//! all I/O is positional (`pread`/`pwrite`): the device keeps no cursor and
//! can serve several threads at once.

use crate::{BlockDevice, Error, ErrorKind, Result, check_range};
use nix::unistd::Whence;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A raw image file: byte `n` of the file is byte `n` of the disk.
pub struct RawDevice {
    file: File,
    // Fixed at open: another process growing or shrinking the file later must
    // not change what the parsers above believe the disk size is.
    size: u64,
    path: PathBuf,
    writable: bool,
}

impl RawDevice {
    /// Open `path` read-only (`O_RDONLY`).
    pub fn open_ro(path: &Path) -> Result<Self> {
        Self::open_with(path, false)
    }

    /// Open `path` for reading and writing (`O_RDWR`).
    pub fn open_rw(path: &Path) -> Result<Self> {
        Self::open_with(path, true)
    }

    /// Open `path`, `O_RDWR` when `writable`, else `O_RDONLY`.
    pub fn open_with(path: &Path, writable: bool) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| Error::io(format!("{}: cannot open image", path.display()), e))?;
        Self::from_file(file, path, writable)
    }

    /// Wrap an already opened file; `writable` must match how it was opened.
    pub fn from_file(mut file: File, path: &Path, writable: bool) -> Result<Self> {
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("{}: cannot stat image", path.display()), e))?;
        if meta.is_dir() {
            return Err(Error::invalid(format!(
                "{}: is a directory, not a disk image",
                path.display()
            )));
        }
        // Seeking to the end gives the size of regular files and of host block
        // devices alike (whose metadata length is 0).
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(format!("{}: cannot find the image size", path.display()), e))?;
        Ok(RawDevice {
            file,
            size,
            path: path.to_path_buf(),
            writable,
        })
    }

    /// The path the image was opened as.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BlockDevice for RawDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        self.file.read_exact_at(buf, offset).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                // The size was checked above, so the file shrank after it was opened.
                "the file is now shorter than when it was opened (truncated by another process?)"
                    .to_string()
            } else {
                e.to_string()
            };
            Error::new(
                ErrorKind::Io,
                format!(
                    "{}: read of {} bytes at offset {offset} failed: {why}",
                    self.path.display(),
                    buf.len()
                ),
            )
        })
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if !self.writable {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                format!("{}: image is opened read-only", self.path.display()),
            ));
        }
        check_range(self, offset, buf.len())?;
        self.file.write_all_at(buf, offset).map_err(|e| {
            Error::io(
                format!(
                    "{}: write of {} bytes at offset {offset} failed",
                    self.path.display(),
                    buf.len()
                ),
                e,
            )
        })
    }

    fn flush(&self) -> Result<()> {
        if !self.writable {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| Error::io(format!("{}: flush failed", self.path.display()), e))
    }

    fn is_read_only(&self) -> bool {
        !self.writable
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// From the file's holes (`SEEK_DATA`/`SEEK_HOLE`); a file system that
    /// cannot say, or a block device, reports everything as data.
    fn data_ranges(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>> {
        crate::check_range_u64(self.size, &self.describe(), offset, len)?;
        let end = offset + len;
        let mut out = Vec::new();
        let mut pos = offset;
        // Each turn moves `pos` forward past one data run (or ends), so the
        // loop is bounded by the number of runs in the range.
        while pos < end {
            let data = match seek(&self.file, pos, Whence::SeekData) {
                Ok(d) => d,
                // ENXIO: no data at or after pos.
                Err(nix::errno::Errno::ENXIO) => break,
                Err(_) => {
                    out.push((pos, end - pos));
                    break;
                }
            };
            if data >= end {
                break;
            }
            let hole = seek(&self.file, data, Whence::SeekHole)
                .unwrap_or(end)
                .clamp(data + 1, end);
            out.push((data, hole - data));
            pos = hole;
        }
        Ok(out)
    }
}

fn seek(file: &File, pos: u64, whence: Whence) -> nix::Result<u64> {
    let pos = i64::try_from(pos).map_err(|_| nix::errno::Errno::EOVERFLOW)?;
    let r = nix::unistd::lseek(file, pos, whence)?;
    u64::try_from(r).map_err(|_| nix::errno::Errno::EOVERFLOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.img");
        std::fs::write(&p, vec![7u8; 4096]).unwrap();

        let ro = RawDevice::open_ro(&p).unwrap();
        assert_eq!(ro.size(), 4096);
        assert!(ro.is_read_only());
        let mut b = [0u8; 16];
        ro.read_at(&mut b, 4080).unwrap();
        assert_eq!(b, [7u8; 16]);
        let e = ro.read_at(&mut b, 4090).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("d.img"), "{e}");
        assert!(e.to_string().contains("4090"), "{e}");
        let e = ro.write_at(&b, 0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ReadOnly);

        let rw = RawDevice::open_rw(&p).unwrap();
        rw.write_at(&[1, 2, 3], 100).unwrap();
        rw.flush().unwrap();
        let mut c = [0u8; 3];
        ro.read_at(&mut c, 100).unwrap();
        assert_eq!(c, [1, 2, 3]);
    }

    #[test]
    fn shrinking_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.img");
        std::fs::write(&p, vec![1u8; 8192]).unwrap();
        let ro = RawDevice::open_ro(&p).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(1000)
            .unwrap();
        let mut b = [0u8; 512];
        let e = ro.read_at(&mut b, 4096).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("shorter"), "{e}");
    }

    #[test]
    fn data_ranges_follow_holes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sparse.img");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(8 << 20).unwrap();
        f.write_all_at(&[1u8; 4096], 1 << 20).unwrap();
        f.write_all_at(&[2u8; 8192], 5 << 20).unwrap();
        f.sync_all().unwrap();
        let d = RawDevice::open_ro(&p).unwrap();
        let r = d.data_ranges(0, 8 << 20).unwrap();
        // The file system decides the granularity; every written byte is
        // covered and the holes around them are left out.
        assert!(!r.is_empty());
        let covers = |o: u64| r.iter().any(|&(s, l)| s <= o && o < s + l);
        assert!(covers(1 << 20) && covers((1 << 20) + 4095));
        assert!(covers(5 << 20) && covers((5 << 20) + 8191));
        assert!(!covers(3 << 20), "{r:?}");
        let inner = d.data_ranges((1 << 20) + 100, 10).unwrap();
        assert_eq!(inner, vec![((1 << 20) + 100, 10)]);
        assert!(d.data_ranges(0, (8 << 20) + 1).is_err());
        assert_eq!(d.data_ranges(7 << 20, 1 << 20).unwrap(), vec![]);
    }

    #[test]
    fn directory_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let e = RawDevice::open_ro(dir.path()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
}

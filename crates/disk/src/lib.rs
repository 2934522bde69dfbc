//! The lowest layer of guestx: disk images as random-access block devices.
//!
//! This crate owns:
//! - [`BlockDevice`], the one `read_at`-style trait every parser above reads through;
//! - opening images ([`open_image`]: [`raw`] files, [`qcow2`] via imago) with
//!   format detection only when the user named no format (CVE-2010-3851),
//!   read-only opens (`O_RDONLY`) that cannot write, and backing files opened
//!   only as the image names them, depth-limited and loop-free;
//! - a copy-on-write [`Overlay`] that makes a read-only image writable, the
//!   writes kept in a sparse temporary file up to a limit;
//! - [`Slice`], a window onto part of a device (a partition);
//! - [`cache`]: a bounded, shared block cache the direct engine reads through;
//! - [`partition`] tables (GPT with CRCs and backup header, MBR with logical
//!   partitions), parsed by our own code, and libguestfs device names;
//! - filesystem probing (type, label, UUID) from superblocks;
//! - [`lvm`]: LVM2 PV labels, VG metadata and logical volumes as devices;
//! - [`luks`]: LUKS1/LUKS2 headers, unlocking with a passphrase, and the
//!   decrypted payload as a device (keys zeroized, never logged).
//!
//! It must not: write to an image opened read-only, trust any number read from an
//! image without checking it, or panic on any input.
#![forbid(unsafe_code)]

pub mod bytes;
pub mod cache;
mod error;
mod io;
pub mod luks;
pub mod lvm;
pub mod open;
pub mod overlay;
pub mod partition;
pub mod probe;
pub mod qcow2;
pub mod raw;

pub use cache::CachedDevice;
pub use error::{Error, ErrorKind, Result, ResultExt};
pub use io::DeviceIo;
pub use open::{Format, OpenOptions, detect_format, open_image};
pub use overlay::Overlay;
pub use partition::{
    DiskId, Guid, Partition, PartitionKind, PartitionTable, TableKind, device_name,
    partition_device, partition_name, read_partitions,
};
pub use qcow2::Qcow2Device;
pub use raw::RawDevice;

use std::sync::Arc;

/// A random-access block device: a whole image, an overlay, or a partition.
///
/// Reads and writes are positional and exact: a read that would run past
/// [`BlockDevice::size`] is an error, never a short read. Implementations are
/// `Send + Sync` so one device can serve several threads.
pub trait BlockDevice: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;

    /// Fill `buf` from byte `offset`. Errors if `offset + buf.len()` exceeds the size.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;

    /// Write `buf` at byte `offset`. Devices opened read-only return
    /// [`ErrorKind::ReadOnly`] and never touch the image.
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let _ = (buf, offset);
        Err(Error::new(
            ErrorKind::ReadOnly,
            format!("{}: device is read-only", self.describe()),
        ))
    }

    /// Make written data durable.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// True when [`BlockDevice::write_at`] always fails.
    fn is_read_only(&self) -> bool {
        true
    }

    /// A short name for messages: the image path, or `image (partition 2)`.
    fn describe(&self) -> String;

    /// The parts of `[offset, offset + len)` that may hold data, as
    /// `(offset, len)` runs in order; everything else is known to read as
    /// zeros (a hole in a raw file, an unallocated or zero cluster of a
    /// qcow2). Lets copiers skip what they need not read. The default (and
    /// any device that cannot tell) says all of it may.
    fn data_ranges(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>> {
        check_range_u64(self.size(), &self.describe(), offset, len)?;
        Ok(if len == 0 {
            Vec::new()
        } else {
            vec![(offset, len)]
        })
    }
}

/// [`check_range`] for a `u64` length.
pub(crate) fn check_range_u64(size: u64, name: &str, offset: u64, len: u64) -> Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{name}: range of {len} bytes at offset {offset} is past the end of the device ({size} bytes)"
            ),
        )),
    }
}

/// A shared, dynamically typed block device.
pub type Device = Arc<dyn BlockDevice>;

/// Check that `[offset, offset+len)` lies inside a device of `size` bytes.
pub fn check_range(what: &dyn BlockDevice, offset: u64, len: usize) -> Result<()> {
    let size = what.size();
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{}: access of {len} bytes at offset {offset} is past the end of the device ({size} bytes)",
                what.describe()
            ),
        )),
    }
}

/// A window of `len` bytes starting at `start` on another device: a partition.
pub struct Slice {
    inner: Device,
    start: u64,
    len: u64,
    name: String,
}

impl Slice {
    /// A window onto `inner`; errors if it does not fit inside it.
    pub fn new(inner: Device, start: u64, len: u64, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        match start.checked_add(len) {
            Some(end) if end <= inner.size() => Ok(Slice {
                inner,
                start,
                len,
                name,
            }),
            _ => Err(Error::corrupt(format!(
                "{name}: extends past the end of {} (start {start}, length {len}, device size {})",
                inner.describe(),
                inner.size()
            ))),
        }
    }

    /// Byte offset of the window on the underlying device.
    pub fn start(&self) -> u64 {
        self.start
    }
}

impl BlockDevice for Slice {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        self.inner.read_at(buf, self.start + offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        self.inner.write_at(buf, self.start + offset)
    }

    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn data_ranges(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>> {
        check_range_u64(self.len, &self.name, offset, len)?;
        // start + offset + len <= start + self.len, which fits (checked in new).
        Ok(self
            .inner
            .data_ranges(self.start + offset, len)?
            .into_iter()
            .map(|(o, l)| (o - self.start, l))
            .collect())
    }
}

/// A device held in memory; for tests and fuzzing.
pub struct MemDevice {
    data: std::sync::RwLock<Vec<u8>>,
    writable: bool,
    name: String,
}

impl MemDevice {
    /// A device over `data`; writable when `writable` is true.
    pub fn new(data: Vec<u8>, writable: bool, name: impl Into<String>) -> Self {
        MemDevice {
            data: std::sync::RwLock::new(data),
            writable,
            name: name.into(),
        }
    }
}

impl BlockDevice for MemDevice {
    fn size(&self) -> u64 {
        self.data.read().map(|d| d.len() as u64).unwrap_or(0)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let data = self
            .data
            .read()
            .map_err(|_| Error::new(ErrorKind::Io, "memory device lock poisoned"))?;
        let start = offset as usize;
        buf.copy_from_slice(&data[start..start + buf.len()]);
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if !self.writable {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                format!("{}: device is read-only", self.name),
            ));
        }
        check_range(self, offset, buf.len())?;
        let mut data = self
            .data
            .write()
            .map_err(|_| Error::new(ErrorKind::Io, "memory device lock poisoned"))?;
        let start = offset as usize;
        data[start..start + buf.len()].copy_from_slice(buf);
        Ok(())
    }

    fn is_read_only(&self) -> bool {
        !self.writable
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A read-only device of any size holding `data` at offset 0 and zeros
/// after it, or `data` over and over (`repeat`): what a small qcow2 of
/// enormous virtual size (or one whose clusters share storage) presents.
/// For tests and fuzzing, where a parser must treat a claimed size against
/// such a device as carefully as against a real one.
#[derive(Debug)]
pub struct SparseDevice {
    data: Vec<u8>,
    size: u64,
    repeat: bool,
    name: String,
}

impl SparseDevice {
    /// A device of `size` bytes; `data` at 0 (repeated when `repeat` and
    /// `data` is not empty), zeros elsewhere.
    pub fn new(data: Vec<u8>, size: u64, repeat: bool, name: impl Into<String>) -> Self {
        SparseDevice {
            repeat: repeat && !data.is_empty(),
            data,
            size,
            name: name.into(),
        }
    }
}

impl BlockDevice for SparseDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let len = self.data.len() as u64;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let within = if self.repeat { pos % len } else { pos };
            let rest = buf.len() - done;
            if within >= len {
                buf[done..].fill(0);
                break;
            }
            let n = ((len - within) as usize).min(rest);
            buf[done..done + n].copy_from_slice(&self.data[within as usize..within as usize + n]);
            done += n;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod sparse_tests {
    use super::*;

    #[test]
    fn sparse_device_reads_data_then_zeros_or_repeats() {
        let d = SparseDevice::new(vec![1, 2, 3], 1 << 40, false, "s");
        let mut b = [9u8; 5];
        d.read_at(&mut b, 1).unwrap();
        assert_eq!(b, [2, 3, 0, 0, 0]);
        d.read_at(&mut b, (1 << 40) - 5).unwrap();
        assert_eq!(b, [0; 5]);
        assert!(d.read_at(&mut b, (1 << 40) - 4).is_err());
        let r = SparseDevice::new(vec![1, 2, 3], 1 << 40, true, "r");
        r.read_at(&mut b, 3 * 1000 + 2).unwrap();
        assert_eq!(b, [3, 1, 2, 3, 1]);
    }
}

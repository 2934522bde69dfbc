//! `std::io` adapters over a [`BlockDevice`], for crates that want `Read + Seek`
//! (ntfs) or `Read + Write + Seek` (fatfs, which needs `Write` even to read).

use crate::{Device, ErrorKind};
use std::io::{self, Read, Seek, SeekFrom, Write};

/// A cursor over a device. Writes go to the device, so a read-only device
/// refuses them with an I/O error and nothing reaches the image.
pub struct DeviceIo {
    dev: Device,
    pos: u64,
    allow_write: bool,
}

impl DeviceIo {
    /// A cursor at offset 0. With `allow_write` false every write fails,
    /// whatever the device would accept.
    pub fn new(dev: Device, allow_write: bool) -> Self {
        DeviceIo {
            dev,
            pos: 0,
            allow_write,
        }
    }

    /// The device under the cursor.
    pub fn device(&self) -> &Device {
        &self.dev
    }
}

fn to_io(e: crate::Error) -> io::Error {
    let kind = match e.kind() {
        ErrorKind::NotFound => io::ErrorKind::NotFound,
        ErrorKind::Permission => io::ErrorKind::PermissionDenied,
        ErrorKind::ReadOnly => io::ErrorKind::ReadOnlyFilesystem,
        ErrorKind::InvalidArgument => io::ErrorKind::InvalidInput,
        ErrorKind::Corrupt => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl Read for DeviceIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.dev.size();
        if self.pos >= size {
            return Ok(0);
        }
        let n = (size - self.pos).min(buf.len() as u64) as usize;
        self.dev.read_at(&mut buf[..n], self.pos).map_err(to_io)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for DeviceIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.allow_write {
            return Err(io::Error::new(
                io::ErrorKind::ReadOnlyFilesystem,
                format!("{}: opened read-only", self.dev.describe()),
            ));
        }
        self.dev.write_at(buf, self.pos).map_err(to_io)?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.allow_write {
            self.dev.flush().map_err(to_io)
        } else {
            Ok(())
        }
    }
}

impl Seek for DeviceIo {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let size = self.dev.size();
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing offset",
            )),
        }
    }
}

impl std::fmt::Debug for DeviceIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceIo({} @ {})", self.dev.describe(), self.pos)
    }
}

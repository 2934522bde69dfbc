//! Opening an image file as a [`Device`]: format choice and detection.
//!
//! The format is probed from the file's contents only when the caller did not
//! name one. When the caller says raw, the contents are never looked at: a
//! guest can write a qcow2 header into its own raw disk naming any host file
//! as "backing file", and probing would then read that host file
//! (libguestfs CVE-2010-3851).

use crate::qcow2::{QCOW2_MAGIC, Qcow2Device};
use crate::raw::RawDevice;
use crate::{Device, Error, Result};
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Image formats this crate opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Bytes of the file are bytes of the disk.
    Raw,
    /// QEMU copy-on-write v2/v3, optionally with a backing chain.
    Qcow2,
}

impl Format {
    /// The name as `--format` and `qemu-img` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "raw" => Ok(Format::Raw),
            "qcow2" => Ok(Format::Qcow2),
            other => Err(Error::unsupported(format!(
                "image format \"{other}\" is not supported (use raw or qcow2)"
            ))),
        }
    }
}

/// How to open an image. [`OpenOptions::new`] is read-only with detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// The format the user named; `None` means detect it from the contents.
    pub format: Option<Format>,
    /// Open `O_RDONLY`; nothing can then write the image or its backing files.
    pub readonly: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Read-only, format detected.
    pub fn new() -> Self {
        OpenOptions {
            format: None,
            readonly: true,
        }
    }

    /// Set (or clear, with `None`) the format.
    pub fn format(mut self, format: Option<Format>) -> Self {
        self.format = format;
        self
    }

    /// Set read-only (`true`) or read-write.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }
}

/// Formats we recognise but do not open; reading them as raw would be wrong.
const OTHER_MAGICS: &[(&[u8], &str)] = &[
    (b"KDMV", "vmdk"),
    (b"# Disk DescriptorFile", "vmdk (descriptor)"),
    (b"QED\0", "qed"),
    (b"vhdxfile", "vhdx"),
    (b"conectix", "vpc (vhd)"),
    (b"<<< Oracle VM VirtualBox Disk Image >>>", "vdi"),
];

/// Detect the format of the image at `path` from its first bytes.
///
/// qcow2 is recognised by its magic; a few other formats we cannot open give
/// an `Unsupported` error; everything else (including an empty file) is raw.
pub fn detect_format(path: &Path) -> Result<Format> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("{}: cannot open image", path.display()), e))?;
    let mut head = [0u8; 64];
    let mut n = 0;
    // Bounded: each read either fills more of `head` or returns 0 (EOF).
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::io(
                    format!("{}: cannot read image header", path.display()),
                    e,
                ));
            }
        }
    }
    let head = &head[..n];
    if head.starts_with(&QCOW2_MAGIC) {
        return Ok(Format::Qcow2);
    }
    for (magic, name) in OTHER_MAGICS {
        if head.starts_with(magic) {
            return Err(Error::unsupported(format!(
                "{}: looks like a {name} image, which is not supported; \
                 convert it with `qemu-img convert -O qcow2`, or pass --format raw \
                 to read its bytes as they are",
                path.display()
            )));
        }
    }
    Ok(Format::Raw)
}

/// Open an image as a device, detecting the format only if `opts.format` is `None`.
pub fn open_image(path: &Path, opts: &OpenOptions) -> Result<Device> {
    let format = match opts.format {
        Some(f) => f,
        None => detect_format(path)?,
    };
    let writable = !opts.readonly;
    Ok(match format {
        Format::Raw => Arc::new(RawDevice::open_with(path, writable)?),
        Format::Qcow2 => Arc::new(Qcow2Device::open(path, writable)?),
    })
}

//! qcow2 images through imago, with the checks a hostile image needs.
//!
//! imago does the qcow2 work (L1/L2 lookup, zlib clusters, backing chains).
//! Around it this module adds:
//! - a header check of our own before imago sees a file, so that encrypted,
//!   zstd, extended-L2, external-data-file and dirty images give a clear
//!   `Unsupported` error and a truncated file a clear `Corrupt` one (imago reads
//!   past the end of a file as zeros, which would hide truncation);
//! - an open gate ([`ChainGate`]) through which every backing file is opened:
//!   read-only (`O_RDONLY`), only as the image names it (relative names resolve
//!   against the naming image's directory), at most [`MAX_BACKING_DEPTH`] deep
//!   and never the same file twice (loops);
//! - reads that refuse data clusters mapped past the end of their file.

use crate::bytes::{be32, be64};
use crate::raw::RawDevice;
use crate::{BlockDevice, Error, ErrorKind, Result, check_range};
use imago::format::Format as ImagoFormat;
use imago::{FormatAccess, FormatDriverBuilder, Mapping, Storage, StorageExt, StorageOpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

type ImagoFile = imago::file::File;

/// The most backing files one chain may have (below the top image).
pub const MAX_BACKING_DEPTH: usize = 16;

/// QEMU's own limit on the L1 table (`QCOW_MAX_L1_SIZE`), so a hostile header
/// cannot make us read gigabytes.
const MAX_L1_BYTES: u64 = 32 * 1024 * 1024;
/// QEMU's limit on the refcount table (`QCOW_MAX_REFTABLE_SIZE`).
const MAX_REFTABLE_BYTES: u64 = 8 * 1024 * 1024;

/// The qcow2 magic, `QFI\xfb`.
pub const QCOW2_MAGIC: [u8; 4] = *b"QFI\xfb";

// Bits of the v3 incompatible_features field, as the qcow2 spec names them.
const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;

/// L2 table offsets in L1 entries: bits 9-55.
const L1E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;

/// What the header check learned; also useful for `qemu-img info`-style output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qcow2Header {
    /// 2 or 3.
    pub version: u32,
    /// Virtual disk size in bytes.
    pub size: u64,
    /// Cluster size in bytes.
    pub cluster_size: u64,
    /// The backing file name exactly as the header stores it.
    pub backing_file: Option<String>,
}

/// Check a qcow2 header and its L1 table against the file holding them.
///
/// Everything is checked against the file's size, so a truncated image is
/// reported here rather than read as zeros later.
pub fn check_header(dev: &dyn BlockDevice) -> Result<Qcow2Header> {
    let name = dev.describe();
    let file_len = dev.size();
    let corrupt = |what: String| Error::corrupt(format!("{name}: qcow2 {what}"));
    if file_len < 72 {
        return Err(corrupt(format!(
            "header is truncated: the file is only {file_len} bytes"
        )));
    }
    let mut h = [0u8; 112];
    let hlen = file_len.min(h.len() as u64) as usize;
    dev.read_at(&mut h[..hlen], 0)?;
    if h[0..4] != QCOW2_MAGIC {
        return Err(corrupt("magic is missing".into()));
    }
    let version = be32(&h, 4)?;
    if version != 2 && version != 3 {
        return Err(Error::unsupported(format!(
            "{name}: qcow2 version {version} is not supported (only 2 and 3)"
        )));
    }
    let backing_file_offset = be64(&h, 8)?;
    let backing_file_size = be32(&h, 16)?;
    let cluster_bits = be32(&h, 20)?;
    let size = be64(&h, 24)?;
    let crypt_method = be32(&h, 32)?;
    let l1_size = be32(&h, 36)?;
    let l1_table_offset = be64(&h, 40)?;
    let refcount_table_offset = be64(&h, 48)?;
    let refcount_table_clusters = be32(&h, 56)?;

    if !(9..=21).contains(&cluster_bits) {
        return Err(corrupt(format!(
            "header has an invalid cluster_bits {cluster_bits} (must be 9 to 21)"
        )));
    }
    let cluster_size = 1u64 << cluster_bits;
    if crypt_method != 0 {
        return Err(Error::unsupported(format!(
            "{name}: encrypted qcow2 images (crypt_method {crypt_method}) are not supported"
        )));
    }

    if version == 3 {
        if file_len < 104 {
            return Err(corrupt(format!(
                "version 3 header is truncated: the file is only {file_len} bytes"
            )));
        }
        let incompat = be64(&h, 72)?;
        let header_length = be32(&h, 100)?;
        if incompat & INCOMPAT_DATA_FILE != 0 {
            return Err(Error::unsupported(format!(
                "{name}: qcow2 images with an external data file are not supported"
            )));
        }
        if incompat & INCOMPAT_COMPRESSION != 0 {
            let ctype = if header_length > 104 && hlen > 104 {
                h[104]
            } else {
                0
            };
            let what = match ctype {
                1 => "zstd".to_string(),
                t => format!("type {t}"),
            };
            return Err(Error::unsupported(format!(
                "{name}: qcow2 compression {what} is not supported (only zlib)"
            )));
        }
        if incompat & INCOMPAT_EXTL2 != 0 {
            return Err(Error::unsupported(format!(
                "{name}: qcow2 extended L2 entries (subclusters) are not supported"
            )));
        }
        if incompat & INCOMPAT_CORRUPT != 0 {
            return Err(corrupt(
                "image is marked corrupt by QEMU; check it with `qemu-img check`".into(),
            ));
        }
        if incompat & INCOMPAT_DIRTY != 0 {
            return Err(Error::unsupported(format!(
                "{name}: qcow2 image is marked dirty (not closed cleanly); \
                 repair it with `qemu-img check -r all` first"
            )));
        }
        let known = INCOMPAT_DIRTY
            | INCOMPAT_CORRUPT
            | INCOMPAT_DATA_FILE
            | INCOMPAT_COMPRESSION
            | INCOMPAT_EXTL2;
        if incompat & !known != 0 {
            return Err(Error::unsupported(format!(
                "{name}: qcow2 image uses unknown incompatible features 0x{:x}",
                incompat & !known
            )));
        }
    }

    // The L1 table must cover the virtual size and lie inside the file.
    let l2_entries = cluster_size / 8;
    let bytes_per_l1e = cluster_size
        .checked_mul(l2_entries)
        .ok_or_else(|| corrupt("cluster size overflows".into()))?;
    let needed = size.div_ceil(bytes_per_l1e);
    if u64::from(l1_size) < needed {
        return Err(corrupt(format!(
            "L1 table has {l1_size} entries but a {size}-byte disk needs {needed}"
        )));
    }
    let l1_bytes = u64::from(l1_size) * 8;
    if l1_bytes > MAX_L1_BYTES {
        return Err(corrupt(format!(
            "L1 table of {l1_size} entries is larger than the {MAX_L1_BYTES}-byte limit"
        )));
    }
    if l1_bytes > 0 {
        if l1_table_offset % cluster_size != 0 {
            return Err(corrupt(format!(
                "L1 table offset {l1_table_offset} is not cluster aligned"
            )));
        }
        let end = l1_table_offset.checked_add(l1_bytes);
        if end.is_none_or(|e| e > file_len) {
            return Err(corrupt(format!(
                "L1 table at offset {l1_table_offset} ({l1_bytes} bytes) lies past the end \
                 of the file ({file_len} bytes): the image is truncated"
            )));
        }
    }
    let rt_bytes = u64::from(refcount_table_clusters)
        .checked_mul(cluster_size)
        .ok_or_else(|| corrupt("refcount table size overflows".into()))?;
    if rt_bytes > MAX_REFTABLE_BYTES {
        return Err(corrupt(format!(
            "refcount table of {refcount_table_clusters} clusters (refcount_table_clusters) is \
             larger than the {MAX_REFTABLE_BYTES}-byte limit"
        )));
    }
    let rt_end = refcount_table_offset.checked_add(rt_bytes);
    if rt_end.is_none_or(|e| e > file_len) {
        return Err(corrupt(format!(
            "refcount table at offset {refcount_table_offset} ({rt_bytes} bytes) lies past \
             the end of the file ({file_len} bytes): the image is truncated"
        )));
    }

    // Every L2 table the L1 table names must exist in the file: imago would
    // read a missing one as zeros, i.e. silently as unallocated clusters.
    // Read a piece at a time: imago holds its own copy of the table.
    let mut l1 = vec![0u8; l1_bytes.min(1 << 20) as usize];
    let mut done = 0u64;
    while done < l1_bytes {
        let n = (l1_bytes - done).min(l1.len() as u64) as usize;
        dev.read_at(&mut l1[..n], l1_table_offset + done)?;
        let first = (done / 8) as usize;
        done += n as u64;
        for (i, e) in l1[..n].chunks_exact(8).enumerate() {
            let i = first + i;
            let l2 = be64(e, 0)? & L1E_OFFSET_MASK;
            if l2 == 0 {
                continue;
            }
            if l2 % cluster_size != 0 {
                return Err(corrupt(format!(
                    "L1 entry {i}: L2 table offset {l2} is not cluster aligned"
                )));
            }
            if l2.checked_add(cluster_size).is_none_or(|e| e > file_len) {
                return Err(corrupt(format!(
                    "L1 entry {i}: L2 table at offset {l2} lies past the end of the file \
                     ({file_len} bytes): the image is truncated"
                )));
            }
        }
    }

    let backing_file = if backing_file_offset != 0 && backing_file_size != 0 {
        if backing_file_size > 1023 {
            return Err(corrupt(format!(
                "backing file name is {backing_file_size} bytes long (the limit is 1023)"
            )));
        }
        let end = backing_file_offset.checked_add(u64::from(backing_file_size));
        if end.is_none_or(|e| e > file_len || e > cluster_size) {
            return Err(corrupt(format!(
                "backing file name at offset {backing_file_offset} lies outside the header cluster"
            )));
        }
        let mut b = vec![0u8; backing_file_size as usize];
        dev.read_at(&mut b, backing_file_offset)?;
        Some(String::from_utf8(b).map_err(|_| corrupt("backing file name is not UTF-8".into()))?)
    } else {
        None
    };

    Ok(Qcow2Header {
        version,
        size,
        cluster_size,
        backing_file,
    })
}

fn to_error(context: impl std::fmt::Display, e: io::Error) -> Error {
    let kind = match e.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::Permission,
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => ErrorKind::Corrupt,
        io::ErrorKind::Unsupported => ErrorKind::Unsupported,
        io::ErrorKind::ReadOnlyFilesystem => ErrorKind::ReadOnly,
        _ => ErrorKind::Io,
    };
    Error::new(kind, format!("{context}: {e}"))
}

fn io_err(e: Error) -> io::Error {
    let kind = match e.kind() {
        ErrorKind::NotFound => io::ErrorKind::NotFound,
        ErrorKind::Permission => io::ErrorKind::PermissionDenied,
        ErrorKind::Corrupt => io::ErrorKind::InvalidData,
        ErrorKind::Unsupported => io::ErrorKind::Unsupported,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

/// The open gate for backing files: read-only, depth-limited, loop-free.
struct ChainGate {
    /// (st_dev, st_ino) of every image opened so far, top first.
    chain: Vec<(u64, u64)>,
    /// The file most recently opened as storage, checked as qcow2 if imago
    /// then opens it as qcow2 (we only learn the format in `open_format`).
    pending: Option<(PathBuf, std::fs::File)>,
}

impl ChainGate {
    fn child(&self) -> ChainGate {
        ChainGate {
            chain: self.chain.clone(),
            pending: None,
        }
    }
}

impl imago::format::gate::ImplicitOpenGate<ImagoFile> for ChainGate {
    fn open_format<F: FormatDriverBuilder<ImagoFile>>(
        &mut self,
        builder: F,
    ) -> io::Result<FormatAccess<ImagoFile>> {
        if builder.get_writable() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "refusing to open a backing image writable",
            ));
        }
        match F::FORMAT {
            ImagoFormat::Qcow2 => {
                if let Some((path, file)) = self.pending.take() {
                    let dev = RawDevice::from_file(file, &path, false).map_err(io_err)?;
                    check_header(&dev).map_err(io_err)?;
                }
            }
            ImagoFormat::Raw => {}
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("backing images in format {other:?} are not supported"),
                ));
            }
        }
        let inner = builder.open(self.child())?;
        Ok(FormatAccess::new(inner))
    }

    fn open_storage(&mut self, opts: StorageOpenOptions) -> io::Result<ImagoFile> {
        if opts.get_writable() {
            // Only an external data file is opened writable, and check_header
            // already refused those; never let anything else through.
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "refusing to open a file writable on an image's behalf",
            ));
        }
        let Some(path) = opts.get_filename().map(Path::to_path_buf) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "backing file has no name",
            ));
        };
        if self.chain.len() > MAX_BACKING_DEPTH {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("backing chain is longer than {MAX_BACKING_DEPTH} files"),
            ));
        }
        // Only regular files and block devices: a FIFO or a terminal named by a
        // hostile image would block the open or the reads. O_NONBLOCK covers a
        // file swapped for a FIFO between the stat and the open.
        let kind = std::fs::metadata(&path)?.file_type();
        if !(kind.is_file() || kind.is_block_device()) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} is not a regular file or block device", path.display()),
            ));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)?;
        let meta = file.metadata()?;
        if !(meta.is_file() || meta.file_type().is_block_device()) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} is not a regular file or block device", path.display()),
            ));
        }
        let id = (meta.dev(), meta.ino());
        if self.chain.contains(&id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "backing chain loops: {} is already in the chain",
                    path.display()
                ),
            ));
        }
        self.chain.push(id);
        self.pending = Some((path.clone(), file.try_clone()?));
        ImagoFile::from_open_file(file, StorageOpenOptions::new().filename(path).write(false))
    }
}

/// A qcow2 image (with its backing chain) as a block device.
pub struct Qcow2Device {
    access: FormatAccess<ImagoFile>,
    size: u64,
    name: String,
    writable: bool,
    header: Qcow2Header,
}

impl Qcow2Device {
    /// Open the qcow2 image at `path`; `writable` opens it (only it, never a
    /// backing file) `O_RDWR`, otherwise everything is `O_RDONLY`.
    pub fn open(path: &Path, writable: bool) -> Result<Self> {
        let name = path.display().to_string();
        // An absolute path, so relative backing names resolve against the
        // image's directory whatever the process's current directory is.
        let abs = std::path::absolute(path)
            .map_err(|e| Error::io(format!("{name}: cannot resolve path"), e))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&abs)
            .map_err(|e| Error::io(format!("{name}: cannot open image"), e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("{name}: cannot stat image"), e))?;
        let check_dev = RawDevice::from_file(
            file.try_clone()
                .map_err(|e| Error::io(format!("{name}: cannot open image"), e))?,
            path,
            false,
        )?;
        let header = check_header(&check_dev)?;

        let storage = ImagoFile::from_open_file(
            file,
            StorageOpenOptions::new().filename(&abs).write(writable),
        )
        .map_err(|e| to_error(&name, e))?;
        let gate = ChainGate {
            chain: vec![(meta.dev(), meta.ino())],
            pending: None,
        };
        let qcow2 = imago::qcow2::Qcow2::<ImagoFile>::builder(storage)
            .write(writable)
            .open(gate)
            .map_err(|e| to_error(&name, e))?;
        let access = FormatAccess::new(qcow2);
        let size = access.size();
        Ok(Qcow2Device {
            access,
            size,
            name,
            writable,
            header,
        })
    }

    /// The top image's header, as checked at open.
    pub fn header(&self) -> &Qcow2Header {
        &self.header
    }

    fn read_chunk_raw(
        &self,
        storage: &ImagoFile,
        host: u64,
        buf: &mut [u8],
        guest: u64,
    ) -> Result<()> {
        let file_len = storage.size().unwrap_or(0);
        if host
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > file_len)
        {
            let file = storage
                .get_filename()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| self.name.clone());
            return Err(Error::corrupt(format!(
                "{}: qcow2 data for disk offset {guest} ({} bytes) maps to offset {host} of \
                 {file}, past its end ({file_len} bytes): the image is truncated",
                self.name,
                buf.len()
            )));
        }
        let len = buf.len();
        storage.read(buf, host).map_err(|e| {
            to_error(
                format_args!("{}: read of {len} bytes at disk offset {guest}", self.name),
                e,
            )
        })
    }
}

impl BlockDevice for Qcow2Device {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let mut done = 0usize;
        // Each turn consumes at least one byte or ends, so this is bounded by buf.len().
        while done < buf.len() {
            let guest = offset + done as u64;
            let want = (buf.len() - done) as u64;
            let (mapping, len) = self.access.get_mapping(guest, want).map_err(|e| {
                to_error(
                    format_args!("{}: qcow2 mapping lookup at disk offset {guest}", self.name),
                    e,
                )
            })?;
            let len = len.min(want) as usize;
            let chunk = &mut buf[done..done + len];
            match mapping {
                Mapping::Raw {
                    storage,
                    offset: host,
                    ..
                } => self.read_chunk_raw(storage, host, chunk, guest)?,
                Mapping::Zero { .. } => chunk.fill(0),
                Mapping::Eof { .. } => {
                    buf[done..].fill(0);
                    return Ok(());
                }
                _ => {
                    // Compressed clusters: let imago decode them.
                    self.access.read(&mut *chunk, guest).map_err(|e| {
                        to_error(
                            format_args!(
                                "{}: read of {len} bytes at disk offset {guest}",
                                self.name
                            ),
                            e,
                        )
                    })?;
                }
            }
            if len == 0 {
                return Err(Error::corrupt(format!(
                    "{}: qcow2 mapping at disk offset {guest} is empty",
                    self.name
                )));
            }
            done += len;
        }
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if !self.writable {
            return Err(Error::new(
                ErrorKind::ReadOnly,
                format!("{}: image is opened read-only", self.name),
            ));
        }
        check_range(self, offset, buf.len())?;
        self.access.write(buf, offset).map_err(|e| {
            to_error(
                format_args!(
                    "{}: write of {} bytes at disk offset {offset}",
                    self.name,
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
        self.access
            .flush()
            .map_err(|e| to_error(format_args!("{}: flush", self.name), e))
    }

    fn is_read_only(&self) -> bool {
        !self.writable
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Unallocated (down the whole backing chain) and zero clusters are
    /// left out; everything else, compressed clusters included, may hold data.
    fn data_ranges(&self, offset: u64, len: u64) -> Result<Vec<(u64, u64)>> {
        crate::check_range_u64(self.size, &self.name, offset, len)?;
        let end = offset + len;
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut pos = offset;
        // Each turn consumes at least one byte or ends.
        while pos < end {
            let (mapping, n) = self.access.get_mapping(pos, end - pos).map_err(|e| {
                to_error(
                    format_args!("{}: qcow2 mapping lookup at disk offset {pos}", self.name),
                    e,
                )
            })?;
            let n = n.min(end - pos);
            if n == 0 {
                return Err(Error::corrupt(format!(
                    "{}: qcow2 mapping at disk offset {pos} is empty",
                    self.name
                )));
            }
            match mapping {
                Mapping::Zero { .. } => {}
                Mapping::Eof { .. } => break,
                _ => match out.last_mut() {
                    Some((o, l)) if *o + *l == pos => *l += n,
                    _ => out.push((pos, n)),
                },
            }
            pos += n;
        }
        Ok(out)
    }
}

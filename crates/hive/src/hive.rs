//! The regf parser: base block, hive bin walk, cells, keys, values, lists.
//!
//! Offsets stored in the hive are relative to the start of the hive bins
//! data, which begins right after the 4 KiB base block; [`Node::offset`] and
//! friends report those relative offsets, as hivex-style tools print them.

use std::collections::HashSet;
use std::io::Read;

use crate::error::{Error, ErrorKind, Result};

/// Size of the base block; cell offsets are relative to its end.
const BASE_BLOCK_SIZE: usize = 0x1000;
/// Size of a hive bin header ("hbin", offset, size, ...).
const HBIN_HEADER_SIZE: usize = 0x20;
/// A hive smaller than base block + one hive bin cannot hold a root key.
const MIN_HIVE_SIZE: usize = 0x2000;

/// Fixed part of an nk record's payload (after the 4-byte cell size); the
/// key name follows it.
const NK_FIXED: usize = 0x4C;
/// Fixed part of a vk record's payload; the value name follows it.
const VK_FIXED: usize = 0x14;

/// nk flag: the key name is stored in an 8-bit (Latin-1) code page.
const KEY_COMP_NAME: u16 = 0x0020;
/// vk flag: the value name is stored in an 8-bit (Latin-1) code page.
const VALUE_COMP_NAME: u16 = 0x0001;
/// High bit of a vk data size: the data sits in the data offset field.
const DATA_INLINE: u32 = 0x8000_0000;

/// Offset value meaning "no cell" (class name, security, lists).
const NO_CELL: u32 = 0xFFFF_FFFF;

/// Limits on counts read from the hive, so that one corrupt number cannot
/// make us allocate or loop without bound. They match hivex's limits.
const MAX_SUBKEYS: u32 = 70_000;
const MAX_VALUES: u32 = 110_000;
/// ri lists hold li/lh/lf lists; real hives nest them one level. hivex
/// bounds the nesting at 32 (CVE-2021-3622 was unbounded recursion here).
const MAX_RI_DEPTH: u32 = 32;
/// Windows allows at most 512 levels of keys.
pub const MAX_KEY_DEPTH: usize = 512;

/// Registry value type numbers. Types are kept as raw `u32`s everywhere
/// because hives contain arbitrary numbers; these are the ones Windows names.
pub mod types {
    pub const REG_NONE: u32 = 0;
    pub const REG_SZ: u32 = 1;
    pub const REG_EXPAND_SZ: u32 = 2;
    pub const REG_BINARY: u32 = 3;
    pub const REG_DWORD: u32 = 4;
    pub const REG_DWORD_BIG_ENDIAN: u32 = 5;
    pub const REG_LINK: u32 = 6;
    pub const REG_MULTI_SZ: u32 = 7;
    pub const REG_RESOURCE_LIST: u32 = 8;
    pub const REG_FULL_RESOURCE_DESCRIPTOR: u32 = 9;
    pub const REG_RESOURCE_REQUIREMENTS_LIST: u32 = 10;
    pub const REG_QWORD: u32 = 11;

    /// The Windows name of a value type, if it has one.
    pub fn name(t: u32) -> Option<&'static str> {
        Some(match t {
            REG_NONE => "REG_NONE",
            REG_SZ => "REG_SZ",
            REG_EXPAND_SZ => "REG_EXPAND_SZ",
            REG_BINARY => "REG_BINARY",
            REG_DWORD => "REG_DWORD",
            REG_DWORD_BIG_ENDIAN => "REG_DWORD_BIG_ENDIAN",
            REG_LINK => "REG_LINK",
            REG_MULTI_SZ => "REG_MULTI_SZ",
            REG_RESOURCE_LIST => "REG_RESOURCE_LIST",
            REG_FULL_RESOURCE_DESCRIPTOR => "REG_FULL_RESOURCE_DESCRIPTOR",
            REG_RESOURCE_REQUIREMENTS_LIST => "REG_RESOURCE_REQUIREMENTS_LIST",
            REG_QWORD => "REG_QWORD",
            _ => return None,
        })
    }
}

// The workspace's one set of byte readers (gx_disk::bytes); a field past the
// end of the hive is `None` here, and each caller says what that means.
fn u16_at(buf: &[u8], off: usize) -> Option<u16> {
    gx_disk::bytes::le16(buf, off).ok()
}

fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    gx_disk::bytes::le32(buf, off).ok()
}

fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    gx_disk::bytes::le64(buf, off).ok()
}

/// Names stored with the "compressed" flag are one byte per character in an
/// 8-bit code page; hivex reads them as Latin-1, and so do we.
fn decode_latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// UTF-16LE name decoding; names are shown, never rejected, so bad
/// surrogates and an odd trailing byte become U+FFFD.
fn decode_utf16le_lossy(b: &[u8]) -> String {
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    let mut s: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if b.len() % 2 == 1 {
        s.push(char::REPLACEMENT_CHARACTER);
    }
    s
}

/// Strict UTF-16LE decoding for value data (hivex fails on these too).
fn decode_utf16le_strict(b: &[u8], what: impl Fn() -> String) -> Result<String> {
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<std::result::Result<String, _>>()
        .map_err(|e| {
            Error::new(
                ErrorKind::WrongType,
                format!("{}: not valid UTF-16LE ({e})", what()),
            )
        })
}

/// Length in bytes of the UTF-16LE string at the start of `b`, up to (not
/// including) the first aligned 00 00, always even.
pub(crate) fn utf16_len_to_nul(b: &[u8]) -> usize {
    let mut n = 0;
    while n + 2 <= b.len() && (b[n] != 0 || b[n + 1] != 0) {
        n += 2;
    }
    n
}

/// Names compare as C strings in hivex (a name with an embedded NUL matches
/// its part before the NUL), case-insensitively; we fold case per
/// character like Windows' upcase table, which covers hivex's ASCII folding.
pub(crate) fn name_matches(stored: &str, wanted: &str) -> bool {
    fn c_part(s: &str) -> &str {
        s.split('\0').next().unwrap_or("")
    }
    let (a, b) = (c_part(stored), c_part(wanted));
    let mut ai = a.chars();
    let mut bi = b.chars();
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if x != y && upcase(x) != upcase(y) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn upcase(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// The base block's fields, as read (the header of the hive file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseBlock {
    pub primary_sequence_number: u32,
    pub secondary_sequence_number: u32,
    /// FILETIME (100 ns units since 1601-01-01 UTC).
    pub last_written: u64,
    pub major_version: u32,
    pub minor_version: u32,
    pub file_type: u32,
    pub file_format: u32,
    /// Relative offset of the root key's cell.
    pub root_cell_offset: u32,
    pub hive_bins_data_size: u32,
    pub checksum: u32,
    /// The checksum computed over the first 508 bytes.
    pub computed_checksum: u32,
    /// Up to 32 UTF-16 characters of the hive's original path, as stored.
    pub file_name: String,
}

/// An opened hive: the whole file in memory plus the set of used cells.
pub struct Hive {
    data: Vec<u8>,
    /// One bit per 4-byte aligned absolute offset that starts a used cell.
    /// Every pointer in the hive must land on one of these.
    used_cells: Vec<u64>,
    base: BaseBlock,
    /// Byte range of the root key's cell payload, checked by open().
    root_range: std::ops::Range<usize>,
    /// File offset where the hive bin walk ended: the end of the last bin.
    bins_end: usize,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Hive {
    // The bytes are too many to print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hive")
            .field("len", &self.data.len())
            .field("base", &self.base)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl Hive {
    /// Reads the whole hive from `r` and opens it.
    pub fn from_reader(mut r: impl Read) -> Result<Hive> {
        let mut data = Vec::new();
        r.read_to_end(&mut data)
            .map_err(|e| Error::io("reading the hive", e))?;
        Hive::open(data)
    }

    /// Reads and opens the hive in a file of `len` bytes, through `read`
    /// (fill the buffer from the given offset), without trusting the base
    /// block's size: the hive bin headers are walked first, and only the
    /// bins that chain up (plus the first broken one, so the error is the
    /// one [`Hive::open`] gives) are read into memory. A file whose size or
    /// base block claims far more than it holds (a sparse file of zeros
    /// after a "regf" block) costs a few small reads, not its size. The
    /// result is [`Hive::open`]'s on the whole file, except that
    /// [`Hive::bytes`] stops where the bins do.
    pub fn read_at(
        len: u64,
        read: &mut dyn FnMut(&mut [u8], u64) -> std::io::Result<()>,
    ) -> Result<Hive> {
        let file_len = usize::try_from(len)
            .map_err(|_| Error::corrupt(format!("file is {len} bytes, too large for a hive")))?;
        let mut fill = |buf: &mut [u8], off: usize| {
            read(buf, off as u64).map_err(|e| Error::io(format!("reading the hive at {off:#x}"), e))
        };
        if file_len < MIN_HIVE_SIZE {
            let mut data = vec![0u8; file_len];
            fill(&mut data, 0)?;
            return Hive::open_inner(data, file_len);
        }
        let mut data = vec![0u8; BASE_BLOCK_SIZE];
        fill(&mut data, 0)?;
        let hbds = u32_at(&data, 0x28).unwrap_or(0) as usize;
        let end_of_bins = hbds.saturating_add(BASE_BLOCK_SIZE).min(file_len);
        // Bin by bin, a piece at a time, following the chain of cells as it
        // arrives: what is held is what chains up. At the first bin header or
        // cell size that open() would refuse, stop, keeping just enough of
        // it for open() to name the same damage at the same place.
        let mut off = BASE_BLOCK_SIZE;
        let mut header = [0u8; HBIN_HEADER_SIZE];
        let mut bad_cell = false;
        'bins: while off < end_of_bins {
            let n = HBIN_HEADER_SIZE.min(file_len - off);
            fill(&mut header[..n], off)?;
            let rel = u32_at(&header[..n], 4).map(|r| r as usize);
            let size = u32_at(&header[..n], 8).unwrap_or(0) as usize;
            let ok = &header[..4.min(n)] == b"hbin"
                && size > HBIN_HEADER_SIZE
                && size % 0x1000 == 0
                && off.checked_add(size).is_some_and(|e| e <= file_len)
                && rel.and_then(|r| r.checked_add(BASE_BLOCK_SIZE)) == Some(off);
            if !ok {
                break;
            }
            let bin_end = off + size;
            let mut cell = off + HBIN_HEADER_SIZE;
            while data.len() < bin_end {
                let at = data.len();
                data.resize(at + (bin_end - at).min(1 << 20), 0);
                fill(&mut data[at..], at)?;
                while cell < bin_end && cell + 4 <= data.len() {
                    let len = (u32_at(&data, cell).unwrap_or(0) as i32).unsigned_abs() as usize;
                    if len <= 4 || len % 4 != 0 || cell + len > bin_end {
                        data.truncate(cell + 4);
                        bad_cell = true;
                        break 'bins;
                    }
                    cell += len;
                }
            }
            off = bin_end;
        }
        // A broken bin header goes in too (a page of it).
        if !bad_cell && off < end_of_bins {
            let at = data.len();
            data.resize(at + 0x1000.min(file_len - at), 0);
            fill(&mut data[at..], at)?;
        }
        if data.len() < MIN_HIVE_SIZE {
            let at = data.len();
            data.resize(MIN_HIVE_SIZE, 0);
            fill(&mut data[at..], at)?;
        }
        Hive::open_inner(data, file_len)
    }

    /// Opens a hive held in memory: checks the base block, walks every hive
    /// bin and cell, and checks the root key. Problems that hivex or Windows
    /// tolerate (dirty sequence numbers, checksum mismatch, hive bins data
    /// size past the end of the file) become [`Hive::warnings`].
    pub fn open(data: Vec<u8>) -> Result<Hive> {
        let len = data.len();
        Hive::open_inner(data, len)
    }

    /// [`Hive::open`] on the first `data.len()` bytes of a file of
    /// `file_len` bytes (messages speak of the file).
    fn open_inner(data: Vec<u8>, file_len: usize) -> Result<Hive> {
        if data.len() < MIN_HIVE_SIZE {
            return Err(Error::corrupt(format!(
                "file is {file_len} bytes, too small to be a registry hive (at least {MIN_HIVE_SIZE})"
            )));
        }
        if &data[0..4] != b"regf" {
            return Err(Error::corrupt(
                "no \"regf\" signature at offset 0: not a registry hive",
            ));
        }
        let field = |off: usize| u32_at(&data, off).unwrap_or(0);
        let mut computed = 0u32;
        for i in 0..127 {
            computed ^= field(i * 4);
        }
        let base = BaseBlock {
            primary_sequence_number: field(0x04),
            secondary_sequence_number: field(0x08),
            last_written: u64_at(&data, 0x0C).unwrap_or(0),
            major_version: field(0x14),
            minor_version: field(0x18),
            file_type: field(0x1C),
            file_format: field(0x20),
            root_cell_offset: field(0x24),
            hive_bins_data_size: field(0x28),
            checksum: field(0x1FC),
            computed_checksum: computed,
            file_name: {
                let raw = &data[0x30..0x70];
                decode_utf16le_lossy(&raw[..utf16_len_to_nul(raw)])
            },
        };
        if base.major_version != 1 {
            return Err(Error::unsupported(format!(
                "hive format major version {} (only 1 exists)",
                base.major_version
            )));
        }
        let mut warnings = Vec::new();
        // Windows never stores 0 or 0xFFFFFFFF as the checksum; it stores 1
        // and 0xFFFFFFFE instead. Accept either spelling.
        let adjusted = match computed {
            0 => 1,
            0xFFFF_FFFF => 0xFFFF_FFFE,
            c => c,
        };
        if base.checksum != computed && base.checksum != adjusted {
            warnings.push(format!(
                "base block checksum is {:#010x}, computed {:#010x}",
                base.checksum, computed
            ));
        }
        if base.primary_sequence_number != base.secondary_sequence_number {
            warnings.push(format!(
                "sequence numbers differ ({} and {}): the hive was not cleanly \
                 written; changes in its transaction logs are not applied",
                base.primary_sequence_number, base.secondary_sequence_number
            ));
        }

        let end_of_bins = (base.hive_bins_data_size as usize).saturating_add(BASE_BLOCK_SIZE);
        if end_of_bins > file_len {
            warnings.push(format!(
                "hive bins data size says the bins end at {end_of_bins:#x}, \
                 but the file is {file_len:#x} bytes"
            ));
        }
        let root_abs = (base.root_cell_offset as usize).checked_add(BASE_BLOCK_SIZE);

        let mut used_cells = vec![0u64; data.len() / 4 / 64 + 1];
        let mut root_seen = false;
        let mut off = BASE_BLOCK_SIZE;
        let stop = end_of_bins.min(data.len());
        while off < stop {
            if data.get(off..off + 4) != Some(b"hbin") {
                return Err(Error::corrupt(format!(
                    "no \"hbin\" signature at file offset {off:#x}, inside the hive bins data"
                )));
            }
            let rel = u32_at(&data, off + 4).unwrap_or(NO_CELL) as usize;
            let size = u32_at(&data, off + 8).unwrap_or(0) as usize;
            if size <= HBIN_HEADER_SIZE || size % 0x1000 != 0 {
                return Err(Error::corrupt(format!(
                    "hive bin at file offset {off:#x} has size {size:#x} \
                     (must be a non-zero multiple of 4096)"
                )));
            }
            if rel.checked_add(BASE_BLOCK_SIZE) != Some(off) {
                return Err(Error::corrupt(format!(
                    "hive bin at file offset {off:#x} says it is at relative offset {rel:#x}"
                )));
            }
            // Against the file: read_at may have stopped reading at a bad
            // cell inside this bin, which the walk below then meets.
            let bin_end = off
                .checked_add(size)
                .filter(|&e| e <= file_len)
                .ok_or_else(|| {
                    Error::corrupt(format!(
                        "hive bin at file offset {off:#x} of size {size:#x} runs past the \
                         end of the file ({file_len:#x} bytes): truncated hive?"
                    ))
                })?;
            let mut cell = off + HBIN_HEADER_SIZE;
            while cell < bin_end {
                let raw = u32_at(&data, cell).unwrap_or(0) as i32;
                let len = raw.unsigned_abs() as usize;
                if len <= 4 || len % 4 != 0 {
                    return Err(Error::corrupt(format!(
                        "cell at relative offset {:#x} has size {raw} \
                         (must be a multiple of 4 and more than 4)",
                        cell - BASE_BLOCK_SIZE
                    )));
                }
                let cell_end =
                    cell.checked_add(len)
                        .filter(|&e| e <= bin_end)
                        .ok_or_else(|| {
                            Error::corrupt(format!(
                                "cell at relative offset {:#x} of size {len:#x} runs past the end \
                         of its hive bin",
                                cell - BASE_BLOCK_SIZE
                            ))
                        })?;
                let used = raw < 0;
                if Some(cell) == root_abs {
                    root_seen = true;
                    if !used || data.get(cell + 4..cell + 6) != Some(b"nk") {
                        return Err(Error::corrupt(format!(
                            "root cell at relative offset {:#x} is free or not a key (nk)",
                            base.root_cell_offset
                        )));
                    }
                }
                if used {
                    let bit = cell / 4;
                    used_cells[bit / 64] |= 1u64 << (bit % 64);
                }
                cell = cell_end;
            }
            off = bin_end;
        }
        if !root_seen {
            return Err(Error::corrupt(format!(
                "the root cell offset {:#x} is not the start of any cell",
                base.root_cell_offset
            )));
        }
        let mut hive = Hive {
            data,
            used_cells,
            base,
            root_range: 0..0,
            bins_end: off,
            warnings,
        };
        // Parse the root once so that root() cannot fail later.
        let root_len = hive.node_at(hive.base.root_cell_offset)?.nk.len();
        // The root cell was seen by the walk, so root_abs is Some; its
        // payload starts after the 4-byte size.
        let start = root_abs.unwrap_or(0) + 4;
        hive.root_range = start..start + root_len;
        Ok(hive)
    }

    /// The base block's fields.
    pub fn base_block(&self) -> &BaseBlock {
        &self.base
    }

    /// Things that were wrong but tolerated when opening the hive.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The hive's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The payload (after the 4-byte size) of the used cell at relative
    /// offset `rel`; `what` names the pointer for error messages.
    fn cell(&self, rel: u32, what: &dyn Fn() -> String) -> Result<&[u8]> {
        let bad = |why: &str| Error::corrupt(format!("{}: offset {rel:#x} {why}", what()));
        let abs = (rel as usize)
            .checked_add(BASE_BLOCK_SIZE)
            .ok_or_else(|| bad("overflows"))?;
        if abs % 4 != 0 || abs >= self.data.len() {
            return Err(bad("is outside the hive bins"));
        }
        let bit = abs / 4;
        let is_used = self
            .used_cells
            .get(bit / 64)
            .is_some_and(|w| w & (1u64 << (bit % 64)) != 0);
        if !is_used {
            return Err(bad("is not the start of a used cell"));
        }
        // The bin walk checked that this cell lies inside its bin.
        let len = (u32_at(&self.data, abs).unwrap_or(0) as i32).unsigned_abs() as usize;
        abs.checked_add(len)
            .and_then(|end| self.data.get(abs + 4..end))
            .ok_or_else(|| bad("has a size past the end of the file"))
    }

    /// File offset where the hive bins end (the walk's end).
    pub(crate) fn bins_end(&self) -> usize {
        self.bins_end
    }

    /// Whether `rel` is the start of a used cell.
    pub(crate) fn is_used_cell(&self, rel: u32) -> bool {
        let Some(abs) = (rel as usize).checked_add(BASE_BLOCK_SIZE) else {
            return false;
        };
        let bit = abs / 4;
        abs % 4 == 0
            && self
                .used_cells
                .get(bit / 64)
                .is_some_and(|w| w & (1u64 << (bit % 64)) != 0)
    }

    /// The payload of the used cell at `rel` (see [`Hive::cell`]).
    pub(crate) fn cell_at(&self, rel: u32, what: &dyn Fn() -> String) -> Result<&[u8]> {
        self.cell(rel, what)
    }

    /// The key at relative cell offset `rel`.
    pub fn node_at(&self, rel: u32) -> Result<Node<'_>> {
        let what = || format!("key (nk) at {rel:#x}");
        let nk = self.cell(rel, &what)?;
        if nk.len() < NK_FIXED || &nk[0..2] != b"nk" {
            return Err(Error::corrupt(format!(
                "{}: not an nk record ({} bytes, signature {:?})",
                what(),
                nk.len(),
                nk.get(0..2).map(String::from_utf8_lossy)
            )));
        }
        let name_len = u16_at(nk, 0x48).unwrap_or(0) as usize;
        if NK_FIXED + name_len > nk.len() {
            return Err(Error::corrupt(format!(
                "{}: name length {name_len} runs past the end of its {}-byte cell",
                what(),
                nk.len()
            )));
        }
        Ok(Node {
            hive: self,
            offset: rel,
            nk,
        })
    }

    /// The key at relative cell offset `rel`; like [`Hive::node_at`], for
    /// symmetry with values.
    pub fn value_at(&self, rel: u32) -> Result<Value<'_>> {
        let what = || format!("value (vk) at {rel:#x}");
        let vk = self.cell(rel, &what)?;
        if vk.len() < VK_FIXED || &vk[0..2] != b"vk" {
            return Err(Error::corrupt(format!(
                "{}: not a vk record ({} bytes)",
                what(),
                vk.len()
            )));
        }
        let name_len = u16_at(vk, 0x02).unwrap_or(0) as usize;
        if VK_FIXED + name_len > vk.len() {
            return Err(Error::corrupt(format!(
                "{}: name length {name_len} runs past the end of its {}-byte cell",
                what(),
                vk.len()
            )));
        }
        Ok(Value {
            hive: self,
            offset: rel,
            vk,
        })
    }

    /// The root key.
    pub fn root(&self) -> Node<'_> {
        // open() checked the root cell; build the node from the range it
        // recorded. The fallbacks cannot happen and keep this panic-free.
        Node {
            hive: self,
            offset: self.base.root_cell_offset,
            nk: self.data.get(self.root_range.clone()).unwrap_or(&[]),
        }
    }

    /// Looks up a key by its path below the root, components separated by
    /// `\`, compared case-insensitively. A leading `\` is allowed; `""` and
    /// `"\"` are the root. `Ok(None)` when a component does not exist.
    pub fn lookup(&self, path: &str) -> Result<Option<Node<'_>>> {
        self.root().lookup(path)
    }

    /// Walks the tree below `start` (inclusive) depth first, parents before
    /// children, calling `f` for each key. Each key is visited at most once:
    /// a key reached a second time (subkey lists that form a cycle or share
    /// a key) is an error, as is a tree deeper than `opts.max_depth`.
    pub fn walk<'h, F>(&'h self, start: Node<'h>, opts: &WalkOptions, mut f: F) -> Result<()>
    where
        F: FnMut(&WalkEntry<'h, '_>) -> Result<Visit>,
    {
        let mut seen: HashSet<u32> = HashSet::new();
        // (node, depth); names[d] is the name of the key at depth d.
        let mut stack: Vec<(Node<'h>, usize)> = vec![(start, 0)];
        let mut names: Vec<String> = Vec::new();
        while let Some((node, depth)) = stack.pop() {
            if !seen.insert(node.offset) {
                return Err(Error::corrupt(format!(
                    "key at {:#x} is reached twice: its subkey lists form a cycle",
                    node.offset
                )));
            }
            if depth > opts.max_depth {
                return Err(Error::unsupported(format!(
                    "keys nested deeper than {} levels (at {:#x})",
                    opts.max_depth, node.offset
                )));
            }
            names.truncate(depth);
            names.push(node.name());
            let entry = WalkEntry {
                node,
                depth,
                names: &names,
            };
            if f(&entry)? == Visit::SkipChildren {
                continue;
            }
            let mut children = node.children()?;
            if opts.sorted {
                let mut named: Vec<(String, Node<'h>)> =
                    children.into_iter().map(|c| (c.name(), c)).collect();
                // Stable: equal names keep their on-disk order.
                named.sort_by(|a, b| a.0.cmp(&b.0));
                children = named.into_iter().map(|(_, c)| c).collect();
            }
            stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
        }
        Ok(())
    }
}

/// How [`Hive::walk`] orders and bounds its walk.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Visit subkeys sorted by name (code point order, as hivexregedit
    /// does); otherwise in subkey-list order.
    pub sorted: bool,
    /// Deepest level allowed below the start key; deeper is an error.
    pub max_depth: usize,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            sorted: true,
            max_depth: MAX_KEY_DEPTH,
        }
    }
}

/// What the walk callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    Continue,
    SkipChildren,
}

/// One key met by [`Hive::walk`].
#[derive(Debug)]
pub struct WalkEntry<'h, 'a> {
    pub node: Node<'h>,
    /// 0 for the start key.
    pub depth: usize,
    /// Names from the start key (`names[0]`) down to this key.
    pub names: &'a [String],
}

/// How a key's subkey lists are stored (see [`Node::subkey_layout`]).
#[derive(Debug, Default)]
pub(crate) struct SubkeyLayout {
    /// Every list cell (ri and leaves) with its signature, in walk order.
    pub lists: Vec<(u32, [u8; 2])>,
    /// Each subkey's nk offset, its hash field in lf/lh lists, and the
    /// index in `lists` of the leaf that holds it.
    pub entries: Vec<(u32, Option<[u8; 4]>, usize)>,
}

/// A key (nk record).
#[derive(Debug, Clone, Copy)]
pub struct Node<'h> {
    hive: &'h Hive,
    offset: u32,
    /// The cell payload; at least NK_FIXED + name length bytes.
    nk: &'h [u8],
}

impl<'h> Node<'h> {
    fn u16(&self, off: usize) -> u16 {
        u16_at(self.nk, off).unwrap_or(0)
    }
    fn u32(&self, off: usize) -> u32 {
        u32_at(self.nk, off).unwrap_or(0)
    }

    /// Relative offset of this key's cell.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    pub fn flags(&self) -> u16 {
        self.u16(0x02)
    }

    /// Last written time, FILETIME (100 ns units since 1601-01-01 UTC).
    pub fn timestamp(&self) -> u64 {
        u64_at(self.nk, 0x04).unwrap_or(0)
    }

    /// Relative offset of the parent key's cell, as stored.
    pub fn parent_offset(&self) -> u32 {
        self.u32(0x10)
    }

    /// Number of (stable) subkeys, as stored.
    pub fn subkey_count(&self) -> u32 {
        self.u32(0x14)
    }

    /// Number of values, as stored.
    pub fn value_count(&self) -> u32 {
        self.u32(0x24)
    }

    fn name_bytes(&self) -> &'h [u8] {
        let len = self.u16(0x48) as usize;
        // node_at checked NK_FIXED + len <= nk.len().
        self.nk.get(NK_FIXED..NK_FIXED + len).unwrap_or(&[])
    }

    /// The name as UTF-16 code units, exactly as stored (Latin-1 bytes
    /// widened; an odd trailing byte of a UTF-16 name is dropped).
    pub(crate) fn name_units(&self) -> Vec<u16> {
        let b = self.name_bytes();
        if self.flags() & KEY_COMP_NAME != 0 {
            b.iter().map(|&c| u16::from(c)).collect()
        } else {
            b.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()
        }
    }

    /// A raw u32 field of the nk record (offset within the payload).
    pub(crate) fn field_u32(&self, off: usize) -> u32 {
        self.u32(off)
    }

    /// A raw u16 field of the nk record (offset within the payload).
    pub(crate) fn field_u16(&self, off: usize) -> u16 {
        self.u16(off)
    }

    /// The value list cell and the vk cells it lists (each checked to be a
    /// vk record), or `None` when the key has no values.
    pub(crate) fn value_cells(&self) -> Result<Option<(u32, Vec<Value<'h>>)>> {
        if self.value_count() == 0 {
            return Ok(None);
        }
        let values = self.values()?;
        Ok(Some((self.u32(0x28), values)))
    }

    /// The key's name (Latin-1 or UTF-16LE per the compressed-name flag).
    pub fn name(&self) -> String {
        if self.flags() & KEY_COMP_NAME != 0 {
            decode_latin1(self.name_bytes())
        } else {
            decode_utf16le_lossy(self.name_bytes())
        }
    }

    /// The class name, if the key has one.
    pub fn class_name(&self) -> Result<Option<String>> {
        let off = self.u32(0x30);
        let len = self.u16(0x4A) as usize;
        if off == NO_CELL || len == 0 {
            return Ok(None);
        }
        let what = || format!("class name of key at {:#x}", self.offset);
        let cell = self.hive.cell(off, &what)?;
        let bytes = cell.get(..len).ok_or_else(|| {
            Error::corrupt(format!(
                "{}: length {len} is more than its {}-byte cell",
                what(),
                cell.len()
            ))
        })?;
        Ok(Some(decode_utf16le_lossy(bytes)))
    }

    /// The key's security descriptor (the bytes inside its sk record).
    pub fn security_descriptor(&self) -> Result<Option<Vec<u8>>> {
        let off = self.u32(0x2C);
        if off == NO_CELL {
            return Ok(None);
        }
        let what = || format!("security (sk) of key at {:#x}", self.offset);
        let sk = self.hive.cell(off, &what)?;
        if sk.len() < 0x14 || &sk[0..2] != b"sk" {
            return Err(Error::corrupt(format!("{}: not an sk record", what())));
        }
        let len = u32_at(sk, 0x10).unwrap_or(0) as usize;
        let sd = sk
            .get(0x14..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "{}: descriptor length {len} runs past its {}-byte cell",
                    what(),
                    sk.len()
                ))
            })?;
        Ok(Some(sd.to_vec()))
    }

    /// The subkeys, in subkey-list order. The lists must yield exactly
    /// [`Node::subkey_count`] keys.
    pub fn children(&self) -> Result<Vec<Node<'h>>> {
        self.subkey_layout()?
            .entries
            .iter()
            .map(|&(off, _, _)| self.hive.node_at(off))
            .collect()
    }

    /// The subkey lists as stored: every list cell, and each entry's key
    /// offset and hash (none for li lists). The entries must be exactly
    /// [`Node::subkey_count`] keys, each an nk record.
    pub(crate) fn subkey_layout(&self) -> Result<SubkeyLayout> {
        let count = self.subkey_count();
        let mut layout = SubkeyLayout::default();
        if count == 0 {
            return Ok(layout);
        }
        if count > MAX_SUBKEYS {
            return Err(Error::unsupported(format!(
                "key at {:#x} says it has {count} subkeys (more than {MAX_SUBKEYS})",
                self.offset
            )));
        }
        layout.entries.reserve(count as usize);
        // Bounds the list cells visited, so nested ri lists that point at
        // each other repeatedly cannot multiply the work.
        let mut budget = MAX_SUBKEYS;
        self.read_subkey_list(self.u32(0x1C), 0, count as usize, &mut layout, &mut budget)?;
        if layout.entries.len() != count as usize {
            return Err(Error::corrupt(format!(
                "key at {:#x} says it has {count} subkeys, its lists hold {}",
                self.offset,
                layout.entries.len()
            )));
        }
        Ok(layout)
    }

    fn read_subkey_list(
        &self,
        list: u32,
        depth: u32,
        limit: usize,
        out: &mut SubkeyLayout,
        budget: &mut u32,
    ) -> Result<()> {
        let what = || format!("subkey list of key at {:#x}", self.offset);
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| Error::corrupt(format!("{}: too many nested list cells", what())))?;
        let cell = self.hive.cell(list, &what)?;
        let sig = cell.get(0..2).unwrap_or(&[]);
        let n = u16_at(cell, 2).unwrap_or(0) as usize;
        let stride = match sig {
            b"lf" | b"lh" => 8,
            b"li" | b"ri" => 4,
            _ => {
                return Err(Error::corrupt(format!(
                    "{}: cell at {list:#x} is not an lf/lh/li/ri list (signature {:?})",
                    what(),
                    String::from_utf8_lossy(sig)
                )));
            }
        };
        if 4 + n * stride > cell.len() {
            return Err(Error::corrupt(format!(
                "{}: list at {list:#x} has {n} entries but only {} bytes",
                what(),
                cell.len()
            )));
        }
        let leaf = out.lists.len();
        out.lists.push((list, [sig[0], sig[1]]));
        for i in 0..n {
            let entry = u32_at(cell, 4 + i * stride).unwrap_or(NO_CELL);
            if sig == b"ri" {
                if depth >= MAX_RI_DEPTH {
                    return Err(Error::corrupt(format!(
                        "{}: ri lists nested deeper than {MAX_RI_DEPTH}",
                        what()
                    )));
                }
                self.read_subkey_list(entry, depth + 1, limit, out, budget)?;
            } else {
                if out.entries.len() >= limit {
                    return Err(Error::corrupt(format!(
                        "{}: lists hold more keys than the key's count {limit}",
                        what()
                    )));
                }
                // Checks that the entry is an nk record.
                self.hive.node_at(entry)?;
                let hash = if stride == 8 {
                    let b = cell.get(8 + i * 8..12 + i * 8).unwrap_or(&[0; 4]);
                    Some([b[0], b[1], b[2], b[3]])
                } else {
                    None
                };
                out.entries.push((entry, hash, leaf));
            }
        }
        Ok(())
    }

    /// The subkey called `name` (case-insensitive), if any.
    pub fn child(&self, name: &str) -> Result<Option<Node<'h>>> {
        Ok(self
            .children()?
            .into_iter()
            .find(|c| name_matches(&c.name(), name)))
    }

    /// Looks up a key by a `\`-separated path relative to this key; see
    /// [`Hive::lookup`].
    pub fn lookup(&self, path: &str) -> Result<Option<Node<'h>>> {
        let mut parts: Vec<&str> = path.split('\\').collect();
        // As hivexregedit splits: trailing empty parts and one leading
        // empty part (from a leading `\`) are dropped.
        while parts.last() == Some(&"") {
            parts.pop();
        }
        if parts.first() == Some(&"") {
            parts.remove(0);
        }
        let mut node = *self;
        for (depth, part) in parts.into_iter().enumerate() {
            if depth >= MAX_KEY_DEPTH {
                return Err(Error::unsupported("path is deeper than 512 keys"));
            }
            match node.child(part)? {
                Some(c) => node = c,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// The values, in value-list order.
    pub fn values(&self) -> Result<Vec<Value<'h>>> {
        let count = self.value_count();
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_VALUES {
            return Err(Error::unsupported(format!(
                "key at {:#x} says it has {count} values (more than {MAX_VALUES})",
                self.offset
            )));
        }
        let what = || format!("value list of key at {:#x}", self.offset);
        let list = self.hive.cell(self.u32(0x28), &what)?;
        let n = count as usize;
        if n * 4 > list.len() {
            return Err(Error::corrupt(format!(
                "{}: {n} values do not fit its {}-byte cell",
                what(),
                list.len()
            )));
        }
        (0..n)
            .map(|i| self.hive.value_at(u32_at(list, i * 4).unwrap_or(NO_CELL)))
            .collect()
    }

    /// The value called `name` (case-insensitive; `""` is the default
    /// value), if any.
    pub fn value(&self, name: &str) -> Result<Option<Value<'h>>> {
        for v in self.values()? {
            let vn = v.name();
            let hit = name_matches(&vn, name);
            if hit {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

/// A value (vk record).
#[derive(Debug, Clone, Copy)]
pub struct Value<'h> {
    hive: &'h Hive,
    offset: u32,
    /// The cell payload; at least VK_FIXED + name length bytes.
    vk: &'h [u8],
}

impl<'h> Value<'h> {
    fn u32(&self, off: usize) -> u32 {
        u32_at(self.vk, off).unwrap_or(0)
    }

    /// Relative offset of this value's cell.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    pub fn flags(&self) -> u16 {
        u16_at(self.vk, 0x10).unwrap_or(0)
    }

    /// The value's name; `""` for the default value (`@` in .reg files).
    pub fn name(&self) -> String {
        let len = u16_at(self.vk, 0x02).unwrap_or(0) as usize;
        let b = self.vk.get(VK_FIXED..VK_FIXED + len).unwrap_or(&[]);
        if self.flags() & VALUE_COMP_NAME != 0 {
            decode_latin1(b)
        } else {
            decode_utf16le_lossy(b)
        }
    }

    /// The raw type number (see [`types`]).
    pub fn value_type(&self) -> u32 {
        self.u32(0x0C)
    }

    /// The type's Windows name, for the twelve named types.
    pub fn type_name(&self) -> Option<&'static str> {
        types::name(self.value_type())
    }

    /// The declared data length (without the inline flag).
    pub fn data_len(&self) -> u32 {
        self.u32(0x04) & !DATA_INLINE
    }

    /// Whether the data is stored in the vk record itself.
    pub fn is_inline(&self) -> bool {
        self.u32(0x04) & DATA_INLINE != 0
    }

    /// The raw data bytes. Inline data (length high bit set) must be at most
    /// 4 bytes; data longer than its cell must be big data (db), whose
    /// segments are concatenated (if they hold less than declared, what
    /// they hold is returned, as hivex does).
    pub fn data(&self) -> Result<Vec<u8>> {
        let len = self.data_len() as usize;
        let what = || format!("data of value at {:#x}", self.offset);
        if self.is_inline() {
            if len > 4 {
                return Err(Error::unsupported(format!(
                    "{}: inline data with length {len} (at most 4)",
                    what()
                )));
            }
            return Ok(self.vk.get(0x08..0x08 + len).unwrap_or(&[]).to_vec());
        }
        let cell = self.hive.cell(self.u32(0x08), &what)?;
        if let Some(d) = cell.get(..len) {
            return Ok(d.to_vec());
        }
        if cell.len() < 8 || &cell[0..2] != b"db" {
            return Err(Error::corrupt(format!(
                "{}: length {len} is more than its {}-byte cell, which is not big data (db)",
                what(),
                cell.len()
            )));
        }
        let segments = u16_at(cell, 2).unwrap_or(0) as usize;
        let list = self.hive.cell(u32_at(cell, 4).unwrap_or(NO_CELL), &what)?;
        if segments * 4 > list.len() {
            return Err(Error::corrupt(format!(
                "{}: big data has {segments} segments, its list cell only {} bytes",
                what(),
                list.len()
            )));
        }
        // Never allocate the declared length up front: it may be a lie.
        let mut out = Vec::new();
        // Each segment cell may be used once, so that a value can never be
        // larger than the hive (a list repeating one cell could otherwise
        // make gigabytes out of a small file).
        let mut used = HashSet::new();
        for i in 0..segments {
            let seg_off = u32_at(list, i * 4).unwrap_or(NO_CELL);
            if !used.insert(seg_off) {
                return Err(Error::corrupt(format!(
                    "{}: big data segment {seg_off:#x} is listed twice",
                    what()
                )));
            }
            let seg = self.hive.cell(seg_off, &what)?;
            // A segment cell holds up to 16344 data bytes plus 4 bytes of
            // padding; hivex leaves the last 4 bytes of each cell out.
            let room = len - out.len();
            let take = seg.len().saturating_sub(4).min(room);
            out.extend_from_slice(&seg[..take]);
        }
        Ok(out)
    }

    /// The cells holding this value's data: none when inline, else the data
    /// cell, or the db record, its segment list and its segments.
    pub(crate) fn data_cells(&self) -> Result<Vec<u32>> {
        if self.is_inline() {
            return Ok(Vec::new());
        }
        let len = self.data_len() as usize;
        let what = || format!("data of value at {:#x}", self.offset);
        let off = self.u32(0x08);
        let cell = self.hive.cell(off, &what)?;
        if len <= cell.len() || cell.len() < 8 || &cell[0..2] != b"db" {
            return Ok(vec![off]);
        }
        let segments = u16_at(cell, 2).unwrap_or(0) as usize;
        let list_off = u32_at(cell, 4).unwrap_or(NO_CELL);
        let list = self.hive.cell(list_off, &what)?;
        if segments * 4 > list.len() {
            return Err(Error::corrupt(format!(
                "{}: big data has {segments} segments, its list cell only {} bytes",
                what(),
                list.len()
            )));
        }
        let mut out = vec![off, list_off];
        for i in 0..segments {
            let seg = u32_at(list, i * 4).unwrap_or(NO_CELL);
            self.hive.cell(seg, &what)?;
            out.push(seg);
        }
        Ok(out)
    }

    /// The value name as UTF-16 code units, exactly as stored.
    pub(crate) fn name_units(&self) -> Vec<u16> {
        let len = u16_at(self.vk, 0x02).unwrap_or(0) as usize;
        let b = self.vk.get(VK_FIXED..VK_FIXED + len).unwrap_or(&[]);
        if self.flags() & VALUE_COMP_NAME != 0 {
            b.iter().map(|&c| u16::from(c)).collect()
        } else {
            b.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()
        }
    }

    /// The data as a UTF-16LE string up to its first NUL (any type).
    pub fn as_string(&self) -> Result<String> {
        let d = self.data()?;
        decode_utf16le_strict(&d[..utf16_len_to_nul(&d)], || {
            format!("string value at {:#x}", self.offset)
        })
    }

    /// The data as a REG_MULTI_SZ list: UTF-16LE strings each ended by NUL,
    /// the list ended by an empty string (or the end of the data).
    pub fn as_multi_string(&self) -> Result<Vec<String>> {
        let mut v = self.multi_string_hivex()?;
        if let Some(end) = v.iter().position(|s| s.is_empty()) {
            v.truncate(end);
        }
        Ok(v)
    }

    /// hivex's reading of a multi-string: every NUL-ended piece up to the
    /// end of the data, empty pieces included (what hivexget prints).
    pub(crate) fn multi_string_hivex(&self) -> Result<Vec<String>> {
        let d = self.data()?;
        let mut out = Vec::new();
        let mut p = 0;
        while p < d.len() {
            let n = utf16_len_to_nul(&d[p..]);
            out.push(decode_utf16le_strict(&d[p..p + n], || {
                format!("multi-string value at {:#x}", self.offset)
            })?);
            p = p + n + 2;
        }
        Ok(out)
    }

    /// The data as a DWORD: REG_DWORD (little-endian) or
    /// REG_DWORD_BIG_ENDIAN, at least 4 bytes.
    pub fn as_dword(&self) -> Result<u32> {
        let t = self.value_type();
        let d = self.data()?;
        let b: [u8; 4] = match d.get(..4) {
            Some(b) if t == types::REG_DWORD || t == types::REG_DWORD_BIG_ENDIAN => {
                [b[0], b[1], b[2], b[3]]
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::WrongType,
                    format!(
                        "value at {:#x} is type {t} with {} bytes, not a DWORD",
                        self.offset,
                        d.len()
                    ),
                ));
            }
        };
        Ok(if t == types::REG_DWORD {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// The data as a REG_QWORD (little-endian, at least 8 bytes).
    pub fn as_qword(&self) -> Result<u64> {
        let t = self.value_type();
        let d = self.data()?;
        match d.get(..8) {
            Some(b) if t == types::REG_QWORD => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(u64::from_le_bytes(a))
            }
            _ => Err(Error::new(
                ErrorKind::WrongType,
                format!(
                    "value at {:#x} is type {t} with {} bytes, not a QWORD",
                    self.offset,
                    d.len()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_like_hivex() {
        assert!(name_matches("Microsoft", "MICROSOFT"));
        assert!(name_matches("zero\0key", "zero"));
        assert!(!name_matches("zero", "zer"));
        assert!(name_matches("Äpfel", "äPFEL"));
    }

    #[test]
    fn utf16_nul() {
        assert_eq!(utf16_len_to_nul(b"a\0b\0\0\0c\0"), 4);
        assert_eq!(utf16_len_to_nul(b"a\0b"), 2);
        assert_eq!(utf16_len_to_nul(b""), 0);
    }
}

//! rpm's package database: `rpmdb.sqlite` (rpm >= 4.16) or the Berkeley DB
//! `Packages` file of older rpm ([`super::bdb`]), and the header blobs they
//! store. libguestfs lists rpm packages with librpm inside the
//! appliance (daemon/rpm-c.c); we read the database ourselves, so every
//! byte here is untrusted: the sqlite file is opened read-only from a
//! private temporary copy, and header blobs are parsed with checked
//! arithmetic, never trusting a count or an offset.

use super::{Application, MAX_APPS};
use crate::inspect::bound;
use crate::{Error, FileType, Handle, Result, StatExt};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::io::Write;

/// Where rpm keeps its sqlite database: the classic dbpath first, then the
/// one newer Fedora uses (where /var/lib/rpm is usually a symlink to it).
const SQLITE_PATHS: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];
/// The Berkeley DB database of older rpm (CentOS 7, RHEL 8, SLES 15 SP3...).
const BDB_PATHS: &[&str] = &["/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/Packages"];
/// Largest rpmdb.sqlite copied out of a guest. Real ones reach a few
/// hundred MB on big installs; the copy goes to a temporary file, not
/// memory, so the cap only bounds host disk use.
const MAX_RPMDB: u64 = 2 << 30;

/// rpm's own sanity limits on a header (lib/header_internal.h
/// HEADER_TAGS_MAX / HEADER_DATA_MAX): anything larger is damaged.
const HEADER_TAGS_MAX: u32 = 0xffff;
const HEADER_DATA_MAX: u32 = 0x0fff_ffff;
/// One index entry: tag, type, offset, count, each a big-endian u32.
const ENTRY_SIZE: usize = 16;

// Tags and types used here (rpm's rpmtag.h).
const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_SUMMARY: u32 = 1004;
const TAG_DESCRIPTION: u32 = 1005;
const TAG_URL: u32 = 1020;
const TAG_ARCH: u32 = 1022;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// What librpm's `headerFormat("%{TAG}")` prints for a tag the header does
/// not have; libguestfs reports it as is (e.g. gpg-pubkey's arch).
const NONE: &str = "(none)";

impl Handle {
    /// The packages of the mounted guest's rpm database, in database order
    /// reversed (so that a stable sort by name leaves same-named packages,
    /// such as several gpg-pubkey, in libguestfs's order: it pushes each
    /// package on the front of a list, then sorts stably).
    pub(super) fn apps_rpm_db(&self) -> Result<Vec<Application>> {
        let regular = |p: &&str| {
            self.statns(p)
                .is_ok_and(|st| st.file_type() == FileType::Regular)
        };
        let blobs = if let Some(path) = SQLITE_PATHS.iter().copied().find(regular) {
            let (dir, copy) = self.private_copy(path, "rpmdb.sqlite")?;
            // A database left in WAL mode may have recent changes in -wal: copy
            // it beside ours so SQLite reads them (it is optional).
            let wal = format!("{path}-wal");
            if self.statns(&wal).is_ok_and(|st| {
                st.file_type() == FileType::Regular
                    && u64::try_from(st.st_size).is_ok_and(|s| s <= MAX_RPMDB)
            }) {
                self.download_to(&wal, &dir.path().join("rpmdb.sqlite-wal"))?;
            }
            read_packages(&copy).map_err(|e| Error::corrupt(format!("{path}: {e}")))?
        } else if let Some(path) = BDB_PATHS.iter().copied().find(regular) {
            // rpm < 4.16: the Berkeley DB hash file (see super::bdb), read
            // where it is: our own reader needs no copy, and a file that
            // claims gigabytes costs only the pages the walk visits.
            let size = u64::try_from(self.statns(path)?.st_size).unwrap_or(0);
            let file = GuestFile {
                g: self,
                path,
                size,
                chunk: std::cell::RefCell::new((0, Vec::new())),
            };
            super::bdb::Bdb::open(Box::new(file))
                .and_then(|db| db.values(MAX_APPS))
                .map_err(|e| Error::corrupt(format!("{path}: {e}")))?
        } else {
            // No database at all: libguestfs fails here (librpm cannot open
            // one); an empty list keeps the rest of the inspection.
            return Ok(Vec::new());
        };
        let mut apps: Vec<Application> = blobs
            .iter()
            // A damaged header is skipped, as librpm's iterator skips the
            // headers it cannot verify.
            .filter_map(|b| parse_header(b).ok())
            .map(|h| h.into_application())
            .collect();
        apps.reverse();
        Ok(apps)
    }

    /// Copies the guest's `path` (at most [`MAX_RPMDB`] bytes) to `name` in a
    /// private directory (mode 0700), removed when the returned guard drops:
    /// the database readers only ever see our own file, never a path inside
    /// the image.
    fn private_copy(
        &self,
        path: &str,
        name: &str,
    ) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
        let st = self.statns(path)?;
        if u64::try_from(st.st_size).map_or(true, |s| s > MAX_RPMDB) {
            return Err(Error::invalid(format!(
                "{path}: rpm database of {} bytes is larger than the {MAX_RPMDB} bytes read",
                st.st_size
            )));
        }
        let dir = tempfile::Builder::new()
            .prefix("gx-rpmdb-")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory for the rpm database", e))?;
        let copy = dir.path().join(name);
        self.download_to(path, &copy)?;
        Ok((dir, copy))
    }

    /// Copies a guest file to `dest`, leaving holes where it reads zeros: a
    /// database that is mostly holes (or a sparse file claiming gigabytes)
    /// costs no host disk.
    fn download_to(&self, path: &str, dest: &std::path::Path) -> Result<()> {
        let f = File::create(dest)
            .map_err(|e| Error::io(format!("creating {} for {path}", dest.display()), e))?;
        let mut w = SparseWriter { f, pos: 0 };
        self.download(path, &mut w)?;
        w.f.set_len(w.pos)
            .map_err(|e| Error::io(format!("writing {} for {path}", dest.display()), e))
    }
}

/// Writes a file, seeking over all-zero writes instead of storing them.
struct SparseWriter {
    f: File,
    pos: u64,
}

impl Write for SparseWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        const ZEROS: [u8; 4096] = [0; 4096];
        if !buf.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()]) {
            std::os::unix::fs::FileExt::write_all_at(&self.f, buf, self.pos)?;
        }
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A guest file read through `pread` a chunk at a time (the Berkeley DB
/// walk reads pages roughly in file order), for [`super::bdb`].
struct GuestFile<'a> {
    g: &'a Handle,
    path: &'a str,
    size: u64,
    /// The chunk last read: (offset, bytes).
    chunk: std::cell::RefCell<(u64, Vec<u8>)>,
}

impl GuestFile<'_> {
    const CHUNK: u64 = 1 << 20;
}

impl super::bdb::ReadAt for GuestFile<'_> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let eof = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset.checked_add(done as u64).ok_or_else(eof)?;
            if pos >= self.size {
                return Err(eof());
            }
            let mut chunk = self.chunk.borrow_mut();
            let (start, data) = &mut *chunk;
            if pos < *start || pos >= *start + data.len() as u64 {
                *start = pos - pos % Self::CHUNK;
                let n = Self::CHUNK.min(self.size - *start) as usize;
                *data = self
                    .g
                    .pread(
                        self.path,
                        i32::try_from(n).unwrap_or(i32::MAX),
                        i64::try_from(*start).unwrap_or(i64::MAX),
                    )
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                if data.len() != n {
                    return Err(eof());
                }
            }
            let within = (pos - *start) as usize;
            let n = (data.len() - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&data[within..within + n]);
            done += n;
        }
        Ok(())
    }
}

/// The header blobs of table `Packages(hnum, blob)`, in `hnum` order (the
/// order librpm's sqlite backend iterates in), at most [`MAX_APPS`].
fn read_packages(db: &std::path::Path) -> std::result::Result<Vec<Vec<u8>>, String> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open as SQLite: {e}"))?;
    // The schema is the guest's: do not let it run functions from views or
    // triggers, and refuse a "Packages" that is a view (it could run an
    // arbitrary query) rather than rpm's table.
    conn.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA query_only = ON;")
        .map_err(|e| format!("cannot set up SQLite: {e}"))?;
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| format!("no Packages table: {e}"))?;
    if kind.as_deref() != Some("table") {
        return Err(format!("Packages is a {kind:?}, not a table"));
    }
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("cannot read table Packages: {e}"))?;
    let mut rows = stmt
        .query([])
        .map_err(|e| format!("cannot read table Packages: {e}"))?;
    let mut blobs = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(|e| format!("reading table Packages: {e}"))?
    {
        if blobs.len() >= MAX_APPS {
            break;
        }
        // A row whose blob is not a BLOB is damaged: skip it.
        if let Ok(ValueRef::Blob(b)) = row.get_ref(0) {
            blobs.push(b.to_vec());
        }
    }
    Ok(blobs)
}

/// The fields of one package header that libguestfs reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub name: Option<String>,
    pub epoch: i32,
    pub version: Option<String>,
    pub release: Option<String>,
    pub arch: Option<String>,
    pub url: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
}

impl Header {
    /// As libguestfs fills `application2` from librpm: a missing string tag
    /// reads "(none)"; source_package is left empty (it does not ask).
    fn into_application(self) -> Application {
        let s = |v: Option<String>| v.map(bound).unwrap_or_else(|| NONE.to_string());
        Application {
            name: s(self.name),
            epoch: self.epoch,
            version: s(self.version),
            release: s(self.release),
            arch: s(self.arch),
            url: s(self.url),
            summary: s(self.summary),
            description: s(self.description),
            ..Default::default()
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    gx_disk::bytes::be32(b, at).ok()
}

/// Parse an rpm header blob as rpmdb stores it (no 8-byte magic): be32 index
/// count `il`, be32 data length `dl`, `il` 16-byte entries (tag, type,
/// offset, count), then `dl` bytes of data. Errors say what is wrong; an
/// entry this code reads must lie wholly inside the data.
pub(crate) fn parse_header(blob: &[u8]) -> std::result::Result<Header, String> {
    let il = be32(blob, 0).ok_or("header shorter than its 8-byte preamble")?;
    let dl = be32(blob, 4).ok_or("header shorter than its 8-byte preamble")?;
    if il == 0 || il > HEADER_TAGS_MAX {
        return Err(format!(
            "header index count {il} out of range 1..={HEADER_TAGS_MAX}"
        ));
    }
    if dl > HEADER_DATA_MAX {
        return Err(format!("header data length {dl} over {HEADER_DATA_MAX}"));
    }
    // Both are bounded above, so this cannot overflow even on 32-bit; still
    // checked so the bound is not load-bearing.
    let index_len = (il as usize)
        .checked_mul(ENTRY_SIZE)
        .ok_or("header index size overflows")?;
    let data_start = index_len.checked_add(8).ok_or("header size overflows")?;
    let end = data_start
        .checked_add(dl as usize)
        .ok_or("header size overflows")?;
    if blob.len() < end {
        return Err(format!(
            "header claims {il} entries and {dl} data bytes ({end} bytes) but is {} bytes",
            blob.len()
        ));
    }
    let index = &blob[8..data_start];
    let data = &blob[data_start..end];

    let mut h = Header::default();
    for e in index.chunks_exact(ENTRY_SIZE) {
        let field = |i: usize| be32(e, i * 4).ok_or("short header entry");
        let (tag, ty, offset, count) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let slot = match tag {
            TAG_NAME => &mut h.name,
            TAG_VERSION => &mut h.version,
            TAG_RELEASE => &mut h.release,
            TAG_SUMMARY => &mut h.summary,
            TAG_DESCRIPTION => &mut h.description,
            TAG_URL => &mut h.url,
            TAG_ARCH => &mut h.arch,
            TAG_EPOCH => {
                // librpm's headerGetNumber: 0 unless an INT32 value.
                if ty == TYPE_INT32 && count >= 1 {
                    let v = be32(data, offset as usize).ok_or_else(|| {
                        format!("tag {tag}: offset {offset} past the {dl} data bytes")
                    })?;
                    h.epoch = v as i32;
                }
                continue;
            }
            _ => continue,
        };
        // The first occurrence wins (rpm keeps tags sorted and unique in
        // the immutable region, which comes first).
        if slot.is_some() {
            continue;
        }
        match ty {
            // An I18N string holds one string per language, the first being
            // the untranslated ("C") one librpm prints in the C locale; a
            // string array is taken the same way.
            TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY if count >= 1 => {
                let rest = data.get(offset as usize..).ok_or_else(|| {
                    format!("tag {tag}: offset {offset} past the {dl} data bytes")
                })?;
                let len = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| format!("tag {tag}: string at {offset} has no NUL"))?;
                *slot = Some(String::from_utf8_lossy(&rest[..len]).into_owned());
            }
            // Any other type for a string tag: librpm's validation would
            // reject such a header.
            _ => return Err(format!("tag {tag}: unexpected type {ty} count {count}")),
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header blob from (tag, type, count, data) entries, data packed in order.
    fn blob(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, count, d) in entries {
            for v in [*tag, *ty, data.len() as u32, *count] {
                index.extend_from_slice(&v.to_be_bytes());
            }
            data.extend_from_slice(d);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        b.extend(index);
        b.extend(data);
        b
    }

    fn good() -> Vec<u8> {
        blob(&[
            (TAG_NAME, TYPE_STRING, 1, b"bash\0"),
            (TAG_VERSION, TYPE_STRING, 1, b"5.1\0"),
            (TAG_RELEASE, TYPE_STRING, 1, b"2.fc36\0"),
            (TAG_EPOCH, TYPE_INT32, 1, &[0, 0, 0, 2]),
            (TAG_SUMMARY, TYPE_I18NSTRING, 2, b"The shell\0Die Shell\0"),
        ])
    }

    #[test]
    fn parses_fields_and_defaults() {
        let h = parse_header(&good()).expect("a valid header");
        assert_eq!(h.name.as_deref(), Some("bash"));
        assert_eq!(h.release.as_deref(), Some("2.fc36"));
        assert_eq!(h.epoch, 2);
        assert_eq!(h.summary.as_deref(), Some("The shell"));
        let a = h.into_application();
        assert_eq!((a.arch.as_str(), a.url.as_str()), ("(none)", "(none)"));
        assert_eq!(a.source_package, "");
    }

    #[test]
    fn hostile_headers_are_errors_not_panics() {
        let g = good();
        // il and dl lying upwards, and at their extremes.
        for (il, dl) in [
            (6u32, 30u32),
            (5, 1000),
            (u32::MAX, 0),
            (1, u32::MAX),
            (0, 0),
        ] {
            let mut b = g.clone();
            b[0..4].copy_from_slice(&il.to_be_bytes());
            b[4..8].copy_from_slice(&dl.to_be_bytes());
            assert!(parse_header(&b).is_err(), "il {il} dl {dl}");
        }
        // dl lying downwards: the last strings lose their NUL or their data.
        let mut b = g.clone();
        b[4..8].copy_from_slice(&10u32.to_be_bytes());
        assert!(parse_header(&b).is_err());
        // An offset past the data, for a string and for the epoch.
        for entry in [0usize, 3] {
            let mut b = g.clone();
            let at = 8 + entry * ENTRY_SIZE + 8;
            b[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
            assert!(parse_header(&b).is_err(), "entry {entry}");
        }
        // A string without NUL at the end of the data.
        assert!(parse_header(&blob(&[(TAG_NAME, TYPE_STRING, 1, b"bash")])).is_err());
        // A string tag of a binary type.
        assert!(parse_header(&blob(&[(TAG_NAME, 7, 4, b"bash")])).is_err());
        // Truncations of a valid header at every length.
        for n in 0..g.len() {
            let _ = parse_header(&g[..n]);
        }
        // Every single-byte corruption: may parse or fail, never panic.
        for i in 0..g.len() {
            for v in [0u8, 0x7f, 0xff] {
                let mut b = g.clone();
                b[i] = v;
                let _ = parse_header(&b);
            }
        }
    }

    #[test]
    fn unknown_and_odd_epoch_types_are_ignored() {
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, 1, b"x\0"),
            (TAG_EPOCH, TYPE_STRING, 1, b"7\0"),
            (63, 7, 16, &[0u8; 16]),
        ]);
        let h = parse_header(&b).expect("valid");
        assert_eq!((h.name.as_deref(), h.epoch), (Some("x"), 0));
    }

    #[test]
    fn sqlite_database_from_a_private_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("rpmdb.sqlite");
        let conn = Connection::open(&db).expect("create");
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .expect("schema");
        conn.execute("INSERT INTO Packages (hnum, blob) VALUES (2, ?1)", [good()])
            .expect("insert");
        conn.execute("INSERT INTO Packages (hnum, blob) VALUES (1, 'text')", [])
            .expect("insert");
        conn.execute("INSERT INTO Packages (hnum, blob) VALUES (3, x'0000')", [])
            .expect("insert");
        drop(conn);
        let blobs = read_packages(&db).expect("read");
        // The text row is skipped; the short blob is returned (and would be
        // skipped by parse_header).
        assert_eq!(blobs.len(), 2);
        assert!(parse_header(&blobs[0]).is_ok());
        assert!(parse_header(&blobs[1]).is_err());
        // Not a database, and a view in place of the table.
        std::fs::write(&db, b"not sqlite at all").expect("write");
        assert!(read_packages(&db).is_err());
        std::fs::remove_file(&db).expect("rm");
        let conn = Connection::open(&db).expect("create");
        conn.execute_batch("CREATE VIEW Packages AS SELECT 1 AS hnum, x'00' AS blob;")
            .expect("view");
        drop(conn);
        assert!(read_packages(&db).unwrap_err().contains("not a table"));
    }
}

//! Writing tar archives (GNU format, as `tar -cf - .` makes them) from any
//! tree: the direct engine's `tar_out`, and gx-fish's `copy-in` and the
//! gx-tar-in/gx-copy-in tools, which pack local files for the appliance's
//! `tar_in`. Our own writer rather than the `tar` crate: it needs GNU
//! sparse files (PAX format 1.0) and PAX extended attributes on streams it
//! does not own, in constant memory.
//!
//! Entries: `./` first, then each path as `./rel`; directories, regular
//! files (sparse ones as GNU sparse 1.0 when the filesystem says blocks are
//! missing), hard links (the second and later names of a multiply-linked
//! file), symlinks, character and block devices and FIFOs. Sockets are left
//! out, as GNU tar does. POSIX (pax) format, as `tar --format=pax` writes
//! it: long names and link targets in `path`/`linkpath` records (GNU tar
//! honours PAX records, sparse ones included, only in POSIX-magic
//! archives); sizes and ids too big for octal fields use base-256.

use std::collections::HashMap;
use std::io::Write;

use crate::{Error, FileType, Result, TarOutOpts};

const BLOCK: usize = 512;

/// What a tree offers to be archived.
pub trait TarSource {
    /// lstat of a path (relative to the archive's root: `""` is the root).
    fn lstat(&self, rel: &str) -> Result<gx_fs::Stat>;
    /// Names in a directory, without `.` and `..`.
    fn names(&self, rel: &str) -> Result<Vec<String>>;
    fn readlink(&self, rel: &str) -> Result<String>;
    /// Reads file bytes at `offset`; 0 at the end.
    fn read_at(&self, rel: &str, offset: u64, buf: &mut [u8]) -> Result<usize>;
    /// Extended attributes (name, value); empty when the source has none.
    fn xattrs(&self, rel: &str) -> Result<Vec<(String, Vec<u8>)>>;
}

/// What to put in the archive.
#[derive(Debug, Clone, Default)]
pub struct TarOptions {
    /// Glob patterns (`*`, `?`, `[...]`) matched against each path relative
    /// to the root (without `./`) and against its last component.
    pub excludes: Vec<String>,
    /// Every extended attribute, as `SCHILY.xattr.*` PAX records.
    pub xattrs: bool,
    /// Only `security.selinux`.
    pub selinux: bool,
    /// Leave out the `./` entry of the root, so unpacking the archive does
    /// not change the target directory's own mode, owner and times (what
    /// `tar -C DIR -cf - NAME` gives, as gx-fish's `copy-in` sends).
    pub skip_root: bool,
}

impl TarOptions {
    pub(crate) fn from_opts(o: &TarOutOpts) -> TarOptions {
        TarOptions {
            excludes: o.excludes.clone().unwrap_or_default(),
            xattrs: o.xattrs.unwrap_or(false),
            selinux: o.selinux.unwrap_or(false),
            skip_root: false,
        }
    }
}

/// Writes the tree of `src` as a tar stream into `out`, compressed as
/// `compress` says (`gzip` in-process; `xz`, `zstd`, `bzip2` through the
/// host's programs).
pub fn write_archive(
    src: &dyn TarSource,
    out: &mut dyn Write,
    opts: &TarOptions,
    compress: Option<&str>,
) -> Result<()> {
    match compress {
        None | Some("") | Some("none") => write_tar(src, out, opts),
        Some("gzip") => {
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            write_tar(src, &mut gz, opts)?;
            gz.finish()
                .map_err(|e| Error::io("tar: finishing the gzip stream", e))?;
            Ok(())
        }
        Some(prog @ ("xz" | "zstd" | "bzip2")) => {
            crate::tar::through_program(prog, out, |w| write_tar(src, w, opts))
        }
        Some(other) => Err(Error::invalid(format!(
            "tar: unknown compress type \"{other}\" (gzip, xz, zstd or bzip2)"
        ))),
    }
}

/// Runs `fill` writing into `prog -c`'s stdin, copying its stdout to `out`
/// as it comes (a thread drains the program so neither side blocks).
pub(crate) fn through_program(
    prog: &str,
    out: &mut dyn Write,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    let mut child = Command::new(prog)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("tar: running {prog}"), e))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::invalid("tar: no stdout"))?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    struct Pipe<'a> {
        stdin: std::process::ChildStdin,
        rx: &'a mpsc::Receiver<Vec<u8>>,
        out: &'a mut dyn Write,
    }
    impl Write for Pipe<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let n = self.stdin.write(b)?;
            while let Ok(chunk) = self.rx.try_recv() {
                self.out.write_all(&chunk)?;
            }
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.stdin.flush()
        }
    }
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| Error::invalid("tar: no stdin"))?;
    let mut pipe = Pipe {
        stdin,
        rx: &rx,
        out,
    };
    let r = fill(&mut pipe);
    let Pipe { stdin, out, .. } = pipe;
    drop(stdin);
    for chunk in rx.iter() {
        out.write_all(&chunk)
            .map_err(|e| Error::io("tar: writing the archive", e))?;
    }
    let _ = reader.join();
    let status = child
        .wait()
        .map_err(|e| Error::io(format!("tar: waiting for {prog}"), e))?;
    r?;
    if !status.success() {
        return Err(Error::invalid(format!("tar: {prog} failed ({status})")));
    }
    Ok(())
}

fn write_tar(src: &dyn TarSource, out: &mut dyn Write, opts: &TarOptions) -> Result<()> {
    let mut w = Writer {
        out,
        links: HashMap::new(),
    };
    let root = src.lstat("")?;
    if root.file_type() != FileType::Directory {
        return Err(Error::invalid("tar: the source is not a directory"));
    }
    if !opts.skip_root {
        w.entry(src, "", "./", &root, opts)?;
    }
    w.walk(src, "", opts, 0)?;
    // Two zero blocks end the archive.
    w.out
        .write_all(&[0u8; BLOCK * 2])
        .map_err(|e| Error::io("tar: writing the archive", e))?;
    Ok(())
}

struct Writer<'a> {
    out: &'a mut dyn Write,
    /// (dev, ino) of multiply-linked files -> the first name archived.
    links: HashMap<(u64, u64), String>,
}

fn io(e: std::io::Error) -> Error {
    Error::io("tar: writing the archive", e)
}

impl Writer<'_> {
    fn walk(
        &mut self,
        src: &dyn TarSource,
        dir: &str,
        opts: &TarOptions,
        depth: usize,
    ) -> Result<()> {
        if depth > crate::path::MAX_DEPTH {
            return Err(Error::corrupt(format!(
                "tar: {dir}: directory tree deeper than {} levels",
                crate::path::MAX_DEPTH
            )));
        }
        let mut names = src.names(dir)?;
        names.sort();
        for n in names {
            let rel = if dir.is_empty() {
                n.clone()
            } else {
                format!("{dir}/{n}")
            };
            if opts
                .excludes
                .iter()
                .any(|p| glob_match(p, &rel) || glob_match(p, &n))
            {
                continue;
            }
            let st = src.lstat(&rel)?;
            let ft = st.file_type();
            let name = if ft == FileType::Directory {
                format!("./{rel}/")
            } else {
                format!("./{rel}")
            };
            self.entry(src, &rel, &name, &st, opts)?;
            if ft == FileType::Directory {
                self.walk(src, &rel, opts, depth + 1)?;
            }
        }
        Ok(())
    }

    fn entry(
        &mut self,
        src: &dyn TarSource,
        rel: &str,
        name: &str,
        st: &gx_fs::Stat,
        opts: &TarOptions,
    ) -> Result<()> {
        let ft = st.file_type();
        if ft == FileType::Socket || ft == FileType::Unknown {
            return Ok(());
        }
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        if opts.xattrs || opts.selinux {
            for (k, v) in src.xattrs(rel)? {
                if opts.xattrs || k == "security.selinux" {
                    pax.push((format!("SCHILY.xattr.{k}"), v));
                }
            }
        }
        let mut h = Header::new(st);
        // A second name of a multiply-linked file is a hard link.
        if ft == FileType::Regular && st.nlink > 1 {
            if let Some(first) = self.links.get(&(st.dev, st.ino)) {
                h.typeflag = b'1';
                h.linkname = first.clone();
                h.size = 0;
                return self.emit(name, h, &pax, |_| Ok(()));
            }
            self.links.insert((st.dev, st.ino), name.to_string());
        }
        match ft {
            FileType::Directory => {
                h.typeflag = b'5';
                h.size = 0;
                self.emit(name, h, &pax, |_| Ok(()))
            }
            FileType::Symlink => {
                h.typeflag = b'2';
                h.size = 0;
                h.linkname = src.readlink(rel)?;
                self.emit(name, h, &pax, |_| Ok(()))
            }
            FileType::CharDevice | FileType::BlockDevice | FileType::Fifo => {
                h.typeflag = match ft {
                    FileType::CharDevice => b'3',
                    FileType::BlockDevice => b'4',
                    _ => b'6',
                };
                h.size = 0;
                h.devmajor = ((st.rdev >> 8) & 0xfff) | ((st.rdev >> 32) & !0xfff);
                h.devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & !0xff);
                self.emit(name, h, &pax, |_| Ok(()))
            }
            _ => {
                // Regular. Sparse when the filesystem allocated less than
                // the size (holes): find the data runs, then archive only them.
                let allocated = st.blocks.saturating_mul(512);
                if st.size > 0 && allocated < st.size {
                    let map = data_runs(src, rel, st.size)?;
                    return self.emit_sparse(src, rel, name, h, pax, &map, st.size);
                }
                let size = st.size;
                self.emit(name, h, &pax, |w| copy_range(src, rel, 0, size, w))
            }
        }
    }

    /// Writes long-name/PAX records as needed, the header, then the data
    /// (exactly `h.size` bytes from `data`) padded to a block.
    fn emit(
        &mut self,
        name: &str,
        mut h: Header,
        pax: &[(String, Vec<u8>)],
        data: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let mut recs: Vec<(String, Vec<u8>)> = Vec::new();
        if name.len() >= 100 {
            recs.push(("path".into(), name.as_bytes().to_vec()));
        }
        if h.linkname.len() >= 100 {
            recs.push(("linkpath".into(), h.linkname.as_bytes().to_vec()));
        }
        recs.extend(pax.iter().cloned());
        if !recs.is_empty() {
            let body = pax_body(&recs);
            let mut ph = Header::empty();
            ph.typeflag = b'x';
            ph.size = body.len() as u64;
            let base = name.trim_end_matches('/').rsplit('/').next().unwrap_or("x");
            ph.write(self.out, &format!("./PaxHeaders/{base}"), "")?;
            self.out.write_all(&body).map_err(io)?;
            pad(self.out, body.len() as u64)?;
        }
        let size = h.size;
        let linkname = std::mem::take(&mut h.linkname);
        h.write(self.out, name, &linkname)?;
        let mut counted = CountingWriter {
            inner: self.out,
            n: 0,
        };
        data(&mut counted)?;
        if counted.n != size {
            return Err(Error::corrupt(format!(
                "tar: {name}: read {} bytes of a {size}-byte file (it changed?)",
                counted.n
            )));
        }
        pad(self.out, size)
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_sparse(
        &mut self,
        src: &dyn TarSource,
        rel: &str,
        name: &str,
        mut h: Header,
        mut pax: Vec<(String, Vec<u8>)>,
        map: &[(u64, u64)],
        realsize: u64,
    ) -> Result<()> {
        // GNU sparse 1.0: the real name and size in PAX records, the map at
        // the start of the data (decimal numbers, one per line, padded).
        pax.push(("GNU.sparse.major".into(), b"1".to_vec()));
        pax.push(("GNU.sparse.minor".into(), b"0".to_vec()));
        pax.push(("GNU.sparse.name".into(), name.as_bytes().to_vec()));
        pax.push((
            "GNU.sparse.realsize".into(),
            realsize.to_string().into_bytes(),
        ));
        let mut maptext = format!("{}\n", map.len());
        for (off, len) in map {
            maptext.push_str(&format!("{off}\n{len}\n"));
        }
        let mut mapbytes = maptext.into_bytes();
        let padded = mapbytes.len().div_ceil(BLOCK) * BLOCK;
        mapbytes.resize(padded, 0);
        let data: u64 = map.iter().map(|(_, l)| l).sum();
        h.size = mapbytes.len() as u64 + data;
        let (dir, base) = match name.rfind('/') {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => ("", name),
        };
        let stored = format!("{dir}/GNUSparseFile.0/{base}");
        self.emit(&stored, h, &pax, |w| {
            w.write_all(&mapbytes).map_err(io)?;
            for &(off, len) in map {
                copy_range(src, rel, off, len, w)?;
            }
            Ok(())
        })
    }
}

/// The data runs of a file: 4 KiB blocks that are not all zero, merged.
/// A file of nothing but zeroes has one empty run at its end, as GNU tar
/// records it.
fn data_runs(src: &dyn TarSource, rel: &str, size: u64) -> Result<Vec<(u64, u64)>> {
    const GRAIN: usize = 4096;
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    while pos < size {
        let want = usize::try_from(size - pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = fill(src, rel, pos, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        for (i, chunk) in buf[..n].chunks(GRAIN).enumerate() {
            if chunk.iter().any(|&b| b != 0) {
                let off = pos + (i * GRAIN) as u64;
                match runs.last_mut() {
                    Some((o, l)) if *o + *l == off => *l += chunk.len() as u64,
                    _ => runs.push((off, chunk.len() as u64)),
                }
            }
        }
        pos += n as u64;
    }
    if runs.last().map(|(o, l)| o + l) != Some(size) {
        runs.push((size, 0));
    }
    Ok(runs)
}

fn fill(src: &dyn TarSource, rel: &str, mut pos: u64, buf: &mut [u8]) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = src.read_at(rel, pos, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
        pos += n as u64;
    }
    Ok(done)
}

fn copy_range(src: &dyn TarSource, rel: &str, off: u64, len: u64, w: &mut dyn Write) -> Result<()> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(1 << 20).clamp(1, 1 << 20)];
    let mut pos = off;
    let end = off.saturating_add(len);
    while pos < end {
        let want = usize::try_from(end - pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = fill(src, rel, pos, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n]).map_err(io)?;
        pos += n as u64;
    }
    Ok(())
}

struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    n: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(b)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn pad(out: &mut dyn Write, size: u64) -> Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem]).map_err(io)?;
    }
    Ok(())
}

/// PAX records: `LEN key=value\n`, LEN counting itself.
fn pax_body(recs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in recs {
        let rest = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len.to_string().len() + rest != len {
            len = len.to_string().len() + rest;
        }
        body.extend_from_slice(format!("{len} {k}=").as_bytes());
        body.extend_from_slice(v);
        body.push(b'\n');
    }
    body
}

struct Header {
    mode: u64,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    typeflag: u8,
    linkname: String,
    devmajor: u64,
    devminor: u64,
}

impl Header {
    fn empty() -> Header {
        Header {
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            typeflag: b'0',
            linkname: String::new(),
            devmajor: 0,
            devminor: 0,
        }
    }

    fn new(st: &gx_fs::Stat) -> Header {
        Header {
            mode: u64::from(st.mode & 0o7777),
            uid: u64::from(st.uid),
            gid: u64::from(st.gid),
            size: st.size,
            mtime: u64::try_from(st.mtime.sec).unwrap_or(0),
            ..Header::empty()
        }
    }

    /// The 512-byte POSIX header; `name` and `linkname` cut to their
    /// fields (a PAX record went before when they do not fit).
    fn write(&self, out: &mut dyn Write, name: &str, linkname: &str) -> Result<()> {
        let mut b = [0u8; BLOCK];
        put_str(&mut b[0..100], name);
        put_num(&mut b[100..108], self.mode);
        put_num(&mut b[108..116], self.uid);
        put_num(&mut b[116..124], self.gid);
        put_num(&mut b[124..136], self.size);
        put_num(&mut b[136..148], self.mtime);
        b[156] = self.typeflag;
        put_str(&mut b[157..257], linkname);
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        if matches!(self.typeflag, b'3' | b'4') {
            put_num(&mut b[329..337], self.devmajor);
            put_num(&mut b[337..345], self.devminor);
        }
        // The checksum is computed with its own field as spaces.
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
        let cs = format!("{sum:06o}\0 ");
        b[148..156].copy_from_slice(cs.as_bytes());
        out.write_all(&b).map_err(io)
    }
}

fn put_str(field: &mut [u8], s: &str) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Octal with a NUL, or GNU base-256 when it does not fit.
fn put_num(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:o}");
    if s.len() <= digits {
        let pad = digits - s.len();
        for x in field.iter_mut().take(pad) {
            *x = b'0';
        }
        field[pad..digits].copy_from_slice(s.as_bytes());
        field[digits] = 0;
    } else {
        for x in field.iter_mut() {
            *x = 0;
        }
        field[0] = 0x80;
        let bytes = v.to_be_bytes();
        let n = field.len();
        let take = bytes.len().min(n - 1);
        field[n - take..].copy_from_slice(&bytes[bytes.len() - take..]);
    }
}

/// fnmatch(3) without flags: `*`, `?`, `[...]` (with `!` or `^`), `\` escapes.
pub(crate) fn glob_match(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    glob_at(&p, &t, 0)
}

fn glob_at(p: &[char], t: &[char], depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let (mut pi, mut ti) = (0, 0);
    while pi < p.len() {
        match p[pi] {
            '*' => {
                while pi < p.len() && p[pi] == '*' {
                    pi += 1;
                }
                if pi == p.len() {
                    return true;
                }
                return (ti..=t.len()).any(|k| glob_at(&p[pi..], &t[k..], depth + 1));
            }
            '?' => {
                if ti >= t.len() {
                    return false;
                }
            }
            '[' => {
                if ti >= t.len() {
                    return false;
                }
                let Some((ok, next)) = class(p, pi, t[ti]) else {
                    // An unterminated [ is literal.
                    if t[ti] != '[' {
                        return false;
                    }
                    pi += 1;
                    ti += 1;
                    continue;
                };
                if !ok {
                    return false;
                }
                pi = next;
                ti += 1;
                continue;
            }
            '\\' if pi + 1 < p.len() => {
                pi += 1;
                if ti >= t.len() || t[ti] != p[pi] {
                    return false;
                }
            }
            c => {
                if ti >= t.len() || t[ti] != c {
                    return false;
                }
            }
        }
        pi += 1;
        ti += 1;
    }
    ti == t.len()
}

/// Matches `c` against the class at `p[i]` (`[`); (matched, index after `]`).
fn class(p: &[char], i: usize, c: char) -> Option<(bool, usize)> {
    let mut j = i + 1;
    let negate = matches!(p.get(j), Some('!' | '^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    while j < p.len() {
        if p[j] == ']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if j + 2 < p.len() && p[j + 1] == '-' && p[j + 2] != ']' {
            if p[j] <= c && c <= p[j + 2] {
                matched = true;
            }
            j += 3;
        } else {
            if p[j] == c {
                matched = true;
            }
            j += 1;
        }
    }
    None
}

/// The direct engine as a tar source: paths below `root`.
pub(crate) fn tar_out(
    d: &crate::direct::Direct,
    root: &str,
    out: &mut dyn Write,
    o: &TarOutOpts,
) -> Result<()> {
    let src = DirectSource { d, root };
    write_archive(&src, out, &TarOptions::from_opts(o), o.compress.as_deref())
}

struct DirectSource<'a> {
    d: &'a crate::direct::Direct,
    root: &'a str,
}

impl DirectSource<'_> {
    fn full(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root.to_string()
        } else {
            crate::path::child(self.root, rel)
        }
    }
}

impl TarSource for DirectSource<'_> {
    fn lstat(&self, rel: &str) -> Result<gx_fs::Stat> {
        if rel.is_empty() {
            self.d.stat(self.root)
        } else {
            self.d.lstat(&self.full(rel))
        }
    }
    fn names(&self, rel: &str) -> Result<Vec<String>> {
        Ok(self
            .d
            .read_dir(&self.full(rel))?
            .into_iter()
            .map(|e| e.name)
            .collect())
    }
    fn readlink(&self, rel: &str) -> Result<String> {
        self.d.readlink(&self.full(rel))
    }
    fn read_at(&self, rel: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.d.read_file_at(&self.full(rel), offset, buf)
    }
    fn xattrs(&self, rel: &str) -> Result<Vec<(String, Vec<u8>)>> {
        match self.d.xattr_pairs(&self.full(rel)) {
            Ok(v) => Ok(v),
            Err(e) if e.kind() == crate::ErrorKind::Unsupported => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// Local files as a tar source: the directory `dir`, or (with `only`) a
/// root holding just one of its entries, so `tar -C dir -cf - name` and
/// `LocalSource::new(dir, Some(name))` archive the same tree (with
/// [`TarOptions::skip_root`]). Extended attributes are not read (GNU tar
/// leaves them out without `--xattrs`).
#[derive(Debug, Clone)]
pub struct LocalSource {
    dir: std::path::PathBuf,
    only: Option<String>,
}

impl LocalSource {
    pub fn new(dir: impl Into<std::path::PathBuf>, only: Option<&str>) -> LocalSource {
        LocalSource {
            dir: dir.into(),
            only: only.map(str::to_string),
        }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        if rel.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(rel)
        }
    }
}

fn local_err(what: &str, p: &std::path::Path, e: std::io::Error) -> Error {
    Error::io(format!("{what}: {}", p.display()), e)
}

impl TarSource for LocalSource {
    fn lstat(&self, rel: &str) -> Result<gx_fs::Stat> {
        use std::os::unix::fs::MetadataExt;
        let p = self.path(rel);
        let m = std::fs::symlink_metadata(&p).map_err(|e| local_err("lstat", &p, e))?;
        let ts = |sec: i64, nsec: i64| gx_fs::Timespec { sec, nsec };
        Ok(gx_fs::Stat {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            nlink: m.nlink(),
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev(),
            size: m.size(),
            blksize: m.blksize(),
            blocks: m.blocks(),
            atime: ts(m.atime(), m.atime_nsec()),
            mtime: ts(m.mtime(), m.mtime_nsec()),
            ctime: ts(m.ctime(), m.ctime_nsec()),
        })
    }

    fn names(&self, rel: &str) -> Result<Vec<String>> {
        if rel.is_empty() {
            if let Some(only) = &self.only {
                return Ok(vec![only.clone()]);
            }
        }
        let p = self.path(rel);
        let mut v = Vec::new();
        for e in std::fs::read_dir(&p).map_err(|e| local_err("opendir", &p, e))? {
            let e = e.map_err(|e| local_err("readdir", &p, e))?;
            match e.file_name().into_string() {
                Ok(n) => v.push(n),
                Err(n) => {
                    return Err(Error::unsupported(format!(
                        "tar: {}: the name {n:?} is not UTF-8",
                        p.display()
                    )));
                }
            }
        }
        Ok(v)
    }

    fn readlink(&self, rel: &str) -> Result<String> {
        let p = self.path(rel);
        let t = std::fs::read_link(&p).map_err(|e| local_err("readlink", &p, e))?;
        Ok(t.to_string_lossy().into_owned())
    }

    fn read_at(&self, rel: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        use std::os::unix::fs::FileExt;
        let p = self.path(rel);
        let f = std::fs::File::open(&p).map_err(|e| local_err("open", &p, e))?;
        f.read_at(buf, offset).map_err(|e| local_err("read", &p, e))
    }

    fn xattrs(&self, _rel: &str) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.log", "a.log"));
        assert!(glob_match("a/*", "a/b"));
        assert!(!glob_match("*.log", "a.txt"));
        assert!(glob_match("f?o", "foo"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(glob_match("\\*", "*"));
    }

    #[test]
    fn pax_lengths_count_themselves() {
        let b = pax_body(&[("k".into(), b"v".to_vec())]);
        assert_eq!(b, b"6 k=v\n");
        let long = "x".repeat(95);
        let b = pax_body(&[("k".into(), long.as_bytes().to_vec())]);
        let s = String::from_utf8(b).unwrap();
        let len: usize = s.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(len, s.len());
    }

    #[test]
    fn numbers_fit_or_go_base256() {
        let mut f = [0u8; 12];
        put_num(&mut f, 0o644);
        assert_eq!(&f, b"00000000644\0");
        put_num(&mut f, 1 << 40);
        assert_eq!(f[0], 0x80);
        assert_eq!(u64::from_be_bytes(f[4..12].try_into().unwrap()), 1 << 40);
    }
}

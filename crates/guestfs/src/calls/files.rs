//! File calls composed from the engines' primitives (`download`, `statns`,
//! `lstatns`, `ls`, `readlink`, ...): one implementation for both engines,
//! streaming where the data can be large, with libguestfs's limits.

use std::io::{Read, Write};

use crate::checksum::Hasher;
use crate::path::child;
use crate::{
    Error, ErrorKind, FileType, GrepOpts, Handle, IsBlockdevOpts, IsChardevOpts, IsDirOpts,
    IsFifoOpts, IsFileOpts, IsSocketOpts, Result, Stat, StatExt, StatNs, TarOutOpts,
};

/// The most a call returns in one reply (libguestfs's protocol limit is
/// about 4 MiB; it refuses `cat`/`read_file` of bigger files the same way).
pub(crate) const REPLY_MAX: u64 = 2 * 1024 * 1024;

/// Collects a stream, failing once it passes `max` bytes.
struct Capped {
    buf: Vec<u8>,
    max: u64,
    over: bool,
}

impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + b.len() as u64 > self.max {
            self.over = true;
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "file too large for this call",
            ));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Splits a stream into lines without holding more than one line (and at
/// most `REPLY_MAX` bytes of it) in memory.
struct Lines<F: FnMut(&[u8]) -> bool> {
    cur: Vec<u8>,
    each: F,
    stopped: bool,
}

impl<F: FnMut(&[u8]) -> bool> Lines<F> {
    fn new(each: F) -> Self {
        Lines {
            cur: Vec::new(),
            each,
            stopped: false,
        }
    }
    /// The last line, if the file did not end with a newline.
    fn finish(mut self) {
        if !self.cur.is_empty() && !self.stopped {
            let line = std::mem::take(&mut self.cur);
            (self.each)(strip_cr(&line));
        }
    }
}

fn strip_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// A deliberate early end of a stream (head has what it needs); the
/// writer's `stopped` flag tells it from a real failure.
fn stop_error() -> std::io::Error {
    std::io::Error::other("enough lines read")
}

impl<F: FnMut(&[u8]) -> bool> Write for Lines<F> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.stopped {
            return Err(stop_error());
        }
        let mut rest = b;
        while let Some(i) = rest.iter().position(|&c| c == b'\n') {
            self.cur.extend_from_slice(&rest[..i]);
            let line = std::mem::take(&mut self.cur);
            if !(self.each)(strip_cr(&line)) {
                self.stopped = true;
                return Err(stop_error());
            }
            rest = &rest[i + 1..];
        }
        if self.cur.len() as u64 + rest.len() as u64 > REPLY_MAX {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "a line longer than 2 MiB",
            ));
        }
        self.cur.extend_from_slice(rest);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Handle {
    /// The whole of a file, up to `max` bytes, else an error naming it.
    pub(crate) fn read_bounded(&self, name: &str, path: &str, max: u64) -> Result<Vec<u8>> {
        let mut c = Capped {
            buf: Vec::new(),
            max,
            over: false,
        };
        match self.download(path, &mut c) {
            Ok(()) => Ok(c.buf),
            Err(_) if c.over => Err(Error::invalid(format!(
                "{name}: {path}: file is too large for this call (over {max} bytes); \
                     use download"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Streams the lines of `path` into `each` until it returns false.
    fn for_each_line(&self, path: &str, each: impl FnMut(&[u8]) -> bool) -> Result<()> {
        let mut l = Lines::new(each);
        match self.download(path, &mut l) {
            Ok(()) => {
                l.finish();
                Ok(())
            }
            Err(_) if l.stopped => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `read_file`: a file's bytes, up to the reply limit.
    pub(crate) fn impl_read_file(&self, path: &str) -> Result<Vec<u8>> {
        self.read_bounded("read_file", path, REPLY_MAX)
    }

    /// `cat`: a small text file.
    pub(crate) fn impl_cat(&self, path: &str) -> Result<String> {
        Ok(lossy(&self.read_bounded("cat", path, REPLY_MAX)?))
    }

    /// `read_lines`: every line, without its newline.
    pub(crate) fn impl_read_lines(&self, path: &str) -> Result<Vec<String>> {
        let data = self.read_bounded("read_lines", path, REPLY_MAX)?;
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let data = data.strip_suffix(b"\n").unwrap_or(&data);
        Ok(data
            .split(|&c| c == b'\n')
            .map(|l| lossy(strip_cr(l)))
            .collect())
    }

    pub(crate) fn impl_head(&self, path: &str) -> Result<Vec<String>> {
        self.head_n(10, path)
    }

    /// `head_n`: the first n lines; negative n: all but the last -n.
    pub(crate) fn impl_head_n(&self, nrlines: i32, path: &str) -> Result<Vec<String>> {
        if nrlines >= 0 {
            let want = nrlines as usize;
            let mut out = Vec::new();
            if want == 0 {
                self.statns(path)?;
                return Ok(out);
            }
            self.for_each_line(path, |l| {
                out.push(lossy(l));
                out.len() < want
            })?;
            Ok(out)
        } else {
            let mut all = self.read_lines(path)?;
            let keep = all.len().saturating_sub(nrlines.unsigned_abs() as usize);
            all.truncate(keep);
            Ok(all)
        }
    }

    pub(crate) fn impl_tail(&self, path: &str) -> Result<Vec<String>> {
        self.tail_n(10, path)
    }

    /// `tail_n`: the last n lines; negative n: from line -n on.
    pub(crate) fn impl_tail_n(&self, nrlines: i32, path: &str) -> Result<Vec<String>> {
        if nrlines >= 0 {
            let want = nrlines as usize;
            let mut ring = std::collections::VecDeque::with_capacity(want.min(4096));
            if want == 0 {
                self.statns(path)?;
                return Ok(Vec::new());
            }
            self.for_each_line(path, |l| {
                if ring.len() == want {
                    ring.pop_front();
                }
                ring.push_back(lossy(l));
                true
            })?;
            Ok(ring.into_iter().collect())
        } else {
            let skip = (nrlines.unsigned_abs() as usize).saturating_sub(1);
            let mut out = Vec::new();
            let mut n = 0usize;
            self.for_each_line(path, |l| {
                if n >= skip {
                    out.push(lossy(l));
                }
                n += 1;
                true
            })?;
            Ok(out)
        }
    }

    /// `wc_l`: newline characters.
    pub(crate) fn impl_wc_l(&self, path: &str) -> Result<i32> {
        let mut n: i64 = 0;
        self.for_each_byte_chunk(path, |b| {
            n += b.iter().filter(|&&c| c == b'\n').count() as i64;
        })?;
        to_i32("wc_l", n)
    }

    /// `wc_w`: whitespace-separated words.
    pub(crate) fn impl_wc_w(&self, path: &str) -> Result<i32> {
        let mut n: i64 = 0;
        let mut in_word = false;
        self.for_each_byte_chunk(path, |b| {
            for &c in b {
                let space = c.is_ascii_whitespace() || c == 0x0b;
                if !space && !in_word {
                    n += 1;
                }
                in_word = !space;
            }
        })?;
        to_i32("wc_w", n)
    }

    /// `wc_c`: bytes.
    pub(crate) fn impl_wc_c(&self, path: &str) -> Result<i32> {
        let mut n: i64 = 0;
        self.for_each_byte_chunk(path, |b| n += b.len() as i64)?;
        to_i32("wc_c", n)
    }

    fn for_each_byte_chunk(&self, path: &str, mut each: impl FnMut(&[u8])) -> Result<()> {
        struct F<'a>(&'a mut dyn FnMut(&[u8]));
        impl Write for F<'_> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                (self.0)(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        self.download(path, &mut F(&mut each))
    }

    // grep's deprecated spellings.
    pub(crate) fn impl_egrep(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(regex, path, Some(true), None, None, None)
    }
    pub(crate) fn impl_fgrep(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(pattern, path, None, Some(true), None, None)
    }
    pub(crate) fn impl_grepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(regex, path, None, None, Some(true), None)
    }
    pub(crate) fn impl_egrepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(regex, path, Some(true), None, Some(true), None)
    }
    pub(crate) fn impl_fgrepi(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(pattern, path, None, Some(true), Some(true), None)
    }
    pub(crate) fn impl_zgrep(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(regex, path, None, None, None, Some(true))
    }
    pub(crate) fn impl_zegrep(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(regex, path, Some(true), None, None, Some(true))
    }
    pub(crate) fn impl_zfgrep(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(pattern, path, None, Some(true), None, Some(true))
    }
    pub(crate) fn impl_zgrepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(regex, path, None, None, Some(true), Some(true))
    }
    pub(crate) fn impl_zegrepi(&self, regex: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(regex, path, Some(true), None, Some(true), Some(true))
    }
    pub(crate) fn impl_zfgrepi(&self, pattern: &str, path: &str) -> Result<Vec<String>> {
        self.grep_with(pattern, path, None, Some(true), Some(true), Some(true))
    }

    fn grep_with(
        &self,
        regex: &str,
        path: &str,
        extended: Option<bool>,
        fixed: Option<bool>,
        insensitive: Option<bool>,
        compressed: Option<bool>,
    ) -> Result<Vec<String>> {
        self.grep(
            regex,
            path,
            GrepOpts {
                extended,
                fixed,
                insensitive,
                compressed,
            },
        )
    }

    // Tests.

    /// `exists`: the name exists (a dangling symlink does: libguestfs
    /// lstats); false when missing.
    pub(crate) fn impl_exists(&self, path: &str) -> Result<bool> {
        missing_is_false(self.lstatns(path).map(|_| true))
    }

    fn is_type(&self, path: &str, follow: Option<bool>, t: FileType) -> Result<bool> {
        let st = if follow.unwrap_or(false) {
            self.statns(path)
        } else {
            self.lstatns(path)
        };
        missing_is_false(st.map(|s| s.file_type() == t))
    }

    pub(crate) fn impl_is_file(&self, path: &str, opts: IsFileOpts) -> Result<bool> {
        self.is_type(path, opts.followsymlinks, FileType::Regular)
    }
    pub(crate) fn impl_is_dir(&self, path: &str, opts: IsDirOpts) -> Result<bool> {
        self.is_type(path, opts.followsymlinks, FileType::Directory)
    }
    pub(crate) fn impl_is_chardev(&self, path: &str, opts: IsChardevOpts) -> Result<bool> {
        self.is_type(path, opts.followsymlinks, FileType::CharDevice)
    }
    pub(crate) fn impl_is_blockdev(&self, path: &str, opts: IsBlockdevOpts) -> Result<bool> {
        self.is_type(path, opts.followsymlinks, FileType::BlockDevice)
    }
    pub(crate) fn impl_is_fifo(&self, path: &str, opts: IsFifoOpts) -> Result<bool> {
        self.is_type(path, opts.followsymlinks, FileType::Fifo)
    }
    pub(crate) fn impl_is_socket(&self, path: &str, opts: IsSocketOpts) -> Result<bool> {
        self.is_type(path, opts.followsymlinks, FileType::Socket)
    }
    pub(crate) fn impl_is_symlink(&self, path: &str) -> Result<bool> {
        self.is_type(path, Some(false), FileType::Symlink)
    }

    /// `filesize`: following symlinks.
    pub(crate) fn impl_filesize(&self, file: &str) -> Result<i64> {
        Ok(self.statns(file)?.st_size)
    }

    // Stat variants.

    pub(crate) fn impl_stat(&self, path: &str) -> Result<Stat> {
        Ok(old_stat(&self.statns(path)?))
    }
    pub(crate) fn impl_lstat(&self, path: &str) -> Result<Stat> {
        Ok(old_stat(&self.lstatns(path)?))
    }
    pub(crate) fn impl_lstatlist(&self, path: &str, names: &[String]) -> Result<Vec<Stat>> {
        Ok(self
            .lstatnslist(path, names)?
            .iter()
            .map(old_stat)
            .collect())
    }

    /// `readlinklist`: "" for a name that is not a symlink.
    pub(crate) fn impl_readlinklist(&self, path: &str, names: &[String]) -> Result<Vec<String>> {
        let stats = self.lstatnslist(path, names)?;
        let mut out = Vec::with_capacity(names.len());
        for (n, st) in names.iter().zip(stats) {
            out.push(if st.file_type() == FileType::Symlink {
                self.readlink(&child(path, n)).unwrap_or_default()
            } else {
                String::new()
            });
        }
        Ok(out)
    }

    /// `case_sensitive_path`: each component as its directory spells it.
    pub(crate) fn impl_case_sensitive_path(&self, path: &str) -> Result<String> {
        // Directory order, as libguestfs's daemon reads it.
        crate::path::case_sensitive_path(path, |d| {
            Ok(self
                .readdir(d)?
                .into_iter()
                .map(|e| e.name)
                .filter(|n| n != "." && n != "..")
                .collect())
        })
    }

    /// `ll`: `ls -la` of a directory.
    pub(crate) fn impl_ll(&self, directory: &str) -> Result<String> {
        crate::lsla::ll(self, directory)
    }

    /// `ls0`: names, NUL-terminated, into a local file.
    pub(crate) fn impl_ls0(&self, dir: &str, filenames: &mut dyn Write) -> Result<()> {
        for n in self.ls(dir)? {
            filenames
                .write_all(n.as_bytes())
                .and_then(|()| filenames.write_all(b"\0"))
                .map_err(|e| Error::io("ls0: writing the names", e))?;
        }
        Ok(())
    }

    /// `lseek(SEEK_DATA)` (`hole == false`) or `lseek(SEEK_HOLE)` on a guest
    /// file, for gx-mount (not a libguestfs call): the first offset at or
    /// after `offset` in data, or in a hole (end of file included); `None`
    /// for the kernel's ENXIO. The direct engine reads the file's block map
    /// where its filesystem can; elsewhere (the appliance) the whole file
    /// counts as data, which is always a right answer.
    pub fn seek_data(&self, path: &str, offset: u64, hole: bool) -> Result<Option<u64>> {
        self.check_launched("seek_data")?;
        if !self.on_appliance() {
            match self.engine()?.seek_data(path, offset, hole) {
                Err(e) if e.kind() == ErrorKind::Unsupported => {}
                r => return r,
            }
        }
        let size = u64::try_from(self.statns(path)?.st_size).unwrap_or(0);
        Ok(gx_fs::seek_all_data(size, offset, hole))
    }

    /// `find0`: `find`'s names, NUL-terminated, into a local file.
    pub(crate) fn impl_find0(&self, directory: &str, files: &mut dyn Write) -> Result<()> {
        let names = self.read_call(
            "find0",
            |d| d.find_in_walk_order(directory),
            |a| a.find(directory),
        )?;
        for n in names {
            files
                .write_all(n.as_bytes())
                .and_then(|()| files.write_all(b"\0"))
                .map_err(|e| Error::io("find0: writing the names", e))?;
        }
        Ok(())
    }

    /// `du`: KiB used below `path`, as `du -s` counts (hard links once).
    pub(crate) fn impl_du(&self, path: &str) -> Result<i64> {
        let top = self.lstatns(path)?;
        let mut seen = std::collections::HashSet::new();
        let mut blocks: i64 = top.st_blocks;
        if top.file_type() == FileType::Directory {
            seen.insert((top.st_dev, top.st_ino));
            self.du_walk(path, &mut blocks, &mut seen, 0)?;
        }
        // st_blocks counts 512-byte units; du rounds up to KiB.
        Ok((blocks + 1) / 2)
    }

    fn du_walk(
        &self,
        dir: &str,
        blocks: &mut i64,
        seen: &mut std::collections::HashSet<(i64, i64)>,
        depth: usize,
    ) -> Result<()> {
        if depth > crate::path::MAX_DEPTH {
            return Err(Error::corrupt(format!(
                "du: {dir}: directory tree deeper than {} levels",
                crate::path::MAX_DEPTH
            )));
        }
        let names = self.ls(dir)?;
        let stats = self.lstatnslist(dir, &names)?;
        for (n, st) in names.iter().zip(stats) {
            if (st.st_nlink > 1 || st.file_type() == FileType::Directory)
                && !seen.insert((st.st_dev, st.st_ino))
            {
                continue;
            }
            *blocks = blocks.saturating_add(st.st_blocks);
            if st.file_type() == FileType::Directory {
                self.du_walk(&child(dir, n), blocks, seen, depth + 1)?;
            }
        }
        Ok(())
    }

    // Checksums.

    /// `checksum`: of a file (or, through `download`, a device).
    pub(crate) fn impl_checksum(&self, csumtype: &str, path: &str) -> Result<String> {
        let mut h = Hasher::new(csumtype)?;
        self.download(path, &mut h)?;
        Ok(h.finish())
    }

    /// `checksum_device`.
    pub(crate) fn impl_checksum_device(&self, csumtype: &str, device: &str) -> Result<String> {
        let mut h = Hasher::new(csumtype)?;
        self.download(device, &mut h)?;
        Ok(h.finish())
    }

    /// `checksums_out`: `HASH  ./path` for every regular file below.
    pub(crate) fn impl_checksums_out(
        &self,
        csumtype: &str,
        directory: &str,
        sumsfile: &mut dyn Write,
    ) -> Result<()> {
        Hasher::new(csumtype)?;
        for rel in self.find(directory)? {
            let rel = rel.trim_start_matches('/');
            let full = child(directory, rel);
            if self.lstatns(&full)?.file_type() != FileType::Regular {
                continue;
            }
            let mut h = Hasher::new(csumtype)?;
            self.download(&full, &mut h)?;
            writeln!(sumsfile, "{}  ./{rel}", h.finish())
                .map_err(|e| Error::io("checksums_out: writing the sums", e))?;
        }
        Ok(())
    }

    // Archives.

    pub(crate) fn impl_tgz_out(&self, directory: &str, tarball: &mut dyn Write) -> Result<()> {
        self.tar_out(
            directory,
            tarball,
            TarOutOpts {
                compress: Some("gzip".into()),
                ..TarOutOpts::default()
            },
        )
    }
    pub(crate) fn impl_txz_out(&self, directory: &str, tarball: &mut dyn Write) -> Result<()> {
        self.tar_out(
            directory,
            tarball,
            TarOutOpts {
                compress: Some("xz".into()),
                ..TarOutOpts::default()
            },
        )
    }
}

fn missing_is_false(r: Result<bool>) -> Result<bool> {
    match r {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) if e.message().ends_with("Not a directory") => Ok(false),
        Err(e) => Err(e),
    }
}

fn to_i32(name: &str, n: i64) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::invalid(format!("{name}: count {n} does not fit")))
}

/// The deprecated `stat` struct: whole seconds.
fn old_stat(s: &StatNs) -> Stat {
    Stat {
        dev: s.st_dev,
        ino: s.st_ino,
        mode: s.st_mode,
        nlink: s.st_nlink,
        uid: s.st_uid,
        gid: s.st_gid,
        rdev: s.st_rdev,
        size: s.st_size,
        blksize: s.st_blksize,
        blocks: s.st_blocks,
        atime: s.st_atime_sec,
        mtime: s.st_mtime_sec,
        ctime: s.st_ctime_sec,
    }
}

/// `dir/base` of a path as libguestfs's `split_path` cuts it: a trailing
/// slash ignored; no directory for a bare name.
fn split_path(p: &str) -> Result<(Option<String>, String)> {
    if p.is_empty() {
        return Err(Error::invalid(
            "error: argument is zero length or longer than maximum permitted",
        ));
    }
    let p = if p.len() >= 2 {
        p.strip_suffix('/').unwrap_or(p)
    } else {
        p
    };
    Ok(match p.rfind('/') {
        Some(0) => (Some("/".into()), p[1..].to_string()),
        Some(i) => (Some(p[..i].to_string()), p[i + 1..].to_string()),
        None => (None, p.to_string()),
    })
}

impl Handle {
    /// `copy_in`: the host's `tar -cf -` of `localpath` into `tar_in`.
    pub(crate) fn impl_copy_in(&mut self, localpath: &str, remotedir: &str) -> Result<()> {
        if std::fs::metadata(localpath).is_err() {
            return Err(Error::not_found(format!(
                "source ‘{localpath}’ does not exist (or cannot be read)"
            )));
        }
        if !self.is_dir(
            remotedir,
            IsDirOpts {
                followsymlinks: Some(true),
            },
        )? {
            return Err(Error::invalid(format!(
                "target ‘{remotedir}’ is not a directory"
            )));
        }
        let (dir, base) = split_path(localpath)?;
        // Our own archive writer packs the tree (no host tar needed); it
        // runs beside tar_in, joined by a pipe.
        let src = crate::tar::LocalSource::new(dir.as_deref().unwrap_or("."), Some(&base));
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::io("copy_in: pipe", e.into()))?;
        let (rd, wr) = (std::fs::File::from(rd), std::fs::File::from(wr));
        let writer = std::thread::spawn(move || {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, wr);
            let opts = crate::tar::TarOptions {
                skip_root: true,
                ..Default::default()
            };
            crate::tar::write_archive(&src, &mut out, &opts, None)?;
            out.flush()
                .map_err(|e| Error::io("copy_in: writing the archive", e))
        });
        let mut input = rd;
        let r = self.tar_in(&mut input, remotedir, crate::TarInOpts::default());
        // A failed tar_in stops reading: closing our end lets the writer end.
        drop(input);
        let w = writer
            .join()
            .map_err(|_| Error::invalid("copy_in: the archive writer stopped"))?;
        r?;
        w.map_err(|e| Error::new(e.kind(), format!("tar subprocess failed: {e}")))
    }

    /// `copy_out`: a file with `download`, a directory with `tar_out`
    /// unpacked by the host's `tar -xf -` into `localdir/BASENAME`.
    pub(crate) fn impl_copy_out(&self, remotepath: &str, localdir: &str) -> Result<()> {
        if !std::fs::metadata(localdir).is_ok_and(|m| m.is_dir()) {
            return Err(Error::invalid(format!(
                "target ‘{localdir}’ is not a directory"
            )));
        }
        let (_, base) = split_path(remotepath)?;
        let follow = |b| Some(b);
        if self.is_file(
            remotepath,
            IsFileOpts {
                followsymlinks: follow(true),
            },
        )? {
            let target = std::path::Path::new(localdir).join(&base);
            let f = std::fs::File::create(&target)
                .map_err(|e| Error::io(format!("copy_out: {}", target.display()), e))?;
            let mut w = std::io::BufWriter::new(f);
            self.download(remotepath, &mut w)?;
            return w
                .flush()
                .map_err(|e| Error::io(format!("copy_out: {}", target.display()), e));
        }
        if !self.is_dir(
            remotepath,
            IsDirOpts {
                followsymlinks: follow(true),
            },
        )? {
            return Err(Error::invalid(format!(
                "‘{remotepath}’ is not a file or directory"
            )));
        }
        let base = if base.is_empty() || base == "/" {
            ".".to_string()
        } else {
            base
        };
        let target = std::path::Path::new(localdir).join(&base);
        match std::fs::create_dir(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(format!("copy_out: {}", target.display()), e)),
        }
        let mut child = std::process::Command::new("tar")
            .arg("-C")
            .arg(&target)
            .args(["-xf", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("copy_out: running tar", e))?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| Error::invalid("copy_out: tar has no stdin"))?;
        let r = self.tar_out(remotepath, &mut stdin, TarOutOpts::default());
        drop(stdin);
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("copy_out: waiting for tar", e))?;
        r?;
        if !out.status.success() {
            return Err(Error::invalid(format!(
                "tar subprocess failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}

/// `pwrite`s at least this big go through the appliance's staging disk when
/// it has one (see [`gx_appliance::Appliance::pwrite_staged`]): below it the
/// one extra call and the disk read cost more than the channel saves.
const STAGED_MIN: usize = 256 << 10;

/// `upload`: a source of at least [`STAGED_MIN`] bytes goes through the
/// staging disk, a smaller one in the call's stream.
impl Handle {
    pub(crate) fn impl_upload(&mut self, filename: &mut dyn Read, remote: &str) -> Result<()> {
        self.appliance_call("upload", true, |a| {
            let mut head = Vec::with_capacity(STAGED_MIN);
            (&mut *filename)
                .take(STAGED_MIN as u64)
                .read_to_end(&mut head)
                .map_err(|source| gx_appliance::Error::Local {
                    call: "upload",
                    source,
                })?;
            let mut src = (&head[..]).chain(filename);
            if head.len() == STAGED_MIN && a.has_staging() {
                a.upload_staged(&mut src, remote)
            } else {
                a.upload(&mut src, remote)
            }
        })
    }
}

/// The most a `pwrite` carries in its call: a frame, less room for the
/// header and the path.
const PLAIN_MAX: usize = gx_protocol::MAX_FRAME - (64 << 10);

impl Handle {
    /// `pwrite`: large writes by the staging disk (their bytes enter the
    /// guest by DMA instead of through the channel), the others in the call.
    pub(crate) fn impl_pwrite(&mut self, path: &str, content: &[u8], offset: i64) -> Result<i32> {
        self.appliance_call("pwrite", true, |a| {
            if content.len() >= STAGED_MIN && a.has_staging() {
                a.pwrite_staged(path, content, offset)
            } else {
                // In the call, the bytes fit one frame: more (which no frame
                // could carry) is a short write, which callers continue.
                let n = content.len().min(PLAIN_MAX);
                a.pwrite(path, &content[..n], offset)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn split_paths_as_libguestfs() {
        let s = |p| split_path(p).unwrap();
        let some = |d: &str, b: &str| (Some(d.to_string()), b.to_string());
        assert_eq!(s("/"), some("/", ""));
        assert_eq!(s("/foo"), some("/", "foo"));
        assert_eq!(s("/foo/"), some("/", "foo"));
        assert_eq!(s("a/b/c"), some("a/b", "c"));
        assert_eq!(s("name"), (None, "name".to_string()));
        assert!(split_path("").is_err());
    }
}

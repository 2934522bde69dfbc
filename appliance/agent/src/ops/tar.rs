//! tar_in and tar_out: GNU tar in the appliance, reading from or writing to
//! the call's data stream, optionally through gzip, xz or zstd, with
//! extended attributes, SELinux labels and ACLs on request.
//!
//! Must not: leave tar running after the call, or lose tar's complaint (its
//! standard error goes to a file read back on failure, never into the pipe
//! that carries the archive).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use gx_protocol::{FileOut, TarInOpts, TarOutOpts};

use super::paths::guest;
use super::{R, err, fail, run};

/// tar's option for a compression: `--use-compress-program` with the
/// program's full path. GNU tar starts it through /bin/sh, which here is
/// busybox, whose own (decompress-only) xz would otherwise win.
fn compress_flag(c: Option<&str>) -> R<Option<String>> {
    let Some(c) = c else {
        return Ok(None);
    };
    let prog = match c {
        "gzip" | "xz" | "zstd" | "bzip2" | "lzop" | "lzma" | "compress" => c,
        other => {
            return Err(err(
                libc::EINVAL,
                format!("unknown compression type: {other}"),
            ));
        }
    };
    let path = run::which(prog).ok_or_else(|| {
        err(
            libc::ENOTSUP,
            format!("{prog} is not in this appliance (compression type {c})"),
        )
    })?;
    Ok(Some(format!("--use-compress-program={}", path.display())))
}

/// A scratch file in the appliance's /tmp, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        Scratch(PathBuf::from(format!(
            "/tmp/gx-{what}-{}",
            N.fetch_add(1, Ordering::Relaxed)
        )))
    }

    fn text(&self) -> String {
        fs::read_to_string(&self.0)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether chown works in `dir` (it does not on FAT): tar is then told to
/// keep its own ownership, as libguestfs does.
fn chown_supported(dir: &Path, shown: &str) -> R<bool> {
    let probe = dir.join(format!(".gx-chown-{}", std::process::id()));
    let f = File::create(&probe).map_err(|e| fail(e, shown))?;
    let r = std::os::unix::fs::fchown(&f, Some(1000), Some(1000));
    drop(f);
    let _ = fs::remove_file(&probe);
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(false),
        Err(e) => Err(fail(e, "unexpected error in fchown")),
    }
}

pub fn tar_in(dir: &str, o: &TarInOpts, data: &mut dyn Read) -> R<()> {
    let filter = compress_flag(o.compress.as_deref())?;
    let d = guest(dir)?;
    if !fs::metadata(&d).map_err(|e| fail(e, dir))?.is_dir() {
        return Err(err(libc::ENOTDIR, format!("{dir}: not a directory")));
    }
    let can_chown = chown_supported(&d, dir)?;
    let errfile = Scratch::new("tar-in");
    let mut t = run::prog("tar").arg("-C").arg_path(&d);
    if let Some(f) = filter {
        t = t.arg(f);
    }
    t = t.args(["-xf", "-"]);
    if !can_chown {
        t = t.arg("--no-same-owner");
    }
    if o.xattrs == Some(true) {
        t = t.args(["--xattrs", "--xattrs-include=*"]);
    }
    if o.selinux == Some(true) {
        t = t.arg("--selinux");
    }
    if o.acls == Some(true) {
        t = t.arg("--acls");
    }
    if o.keepdirlink == Some(true) {
        t = t.arg("--keep-directory-symlink");
    }
    let stderr = File::create(&errfile.0).map_err(|e| fail(e, "tar-in error file"))?;
    let mut child = t
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| fail(e, "tar"))?;
    let fed = match child.stdin.take() {
        Some(mut w) => feed(data, &mut w),
        None => Err(io::Error::other("no pipe to tar")),
    };
    let status = child.wait().map_err(|e| fail(e, "tar"))?;
    match fed {
        Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
            Err(err(libc::ECANCELED, "file upload cancelled"))
        }
        // tar gave up (a bad archive): its own words say why.
        _ if !status.success() => Err(err(
            libc::EIO,
            format!(
                "tar subcommand failed on directory: {dir}: {}",
                errfile.text()
            ),
        )),
        Err(e) => Err(err(
            e.raw_os_error().unwrap_or(libc::EIO),
            format!("write error on directory: {dir}: {}", super::strerror(&e)),
        )),
        Ok(()) => Ok(()),
    }
}

/// The upload stream into tar's standard input. An error reading the stream
/// (the host cancelled) is kept apart from tar going away (EPIPE).
fn feed(data: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; gx_protocol::CHUNK_SIZE];
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
    }
}

pub fn tar_out(dir: &str, o: &TarOutOpts, out: &mut dyn FileOut) -> R<()> {
    let filter = compress_flag(o.compress.as_deref())?;
    let d = guest(dir)?;
    let m = fs::metadata(&d).map_err(|e| fail(e, format!("stat: {dir}")))?;
    if !m.is_dir() {
        return Err(err(libc::ENOTDIR, format!("{dir}: not a directory")));
    }
    let excludes = Scratch::new("tar-out-excludes");
    let mut t = run::prog("tar").arg("-C").arg_path(&d);
    if let Some(f) = filter {
        t = t.arg(f);
    }
    if o.numericowner == Some(true) {
        t = t.arg("--numeric-owner");
    }
    if let Some(x) = o.excludes.as_ref().filter(|x| !x.is_empty()) {
        let mut list = String::new();
        for e in x {
            list.push_str(e);
            list.push('\n');
        }
        fs::write(&excludes.0, list).map_err(|e| fail(e, "tar-out excludes file"))?;
        t = t.arg("-X").arg_path(&excludes.0);
    }
    if o.xattrs == Some(true) {
        t = t.arg("--xattrs");
    }
    if o.selinux == Some(true) {
        t = t.arg("--selinux");
    }
    if o.acls == Some(true) {
        t = t.arg("--acls");
    }
    t = t.args(["-cf", "-", "."]);
    let errfile = Scratch::new("tar-out");
    let stderr = File::create(&errfile.0).map_err(|e| fail(e, "tar-out error file"))?;
    let mut child = t
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| fail(e, "tar"))?;
    let copied = match child.stdout.take() {
        Some(mut r) => copy_out(&mut r, out),
        None => Err(io::Error::other("no pipe from tar")),
    };
    if copied.is_err() {
        // The host went away or cancelled: stop tar rather than wait for it.
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| fail(e, "tar"))?;
    copied.map_err(|e| fail(e, format!("tar_out: {dir}")))?;
    if !status.success() {
        return Err(err(
            libc::EIO,
            format!(
                "tar subcommand failed on directory: {dir}: {}",
                errfile.text()
            ),
        ));
    }
    Ok(())
}

fn copy_out(r: &mut dyn Read, out: &mut dyn FileOut) -> io::Result<()> {
    let mut buf = vec![0u8; gx_protocol::CHUNK_SIZE];
    loop {
        // Fill whole chunks: the pipe hands out at most 64 KiB at a time.
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
        if n < buf.len() {
            return Ok(());
        }
    }
}

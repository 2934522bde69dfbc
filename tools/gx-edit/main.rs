//! gx-edit: edit a file in a virtual machine, like virt-edit.
//!
//! Each file is downloaded (by the direct engine: no VM yet) into a private
//! temporary copy, changed there by `$EDITOR` (default `vi`) or by a Perl
//! expression (`-e`, run through the host's `perl` exactly as virt-edit runs
//! it, `$lineno` included), and only when its bytes changed is the appliance
//! started to put it back. The new content is uploaded to a random name in
//! the same directory, given the old file's owner, mode and extended
//! attributes (SELinux label included), and renamed over the old file, so
//! the guest sees either the old file or the new one, never half of one. A
//! symlink is followed: its target is replaced and the link stays. A file
//! that does not exist is an error, never created.
//!
//! The temporary copies are removed on every way out: errors, panics, and
//! SIGINT/SIGTERM/SIGHUP/SIGQUIT (which a waiting thread turns into a clean
//! exit; while the editor runs, ^C and ^\ belong to the editor, as with
//! `system(3)`).

use anyhow::{Context, Result, anyhow, bail};
use gx_cli::Common;
use gx_guestfs::{CopyAttributesOpts, Handle};
use nix::sys::signal::{SigSet, Signal};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const PROG: &str = "gx-edit";

/// Temporary copies alive now: what a signal must remove before exiting.
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// True while `$EDITOR` or perl runs: ^C and ^\ are theirs, not ours.
static CHILD_RUNNING: AtomicBool = AtomicBool::new(false);

fn main() {
    gx_cli::run(PROG, real_main)
}

fn usage_error(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("{PROG}: error: {msg}");
    }
    eprintln!("Try ‘{PROG} --help’ for more information.");
    std::process::exit(1)
}

/// How each file is changed.
enum How {
    Editor(String),
    Perl(String),
}

fn real_main() -> Result<i32> {
    let m = gx_cli::parse(gx_tools::cli::edit::command());
    let once = |id: &str, opt: &str| -> Option<String> {
        let v: Vec<String> = m
            .get_many::<String>(id)
            .map(|v| v.cloned().collect())
            .unwrap_or_default();
        if v.len() > 1 {
            eprintln!("{PROG}: {opt} option given multiple times");
            std::process::exit(1)
        }
        v.into_iter().next()
    };
    let backup = once("backup", "-b");
    let expr = once("expr", "-e");
    let mut common = Common::from_matches(&m)?;
    let mut files: Vec<String> = m
        .get_many::<String>("files")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    // Old-style `gx-edit disk.img file` / `gx-edit domain file`.
    common.take_positional_drives(&mut files, 1);
    if files.is_empty() {
        usage_error("");
    }
    if common.drives.is_empty() {
        usage_error("you must specify at least one -a or -d option.");
    }
    let how = match expr {
        Some(e) => How::Perl(e),
        None => How::Editor(std::env::var("EDITOR").unwrap_or_else(|_| "vi".into())),
    };
    catch_signals()?;

    // Read-write: an image a running VM holds is refused here. Reads come
    // from the direct engine; the first write (an upload) starts the
    // appliance and replays these read-write mounts there.
    let mut g = common.launch(false)?;
    let mut root = None;
    if common.mounts.is_empty() {
        let roots = g.inspect_os()?;
        match roots.as_slice() {
            [] => bail!(gx_cli::inspect::NO_OS),
            [r] => {
                gx_cli::inspect::mount_root_mode(&mut g, r, PROG, false)?;
                root = Some(r.clone());
            }
            _ => bail!(gx_cli::inspect::MULTI_OS),
        }
    }
    let windows = root
        .as_deref()
        .filter(|r| gx_cli::inspect::is_windows(&g, r));
    for f in &files {
        let path = match windows {
            Some(r) => gx_cli::inspect::windows_path_mode(&mut g, r, f, false)?,
            None => f.clone(),
        };
        if !edit(&mut g, &path, &how, backup.as_deref(), common.verbose)? {
            println!("File not changed.");
        }
    }
    // Unmount and sync cleanly: the guest's page cache reaches the disk.
    g.shutdown()?;
    Ok(0)
}

/// Edits one guest file; false when the editor left it as it was.
fn edit(
    g: &mut Handle,
    path: &str,
    how: &How,
    backup: Option<&str>,
    verbose: bool,
) -> Result<bool> {
    let tmp = Temp::new()?;
    download(g, path, &tmp.path)?;
    let before = digest(&tmp.path)?;
    match how {
        How::Editor(editor) => {
            let cmd = format!("{editor} {}", shell_quote(&tmp.path));
            if verbose {
                eprintln!("{cmd}");
            }
            run_child(Command::new("/bin/sh").arg("-c").arg(&cmd), &cmd)?;
        }
        How::Perl(expr) => {
            let out = Temp::new()?;
            perl(expr, &tmp.path, &out.path, verbose)?;
            std::fs::rename(&out.path, &tmp.path)
                .with_context(|| format!("rename {}", out.path.display()))?;
        }
    }
    if digest(&tmp.path)? == before {
        // Nothing to put back: the guest is not touched (and no VM starts).
        // virt-edit says so only for the editor.
        return Ok(matches!(how, How::Perl(_)));
    }
    put_back(g, path, &tmp.path, backup)?;
    Ok(true)
}

/// The guest file into `local`. Only regular files (through symlinks) can
/// be edited: a device or FIFO would never end, a directory is no file.
fn download(g: &Handle, path: &str, local: &Path) -> Result<()> {
    // libguestfs's words: the call's name, the path, the C library's text.
    match g.statns(path) {
        Ok(st) => {
            let fmt = st.st_mode & 0o170000;
            if fmt == 0o040000 {
                bail!("download: {path}: is a directory");
            }
            if fmt != 0o100000 {
                bail!("download: {path}: not a regular file");
            }
        }
        Err(e) if e.kind() == gx_guestfs::ErrorKind::NotFound => {
            bail!("download: {path}: No such file or directory")
        }
        Err(e) => return Err(e.into()),
    }
    let mut f = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(local)
            .with_context(|| format!("{}", local.display()))?,
    );
    g.download(path, &mut f)?;
    let f = f.into_inner().map_err(|e| e.into_error())?;
    f.sync_all().ok();
    Ok(())
}

/// The new content into the guest, atomically, with the old file's owner,
/// mode and extended attributes; `backup` keeps the old file under
/// `PATH<ext>`.
fn put_back(g: &mut Handle, path: &str, local: &Path, backup: Option<&str>) -> Result<()> {
    // A symlink is followed: its target is what changes (the link stays).
    let target = g.realpath(path)?;
    let dir = match target.rfind('/') {
        Some(0) => "/",
        Some(i) => &target[..i],
        None => bail!("{target}: not an absolute path"),
    };
    let newname = format!("{}/{}", dir.trim_end_matches('/'), random_name()?);
    let mut f = std::fs::File::open(local).with_context(|| format!("{}", local.display()))?;
    if let Err(e) = g.upload(&mut f, &newname) {
        // Nothing was renamed: the old file is intact. Leave no stray copy.
        let _ = g.rm_f(&newname);
        return Err(e.into());
    }
    let finish = |g: &mut Handle| -> Result<()> {
        // Owner first: chown clears set-user-ID bits and file capabilities,
        // so the mode and then the attributes go after it.
        for opts in [
            CopyAttributesOpts {
                ownership: Some(true),
                ..Default::default()
            },
            CopyAttributesOpts {
                mode: Some(true),
                ..Default::default()
            },
            CopyAttributesOpts {
                xattributes: Some(true),
                ..Default::default()
            },
        ] {
            g.copy_attributes(&target, &newname, opts)?;
        }
        if let Some(ext) = backup {
            let bak = format!("{target}{ext}");
            // A hard link keeps the old file in place until the rename, so
            // `target` never goes missing; filesystems without hard links
            // get virt-edit's move.
            if g.ln_f(&target, &bak).is_err() {
                g.mv(&target, &bak)?;
            }
        }
        g.rename(&newname, &target)?;
        Ok(())
    };
    if let Err(e) = finish(g) {
        let _ = g.rm_f(&newname);
        return Err(e);
    }
    Ok(())
}

/// `perl` over the file, line by line, as virt-edit runs it: the expression
/// comes through the environment (no quoting issues), sees each line in
/// `$_` and its number in `$lineno`, and may `die` to abort with the guest
/// untouched.
fn perl(expr: &str, input: &Path, output: &Path, verbose: bool) -> Result<()> {
    const SCRIPT: &str = "$lineno = 0; $expr = $ENV{virt_edit_expr}; \
        while (<STDIN>) { $lineno++; eval $expr; die if $@; \
        print STDOUT $_ or die \"print: $!\"; } close STDOUT or die \"close: $!\";";
    let stdin = std::fs::File::open(input).with_context(|| format!("{}", input.display()))?;
    let stdout = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(output)
        .with_context(|| format!("{}", output.display()))?;
    if verbose {
        eprintln!(
            "perl -e '{SCRIPT}' < {} > {}",
            input.display(),
            output.display()
        );
    }
    let mut cmd = Command::new("perl");
    cmd.arg("-e")
        .arg(SCRIPT)
        .env("virt_edit_expr", expr)
        .stdin(stdin)
        .stdout(stdout);
    run_child(&mut cmd, "perl")
}

/// Runs the editor or perl; its failure is ours (it printed why).
fn run_child(cmd: &mut Command, what: &str) -> Result<()> {
    CHILD_RUNNING.store(true, Ordering::SeqCst);
    let st = cmd.status();
    CHILD_RUNNING.store(false, Ordering::SeqCst);
    let st = st.with_context(|| format!("{what}: cannot run"))?;
    if !st.success() {
        let why = match (
            st.code(),
            std::os::unix::process::ExitStatusExt::signal(&st),
        ) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => "failed".into(),
        };
        bail!("{what}: {why} (the file in the guest was not changed)");
    }
    Ok(())
}

fn digest(p: &Path) -> Result<[u8; 32]> {
    let mut f = std::fs::File::open(p).with_context(|| format!("{}", p.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// Eight random letters and digits: a new name no file in the directory has
/// (the upload creates it; a clash would replace a file, so it must be rare).
fn random_name() -> Result<String> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("/dev/urandom")?;
    const SET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Ok(b.iter()
        .map(|x| char::from(SET[usize::from(*x) % SET.len()]))
        .collect())
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

/// A private temporary file (mode 0600), removed when dropped and by the
/// signal thread.
struct Temp {
    path: PathBuf,
}

impl Temp {
    fn new() -> Result<Temp> {
        let (_, path) = tempfile::Builder::new()
            .prefix("gx-edit")
            .tempfile()
            .context("creating a temporary file")?
            .keep()
            .map_err(|e| anyhow!("creating a temporary file: {e}"))?;
        if let Ok(mut t) = TEMPS.lock() {
            t.push(path.clone());
        }
        Ok(Temp { path })
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Ok(mut t) = TEMPS.lock() {
            t.retain(|p| p != &self.path);
        }
    }
}

/// Blocks the terminating signals in every thread and waits for them in
/// one: the temporary copies go, then the process exits as the signal
/// would have it (128 + signal number). ^C/^\ while the editor runs are
/// left to the editor.
fn catch_signals() -> Result<()> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    set.thread_block()?;
    std::thread::spawn(move || {
        loop {
            let Ok(sig) = set.wait() else {
                return;
            };
            if matches!(sig, Signal::SIGINT | Signal::SIGQUIT)
                && CHILD_RUNNING.load(Ordering::SeqCst)
            {
                continue;
            }
            if let Ok(t) = TEMPS.lock() {
                for p in t.iter() {
                    let _ = std::fs::remove_file(p);
                }
            }
            eprintln!("{PROG}: interrupted by {sig}; the temporary copy was removed");
            std::process::exit(128 + sig as i32);
        }
    });
    Ok(())
}

//! The shell's own commands (gx_api::FISH_COMMANDS), each as guestfish
//! behaves and words its errors: alloc, sparse, copy-in, copy-out, display,
//! echo, edit, glob, help, hexedit, lcd, man, more, not, reopen, setenv,
//! unsetenv, supported, time.
//!
//! They reach the guest only through the Handle's API; anything that is a
//! guest-side decision belongs there, not here.

use std::cell::RefCell;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use gx_guestfs::{AddDriveOpts, DiskCreateOpts, Event, EventCallback, Handle};

use crate::context::{Fish, FishError, LocalMount, os_error, parse_size};
use crate::glob;
use crate::shell::{issue_command, lossy};

type R = Result<(), FishError>;

fn msg(m: impl Into<String>) -> FishError {
    FishError::Msg(m.into())
}

/// Runs the shell command `name` (its canonical name; `cmd` as typed).
pub(crate) fn run(f: &mut Fish, name: &str, cmd: &str, args: &[Vec<u8>]) -> R {
    let s: Vec<String> = args.iter().map(|a| lossy(a)).collect();
    match name {
        "add-domain" => add_domain(f, &s),
        "delete-event" => delete_event(f, &s),
        "event" => event(f, &s),
        "list-events" => list_events(f),
        "alloc" => alloc(f, &s, false),
        "sparse" => alloc(f, &s, true),
        "copy-in" => copy_in(f, &s),
        "copy-out" => copy_out(f, &s),
        "display" => display(f, &s),
        "echo" => echo(f, args),
        "edit" => edit(f, cmd, &s),
        "exit" => {
            f.quit = true;
            Ok(())
        }
        "glob" => glob::run_glob(f, args),
        "help" => {
            if help(f, args) {
                Ok(())
            } else {
                Err(msg_printed())
            }
        }
        "hexedit" => hexedit(f, &s),
        "lcd" => lcd(&s),
        "man" => man(&s),
        "mount-local" => mount_local(f, &s),
        "mount-local-run" => mount_local_run(f, &s),
        "umount-local" => umount_local(f, &s),
        "more" => more(f, cmd, &s),
        "not" => not(f, args),
        "reopen" => reopen(f, &s),
        "setenv" => setenv(cmd, &s),
        "unsetenv" => unsetenv(cmd, &s),
        "supported" => supported(f),
        "time" => time(f, args),
        _ => Err(FishError::Unknown),
    }
}

/// `add-domain NAME [libvirturi:URI] [readonly:BOOL] [readonlydisk:MODE]
/// [allowuuid:BOOL] [live:BOOL] [iface:..] [cachemode:..] [discard:..]
/// [copyonread:BOOL]`: add a libvirt guest's disks, all or none, as
/// libguestfs's `add_domain` does; prints how many were added.
fn add_domain(f: &mut Fish, a: &[String]) -> R {
    const CALL: &str = "add_domain";
    let Some((name, optargs)) = a.split_first() else {
        return Err(msg(
            "use 'add-domain dom [libvirturi:..] [readonly:true|false] [iface:..] [live:true|false] [allowuuid:true|false] [readonlydisk:..] [cachemode:..] [discard:..] [copyonread:true|false]'",
        ));
    };
    let (mut uri, mut readonly, mut live, mut mode) = (None, false, false, "error".to_string());
    for o in optargs {
        let bool_of = |v: &str| opt_bool(o, v);
        match o.split_once(':') {
            Some(("libvirturi", v)) => uri = Some(v.to_string()),
            Some(("readonly", v)) => readonly = bool_of(v)?,
            Some(("live", v)) => live = bool_of(v)?,
            Some(("allowuuid" | "copyonread", v)) => {
                bool_of(v)?;
            }
            Some(("readonlydisk", v)) => mode = v.to_string(),
            Some(("iface" | "cachemode" | "discard", _)) => {}
            _ => return Err(msg(format!("{name}: unknown optional argument ‘{o}’"))),
        }
    }
    if !["error", "read", "write", "ignore"].contains(&mode.as_str()) {
        return Err(call_error(
            CALL,
            format!("unknown readonlydisk parameter ‘{mode}’"),
        ));
    }
    if live {
        return Err(call_error(
            CALL,
            "live: the live appliance is not supported",
        ));
    }
    let uri = uri.or_else(|| f.connect.clone());
    let n = add_domain_disks(f, name, uri.as_deref(), readonly, &mode)?;
    writeln!(f.out(), "{n}")?;
    Ok(())
}

/// libguestfs's `add_domain` after its optional arguments are read: the
/// domain's disks, all or none (each is checked before the first is added),
/// by `readonlydisk` MODE; how many were added. `-d` comes here too, as
/// guestfish's does, with `readonlydisk:read`.
pub(crate) fn add_domain_disks(
    f: &mut Fish,
    name: &str,
    uri: Option<&str>,
    readonly: bool,
    mode: &str,
) -> Result<usize, FishError> {
    const CALL: &str = "add_domain";
    let dom = gx_cli::domain::load(name, uri).map_err(|e| call_error(CALL, format!("{e:#}")))?;
    if dom.running && !readonly {
        // A library-side error: libguestfs prints it without the call name.
        return Err(FishError::Api(gx_guestfs::Error::invalid(
            "error: domain is a live virtual machine.\nWriting to the disks of a running virtual machine can cause disk corruption.\nUse read-only access (readonly:true).",
        )));
    }
    // All or nothing: every disk is checked before the first is added.
    let mut add = Vec::new();
    for d in &dom.disks {
        let ro = match (d.readonly, mode) {
            (true, "ignore") => continue,
            (true, "error") if !readonly => {
                return Err(call_error(
                    CALL,
                    format!(
                        "{}: disk is marked <readonly/> in libvirt XML, and readonlydisk was set to \"error\"",
                        d.path.display()
                    ),
                ));
            }
            (true, "read") => true,
            _ => readonly,
        };
        if let Err(e) = std::fs::metadata(&d.path) {
            return Err(call_error(CALL, format!("{}: {e}", d.path.display())));
        }
        add.push((d.path.to_string_lossy().into_owned(), d.format.clone(), ro));
    }
    let n = add.len();
    for (path, format, ro) in add {
        f.g.add_drive(
            &path,
            AddDriveOpts {
                readonly: ro.then_some(true),
                format,
                ..AddDriveOpts::default()
            },
        )
        .map_err(|e| call_error(CALL, e))?;
    }
    Ok(n)
}

/// An event set as guestfish parses it: `*`, or comma-separated names where
/// each word selects the first event whose name starts with it (so `launch`
/// is `launch_done`).
fn event_set(arg: &str) -> Result<u64, FishError> {
    if arg == "*" {
        return Ok(Event::ALL_BITS);
    }
    let mut mask = 0;
    for word in arg.split(',').filter(|w| !w.is_empty()) {
        match Event::ALL.iter().find(|e| e.name().starts_with(word)) {
            Some(e) => mask |= e.bit(),
            None => {
                eprintln!("unknown event name: {word}");
                return Err(msg_printed());
            }
        }
    }
    Ok(mask)
}

/// `*` for every event, else the names, comma-separated.
fn event_set_string(mask: u64) -> String {
    if mask == Event::ALL_BITS {
        return "*".into();
    }
    Event::ALL
        .iter()
        .filter(|e| mask & e.bit() != 0)
        .map(|e| e.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// `event NAME EVENTSET SCRIPT`: a callback on the handle that runs SCRIPT
/// with `$SHELL -c` (`/bin/sh`), `$EVENT` naming the event and its message
/// (a call's name, a trace line) and numbers as `$1...`, waiting for it, as
/// guestfish does. Its output goes to our standard output, which the shell
/// flushes before each command while handlers exist.
fn event(f: &mut Fish, a: &[String]) -> R {
    let [name, set, script] = a else {
        eprintln!("use 'event <name> <eventset> <script>' to register an event handler");
        return Err(msg_printed());
    };
    let mask = event_set(set)?;
    let command = script.clone();
    let cb: EventCallback = Box::new(move |ev, _, buf, array| {
        let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
        let mut c = std::process::Command::new(&shell);
        c.arg("-c").arg(&command).arg("").env("EVENT", ev.name());
        if matches!(
            ev,
            Event::Appliance
                | Event::Library
                | Event::Trace
                | Event::Enter
                | Event::LibvirtAuth
                | Event::Warning
        ) {
            c.arg(std::ffi::OsStr::from_bytes(buf));
        }
        c.args(array.iter().map(u64::to_string));
        if let Err(e) = c.status() {
            eprintln!("event handler: {shell}: {e}");
        }
    });
    let handle = f.g.set_event_callback(cb, mask)?;
    f.events.push(crate::context::EventHandler {
        name: name.clone(),
        mask,
        script: script.clone(),
        handle,
    });
    Ok(())
}

/// `delete-event NAME`: every handler registered under NAME.
fn delete_event(f: &mut Fish, a: &[String]) -> R {
    let [name] = a else {
        eprintln!("use 'delete-event <name>' to delete an event handler");
        return Err(msg_printed());
    };
    let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut f.events)
        .into_iter()
        .partition(|e| &e.name == name);
    f.events = kept;
    if gone.is_empty() {
        eprintln!("delete-event: {name}: no such event handler");
        return Err(msg_printed());
    }
    for e in gone {
        f.g.delete_event_callback(e.handle);
    }
    Ok(())
}

/// `list-events`: `"NAME" (HANDLE): EVENTS: SCRIPT`, a line per handler.
fn list_events(f: &mut Fish) -> R {
    let lines: Vec<String> = f
        .events
        .iter()
        .map(|e| {
            format!(
                "\"{}\" ({}): {}: {}",
                e.name,
                e.handle,
                event_set_string(e.mask),
                e.script
            )
        })
        .collect();
    for l in lines {
        writeln!(f.out(), "{l}")?;
    }
    Ok(())
}

/// The value of a boolean `name:value` optional argument `o` of a fish-only
/// command, as guestfish spells booleans.
fn opt_bool(o: &str, v: &str) -> Result<bool, FishError> {
    match v {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(msg(format!("{o}: expecting a boolean"))),
    }
}

/// An error whose message was already printed.
fn msg_printed() -> FishError {
    FishError::Silent
}

fn alloc(f: &mut Fish, a: &[String], sparse: bool) -> R {
    if a.len() != 2 {
        return Err(msg(if sparse {
            "use 'sparse file size' to create a sparse image"
        } else {
            "use 'alloc file size' to create an image"
        }));
    }
    alloc_disk(&mut f.g, &a[0], &a[1], true, sparse)
}

/// Creates a raw disk image of `size` (with suffixes), sparse or fully
/// allocated, and adds it when `add` is set.
pub(crate) fn alloc_disk(g: &mut Handle, filename: &str, size: &str, add: bool, sparse: bool) -> R {
    let size = parse_size(size)?;
    g.disk_create(
        filename,
        "raw",
        size,
        DiskCreateOpts {
            preallocation: Some(if sparse { "sparse" } else { "full" }.into()),
            ..DiskCreateOpts::default()
        },
    )?;
    if add {
        let r = g.add_drive(
            filename,
            AddDriveOpts {
                format: Some("raw".into()),
                ..AddDriveOpts::default()
            },
        );
        if let Err(e) = r {
            let _ = std::fs::remove_file(filename);
            return Err(e.into());
        }
    }
    Ok(())
}

fn echo(f: &mut Fish, args: &[Vec<u8>]) -> R {
    let out = f.out();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.write_all(b" ")?;
        }
        out.write_all(a)?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

fn copy_in(f: &mut Fish, a: &[String]) -> R {
    let Some((remote, locals)) = a.split_last().filter(|(_, l)| !l.is_empty()) else {
        return Err(msg(
            "use 'copy-in <local> [<local>...] <remotedir>' to copy files into the image",
        ));
    };
    let remote = f.path_arg(remote)?;
    for local in locals {
        f.g.copy_in(local, &remote)?;
    }
    Ok(())
}

fn copy_out(f: &mut Fish, a: &[String]) -> R {
    let Some((local, remotes)) = a.split_last().filter(|(_, r)| !r.is_empty()) else {
        return Err(msg(
            "use 'copy-out <remote> [<remote>...] <localdir>' to copy files out of the image",
        ));
    };
    for r in remotes {
        let remote = f.path_arg(r)?;
        f.g.copy_out(&remote, local)?;
    }
    Ok(())
}

/// A local temporary file, removed when dropped.
struct TempFile {
    path: std::path::PathBuf,
}

impl TempFile {
    fn new(prefix: &str) -> Result<(TempFile, std::fs::File), FishError> {
        let dir = crate::env::var("TMPDIR").unwrap_or_else(|| "/tmp".into());
        for _ in 0..100 {
            let path = std::path::Path::new(&dir).join(format!("{prefix}{}", random_name(6)));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => return Ok((TempFile { path }, f)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(msg(format!("mkstemp: {}", os_error(&e)))),
            }
        }
        Err(msg("mkstemp: File exists"))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `n` random letters and digits.
fn random_name(n: usize) -> String {
    use std::io::Read;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = vec![0u8; n];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut r| r.read_exact(&mut bytes));
    if ok.is_err() {
        // Only uniqueness matters for these names; the clock gives enough.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (t >> (i * 5)) as u8;
        }
    }
    bytes
        .iter()
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect()
}

/// Runs `/bin/sh -c "PROG FILE"` as system(3) would.
fn system(cmdline: &str) -> std::io::Result<std::process::ExitStatus> {
    crate::env::shell(cmdline.as_ref()).status()
}

/// Downloads `remote` into a temporary file.
fn download_tmp(g: &Handle, remote: &str, prefix: &str) -> Result<TempFile, FishError> {
    let (tmp, mut file) = TempFile::new(prefix)?;
    g.download(remote, &mut file)?;
    Ok(tmp)
}

fn display(f: &mut Fish, a: &[String]) -> R {
    if a.len() != 1 {
        return Err(msg("display filename"));
    }
    let display = crate::env::var("GUESTFISH_DISPLAY_IMAGE").unwrap_or_else(|| "display".into());
    let remote = f.path_arg(&a[0])?;
    let tmp = download_tmp(&f.g, &remote, "guestfish")?;
    let cmdline = format!("{display} {}", tmp.path.display());
    run_viewer(&cmdline)
}

/// Runs a viewer or editor command line; not exiting 0 is an error.
fn run_viewer(cmdline: &str) -> R {
    match system(cmdline) {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => Err(msg(format!("{cmdline}: {st}"))),
        Err(e) => Err(msg(format!("{cmdline}: {}", os_error(&e)))),
    }
}

fn more(f: &mut Fish, cmd: &str, a: &[String]) -> R {
    if a.len() != 1 {
        return Err(msg(format!("use '{cmd} filename' to page a file")));
    }
    let pager = if cmd.eq_ignore_ascii_case("less") {
        "less".to_string()
    } else {
        crate::env::var("PAGER").unwrap_or_else(|| "more".into())
    };
    let remote = f.path_arg(&a[0])?;
    let tmp = download_tmp(&f.g, &remote, "guestfish")?;
    let _ = f.output.flush();
    run_viewer(&format!("{pager} {}", tmp.path.display()))
}

fn edit(f: &mut Fish, cmd: &str, a: &[String]) -> R {
    if a.len() != 1 {
        return Err(msg(format!("use '{cmd} filename' to edit a file")));
    }
    let editor = if cmd.eq_ignore_ascii_case("vi") {
        "vi".to_string()
    } else if cmd.eq_ignore_ascii_case("emacs") {
        "emacs -nw".to_string()
    } else {
        crate::env::var("EDITOR").unwrap_or_else(|| "vi".into())
    };
    let remote = f.path_arg(&a[0])?;
    let tmp = download_tmp(&f.g, &remote, "libguestfs")?;
    // Back-date the copy so that an edit within the same second (a fast
    // person or an automatic EDITOR) still shows as a change.
    let before = std::fs::metadata(&tmp.path).map_err(|e| local(&tmp.path, &e))?;
    let back = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.checked_sub(std::time::Duration::from_secs(5)))
    };
    if let (Some(at), Some(mt)) = (back(before.accessed()), back(before.modified())) {
        let times = std::fs::FileTimes::new().set_accessed(at).set_modified(mt);
        std::fs::File::options()
            .write(true)
            .open(&tmp.path)
            .and_then(|fh| fh.set_times(times))
            .map_err(|e| msg(format!("utimes: {}", os_error(&e))))?;
    }
    let old = changed_key(&tmp.path)?;
    let _ = f.output.flush();
    run_viewer(&format!("{editor} {}", tmp.path.display()))?;
    if changed_key(&tmp.path)? == old {
        return Ok(());
    }
    upload_replacing(&mut f.g, &remote, &tmp.path)
}

fn local(p: &std::path::Path, e: &std::io::Error) -> FishError {
    msg(format!("{}: {}", p.display(), os_error(e)))
}

/// What tells an edited file from the original: change time and size.
fn changed_key(p: &std::path::Path) -> Result<(i64, i64, u64), FishError> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).map_err(|e| local(p, &e))?;
    Ok((m.ctime(), m.ctime_nsec(), m.size()))
}

/// Replaces the guest file `remote` (a symlink's target, not the link)
/// with the local file's contents: uploaded beside it under a random name,
/// given its mode, owner and labels, then renamed over it.
fn upload_replacing(g: &mut Handle, remote: &str, local_path: &std::path::Path) -> R {
    let target = g.realpath(remote)?;
    let dir = match target.rfind('/') {
        Some(i) => &target[..i],
        None => "",
    };
    let newname = format!("{dir}/{}", random_name(8));
    let mut input = std::fs::File::open(local_path).map_err(|e| local(local_path, &e))?;
    g.upload(&mut input, &newname)?;
    g.copy_attributes(
        &target,
        &newname,
        gx_guestfs::CopyAttributesOpts {
            all: Some(true),
            ..Default::default()
        },
    )?;
    g.mv(&newname, &target)?;
    Ok(())
}

const MAX_HEXEDIT: i64 = 16 * 1024 * 1024;

fn hexedit(f: &mut Fish, a: &[String]) -> R {
    if a.is_empty() || a.len() > 3 {
        return Err(msg("hexedit (device|filename) [max | start max]"));
    }
    let filename = &a[0];
    let size = if filename.starts_with("/dev/") {
        f.g.blockdev_getsize64(filename)?
    } else {
        f.g.filesize(filename)?
    };
    if size == 0 {
        return Err(msg(format!(
            "hexedit: {filename} is a zero length file or device"
        )));
    }
    let (start, mut max) = match a.len() {
        1 => {
            if size > MAX_HEXEDIT {
                return Err(msg(format!(
                    "hexedit: {filename} is larger than 16MB. You must supply a limit using\n  \
                     'hexedit {filename} <max>' (eg. 'hexedit {filename} 1M') or a range using\n  \
                     'hexedit {filename} <start> <max>'."
                )));
            }
            (0, size)
        }
        2 => (0, parse_size(&a[1])?),
        _ => (parse_size(&a[1])?, parse_size(&a[2])?),
    };
    if start.saturating_add(max) > size {
        max = size.saturating_sub(start);
    }
    if max <= 0 {
        return Err(msg("hexedit: invalid range"));
    }
    let editor = crate::env::var("HEXEDITOR").unwrap_or_else(|| "hexedit".into());
    let (tmp, mut file) = TempFile::new("guestfish")?;
    f.g.download_offset(filename, &mut file, start, max)?;
    drop(file);
    let old = changed_key(&tmp.path)?;
    let _ = f.output.flush();
    run_viewer(&format!("{editor} {}", tmp.path.display()))?;
    if changed_key(&tmp.path)? == old {
        return Ok(());
    }
    let mut input = std::fs::File::open(&tmp.path).map_err(|e| local(&tmp.path, &e))?;
    f.g.upload_offset(&mut input, filename, start)?;
    Ok(())
}

fn lcd(a: &[String]) -> R {
    if a.len() != 1 {
        return Err(msg("use 'lcd directory' to change local directory"));
    }
    std::env::set_current_dir(&a[0]).map_err(|e| msg(format!("{}: {}", a[0], os_error(&e))))
}

fn man(a: &[String]) -> R {
    if !a.is_empty() {
        return Err(msg("use ‘man’ without parameters to open the manual"));
    }
    let (tmp, mut file) = TempFile::new("gx-fish.1.")?;
    file.write_all(crate::man::man_page().as_bytes())
        .map_err(|e| local(&tmp.path, &e))?;
    drop(file);
    let st = crate::env::command("man")
        .arg("-l")
        .arg(&tmp.path)
        .status()
        .map_err(|e| msg(format!("man: {}", os_error(&e))))?;
    if st.success() {
        Ok(())
    } else {
        Err(msg(format!("man: {st}")))
    }
}

fn not(f: &mut Fish, a: &[Vec<u8>]) -> R {
    let Some((cmd, rest)) = a.split_first() else {
        return Err(msg("use 'not command [args...]'"));
    };
    if issue_command(f, cmd, rest, None, false) {
        Err(msg_printed())
    } else {
        Ok(())
    }
}

fn reopen(f: &mut Fish, a: &[String]) -> R {
    if !a.is_empty() {
        return Err(msg("‘reopen’ command takes no parameters"));
    }
    // As guestfish: shut down, copy the settings guestfish itself sets
    // (those calls fire the old handle's events), close the old handle.
    f.g.shutdown()?;
    let mut g2 = Handle::new();
    if let Ok(v) = f.g.get_verbose() {
        g2.set_verbose(v)?;
    }
    if let Ok(v) = f.g.get_trace() {
        g2.set_trace(v)?;
    }
    if let Ok(v) = f.g.get_autosync() {
        g2.set_autosync(v)?;
    }
    if let Ok(v) = f.g.get_pgroup() {
        g2.set_pgroup(v)?;
    }
    g2.set_engine(f.settings.engine)?;
    g2.set_backend_kind(f.settings.backend);
    // The old handle closes here (its `close` event), and its handlers
    // go with it.
    let _ = f.out().flush();
    drop(std::mem::replace(&mut f.g, g2));
    f.events.clear();
    Ok(())
}

/// A libguestfs-style error of call `call`.
fn call_error(call: &str, m: impl std::fmt::Display) -> FishError {
    FishError::Api(gx_guestfs::Error::invalid(format!("{call}: {m}")))
}

/// `mount-local DIR [readonly:BOOL] [options:O] [cachetimeout:N]
/// [debugcalls:BOOL]`: mount the handle's filesystems on DIR with FUSE.
/// The mount is there at once; requests wait for `mount-local-run`.
fn mount_local(f: &mut Fish, a: &[String]) -> R {
    const CALL: &str = "mount_local";
    let Some((dir, optargs)) = a.split_first() else {
        return Err(msg(
            "use 'mount-local localmountpoint [readonly:true|false] [options:..] [cachetimeout:N] [debugcalls:true|false]'",
        ));
    };
    if f.local.is_some() {
        return Err(call_error(
            CALL,
            "filesystem is already mounted in another thread",
        ));
    }
    let mut readonly = false;
    let mut trace = false;
    let mut ttl = 60.0f64;
    let mut kernel = Vec::new();
    for o in optargs {
        let bool_of = |v: &str| opt_bool(o, v);
        match o.split_once(':') {
            Some(("readonly", v)) => readonly = bool_of(v)?,
            Some(("debugcalls", v)) => trace = bool_of(v)?,
            Some(("cachetimeout", v)) => {
                ttl = v
                    .parse::<u32>()
                    .map_err(|_| msg(format!("{o}: expecting a number")))?
                    .into()
            }
            Some(("options", v)) => {
                for k in v.split(',').filter(|k| !k.is_empty()) {
                    match k {
                        "allow_other" => kernel.push(fuser::MountOption::AllowOther),
                        "allow_root" => kernel.push(fuser::MountOption::AllowRoot),
                        "default_permissions" => {
                            kernel.push(fuser::MountOption::DefaultPermissions)
                        }
                        "ro" => readonly = true,
                        other => {
                            return Err(call_error(
                                CALL,
                                format!("fuse: unknown option(s): `-o {other}'"),
                            ));
                        }
                    }
                }
            }
            _ => return Err(msg(format!("{o}: unknown optional argument"))),
        }
    }
    kernel.push(fuser::MountOption::FSName("gx-fish".into()));
    kernel.push(fuser::MountOption::Subtype("gx-fish".into()));
    kernel.push(fuser::MountOption::NoSuid);
    kernel.push(fuser::MountOption::NoDev);
    kernel.push(if readonly {
        fuser::MountOption::RO
    } else {
        fuser::MountOption::RW
    });
    let ttl = std::time::Duration::from_secs_f64(if readonly { ttl } else { 1.0 });
    let opts = gx_tools::fuse::Options {
        readonly,
        attr_ttl: ttl,
        entry_ttl: ttl,
        use_ino: false,
        kernel_cache: false,
        uid: None,
        gid: None,
        umask: None,
        trace,
        sync: f.g.get_autosync().unwrap_or(true),
        shutdown: false,
    };
    let slot: gx_tools::fuse::HandleSlot = Rc::new(RefCell::new(None));
    let g = std::mem::take(&mut f.g);
    let fs = gx_tools::fuse::GuestFs::new(g, opts, None, Some(slot.clone()));
    match fuser::Session::new(fs, dir, &kernel) {
        Ok(session) => {
            f.local = Some(LocalMount {
                session,
                slot,
                mountpoint: dir.into(),
            });
            Ok(())
        }
        Err(e) => {
            // The filesystem (and with it the handle) came back when the
            // session was dropped.
            if let Some(g) = slot.borrow_mut().take() {
                f.g = g;
            }
            Err(call_error(
                CALL,
                format!("fuse_mount failed: {dir}: {}", os_error(&e)),
            ))
        }
    }
}

/// `mount-local-run`: serve the `mount-local` mount until it is unmounted
/// (`umount-local` from elsewhere, gx-unmount or fusermount3 -u).
fn mount_local_run(f: &mut Fish, a: &[String]) -> R {
    const CALL: &str = "mount_local_run";
    if !a.is_empty() {
        return Err(msg("‘mount-local-run’ command takes no parameters"));
    }
    let Some(mut local) = f.local.take() else {
        return Err(call_error(CALL, "you must call guestfs_mount_local first"));
    };
    let r = local.session.run();
    drop(local.session);
    if let Some(g) = local.slot.borrow_mut().take() {
        f.g = g;
    }
    r.map_err(|e| {
        call_error(
            CALL,
            format!(
                "fuse_loop: {}: {}",
                local.mountpoint.display(),
                os_error(&e)
            ),
        )
    })
}

/// `umount-local [retry:BOOL]`: end a `mount-local` mount that is not
/// being served yet (while `mount-local-run` serves, this shell is busy:
/// unmount it from elsewhere).
fn umount_local(f: &mut Fish, a: &[String]) -> R {
    for o in a {
        if !matches!(o.split_once(':'), Some(("retry", _))) {
            return Err(msg(format!("{o}: unknown optional argument")));
        }
    }
    let Some(local) = f.local.take() else {
        return Err(call_error("umount_local", "no filesystem is mounted"));
    };
    // Dropping the session unmounts and hands the handle back.
    drop(local.session);
    if let Some(g) = local.slot.borrow_mut().take() {
        f.g = g;
    }
    Ok(())
}

fn setenv(cmd: &str, a: &[String]) -> R {
    if a.len() != 2 {
        return Err(msg(format!(
            "use '{cmd} VAR value' to set an environment variable"
        )));
    }
    if a[0].is_empty() || a[0].contains('=') {
        return Err(msg("setenv: Invalid argument"));
    }
    crate::env::set(&a[0], Some(&a[1]));
    Ok(())
}

fn unsetenv(cmd: &str, a: &[String]) -> R {
    if a.len() != 1 {
        return Err(msg(format!(
            "use '{cmd} VAR' to unset an environment variable"
        )));
    }
    if a[0].is_empty() || a[0].contains('=') {
        return Err(msg("unsetenv: Invalid argument"));
    }
    crate::env::set(&a[0], None);
    Ok(())
}

fn supported(f: &mut Fish) -> R {
    let groups = f.g.available_all_groups()?;
    let width = groups.iter().map(String::len).max().unwrap_or(0);
    for g in &groups {
        let ok = f.g.available(std::slice::from_ref(g)).is_ok();
        writeln!(f.out(), "{g:>width$} {}", if ok { "yes" } else { "no" })?;
    }
    Ok(())
}

fn time(f: &mut Fish, a: &[Vec<u8>]) -> R {
    let Some((cmd, rest)) = a.split_first() else {
        return Err(msg("use 'time command [args...]'"));
    };
    let start = std::time::Instant::now();
    if !issue_command(f, cmd, rest, None, false) {
        return Err(msg_printed());
    }
    let us = start.elapsed().as_micros();
    writeln!(
        f.out(),
        "elapsed time: {}.{:02} seconds",
        us / 1_000_000,
        (us / 10_000) % 100
    )?;
    Ok(())
}

/// `help`, `help CMD`, `help -l`; false after printing an error.
pub(crate) fn help(f: &mut Fish, args: &[Vec<u8>]) -> bool {
    let text = match args {
        [] => {
            let mut s = String::new();
            if f.g.is_config().unwrap_or(true) {
                s.push_str(
                    "Add disk images to examine using the ‘-a’ or ‘-d’ options, or the ‘add’\n\
                     command.\n\
                     Or create a new disk image using ‘-N’, or the ‘alloc’ or ‘sparse’ commands.\n\
                     Once you have done this, use the ‘run’ command.\n",
                );
            } else {
                s.push_str(
                    "Find out what filesystems are available using ‘list-filesystems’ and then\n\
                     mount them to examine or modify the contents using ‘mount-ro’ or\n\
                     ‘mount’.\n",
                );
            }
            s.push_str("\nFor more information about a command, use ‘help cmd’.\n\nTo read the manual, type ‘man’.\n\n");
            s
        }
        [a] if a == b"--list" || a == b"-l" => list_commands(),
        [a] => match command_help(&lossy(a), f.interactive) {
            Ok(t) => t,
            Err(m) => {
                eprintln!("{m}");
                return false;
            }
        },
        _ => {
            eprintln!("use 'help', 'help <cmd>' or 'help -l|--list' to list all commands");
            return false;
        }
    };
    let _ = f.out().write_all(text.as_bytes());
    true
}

/// `help -l`: every command and alias.
pub(crate) fn list_commands() -> String {
    gx_api::doc::list_commands()
}

/// `help CMD`, or guestfish's message for a command it does not know.
pub(crate) fn command_help(cmd: &str, interactive: bool) -> Result<String, String> {
    gx_api::doc::help(cmd).ok_or_else(|| {
        format!(
            "{cmd}: command not known: {}",
            if interactive {
                "use 'help --list' to list all commands"
            } else {
                "use -h to list all commands"
            }
        )
    })
}

//! gx-mount: mount a guest filesystem on the host with FUSE, like guestmount.
//!
//! Same options as guestmount (`-a -d -c --format -i -m --ro/--rw -o -n -v
//! -x --pid-file --fd --no-fork --dir-cache-timeout --key
//! --keys-from-stdin --fuse-help`). Read-only mounts (`--ro`) are served by
//! the direct engine, with no VM, from an image that stays byte-identical;
//! read-write mounts run the appliance, where the guest's own kernel
//! changes the filesystem, and are synced when unmounted.
//!
//! Like guestmount, it returns once the filesystem is mounted and keeps
//! serving in the background. It cannot fork after the appliance threads
//! exist, so it runs itself again with `--no-fork` and waits for that
//! process to say the mount is ready (or to fail, with its own message).

use anyhow::{Context, Result, bail};
use clap::ArgMatches;
use gx_cli::{Common, Source};
use gx_guestfs::Engine;
use nix::sys::signal::{SigSet, Signal};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROG: &str = "gx-mount";
/// Set in the background process: the fd on which it says "mounted".
const READY_ENV: &str = "GX_MOUNT_READY_FD";

fn main() {
    gx_cli::run(PROG, real_main)
}

fn usage_error(msg: &str) -> ! {
    eprintln!("{PROG}: error: {msg}");
    eprintln!("Try `{PROG} --help' for more information.");
    std::process::exit(1)
}

fn real_main() -> Result<i32> {
    let m = gx_cli::parse(gx_tools::cli::mount::command());
    if m.get_flag("fuse-help") {
        print!("{}", FUSE_HELP);
        return Ok(0);
    }
    if m.get_flag("live") {
        bail!("live support was removed from libguestfs in 1.48; gx-mount has none either");
    }
    let mut common = Common::from_matches(&m)?;
    if common.drives.is_empty() {
        usage_error("you must specify at least one -a or -d option.");
    }
    if common.mounts.is_empty() && !common.inspector {
        usage_error("you must specify either -i at least one -m option.");
    }
    let args: Vec<String> = m
        .get_many::<String>("args")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let [mountpoint] = args.as_slice() else {
        bail!("you must specify a mountpoint in the host filesystem");
    };
    let readonly = m.get_flag("ro");
    let mut fuse = parse_fuse_options(&m)?;
    fuse.readonly |= readonly;
    let user_fd = match m.get_one::<String>("fd") {
        Some(s) => match s.parse::<i32>() {
            Ok(fd) if fd >= 0 => Some(fd),
            _ => bail!("unable to parse --fd option value: {s}"),
        },
        None => None,
    };
    let ready_fd = std::env::var(READY_ENV)
        .ok()
        .and_then(|s| s.parse::<i32>().ok());
    // -x traces every request to stderr: stay in the foreground.
    let fork = !m.get_flag("no-fork") && !common.trace && !fuse.trace;
    if fork && ready_fd.is_none() {
        return run_in_background(user_fd);
    }
    clear_stale_mount(mountpoint);
    // Paths the process needs after it leaves the current directory.
    let mountpoint =
        std::fs::canonicalize(mountpoint).with_context(|| format!("mountpoint {mountpoint}"))?;
    if !mountpoint.is_dir() {
        bail!(
            "{}: the mountpoint is not a directory",
            mountpoint.display()
        );
    }
    let pid_file = m
        .get_one::<String>("pid-file")
        .map(std::path::absolute)
        .transpose()?;
    for d in &mut common.drives {
        if let Source::File(p) = &mut d.source {
            *p = std::path::absolute(&*p)?;
        }
    }
    if ready_fd.is_some() {
        // Leave the caller's session (its terminal's ^C is not ours).
        let _ = nix::unistd::setsid();
    }
    // Signals end the session cleanly (unmount, sync, power off): block
    // them in every thread; one thread waits for them. Processes the Handle
    // starts get a clean mask from std.
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        signals.add(s);
    }
    signals.thread_block()?;
    let unmounter: Arc<Mutex<Option<fuser::SessionUnmounter>>> = Arc::new(Mutex::new(None));
    {
        let unmounter = unmounter.clone();
        std::thread::spawn(move || {
            if signals.wait().is_err() {
                return;
            }
            match unmounter.lock().map(|mut u| u.take()) {
                Ok(Some(mut u)) => {
                    let _ = u.unmount();
                }
                // Not mounted yet: nothing to undo.
                _ => std::process::exit(1),
            }
        });
    }

    // Read-write mounts need the guest's kernel from the start, so that
    // every read sees what the writes did.
    if !readonly && common.engine == Engine::Auto {
        common.engine = Engine::Appliance;
    }
    let (mut g, again) = common.launch_reusable(readonly)?;
    if common.inspector {
        let roots = g.inspect_os()?;
        match roots.as_slice() {
            [] => bail!(gx_cli::inspect::NO_OS),
            [root] => gx_cli::inspect::mount_root_mode(&mut g, root, PROG, readonly)?,
            _ => bail!(gx_cli::inspect::MULTI_OS),
        }
    }
    // Read-only on the direct engine: file data is read by worker threads,
    // each with its own Handle on the same drives and mounts, opening LUKS
    // devices with the keys that worked here (`again`: nothing is asked twice).
    let factory: Option<gx_tools::fuse::HandleFactory> =
        if readonly && g.active_engine() == Some(Engine::Direct) {
            let mut c = again;
            c.trace = false;
            c.verbose = false;
            let mounts = if common.inspector {
                g.mountpoints()?
            } else {
                Vec::new()
            };
            Some(std::sync::Arc::new(move || {
                let mut g = c.launch(true).map_err(|e| {
                    gx_guestfs::Error::new(gx_guestfs::ErrorKind::Io, format!("{e:#}"))
                })?;
                for (dev, mp) in &mounts {
                    g.mount_ro(dev, mp)?;
                }
                Ok(g)
            }))
        } else {
            None
        };
    fuse.sync = !m.get_flag("no-sync");
    fuse.trace |= common.trace;
    let mount_opts = fuse.mount_options();
    let opts = fuse.into_options(&m);
    let mut session = fuser::Session::new(
        gx_tools::fuse::GuestFs::new(g, opts, factory, None),
        &mountpoint,
        &mount_opts,
    )
    .with_context(|| format!("mounting on {}", mountpoint.display()))?;
    if let Ok(mut u) = unmounter.lock() {
        *u = Some(session.unmount_callable());
    }
    if let Some(p) = &pid_file {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("{}", p.display()))?;
    }
    match ready_fd {
        // Started by our foreground self: say "mounted", then let go of
        // the terminal. The caller's --fd stays open here, as guestmount's
        // daemon keeps it, so that gx-unmount --fd sees it close when we exit.
        Some(fd) => {
            let mut f = fd_file(fd)?;
            f.write_all(b"1")?;
            drop(f);
            let _ = std::env::set_current_dir("/");
            detach_stdio();
        }
        None => {
            if let Some(fd) = user_fd {
                let mut f = fd_file(fd)?;
                f.write_all(&[0]).context("write (--fd option)")?;
            }
        }
    }
    let r = session.run();
    drop(session);
    if let Some(p) = &pid_file {
        let _ = std::fs::remove_file(p);
    }
    r.context("serving the filesystem")?;
    Ok(0)
}

/// A FUSE mount whose server died (killed) leaves the directory answering
/// ENOTCONN (or ECONNABORTED, on kernels that saw the connection aborted):
/// detach it, so that a new mount can take its place.
fn clear_stale_mount(mountpoint: &str) {
    let stale = std::fs::metadata(mountpoint).is_err_and(|e| {
        matches!(
            e.raw_os_error(),
            Some(libc::ENOTCONN) | Some(libc::ECONNABORTED)
        )
    });
    if stale {
        for bin in ["fusermount3", "fusermount"] {
            let done = std::process::Command::new(bin)
                .args(["-u", "-z", "--"])
                .arg(mountpoint)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if done {
                eprintln!("{PROG}: {mountpoint}: detached a stale mount (its server had died)");
                return;
            }
        }
    }
}

/// A writable file for an fd number given on the command line or in the
/// environment (reopened through /proc: the number is only a name here).
fn fd_file(fd: i32) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
        .with_context(|| format!("fd {fd} is not open"))
}

/// stdin, stdout and stderr to /dev/null (the background process has no
/// terminal to talk to).
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

/// The foreground half: run ourselves with `--no-fork` in a new session,
/// wait until it has mounted (or died), and return. Its errors reach the
/// terminal: it keeps our stderr until it is ready.
fn run_in_background(user_fd: Option<i32>) -> Result<i32> {
    use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
    let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    // The child inherits the write end, and only that.
    fcntl(&tx, FcntlArg::F_SETFD(FdFlag::empty())).context("pipe")?;
    let exe = std::env::current_exe().context("finding gx-mount's own path")?;
    let mut child = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(READY_ENV, tx.as_raw_fd().to_string())
        .spawn()
        .context("starting the background gx-mount")?;
    drop(tx);
    let mut rx = std::fs::File::from(rx);
    let mut byte = [0u8; 1];
    match rx.read(&mut byte) {
        Ok(1) => {
            if let Some(fd) = user_fd {
                let mut f = fd_file(fd)?;
                f.write_all(&[0]).context("write (--fd option)")?;
            }
            Ok(0)
        }
        _ => {
            // It failed before mounting and said why on our stderr.
            let status = child.wait()?;
            Ok(status.code().filter(|&c| c != 0).unwrap_or(1))
        }
    }
}

/// `-o` options: those of the kernel mount, and those libfuse's high-level
/// API takes that we implement ourselves.
#[derive(Debug, Default)]
struct FuseOptions {
    kernel: Vec<fuser::MountOption>,
    readonly: bool,
    attr_timeout: Option<f64>,
    entry_timeout: Option<f64>,
    use_ino: bool,
    kernel_cache: bool,
    uid: Option<u32>,
    gid: Option<u32>,
    umask: Option<u32>,
    trace: bool,
    sync: bool,
    suid: bool,
    dev: bool,
}

fn parse_fuse_options(m: &ArgMatches) -> Result<FuseOptions> {
    use fuser::MountOption as M;
    let mut o = FuseOptions::default();
    let all = m
        .get_many::<String>("option")
        .map(|v| v.cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    for opt in all
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
    {
        let (key, val) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        };
        let num = |v: Option<&str>| -> Result<f64> {
            v.and_then(|v| v.parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
                .with_context(|| format!("fuse: invalid parameter in option `{opt}'"))
        };
        let id = |v: Option<&str>, radix: u32| -> Result<u32> {
            v.and_then(|v| u32::from_str_radix(v, radix).ok())
                .with_context(|| format!("fuse: invalid parameter in option `{opt}'"))
        };
        match (key, val) {
            ("allow_other", None) => o.kernel.push(M::AllowOther),
            ("allow_root", None) => o.kernel.push(M::AllowRoot),
            ("default_permissions", None) => o.kernel.push(M::DefaultPermissions),
            ("auto_unmount", None) => o.kernel.push(M::AutoUnmount),
            ("ro", None) => o.readonly = true,
            ("rw", None) => {}
            ("dev", None) => o.dev = true,
            ("nodev", None) => o.dev = false,
            ("suid", None) => o.suid = true,
            ("nosuid", None) => o.suid = false,
            ("exec", None) => o.kernel.push(M::Exec),
            ("noexec", None) => o.kernel.push(M::NoExec),
            ("atime", None) => o.kernel.push(M::Atime),
            ("noatime", None) => o.kernel.push(M::NoAtime),
            ("sync", None) => o.kernel.push(M::Sync),
            ("async", None) => o.kernel.push(M::Async),
            ("dirsync", None) => o.kernel.push(M::DirSync),
            ("fsname", Some(v)) => o.kernel.push(M::FSName(v.to_string())),
            ("subtype", Some(v)) => o.kernel.push(M::Subtype(v.to_string())),
            ("attr_timeout", v) => o.attr_timeout = Some(num(v)?),
            ("entry_timeout", v) => o.entry_timeout = Some(num(v)?),
            // Accepted for compatibility; they change nothing here.
            ("negative_timeout", v) => {
                num(v)?;
            }
            ("nonempty" | "big_writes" | "hard_remove" | "direct_io" | "auto_cache", None) => {}
            ("max_read" | "max_write" | "max_readahead", v) => {
                num(v)?;
            }
            ("use_ino" | "readdir_ino", None) => o.use_ino = true,
            ("kernel_cache", None) => o.kernel_cache = true,
            ("uid", v) => o.uid = Some(id(v, 10)?),
            ("gid", v) => o.gid = Some(id(v, 10)?),
            ("umask", v) => o.umask = Some(id(v, 8)? & 0o777),
            ("debug", None) => o.trace = true,
            _ => bail!("fuse: unknown option(s): `-o {opt}' (try --fuse-help)"),
        }
    }
    Ok(o)
}

impl FuseOptions {
    fn mount_options(&self) -> Vec<fuser::MountOption> {
        use fuser::MountOption as M;
        let mut v = self.kernel.clone();
        if !v.iter().any(|o| matches!(o, M::FSName(_))) {
            v.push(M::FSName(PROG.into()));
        }
        if !v.iter().any(|o| matches!(o, M::Subtype(_))) {
            v.push(M::Subtype(PROG.into()));
        }
        // A guest's set-uid programs and device nodes mean nothing on the
        // host, and could hurt it: off unless asked for.
        v.push(if self.suid { M::Suid } else { M::NoSuid });
        v.push(if self.dev { M::Dev } else { M::NoDev });
        v.push(if self.readonly { M::RO } else { M::RW });
        v
    }

    fn into_options(self, m: &ArgMatches) -> gx_tools::fuse::Options {
        // A read-only image cannot change under us: cache names and
        // attributes as long as the directory cache lives. Read-write, every
        // change passes through us too, but other views (the guest's own
        // kernel) may differ in details such as times: a second, as libfuse.
        let dir_cache = m.get_one::<u64>("dir-cache-timeout").copied().unwrap_or(60);
        let default = if self.readonly { dir_cache as f64 } else { 1.0 };
        gx_tools::fuse::Options {
            readonly: self.readonly,
            attr_ttl: Duration::from_secs_f64(self.attr_timeout.unwrap_or(default)),
            entry_ttl: Duration::from_secs_f64(self.entry_timeout.unwrap_or(default)),
            use_ino: self.use_ino,
            kernel_cache: self.kernel_cache,
            uid: self.uid,
            gid: self.gid,
            umask: self.umask,
            trace: self.trace,
            sync: self.sync,
            shutdown: true,
        }
    }
}

const FUSE_HELP: &str = "\
FUSE options (-o OPT[,OPT...]):
    allow_other            allow access to other users
    allow_root             allow access to root
    default_permissions    enable permission checking by the kernel
    auto_unmount           unmount when gx-mount exits (via fusermount3)
    ro                     mount read-only (same as --ro)
    dev, suid              honour device nodes and set-uid bits (off by default)
    exec, noexec, atime, noatime, sync, async, dirsync
                           kernel mount flags
    fsname=NAME            the source shown in /proc/mounts (default gx-mount)
    subtype=NAME           the type shown as fuse.NAME (default gx-mount)
    attr_timeout=T         cache attributes for T seconds (default: 60 read-only, 1 read-write)
    entry_timeout=T        cache names for T seconds (same default)
    use_ino                show the guest's inode numbers
    kernel_cache           keep file data cached across opens (always, read-only)
    uid=N, gid=N           show every file as owned by N
    umask=M                show permissions masked with octal M
    debug                  print each request (same as -x)
Accepted and ignored: negative_timeout, nonempty, big_writes, hard_remove,
direct_io, auto_cache, max_read, max_write, max_readahead, rw, nodev, nosuid.
";

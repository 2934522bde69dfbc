//! gx-rescue: a rescue shell on a virtual machine's disks, like virt-rescue.
//!
//! A root shell (`><rescue>` prompt, job control, the appliance's tools: an
//! editor, e2fsck, resize2fs, lvm, ntfsfix, fdisk/sgdisk, mount, chroot)
//! runs in the appliance with the guest's disks attached, read-write unless
//! `--ro`. The shell's terminal is a pseudo-terminal in the appliance,
//! relayed over the agent's channel (`Handle::rescue`); here the user's
//! terminal is put in raw mode, restored on every way out (the end of the
//! shell, `^] q`, an error, SIGTERM/SIGHUP/SIGINT/SIGQUIT from outside,
//! `^] z` for the time the program is stopped).
//!
//! Escapes (virt-rescue's, default `^]`, `-e ^x|none`): `?`/`h` help, `i`
//! inspection data (with `-i`), `q`/`x` quit, `s` sync, `u` unmount, `z`
//! suspend; the escape key twice sends it to the shell.
//!
//! `--suggest` boots nothing: the direct engine inspects the disks and the
//! mount commands for the rescue shell are printed as virt-rescue prints
//! them.

use anyhow::{Context, Result, bail};
use gx_cli::Common;
use gx_guestfs::calls::rescue::{RescueAction, RescueOptions, RescueTerminal};
use gx_guestfs::{AddDriveScratchOpts, Engine, Handle};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::termios::{self, SetArg, Termios};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const PROG: &str = "gx-rescue";
/// virt-rescue's scratch disks: 10 GiB, sparse.
const SCRATCH_SIZE: i64 = 10 << 30;

/// The terminal settings to put back, and scratch files to remove, for the
/// signal thread (the normal ways out restore them through `RawTty`).
static SAVED_TTY: Mutex<Option<Termios>> = Mutex::new(None);
static SCRATCH: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Set on SIGWINCH: the shell's terminal gets the new size.
static RESIZED: AtomicBool = AtomicBool::new(false);

fn main() {
    gx_cli::run(PROG, real_main)
}

fn die(msg: String) -> ! {
    eprintln!("{PROG}: error: {msg}");
    std::process::exit(1)
}

fn usage_error(msg: &str) -> ! {
    eprintln!("{PROG}: error: {msg}");
    eprintln!("Try ‘{PROG} --help’ for more information.");
    std::process::exit(1)
}

/// `-e ^x` (a control key, `^a`..`^_`), or `none` (0).
fn parse_escape_key(arg: &str) -> Option<u8> {
    if arg == "none" {
        return Some(0);
    }
    match arg.as_bytes() {
        [b'^', c] if c.is_ascii_lowercase() || (b'A'..=b'_').contains(c) => {
            Some(c.to_ascii_uppercase() - b'@')
        }
        _ => None,
    }
}

fn real_main() -> Result<i32> {
    let m = gx_cli::parse(gx_tools::cli::rescue::command());
    let mut common = Common::from_matches(&m)?;
    let mut memsize: Option<i32> = None;
    // virt-rescue <= 1.36 took `-m N` for the memory size: a bare number
    // is not a device.
    common.mounts.retain(|mp| match mp.device.parse::<i32>() {
        Ok(n) if mp.mountpoint == "/" && mp.options.is_none() => {
            memsize = Some(n);
            false
        }
        _ => true,
    });
    if let Some(s) = m.get_one::<String>("memsize") {
        memsize = Some(
            s.parse()
                .unwrap_or_else(|_| die(format!("could not parse memory size ‘{s}’"))),
        );
    }
    let smp = m.get_one::<String>("smp").map(|s| {
        let n: i32 = s
            .parse()
            .unwrap_or_else(|_| die(format!("could not parse --smp parameter ‘{s}’")));
        if n < 1 {
            die(format!("--smp parameter ‘{s}’ should be >= 1"));
        }
        n
    });
    let mut scratch = 0;
    for s in m.get_many::<String>("scratch").into_iter().flatten() {
        let n: i32 = if s.is_empty() {
            1
        } else {
            s.parse()
                .unwrap_or_else(|_| die(format!("could not parse --scratch parameter ‘{s}’")))
        };
        if n < 1 {
            die(format!("--scratch parameter ‘{s}’ should be >= 1"));
        }
        scratch += n;
    }
    let escape = match m.get_one::<String>("escape") {
        Some(e) => {
            parse_escape_key(e).unwrap_or_else(|| die(format!("unrecognized escape key: {e}")))
        }
        None => 0x1d,
    };
    let append = m.get_one::<String>("append").cloned();
    if m.get_flag("network") {
        eprintln!("{PROG}: warning: --network: the appliance has no network device; ignored");
    }
    let mut args: Vec<String> = m
        .get_many::<String>("args")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    // Old-style `gx-rescue disk.img` / `gx-rescue domain`.
    common.take_positional_drives(&mut args, 0);
    if m.get_flag("suggest") {
        if common.drives.is_empty() {
            usage_error("you must specify at least one -a or -d option.");
        }
        return suggest(&common);
    }
    if let Some(a) = args.first() {
        eprintln!(
            "{PROG}: error: extra argument ‘{a}’ on command line.\nMake sure to specify the \
             argument for --format or --scratch like '--format={a}'."
        );
        eprintln!("Try ‘{PROG} --help’ for more information.");
        std::process::exit(1);
    }
    if common.drives.is_empty() {
        usage_error("you must specify at least one -a or -d option.");
    }
    let readonly = m.get_flag("ro");
    // The shell needs the appliance; `--engine` can still ask for it
    // explicitly, but nothing is gained by reading through the direct one.
    if common.engine == Engine::Auto {
        common.engine = Engine::Appliance;
    }
    catch_signals()?;
    let mut g = common.launch_with(readonly, |g| {
        if let Some(n) = memsize {
            g.set_memsize(n)?;
        }
        if let Some(n) = smp {
            g.set_smp(n)?;
        }
        g.set_append(append.as_deref())?;
        for _ in 0..scratch {
            g.add_drive_scratch(SCRATCH_SIZE, AddDriveScratchOpts::default())?;
            if let (Some(d), Ok(mut s)) = (g.drives().last(), SCRATCH.lock()) {
                s.push(d.path.clone());
            }
        }
        Ok(())
    })?;
    let mut inspection = None;
    let mut bind = false;
    if common.inspector {
        let roots = g.inspect_os()?;
        let root = match roots.as_slice() {
            [] => bail!(gx_cli::inspect::NO_OS),
            [r] => r.clone(),
            _ => bail!(gx_cli::inspect::MULTI_OS),
        };
        gx_cli::inspect::mount_root_mode(&mut g, &root, PROG, readonly)?;
        bind = !gx_cli::inspect::is_windows(&g, &root);
        inspection = Some(inspection_text(&g, &roots));
    }
    let status = run_shell(&g, escape, inspection, bind);
    // Whatever the shell did, its writes reach the disks: unmount, sync,
    // power off.
    let shut = g.shutdown();
    remove_scratch();
    status?;
    shut?;
    Ok(0)
}

/// `^] i`: each root with its product name, type and distro.
fn inspection_text(g: &Handle, roots: &[String]) -> String {
    let mut s = String::from("\r\n");
    for r in roots {
        s.push_str(&format!("root device: {r}\r\n"));
        if let Ok(p) = g.inspect_get_product_name(r) {
            s.push_str(&format!("  product name: {p}\r\n"));
        }
        if let Ok(t) = g.inspect_get_type(r) {
            s.push_str(&format!("  type: {t}\r\n"));
        }
        if let Ok(d) = g.inspect_get_distro(r) {
            s.push_str(&format!("  distro: {d}\r\n"));
        }
    }
    s
}

fn run_shell(g: &Handle, escape: u8, inspection: Option<String>, bind: bool) -> Result<()> {
    let stdin = std::io::stdin();
    let fd = stdin.as_raw_fd();
    let (rows, cols) = window_size();
    let term = std::env::var("TERM")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "linux".into());
    let tty = RawTty::enter(fd)?;
    let mut t = Terminal {
        fd,
        is_tty: tty.is_some(),
        eof: false,
        escape,
        in_escape: false,
        inspection,
        tty: tty.as_ref(),
    };
    if escape > 0 {
        t.say(&format!(
            "\r\nThe {PROG} escape key is ‘{k}’.  Type ‘{k} h’ for help.\r\n",
            k = key_name(escape)
        ));
    }
    let opts = RescueOptions {
        rows,
        cols,
        term,
        bind,
    };
    let r = g.rescue(&opts, &mut t);
    drop(tty);
    r.map(|_| ()).context("the rescue shell")
}

fn key_name(k: u8) -> String {
    if k == 0 {
        "none".into()
    } else {
        format!("^{}", char::from(k + b'@'))
    }
}

fn window_size() -> (u16, u16) {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    for fd in [1, 0, 2] {
        if nix_ioctl_winsize(fd, &mut ws) && ws.ws_row > 0 && ws.ws_col > 0 {
            return (ws.ws_row, ws.ws_col);
        }
    }
    (24, 80)
}

fn nix_ioctl_winsize(fd: RawFd, ws: &mut nix::libc::winsize) -> bool {
    // SAFETY: TIOCGWINSZ writes one winsize through a valid pointer.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::ioctl(fd, nix::libc::TIOCGWINSZ, ws as *mut nix::libc::winsize) == 0
    }
}

/// The user's terminal in raw mode for as long as this lives.
struct RawTty {
    fd: RawFd,
    saved: Termios,
}

impl RawTty {
    /// `None` when stdin is not a terminal (input from a pipe or file).
    fn enter(fd: RawFd) -> Result<Option<RawTty>> {
        let bfd = borrowed(fd);
        let Ok(saved) = termios::tcgetattr(bfd) else {
            return Ok(None);
        };
        if let Ok(mut s) = SAVED_TTY.lock() {
            *s = Some(saved.clone());
        }
        let t = RawTty { fd, saved };
        t.raw()?;
        Ok(Some(t))
    }

    fn raw(&self) -> Result<()> {
        let mut raw = self.saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(borrowed(self.fd), SetArg::TCSANOW, &raw).context("tcsetattr: stdin")?;
        Ok(())
    }

    fn restore(&self) {
        let _ = termios::tcsetattr(borrowed(self.fd), SetArg::TCSANOW, &self.saved);
    }
}

impl Drop for RawTty {
    fn drop(&mut self) {
        self.restore();
        if let Ok(mut s) = SAVED_TTY.lock() {
            *s = None;
        }
    }
}

fn borrowed(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: stdin (fd 0) stays open for the whole process.
    #[allow(unsafe_code)]
    unsafe {
        std::os::fd::BorrowedFd::borrow_raw(fd)
    }
}

/// The user's side: stdin in, stdout out, escapes handled here.
struct Terminal<'a> {
    fd: RawFd,
    is_tty: bool,
    eof: bool,
    escape: u8,
    in_escape: bool,
    inspection: Option<String>,
    tty: Option<&'a RawTty>,
}

impl Terminal<'_> {
    fn say(&mut self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        let _ = o.flush();
    }

    fn say_escape(&mut self, c: u8) {
        let s = format!("{}{}\r\n", key_name(self.escape), char::from(c));
        self.say(&s);
    }

    fn help(&mut self) {
        let k = key_name(self.escape);
        let mut s = format!("{PROG} escape sequences:\r\n");
        s.push_str(&format!(" {k} ? - print this message\r\n"));
        s.push_str(&format!(" {k} h - print this message\r\n"));
        if self.inspection.is_some() {
            s.push_str(&format!(" {k} i - print inspection data\r\n"));
        }
        s.push_str(&format!(" {k} q - quit {PROG}\r\n"));
        s.push_str(&format!(" {k} s - sync the filesystems\r\n"));
        s.push_str(&format!(" {k} u - unmount filesystems\r\n"));
        s.push_str(&format!(" {k} x - quit {PROG}\r\n"));
        s.push_str(&format!(" {k} z - suspend {PROG}\r\n"));
        s.push_str("to pass the escape key through to the rescue shell, type it twice\r\n");
        self.say(&s);
    }

    /// `^] z`: the terminal as it was, stop; raw again when continued.
    fn suspend(&mut self) {
        if let Some(t) = self.tty {
            t.restore();
        }
        let _ = nix::sys::signal::raise(Signal::SIGTSTP);
        if let Some(t) = self.tty {
            let _ = t.raw();
        }
    }
}

impl RescueTerminal for Terminal<'_> {
    fn input_fd(&self) -> Option<RawFd> {
        (!self.eof).then_some(self.fd)
    }

    fn read_input(&mut self) -> std::io::Result<Vec<RescueAction>> {
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(borrowed(self.fd), &mut buf).map_err(std::io::Error::from)?;
        if n == 0 {
            self.eof = true;
            // A terminal that went away ends the session; the end of piped
            // input is the end of the shell's input (^D on its terminal).
            return Ok(vec![if self.is_tty {
                RescueAction::Quit
            } else {
                RescueAction::Send(vec![4])
            }]);
        }
        let mut actions = Vec::new();
        let mut data = Vec::new();
        for &b in &buf[..n] {
            if self.escape == 0 {
                data.push(b);
                continue;
            }
            if !self.in_escape {
                if b == self.escape {
                    self.in_escape = true;
                } else {
                    data.push(b);
                }
                continue;
            }
            self.in_escape = false;
            if b == self.escape {
                data.push(b);
                continue;
            }
            if !data.is_empty() {
                actions.push(RescueAction::Send(std::mem::take(&mut data)));
            }
            match b {
                b'?' | b'h' => {
                    self.say_escape(b);
                    self.help();
                }
                b'i' => {
                    self.say_escape(b);
                    if let Some(s) = self.inspection.clone() {
                        self.say(&s);
                    }
                }
                b'q' | b'x' => {
                    self.say_escape(b);
                    actions.push(RescueAction::Quit);
                    return Ok(actions);
                }
                b's' => {
                    self.say_escape(b);
                    self.say("attempting to sync filesystems ...\r\n");
                    actions.push(RescueAction::Sync);
                }
                b'u' => {
                    self.say_escape(b);
                    self.say("unmounting filesystems ...\r\n");
                    actions.push(RescueAction::UmountAll);
                }
                b'z' => {
                    self.say_escape(b);
                    self.suspend();
                }
                // Unknown escapes are dropped, as virt-rescue drops them.
                _ => {}
            }
        }
        if !data.is_empty() {
            actions.push(RescueAction::Send(data));
        }
        Ok(actions)
    }

    fn output(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut o = std::io::stdout().lock();
        o.write_all(data)?;
        o.flush()
    }

    fn resized(&mut self) -> Option<(u16, u16)> {
        RESIZED.swap(false, Ordering::SeqCst).then(window_size)
    }
}

/// Terminating signals from outside: the terminal goes back to how it was,
/// scratch disks are removed, then the process exits (the VM dies with it).
/// SIGWINCH: the new size goes to the shell's terminal.
fn catch_signals() -> Result<()> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set.thread_block()?;
    std::thread::spawn(move || {
        let sig = loop {
            match set.wait() {
                Ok(Signal::SIGWINCH) => RESIZED.store(true, Ordering::SeqCst),
                Ok(sig) => break sig,
                Err(_) => return,
            }
        };
        if let Ok(s) = SAVED_TTY.lock() {
            if let Some(t) = s.as_ref() {
                let _ = termios::tcsetattr(borrowed(0), SetArg::TCSANOW, t);
            }
        }
        remove_scratch();
        eprintln!("\r\n{PROG}: killed by {sig}");
        std::process::exit(128 + sig as i32);
    });
    Ok(())
}

fn remove_scratch() {
    if let Ok(s) = SCRATCH.lock() {
        for p in s.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `--suggest`: inspection by the direct engine (no VM), then virt-rescue's
/// text: mount commands for each operating system found, else for each
/// filesystem.
fn suggest(common: &Common) -> Result<i32> {
    let mut g = common.launch(true)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Inspecting the virtual machine or disk image ...\n")?;
    out.flush()?;
    let roots = g.inspect_os()?;
    if roots.is_empty() {
        let fses = g.list_filesystems()?;
        let mountable = |t: &str| t != "swap" && t != "unknown";
        if !fses.iter().any(|(_, t)| mountable(t)) {
            write!(
                out,
                "This disk contains no mountable filesystems that we recognize.\n\n\
                 However you can still use {PROG} on the disk image, to try to mount\n\
                 filesystems that are not recognized by libguestfs, or to create partitions,\n\
                 logical volumes and filesystems on a blank disk.\n"
            )?;
            return Ok(0);
        }
        write!(
            out,
            "This disk contains one or more filesystems, but we don’t recognize any\n\
             operating system.  You can use these mount commands in {PROG} (at the\n\
             ><rescue> prompt) to mount these filesystems.\n\n"
        )?;
        for (dev, t) in &fses {
            writeln!(out, "# {dev} has type ‘{t}’")?;
            if mountable(t) {
                writeln!(out, "mount {dev} /sysroot")?;
            }
            writeln!(out)?;
        }
        return Ok(0);
    }
    write!(
        out,
        "This disk contains one or more operating systems.  You can use these mount\n\
         commands in {PROG} (at the ><rescue> prompt) to mount the filesystems.\n\n"
    )?;
    for root in &roots {
        let ty = g
            .inspect_get_type(root)
            .unwrap_or_else(|_| "unknown".into());
        let distro = g
            .inspect_get_distro(root)
            .unwrap_or_else(|_| "unknown".into());
        let product = g.inspect_get_product_name(root).unwrap_or_default();
        let major = g.inspect_get_major_version(root).unwrap_or(0);
        let minor = g.inspect_get_minor_version(root).unwrap_or(0);
        write!(
            out,
            "# {root} is the root of a {ty} operating system\n\
             # type: {ty}, distro: {distro}, version: {major}.{minor}\n\
             # {product}\n\n"
        )?;
        let mut mps = g.inspect_get_mountpoints(root)?;
        // Shortest mountpoint first, so parents are mounted before children.
        mps.sort_by_key(|(mp, _)| mp.len());
        for (mp, dev) in &mps {
            writeln!(out, "mount {dev} /sysroot{mp}")?;
        }
        if ty == "linux" {
            write!(
                out,
                "mount --rbind /dev /sysroot/dev\n\
                 mount --rbind /proc /sysroot/proc\n\
                 mount --rbind /sys /sysroot/sys\n\
                 \n\
                 cd /sysroot\n\
                 chroot /sysroot\n"
            )?;
        }
        writeln!(out)?;
    }
    Ok(0)
}

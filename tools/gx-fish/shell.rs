//! Running commands as guestfish does: one command with its `| pipe`, sent
//! to a `--remote` server or run here (an API call through the generated
//! table, or one of the shell's own commands); scripts line by line (`!cmd`,
//! `<!cmd`, `-cmd`), commands from the command line (`:` between them), and
//! the errors each prints, where, and whether the session ends.

use std::ffi::OsStr;
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::context::{Fish, FishError, os_error};
use crate::parse::{Line, parse_line};
use crate::{PROG, builtins, generated, remote};

/// Leave the session with this exit status (errors were printed).
#[derive(Debug)]
pub(crate) struct Exit(pub i32);

/// Bytes to a string for the API (words that are no UTF-8 are rare: guest
/// paths and values with `\xNN` escapes).
pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs one command; true on success. `exit_on_error` is only passed on
/// to a `--remote` server (which stops after a failed command when set).
pub(crate) fn issue_command(
    f: &mut Fish,
    cmd: &[u8],
    args: &[Vec<u8>],
    pipe: Option<&[u8]>,
    exit_on_error: bool,
) -> bool {
    f.command_num += 1;
    let piped = match pipe {
        Some(p) => match Pipe::start(f, p) {
            Ok(pp) => Some(pp),
            Err(msg) => {
                eprintln!("{msg}");
                return false;
            }
        },
        None => None,
    };
    let name = lossy(cmd);
    let mut ok = if let Some(pid) = f.remote {
        let _ = f.take_write_error();
        remote::call(pid, cmd, args, exit_on_error)
    } else if name.eq_ignore_ascii_case("help") {
        builtins::help(f, args)
    } else if ["quit", "exit", "q"]
        .iter()
        .any(|q| name.eq_ignore_ascii_case(q))
    {
        f.quit = true;
        true
    } else {
        run_action(f, &name, args)
    };
    if f.take_write_error() && (piped.is_none() || f.pipe_error) {
        eprintln!(
            "{PROG}: write error{}",
            if piped.is_some() { " on pipe" } else { "" }
        );
        ok = false;
    }
    if let Some(p) = piped {
        if let Err(msg) = p.finish() {
            eprintln!("{msg}");
            ok = false;
        }
    }
    ok
}

/// A command's output sent through `/bin/sh -c PIPE`: fd 1 points at the
/// pipe while the command runs.
struct Pipe {
    saved: std::os::fd::OwnedFd,
    child: std::process::Child,
}

impl Pipe {
    fn start(f: &mut Fish, pipe: &[u8]) -> Result<Pipe, String> {
        use std::os::fd::AsFd;
        let _ = f.take_write_error();
        let _ = std::io::stdout().flush();
        let mut child = crate::env::shell(OsStr::from_bytes(pipe))
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("fork: {}", os_error(&e)))?;
        let saved = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("failed to dup stdout: {}", os_error(&e)))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| "pipe failed".to_string())?;
        nix::unistd::dup2_stdout(&stdin).map_err(|e| format!("failed to dup stdout: {e}"))?;
        Ok(Pipe { saved, child })
    }

    fn finish(mut self) -> Result<(), String> {
        let _ = std::io::stdout().flush();
        let r = nix::unistd::dup2_stdout(&self.saved)
            .map_err(|e| format!("failed to dup2 standard output: {e}"));
        drop(self.saved);
        self.child
            .wait()
            .map_err(|e| format!("waiting for command to complete: {}", os_error(&e)))?;
        r
    }
}

/// Runs a command here: one of the shell's own or an API call.
pub(crate) fn run_action(f: &mut Fish, cmd: &str, args: &[Vec<u8>]) -> bool {
    // Event handlers write to our standard output themselves: what the
    // shell printed before must come first.
    if !f.events.is_empty() {
        let _ = f.output.flush();
    }
    let r = if let Some(fc) = gx_api::lookup_fish_command(cmd) {
        builtins::run(f, fc.name, cmd, args)
    } else if let Some(a) = gx_api::lookup(cmd) {
        let argv: Vec<String> = args.iter().map(|a| lossy(a)).collect();
        generated::run_action(f, a.name, cmd, &argv)
    } else {
        Err(FishError::Unknown)
    };
    match r {
        Ok(()) => true,
        Err(e) => {
            let _ = f.output.flush();
            report(f, cmd, e);
            false
        }
    }
}

/// Prints a failed command's error as guestfish does.
pub(crate) fn report(f: &Fish, cmd: &str, e: FishError) {
    match e {
        FishError::WrongArgs => {
            eprintln!("error: incorrect number of arguments");
            if let Some(a) = gx_api::lookup(cmd) {
                eprintln!("usage: {}", a.synopsis());
            }
            eprintln!("type 'help {cmd}' for more help on {cmd}");
        }
        FishError::Unknown => {
            eprintln!("{cmd}: unknown command");
            if f.command_num == 1 {
                eprint!(
                    "Did you mean to open a disk image?  {PROG} -a disk.img\n\
                     For a list of commands:             {PROG} -h\n\
                     For complete documentation:         man {PROG}\n"
                );
            }
        }
        FishError::Msg(m) => eprintln!("{m}"),
        FishError::Api(e) => {
            let mut msg = e.to_string();
            if let Some(src) = std::error::Error::source(&e) {
                let s = src.to_string();
                if !msg.contains(&s) {
                    msg.push_str(": ");
                    msg.push_str(&s);
                }
            }
            api_error(f, &msg);
        }
        FishError::Io(e) => api_error(f, &os_error(&e)),
        FishError::Silent => {}
    }
}

/// A libguestfs error: in a script with its position, as guestfish's own
/// error handler prints it.
pub(crate) fn api_error(f: &Fish, msg: &str) {
    if f.interactive {
        eprintln!("libguestfs: error: {msg}");
    } else {
        eprintln!("{}:{}: libguestfs: error: {msg}", f.input_file, f.lineno);
    }
}

/// Runs one line of a script; `Err` ends the session.
pub(crate) fn run_line(f: &mut Fish, line: &[u8], global_exit_on_error: bool) -> Result<(), Exit> {
    let p = match parse_line(line, global_exit_on_error) {
        Ok(p) => p,
        Err((msg, exit_on_error)) => {
            eprintln!("{PROG}: {msg}");
            return if exit_on_error { Err(Exit(1)) } else { Ok(()) };
        }
    };
    let ok = match p.line {
        Line::Empty => true,
        Line::Shell(cmd) => system(f, &cmd),
        Line::Inline(cmd) => execute_and_inline(f, &cmd, p.exit_on_error)?,
        Line::Command { cmd, args, pipe } => {
            issue_command(f, &cmd, &args, pipe.as_deref(), p.exit_on_error)
        }
    };
    if !ok && p.exit_on_error {
        return Err(Exit(1));
    }
    Ok(())
}

/// `!cmd`: the host shell; fails when it cannot run, exits non-zero, or is
/// interrupted.
fn system(f: &mut Fish, cmd: &[u8]) -> bool {
    let _ = f.output.flush();
    match crate::env::shell(OsStr::from_bytes(cmd)).status() {
        Ok(st) => match st.code() {
            Some(c) => c == 0,
            None => !matches!(st.signal(), Some(2 | 3)),
        },
        Err(_) => false,
    }
}

/// `<!cmd`: runs `cmd` and each line of its output as a command.
fn execute_and_inline(f: &mut Fish, cmd: &[u8], exit_on_error: bool) -> Result<bool, Exit> {
    let _ = f.output.flush();
    let mut child = match crate::env::shell(OsStr::from_bytes(cmd))
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("popen: {}", os_error(&e));
            return Ok(false);
        }
    };
    if let Some(out) = child.stdout.take() {
        let mut r = std::io::BufReader::new(out);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            if let Err(e) = run_line(f, line, exit_on_error) {
                let _ = child.wait();
                return Err(e);
            }
        }
    }
    match child.wait() {
        Ok(st) if st.success() => Ok(true),
        _ => {
            // What guestfish's perror after pclose prints here: the errno
            // stdio left behind when it found no terminal.
            eprintln!("pclose: Inappropriate ioctl for device");
            Ok(false)
        }
    }
}

/// Commands on the command line: words, `:` between commands; a leading
/// `-` lets one command fail. No quoting or expansion applies.
pub(crate) fn cmdline(f: &mut Fish, words: &[String]) -> Result<(), Exit> {
    let mut rest = words;
    while let Some(first) = rest.first() {
        if first == ":" {
            eprintln!("{PROG}: empty command on command line");
            return Err(Exit(1));
        }
        let (cmd, exit_on_error) = match first.strip_prefix('-') {
            Some(c) => (c, false),
            None => (first.as_str(), true),
        };
        let end = rest[1..]
            .iter()
            .position(|w| w == ":")
            .map_or(rest.len(), |p| p + 1);
        let args: Vec<Vec<u8>> = rest[1..end].iter().map(|w| w.as_bytes().to_vec()).collect();
        if !issue_command(f, cmd.as_bytes(), &args, None, exit_on_error) && exit_on_error {
            return Err(Exit(1));
        }
        rest = if end < rest.len() {
            &rest[end + 1..]
        } else {
            &[]
        };
    }
    Ok(())
}

/// A script from stdin (or `-f FILE`, which stands in for it): every line
/// until the end or `quit`; the first error ends it.
pub(crate) fn shell_script(f: &mut Fish) -> Result<(), Exit> {
    let stdin = std::io::stdin();
    while !f.quit {
        let mut line = Vec::new();
        match stdin.lock().read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("{PROG}: read: {}", os_error(&e));
                return Err(Exit(1));
            }
        }
        f.lineno += 1;
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        run_line(f, line, true)?;
    }
    Ok(())
}

/// The interactive loop without line editing (when no editor can start):
/// the prompt, then a line from stdin; errors never end it.
pub(crate) fn shell_script_interactive(f: &mut Fish) -> Result<(), Exit> {
    let stdin = std::io::stdin();
    while !f.quit {
        print!("><fs> ");
        let _ = std::io::stdout().flush();
        let mut line = Vec::new();
        match stdin.lock().read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        f.lineno += 1;
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        run_line(f, line, false)?;
    }
    Ok(())
}

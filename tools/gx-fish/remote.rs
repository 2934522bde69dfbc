//! `--listen` and `--remote`: a gx-fish server holding one handle, and
//! clients that send it commands, as guestfish does. The server lives at
//! `/tmp/.guestfish-$EUID/socket-$PID` (the directory private to the user,
//! refused otherwise); a client passes its own standard output with
//! SCM_RIGHTS, so what the command prints lands where the client's output
//! goes (`$(gx-fish --remote cat /etc/fstab)` works), and gets the command's
//! status back; a failed command stops the server when the client asked to
//! exit on error, and `exit` stops it.
//!
//! The wire format is ours (guestfish's is XDR): after the fd, a hello
//! `GXFISH1 <version>\n`, then calls `exit_on_error u8, cmd, argc u32,
//! args` with each string as `u32 length + bytes`; each reply is an `i32`.
//!
//! `--listen` starts the server as a child of the same program (a safe
//! stand-in for fork): the child sets everything up, creates the socket,
//! then says `ready` on the pipe that is its standard output; only then does
//! the parent print `GUESTFISH_PID=N; export GUESTFISH_PID` and exit.

use std::io::{BufRead, BufReader, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use crate::PROG;
use crate::context::{Fish, os_error};
use crate::shell::{Exit, issue_command};

/// The environment variable that makes a gx-fish the `--listen` server
/// child; its value says whether the parent had a terminal.
pub(crate) const CHILD_ENV: &str = "GX_FISH_LISTEN_CHILD";

const HELLO: &str = "GXFISH1";

/// Strings on the wire are bounded: a command line, not a file.
const MAX_STRING: u32 = 64 << 20;
const MAX_ARGS: u32 = 4096;

fn sock_dir() -> PathBuf {
    PathBuf::from(format!(
        "/tmp/.guestfish-{}",
        rustix::process::geteuid().as_raw()
    ))
}

fn sock_path(pid: i32) -> PathBuf {
    sock_dir().join(format!("socket-{pid}"))
}

/// Creates the socket directory if needed and checks it is the user's own
/// and private.
fn create_sock_dir() -> Result<PathBuf, String> {
    let dir = sock_dir();
    make_private_dir(&dir)?;
    Ok(dir)
}

/// `dir`, created 0700 if missing; an error unless it is a directory (not
/// a link to one), owned by the effective user, with mode 0700.
fn make_private_dir(dir: &std::path::Path) -> Result<(), String> {
    let mut b = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    if let Err(e) = b.create(dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(format!("{PROG}: {}: {}", dir.display(), os_error(&e)));
        }
    }
    let m = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("{PROG}: {}: {}", dir.display(), os_error(&e)))?;
    if !m.is_dir()
        || m.permissions().mode() & 0o777 != 0o700
        || m.uid() != rustix::process::geteuid().as_raw()
    {
        return Err(format!(
            "{PROG}: ‘{}’ is not a directory or has insecure owner or permissions",
            dir.display()
        ));
    }
    Ok(())
}

/// `--listen` in the parent: starts the server child with the same
/// arguments, waits until it is ready, prints how to reach it.
pub(crate) fn listen_parent(argv: &[String], csh: bool, interactive: bool) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{PROG}: fork: {}", os_error(&e));
            return 1;
        }
    };
    let mut child = match std::process::Command::new(exe)
        .args(argv)
        .env(CHILD_ENV, if interactive { "1" } else { "0" })
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{PROG}: fork: {}", os_error(&e));
            return 1;
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    if line.trim_end() != "ready" {
        // The child said why on stderr.
        return match child.wait() {
            Ok(st) => st.code().filter(|&c| c != 0).unwrap_or(1),
            Err(_) => 1,
        };
    }
    let pid = child.id();
    if csh {
        println!("setenv GUESTFISH_PID {pid}");
    } else {
        println!("GUESTFISH_PID={pid}; export GUESTFISH_PID");
    }
    0
}

/// Points fd 1 at /dev/null, so the server holds no client's output (and
/// `eval $(gx-fish --listen)` sees the end of the parent's).
fn close_stdout() {
    match std::fs::OpenOptions::new().write(true).open("/dev/null") {
        Ok(null) => {
            let _ = rustix::stdio::dup2_stdout(&null);
        }
        Err(e) => eprintln!("/dev/null: {}", os_error(&e)),
    }
}

/// The server: serves commands until `exit` (or a failed command whose
/// client asked to exit on error).
pub(crate) fn serve(f: &mut Fish) -> Result<(), Exit> {
    let fail = |m: String| {
        eprintln!("{m}");
        Exit(1)
    };
    create_sock_dir().map_err(fail)?;
    let pid = std::process::id();
    let path = sock_path(i32::try_from(pid).unwrap_or(i32::MAX));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| {
        fail(format!(
            "{PROG}: bind: {}: {}",
            path.display(),
            os_error(&e)
        ))
    })?;
    // Tell the parent we are ready, then let go of its pipe.
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"ready\n");
        let _ = out.flush();
    }
    let r = serve_loop(f, &listener, pid);
    let _ = std::fs::remove_file(&path);
    r
}

fn serve_loop(f: &mut Fish, listener: &UnixListener, pid: u32) -> Result<(), Exit> {
    while !f.quit {
        close_stdout();
        let mut s = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("accept: {}", os_error(&e));
                continue;
            }
        };
        if let Err(e) = receive_stdout(&s) {
            eprintln!("{PROG}: {e}");
            continue;
        }
        let mut r = BufReader::new(match s.try_clone() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{PROG}: {}", os_error(&e));
                continue;
            }
        });
        let mut hello = String::new();
        if r.read_line(&mut hello).is_err() || !hello.starts_with(HELLO) {
            eprintln!("{PROG}: protocol error: could not read ‘hello’ message");
            continue;
        }
        let client_version = hello[HELLO.len()..].trim();
        if client_version != env!("CARGO_PKG_VERSION") {
            eprintln!(
                "{PROG}: protocol error: version mismatch, server version ‘{}’ does not match client version ‘{client_version}’.  The two versions must match exactly.",
                env!("CARGO_PKG_VERSION")
            );
            continue;
        }
        while let Ok(Some((exit_on_error, cmd, args))) = read_call(&mut r) {
            if f.g.verbose() {
                let mut line = format!("{PROG}({pid}): {}", String::from_utf8_lossy(&cmd));
                for a in &args {
                    line.push(' ');
                    line.push_str(&String::from_utf8_lossy(a));
                }
                eprintln!("{line}");
            }
            let ok = issue_command(f, &cmd, &args, None, false);
            if f.quit {
                // The client's `exit` returns once the appliance is down
                // and the close handlers ran (their output is the client's).
                let _ = f.g.shutdown();
                let _ = f.out().flush();
                drop(std::mem::take(&mut f.g));
                f.events.clear();
            }
            let _ = s.write_all(&(if ok { 0i32 } else { -1 }).to_be_bytes());
            if exit_on_error && !ok {
                return Err(Exit(1));
            }
        }
    }
    Ok(())
}

/// Receives the client's standard output and makes it ours (fd 1).
fn receive_stdout(s: &UnixStream) -> Result<(), String> {
    let mut byte = [0u8; 1];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        s.as_fd(),
        &mut [IoSliceMut::new(&mut byte)],
        &mut cmsg,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg stdout fd: {e}"))?;
    for m in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = m {
            if let Some(fd) = fds.next() {
                rustix::stdio::dup2_stdout(&fd).map_err(|e| format!("dup2: {e}"))?;
                return Ok(());
            }
        }
    }
    Err("didn't receive a stdout file descriptor".into())
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn read_bytes(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let n = read_u32(r)?;
    if n > MAX_STRING {
        return Err(std::io::Error::other("string too long"));
    }
    let mut v = vec![0u8; n as usize];
    r.read_exact(&mut v)?;
    Ok(v)
}

/// One call, or `None` at the end of the connection.
type Call = (bool, Vec<u8>, Vec<Vec<u8>>);

fn read_call(r: &mut impl Read) -> std::io::Result<Option<Call>> {
    let mut flag = [0u8; 1];
    if r.read(&mut flag)? == 0 {
        return Ok(None);
    }
    let cmd = read_bytes(r)?;
    let argc = read_u32(r)?;
    if argc > MAX_ARGS {
        return Err(std::io::Error::other("too many arguments"));
    }
    let mut args = Vec::with_capacity(argc as usize);
    for _ in 0..argc {
        args.push(read_bytes(r)?);
    }
    Ok(Some((flag[0] != 0, cmd, args)))
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(b);
}

/// The client: sends one command to the server `pid` with our standard
/// output; true when it succeeded there.
pub(crate) fn call(pid: i32, cmd: &[u8], args: &[Vec<u8>], exit_on_error: bool) -> bool {
    match try_call(pid, cmd, args, exit_on_error) {
        Ok(r) => r == 0,
        Err(m) => {
            eprintln!("{m}");
            false
        }
    }
}

fn try_call(pid: i32, cmd: &[u8], args: &[Vec<u8>], exit_on_error: bool) -> Result<i32, String> {
    let not_running = || format!("{PROG}: remote: looks like the server is not running");
    let alive = rustix::process::Pid::from_raw(pid)
        .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
    if !alive {
        return Err(not_running());
    }
    create_sock_dir()?;
    let path = sock_path(pid);
    let start = std::time::Instant::now();
    let mut s = UnixStream::connect(&path)
        .map_err(|e| format!("{}: {}\n{}", path.display(), os_error(&e), not_running()))?;
    // Our standard output, and one byte of data (Linux wants some).
    let stdout = std::io::stdout();
    let fds = [stdout.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    cmsg.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        s.as_fd(),
        &[IoSlice::new(&[0u8])],
        &mut cmsg,
        SendFlags::empty(),
    )
    .map_err(|e| format!("{PROG}: sendmsg stdout fd: {e}"))?;
    let mut msg = format!("{HELLO} {}\n", env!("CARGO_PKG_VERSION")).into_bytes();
    msg.push(u8::from(exit_on_error));
    put_bytes(&mut msg, cmd);
    msg.extend_from_slice(&u32::try_from(args.len()).unwrap_or(u32::MAX).to_be_bytes());
    for a in args {
        put_bytes(&mut msg, a);
    }
    s.write_all(&msg).map_err(|_| {
        format!("{PROG}: protocol error: could not send initial greeting to server")
    })?;
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply)
        .map_err(|_| format!("{PROG}: protocol error: could not decode reply from server"))?;
    // For scripts/bench-fish: the round trip alone, without process start.
    if std::env::var_os("GX_FISH_TIMING").is_some() {
        eprintln!("remote: {} us", start.elapsed().as_micros());
    }
    Ok(i32::from_be_bytes(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_directory_must_be_private() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("new");
        make_private_dir(&d).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        make_private_dir(&d).unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(make_private_dir(&open).unwrap_err().contains("insecure"));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        assert!(
            make_private_dir(&link)
                .unwrap_err()
                .contains("is not a directory")
        );
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(make_private_dir(&file).is_err());
    }

    #[test]
    fn calls_round_trip_and_are_bounded() {
        let mut msg = vec![1u8];
        put_bytes(&mut msg, b"cat");
        msg.extend_from_slice(&2u32.to_be_bytes());
        put_bytes(&mut msg, b"/etc/fstab");
        put_bytes(&mut msg, &[0xff, 0]);
        let mut r = &msg[..];
        let (eoe, cmd, args) = read_call(&mut r).unwrap().unwrap();
        assert!(eoe);
        assert_eq!(cmd, b"cat");
        assert_eq!(args, vec![b"/etc/fstab".to_vec(), vec![0xff, 0]]);
        assert!(read_call(&mut r).unwrap().is_none());
        let mut huge = vec![0u8];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(read_call(&mut &huge[..]).is_err());
    }
}

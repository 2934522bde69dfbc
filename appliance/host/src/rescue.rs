//! The host side of the rescue shell (`internal_rescue`): a terminal in the
//! appliance relayed over the channel (see the agent's `ops/rescue.rs` for
//! the stream's rules).
//!
//! This module owns the relay loop: what the user types goes to the guest
//! as Chunk frames of the session's serial; the guest's Chunks go to the
//! caller's [`RescueTerminal`]; `sync` and `umount_all` asked for meanwhile
//! go as calls of their own serials, whose answers are not waited for; a
//! quit sends Cancel (a hangup) and waits, bounded, for the shell's end; a
//! new size of the user's terminal goes as `internal_rescue_resize`.
//!
//! Must not: interpret the user's bytes (escape keys are the caller's), or
//! wait without bound for an agent that stopped answering after a quit.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use gx_protocol::{CHUNK_SIZE, Call, CallError, Kind, ProtoError, read_frame, wire};

use crate::{Appliance, Error, Result};

/// What the user's input asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RescueAction {
    /// Bytes typed into the rescue shell's terminal.
    Send(Vec<u8>),
    /// Sync the guest's filesystems (virt-rescue `^] s`).
    Sync,
    /// Unmount the guest's filesystems (virt-rescue `^] u`).
    UmountAll,
    /// Hang up and end the session (`^] q`, end of input).
    Quit,
}

/// The user's side of a rescue session.
pub trait RescueTerminal {
    /// The descriptor to wait on for input; `None` when there is none.
    fn input_fd(&self) -> Option<RawFd>;
    /// Reads what is ready on the input and says what it means.
    fn read_input(&mut self) -> io::Result<Vec<RescueAction>>;
    /// What the rescue shell's terminal shows.
    fn output(&mut self, data: &[u8]) -> io::Result<()>;
    /// The user's terminal's new size (rows, columns), once after each
    /// change; asked about every loop (at least 5 times a second).
    fn resized(&mut self) -> Option<(u16, u16)> {
        None
    }
}

/// The terminal the shell gets.
#[derive(Debug, Clone)]
pub struct RescueOptions {
    pub rows: u16,
    pub cols: u16,
    /// `TERM` in the shell.
    pub term: String,
    /// Bind /dev, /proc and /sys under /sysroot (virt-rescue `-i`).
    pub bind: bool,
}

/// After a quit, how long the agent has to end the shell and answer.
const QUIT_WAIT: Duration = Duration::from_secs(10);

impl Appliance {
    /// Runs the rescue shell until it exits or `term` quits; returns the
    /// shell's exit status (128 + signal when the hangup killed it).
    pub fn rescue(&mut self, opts: &RescueOptions, term: &mut dyn RescueTerminal) -> Result<i32> {
        const NAME: &str = "internal_rescue";
        if self.broken {
            return Err(Error::Broken);
        }
        self.serial = self.serial.wrapping_add(1).max(1);
        let serial = self.serial;
        let call = Call::InternalRescue {
            rows: i32::from(opts.rows),
            cols: i32::from(opts.cols),
            term: opts.term.clone(),
            bind: opts.bind,
        };
        self.send(Kind::Call, serial, &[&call.encode()], NAME)?;
        let mut quit_at: Option<Instant> = None;
        let mut output_failed = false;
        loop {
            if quit_at.is_some_and(|t| t.elapsed() > QUIT_WAIT) {
                return Err(self.proto_fail(NAME, ProtoError::Io(io::ErrorKind::TimedOut.into())));
            }
            if let Some((rows, cols)) = term.resized().filter(|_| quit_at.is_none()) {
                let c = Call::InternalRescueResize {
                    rows: i32::from(rows),
                    cols: i32::from(cols),
                };
                self.serial = self.serial.wrapping_add(1).max(1);
                let s = self.serial;
                self.send(Kind::Call, s, &[&c.encode()], NAME)?;
            }
            let input = term.input_fd().filter(|_| quit_at.is_none());
            let buffered = self.rx.pos < self.rx.pre.len();
            let mut fds = [
                libc::pollfd {
                    fd: self.sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: input.unwrap_or(-1),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let nfds = if input.is_some() { 2 } else { 1 };
            let wait = if buffered { 0 } else { 200 };
            // SAFETY: `nfds` valid pollfds in a live array; bounded wait.
            #[allow(unsafe_code)]
            let n = unsafe { libc::poll(fds.as_mut_ptr(), nfds, wait) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Io(e));
            }
            let ready = libc::POLLIN | libc::POLLHUP | libc::POLLERR;
            if buffered || fds[0].revents & ready != 0 {
                let mut buf = std::mem::take(&mut self.buf);
                let r = read_frame(&mut self.rx, &mut buf);
                let f = match r {
                    Ok(f) => f,
                    Err(e) => {
                        self.buf = buf;
                        return Err(self.proto_fail(NAME, e));
                    }
                };
                let done = match (f.kind, f.serial == serial) {
                    (Kind::Chunk, true) => {
                        if !output_failed && term.output(f.payload).is_err() {
                            output_failed = true;
                        }
                        None
                    }
                    (Kind::Reply, true) => Some(Ok(f.payload.to_vec())),
                    (Kind::Error, true) => Some(Err(wire::from_slice::<CallError>(f.payload))),
                    // Answers to our sync/umount_all, progress, strays.
                    _ => None,
                };
                self.buf = buf;
                if output_failed && quit_at.is_none() {
                    // Nowhere to show the shell: hang up.
                    quit_at = Some(Instant::now());
                    self.send(Kind::Cancel, serial, &[], NAME)?;
                }
                match done {
                    None => {}
                    Some(Ok(v)) => return self.decode(v, NAME),
                    Some(Err(Ok(ce))) => {
                        return Err(Error::Call {
                            call: NAME,
                            errno: ce.errno,
                            message: ce.message,
                        });
                    }
                    Some(Err(Err(source))) => {
                        self.broken = true;
                        return Err(Error::Protocol { call: NAME, source });
                    }
                }
            }
            if input.is_some() && fds[1].revents & ready != 0 {
                let actions = match term.read_input() {
                    Ok(a) => a,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Vec::new(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Vec::new(),
                    Err(_) => vec![RescueAction::Quit],
                };
                for a in actions {
                    match a {
                        RescueAction::Send(b) => {
                            for piece in b.chunks(CHUNK_SIZE) {
                                self.send(Kind::Chunk, serial, &[piece], NAME)?;
                            }
                        }
                        RescueAction::Sync | RescueAction::UmountAll => {
                            let c = if a == RescueAction::Sync {
                                Call::Sync
                            } else {
                                Call::UmountAll
                            };
                            self.serial = self.serial.wrapping_add(1).max(1);
                            let s = self.serial;
                            self.send(Kind::Call, s, &[&c.encode()], NAME)?;
                        }
                        RescueAction::Quit => {
                            if quit_at.is_none() {
                                quit_at = Some(Instant::now());
                                self.send(Kind::Cancel, serial, &[], NAME)?;
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
}

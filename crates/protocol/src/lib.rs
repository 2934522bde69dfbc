//! The guestx wire protocol between the host (gx-appliance) and the agent that
//! runs as PID 1 in the appliance VM, over one virtio-serial port.
//!
//! Owns: framing ([`frame`]), the value encoding ([`wire`]), the session
//! rules below, and the wire side of the API table: [`Call`], [`Handler`],
//! [`dispatch`], [`CALLS`] and the structs and optional-argument structs
//! calls carry, all generated from gx-api's table into `generated.rs`.
//!
//! Must not: do I/O beyond reading/writing frames on a given stream, know about
//! QEMU, disks or the agent's implementation, or trust anything the peer sends
//! (every length is checked; malformed input is an error, never a panic).
//!
//! Session:
//! 1. The agent sends [`Kind::Hello`] (serial 0) with [`Hello`]; the host checks
//!    [`PROTOCOL_VERSION`]. The host's first call is then `internal_start`
//!    (clock, entropy, disks). A launcher may save the VM right after the hello
//!    and later restore that snapshot instead of booting: the restored agent
//!    sends no hello and its first frame is the reply to `internal_start`, so
//!    everything that depends on the launch (disks, time, randomness) happens
//!    in that call, never before the hello.
//! 2. The host sends [`Kind::Call`] with a fresh serial; the agent answers with
//!    [`Kind::Reply`] or [`Kind::Error`] of the same serial. [`Kind::Progress`]
//!    frames may come before the answer.
//! 3. `file_in` calls (upload): after the call the host sends [`Kind::Chunk`]s and
//!    ends with an empty chunk, or with [`Kind::Cancel`]. If the agent fails
//!    early it sends `Cancel`, reads on until the host's end marker, then the error.
//! 4. `file_out` calls (download): the agent sends chunks and always ends them
//!    with an empty chunk (success) or `Cancel` (failure), then the answer. The
//!    host may send `Cancel` at any time; a late one is ignored.

pub mod frame;
mod generated;
pub mod wire;

pub use generated::*;

pub use frame::{
    CHUNK_SIZE, Frame, HEADER_LEN, Kind, MAX_FRAME, read_frame, read_header, write_frame,
};
use wire::Wire;

/// Bumped on any incompatible change to frames or the table.
pub const PROTOCOL_VERSION: u32 = 3;
/// First word of [`Hello`], so a stray console byte stream is not taken for an agent.
pub const HELLO_MAGIC: u32 = 0x6778_6167; // "gxag"
/// The virtio-serial port name the agent looks for.
pub const CHANNEL_NAME: &str = "org.guestx.channel.0";

/// Everything that can go wrong reading the peer's bytes.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("connection closed by the peer")]
    Closed,
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    Oversize(usize),
    #[error("truncated message: needed {wanted} bytes, {have} left")]
    Truncated { wanted: usize, have: usize },
    #[error("{0} unexpected trailing bytes in message")]
    Trailing(usize),
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("unknown frame kind {0}")]
    BadKind(u8),
    #[error("unknown procedure number {0}")]
    BadProc(u32),
    #[error("I/O error on the channel: {0}")]
    Io(#[from] std::io::Error),
}

wire_struct! {
    /// The agent's first frame.
    pub struct Hello {
        pub magic: u32,
        pub version: u32,
        /// Free text: agent name, version, kernel release.
        pub agent: String,
    }
}

wire_struct! {
    /// A failed call: `errno` as in the guest's libc (0 when none applies).
    pub struct CallError {
        pub errno: i32,
        pub message: String,
    }
}

impl CallError {
    pub fn new(errno: i32, message: impl Into<String>) -> Self {
        CallError {
            errno,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

wire_struct! {
    /// Progress of a long call; `total == 0` means "alive, no estimate".
    pub struct Progress {
        pub proc_nr: u32,
        pub position: u64,
        pub total: u64,
    }
}

/// Whether and which way a call streams data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    None,
    /// Host -> agent chunks after the call (upload).
    FileIn,
    /// Agent -> host chunks before the reply (download).
    FileOut,
}

/// One call the agent serves, for diagnostics and tests (gx-api has the
/// full table).
#[derive(Debug, Clone, Copy)]
pub struct CallInfo {
    pub nr: u32,
    pub name: &'static str,
    pub stream: StreamKind,
    pub doc: &'static str,
}

/// Looks a call up by its libguestfs name.
pub fn call_info(name: &str) -> Option<&'static CallInfo> {
    CALLS.iter().find(|c| c.name == name)
}

/// Where a `file_out` handler writes its data: a `Write`, plus a way to hand
/// over a whole open file so the transport can move its bytes without copying
/// them through the handler (the agent splices page-cache pages straight into
/// the virtio port). The default just copies.
pub trait FileOut: std::io::Write {
    /// Sends everything from `f`'s current position to its end; the byte count.
    fn send_file(&mut self, f: &mut std::fs::File) -> std::io::Result<u64> {
        std::io::copy(f, self)
    }
}

impl FileOut for Vec<u8> {}
impl FileOut for std::io::Sink {}

/// The data stream of a streamed call, as the agent's handler sees it.
pub enum StreamIo<'a> {
    None,
    In(&'a mut dyn std::io::Read),
    Out(&'a mut dyn FileOut),
}

impl std::fmt::Debug for StreamIo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StreamIo::None => "None",
            StreamIo::In(_) => "In",
            StreamIo::Out(_) => "Out",
        })
    }
}

/// Decodes a Reply payload as the call's return type.
pub fn decode_reply<T: Wire>(payload: &[u8]) -> Result<T, ProtoError> {
    wire::from_slice(payload)
}

#[cfg(test)]
mod tests;

//! Frames: `u32` little-endian body length, then the body: one kind byte, a `u32`
//! serial, and the payload. The length is checked against [`MAX_FRAME`] before a
//! single body byte is read, and the body buffer only grows as bytes actually
//! arrive, so a lying length costs at most what the peer really sent.

use std::io::{self, Read, Write};

use crate::ProtoError;

/// Hard limit on a frame body, header included.
pub const MAX_FRAME: usize = 4 << 20;
/// Bytes of body before the payload: kind (1) + serial (4).
pub const HEADER_LEN: usize = 5;
/// Default data bytes per streamed chunk: big enough that framing costs little,
/// small enough that cancellation is prompt.
pub const CHUNK_SIZE: usize = 256 << 10;

/// What a frame is. The numbers are wire values; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Agent -> host, once, at start: [`crate::Hello`].
    Hello = 0,
    /// Host -> agent: `u32` procedure number, then the call's arguments.
    Call = 1,
    /// Agent -> host: the call succeeded; the payload is its return value.
    Reply = 2,
    /// Agent -> host: the call failed; the payload is [`crate::CallError`].
    Error = 3,
    /// Either way, inside a streamed call: raw data. An empty chunk ends the stream.
    Chunk = 4,
    /// Either way: stop the stream of this serial. Also ends a stream.
    Cancel = 5,
    /// Agent -> host: [`crate::Progress`] of the running call.
    Progress = 6,
}

impl Kind {
    pub fn from_u8(b: u8) -> Result<Kind, ProtoError> {
        Ok(match b {
            0 => Kind::Hello,
            1 => Kind::Call,
            2 => Kind::Reply,
            3 => Kind::Error,
            4 => Kind::Chunk,
            5 => Kind::Cancel,
            6 => Kind::Progress,
            other => return Err(ProtoError::BadKind(other)),
        })
    }
}

/// One received frame; `payload` borrows the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: Kind,
    pub serial: u32,
    pub payload: &'a [u8],
}

/// Reads one frame into `buf` (reused between calls to avoid reallocations).
/// End of stream before the first byte is [`ProtoError::Closed`]; inside a
/// frame it is [`ProtoError::Io`] with `UnexpectedEof`.
///
/// `buf` is scratch space: the payload is `Frame::payload`, and bytes of `buf`
/// past it are stale. Its length is kept between calls so that memory is
/// zeroed only when the buffer grows, never per frame; it grows, doubling, as
/// payload bytes actually arrive, so a lying length costs at most about twice
/// what the peer really sent.
pub fn read_frame<'b, R: Read + ?Sized>(
    r: &mut R,
    buf: &'b mut Vec<u8>,
) -> Result<Frame<'b>, ProtoError> {
    let (kind, serial, len) = read_header(r)?;
    let mut got = 0;
    while got < len {
        if got == buf.len() {
            let grow = (got.max(4096) * 2).min(len);
            buf.resize(grow, 0);
        }
        let end = buf.len().min(len);
        match r.read(&mut buf[got..end]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("frame truncated: {got} of {len} payload bytes"),
                )
                .into());
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Frame {
        kind,
        serial,
        payload: &buf[..len],
    })
}

/// Reads a frame's length word and header and checks them; returns its kind,
/// serial and payload length (the payload is left unread in `r`, for callers
/// that stream it to its destination without a copy). End of stream before
/// the first byte is [`ProtoError::Closed`].
pub fn read_header<R: Read + ?Sized>(r: &mut R) -> Result<(Kind, u32, usize), ProtoError> {
    let mut h = [0u8; 4 + HEADER_LEN];
    let mut got = 0;
    while got < h.len() {
        match r.read(&mut h[got..]) {
            Ok(0) if got == 0 => return Err(ProtoError::Closed),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => {
                got += n;
                // Check the length as soon as it is here, before anything else.
                if got >= 4 {
                    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                    if len > MAX_FRAME {
                        return Err(ProtoError::Oversize(len));
                    }
                    if len < HEADER_LEN {
                        return Err(ProtoError::Malformed("frame shorter than its header"));
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let kind = Kind::from_u8(h[4])?;
    let serial = u32::from_le_bytes([h[5], h[6], h[7], h[8]]);
    Ok((kind, serial, len - HEADER_LEN))
}

/// Splits a complete frame body (after the length word).
pub fn parse_body(body: &[u8]) -> Result<Frame<'_>, ProtoError> {
    if body.len() < HEADER_LEN {
        return Err(ProtoError::Malformed("frame shorter than its header"));
    }
    let kind = Kind::from_u8(body[0])?;
    let serial = u32::from_le_bytes([body[1], body[2], body[3], body[4]]);
    Ok(Frame {
        kind,
        serial,
        payload: &body[HEADER_LEN..],
    })
}

/// The 9 bytes that start a frame whose payload is `payload_len` bytes.
pub fn frame_header(kind: Kind, serial: u32, payload_len: usize) -> Result<[u8; 9], ProtoError> {
    let body = payload_len
        .checked_add(HEADER_LEN)
        .filter(|b| *b <= MAX_FRAME)
        .ok_or(ProtoError::Oversize(payload_len.saturating_add(HEADER_LEN)))?;
    let mut h = [0u8; 9];
    h[..4].copy_from_slice(&(body as u32).to_le_bytes());
    h[4] = kind as u8;
    h[5..].copy_from_slice(&serial.to_le_bytes());
    Ok(h)
}

/// Writes one frame. The payload is given in parts so a chunk's data is not
/// copied just to put a header in front of it.
pub fn write_frame<W: Write + ?Sized>(
    w: &mut W,
    kind: Kind,
    serial: u32,
    parts: &[&[u8]],
) -> Result<(), ProtoError> {
    let len = parts.iter().map(|p| p.len()).sum();
    let h = frame_header(kind, serial, len)?;
    // Small frames go out in one write: on the virtio port every write is a
    // separate buffer, and on the socket one syscall instead of two.
    if len <= 4096 {
        let mut one = Vec::with_capacity(h.len() + len);
        one.extend_from_slice(&h);
        for p in parts {
            one.extend_from_slice(p);
        }
        w.write_all(&one)?;
    } else {
        w.write_all(&h)?;
        for p in parts {
            w.write_all(p)?;
        }
    }
    Ok(())
}

//! The value encoding inside a frame: little-endian integers, `u32`-length-prefixed
//! strings, byte buffers and lists. Hand-written rather than serde so the agent stays
//! small and every length the peer claims is checked against the bytes actually
//! received before anything is allocated.

use crate::ProtoError;

/// A cursor over a received payload. Every read is bounds-checked.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        if n > self.buf.len() {
            return Err(ProtoError::Truncated {
                wanted: n,
                have: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Errors unless the whole payload was consumed: trailing bytes mean the
    /// peer and we disagree about the message layout.
    pub fn finish(self) -> Result<(), ProtoError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::Trailing(self.buf.len()))
        }
    }

    /// A length prefix that claims `n` elements, each at least `min_elem` bytes:
    /// rejected when the payload cannot possibly hold them.
    fn count(&mut self, min_elem: usize) -> Result<usize, ProtoError> {
        let n = u32::get(self)? as usize;
        let need = n.saturating_mul(min_elem.max(1));
        if min_elem > 0 && need > self.buf.len() {
            return Err(ProtoError::Truncated {
                wanted: need,
                have: self.buf.len(),
            });
        }
        // Zero-sized elements still cannot exceed the frame limit.
        if n > crate::MAX_FRAME {
            return Err(ProtoError::Malformed("list length over the frame limit"));
        }
        Ok(n)
    }
}

/// A value that can travel in a frame.
pub trait Wire: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError>;
    /// Smallest encoded size, used to reject lying list lengths early.
    const MIN_SIZE: usize = 1;

    // Lists go through these so `Vec<u8>` can be a plain byte copy without
    // needing specialisation.
    fn put_list(items: &[Self], out: &mut Vec<u8>) {
        put_len(items.len(), out);
        for i in items {
            i.put(out);
        }
    }
    fn get_list(r: &mut Reader<'_>) -> Result<Vec<Self>, ProtoError> {
        let n = r.count(Self::MIN_SIZE)?;
        let mut v = Vec::with_capacity(n.min(r.remaining()));
        for _ in 0..n {
            v.push(Self::get(r)?);
        }
        Ok(v)
    }
}

fn put_len(n: usize, out: &mut Vec<u8>) {
    // Callers never build a payload over MAX_FRAME (frame writing checks), so the
    // saturation only matters for a caller bug, which the frame check then rejects.
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
}

macro_rules! int_wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const MIN_SIZE: usize = std::mem::size_of::<$t>();
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
                Ok(<$t>::from_le_bytes(r.array()?))
            }
        }
    )*};
}
int_wire!(u16, u32, u64, i32, i64);

impl Wire for u8 {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(r.take(1)?[0])
    }
    fn put_list(items: &[Self], out: &mut Vec<u8>) {
        put_len(items.len(), out);
        out.extend_from_slice(items);
    }
    fn get_list(r: &mut Reader<'_>) -> Result<Vec<Self>, ProtoError> {
        let n = r.count(1)?;
        Ok(r.take(n)?.to_vec())
    }
}

impl Wire for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        match r.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ProtoError::Malformed("bool not 0 or 1")),
        }
    }
}

impl Wire for () {
    const MIN_SIZE: usize = 0;
    fn put(&self, _out: &mut Vec<u8>) {}
    fn get(_r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(())
    }
}

impl Wire for String {
    const MIN_SIZE: usize = 4;
    fn put(&self, out: &mut Vec<u8>) {
        u8::put_list(self.as_bytes(), out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let b = u8::get_list(r)?;
        String::from_utf8(b).map_err(|_| ProtoError::Malformed("string is not UTF-8"))
    }
}

impl<T: Wire> Wire for Vec<T> {
    const MIN_SIZE: usize = 4;
    fn put(&self, out: &mut Vec<u8>) {
        T::put_list(self, out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        T::get_list(r)
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.put(out);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        match r.take(1)?[0] {
            0 => Ok(None),
            1 => Ok(Some(T::get(r)?)),
            _ => Err(ProtoError::Malformed("option tag not 0 or 1")),
        }
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    const MIN_SIZE: usize = A::MIN_SIZE + B::MIN_SIZE;
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok((A::get(r)?, B::get(r)?))
    }
}

/// Declares a plain struct whose fields travel in declaration order.
#[macro_export]
macro_rules! wire_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }
        impl $crate::wire::Wire for $name {
            fn put(&self, out: &mut Vec<u8>) { $( $crate::wire::Wire::put(&self.$f, out); )* }
            fn get(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::ProtoError> {
                Ok($name { $($f: <$t as $crate::wire::Wire>::get(r)?),* })
            }
        }
    };
}

/// Encodes one value into a fresh buffer.
pub fn to_vec<T: Wire>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.put(&mut out);
    out
}

/// Decodes a whole payload as one value; trailing bytes are an error.
pub fn from_slice<T: Wire>(b: &[u8]) -> Result<T, ProtoError> {
    let mut r = Reader::new(b);
    let v = T::get(&mut r)?;
    r.finish()?;
    Ok(v)
}

impl Wire for f32 {
    const MIN_SIZE: usize = 4;
    fn put(&self, out: &mut Vec<u8>) {
        self.to_bits().put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(f32::from_bits(u32::get(r)?))
    }
}

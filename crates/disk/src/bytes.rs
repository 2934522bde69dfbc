//! Integers in on-disk structures, little- or big-endian, at a byte offset.
//! The one set of readers every parser uses: reading past the end of the
//! buffer is a `Corrupt` error naming the offset (callers read structures at
//! their full size, so a short buffer is damage or a bug, never silently 0).

use crate::{Error, Result};

/// `N` bytes at `off`, or an error when they are not all inside `b`.
pub fn array<const N: usize>(b: &[u8], off: usize) -> Result<[u8; N]> {
    off.checked_add(N)
        .and_then(|end| b.get(off..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            Error::corrupt(format!(
                "a {N}-byte field at offset {off} runs past the end of a {}-byte structure",
                b.len()
            ))
        })
}

pub fn u8_at(b: &[u8], off: usize) -> Result<u8> {
    array::<1>(b, off).map(|a| a[0])
}
pub fn le16(b: &[u8], off: usize) -> Result<u16> {
    array(b, off).map(u16::from_le_bytes)
}
pub fn le32(b: &[u8], off: usize) -> Result<u32> {
    array(b, off).map(u32::from_le_bytes)
}
pub fn le64(b: &[u8], off: usize) -> Result<u64> {
    array(b, off).map(u64::from_le_bytes)
}
pub fn be16(b: &[u8], off: usize) -> Result<u16> {
    array(b, off).map(u16::from_be_bytes)
}
pub fn be32(b: &[u8], off: usize) -> Result<u32> {
    array(b, off).map(u32::from_be_bytes)
}
pub fn be64(b: &[u8], off: usize) -> Result<u64> {
    array(b, off).map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_short_input_is_an_error() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(le16(&b, 0).unwrap(), 0x0201);
        assert_eq!(be16(&b, 0).unwrap(), 0x0102);
        assert_eq!(le32(&b, 1).unwrap(), 0x0504_0302);
        assert_eq!(be32(&b, 1).unwrap(), 0x0203_0405);
        assert_eq!(le64(&b, 1).unwrap(), 0x0908_0706_0504_0302);
        assert_eq!(be64(&b, 0).unwrap(), 0x0102_0304_0506_0708);
        assert_eq!(u8_at(&b, 8).unwrap(), 9);
        for e in [
            le16(&b, 8).unwrap_err(),
            le64(&b, 2).unwrap_err(),
            le32(&b, usize::MAX).unwrap_err(),
        ] {
            assert_eq!(e.kind(), crate::ErrorKind::Corrupt);
        }
        assert!(u8_at(&b, 9).is_err());
    }
}

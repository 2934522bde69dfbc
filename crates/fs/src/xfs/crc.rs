//! CRC-32C (Castagnoli), slice-by-8, for XFS v5 metadata checksums.
//!
//! Owns only the checksum arithmetic and the XFS convention for a checksum
//! stored inside the block it covers; it must not read anything itself.

const POLY: u32 = 0x82F6_3B78;

/// Eight 256-entry tables, built at compile time.
const TABLES: [[u32; 256]; 8] = build_tables();

const fn build_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut j = 1;
        while j < 8 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            j += 1;
        }
        i += 1;
    }
    t
}

/// Continue a CRC-32C register over `data` (no inversions here).
pub(crate) fn update(mut crc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = TABLES[7][(lo & 0xff) as usize]
            ^ TABLES[6][((lo >> 8) & 0xff) as usize]
            ^ TABLES[5][((lo >> 16) & 0xff) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][(hi & 0xff) as usize]
            ^ TABLES[2][((hi >> 8) & 0xff) as usize]
            ^ TABLES[1][((hi >> 16) & 0xff) as usize]
            ^ TABLES[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ TABLES[0][((crc ^ u32::from(b)) & 0xff) as usize];
    }
    crc
}

/// True when the little-endian checksum at `off` in `buf` is the CRC-32C of
/// `buf` with those four bytes read as zero (xfs_verify_cksum). Out-of-range
/// offsets are simply a mismatch.
pub(crate) fn verify(buf: &[u8], off: usize) -> bool {
    let Some(stored) = buf.get(off..off + 4) else {
        return false;
    };
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let mut crc = update(!0, &buf[..off]);
    crc = update(crc, &[0; 4]);
    crc = update(crc, &buf[off + 4..]);
    !crc == stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_value() {
        assert_eq!(!update(!0, b"123456789"), 0xE306_9283);
        // Every length through the 8-byte path and the tail.
        let data: Vec<u8> = (0..100u8).collect();
        let mut bitwise = !0u32;
        for &b in &data {
            bitwise ^= u32::from(b);
            for _ in 0..8 {
                bitwise = if bitwise & 1 != 0 {
                    (bitwise >> 1) ^ POLY
                } else {
                    bitwise >> 1
                };
            }
        }
        assert_eq!(update(!0, &data), bitwise);
    }

    #[test]
    fn verify_treats_the_field_as_zero() {
        let mut b = vec![7u8; 64];
        b[8..12].fill(0);
        let c = !update(!0, &b);
        b[8..12].copy_from_slice(&c.to_le_bytes());
        assert!(verify(&b, 8));
        b[30] ^= 1;
        assert!(!verify(&b, 8));
        assert!(!verify(&b, 62));
    }
}

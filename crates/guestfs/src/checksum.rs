//! File checksums as libguestfs's `checksum` computes them (the output of
//! `md5sum`, `sha256sum`, ... and `cksum` for `crc`).

use crate::{Error, Result};
use md5::Digest;
use std::io::{self, Write};

/// A running checksum that file data is streamed into.
pub enum Hasher {
    Crc(Cksum),
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A hasher for libguestfs's checksum type name.
    pub fn new(csumtype: &str) -> Result<Self> {
        Ok(match csumtype {
            "crc" => Hasher::Crc(Cksum::default()),
            "md5" => Hasher::Md5(md5::Md5::new()),
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "sha224" => Hasher::Sha224(sha2::Sha224::new()),
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            "sha384" => Hasher::Sha384(sha2::Sha384::new()),
            "sha512" => Hasher::Sha512(sha2::Sha512::new()),
            _ => {
                return Err(Error::invalid(format!(
                    "{csumtype}: unknown checksum type, expecting crc|md5|sha1|sha224|sha256|sha384|sha512"
                )));
            }
        })
    }

    /// The checksum as lowercase hex (decimal for crc, as `cksum` prints it).
    pub fn finish(self) -> String {
        fn hex(bytes: &[u8]) -> String {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
        match self {
            Hasher::Crc(c) => c.finish().to_string(),
            Hasher::Md5(h) => hex(&h.finalize()),
            Hasher::Sha1(h) => hex(&h.finalize()),
            Hasher::Sha224(h) => hex(&h.finalize()),
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha384(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        }
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Hasher::Crc(c) => c.update(buf),
            Hasher::Md5(h) => h.update(buf),
            Hasher::Sha1(h) => h.update(buf),
            Hasher::Sha224(h) => h.update(buf),
            Hasher::Sha256(h) => h.update(buf),
            Hasher::Sha384(h) => h.update(buf),
            Hasher::Sha512(h) => h.update(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// POSIX `cksum`: CRC-32 with polynomial 0x04C11DB7, MSB first, over the data
/// followed by its length in bytes (least significant byte first, no
/// trailing zeros), complemented.
#[derive(Default)]
pub struct Cksum {
    crc: u32,
    len: u64,
}

const fn cksum_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CKSUM_TABLE: [u32; 256] = cksum_table();

impl Cksum {
    fn byte(&mut self, b: u8) {
        self.crc = (self.crc << 8) ^ CKSUM_TABLE[((self.crc >> 24) as u8 ^ b) as usize];
    }

    /// Add data.
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.byte(b);
        }
        self.len += data.len() as u64;
    }

    /// The final value.
    pub fn finish(mut self) -> u32 {
        let mut n = self.len;
        while n != 0 {
            self.byte(n as u8);
            n >>= 8;
        }
        !self.crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(kind: &str, data: &[u8]) -> String {
        let mut h = Hasher::new(kind).unwrap();
        h.write_all(data).unwrap();
        h.finish()
    }

    #[test]
    fn known_values() {
        // Values from coreutils on the same input.
        assert_eq!(sum("crc", b""), "4294967295");
        assert_eq!(sum("crc", b"abc\n"), "1112837078");
        assert_eq!(sum("md5", b"abc\n"), "0bee89b07a248e27c83fc3d5951213c1");
        assert_eq!(
            sum("sha256", b"abc\n"),
            "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb"
        );
        assert!(Hasher::new("sha3").is_err());
    }
}

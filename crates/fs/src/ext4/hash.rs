//! ext4's directory-index name hashes (legacy, half-MD4 and TEA, each in a
//! signed and an unsigned-char flavour), as the on-disk format defines them.
//! The kernel's readdir returns the entries of an indexed directory (and of
//! any one-block directory on a `dir_index` filesystem) in the order of these
//! hashes, so `readdir` here can return them in the same order.
//!
//! Pure functions over bytes: no I/O, no allocation sized by input.

/// The hash algorithms, by the numbers the superblock and dx_root use.
#[cfg(test)]
pub(crate) const DX_HASH_LEGACY: u8 = 0;
pub(crate) const DX_HASH_HALF_MD4: u8 = 1;
pub(crate) const DX_HASH_TEA: u8 = 2;
/// Added to the above for the unsigned-char variants.
pub(crate) const DX_HASH_UNSIGNED_DELTA: u8 = 3;

/// The largest 31-bit hash: reserved to mean "end of directory".
const HTREE_EOF_32BIT: u32 = 0x7fff_ffff;

/// (major, minor) hash of `name`; `version` 0-5 as above, `seed` from the
/// superblock (all zero means the default seed). Unknown versions hash as
/// legacy; the caller only uses the result to order names.
pub(crate) fn dirhash(name: &[u8], version: u8, seed: &[u32; 4]) -> (u32, u32) {
    let mut buf: [u32; 4] = if seed.iter().any(|&w| w != 0) {
        *seed
    } else {
        [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476]
    };
    let unsigned = version >= DX_HASH_UNSIGNED_DELTA;
    let base = if unsigned {
        version - DX_HASH_UNSIGNED_DELTA
    } else {
        version
    };
    let (hash, minor) = match base {
        DX_HASH_HALF_MD4 => {
            let mut input = [0u32; 8];
            for chunk in chunks(name, 32) {
                str2hashbuf(chunk.0, chunk.1, &mut input, unsigned);
                half_md4_transform(&mut buf, &input);
            }
            (buf[1], buf[2])
        }
        DX_HASH_TEA => {
            let mut input = [0u32; 4];
            for chunk in chunks(name, 16) {
                str2hashbuf(chunk.0, chunk.1, &mut input[..], unsigned);
                tea_transform(&mut buf, &input);
            }
            (buf[0], buf[1])
        }
        // DX_HASH_LEGACY, and versions we do not know.
        _ => (dx_hack_hash(name, unsigned), 0),
    };
    let mut hash = hash & !1;
    if hash == HTREE_EOF_32BIT << 1 {
        hash = (HTREE_EOF_32BIT - 1) << 1;
    }
    (hash, minor)
}

/// The kernel hashes the name in blocks, passing the remaining length each
/// time (which decides the padding): (rest of the name, remaining length).
fn chunks(name: &[u8], step: usize) -> impl Iterator<Item = (&[u8], usize)> {
    (0..name.len())
        .step_by(step)
        .map(move |i| (&name[i..], name.len() - i))
}

fn char_val(c: u8, unsigned: bool) -> u32 {
    if unsigned {
        u32::from(c)
    } else {
        i32::from(c as i8) as u32
    }
}

fn dx_hack_hash(name: &[u8], unsigned: bool) -> u32 {
    let (mut hash0, mut hash1): (u32, u32) = (0x12a3_fe2d, 0x37ab_e8f9);
    for &c in name {
        let mut hash = hash1.wrapping_add(hash0 ^ char_val(c, unsigned).wrapping_mul(7_152_373));
        if hash & 0x8000_0000 != 0 {
            hash = hash.wrapping_sub(0x7fff_ffff);
        }
        hash1 = hash0;
        hash0 = hash;
    }
    hash0 << 1
}

/// Packs up to `out.len() * 4` bytes of `msg` (of remaining length `len`)
/// into words, padding with the length, as `str2hashbuf_{signed,unsigned}`.
fn str2hashbuf(msg: &[u8], len: usize, out: &mut [u32], unsigned: bool) {
    let num = out.len();
    let mut pad = (len as u32) | ((len as u32) << 8);
    pad |= pad << 16;
    let mut val = pad;
    let n = len.min(num * 4).min(msg.len());
    let mut w = 0;
    for (i, &c) in msg[..n].iter().enumerate() {
        val = char_val(c, unsigned).wrapping_add(val << 8);
        if i % 4 == 3 {
            out[w] = val;
            w += 1;
            val = pad;
        }
    }
    if w < num {
        out[w] = val;
        w += 1;
    }
    while w < num {
        out[w] = pad;
        w += 1;
    }
}

fn tea_transform(buf: &mut [u32; 4], input: &[u32; 4]) {
    const DELTA: u32 = 0x9e37_79b9;
    let (mut b0, mut b1) = (buf[0], buf[1]);
    let (a, b, c, d) = (input[0], input[1], input[2], input[3]);
    let mut sum: u32 = 0;
    for _ in 0..16 {
        sum = sum.wrapping_add(DELTA);
        b0 = b0.wrapping_add(
            ((b1 << 4).wrapping_add(a)) ^ (b1.wrapping_add(sum)) ^ ((b1 >> 5).wrapping_add(b)),
        );
        b1 = b1.wrapping_add(
            ((b0 << 4).wrapping_add(c)) ^ (b0.wrapping_add(sum)) ^ ((b0 >> 5).wrapping_add(d)),
        );
    }
    buf[0] = buf[0].wrapping_add(b0);
    buf[1] = buf[1].wrapping_add(b1);
}

fn half_md4_transform(buf: &mut [u32; 4], x: &[u32; 8]) {
    const K1: u32 = 0;
    const K2: u32 = 0o13240474631;
    const K3: u32 = 0o15666365641;
    let f = |x: u32, y: u32, z: u32| z ^ (x & (y ^ z));
    let g = |x: u32, y: u32, z: u32| (x & y).wrapping_add((x ^ y) & z);
    let h = |x: u32, y: u32, z: u32| x ^ y ^ z;
    let (mut a, mut b, mut c, mut d) = (buf[0], buf[1], buf[2], buf[3]);
    macro_rules! round {
        ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $s:expr) => {
            $a = $a.wrapping_add($f($b, $c, $d)).wrapping_add($x);
            $a = $a.rotate_left($s);
        };
    }
    round!(f, a, b, c, d, x[0].wrapping_add(K1), 3);
    round!(f, d, a, b, c, x[1].wrapping_add(K1), 7);
    round!(f, c, d, a, b, x[2].wrapping_add(K1), 11);
    round!(f, b, c, d, a, x[3].wrapping_add(K1), 19);
    round!(f, a, b, c, d, x[4].wrapping_add(K1), 3);
    round!(f, d, a, b, c, x[5].wrapping_add(K1), 7);
    round!(f, c, d, a, b, x[6].wrapping_add(K1), 11);
    round!(f, b, c, d, a, x[7].wrapping_add(K1), 19);

    round!(g, a, b, c, d, x[1].wrapping_add(K2), 3);
    round!(g, d, a, b, c, x[3].wrapping_add(K2), 5);
    round!(g, c, d, a, b, x[5].wrapping_add(K2), 9);
    round!(g, b, c, d, a, x[7].wrapping_add(K2), 13);
    round!(g, a, b, c, d, x[0].wrapping_add(K2), 3);
    round!(g, d, a, b, c, x[2].wrapping_add(K2), 5);
    round!(g, c, d, a, b, x[4].wrapping_add(K2), 9);
    round!(g, b, c, d, a, x[6].wrapping_add(K2), 13);

    round!(h, a, b, c, d, x[3].wrapping_add(K3), 3);
    round!(h, d, a, b, c, x[7].wrapping_add(K3), 9);
    round!(h, c, d, a, b, x[2].wrapping_add(K3), 11);
    round!(h, b, c, d, a, x[6].wrapping_add(K3), 15);
    round!(h, a, b, c, d, x[1].wrapping_add(K3), 3);
    round!(h, d, a, b, c, x[5].wrapping_add(K3), 9);
    round!(h, c, d, a, b, x[0].wrapping_add(K3), 11);
    round!(h, b, c, d, a, x[4].wrapping_add(K3), 15);

    buf[0] = buf[0].wrapping_add(a);
    buf[1] = buf[1].wrapping_add(b);
    buf[2] = buf[2].wrapping_add(c);
    buf[3] = buf[3].wrapping_add(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from e2fsprogs: `debugfs -R "dx_hash -h ALG [-s SEED] NAME"`.
    #[test]
    fn hashes_match_debugfs() {
        let zero = [0u32; 4];
        // -s 0b0a0908-0706-0504-0302-010000000000
        let seed = [0x0809_0a0b, 0x0405_0607, 0x0001_0203, 0];
        let long = b"0123456789abcdef0123456789abcdef0123456789";
        let uni = "ünïcödé.txt".as_bytes();
        // (version, name, seed, (major, minor))
        type Case<'a> = (u8, &'a [u8], [u32; 4], (u32, u32));
        let cases: &[Case] = &[
            (DX_HASH_LEGACY, b"a", zero, (0xe74b_53e2, 0)),
            (DX_HASH_LEGACY, b"hello", zero, (0x3225_2546, 0)),
            (DX_HASH_LEGACY, uni, zero, (0x24c3_3f04, 0)),
            (DX_HASH_LEGACY, long, seed, (0xf613_e2ec, 0)),
            (DX_HASH_HALF_MD4, b"a", zero, (0xd5fa_7d7a, 0xacb4_8187)),
            (DX_HASH_HALF_MD4, b"a", seed, (0xbd10_f9d4, 0xb1f5_5bc4)),
            (DX_HASH_HALF_MD4, b"hello", zero, (0x1746_da32, 0x4200_13b5)),
            (DX_HASH_HALF_MD4, b"hello", seed, (0x2a95_ea3a, 0x09e0_9daa)),
            (DX_HASH_HALF_MD4, uni, zero, (0xd149_7272, 0xa430_ff14)),
            (DX_HASH_HALF_MD4, uni, seed, (0x59f0_75b6, 0xece7_e01e)),
            (DX_HASH_HALF_MD4, long, zero, (0xa1c8_c4d8, 0x597c_c081)),
            (DX_HASH_HALF_MD4, long, seed, (0xb86b_f7ea, 0x1f7a_2fb9)),
            (
                DX_HASH_HALF_MD4,
                b"name with spaces.txt",
                zero,
                (0x1160_19b8, 0x2c60_e27f),
            ),
            (DX_HASH_TEA, b"a", zero, (0x6d0e_a4c0, 0xc189_22df)),
            (DX_HASH_TEA, b"a", seed, (0x4371_876c, 0x8826_5bd9)),
            (DX_HASH_TEA, b"hello", zero, (0x6f5b_b1a8, 0x2319_17c2)),
            (DX_HASH_TEA, b"hello", seed, (0x1a4b_b29a, 0x8168_1c17)),
            (DX_HASH_TEA, uni, zero, (0x84e0_296a, 0x5991_811c)),
            (DX_HASH_TEA, uni, seed, (0x014b_4598, 0xaf86_eb08)),
            (DX_HASH_TEA, long, zero, (0x8c5d_b0aa, 0x0f98_a8b4)),
            (DX_HASH_TEA, long, seed, (0x29dd_bcbe, 0x53f7_f01d)),
        ];
        for (v, name, seed, want) in cases {
            assert_eq!(
                dirhash(name, *v, seed),
                *want,
                "version {v} name {:?}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn unsigned_differs_only_for_high_bytes() {
        let zero = [0u32; 4];
        for v in [DX_HASH_LEGACY, DX_HASH_HALF_MD4, DX_HASH_TEA] {
            assert_eq!(
                dirhash(b"ascii", v, &zero),
                dirhash(b"ascii", v + DX_HASH_UNSIGNED_DELTA, &zero)
            );
            assert_ne!(
                dirhash("é".as_bytes(), v, &zero),
                dirhash("é".as_bytes(), v + DX_HASH_UNSIGNED_DELTA, &zero)
            );
        }
    }
}

//! LUKS1 and LUKS2: headers, key slots, unlocking with a passphrase, and a
//! decrypting block device over the payload.
//!
//! LUKS1 (the on-disk format spec 1.2.3): a 592-byte big-endian header with
//! the cipher, the master-key digest (PBKDF2) and eight key slots (PBKDF2).
//! LUKS2 (the LUKS2 on-disk format spec): a 4 KiB binary header (checksummed
//! together with the JSON area that follows; two copies, the valid one with
//! the higher `seqid` wins) and JSON metadata naming key slots (PBKDF2,
//! Argon2i, Argon2id), digests and data segments. Either way a key slot's
//! area holds the master key split by the anti-forensic splitter (AF),
//! encrypted with a key derived from the passphrase; the merged key is
//! right when its digest matches.
//!
//! Ciphers: AES in XTS (`xts-plain64`, `xts-plain`) and CBC (`cbc-essiv:sha256`,
//! `cbc-plain64`, `cbc-plain`) modes, 512-byte IV sectors whatever the
//! encryption sector size (as dm-crypt without `iv_large_sectors`, which is
//! how cryptsetup sets LUKS2 up). Anything else is `Unsupported`, by name.
//!
//! Keys: the passphrase is only borrowed; derived keys and the merged master
//! key live in zeroizing buffers, and the cipher state zeroizes on drop. Nothing
//! here logs or prints a key. Key derivation costs exactly what the key slot's
//! parameters ask (no benchmarking, no retries), bounded by [`Limits`].
//!
//! It must not: trust a header number (offsets, sizes, key sizes, stripes,
//! KDF costs are all checked), write to the device, or panic.

pub mod json;

use crate::{BlockDevice, Device, Error, ErrorKind, Result, check_range};
use aes::{Aes128, Aes192, Aes256};
use cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use json::Json;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use xts_mode::Xts128;
use zeroize::Zeroizing;

const LUKS_MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
const LUKS2_SECOND_MAGIC: &[u8; 6] = b"SKUL\xba\xbe";
const LUKS1_HDR: usize = 592;
const LUKS1_KEY_ENABLED: u32 = 0x00AC_71F3;
/// Where a LUKS2 secondary header may sit (the spec's list).
const LUKS2_OFFSETS: [u64; 9] = [
    0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
];
const MAX_KEY_BYTES: usize = 256;
const MAX_STRIPES: u64 = 1 << 16;

/// Caps on what a header may make an unlock cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most PBKDF2 iterations accepted (cryptsetup's own 2-second benchmark
    /// gives a few million on today's machines).
    pub pbkdf2_max_iterations: u64,
    /// Most Argon2 memory, in KiB (LUKS2's own maximum is 4 GiB).
    pub argon2_max_memory_kib: u64,
    /// Most Argon2 passes.
    pub argon2_max_time: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pbkdf2_max_iterations: 100_000_000,
            argon2_max_memory_kib: 4 * 1024 * 1024,
            argon2_max_time: 1000,
        }
    }
}

/// A key derivation function as a key slot names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kdf {
    Pbkdf2 {
        hash: String,
        iterations: u64,
        salt: Vec<u8>,
    },
    Argon2 {
        /// `argon2i` or `argon2id`.
        kind: String,
        time: u64,
        memory_kib: u64,
        cpus: u64,
        salt: Vec<u8>,
    },
}

/// One active key slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyslot {
    pub id: u32,
    pub key_bytes: usize,
    pub kdf: Kdf,
    pub af_stripes: u64,
    pub af_hash: String,
    /// Byte offset and size of the key material.
    pub area_offset: u64,
    pub area_size: u64,
    /// Cipher of the key material and the size of its key.
    pub area_cipher: String,
    pub area_key_bytes: usize,
    /// LUKS2 priority: 0 ignore, 1 normal, 2 high.
    pub priority: u32,
}

/// How the master key is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDigest {
    pub hash: String,
    pub iterations: u64,
    pub salt: Vec<u8>,
    pub digest: Vec<u8>,
}

/// A LUKS header, either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u16,
    pub uuid: String,
    pub label: String,
    /// `aes-xts-plain64`, ...
    pub cipher: String,
    pub key_bytes: usize,
    /// Payload start, bytes.
    pub payload_offset: u64,
    /// Payload length in bytes; `None` for "to the end of the device".
    pub payload_size: Option<u64>,
    /// Encryption sector size (512 for LUKS1).
    pub sector_size: u64,
    /// Added to the IV sector number.
    pub iv_tweak: u64,
    pub keyslots: Vec<Keyslot>,
    pub digest: KeyDigest,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// True when the device starts with a LUKS header (any version).
pub fn is_luks(dev: &dyn BlockDevice) -> Result<bool> {
    if dev.size() < 8 {
        return Ok(false);
    }
    let mut m = [0u8; 6];
    dev.read_at(&mut m, 0)?;
    Ok(&m == LUKS_MAGIC)
}

/// Read the LUKS header of a device: `None` when there is none.
pub fn read_header(dev: &dyn BlockDevice) -> Result<Option<Header>> {
    if dev.size() < LUKS1_HDR as u64 || !is_luks(dev)? {
        return Ok(None);
    }
    let mut b = [0u8; LUKS1_HDR];
    dev.read_at(&mut b, 0)?;
    let h = match be16(&b, 6) {
        1 => luks1(dev, &b)?,
        2 => luks2(dev)?,
        v => {
            return Err(Error::unsupported(format!(
                "{}: LUKS version {v}",
                dev.describe()
            )));
        }
    };
    Ok(Some(h))
}

fn luks1(dev: &dyn BlockDevice, b: &[u8; LUKS1_HDR]) -> Result<Header> {
    let name = dev.describe();
    let bad = |what: String| Error::corrupt(format!("{name}: LUKS1 header: {what}"));
    let cipher = format!("{}-{}", cstr(&b[8..40]), cstr(&b[40..72]));
    let hash = cstr(&b[72..104]);
    let payload_offset = u64::from(be32(b, 104)) * 512;
    let key_bytes = be32(b, 108) as usize;
    if key_bytes == 0 || key_bytes > MAX_KEY_BYTES {
        return Err(bad(format!("key size {key_bytes} bytes out of range")));
    }
    let digest = KeyDigest {
        hash: hash.clone(),
        iterations: u64::from(be32(b, 164)),
        salt: b[132..164].to_vec(),
        digest: b[112..132].to_vec(),
    };
    let mut keyslots = Vec::new();
    for i in 0..8u32 {
        let k = 208 + 48 * i as usize;
        if be32(b, k) != LUKS1_KEY_ENABLED {
            continue;
        }
        let stripes = u64::from(be32(b, k + 44));
        let area_offset = u64::from(be32(b, k + 40)) * 512;
        keyslots.push(Keyslot {
            id: i,
            key_bytes,
            kdf: Kdf::Pbkdf2 {
                hash: hash.clone(),
                iterations: u64::from(be32(b, k + 4)),
                salt: b[k + 8..k + 40].to_vec(),
            },
            af_stripes: stripes,
            af_hash: hash.clone(),
            area_offset,
            area_size: (key_bytes as u64).saturating_mul(stripes).div_ceil(512) * 512,
            area_cipher: cipher.clone(),
            area_key_bytes: key_bytes,
            priority: 1,
        });
    }
    Ok(Header {
        version: 1,
        uuid: cstr(&b[168..208]),
        label: String::new(),
        cipher,
        key_bytes,
        payload_offset,
        payload_size: None,
        sector_size: 512,
        iv_tweak: 0,
        keyslots,
        digest,
    })
}

/// One LUKS2 binary header and its JSON area, if its checksum holds.
fn luks2_copy(
    dev: &dyn BlockDevice,
    at: u64,
    want_magic: &[u8; 6],
) -> Result<Option<(u64, Json, [u8; 4096])>> {
    if check_range(dev, at, 4096).is_err() {
        return Ok(None);
    }
    let mut h = [0u8; 4096];
    dev.read_at(&mut h, at)?;
    if &h[..6] != want_magic || be16(&h, 6) != 2 {
        return Ok(None);
    }
    let hdr_size = be64(&h, 8);
    if !(0x4000..=0x40_0000).contains(&hdr_size) || !hdr_size.is_power_of_two() {
        return Ok(None);
    }
    if be64(&h, 0x100) != at {
        return Ok(None);
    }
    let alg = cstr(&h[0x48..0x68]);
    let json_len = (hdr_size - 4096) as usize;
    if check_range(dev, at + 4096, json_len).is_err() {
        return Ok(None);
    }
    let mut area = vec![0u8; json_len];
    dev.read_at(&mut area, at + 4096)?;
    let mut zeroed = h;
    zeroed[0x1c0..0x200].fill(0);
    let sum: Vec<u8> = match alg.as_str() {
        "sha256" => Sha256::new()
            .chain_update(zeroed)
            .chain_update(&area)
            .finalize()
            .to_vec(),
        "sha1" => Sha1::new()
            .chain_update(zeroed)
            .chain_update(&area)
            .finalize()
            .to_vec(),
        "sha512" => Sha512::new()
            .chain_update(zeroed)
            .chain_update(&area)
            .finalize()
            .to_vec(),
        _ => return Ok(None),
    };
    if h[0x1c0..0x1c0 + sum.len()] != sum[..] {
        return Ok(None);
    }
    let json = json::parse(&area)?;
    Ok(Some((be64(&h, 0x10), json, h)))
}

fn luks2(dev: &dyn BlockDevice) -> Result<Header> {
    let name = dev.describe();
    let mut best: Option<(u64, Json, [u8; 4096])> = luks2_copy(dev, 0, LUKS_MAGIC)?;
    for off in LUKS2_OFFSETS {
        if let Some(c) = luks2_copy(dev, off, LUKS2_SECOND_MAGIC)? {
            if best.as_ref().is_none_or(|b| c.0 > b.0) {
                best = Some(c);
            }
            break;
        }
    }
    let Some((_, j, h)) = best else {
        return Err(Error::corrupt(format!(
            "{name}: LUKS2 header: no copy of the header has a valid checksum"
        )));
    };
    let bad = |what: &str| Error::corrupt(format!("{name}: LUKS2 metadata: {what}"));
    let unsup = |what: &str| Error::unsupported(format!("{name}: LUKS2 {what}"));
    let num = |v: Option<&Json>| -> Option<u64> {
        match v? {
            Json::Str(s) => s.parse().ok(),
            Json::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    };
    if let Some(req) = j.get("config").and_then(|c| c.get("requirements")) {
        if let Some(m) = req.get("mandatory") {
            if !m.items().is_empty() {
                let names: Vec<&str> = m.items().iter().filter_map(Json::as_str).collect();
                return Err(unsup(&format!("requirement {}", names.join(", "))));
            }
        }
    }
    let segments = j.get("segments").ok_or_else(|| bad("no segments"))?;
    let [(seg_id, seg)] = segments.entries() else {
        return Err(unsup(
            "volume with several data segments (a reencryption in progress?)",
        ));
    };
    if seg.get("type").and_then(Json::as_str) != Some("crypt") {
        return Err(unsup("data segment that is not of type crypt"));
    }
    if seg.get("integrity").is_some() {
        return Err(unsup("authenticated encryption (dm-integrity)"));
    }
    let payload_offset = num(seg.get("offset")).ok_or_else(|| bad("segment offset"))?;
    let payload_size = match seg.get("size").and_then(Json::as_str) {
        Some("dynamic") => None,
        _ => Some(num(seg.get("size")).ok_or_else(|| bad("segment size"))?),
    };
    let cipher = seg
        .get("encryption")
        .and_then(Json::as_str)
        .ok_or_else(|| bad("segment encryption"))?
        .to_string();
    let sector_size = num(seg.get("sector_size")).unwrap_or(512);
    if !matches!(sector_size, 512 | 1024 | 2048 | 4096) {
        return Err(bad(&format!("sector size {sector_size}")));
    }
    let iv_tweak = num(seg.get("iv_tweak")).unwrap_or(0);
    // The digest that covers this segment, and the key slots it vouches for.
    let digests = j.get("digests").ok_or_else(|| bad("no digests"))?;
    let digest = digests
        .entries()
        .iter()
        .map(|(_, d)| d)
        .find(|d| {
            d.get("segments")
                .is_some_and(|s| s.items().iter().any(|x| x.as_str() == Some(seg_id)))
        })
        .ok_or_else(|| bad("no digest for the data segment"))?;
    if digest.get("type").and_then(Json::as_str) != Some("pbkdf2") {
        return Err(unsup("digest type other than pbkdf2"));
    }
    let b64 = |v: Option<&Json>, what: &str| -> Result<Vec<u8>> {
        json::base64_decode(v.and_then(Json::as_str).ok_or_else(|| bad(what))?)
    };
    let key_digest = KeyDigest {
        hash: digest
            .get("hash")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
        iterations: num(digest.get("iterations")).ok_or_else(|| bad("digest iterations"))?,
        salt: b64(digest.get("salt"), "digest salt")?,
        digest: b64(digest.get("digest"), "digest")?,
    };
    let slot_ids: Vec<&str> = digest
        .get("keyslots")
        .map(|k| k.items().iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let mut keyslots = Vec::new();
    let mut key_bytes = 0;
    for (id, ks) in j.get("keyslots").map(Json::entries).unwrap_or_default() {
        if !slot_ids.contains(&id.as_str())
            || ks.get("type").and_then(Json::as_str) != Some("luks2")
        {
            continue;
        }
        let id_num: u32 = id.parse().map_err(|_| bad("key slot id"))?;
        let kb = num(ks.get("key_size")).ok_or_else(|| bad("key slot key_size"))? as usize;
        let af = ks.get("af").ok_or_else(|| bad("key slot af"))?;
        if af.get("type").and_then(Json::as_str) != Some("luks1") {
            return Err(unsup("anti-forensic splitter type"));
        }
        let area = ks.get("area").ok_or_else(|| bad("key slot area"))?;
        if area.get("type").and_then(Json::as_str) != Some("raw") {
            return Err(unsup("key slot area type"));
        }
        let kdf = ks.get("kdf").ok_or_else(|| bad("key slot kdf"))?;
        let salt = b64(kdf.get("salt"), "kdf salt")?;
        let kdf = match kdf.get("type").and_then(Json::as_str) {
            Some("pbkdf2") => Kdf::Pbkdf2 {
                hash: kdf
                    .get("hash")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                iterations: num(kdf.get("iterations")).ok_or_else(|| bad("kdf iterations"))?,
                salt,
            },
            Some(t @ ("argon2i" | "argon2id")) => Kdf::Argon2 {
                kind: t.to_string(),
                time: num(kdf.get("time")).ok_or_else(|| bad("kdf time"))?,
                memory_kib: num(kdf.get("memory")).ok_or_else(|| bad("kdf memory"))?,
                cpus: num(kdf.get("cpus")).ok_or_else(|| bad("kdf cpus"))?,
                salt,
            },
            other => return Err(unsup(&format!("key derivation {}", other.unwrap_or("?")))),
        };
        key_bytes = kb;
        keyslots.push(Keyslot {
            id: id_num,
            key_bytes: kb,
            kdf,
            af_stripes: num(af.get("stripes")).ok_or_else(|| bad("af stripes"))?,
            af_hash: af
                .get("hash")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            area_offset: num(area.get("offset")).ok_or_else(|| bad("area offset"))?,
            area_size: num(area.get("size")).ok_or_else(|| bad("area size"))?,
            area_cipher: area
                .get("encryption")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            area_key_bytes: num(area.get("key_size")).ok_or_else(|| bad("area key_size"))? as usize,
            priority: num(ks.get("priority")).unwrap_or(1) as u32,
        });
    }
    keyslots.sort_by_key(|k| (std::cmp::Reverse(k.priority), k.id));
    Ok(Header {
        version: 2,
        uuid: cstr(&h[0xa8..0xd0]),
        label: cstr(&h[0x18..0x48]),
        cipher,
        key_bytes,
        payload_offset,
        payload_size,
        sector_size,
        iv_tweak,
        keyslots,
        digest: key_digest,
    })
}

/// The key a passphrase derives for a key slot.
fn derive(kdf: &Kdf, pass: &[u8], out_len: usize, limits: &Limits) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; out_len]);
    match kdf {
        Kdf::Pbkdf2 {
            hash,
            iterations,
            salt,
        } => {
            if *iterations == 0 || *iterations > limits.pbkdf2_max_iterations {
                return Err(Error::unsupported(format!(
                    "PBKDF2 with {iterations} iterations (the limit is {})",
                    limits.pbkdf2_max_iterations
                )));
            }
            pbkdf2(hash, pass, salt, *iterations as u32, &mut out)?;
        }
        Kdf::Argon2 {
            kind,
            time,
            memory_kib,
            cpus,
            salt,
        } => {
            if *memory_kib > limits.argon2_max_memory_kib {
                return Err(Error::unsupported(format!(
                    "this key slot's Argon2 asks for {memory_kib} KiB of memory, over the \
                     {} KiB limit",
                    limits.argon2_max_memory_kib
                )));
            }
            if *time == 0 || *time > limits.argon2_max_time {
                return Err(Error::unsupported(format!(
                    "Argon2 with {time} passes (the limit is {})",
                    limits.argon2_max_time
                )));
            }
            let alg = if kind == "argon2i" {
                argon2::Algorithm::Argon2i
            } else {
                argon2::Algorithm::Argon2id
            };
            let params = argon2::Params::new(
                u32::try_from(*memory_kib).map_err(|_| Error::corrupt("argon2 memory"))?,
                u32::try_from(*time).map_err(|_| Error::corrupt("argon2 time"))?,
                u32::try_from(*cpus).map_err(|_| Error::corrupt("argon2 cpus"))?,
                Some(out_len),
            )
            .map_err(|e| Error::corrupt(format!("Argon2 parameters: {e}")))?;
            argon2::Argon2::new(alg, argon2::Version::V0x13, params)
                .hash_password_into(pass, salt, &mut out)
                .map_err(|e| Error::corrupt(format!("Argon2: {e}")))?;
        }
    }
    Ok(out)
}

fn pbkdf2(hash: &str, pass: &[u8], salt: &[u8], iter: u32, out: &mut [u8]) -> Result<()> {
    use pbkdf2::pbkdf2_hmac;
    match hash {
        "sha1" => pbkdf2_hmac::<Sha1>(pass, salt, iter, out),
        "sha224" => pbkdf2_hmac::<Sha224>(pass, salt, iter, out),
        "sha256" => pbkdf2_hmac::<Sha256>(pass, salt, iter, out),
        "sha384" => pbkdf2_hmac::<Sha384>(pass, salt, iter, out),
        "sha512" => pbkdf2_hmac::<Sha512>(pass, salt, iter, out),
        other => return Err(Error::unsupported(format!("LUKS hash {other}"))),
    }
    Ok(())
}

fn hash_into(hash: &str, parts: &[&[u8]]) -> Result<Vec<u8>> {
    fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    }
    Ok(match hash {
        "sha1" => run::<Sha1>(parts),
        "sha224" => run::<Sha224>(parts),
        "sha256" => run::<Sha256>(parts),
        "sha384" => run::<Sha384>(parts),
        "sha512" => run::<Sha512>(parts),
        other => return Err(Error::unsupported(format!("LUKS hash {other}"))),
    })
}

/// The anti-forensic merge: the key from `stripes` split pieces.
fn af_merge(
    material: &[u8],
    key_bytes: usize,
    stripes: usize,
    hash: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut d = Zeroizing::new(vec![0u8; key_bytes]);
    let digest_len = hash_into(hash, &[])?.len();
    for s in 0..stripes {
        let piece = &material[s * key_bytes..(s + 1) * key_bytes];
        for (x, p) in d.iter_mut().zip(piece) {
            *x ^= p;
        }
        if s + 1 == stripes {
            break;
        }
        // diffuse: hash each digest-sized block with its big-endian index.
        let mut out = Zeroizing::new(Vec::with_capacity(key_bytes));
        for (i, chunk) in d.chunks(digest_len).enumerate() {
            let h = Zeroizing::new(hash_into(hash, &[&(i as u32).to_be_bytes(), chunk])?);
            out.extend_from_slice(&h[..chunk.len()]);
        }
        d = out;
    }
    Ok(d)
}

/// A sector cipher: decrypts one encryption sector given its IV sector number.
enum Aes {
    A128(Box<Aes128>),
    A192(Box<Aes192>),
    A256(Box<Aes256>),
}

impl Aes {
    fn new(key: &[u8]) -> Result<Aes> {
        Ok(match key.len() {
            16 => Aes::A128(Box::new(Aes128::new(GenericArray::from_slice(key)))),
            24 => Aes::A192(Box::new(Aes192::new(GenericArray::from_slice(key)))),
            32 => Aes::A256(Box::new(Aes256::new(GenericArray::from_slice(key)))),
            n => return Err(Error::unsupported(format!("AES with a {n}-byte key"))),
        })
    }

    fn decrypt(&self, b: &mut [u8]) {
        let b = GenericArray::from_mut_slice(b);
        match self {
            Aes::A128(c) => c.decrypt_block(b),
            Aes::A192(c) => c.decrypt_block(b),
            Aes::A256(c) => c.decrypt_block(b),
        }
    }
}

enum Xts {
    A128(Box<Xts128<Aes128>>),
    A256(Box<Xts128<Aes256>>),
}

enum Mode {
    /// `plain64` when `wide`, else `plain` (IV truncated to 32 bits).
    Xts {
        xts: Xts,
        wide: bool,
    },
    Cbc {
        aes: Aes,
        iv: CbcIv,
    },
}

enum CbcIv {
    Plain,
    Plain64,
    Essiv(Box<Aes256>),
}

/// A cipher spec (`aes-xts-plain64`) with its key, ready to decrypt sectors.
pub struct SectorCipher {
    mode: Mode,
}

impl SectorCipher {
    /// Set up `spec` with `key`; `Unsupported` for ciphers not handled.
    pub fn new(spec: &str, key: &[u8]) -> Result<SectorCipher> {
        let unsup = || Error::unsupported(format!("LUKS cipher {spec}"));
        let (alg, mode) = spec.split_once('-').ok_or_else(unsup)?;
        if alg != "aes" {
            return Err(unsup());
        }
        let mode = match mode {
            "xts-plain64" | "xts-plain" => {
                let half = key.len() / 2;
                let (k1, k2) = key.split_at(half);
                let xts = match half {
                    16 => Xts::A128(Box::new(Xts128::new(
                        Aes128::new(GenericArray::from_slice(k1)),
                        Aes128::new(GenericArray::from_slice(k2)),
                    ))),
                    32 => Xts::A256(Box::new(Xts128::new(
                        Aes256::new(GenericArray::from_slice(k1)),
                        Aes256::new(GenericArray::from_slice(k2)),
                    ))),
                    _ => return Err(unsup()),
                };
                Mode::Xts {
                    xts,
                    wide: mode == "xts-plain64",
                }
            }
            "cbc-essiv:sha256" => {
                let salt = Zeroizing::new(Sha256::digest(key).to_vec());
                Mode::Cbc {
                    aes: Aes::new(key)?,
                    iv: CbcIv::Essiv(Box::new(Aes256::new(GenericArray::from_slice(&salt)))),
                }
            }
            "cbc-plain64" => Mode::Cbc {
                aes: Aes::new(key)?,
                iv: CbcIv::Plain64,
            },
            "cbc-plain" => Mode::Cbc {
                aes: Aes::new(key)?,
                iv: CbcIv::Plain,
            },
            _ => return Err(unsup()),
        };
        Ok(SectorCipher { mode })
    }

    /// Decrypt one sector (a multiple of 16 bytes) whose IV sector is `iv`.
    pub fn decrypt(&self, data: &mut [u8], iv: u64) {
        match &self.mode {
            Mode::Xts { xts, wide } => {
                let n = if *wide { iv } else { iv & 0xffff_ffff };
                let tweak = u128::from(n).to_le_bytes();
                match xts {
                    Xts::A128(x) => x.decrypt_sector(data, tweak),
                    Xts::A256(x) => x.decrypt_sector(data, tweak),
                }
            }
            Mode::Cbc { aes, iv: kind } => {
                let mut prev = [0u8; 16];
                match kind {
                    CbcIv::Plain => prev[..4].copy_from_slice(&(iv as u32).to_le_bytes()),
                    CbcIv::Plain64 => prev[..8].copy_from_slice(&iv.to_le_bytes()),
                    CbcIv::Essiv(e) => {
                        prev[..8].copy_from_slice(&iv.to_le_bytes());
                        e.encrypt_block(GenericArray::from_mut_slice(&mut prev));
                    }
                }
                for block in data.chunks_exact_mut(16) {
                    let mut c = [0u8; 16];
                    c.copy_from_slice(block);
                    aes.decrypt(block);
                    for (b, p) in block.iter_mut().zip(prev) {
                        *b ^= p;
                    }
                    prev = c;
                }
            }
        }
    }
}

/// Master keys this process has already unlocked, so that another handle
/// on the same image (gx-mount's reader threads each open their own) does
/// not run the key slot's KDF again: Argon2 costs a few hundred ms and up
/// to gigabytes by design. Looked up by a salted SHA-256 of the header's
/// identity, its master-key digest and the passphrase (the digest alone
/// pins the master key, so a hit needs no second check); at most
/// [`MEMO_ENTRIES`] keys, in zeroizing memory, never leaving the process.
struct Memo {
    salt: [u8; 16],
    keys: Vec<([u8; 32], Zeroizing<Vec<u8>>)>,
}

const MEMO_ENTRIES: usize = 16;

fn memo() -> &'static std::sync::Mutex<Memo> {
    static M: std::sync::OnceLock<std::sync::Mutex<Memo>> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS once per process.
        let mut salt = [0u8; 16];
        for half in salt.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(0);
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
        std::sync::Mutex::new(Memo {
            salt,
            keys: Vec::new(),
        })
    })
}

fn memo_id(salt: &[u8], hdr: &Header, pass: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        salt,
        hdr.uuid.as_bytes(),
        &hdr.digest.salt,
        &hdr.digest.digest,
        pass,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Try `pass` on every key slot; the master key on success, `None` when no
/// key slot accepts it.
pub fn unlock_key(
    dev: &dyn BlockDevice,
    hdr: &Header,
    pass: &[u8],
    limits: &Limits,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let id = {
        let m = memo().lock().unwrap_or_else(|p| p.into_inner());
        let id = memo_id(&m.salt, hdr, pass);
        if let Some((_, k)) = m.keys.iter().find(|(i, _)| *i == id) {
            return Ok(Some(k.clone()));
        }
        id
    };
    let found = unlock_key_slots(dev, hdr, pass, limits)?;
    if let Some(k) = &found {
        let mut m = memo().lock().unwrap_or_else(|p| p.into_inner());
        if m.keys.len() >= MEMO_ENTRIES {
            m.keys.remove(0);
        }
        m.keys.push((id, k.clone()));
    }
    Ok(found)
}

fn unlock_key_slots(
    dev: &dyn BlockDevice,
    hdr: &Header,
    pass: &[u8],
    limits: &Limits,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let name = dev.describe();
    let mut first_err = None;
    for ks in hdr.keyslots.iter().filter(|k| k.priority > 0) {
        match try_keyslot(dev, hdr, ks, pass, limits) {
            Ok(Some(k)) => return Ok(Some(k)),
            Ok(None) => {}
            Err(e) if e.kind() == ErrorKind::Io => return Err(e),
            Err(e) => {
                first_err.get_or_insert(e.context(format!("{name}: key slot {}", ks.id)));
            }
        }
    }
    match first_err {
        Some(e) if hdr.keyslots.len() == 1 => Err(e),
        _ => Ok(None),
    }
}

fn try_keyslot(
    dev: &dyn BlockDevice,
    hdr: &Header,
    ks: &Keyslot,
    pass: &[u8],
    limits: &Limits,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    if ks.key_bytes == 0 || ks.key_bytes > MAX_KEY_BYTES {
        return Err(Error::corrupt(format!("key size {} bytes", ks.key_bytes)));
    }
    if ks.area_key_bytes == 0 || ks.area_key_bytes > MAX_KEY_BYTES {
        return Err(Error::corrupt(format!(
            "area key size {} bytes",
            ks.area_key_bytes
        )));
    }
    if ks.af_stripes == 0 || ks.af_stripes > MAX_STRIPES {
        return Err(Error::corrupt(format!("{} AF stripes", ks.af_stripes)));
    }
    let split = (ks.key_bytes as u64) * ks.af_stripes;
    let len = split.div_ceil(512) * 512;
    if len > ks.area_size {
        return Err(Error::corrupt(format!(
            "key material of {split} bytes does not fit its {}-byte area",
            ks.area_size
        )));
    }
    check_range(dev, ks.area_offset, len as usize)?;
    let key = derive(&ks.kdf, pass, ks.area_key_bytes, limits)?;
    let mut material = Zeroizing::new(vec![0u8; len as usize]);
    dev.read_at(&mut material, ks.area_offset)?;
    let c = SectorCipher::new(&ks.area_cipher, &key)?;
    for (i, sector) in material.chunks_mut(512).enumerate() {
        c.decrypt(sector, i as u64);
    }
    let mk = af_merge(&material, ks.key_bytes, ks.af_stripes as usize, &ks.af_hash)?;
    let d = &hdr.digest;
    if d.digest.is_empty() || d.digest.len() > 64 {
        return Err(Error::corrupt("master key digest length"));
    }
    let mut check = Zeroizing::new(vec![0u8; d.digest.len()]);
    let iters = u32::try_from(d.iterations)
        .ok()
        .filter(|&i| i > 0 && u64::from(i) <= limits.pbkdf2_max_iterations)
        .ok_or_else(|| Error::unsupported(format!("digest with {} iterations", d.iterations)))?;
    pbkdf2(&d.hash, &mk, &d.salt, iters, &mut check)?;
    Ok((check[..] == d.digest[..]).then_some(mk))
}

/// The decrypted payload of a LUKS device.
pub struct CryptDevice {
    name: String,
    inner: Device,
    offset: u64,
    size: u64,
    sector: u64,
    iv_tweak: u64,
    cipher: SectorCipher,
}

impl CryptDevice {
    /// The payload of `inner` as described by `hdr`, decrypted with `key`.
    pub fn new(name: impl Into<String>, inner: Device, hdr: &Header, key: &[u8]) -> Result<Self> {
        let name = name.into();
        let cipher = SectorCipher::new(&hdr.cipher, key)?;
        let dev_size = inner.size();
        if hdr.payload_offset > dev_size || hdr.payload_offset % 512 != 0 {
            return Err(Error::corrupt(format!(
                "{name}: payload offset {} outside the {dev_size}-byte device",
                hdr.payload_offset
            )));
        }
        let avail = dev_size - hdr.payload_offset;
        let size = match hdr.payload_size {
            Some(s) if s > avail => {
                return Err(Error::corrupt(format!(
                    "{name}: payload of {s} bytes runs past the end of the device"
                )));
            }
            Some(s) => s,
            None => avail,
        };
        let size = size / hdr.sector_size * hdr.sector_size;
        Ok(CryptDevice {
            name,
            inner,
            offset: hdr.payload_offset,
            size,
            sector: hdr.sector_size,
            iv_tweak: hdr.iv_tweak,
            cipher,
        })
    }
}

/// Largest span decrypted per inner read.
const CHUNK: u64 = 1 << 20;

impl BlockDevice for CryptDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, offset, buf.len())?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let start = pos / self.sector * self.sector;
            let want_end = (offset + buf.len() as u64).min(start + CHUNK);
            let end = want_end.div_ceil(self.sector) * self.sector;
            let mut tmp = Zeroizing::new(vec![0u8; (end - start) as usize]);
            self.inner.read_at(&mut tmp, self.offset + start)?;
            for (i, s) in tmp.chunks_mut(self.sector as usize).enumerate() {
                let byte = start + i as u64 * self.sector;
                self.cipher.decrypt(s, byte / 512 + self.iv_tweak);
            }
            let from = (pos - start) as usize;
            let n = ((want_end - pos) as usize).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&tmp[from..from + n]);
            done += n;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests;

#![allow(clippy::unwrap_used)]

use super::*;
use crate::MemDevice;
use std::sync::Arc;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// IEEE P1619 XTS-AES-128 test vector 1: zero keys, tweak 0, 32 zero bytes.
#[test]
fn xts_matches_ieee_1619_vector_1() {
    let c = SectorCipher::new("aes-xts-plain64", &[0u8; 32]).unwrap();
    let mut data = hex("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e");
    c.decrypt(&mut data, 0);
    assert_eq!(data, vec![0u8; 32]);
}

/// FIPS-197 AES-128 vector through CBC with a zero IV (cbc-plain, sector 0).
#[test]
fn cbc_plain_matches_fips_197() {
    let key = hex("000102030405060708090a0b0c0d0e0f");
    let c = SectorCipher::new("aes-cbc-plain", &key).unwrap();
    let mut data = hex("69c4e0d86a7b0430d8cdb78070b4c55a");
    c.decrypt(&mut data, 0);
    assert_eq!(data, hex("00112233445566778899aabbccddeeff"));
}

#[test]
fn unknown_ciphers_are_unsupported_by_name() {
    for spec in [
        "serpent-xts-plain64",
        "aes-xts-essiv:sha256",
        "aes-ecb",
        "twofish",
    ] {
        let e = SectorCipher::new(spec, &[0u8; 64]).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains(spec), "{e}");
    }
    assert!(SectorCipher::new("aes-xts-plain64", &[0u8; 40]).is_err());
}

fn luks1_header(key_bytes: u32, stripes: u32, iterations: u32) -> Vec<u8> {
    let mut b = vec![0u8; 1 << 20];
    b[..6].copy_from_slice(LUKS_MAGIC);
    b[6..8].copy_from_slice(&1u16.to_be_bytes());
    b[8..11].copy_from_slice(b"aes");
    b[40..51].copy_from_slice(b"xts-plain64");
    b[72..78].copy_from_slice(b"sha256");
    b[104..108].copy_from_slice(&4096u32.to_be_bytes());
    b[108..112].copy_from_slice(&key_bytes.to_be_bytes());
    b[164..168].copy_from_slice(&1000u32.to_be_bytes());
    b[168..172].copy_from_slice(b"abcd");
    b[208..212].copy_from_slice(&LUKS1_KEY_ENABLED.to_be_bytes());
    b[212..216].copy_from_slice(&iterations.to_be_bytes());
    b[248..252].copy_from_slice(&8u32.to_be_bytes());
    b[252..256].copy_from_slice(&stripes.to_be_bytes());
    b
}

#[test]
fn hostile_luks1_headers_are_errors() {
    let d = MemDevice::new(luks1_header(100_000, 4000, 1000), false, "d");
    assert!(read_header(&d).is_err());
    // Key material larger than the device.
    let d = MemDevice::new(luks1_header(64, 60_000, 1000), false, "d");
    let h = read_header(&d).unwrap().unwrap();
    assert!(unlock_key(&d, &h, b"x", &Limits::default()).is_err());
    // Absurd PBKDF2 cost is refused before any work.
    let d = MemDevice::new(luks1_header(64, 4000, u32::MAX), false, "d");
    let h = read_header(&d).unwrap().unwrap();
    let e = unlock_key(&d, &h, b"x", &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("iterations"), "{e}");
    // A plausible header and a wrong passphrase: no key, no error.
    let d = MemDevice::new(luks1_header(64, 4000, 1000), false, "d");
    let h = read_header(&d).unwrap().unwrap();
    assert_eq!(h.uuid, "abcd");
    assert!(
        unlock_key(&d, &h, b"x", &Limits::default())
            .unwrap()
            .is_none()
    );
}

fn luks2_image(json: &str) -> Vec<u8> {
    let hdr_size = 0x4000u64;
    let mut d = vec![0u8; 2 << 20];
    for (at, magic) in [(0u64, LUKS_MAGIC), (hdr_size, LUKS2_SECOND_MAGIC)] {
        let a = at as usize;
        let mut h = vec![0u8; 4096];
        h[..6].copy_from_slice(magic);
        h[6..8].copy_from_slice(&2u16.to_be_bytes());
        h[8..16].copy_from_slice(&hdr_size.to_be_bytes());
        h[16..24].copy_from_slice(&1u64.to_be_bytes());
        h[0x48..0x4e].copy_from_slice(b"sha256");
        h[0xa8..0xac].copy_from_slice(b"uuid");
        h[0x100..0x108].copy_from_slice(&at.to_be_bytes());
        let mut area = vec![0u8; hdr_size as usize - 4096];
        area[..json.len()].copy_from_slice(json.as_bytes());
        let sum = Sha256::new()
            .chain_update(&h)
            .chain_update(&area)
            .finalize();
        h[0x1c0..0x1e0].copy_from_slice(&sum);
        d[a..a + 4096].copy_from_slice(&h);
        d[a + 4096..a + hdr_size as usize].copy_from_slice(&area);
    }
    d
}

fn luks2_json(kdf: &str, key_size: u64) -> String {
    format!(
        r#"{{"keyslots":{{"0":{{"type":"luks2","key_size":{key_size},"af":{{"type":"luks1","stripes":4000,"hash":"sha256"}},
        "area":{{"type":"raw","offset":"32768","size":"258048","encryption":"aes-xts-plain64","key_size":64}},
        "kdf":{kdf}}}}},
        "segments":{{"0":{{"type":"crypt","offset":"1048576","size":"dynamic","iv_tweak":"0","encryption":"aes-xts-plain64","sector_size":4096}}}},
        "digests":{{"0":{{"type":"pbkdf2","keyslots":["0"],"segments":["0"],"hash":"sha256","iterations":1000,"salt":"AAAA","digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}},
        "config":{{"json_size":"12288","keyslots_size":"258048"}}}}"#
    )
}

const ARGON: &str = r#"{"type":"argon2id","time":4,"memory":32,"cpus":1,"salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#;

#[test]
fn luks2_header_parses_and_checks_its_checksum() {
    let img = luks2_image(&luks2_json(ARGON, 64));
    let d = MemDevice::new(img.clone(), false, "d");
    let h = read_header(&d).unwrap().unwrap();
    assert_eq!(h.version, 2);
    assert_eq!(h.uuid, "uuid");
    assert_eq!(h.sector_size, 4096);
    assert_eq!(h.payload_offset, 1 << 20);
    assert_eq!(h.keyslots.len(), 1);
    assert!(matches!(
        h.keyslots[0].kdf,
        Kdf::Argon2 { memory_kib: 32, .. }
    ));
    // A wrong passphrase: no key (the work is 4 passes over 32 KiB).
    assert!(
        unlock_key(&d, &h, b"nope", &Limits::default())
            .unwrap()
            .is_none()
    );
    // Primary header damaged: the secondary copy is used.
    let mut bad = img.clone();
    bad[5000] ^= 1;
    let d = MemDevice::new(bad.clone(), false, "d");
    assert!(read_header(&d).unwrap().is_some());
    // Both damaged: an error.
    bad[0x4000 + 5000] ^= 1;
    let d = MemDevice::new(bad, false, "d");
    assert_eq!(read_header(&d).unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn hostile_luks2_headers_are_errors() {
    // Argon2 memory over the cap: refused with the numbers, before allocating.
    let huge = r#"{"type":"argon2id","time":4,"memory":4294967295,"cpus":4,"salt":"AAAA"}"#;
    let d = MemDevice::new(luks2_image(&luks2_json(huge, 64)), false, "d");
    let h = read_header(&d).unwrap().unwrap();
    let e = unlock_key(&d, &h, b"x", &Limits::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("4294967295 KiB"), "{e}");
    // A huge key size.
    let d = MemDevice::new(luks2_image(&luks2_json(ARGON, 1 << 40)), false, "d");
    let h = read_header(&d).unwrap().unwrap();
    assert!(unlock_key(&d, &h, b"x", &Limits::default()).is_err());
    // Bad JSON with a good checksum.
    let d = MemDevice::new(luks2_image("{\"keyslots\": [1, 2"), false, "d");
    assert_eq!(read_header(&d).unwrap_err().kind(), ErrorKind::Corrupt);
    // Mandatory requirements (an interrupted reencryption) are unsupported.
    let j = luks2_json(ARGON, 64).replace(
        r#""json_size":"12288""#,
        r#""json_size":"12288","requirements":{"mandatory":["online-reencrypt-v2"]}"#,
    );
    let d = MemDevice::new(luks2_image(&j), false, "d");
    let e = read_header(&d).unwrap_err();
    assert!(e.to_string().contains("online-reencrypt-v2"), "{e}");
}

#[test]
fn crypt_device_bounds() {
    let d: Device = Arc::new(MemDevice::new(
        luks2_image(&luks2_json(ARGON, 64)),
        false,
        "d",
    ));
    let h = read_header(d.as_ref()).unwrap().unwrap();
    let c = CryptDevice::new("/dev/mapper/x", d.clone(), &h, &[7u8; 64]).unwrap();
    assert_eq!(c.size(), (1 << 20) as u64);
    let mut buf = vec![0u8; 10_000];
    c.read_at(&mut buf, 4000).unwrap();
    assert!(c.read_at(&mut buf, c.size() - 10).is_err());
    let mut past = h.clone();
    past.payload_size = Some(1 << 30);
    assert!(CryptDevice::new("x", d, &past, &[7u8; 64]).is_err());
}

//! Probing LUKS 1 and 2 headers, as blkid does (see the parent module).

use super::*;

pub(super) fn probe_luks(r: &Reader) -> Result<Option<Found>> {
    // LUKS2 keeps a second header at one of these offsets, found when the
    // primary one is wiped.
    const SECONDARY: [u64; 9] = [
        0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
    ];
    let Some(hdr) = r.read(0, 512)? else {
        return Ok(None);
    };
    if hdr.starts_with(b"LUKS\xba\xbe") {
        return Ok(Some(luks_attributes(&hdr)?));
    }
    for off in SECONDARY {
        let Some(hdr) = r.read(off, 512)? else {
            return Ok(None);
        };
        if hdr.starts_with(b"SKUL\xba\xbe") {
            return Ok(Some(luks_attributes(&hdr)?));
        }
    }
    Ok(None)
}

pub(super) fn luks_attributes(hdr: &[u8]) -> Result<Found> {
    let version = be16(hdr, 6)?;
    let mut found = Found {
        version: Some(version.to_string()),
        ..Found::default()
    };
    if version == 1 || version == 2 {
        // Both versions keep the UUID as text at byte 168.
        found.uuid = label_from(field(hdr, 168, 40));
    }
    if version == 2 {
        found.label = label_from(field(hdr, 24, 48));
    }
    Ok(found)
}

//! Probing Linux swap areas and suspend images, as blkid does (see the parent module).

use super::*;

/// Where a swap signature may end the first page: page sizes 4 KiB to 64 KiB.
pub(super) const SWAP_PAGE_ENDS: [u64; 5] = [0xff6, 0x1ff6, 0x3ff6, 0x7ff6, 0xfff6];
/// TuxOnIce's hibernation header, which keeps a valid swap signature behind it.
pub(super) const TOI_MAGIC: &[u8] = b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c";

pub(super) fn probe_swap(r: &Reader) -> Result<Option<Found>> {
    let mut v2 = None;
    'search: for sb_off in SWAP_PAGE_ENDS {
        for (magic, is_v2) in [(&b"SWAP-SPACE"[..], false), (&b"SWAPSPACE2"[..], true)] {
            if r.has_magic(0, sb_off, magic)? {
                v2 = Some(is_v2);
                break 'search;
            }
        }
    }
    let Some(v2) = v2 else { return Ok(None) };
    let Some(start) = r.read(0, 8)? else {
        return Ok(None);
    };
    if start == TOI_MAGIC {
        return Ok(None);
    }
    if !v2 {
        // Version 0 has neither label nor UUID.
        return Ok(Some(Found {
            version: Some("0".to_string()),
            ..Found::default()
        }));
    }
    swap_info(r, "1")
}

/// A hibernation image written into a swap area (blkid's `swsuspend`).
pub(super) fn probe_swsuspend(r: &Reader) -> Result<Option<Found>> {
    if r.has_magic(0, 0, TOI_MAGIC)? {
        return swap_info(r, "tuxonice");
    }
    const MAGICS: [(&[u8], &str); 4] = [
        (b"S1SUSPEND", "s1suspend"),
        (b"S2SUSPEND", "s2suspend"),
        (b"ULSUSPEND", "ulsuspend"),
        (b"LINHIB0001", "linhib0001"),
    ];
    for sb_off in SWAP_PAGE_ENDS {
        for (magic, version) in MAGICS {
            if r.has_magic(0, sb_off, magic)? {
                return swap_info(r, version);
            }
        }
    }
    Ok(None)
}

/// The swap header at 1 KiB: label and UUID, checked as blkid does.
pub(super) fn swap_info(r: &Reader, version: &str) -> Result<Option<Found>> {
    let Some(hdr) = r.read(1024, 516)? else {
        return Ok(None);
    };
    if version == "1" {
        let v = le32(&hdr, 0)?;
        if v != 1 && v.swap_bytes() != 1 {
            return Ok(None);
        }
        if le32(&hdr, 4)? == 0 {
            return Ok(None);
        }
    }
    let mut found = Found {
        version: Some(version.to_string()),
        ..Found::default()
    };
    // blkid only trusts label and UUID when this padding is clean.
    if le32(&hdr, 44 + 32 * 4)? == 0 && le32(&hdr, 44 + 33 * 4)? == 0 {
        if u8_at(&hdr, 28)? != 0 {
            found.label = label_from(field(&hdr, 28, 16));
        }
        found.uuid = uuid_from(field(&hdr, 12, 16));
    }
    Ok(Some(found))
}

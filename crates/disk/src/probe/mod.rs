//! Filesystem probing: type, label and UUID of a device, read from its superblocks.
//!
//! libguestfs answers `vfs-type`, `vfs-label` and `vfs-uuid` by running
//! `blkid -c /dev/null -o value -s TAG` (util-linux 2.38) in its appliance, so
//! the answers that matter are blkid's. This module reproduces blkid's
//! decisions for the formats guestx knows: the same magic strings at the same
//! places, the same sanity checks, the same label and UUID spelling, and the
//! same precedence. Like blkid's "safe" probing, every known prober runs in
//! blkid's order; two non-tolerant hits (for example a FAT boot sector and an
//! ext4 superblock on one device) make the result ambivalent and the device
//! reads as `"unknown"`, exactly as blkid then reports nothing. The first LVM
//! or LUKS hit ends the search, and on devices of at most 1440 KiB (floppies)
//! the first hit wins, as in blkid.
//!
//! Known types: `ext2`, `ext3`, `ext4`, `ext4dev`, `jbd`, `vfat`, `ntfs`, `xfs`,
//! `btrfs`, `iso9660`, `swap`, `swsuspend`, `LVM2_member`, `crypto_LUKS`, `exfat`.
//! Formats blkid knows but this module does not (UDF, ZFS, RAID members, ...)
//! read as `"unknown"`, and one of them sharing a device with a known format
//! does not make the result ambivalent here.
//!
//! One libguestfs twist: its `vfs-label` asks `ntfslabel` and `btrfs
//! filesystem label` instead of blkid for NTFS and btrfs, so [`Probe::label`]
//! follows those tools there (see its doc).
//!
//! Reads past the end of the device mean "not this format", never an error;
//! only a failing device read is an error. No on-disk number is trusted: every
//! offset and length is checked before use and every loop is bounded.

use crate::bytes::{be16, be32, be64, le16, le32, le64, u8_at};
use crate::{BlockDevice, Error, Result};

/// What [`probe`] found on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// blkid's `TYPE`: `"ext4"`, `"vfat"`, `"LVM2_member"`, ...; `"unknown"` when
    /// no known format is found or the result is ambivalent.
    pub fs_type: String,
    /// The label as libguestfs's `vfs-label` reports it, `""` when there is
    /// none: blkid's `LABEL` (trailing white space trimmed), except for NTFS
    /// and btrfs, where libguestfs asks `ntfslabel` and `btrfs filesystem
    /// label` and so gets the stored label untrimmed (NTFS read with its
    /// update-sequence fixups applied, which blkid skips).
    pub label: String,
    /// blkid's `UUID` in blkid's spelling for the format, `""` when there is none.
    pub uuid: String,
    /// blkid's `VERSION` (`"1.0"` for ext, `"FAT32"`, `"2"` for LUKS2, ...), when it sets one.
    pub version: Option<String>,
}

impl Probe {
    fn unknown() -> Self {
        Probe {
            fs_type: "unknown".to_string(),
            label: String::new(),
            uuid: String::new(),
            version: None,
        }
    }

    /// True when a format was recognised.
    pub fn is_known(&self) -> bool {
        self.fs_type != "unknown"
    }
}

/// Probe `dev` (a whole device or a partition) for a filesystem or container.
///
/// Returns `fs_type == "unknown"` when nothing known is found (an all-zero
/// device, an unformatted partition, an ambivalent device). Errors only when
/// the device itself fails to read.
pub fn probe(dev: &dyn BlockDevice) -> Result<Probe> {
    let size = dev.size();
    // blkid ignores devices of 1 KiB or less (extended partition stubs).
    if size <= 1024 {
        return Ok(Probe::unknown());
    }
    let r = Reader {
        dev,
        size,
        tiny: size <= TINY_DEV_SIZE,
    };

    let mut first: Option<(&'static str, Found)> = None;
    let mut count = 0usize;
    let mut intolerant = 0usize;
    for p in PROBERS {
        if p.min_size > size {
            continue;
        }
        if p.usage == Usage::Raid && r.tiny {
            continue;
        }
        let Some(found) =
            (p.probe)(&r).map_err(|e| e.context(format!("probing for {}", p.name)))?
        else {
            continue;
        };
        if r.tiny && count == 0 {
            return Ok(found.into_probe(p.name));
        }
        count += 1;
        if first.is_none() {
            first = Some((p.name, found));
        }
        if matches!(p.usage, Usage::Raid | Usage::Crypto) {
            break;
        }
        if !p.tolerant {
            intolerant += 1;
        }
    }
    if count > 1 && intolerant > 0 {
        return Ok(Probe::unknown());
    }
    Ok(first.map_or_else(Probe::unknown, |(name, found)| found.into_probe(name)))
}

/// libguestfs's `vfs-type`: the type, or `""` when none is recognised.
///
/// libguestfs prints an empty string (not an error) for a partition without
/// a filesystem and for a partitioned whole disk; [`probe`] says `"unknown"`
/// there, which is what libguestfs's `list-filesystems` shows. The Handle
/// should answer `vfs_type` with this function and `list_filesystems` with
/// [`Probe::fs_type`].
pub fn vfs_type(dev: &dyn BlockDevice) -> Result<String> {
    let p = probe(dev)?;
    Ok(if p.is_known() {
        p.fs_type
    } else {
        String::new()
    })
}

/// libguestfs's `vfs-label`: the label, or `""`.
pub fn vfs_label(dev: &dyn BlockDevice) -> Result<String> {
    Ok(probe(dev)?.label)
}

/// libguestfs's `vfs-uuid`: the UUID in blkid's spelling, or `""`.
pub fn vfs_uuid(dev: &dyn BlockDevice) -> Result<String> {
    Ok(probe(dev)?.uuid)
}

/// blkid treats devices up to a 1.44 MB floppy as "tiny".
const TINY_DEV_SIZE: u64 = 1440 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Usage {
    Filesystem,
    Raid,
    Crypto,
    Other,
}

/// One format's prober: `Ok(None)` means "not this format".
struct Prober {
    name: &'static str,
    usage: Usage,
    /// blkid's TOLERANT flag: may coexist with another format without ambivalence.
    tolerant: bool,
    min_size: u64,
    probe: fn(&Reader) -> Result<Option<Found>>,
}

/// blkid's probing order, restricted to the formats implemented here.
const PROBERS: &[Prober] = &[
    Prober {
        name: "LVM2_member",
        usage: Usage::Raid,
        tolerant: false,
        min_size: 0,
        probe: probe_lvm2,
    },
    Prober {
        name: "crypto_LUKS",
        usage: Usage::Crypto,
        tolerant: false,
        min_size: 0,
        probe: probe_luks,
    },
    Prober {
        name: "vfat",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_vfat,
    },
    Prober {
        name: "swsuspend",
        usage: Usage::Other,
        tolerant: false,
        min_size: 10 * 4096,
        probe: probe_swsuspend,
    },
    Prober {
        name: "swap",
        usage: Usage::Other,
        tolerant: false,
        min_size: 10 * 4096,
        probe: probe_swap,
    },
    Prober {
        name: "xfs",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_xfs,
    },
    Prober {
        name: "ext4dev",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_ext4dev,
    },
    Prober {
        name: "ext4",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_ext4,
    },
    Prober {
        name: "ext3",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_ext3,
    },
    Prober {
        name: "ext2",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_ext2,
    },
    Prober {
        name: "jbd",
        usage: Usage::Other,
        tolerant: false,
        min_size: 0,
        probe: probe_jbd,
    },
    Prober {
        name: "iso9660",
        usage: Usage::Filesystem,
        tolerant: true,
        min_size: 0,
        probe: probe_iso9660,
    },
    Prober {
        name: "ntfs",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_ntfs,
    },
    Prober {
        name: "btrfs",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 1024 * 1024,
        probe: probe_btrfs,
    },
    Prober {
        name: "exfat",
        usage: Usage::Filesystem,
        tolerant: false,
        min_size: 0,
        probe: probe_exfat,
    },
];

/// What one prober found; the type name comes from its [`Prober`].
#[derive(Debug, Default)]
struct Found {
    label: Option<String>,
    uuid: Option<String>,
    version: Option<String>,
}

impl Found {
    fn into_probe(self, name: &str) -> Probe {
        Probe {
            fs_type: name.to_string(),
            label: self.label.unwrap_or_default(),
            uuid: self.uuid.unwrap_or_default(),
            version: self.version,
        }
    }
}

/// Bounded reads: out-of-range means "absent", a device failure is an error.
struct Reader<'a> {
    dev: &'a dyn BlockDevice,
    size: u64,
    tiny: bool,
}

/// The most bytes one probe read may allocate; larger structures are refused.
const MAX_READ: u64 = 4 << 20;

impl Reader<'_> {
    fn in_range(&self, off: u64, len: u64) -> bool {
        len > 0 && off.checked_add(len).is_some_and(|end| end <= self.size)
    }

    /// `len` bytes at `off`, or `None` when that range is not inside the device.
    fn read(&self, off: u64, len: u64) -> Result<Option<Vec<u8>>> {
        if !self.in_range(off, len) || len > MAX_READ {
            return Ok(None);
        }
        let n = usize::try_from(len)
            .map_err(|_| Error::invalid(format!("read of {len} bytes is too large")))?;
        let mut buf = vec![0u8; n];
        self.dev.read_at(&mut buf, off).map_err(|e| {
            e.context(format!(
                "{}: reading {len} bytes at offset {off}",
                self.dev.describe()
            ))
        })?;
        Ok(Some(buf))
    }

    /// blkid's magic test: the 1 KiB block holding the magic must exist and
    /// the bytes at `kb_off * 1024 + sb_off` must equal `magic`.
    fn has_magic(&self, kb_off: u64, sb_off: u64, magic: &[u8]) -> Result<bool> {
        let Some(block) = kb_off
            .checked_add(sb_off >> 10)
            .and_then(|kb| kb.checked_mul(1024))
        else {
            return Ok(false);
        };
        let Some(buf) = self.read(block, 1024)? else {
            return Ok(false);
        };
        let at = (sb_off & 0x3ff) as usize;
        Ok(buf.get(at..at + magic.len()) == Some(magic))
    }
}

fn field(b: &[u8], off: usize, len: usize) -> &[u8] {
    off.checked_add(len)
        .and_then(|end| b.get(off..end))
        .unwrap_or(&[])
}

/// C's `isspace` in the C locale, which blkid trims with.
fn c_isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// blkid's label rules: a C string (up to the first NUL), trailing white
/// space removed, empty means no label.
fn label_from(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    let mut s = &raw[..end];
    while let [rest @ .., last] = s {
        if c_isspace(*last) {
            s = rest;
        } else {
            break;
        }
    }
    if s.is_empty() {
        None
    } else {
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

/// blkid's UTF-16 labels: decoded up to the first NUL character, then
/// trimmed like [`label_from`]. Surrogate pairs are joined; a lone surrogate
/// becomes U+FFFD (blkid would emit invalid UTF-8 there).
fn utf16_label(raw: &[u8], big_endian: bool) -> Option<String> {
    label_from(utf16_string(raw, big_endian)?.as_bytes())
}

/// A UTF-16 string up to its first NUL character, untrimmed; `None` when empty.
fn utf16_string(raw: &[u8], big_endian: bool) -> Option<String> {
    let units = raw.chunks_exact(2).map(|c| {
        if big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    let s: String = char::decode_utf16(units.take_while(|&u| u != 0))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if s.is_empty() { None } else { Some(s) }
}

/// A C string's bytes up to the first NUL, untrimmed; `None` when empty.
fn c_string(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    if end == 0 {
        None
    } else {
        Some(String::from_utf8_lossy(&raw[..end]).into_owned())
    }
}

/// The usual 8-4-4-4-12 lower-case UUID; `None` for all zeros, as blkid.
fn uuid_from(raw: &[u8]) -> Option<String> {
    let b: [u8; 16] = raw.try_into().ok()?;
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// FAT and exFAT volume serials: `"ABCD-1234"`, most significant byte first.
fn serial_uuid(serial: &[u8]) -> Option<String> {
    let s: [u8; 4] = serial.try_into().ok()?;
    if s == [0; 4] {
        return None;
    }
    Some(format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0]))
}

mod btrfs;
mod exfat;
mod ext;
mod fat;
mod iso9660;
mod luks;
mod lvm;
mod ntfs;
mod swap;
mod xfs;
use self::{
    btrfs::*, exfat::*, ext::*, fat::*, iso9660::*, luks::*, lvm::*, ntfs::*, swap::*, xfs::*,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemDevice;

    fn dev(data: Vec<u8>) -> MemDevice {
        MemDevice::new(data, false, "test")
    }

    #[test]
    fn zero_and_tiny_devices_are_unknown() {
        for size in [0usize, 1, 512, 1024, 1025, 4096, 2 << 20] {
            let p = probe(&dev(vec![0; size])).unwrap();
            assert_eq!(p, Probe::unknown(), "size {size}");
            assert_eq!(vfs_type(&dev(vec![0; size])).unwrap(), "");
        }
    }

    fn ext_image(compat: u32, incompat: u32, ro_compat: u32) -> Vec<u8> {
        let mut d = vec![0u8; 64 * 1024];
        let sb = 0x400;
        d[sb + 0x38..sb + 0x3a].copy_from_slice(&[0x53, 0xef]);
        d[sb + 0x4c] = 1;
        d[sb + 0x5c..sb + 0x60].copy_from_slice(&compat.to_le_bytes());
        d[sb + 0x60..sb + 0x64].copy_from_slice(&incompat.to_le_bytes());
        d[sb + 0x64..sb + 0x68].copy_from_slice(&ro_compat.to_le_bytes());
        d[sb + 0x68..sb + 0x78].copy_from_slice(&[
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        d[sb + 0x78..sb + 0x7e].copy_from_slice(b"root  ");
        d
    }

    #[test]
    fn ext_family_is_decided_by_features() {
        let cases = [
            (0, 0x2, 0x3, "ext2"),
            (0x4, 0x2, 0x3, "ext3"),
            (0x4, 0x2 | 0x40, 0x3, "ext4"),
            (0, 0x2 | 0x40, 0x3, "ext4"),  // ext4 without a journal
            (0x4, 0x2, 0x3 | 0x8, "ext4"), // huge_file
            (0, 0x8, 0, "jbd"),
            (0, 0x4, 0, "unknown"), // needs_recovery without a journal: nothing claims it
        ];
        for (c, i, ro, want) in cases {
            let p = probe(&dev(ext_image(c, i, ro))).unwrap();
            assert_eq!(p.fs_type, want, "compat {c:#x} incompat {i:#x} ro {ro:#x}");
            if want != "unknown" {
                assert_eq!(p.label, "root");
                assert_eq!(p.uuid, "12345678-9abc-def0-0102-030405060708");
                assert_eq!(p.version.as_deref(), Some("1.0"));
            }
        }
        // The test-filesystem flag makes an ext4 ext4dev.
        let mut d = ext_image(0x4, 0x42, 0x3);
        d[0x400 + 0x160] = 0x4;
        assert_eq!(probe(&dev(d)).unwrap().fs_type, "ext4dev");
    }

    #[test]
    fn truncated_superblocks_are_not_recognised() {
        let full = ext_image(0x4, 0x42, 0x3);
        // The magic's 1 KiB block must be whole; shorter devices are not ext.
        for len in [1100, 0x438, 0x43a, 0x600, 2047] {
            let p = probe(&dev(full[..len].to_vec())).unwrap();
            assert_eq!(p.fs_type, "unknown", "len {len}");
        }
        assert_eq!(probe(&dev(full[..2048].to_vec())).unwrap().fs_type, "ext4");
    }

    fn fat16_image(root_label: Option<&[u8; 11]>) -> Vec<u8> {
        let mut d = vec![0u8; 4 << 20];
        d[0] = 0xeb;
        d[3..11].copy_from_slice(b"mkfs.fat");
        d[0x0b..0x0d].copy_from_slice(&512u16.to_le_bytes());
        d[0x0d] = 1; // sectors per cluster: about 8000 clusters, FAT16
        d[0x0e..0x10].copy_from_slice(&1u16.to_le_bytes()); // reserved
        d[0x10] = 2; // FATs
        d[0x11..0x13].copy_from_slice(&512u16.to_le_bytes()); // root entries
        d[0x13..0x15].copy_from_slice(&8192u16.to_le_bytes()); // sectors
        d[0x15] = 0xf8;
        d[0x16..0x18].copy_from_slice(&8u16.to_le_bytes()); // FAT length
        d[0x26] = 0x29;
        d[0x27..0x2b].copy_from_slice(&[0xcd, 0xab, 0x34, 0x12]);
        d[0x2b..0x36].copy_from_slice(b"BOOTLABEL  ");
        d[0x36..0x3e].copy_from_slice(b"FAT16   ");
        d[0x1fe] = 0x55;
        d[0x1ff] = 0xaa;
        if let Some(l) = root_label {
            let root = (1 + 16) * 512;
            // A deleted entry and a long-name entry come first and are skipped.
            d[root] = 0xe5;
            d[root + 11] = 0x08;
            d[root + 32..root + 43].copy_from_slice(b"LONGNAMEXXX");
            d[root + 32 + 11] = 0x0f;
            d[root + 64..root + 75].copy_from_slice(l);
            d[root + 64 + 11] = 0x08;
        }
        d
    }

    #[test]
    fn fat_label_comes_from_the_root_directory() {
        let p = probe(&dev(fat16_image(Some(b"ROOTLABEL  ")))).unwrap();
        assert_eq!(p.fs_type, "vfat");
        assert_eq!(p.label, "ROOTLABEL");
        assert_eq!(p.uuid, "1234-ABCD");
        assert_eq!(p.version.as_deref(), Some("FAT16"));
        // Without a root entry blkid sets no LABEL (only LABEL_FATBOOT).
        let p = probe(&dev(fat16_image(None))).unwrap();
        assert_eq!((p.fs_type.as_str(), p.label.as_str()), ("vfat", ""));
    }

    #[test]
    fn bad_fat_boot_sectors_are_rejected() {
        let mut d = fat16_image(None);
        d[0x10] = 0; // no FATs
        assert_eq!(probe(&dev(d)).unwrap().fs_type, "unknown");
        let mut d = fat16_image(None);
        d[0x0b..0x0d].copy_from_slice(&300u16.to_le_bytes());
        assert_eq!(probe(&dev(d)).unwrap().fs_type, "unknown");
        // A root directory pointing past the end: still FAT, no label, no panic.
        let mut d = fat16_image(Some(b"X          "));
        d[0x16..0x18].copy_from_slice(&0xffffu16.to_le_bytes());
        d[0x13..0x15].copy_from_slice(&0u16.to_le_bytes());
        d[0x20..0x24].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
        let p = probe(&dev(d)).unwrap();
        assert_eq!(p.label, "");
    }

    #[test]
    fn two_filesystems_are_ambivalent() {
        // A FAT boot sector and an ext4 superblock on one device: blkid says nothing.
        let mut d = fat16_image(None);
        let e = ext_image(0x4, 0x42, 0x3);
        d[0x400..0x600].copy_from_slice(&e[0x400..0x600]);
        assert_eq!(probe(&dev(d.clone())).unwrap().fs_type, "unknown");
        // On a floppy-sized device the first hit wins.
        d.truncate(1440 * 1024);
        assert_eq!(probe(&dev(d)).unwrap().fs_type, "vfat");
    }

    #[test]
    fn swap_header() {
        let mut d = vec![0u8; 64 * 1024];
        d[0xff6..0x1000].copy_from_slice(b"SWAPSPACE2");
        d[1024] = 1; // version
        d[1028] = 15; // last page
        d[1036..1052].copy_from_slice(&[0xaa; 16]);
        d[1052..1058].copy_from_slice(b"myswap");
        let p = probe(&dev(d.clone())).unwrap();
        assert_eq!(p.fs_type, "swap");
        assert_eq!(p.label, "myswap");
        assert_eq!(p.uuid, "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa");
        // Zero last page: not swap.
        d[1028] = 0;
        assert_eq!(probe(&dev(d.clone())).unwrap().fs_type, "unknown");
        // A hibernation image in the swap area.
        d[1028] = 15;
        d[0xff6..0x1000].copy_from_slice(b"S1SUSPEND\0");
        let p = probe(&dev(d.clone())).unwrap();
        assert_eq!(
            (p.fs_type.as_str(), p.label.as_str()),
            ("swsuspend", "myswap")
        );
        d[0xff6..0x1000].copy_from_slice(b"SWAPSPACE2");
        // Too small for ten pages.
        d.truncate(40959);
        assert_eq!(probe(&dev(d)).unwrap().fs_type, "unknown");
    }

    #[test]
    fn lvm2_label_checks_sector_and_crc() {
        // Not floppy-sized: blkid skips LVM on those.
        let mut d = vec![0u8; 2 << 20];
        let l = 512;
        d[l..l + 8].copy_from_slice(b"LABELONE");
        d[l + 8] = 1; // sector
        d[l + 20] = 32; // offset_xl
        d[l + 24..l + 32].copy_from_slice(b"LVM2 001");
        d[l + 32..l + 64].copy_from_slice(b"abcdefghijklmnopqrstuvwxyz012345");
        let crc = lvm2_crc(&d[l + 20..l + 512]);
        d[l + 16..l + 20].copy_from_slice(&crc.to_le_bytes());
        let p = probe(&dev(d.clone())).unwrap();
        assert_eq!(p.fs_type, "LVM2_member");
        assert_eq!(p.uuid, "abcdef-ghij-klmn-opqr-stuv-wxyz-012345");
        d[l + 100] ^= 1;
        assert_eq!(probe(&dev(d.clone())).unwrap().fs_type, "unknown");
        d[l + 100] ^= 1;
        d[l + 8] = 2; // wrong sector number
        assert_eq!(probe(&dev(d)).unwrap().fs_type, "unknown");
    }

    #[test]
    fn luks_headers() {
        let mut d = vec![0u8; 64 * 1024];
        d[..6].copy_from_slice(b"LUKS\xba\xbe");
        d[7] = 2;
        d[24..29].copy_from_slice(b"vault");
        d[168..204].copy_from_slice(b"0b5e9a2c-1111-2222-3333-444455556666");
        let p = probe(&dev(d.clone())).unwrap();
        assert_eq!(
            (p.fs_type.as_str(), p.label.as_str(), p.uuid.as_str()),
            (
                "crypto_LUKS",
                "vault",
                "0b5e9a2c-1111-2222-3333-444455556666"
            )
        );
        // Primary header wiped: the secondary at 16 KiB is found.
        let mut w = vec![0u8; 64 * 1024];
        w[0x4000..0x4200].copy_from_slice(&d[..512]);
        w[0x4000..0x4006].copy_from_slice(b"SKUL\xba\xbe");
        assert_eq!(probe(&dev(w)).unwrap().uuid, p.uuid);
    }

    #[test]
    fn iso_label_merge_and_date_uuid() {
        let mut ascii = [b' '; 32];
        ascii[..20].copy_from_slice(b"A_LONG_LABEL_FOR_ISO");
        let mut utf16 = Vec::new();
        for c in "A LONG LABEL FOR".encode_utf16() {
            utf16.extend_from_slice(&c.to_be_bytes());
        }
        let merged = merge_utf16be_ascii(&utf16, &ascii).unwrap();
        assert_eq!(
            utf16_label(&merged, true).as_deref(),
            Some("A LONG LABEL FOR_ISO")
        );
        assert_eq!(merge_utf16be_ascii(&utf16, &[b'Z'; 32]), None);
        assert_eq!(
            iso_date_uuid(b"2024010203040500\0").unwrap().as_deref(),
            Some("2024-01-02-03-04-05-00")
        );
        assert_eq!(iso_date_uuid(b"0000000000000000\0"), Err(()));
        assert_eq!(iso_date_uuid(&[0; 17]), Ok(None));
    }

    #[test]
    fn ntfs_attribute_walk_is_bounded() {
        let mut rec = vec![0u8; 1024];
        rec[..4].copy_from_slice(b"FILE");
        rec[0x14] = 0x38;
        rec[0x1c..0x20].copy_from_slice(&1024u32.to_le_bytes());
        // A $VOLUME_NAME whose value runs past the record: no label.
        rec[0x38..0x3c].copy_from_slice(&0x60u32.to_le_bytes());
        rec[0x38 + 4] = 0x30;
        rec[0x38 + 16..0x38 + 20].copy_from_slice(&5000u32.to_le_bytes());
        rec[0x38 + 20] = 0x18;
        assert_eq!(ntfs_volume_name(&rec, 1024), None);
        // A good one.
        rec[0x38 + 16..0x38 + 20].copy_from_slice(&6u32.to_le_bytes());
        rec[0x38 + 0x18..0x38 + 0x1e].copy_from_slice(&[b'W', 0, b'i', 0, b'n', 0]);
        assert_eq!(ntfs_volume_name(&rec, 1024).as_deref(), Some("Win"));
        // Attribute lengths of 1 walk byte by byte and stop at the record end.
        let mut rec = vec![0u8; 1024];
        rec[0x14] = 0x38;
        rec[0x1c..0x20].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
        for i in (0x38..1024).step_by(1) {
            rec[i] = 1;
        }
        assert_eq!(ntfs_volume_name(&rec, 1024), None);
        // A record shorter than it claims (rec_len larger than the buffer).
        assert_eq!(ntfs_volume_name(&rec[..100], 1 << 20), None);
    }

    #[test]
    fn ntfs_fixups_restore_stride_ends() {
        let mut rec = vec![0u8; 1024];
        rec[..4].copy_from_slice(b"FILE");
        rec[4] = 0x30; // usa_ofs
        rec[6] = 3; // usa_count: the USN and two saved words
        rec[0x30..0x36].copy_from_slice(&[0x07, 0x00, b'a', b'b', b'c', b'd']);
        rec[510..512].copy_from_slice(&[0x07, 0x00]);
        rec[1022..1024].copy_from_slice(&[0x07, 0x00]);
        let mut fixed = rec.clone();
        apply_fixups(&mut fixed);
        assert_eq!(&fixed[510..512], b"ab");
        assert_eq!(&fixed[1022..1024], b"cd");
        // A check word that does not match: left as stored.
        rec[1022] = 9;
        let mut same = rec.clone();
        apply_fixups(&mut same);
        assert_eq!(same, rec);
        // An array that claims more strides than the record has: left alone.
        rec[6] = 200;
        let mut same = rec.clone();
        apply_fixups(&mut same);
        assert_eq!(same, rec);
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic generator: random bytes with every magic planted.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let plants: [(usize, &[u8]); 10] = [
            (0x438, b"\x53\xef"),
            (3, b"NTFS    "),
            (3, b"EXFAT   "),
            (0x36, b"FAT16   "),
            (0x52, b"FAT32   "),
            (0, b"XFSB"),
            (0x8001, b"CD001"),
            (0x10040, b"_BHRfS_M"),
            (0xff6, b"SWAPSPACE2"),
            (0x218, b"LVM2 001"),
        ];
        for round in 0..300 {
            let size = [1500usize, 4096, 40960, 70000, 1 << 20, (1 << 20) + 4096][round % 6];
            let mut d: Vec<u8> = (0..size).map(|_| next() as u8).collect();
            // Sparse garbage exercises zero fields as well.
            if round % 2 == 0 {
                for b in d.iter_mut() {
                    if next() % 4 != 0 {
                        *b = 0;
                    }
                }
            }
            let (at, magic) = plants[round % plants.len()];
            if at + magic.len() <= d.len() {
                d[at..at + magic.len()].copy_from_slice(magic);
            }
            if round % 3 == 0 && d.len() >= 512 {
                d[0x1fe] = 0x55;
                d[0x1ff] = 0xaa;
            }
            let _ = probe(&dev(d)).unwrap();
        }
    }
}

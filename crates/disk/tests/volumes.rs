//! LVM and LUKS on the images of images/volumes.sh, against oracles that
//! do not use this crate: the SHA-256 of each filesystem image that
//! volumes.sh placed into an LV or encrypted with cryptsetup
//! (images/out/volumes/*.sha256), lvm2's own `pvck`, and `cryptsetup
//! luksDump` on a copy of each LUKS header.
#![allow(clippy::unwrap_used)]

use gx_disk::luks::{self, CryptDevice, Limits};
use gx_disk::lvm::{self, Lvm};
use gx_disk::{BlockDevice, Device, OpenOptions, partition};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn open(name: &str) -> Device {
    let opts = OpenOptions {
        format: Some(gx_disk::Format::Raw),
        readonly: true,
    };
    gx_disk::open_image(&gx_testdata::image(name), &opts).unwrap()
}

/// The whole disk if unpartitioned, else its partitions, with their names.
fn candidates(disks: &[(&str, Device)]) -> Vec<(String, Device)> {
    let mut out = Vec::new();
    for (i, (_, dev)) in disks.iter().enumerate() {
        let name = partition::device_name(i);
        match partition::read_partitions(dev.as_ref()).unwrap() {
            None => out.push((name, dev.clone())),
            Some(t) => {
                for p in &t.partitions {
                    out.push((
                        format!("{name}{}", p.number),
                        partition::partition_device(dev, p).unwrap(),
                    ));
                }
            }
        }
    }
    out
}

fn lv(l: &Lvm, vg: &str, name: &str) -> Device {
    let v = l.vgs.iter().find(|v| v.name == vg).unwrap();
    v.lvs
        .iter()
        .find(|x| x.name == name)
        .unwrap()
        .device
        .clone()
}

/// SHA-256 of the first `len` bytes of a device.
fn sha_prefix(dev: &dyn BlockDevice, len: u64) -> String {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        dev.read_at(&mut buf[..n], at).unwrap();
        h.update(&buf[..n]);
        at += n as u64;
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// (sha256, length) from volumes/NAME.
fn oracle(name: &str) -> (String, u64) {
    let s = std::fs::read_to_string(gx_testdata::image("volumes").join(name)).unwrap();
    let mut f = s.split_whitespace();
    let sha = f.next().unwrap().to_string();
    let len = f.next().map_or(0, |l| l.parse().unwrap());
    (sha, len)
}

fn key(name: &str) -> Vec<u8> {
    std::fs::read(gx_testdata::image("volumes").join(name)).unwrap()
}

#[test]
fn spanning_and_striped_lvs_read_back_what_was_written() {
    let a = open("lvm-span-a.img");
    let b = open("lvm-span-b.img");
    let l = lvm::scan(&candidates(&[("a", a), ("b", b)])).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.vgs.len(), 1);
    let vg = &l.vgs[0];
    assert_eq!((vg.name.as_str(), vg.seqno), ("data-vg", 5));
    assert!(vg.pvs.iter().all(|p| p.pv.is_some()));
    for (lvname, file) in [
        ("big-lv", "span-big-lv.sha256"),
        ("stripes", "span-stripes.sha256"),
    ] {
        let dev = lv(&l, "data-vg", lvname);
        let (sha, _) = oracle(file);
        let len = if lvname == "big-lv" {
            24 << 20
        } else {
            16 << 20
        };
        assert_eq!(dev.size(), len);
        assert_eq!(sha_prefix(dev.as_ref(), len), sha, "{lvname}");
    }
}

/// lvm2's pvck reads the label and metadata we parse; it must agree on the
/// VG name and seqno of an unpartitioned PV.
#[test]
fn pvck_agrees_on_the_metadata() {
    let out = match Command::new("lvm")
        .args(["pvck", "--dump", "metadata"])
        .arg(gx_testdata::image("lvm-span-b.img"))
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(std::env::var("CI").is_err(), "lvm (pvck) is missing: {e}");
            gx_testdata::skip_or_fail!("lvm not installed");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("vgname data-vg seqno 5"), "{text}");
    let l = lvm::scan(&[("b".into(), open("lvm-span-b.img"))]).unwrap();
    assert_eq!(l.vgs[0].name, "data-vg");
    assert_eq!(l.vgs[0].seqno, 5);
}

/// `cryptsetup luksDump` of a header copied out of `dev`.
fn luks_dump(dev: &dyn BlockDevice) -> Option<String> {
    let len = (4u64 << 20).min(dev.size());
    let mut buf = vec![0u8; len as usize];
    dev.read_at(&mut buf, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("hdr");
    std::fs::write(&f, &buf).unwrap();
    match Command::new("cryptsetup").arg("luksDump").arg(&f).output() {
        Ok(o) => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Err(e) => {
            assert!(std::env::var("CI").is_err(), "cryptsetup is missing: {e}");
            gx_testdata::skip_or_fail!("cryptsetup not installed");
            None
        }
    }
}

fn field<'a>(dump: &'a str, name: &str) -> Option<&'a str> {
    dump.lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .map(|v| v.trim_start_matches(':').trim())
}

/// Unlock `dev` with `pass`, check the header against luksDump and the
/// plaintext against what cryptsetup encrypted.
fn check_luks(dev: Device, pass: &[u8], plain: &str, version: u16, cipher: &str) -> Device {
    let hdr = luks::read_header(dev.as_ref()).unwrap().unwrap();
    assert_eq!(hdr.version, version);
    assert_eq!(hdr.cipher, cipher);
    if let Some(dump) = luks_dump(dev.as_ref()) {
        assert_eq!(field(&dump, "UUID"), Some(hdr.uuid.as_str()), "{dump}");
        assert_eq!(field(&dump, "Version"), Some(version.to_string().as_str()));
        if version == 2 {
            let off = field(&dump, "offset").unwrap();
            assert_eq!(off, format!("{} [bytes]", hdr.payload_offset));
            let sector = field(&dump, "sector").unwrap();
            assert_eq!(sector, format!("{} [bytes]", hdr.sector_size));
        } else {
            let off: u64 = field(&dump, "Payload offset").unwrap().parse().unwrap();
            assert_eq!(off * 512, hdr.payload_offset);
        }
    }
    let limits = Limits::default();
    assert!(
        luks::unlock_key(dev.as_ref(), &hdr, b"wrong", &limits)
            .unwrap()
            .is_none()
    );
    let mk = luks::unlock_key(dev.as_ref(), &hdr, pass, &limits)
        .unwrap()
        .unwrap();
    // Unlocked again (from the process's memo of unlocked keys): the same
    // key for the same passphrase, and still none for a wrong one.
    let again = luks::unlock_key(dev.as_ref(), &hdr, pass, &limits)
        .unwrap()
        .unwrap();
    assert_eq!(mk, again);
    assert!(
        luks::unlock_key(dev.as_ref(), &hdr, b"wrong", &limits)
            .unwrap()
            .is_none()
    );
    let c: Device = Arc::new(CryptDevice::new("/dev/mapper/t", dev, &hdr, &mk).unwrap());
    let (sha, len) = oracle(plain);
    assert_eq!(sha_prefix(c.as_ref(), len), sha, "{plain}");
    c
}

#[test]
fn lvm_on_luks2_argon2id_and_luks1_cbc_essiv() {
    for (img, plain, version, cipher) in [
        (
            "lvm-on-luks.img",
            "lvm-on-luks.luks.plain.sha256",
            2,
            "aes-xts-plain64",
        ),
        (
            "lvm-on-luks1.img",
            "lvm-on-luks1.luks.plain.sha256",
            1,
            "aes-cbc-essiv:sha256",
        ),
    ] {
        let c = candidates(&[("d", open(img))]);
        let p2 = c.iter().find(|(n, _)| n == "/dev/sda2").unwrap().1.clone();
        let crypt = check_luks(p2, &key("lvm-on-luks.key"), plain, version, cipher);
        let l = lvm::scan(&[("/dev/mapper/x".into(), crypt)]).unwrap();
        assert_eq!(l.vgs[0].name, "vg_crypt");
        assert_eq!(l.vgs[0].lvs.len(), 2);
    }
}

#[test]
fn luks_on_lvm() {
    let l = lvm::scan(&candidates(&[("d", open("luks-on-lvm.img"))])).unwrap();
    let secret = lv(&l, "vg-enc", "secret-lv");
    check_luks(
        secret,
        &key("luks-on-lvm.key"),
        "lo-secret.luks.plain.sha256",
        2,
        "aes-xts-plain64",
    );
}

#[test]
fn libguestfs_fedora_luks_layouts() {
    let d = open("libguestfs-fedora-luks-on-lvm.img");
    let l = lvm::scan(&candidates(&[("d", d)])).unwrap();
    for (lvname, k, plain) in [
        ("Root", "fedora-root.key", "flo-root.luks.plain.sha256"),
        (
            "Logical-Volume-1",
            "fedora-lv1.key",
            "flo-lv1.luks.plain.sha256",
        ),
        (
            "Logical-Volume-2",
            "fedora-lv2.key",
            "flo-lv2.luks.plain.sha256",
        ),
        // A passphrase with a NUL byte in it.
        (
            "Logical-Volume-3",
            "fedora-lv3.key",
            "flo-lv3.luks.plain.sha256",
        ),
    ] {
        check_luks(
            lv(&l, "Volume-Group", lvname),
            &key(k),
            plain,
            2,
            "aes-xts-plain64",
        );
    }
    let c = candidates(&[("d", open("libguestfs-fedora-lvm-on-luks.img"))]);
    let p2 = c.iter().find(|(n, _)| n == "/dev/sda2").unwrap().1.clone();
    check_luks(p2, b"FEDORA", "fll.luks.plain.sha256", 2, "aes-xts-plain64");
}

/// Not an oracle test: no image is written by any of the above.
#[test]
fn images_are_untouched() {
    let p = gx_testdata::image("lvm-on-luks.img");
    let before = gx_testdata::file_digest(&p);
    let c = candidates(&[("d", open("lvm-on-luks.img"))]);
    let _ = lvm::scan(&c).unwrap();
    assert_eq!(gx_testdata::file_digest(Path::new(&p)), before);
}

//! LVM and LUKS through the agent. Oracles: the LVM2 text metadata read
//! from the image by the test itself (names, UUIDs, extents, pe_start),
//! the partition table by the host's sfdisk, and for LUKS the host's
//! cryptsetup (which made the containers and dumps their volume key) with
//! openssl decrypting what the appliance wrote through the mapping.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{blank, launch, lvm_metadata, prerequisites, sh, sh_status};
use gx_appliance::{Appliance, Drive};
use gx_protocol::{CryptsetupOpenOpts, MkfsOpts};

const KEY: &str = "correct horse battery";

/// A LUKS2 container made by the host's cryptsetup, with a cheap PBKDF (the
/// appliance runs under TCG). Its data starts at 16 MiB.
fn luks_image(path: &Path) {
    blank(path, 64 << 20);
    sh(&format!(
        "printf '%s' '{KEY}' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
         --pbkdf-force-iterations 1000 --key-file=- {}",
        path.display()
    ));
}

/// Encryption unit `n` of the LUKS data area (LUKS2 uses 4096-byte sectors
/// here, whose IVs count in those sectors), decrypted on the host: the
/// volume key from the host's cryptsetup, AES from openssl, and the XTS mode
/// (IEEE P1619, plain64 IVs: the unit number, little-endian) done here,
/// since openssl's enc command does not take XTS.
fn decrypt_unit(img: &Path, n: u64, scratch: &Path) -> Vec<u8> {
    let dump = sh(&format!(
        "printf '%s' '{KEY}' | cryptsetup luksDump -q --dump-volume-key --key-file=- {}",
        img.display()
    ));
    let i = dump.find("MK dump:").expect("volume key in the dump");
    let key: String = dump[i + 8..]
        .split_whitespace()
        .take(64)
        .collect::<Vec<_>>()
        .join("");
    assert_eq!(key.len(), 128, "{dump}");
    let (k1, k2) = key.split_at(64);
    let data_offset = 16u64 << 20;
    let unit: u64 = sh(&format!("cryptsetup luksDump {}", img.display()))
        .split("sector:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(512);
    let mut f = std::fs::File::open(img).expect("open");
    use std::io::{Read, Seek, SeekFrom};
    f.seek(SeekFrom::Start(data_offset + n * unit))
        .expect("seek");
    let mut c = vec![0u8; unit as usize];
    f.read_exact(&mut c).expect("read");
    let aes = |decrypt: bool, k: &str, data: &[u8]| -> Vec<u8> {
        let input = scratch.join("aes-in");
        std::fs::write(&input, data).expect("write");
        let out = std::process::Command::new("openssl")
            .args([
                "enc",
                if decrypt { "-d" } else { "-e" },
                "-aes-256-ecb",
                "-nopad",
            ])
            .args(["-K", k, "-in"])
            .arg(&input)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&n.to_le_bytes());
    let mut tweak: [u8; 16] = aes(false, k2, &iv).try_into().expect("one block");
    let mut tweaks = Vec::new();
    let mut masked = Vec::new();
    for block in c.chunks(16) {
        tweaks.push(tweak);
        masked.extend(block.iter().zip(tweak).map(|(a, b)| a ^ b));
        // Multiply the tweak by x in GF(2^128), little-endian.
        let carry = tweak[15] >> 7;
        for k in (1..16).rev() {
            tweak[k] = (tweak[k] << 1) | (tweak[k - 1] >> 7);
        }
        tweak[0] = (tweak[0] << 1) ^ (0x87 * carry);
    }
    aes(true, k1, &masked)
        .chunks(16)
        .zip(tweaks)
        .flat_map(|(b, t)| b.iter().zip(t).map(|(a, b)| a ^ b).collect::<Vec<_>>())
        .collect()
}

fn uuid_plain(u: &str) -> String {
    u.chars().filter(|c| *c != '-').collect()
}

fn set(v: Vec<String>) -> BTreeSet<String> {
    v.into_iter().collect()
}

/// The sector offsets of the two partitions of the LVM disk.
fn partition_starts(img: &Path) -> Vec<u64> {
    sh(&format!("sfdisk -d {}", img.display()))
        .lines()
        .filter_map(|l| l.split("start=").nth(1))
        .map(|s| {
            s.split(',')
                .next()
                .expect("start")
                .trim()
                .parse::<u64>()
                .expect("n")
                * 512
        })
        .collect()
}

fn lv_size(g: &mut Appliance, dev: &str) -> i64 {
    g.blockdev_getsize64(dev)
        .unwrap_or_else(|e| panic!("size of {dev}: {e}"))
}

#[test]
fn lvm_and_luks() {
    if let Some(why) = prerequisites() {
        gx_testdata::skip_or_fail!("lvm: {why}");
        return;
    }
    for p in ["cryptsetup", "openssl"] {
        if !common::has(p) {
            gx_testdata::skip_or_fail!("lvm: no {p} on the host (run scripts/setup)");
            return;
        }
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    let disk = blank(&t.join("lvm.img"), 512 << 20);
    let luks = t.join("luks.img");
    luks_image(&luks);
    let luks_lvm = t.join("luks-lvm.img");
    luks_image(&luks_lvm);

    // Part one: build, look, shut down; the host reads the metadata.
    let mut g = launch(vec![
        Drive::new(&disk, Some("raw"), false),
        Drive::new(&luks, Some("raw"), false),
        Drive::new(&luks_lvm, Some("raw"), false),
    ]);
    g.part_init("/dev/sda", "gpt").expect("part_init");
    g.part_add("/dev/sda", "p", 2048, 526_335).expect("p1");
    g.part_add("/dev/sda", "p", 526_336, 1_046_527).expect("p2");
    g.pvcreate("/dev/sda1").expect("pvcreate");
    g.pvcreate("/dev/sda2").expect("pvcreate");
    assert!(g.pvcreate("/dev/sdz").is_err());
    g.vgcreate("vg-one", &["/dev/sda1".into()])
        .expect("vgcreate");
    g.vgcreate("vg2", &["/dev/sda2".into()]).expect("vgcreate");
    g.lvcreate("lv-a", "vg-one", 64).expect("lvcreate");
    g.lvcreate_free("lvb", "vg-one", 50).expect("lvcreate_free");
    assert!(g.lvcreate_free("lvx", "vg-one", 101).is_err());
    g.lvcreate("data", "vg2", 32).expect("lvcreate");
    assert!(g.lvcreate("lv-a", "vg-one", 8).is_err(), "a duplicate name");

    assert_eq!(
        g.lvs().expect("lvs"),
        vec!["/dev/vg-one/lv-a", "/dev/vg-one/lvb", "/dev/vg2/data"]
    );
    assert_eq!(g.vgs().expect("vgs"), vec!["vg-one", "vg2"]);
    assert_eq!(g.pvs().expect("pvs"), vec!["/dev/sda1", "/dev/sda2"]);
    let lvs_full = g.lvs_full().expect("lvs_full");
    let vgs_full = g.vgs_full().expect("vgs_full");
    let pvs_full = g.pvs_full().expect("pvs_full");
    assert_eq!(lvs_full.len(), 3);
    for lv in &lvs_full {
        let vg = if lv.lv_name == "data" {
            "vg2"
        } else {
            "vg-one"
        };
        let size = lv_size(&mut g, &format!("/dev/{vg}/{}", lv.lv_name));
        assert_eq!(lv.lv_size, size as u64, "{}", lv.lv_name);
        assert_eq!(lv.lv_uuid.len(), 32);
        assert_eq!(lv.seg_count, 1);
        assert!(lv.lv_attr.starts_with("-wi-a"), "{}", lv.lv_attr);
    }
    // The device-mapper name, dashes doubled, names the same device.
    assert_eq!(lv_size(&mut g, "/dev/mapper/vg--one-lv--a"), 64 << 20);
    assert!(g.is_lv("/dev/vg-one/lv-a").expect("is_lv"));
    assert!(g.is_lv("/dev/mapper/vg--one-lv--a").expect("is_lv"));
    assert!(!g.is_lv("/dev/sda1").expect("is_lv"));
    assert!(g.is_lv("/dev/vg-one/nope").is_err());
    assert_eq!(
        g.lvm_canonical_lv_name("/dev/mapper/vg--one-lv--a")
            .expect("canonical"),
        "/dev/vg-one/lv-a"
    );
    assert_eq!(
        g.lvm_canonical_lv_name("/dev/vg2/data").expect("canonical"),
        "/dev/vg2/data"
    );
    assert!(g.lvm_canonical_lv_name("/dev/sda1").is_err());
    let lv_a_uuid = g.lvuuid("/dev/vg-one/lv-a").expect("lvuuid");
    let vg_uuid = g.vguuid("vg-one").expect("vguuid");
    let pv_uuid = g.pvuuid("/dev/sda1").expect("pvuuid");
    let vglv = g.vglvuuids("vg-one").expect("vglvuuids");
    let vgpv = g.vgpvuuids("vg-one").expect("vgpvuuids");
    assert_eq!(vgpv, vec![pv_uuid.clone()]);
    assert_eq!(vglv.len(), 2);
    assert!(vglv.contains(&lv_a_uuid));

    // A filesystem on an LV, mounted by its /dev/mapper name.
    g.mkfs("ext4", "/dev/mapper/vg--one-lv--a", MkfsOpts::default())
        .expect("mkfs on LV");
    g.mount("/dev/mapper/vg--one-lv--a", "/").expect("mount LV");
    g.write("/on-lv", b"on the LV").expect("write");
    assert_eq!(g.mounts().expect("mounts"), vec!["/dev/vg-one/lv-a"]);
    assert_eq!(
        g.mountpoints().expect("mountpoints"),
        vec![("/dev/vg-one/lv-a".to_string(), "/".to_string())]
    );
    g.umount("/dev/vg-one/lv-a", Default::default())
        .expect("umount by device");
    let fs = g.list_filesystems().expect("list_filesystems");
    assert!(
        fs.contains(&("/dev/vg-one/lv-a".into(), "ext4".into())),
        "{fs:?}"
    );
    assert!(
        fs.contains(&("/dev/vg2/data".into(), "unknown".into())),
        "{fs:?}"
    );
    assert!(
        !fs.iter().any(|(d, _)| d.starts_with("/dev/sda")),
        "PVs are not filesystems: {fs:?}"
    );

    // Resizing.
    g.lvresize("/dev/vg-one/lv-a", 96).expect("lvresize");
    assert_eq!(lv_size(&mut g, "/dev/vg-one/lv-a"), 96 << 20);
    g.lvresize("/dev/vg-one/lv-a", 96)
        .expect("lvresize to the same size");
    g.lvresize_free("/dev/vg-one/lvb", 100)
        .expect("lvresize_free");
    let vg1 = g
        .vgs_full()
        .expect("vgs_full")
        .into_iter()
        .find(|v| v.vg_name == "vg-one")
        .expect("vg-one");
    assert_eq!(vg1.vg_free, 0, "{vg1:?}");
    assert_eq!(vg1.vg_free_count, 0);
    g.pvresize("/dev/sda2").expect("pvresize");
    g.shutdown().expect("shutdown");

    // The metadata on the disk says the same as the agent did.
    let starts = partition_starts(&disk);
    let (name, vg) = lvm_metadata(&disk, starts[0]);
    assert_eq!(name, "vg-one");
    assert_eq!(uuid_plain(vg.get("id")), uuid_plain(&vg_uuid));
    let before = vgs_full
        .iter()
        .find(|v| v.vg_name == "vg-one")
        .expect("vg-one");
    assert_eq!(uuid_plain(vg.get("id")), before.vg_uuid);
    assert_eq!(vg.num("extent_size") * 512, before.vg_extent_size);
    let pv0 = vg.sec("physical_volumes").sec("pv0");
    assert_eq!(uuid_plain(pv0.get("id")), uuid_plain(&pv_uuid));
    let pvf = pvs_full
        .iter()
        .find(|p| p.pv_name == "/dev/sda1")
        .expect("pv");
    assert_eq!(pv0.num("pe_start") * 512, pvf.pe_start);
    assert_eq!(pv0.num("pe_count") as i64, pvf.pv_pe_count);
    assert_eq!(pvf.dev_size, (526_336 - 2048) * 512);
    let lvs_md = vg.sec("logical_volumes");
    let lv_a = lvs_md.sec("lv-a");
    assert_eq!(uuid_plain(lv_a.get("id")), uuid_plain(&lv_a_uuid));
    let md_lv_uuids: BTreeSet<String> = lvs_md
        .sections
        .values()
        .map(|l| l.get("id").to_string())
        .collect();
    assert_eq!(md_lv_uuids, set(vglv));
    let seg = lv_a.sec("segment1");
    assert_eq!(
        seg.num("extent_count") * vg.num("extent_size") * 512,
        64 << 20
    );
    for lv in lvs_full.iter().filter(|l| l.lv_name != "data") {
        assert_eq!(
            uuid_plain(lvs_md.sec(&lv.lv_name).get("id")),
            lv.lv_uuid,
            "{}",
            lv.lv_name
        );
    }
    // lv-a's ext4, at its extents, is clean by the host's e2fsck.
    let lv_at =
        starts[0] + pv0.num("pe_start") * 512 + seg.stripe_start() * vg.num("extent_size") * 512;
    sh(&format!("e2fsck -fn '{}?offset={lv_at}'", disk.display()));

    // Part two: activation, renames, removal, LUKS.
    let mut g = launch(vec![
        Drive::new(&disk, Some("raw"), false),
        Drive::new(&luks, Some("raw"), false),
        Drive::new(&luks_lvm, Some("raw"), false),
    ]);
    // Volumes found at launch are usable at once, as after libguestfs's boot.
    assert_eq!(lv_size(&mut g, "/dev/vg-one/lv-a"), 96 << 20);
    g.vg_activate(false, &["vg-one".into()])
        .expect("deactivate");
    assert!(g.blockdev_getsize64("/dev/vg-one/lv-a").is_err());
    assert_eq!(lv_size(&mut g, "/dev/vg2/data"), 32 << 20);
    assert!(
        g.list_dm_devices().expect("dm").is_empty(),
        "LVs are not listed"
    );
    g.vg_activate_all(false).expect("deactivate all");
    assert!(g.blockdev_getsize64("/dev/vg2/data").is_err());
    g.lvm_scan(true).expect("lvm_scan");
    assert_eq!(lv_size(&mut g, "/dev/vg2/data"), 32 << 20);
    g.vg_activate_all(true).expect("activate all");
    assert_eq!(lv_size(&mut g, "/dev/vg-one/lv-a"), 96 << 20);
    g.lvrename("/dev/vg-one/lvb", "/dev/vg-one/lvc")
        .expect("lvrename");
    g.vgrename("vg2", "vg3").expect("vgrename");
    assert_eq!(
        g.lvs().expect("lvs"),
        vec!["/dev/vg-one/lv-a", "/dev/vg-one/lvc", "/dev/vg3/data"]
    );
    assert_eq!(g.vgs().expect("vgs"), vec!["vg-one", "vg3"]);
    let e = g
        .lvrename("/dev/vg-one/nope", "/dev/vg-one/x")
        .expect_err("missing");
    assert!(e.to_string().contains("nope"), "{e}");

    // LUKS: a wrong key fails, the right one maps the data area.
    let e = g
        .cryptsetup_open(
            "/dev/sdb",
            "wrong key",
            "secret",
            CryptsetupOpenOpts::default(),
        )
        .expect_err("wrong key");
    assert!(!e.to_string().contains("wrong key"), "the key leaked: {e}");
    assert_eq!(g.vfs_type("/dev/sdb").expect("type"), "crypto_LUKS");
    g.cryptsetup_open("/dev/sdb", KEY, "secret", CryptsetupOpenOpts::default())
        .expect("cryptsetup_open");
    assert!(
        g.cryptsetup_open("/dev/sdb", KEY, "secret", CryptsetupOpenOpts::default())
            .is_err(),
        "the name is taken"
    );
    assert_eq!(lv_size(&mut g, "/dev/mapper/secret"), (64 - 16) << 20);
    assert!(!g.is_lv("/dev/mapper/secret").expect("is_lv"));
    assert_eq!(g.list_dm_devices().expect("dm"), vec!["/dev/mapper/secret"]);
    let plain: Vec<u8> = (0..1024u32).map(|i| (i * 7 % 251) as u8).collect();
    g.pwrite_device("/dev/mapper/secret", &plain, 512)
        .expect("write through the mapping");
    let e = g.cryptsetup_close("/dev/sdb").expect_err("not a mapping");
    assert!(e.to_string().contains("/dev/mapper"), "{e}");
    g.cryptsetup_close("/dev/mapper/secret").expect("close");
    assert!(g.list_dm_devices().expect("dm").is_empty());
    g.cryptsetup_open(
        "/dev/sdb",
        KEY,
        "ro",
        CryptsetupOpenOpts {
            readonly: Some(true),
            crypttype: Some("luks".into()),
            cipher: None,
        },
    )
    .expect("open read-only");
    assert!(g.blockdev_getro("/dev/mapper/ro").expect("ro"));
    g.cryptsetup_close("/dev/mapper/ro").expect("close");

    // LVM inside LUKS: made here, then found again by opening the container.
    g.cryptsetup_open("/dev/sdc", KEY, "cr", CryptsetupOpenOpts::default())
        .expect("open");
    g.pvcreate("/dev/mapper/cr").expect("pvcreate on LUKS");
    g.vgcreate("vgcrypt", &["/dev/mapper/cr".into()])
        .expect("vgcreate");
    g.lvcreate("inner", "vgcrypt", 16).expect("lvcreate");
    g.mkfs("ext4", "/dev/vgcrypt/inner", MkfsOpts::default())
        .expect("mkfs");
    assert!(
        g.pvs()
            .expect("pvs")
            .contains(&"/dev/mapper/cr".to_string())
    );
    let fs = g.list_filesystems().expect("list_filesystems");
    assert!(
        fs.contains(&("/dev/vgcrypt/inner".into(), "ext4".into())),
        "{fs:?}"
    );
    assert!(!fs.iter().any(|(d, _)| d == "/dev/mapper/cr"), "{fs:?}");
    g.vg_activate(false, &["vgcrypt".into()])
        .expect("deactivate");
    g.cryptsetup_close("/dev/mapper/cr").expect("close");
    g.cryptsetup_open("/dev/sdc", KEY, "cr", CryptsetupOpenOpts::default())
        .expect("reopen");
    assert_eq!(g.vfs_type("/dev/vgcrypt/inner").expect("type"), "ext4");

    // Removal.
    g.lvremove("/dev/vg-one/lvc").expect("lvremove");
    g.lvremove("/dev/vg3").expect("lvremove a whole VG's LVs");
    assert_eq!(
        g.lvs().expect("lvs"),
        vec!["/dev/vg-one/lv-a", "/dev/vgcrypt/inner"]
    );
    g.vgremove("vg3").expect("vgremove");
    g.pvremove("/dev/sda2").expect("pvremove");
    assert_eq!(g.pvs().expect("pvs"), vec!["/dev/mapper/cr", "/dev/sda1"]);
    g.lvm_remove_all().expect("lvm_remove_all");
    assert!(g.lvs().expect("lvs").is_empty());
    assert!(g.vgs().expect("vgs").is_empty());
    assert!(g.pvs().expect("pvs").is_empty());
    g.cryptsetup_close("/dev/mapper/cr").expect("close");
    g.shutdown().expect("shutdown");

    // What went through the mapping is in the container, encrypted: the
    // host decrypts it with the volume key.
    let unit0 = decrypt_unit(&luks, 0, t);
    assert_eq!(unit0[512..1536], plain[..]);
    let raw = std::fs::read(&luks).expect("read");
    assert!(
        !raw.windows(64).any(|w| w == &plain[..64]),
        "plaintext on the disk"
    );
    // No LVM label left on the disk.
    let (_, label) = sh_status(&format!(
        "dd if={} bs=512 skip={} count=2 status=none | grep -c LABELONE",
        disk.display(),
        starts[0] / 512
    ));
    assert_eq!(label.trim(), "0");
}

trait StripeStart {
    fn stripe_start(&self) -> u64;
}

impl StripeStart for common::LvmSection {
    /// The first extent of a linear segment on its PV (`stripes = ["pv0", N]`).
    fn stripe_start(&self) -> u64 {
        self.values["stripes"][1].parse().expect("stripe start")
    }
}

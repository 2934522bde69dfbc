//! Filesystem probing against the two oracles that define it:
//! libguestfs's `vfs-type`/`vfs-label`/`vfs-uuid` on the test images (recorded
//! in `tests/expected/probe-peer/` by its `make.sh`), and, on filesystems made
//! here with the ordinary mkfs tools, the host programs libguestfs runs in its
//! appliance for those calls (blkid, ntfslabel, btrfs; the same Debian
//! packages the appliance is built from).
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use gx_disk::probe::{Probe, probe, vfs_type};
use gx_disk::{BlockDevice, Error, Result};

/// A read-only window of an image file, so this test needs nothing but the probe.
struct FileWindow {
    file: File,
    start: u64,
    len: u64,
    name: String,
}

impl FileWindow {
    fn whole(path: &Path) -> Self {
        let file = File::open(path).unwrap();
        let len = file.metadata().unwrap().len();
        FileWindow {
            file,
            start: 0,
            len,
            name: path.display().to_string(),
        }
    }

    fn part(path: &Path, start: u64, len: u64) -> Self {
        let mut w = FileWindow::whole(path);
        assert!(
            start + len <= w.len,
            "partition past the end of {}",
            path.display()
        );
        w.start = start;
        w.len = len;
        w
    }
}

impl BlockDevice for FileWindow {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        gx_disk::check_range(self, offset, buf.len())?;
        self.file
            .read_exact_at(buf, self.start + offset)
            .map_err(|e| Error::io(format!("{}: read at {offset}", self.name), e))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// mkfs tools live in the sbin directories, which a user's PATH may lack.
const TOOL_PATH: &str = "/usr/sbin:/sbin:/usr/bin:/bin";

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .env("PATH", TOOL_PATH)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Partitions of an image as `(number, start, size)` in bytes, from `sfdisk --dump`
/// (the disk layer's own partition reader is tested elsewhere; this keeps the
/// probe test independent of it).
fn partitions(img: &Path) -> Vec<(u32, u64, u64)> {
    let out = Command::new("sfdisk")
        .arg("--dump")
        .arg(img)
        .env("PATH", TOOL_PATH)
        .output()
        .unwrap();
    if !out.status.success() {
        // No partition table: a whole-device filesystem.
        return Vec::new();
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let mut sector_size = 512u64;
    let mut parts = Vec::new();
    let prefix = img.display().to_string();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("sector-size:") {
            sector_size = v.trim().parse().unwrap();
        }
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((num, fields)) = rest.split_once(" : ") else {
            continue;
        };
        let num: u32 = num.trim().parse().unwrap();
        let get = |key: &str| -> u64 {
            fields
                .split(',')
                .find_map(|f| f.trim().strip_prefix(key))
                .map(|v| v.trim_start_matches('=').trim().parse().unwrap())
                .unwrap()
        };
        // Linux exposes an MBR extended partition as a 1 KiB stub (which
        // blkid ignores), not as the whole container.
        let extended = fields
            .split(',')
            .any(|f| matches!(f.trim(), "type=5" | "type=f" | "type=85"));
        let size = if extended {
            1024
        } else {
            get("size") * sector_size
        };
        parts.push((num, get("start") * sector_size, size));
    }
    parts
}

/// What libguestfs's vfs-type prints for our probe result.
fn peer_type(p: &Probe) -> &str {
    if p.is_known() { &p.fs_type } else { "" }
}

#[test]
fn matches_libguestfs_on_test_images() {
    let dir = gx_testdata::workspace_root().join("tests/expected/probe-peer");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no expected files in {}", dir.display());
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        // `probe-xfs.txt` is for `probe/xfs.img` (or `.iso`), `linux.txt` for `linux.img`.
        let stem = file.file_stem().unwrap().to_str().unwrap();
        let image = match stem.strip_prefix("probe-") {
            Some(s) => probe_image(s),
            None => format!("{stem}.img"),
        };
        let img = gx_testdata::image(&image);
        let parts = partitions(&img);
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 4, "{}: bad line {line:?}", file.display());
            let (device, want_type, want_label, want_uuid) = (f[0], f[1], f[2], f[3]);
            let num = device.trim_start_matches("/dev/sda");
            let dev = if num.is_empty() {
                FileWindow::whole(&img)
            } else {
                let n: u32 = num.parse().unwrap();
                let &(_, start, size) = parts
                    .iter()
                    .find(|p| p.0 == n)
                    .unwrap_or_else(|| panic!("{image}: no partition {n}"));
                FileWindow::part(&img, start, size)
            };
            let p = probe(&dev).unwrap();
            let got = (peer_type(&p), p.label.as_str(), p.uuid.as_str());
            if got != (want_type, want_label, want_uuid) {
                failures.push(format!(
                    "{image} {device}: got {got:?}, libguestfs says {:?}",
                    (want_type, want_label, want_uuid)
                ));
            }
            assert_eq!(vfs_type(&dev).unwrap(), peer_type(&p));
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("checked {checked} devices against libguestfs");
}

/// Expected lines of one peer file: `(device, type, label, uuid)`.
fn peer_lines(name: &str) -> Vec<[String; 4]> {
    let file = gx_testdata::workspace_root()
        .join("tests/expected/probe-peer")
        .join(format!("{name}.txt"));
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<String> = l.split('\t').map(str::to_string).collect();
            f.try_into().unwrap()
        })
        .collect()
}

/// The direct engine's path: open the image (raw or qcow2) with the disk
/// layer, read its partition table, probe each partition device.
#[test]
fn matches_libguestfs_through_the_disk_layer() {
    let mut failures = Vec::new();
    for (image, expected) in [
        ("linux.img", "linux"),
        ("linux.qcow2", "linux"),
        ("windows.img", "windows"),
        ("multi.img", "multi"),
    ] {
        let disk =
            gx_disk::open_image(&gx_testdata::image(image), &gx_disk::OpenOptions::new()).unwrap();
        let table = gx_disk::read_partitions(&*disk).unwrap().unwrap();
        for [device, want_type, want_label, want_uuid] in peer_lines(expected) {
            let p = match device.strip_prefix("/dev/sda").unwrap() {
                "" => probe(&*disk).unwrap(),
                n => {
                    let n: u32 = n.parse().unwrap();
                    let part = table
                        .partitions
                        .iter()
                        .find(|p| p.number == n)
                        .unwrap_or_else(|| panic!("{image}: no partition {n}"));
                    if part.kind == gx_disk::PartitionKind::Extended {
                        // Linux shows the container as a 1 KiB stub, which blkid
                        // ignores; the Handle reports it as unknown too.
                        assert_eq!(want_type, "", "{image} {device}");
                        continue;
                    }
                    probe(&*gx_disk::partition_device(&disk, part).unwrap()).unwrap()
                }
            };
            let got = (peer_type(&p), p.label.as_str(), p.uuid.as_str());
            if got != (want_type.as_str(), want_label.as_str(), want_uuid.as_str()) {
                failures.push(format!(
                    "{image} {device}: got {got:?}, libguestfs says {:?}",
                    (want_type, want_label, want_uuid)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The file in `probe/` whose name without extension is `stem`.
fn probe_image(stem: &str) -> String {
    let dir = gx_testdata::images().join("probe");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| Path::new(n).file_stem().is_some_and(|s| s == stem))
        .unwrap_or_else(|| panic!("no image named {stem}.* in {}", dir.display()));
    format!("probe/{name}")
}

/// `TYPE`, `LABEL`, `UUID` exactly as libguestfs's daemon gets them: blkid
/// (`blkid -c /dev/null -o value -s TAG`, `""` for a missing tag), except
/// the label of NTFS and btrfs, which it asks `ntfslabel` and `btrfs
/// filesystem label` for. Each answer loses one trailing newline.
fn libguestfs_rules(img: &Path) -> (String, String, String) {
    let run = |cmd: &mut Command| -> String {
        let out = cmd.env("PATH", TOOL_PATH).output().unwrap();
        let mut v = String::from_utf8_lossy(&out.stdout).into_owned();
        if v.ends_with('\n') {
            v.pop();
        }
        v
    };
    let tag = |name: &str| {
        run(Command::new("blkid")
            .args(["-c", "/dev/null", "-o", "value", "-s", name])
            .arg(img))
    };
    let fs_type = tag("TYPE");
    let label = match fs_type.as_str() {
        "ntfs" => run(Command::new("ntfslabel").arg(img)),
        "btrfs" => run(Command::new("btrfs").args(["filesystem", "label"]).arg(img)),
        _ => tag("LABEL"),
    };
    (fs_type, label, tag("UUID"))
}

/// One filesystem made by a host tool: name, size in MiB, the tool it
/// needs, and a shell script that formats `$IMG`.
struct Case {
    name: &'static str,
    mib: u64,
    tool: &'static str,
    script: &'static str,
}

const U: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

const CASES: &[Case] = &[
    Case {
        name: "zero",
        mib: 4,
        tool: "true",
        script: "true",
    },
    Case {
        name: "ext2",
        mib: 8,
        tool: "mkfs.ext2",
        script: "mkfs.ext2 -q -F -L lab2 -U $U $IMG",
    },
    Case {
        name: "ext3",
        mib: 8,
        tool: "mkfs.ext3",
        script: "mkfs.ext3 -q -F -L 'has space' -U $U $IMG",
    },
    Case {
        name: "ext4",
        mib: 8,
        tool: "mkfs.ext4",
        script: "mkfs.ext4 -q -F -L root -U $U $IMG",
    },
    Case {
        name: "ext4-nojournal",
        mib: 8,
        tool: "mkfs.ext4",
        script: "mkfs.ext4 -q -F -O ^has_journal -U $U $IMG",
    },
    Case {
        name: "ext3-plus-extents",
        mib: 8,
        tool: "mkfs.ext3",
        script: "mkfs.ext3 -q -F -O extents -U $U $IMG",
    },
    Case {
        name: "ext2-1k-long-label",
        mib: 8,
        tool: "mkfs.ext2",
        script: "mkfs.ext2 -q -F -b 1024 -L sixteen_chars_xx $IMG",
    },
    Case {
        name: "jbd",
        mib: 8,
        tool: "mkfs.ext4",
        script: "mkfs.ext4 -q -F -O journal_dev -L jrnl $IMG",
    },
    Case {
        name: "fat12",
        mib: 2,
        tool: "mkfs.fat",
        script: "mkfs.fat -F 12 -n F12 -i 0a0b0c0d $IMG",
    },
    Case {
        name: "fat16",
        mib: 32,
        tool: "mkfs.fat",
        script: "mkfs.fat -F 16 -n 'MY DISK' -i deadbeef $IMG",
    },
    Case {
        name: "fat32",
        mib: 64,
        tool: "mkfs.fat",
        script: "mkfs.fat -F 32 -n ESP -i 12345678 $IMG",
    },
    Case {
        name: "fat32-nolabel",
        mib: 64,
        tool: "mkfs.fat",
        script: "mkfs.fat -F 32 -i 12345678 $IMG",
    },
    Case {
        name: "fat16-mtools-label",
        mib: 16,
        tool: "mformat",
        script: "mformat -i $IMG -v MTOOLS -N 11223344 ::",
    },
    Case {
        name: "fat32-relabelled",
        mib: 64,
        tool: "mlabel",
        script: "mkfs.fat -F 32 -n OLD $IMG && mlabel -i $IMG ::NEWLABEL",
    },
    Case {
        name: "ntfs",
        mib: 16,
        tool: "mkfs.ntfs",
        script: "mkfs.ntfs -q -F -Q -L 'Windows Disk' $IMG 2>/dev/null",
    },
    Case {
        name: "ntfs-nolabel",
        mib: 16,
        tool: "mkfs.ntfs",
        script: "mkfs.ntfs -q -F -Q $IMG 2>/dev/null",
    },
    Case {
        name: "xfs",
        mib: 320,
        tool: "mkfs.xfs",
        script: "mkfs.xfs -q -f -L xfslabel -m uuid=$U $IMG",
    },
    Case {
        name: "btrfs",
        mib: 128,
        tool: "mkfs.btrfs",
        script: "mkfs.btrfs -q -f -L 'btr fs' -U $U $IMG",
    },
    Case {
        name: "exfat",
        mib: 16,
        tool: "mkfs.exfat",
        script: "mkfs.exfat -L ExLabel $IMG >/dev/null",
    },
    Case {
        name: "exfat-nolabel",
        mib: 16,
        tool: "mkfs.exfat",
        script: "mkfs.exfat $IMG >/dev/null",
    },
    Case {
        name: "swap",
        mib: 8,
        tool: "mkswap",
        script: "mkswap -L swp -U $U $IMG >/dev/null",
    },
    Case {
        name: "swap-nolabel",
        mib: 8,
        tool: "mkswap",
        script: "mkswap $IMG >/dev/null",
    },
    Case {
        name: "iso",
        mib: 0,
        tool: "genisoimage",
        script: "mkdir -p $IMG.d && echo hi > $IMG.d/f && \
                 genisoimage -quiet -V MY_CD -o $IMG $IMG.d",
    },
    Case {
        name: "iso-joliet-long",
        mib: 0,
        tool: "genisoimage",
        script: "mkdir -p $IMG.d && echo hi > $IMG.d/f && \
                 genisoimage -quiet -J -V 'A Long Joliet Label 2024' -o $IMG $IMG.d",
    },
    Case {
        name: "luks1",
        mib: 4,
        tool: "cryptsetup",
        script: "echo -n pw > $IMG.key && cryptsetup luksFormat -q --type luks1 \
                 --pbkdf-force-iterations 1000 --uuid $U --key-file $IMG.key $IMG",
    },
    Case {
        name: "luks2",
        mib: 20,
        tool: "cryptsetup",
        script: "echo -n pw > $IMG.key && cryptsetup luksFormat -q --type luks2 \
                 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --label secret \
                 --uuid $U --key-file $IMG.key $IMG",
    },
    Case {
        // blkid reads the $Volume record without its update-sequence fixups,
        // so its LABEL of a name crossing a 512-byte boundary carries the
        // sequence number; libguestfs asks ntfslabel, which applies them.
        name: "ntfs-label-straddles-sector",
        mib: 16,
        tool: "ntfslabel",
        script: "mkfs.ntfs -q -F -Q -L \"$(printf 'L%.0s' $(seq 120))\" $IMG 2>/dev/null",
    },
    Case {
        name: "ntfs-label-trailing-blanks",
        mib: 16,
        tool: "ntfslabel",
        script: "mkfs.ntfs -q -F -Q -L 'Trail  ' $IMG 2>/dev/null",
    },
    Case {
        name: "btrfs-label-trailing-blanks",
        mib: 128,
        tool: "btrfs",
        script: "mkfs.btrfs -q -f -L 'b trail  ' $IMG",
    },
    Case {
        name: "fat12-floppy",
        mib: 0,
        tool: "mkfs.fat",
        script: "truncate -s 1440K $IMG && mkfs.fat -n FLOPPY -i 00c0ffee $IMG >/dev/null",
    },
    Case {
        // A partitioned disk: blkid has no TYPE for the whole device.
        name: "mbr-disk",
        mib: 16,
        tool: "sfdisk",
        script: "echo 'start=2048, type=c' | sfdisk -q $IMG",
    },
    Case {
        name: "gpt-disk",
        mib: 16,
        tool: "sgdisk",
        script: "sgdisk -q -n 1:2048:0 -t 1:ef00 $IMG >/dev/null",
    },
    Case {
        // A FAT boot sector over an ext4 (which leaves its first KiB alone):
        // two filesystems, so blkid reports nothing.
        name: "ambivalent-fat-ext4",
        mib: 8,
        tool: "mkfs.ext4",
        script: "mkfs.ext4 -q -F $IMG && truncate -s 8M $IMG.f && mkfs.fat $IMG.f >/dev/null && \
                 dd if=$IMG.f of=$IMG bs=512 count=1 conv=notrunc status=none",
    },
];

#[test]
fn matches_host_blkid_on_fresh_filesystems() {
    if !have("blkid") {
        gx_testdata::skip_or_fail!("blkid is not installed (run scripts/setup)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for case in CASES {
        if !have(case.tool) {
            skipped.push(case.name);
            continue;
        }
        let img = tmp.path().join(format!("{}.img", case.name));
        if case.mib > 0 {
            let f = File::create(&img).unwrap();
            f.set_len(case.mib << 20).unwrap();
        }
        let st = Command::new("sh")
            .args(["-ec", case.script])
            .env("IMG", &img)
            .env("U", U)
            .env("PATH", TOOL_PATH)
            .status()
            .unwrap();
        assert!(st.success(), "{}: {} failed", case.name, case.script);
        let want = libguestfs_rules(&img);
        let p = probe(&FileWindow::whole(&img)).unwrap();
        let got = (peer_type(&p).to_string(), p.label.clone(), p.uuid.clone());
        eprintln!("{}: {got:?}", case.name);
        if got != want {
            failures.push(format!("{}: got {got:?}, blkid says {want:?}", case.name));
        }
    }
    if !skipped.is_empty() {
        gx_testdata::skip_or_fail!("tool missing, run scripts/setup: {}", skipped.join(", "));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every probe image cut short at many lengths, on a device of exactly that
/// size and at the start of a sparse 4 TiB one: probing answers (a type, or
/// none), never an error -- a short structure is "not this filesystem".
#[test]
fn truncated_images_probe_without_errors() {
    let dir = gx_testdata::images().join("probe");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let mut len = 0usize;
        while len <= data.len().min(3 << 20) {
            let cut = data[..len].to_vec();
            let small = gx_disk::MemDevice::new(cut.clone(), false, "cut");
            let sparse = gx_disk::SparseDevice::new(cut, 4 << 40, false, "cut-sparse");
            for dev in [&small as &dyn BlockDevice, &sparse] {
                if let Err(e) = probe(dev) {
                    panic!("{} cut at {len}: {e}", path.display());
                }
            }
            checked += 1;
            len = if len < 8192 { len + 509 } else { len * 3 / 2 };
        }
    }
    assert!(checked > 100, "only {checked} cuts probed");
}

//! SEEK_DATA/SEEK_HOLE on NTFS against ntfs-3g's own view of the files: an
//! NTFS volume is written through ntfs-3g (sparse files made by seeking past
//! the end, as any program does), then each file's run list as `ntfsinfo -v`
//! prints it (libntfs: VCN, LCN or `<HOLE>`, length in clusters) says where
//! its data and holes are, and `seek_data` must agree at every cluster edge.
#![allow(clippy::unwrap_used)]

use gx_disk::Device;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn tool(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}): scripts/setup installs ntfs-3g"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (start, end) byte ranges of data, from `ntfsinfo -v`'s run list, and
/// the cluster size.
fn ntfsinfo_data(img: &Path, file: &str) -> Vec<(u64, u64)> {
    let out = tool(Command::new("ntfsinfo").args(["-v", "-F", file]).arg(img));
    let volume = tool(Command::new("ntfsinfo").arg("-m").arg(img));
    let cluster: u64 = volume
        .lines()
        .find_map(|l| l.trim().strip_prefix("Cluster Size:"))
        .map(|v| v.split_whitespace().next().unwrap().parse().unwrap())
        .unwrap();
    // The run list of the (only) non-resident $DATA: lines of three
    // hexadecimal fields after the "Runlist:" header.
    let mut spans = Vec::new();
    let mut in_list = false;
    for l in out.lines() {
        if l.contains("Runlist:") {
            in_list = true;
            continue;
        }
        if !in_list {
            continue;
        }
        let t: Vec<&str> = l.split_whitespace().collect();
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
        match t.as_slice() {
            [vcn, lcn, len] if hex(vcn).is_some() && hex(len).is_some() => {
                if *lcn != "<HOLE>" {
                    let (v, n) = (hex(vcn).unwrap(), hex(len).unwrap());
                    spans.push((v * cluster, (v + n) * cluster));
                }
            }
            _ => in_list = false,
        }
    }
    spans
}

#[test]
fn ntfs_seek_data_matches_ntfsinfo_run_lists() {
    if !Path::new("/dev/fuse").exists() {
        gx_testdata::skip_or_fail!(
            "ntfs_seek_data_matches_ntfsinfo_run_lists: no /dev/fuse for ntfs-3g"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ntfs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    tool(Command::new("mkntfs").args(["-F", "-f", "-q"]).arg(&img));
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    tool(Command::new("ntfs-3g").arg(&img).arg(&mnt));
    // (name, [(offset, length)] written, final size)
    type Made<'a> = (&'a str, &'a [(u64, usize)], u64);
    let files: [Made; 4] = [
        ("holes.bin", &[(1 << 20, 5000), (3 << 20, 100)], 5 << 20),
        ("lead.bin", &[(0, 9000)], 2 << 20),
        ("dense.bin", &[(0, 70_000)], 70_000),
        ("tail.bin", &[(4 << 20, 1)], (4 << 20) + 1),
    ];
    let write = || -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        for (name, writes, size) in files {
            let f = std::fs::File::create(mnt.join(name))?;
            for &(at, len) in writes {
                f.write_all_at(&vec![0xa5; len], at)?;
            }
            f.set_len(size)?;
        }
        Ok(())
    };
    let r = write();
    tool(Command::new("umount").arg(&mnt));
    r.unwrap();

    let dev: Device = Arc::new(gx_disk::RawDevice::open_ro(&img).unwrap());
    let fs = gx_fs::open(dev, "ntfs").unwrap();
    let mut holes_seen = 0;
    for (name, _, size) in files {
        let path = format!("/{name}");
        let spans = ntfsinfo_data(&img, &path);
        holes_seen += usize::from(spans.iter().map(|(s, e)| e - s).sum::<u64>() < size);
        // Every 4 KiB edge, and each side of it.
        let mut offsets: Vec<u64> = (0..=size / 4096)
            .flat_map(|k| [k * 4096, (k * 4096).saturating_sub(1), k * 4096 + 1])
            .filter(|&o| o < size)
            .collect();
        offsets.sort_unstable();
        offsets.dedup();
        for o in offsets {
            let data = spans
                .iter()
                .filter(|&&(_, end)| end > o)
                .map(|&(start, _)| start.max(o))
                .find(|&at| at < size);
            let in_data = spans.iter().find(|&&(s, e)| s <= o && o < e);
            let hole = match in_data {
                None => Some(o),
                Some(_) => {
                    let mut pos = o;
                    for &(s, e) in &spans {
                        if s <= pos && pos < e {
                            pos = e;
                        }
                    }
                    Some(pos.min(size))
                }
            };
            assert_eq!(
                fs.seek_data(&path, o, false).unwrap(),
                data,
                "{name} SEEK_DATA {o}"
            );
            assert_eq!(
                fs.seek_data(&path, o, true).unwrap(),
                hole,
                "{name} SEEK_HOLE {o}"
            );
        }
        assert_eq!(fs.seek_data(&path, size, false).unwrap(), None, "{name}");
    }
    assert!(holes_seen >= 3, "ntfs-3g made too few sparse files to test");
}

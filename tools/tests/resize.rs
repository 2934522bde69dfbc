//! gx-resize against virt-resize: every case of
//! tests/expected/resize/cases.txt (made by make.sh with the real
//! virt-resize) is run again with gx-resize on the same inputs, and:
//! - the exit status, the messages and the summary are virt-resize's
//!   (timestamps and the program name aside);
//! - the output's partition table is the one virt-resize made: `sfdisk -d`
//!   and `sgdisk -i` of every partition (types, unique GUIDs, starts, ends,
//!   attributes) compared line by line; `sgdisk -v` finds nothing wrong;
//! - what is not deterministic in virt-resize's output is not compared with
//!   it but checked on its own: the MBR disk id (virt-resize's parted makes a
//!   random one; ours is the source's, as the issue asks), the unique GUID
//!   of the extra partition (random in both), and GPT names with spaces
//!   (parted keeps only the first word; ours keep the whole name);
//! - the host's e2fsck -fn / ntfsfix -n / fsck.vfat -n / xfs_repair -n /
//!   btrfs check pass on every
//!   filesystem of the output, and every file reads back with the same
//!   SHA-256 through the Handle as from the source;
//! - the input is byte-identical afterwards; `--dry-run` and errors leave
//!   the output untouched.
//!
//! Each case with content to grow boots the appliance once (QEMU TCG here).

#![allow(clippy::unwrap_used)]

use gx_guestfs::{DriveOptions, Engine, Format, Handle, IsFileOpts};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const RESIZE: &str = env!("CARGO_BIN_EXE_gx-resize");

fn expected_dir() -> PathBuf {
    gx_testdata::workspace_root().join("tests/expected/resize")
}

/// Inputs that sources.sh derives from the test images, built once.
fn sources() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("resize-src");
        let _ = std::fs::remove_dir_all(&dir);
        let st = Command::new("bash")
            .arg(expected_dir().join("sources.sh"))
            .arg(gx_testdata::images())
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "sources.sh failed");
        dir
    })
}

struct Case {
    name: String,
    input: String,
    size: String,
    fmt: String,
    opts: Vec<String>,
}

fn case(name: &str) -> Case {
    let text = std::fs::read_to_string(expected_dir().join("cases.txt")).unwrap();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        if f[0] == name {
            return Case {
                name: name.into(),
                input: f[1].into(),
                size: f[2].into(),
                fmt: f[3].into(),
                opts: f[4].split_whitespace().map(String::from).collect(),
            };
        }
    }
    panic!("no case {name} in cases.txt");
}

fn sha(p: &Path) -> String {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(p).unwrap();
    std::io::copy(&mut f, &mut h).unwrap();
    format!("{:x}", h.finalize())
}

fn sh(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What virt-resize and gx-resize print, made comparable.
fn normalize(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        // Progress lines (N/M) come at each tool's own pace.
        if !line.is_empty()
            && line.split('/').count() == 2
            && line
                .split('/')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let mut l = line.replace("virt-resize", "gx-resize");
        if l.starts_with('[') && l.find("] ").is_some_and(|i| i <= 8) {
            let i = l.find("] ").unwrap_or(0);
            l = format!("[TIME]{}", &l[i + 1..]);
        }
        if let Some(i) = l.find("\"timestamp\": \"") {
            let rest = &l[i + 14..];
            let j = rest.find('"').unwrap_or(0);
            l = format!("{}\"timestamp\": \"T{}", &l[..i], &rest[j..]);
        }
        // libguestfs wraps its own errors; ours come straight from the engine.
        l = l.replace("error: libguestfs error: ", "error: ");
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// sfdisk -d / sgdisk -i output with what is not deterministic in
/// virt-resize's tables replaced (see the top of this file).
fn normalize_table(s: &str, source_guids: &BTreeSet<String>) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_string();
        if l.starts_with("label-id: 0x") {
            l = "label-id: (MBR disk id)".into();
        }
        // sfdisk -d: name="..." keeps its first word, as parted does.
        if let Some(i) = l.find("name=\"") {
            let rest = &l[i + 6..];
            let end = rest.rfind('"').unwrap_or(rest.len());
            let first = rest[..end].split(' ').next().unwrap_or("").to_string();
            l = format!("{}name=\"{first}\"{}", &l[..i], &rest[end + 1..]);
        }
        if let Some(rest) = l.strip_prefix("Partition name: '") {
            let name = rest.trim_end_matches('\'');
            l = format!("Partition name: '{}'", name.split(' ').next().unwrap_or(""));
        }
        for (key, sep) in [("uuid=", ','), ("Partition unique GUID: ", '\n')] {
            if let Some(i) = l.find(key) {
                let rest = &l[i + key.len()..];
                let end = rest.find(sep).unwrap_or(rest.len());
                let g = &rest[..end];
                if !source_guids.contains(g) {
                    assert!(
                        g.len() == 36 && &g[14..15] == "4",
                        "a new partition GUID should be random (version 4): {g}"
                    );
                    l = format!("{}{key}(random){}", &l[..i], &rest[end..]);
                }
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Every file of every filesystem (and LV), by (type, UUID): path -> SHA-256.
type Digest2 = BTreeMap<(String, String), BTreeMap<String, String>>;

fn contents(img: &Path, fmt: Format) -> Digest2 {
    let mut g = Handle::new();
    g.set_engine(Engine::Direct).unwrap();
    g.add_drive_opts(
        img,
        DriveOptions {
            format: Some(fmt),
            readonly: true,
        },
    )
    .unwrap();
    g.launch().unwrap();
    let mut all = BTreeMap::new();
    for (dev, fstype) in g.list_filesystems().unwrap() {
        if fstype == "unknown" || fstype.is_empty() {
            continue;
        }
        let uuid = g.vfs_uuid(&dev).unwrap_or_default();
        let mut files = BTreeMap::new();
        if fstype == "swap" {
            files.insert("(label)".into(), g.vfs_label(&dev).unwrap_or_default());
        } else if g.mount_ro(&dev, "/").is_ok() {
            for p in g.find("/").unwrap() {
                let p = format!("/{p}");
                if g.is_file(&p, IsFileOpts::default()).unwrap_or(false) {
                    files.insert(p.clone(), g.checksum("sha256", &p).unwrap());
                }
            }
            g.umount_all().unwrap();
        }
        all.insert((fstype, uuid), files);
    }
    all
}

/// The host's checker for a filesystem image file, by blkid's type.
fn host_fsck(file: &Path) -> Option<String> {
    let t = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE"])
        .arg(file)
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&t.stdout).trim().to_string();
    let (cmd, args): (&str, &[&str]) = match t.as_str() {
        "ext2" | "ext3" | "ext4" => ("e2fsck", &["-fn"]),
        "ntfs" => ("ntfsfix", &["-n"]),
        "vfat" => ("fsck.vfat", &["-n"]),
        "xfs" => ("xfs_repair", &["-n", "-f"]),
        "btrfs" => ("btrfs", &["check", "--readonly"]),
        _ => return None,
    };
    let o = Command::new(cmd).args(args).arg(file).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd} {args:?} on {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Some(t)
}

struct Run {
    rc: i32,
    stdout: String,
    stderr: String,
    dir: tempfile::TempDir,
    out: PathBuf,
    /// The input files and their SHA-256 before the run.
    inputs: Vec<(PathBuf, String)>,
    out_sha: String,
}

fn run_case(c: &Case, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let base = Path::new(&c.input)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut inputs = Vec::new();
    let from = |n: &str| -> PathBuf {
        match n.strip_prefix("src/") {
            Some(rest) => sources().join(rest),
            None => gx_testdata::images().join(n),
        }
    };
    let mut names = vec![c.input.clone()];
    if c.input == "src/chain-top.qcow2" {
        names.push("src/chain-base.qcow2".into());
    }
    for n in &names {
        let src = from(n);
        if src.exists() {
            let to = dir.path().join(src.file_name().unwrap());
            sh(
                "cp",
                &[
                    "--sparse=always",
                    &src.to_string_lossy(),
                    &to.to_string_lossy(),
                ],
            );
            inputs.push((to.clone(), sha(&to)));
        }
    }
    let out = dir.path().join(format!("out-disk.{}", c.fmt));
    sh(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            &c.fmt,
            &out.to_string_lossy(),
            &c.size,
        ],
    );
    let out_sha = sha(&out);
    let mut args: Vec<String> = c.opts.clone();
    if c.fmt == "qcow2" {
        args.extend(["--output-format".into(), "qcow2".into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(base);
    args.push(out.file_name().unwrap().to_string_lossy().into_owned());
    let o = Command::new(RESIZE)
        .current_dir(dir.path())
        .args(&args)
        .output()
        .unwrap();
    let r = Run {
        rc: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        dir,
        out,
        inputs,
        out_sha,
    };
    for (p, before) in &r.inputs {
        assert_eq!(
            &sha(p),
            before,
            "{}: the input {} changed",
            c.name,
            p.display()
        );
    }
    r
}

fn expected(c: &Case, ext: &str) -> Option<String> {
    std::fs::read_to_string(expected_dir().join(format!("{}.{ext}", c.name))).ok()
}

/// The output as a raw file (a copy for qcow2, after `qemu-img check`).
fn raw_output(r: &Run, c: &Case) -> PathBuf {
    if c.fmt == "raw" {
        return r.out.clone();
    }
    sh("qemu-img", &["check", "-q", &r.out.to_string_lossy()]);
    let raw = r.dir.path().join("out-as-raw.img");
    sh(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            &r.out.to_string_lossy(),
            &raw.to_string_lossy(),
        ],
    );
    raw
}

/// The source table's identifiers (partition GUIDs, MBR disk id).
fn source_ids(input: &Path) -> (BTreeSet<String>, String) {
    let d = sh("sfdisk", &["-d", &input.to_string_lossy()]);
    let mut guids = BTreeSet::new();
    let mut label_id = String::new();
    for l in d.lines() {
        if let Some(i) = l.find("uuid=") {
            guids.insert(l[i + 5..i + 41].to_string());
        }
        if let Some(id) = l.strip_prefix("label-id: ") {
            label_id = id.to_string();
        }
    }
    (guids, label_id)
}

/// The table sectors byte for byte against virt-resize's, but for what
/// differs by design: MBR CHS fields (parted guesses a geometry in its
/// appliance, e.g. 255 heads of 2 sectors; ours are sfdisk's 255/63), the
/// MBR disk id (random there), and the CRCs of GPT entry arrays (parted
/// leaves stale bytes after the NUL of a name it shortens, "EFI\0ary").
fn compare_raw_tables(c: &Case, raw: &Path, gpt: bool) {
    let name = &c.name;
    let Ok(peer) = std::fs::read(expected_dir().join(format!("{name}.head.bin"))) else {
        return;
    };
    let mut ours = vec![0u8; peer.len()];
    {
        use std::io::Read;
        std::fs::File::open(raw)
            .unwrap()
            .read_exact(&mut ours)
            .unwrap();
    }
    // parted puts its own generic boot code into an MBR whose boot code is
    // empty (all the MBR sources here); we keep the source's.
    if gpt || ours[..440] != [0u8; 440] {
        assert_eq!(ours[..440], peer[..440], "{name}: boot code (bytes 0-439)");
    }
    assert_eq!(ours[510..512], peer[510..512], "{name}: MBR signature");
    if !gpt {
        for slot in 0..4 {
            let e = 446 + 16 * slot;
            for (what, r) in [
                ("boot flag", 0..1),
                ("type", 4..5),
                ("LBA start and size", 8..16),
            ] {
                let r = e + r.start..e + r.end;
                assert_eq!(
                    ours[r.clone()],
                    peer[r],
                    "{name}: MBR entry {} {what}",
                    slot + 1
                );
            }
        }
        return;
    }
    assert_eq!(
        ours[446..512],
        peer[446..512],
        "{name}: protective MBR entries"
    );
    let header = |b: &[u8]| {
        let mut h = b[..92].to_vec();
        h[16..20].fill(0);
        h[88..92].fill(0);
        h
    };
    assert_eq!(
        header(&ours[512..]),
        header(&peer[512..]),
        "{name}: primary GPT header"
    );
    let tail = std::fs::read(expected_dir().join(format!("{name}.tail.bin"))).unwrap();
    let len = std::fs::metadata(raw).unwrap().len();
    let mut ours_tail = vec![0u8; tail.len()];
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(raw).unwrap();
        f.seek(SeekFrom::Start(len - tail.len() as u64)).unwrap();
        f.read_exact(&mut ours_tail).unwrap();
    }
    let at = tail.len() - 512;
    assert_eq!(
        header(&ours_tail[at..]),
        header(&tail[at..]),
        "{name}: backup GPT header"
    );
    // Entries: type, unique GUID, first/last LBA and attributes (names are
    // compared as text through sgdisk).
    for i in 0..128 {
        for (base, what) in [(1024, "primary"), (0, "backup")] {
            let (o, p) = if base == 0 {
                (&ours_tail, &tail)
            } else {
                (&ours, &peer)
            };
            let e = base + 128 * i;
            let same_guid = o[e + 16..e + 32] == p[e + 16..e + 32];
            let random = p[e..e + 16] != [0u8; 16] && !same_guid;
            let fields: &[(usize, usize)] = if random {
                &[(0, 16), (32, 56)]
            } else {
                &[(0, 56)]
            };
            for &(a, b) in fields {
                assert_eq!(
                    o[e + a..e + b],
                    p[e + a..e + b],
                    "{name}: {what} GPT entry {}",
                    i + 1
                );
            }
        }
    }
}

/// virt-resize's output as it would be with XFS tools in its appliance
/// (Debian's libguestfs appliance has none, so it warns and leaves XFS
/// alone; ours grows it): the warning gone, the method named in the
/// summary, and the expansion step after the others.
fn with_xfs(peer: &str) -> String {
    const WARN: &str =
        "virt-resize: warning: unknown/unavailable method for expanding the xfs filesystem on ";
    if !peer.contains(WARN) {
        return peer.to_string();
    }
    let mut devs = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for l in peer.lines() {
        if let Some(dev) = l.strip_prefix(WARN) {
            devs.push(dev.to_string());
            continue;
        }
        let mut l = l.to_string();
        for d in &devs {
            if l.starts_with(&format!("virt-resize: {d}: This partition will be resized")) {
                l.push_str(&format!(
                    "  The filesystem xfs on {d} will be expanded using the ‘xfs_growfs’ method."
                ));
            }
        }
        lines.push(l);
    }
    if let Some(last) = lines.iter().rposition(|l| l.starts_with("[TIME] ")) {
        for (k, d) in devs.iter().enumerate() {
            lines.insert(
                last + 1 + k,
                format!("[TIME] Expanding {d} using the ‘xfs_growfs’ method"),
            );
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The output stays sparse: it holds little more than the source's non-zero
/// 4 KiB blocks (counted here), plus what growing content writes (resize2fs
/// and friends write group descriptors, bitmaps, inode tables).
fn check_sparse(c: &Case, r: &Run, in_raw: &Path) {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let mut f = std::fs::File::open(in_raw).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut nonzero = 0u64;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        nonzero += buf[..n]
            .chunks(4096)
            .filter(|b| b.iter().any(|&x| x != 0))
            .count() as u64
            * 4096;
    }
    let allocated = std::fs::metadata(&r.out).unwrap().blocks() * 512;
    let margin = 16 << 20;
    assert!(
        allocated <= nonzero + margin,
        "{}: the output has {allocated} bytes allocated; the source only {nonzero} non-zero bytes",
        c.name
    );
}

/// Check one case end to end against what virt-resize did.
fn check(name: &str) {
    let c = case(name);
    let r = run_case(&c, &[]);
    let want_rc: i32 = expected(&c, "rc").unwrap().trim().parse().unwrap();
    assert_eq!(
        r.rc, want_rc,
        "{name}: exit status\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    assert_eq!(
        normalize(&r.stdout),
        normalize(&with_xfs(&expected(&c, "stdout").unwrap())),
        "{name}: stdout (stderr: {})",
        r.stderr
    );
    if want_rc != 0 {
        assert_eq!(
            normalize(&r.stderr),
            normalize(&expected(&c, "stderr").unwrap()),
            "{name}: stderr"
        );
    }
    let Some(want_table) = expected(&c, "sfdisk") else {
        // virt-resize wrote nothing (an error or --dry-run): neither may we.
        assert_eq!(sha(&r.out), r.out_sha, "{name}: the output was written");
        return;
    };
    let input = &r.inputs[0].0;
    let in_raw = if c.input.ends_with(".qcow2") {
        let p = r.dir.path().join("in-as-raw.img");
        sh(
            "qemu-img",
            &[
                "convert",
                "-O",
                "raw",
                &input.to_string_lossy(),
                &p.to_string_lossy(),
            ],
        );
        p
    } else {
        input.clone()
    };
    let raw = raw_output(&r, &c);
    let (guids, src_label) = source_ids(&in_raw);
    let ours =
        sh("sfdisk", &["-d", &raw.to_string_lossy()]).replace(&*raw.to_string_lossy(), "OUT");
    assert_eq!(
        normalize_table(&ours, &guids),
        normalize_table(&want_table, &guids),
        "{name}: sfdisk -d"
    );
    // What is ours alone: the disk id and full names of the source.
    let our_label = ours
        .lines()
        .find_map(|l| l.strip_prefix("label-id: "))
        .unwrap_or("");
    assert_eq!(our_label, src_label, "{name}: disk id");
    let src_dump = sh("sfdisk", &["-d", &in_raw.to_string_lossy()]);
    for l in src_dump.lines() {
        if let Some(i) = l.find("name=") {
            let nm = &l[i..];
            let guid = &l[l.find("uuid=").unwrap() + 5..][..36];
            assert!(
                ours.lines().any(|o| o.contains(guid) && o.contains(nm)),
                "{name}: partition {guid} should keep its name {nm}:\n{ours}"
            );
        }
    }
    if ours.contains("label: gpt") {
        let v = sh("sgdisk", &["-v", &raw.to_string_lossy()]);
        assert!(v.contains("No problems found"), "{name}: sgdisk -v: {v}");
        let want = expected(&c, "table").unwrap();
        let mut got = String::new();
        for l in ours.lines().filter(|l| l.starts_with("OUT")) {
            let n = l[3..].split(' ').next().unwrap();
            got.push_str(&format!("# {n}\n"));
            got.push_str(&sh("sgdisk", &["-i", n, &raw.to_string_lossy()]));
        }
        assert_eq!(
            normalize_table(&got, &guids),
            normalize_table(&want, &guids),
            "{name}: sgdisk -i"
        );
    }

    compare_raw_tables(&c, &raw, ours.contains("label: gpt"));
    check_sparse(&c, &r, &in_raw);

    // The host's checkers on every filesystem partition we copied.
    let skip: BTreeSet<String> = c
        .opts
        .windows(2)
        .filter(|w| w[0] == "--resize-force" || w[0] == "--ignore" || w[0] == "--delete")
        .map(|w| w[1].split('=').next().unwrap_or("").to_string())
        .collect();
    let mut checked = 0;
    for l in ours.lines().filter(|l| l.starts_with("OUT")) {
        let field = |k: &str| -> u64 {
            let i = l.find(k).unwrap() + k.len();
            l[i..].split(',').next().unwrap().trim().parse().unwrap()
        };
        let (start, size) = (field("start="), field("size="));
        if l.contains("type=5,") || l.ends_with("type=5") {
            continue;
        }
        let part = r.dir.path().join("part.img");
        sh(
            "dd",
            &[
                &format!("if={}", raw.display()),
                &format!("of={}", part.display()),
                "bs=512",
                &format!("skip={start}"),
                &format!("count={size}"),
                "status=none",
            ],
        );
        let pnum = l[3..].split(' ').next().unwrap().to_string();
        // Partitions the options damage on purpose are not checked.
        let damaged = skip.iter().any(|s| s.ends_with(&format!("sda{pnum}")));
        if !damaged && host_fsck(&part).is_some() {
            checked += 1;
        }
        std::fs::remove_file(&part).unwrap();
    }
    // Filesystems on LVs: the host's checker on the LV as the Handle reads it.
    let mut g = Handle::new();
    g.set_engine(Engine::Direct).unwrap();
    g.add_drive_opts(
        &raw,
        DriveOptions {
            format: Some(Format::Raw),
            readonly: true,
        },
    )
    .unwrap();
    g.launch().unwrap();
    for lv in g.lvs().unwrap_or_default() {
        let file = r.dir.path().join("lv.img");
        let mut f = std::fs::File::create(&file).unwrap();
        g.download(&lv, &mut f).unwrap();
        drop(f);
        if host_fsck(&file).is_some() {
            checked += 1;
        }
        std::fs::remove_file(&file).unwrap();
    }
    drop(g);
    assert!(checked > 0, "{name}: no filesystem checked");

    // Every file reads back the same.
    let in_fmt = if c.input.ends_with(".qcow2") {
        Format::Qcow2
    } else {
        Format::Raw
    };
    let before = contents(input, in_fmt);
    let after = contents(&raw, Format::Raw);
    let mut compared = 0;
    for (key, files) in &before {
        match after.get(key) {
            Some(f) => {
                assert_eq!(f, files, "{name}: files of {key:?}");
                compared += 1;
            }
            None => assert!(
                !skip.is_empty(),
                "{name}: filesystem {key:?} is missing from the output"
            ),
        }
    }
    assert!(compared > 0, "{name}: nothing compared");
}

#[test]
fn gpt_expand() {
    check("gpt-expand");
}

#[test]
fn gpt_resize_with_extra_partition() {
    check("gpt-resize");
}

#[test]
fn gpt_shrink() {
    check("gpt-shrink");
}

#[test]
fn gpt_align_first_always() {
    check("gpt-align");
}

#[test]
fn ntfs_expand() {
    check("ntfs-expand");
}

#[test]
fn ntfs_align_first_always() {
    check("ntfs-align");
}

#[test]
fn mbr_logical_partitions() {
    check("mbr-logical");
}

#[test]
fn mbr_delete() {
    check("mbr-delete");
}

#[test]
fn lvm_lv_expand() {
    check("lvm-expand");
}

#[test]
fn qcow2_chain_to_qcow2() {
    check("qcow2-chain");
}

#[test]
fn dry_run_writes_nothing() {
    check("dry-run");
}

#[test]
fn no_copy_boot_loader_ignore_resize_force() {
    check("no-boot-loader");
}

#[test]
fn errors_as_virt_resize() {
    for name in [
        "err-too-small",
        "err-no-surplus",
        "err-bad-part",
        "err-logical",
        "err-shrink-content",
        "err-no-source",
    ] {
        check(name);
    }
}

/// Ctrl-C in the middle of the copy: gx-resize stops, says the output is
/// incomplete, exits 130, and the input is unchanged. With
/// `--machine-readable` the copy prints `N/M` progress lines first.
#[test]
fn interrupt_says_the_output_is_incomplete() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.img");
    let size = 512u64 << 20;
    // A GPT disk whose one partition is 511 MiB of non-zero bytes.
    let st = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; truncate -s {} {i}; sgdisk -o -n 1:2048:0 {i} >/dev/null; \
             yes gx-resize | head -c {} | dd of={i} bs=1M seek=1 conv=notrunc status=none",
            size + (2 << 20),
            size - (1 << 20),
            i = input.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let before = sha(&input);
    let out = dir.path().join("out.img");
    sh(
        "truncate",
        &[
            "-s",
            &format!("{}", size + (4 << 20)),
            &out.to_string_lossy(),
        ],
    );
    let mut child = Command::new(RESIZE)
        .args(["--machine-readable", "--expand", "/dev/sda1"])
        .arg(&input)
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        let progress = l.split('/').count() == 2
            && l.split('/')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        seen.push(l);
        if progress {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("\"message\": \"Copying /dev/sda1\"")),
        "{seen:?}"
    );
    let pid = child.id().to_string();
    sh("kill", &["-INT", &pid]);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}\n{rest:?}");
    assert!(
        stderr.contains("gx-resize: error: interrupted: ") && stderr.contains("is incomplete"),
        "{stderr}"
    );
    assert!(!rest.iter().any(|l| l.contains("completed")), "{rest:?}");
    assert_eq!(sha(&input), before, "the input changed");
}

/// btrfs (resized mounted, through the appliance's btrfs), swap (mkswap
/// keeping label and UUID) and XFS (xfs_growfs, mounted).
#[test]
fn btrfs_swap_xfs() {
    check("fs-mix");
}

#[test]
fn machine_readable_messages_and_progress() {
    check("machine-readable");
}

#[test]
fn quiet_prints_nothing() {
    check("quiet");
}

/// A disk without a partition table: virt-resize fails inside libguestfs
/// ("part_get_parttype: /dev/sdb: not a partitioned device", its
/// err-no-table.stderr); ours says what its code means to say.
#[test]
fn no_partition_table_is_refused() {
    let c = case("err-no-table");
    let r = run_case(&c, &[]);
    assert_eq!(r.rc, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "gx-resize: error: bigtree.img: unknown partition table type\ngx-resize only supports MBR (DOS) and GPT partition tables."
        ),
        "{}",
        r.stderr
    );
    assert_eq!(sha(&r.out), r.out_sha, "the output was written");
}

/// `--machine-readable` alone lists features as virt-resize does; ours
/// differ where the tools differ: no URIs as input (infile-uri), and the
/// appliance grows XFS but has no f2fs tools (virt-resize's here: the other
/// way round).
#[test]
fn machine_readable_capabilities() {
    let o = Command::new(RESIZE)
        .arg("--machine-readable")
        .output()
        .unwrap();
    assert!(o.status.success());
    let ours: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    let peer = std::fs::read_to_string(expected_dir().join("caps.stdout")).unwrap();
    let mut want: Vec<String> = peer
        .lines()
        .filter(|l| *l != "infile-uri" && *l != "f2fs")
        .map(String::from)
        .collect();
    want.push("xfs".into());
    let mut sorted = ours.clone();
    sorted.sort();
    want.sort();
    assert_eq!(sorted, want);
    assert_eq!(ours[0], "virt-resize");
}

/// `--no-sparse` writes every byte of the partitions it copies (for outputs
/// that do not read as zeros): same table as gpt-expand, and the output's
/// allocated size covers both copied partitions in full.
#[test]
fn no_sparse_writes_everything() {
    use std::os::unix::fs::MetadataExt;
    let c = case("gpt-expand");
    let r = run_case(&c, &["--no-sparse", "--no-expand-content"]);
    assert_eq!(r.rc, 0, "{}", r.stderr);
    let ours =
        sh("sfdisk", &["-d", &r.out.to_string_lossy()]).replace(&*r.out.to_string_lossy(), "OUT");
    let (guids, _) = source_ids(&r.inputs[0].0);
    assert_eq!(
        normalize_table(&ours, &guids),
        normalize_table(&expected(&c, "sfdisk").unwrap(), &guids)
    );
    let allocated = std::fs::metadata(&r.out).unwrap().blocks() * 512;
    // sda1 (16 MiB) and sda2's 40 MiB of data, whatever their zeros.
    assert!(allocated >= 56 << 20, "only {allocated} bytes allocated");
}

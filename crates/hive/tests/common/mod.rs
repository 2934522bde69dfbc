//! Test support for the write side (also used by tools/tests/win_reg_hives.rs): an independent structural checker of
//! hive bytes (written here from the format, not with the crate's reader),
//! hivexregedit runners, and the test hives.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn expected_dir() -> PathBuf {
    gx_testdata::expected("")
}

/// Every test hive: the real ones from the hivex project (shared test
/// data) and those made with hivexregedit (tests/expected/hive).
pub fn test_hives() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let shared = gx_testdata::workspace_root().join("../shared/test-data/hives");
    let shared = if shared.exists() {
        shared
    } else {
        PathBuf::from("/work/shared/test-data/hives")
    };
    for name in ["minimal", "special", "rlenvalue_test_hive"] {
        let p = shared.join(name);
        let p = if p.exists() {
            p
        } else {
            expected_dir().join(format!("hive/{name}.hive"))
        };
        v.push((name.to_string(), std::fs::read(&p).unwrap()));
    }
    for name in ["alltypes", "windows-software", "windows-system"] {
        let p = expected_dir().join(format!("hive/{name}.hive"));
        v.push((name.to_string(), std::fs::read(&p).unwrap()));
    }
    v
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn upcase(u: u16) -> u16 {
    if u < 0x80 {
        return (u as u8).to_ascii_uppercase() as u16;
    }
    match char::from_u32(u as u32) {
        Some(c) => {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(x), None) if (x as u32) < 0x10000 => x as u32 as u16,
                _ => u,
            }
        }
        None => u,
    }
}

/// What the checker found.
#[derive(Debug, Default)]
pub struct Report {
    /// Used cells nothing in the tree refers to (relative offsets).
    pub unreferenced: BTreeSet<u32>,
    /// Key paths (names joined with `\`) in walk order.
    pub keys: Vec<String>,
    pub bins_end: usize,
    pub sequence: (u32, u32),
    pub sk_count: usize,
    /// Lists whose order or lh hashes are not what Windows expects, by key
    /// path (only reported; callers decide).
    pub unsorted: Vec<String>,
    pub bad_hash: Vec<String>,
    /// Signatures of every subkey list cell met.
    pub list_kinds: BTreeMap<String, usize>,
}

/// Checks hive bytes the way a strict reader would: header checksum and
/// sizes, bin and cell layout, every pointer on a used cell of the right
/// kind, counts, parent links, sk reference counts and the sk ring.
pub fn check(b: &[u8]) -> Result<Report, String> {
    let mut r = Report::default();
    if b.len() < 0x2000 || &b[0..4] != b"regf" {
        return Err("not a regf file".into());
    }
    let sum = (0..127).fold(0u32, |s, i| s ^ u32_at(b, i * 4));
    if sum != u32_at(b, 0x1FC) {
        return Err(format!(
            "checksum {:#x}, computed {sum:#x}",
            u32_at(b, 0x1FC)
        ));
    }
    r.sequence = (u32_at(b, 4), u32_at(b, 8));
    let bins_size = u32_at(b, 0x28) as usize;
    let root = u32_at(b, 0x24);
    let mut used: BTreeMap<u32, usize> = BTreeMap::new(); // rel -> cell size
    let mut off = 0x1000usize;
    while off < 0x1000 + bins_size {
        if &b[off..off + 4] != b"hbin" {
            return Err(format!("no hbin at {off:#x}"));
        }
        if u32_at(b, off + 4) as usize != off - 0x1000 {
            return Err(format!("hbin at {off:#x} has wrong offset field"));
        }
        let size = u32_at(b, off + 8) as usize;
        if size == 0 || size % 0x1000 != 0 || off + size > b.len() {
            return Err(format!("hbin at {off:#x} has size {size:#x}"));
        }
        let mut c = off + 0x20;
        while c < off + size {
            let raw = u32_at(b, c) as i32;
            let len = raw.unsigned_abs() as usize;
            if len < 8 || len % 8 != 0 || c + len > off + size {
                return Err(format!("cell at {:#x} has size {raw}", c - 0x1000));
            }
            if raw < 0 {
                used.insert((c - 0x1000) as u32, len);
            }
            c += len;
        }
        off += size;
    }
    if off != 0x1000 + bins_size {
        return Err(format!(
            "bins end at {off:#x}, header says {:#x}",
            0x1000 + bins_size
        ));
    }
    r.bins_end = off;
    let mut referenced: BTreeSet<u32> = BTreeSet::new();
    let cell = |rel: u32, what: &str, refd: &mut BTreeSet<u32>| -> Result<&[u8], String> {
        let len = *used
            .get(&rel)
            .ok_or_else(|| format!("{what}: {rel:#x} is not a used cell"))?;
        refd.insert(rel);
        let a = rel as usize + 0x1000;
        Ok(&b[a + 4..a + len])
    };
    let mut sk_refs: HashMap<u32, u32> = HashMap::new();
    // (nk offset, expected parent, path)
    let mut stack = vec![(root, None::<u32>, String::new())];
    let mut seen = BTreeSet::new();
    while let Some((nk_off, parent, path)) = stack.pop() {
        if !seen.insert(nk_off) {
            return Err(format!("{path}: key reached twice"));
        }
        let nk = cell(nk_off, &path, &mut referenced)?;
        if &nk[0..2] != b"nk" {
            return Err(format!("{path}: not nk"));
        }
        if let Some(p) = parent {
            if u32_at(nk, 0x10) != p {
                return Err(format!(
                    "{path}: parent field {:#x}, expected {p:#x}",
                    u32_at(nk, 0x10)
                ));
            }
        }
        r.keys.push(if path.is_empty() {
            "\\".into()
        } else {
            path.clone()
        });
        let sk = u32_at(nk, 0x2C);
        if sk != u32::MAX {
            let s = cell(sk, &format!("{path} sk"), &mut referenced)?;
            if &s[0..2] != b"sk" {
                return Err(format!("{path}: sk field points at a non-sk cell"));
            }
            *sk_refs.entry(sk).or_default() += 1;
        }
        let class = u32_at(nk, 0x30);
        if class != u32::MAX && u16_at(nk, 0x4A) != 0 {
            cell(class, &format!("{path} class"), &mut referenced)?;
        }
        // Values.
        let nval = u32_at(nk, 0x24) as usize;
        let mut max_vname = 0usize;
        let mut max_vdata = 0usize;
        if nval > 0 {
            let list = cell(
                u32_at(nk, 0x28),
                &format!("{path} value list"),
                &mut referenced,
            )?
            .to_vec();
            if list.len() < nval * 4 {
                return Err(format!("{path}: value list too small"));
            }
            for i in 0..nval {
                let vo = u32_at(&list, i * 4);
                let vk = cell(vo, &format!("{path} vk"), &mut referenced)?.to_vec();
                if &vk[0..2] != b"vk" {
                    return Err(format!("{path}: value {i} not vk"));
                }
                let nlen = u16_at(&vk, 2) as usize;
                let units = if u16_at(&vk, 0x10) & 1 != 0 {
                    nlen
                } else {
                    nlen / 2
                };
                max_vname = max_vname.max(units * 2);
                let dl = u32_at(&vk, 4);
                let len = (dl & 0x7FFF_FFFF) as usize;
                max_vdata = max_vdata.max(len);
                if dl & 0x8000_0000 != 0 {
                    if len > 4 {
                        return Err(format!("{path}: inline data of {len}"));
                    }
                } else {
                    let d =
                        cell(u32_at(&vk, 8), &format!("{path} data"), &mut referenced)?.to_vec();
                    if len > d.len() {
                        if &d[0..2] != b"db" {
                            return Err(format!("{path}: data {len} larger than its cell"));
                        }
                        let n = u16_at(&d, 2) as usize;
                        let sl = cell(u32_at(&d, 4), &format!("{path} db list"), &mut referenced)?
                            .to_vec();
                        let mut total = 0;
                        for s in 0..n {
                            let seg = cell(
                                u32_at(&sl, s * 4),
                                &format!("{path} segment"),
                                &mut referenced,
                            )?;
                            total += seg.len() - 4;
                        }
                        if total < len {
                            return Err(format!("{path}: db segments hold {total} < {len}"));
                        }
                    }
                }
            }
        }
        if (u32_at(nk, 0x3C) as usize) < max_vname || (u32_at(nk, 0x40) as usize) < max_vdata {
            return Err(format!(
                "{path}: max value name/data fields {}/{} below {max_vname}/{max_vdata}",
                u32_at(nk, 0x3C),
                u32_at(nk, 0x40)
            ));
        }
        // Subkeys.
        let nsub = u32_at(nk, 0x14) as usize;
        if nsub == 0 {
            continue;
        }
        let mut entries: Vec<(u32, Option<u32>)> = Vec::new();
        let mut lists = vec![(u32_at(nk, 0x1C), 0)];
        let mut leaf_bounds = Vec::new();
        while let Some((l, depth)) = lists.pop() {
            let lc = cell(l, &format!("{path} list"), &mut referenced)?.to_vec();
            let sig = String::from_utf8_lossy(&lc[0..2]).into_owned();
            *r.list_kinds.entry(sig.clone()).or_default() += 1;
            let n = u16_at(&lc, 2) as usize;
            match sig.as_str() {
                "ri" if depth < 4 => {
                    for i in (0..n).rev() {
                        lists.push((u32_at(&lc, 4 + 4 * i), depth + 1));
                    }
                }
                "lf" | "lh" => {
                    let start = entries.len();
                    for i in 0..n {
                        let h = if sig == "lh" {
                            Some(u32_at(&lc, 8 + 8 * i))
                        } else {
                            None
                        };
                        entries.push((u32_at(&lc, 4 + 8 * i), h));
                    }
                    leaf_bounds.push(start..entries.len());
                }
                "li" => {
                    let start = entries.len();
                    for i in 0..n {
                        entries.push((u32_at(&lc, 4 + 4 * i), None));
                    }
                    leaf_bounds.push(start..entries.len());
                }
                _ => return Err(format!("{path}: bad list {sig}")),
            }
        }
        if entries.len() != nsub {
            return Err(format!(
                "{path}: count {nsub}, lists hold {}",
                entries.len()
            ));
        }
        let max_sub = u16_at(nk, 0x34) as usize;
        let mut prev: Option<Vec<u16>> = None;
        let mut children = Vec::new();
        for (co, hash) in &entries {
            let c = cell(*co, &format!("{path} child"), &mut referenced)?;
            if &c[0..2] != b"nk" {
                return Err(format!("{path}: child not nk"));
            }
            let nlen = u16_at(c, 0x48) as usize;
            let raw = &c[0x4C..0x4C + nlen];
            let units: Vec<u16> = if u16_at(c, 2) & 0x20 != 0 {
                raw.iter().map(|&x| x as u16).collect()
            } else {
                raw.chunks_exact(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]]))
                    .collect()
            };
            if units.len() * 2 > max_sub {
                return Err(format!(
                    "{path}: max subkey name {max_sub} < child's {}",
                    units.len() * 2
                ));
            }
            let up: Vec<u16> = units.iter().map(|&u| upcase(u)).collect();
            if let Some(h) = hash {
                let want = up
                    .iter()
                    .fold(0u32, |h, &u| h.wrapping_mul(37).wrapping_add(u as u32));
                if *h != want {
                    r.bad_hash
                        .push(format!("{path}\\{}", String::from_utf16_lossy(&units)));
                }
            }
            if prev.as_ref().is_some_and(|p| *p > up) {
                r.unsorted.push(path.clone());
            }
            prev = Some(up);
            children.push((*co, String::from_utf16_lossy(&units)));
        }
        for (co, name) in children.into_iter().rev() {
            stack.push((co, Some(nk_off), format!("{path}\\{name}")));
        }
    }
    // The sk ring from the root's record.
    let root_sk = {
        let nk = cell(root, "root", &mut referenced)?;
        u32_at(nk, 0x2C)
    };
    let mut ring = Vec::new();
    let mut cur = root_sk;
    loop {
        let s = cell(cur, "sk ring", &mut referenced)?;
        if &s[0..2] != b"sk" {
            return Err(format!("sk ring: {cur:#x} is not sk"));
        }
        let next = u32_at(s, 4);
        let ns = cell(next, "sk ring", &mut referenced)?;
        if u32_at(ns, 8) != cur {
            return Err(format!("sk ring: {next:#x}'s previous is not {cur:#x}"));
        }
        ring.push(cur);
        let refs = u32_at(s, 0x0C);
        let counted = sk_refs.get(&cur).copied().unwrap_or(0);
        if refs != counted {
            return Err(format!(
                "sk {cur:#x}: refcount {refs}, {counted} keys use it"
            ));
        }
        cur = next;
        if cur == root_sk || ring.len() > 100_000 {
            break;
        }
    }
    for sk in sk_refs.keys() {
        if !ring.contains(sk) {
            return Err(format!("sk {sk:#x} is used but not in the ring"));
        }
    }
    r.sk_count = ring.len();
    r.unreferenced = used
        .keys()
        .copied()
        .filter(|c| !referenced.contains(c))
        .collect();
    Ok(r)
}

/// Checks `out` as written from `input`: valid, sequence numbers set,
/// nothing new left unreferenced, order and hashes as good as before.
pub fn check_written(input: &[u8], out: &[u8]) -> Report {
    let before = check(input).unwrap_or_else(|e| panic!("input hive: {e}"));
    let after = check(out).unwrap_or_else(|e| panic!("written hive: {e}"));
    let seq = before.sequence.0.wrapping_add(1);
    assert_eq!(after.sequence, (seq, seq), "sequence numbers");
    let leaked: Vec<_> = after
        .unreferenced
        .difference(&before.unreferenced)
        .collect();
    assert!(
        leaked.is_empty(),
        "cells used but not referenced: {leaked:x?}"
    );
    for p in &after.unsorted {
        assert!(before.unsorted.contains(p), "{p}: subkey list not sorted");
    }
    for p in &after.bad_hash {
        assert!(before.bad_hash.contains(p), "{p}: wrong lh hash");
    }
    // Our reader agrees and has nothing to warn about that the input did
    // not have.
    let h = gx_hive::Hive::open(out.to_vec()).unwrap();
    assert!(h.warnings().is_empty(), "{:?}", h.warnings());
    let mut n = 0;
    h.walk(h.root(), &gx_hive::WalkOptions::default(), |e| {
        for v in e.node.values()? {
            v.data()?;
        }
        n += 1;
        Ok(gx_hive::Visit::Continue)
    })
    .unwrap();
    assert_eq!(n, after.keys.len());
    after
}

/// Whether hivexregedit can be run; under CI its absence is a failure.
pub fn have_hivex(test: &str) -> bool {
    if Command::new("hivexregedit").arg("--help").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: hivexregedit is missing (scripts/setup installs libwin-hivex-perl)"
    );
    eprintln!(
        "SKIP {test}: hivexregedit is not installed (scripts/setup installs libwin-hivex-perl)"
    );
    false
}

/// A scratch directory for one test, removed when dropped.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn scratch(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("gx-hive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

/// `hivexregedit --export FILE '\'`.
pub fn hivex_export(file: &Path) -> Vec<u8> {
    let out = Command::new("hivexregedit")
        .args(["--export"])
        .arg(file)
        .arg("\\")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hivexregedit --export {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// hivex's merge: `hivexregedit --merge [--prefix P] FILE REG...`, or, with
/// an encoding, Win::Hivex::Regedit's `reg_import` called the way
/// virt-win-reg calls it (hivexregedit ignores its own `--encoding`). The
/// hive bytes after, or hivex's error message.
pub fn hivex_merge(
    hive: &[u8],
    regs: &[&Path],
    prefix: Option<&str>,
    encoding: Option<&str>,
    dir: &Path,
) -> Result<Vec<u8>, String> {
    let f = dir.join("hivex.hive");
    std::fs::write(&f, hive).unwrap();
    let out = match encoding {
        None => {
            let mut c = Command::new("hivexregedit");
            c.arg("--merge");
            if let Some(p) = prefix {
                c.args(["--prefix", p]);
            }
            c.arg(&f).args(regs).output().unwrap()
        }
        Some(enc) => Command::new("perl")
            .args([
                "-MWin::Hivex",
                "-MWin::Hivex::Regedit=reg_import",
                "-e",
                r#"my ($f, $enc, $prefix, @regs) = @ARGV;
                   my $h = Win::Hivex->open($f, write => 1);
                   for my $r (@regs) {
                       open my $fh, $r or die "$r: $!";
                       reg_import($fh, sub {
                           local $_ = shift;
                           my $n = length $prefix;
                           $_ = substr($_, $n) if $n && length $_ >= $n && lc(substr($_, 0, $n)) eq lc $prefix;
                           ($h, $_)
                       }, encoding => $enc);
                   }
                   $h->commit(undef);"#,
            ])
            .arg(&f)
            .arg(enc)
            .arg(prefix.unwrap_or(""))
            .args(regs)
            .output()
            .unwrap(),
    };
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(std::fs::read(&f).unwrap())
}

/// Our export of the whole hive, as hivexregedit prints it.
pub fn our_export(hive: &[u8]) -> Vec<u8> {
    let h = gx_hive::Hive::open(hive.to_vec()).unwrap();
    let mut out = Vec::new();
    let opts = gx_hive::ExportOptions {
        header: true,
        ..Default::default()
    };
    gx_hive::export_path(&h, "\\", &opts, &mut out).unwrap();
    out
}

/// Merges .reg files with our code; the committed bytes.
pub fn our_merge(
    hive: &[u8],
    regs: &[&Path],
    prefix: Option<&str>,
    encoding: Option<&str>,
) -> gx_hive::Result<Vec<u8>> {
    let mut ed = gx_hive::HiveEditor::open(hive.to_vec())?;
    let mut opts = gx_hive::ImportOptions::default();
    if let Some(e) = encoding {
        opts.encoding = e.parse()?;
    }
    for r in regs {
        let f = std::io::BufReader::new(std::fs::File::open(r).unwrap());
        let mut t = gx_hive::SingleHive {
            editor: &mut ed,
            prefix: prefix.map(str::to_owned),
        };
        gx_hive::reg_import(f, &r.display().to_string(), &mut t, &opts)?;
    }
    ed.commit()
}

pub fn assert_same(what: &str, ours: &[u8], theirs: &[u8]) {
    if ours != theirs {
        let o = String::from_utf8_lossy(ours);
        let t = String::from_utf8_lossy(theirs);
        let first = o
            .lines()
            .zip(t.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let ctx = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(3))
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{what}: exports differ at line {}\n--- ours\n{}\n--- hivex\n{}",
            first + 1,
            ctx(&o),
            ctx(&t)
        );
    }
}

/// Names the generated scenarios can write in a .reg file and hivex can
/// match (hivex folds only ASCII case and compares names as C strings).
pub fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.is_ascii()
        && !name.chars().any(|c| c.is_control())
        && !name.starts_with(' ')
}

pub fn quote(name: &str) -> String {
    if name.is_empty() {
        "@".into()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A merge that touches a hive everywhere: new keys (one with 300
/// siblings, deep chains, a UTF-16 name), every value form, changed and
/// deleted values of existing keys, new subkeys of existing keys, deleted
/// existing subtrees and a missing one.
pub fn scenario(hive: &[u8]) -> String {
    let h = gx_hive::Hive::open(hive.to_vec()).unwrap();
    let mut keys: Vec<(String, Vec<String>, bool)> = Vec::new();
    h.walk(h.root(), &gx_hive::WalkOptions::default(), |e| {
        let path: String = e.names.iter().skip(1).map(|n| format!("\\{n}")).collect();
        let ok = e.names.iter().skip(1).all(|n| plain(n));
        let vals = e.node.values()?.iter().map(|v| v.name()).collect();
        keys.push((path, vals, ok));
        Ok(gx_hive::Visit::Continue)
    })
    .unwrap();
    let mut r = String::from("Windows Registry Editor Version 5.00\n\n; generated\n\n");
    r.push_str("[\\GxAdded]\n@=\"default\"\n\"s\"=\"text with \\\"quotes\\\" and \\\\\"\n");
    r.push_str("\"e\"=str(2):\"%SystemRoot%\\\\x\"\n\"w\"=str:\"wine\"\n");
    r.push_str("\"m\"=hex(7):61,00,00,00,62,00,00,00,00,00\n\"d\"=dword:0000002a\n");
    r.push_str("\"q\"=hex(b):01,02,03,04,05,06,07,08\n\"b\"=hex:01,02,03,\\\n  04,05\n");
    r.push_str("\"tiny\"=hex:01\n\"four\"=hex:01,02,03,04\n\"five\"=hex:01,02,03,04,05\n");
    r.push_str("\"zero\"=hex(0):\n\"odd type\"=hex(12345678):ff\n");
    let big: Vec<String> = (0..20_000).map(|i| format!("{:02x}", i % 251)).collect();
    writeln!(r, "\"big\"=hex:{}", big.join(",")).unwrap();
    r.push_str("\"\u{e4}pfel\"=\"latin-1 name\"\n\"\u{20ac}uro\"=\"utf-16 name\"\n\n");
    r.push_str("[\\GxAdded\\Sub]\n\n[\\GxAdded\\Sub\\Deeper]\n\"x\"=dword:00000001\n\n");
    r.push_str("[\\GxAdded\\\u{20ac}uro key]\n\n[\\GxAdded\\\u{c4}rger]\n\n");
    // Siblings in a scrambled order: the list must come out sorted.
    r.push_str("[\\GxAdded\\Many]\n\n");
    for i in 0..300u32 {
        let k = (i * 7919) % 300;
        writeln!(r, "[\\GxAdded\\Many\\K{k:03}]").unwrap();
        if i == 0 {
            // One new key with both values and siblings.
            r.push_str("\"first\"=dword:00000001\n");
        }
        r.push('\n');
    }
    let mut deletes = Vec::new();
    for (i, (path, vals, ok)) in keys.iter().enumerate() {
        if !ok {
            continue;
        }
        if i % 2 == 0 {
            writeln!(r, "[{}]", if path.is_empty() { "\\" } else { path }).unwrap();
            let plain_vals: Vec<&String> =
                vals.iter().filter(|v| v.is_empty() || plain(v)).collect();
            if let Some(v) = plain_vals.first() {
                writeln!(r, "{}=hex(4):78,56,34,12", quote(v)).unwrap();
            }
            if let Some(v) = plain_vals.get(1) {
                writeln!(r, "{}=-", quote(v)).unwrap();
            }
            writeln!(r, "\"gx-new\"=\"added to {}\"", path.replace('\\', "/")).unwrap();
            r.push('\n');
            writeln!(r, "[{path}\\gxchild]\n\"v\"=dword:00000007\n").unwrap();
        }
        if i % 5 == 3 && !path.is_empty() {
            deletes.push(path.clone());
        }
    }
    // Existing keys in another case merge into the same key.
    if let Some((path, _, _)) = keys.iter().find(|(p, _, ok)| *ok && !p.is_empty()) {
        writeln!(r, "[{}]\n\"case\"=\"same key\"\n", path.to_uppercase()).unwrap();
    }
    for d in deletes {
        writeln!(r, "[-{d}]\n").unwrap();
    }
    r.push_str("[-\\GxAdded\\Many\\K150]\n\n[-\\GxAdded\\Sub]\n\n[-\\No\\Such\\Key]\n");
    r
}

/// Merges [`scenario`] into `hive` with our code and checks the result;
/// with `hivex`, hivexregedit merges it too, and its export of both hives
/// and our export of ours must be the same.
pub fn generated_merge_matches_hivex(name: &str, hive: &[u8], dir: &Path, hivex: bool) {
    let text = scenario(hive);
    let reg = dir.join(format!("{}.reg", name.replace('/', "_")));
    std::fs::write(&reg, &text).unwrap();
    let ours = our_merge(hive, &[&reg], None, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    let report = check_written(hive, &ours);
    assert!(
        report.keys.iter().any(|k| k == "\\GxAdded\\Many\\K299"),
        "{name}"
    );
    assert!(
        !report.keys.iter().any(|k| k == "\\GxAdded\\Many\\K150"),
        "{name}"
    );
    if !hivex {
        return;
    }
    let theirs = hivex_merge(hive, &[&reg], None, None, dir)
        .unwrap_or_else(|e| panic!("{name}: hivexregedit --merge failed: {e}"));
    let theirs_file = dir.join("theirs.hive");
    std::fs::write(&theirs_file, &theirs).unwrap();
    let ours_file = dir.join("ours.hive");
    std::fs::write(&ours_file, &ours).unwrap();
    let expected = hivex_export(&theirs_file);
    assert_same(
        &format!("{name}: hivex reading ours"),
        &hivex_export(&ours_file),
        &expected,
    );
    assert_same(
        &format!("{name}: our export of ours"),
        &our_export(&ours),
        &expected,
    );
}

//! What the appliance tests share: prerequisites, launching, the host's
//! tools as oracles, and the file helpers that libguestfs composes on the
//! host (cat, is_dir, filesize, ...) built from the agent's calls.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gx_appliance::{Appliance, Config, Drive, Result};

/// Cargo builds the agent for the integration tests of its own package.
pub fn agent() -> Option<PathBuf> {
    Some(PathBuf::from(env!("CARGO_BIN_EXE_gx-agent")))
}

/// Why the appliance cannot run here, if it cannot.
pub fn prerequisites() -> Option<String> {
    if gx_appliance::kernel::find_kernel().is_err() {
        return Some("no readable kernel (run scripts/setup)".into());
    }
    if gx_appliance::qemu::find_qemu().is_err() {
        return Some("no qemu-system-x86_64 (run scripts/setup)".into());
    }
    for p in ["mkfs.ext4", "sgdisk", "sfdisk", "debugfs", "blkid"] {
        if !has(p) {
            return Some(format!("no {p} on the host (run scripts/setup)"));
        }
    }
    None
}

pub fn has(prog: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(prog).exists())
}

/// A host command that must succeed; its stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().expect("sh");
    assert!(
        out.status.success(),
        "{cmd}: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A host command's exit status and stdout + stderr, whatever the status.
pub fn sh_status(cmd: &str) -> (i32, String) {
    let out = Command::new("sh").args(["-c", cmd]).output().expect("sh");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), s)
}

pub fn sha(p: &Path) -> String {
    sh(&format!("sha256sum {}", p.display()))
}

/// A sparse file of `size` bytes.
pub fn blank(path: &Path, size: u64) -> PathBuf {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(size))
        .expect("blank disk");
    path.to_path_buf()
}

pub fn launch(drives: Vec<Drive>) -> Appliance {
    let cfg = Config {
        drives,
        agent: agent(),
        launch_timeout: Duration::from_secs(180),
        call_timeout: Duration::from_secs(300),
        ..Config::default()
    };
    match Appliance::launch(cfg) {
        Ok(a) => a,
        Err(e) => panic!("launch failed: {e}"),
    }
}

/// The calls libguestfs composes on the host, built from the agent's.
pub trait GuestExt {
    fn cat(&mut self, path: &str) -> Result<String>;
    fn read_bytes(&mut self, path: &str) -> Result<Vec<u8>>;
    fn exists(&mut self, path: &str) -> Result<bool>;
    fn is_dir(&mut self, path: &str) -> Result<bool>;
    fn is_file(&mut self, path: &str) -> Result<bool>;
    fn filesize(&mut self, path: &str) -> Result<i64>;
}

impl GuestExt for Appliance {
    fn cat(&mut self, path: &str) -> Result<String> {
        self.read_bytes(path)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }
    fn read_bytes(&mut self, path: &str) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.download(path, &mut v)?;
        Ok(v)
    }
    fn exists(&mut self, path: &str) -> Result<bool> {
        match self.statns(path) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(libc_enoent()) => Ok(false),
            Err(e) => Err(e),
        }
    }
    fn is_dir(&mut self, path: &str) -> Result<bool> {
        Ok(self.lstatns(path)?.st_mode & 0o170000 == 0o040000)
    }
    fn is_file(&mut self, path: &str) -> Result<bool> {
        Ok(self.lstatns(path)?.st_mode & 0o170000 == 0o100000)
    }
    fn filesize(&mut self, path: &str) -> Result<i64> {
        Ok(self.statns(path)?.st_size)
    }
}

fn libc_enoent() -> i32 {
    2
}

/// One section of LVM2's text metadata: `key = value` pairs (arrays kept as
/// their items) and nested `name { ... }` sections.
#[derive(Debug, Default, Clone)]
pub struct LvmSection {
    pub values: std::collections::BTreeMap<String, Vec<String>>,
    pub sections: std::collections::BTreeMap<String, LvmSection>,
}

impl LvmSection {
    pub fn get(&self, key: &str) -> &str {
        self.values
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {key} in {self:?}"))
    }
    pub fn num(&self, key: &str) -> u64 {
        self.get(key).parse().expect("number")
    }
    pub fn sec(&self, name: &str) -> &LvmSection {
        self.sections
            .get(name)
            .unwrap_or_else(|| panic!("no section {name} in {self:?}"))
    }
}

/// The newest VG metadata stored on a PV that starts at byte `offset` of
/// `img`, read from the image itself (LVM2's on-disk text format): the
/// independent oracle for what lvm reported.
pub fn lvm_metadata(img: &Path, offset: u64) -> (String, LvmSection) {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(img).expect("open");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    let mut area = vec![0u8; 1 << 20];
    f.read_exact(&mut area).expect("read");
    assert_eq!(&area[512 + 24..512 + 32], b"LVM2 001", "no LVM2 label");
    // The metadata area is a ring of NUL-terminated texts: take the one
    // with the highest seqno.
    let mut best: Option<(u64, String)> = None;
    for chunk in area.split(|b| *b == 0) {
        let Ok(text) = std::str::from_utf8(chunk) else {
            continue;
        };
        let Some(i) = text.find("seqno = ") else {
            continue;
        };
        let seq: u64 = text[i + 8..]
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if best.as_ref().is_none_or(|(s, _)| seq > *s) {
            best = Some((seq, text.to_string()));
        }
    }
    let text = best.expect("no LVM metadata text").1;
    let tokens = lvm_tokens(&text);
    let mut pos = 0;
    let root = lvm_parse(&tokens, &mut pos);
    let (name, vg) = root
        .sections
        .into_iter()
        .next()
        .expect("a volume group section");
    (name, vg)
}

fn lvm_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut s = String::from("\"");
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    s.push(c);
                }
                out.push(s);
            }
            '{' | '}' | '[' | ']' | '=' | ',' => out.push(c.to_string()),
            c if c.is_whitespace() => {}
            c => {
                let mut s = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || "{}[]=,\"#".contains(n) {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(s);
            }
        }
    }
    out
}

fn lvm_parse(t: &[String], pos: &mut usize) -> LvmSection {
    let mut s = LvmSection::default();
    while *pos < t.len() {
        let name = t[*pos].clone();
        *pos += 1;
        if name == "}" {
            break;
        }
        match t.get(*pos).map(String::as_str) {
            Some("{") => {
                *pos += 1;
                let sub = lvm_parse(t, pos);
                s.sections.insert(name, sub);
            }
            Some("=") => {
                *pos += 1;
                let mut vals = Vec::new();
                if t.get(*pos).map(String::as_str) == Some("[") {
                    *pos += 1;
                    while *pos < t.len() && t[*pos] != "]" {
                        if t[*pos] != "," {
                            vals.push(t[*pos].trim_start_matches('"').to_string());
                        }
                        *pos += 1;
                    }
                    *pos += 1;
                } else if let Some(v) = t.get(*pos) {
                    vals.push(v.trim_start_matches('"').to_string());
                    *pos += 1;
                }
                s.values.insert(name, vals);
            }
            _ => {}
        }
    }
    s
}

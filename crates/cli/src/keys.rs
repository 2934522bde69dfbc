//! `--key SELECTOR`, `--keys-from-stdin`, `--echo-keys`, and the decryption
//! libguestfs's tools do before inspection (libguestfs-common's
//! options/keys.c and decrypt.c): every LUKS partition, then every LUKS LV
//! (after an LVM rescan), is opened as `/dev/mapper/luks-UUID` with the
//! first key that works.
//!
//! Selectors: `ID:key:STRING`, `ID:file:FILENAME`, `ID:clevis`, where ID is
//! a device name (`/dev/sda2`, `/dev/VG/LV`, or `/dev/mapper/VG-LV`, which
//! is turned into `/dev/VG/LV`), a LUKS UUID, or `all`.
//!
//! It must not: print or log a key, keep one longer than needed (keys live
//! in zeroizing buffers), or echo a typed passphrase unless `--echo-keys`.

use anyhow::{Result, anyhow, bail};
use gx_guestfs::Handle;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// What a selector gives.
#[derive(Clone)]
pub enum KeyKind {
    /// A passphrase on the command line.
    Text(Zeroizing<String>),
    /// A file holding the key (binary allowed).
    File(PathBuf),
    /// Network-bound unlocking (not available here).
    Clevis,
    /// The key string that opened the device in an earlier handle on the
    /// same image (see [`decrypt`]'s result): never from the command line.
    Opened(Zeroizing<String>),
}

impl std::fmt::Debug for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyKind::Text(_) => f.write_str("Text(***)"),
            KeyKind::File(p) => write!(f, "File({})", p.display()),
            KeyKind::Clevis => f.write_str("Clevis"),
            KeyKind::Opened(_) => f.write_str("Opened(***)"),
        }
    }
}

/// One `--key` option.
#[derive(Debug, Clone)]
pub struct KeySelector {
    pub id: String,
    pub kind: KeyKind,
}

impl KeySelector {
    /// Parse `ID:TYPE[:VALUE]` as libguestfs does (`:` splits fields, so
    /// a key string cannot hold one).
    pub fn parse(selector: &str) -> Result<KeySelector> {
        let fields: Vec<&str> = selector.split(':').collect();
        let id = fields[0];
        if id.is_empty() && fields.len() < 2 {
            bail!("selector '{}': missing ID", redact(selector));
        }
        let Some(kind) = fields.get(1) else {
            bail!("selector '{}': missing TYPE", redact(selector));
        };
        let kind = match *kind {
            "key" => {
                if fields.len() != 3 {
                    bail!(
                        "selector '{}': missing KEY_STRING, or too many fields",
                        redact(selector)
                    );
                }
                KeyKind::Text(Zeroizing::new(fields[2].to_string()))
            }
            "file" => {
                if fields.len() != 3 {
                    bail!("selector '{selector}': missing FILENAME, or too many fields");
                }
                KeyKind::File(PathBuf::from(fields[2]))
            }
            "clevis" => {
                if fields.len() != 2 {
                    bail!("selector '{selector}': too many fields");
                }
                KeyKind::Clevis
            }
            _ => bail!("selector '{}': invalid TYPE", redact(selector)),
        };
        Ok(KeySelector {
            id: unescape_device_mapper_lvm(id),
            kind,
        })
    }
}

/// A selector shown in an error without its key string.
fn redact(selector: &str) -> String {
    match selector.split_once(":key:") {
        Some((id, _)) => format!("{id}:key:***"),
        None => selector.to_string(),
    }
}

/// `/dev/mapper/VG-LV` (each `-` of a name doubled) to `/dev/VG/LV`;
/// anything else unchanged.
pub fn unescape_device_mapper_lvm(id: &str) -> String {
    match id
        .strip_prefix("/dev/mapper/")
        .and_then(gx_guestfs::split_dm_name)
    {
        Some((vg, lv)) => format!("/dev/{vg}/{lv}"),
        None => id.to_string(),
    }
}

/// The key options, parsed.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub selectors: Vec<KeySelector>,
    pub from_stdin: bool,
    pub echo: bool,
}

/// libguestfs's base64 (standard alphabet, padded), for `file:` keys.
fn base64(data: &[u8]) -> Zeroizing<String> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Zeroizing::new(String::with_capacity(data.len().div_ceil(3) * 4));
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Keys {
    /// The keys to try for `device` (with LUKS UUID `uuid`), as the Handle
    /// takes them (`text:...` or `base64:...`); asks the user when no
    /// selector matches.
    fn matching(&self, device: &str, uuid: &str) -> Result<Vec<Zeroizing<String>>> {
        let mut out = Vec::new();
        for k in &self.selectors {
            if k.id != "all" && k.id != device && (uuid.is_empty() || k.id != uuid) {
                continue;
            }
            match &k.kind {
                KeyKind::Text(s) => out.push(Zeroizing::new(format!("text:{}", s.as_str()))),
                KeyKind::File(p) => {
                    let data = Zeroizing::new(
                        std::fs::read(p)
                            .map_err(|e| anyhow!("reading the key file {}: {e}", p.display()))?,
                    );
                    let mut s = Zeroizing::new(String::from("base64:"));
                    s.push_str(&base64(&data));
                    out.push(s);
                }
                KeyKind::Clevis => bail!(
                    "'clevis_luks_unlock', needed for decrypting {device}, is unavailable in this version"
                ),
                KeyKind::Opened(s) => out.push(s.clone()),
            }
        }
        if out.is_empty() {
            out.push(self.read_key(device)?);
        }
        Ok(out)
    }

    /// Ask for a passphrase: on /dev/tty (echo off unless `--echo-keys`),
    /// else, or with `--keys-from-stdin`, one line of standard input.
    fn read_key(&self, device: &str) -> Result<Zeroizing<String>> {
        let typed = if self.from_stdin {
            None
        } else {
            prompt_tty(
                &format!("Enter key or passphrase (\"{device}\"): "),
                self.echo,
            )
        };
        let bytes = match typed {
            Some(r) => r?,
            None => {
                let mut line = Zeroizing::new(Vec::new());
                std::io::stdin().lock().read_until(b'\n', &mut line)?;
                line
            }
        };
        let mut line = Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        })?);
        if line.is_empty() {
            bail!("could not read key from user");
        }
        if line.ends_with('\n') {
            line.pop();
        }
        Ok(Zeroizing::new(format!("text:{}", line.as_str())))
    }
}

/// Reads one line (with its newline, if any) from the controlling terminal
/// after writing `prompt` there, with echo off unless `echo`; the terminal
/// is left as it was. `None` when there is no terminal to ask. The key
/// prompts of the tools and of gx-fish.
pub fn prompt_tty(prompt: &str, echo: bool) -> Option<std::io::Result<Zeroizing<Vec<u8>>>> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let mut t = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let read = |t: &mut std::fs::File| -> std::io::Result<Zeroizing<Vec<u8>>> {
        write!(t, "{prompt}")?;
        t.flush()?;
        // Echo off only on a real terminal whose settings we could read.
        let saved = if echo { None } else { tcgetattr(&*t).ok() };
        if let Some(orig) = &saved {
            let mut quiet = orig.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = tcsetattr(&*t, SetArg::TCSAFLUSH, &quiet);
        }
        let mut line = Zeroizing::new(Vec::new());
        let r = std::io::BufReader::new(&*t).read_until(b'\n', &mut line);
        if let Some(orig) = saved {
            let _ = tcsetattr(&*t, SetArg::TCSAFLUSH, &orig);
            let _ = writeln!(t);
        }
        r.map(|_| line)
    };
    Some(read(&mut t))
}

/// Open every LUKS partition, rescan LVM, then open every LUKS LV
/// (libguestfs's `inspect_do_decrypt`). Devices already open are skipped.
///
/// Returns the keys that opened each device, by device name: a second
/// handle on the same image opens the same devices with them without
/// asking again (gx-mount's reader threads; `--keys-from-stdin` cannot be
/// read twice).
pub fn decrypt(g: &mut Handle, keys: &Keys) -> Result<Keys> {
    let mut opened = Keys::default();
    let partitions = g.list_partitions()?;
    if decrypt_mountables(g, &partitions, keys, &mut opened)? {
        g.lvm_scan(true)?;
    }
    let lvs = g.lvs()?;
    decrypt_mountables(g, &lvs, keys, &mut opened)?;
    Ok(opened)
}

fn decrypt_mountables(
    g: &mut Handle,
    devices: &[String],
    keys: &Keys,
    opened: &mut Keys,
) -> Result<bool> {
    let mut some = false;
    for dev in devices {
        let Ok(t) = g.vfs_type(dev) else { continue };
        if t != "crypto_LUKS" {
            continue;
        }
        let uuid = g.luks_uuid(dev).unwrap_or_default();
        let mapname = if uuid.is_empty() {
            let alnum: String = dev
                .strip_prefix("/dev/")
                .unwrap_or(dev)
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            format!("crypt{alnum}")
        } else {
            format!("luks-{uuid}")
        };
        let mapped = format!("/dev/mapper/{mapname}");
        if g.list_dm_devices()?.contains(&mapped) {
            continue;
        }
        let mut last = None;
        for key in keys.matching(dev, &uuid)? {
            match g.cryptsetup_open(
                dev,
                &key,
                &mapname,
                gx_guestfs::CryptsetupOpenOpts::default(),
            ) {
                Ok(()) => {
                    opened.selectors.push(KeySelector {
                        id: dev.clone(),
                        kind: KeyKind::Opened(key),
                    });
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            bail!(
                "could not find key to open LUKS encrypted {dev}.\n\nTry using --key on the command line.\n\nOriginal error: {e} ({})",
                e.kind().errno()
            );
        }
        some = true;
    }
    Ok(some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let k = KeySelector::parse("/dev/sda2:key:secret").unwrap();
        assert_eq!(k.id, "/dev/sda2");
        assert!(matches!(&k.kind, KeyKind::Text(s) if s.as_str() == "secret"));
        let k = KeySelector::parse("all:file:/tmp/k").unwrap();
        assert!(matches!(&k.kind, KeyKind::File(p) if p.to_str() == Some("/tmp/k")));
        let k = KeySelector::parse("/dev/mapper/Volume--Group-Logical--Volume--1:key:x").unwrap();
        assert_eq!(k.id, "/dev/Volume-Group/Logical-Volume-1");
        assert!(KeySelector::parse("x:clevis").is_ok());
        assert!(KeySelector::parse("x").is_err());
        assert!(KeySelector::parse("x:key").is_err());
        assert!(KeySelector::parse("x:key:a:b").is_err());
        assert!(KeySelector::parse("x:clevis:y").is_err());
        assert!(KeySelector::parse("x:magic:y").is_err());
        // The key never shows in an error.
        let e = KeySelector::parse("x:key:hunter2:more").err().unwrap();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{:?}", KeySelector::parse("a:key:hunter2").unwrap()).contains("hunter2"));
    }

    #[test]
    fn mapper_names() {
        assert_eq!(
            unescape_device_mapper_lvm("/dev/mapper/VG-LV"),
            "/dev/VG/LV"
        );
        assert_eq!(
            unescape_device_mapper_lvm("/dev/mapper/luks"),
            "/dev/mapper/luks"
        );
        assert_eq!(
            unescape_device_mapper_lvm("/dev/mapper/a-b-c"),
            "/dev/mapper/a-b-c"
        );
        assert_eq!(
            unescape_device_mapper_lvm("/dev/mapper/-x"),
            "/dev/mapper/-x"
        );
        assert_eq!(unescape_device_mapper_lvm("/dev/sda1"), "/dev/sda1");
    }

    #[test]
    fn base64_matches_libguestfs() {
        assert_eq!(base64(b"FEDORA\0LV3").as_str(), "RkVET1JBAExWMw==");
        assert_eq!(base64(b"ab").as_str(), "YWI=");
        assert_eq!(base64(b"").as_str(), "");
    }
}

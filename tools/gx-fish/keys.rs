//! `--key` selectors and opening encrypted devices for `-i`, as
//! libguestfs's tools do: each LUKS (or BitLocker) partition, then each LV
//! they reveal, is opened with the keys whose ID names it (device name, LUKS
//! UUID or `all`), or with a key typed at the prompt.

use gx_guestfs::CryptsetupOpenOpts;

use crate::context::{Fish, FishError};

/// One `--key ID:TYPE[:VALUE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    id: String,
    kind: KeyKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyKind {
    Text(String),
    File(String),
    Clevis,
}

/// Checks a selector's form (the messages libguestfs's tools give).
pub(crate) fn check_selector(sel: &str) -> Result<(), String> {
    parse(sel).map(|_| ())
}

pub(crate) fn parse(sel: &str) -> Result<Key, String> {
    let fields: Vec<&str> = if sel.is_empty() {
        Vec::new()
    } else {
        sel.split(':').collect()
    };
    let Some(id) = fields.first() else {
        return Err(format!("selector '{sel}': missing ID"));
    };
    let Some(ty) = fields.get(1) else {
        return Err(format!("selector '{sel}': missing TYPE"));
    };
    let kind = match *ty {
        "key" if fields.len() == 3 => KeyKind::Text(fields[2].to_string()),
        "key" => {
            return Err(format!(
                "selector '{sel}': missing KEY_STRING, or too many fields"
            ));
        }
        "file" if fields.len() == 3 => KeyKind::File(fields[2].to_string()),
        "file" => {
            return Err(format!(
                "selector '{sel}': missing FILENAME, or too many fields"
            ));
        }
        "clevis" if fields.len() == 2 => KeyKind::Clevis,
        "clevis" => return Err(format!("selector '{sel}': too many fields")),
        _ => return Err(format!("selector '{sel}': invalid TYPE")),
    };
    Ok(Key {
        id: unescape_mapper(id),
        kind,
    })
}

/// `/dev/mapper/VG-LV` (a doubled `-` is a hyphen in a name) as `/dev/VG/LV`.
fn unescape_mapper(id: &str) -> String {
    let Some(rest) = id.strip_prefix("/dev/mapper/") else {
        return id.to_string();
    };
    let b = rest.as_bytes();
    let mut out = String::from("/dev/");
    let mut i = 0;
    let mut split = false;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                out.push('-');
                i += 2;
                continue;
            }
            if split {
                return id.to_string();
            }
            split = true;
            out.push('/');
        } else {
            out.push(b[i] as char);
        }
        i += 1;
    }
    if split { out } else { id.to_string() }
}

/// The device-mapper name for a device without a UUID: `crypt` and the
/// name's letters and digits.
fn mapname(device: &str) -> String {
    let d = device.strip_prefix("/dev/").unwrap_or(device);
    let mut s = String::from("crypt");
    s.extend(d.chars().filter(char::is_ascii_alphanumeric));
    s
}

/// Opens every encrypted device before `-i` inspects.
pub(crate) fn decrypt(f: &mut Fish, keys: &[Key]) -> Result<(), String> {
    let parts = f.g.list_partitions().map_err(|e| e.to_string())?;
    if decrypt_list(f, keys, &parts)? && f.g.available(&["lvm2".to_string()]).is_ok() {
        f.g.lvm_scan(true).map_err(|e| e.to_string())?;
        let lvs = f.g.lvs().map_err(|e| e.to_string())?;
        decrypt_list(f, keys, &lvs)?;
    }
    Ok(())
}

fn decrypt_list(f: &mut Fish, keys: &[Key], devices: &[String]) -> Result<bool, String> {
    let mut any = false;
    for dev in devices {
        let Ok(ty) = f.g.vfs_type(dev) else { continue };
        let uuid = match ty.as_str() {
            "crypto_LUKS" => f.g.vfs_uuid(dev).ok().filter(|u| !u.is_empty()),
            "BitLocker" => None,
            _ => continue,
        };
        let mut candidates: Vec<Option<String>> = Vec::new();
        for k in keys {
            if k.id == "all" || k.id == *dev || uuid.as_deref() == Some(k.id.as_str()) {
                candidates.push(match &k.kind {
                    KeyKind::Text(s) => Some(s.clone()),
                    KeyKind::File(p) => Some(
                        std::fs::read(p)
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .map_err(|e| format!("{p}: {}", crate::context::os_error(&e)))?,
                    ),
                    KeyKind::Clevis => None,
                });
            }
        }
        if candidates.is_empty() {
            let k = f.key(dev).map_err(|e| match e {
                FishError::Msg(m) => m,
                _ => "could not read key from user".into(),
            })?;
            candidates.push(Some(k));
        }
        let name = match &uuid {
            Some(u) => format!("luks-{u}"),
            None => mapname(dev),
        };
        let mut last = String::new();
        let mut opened = false;
        for c in candidates {
            let Some(key) = c else {
                last = format!(
                    "'clevis_luks_unlock', needed for decrypting {dev}, is unavailable in this version"
                );
                continue;
            };
            match f
                .g
                .cryptsetup_open(dev, &key, &name, CryptsetupOpenOpts::default())
            {
                Ok(()) => {
                    opened = true;
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        if !opened {
            return Err(format!(
                "could not find key to open LUKS encrypted {dev}.\n\n\
                 Try using --key on the command line.\n\n\
                 Original error: {last}"
            ));
        }
        any = true;
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert!(parse("/dev/sda2:key:secret").is_ok());
        assert_eq!(parse("all:file:/k").unwrap().id, "all");
        assert!(parse("x:clevis").is_ok());
        assert_eq!(parse("").unwrap_err(), "selector '': missing ID");
        assert_eq!(parse("x").unwrap_err(), "selector 'x': missing TYPE");
        assert_eq!(
            parse("x:key").unwrap_err(),
            "selector 'x:key': missing KEY_STRING, or too many fields"
        );
        assert_eq!(
            parse("x:key:a:b").unwrap_err(),
            "selector 'x:key:a:b': missing KEY_STRING, or too many fields"
        );
        assert_eq!(
            parse("x:clevis:1").unwrap_err(),
            "selector 'x:clevis:1': too many fields"
        );
        assert_eq!(
            parse("x:foo").unwrap_err(),
            "selector 'x:foo': invalid TYPE"
        );
        assert_eq!(
            parse("/dev/mapper/vg--a-lv:key:k").unwrap().id,
            "/dev/vg-a/lv"
        );
        assert_eq!(mapname("/dev/sda2"), "cryptsda2");
    }
}

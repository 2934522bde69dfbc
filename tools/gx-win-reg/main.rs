//! gx-win-reg: export a Windows Registry key, or print one value, from a
//! Windows guest's disk image, like virt-win-reg (same arguments, same
//! `.reg` output). Read-only: `--merge` is refused (the hive write side is
//! not there yet).

use anyhow::{Context, Result, anyhow, bail};
use gx_cli::{Common, DriveArg, Source};
use gx_guestfs::Handle;
use gx_hive::{ExportOptions, Hive};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

fn main() {
    gx_cli::run("gx-win-reg", real_main)
}

/// Largest hive file read into memory.
const MAX_HIVE: u64 = 1 << 30;

fn real_main() -> Result<i32> {
    let cmd = gx_tools::cli::win_reg::command();
    let m = gx_cli::parse(cmd);
    if m.get_flag("merge") {
        bail!(
            "--merge is not supported yet: gx-win-reg can only export (writing registry hives is planned); use virt-win-reg --merge for now"
        );
    }
    let debug = m.get_flag("debug");
    let format = match m.get_one::<String>("format").map(String::as_str) {
        None | Some("") => None,
        Some("raw") => Some(gx_guestfs::Format::Raw),
        Some("qcow2") => Some(gx_guestfs::Format::Qcow2),
        Some(f) => bail!("--format: unsupported disk format '{f}' (expecting raw or qcow2)"),
    };
    let args: Vec<String> = m
        .get_many::<String>("args")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    if args.is_empty() {
        bail!("no libvirt domain name or disk image given");
    }
    // Disks first (one or more), then the key path and an optional value name.
    let mut disks = Vec::new();
    let mut rest = args.as_slice();
    while let Some((a, r)) = rest.split_first() {
        if !disks.is_empty() && is_registry_path(a) {
            break;
        }
        disks.push(a.clone());
        rest = r;
    }
    if rest.is_empty() || rest.len() > 2 {
        bail!("expecting 1 or 2 more parameters, subkey path and optionally the value to export");
    }
    let key = &rest[0];
    let name = rest.get(1);

    let common = Common {
        drives: disks
            .iter()
            .map(|d| DriveArg {
                source: if gx_cli::domain::looks_like_image(d) {
                    Source::File(PathBuf::from(d))
                } else {
                    Source::Domain(d.clone())
                },
                format,
            })
            .collect(),
        connect: m.get_one::<String>("connect").cloned(),
        verbose: debug,
        ..Default::default()
    };
    let mut g = common.launch(true)?;
    let roots = g.inspect_os()?;
    match roots.len() {
        0 => bail!(
            "No operating system could be detected inside this disk image.\n\nThis may be because the file is not a disk image, or is not a virtual machine\nimage, or because the OS type is not understood by guestx.\n\nIf you feel this is an error, please file a bug report including as much\ninformation about the disk image as possible."
        ),
        1 => {}
        _ => bail!("multiboot operating systems are not supported."),
    }
    let root = &roots[0];
    let mut mps = g.inspect_get_mountpoints(root)?;
    mps.sort_by_key(|(mp, _)| mp.len());
    for (mp, dev) in &mps {
        g.mount_options("ro", dev, mp)
            .with_context(|| format!("mounting {dev} on {mp}"))?;
    }
    let systemroot = g.inspect_get_windows_systemroot(root)?;
    let target = map_path_to_hive(&g, &systemroot, key)?;
    let hive = download_hive(&g, &target.hivefile, debug)?;

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // Perl's truth test: a value name of "" or "0" means "export the key".
    match name.filter(|n| !n.is_empty() && *n != "0") {
        None => {
            if debug {
                eprintln!(
                    "exporting {} with prefix {} ...",
                    target.path, target.prefix
                );
            }
            let opts = ExportOptions {
                prefix: Some(target.prefix.clone()),
                unsafe_printable_strings: m.get_flag("unsafe-printable-strings"),
                max_depth: None,
                header: false,
            };
            gx_hive::export_path(&hive, &target.path, &opts, &mut out)
                .with_context(|| format!("{}: {}", target.prefix, target.path))?;
        }
        Some(n) => {
            let node = hive
                .lookup(&target.path)?
                .ok_or_else(|| anyhow!("{}: key not found", target.path))?;
            gx_hive::print_value(&node, n, &mut out)
                .with_context(|| format!("{}: value {n}", target.path))?;
        }
    }
    out.flush()?;
    Ok(0)
}

/// True for an argument that names a registry key rather than a disk.
fn is_registry_path(a: &str) -> bool {
    let a = a.strip_prefix('\\').unwrap_or(a).to_ascii_uppercase();
    [
        "HKEY_LOCAL_MACHINE\\",
        "HKLM\\",
        "HKEY_USERS\\",
        "HKU\\",
        "HKEY_CURRENT_USER",
        "HKCU",
    ]
    .iter()
    .any(|p| a.starts_with(p))
}

/// Where a registry path lives.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// Guest path of the hive file (case not yet resolved).
    hivefile: String,
    /// The key path inside the hive, starting with `\`.
    path: String,
    /// What export prints before each key path.
    prefix: String,
}

/// Strip a case-insensitive `prefix`; the rest must be empty or start with `\`.
fn after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &s[prefix.len()..];
    (rest.is_empty() || rest.starts_with('\\')).then_some(rest)
}

fn key_path(rest: &str) -> String {
    if rest.is_empty() {
        "\\".into()
    } else {
        rest.into()
    }
}

/// virt-win-reg's `map_path_to_hive`.
fn map_path_to_hive(g: &Handle, systemroot: &str, path: &str) -> Result<Target> {
    let p = path.strip_prefix('\\').unwrap_or(path);
    let (hklm, hku) = (
        ["HKEY_LOCAL_MACHINE\\", "HKLM\\"].iter().find_map(|r| {
            p.get(..r.len())
                .filter(|h| h.eq_ignore_ascii_case(r))
                .map(|_| &p[r.len()..])
        }),
        ["HKEY_USERS\\", "HKU\\"].iter().find_map(|r| {
            p.get(..r.len())
                .filter(|h| h.eq_ignore_ascii_case(r))
                .map(|_| &p[r.len()..])
        }),
    );
    if let Some(rest) = hklm {
        for hive in ["SAM", "SECURITY", "SOFTWARE", "SYSTEM"] {
            if let Some(r) = after(rest, hive) {
                return Ok(Target {
                    hivefile: format!("{systemroot}/system32/config/{}", hive.to_lowercase()),
                    path: key_path(r),
                    prefix: format!("HKEY_LOCAL_MACHINE\\{hive}"),
                });
            }
        }
    }
    if let Some(rest) = hku {
        if let Some(r) = after(rest, ".DEFAULT") {
            return Ok(Target {
                hivefile: format!("{systemroot}/system32/config/default"),
                path: key_path(r),
                // virt-win-reg prints this prefix for HKU\.DEFAULT.
                prefix: "HKEY_LOCAL_MACHINE\\.DEFAULT".into(),
            });
        }
        let (first, r) = match rest.find('\\') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let sid = if is_sid(first) {
            Some(first.to_string())
        } else {
            [
                ("LocalSystem", "S-1-5-18"),
                ("LocalService", "S-1-5-19"),
                ("NetworkService", "S-1-5-20"),
            ]
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(first))
            .map(|(_, s)| s.to_string())
        };
        if let Some(sid) = sid {
            let profile = profile_image_path(g, systemroot, &sid)?;
            return Ok(Target {
                hivefile: format!("{profile}/ntuser.dat"),
                path: key_path(r),
                prefix: format!("HKEY_USERS\\{sid}"),
            });
        }
        let dir = ["/Users", "/Documents and Settings"]
            .iter()
            .map(|d| format!("{d}/{first}"))
            .find(|d| {
                g.case_sensitive_path(d)
                    .is_ok_and(|p| g.is_dir(&p).unwrap_or(false))
            })
            .ok_or_else(|| anyhow!("{first}: cannot find user directory"))?;
        return Ok(Target {
            hivefile: format!("{dir}/ntuser.dat"),
            path: key_path(r),
            prefix: format!("HKEY_USERS\\{first}"),
        });
    }
    bail!("{path}: not a supported Windows Registry path")
}

/// `S-1-5-` followed by digits and dashes.
fn is_sid(s: &str) -> bool {
    s.get(..6).is_some_and(|h| h.eq_ignore_ascii_case("S-1-5-"))
        && s.len() > 6
        && s[6..].bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// The profile directory of a user SID from
/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\SID`, as a
/// guest path (`%SystemRoot%` expanded, `%SystemDrive%` and `C:` dropped).
fn profile_image_path(g: &Handle, systemroot: &str, sid: &str) -> Result<String> {
    let hive = download_hive(g, &format!("{systemroot}/system32/config/software"), false)?;
    let key = format!("\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{sid}");
    let v = hive
        .lookup(&key)?
        .and_then(|n| n.value("ProfileImagePath").ok().flatten())
        .ok_or_else(|| anyhow!("{sid}: no ProfileImagePath in HKLM\\SOFTWARE{key}"))?;
    let s = v.as_string()?;
    let s = replace_first_nocase(&s, "%systemroot%", systemroot);
    let s = replace_first_nocase(&s, "%systemdrive%", "");
    let s = match s.get(..2) {
        Some(h) if h.eq_ignore_ascii_case("c:") => s[2..].to_string(),
        _ => s,
    };
    Ok(s.replace('\\', "/"))
}

fn replace_first_nocase(s: &str, pat: &str, with: &str) -> String {
    match s.to_ascii_lowercase().find(pat) {
        // ASCII lowercasing keeps byte offsets, so `i` indexes `s` too.
        Some(i) if s.is_char_boundary(i) && s.is_char_boundary(i + pat.len()) => {
            format!("{}{with}{}", &s[..i], &s[i + pat.len()..])
        }
        _ => s.to_string(),
    }
}

fn download_hive(g: &Handle, hivefile: &str, debug: bool) -> Result<Hive> {
    let winfile = g
        .case_sensitive_path(hivefile)
        .map_err(|e| anyhow!("{hivefile}: could not download registry file: {e}"))?;
    if debug {
        eprintln!("downloading {winfile} ...");
    }
    let st = g
        .statns(&winfile)
        .map_err(|e| anyhow!("{winfile}: could not download registry file: {e}"))?;
    if st.size > MAX_HIVE {
        bail!("{winfile}: registry file is larger than {MAX_HIVE} bytes");
    }
    let hive = match gx_guestfs::inspect::read_hive(g, &winfile, st.size) {
        Err(e) if e.kind() == gx_hive::ErrorKind::Io => {
            bail!("{winfile}: could not download registry file: {e}")
        }
        r => r.with_context(|| format!("{winfile}: not a registry hive"))?,
    };
    if debug {
        for w in hive.warnings() {
            eprintln!("{winfile}: warning: {w}");
        }
    }
    Ok(hive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_paths() {
        assert!(is_registry_path("HKLM\\SOFTWARE"));
        assert!(is_registry_path("\\hkey_users\\.DEFAULT"));
        assert!(!is_registry_path("disk.img"));
        assert!(is_sid("S-1-5-21-1-2-3-1001"));
        assert!(!is_sid("S-1-5-"));
        assert_eq!(
            after("SOFTWARE\\Microsoft", "software"),
            Some("\\Microsoft")
        );
        assert_eq!(after("SOFTWAREX", "SOFTWARE"), None);
        assert_eq!(
            replace_first_nocase("%SystemRoot%\\x", "%systemroot%", "/Windows"),
            "/Windows\\x"
        );
    }
}

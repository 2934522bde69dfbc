//! gx-win-reg: export a Windows Registry key, or print one value, from a
//! Windows guest's disk image, like virt-win-reg (same arguments, same
//! `.reg` output); with `--merge`, merge `.reg` files into the guest's
//! Registry.
//!
//! A merge reads everything first on the direct engine (inspection, the
//! hives the `.reg` keys map to), changes the hives in memory, and only when
//! every file merged and every changed hive was written and read back does
//! it mount the Windows filesystem read-write in the appliance and upload
//! the changed hives, all in one appliance session. A `.reg` file that does
//! not parse leaves the image untouched; an image a running VM holds open
//! for writing is refused (gx-cli's rule).
//!
//! Handle calls the merge uses (the Handle's API is being regenerated; the
//! writes are all in `upload_hives`): `inspect_os`, `inspect_get_roots`,
//! `inspect_get_mountpoints`, `inspect_get_windows_systemroot`,
//! `mount_options`, `case_sensitive_path`, `statns`, `is_dir`, `read_file`,
//! then `umount_all`, `mount`, `upload(data, path)`, `sync`, `shutdown`.

use anyhow::{Context, Result, anyhow, bail};
use gx_cli::{Common, DriveArg, Source};
use gx_guestfs::{Engine, Handle};
use gx_hive::{
    ExportOptions, Hive, HiveEditor, ImportOptions, ImportTarget, StringEncoding, Visit,
    WalkOptions,
};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

fn main() {
    gx_cli::run("gx-win-reg", real_main)
}

/// Largest hive file read into memory.
const MAX_HIVE: u64 = 1 << 30;

fn real_main() -> Result<i32> {
    let cmd = gx_tools::cli::win_reg::command();
    let m = gx_cli::parse(cmd);
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
    if m.get_flag("merge") {
        let encoding: StringEncoding = match m.get_one::<String>("encoding") {
            Some(e) => e.parse().context("--encoding")?,
            None => StringEncoding::default(),
        };
        // As virt-win-reg: one disk or domain, then the .reg files.
        return merge(
            &args[0],
            &args[1..],
            format,
            m.get_one::<String>("connect").cloned(),
            encoding,
            debug,
        );
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
        drives: disks.iter().map(|d| drive_arg(d, format)).collect(),
        connect: m.get_one::<String>("connect").cloned(),
        verbose: debug,
        ..Default::default()
    };
    let mut g = common.launch(true)?;
    let systemroot = inspect_and_mount(&mut g)?;
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
                g.case_sensitive_path(d).is_ok_and(|p| {
                    g.is_dir(
                        &p,
                        gx_guestfs::IsDirOpts {
                            followsymlinks: Some(true),
                        },
                    )
                    .unwrap_or(false)
                })
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

fn drive_arg(d: &str, format: Option<gx_guestfs::Format>) -> DriveArg {
    DriveArg {
        source: if gx_cli::domain::looks_like_image(d) {
            Source::File(PathBuf::from(d))
        } else {
            Source::Domain(d.to_string())
        },
        format,
    }
}

/// Inspects the one Windows root and mounts its filesystems read-only,
/// shortest mountpoint first; returns `%SystemRoot%` as a guest path.
fn inspect_and_mount(g: &mut Handle) -> Result<String> {
    let roots = g.inspect_os()?;
    match roots.len() {
        0 => bail!(
            "No operating system could be detected inside this disk image.\n\nThis may be because the file is not a disk image, or is not a virtual machine\nimage, or because the OS type is not understood by guestx.\n\nIf you feel this is an error, please file a bug report including as much\ninformation about the disk image as possible."
        ),
        1 => {}
        _ => bail!("multiboot operating systems are not supported."),
    }
    let root = &roots[0];
    for (mp, dev) in mountpoints(g, root)? {
        g.mount_options("ro", &dev, &mp)
            .with_context(|| format!("mounting {dev} on {mp}"))?;
    }
    Ok(g.inspect_get_windows_systemroot(root)?)
}

fn mountpoints(g: &Handle, root: &str) -> Result<Vec<(String, String)>> {
    let mut mps = g.inspect_get_mountpoints(root)?;
    mps.sort_by_key(|(mp, _)| mp.len());
    Ok(mps)
}

/// A hive downloaded for `--merge`, being changed in memory.
struct OpenHive {
    /// Guest path with the guest's case.
    winfile: String,
    editor: HiveEditor,
}

/// Maps `.reg` key paths to the guest's hives, reading each hive the first
/// time a key needs it (virt-win-reg's `import_mapper`).
struct GuestHives<'g> {
    g: &'g Handle,
    systemroot: String,
    /// Keyed by the guest path with the guest's case; in the order they
    /// were opened.
    hives: Vec<(String, OpenHive)>,
    debug: bool,
}

impl ImportTarget for GuestHives<'_> {
    fn map(&mut self, path: &str) -> gx_hive::Result<(&mut HiveEditor, String)> {
        let fail =
            |e: anyhow::Error| gx_hive::Error::new(gx_hive::ErrorKind::Invalid, format!("{e:#}"));
        let target = map_path_to_hive(self.g, &self.systemroot, path).map_err(fail)?;
        // By the path the guest resolves to: a user's hive reached through
        // its SID and through its name is one file, changed once.
        let key = self
            .g
            .case_sensitive_path(&target.hivefile)
            .unwrap_or_else(|_| target.hivefile.clone());
        let i = match self.hives.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let (winfile, hive) =
                    download_hive_file(self.g, &target.hivefile, self.debug).map_err(fail)?;
                let editor = HiveEditor::from_hive(hive)
                    .map_err(|e| fail(anyhow!("{winfile}: cannot write to this hive: {e}")))?;
                for w in editor.warnings() {
                    eprintln!("gx-win-reg: warning: {winfile}: {w}");
                }
                self.hives.push((key, OpenHive { winfile, editor }));
                self.hives.len() - 1
            }
        };
        Ok((&mut self.hives[i].1.editor, target.path))
    }
}

/// `--merge DISK [FILE.reg...]`.
fn merge(
    disk: &str,
    files: &[String],
    format: Option<gx_guestfs::Format>,
    connect: Option<String>,
    encoding: StringEncoding,
    debug: bool,
) -> Result<i32> {
    let engine = match std::env::var("GX_ENGINE") {
        Ok(e) if !e.is_empty() => e.parse().context("GX_ENGINE")?,
        _ => Engine::Auto,
    };
    let common = Common {
        drives: vec![drive_arg(disk, format)],
        connect,
        verbose: debug,
        engine,
        ..Default::default()
    };
    // Read-write, so that an image a running VM holds is refused now.
    let mut g = common.launch(false)?;
    let systemroot = inspect_and_mount(&mut g)?;
    let opts = ImportOptions { encoding };
    let mut target = GuestHives {
        g: &g,
        systemroot,
        hives: Vec::new(),
        debug,
    };
    if files.is_empty() {
        let stdin = std::io::stdin();
        import(stdin.lock(), "stdin", &mut target, &opts)?;
    } else {
        for f in files {
            let file = std::fs::File::open(f).with_context(|| format!("open: {f}"))?;
            import(BufReader::new(file), f, &mut target, &opts)?;
        }
    }
    // Write every changed hive and read it back before the guest is touched.
    let mut uploads = Vec::new();
    for (_, h) in target.hives {
        if !h.editor.is_modified() {
            continue;
        }
        let bytes = h
            .editor
            .commit()
            .with_context(|| format!("{}: writing the changed hive", h.winfile))?;
        verify_hive(&bytes).with_context(|| {
            format!(
                "{}: the changed hive does not read back (nothing was written to the guest)",
                h.winfile
            )
        })?;
        uploads.push((h.winfile, bytes));
    }
    if uploads.is_empty() {
        if debug {
            eprintln!("nothing changed: the guest is left as it was");
        }
        return Ok(0);
    }
    upload_hives(&mut g, &uploads, debug)?;
    Ok(0)
}

fn import(
    input: impl BufRead,
    name: &str,
    target: &mut GuestHives<'_>,
    opts: &ImportOptions,
) -> Result<()> {
    let stats =
        gx_hive::reg_import(input, name, target, opts).map_err(|e| anyhow!("{}", e.message))?;
    if target.debug {
        eprintln!("{name}: {stats:?}");
    }
    Ok(())
}

/// Opens a committed hive with our reader and reads every key and value.
fn verify_hive(bytes: &[u8]) -> Result<()> {
    let h = Hive::open(bytes.to_vec())?;
    if let Some(w) = h.warnings().first() {
        bail!("{w}");
    }
    h.walk(h.root(), &WalkOptions::default(), |e| {
        for v in e.node.values()? {
            v.data()?;
        }
        Ok(Visit::Continue)
    })?;
    Ok(())
}

/// Mounts the guest's filesystems read-write (in the appliance: the direct
/// engine never writes) and uploads each hive over the old one.
fn upload_hives(g: &mut Handle, uploads: &[(String, Vec<u8>)], debug: bool) -> Result<()> {
    let root = g
        .inspect_get_roots()?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("the guest's root was lost after inspection"))?;
    g.umount_all()?;
    for (mp, dev) in mountpoints(g, &root)? {
        g.mount(&dev, &mp)
            .with_context(|| format!("mounting {dev} on {mp} read-write"))?;
    }
    for (winfile, bytes) in uploads {
        if debug {
            eprintln!("uploading {winfile} ...");
        }
        g.upload(&mut bytes.as_slice(), winfile)
            .map_err(|e| anyhow!("{winfile}: could not upload registry file: {e}"))?;
    }
    g.sync()?;
    g.shutdown()?;
    Ok(())
}

fn download_hive(g: &Handle, hivefile: &str, debug: bool) -> Result<Hive> {
    Ok(download_hive_file(g, hivefile, debug)?.1)
}

/// Reads a hive from the guest: its path with the guest's case, and the
/// parsed hive.
fn download_hive_file(g: &Handle, hivefile: &str, debug: bool) -> Result<(String, Hive)> {
    let winfile = g
        .case_sensitive_path(hivefile)
        .map_err(|e| anyhow!("{hivefile}: could not download registry file: {e}"))?;
    if debug {
        eprintln!("downloading {winfile} ...");
    }
    let st = g
        .statns(&winfile)
        .map_err(|e| anyhow!("{winfile}: could not download registry file: {e}"))?;
    if u64::try_from(st.st_size).map_or(true, |s| s > MAX_HIVE) {
        bail!("{winfile}: registry file is larger than {MAX_HIVE} bytes");
    }
    let hive =
        match gx_guestfs::inspect::read_hive(g, &winfile, u64::try_from(st.st_size).unwrap_or(0)) {
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
    Ok((winfile, hive))
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

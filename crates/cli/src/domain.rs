//! libvirt domains (`-d NAME` with `-c URI`): the domain XML is read with
//! `virsh dumpxml` when virsh exists, else from libvirt's configuration
//! directory; its `<disk>` elements give the images, their formats and
//! read-only flags. Only local file and block disks are supported.

use anyhow::{Context, Result, bail};
use quick_xml::events::Event;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One disk of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDisk {
    pub path: PathBuf,
    /// `<driver type=...>` (raw, qcow2, ...).
    pub format: Option<String>,
    /// `<readonly/>` present.
    pub readonly: bool,
}

/// A domain's disks and whether it is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub uuid: Option<String>,
    pub disks: Vec<DomainDisk>,
    pub running: bool,
}

fn virsh() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("virsh"))
            .find(|c| c.is_file())
    })
}

/// libvirt's directories for a URI: (config dir, run dir).
fn dirs(uri: Option<&str>) -> (PathBuf, PathBuf) {
    let session =
        uri.is_some_and(|u| u.ends_with("/session")) || (uri.is_none() && nix_is_not_root());
    if session {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let run = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cache"));
        (
            home.join(".config/libvirt/qemu"),
            run.join("libvirt/qemu/run"),
        )
    } else {
        (
            PathBuf::from("/etc/libvirt/qemu"),
            PathBuf::from("/run/libvirt/qemu"),
        )
    }
}

fn nix_is_not_root() -> bool {
    !nix::unistd::Uid::effective().is_root()
}

/// Load a domain by name.
pub fn load(name: &str, uri: Option<&str>) -> Result<Domain> {
    // libvirt's test driver (`test:///path/node.xml`): the domains are those
    // of that file, read here without libvirt, as libguestfs's own tests use
    // it. Its domains count as running, as the test driver starts them,
    // unless the file gives another `<test:runstate>` (5: shut off).
    if let Some(file) = uri.and_then(|u| u.strip_prefix("test://")) {
        if file.starts_with('/') {
            let xml = std::fs::read_to_string(file)
                .with_context(|| format!("-d {name}: reading libvirt test driver file {file}"))?;
            // Other domains may lack disks (libguestfs's guests.xml has
            // one): only the named one must have them.
            for one in node_domains(&xml)? {
                let mut dom = parse_any(one)?;
                if dom.name == name {
                    if dom.disks.is_empty() {
                        bail!("libvirt domain {name} has no disks");
                    }
                    dom.running = test_runstate(one)? != Some(VIR_DOMAIN_SHUTOFF);
                    return Ok(dom);
                }
            }
            bail!("-d {name}: no domain with this name in {file}");
        }
    }
    if let Some(virsh) = virsh() {
        let mut cmd = Command::new(&virsh);
        if let Some(u) = uri {
            cmd.arg("-c").arg(u);
        }
        let out = cmd
            .arg("dumpxml")
            .arg(name)
            .output()
            .with_context(|| format!("running {}", virsh.display()))?;
        if !out.status.success() {
            bail!(
                "-d {name}: virsh dumpxml failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut dom = parse(&String::from_utf8_lossy(&out.stdout))?;
        let mut st = Command::new(&virsh);
        if let Some(u) = uri {
            st.arg("-c").arg(u);
        }
        dom.running = st
            .arg("domstate")
            .arg(name)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() != "shut off")
            .unwrap_or(false);
        return Ok(dom);
    }
    let (config, run) = dirs(uri);
    let file = config.join(format!("{name}.xml"));
    let xml = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "-d {name}: no virsh on this machine and cannot read the domain's XML at {}",
            file.display()
        )
    })?;
    let mut dom = parse(&xml)?;
    dom.running = run.join(format!("{name}.xml")).exists();
    Ok(dom)
}

/// The names of every domain, running or not, sorted as virt-df lists them
/// when no -a or -d is given (by name, byte order).
pub fn list_all(uri: Option<&str>) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let test_file = uri
        .and_then(|u| u.strip_prefix("test://"))
        .filter(|f| f.starts_with('/'));
    if let Some(file) = test_file {
        let xml = std::fs::read_to_string(file)
            .with_context(|| format!("reading libvirt test driver file {file}"))?;
        for one in node_domains(&xml)? {
            names.push(parse_any(one)?.name);
        }
    } else if let Some(virsh) = virsh() {
        let mut cmd = Command::new(&virsh);
        if let Some(u) = uri {
            cmd.arg("-c").arg(u);
        }
        let out = cmd
            .args(["list", "--all", "--name"])
            .output()
            .with_context(|| format!("running {}", virsh.display()))?;
        if !out.status.success() {
            bail!(
                "listing libvirt domains: virsh list failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        names.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    } else {
        let (config, _) = dirs(uri);
        // No virsh and no configuration directory: no libvirt to ask (virt-df
        // fails to connect there too).
        let rd = std::fs::read_dir(&config).with_context(|| {
            format!(
                "cannot list libvirt domains: no virsh on this machine and no {} (give disks with -a or a domain with -d)",
                config.display()
            )
        })?;
        for e in rd.flatten() {
            let p = e.path();
            if let (Some("xml"), Some(stem)) =
                (p.extension().and_then(|x| x.to_str()), p.file_stem())
            {
                names.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// The `<domain>` elements of a libvirt test driver file (a `<node>`), as
/// text, or the document itself when it is a single domain.
fn node_domains(xml: &str) -> Result<Vec<&str>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let ev = reader
            .read_event()
            .context("parsing libvirt test driver XML")?;
        match &ev {
            Event::Start(e) if AsRef::<str>::as_ref(&e.name()) == "domain" && start.is_none() => {
                start = Some(before);
            }
            Event::End(e) if AsRef::<str>::as_ref(&e.name()) == "domain" => {
                if let Some(b) = start.take() {
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    if let Some(text) = xml.get(b..end) {
                        out.push(text);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// libvirt's `VIR_DOMAIN_SHUTOFF`: the one test-driver run state in which a
/// domain is not active.
const VIR_DOMAIN_SHUTOFF: u32 = 5;

/// The test driver's `<test:runstate>N</test:runstate>` of one domain, if
/// the file gives it.
fn test_runstate(domain_xml: &str) -> Result<Option<u32>> {
    let mut reader = quick_xml::Reader::from_str(domain_xml);
    let mut inside = false;
    loop {
        match reader
            .read_event()
            .context("parsing libvirt test driver XML")?
        {
            Event::Start(e) => inside = AsRef::<str>::as_ref(&e.local_name()) == "runstate",
            Event::Text(t) if inside => {
                let v = AsRef::<str>::as_ref(&t).trim().to_string();
                let n = v
                    .parse()
                    .with_context(|| format!("libvirt test driver XML: runstate ‘{v}’"))?;
                return Ok(Some(n));
            }
            Event::End(_) => inside = false,
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

/// Parse domain XML: the name, UUID and every `<disk type="file|block">`'s
/// source, driver type and readonly flag. Network disks are refused, and
/// so is a domain without disks.
pub fn parse(xml: &str) -> Result<Domain> {
    let dom = parse_any(xml)?;
    if dom.disks.is_empty() {
        bail!("libvirt domain {} has no disks", dom.name);
    }
    Ok(dom)
}

/// [`parse`], accepting a domain without disks.
fn parse_any(xml: &str) -> Result<Domain> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut name = None;
    let mut uuid = None;
    let mut disks = Vec::new();
    let mut cur: Option<(Option<PathBuf>, Option<String>, bool, String)> = None;
    let mut text_target: Option<&'static str> = None;
    loop {
        let ev = reader.read_event().context("parsing libvirt domain XML")?;
        let (start, empty) = match &ev {
            Event::Start(_) => (true, false),
            Event::Empty(_) => (true, true),
            _ => (false, false),
        };
        if start {
            let (Event::Start(e) | Event::Empty(e)) = &ev else {
                unreachable!()
            };
            let tag = AsRef::<str>::as_ref(&e.name()).to_string();
            let attr = |k: &str| -> Option<String> {
                e.attributes()
                    .flatten()
                    .find(|a| AsRef::<str>::as_ref(&a.key) == k)
                    .and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    })
            };
            let depth = path.len();
            match (depth, tag.as_str()) {
                (1, "name") => text_target = Some("name"),
                (1, "uuid") => text_target = Some("uuid"),
                (2, "disk") if path.get(1).map(String::as_str) == Some("devices") => {
                    let kind = attr("type").unwrap_or_default();
                    let device = attr("device").unwrap_or_else(|| "disk".into());
                    cur = Some((None, None, false, format!("{kind}/{device}")));
                }
                (3, "source") => {
                    if let Some(c) = cur.as_mut() {
                        c.0 = attr("file").or_else(|| attr("dev")).map(PathBuf::from);
                    }
                }
                (3, "driver") => {
                    if let Some(c) = cur.as_mut() {
                        c.1 = attr("type");
                    }
                }
                (3, "readonly") => {
                    if let Some(c) = cur.as_mut() {
                        c.2 = true;
                    }
                }
                _ => {}
            }
            if !empty {
                path.push(tag);
            } else if tag == "disk" {
                finish_disk(&mut cur, &mut disks)?;
            }
            continue;
        }
        match ev {
            Event::Text(t) => {
                let s = t.trim().to_string();
                match text_target.take() {
                    Some("name") => name = Some(s),
                    Some("uuid") => uuid = Some(s),
                    _ => {}
                }
            }
            Event::End(e) => {
                text_target = None;
                if AsRef::<str>::as_ref(&e.name()) == "disk" && path.len() == 3 {
                    finish_disk(&mut cur, &mut disks)?;
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let Some(name) = name else {
        bail!("libvirt domain XML has no <name>");
    };
    Ok(Domain {
        name,
        uuid,
        disks,
        running: false,
    })
}

fn finish_disk(
    cur: &mut Option<(Option<PathBuf>, Option<String>, bool, String)>,
    disks: &mut Vec<DomainDisk>,
) -> Result<()> {
    if let Some((source, format, readonly, kind)) = cur.take() {
        let (ty, device) = kind.split_once('/').unwrap_or((kind.as_str(), "disk"));
        if device == "floppy" {
            return Ok(());
        }
        match (ty, source) {
            ("file" | "block", Some(p)) => disks.push(DomainDisk {
                path: p,
                format,
                readonly,
            }),
            // An empty CD-ROM drive has no source: nothing to add.
            ("file" | "block", None) => {}
            (other, _) => bail!(
                "libvirt disk of type '{other}' is not supported (only local files and block devices)"
            ),
        }
    }
    Ok(())
}

/// True if `p` names an existing file (for old-style positional disk arguments).
pub fn looks_like_image(p: &str) -> bool {
    p.contains('/') || Path::new(p).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_disks() {
        let xml = r#"<domain type='kvm'>
  <name>guest1</name>
  <uuid>0d8e3e2a-1111-2222-3333-444455556666</uuid>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/guest1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/vg/data'/>
      <readonly/>
    </disk>
  </devices>
</domain>"#;
        let d = parse(xml).unwrap();
        assert_eq!(d.name, "guest1");
        assert_eq!(
            d.uuid.as_deref(),
            Some("0d8e3e2a-1111-2222-3333-444455556666")
        );
        assert_eq!(d.disks.len(), 2);
        assert_eq!(d.disks[0].format.as_deref(), Some("qcow2"));
        assert!(!d.disks[0].readonly);
        assert_eq!(d.disks[1].path, PathBuf::from("/dev/vg/data"));
        assert!(d.disks[1].readonly);
    }

    #[test]
    fn network_disks_are_refused() {
        let xml = "<domain><name>n</name><devices><disk type='network' device='disk'><source protocol='nbd' name='x'/></disk></devices></domain>";
        assert!(parse(xml).is_err());
    }

    #[test]
    fn test_driver_lists_every_domain_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.xml");
        std::fs::write(
            &file,
            "<node><domain type='test'><name>zeta</name><devices/></domain>\
             <domain type='test'><name>alpha</name><devices><disk type='file' device='disk'>\
             <source file='/nonexistent.img'/></disk></devices></domain>\
             <domain type='test'><name>Mid</name></domain></node>",
        )
        .unwrap();
        let uri = format!("test://{}", file.display());
        assert_eq!(list_all(Some(&uri)).unwrap(), ["Mid", "alpha", "zeta"]);
        // A domain without disks elsewhere in the file does not stop -d;
        // naming it is an error.
        let alpha = load("alpha", Some(&uri)).unwrap();
        assert_eq!(alpha.disks[0].path, PathBuf::from("/nonexistent.img"));
        assert!(load("zeta", Some(&uri)).is_err());
    }
}

//! gx-inspector: display the operating systems in a disk image as XML, like
//! virt-inspector (same elements, same order, same values), or run an XPath
//! query over such XML read on stdin (`--xpath`).
//!
//! `<icon>` holds the guest's logo as virt-inspector finds it
//! (`inspect_get_icon` without the favicon; see gx-guestfs's inspect/icon.rs
//! for the guests whose icons need external tools and are left out);
//! `--no-icon` leaves it out.

mod json;
mod xml;
mod xpath;

use anyhow::{Result, bail};
use gx_cli::Common;
use gx_guestfs::Handle;
use std::io::{Read, Write};
use xml::Element;

fn main() {
    gx_cli::run("gx-inspector", real_main)
}

const NO_OS: &str = "no operating system could be detected inside this disk image.\n\nThis may be because the file is not a disk image, or is not a virtual machine\nimage, or because the OS type is not understood by guestx.\n\nIf you feel this is an error, please file a bug report including as much\ninformation about the disk image as possible.";

fn real_main() -> Result<i32> {
    let cmd = gx_tools::cli::inspector::command();
    let m = gx_cli::parse(cmd);
    let mut common = Common::from_matches(&m)?;
    let apps = !m.get_flag("no-applications");
    let icon = !m.get_flag("no-icon");

    if let Some(q) = m.get_one::<String>("xpath") {
        if !common.drives.is_empty() {
            bail!("cannot use --xpath together with other options.");
        }
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let root = xml::parse(&input)?;
        let out = xpath::run(&root, q)?;
        std::io::stdout().lock().write_all(out.as_bytes())?;
        return Ok(0);
    }

    // Old virt-inspector style: bare image names (or domain names).
    if let Some(images) = m.get_many::<String>("images") {
        for a in images {
            let source = if gx_cli::domain::looks_like_image(a) {
                gx_cli::Source::File(a.into())
            } else {
                gx_cli::Source::Domain(a.clone())
            };
            common.drives.push(gx_cli::DriveArg {
                source,
                format: None,
            });
        }
    }
    if common.drives.is_empty() {
        bail!("you must specify at least one -a or -d option.");
    }
    let mut g = common.launch(true)?;
    let roots = g.inspect_os()?;
    if roots.is_empty() {
        bail!(NO_OS);
    }
    let mut oses = Element::new("operatingsystems");
    for root in &roots {
        oses.push(output_root(&mut g, root, apps, icon)?);
    }
    if m.get_flag("json") {
        let doc = json::document(&oses).to_pretty();
        std::io::stdout().lock().write_all(doc.as_bytes())?;
        return Ok(0);
    }
    let doc = xml::document(&oses)?;
    std::io::stdout().lock().write_all(doc.as_bytes())?;
    Ok(0)
}

fn output_root(g: &mut Handle, root: &str, apps: bool, icon: bool) -> Result<Element> {
    let mut os = Element::new("operatingsystem");
    os.push(Element::leaf("root", g.canonical_device_name(root)));
    let opt = |os: &mut Element, name: &str, v: String| {
        if v != "unknown" {
            os.push(Element::leaf(name, v));
        }
    };
    opt(&mut os, "name", g.inspect_get_type(root)?);
    opt(&mut os, "arch", g.inspect_get_arch(root)?);
    opt(&mut os, "distro", g.inspect_get_distro(root)?);
    opt(&mut os, "product_name", g.inspect_get_product_name(root)?);
    opt(
        &mut os,
        "product_variant",
        g.inspect_get_product_variant(root)?,
    );
    os.push(Element::leaf(
        "major_version",
        g.inspect_get_major_version(root)?.to_string(),
    ));
    os.push(Element::leaf(
        "minor_version",
        g.inspect_get_minor_version(root)?.to_string(),
    ));
    opt(
        &mut os,
        "package_format",
        g.inspect_get_package_format(root)?,
    );
    opt(
        &mut os,
        "package_management",
        g.inspect_get_package_management(root)?,
    );
    if let Ok(s) = g.inspect_get_windows_systemroot(root) {
        os.push(Element::leaf("windows_systemroot", s));
    }
    if let Ok(s) = g.inspect_get_windows_current_control_set(root) {
        os.push(Element::leaf("windows_current_control_set", s));
    }
    opt(&mut os, "hostname", g.inspect_get_hostname(root)?);
    opt(&mut os, "osinfo", g.inspect_get_osinfo(root)?);

    let mut mps = g.inspect_get_mountpoints(root)?;
    // Shortest mountpoint first, then by name: a stable order.
    mps.sort_by(|a, b| {
        a.0.len()
            .cmp(&b.0.len())
            .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
    });
    let mut e = Element::new("mountpoints");
    for (mp, dev) in &mps {
        let mut m = Element::leaf("mountpoint", mp.clone());
        m.attrs.push(("dev".into(), g.canonical_device_name(dev)));
        e.push(m);
    }
    os.push(e);

    let mut fses = g.inspect_get_filesystems(root)?;
    fses.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut e = Element::new("filesystems");
    for fs in &fses {
        let mut f = Element::new("filesystem").attr("dev", g.canonical_device_name(fs));
        for (name, v) in [
            ("type", g.vfs_type(fs)),
            ("label", g.vfs_label(fs)),
            ("uuid", g.vfs_uuid(fs)),
        ] {
            if let Ok(v) = v {
                if !v.is_empty() {
                    f.push(Element::leaf(name, v));
                }
            }
        }
        e.push(f);
    }
    os.push(e);

    if let Ok(mut dm) = g.inspect_get_drive_mappings(root) {
        if !dm.is_empty() {
            dm.sort_by_key(|a| a.0.to_lowercase());
            let mut e = Element::new("drive_mappings");
            for (letter, dev) in dm {
                e.push(
                    Element::leaf("drive_mapping", g.canonical_device_name(&dev))
                        .attr("name", letter),
                );
            }
            os.push(e);
        }
    }

    // Applications and the icon are read from the mounted guest.
    if apps || icon {
        gx_cli::inspect::mount_root(g, root, "gx-inspector")?;
    }
    if apps {
        let list = g.inspect_list_applications2(root)?;
        let mut e = Element::new("applications");
        for a in list {
            let mut x = Element::new("application");
            x.push(Element::leaf("name", a.app2_name));
            let mut opt = |n: &str, v: String| {
                if !v.is_empty() {
                    x.push(Element::leaf(n, v));
                }
            };
            opt("display_name", a.app2_display_name);
            opt(
                "epoch",
                if a.app2_epoch != 0 {
                    a.app2_epoch.to_string()
                } else {
                    String::new()
                },
            );
            opt("version", a.app2_version);
            opt("release", a.app2_release);
            opt("arch", a.app2_arch);
            opt("install_path", a.app2_install_path);
            opt("publisher", a.app2_publisher);
            opt("url", a.app2_url);
            opt("source_package", a.app2_source_package);
            opt("summary", a.app2_summary);
            opt("description", a.app2_description);
            e.push(x);
        }
        os.push(e);
    }
    if icon {
        // As virt-inspector asks: no favicon (16x16 in the base of some
        // distributions), any quality.
        let png = g.inspect_get_icon(
            root,
            gx_guestfs::InspectGetIconOpts {
                favicon: Some(false),
                highquality: Some(false),
            },
        )?;
        if !png.is_empty() {
            os.push(Element::base64_leaf("icon", &png));
        }
    }
    if apps || icon {
        g.umount_all()?;
    }
    Ok(os)
}

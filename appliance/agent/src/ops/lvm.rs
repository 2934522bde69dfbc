//! LVM and encrypted devices: lvm(8) with a configuration of the agent's own
//! that only scans the user's disks and opened encrypted devices, the LVM
//! calls with libguestfs's output formats, the device-mapper list, and
//! cryptsetup.
//!
//! Must not: let lvm see the helper disk, pass a key anywhere but on
//! cryptsetup's standard input, or log it.

use std::fs;
use std::path::Path;

use gx_protocol::{CryptsetupOpenOpts, LvmLv, LvmPv, LvmVg};

use super::devices::{self, disks, to_guest_dev, to_user_dev};
use super::run::{self, LVM_SYSTEM_DIR};
use super::{Ops, R, err, fail};

/// The configuration: no udev, no lvmetad or polling daemon, no metadata
/// backups in the appliance, and a filter that accepts the user's disks,
/// their partitions and device-mapper devices (opened LUKS volumes), and
/// rejects everything else (libguestfs does the same with its filter).
fn config(disks: &[String]) -> String {
    let mut filter: Vec<String> = Vec::new();
    for d in disks {
        filter.push(format!("\"a|^/dev/{d}$|\""));
        filter.push(format!("\"a|^/dev/{d}[0-9]|\""));
    }
    filter.push("\"a|^/dev/mapper/|\"".into());
    filter.push("\"a|^/dev/dm-|\"".into());
    filter.push("\"r|.*|\"".into());
    let filter = filter.join(", ");
    format!(
        "devices {{\n  use_devicesfile = 0\n  obtain_device_list_from_udev = 0\n  \
         filter = [ {filter} ]\n  global_filter = [ {filter} ]\n}}\n\
         activation {{\n  udev_sync = 0\n  udev_rules = 0\n  monitoring = 0\n}}\n\
         global {{\n  use_lvmpolld = 0\n  locking_dir = \"/run/lock/lvm\"\n}}\n\
         backup {{\n  backup = 0\n  archive = 0\n}}\n"
    )
}

/// A volume group or logical volume name as lvm takes it on its command
/// line: never one that lvm would read as an option.
fn name_arg(n: &str) -> R<&str> {
    if n.is_empty() || n.starts_with('-') {
        return Err(err(libc::EINVAL, format!("{n:?}: not a valid LVM name")));
    }
    Ok(n)
}

/// lvm's output lines, trimmed, without blanks and its "unknown device".
fn lines(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "unknown device")
        .map(str::to_string)
        .collect()
}

/// libguestfs's FUUID: lvm's UUID without its dashes, 32 characters.
fn fuuid(u: &str) -> R<String> {
    let s: String = u.chars().filter(|c| *c != '-').collect();
    if s.len() != 32 {
        return Err(err(
            libc::EIO,
            format!("lvm-full: unexpected UUID format: {u:?}"),
        ));
    }
    Ok(s)
}

fn num<T: std::str::FromStr>(field: &str, s: &str) -> R<T> {
    s.trim()
        .parse()
        .map_err(|_| err(libc::EIO, format!("lvm-full: {field}: not a number: {s:?}")))
}

/// An optional percentage: empty is -1 (libguestfs's "not set").
fn percent(s: &str) -> R<f32> {
    if s.trim().is_empty() {
        Ok(-1.0)
    } else {
        num("percent", s)
    }
}

const PV_COLS: &str = "pv_name,pv_uuid,pv_fmt,pv_size,dev_size,pv_free,pv_used,pv_attr,\
pv_pe_count,pv_pe_alloc_count,pv_tags,pe_start,pv_mda_count,pv_mda_free";
const VG_COLS: &str = "vg_name,vg_uuid,vg_fmt,vg_attr,vg_size,vg_free,vg_sysid,\
vg_extent_size,vg_extent_count,vg_free_count,max_lv,max_pv,pv_count,lv_count,snap_count,\
vg_seqno,vg_tags,vg_mda_count,vg_mda_free";
const LV_COLS: &str = "lv_name,lv_uuid,lv_attr,lv_major,lv_minor,lv_kernel_major,\
lv_kernel_minor,lv_size,seg_count,origin,snap_percent,copy_percent,move_pv,lv_tags,\
mirror_log,modules";

/// The fields of each line of a `*_full` listing (separated by `\r`, which
/// no field contains), checked against the expected count.
fn rows(out: &str, want: usize) -> R<Vec<Vec<String>>> {
    // Not lines(): it would take a "\r" before the "\n" (an empty last
    // field) for a CRLF line end.
    out.split('\n')
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<String> = l.split('\r').map(str::to_string).collect();
            if f.len() == want {
                Ok(f)
            } else {
                Err(err(
                    libc::EIO,
                    format!("lvm-full: {} fields where {want} were expected", f.len()),
                ))
            }
        })
        .collect()
}

impl Ops {
    /// Device-mapper modules and the configuration, before any lvm run.
    pub(super) fn lvm_ready(&mut self) -> R<()> {
        self.need_modules("dm");
        let d = disks();
        if self.lvm_config_for.as_ref() != Some(&d) {
            fs::create_dir_all(LVM_SYSTEM_DIR)
                .and_then(|()| fs::write(Path::new(LVM_SYSTEM_DIR).join("lvm.conf"), config(&d)))
                .map_err(|e| fail(e, "writing the LVM configuration"))?;
            self.lvm_config_for = Some(d);
        }
        if !run::have("lvm") {
            return Err(err(libc::ENOSYS, "lvm is not in this appliance"));
        }
        Ok(())
    }

    fn lvm(&mut self, args: &[&str]) -> R<String> {
        self.lvm_ready()?;
        run::prog("lvm").args(args).run()
    }

    /// Activates every volume group, once per session: libguestfs's appliance
    /// does it at boot, so `/dev/VG/LV` names just work. Failures are left to
    /// the call that needed the volume.
    pub fn lvm_activate_once(&mut self) {
        if self.lvm_activated {
            return;
        }
        self.lvm_activated = true;
        if self.lvm_ready().is_ok() {
            let _ = run::prog("lvm").args(["vgchange", "-a", "y"]).run();
        }
    }

    fn devs(&mut self, list: &[String]) -> R<Vec<String>> {
        list.iter().map(|d| self.device(d)).collect()
    }

    pub fn pvcreate(&mut self, dev: &str) -> R<()> {
        let g = self.device(dev)?;
        self.lvm(&["pvcreate", "--force", "--yes", &g]).map(|_| ())
    }

    pub fn vgcreate(&mut self, vg: &str, pvs: &[String]) -> R<()> {
        let pvs = self.devs(pvs)?;
        let mut a = vec!["vgcreate", name_arg(vg)?];
        a.extend(pvs.iter().map(String::as_str));
        self.lvm(&a).map(|_| ())
    }

    pub fn lvcreate(&mut self, lv: &str, vg: &str, mbytes: i32) -> R<()> {
        let size = mbytes.to_string();
        self.lvm(&[
            "lvcreate",
            "--yes",
            "-L",
            &size,
            "-n",
            name_arg(lv)?,
            name_arg(vg)?,
        ])
        .map(|_| ())
    }

    pub fn lvcreate_free(&mut self, lv: &str, vg: &str, percent: i32) -> R<()> {
        if !(0..=100).contains(&percent) {
            return Err(err(
                libc::EINVAL,
                format!("percentage must be [0..100] (was {percent})"),
            ));
        }
        let size = format!("{percent}%FREE");
        self.lvm(&[
            "lvcreate",
            "--yes",
            "-l",
            &size,
            "-n",
            name_arg(lv)?,
            name_arg(vg)?,
        ])
        .map(|_| ())
    }

    pub fn lvresize(&mut self, dev: &str, mbytes: i32) -> R<()> {
        let g = self.device(dev)?;
        self.lvm_ready()?;
        let size = mbytes.to_string();
        let out = run::prog("lvm")
            .args(["lvresize", "--force", "-L", &size, &g])
            .output()?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        // Asking for the current size is not an error (lvm says it is).
        if out.status.success()
            || (said.contains("New size (") && said.contains("matches existing size ("))
        {
            return Ok(());
        }
        Err(err(libc::EIO, run::failure("lvm lvresize", &out)))
    }

    pub fn lvresize_free(&mut self, lv: &str, percent: i32) -> R<()> {
        if !(0..=100).contains(&percent) {
            return Err(err(
                libc::EINVAL,
                format!("percentage must be [0..100] (was {percent})"),
            ));
        }
        let g = self.device(lv)?;
        let size = format!("+{percent}%FREE");
        self.lvm(&["lvresize", "-l", &size, &g]).map(|_| ())
    }

    pub fn pvresize(&mut self, dev: &str) -> R<()> {
        let g = self.device(dev)?;
        self.lvm(&["pvresize", &g]).map(|_| ())
    }

    pub fn lvremove(&mut self, dev: &str) -> R<()> {
        // /dev/VG names the whole volume group: every LV in it goes.
        let g = to_guest_dev(dev);
        let target = match g.strip_prefix("/dev/") {
            Some(vg) if !vg.contains('/') && !vg.starts_with('.') && Path::new(&g).is_dir() => {
                name_arg(vg)?.to_string()
            }
            _ => self.device(dev)?,
        };
        self.lvm(&["lvremove", "-f", &target]).map(|_| ())
    }

    pub fn vgremove(&mut self, vg: &str) -> R<()> {
        self.lvm(&["vgremove", "-f", name_arg(vg)?]).map(|_| ())
    }

    pub fn pvremove(&mut self, dev: &str) -> R<()> {
        let g = self.device(dev)?;
        self.lvm(&["pvremove", "-ff", &g]).map(|_| ())
    }

    pub fn lvrename(&mut self, lv: &str, new: &str) -> R<()> {
        self.lvm(&["lvrename", name_arg(lv)?, name_arg(new)?])
            .map(|_| ())
            .map_err(|mut e| {
                e.message = format!("{lv} -> {new}: {}", e.message);
                e
            })
    }

    pub fn vgrename(&mut self, vg: &str, new: &str) -> R<()> {
        self.lvm(&["vgrename", name_arg(vg)?, name_arg(new)?])
            .map(|_| ())
            .map_err(|mut e| {
                e.message = format!("{vg} -> {new}: {}", e.message);
                e
            })
    }

    pub fn lvm_remove_all(&mut self) -> R<()> {
        for lv in self.lvs()? {
            let _ = self.lvm(&["lvchange", "-an", &lv]);
            self.lvm(&["lvremove", "-f", &lv])?;
        }
        for vg in self.vgs()? {
            let _ = self.lvm(&["vgchange", "-an", &vg]);
            self.lvm(&["vgremove", "-f", &vg])?;
        }
        let pvs = lines(&self.lvm(&["pvs", "-o", "pv_name", "--noheadings"])?);
        for pv in pvs {
            self.lvm(&["pvremove", "-f", &pv])?;
        }
        Ok(())
    }

    pub fn vg_activate(&mut self, activate: bool, vgs: &[String]) -> R<()> {
        // The caller decides from now on: no activation behind its back.
        self.lvm_activated = true;
        let mut a = vec!["vgchange", "-a", if activate { "y" } else { "n" }];
        for v in vgs {
            a.push(name_arg(v)?);
        }
        self.lvm(&a).map(|_| ())
    }

    pub fn lvm_scan(&mut self, activate: bool) -> R<()> {
        self.lvm_activated = true;
        let mut a = vec!["pvscan", "--cache"];
        if activate {
            a.extend(["--activate", "ay"]);
        }
        self.lvm(&a).map(|_| ())
    }

    /// Public logical volumes (no thin pools or hidden layers, none marked
    /// to skip activation) as /dev/VG/LV, sorted.
    pub fn lvs(&mut self) -> R<Vec<String>> {
        let out = self.lvm(&[
            "lvs",
            "-o",
            "vg_name,lv_name",
            "-S",
            "lv_role=public && lv_skip_activation!=yes",
            "--noheadings",
            "--separator",
            "/",
        ])?;
        let mut v: Vec<String> = lines(&out).iter().map(|l| format!("/dev/{l}")).collect();
        v.sort();
        Ok(v)
    }

    pub fn vgs(&mut self) -> R<Vec<String>> {
        let mut v = lines(&self.lvm(&["vgs", "-o", "vg_name", "--noheadings"])?);
        v.sort();
        Ok(v)
    }

    pub fn pvs(&mut self) -> R<Vec<String>> {
        let out = self.lvm(&["pvs", "-o", "pv_name", "--noheadings"])?;
        let mut v: Vec<String> = lines(&out).iter().map(|p| to_user_dev(p)).collect();
        v.sort();
        Ok(v)
    }

    fn full(&mut self, cmd: &str, cols: &str) -> R<String> {
        self.lvm(&[
            cmd,
            "-o",
            cols,
            "--unbuffered",
            "--noheadings",
            "--nosuffix",
            "--separator",
            "\r",
            "--units",
            "b",
        ])
    }

    pub fn pvs_full(&mut self) -> R<Vec<LvmPv>> {
        let out = self.full("pvs", PV_COLS)?;
        rows(&out, 14)?
            .into_iter()
            .map(|f| {
                Ok(LvmPv {
                    pv_name: to_user_dev(&f[0]),
                    pv_uuid: fuuid(&f[1])?,
                    pv_fmt: f[2].clone(),
                    pv_size: num("pv_size", &f[3])?,
                    dev_size: num("dev_size", &f[4])?,
                    pv_free: num("pv_free", &f[5])?,
                    pv_used: num("pv_used", &f[6])?,
                    pv_attr: f[7].clone(),
                    pv_pe_count: num("pv_pe_count", &f[8])?,
                    pv_pe_alloc_count: num("pv_pe_alloc_count", &f[9])?,
                    pv_tags: f[10].clone(),
                    pe_start: num("pe_start", &f[11])?,
                    pv_mda_count: num("pv_mda_count", &f[12])?,
                    pv_mda_free: num("pv_mda_free", &f[13])?,
                })
            })
            .collect()
    }

    pub fn vgs_full(&mut self) -> R<Vec<LvmVg>> {
        let out = self.full("vgs", VG_COLS)?;
        rows(&out, 19)?
            .into_iter()
            .map(|f| {
                Ok(LvmVg {
                    vg_name: f[0].clone(),
                    vg_uuid: fuuid(&f[1])?,
                    vg_fmt: f[2].clone(),
                    vg_attr: f[3].clone(),
                    vg_size: num("vg_size", &f[4])?,
                    vg_free: num("vg_free", &f[5])?,
                    vg_sysid: f[6].clone(),
                    vg_extent_size: num("vg_extent_size", &f[7])?,
                    vg_extent_count: num("vg_extent_count", &f[8])?,
                    vg_free_count: num("vg_free_count", &f[9])?,
                    max_lv: num("max_lv", &f[10])?,
                    max_pv: num("max_pv", &f[11])?,
                    pv_count: num("pv_count", &f[12])?,
                    lv_count: num("lv_count", &f[13])?,
                    snap_count: num("snap_count", &f[14])?,
                    vg_seqno: num("vg_seqno", &f[15])?,
                    vg_tags: f[16].clone(),
                    vg_mda_count: num("vg_mda_count", &f[17])?,
                    vg_mda_free: num("vg_mda_free", &f[18])?,
                })
            })
            .collect()
    }

    pub fn lvs_full(&mut self) -> R<Vec<LvmLv>> {
        let out = self.full("lvs", LV_COLS)?;
        rows(&out, 16)?
            .into_iter()
            .map(|f| {
                Ok(LvmLv {
                    lv_name: f[0].clone(),
                    lv_uuid: fuuid(&f[1])?,
                    lv_attr: f[2].clone(),
                    lv_major: num("lv_major", &f[3])?,
                    lv_minor: num("lv_minor", &f[4])?,
                    lv_kernel_major: num("lv_kernel_major", &f[5])?,
                    lv_kernel_minor: num("lv_kernel_minor", &f[6])?,
                    lv_size: num("lv_size", &f[7])?,
                    seg_count: num("seg_count", &f[8])?,
                    origin: f[9].clone(),
                    snap_percent: percent(&f[10])?,
                    copy_percent: percent(&f[11])?,
                    move_pv: f[12].clone(),
                    lv_tags: f[13].clone(),
                    mirror_log: f[14].clone(),
                    modules: f[15].clone(),
                })
            })
            .collect()
    }

    /// One field of one object (`lvs -o lv_uuid /dev/VG/LV`), trimmed.
    fn field(&mut self, cmd: &str, field: &str, what: &str) -> R<String> {
        self.lvm(&[
            cmd,
            "--unbuffered",
            "--noheadings",
            "-o",
            field,
            name_arg(what)?,
        ])
        .map(|s| s.trim().to_string())
        .map_err(|mut e| {
            e.message = format!("{what}: {}", e.message);
            e
        })
    }

    pub fn lvuuid(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        self.field("lvs", "lv_uuid", &g)
    }

    pub fn pvuuid(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        self.field("pvs", "pv_uuid", &g)
    }

    pub fn vguuid(&mut self, vg: &str) -> R<String> {
        self.field("vgs", "vg_uuid", vg)
    }

    pub fn vglvuuids(&mut self, vg: &str) -> R<Vec<String>> {
        Ok(lines(&self.field("vgs", "lv_uuid", vg)?))
    }

    pub fn vgpvuuids(&mut self, vg: &str) -> R<Vec<String>> {
        Ok(lines(&self.field("vgs", "pv_uuid", vg)?))
    }

    /// Everything in /dev/mapper that is not a logical volume, sorted.
    pub fn list_dm_devices(&mut self) -> R<Vec<String>> {
        let Ok(rd) = fs::read_dir("/dev/mapper") else {
            // No device-mapper loaded: nothing opened.
            return Ok(Vec::new());
        };
        let mut v: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "control")
            .map(|n| format!("/dev/mapper/{n}"))
            .filter(|d| devices::lv_canonical(d).is_none())
            .collect();
        v.sort();
        Ok(v)
    }

    pub fn is_lv(&mut self, dev: &str) -> R<bool> {
        let g = self.device(dev)?;
        Ok(devices::lv_canonical(&g).is_some())
    }

    pub fn lvm_canonical_lv_name(&mut self, name: &str) -> R<String> {
        let g = self.device(name)?;
        devices::lv_canonical(&g)
            .ok_or_else(|| err(libc::EINVAL, format!("{name}: not a logical volume")))
    }

    pub fn cryptsetup_open(
        &mut self,
        dev: &str,
        key: &str,
        mapname: &str,
        o: &CryptsetupOpenOpts,
    ) -> R<()> {
        if mapname.is_empty() || mapname.contains('/') || mapname == "control" {
            return Err(err(
                libc::EINVAL,
                format!("{mapname}: not a valid map name"),
            ));
        }
        let g = self.device(dev)?;
        self.need_modules("dm");
        let mapped = format!("/dev/mapper/{mapname}");
        if Path::new(&mapped).exists() {
            return Err(err(
                libc::EEXIST,
                format!("{mapped}: device already exists"),
            ));
        }
        let crypttype = match o.crypttype.as_deref() {
            Some(t) => t.to_string(),
            None => match devices::fs_type(&g).as_str() {
                "crypto_LUKS" => "luks".into(),
                "BitLocker" => "bitlk".into(),
                t => {
                    return Err(err(
                        libc::EINVAL,
                        format!("{t}: unknown encrypted device type"),
                    ));
                }
            },
        };
        let mut p = run::prog("cryptsetup").arg("--key-file=-");
        if o.readonly == Some(true) {
            p = p.arg("--readonly");
        }
        p = p.args(["open", &g, mapname, "--type", &crypttype]);
        if let Some(c) = &o.cipher {
            p = p.args(["--cipher", c]);
        }
        // The key goes on standard input only: never an argument, a file or
        // a log line.
        p.stdin_bytes(key.as_bytes().to_vec()).run_ok()?;
        // LVM inside shows up at once, as on the direct engine.
        if devices::fs_type(&mapped) == "LVM2_member" {
            let _ = self.lvm(&["vgchange", "-a", "y"]);
        }
        Ok(())
    }

    pub fn cryptsetup_close(&mut self, dev: &str) -> R<()> {
        let Some(name) = dev.strip_prefix("/dev/mapper/") else {
            return Err(err(
                libc::EINVAL,
                format!(
                    "{dev}: you must call this on the /dev/mapper device created by cryptsetup-open"
                ),
            ));
        };
        self.device(dev)?;
        run::prog("cryptsetup").args(["close", name]).run_ok()
    }

    /// `cryptsetup luksUUID`: the UUID in the LUKS header.
    pub fn luks_uuid(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        let out = run::prog("cryptsetup").args(["luksUUID", &g]).run()?;
        Ok(out.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_accepts_only_the_users_disks() {
        let c = config(&["vda".into(), "vdb".into()]);
        assert!(c.contains("\"a|^/dev/vda$|\", \"a|^/dev/vda[0-9]|\""));
        assert!(c.contains("\"a|^/dev/vdb[0-9]|\""));
        assert!(!c.contains("vdc"));
        assert!(c.contains("\"r|.*|\" ]"));
    }

    #[test]
    fn full_rows_and_uuids() {
        let r = rows("  a\rb\rc\n\n  d\re\r\n", 3).expect("rows");
        assert_eq!(r, vec![vec!["a", "b", "c"], vec!["d", "e", ""]]);
        assert!(rows("a\rb\n", 3).is_err());
        assert_eq!(
            fuuid("Wv1w5b-3vOq-0d8o-mbAz-Hf0h-3b0E-5x6Pn2").expect("uuid"),
            "Wv1w5b3vOq0d8ombAzHf0h3b0E5x6Pn2"
        );
        assert!(fuuid("short").is_err());
        assert_eq!(percent("").expect("empty"), -1.0);
        assert_eq!(percent("12.50").expect("num"), 12.5);
    }
}

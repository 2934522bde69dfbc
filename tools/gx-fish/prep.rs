//! `-N [FILE=]TYPE[:param...]`: prepared disk images, with guestfish's
//! types, parameters, defaults and messages. The file is created (sparse)
//! before launch; after launch the partitions, volumes and filesystems are
//! made through the Handle's calls (which run in the appliance).

use gx_guestfs::{Handle, MkfsOpts};

use crate::PROG;
use crate::context::FishError;

/// One prepared-disk type: its name, description and parameters
/// (name, default, description).
struct Type {
    name: &'static str,
    shortdesc: &'static str,
    longdesc: &'static str,
    params: &'static [(&'static str, &'static str, &'static str)],
}

const SIZE: (&str, &str, &str) = ("size", "1G", "the size of the disk image");
const PART: (&str, &str, &str) = ("partition", "mbr", "partition table type");
const FS: (&str, &str, &str) = ("filesystem", "ext2", "the type of filesystem to use");
const LVNAME: (&str, &str, &str) = ("name", "/dev/VG/LV", "the name of the VG and LV to use");

const TYPES: &[Type] = &[
    Type {
        name: "disk",
        shortdesc: "create a blank disk",
        longdesc: "  Create a blank disk, size 1G (by default).\n\n  The default size can be changed by supplying an optional parameter.",
        params: &[SIZE],
    },
    Type {
        name: "part",
        shortdesc: "create a partitioned disk",
        longdesc: "  Create a disk with a single partition. By default the size of the disk\n  is 1G (the available space in the partition will be a tiny bit smaller)\n  and the partition table will be MBR (old DOS-style).\n\n  These defaults can be changed by supplying optional parameters.",
        params: &[SIZE, PART],
    },
    Type {
        name: "fs",
        shortdesc: "create a filesystem",
        longdesc: "  Create a disk with a single partition, with the partition containing an\n  empty filesystem. This defaults to creating a 1G disk (the available\n  space in the filesystem will be a tiny bit smaller) with an MBR (old\n  DOS-style) partition table and an ext2 filesystem.\n\n  These defaults can be changed by supplying optional parameters.",
        params: &[FS, SIZE, PART],
    },
    Type {
        name: "lv",
        shortdesc: "create a disk with logical volume",
        longdesc: "  Create a disk with a single partition, set up the partition as an LVM2\n  physical volume, and place a volume group and logical volume on there.\n  This defaults to creating a 1G disk with the VG and LV called\n  \"/dev/VG/LV\". You can change the name of the VG and LV by supplying an\n  alternate name as the first optional parameter.\n\n  Note this does not create a filesystem. Use 'lvfs' to do that.",
        params: &[LVNAME, SIZE, PART],
    },
    Type {
        name: "lvfs",
        shortdesc: "create a disk with logical volume and filesystem",
        longdesc: "  Create a disk with a single partition, set up the partition as an LVM2\n  physical volume, and place a volume group and logical volume on there.\n  Then format the LV with a filesystem. This defaults to creating a 1G\n  disk with the VG and LV called \"/dev/VG/LV\", with an ext2 filesystem.",
        params: &[LVNAME, FS, SIZE, PART],
    },
    Type {
        name: "bootroot",
        shortdesc: "create a boot and root filesystem",
        longdesc: "  Create a disk with two partitions, for boot and root filesystem. Format\n  the two filesystems independently. There are several optional parameters\n  which control the exact layout and filesystem types.",
        params: &[
            ("bootfs", "ext2", "the type of filesystem to use for boot"),
            ("rootfs", "ext2", "the type of filesystem to use for root"),
            SIZE,
            ("bootsize", "128M", "the size of the boot filesystem"),
            PART,
        ],
    },
    Type {
        name: "bootrootlv",
        shortdesc: "create a boot and root filesystem using LVM",
        longdesc: "  This is the same as \"bootroot\" but the root filesystem (only) is placed\n  on a logical volume, named by default \"/dev/VG/LV\". There are several\n  optional parameters which control the exact layout.",
        params: &[
            ("name", "/dev/VG/LV", "the name of the VG and LV for root"),
            ("bootfs", "ext2", "the type of filesystem to use for boot"),
            ("rootfs", "ext2", "the type of filesystem to use for root"),
            SIZE,
            ("bootsize", "128M", "the size of the boot filesystem"),
            PART,
        ],
    },
];

/// `-N help`.
pub(crate) fn list_prepared_drives() -> String {
    let mut s = String::from("List of available prepared disk images:\n\n");
    for t in TYPES {
        s.push_str(&format!(
            "{PROG} -N {:<8} - {}\n\n{}\n",
            t.name, t.shortdesc, t.longdesc
        ));
        if !t.params.is_empty() {
            s.push_str("\n  Optional parameters:\n");
            s.push_str(&format!("    -N {}", t.name));
            for (n, _, _) in t.params {
                s.push_str(&format!(":<{n}>"));
            }
            s.push('\n');
            for (n, d, desc) in t.params {
                s.push_str(&format!("      <{n}> {desc} (default: {d})\n"));
            }
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "Prepared disk images are written to file \"test1.img\" in the local\n\
         directory.  (\"test2.img\" etc if -N option is given multiple times).\n\
         You can override the name by providing a filename before the type, eg:\n\
         \n  {PROG} -N blank.img=fs\n\n\
         For more information see the {PROG}(1) manual.\n"
    ));
    s
}

/// A parsed `-N` type string: the type and its parameters (defaults filled in).
#[derive(Debug, Clone)]
pub(crate) struct Prep {
    ty: &'static Type,
    spec: String,
    params: Vec<String>,
}

impl std::fmt::Debug for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Prep {
    /// Parses `TYPE[:param...]`. guestfish matches the type on the letters
    /// given (`boot` is `bootroot`), case-insensitively.
    pub(crate) fn parse(spec: &str) -> Result<Prep, String> {
        let (name, rest) = match spec.split_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (spec, None),
        };
        let ty = TYPES
            .iter()
            .find(|t| t.name.len() >= name.len() && t.name[..name.len()].eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "-N parameter ‘{spec}’: no such prepared disk image known.\n\
                     Use '{PROG} -N help' to list possible values for the -N parameter."
                )
            })?;
        let mut params: Vec<String> = ty.params.iter().map(|p| p.1.to_string()).collect();
        if let Some(rest) = rest {
            let given: Vec<&str> = rest.split(':').collect();
            if given.len() > params.len() {
                return Err(format!(
                    "-N parameter ‘{spec}’: too many parameters for ‘{}’ (at most {})",
                    ty.name,
                    params.len()
                ));
            }
            for (p, g) in params.iter_mut().zip(given) {
                *p = g.to_string();
            }
        }
        let p = Prep {
            ty,
            spec: spec.to_string(),
            params,
        };
        if ["lv", "lvfs", "bootrootlv"].contains(&ty.name) && vg_lv(&p.params[0]).is_none() {
            return Err(p.message("", "incorrect format for LV name, use '/dev/VG/LV'"));
        }
        Ok(p)
    }

    fn param(&self, name: &str) -> &str {
        self.ty
            .params
            .iter()
            .position(|p| p.0 == name)
            .and_then(|i| self.params.get(i))
            .map_or("", String::as_str)
    }

    fn message(&self, filename: &str, what: &str) -> String {
        format!(
            "error creating prepared disk image ‘{}’ on ‘{filename}’: {what}",
            self.spec
        )
    }

    /// Before launch: the sparse image file.
    pub(crate) fn prelaunch(&self, g: &mut Handle, filename: &str) -> Result<(), String> {
        crate::builtins::alloc_disk(g, filename, self.param("size"), false, true).map_err(|e| {
            let detail = match e {
                FishError::Msg(m) => m,
                FishError::Api(e) => e.to_string(),
                _ => String::new(),
            };
            if !detail.is_empty() {
                eprintln!("{detail}");
            }
            self.message(filename, "failed to allocate disk")
        })
    }

    /// After launch: partitions, volumes and filesystems on `device`.
    pub(crate) fn postlaunch(
        &self,
        g: &mut Handle,
        filename: &str,
        device: &str,
    ) -> Result<(), String> {
        let fail = |what: String| self.message(filename, &what);
        let part1 = format!("{device}1");
        let part2 = format!("{device}2");
        let mkfs = |g: &mut Handle, fs: &str, dev: &str| g.mkfs(fs, dev, MkfsOpts::default());
        let lvm = |g: &mut Handle, pv: &str, name: &str| -> Result<(), String> {
            let (vg, lv) = vg_lv(name)
                .ok_or_else(|| fail("incorrect format for LV name, use '/dev/VG/LV'".into()))?;
            g.pvcreate(pv)
                .map_err(|e| fail(format!("failed to create PV: {pv}: {e}")))?;
            g.vgcreate(&vg, &[pv.to_string()])
                .map_err(|e| fail(format!("failed to create VG: {vg}: {e}")))?;
            g.lvcreate_free(&lv, &vg, 100)
                .map_err(|e| fail(format!("failed to create LV: /dev/{vg}/{lv}: {e}")))
        };
        let part_disk = |g: &mut Handle| {
            g.part_disk(device, self.param("partition"))
                .map_err(|e| fail(format!("failed to partition disk: {e}")))
        };
        match self.ty.name {
            "disk" => Ok(()),
            "part" => part_disk(g),
            "fs" => {
                part_disk(g)?;
                let fs = self.param("filesystem");
                mkfs(g, fs, &part1)
                    .map_err(|e| fail(format!("failed to create filesystem ({fs}): {e}")))
            }
            "lv" => {
                part_disk(g)?;
                lvm(g, &part1, self.param("name"))
            }
            "lvfs" => {
                part_disk(g)?;
                lvm(g, &part1, self.param("name"))?;
                let fs = self.param("filesystem");
                mkfs(g, fs, self.param("name"))
                    .map_err(|e| fail(format!("failed to create filesystem ({fs}): {e}")))
            }
            "bootroot" | "bootrootlv" => {
                let bootsize = crate::context::parse_size(self.param("bootsize"))
                    .map_err(|_| fail("could not parse boot size".into()))?;
                let sector = g
                    .blockdev_getss(device)
                    .map_err(|e| fail(format!("failed to get sector size of disk: {e}")))?;
                g.part_init(device, self.param("partition"))
                    .map_err(|e| fail(format!("failed to partition disk: {e}")))?;
                let last_boot = 64 + bootsize / i64::from(sector.max(1)) - 1;
                g.part_add(device, "primary", 64, last_boot)
                    .map_err(|e| fail(format!("failed to add boot partition: {e}")))?;
                g.part_add(device, "primary", last_boot + 1, -64)
                    .map_err(|e| fail(format!("failed to add root partition: {e}")))?;
                mkfs(g, self.param("bootfs"), &part1)
                    .map_err(|e| fail(format!("failed to create boot filesystem: {e}")))?;
                let root = if self.ty.name == "bootroot" {
                    part2
                } else {
                    lvm(g, &part2, self.param("name"))?;
                    self.param("name").to_string()
                };
                mkfs(g, self.param("rootfs"), &root)
                    .map_err(|e| fail(format!("failed to create root filesystem: {e}")))
            }
            _ => Ok(()),
        }
    }
}

/// `/dev/VG/LV` (or `VG/LV`) into (VG, LV).
fn vg_lv(name: &str) -> Option<(String, String)> {
    let d = name.strip_prefix("/dev/").unwrap_or(name);
    let (vg, lv) = d.split_once('/')?;
    Some((vg.to_string(), lv.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_defaults() {
        let p = Prep::parse("fs").unwrap();
        assert_eq!(p.params, ["ext2", "1G", "mbr"]);
        let p = Prep::parse("FS:ext4:100M").unwrap();
        assert_eq!(p.params, ["ext4", "100M", "mbr"]);
        assert_eq!(p.param("size"), "100M");
        assert_eq!(Prep::parse("boot").unwrap().ty.name, "bootroot");
        assert_eq!(Prep::parse("lv").unwrap().ty.name, "lv");
        assert!(Prep::parse("xyz").is_err());
        assert!(Prep::parse("lv:noslash").is_err());
        assert!(Prep::parse("disk:1G:extra").is_err());
        assert_eq!(vg_lv("/dev/VG/LV"), Some(("VG".into(), "LV".into())));
    }
}

//! Partition tables, through the tools libguestfs uses: parted for tables
//! and partitions (its machine-readable `print` for reading), sfdisk for
//! types, GUIDs and MBR ids, sgdisk to move the backup GPT.
//!
//! Must not: guess at a table the tools could not read (their error is the
//! answer), or leave the kernel's view stale (parted and sfdisk tell it).

use gx_protocol::Partition;

use super::{Ops, R, err, run};

/// libguestfs's accepted table types and what parted calls them.
fn canonical_parttype(t: &str) -> Option<&'static str> {
    Some(match t {
        "aix" => "aix",
        "amiga" | "rdb" => "amiga",
        "bsd" => "bsd",
        "dasd" => "dasd",
        "dvh" => "dvh",
        "gpt" | "efi" => "gpt",
        "mac" => "mac",
        "msdos" | "mbr" => "msdos",
        "pc98" => "pc98",
        "sun" => "sun",
        _ => return None,
    })
}

fn bad_parttype() -> crate::CallError {
    err(
        libc::EINVAL,
        "unknown partition type: common choices are \"gpt\" and \"msdos\"",
    )
}

fn check_partnum(n: i32) -> R<()> {
    if n <= 0 {
        Err(err(libc::EINVAL, "partition number must be >= 1"))
    } else {
        Ok(())
    }
}

/// parted in script mode; parted prints some errors on stdout, so both
/// streams make the message.
fn parted(dev: &str, args: &[&str]) -> R<String> {
    let out = run::prog("parted")
        .args(["-s", "--", dev])
        .args(args)
        .output()?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    Err(err(libc::EIO, format!("parted: {dev}{}", run::tail(&said))))
}

/// `parted -m print` in bytes: the device line and the partition lines.
fn print_table(dev: &str) -> R<(String, Vec<String>)> {
    let out = run::prog("parted")
        .args(["-m", "-s", "--", dev, "unit", "b", "print"])
        .output()?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let errno = if said.contains("unrecognised disk label") {
            libc::EINVAL
        } else {
            libc::EIO
        };
        return Err(err(
            errno,
            format!("parted print: {dev}{}", run::tail(&said)),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.trim().lines().map(str::to_string);
    match (lines.next().as_deref(), lines.next()) {
        (Some("BYT;"), Some(device_line)) => Ok((device_line, lines.collect())),
        (Some("BYT;"), None) => Err(err(
            libc::EIO,
            "too few rows of output from 'parted print' command",
        )),
        _ => Err(err(
            libc::EIO,
            "did not see 'BYT;' magic value in 'parted print' command",
        )),
    }
}

/// The fields of a `parted -m` line (`:`-separated, `;` at the end).
fn fields(line: &str) -> Vec<&str> {
    line.trim_end().trim_end_matches(';').split(':').collect()
}

/// The row of partition `n`.
fn row(dev: &str, n: i32) -> R<Vec<String>> {
    let (_, rows) = print_table(dev)?;
    for r in rows {
        let f = fields(&r);
        let num: i32 = f.first().and_then(|x| x.parse().ok()).ok_or_else(|| {
            err(
                libc::EIO,
                format!("could not parse row from output of parted print command: {r}"),
            )
        })?;
        if num == n {
            return Ok(f.into_iter().map(str::to_string).collect());
        }
    }
    Err(err(libc::ENOENT, format!("partition number {n} not found")))
}

fn bytes(s: &str) -> Option<u64> {
    s.strip_suffix('B')?.parse().ok()
}

/// `sfdisk FLAG dev [partnum] [value]`: its output trimmed.
/// `sfdisk FLAG -- dev [partnum] [value]`: its output trimmed. After `--` a
/// value that starts with '-' is still a value.
fn sfdisk(args: &[&str]) -> R<String> {
    let (flag, rest) = args.split_first().unwrap_or((&"", &[]));
    Ok(run::prog("sfdisk")
        .arg(flag)
        .arg("--")
        .args(rest)
        .run()?
        .trim()
        .to_string())
}

impl Ops {
    pub fn part_init(&mut self, dev: &str, parttype: &str) -> R<()> {
        let t = canonical_parttype(parttype).ok_or_else(bad_parttype)?;
        let g = self.device(dev)?;
        parted(&g, &["mklabel", t]).map(|_| ())
    }

    pub fn part_add(&mut self, dev: &str, prlogex: &str, start: i64, end: i64) -> R<()> {
        let kind = match prlogex {
            "primary" | "p" => "primary",
            "logical" | "l" => "logical",
            "extended" | "e" => "extended",
            other => {
                return Err(err(
                    libc::EINVAL,
                    format!(
                        "unknown partition type: {other}: this should be \"primary\", \"logical\" or \"extended\""
                    ),
                ));
            }
        };
        if start < 0 {
            return Err(err(libc::EINVAL, "startsect cannot be negative"));
        }
        let g = self.device(dev)?;
        let (s, e) = (format!("{start}s"), format!("{end}s"));
        parted(&g, &["mkpart", kind, &s, &e]).map(|_| ())
    }

    /// One partition from sector 128 to 128 sectors before the end: 64 KiB
    /// aligned, with room for the backup GPT (libguestfs's layout).
    pub fn part_disk(&mut self, dev: &str, parttype: &str) -> R<()> {
        let t = canonical_parttype(parttype).ok_or_else(bad_parttype)?;
        let g = self.device(dev)?;
        // On GPT, mkpart's first word is the partition's name.
        let name = if t == "gpt" { "p1" } else { "primary" };
        parted(&g, &["mklabel", t, "mkpart", name, "128s", "-128s"]).map(|_| ())
    }

    pub fn part_del(&mut self, dev: &str, n: i32) -> R<()> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        parted(&g, &["rm", &n.to_string()]).map(|_| ())
    }

    pub fn part_resize(&mut self, dev: &str, n: i32, end: i64) -> R<()> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        parted(&g, &["resizepart", &n.to_string(), &format!("{end}s")]).map(|_| ())
    }

    pub fn part_expand_gpt(&mut self, dev: &str) -> R<()> {
        let g = self.device(dev)?;
        run::prog("sgdisk").args(["-e", &g]).run_ok()
    }

    /// sfdisk rather than parted: parted splits a name at its spaces.
    pub fn part_set_name(&mut self, dev: &str, n: i32, name: &str) -> R<()> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        sfdisk(&["--part-label", &g, &n.to_string(), name]).map(|_| ())
    }

    pub fn part_set_bootable(&mut self, dev: &str, n: i32, bootable: bool) -> R<()> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        let on = if bootable { "on" } else { "off" };
        parted(&g, &["set", &n.to_string(), "boot", on]).map(|_| ())
    }

    pub fn part_set_gpt_type(&mut self, dev: &str, n: i32, guid: &str) -> R<()> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        sfdisk(&["--part-type", &g, &n.to_string(), guid]).map(|_| ())
    }

    pub fn part_set_gpt_guid(&mut self, dev: &str, n: i32, guid: &str) -> R<()> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        sfdisk(&["--part-uuid", &g, &n.to_string(), guid]).map(|_| ())
    }

    pub fn part_set_disk_guid(&mut self, dev: &str, guid: &str) -> R<()> {
        let g = self.device(dev)?;
        sfdisk(&["--disk-id", &g, guid]).map(|_| ())
    }

    pub fn part_set_mbr_id(&mut self, dev: &str, n: i32, id: i32) -> R<()> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        // sfdisk reads the id in hex.
        sfdisk(&[
            "--part-type",
            &g,
            &n.to_string(),
            &format!("{:x}", id as u32),
        ])
        .map(|_| ())
    }

    pub fn part_list(&mut self, dev: &str) -> R<Vec<Partition>> {
        let g = self.device(dev)?;
        let (_, rows) = print_table(&g)?;
        rows.iter()
            .map(|r| {
                let f = fields(r);
                let parsed = (|| {
                    Some(Partition {
                        part_num: f.first()?.parse().ok()?,
                        part_start: bytes(f.get(1)?)?,
                        part_end: bytes(f.get(2)?)?,
                        part_size: bytes(f.get(3)?)?,
                    })
                })();
                parsed.ok_or_else(|| {
                    err(
                        libc::EIO,
                        format!("could not parse row from output of 'parted print' command: {r}"),
                    )
                })
            })
            .collect()
    }

    pub fn part_get_parttype(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        let (line, _) = print_table(&g)?;
        // "/dev/vda:1953525168B:virtblk:512:512:msdos:Virtio Block Device:;"
        match fields(&line).get(5) {
            Some(&"loop") => Err(err(
                libc::EINVAL,
                format!("{dev}: not a partitioned device"),
            )),
            Some(t) => Ok(t.to_string()),
            None => Err(err(
                libc::EIO,
                format!("{dev}: cannot parse the output of parted"),
            )),
        }
    }

    pub fn part_get_name(&mut self, dev: &str, n: i32) -> R<String> {
        if self.part_get_parttype(dev)? != "gpt" {
            return Err(err(
                libc::EINVAL,
                "part-get-name can only be used on GUID Partition Tables",
            ));
        }
        check_partnum(n)?;
        let g = self.device(dev)?;
        // Existence first: sfdisk prints nothing for an unused entry.
        row(&g, n)?;
        // sfdisk prints the name as stored; parted's ':'-separated output
        // would cut one that holds a ':' or ';'.
        let out = run::prog("sfdisk")
            .args(["--part-label", "--", &g, &n.to_string()])
            .run()?;
        Ok(out.strip_suffix('\n').unwrap_or(&out).to_string())
    }

    pub fn part_get_bootable(&mut self, dev: &str, n: i32) -> R<bool> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        let r = row(&g, n)?;
        let flags = r.get(6).ok_or_else(|| {
            err(
                libc::EIO,
                format!(
                    "not enough fields in output of parted print command: {}",
                    r.join(":")
                ),
            )
        })?;
        // "boot" (MBR, GPT's ESP) and "legacy_boot" (GPT) both count, as in
        // libguestfs.
        Ok(flags.contains("boot"))
    }

    pub fn part_get_gpt_type(&mut self, dev: &str, n: i32) -> R<String> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        sfdisk(&["--part-type", &g, &n.to_string()])
    }

    pub fn part_get_gpt_guid(&mut self, dev: &str, n: i32) -> R<String> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        sfdisk(&["--part-uuid", &g, &n.to_string()])
    }

    pub fn part_get_disk_guid(&mut self, dev: &str) -> R<String> {
        let g = self.device(dev)?;
        sfdisk(&["--disk-id", &g])
    }

    pub fn part_get_mbr_id(&mut self, dev: &str, n: i32) -> R<i32> {
        check_partnum(n)?;
        let g = self.device(dev)?;
        let s = sfdisk(&["--part-type", &g, &n.to_string()])?;
        i32::from_str_radix(s.trim(), 16).map_err(|_| {
            err(
                libc::EIO,
                format!("sfdisk --part-type: unexpected output: {s}"),
            )
        })
    }

    pub fn part_get_mbr_part_type(&mut self, dev: &str, n: i32) -> R<String> {
        check_partnum(n)?;
        let t = self.part_get_parttype(dev)?;
        if t != "msdos" {
            return Ok("primary".into());
        }
        if n > 4 {
            return Ok("logical".into());
        }
        Ok(match self.part_get_mbr_id(dev, n)? {
            0x05 | 0x0f => "extended",
            _ => "primary",
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parttypes_map_like_libguestfs() {
        assert_eq!(canonical_parttype("mbr"), Some("msdos"));
        assert_eq!(canonical_parttype("efi"), Some("gpt"));
        assert_eq!(canonical_parttype("rdb"), Some("amiga"));
        assert_eq!(canonical_parttype("gtp"), None);
    }

    #[test]
    fn parted_machine_rows() {
        let f = fields("1:1048576B:2097151B:1048576B:ext4:p1:boot, esp;");
        assert_eq!(f.len(), 7);
        assert_eq!(bytes(f[1]), Some(1 << 20));
        assert_eq!(f[6], "boot, esp");
        assert_eq!(bytes("12"), None);
    }
}

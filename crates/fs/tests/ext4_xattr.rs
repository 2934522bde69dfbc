//! ext4 extended attributes and readdir order against e2fsprogs: an image
//! populated by `mke2fs -d` from a directory whose files carry user,
//! trusted and security attributes and a POSIX ACL (set with setfattr and
//! setfacl; needs root, as CI runs), read back with `lgetxattrs` and
//! compared with `debugfs ea_list`; the readdir order of a large (indexed)
//! and a one-block directory compared with `debugfs htree`'s hashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use gx_disk::{OpenOptions, open_image};

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn build(dir: &Path, img: &Path) {
    run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-d"])
        .arg(dir)
        .arg(img)
        .arg("16M"));
}

fn open(img: &Path) -> Box<dyn gx_fs::Filesystem> {
    let dev = open_image(
        img,
        &OpenOptions {
            format: Some(gx_disk::Format::Raw),
            readonly: true,
        },
    )
    .unwrap();
    gx_fs::open(dev, "ext4").unwrap()
}

/// `debugfs ea_list PATH`: (name, size, quoted value if printable).
fn ea_list(img: &Path, path: &str) -> Vec<(String, usize, Option<String>)> {
    let out = run(Command::new("debugfs")
        .arg("-R")
        .arg(format!("ea_list {path}"))
        .arg(img));
    out.lines()
        .skip_while(|l| !l.starts_with("Extended attributes:"))
        .skip(1)
        .filter_map(|l| {
            let l = l.trim();
            let (name, rest) = l.split_once(" (")?;
            let (size, rest) = rest.split_once(')')?;
            let value = rest
                .trim()
                .strip_prefix("= \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string);
            Some((name.to_string(), size.parse().ok()?, value))
        })
        .collect()
}

#[test]
fn xattrs_match_debugfs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("src");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("f"), "hi\n").unwrap();
    std::os::unix::fs::symlink("f", d.join("l")).unwrap();
    std::fs::write(d.join("plain"), "no attributes\n").unwrap();
    let big = "z".repeat(3000);
    for (flags, name, value, file) in [
        ("", "user.color", "blue", "f"),
        ("", "trusted.t", "x", "f"),
        ("", "security.selinux", "system_u:object_r:etc_t:s0", "f"),
        ("", "user.big", big.as_str(), "f"),
        ("-h", "trusted.link", "L", "l"),
    ] {
        let mut c = Command::new("setfattr");
        if !flags.is_empty() {
            c.arg(flags);
        }
        run(c.args(["-n", name, "-v", value]).arg(d.join(file)));
    }
    run(Command::new("setfacl")
        .args(["-m", "u:1000:r"])
        .arg(d.join("f")));
    let img = tmp.path().join("x.img");
    build(&d, &img);
    let fs = open(&img);
    for path in ["/f", "/l", "/plain"] {
        let ours = fs.lgetxattrs(path).unwrap();
        let theirs = ea_list(&img, path);
        let names: Vec<&str> = ours.iter().map(|x| x.attrname.as_str()).collect();
        let want: Vec<&str> = theirs.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, want, "{path}: names and order");
        for (x, (name, size, value)) in ours.iter().zip(&theirs) {
            if name.starts_with("system.posix_acl") {
                // debugfs shows ext4's compact form; we return the generic
                // one: version 2, one 8-byte entry per on-disk entry.
                assert_eq!(&x.attrval[..4], &2u32.to_le_bytes(), "{name}");
                assert_eq!((x.attrval.len() - 4) % 8, 0, "{name}");
                continue;
            }
            assert_eq!(x.attrval.len(), *size, "{path} {name}: size");
            if let Some(v) = value {
                assert_eq!(String::from_utf8_lossy(&x.attrval), *v, "{path} {name}");
            }
        }
    }
    let f = fs.lgetxattrs("/f").unwrap();
    let b = f.iter().find(|x| x.attrname == "user.big").unwrap();
    assert_eq!(
        b.attrval,
        big.as_bytes(),
        "user.big's value (in the xattr block)"
    );
    let acl = f
        .iter()
        .find(|x| x.attrname == "system.posix_acl_access")
        .unwrap();
    // USER_OBJ, USER 1000, GROUP_OBJ, MASK, OTHER.
    assert_eq!(acl.attrval.len(), 4 + 5 * 8);
    assert_eq!(&acl.attrval[12..16], &[2, 0, 4, 0], "USER entry tag/perm");
    assert_eq!(&acl.attrval[16..20], &1000u32.to_le_bytes(), "USER id");
}

/// `debugfs htree DIR` prints each entry's hash; the kernel reads an
/// indexed directory in hash order, `.` and `..` first.
#[test]
fn readdir_is_in_hash_order_like_the_kernel() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("src");
    let many = d.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..400 {
        std::fs::write(many.join(format!("file-{i:04}-with-a-longer-name")), "").unwrap();
    }
    let few = d.join("few");
    std::fs::create_dir_all(&few).unwrap();
    for n in ["alpha", "beta", "gamma", "delta"] {
        std::fs::write(few.join(n), "").unwrap();
    }
    let img = tmp.path().join("x.img");
    build(&d, &img);
    // mke2fs -d writes linear directories; e2fsck -D indexes them.
    let st = Command::new("e2fsck")
        .args(["-fyD"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        st.status.code().unwrap_or(8) < 4,
        "e2fsck -fyD failed: {st:?}"
    );
    let fs = open(&img);
    let got: Vec<String> = fs
        .read_dir_all("/many")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(got[..2], [".".to_string(), "..".to_string()]);
    // debugfs htree: "Entry #N: Hash 0x..., block B" then entries with
    // their hashes: (hash, name) pairs from every leaf.
    let out = run(Command::new("debugfs")
        .args(["-R", "htree /many"])
        .arg(&img));
    let mut hashed: Vec<((u32, u32), String)> = Vec::new();
    for line in out.lines() {
        for item in line.split("  ") {
            // "INO 0xHASH-0xMINOR (REC) NAME"
            let mut w = item.split_whitespace();
            let (Some(_ino), Some(h), Some(_rec), Some(name)) =
                (w.next(), w.next(), w.next(), w.next())
            else {
                continue;
            };
            let Some((major, minor)) = h.strip_prefix("0x").and_then(|x| x.split_once('-')) else {
                continue;
            };
            if let (Ok(major), Ok(minor)) = (
                u32::from_str_radix(major, 16),
                u32::from_str_radix(minor, 16),
            ) {
                if name.starts_with("file-") {
                    hashed.push(((major, minor), name.to_string()));
                }
            }
        }
    }
    assert_eq!(hashed.len(), 400, "debugfs htree listed {}", hashed.len());
    hashed.sort();
    let want: Vec<String> = hashed.into_iter().map(|(_, n)| n).collect();
    assert_eq!(got[2..], want[..], "readdir order is not hash order");
    // A one-block directory is read in hash order too, `.` and `..` hashed
    // like the other names.
    let few_names: Vec<String> = fs
        .read_dir_all("/few")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(few_names.len(), 6);
    let mut sorted = few_names.clone();
    sorted.sort();
    assert_ne!(
        few_names, sorted,
        "hash order should not be name order here"
    );
}

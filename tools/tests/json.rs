//! `--json` of gx-inspector, gx-filesystems, gx-df and gx-ls: the documented
//! schema (every key, every type), and values that agree with what the
//! libguestfs tools printed for the same images (tests/expected/tools and
//! tests/expected/inspector), not with our own text output.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::process::Command;

fn run_json(bin: &str, args: &[&str]) -> Value {
    let out = Command::new(bin)
        .args(args)
        .current_dir(gx_testdata::images())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{bin} {args:?}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(gx_testdata::expected(&format!("tools/{name}"))).unwrap()
}

/// Asserts the object has exactly these keys (in any order: serde_json
/// sorts them; our output keeps the documented order).
fn assert_keys(v: &Value, want: &[&str]) {
    let mut got: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = want.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn ls_json_agrees_with_virt_ls() {
    let v = run_json(
        env!("CARGO_BIN_EXE_gx-ls"),
        &[
            "--json",
            "-R",
            "-a",
            "linux.qcow2",
            "-m",
            "/dev/sda2",
            "/etc",
        ],
    );
    let entries = v["entries"].as_array().unwrap();
    // virt-ls -lR --csv --extra-stats --uids --time-t /etc: type, mode, size,
    // uid, gid, atime, mtime, ctime, dev, ino, nlink, rdev, blocks, path[, link].
    let csv = expected("ls-lR-csv-extra-stats-etc");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(entries.len(), lines.len());
    for (e, line) in entries.iter().zip(lines) {
        assert_keys(
            e,
            &[
                "path", "type", "mode", "size", "uid", "gid", "atime", "mtime", "ctime", "dev",
                "ino", "nlink", "rdev", "blocks", "link", "checksum",
            ],
        );
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let kind = match e["type"].as_str().unwrap() {
            "regular" => "-",
            "directory" => "d",
            "symlink" => "l",
            "chardev" => "c",
            "blockdev" => "b",
            "fifo" => "p",
            "socket" => "s",
            _ => "u",
        };
        assert_eq!(kind, f[0], "{line}");
        assert_eq!(
            format!("{:04o}", e["mode"].as_u64().unwrap()),
            f[1],
            "{line}"
        );
        for (key, col) in [
            ("size", 2),
            ("uid", 3),
            ("gid", 4),
            ("atime", 5),
            ("mtime", 6),
            ("ctime", 7),
            ("ino", 9),
            ("nlink", 10),
            ("blocks", 12),
        ] {
            assert_eq!(e[key].to_string(), f[col], "{key}: {line}");
        }
        // CSV quotes a path with spaces (no path here holds a comma or quote).
        let unquote = |s: &str| s.trim_matches('"').to_string();
        assert_eq!(e["path"], unquote(f[13]), "{line}");
        assert_eq!(
            e["link"].as_str().map(str::to_string),
            f.get(14).map(|l| unquote(l)),
            "{line}"
        );
        assert!(e["checksum"].is_null());
    }
    // --checksum fills it in for regular files: virt-ls's md5 of /etc/hostname.
    let v = run_json(
        env!("CARGO_BIN_EXE_gx-ls"),
        &[
            "--json",
            "--checksum",
            "-a",
            "linux.qcow2",
            "-m",
            "/dev/sda2",
            "/etc",
        ],
    );
    let host = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/etc/hostname")
        .unwrap();
    let sums = expected("ls-lR-checksum-etc");
    let want = sums
        .lines()
        .find(|l| l.ends_with(" /etc/hostname"))
        .and_then(|l| l.split_whitespace().rev().nth(1))
        .unwrap();
    assert_eq!(host["checksum"], want);
}

#[test]
fn df_json_agrees_with_virt_df() {
    let v = run_json(
        env!("CARGO_BIN_EXE_gx-df"),
        &["--json", "-a", "linux.qcow2"],
    );
    let fs = v["filesystems"].as_array().unwrap();
    let blocks = expected("df-csv-linux");
    let inodes = expected("df-csv-i-linux");
    let rows = |t: &str| -> Vec<Vec<String>> {
        t.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let (b, i) = (rows(&blocks), rows(&inodes));
    assert_eq!(fs.len(), b.len());
    for ((f, b), i) in fs.iter().zip(&b).zip(&i) {
        assert_keys(
            f,
            &[
                "virtual_machine",
                "filesystem",
                "vfs_type",
                "block_size",
                "size_bytes",
                "used_bytes",
                "available_bytes",
                "inodes",
                "inodes_used",
                "inodes_free",
            ],
        );
        assert_eq!(f["virtual_machine"], b[0].as_str());
        assert_eq!(f["filesystem"], b[1].as_str());
        let kib = |k: &str| (f[k].as_u64().unwrap() / 1024).to_string();
        assert_eq!(kib("size_bytes"), b[2]);
        assert_eq!(kib("used_bytes"), b[3]);
        assert_eq!(kib("available_bytes"), b[4]);
        assert_eq!(f["inodes"].to_string(), i[2]);
        assert_eq!(f["inodes_used"].to_string(), i[3]);
        assert_eq!(f["inodes_free"].to_string(), i[4]);
    }
}

#[test]
fn filesystems_json_agrees_with_virt_filesystems() {
    let v = run_json(
        env!("CARGO_BIN_EXE_gx-filesystems"),
        &["--json", "--all", "-a", "multi.img"],
    );
    let entries = v["entries"].as_array().unwrap();
    // virt-filesystems --all --long --uuid: Name Type VFS Label MBR Size Parent UUID.
    let text = expected("fs-all-long-uuid-multi");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(entries.len(), rows.len());
    let cell = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    for (e, r) in entries.iter().zip(&rows) {
        let cols = [
            "name", "type", "vfs_type", "label", "mbr_id", "size", "parent", "uuid",
        ];
        assert_keys(e, &cols);
        let got: Vec<String> = cols.iter().map(|k| cell(&e[*k])).collect();
        assert_eq!(got, *r);
    }
}

#[test]
fn inspector_json_agrees_with_virt_inspector() {
    let v = run_json(
        env!("CARGO_BIN_EXE_gx-inspector"),
        &["--json", "-a", "phony-debian.img"],
    );
    let os = &v["operatingsystems"][0];
    assert_keys(
        os,
        &[
            "root",
            "name",
            "arch",
            "distro",
            "product_name",
            "product_variant",
            "major_version",
            "minor_version",
            "package_format",
            "package_management",
            "windows_systemroot",
            "windows_current_control_set",
            "hostname",
            "osinfo",
            "mountpoints",
            "filesystems",
            "drive_mappings",
            "applications",
            "icon",
        ],
    );
    // Each element of virt-inspector's XML, found as the same value here.
    let xml =
        std::fs::read_to_string(gx_testdata::expected("inspector/phony-debian.img.xml")).unwrap();
    let elem = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = xml.find(&open)? + open.len();
        let end = start + xml[start..].find(&format!("</{name}>"))?;
        Some(xml[start..end].to_string())
    };
    for k in [
        "root",
        "name",
        "arch",
        "distro",
        "product_name",
        "hostname",
        "osinfo",
        "package_format",
        "package_management",
    ] {
        assert_eq!(os[k].as_str().map(str::to_string), elem(k), "{k}");
    }
    for k in ["major_version", "minor_version"] {
        assert_eq!(Some(os[k].to_string()), elem(k), "{k}");
    }
    assert!(os["product_variant"].is_null() && os["windows_systemroot"].is_null());
    let icon = elem("icon").unwrap().replace(['\r', '\n'], "");
    assert_eq!(os["icon"], icon.as_str());
    let apps = os["applications"].as_array().unwrap();
    assert_eq!(apps.len(), xml.matches("<application>").count());
    assert_eq!(os["mountpoints"][0]["mountpoint"], "/");
    assert_eq!(os["mountpoints"][0]["device"], "/dev/sda");
    // --no-applications: null, not an empty list.
    let v = run_json(
        env!("CARGO_BIN_EXE_gx-inspector"),
        &[
            "--json",
            "--no-applications",
            "--no-icon",
            "-a",
            "phony-debian.img",
        ],
    );
    assert!(v["operatingsystems"][0]["applications"].is_null());
    assert!(v["operatingsystems"][0]["icon"].is_null());
}

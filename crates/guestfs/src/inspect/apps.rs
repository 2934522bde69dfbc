//! Installed applications (libguestfs's `inspect_list_applications2`,
//! lib/inspect-apps.c): dpkg's status file, pacman's local database, apk's
//! installed database, rpm's database (sqlite or Berkeley DB) and the Windows
//! Uninstall keys.
//! The guest's filesystems must be mounted (as `-i` mounts them).

mod bdb;
mod rpm;

/// For the fuzzer (crates/guestfs/fuzz, `fuzz_rpmdb`): reads `data` as an rpm
/// Berkeley DB Packages file and parses every header in it; the number of
/// packages found. Never panics on any input.
#[doc(hidden)]
pub fn fuzz_rpm_bdb(data: &[u8]) -> usize {
    let count = |v: Vec<Vec<u8>>| v.iter().filter(|b| rpm::parse_header(b).is_ok()).count();
    let exact = bdb::Bdb::<[u8]>::open(data.to_vec().into_boxed_slice())
        .and_then(|d| d.values(MAX_APPS))
        .map(count)
        .unwrap_or(0);
    // The same bytes as the start of a 2 GiB file of zeros (a sparse
    // Packages file in a guest): page numbers may claim up to that.
    let sparse = bdb::Bdb::open(Box::new(SparseBytes(data.to_vec())))
        .and_then(|d| d.values(MAX_APPS))
        .map(count)
        .unwrap_or(0);
    exact + sparse
}

/// Bytes followed by zeros up to 2 GiB.
struct SparseBytes(Vec<u8>);

impl bdb::ReadAt for SparseBytes {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > 2 << 30)
        {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.fill(0);
        if let Some(src) = usize::try_from(offset).ok().and_then(|o| self.0.get(o..)) {
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
        }
        Ok(())
    }
}

use super::{bound, windows::get_node};
use crate::{Application as Application1, Application2, Error, FileType, Handle, Result, StatExt};

/// Largest dpkg status / apk installed file read (libguestfs's limit).
const MAX_DB_FILE: u64 = 50 * 1000 * 1000;
/// Largest pacman `desc` file read.
const MAX_PACMAN_DESC: u64 = 8192;
/// Most applications listed: a hostile database cannot exhaust memory.
const MAX_APPS: usize = 200_000;

/// One installed application, as the database readers produce it (the
/// API returns it as libguestfs's `application2` struct).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Application {
    pub name: String,
    pub display_name: String,
    pub epoch: i32,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub install_path: String,
    pub trans_path: String,
    pub publisher: String,
    pub url: String,
    pub source_package: String,
    pub summary: String,
    pub description: String,
    pub class: String,
}

impl Handle {
    /// The applications installed in the guest whose root is `root`, sorted
    /// by name. The guest must be mounted. An empty list where the package
    /// format is not understood.
    pub(crate) fn impl_inspect_list_applications2(&self, root: &str) -> Result<Vec<Application2>> {
        Ok(self
            .list_apps(root)?
            .into_iter()
            .map(|a| Application2 {
                app2_name: a.name,
                app2_display_name: a.display_name,
                app2_epoch: a.epoch,
                app2_version: a.version,
                app2_release: a.release,
                app2_arch: a.arch,
                app2_install_path: a.install_path,
                app2_trans_path: a.trans_path,
                app2_publisher: a.publisher,
                app2_url: a.url,
                app2_source_package: a.source_package,
                app2_summary: a.summary,
                app2_description: a.description,
                app2_class: a.class,
                ..Application2::default()
            })
            .collect())
    }

    /// The older list: `application2` without the architecture and class.
    pub(crate) fn impl_inspect_list_applications(&self, root: &str) -> Result<Vec<Application1>> {
        Ok(self
            .list_apps(root)?
            .into_iter()
            .map(|a| Application1 {
                app_name: a.name,
                app_display_name: a.display_name,
                app_epoch: a.epoch,
                app_version: a.version,
                app_release: a.release,
                app_install_path: a.install_path,
                app_trans_path: a.trans_path,
                app_publisher: a.publisher,
                app_url: a.url,
                app_source_package: a.source_package,
                app_summary: a.summary,
                app_description: a.description,
            })
            .collect())
    }

    fn list_apps(&self, root: &str) -> Result<Vec<Application>> {
        let os_type = self.inspect_get_type(root)?;
        let format = self.inspect_get_package_format(root)?;
        let mut apps = match (os_type.as_str(), format.as_str()) {
            ("linux" | "hurd", "deb") => self.apps_deb()?,
            ("linux" | "hurd", "pacman") => self.apps_pacman()?,
            ("linux" | "hurd", "apk") => self.apps_apk()?,
            ("linux" | "hurd", "rpm") => self.apps_rpm()?,
            ("windows", _) => self.apps_windows(root)?,
            _ => Vec::new(),
        };
        apps.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(apps)
    }

    fn db_file(&self, path: &str, max: u64) -> Result<Vec<u8>> {
        let st = self.statns(path)?;
        if st.file_type() != FileType::Regular
            || u64::try_from(st.st_size).unwrap_or(u64::MAX) > max
        {
            return Err(Error::invalid(format!(
                "{path}: not a regular file or larger than {max} bytes"
            )));
        }
        self.read_bounded("inspection", path, max)
    }

    fn apps_deb(&self) -> Result<Vec<Application>> {
        let data = self.db_file("/var/lib/dpkg/status", MAX_DB_FILE)?;
        Ok(parse_dpkg_status(&String::from_utf8_lossy(&data)))
    }

    fn apps_apk(&self) -> Result<Vec<Application>> {
        let data = self.db_file("/lib/apk/db/installed", MAX_DB_FILE)?;
        Ok(parse_apk_installed(&String::from_utf8_lossy(&data)))
    }

    fn apps_pacman(&self) -> Result<Vec<Application>> {
        let dir = "/var/lib/pacman/local";
        let mut apps = Vec::new();
        for e in self.readdir(dir)? {
            if e.ftyp != b'd' || e.name == "." || e.name == ".." {
                continue;
            }
            if apps.len() >= MAX_APPS {
                break;
            }
            // A missing or oversized desc is a damaged entry: skip it, as
            // libguestfs does.
            let Some(desc) =
                self.read_small_file(&format!("{dir}/{}/desc", e.name), MAX_PACMAN_DESC)
            else {
                continue;
            };
            if let Some(a) = parse_pacman_desc(&String::from_utf8_lossy(&desc)) {
                apps.push(a);
            }
        }
        Ok(apps)
    }

    fn apps_rpm(&self) -> Result<Vec<Application>> {
        // rpmdb.sqlite, else the Berkeley DB Packages file (rpm.rs, bdb.rs).
        self.apps_rpm_db()
    }

    fn apps_windows(&self, root: &str) -> Result<Vec<Application>> {
        let hive_path = self.inspect_get_windows_software_hive(root)?;
        let hive = self
            .load_hive(&hive_path)
            .ok_or_else(|| Error::invalid(format!("{hive_path}: cannot read the registry hive")))?;
        let mut apps = Vec::new();
        for path in [
            &["Microsoft", "Windows", "CurrentVersion", "Uninstall"][..],
            &[
                "WOW6432node",
                "Microsoft",
                "Windows",
                "CurrentVersion",
                "Uninstall",
            ][..],
        ] {
            let Some(node) = get_node(&hive, path) else {
                continue;
            };
            let Ok(children) = node.children() else {
                continue;
            };
            for child in children.into_iter().take(MAX_APPS) {
                let s = |name: &str| {
                    child
                        .value(name)
                        .ok()
                        .flatten()
                        .and_then(|v| v.as_string().ok())
                        .map(bound)
                        .unwrap_or_default()
                };
                let Some(display_name) = child
                    .value("DisplayName")
                    .ok()
                    .flatten()
                    .and_then(|v| v.as_string().ok())
                else {
                    continue;
                };
                let name = bound(child.name());
                let display_name = bound(display_name);
                let publisher = s("Publisher");
                let class = windows_class(&[&name, &display_name, &publisher]);
                apps.push(Application {
                    name,
                    display_name,
                    version: s("DisplayVersion"),
                    install_path: s("InstallLocation"),
                    publisher,
                    url: s("URLInfoAbout"),
                    description: s("Comments"),
                    class: class.into(),
                    ..Default::default()
                });
            }
        }
        // Windows Defender has no Uninstall key: libguestfs reports it when
        // its key exists and the antivirus is not disabled.
        if let Some(wd) = get_node(&hive, &["Microsoft", "Windows Defender"]) {
            let disabled = wd
                .value("DisableAntiVirus")
                .ok()
                .flatten()
                .and_then(|v| v.data().ok())
                .is_some_and(|d| gx_disk::bytes::le32(&d, 0).is_ok_and(|v| v == 1));
            if !disabled {
                apps.push(Application {
                    name: "WinDefend".into(),
                    display_name: "Microsoft Defender Antivirus".into(),
                    publisher: "Microsoft Corporation".into(),
                    class: "antivirus".into(),
                    ..Default::default()
                });
            }
        }
        Ok(apps)
    }
}

fn windows_class(fields: &[&str]) -> &'static str {
    const AV: &[&str] = &[
        "virus",
        "kaspersky",
        "mcafee",
        "norton",
        "sophos",
        "apexonent",
        "avg technologies",
    ];
    if fields.iter().any(|f| {
        let f = f.to_lowercase();
        AV.iter().any(|a| f.contains(a))
    }) {
        "antivirus"
    } else {
        ""
    }
}

/// Split `[epoch:]version[-release]` as libguestfs does: the epoch ends at
/// the first `:`, the release starts at the first `-` after it. The epoch
/// is -1 when it is not a number (such packages are left out).
fn split_evr(s: &str) -> (i32, &str, Option<&str>) {
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => (parse_epoch(e), rest),
        None => (0, s),
    };
    match rest.split_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

fn parse_epoch(s: &str) -> i32 {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return -1;
    }
    s.parse().unwrap_or(-1)
}

/// dpkg's status file. A package counts when its Status mentions
/// "installed" (as libguestfs tests it) and the paragraph ends with a
/// blank line.
pub(crate) fn parse_dpkg_status(text: &str) -> Vec<Application> {
    let mut apps = Vec::new();
    let mut cur = Application::default();
    let mut have_name = false;
    let mut have_version = false;
    let mut installed = false;
    let mut in_description = false;
    let mut description: Option<String> = None;
    for line in lines(text) {
        if line.starts_with(' ') && in_description {
            match description.as_mut() {
                None => description = Some(line[1..].to_string()),
                Some(d) if d.len() < super::MAX_STRING => {
                    d.push('\n');
                    d.push_str(&line[1..]);
                }
                Some(_) => {}
            }
            continue;
        }
        in_description = false;
        if let Some(v) = line.strip_prefix("Package: ") {
            cur.name = bound(v.to_string());
            have_name = true;
        } else if let Some(v) = line.strip_prefix("Status: ") {
            installed = v.contains("installed");
        } else if let Some(v) = line.strip_prefix("Version: ") {
            let (e, ver, rel) = split_evr(v);
            cur.epoch = e;
            cur.version = bound(ver.to_string());
            cur.release = rel.map(|r| bound(r.to_string())).unwrap_or_default();
            have_version = true;
        } else if let Some(v) = line.strip_prefix("Architecture: ") {
            cur.arch = bound(v.to_string());
        } else if let Some(v) = line.strip_prefix("Homepage: ") {
            cur.url = bound(v.to_string());
        } else if let Some(v) = line.strip_prefix("Source: ") {
            cur.source_package = bound(v.split(' ').next().unwrap_or("").to_string());
        } else if let Some(v) = line.strip_prefix("Description: ") {
            cur.summary = bound(v.to_string());
            in_description = true;
        } else if line.is_empty() {
            if installed && have_name && have_version && cur.epoch >= 0 && apps.len() < MAX_APPS {
                let mut a = std::mem::take(&mut cur);
                a.description = bound(description.take().unwrap_or_default());
                apps.push(a);
            }
            // The epoch carries over to the next paragraph in libguestfs
            // (it is only set by a Version line), the rest does not.
            let epoch = cur.epoch;
            cur = Application {
                epoch,
                ..Default::default()
            };
            description = None;
            have_name = false;
            have_version = false;
            installed = false;
        }
    }
    apps
}

/// Lines as C's `fgets`/`getline` read them: a final newline ends the last
/// line, it does not start an empty one.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .filter(|_| !text.is_empty())
}

/// pacman's `desc` file of one package.
pub(crate) fn parse_pacman_desc(text: &str) -> Option<Application> {
    let (mut name, mut version, mut desc, mut url, mut arch) = (None, None, None, None, None);
    let mut key: Option<&mut Option<String>> = None;
    for line in text.split('\n') {
        if line.is_empty() {
            key = None;
            continue;
        }
        if let Some(k) = key.take() {
            *k = Some(bound(line.to_string()));
            continue;
        }
        key = match line {
            "%NAME%" => Some(&mut name),
            "%VERSION%" => Some(&mut version),
            "%DESC%" => Some(&mut desc),
            "%URL%" => Some(&mut url),
            "%ARCH%" => Some(&mut arch),
            _ => None,
        };
    }
    let (name, version, arch) = (name?, version?, arch?);
    let (epoch, ver, rel) = split_evr(&version);
    let rel = rel?;
    if epoch < 0 || ver.is_empty() || rel.is_empty() {
        return None;
    }
    Some(Application {
        name,
        epoch,
        version: ver.to_string(),
        release: rel.to_string(),
        arch,
        url: url.unwrap_or_default(),
        description: desc.unwrap_or_default(),
        ..Default::default()
    })
}

/// apk's `installed` database: `X:value` lines, packages separated by a
/// blank line.
pub(crate) fn parse_apk_installed(text: &str) -> Vec<Application> {
    let mut apps = Vec::new();
    let mut cur = Application::default();
    let (mut have_name, mut have_version) = (false, false);
    for line in lines(text) {
        let b = line.as_bytes();
        if b.len() > 1 && b[1] != b':' {
            continue;
        }
        let val = || bound(line.get(2..).unwrap_or("").to_string());
        match b.first() {
            None => {
                if have_name && have_version && cur.epoch >= 0 && apps.len() < MAX_APPS {
                    apps.push(cur.clone());
                }
                let epoch = cur.epoch;
                cur = Application {
                    epoch,
                    ..Default::default()
                };
                have_name = false;
                have_version = false;
            }
            Some(b'A') => cur.arch = val(),
            Some(b'P') => {
                cur.name = val();
                have_name = true;
            }
            Some(b'T') => cur.description = val(),
            Some(b'U') => cur.url = val(),
            Some(b'V') => {
                let v = val();
                let (e, ver, rel) = split_evr(&v);
                cur.epoch = e;
                cur.version = ver.to_string();
                // Revisions are written "r3": drop the r.
                cur.release = rel
                    .map(|r| r.strip_prefix('r').unwrap_or(r).to_string())
                    .unwrap_or_default();
                have_version = true;
            }
            _ => {}
        }
    }
    apps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg() {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1:2.3-4-5\nArchitecture: amd64\nSource: src (1.0)\nDescription: sum\n line one\n .\n line three\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: c\nStatus: install ok installed\nVersion: 9\n";
        let apps = parse_dpkg_status(text);
        assert_eq!(apps.len(), 1);
        let a = &apps[0];
        assert_eq!(
            (
                a.name.as_str(),
                a.epoch,
                a.version.as_str(),
                a.release.as_str()
            ),
            ("a", 1, "2.3", "4-5")
        );
        assert_eq!(a.source_package, "src");
        assert_eq!(a.summary, "sum");
        assert_eq!(a.description, "line one\n.\nline three");
    }

    #[test]
    fn pacman() {
        let a = parse_pacman_desc(
            "%NAME%\ntest-package\n\n%VERSION%\n1:0.1-1\n\n%DESC%\nTest package\n\n%ARCH%\nx86_64\n",
        )
        .expect("a package");
        assert_eq!(
            (a.epoch, a.version.as_str(), a.release.as_str()),
            (1, "0.1", "1")
        );
        assert!(parse_pacman_desc("%NAME%\nx\n\n%VERSION%\n1.0\n\n%ARCH%\nany\n").is_none());
    }

    #[test]
    fn apk() {
        let apps = parse_apk_installed(
            "C:Q1abc\nP:musl\nV:1.2.4-r2\nA:x86_64\nT:the musl c library\nU:https://musl.libc.org/\n\nP:broken\n",
        );
        assert_eq!(apps.len(), 1);
        assert_eq!(
            (apps[0].version.as_str(), apps[0].release.as_str()),
            ("1.2.4", "2")
        );
    }
}

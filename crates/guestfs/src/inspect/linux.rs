//! Linux roots: release files, architecture, hostname (libguestfs's
//! daemon/inspect_fs_unix.ml). The release-file tests run in libguestfs's
//! order; a parser that returns false lets the next test run, and may leave
//! fields it already set (libguestfs does the same, which is why Debian's
//! product name is the content of /etc/debian_version).

use super::{Data, DevIds, MAX_SMALL_FILE, bound};
use crate::Handle;

/// Which parser a release-file test uses.
#[derive(Clone, Copy)]
enum Parse {
    OsRelease,
    LsbRelease,
    /// First line is the product name; the pattern must match (see [`Rex`]).
    Generic(&'static str, Option<Rex>),
    /// Sets the distro only.
    DistroOnly(&'static str),
    SuseRelease,
}

/// The version patterns libguestfs matches release lines against. Each is
/// "`<prefix>`.*release N[.M]" style; written out by hand as small matchers
/// rather than pulling in a regex engine.
#[derive(Clone, Copy)]
enum Rex {
    /// `<name>.*release (\d+).*Update (\d+)`
    Old(&'static str),
    /// `<name>.*release (\d+)\.(\d+)`
    MajorMinor(&'static str),
    /// `<name>.*release (\d+)`
    Major(&'static str),
    /// `OpenMandriva.*release (\d+)\.(\d+)\.?(\d+)? .*`
    OpenMandriva,
    /// `TencentOS.* (\d+)\.(\d+)`
    TencentOs,
    /// `Frugalware (\d+)\.(\d+)`
    Frugalware,
    /// `(\d+)\.(\d+) PLD Linux`
    Pld,
}

const TESTS: &[(&str, Parse)] = {
    use Parse::*;
    use Rex::*;
    &[
        ("/etc/os-release", OsRelease),
        ("/etc/lsb-release", LsbRelease),
        (
            "/etc/openmandriva-release",
            Generic("openmandriva", Some(OpenMandriva)),
        ),
        (
            "/etc/opencloudos-release",
            Generic("opencloudos", Some(Major("OpenCloudOS"))),
        ),
        (
            "/etc/tencentos-release",
            Generic("tencentos", Some(TencentOs)),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(Old("Oracle Linux"))),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(MajorMinor("Oracle Linux"))),
        ),
        (
            "/etc/oracle-release",
            Generic("oraclelinux", Some(Major("Oracle Linux"))),
        ),
        (
            "/etc/centos-release",
            Generic("centos", Some(Old("CentOS"))),
        ),
        (
            "/etc/centos-release",
            Generic("centos", Some(MajorMinor("CentOS"))),
        ),
        (
            "/etc/centos-release",
            Generic("centos", Some(Major("CentOS"))),
        ),
        (
            "/etc/circle-release",
            Generic("circle", Some(MajorMinor("Circle Linux"))),
        ),
        (
            "/etc/circle-release",
            Generic("circle", Some(Major("Circle Linux"))),
        ),
        (
            "/etc/rocky-release",
            Generic("rocky", Some(MajorMinor("Rocky Linux"))),
        ),
        (
            "/etc/rocky-release",
            Generic("rocky", Some(Major("Rocky Linux"))),
        ),
        ("/etc/altlinux-release", Generic("altlinux", None)),
        (
            "/etc/redhat-release",
            Generic("fedora", Some(Major("Fedora"))),
        ),
        ("/etc/redhat-release", Generic("rhel", Some(Old("Red Hat")))),
        (
            "/etc/redhat-release",
            Generic("rhel", Some(MajorMinor("Red Hat"))),
        ),
        (
            "/etc/redhat-release",
            Generic("rhel", Some(Major("Red Hat"))),
        ),
        (
            "/etc/redhat-release",
            Generic("centos", Some(Old("CentOS"))),
        ),
        (
            "/etc/redhat-release",
            Generic("centos", Some(MajorMinor("CentOS"))),
        ),
        (
            "/etc/redhat-release",
            Generic("centos", Some(Major("CentOS"))),
        ),
        (
            "/etc/redhat-release",
            Generic("circle", Some(MajorMinor("Circle Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("circle", Some(Major("Circle Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("rocky", Some(MajorMinor("Rocky Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("rocky", Some(Major("Rocky Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(Old("Scientific Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(MajorMinor("Scientific Linux"))),
        ),
        (
            "/etc/redhat-release",
            Generic("scientificlinux", Some(Major("Scientific Linux"))),
        ),
        ("/etc/redhat-release", Generic("redhat-based", None)),
        ("/etc/redhat-release", DistroOnly("redhat-based")),
        ("/etc/debian_version", Generic("debian", None)),
        ("/etc/pardus-release", Generic("pardus", None)),
        ("/etc/arch-release", DistroOnly("archlinux")),
        ("/etc/gentoo-release", Generic("gentoo", None)),
        ("/etc/meego-release", Generic("meego", None)),
        ("/etc/slackware-version", Generic("slackware", None)),
        ("/etc/ttylinux-target", Generic("ttylinux", None)),
        ("/etc/SuSE-release", SuseRelease),
        ("/etc/SuSE-release", DistroOnly("suse-based")),
        ("/etc/cirros/version", Generic("cirros", None)),
        ("/etc/br-version", Generic("buildroot", None)),
        ("/etc/alpine-release", Generic("alpinelinux", None)),
        (
            "/etc/frugalware-release",
            Generic("frugalware", Some(Frugalware)),
        ),
        ("/etc/pld-release", Generic("pldlinux", Some(Pld))),
    ]
};

/// The binaries whose ELF header gives the architecture, in order.
const ARCH_BINARIES: &[&str] = &["/bin/bash", "/bin/ls", "/bin/echo", "/bin/rm", "/bin/sh"];

const ROLLING: &[&str] = &["archlinux", "gentoo", "voidlinux"];

impl Handle {
    pub(super) fn check_linux_root(&self, device: &str, ids: &[DevIds], data: &mut Data) {
        data.os_type = Some("linux");
        for (file, parse) in TESTS {
            if !self.insp_is_file_follow(file) {
                continue;
            }
            let done = match *parse {
                Parse::OsRelease => self.parse_os_release(file, data),
                Parse::LsbRelease => self.parse_lsb_release(file, data),
                Parse::Generic(distro, rex) => {
                    // buildroot and cirros share /etc/br-version.
                    let distro = if *file == "/etc/br-version"
                        && self.insp_is_file_follow("/usr/share/cirros/logo")
                    {
                        "cirros"
                    } else {
                        distro
                    };
                    self.parse_generic(file, distro, rex, data)
                }
                Parse::DistroOnly(d) => {
                    data.distro = Some(d);
                    true
                }
                Parse::SuseRelease => self.parse_suse_release(file, data),
            };
            if done {
                break;
            }
        }
        data.arch = self.check_architecture();
        data.fstab = self.check_fstab(device, ids);
        data.hostname = self.check_hostname_linux();
    }

    pub(super) fn check_linux_usr(&self, data: &mut Data) {
        data.os_type = Some("linux");
        if self.insp_is_file_follow("/lib/os-release") {
            self.parse_os_release("/lib/os-release", data);
        }
        if let Some(a) = self.check_architecture() {
            data.arch = Some(a);
        }
    }

    /// A CoreOS root: only the hostname is here (the OS version lives on
    /// the read-only /usr), and there is no fstab, so the filesystem is
    /// associated with `/` directly (libguestfs's `check_coreos_root`).
    pub(super) fn check_coreos_root(&self, device: &str, data: &mut Data) {
        data.os_type = Some("linux");
        data.distro = Some("coreos");
        data.hostname = self.check_hostname_linux();
        data.fstab = vec![(device.to_string(), "/".to_string())];
    }

    /// A CoreOS /usr (USR-A or USR-B): the version from its os-release
    /// (or lsb-release), and `/usr` as its mountpoint (libguestfs's
    /// `check_coreos_usr`).
    pub(super) fn check_coreos_usr(&self, device: &str, data: &mut Data) {
        data.os_type = Some("linux");
        data.distro = Some("coreos");
        if self.insp_is_file_follow("/lib/os-release") {
            self.parse_os_release("/lib/os-release", data);
        } else if self.insp_is_file_follow("/share/coreos/lsb-release") {
            self.parse_lsb_release("/share/coreos/lsb-release", data);
        }
        if let Some(a) = self.check_architecture() {
            data.arch = Some(a);
        }
        data.fstab = vec![(device.to_string(), "/usr".to_string())];
    }

    fn parse_os_release(&self, file: &str, data: &mut Data) -> bool {
        let Some(lines) = self.read_small_lines(file) else {
            return false;
        };
        for (key, value) in key_values(&lines, shell_unquote) {
            match key.as_str() {
                "ID" => {
                    if let Some(d) = distro_of_os_release_id(&value) {
                        data.distro = Some(d);
                    }
                }
                "PRETTY_NAME" => data.product_name = Some(value),
                "VERSION_ID" => parse_version_id(&value, data),
                "BUILD_ID" => data.build_id = Some(value),
                _ => {}
            }
        }
        if data.distro.is_none() || data.product_name.is_none() {
            return false;
        }
        match (data.distro, data.version) {
            // Debian and CentOS give only the major version here: the
            // release files have the full one.
            (Some("debian" | "centos" | "circle" | "rocky"), Some((_, 0))) => false,
            (Some(d), None) if ROLLING.contains(&d) => {
                data.version = Some((0, 0));
                true
            }
            (_, None) => false,
            _ => true,
        }
    }

    fn parse_lsb_release(&self, file: &str, data: &mut Data) -> bool {
        let Some(lines) = self.read_small_lines(file) else {
            return false;
        };
        let mut ok = false;
        for (key, value) in key_values(&lines, simple_unquote) {
            match key.as_str() {
                "DISTRIB_ID" => {
                    let d = match value.as_str() {
                        "CoreOS" => Some("coreos"),
                        "LinuxMint" => Some("linuxmint"),
                        "Mageia" => Some("mageia"),
                        "Ubuntu" => Some("ubuntu"),
                        _ => None,
                    };
                    if d.is_some() {
                        ok = true;
                        data.distro = d;
                    }
                }
                "DISTRIB_RELEASE" => parse_version_from_major_minor(&value, data),
                "DISTRIB_DESCRIPTION" => {
                    ok = true;
                    data.product_name = Some(value);
                }
                _ => {}
            }
        }
        ok
    }

    fn parse_suse_release(&self, file: &str, data: &mut Data) -> bool {
        let Some(lines) = self.read_small_lines(file) else {
            return false;
        };
        let Some(first) = lines.first().cloned() else {
            return false;
        };
        data.product_name = Some(first.clone());
        let sles = [
            "SUSE Linux Enterprise ",
            "SUSE LINUX Enterprise ",
            "Novell Linux Desktop ",
        ]
        .iter()
        .any(|p| first.starts_with(p));
        if sles {
            let num = |line: Option<&String>, prefix: &str| -> Option<i32> {
                leading_number(line?.strip_prefix(prefix)?).map(|(n, _)| n)
            };
            let major = num(lines.get(1), "VERSION = ");
            let minor = num(lines.get(2), "PATCHLEVEL = ");
            data.distro = Some("sles");
            data.version = major.map(|m| (m, minor.unwrap_or(0)));
        } else if ["openSUSE ", "SuSE Linux ", "SUSE LINUX "]
            .iter()
            .any(|p| first.starts_with(p))
        {
            if let Some(l) = lines.get(1) {
                parse_version_from_major_minor(l, data);
            }
            data.distro = Some("opensuse");
        }
        true
    }

    fn parse_generic(
        &self,
        file: &str,
        distro: &'static str,
        rex: Option<Rex>,
        data: &mut Data,
    ) -> bool {
        let Some(bytes) = self.read_small_file(file, MAX_SMALL_FILE) else {
            return false;
        };
        let text = String::from_utf8_lossy(&bytes);
        let first = bound(text.split('\n').next().unwrap_or("").to_string());
        if first.is_empty() {
            return false;
        }
        data.product_name = Some(first.clone());
        data.distro = Some(distro);
        match rex {
            Some(rex) => match match_rex(rex, &first) {
                Some((major, minor)) => {
                    if let Some(major) = major {
                        data.version = Some((major, minor.unwrap_or(0)));
                    }
                    true
                }
                None => false,
            },
            None => {
                parse_version_from_major_minor(&first, data);
                true
            }
        }
    }

    /// The architecture of the first system binary that is an ELF file.
    pub(super) fn check_architecture(&self) -> Option<String> {
        for bin in ARCH_BINARIES {
            if !self.insp_is_file_follow(bin) {
                continue;
            }
            let Ok(resolved) = self.realpath(bin) else {
                continue;
            };
            if let Some(a) = self.file_architecture(&resolved) {
                return Some(a);
            }
        }
        None
    }

    /// Architecture of an ELF or PE binary, as libguestfs's `file_architecture`
    /// names it (from the header fields `file(1)` looks at).
    pub(crate) fn file_architecture(&self, path: &str) -> Option<String> {
        let head = self.pread(path, 64, 0).ok()?;
        if head.len() >= 20 && head[..4] == *b"\x7fELF" {
            return elf_arch(&head);
        }
        if head.len() >= 64 && head[..2] == *b"MZ" {
            let pe = u64::from(gx_disk::bytes::le32(&head, 60).ok()?);
            let hdr = self.pread(path, 26, i64::try_from(pe).ok()?).ok()?;
            if hdr.len() < 26 || hdr[..4] != *b"PE\0\0" {
                return None;
            }
            return match u16::from_le_bytes([hdr[24], hdr[25]]) {
                0x10b => Some("i386".into()),
                0x20b => Some("x86_64".into()),
                _ => None,
            };
        }
        None
    }

    fn check_hostname_linux(&self) -> Option<String> {
        for f in ["/etc/HOSTNAME", "/etc/hostname"] {
            if let Some(lines) = self.read_small_lines(f) {
                if let Some(h) = lines
                    .into_iter()
                    .find(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    return Some(h);
                }
            }
        }
        if self.insp_is_file("/etc/sysconfig/network") {
            let lines = self.read_small_lines("/etc/sysconfig/network")?;
            return key_values(&lines, shell_unquote)
                .into_iter()
                .rev()
                .find(|(k, _)| k.trim() == "HOSTNAME")
                .map(|(_, v)| v);
        }
        None
    }
}

fn elf_arch(h: &[u8]) -> Option<String> {
    let bits = match h[4] {
        1 => 32,
        2 => 64,
        _ => return None,
    };
    let le = match h[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let rd16 = |o: usize| {
        if le {
            u16::from_le_bytes([h[o], h[o + 1]])
        } else {
            u16::from_be_bytes([h[o], h[o + 1]])
        }
    };
    // file(1) only names an architecture for executables, shared objects
    // and relocatables.
    if !matches!(rd16(16), 1..=3) {
        return None;
    }
    Some(match rd16(18) {
        3 | 6 => "i386".into(),
        62 => "x86_64".into(),
        2 => "sparc".into(),
        43 => "sparc64".into(),
        50 => "ia64".into(),
        20 => "ppc".into(),
        21 => if le { "ppc64le" } else { "ppc64" }.into(),
        40 => "arm".into(),
        183 => "aarch64".into(),
        243 => format!("riscv{bits}"),
        22 => if bits == 64 { "s390x" } else { "s390" }.into(),
        258 => format!("loongarch{bits}"),
        _ => return None,
    })
}

fn distro_of_os_release_id(id: &str) -> Option<&'static str> {
    Some(match id {
        "alpine" => "alpinelinux",
        "altlinux" => "altlinux",
        "arch" => "archlinux",
        "centos" => "centos",
        "circle" => "circle",
        "coreos" => "coreos",
        "debian" => "debian",
        "fedora" => "fedora",
        "frugalware" => "frugalware",
        "gentoo" => "gentoo",
        "kali" => "kalilinux",
        "kylin" => "kylin",
        "mageia" => "mageia",
        "neokylin" => "neokylin",
        "openEuler" => "openeuler",
        "openmandriva" => "openmandriva",
        "opencloudos" => "opencloudos",
        "tencentos" => "tencentos",
        "opensuse" => "opensuse",
        s if s.starts_with("opensuse-") => "opensuse",
        "pardus" => "pardus",
        "pld" => "pldlinux",
        "rhel" => "rhel",
        "rocky" => "rocky",
        "sles" | "sled" => "sles",
        "ubuntu" => "ubuntu",
        "void" => "voidlinux",
        _ => return None,
    })
}

/// `KEY=VALUE` lines, skipping blank lines and comments; a line without
/// `=` gives an empty value (libguestfs's `parse_key_value_strings`).
pub(super) fn key_values(lines: &[String], unquote: fn(&str) -> String) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), unquote(v)),
            None => (l.clone(), unquote("")),
        })
        .collect()
}

pub(super) fn simple_unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2
        && ((b[0] == b'"' && b[b.len() - 1] == b'"') || (b[0] == b'\'' && b[b.len() - 1] == b'\''))
    {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// Undo shell quoting of one word: `'...'` literally, `"..."` with the
/// backslash escapes the shell honours there, bare backslash escapes.
pub(super) fn shell_unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n @ ('\\' | '"' | '$' | '`')) => {
                                out.push(n);
                                chars.next();
                            }
                            _ => out.push('\\'),
                        },
                        c => out.push(c),
                    }
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Digits at the start of `s` (at most 9, so the value fits an i32).
fn leading_number(s: &str) -> Option<(i32, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || n > 9 {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// The first `(\d+)\.(\d+)` in `s`, else the first `(\d+)`.
fn find_version(s: &str) -> Option<(i32, i32)> {
    let b = s.as_bytes();
    let mut first_major = None;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let (major, rest) = leading_number(&s[i..]).unwrap_or((0, &s[i..]));
            let digits = s.len() - i - rest.len();
            if first_major.is_none() && digits > 0 {
                first_major = leading_number(&s[i..]).map(|(m, _)| m);
            }
            if let Some(after) = rest.strip_prefix('.') {
                if let Some((minor, _)) = leading_number(after) {
                    if digits > 0 {
                        return Some((major, minor));
                    }
                }
            }
            i += digits.max(1);
        } else {
            i += 1;
        }
    }
    first_major.map(|m| (m, 0))
}

pub(super) fn parse_version_from_major_minor(s: &str, data: &mut Data) {
    if let Some(v) = find_version(s) {
        data.version = Some(v);
    }
}

fn parse_version_id(value: &str, data: &mut Data) {
    // NeoKylin writes "V7Update6".
    if let Some(rest) = value.strip_prefix('V') {
        if let Some((major, rest)) = leading_number(rest) {
            if let Some(rest) = rest.strip_prefix("Update") {
                if let Some((minor, "")) = leading_number(rest) {
                    data.version = Some((major, minor));
                    return;
                }
            }
        }
    }
    parse_version_from_major_minor(value, data);
}

/// Match one of the release-line patterns: `Some((major, minor))` when it
/// matches (each may be absent), `None` when it does not.
fn match_rex(rex: Rex, line: &str) -> Option<(Option<i32>, Option<i32>)> {
    // "<name>.*release " then a number: try every "release " after the name
    // (a regex would backtrack the same way).
    let after_name = |name: &str| -> Vec<usize> {
        match line.find(name) {
            Some(p) => line[p + name.len()..]
                .match_indices("release ")
                .map(|(i, _)| p + name.len() + i + "release ".len())
                .collect(),
            None => Vec::new(),
        }
    };
    match rex {
        Rex::Old(name) => {
            for start in after_name(name) {
                if let Some((major, rest)) = leading_number(&line[start..]) {
                    if let Some(u) = rest.find("Update ") {
                        if let Some((minor, _)) = leading_number(&rest[u + 7..]) {
                            return Some((Some(major), Some(minor)));
                        }
                    }
                }
            }
            None
        }
        Rex::MajorMinor(name) => {
            for start in after_name(name) {
                if let Some((major, rest)) = leading_number(&line[start..]) {
                    if let Some((minor, _)) = rest.strip_prefix('.').and_then(leading_number) {
                        return Some((Some(major), Some(minor)));
                    }
                }
            }
            None
        }
        Rex::Major(name) => {
            for start in after_name(name) {
                if let Some((major, _)) = leading_number(&line[start..]) {
                    return Some((Some(major), None));
                }
            }
            None
        }
        Rex::OpenMandriva => {
            for start in after_name("OpenMandriva") {
                if let Some((major, rest)) = leading_number(&line[start..]) {
                    if let Some((minor, _)) = rest.strip_prefix('.').and_then(leading_number) {
                        return Some((Some(major), Some(minor)));
                    }
                }
            }
            None
        }
        Rex::TencentOs => {
            let p = line.find("TencentOS")?;
            find_dotted(&line[p..], |pre| pre.ends_with(' '))
        }
        Rex::Frugalware => {
            let p = line.find("Frugalware ")?;
            let rest = &line[p + 11..];
            let (major, rest) = leading_number(rest)?;
            let (minor, _) = rest.strip_prefix('.').and_then(leading_number)?;
            Some((Some(major), Some(minor)))
        }
        Rex::Pld => {
            let p = line.find(" PLD Linux")?;
            let head = &line[..p];
            let v = find_version(head)?;
            Some((Some(v.0), Some(v.1)))
        }
    }
}

/// The first `N.M` in `s` whose preceding text satisfies `pre_ok`.
fn find_dotted(s: &str, pre_ok: impl Fn(&str) -> bool) -> Option<(Option<i32>, Option<i32>)> {
    for (i, _) in s.char_indices() {
        if !pre_ok(&s[..i]) {
            continue;
        }
        if let Some((major, rest)) = leading_number(&s[i..]) {
            if let Some((minor, _)) = rest.strip_prefix('.').and_then(leading_number) {
                return Some((Some(major), Some(minor)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(find_version("12.5"), Some((12, 5)));
        assert_eq!(find_version("bookworm/sid"), None);
        assert_eq!(find_version("Ubuntu 10.10 (Phony)"), Some((10, 10)));
        assert_eq!(find_version("3.19.1"), Some((3, 19)));
        assert_eq!(find_version("v7"), Some((7, 0)));
        assert_eq!(
            match_rex(Rex::Major("Fedora"), "Fedora release 14 (Phony)"),
            Some((Some(14), None))
        );
        assert_eq!(
            match_rex(
                Rex::MajorMinor("Rocky Linux"),
                "Rocky Linux release 9.3 (Blue Onyx)"
            ),
            Some((Some(9), Some(3)))
        );
        assert_eq!(
            match_rex(Rex::MajorMinor("Red Hat"), "Fedora release 14"),
            None
        );
        assert_eq!(
            match_rex(Rex::Old("CentOS"), "CentOS release 4.8 (Final) Update 8"),
            Some((Some(4), Some(8)))
        );
    }

    #[test]
    fn unquoting() {
        assert_eq!(
            shell_unquote(r#""Debian GNU/Linux 12 (bookworm)""#),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(shell_unquote("'a b'"), "a b");
        assert_eq!(shell_unquote(r#""a \"q\" \\ b""#), r#"a "q" \ b"#);
        assert_eq!(simple_unquote("\"x\""), "x");
        assert_eq!(simple_unquote("\""), "\"");
    }

    #[test]
    fn elf_headers() {
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16] = 2;
        h[18] = 62;
        assert_eq!(elf_arch(&h).as_deref(), Some("x86_64"));
        h[18] = 183;
        assert_eq!(elf_arch(&h).as_deref(), Some("aarch64"));
        h[16] = 4; // core dump
        assert_eq!(elf_arch(&h), None);
    }
}

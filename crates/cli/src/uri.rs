//! `-a URI`: what libguestfs's tools accept besides a file name
//! (`nbd://host:port/export`, `ssh://user@host/path`, `file:///path`, ...),
//! split the way libguestfs splits it into `add_drive`'s `protocol`,
//! `server`, `username` and `secret`. guestx itself opens local files only:
//! the Handle accepts a network drive when it is added and refuses it at
//! launch, so options, traces and errors come in libguestfs's order.

/// A parsed `-a` argument.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DriveUri {
    /// `file` for a plain path; else the scheme (`nbd`, `ssh`, ...).
    pub protocol: String,
    /// The file, or the export/volume name (without its leading `/` for
    /// gluster, iscsi, nbd, rbd and sheepdog, as libguestfs).
    pub path: String,
    /// `tcp:HOST[:PORT]`, or `unix:SOCKET` from a `?socket=` query.
    pub server: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// A short lower-case scheme followed by `://` is a URI (libguestfs's
/// test); anything else is a file name.
fn is_uri(arg: &str) -> bool {
    match arg.find("://") {
        Some(n) => n <= 8 && arg[..n].bytes().all(|b| b.is_ascii_lowercase()),
        None => false,
    }
}

/// `%XX` escapes decoded (invalid ones kept as written).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits an `-a` argument as libguestfs does.
pub fn parse(arg: &str) -> Result<DriveUri, String> {
    if !is_uri(arg) {
        return Ok(DriveUri {
            protocol: "file".into(),
            path: arg.into(),
            ..DriveUri::default()
        });
    }
    let (scheme, rest) = arg.split_once("://").unwrap_or_default();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.is_empty() => {
            let port: u16 = p
                .parse()
                .map_err(|_| format!("--add: could not parse URI ‘{arg}’"))?;
            (h, Some(port))
        }
        _ => (hostport, None),
    };
    let socket = query.and_then(|q| {
        q.split(['&', ';'])
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| unescape(k) == "socket")
            .map(|(_, v)| unescape(v))
    });
    if !host.is_empty() && socket.is_some() {
        return Err(format!(
            "{arg}: cannot both a server name and a socket query parameter"
        ));
    }
    let server = if !host.is_empty() {
        Some(match port {
            Some(p) => format!("tcp:{}:{p}", unescape(host)),
            None => format!("tcp:{}", unescape(host)),
        })
    } else {
        socket.map(|s| format!("unix:{s}"))
    };
    let (username, password) = match userinfo.filter(|u| !u.is_empty()) {
        Some(u) => match u.split_once(':') {
            Some((name, pw)) => (Some(unescape(name)), (!pw.is_empty()).then(|| unescape(pw))),
            None => (Some(unescape(u)), None),
        },
        None => (None, None),
    };
    let mut path = unescape(path);
    if path.starts_with('/') && matches!(scheme, "gluster" | "iscsi" | "nbd" | "rbd" | "sheepdog") {
        path.remove(0);
    }
    Ok(DriveUri {
        protocol: scheme.into(),
        path,
        server,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of libguestfs's fish/test-add-uri.sh.
    #[test]
    fn splits_as_libguestfs() {
        let p = |a: &str| parse(a).unwrap();
        let u = p("file:///tmp/x.img");
        assert_eq!(
            (u.protocol.as_str(), u.path.as_str()),
            ("file", "/tmp/x.img")
        );
        assert_eq!(p("disk.img").protocol, "file");
        assert_eq!(p("Disk://x").protocol, "file");
        let u = p("ftp://user@example.com/disk.img");
        assert_eq!(u.path, "/disk.img");
        assert_eq!(u.server.as_deref(), Some("tcp:example.com"));
        assert_eq!(u.username.as_deref(), Some("user"));
        let u = p("gluster://example.com/disk");
        assert_eq!(u.path, "disk");
        let u = p("nbd:///export?socket=/sk");
        assert_eq!(
            (u.path.as_str(), u.server.as_deref()),
            ("export", Some("unix:/sk"))
        );
        let u = p("rbd://example.com:6789/pool/disk");
        assert_eq!(u.path, "pool/disk");
        assert_eq!(u.server.as_deref(), Some("tcp:example.com:6789"));
        assert_eq!(p("rbd:///pool/disk").server, None);
        let u = p("ssh://user@example.com:2000/disk.img");
        assert_eq!(u.server.as_deref(), Some("tcp:example.com:2000"));
        let u = p("iscsi://user:password@example.com/iqn.2015-12.com.libguestfs:test2/0");
        assert_eq!(u.path, "iqn.2015-12.com.libguestfs:test2/0");
        assert_eq!(u.username.as_deref(), Some("user"));
        assert_eq!(u.password.as_deref(), Some("password"));
        assert!(parse("nbd://host/x?socket=/s").is_err());
        assert_eq!(p("file:///a%20b").path, "/a b");
    }
}

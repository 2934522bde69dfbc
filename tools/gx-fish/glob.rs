//! The `glob` command: each argument that is a guest path (`/...`) or a
//! device (`/dev/...`) with wildcards is expanded, and the command runs once
//! for every combination of the matches; a pattern that matches nothing is
//! kept as it is.
//!
//! Paths expand as glob(3) with GLOB_MARK|GLOB_BRACE does in the appliance
//! (libguestfs's `glob_expand`): `{a,b}` alternatives, `*` `?` `[...]` per
//! component, hidden names only for a pattern starting with `.`, sorted,
//! directories marked with a trailing `/`. Devices match with
//! fnmatch(FNM_PATHNAME) against the device, partition and LV lists.

use crate::context::{Fish, FishError};
use crate::shell::{api_error, issue_command, lossy};
use gx_guestfs::IsDirOpts;

pub(crate) fn run_glob(f: &mut Fish, args: &[Vec<u8>]) -> Result<(), FishError> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(FishError::Msg("use 'glob command [args...]'".into()));
    };
    let mut lists: Vec<Vec<Vec<u8>>> = Vec::new();
    for a in rest {
        let s = lossy(a);
        let expanded = if s.starts_with("/dev/") {
            expand_device(f, &s)?
        } else if s.starts_with('/') {
            match expand_path(f, &s) {
                Ok(v) => v,
                Err(e) => {
                    api_error(f, &e);
                    return Err(FishError::Msg(format!(
                        "glob: guestfs_glob_expand call failed: {s}"
                    )));
                }
            }
        } else {
            Vec::new()
        };
        lists.push(if expanded.is_empty() {
            vec![a.clone()]
        } else {
            expanded.into_iter().map(String::into_bytes).collect()
        });
    }
    // Every combination, the last argument varying fastest.
    let mut pos = vec![0usize; lists.len()];
    let mut ok = true;
    loop {
        let argv: Vec<Vec<u8>> = lists.iter().zip(&pos).map(|(l, &i)| l[i].clone()).collect();
        if !issue_command(f, cmd, &argv, None, false) {
            ok = false;
        }
        let mut k = lists.len();
        loop {
            if k == 0 {
                return if ok { Ok(()) } else { Err(FishError::Silent) };
            }
            k -= 1;
            pos[k] += 1;
            if pos[k] < lists[k].len() {
                break;
            }
            pos[k] = 0;
        }
    }
}

fn expand_device(f: &mut Fish, pat: &str) -> Result<Vec<String>, FishError> {
    let mut names = f.g.list_devices()?;
    names.extend(f.g.list_partitions()?);
    if f.g.available(&["lvm2".to_string()]).is_ok() {
        names.extend(f.g.lvs()?);
    }
    Ok(names
        .into_iter()
        .filter(|n| fnmatch(pat.as_bytes(), n.as_bytes(), true))
        .collect())
}

/// glob(3) of a guest path; an error only when the handle cannot answer at
/// all (not launched).
fn expand_path(f: &mut Fish, pat: &str) -> Result<Vec<String>, String> {
    if f.g.is_config().unwrap_or(false) {
        return Err("glob_expand: call launch before using this function\n\
                    (in guestfish, don't forget to use the 'run' command)"
            .into());
    }
    let mut out = Vec::new();
    for alt in braces(pat) {
        let comps: Vec<&str> = alt.split('/').filter(|c| !c.is_empty()).collect();
        let mut found = Vec::new();
        walk(f, "/", &comps, &mut found);
        found.sort();
        for p in found {
            let dir =
                f.g.is_dir(
                    &p,
                    IsDirOpts {
                        followsymlinks: Some(true),
                    },
                )
                .unwrap_or(false);
            out.push(if dir && p != "/" { format!("{p}/") } else { p });
        }
    }
    Ok(out)
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn has_magic(c: &str) -> bool {
    c.contains(['*', '?', '['])
}

fn walk(f: &Fish, dir: &str, comps: &[&str], found: &mut Vec<String>) {
    let Some((c, rest)) = comps.split_first() else {
        found.push(dir.to_string());
        return;
    };
    if !has_magic(c) {
        let path = join(dir, &unescape(c));
        if rest.is_empty() {
            if f.g.exists(&path).unwrap_or(false) {
                found.push(path);
            }
        } else {
            walk(f, &path, rest, found);
        }
        return;
    }
    let Ok(names) = f.g.ls(dir) else {
        return;
    };
    for n in names {
        if n.starts_with('.') && !c.starts_with('.') {
            continue;
        }
        if fnmatch(c.as_bytes(), n.as_bytes(), true) {
            let path = join(dir, &n);
            if rest.is_empty() {
                found.push(path);
            } else if f
                .g
                .is_dir(
                    &path,
                    IsDirOpts {
                        followsymlinks: Some(true),
                    },
                )
                .unwrap_or(false)
            {
                walk(f, &path, rest, found);
            }
        }
    }
}

fn unescape(c: &str) -> String {
    let mut s = String::new();
    let mut esc = false;
    for ch in c.chars() {
        if ch == '\\' && !esc {
            esc = true;
            continue;
        }
        esc = false;
        s.push(ch);
    }
    s
}

/// GLOB_BRACE: `a{b,c{d,e}}f` -> abf, acdf, acef (a lone or unbalanced
/// brace is literal).
fn braces(p: &str) -> Vec<String> {
    let b = p.as_bytes();
    let Some(open) = b.iter().position(|&c| c == b'{') else {
        return vec![p.to_string()];
    };
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut start = open + 1;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    parts.push(&p[start..i]);
                    let (pre, post) = (&p[..open], &p[i + 1..]);
                    let mut out = Vec::new();
                    for part in parts {
                        for tail in braces(post) {
                            out.extend(braces(&format!("{pre}{part}{tail}")));
                        }
                    }
                    return out;
                }
            }
            b',' if depth == 1 => {
                parts.push(&p[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    vec![p.to_string()]
}

/// fnmatch(3) without FNM_PERIOD; with `pathname`, wildcards never match
/// `/`. A backslash quotes the next character.
pub(crate) fn fnmatch(p: &[u8], s: &[u8], pathname: bool) -> bool {
    let (mut pi, mut si) = (0, 0);
    // The last `*` seen and where in `s` it was tried from.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi + 1, si));
                    pi += 1;
                    continue;
                }
                b'?' if si < s.len() && !(pathname && s[si] == b'/') => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' if si < s.len() && !(pathname && s[si] == b'/') => {
                    if let Some((m, next)) = class(p, pi, s[si]) {
                        if m {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == b'[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() && si < s.len() && p[pi + 1] == s[si] => {
                    pi += 2;
                    si += 1;
                    continue;
                }
                c if c != b'*'
                    && c != b'?'
                    && c != b'['
                    && c != b'\\'
                    && si < s.len()
                    && s[si] == c =>
                {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'\\' if pi + 1 == p.len() && si < s.len() && s[si] == b'\\' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: let the last `*` take one more character.
        match star {
            Some((sp, ss)) if ss < s.len() && !(pathname && s[ss] == b'/') => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// A bracket expression at `p[i]` (`[`) against `c`: (matched, index after
/// `]`), or `None` when it is not closed (then `[` is literal).
fn class(p: &[u8], i: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = i + 1;
    let negate = j < p.len() && (p[j] == b'!' || p[j] == b'^');
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    while j < p.len() && (first || p[j] != b']') {
        first = false;
        let lo = if p[j] == b'\\' && j + 1 < p.len() {
            j += 1;
            p[j]
        } else {
            p[j]
        };
        if j + 2 < p.len() && p[j + 1] == b'-' && p[j + 2] != b']' {
            let hi = p[j + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            j += 3;
        } else {
            if lo == c {
                matched = true;
            }
            j += 1;
        }
    }
    if j >= p.len() {
        return None;
    }
    Some((matched != negate, j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_like_libc() {
        let m = |p: &str, s: &str| fnmatch(p.as_bytes(), s.as_bytes(), true);
        assert!(m("/dev/a*", "/dev/abc"));
        assert!(!m("/dev/a*", "/dev/abc/lv1"));
        assert!(m("/dev/a*/*", "/dev/abc/lv1"));
        assert!(m("/dev/a*/lv?", "/dev/abc/lv2"));
        assert!(!m("/dev/a*/lv", "/dev/abc/lv2"));
        assert!(m("/dev/a*/*3", "/dev/abc/lv3"));
        assert!(m("b??1", "bar1"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("[]]", "]"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXbYc"));
        assert!(!m("a*b*c", "aXbY"));
        assert!(m("[", "["));
    }

    #[test]
    fn brace_alternatives() {
        assert_eq!(braces("/a{b,c}d"), ["/abd", "/acd"]);
        assert_eq!(braces("/{x,y{1,2}}"), ["/x", "/y1", "/y2"]);
        assert_eq!(braces("/a{b"), ["/a{b"]);
    }
}

//! Export in the `.reg` text format exactly as `hivexregedit --export` and
//! `virt-win-reg` print it, and the single-value form that `virt-win-reg
//! IMAGE KEY VALUE` prints (which is hivexget's output).
//!
//! The rules, as hivex 1.3.23's Win::Hivex::Regedit applies them:
//! - `[PREFIX\path]` for each key (the root is `\`; one trailing `\` of the
//!   prefix is dropped), then its values sorted by name, then a blank line,
//!   then its subkeys sorted by name, recursively. LF line endings.
//! - `@=` for the default value, else `"name"=` with `\` and `"` escaped.
//! - `dword:%08x` only for type 4 with exactly 4 bytes; everything else is
//!   `hex(T):xx,xx,...` on one line (no wrapping), T in lowercase hex. With
//!   `unsafe_printable_strings`, types 1 and 2 print as `str(T):"..."`.
//! - Names and strings are written as Perl writes its strings to a plain
//!   file handle: Latin-1 bytes when every character is below U+0100,
//!   otherwise UTF-8. Each printed piece (prefix, path, one value name, one
//!   str(...) line) is judged separately, as Perl does.
//! - There is no `--encoding` for export: data is always shown as raw bytes.

use std::borrow::Cow;
use std::io::Write;

use crate::error::{Error, ErrorKind, Result};
use crate::hive::{Hive, MAX_KEY_DEPTH, Node, Value, Visit, WalkOptions, types};

/// Options of an export, named after hivexregedit's.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Printed before each key path, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE`.
    pub prefix: Option<String>,
    /// `--unsafe-printable-strings`: show REG_SZ and REG_EXPAND_SZ data as
    /// text (assumed UTF-16LE), losing fidelity.
    pub unsafe_printable_strings: bool,
    /// `--max-depth`: 0 prints nothing, 1 only the start key; `None` is
    /// unlimited.
    pub max_depth: Option<usize>,
    /// Print the `Windows Registry Editor Version 5.00` line and a blank
    /// line first, as hivexregedit does (virt-win-reg does not).
    pub header: bool,
}

/// The header line hivexregedit prints before an export.
pub const HEADER: &str = "Windows Registry Editor Version 5.00\n\n";

fn io_err(e: std::io::Error) -> Error {
    Error::io("writing the export", e)
}

/// A string as Perl prints a character string to a byte file handle.
fn perl_bytes(s: &str) -> Cow<'_, [u8]> {
    if s.chars().all(|c| (c as u32) < 0x100) {
        if s.is_ascii() {
            Cow::Borrowed(s.as_bytes())
        } else {
            Cow::Owned(s.chars().map(|c| c as u32 as u8).collect())
        }
    } else {
        Cow::Borrowed(s.as_bytes())
    }
}

/// The canonical path of `node` (`\` for the root), from its parent links,
/// as hivex computes it. The chain must reach the root within 512 keys.
fn canonical_path(hive: &Hive, node: Node<'_>) -> Result<String> {
    let root = hive.root().offset();
    let mut names = Vec::new();
    let mut cur = node;
    while cur.offset() != root {
        if names.len() >= MAX_KEY_DEPTH {
            return Err(Error::corrupt(format!(
                "parent links from key at {:#x} do not reach the root",
                node.offset()
            )));
        }
        names.push(cur.name());
        cur = hive.node_at(cur.parent_offset())?;
    }
    names.reverse();
    Ok(join_path(&names))
}

fn join_path(names: &[String]) -> String {
    let mut p = String::new();
    if names.is_empty() {
        p.push('\\');
    }
    for n in names {
        p.push('\\');
        p.push_str(n);
    }
    p
}

/// Writes the export of `node` and its subtree to `out`.
pub fn export(
    hive: &Hive,
    node: Node<'_>,
    opts: &ExportOptions,
    out: &mut impl Write,
) -> Result<()> {
    if opts.header {
        out.write_all(HEADER.as_bytes()).map_err(io_err)?;
    }
    let base: Vec<String> = {
        let p = canonical_path(hive, node)?;
        if p == "\\" {
            Vec::new()
        } else {
            p[1..].split('\\').map(str::to_owned).collect()
        }
    };
    let prefix = opts
        .prefix
        .as_deref()
        .map(|p| p.strip_suffix('\\').unwrap_or(p));
    let walk = WalkOptions {
        sorted: true,
        max_depth: MAX_KEY_DEPTH,
    };
    hive.walk(node, &walk, |e| {
        if opts.max_depth.is_some_and(|m| e.depth >= m) {
            return Ok(Visit::SkipChildren);
        }
        let mut names = base.clone();
        names.extend(e.names.iter().skip(1).cloned());
        out.write_all(b"[").map_err(io_err)?;
        if let Some(p) = prefix {
            out.write_all(p.as_bytes()).map_err(io_err)?;
        }
        out.write_all(&perl_bytes(&join_path(&names)))
            .map_err(io_err)?;
        out.write_all(b"]\n").map_err(io_err)?;
        write_values(&e.node, opts, out)?;
        out.write_all(b"\n").map_err(io_err)?;
        Ok(Visit::Continue)
    })
}

/// Looks up `path` (see [`Hive::lookup`]) and exports it; a missing key is
/// an error of kind [`ErrorKind::NotFound`].
pub fn export_path(
    hive: &Hive,
    path: &str,
    opts: &ExportOptions,
    out: &mut impl Write,
) -> Result<()> {
    match hive.lookup(path)? {
        Some(node) => export(hive, node, opts, out),
        None => Err(Error::new(
            ErrorKind::NotFound,
            format!("{path}: path not found in this hive"),
        )),
    }
}

fn write_values(node: &Node<'_>, opts: &ExportOptions, out: &mut impl Write) -> Result<()> {
    let mut vals: Vec<(String, Value<'_>)> =
        node.values()?.into_iter().map(|v| (v.name(), v)).collect();
    // Stable, like Perl's sort: equal names keep list order.
    vals.sort_by(|a, b| a.0.cmp(&b.0));
    // hivexregedit reads every value before printing any; an unreadable one
    // fails the key before its values are printed.
    for (_, v) in &vals {
        v.data()?;
    }
    for (name, v) in vals {
        // Fetched again one at a time, so that memory holds one value's
        // data however many values share a big cell.
        let (t, data) = (v.value_type(), v.data()?);
        if name.is_empty() {
            out.write_all(b"@=").map_err(io_err)?;
        } else {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            out.write_all(b"\"").map_err(io_err)?;
            out.write_all(&perl_bytes(&escaped)).map_err(io_err)?;
            out.write_all(b"\"=").map_err(io_err)?;
        }
        if t == types::REG_DWORD && data.len() == 4 {
            let d = gx_disk::bytes::le32(&data, 0).map_err(|e| Error::corrupt(e.to_string()))?;
            writeln!(out, "dword:{d:08x}").map_err(io_err)?;
        } else if opts.unsafe_printable_strings && (t == types::REG_SZ || t == types::REG_EXPAND_SZ)
        {
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]));
            let mut s: String = char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            // Perl's s/\x{0}$//: one NUL at the end, or before a final LF.
            if s.ends_with('\0') {
                s.pop();
            } else if s.ends_with("\0\n") {
                s.truncate(s.len() - 2);
                s.push('\n');
            }
            let line = format!("str({t:x}):\"{}\"\n", s.replace('"', "\\\""));
            out.write_all(&perl_bytes(&line)).map_err(io_err)?;
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut line = format!("hex({t:x}):");
            line.reserve(data.len() * 3);
            for (i, &b) in data.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push(char::from(HEX[usize::from(b >> 4)]));
                line.push(char::from(HEX[usize::from(b & 15)]));
            }
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(io_err)?;
        }
    }
    Ok(())
}

/// Prints one value of `node` as `virt-win-reg IMAGE KEY NAME` does (via
/// hivexget): `@` or `""` names the default value. Strings (types 1, 2, 6)
/// print as UTF-8 up to the first NUL plus a newline; DWORDs (4, 5) and
/// QWORDs (11) as signed decimal plus a newline (-1 when the data is too
/// short, as hivexget prints); multi-strings (7) one piece per line, empty
/// pieces included; anything else as its raw bytes.
pub fn print_value(node: &Node<'_>, name: &str, out: &mut impl Write) -> Result<()> {
    let key = if name == "@" { "" } else { name };
    let v = node
        .value(key)?
        .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("{name}: value not found")))?;
    match v.value_type() {
        types::REG_SZ | types::REG_EXPAND_SZ | types::REG_LINK => {
            writeln!(out, "{}", v.as_string()?).map_err(io_err)?;
        }
        types::REG_DWORD | types::REG_DWORD_BIG_ENDIAN => {
            let d = match v.as_dword() {
                Ok(d) => d as i32,
                Err(e) if e.kind() == ErrorKind::WrongType => -1,
                Err(e) => return Err(e),
            };
            writeln!(out, "{d}").map_err(io_err)?;
        }
        types::REG_QWORD => {
            let q = match v.as_qword() {
                Ok(q) => q as i64,
                Err(e) if e.kind() == ErrorKind::WrongType => -1,
                Err(e) => return Err(e),
            };
            writeln!(out, "{q}").map_err(io_err)?;
        }
        types::REG_MULTI_SZ => {
            for s in v.multi_string_hivex()? {
                writeln!(out, "{s}").map_err(io_err)?;
            }
        }
        _ => out.write_all(&v.data()?).map_err(io_err)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_string_bytes() {
        assert_eq!(&*perl_bytes("abc"), b"abc");
        assert_eq!(&*perl_bytes("\u{e4}"), b"\xe4");
        assert_eq!(&*perl_bytes("\u{e4}\u{20ac}"), "\u{e4}\u{20ac}".as_bytes());
    }

    #[test]
    fn paths() {
        assert_eq!(join_path(&[]), "\\");
        assert_eq!(join_path(&["a".into(), "b".into()]), "\\a\\b");
    }
}

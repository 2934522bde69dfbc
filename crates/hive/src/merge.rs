//! Merging `.reg` files into hives, reading them as `hivexregedit --merge`
//! (hivex's Win::Hivex::Regedit `reg_import`) does.
//!
//! What it owns: the parser and the merge rules. The input is bytes, read
//! line by line:
//! - a line ending in `\` (spaces may follow it) continues on the next one;
//!   one CR before each LF is dropped;
//! - outside a section, blank lines, `;` comments, any line holding
//!   `Windows Registry Editor Version` and lines starting `REGEDIT` are
//!   skipped; `[-PATH]` deletes the key and its subtree (a missing key is
//!   not an error, the root is); `[PATH]` opens a section;
//! - inside a section: `"name"=-` and `@=-` delete a value, `"name"=VALUE`
//!   and `@=VALUE` set one; a blank or `;` line ends the section, which is
//!   then applied: the key is created if it does not exist (its parent must
//!   exist), values named for deletion or set again go, the others keep
//!   their order, the new ones follow. Any other line is an error;
//! - VALUE is `"string"`, `str:"string"`, `str(T):"string"` (type T in hex;
//!   the text up to the first unescaped `"` with `\x` standing for `x`,
//!   plus a NUL, encoded in the chosen encoding), `dword:` and exactly 8 hex
//!   digits, `hex:` or `hex(T):` and hex bytes (commas and spaces ignored).
//!
//! As in hivex, the bytes of a string value stand for one character each
//! (Latin-1) before they are encoded, and key and value names are UTF-8.
//! Where hivex would store garbage we refuse with an error instead: hex
//! data with a non-hex character or an odd number of digits, type numbers
//! beyond 32 bits, names that are not UTF-8 or contain NUL. A value named
//! twice in one section is set once, with its last data (hivex stores two
//! values of one name). Every error names the file and line.
//!
//! What it must not do: change anything when a line fails (callers commit
//! only after every file merged), or read unbounded lines: a line longer
//! than [`MAX_LINE`] bytes is an error.

use std::io::BufRead;

use crate::error::{Error, ErrorKind, Result};
use crate::write::{HiveEditor, KeyId, MAX_VALUE_DATA, SetValue};

/// Longest line (after joining continuations): the hex form of the largest
/// value plus room for its name.
pub const MAX_LINE: usize = 3 * MAX_VALUE_DATA + 65_536;

/// How string values (`"..."`, `str:`, `str(T):`) are encoded in the hive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringEncoding {
    /// hivex's and Windows' default.
    #[default]
    Utf16Le,
    Utf16Be,
    /// Big-endian with a byte order mark, as Perl's `UTF-16` encodes.
    Utf16,
    Utf8,
    Latin1,
    /// Characters above 0x7F become `?`, as Perl's encoder substitutes.
    Ascii,
}

impl std::str::FromStr for StringEncoding {
    type Err = Error;

    /// Encoding names as Perl's Encode knows them, in any case, with or
    /// without `-`/`_` (`UTF-16LE`, `utf16le`, `ASCII`, `latin1`, ...).
    fn from_str(s: &str) -> Result<Self> {
        let n: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match n.as_str() {
            "utf16le" | "ucs2le" => StringEncoding::Utf16Le,
            "utf16be" | "ucs2be" => StringEncoding::Utf16Be,
            "utf16" => StringEncoding::Utf16,
            "utf8" => StringEncoding::Utf8,
            "latin1" | "iso88591" => StringEncoding::Latin1,
            "ascii" | "usascii" => StringEncoding::Ascii,
            _ => {
                return Err(Error::invalid(format!(
                    "unknown string encoding {s:?} (expecting UTF-16LE, UTF-16BE, UTF-16, \
                     UTF-8, ISO-8859-1 or ASCII)"
                )));
            }
        })
    }
}

impl StringEncoding {
    /// Encodes `bytes`, each standing for one character, plus a final NUL.
    fn encode(self, bytes: &[u8]) -> Vec<u8> {
        let chars = bytes.iter().copied().chain(std::iter::once(0));
        let mut out = Vec::with_capacity(bytes.len() * 2 + 2);
        match self {
            StringEncoding::Utf16Le => chars.for_each(|b| out.extend([b, 0])),
            StringEncoding::Utf16Be => chars.for_each(|b| out.extend([0, b])),
            StringEncoding::Utf16 => {
                out.extend([0xFE, 0xFF]);
                chars.for_each(|b| out.extend([0, b]));
            }
            StringEncoding::Utf8 => chars.for_each(|b| {
                let mut buf = [0u8; 2];
                out.extend_from_slice(char::from(b).encode_utf8(&mut buf).as_bytes());
            }),
            StringEncoding::Latin1 => out.extend(chars),
            StringEncoding::Ascii => out.extend(chars.map(|b| if b < 0x80 { b } else { b'?' })),
        }
        out
    }
}

/// Where the keys of a `.reg` file go.
pub trait ImportTarget {
    /// The editor holding the key `path` (as written between the brackets)
    /// and the key's path inside that hive. An error here fails the merge.
    fn map(&mut self, path: &str) -> Result<(&mut HiveEditor, String)>;
}

/// One hive, as `hivexregedit --merge [--prefix PREFIX]` merges into: a
/// path that starts with the prefix (compared ignoring ASCII case) loses it,
/// any other path is taken as it is.
pub struct SingleHive<'a> {
    pub editor: &'a mut HiveEditor,
    pub prefix: Option<String>,
}

impl ImportTarget for SingleHive<'_> {
    fn map(&mut self, path: &str) -> Result<(&mut HiveEditor, String)> {
        let rest = match &self.prefix {
            Some(p) => match path.as_bytes().get(..p.len()) {
                Some(head) if head.eq_ignore_ascii_case(p.as_bytes()) => {
                    // An ASCII-insensitive match of a str prefix ends on a
                    // char boundary unless the prefix cuts a character.
                    path.get(p.len()..).unwrap_or(path)
                }
                _ => path,
            },
            None => path,
        };
        Ok((&mut *self.editor, rest.to_string()))
    }
}

/// Options of a merge.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Encoding of string values (`--encoding`).
    pub encoding: StringEncoding,
}

/// Counts of what a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub keys_added: usize,
    pub keys_deleted: usize,
    pub sections: usize,
    pub values_set: usize,
    pub values_deleted: usize,
}

/// Perl's `\s`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

fn trim_end_space(l: &[u8]) -> &[u8] {
    let n = l.iter().rposition(|&b| !is_space(b)).map_or(0, |i| i + 1);
    &l[..n]
}

/// `^\s*(;.*)?$`
fn is_blank_or_comment(l: &[u8]) -> bool {
    match l.iter().position(|&b| !is_space(b)) {
        None => true,
        Some(i) => l[i] == b';',
    }
}

/// `^\[(.*)\]\s*$` after `open`: the text between `open` and the last `]`.
fn bracketed<'l>(l: &'l [u8], open: &[u8]) -> Option<&'l [u8]> {
    let t = trim_end_space(l);
    if t.len() > open.len() && t.starts_with(open) && t.ends_with(b"]") {
        Some(&t[open.len()..t.len() - 1])
    } else {
        None
    }
}

/// A double-quoted string: the text up to the first unescaped `"`, where
/// `\x` stands for `x`, and what follows the closing quote. `None` without
/// an opening or a closing quote.
fn parse_quoted(l: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    if l.first() != Some(&b'"') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < l.len() {
        match l[i] {
            b'"' => return Some((out, &l[i + 1..])),
            b'\\' => {
                i += 1;
                out.push(*l.get(i)?);
            }
            c => out.push(c),
        }
        i += 1;
    }
    None
}

fn is_hex_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_hexdigit)
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// The bytes of a `hex:` list: commas and white space ignored, then pairs
/// of hex digits.
fn hex_bytes(s: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let digits: Vec<u8> = s
        .iter()
        .copied()
        .filter(|&b| b != b',' && !is_space(b))
        .collect();
    if let Some(&bad) = digits.iter().find(|b| !b.is_ascii_hexdigit()) {
        return Err(format!(
            "{:?} is not a hex digit in hex data",
            char::from(bad)
        ));
    }
    if digits.len() % 2 != 0 {
        return Err("hex data has an odd number of digits".into());
    }
    if digits.len() / 2 > MAX_VALUE_DATA {
        return Err(format!(
            "hex data of {} bytes is more than the {MAX_VALUE_DATA} a value can hold",
            digits.len() / 2
        ));
    }
    Ok(digits
        .chunks_exact(2)
        .map(|p| (hex_val(p[0]) << 4) | hex_val(p[1]))
        .collect())
}

fn type_number(s: &[u8]) -> std::result::Result<u32, String> {
    let t = std::str::from_utf8(s).unwrap_or("");
    u32::from_str_radix(t, 16).map_err(|_| format!("type {t} does not fit in 32 bits"))
}

/// `"str"`, `str:"str"`, `str(T):"str"`, `dword:XXXXXXXX`, `hex:..`,
/// `hex(T):..`; `Ok(None)` when the text is none of them (hivex's parse
/// error), `Err` for the forms we refuse with a reason.
fn parse_value(
    name: String,
    v: &[u8],
    enc: StringEncoding,
) -> std::result::Result<Option<SetValue>, String> {
    let quoted = |s: &[u8]| s.len() >= 2 && s.starts_with(b"\"") && s.ends_with(b"\"");
    let string = |t: u32, s: &[u8]| {
        Ok(parse_quoted(s).map(|(text, _)| SetValue {
            name: name.clone(),
            value_type: t,
            data: enc.encode(&text),
        }))
    };
    if let Some(d) = v.strip_prefix(b"dword:") {
        if d.len() == 8 && is_hex_digits(d) {
            let n = d
                .iter()
                .fold(0u32, |n, &b| (n << 4) | u32::from(hex_val(b)));
            return Ok(Some(SetValue {
                name,
                value_type: 4,
                data: n.to_le_bytes().to_vec(),
            }));
        }
    } else if let Some(h) = v.strip_prefix(b"hex:") {
        return Ok(Some(SetValue {
            name,
            value_type: 3,
            data: hex_bytes(h)?,
        }));
    } else if let Some(rest) = v.strip_prefix(b"hex(") {
        if let Some(close) = rest.windows(2).position(|w| w == b"):") {
            let t = &rest[..close];
            if is_hex_digits(t) {
                return Ok(Some(SetValue {
                    name,
                    value_type: type_number(t)?,
                    data: hex_bytes(&rest[close + 2..])?,
                }));
            }
        }
    } else if let Some(s) = v.strip_prefix(b"str:") {
        if quoted(s) {
            return string(1, s);
        }
    } else if let Some(rest) = v.strip_prefix(b"str(") {
        if let Some(close) = rest.windows(2).position(|w| w == b"):") {
            let (t, s) = (&rest[..close], &rest[close + 2..]);
            if is_hex_digits(t) && quoted(s) {
                return string(type_number(t)?, s);
            }
        }
    } else if quoted(v) {
        return string(1, v);
    }
    Ok(None)
}

/// Reads lines of at most [`MAX_LINE`] bytes.
struct Lines<R> {
    r: R,
    /// Number of the last physical line read.
    lineno: usize,
}

impl<R: BufRead> Lines<R> {
    /// The next physical line without its LF; `None` at the end.
    fn physical(&mut self, have: usize) -> Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        loop {
            let buf = self
                .r
                .fill_buf()
                .map_err(|e| Error::io(format!("reading line {}", self.lineno + 1), e))?;
            if buf.is_empty() {
                if line.is_empty() {
                    return Ok(None);
                }
                break;
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if have + line.len() + take > MAX_LINE + 2 {
                return Err(Error::limit(format!(
                    "line {} is longer than {MAX_LINE} bytes",
                    self.lineno + 1
                )));
            }
            line.extend_from_slice(&buf[..take]);
            self.r.consume(take);
            if done {
                line.pop();
                break;
            }
        }
        self.lineno += 1;
        Ok(Some(line))
    }

    /// The next logical line: continuations joined, one CR dropped.
    fn logical(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(mut line) = self.physical(0)? else {
            return Ok(None);
        };
        loop {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let t = trim_end_space(&line).len();
            if t == 0 || line[t - 1] != b'\\' {
                return Ok(Some(line));
            }
            line.truncate(t - 1);
            match self.physical(line.len())? {
                Some(next) => line.extend_from_slice(&next),
                None => return Ok(Some(line)),
            }
        }
    }
}

/// A section being read: `[path]` and its value lines.
struct Section {
    path: Vec<u8>,
    line: usize,
    text: Vec<u8>,
    new: Vec<SetValue>,
    delete: Vec<String>,
}

/// Merges one `.reg` file read from `input` into the hives `target` maps
/// keys to. `source` names the input in error messages. On error the
/// editors may hold part of the changes: do not commit them.
pub fn reg_import(
    input: impl BufRead,
    source: &str,
    target: &mut dyn ImportTarget,
    opts: &ImportOptions,
) -> Result<ImportStats> {
    let mut lines = Lines {
        r: input,
        lineno: 0,
    };
    let mut stats = ImportStats::default();
    let mut section: Option<Section> = None;
    let fail = |kind: ErrorKind, line: usize, what: &str, text: &[u8]| {
        line_error(source, kind, line, what, text)
    };
    while let Some(l) = lines.logical()? {
        let n = lines.lineno;
        if n == 1 && (l.starts_with(&[0xFF, 0xFE]) || l.starts_with(&[0xFE, 0xFF])) {
            return Err(fail(
                ErrorKind::Invalid,
                n,
                "the file is UTF-16 text; convert it first (iconv -f utf-16 -t utf-8 | dos2unix)",
                b"",
            ));
        }
        if let Some(sec) = section.as_mut() {
            if l.first() == Some(&b'"') && trim_end_space(&l).ends_with(b"=-") {
                let (name, _) = parse_quoted(&l)
                    .ok_or_else(|| fail(ErrorKind::Invalid, n, "parse error", &l))?;
                sec.delete
                    .push(value_name(name).map_err(|w| fail(ErrorKind::Invalid, n, w, &l))?);
            } else if trim_end_space(&l) == b"@=-" {
                sec.delete.push(String::new());
            } else if l.first() == Some(&b'"') && l.windows(2).skip(1).any(|w| w == b"\"=") {
                let (name, rest) = parse_quoted(&l)
                    .ok_or_else(|| fail(ErrorKind::Invalid, n, "parse error", &l))?;
                let rest = rest
                    .strip_prefix(b"=")
                    .ok_or_else(|| fail(ErrorKind::Invalid, n, "parse error", &l))?;
                let name = value_name(name).map_err(|w| fail(ErrorKind::Invalid, n, w, &l))?;
                let v = parse_value(name, rest, opts.encoding)
                    .map_err(|w| fail(ErrorKind::Invalid, n, &w, &l))?
                    .ok_or_else(|| fail(ErrorKind::Invalid, n, "parse error", &l))?;
                sec.new.push(v);
            } else if let Some(rest) = l.strip_prefix(b"@=") {
                let v = parse_value(String::new(), rest, opts.encoding)
                    .map_err(|w| fail(ErrorKind::Invalid, n, &w, &l))?
                    .ok_or_else(|| fail(ErrorKind::Invalid, n, "parse error", &l))?;
                sec.new.push(v);
            } else if is_blank_or_comment(&l) {
                if let Some(sec) = section.take() {
                    merge_section(sec, target, &mut stats, source)?;
                }
            } else {
                return Err(fail(ErrorKind::Invalid, n, "unexpected text", &l));
            }
            continue;
        }
        if is_blank_or_comment(&l)
            || l.windows(31)
                .any(|w| w == b"Windows Registry Editor Version")
            || l.starts_with(b"REGEDIT")
        {
            continue;
        }
        if let Some(path) = bracketed(&l, b"[-") {
            let path = key_path(path).map_err(|w| fail(ErrorKind::Invalid, n, w, &l))?;
            let (ed, inner) = target
                .map(&path)
                .map_err(|e| fail(e.kind(), n, &e.message, &l))?;
            match ed
                .lookup(&inner)
                .map_err(|e| fail(e.kind(), n, &e.to_string(), &l))?
            {
                None => {}
                Some(k) if k == ed.root() => {
                    return Err(fail(
                        ErrorKind::Invalid,
                        n,
                        "the root key of a hive cannot be deleted",
                        &l,
                    ));
                }
                Some(k) => {
                    ed.delete_child(k)
                        .map_err(|e| fail(e.kind(), n, &e.to_string(), &l))?;
                    stats.keys_deleted += 1;
                }
            }
        } else if let Some(path) = bracketed(&l, b"[") {
            section = Some(Section {
                path: path.to_vec(),
                line: n,
                text: l.clone(),
                new: Vec::new(),
                delete: Vec::new(),
            });
        } else {
            return Err(fail(ErrorKind::Invalid, n, "unexpected text", &l));
        }
    }
    if let Some(sec) = section.take() {
        merge_section(sec, target, &mut stats, source)?;
    }
    Ok(stats)
}

/// An error that names the input, the line and shows (the start of) it.
fn line_error(source: &str, kind: ErrorKind, line: usize, what: &str, text: &[u8]) -> Error {
    let shown: String = String::from_utf8_lossy(text).chars().take(100).collect();
    Error::new(kind, format!("{source}: line {line}: {what}: {shown}"))
}

fn value_name(b: Vec<u8>) -> std::result::Result<String, &'static str> {
    let s = String::from_utf8(b).map_err(|_| "the value name is not UTF-8")?;
    if s.contains('\0') {
        return Err("the value name contains NUL");
    }
    Ok(s)
}

fn key_path(b: &[u8]) -> std::result::Result<String, &'static str> {
    let s = std::str::from_utf8(b).map_err(|_| "the key path is not UTF-8")?;
    if s.contains('\0') {
        return Err("the key path contains NUL");
    }
    Ok(s.to_string())
}

/// Applies a finished section, as hivex's `_merge_node` does.
fn merge_section(
    sec: Section,
    target: &mut dyn ImportTarget,
    stats: &mut ImportStats,
    source: &str,
) -> Result<()> {
    let fail = |kind: ErrorKind, line: usize, what: &str, text: &[u8]| {
        line_error(source, kind, line, what, text)
    };
    let n = sec.line;
    let l = &sec.text;
    let err = |e: Error| fail(e.kind(), n, &e.message, l);
    let path = key_path(&sec.path).map_err(|w| fail(ErrorKind::Invalid, n, w, l))?;
    let (ed, inner) = target.map(&path).map_err(err)?;
    let key: KeyId = match ed.lookup(&inner).map_err(err)? {
        Some(k) => k,
        None => {
            // The name is the last run of characters without `\`; with a
            // trailing `\` hivex takes the whole path, whose "parent" is
            // itself and so cannot exist.
            let cut = inner.rfind('\\').map_or(0, |i| i + 1);
            let (parent_path, name) = if cut == inner.len() {
                (inner.as_str(), inner.as_str())
            } else {
                (&inner[..cut], &inner[cut..])
            };
            let parent = ed.lookup(parent_path).map_err(err)?.ok_or_else(|| {
                fail(
                    ErrorKind::Invalid,
                    n,
                    &format!("cannot create {inner} since parent {parent_path} does not exist"),
                    l,
                )
            })?;
            let k = ed.add_child(parent, name).map_err(err)?;
            stats.keys_added += 1;
            k
        }
    };
    stats.sections += 1;
    stats.values_set += sec.new.len();
    stats.values_deleted += sec.delete.len();
    ed.merge_values(key, sec.new, &sec.delete).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings() {
        assert_eq!(
            parse_quoted(b"\"a\\\"b\"=x"),
            Some((b"a\"b".to_vec(), &b"=x"[..]))
        );
        assert_eq!(
            parse_quoted(b"\"\\\\W\\\\\""),
            Some((b"\\W\\".to_vec(), &b""[..]))
        );
        assert_eq!(parse_quoted(b"\"abc"), None);
        assert_eq!(parse_quoted(b"\"abc\\"), None);
        assert_eq!(parse_quoted(b"abc\""), None);
    }

    #[test]
    fn values() {
        let e = StringEncoding::Utf16Le;
        let v = |s: &str| parse_value("n".into(), s.as_bytes(), e);
        assert_eq!(
            v("dword:ff123456").unwrap().unwrap().data,
            [0x56, 0x34, 0x12, 0xff]
        );
        assert_eq!(v("dword:123").unwrap(), None);
        assert_eq!(v("dword:123456789").unwrap(), None);
        assert_eq!(v("hex:01, 02,\t0A").unwrap().unwrap().data, [1, 2, 10]);
        assert_eq!(v("hex(b):").unwrap().unwrap().value_type, 11);
        assert!(v("hex:1,2,3").is_err());
        assert!(v("hex(1):xy").is_err());
        assert!(v("hex(100000000):00").is_err());
        assert_eq!(v("\"Hi\"").unwrap().unwrap().data, b"H\0i\0\0\0");
        let s = v("str(2):\"a\\\"b\"").unwrap().unwrap();
        assert_eq!((s.value_type, s.data), (2, b"a\0\"\0b\0\0\0".to_vec()));
        // Like hivex: text after the closing quote is ignored.
        assert_eq!(v("\"q\"r\"").unwrap().unwrap().data, b"q\0\0\0");
        assert_eq!(v("str:\"x\"").unwrap().unwrap().value_type, 1);
        assert_eq!(v("\"x").unwrap(), None);
        assert_eq!(v("42").unwrap(), None);
    }

    #[test]
    fn encodings() {
        let b = b"a\xe4";
        assert_eq!(StringEncoding::Utf16Le.encode(b), b"a\0\xe4\0\0\0");
        assert_eq!(StringEncoding::Utf16Be.encode(b), b"\0a\0\xe4\0\0");
        assert_eq!(StringEncoding::Utf16.encode(b), b"\xfe\xff\0a\0\xe4\0\0");
        assert_eq!(StringEncoding::Utf8.encode(b), b"a\xc3\xa4\0");
        assert_eq!(StringEncoding::Latin1.encode(b), b"a\xe4\0");
        assert_eq!(StringEncoding::Ascii.encode(b), b"a?\0");
        for name in ["UTF-16LE", "utf16le", "ascii", "ISO-8859-1", "utf-8"] {
            assert!(name.parse::<StringEncoding>().is_ok(), "{name}");
        }
        assert!("ebcdic".parse::<StringEncoding>().is_err());
    }

    #[test]
    fn continuation_lines() {
        let input = b"a\\  \r\n  b\\\nc\r\nd\\";
        let mut l = Lines {
            r: &input[..],
            lineno: 0,
        };
        assert_eq!(l.logical().unwrap().unwrap(), b"a  bc");
        assert_eq!(l.lineno, 3);
        assert_eq!(l.logical().unwrap().unwrap(), b"d");
        assert_eq!(l.logical().unwrap(), None);
    }
}

//! The LVM2 text metadata syntax (libdevmapper's config format), parsed with
//! bounds: the text a PV's metadata area holds is untrusted, so its size,
//! nesting depth, node count and string lengths are capped, and every error
//! says at which line the parser gave up.
//!
//! The grammar (as lvm2's `libdm-config.c` reads it): a file is a list of
//! `key = value` assignments and `key { ... }` sections; a value is an
//! integer, a float, a `"string"` (backslash escapes the next character), a
//! `'string'` (no escapes), a bare word, or `[ value, ... ]`. `#` starts a
//! comment; a NUL byte ends the text.
//!
//! It must not: allocate more than the text it is given (plus a bounded tree),
//! recurse deeper than [`MAX_DEPTH`], or panic on any input.

use crate::{Error, Result};

/// Deepest section nesting accepted. Real metadata nests five deep
/// (root, VG, `logical_volumes`, LV, segment); lvm2 itself indents up to 32.
pub const MAX_DEPTH: usize = 32;
/// Most nodes (assignments, sections, array elements) in one text.
pub const MAX_NODES: usize = 1 << 20;
/// Longest string value or key.
pub const MAX_STRING: usize = 64 * 1024;

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    Section(Vec<(String, Value)>),
}

impl Value {
    /// The children of a section, or nothing.
    pub fn entries(&self) -> &[(String, Value)] {
        match self {
            Value::Section(v) => v,
            _ => &[],
        }
    }

    /// The first child named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A child integer as a non-negative `u64`.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_int().and_then(|i| u64::try_from(i).ok())
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// A child list of strings (`status = ["READ", "WRITE"]`); non-strings skipped.
    pub fn get_str_list(&self, key: &str) -> Vec<&str> {
        match self.get(key).and_then(Value::as_array) {
            Some(a) => a.iter().filter_map(Value::as_str).collect(),
            None => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    SectionB,
    SectionE,
    ArrayB,
    ArrayE,
    Comma,
    Eq,
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Eof,
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
    nodes: usize,
    tok: Tok,
}

/// Parse a metadata text into its root section.
pub fn parse(text: &[u8]) -> Result<Value> {
    // A NUL ends the text, as in lvm2 (the on-disk copy is NUL-terminated).
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let mut p = Parser {
        text: &text[..end],
        pos: 0,
        line: 1,
        nodes: 0,
        tok: Tok::Eof,
    };
    p.next(false)?;
    let entries = p.entries(0)?;
    if p.tok != Tok::Eof {
        return Err(p.err("unexpected token at top level"));
    }
    Ok(Value::Section(entries))
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Error {
        Error::corrupt(format!(
            "LVM metadata text: {what} (line {}, byte {})",
            self.line, self.pos
        ))
    }

    fn count(&mut self) -> Result<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.err(&format!("more than {MAX_NODES} nodes")));
        }
        Ok(())
    }

    fn eat_space(&mut self) {
        while let Some(&c) = self.text.get(self.pos) {
            if c == b'#' {
                while let Some(&c) = self.text.get(self.pos) {
                    if c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else if c.is_ascii_whitespace() {
                if c == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn string(&self, bytes: &[u8]) -> Result<String> {
        if bytes.len() > MAX_STRING {
            return Err(self.err(&format!("string longer than {MAX_STRING} bytes")));
        }
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// Read the next token. `value` says a value may start here (after `=`,
    /// `[` or `,`): then digits are numbers and words are bare strings.
    fn next(&mut self, value: bool) -> Result<()> {
        self.eat_space();
        let t = self.text;
        let Some(&c) = t.get(self.pos) else {
            self.tok = Tok::Eof;
            return Ok(());
        };
        let start = self.pos;
        self.pos += 1;
        self.tok = match c {
            b'{' => Tok::SectionB,
            b'}' => Tok::SectionE,
            b'[' => Tok::ArrayB,
            b']' => Tok::ArrayE,
            b',' => Tok::Comma,
            b'=' => Tok::Eq,
            b'"' => {
                let mut out = Vec::new();
                loop {
                    match t.get(self.pos) {
                        None => return Err(self.err("unterminated string")),
                        Some(b'"') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b'\\') if self.pos + 1 < t.len() => {
                            out.push(t[self.pos + 1]);
                            self.pos += 2;
                        }
                        Some(&b) => {
                            if b == b'\n' {
                                self.line += 1;
                            }
                            out.push(b);
                            self.pos += 1;
                        }
                    }
                    if out.len() > MAX_STRING {
                        return Err(self.err(&format!("string longer than {MAX_STRING} bytes")));
                    }
                }
                Tok::Str(self.string(&out)?)
            }
            b'\'' => {
                let rel = t[self.pos..].iter().position(|&b| b == b'\'');
                let Some(rel) = rel else {
                    return Err(self.err("unterminated string"));
                };
                let s = self.string(&t[self.pos..self.pos + rel])?;
                self.line += t[self.pos..self.pos + rel]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                self.pos += rel + 1;
                Tok::Str(s)
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' if value => {
                let mut float = c == b'.';
                while let Some(&d) = t.get(self.pos) {
                    if d.is_ascii_digit() {
                        self.pos += 1;
                    } else if d == b'.' && !float {
                        float = true;
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let s = std::str::from_utf8(&t[start..self.pos]).unwrap_or("");
                if float {
                    Tok::Float(s.parse().map_err(|_| self.err("bad number"))?)
                } else {
                    Tok::Int(s.parse().map_err(|_| self.err("integer out of range"))?)
                }
            }
            _ => {
                while let Some(&d) = t.get(self.pos) {
                    if d.is_ascii_whitespace() || matches!(d, b'#' | b'=' | b'{' | b'}') {
                        break;
                    }
                    self.pos += 1;
                }
                let s = self.string(&t[start..self.pos])?;
                if value { Tok::Str(s) } else { Tok::Ident(s) }
            }
        };
        Ok(())
    }

    /// Assignments and sections until `}` or the end of the text.
    fn entries(&mut self, depth: usize) -> Result<Vec<(String, Value)>> {
        if depth > MAX_DEPTH {
            return Err(self.err(&format!("sections nested deeper than {MAX_DEPTH}")));
        }
        let mut out = Vec::new();
        loop {
            let key = match &self.tok {
                Tok::Ident(k) | Tok::Str(k) => k.clone(),
                Tok::Eof | Tok::SectionE => return Ok(out),
                _ => return Err(self.err("expected a key")),
            };
            self.count()?;
            self.next(false)?;
            match self.tok {
                Tok::SectionB => {
                    self.next(false)?;
                    let inner = self.entries(depth + 1)?;
                    if self.tok != Tok::SectionE {
                        return Err(self.err("section not closed"));
                    }
                    self.next(false)?;
                    out.push((key, Value::Section(inner)));
                }
                Tok::Eq => {
                    self.next(true)?;
                    let v = self.value()?;
                    out.push((key, v));
                }
                _ => return Err(self.err("expected '=' or '{' after a key")),
            }
        }
    }

    /// One value; the token after it is read (as a key position).
    fn value(&mut self) -> Result<Value> {
        let v = match std::mem::replace(&mut self.tok, Tok::Eof) {
            Tok::Int(i) => Value::Int(i),
            Tok::Float(f) => Value::Float(f),
            Tok::Str(s) => Value::Str(s),
            Tok::ArrayB => {
                let mut items = Vec::new();
                self.next(true)?;
                loop {
                    match &self.tok {
                        Tok::ArrayE => break,
                        Tok::Int(_) | Tok::Float(_) | Tok::Str(_) => {
                            self.count()?;
                            let item = match std::mem::replace(&mut self.tok, Tok::Eof) {
                                Tok::Int(i) => Value::Int(i),
                                Tok::Float(f) => Value::Float(f),
                                Tok::Str(s) => Value::Str(s),
                                _ => return Err(self.err("bad array element")),
                            };
                            items.push(item);
                            self.next(false)?;
                            match self.tok {
                                Tok::Comma => self.next(true)?,
                                Tok::ArrayE => break,
                                _ => return Err(self.err("expected ',' or ']' in an array")),
                            }
                        }
                        _ => return Err(self.err("bad array element")),
                    }
                }
                Value::Array(items)
            }
            _ => return Err(self.err("expected a value after '='")),
        };
        self.next(false)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_metadata() {
        let text = br#"vgt {
id = "pGRq4B-nHmr-6KJ3-IAms-7CJf-PK6B-vdxvmV"
seqno = 1
format = "lvm2" # informational
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = 8192
physical_volumes {
pv0 {
id = "BTLqS3-NcMY-8XDT-0O3A-rHdj-yEF7-FuMXrb"
device = "/dev/loop0"	# Hint only
dev_size = 16384
pe_start = 2048
pe_count = 1
}
}
}
contents = "Text Format Volume Group"
version = 1
description = "a \"quoted\" word"
creation_time = 1796415844
"#;
        let root = parse(text).unwrap();
        let vg = root.get("vgt").unwrap();
        assert_eq!(vg.get_u64("seqno"), Some(1));
        assert_eq!(vg.get_str_list("status"), ["RESIZEABLE", "READ", "WRITE"]);
        assert_eq!(vg.get_str_list("flags"), Vec::<&str>::new());
        let pv0 = vg.get("physical_volumes").unwrap().get("pv0").unwrap();
        assert_eq!(pv0.get_u64("pe_start"), Some(2048));
        assert_eq!(root.get_str("description"), Some("a \"quoted\" word"));
        assert_eq!(root.get_u64("version"), Some(1));
    }

    #[test]
    fn nul_ends_the_text() {
        let root = parse(b"a = 1\n\0garbage {{{").unwrap();
        assert_eq!(root.get_u64("a"), Some(1));
    }

    #[test]
    fn hostile_inputs_are_errors() {
        let deep = "a {".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(b"a = \"unterminated").is_err());
        assert!(parse(b"a = 99999999999999999999999").is_err());
        assert!(parse(b"a = [1, 2").is_err());
        assert!(parse(b"a { b = 1").is_err());
        assert!(parse(b"= 1").is_err());
        assert!(parse(b"a = [[1]]").is_err());
        let long = format!("a = \"{}\"", "x".repeat(MAX_STRING + 1));
        assert!(parse(long.as_bytes()).is_err());
        let many = "a = 1\n".repeat(MAX_NODES + 1);
        assert!(parse(many.as_bytes()).is_err());
    }

    #[test]
    fn never_panics_on_prefixes() {
        let text = b"vg { a = [\"x\", 1, 2.5] b { c = 'raw' } } # end";
        for i in 0..text.len() {
            let _ = parse(&text[..i]);
        }
    }
}

//! A small, bounded JSON reader for the LUKS2 metadata area.
//!
//! Why not serde_json: the LUKS2 area is at most 4 MiB of plain objects,
//! strings and integers; a hand parser of this size gives exact caps on
//! depth, node count and string length (the input is hostile), and keeps
//! serde and its derive macros out of the build (CI has two cores).
//!
//! It must not: recurse deeper than [`MAX_DEPTH`], keep more than
//! [`MAX_NODES`] values, or panic on any input.

use crate::{Error, Result};

pub const MAX_DEPTH: usize = 32;
pub const MAX_NODES: usize = 100_000;
pub const MAX_STRING: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// Integers only: LUKS2 keeps every size and offset as a string, and
    /// its few numbers (key sizes, iterations) are integers.
    Int(i64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Json)] {
        match self {
            Json::Object(v) => v,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Json] {
        match self {
            Json::Array(v) => v,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Json::Int(i) => Some(*i),
            _ => None,
        }
    }
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    nodes: usize,
}

/// Parse one JSON value; trailing NUL padding (as the LUKS2 area has) is allowed.
pub fn parse(text: &[u8]) -> Result<Json> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let mut p = P {
        s: &text[..end],
        i: 0,
        nodes: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters after the JSON value"));
    }
    Ok(v)
}

impl P<'_> {
    fn err(&self, what: &str) -> Error {
        Error::corrupt(format!("LUKS2 JSON metadata: {what} (at byte {})", self.i))
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json> {
        if depth > MAX_DEPTH {
            return Err(self.err(&format!("nested deeper than {MAX_DEPTH}")));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.err(&format!("more than {MAX_NODES} values")));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut out = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Object(out));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    out.push((k, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(out));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut out = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Array(out));
                }
                loop {
                    out.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(out));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                self.i += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
                    return Err(self.err("fractional numbers are not used by LUKS2"));
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                t.parse()
                    .map(Json::Int)
                    .map_err(|_| self.err("integer out of range"))
            }
            _ => Err(self.err("expected a value")),
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.err("bad literal"))
        }
    }

    fn string(&mut self) -> Result<String> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a string"));
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            if out.len() > MAX_STRING {
                return Err(self.err(&format!("string longer than {MAX_STRING} bytes")));
            }
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.err("bad \\u escape"))?;
                            self.i += 4;
                            let ch = char::from_u32(hex).unwrap_or('\u{fffd}');
                            let mut b = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
                c if c < 0x20 => return Err(self.err("control character in a string")),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }
}

/// Standard base64 (with padding), as LUKS2 stores salts and digests.
pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let bad = || Error::corrupt(format!("LUKS2 JSON metadata: bad base64 {s:?}"));
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    let mut pad = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b'\n' | b'\r' | b' ' => continue,
            _ => return Err(bad()),
        };
        if pad > 0 {
            return Err(bad());
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if pad > 2 {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_luks2_like_metadata() {
        let j = parse(
            br#"{"keyslots":{"0":{"type":"luks2","key_size":64,"af":{"stripes":4000}}},
            "segments":{"0":{"offset":"16777216","size":"dynamic","flags":[]}},"x":null,"y":true}"#,
        )
        .unwrap_or(Json::Null);
        let ks = j
            .get("keyslots")
            .and_then(|k| k.get("0"))
            .unwrap_or(&Json::Null);
        assert_eq!(ks.get("key_size").and_then(Json::as_int), Some(64));
        let seg = j
            .get("segments")
            .and_then(|k| k.get("0"))
            .unwrap_or(&Json::Null);
        assert_eq!(seg.get("offset").and_then(Json::as_str), Some("16777216"));
        assert!(parse(b"{\"a\":\"\\u00e9\\n\"}\0\0\0").is_ok());
    }

    #[test]
    fn hostile_json_is_an_error() {
        let deep = "[".repeat(MAX_DEPTH + 5);
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(b"{\"a\":1").is_err());
        assert!(parse(b"{\"a\":1.5}").is_err());
        assert!(parse(b"{\"a\":99999999999999999999999}").is_err());
        assert!(parse(b"{\"a\":\"\x01\"}").is_err());
        assert!(parse(b"{} x").is_err());
        let many = format!("[{}0]", "0,".repeat(MAX_NODES + 1));
        assert!(parse(many.as_bytes()).is_err());
        let text = br#"{"a":[1,{"b":"c\"d"}],"e":false}"#;
        for i in 0..=text.len() {
            let _ = parse(&text[..i]);
        }
    }

    #[test]
    fn base64() {
        assert_eq!(
            base64_decode("RkVET1JBAExWMw==").ok(),
            Some(b"FEDORA\0LV3".to_vec())
        );
        assert_eq!(base64_decode("").ok(), Some(Vec::new()));
        assert!(base64_decode("ab$c").is_err());
        assert!(base64_decode("a=b").is_err());
    }
}

//! A small XML tree: built by gx-inspector, serialised the way libxml2's
//! indenting writer and `xmlSaveDoc(XML_SAVE_FORMAT)` do, and parsed back
//! for `--xpath` (elements, attributes, text, entity and character
//! references, comments, CDATA; no DTDs, no namespaces).

use anyhow::{Result, bail};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// Text content (only for leaf elements, as virt-inspector writes them).
    pub text: Option<String>,
    pub children: Vec<Element>,
}

impl Element {
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_string(),
            ..Default::default()
        }
    }

    pub fn leaf(name: &str, text: impl Into<String>) -> Self {
        Element {
            name: name.to_string(),
            text: Some(text.into()),
            ..Default::default()
        }
    }

    pub fn attr(mut self, k: &str, v: impl Into<String>) -> Self {
        self.attrs.push((k.to_string(), v.into()));
        self
    }

    pub fn push(&mut self, e: Element) {
        self.children.push(e);
    }

    /// Serialise at `level` (2 spaces per level), without a trailing newline.
    pub fn write(&self, out: &mut String, level: usize) {
        let pad = "  ".repeat(level);
        out.push_str(&pad);
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_attr(v, out);
            out.push('"');
        }
        match (&self.text, self.children.is_empty()) {
            (Some(t), true) if !t.is_empty() => {
                out.push('>');
                escape_text(t, out);
                out.push_str("</");
                out.push_str(&self.name);
                out.push('>');
            }
            (_, true) => out.push_str("/>"),
            (_, false) => {
                out.push_str(">\n");
                for c in &self.children {
                    c.write(out, level + 1);
                    out.push('\n');
                }
                out.push_str(&pad);
                out.push_str("</");
                out.push_str(&self.name);
                out.push('>');
            }
        }
    }

    /// The text of this element and its descendants (XPath's string value).
    pub fn string_value(&self) -> String {
        let mut s = self.text.clone().unwrap_or_default();
        for c in &self.children {
            s.push_str(&c.string_value());
        }
        s
    }
}

/// A whole document: declaration, root, newline.
pub fn document(root: &Element) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n");
    root.write(&mut s, 0);
    s.push('\n');
    s
}

/// Characters XML 1.0 cannot carry at all are dropped: guest strings are
/// untrusted and the output must stay well-formed.
fn xml_char_ok(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// libxml2's `xmlEncodeSpecialChars`.
pub fn escape_text(s: &str, out: &mut String) {
    for c in s.chars().filter(|&c| xml_char_ok(c)) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// libxml2's attribute-value escaping.
pub fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars().filter(|&c| xml_char_ok(c)) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// Deepest nesting accepted when parsing.
const MAX_DEPTH: usize = 256;

/// Parse a document; whitespace-only text is dropped (`XML_PARSE_NOBLANKS`).
pub fn parse(input: &str) -> Result<Element> {
    let mut p = Parser { s: input, pos: 0 };
    p.skip_misc()?;
    let root = p.element(0)?;
    p.skip_misc()?;
    if p.pos < p.s.len() {
        bail!("unable to parse XML from stdin: content after the root element");
    }
    Ok(root)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn err<T>(&self, what: &str) -> Result<T> {
        bail!(
            "unable to parse XML from stdin: {what} at byte {}",
            self.pos
        )
    }

    fn skip_ws(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.pos += n;
    }

    /// Skip whitespace, comments, processing instructions and a DOCTYPE.
    fn skip_misc(&mut self) -> Result<()> {
        loop {
            self.skip_ws();
            let r = self.rest();
            let end = if r.starts_with("<?") {
                r.find("?>").map(|i| i + 2)
            } else if r.starts_with("<!--") {
                r.find("-->").map(|i| i + 3)
            } else if r.starts_with("<!DOCTYPE") {
                r.find('>').map(|i| i + 1)
            } else {
                return Ok(());
            };
            match end {
                Some(e) => self.pos += e,
                None => return self.err("unterminated markup"),
            }
        }
    }

    fn name(&mut self) -> Result<String> {
        let r = self.rest();
        let n = r
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '=' | '<'))
            .unwrap_or(r.len());
        if n == 0 {
            return self.err("expected a name");
        }
        let name = r[..n].to_string();
        self.pos += n;
        Ok(name)
    }

    fn element(&mut self, depth: usize) -> Result<Element> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        if !self.rest().starts_with('<') {
            return self.err("expected an element");
        }
        self.pos += 1;
        let mut e = Element::new(&self.name()?);
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("/>") {
                self.pos += 2;
                return Ok(e);
            }
            if r.starts_with('>') {
                self.pos += 1;
                break;
            }
            let k = self.name()?;
            self.skip_ws();
            if !self.rest().starts_with('=') {
                return self.err("expected '=' after an attribute name");
            }
            self.pos += 1;
            self.skip_ws();
            let q = match self.rest().chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return self.err("expected a quoted attribute value"),
            };
            self.pos += 1;
            let Some(end) = self.rest().find(q) else {
                return self.err("unterminated attribute value");
            };
            let v = unescape(&self.rest()[..end])?;
            self.pos += end + 1;
            e.attrs.push((k, v));
        }
        let mut text = String::new();
        loop {
            let r = self.rest();
            if r.is_empty() {
                return self.err("unterminated element");
            }
            if r.starts_with("</") {
                self.pos += 2;
                let n = self.name()?;
                if n != e.name {
                    return self.err("mismatched end tag");
                }
                self.skip_ws();
                if !self.rest().starts_with('>') {
                    return self.err("expected '>'");
                }
                self.pos += 1;
                break;
            } else if r.starts_with("<!--") {
                let Some(end) = r.find("-->") else {
                    return self.err("unterminated comment");
                };
                self.pos += end + 3;
            } else if r.starts_with("<![CDATA[") {
                let Some(end) = r.find("]]>") else {
                    return self.err("unterminated CDATA");
                };
                text.push_str(&r[9..end]);
                self.pos += end + 3;
            } else if r.starts_with("<?") {
                let Some(end) = r.find("?>") else {
                    return self.err("unterminated PI");
                };
                self.pos += end + 2;
            } else if r.starts_with('<') {
                let child = self.element(depth + 1)?;
                e.children.push(child);
            } else {
                let end = r.find('<').unwrap_or(r.len());
                text.push_str(&unescape(&r[..end])?);
                self.pos += end;
            }
        }
        if !text.trim().is_empty() || (e.children.is_empty() && !text.is_empty()) {
            e.text = Some(text);
        }
        Ok(e)
    }
}

fn unescape(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let Some(semi) = rest[i..].find(';') else {
            bail!("unable to parse XML from stdin: bad entity reference");
        };
        let ent = &rest[i + 1..i + semi];
        let c = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(h) = ent.strip_prefix("#x") {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                match code.and_then(char::from_u32) {
                    Some(c) => c,
                    None => bail!("unable to parse XML from stdin: unknown entity &{ent};"),
                }
            }
        };
        out.push(c);
        rest = &rest[i + semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut root = Element::new("a");
        root.push(Element::leaf("b", "x < y & \"z\""));
        root.push(Element::new("c").attr("dev", "/dev/sda1"));
        let doc = document(&root);
        assert_eq!(
            doc,
            "<?xml version=\"1.0\"?>\n<a>\n  <b>x &lt; y &amp; &quot;z&quot;</b>\n  <c dev=\"/dev/sda1\"/>\n</a>\n"
        );
        assert_eq!(parse(&doc).expect("parses"), root);
    }
}

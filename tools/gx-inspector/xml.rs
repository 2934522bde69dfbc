//! A small XML tree for gx-inspector: built from inspection and written
//! with quick-xml's indenting writer, or read back with quick-xml's reader
//! for `--xpath`. What quick-xml lacks is kept here: libxml2's escaping
//! (virt-inspector's output is libxml2's, and ours is compared with it byte
//! for byte), libxml2's base64 layout for `<icon>`, and the tree itself.
//! No DTDs, no namespaces.

use anyhow::{Result, bail};
use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use std::borrow::Cow;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// Text content (only for leaf elements, as virt-inspector writes them).
    pub text: Option<String>,
    /// `text` is already in its written form (base64 with libxml2's line
    /// breaks): written as it is.
    pub raw: bool,
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

    /// A leaf holding `data` as libxml2's `xmlTextWriterWriteBase64` writes
    /// it (virt-inspector's `<icon>`): lines of 72 characters ended by CRLF.
    pub fn base64_leaf(name: &str, data: &[u8]) -> Self {
        Element {
            name: name.to_string(),
            text: Some(base64_lines(data)),
            raw: true,
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

    /// The text of this element and its descendants (XPath's string value).
    pub fn string_value(&self) -> String {
        let mut s = self.text.clone().unwrap_or_default();
        for c in &self.children {
            s.push_str(&c.string_value());
        }
        s
    }

    fn write_to(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let mut start = BytesStart::new(self.name.as_str());
        for (k, v) in &self.attrs {
            let mut escaped = String::new();
            escape_attr(v, &mut escaped);
            start.push_attribute(Attribute {
                key: QName(k),
                value: Cow::Owned(escaped),
            });
        }
        match (&self.text, self.children.is_empty()) {
            (Some(t), true) if !t.is_empty() => {
                let text = if self.raw {
                    t.clone()
                } else {
                    let mut s = String::new();
                    escape_text(t, &mut s);
                    s
                };
                w.write_event(Event::Start(start))?;
                w.write_event(Event::Text(BytesText::from_escaped(text)))?;
                w.write_event(Event::End(BytesEnd::new(self.name.as_str())))
            }
            (_, true) => w.write_event(Event::Empty(start)),
            (_, false) => {
                w.write_event(Event::Start(start))?;
                for c in &self.children {
                    c.write_to(w)?;
                }
                w.write_event(Event::End(BytesEnd::new(self.name.as_str())))
            }
        }
    }
}

/// A whole document: declaration, root, newline (as libxml2's writer).
pub fn document(root: &Element) -> Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
    root.write_to(&mut w)?;
    let mut s = String::from_utf8(w.into_inner())?;
    s.push('\n');
    Ok(s)
}

/// One element, indented from column 0, without a trailing newline (an
/// XPath result node, as `xmlNodeDump` prints it).
pub fn fragment(e: &Element) -> Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    e.write_to(&mut w)?;
    Ok(String::from_utf8(w.into_inner())?)
}

/// libxml2's base64 for `xmlTextWriterWriteBase64`: standard alphabet with
/// padding, a CRLF before each group of four that would start past column 72.
fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() / 3 * 4 + data.len() / 54 * 2 + 4);
    let mut line = 0;
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        if line >= 72 {
            out.push_str("\r\n");
            line = 0;
        }
        let idx = [
            b[0] >> 2,
            ((b[0] & 0x3) << 4) | (b[1] >> 4),
            ((b[1] & 0xf) << 2) | (b[2] >> 6),
            b[2] & 0x3f,
        ];
        for (i, &x) in idx.iter().enumerate() {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[usize::from(x)])
            } else {
                '='
            });
        }
        line += 4;
    }
    out
}

/// Characters XML 1.0 cannot carry at all are dropped: guest strings are
/// untrusted and the output must stay well-formed.
fn xml_char_ok(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// libxml2's `xmlEncodeSpecialChars` (quick-xml would also escape `'`, and
/// would keep `\r`).
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
    let bad = |what: String| anyhow::anyhow!("unable to parse XML from stdin: {what}");
    let mut reader = quick_xml::Reader::from_str(input);
    reader.config_mut().check_end_names = true;
    // Open elements with the text collected in each.
    let mut stack: Vec<(Element, String)> = Vec::new();
    let mut root = None;
    loop {
        let pos = reader.buffer_position();
        let ev = reader
            .read_event()
            .map_err(|e| bad(format!("{e} at byte {pos}")))?;
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(bad("content after the root element".into()));
                }
                if stack.len() > MAX_DEPTH {
                    return Err(bad("nesting too deep".into()));
                }
                let name: &str = s.name().0;
                let mut e = Element::new(name);
                for a in s.attributes() {
                    let a = a.map_err(|e| bad(e.to_string()))?;
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| bad(e.to_string()))?;
                    e.attrs.push((a.key.0.to_string(), v.into_owned()));
                }
                if matches!(ev, Event::Empty(_)) {
                    close(e, String::new(), &mut stack, &mut root);
                } else {
                    stack.push((e, String::new()));
                }
            }
            Event::End(_) => {
                let Some((e, text)) = stack.pop() else {
                    return Err(bad("unexpected end tag".into()));
                };
                close(e, text, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let t = t.xml_content(quick_xml::XmlVersion::Implicit1_0);
                match stack.last_mut() {
                    Some((_, text)) => text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(bad("text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                if let Some((_, text)) = stack.last_mut() {
                    text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| bad(e.to_string()))? {
                    Some(c) => c,
                    None => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(bad(format!("unknown entity &{other};"))),
                    },
                };
                if let Some((_, text)) = stack.last_mut() {
                    text.push(c);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        bail!("unable to parse XML from stdin: unterminated element");
    }
    root.ok_or_else(|| bad("no root element".into()))
}

/// An element is complete: its text decided, it joins its parent (or is the root).
fn close(
    mut e: Element,
    text: String,
    stack: &mut [(Element, String)],
    root: &mut Option<Element>,
) {
    if !text.trim().is_empty() || (e.children.is_empty() && !text.is_empty()) {
        e.text = Some(text);
    }
    match stack.last_mut() {
        Some((parent, _)) => parent.children.push(e),
        None => *root = Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut root = Element::new("a");
        root.push(Element::leaf("b", "x < y & \"z\" 'q'\r"));
        root.push(Element::new("c").attr("dev", "/dev/sda1\t<"));
        let mut d = Element::new("d");
        d.push(Element::leaf("e", ""));
        root.push(d);
        let doc = document(&root).expect("writes");
        assert_eq!(
            doc,
            "<?xml version=\"1.0\"?>\n<a>\n  <b>x &lt; y &amp; &quot;z&quot; 'q'&#13;</b>\n  \
             <c dev=\"/dev/sda1&#9;&lt;\"/>\n  <d>\n    <e/>\n  </d>\n</a>\n"
        );
        let mut back = root.clone();
        // An empty leaf reads back as an element without text.
        back.children[2].children[0].text = None;
        assert_eq!(parse(&doc).expect("parses"), back);
    }

    #[test]
    fn base64_as_libxml2_writes_it() {
        assert_eq!(base64_lines(b""), "");
        assert_eq!(base64_lines(b"f"), "Zg==");
        assert_eq!(base64_lines(b"fo"), "Zm8=");
        assert_eq!(base64_lines(b"foo"), "Zm9v");
        let long = base64_lines(&[0u8; 60]);
        assert_eq!(long, format!("{}\r\n{}", "A".repeat(72), "A".repeat(8)));
        let e = Element::base64_leaf("icon", b"foo");
        assert_eq!(fragment(&e).expect("writes"), "<icon>Zm9v</icon>");
    }

    #[test]
    fn bad_documents_are_errors() {
        for bad in ["", "<a>", "<a></b>", "<a/><b/>", "<a>&nope;</a>", "text"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}

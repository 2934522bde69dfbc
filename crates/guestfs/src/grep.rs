//! `grep` in-process: POSIX basic and extended regular expressions (as
//! grep(1) reads them, C locale) translated to the `regex` crate's syntax,
//! matched line by line over a streamed file, gzip handled for `zgrep`.
//!
//! What cannot be translated faithfully (back-references, collating
//! elements and equivalence classes) is an `Unsupported` error, which sends
//! an `auto` handle to the appliance's grep. The result is bounded like any
//! reply.

use std::io::Write;

use regex::bytes::{Regex, RegexBuilder};

use crate::{Error, GrepOpts, Result};

/// Most bytes of matching lines one call returns.
const RESULT_MAX: usize = 2 * 1024 * 1024;
/// Longest line considered (longer lines are an error, as in libguestfs's
/// protocol limit).
const LINE_MAX: usize = 2 * 1024 * 1024;

/// Runs grep over what `stream` writes (the file's bytes).
pub(crate) fn grep(
    pattern: &str,
    path: &str,
    opts: &GrepOpts,
    stream: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<Vec<String>> {
    let extended = opts.extended.unwrap_or(false);
    let fixed = opts.fixed.unwrap_or(false);
    if extended && fixed {
        return Err(Error::invalid(
            "grep: extended and fixed cannot both be set",
        ));
    }
    let re = compile(pattern, extended, fixed, opts.insensitive.unwrap_or(false))?;
    let mut m = Matcher {
        re,
        cur: Vec::new(),
        out: Vec::new(),
        total: 0,
        limit: None,
    };
    let r = if opts.compressed.unwrap_or(false) {
        let mut d = flate2::write::MultiGzDecoder::new(&mut m);
        let r = stream(&mut d);
        r.and_then(|()| {
            d.try_finish()
                .map_err(|e| Error::corrupt(format!("grep: {path}: not gzip data: {e}")))
        })
    } else {
        stream(&mut m)
    };
    if let Some(why) = m.limit {
        return Err(Error::invalid(format!("grep: {path}: {why}")));
    }
    r?;
    m.finish()
        .map_err(|why| Error::invalid(format!("grep: {path}: {why}")))?;
    Ok(m.out)
}

struct Matcher {
    re: Regex,
    cur: Vec<u8>,
    out: Vec<String>,
    total: usize,
    /// Why the stream was cut short (a limit), if it was.
    limit: Option<&'static str>,
}

impl Matcher {
    fn line(&mut self, l: &[u8]) -> std::result::Result<(), &'static str> {
        if self.re.is_match(l) {
            self.total += l.len() + 1;
            if self.total > RESULT_MAX {
                return Err("the matching lines are over the 2 MiB reply limit");
            }
            self.out.push(String::from_utf8_lossy(l).into_owned());
        }
        Ok(())
    }

    fn finish(&mut self) -> std::result::Result<(), &'static str> {
        if !self.cur.is_empty() {
            let l = std::mem::take(&mut self.cur);
            self.line(&l)?;
        }
        Ok(())
    }

    fn stop(&mut self, why: &'static str) -> std::io::Error {
        self.limit = Some(why);
        std::io::Error::other(why)
    }
}

impl Write for Matcher {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let mut rest = b;
        while let Some(i) = rest.iter().position(|&c| c == b'\n') {
            let line = if self.cur.is_empty() {
                if let Err(why) = self.line(&rest[..i]) {
                    return Err(self.stop(why));
                }
                None
            } else {
                self.cur.extend_from_slice(&rest[..i]);
                Some(std::mem::take(&mut self.cur))
            };
            if let Some(l) = line {
                if let Err(why) = self.line(&l) {
                    return Err(self.stop(why));
                }
            }
            rest = &rest[i + 1..];
        }
        if self.cur.len() + rest.len() > LINE_MAX {
            return Err(self.stop("a line is longer than 2 MiB"));
        }
        self.cur.extend_from_slice(rest);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn compile(pattern: &str, extended: bool, fixed: bool, insensitive: bool) -> Result<Regex> {
    let translated = if fixed {
        // grep -F: each line of the pattern is a string; any matches.
        pattern
            .split('\n')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join("|")
    } else {
        pattern
            .split('\n')
            .map(|p| translate(p, extended))
            .collect::<Result<Vec<_>>>()?
            .join("|")
    };
    RegexBuilder::new(&translated)
        .case_insensitive(insensitive)
        .size_limit(10 << 20)
        .build()
        .map_err(|e| Error::invalid(format!("grep: invalid regular expression: {e}")))
}

/// One POSIX regular expression (basic, or extended with `ere`) in the
/// regex crate's syntax.
fn translate(p: &str, ere: bool) -> Result<String> {
    let unsupported = |what: &str| {
        Error::unsupported(format!(
            "grep: {what} in a pattern needs the appliance's grep"
        ))
    };
    let c: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // Where an expression starts (a leading * is literal there in a BRE).
    let mut at_start = true;
    while i < c.len() {
        let ch = c[i];
        let start_here = at_start;
        at_start = false;
        match ch {
            '\\' => {
                let Some(&n) = c.get(i + 1) else {
                    return Err(Error::invalid("grep: trailing backslash"));
                };
                i += 2;
                match n {
                    '1'..='9' => return Err(unsupported("a back-reference")),
                    '<' | '>' | 'b' => out.push_str("\\b"),
                    'B' => out.push_str("\\B"),
                    'w' | 'W' | 's' | 'S' => {
                        out.push('\\');
                        out.push(n);
                    }
                    '`' => out.push_str("\\A"),
                    '\'' => out.push_str("\\z"),
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' if !ere => {
                        out.push(n);
                        if n == '(' || n == '|' {
                            at_start = true;
                        }
                    }
                    other => out.push_str(&regex::escape(&other.to_string())),
                }
                continue;
            }
            '[' => {
                i = bracket(&c, i, &mut out)?;
                continue;
            }
            '*' if start_here => out.push_str("\\*"),
            '(' | ')' | '{' | '}' | '|' | '+' | '?' if !ere => {
                out.push('\\');
                out.push(ch);
            }
            '(' | '|' if ere => {
                out.push(ch);
                at_start = true;
            }
            '^' if !ere && !start_here => out.push_str("\\^"),
            '^' => {
                out.push('^');
                at_start = true;
            }
            '$' if !ere && i + 1 != c.len() && !c[i + 1..].starts_with(&['\\', ')']) => {
                out.push_str("\\$")
            }
            '.' | '*' | '$' => out.push(ch),
            '{' if ere => {
                // {,n} means {0,n}.
                if c.get(i + 1) == Some(&',') {
                    out.push_str("{0");
                } else {
                    out.push('{');
                }
            }
            ')' | '}' | '+' | '?' => out.push(ch),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    Ok(out)
}

/// Copies the bracket expression starting at `c[i]` (`[`), returning the
/// index after its closing `]`. POSIX brackets have no escapes; the regex
/// crate's do, and treat `[`, `&`, `-`, `~` specially.
fn bracket(c: &[char], mut i: usize, out: &mut String) -> Result<usize> {
    let open = i;
    i += 1;
    out.push('[');
    if c.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&ch) = c.get(i) else {
            return Err(Error::invalid(format!(
                "grep: unmatched [ at offset {open} in the pattern"
            )));
        };
        match ch {
            ']' if !first => {
                out.push(']');
                return Ok(i + 1);
            }
            '[' if matches!(c.get(i + 1), Some(':')) => {
                let rest: String = c[i..].iter().collect();
                let end = rest.find(":]").ok_or_else(|| {
                    Error::invalid("grep: unterminated character class in the pattern")
                })?;
                out.push_str(&rest[..end + 2]);
                i += rest[..end + 2].chars().count();
                first = false;
                continue;
            }
            '[' if matches!(c.get(i + 1), Some('.' | '=')) => {
                return Err(Error::unsupported(
                    "grep: collating elements in a pattern need the appliance's grep",
                ));
            }
            '-' if !first && c.get(i + 1) != Some(&']') => out.push('-'),
            '\\' | '[' | '&' | '~' | '-' | ']' | '^' => {
                out.push('\\');
                out.push(ch);
            }
            other => out.push(other),
        }
        first = false;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, ere: bool, line: &str) -> bool {
        compile(p, ere, false, false)
            .unwrap()
            .is_match(line.as_bytes())
    }

    #[test]
    fn basic_expressions() {
        assert!(m("a\\(b\\)*c", false, "xabbcx"));
        assert!(m("a(b)", false, "a(b)"));
        assert!(!m("a(b)", false, "ab"));
        assert!(m("^[[:digit:]]\\{2\\}$", false, "42"));
        assert!(!m("^[[:digit:]]\\{2\\}$", false, "421"));
        assert!(m("*star", false, "a *star"));
        assert!(m("a+b", false, "a+b"));
        assert!(m("x\\|y", false, "y"));
        assert!(m("[]a]", false, "]"));
        assert!(m("[a\\]", false, "\\"));
        assert!(m("1.5$", false, "1x5"));
    }

    #[test]
    fn extended_expressions() {
        assert!(m("(ab)+c", true, "ababc"));
        assert!(m("x|y", true, "y"));
        assert!(m("a{,2}b", true, "b"));
        assert!(!m("^a?b$", true, "aab"));
    }

    #[test]
    fn back_references_need_the_appliance() {
        let e = compile("\\(a\\)\\1", false, false, false).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
    }

    #[test]
    fn fixed_and_insensitive() {
        let re = compile("a.b", false, true, false).unwrap();
        assert!(re.is_match(b"a.b") && !re.is_match(b"axb"));
        let re = compile("HeLLo", false, false, true).unwrap();
        assert!(re.is_match(b"say hello"));
    }
}

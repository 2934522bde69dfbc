//! The command-line grammar of a gx-fish script line, as guestfish reads it:
//! the command word (never quoted), `#` comments, `!cmd` and `<!cmd` lines,
//! a leading `-` that lets one command fail, double-quoted words with C
//! escapes, single-quoted words taken literally, bare words with `~` and
//! `~user` expanded, and `| shell-pipe` for the rest of the line.
//!
//! Words are bytes: a `\xff` escape or a non-UTF-8 script makes bytes that
//! are no string. This module only parses; it runs nothing and prints
//! nothing (errors come back in guestfish's words for the caller to print).

/// What one line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// Blank or a comment.
    Empty,
    /// `!cmd`: run `cmd` with the host shell.
    Shell(Vec<u8>),
    /// `<!cmd`: run `cmd` and execute its output as commands.
    Inline(Vec<u8>),
    /// A command, its words, and the `| pipe` after them, if any.
    Command {
        cmd: Vec<u8>,
        args: Vec<Vec<u8>>,
        pipe: Option<Vec<u8>>,
    },
}

/// A parsed line and whether a leading `-` asked to go on after an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub line: Line,
    /// False when the line began with `-` (this one command may fail).
    pub exit_on_error: bool,
}

/// guestfish keeps 64 argument slots, the last one for its terminator.
const MAX_ARGS: usize = 63;

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// C's isspace in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Parses one line (without its newline). `exit_on_error` is the shell's
/// setting; the result carries it, cleared by a leading `-`. An error is a
/// message in guestfish's words, without the program name.
pub(crate) fn parse_line(buf: &[u8], exit_on_error: bool) -> Result<Parsed, (String, bool)> {
    let mut exit_on_error = exit_on_error;
    let mut p = 0;
    loop {
        while p < buf.len() && is_space(buf[p]) {
            p += 1;
        }
        let rest = &buf[p..];
        let done = |line| {
            Ok(Parsed {
                line,
                exit_on_error,
            })
        };
        match rest {
            [] | [b'#', ..] => return done(Line::Empty),
            [b'!', cmd @ ..] => return done(Line::Shell(cmd.to_vec())),
            [b'<', b'!', cmd @ ..] => return done(Line::Inline(cmd.to_vec())),
            [b'-', ..] => {
                exit_on_error = false;
                p += 1;
                continue;
            }
            _ => break,
        }
    }
    let fail = |msg: &str| Err((msg.to_string(), exit_on_error));

    // The command word ends at a blank (not at other white space).
    let len = buf[p..]
        .iter()
        .position(|&c| is_blank(c))
        .unwrap_or(buf.len() - p);
    let cmd = buf[p..p + len].to_vec();
    p += len;
    let mut args: Vec<Vec<u8>> = Vec::new();
    let mut pipe = None;
    if p < buf.len() {
        p += 1;
    }
    while p < buf.len() && is_blank(buf[p]) {
        p += 1;
    }
    while p < buf.len() && args.len() <= MAX_ARGS {
        let word;
        match buf[p] {
            b'"' => {
                let (w, end) = match quoted(&buf[p + 1..]) {
                    Ok(r) => r,
                    Err(m) => return Err((m, exit_on_error)),
                };
                // `end` is the closing quote's index in buf[p+1..].
                let after = p + 1 + end + 1;
                if after < buf.len() && !is_blank(buf[after]) {
                    return fail("command arguments not separated by whitespace");
                }
                word = w;
                p = (after + 1).min(buf.len());
            }
            b'\'' => {
                let start = p + 1;
                let Some(len) = buf[start..].iter().position(|&c| c == b'\'') else {
                    return fail("unterminated single quote");
                };
                let after = start + len + 1;
                if after < buf.len() && !is_blank(buf[after]) {
                    return fail("command arguments not separated by whitespace");
                }
                word = buf[start..start + len].to_vec();
                p = (after + 1).min(buf.len());
            }
            b'|' => {
                pipe = Some(buf[p + 1..].to_vec());
                break;
            }
            _ => {
                let len = buf[p..]
                    .iter()
                    .position(|&c| is_blank(c))
                    .unwrap_or(buf.len() - p);
                let w = &buf[p..p + len];
                word = if w.first() == Some(&b'~') {
                    expand_tilde(w)
                } else {
                    w.to_vec()
                };
                p = (p + len + 1).min(buf.len());
            }
        }
        args.push(word);
        while p < buf.len() && is_blank(buf[p]) {
            p += 1;
        }
    }
    if args.len() > MAX_ARGS {
        return fail("too many arguments");
    }
    Ok(Parsed {
        line: Line::Command { cmd, args, pipe },
        exit_on_error,
    })
}

/// A double-quoted word from just after its opening quote: the word with
/// its escapes replaced, and the index of the closing quote.
fn quoted(s: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() && s[i] != b'"' {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        // The offset guestfish reports is where the escape starts in the
        // string as rewritten so far.
        let bad = || {
            format!(
                "invalid escape sequence in string (starting at offset {})",
                out.len()
            )
        };
        let at = |k: usize| s.get(i + k).copied().unwrap_or(0);
        let (c, used) = match at(1) {
            b'\\' => (b'\\', 2),
            b'a' => (0x07, 2),
            b'b' => (0x08, 2),
            b'f' => (0x0c, 2),
            b'n' => (b'\n', 2),
            b'r' => (b'\r', 2),
            b't' => (b'\t', 2),
            b'v' => (0x0b, 2),
            b'"' => (b'"', 2),
            b'\'' => (b'\'', 2),
            b'?' => (b'?', 2),
            d @ b'0'..=b'7' => {
                let (d2, d3) = (at(2), at(3));
                if !(b'0'..=b'7').contains(&d2) || !(b'0'..=b'7').contains(&d3) {
                    return Err(bad());
                }
                let v = u32::from(d - b'0') * 64 + u32::from(d2 - b'0') * 8 + u32::from(d3 - b'0');
                match u8::try_from(v) {
                    Ok(c) if c >= 1 => (c, 4),
                    _ => return Err(bad()),
                }
            }
            b'x' => {
                let (Some(h), Some(l)) = (hex(at(2)), hex(at(3))) else {
                    return Err(bad());
                };
                match h * 16 + l {
                    0 => return Err(bad()),
                    c => (c, 4),
                }
            }
            _ => return Err(bad()),
        };
        out.push(c);
        i += used;
    }
    if i >= s.len() {
        return Err("unterminated double quote".into());
    }
    Ok((out, i))
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `~`, `~/path`, `~user` and `~user/path` as home directories on the host;
/// anything else (an unknown user) stays as it is.
pub(crate) fn expand_tilde(word: &[u8]) -> Vec<u8> {
    let rest = &word[1..];
    let slash = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
    let (user, tail) = rest.split_at(slash);
    let home = if user.is_empty() {
        current_home()
    } else {
        std::str::from_utf8(user)
            .ok()
            .and_then(|u| nix::unistd::User::from_name(u).ok().flatten())
            .map(|u| u.dir.into_os_string().into_encoded_bytes())
    };
    match home {
        Some(mut h) => {
            h.extend_from_slice(tail);
            h
        }
        None => word.to_vec(),
    }
}

/// `$HOME`, else the password file's entry for the effective user.
fn current_home() -> Option<Vec<u8>> {
    if let Some(h) = crate::env::var("HOME") {
        return Some(h.into_bytes());
    }
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.dir.into_os_string().into_encoded_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> (String, Vec<Vec<u8>>, Option<String>) {
        match parse_line(line.as_bytes(), true).unwrap().line {
            Line::Command { cmd, args, pipe } => (
                String::from_utf8(cmd).unwrap(),
                args,
                pipe.map(|p| String::from_utf8(p).unwrap()),
            ),
            other => panic!("{other:?}"),
        }
    }

    fn err(line: &str) -> String {
        parse_line(line.as_bytes(), true).unwrap_err().0
    }

    fn words(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn plain_words_and_quotes() {
        assert_eq!(cmd("echo a  b\tc").1, words(&["a", "b", "c"]));
        assert_eq!(cmd("echo 'a b' \"c d\"").1, words(&["a b", "c d"]));
        assert_eq!(cmd("echo a\"b").1, words(&["a\"b"]));
        assert_eq!(cmd("echo ''").1, words(&[""]));
        assert_eq!(cmd("  echo").1, words(&[]));
        assert_eq!(cmd("echo ").1, words(&[]));
        assert_eq!(cmd("echo '\\n'").1, words(&["\\n"]));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            cmd(r#"echo "\n\r\t\a\b\f\v""#).1,
            vec![b"\n\r\t\x07\x08\x0c\x0b".to_vec()]
        );
        assert_eq!(
            cmd(r#"echo "\x01\001\100\"\\\'\?""#).1,
            vec![b"\x01\x01@\"\\'?".to_vec()]
        );
        assert_eq!(cmd(r#"echo "\xff""#).1, vec![vec![0xff]]);
        for bad in [
            r#"echo "\x00""#,
            r#"echo "\000""#,
            r#"echo "\x""#,
            r#"echo "\x0""#,
            r#"echo "\7""#,
            r#"echo "\77""#,
            r#"echo "\777""#,
            r#"echo "\q""#,
        ] {
            assert_eq!(
                err(bad),
                "invalid escape sequence in string (starting at offset 0)",
                "{bad}"
            );
        }
        assert_eq!(
            err(r#"echo "ab\n\q""#),
            "invalid escape sequence in string (starting at offset 3)"
        );
        assert_eq!(err(r#"echo "\""#), "unterminated double quote");
        assert_eq!(err(r#"echo "\\\""#), "unterminated double quote");
        assert_eq!(err(r#"echo ""#), "unterminated double quote");
        assert_eq!(
            err("echo \"\"\""),
            "command arguments not separated by whitespace"
        );
        assert_eq!(
            err("echo 'a'b"),
            "command arguments not separated by whitespace"
        );
        assert_eq!(err("echo 'a"), "unterminated single quote");
    }

    #[test]
    fn special_lines() {
        let p = parse_line(b"  # x", true).unwrap();
        assert_eq!(p.line, Line::Empty);
        let p = parse_line(b"!ls -l", true).unwrap();
        assert_eq!(p.line, Line::Shell(b"ls -l".to_vec()));
        let p = parse_line(b"<!echo echo hi", true).unwrap();
        assert_eq!(p.line, Line::Inline(b"echo echo hi".to_vec()));
        let p = parse_line(b"- -cat /x", true).unwrap();
        assert!(!p.exit_on_error);
        assert!(matches!(p.line, Line::Command { ref cmd, .. } if cmd == b"cat"));
        let p = parse_line(b"-!false", true).unwrap();
        assert!(!p.exit_on_error);
        assert_eq!(p.line, Line::Shell(b"false".to_vec()));
        assert!(!parse_line(b"-echo \"", true).unwrap_err().1);
    }

    #[test]
    fn pipes() {
        let (_, a, p) = cmd("cat /etc/passwd | awk -F: '{print}'");
        assert_eq!(a, words(&["/etc/passwd"]));
        assert_eq!(p.as_deref(), Some(" awk -F: '{print}'"));
        let (_, a, p) = cmd("echo a|b \"|\"");
        assert_eq!(a, words(&["a|b", "|"]));
        assert_eq!(p, None);
        let (_, a, p) = cmd("list-devices |tail -1");
        assert!(a.is_empty());
        assert_eq!(p.as_deref(), Some("tail -1"));
    }

    #[test]
    fn argument_limit() {
        let ok = format!("echo{}", " x".repeat(63));
        assert_eq!(cmd(&ok).1.len(), 63);
        let bad = format!("echo{}", " x".repeat(64));
        assert_eq!(err(&bad), "too many arguments");
    }

    #[test]
    fn tilde() {
        let home = current_home().unwrap();
        assert_eq!(expand_tilde(b"~"), home);
        let mut foo = home.clone();
        foo.extend_from_slice(b"/foo");
        assert_eq!(expand_tilde(b"~/foo"), foo);
        let root = nix::unistd::User::from_name("root").unwrap().unwrap();
        let mut r = root.dir.into_os_string().into_encoded_bytes();
        r.extend_from_slice(b"/x");
        assert_eq!(expand_tilde(b"~root/x"), r);
        assert_eq!(expand_tilde(b"~nosuchuser_gx/x"), b"~nosuchuser_gx/x");
        // Quoted words are not expanded.
        assert_eq!(cmd("echo '~'").1, words(&["~"]));
    }
}

//! What the generated command table (`generated.rs`) needs from the shell:
//! the handle, where output goes, and how words become arguments of each
//! kind, with guestfish's rules and messages.
//!
//! The generated code calls: `f.g`, `f.out()`, `f.path_arg`, `f.file_in`,
//! `f.file_out`, `f.key`, and the free functions `argc`, `parse_bool`,
//! `parse_int`, `parse_int64`, `parse_string_list`, `dup_optarg`, `unknown_optarg`,
//! `escape_buffer`, `format_g`. Keep those signatures.

use std::cell::Cell;
use std::io::{BufRead, Read, Write};
use std::rc::Rc;

use gx_guestfs::Handle;

/// Why a command failed. `WrongArgs` and `Unknown` are reported by the
/// caller with guestfish's usage texts; the others print their message.
#[derive(Debug)]
pub(crate) enum FishError {
    /// The argument count is wrong: print the synopsis.
    WrongArgs,
    /// No such command.
    Unknown,
    /// A message already in guestfish's words (printed as is, to stderr).
    Msg(String),
    /// The handle's error (printed as `libguestfs: error: ...`).
    Api(gx_guestfs::Error),
    /// Local I/O (writing the output, reading a local file).
    Io(std::io::Error),
    /// Failed, and the reason is already printed (`not`, `time`, `help`).
    Silent,
}

impl From<gx_guestfs::Error> for FishError {
    fn from(e: gx_guestfs::Error) -> Self {
        FishError::Api(e)
    }
}

impl From<std::io::Error> for FishError {
    fn from(e: std::io::Error) -> Self {
        FishError::Io(e)
    }
}

/// The shell's state as the command table sees it, and as the shell keeps
/// it between commands.
pub(crate) struct Fish {
    /// The libguestfs handle.
    pub g: Handle,
    /// Where command output goes: standard output (fd 1, which a `| pipe`
    /// or a `--remote` client's descriptor may stand in for). Write errors
    /// do not stop a command; they are remembered (see [`Fish::take_write_error`]).
    pub output: Box<dyn Write>,
    /// The program name for messages.
    pub prog: String,
    /// Read keys from stdin without prompting (`--keys-from-stdin`).
    pub keys_from_stdin: bool,
    /// Show keys as they are typed (`--echo-keys`).
    pub echo_keys: bool,
    /// A person types the commands: errors do not end the session and are
    /// reported without the script position.
    pub interactive: bool,
    /// For error messages: the script (`-f FILE` or `*stdin*`) and line.
    pub input_file: String,
    pub lineno: usize,
    /// Commands issued so far (the first unknown one gets extra help).
    pub command_num: usize,
    /// `quit` was asked for.
    pub quit: bool,
    /// `--pipe-error`: a write error on a `| pipe` fails the command.
    pub pipe_error: bool,
    /// `--remote=PID`: commands go to that server.
    pub remote: Option<i32>,
    /// `--ro`: for `-a`, `-d`, `-m` and `-i`.
    pub read_only: bool,
    /// `-c URI`: the libvirt connection for `-d` and `add-domain`.
    pub connect: Option<String>,
    /// `event` handlers of this handle, in registration order (the
    /// callbacks themselves are the handle's).
    pub events: Vec<EventHandler>,
    /// What `reopen` gives a new handle: the engine and launcher chosen.
    pub settings: Settings,
    /// The root `-i` mounted, for the interactive banner.
    pub root: Option<String>,
    /// `mount-local` done, `mount-local-run` not yet: the mount, which
    /// holds the handle meanwhile.
    pub local: Option<LocalMount>,
    write_error: Rc<Cell<bool>>,
}

/// One `event` handler.
pub(crate) struct EventHandler {
    pub name: String,
    /// Bits of `gx_guestfs::Event::bit`.
    pub mask: u64,
    pub script: String,
    /// The handle's event handle for the callback.
    pub handle: i32,
}

/// A FUSE mount made by `mount-local`, served by `mount-local-run`.
pub(crate) struct LocalMount {
    pub session: fuser::Session<gx_tools::fuse::GuestFs>,
    /// Where the handle comes back when the mount ends.
    pub slot: gx_tools::fuse::HandleSlot,
    pub mountpoint: std::path::PathBuf,
}

/// Handle settings gx-fish chose from its options, kept for `reopen`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    pub engine: gx_guestfs::Engine,
    pub backend: Option<gx_guestfs::Backend>,
}

impl Fish {
    pub(crate) fn new(g: Handle, prog: &str) -> Fish {
        let write_error = Rc::new(Cell::new(false));
        Fish {
            g,
            output: Box::new(StdOut {
                buf: Vec::with_capacity(OUT_BUF),
                error: write_error.clone(),
            }),
            prog: prog.to_string(),
            keys_from_stdin: false,
            echo_keys: false,
            interactive: false,
            input_file: "*stdin*".into(),
            lineno: 0,
            command_num: 0,
            quit: false,
            pipe_error: false,
            remote: None,
            read_only: false,
            connect: None,
            events: Vec::new(),
            local: None,
            settings: Settings::default(),
            root: None,
            write_error,
        }
    }

    /// Where command output goes.
    pub(crate) fn out(&mut self) -> &mut dyn Write {
        &mut *self.output
    }

    /// Flushes the output; true when a write failed since the last call.
    pub(crate) fn take_write_error(&mut self) -> bool {
        let _ = self.output.flush();
        self.write_error.replace(false)
    }

    /// A guest path word: `win:` paths are translated (drive letters through
    /// inspection, backslashes to slashes, case as on disk).
    pub(crate) fn path_arg(&mut self, word: &str) -> Result<String, FishError> {
        let Some(rest) = word
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("win:"))
            .map(|_| &word[4..])
        else {
            return Ok(word.to_string());
        };
        let b = rest.as_bytes();
        let letter = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
        if self.g.is_config().unwrap_or(false) {
            // What the handle's first call would say.
            let call = if letter {
                "inspect_get_roots"
            } else {
                "case_sensitive_path"
            };
            return Err(FishError::Api(gx_guestfs::Error::invalid(format!(
                "{call}: call launch before using this function\n\
                 (in guestfish, don't forget to use the 'run' command)"
            ))));
        }
        let path = if letter {
            self.drive_letter_path(b[0].to_ascii_lowercase() as char, &rest[2..])?
        } else if rest.is_empty() {
            "/".to_string()
        } else {
            rest.to_string()
        };
        let path = path.replace('\\', "/");
        Ok(self.g.case_sensitive_path(&path)?)
    }

    fn drive_letter_path(&mut self, letter: char, rest: &str) -> Result<String, FishError> {
        let prog = self.prog.clone();
        let roots = self.g.inspect_get_roots()?;
        let Some(root) = roots.first() else {
            return Err(FishError::Msg(format!(
                "{prog}: to use Windows drive letters, you must inspect the guest (\"-i\" option or run \"inspect-os\" command)"
            )));
        };
        let drives = self.g.inspect_get_drive_mappings(root).unwrap_or_default();
        if drives.is_empty() {
            return Err(FishError::Msg(format!(
                "{prog}: to use Windows drive letters, this must be a Windows guest"
            )));
        }
        let device = drives
            .iter()
            .find(|(l, _)| l.len() == 1 && l.to_ascii_lowercase().starts_with(letter))
            .map(|(_, d)| d.clone())
            .ok_or_else(|| {
                FishError::Msg(format!(
                    "{prog}: drive '{letter}:' not found.  To list available drives do:\n  inspect-get-drive-mappings {root}"
                ))
            })?;
        let mps = self.g.mountpoints()?;
        let mp = mps
            .iter()
            .find(|(d, _)| *d == device)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| {
                FishError::Msg(format!(
                    "{prog}: to access '{letter}:', mount {device} first.  One way to do this is:\n  umount-all\n  mount {device} /"
                ))
            })?;
        let sep = if mp == "/" { "" } else { "/" };
        Ok(format!("{mp}{sep}{rest}"))
    }

    /// A local file to send to the guest: `-` is stdin, `-<<END` a here
    /// document read from stdin up to a line `END`, anything else a file.
    pub(crate) fn file_in(&mut self, word: &str) -> Result<Box<dyn Read>, FishError> {
        if word == "-" {
            return Ok(Box::new(std::io::stdin()));
        }
        if let Some(marker) = word.strip_prefix("-<<") {
            if marker.is_empty() {
                return Err(FishError::Msg(format!(
                    "{}: missing end marker in -<< expression",
                    self.prog
                )));
            }
            return self.heredoc(marker.as_bytes());
        }
        let f = std::fs::File::open(word)
            .map_err(|e| FishError::Api(gx_guestfs::Error::io(format!("open: {word}"), e)))?;
        Ok(Box::new(f))
    }

    /// The lines of stdin up to one that is exactly `marker`.
    fn heredoc(&mut self, marker: &[u8]) -> Result<Box<dyn Read>, FishError> {
        let mut body = Vec::new();
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            if stdin.read_until(b'\n', &mut line)? == 0 {
                return Err(FishError::Msg(format!(
                    "{}: end of input reached without finding '{}'",
                    self.prog,
                    String::from_utf8_lossy(marker)
                )));
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if text == marker {
                return Ok(Box::new(std::io::Cursor::new(body)));
            }
            body.extend_from_slice(&line);
        }
    }

    /// A local file the guest's data goes to: `-` is standard output.
    pub(crate) fn file_out(&mut self, word: &str) -> Result<Box<dyn Write>, FishError> {
        if word == "-" {
            // What the command printed so far goes first.
            self.output.flush()?;
            return Ok(Box::new(RawStdout));
        }
        let f = std::fs::File::create(word)
            .map_err(|e| FishError::Api(gx_guestfs::Error::io(format!("open: {word}"), e)))?;
        Ok(Box::new(std::io::BufWriter::new(f)))
    }

    /// A key or passphrase, as guestfish reads one: from the terminal with
    /// a prompt and echo off, or from stdin (`--keys-from-stdin`, or when
    /// there is no terminal).
    pub(crate) fn key(&mut self, name: &str) -> Result<String, FishError> {
        let _ = self.output.flush();
        let typed = if self.keys_from_stdin {
            None
        } else {
            gx_cli::keys::prompt_tty(
                &format!("Enter key or passphrase (\"{name}\"): "),
                self.echo_keys,
            )
        };
        let line = match typed {
            Some(r) => r.map(|l| l.to_vec()),
            None => {
                if self.keys_from_stdin {
                    self.lineno += 1;
                }
                let mut line = Vec::new();
                std::io::stdin()
                    .lock()
                    .read_until(b'\n', &mut line)
                    .map(|_| line)
            }
        };
        match line {
            Ok(l) if !l.is_empty() => {
                let l = l.strip_suffix(b"\n").unwrap_or(&l);
                Ok(String::from_utf8_lossy(l).into_owned())
            }
            Ok(_) => Err(FishError::Msg("getline: Success".into())),
            Err(e) => Err(FishError::Msg(format!("getline: {}", os_error(&e)))),
        }
    }
}

/// How much output is gathered before it is written.
const OUT_BUF: usize = 64 * 1024;

/// Standard output as printf sees it: buffered, flushed after each command,
/// written to whatever fd 1 is at that moment; a failed write does not stop
/// the command but is remembered, as `ferror(stdout)` is.
struct StdOut {
    buf: Vec<u8>,
    error: Rc<Cell<bool>>,
}

impl Write for StdOut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= OUT_BUF {
            self.flush()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            if RawStdout.write_all(&self.buf).is_err() {
                self.error.set(true);
            }
            self.buf.clear();
        }
        Ok(())
    }
}

/// fd 1 without std's line buffer, so nothing written while fd 1 is a
/// `| pipe` (or a remote client's output) is left behind in a buffer to
/// come out later somewhere else.
pub(crate) struct RawStdout;

impl Write for RawStdout {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        loop {
            match rustix::io::write(std::io::stdout(), b) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return r.map_err(std::io::Error::from),
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An OS error as strerror(3) words it.
pub(crate) fn os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// guestfish's booleans: true/t/yes/y/on/1 and false/f/no/n/off/0, any case.
pub(crate) fn parse_bool(word: &str) -> Result<bool, FishError> {
    match word.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Ok(false),
        _ => Err(FishError::Msg(format!(
            "{}: '{word}': invalid boolean value, use 'true' or 'false'",
            crate::PROG
        ))),
    }
}

/// gnulib's xstrtoll codes, which guestfish prints.
const LONGINT_OVERFLOW: u32 = 1;
const LONGINT_INVALID_SUFFIX_CHAR: u32 = 2;
const LONGINT_INVALID: u32 = 4;

/// `xstrtoll(word, 0, "0kKMGTPEZY")`: an optionally signed number in
/// decimal, `0x` hex or `0` octal, optionally followed by one size suffix
/// (`k`/`K` 1024, `M`, `G`, `T`, `P`, `E`; with `B` powers of 1000, with
/// `iB` powers of 1024).
fn xstrtoll(word: &str) -> Result<i64, u32> {
    let s = word.trim_start();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let hex_digit_follows = s.as_bytes().get(2).is_some_and(u8::is_ascii_hexdigit);
    let (radix, digits_start) = if hex_digit_follows && (s.starts_with("0x") || s.starts_with("0X"))
    {
        (16, 2)
    } else if s.starts_with('0') {
        (8, 0)
    } else {
        (10, 0)
    };
    let body = &s[digits_start..];
    let end = body
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(body.len());
    if end == 0 {
        return Err(LONGINT_INVALID);
    }
    let mut overflow = false;
    let mut v: i128 = i128::from_str_radix(&body[..end], radix).unwrap_or_else(|_| {
        overflow = true;
        0
    });
    if neg {
        v = -v;
    }
    let suffix = &body[end..];
    if !suffix.is_empty() {
        let mut chars = suffix.chars();
        let c = chars.next().unwrap_or('\0');
        let rest: String = chars.collect();
        let base: i128 = match rest.as_str() {
            "" | "iB" => 1024,
            "B" | "D" => 1000,
            _ => return Err(LONGINT_INVALID_SUFFIX_CHAR),
        };
        let power = match c {
            'k' | 'K' => 1,
            'M' => 2,
            'G' => 3,
            'T' => 4,
            'P' => 5,
            'E' => 6,
            'Z' => 7,
            'Y' => 8,
            _ => return Err(LONGINT_INVALID_SUFFIX_CHAR),
        };
        for _ in 0..power {
            v = v.saturating_mul(base);
        }
    }
    if overflow || v > i128::from(i64::MAX) || v < i128::from(i64::MIN) {
        return Err(LONGINT_OVERFLOW);
    }
    Ok(v as i64)
}

/// An `Int` argument: 31 bits signed, as guestfish checks it.
pub(crate) fn parse_int(cmd: &str, name: &str, word: &str) -> Result<i32, FishError> {
    let v = parse_int64(cmd, name, word)?;
    if !(-(2i64 << 30)..=(2i64 << 30) - 1).contains(&v) {
        return Err(FishError::Msg(format!(
            "{cmd}: {name}: integer out of range"
        )));
    }
    i32::try_from(v).map_err(|_| FishError::Msg(format!("{cmd}: {name}: integer out of range")))
}

/// An `Int64` argument.
pub(crate) fn parse_int64(cmd: &str, name: &str, word: &str) -> Result<i64, FishError> {
    xstrtoll(word).map_err(|code| {
        FishError::Msg(format!(
            "{cmd}: {name}: invalid integer parameter (xstrtoll returned {code})"
        ))
    })
}

/// A size for `alloc`, `sparse`, `hexedit` and `-N` (gnulib's `xstrtoull`
/// with the size suffixes: no sign allowed).
pub(crate) fn parse_size(word: &str) -> Result<i64, FishError> {
    let r = if word.trim_start().starts_with('-') {
        Err(LONGINT_INVALID)
    } else {
        xstrtoll(word)
    };
    r.map_err(|code| {
        FishError::Msg(format!(
            "parse_size: invalid integer parameter (xstrtoull returned {code})"
        ))
    })
}

/// A `StringList` word: split at blanks, single quotes group (with `\'` a
/// literal quote), as guestfish's `parse_string_list`.
pub(crate) fn parse_string_list(word: &str) -> Result<Vec<String>, FishError> {
    let b = word.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let mut tok: Option<Vec<u8>> = None;
        let mut in_quote = false;
        while i < b.len() && (!(b[i] == b' ' || b[i] == b'\t') || in_quote) {
            let t = tok.get_or_insert_with(Vec::new);
            if b[i] == b'\'' {
                in_quote = !in_quote;
                i += 1;
            }
            let start = i;
            let mut end = i;
            if in_quote {
                while end < b.len() && b[end] != b'\'' {
                    end += 1;
                }
            } else {
                while end < b.len() && !matches!(b[end], b' ' | b'\t' | b'\'') {
                    end += 1;
                }
            }
            if end < b.len() && b[end] == b'\'' && end != start && b[end - 1] == b'\\' {
                t.extend_from_slice(&b[start..end - 1]);
                t.push(b'\'');
                i = end + 1;
            } else {
                t.extend_from_slice(&b[start..end]);
                i = end;
            }
        }
        if in_quote {
            return Err(FishError::Msg(format!(
                "Runaway quote in string \"{word}\""
            )));
        }
        if let Some(t) = tok {
            out.push(String::from_utf8_lossy(&t).into_owned());
        }
    }
    Ok(out)
}

/// The argument count check: `WrongArgs` (the caller prints the synopsis)
/// unless `min <= argv.len() <= max`.
pub(crate) fn argc(argv: &[String], min: usize, max: usize) -> Result<(), FishError> {
    if (min..=max).contains(&argv.len()) {
        Ok(())
    } else {
        Err(FishError::WrongArgs)
    }
}

pub(crate) fn dup_optarg(cmd: &str, name: &str) -> FishError {
    FishError::Msg(format!(
        "{cmd}: optional argument \"{name}\" given more than once"
    ))
}

pub(crate) fn unknown_optarg(cmd: &str, word: &str) -> FishError {
    FishError::Msg(format!("{cmd}: unknown optional argument \"{word}\""))
}

/// A buffer field as guestfish prints it: printable ASCII as is, other
/// bytes as `\xNN`.
pub(crate) fn escape_buffer(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if (0x20..0x7f).contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

/// C's `%g`: six significant digits, trailing zeros removed, exponent form
/// for very small or large values.
pub(crate) fn format_g(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let m = v / 10f64.powi(exp);
        let mut ms = format!("{m:.5}");
        if ms.contains('.') {
            ms = ms.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{ms}e{sign}{:02}", exp.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_xstrtoll_reads_them() {
        assert_eq!(xstrtoll("10"), Ok(10));
        assert_eq!(xstrtoll("0x1f"), Ok(31));
        assert_eq!(xstrtoll("0755"), Ok(0o755));
        assert_eq!(xstrtoll("-5"), Ok(-5));
        assert_eq!(xstrtoll("1K"), Ok(1024));
        assert_eq!(xstrtoll("1M"), Ok(1 << 20));
        assert_eq!(xstrtoll("1kB"), Ok(1000));
        assert_eq!(xstrtoll("1KiB"), Ok(1024));
        assert_eq!(xstrtoll("abc"), Err(LONGINT_INVALID));
        assert_eq!(xstrtoll(""), Err(LONGINT_INVALID));
        assert_eq!(xstrtoll("12x"), Err(LONGINT_INVALID_SUFFIX_CHAR));
        assert_eq!(xstrtoll("0x"), Err(LONGINT_INVALID_SUFFIX_CHAR));
        assert_eq!(xstrtoll("1.5"), Err(LONGINT_INVALID_SUFFIX_CHAR));
        assert_eq!(xstrtoll("99999999999999999999"), Err(LONGINT_OVERFLOW));
    }

    #[test]
    fn string_lists_split_like_guestfish() {
        assert_eq!(parse_string_list("a b  c").unwrap(), ["a", "b", "c"]);
        assert_eq!(parse_string_list("'a b' c").unwrap(), ["a b", "c"]);
        assert_eq!(parse_string_list("x' y'z").unwrap(), ["x yz"]);
        assert_eq!(parse_string_list("it\\'s").unwrap(), ["it's"]);
        assert!(parse_string_list("'open").is_err());
        assert!(parse_string_list("").unwrap().is_empty());
    }

    #[test]
    fn percent_g() {
        assert_eq!(format_g(12.5), "12.5");
        assert_eq!(format_g(100.0), "100");
        assert_eq!(format_g(0.000012), "1.2e-05");
        assert_eq!(format_g(1234567.0), "1.23457e+06");
    }
}

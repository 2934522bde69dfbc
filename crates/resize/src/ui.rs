//! How gx-resize talks: virt-resize's timestamped messages, `prog: `
//! info lines and warnings (wrapped at 76 columns on a terminal, coloured
//! there or with `--colours`), JSON log lines and `N/M` progress lines with
//! `--machine-readable`, and an indicatif progress bar on a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Where messages go and how they look.
#[derive(Debug)]
pub struct Ui {
    pub prog: String,
    pub quiet: bool,
    pub verbose: bool,
    /// `--machine-readable` (any format is written to stdout).
    pub machine_readable: bool,
    pub colours: bool,
    start: Instant,
}

/// Escape a string as a JSON string body.
fn json_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// RFC 3339 UTC time with nanoseconds, as the JSON log lines carry it.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}+00:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// virt-resize's word wrap: break at spaces before column 76.
pub fn wrap(s: &str) -> String {
    let mut out = String::new();
    let mut column = 0usize;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let mut j = i;
        while j < b.len() && b[j] != b' ' && b[j] != b'\n' {
            j += 1;
        }
        let word = j - i;
        let next_column = if column + word >= 76 {
            out.push('\n');
            word + 1
        } else {
            column + word + 1
        };
        out.push_str(&s[i..j]);
        if j >= b.len() {
            break;
        }
        if b[j] == b' ' {
            out.push(' ');
            column = next_column;
        } else {
            out.push('\n');
            column = 0;
        }
        i = j + 1;
    }
    out
}

impl Ui {
    pub fn new(
        prog: &str,
        quiet: bool,
        verbose: bool,
        machine_readable: bool,
        colours: bool,
    ) -> Ui {
        Ui {
            prog: prog.to_string(),
            quiet,
            verbose,
            machine_readable,
            colours,
            start: Instant::now(),
        }
    }

    fn stdout_tty() -> bool {
        std::io::stdout().is_terminal()
    }

    fn colour(&self, tty: bool, code: &str) -> &'static str {
        if self.colours || tty {
            match code {
                "green" => "\x1b[0;32m",
                "red" => "\x1b[1;31m",
                "blue" => "\x1b[1;34m",
                "magenta" => "\x1b[1;35m",
                _ => "\x1b[0m",
            }
        } else {
            ""
        }
    }

    fn json(&self, kind: &str, msg: &str) {
        if self.machine_readable {
            println!(
                "{{ \"message\": \"{}\", \"timestamp\": \"{}\", \"type\": \"{kind}\" }}",
                json_escape(msg),
                rfc3339_now()
            );
        }
    }

    fn wrapped(&self, tty: bool, s: &str) -> String {
        if tty { wrap(s) } else { s.to_string() }
    }

    /// `[  12.3] Copying /dev/sda1`.
    pub fn message(&self, msg: &str) {
        self.json("message", msg);
        if !self.quiet {
            let tty = Self::stdout_tty();
            let t = format!("{:.1}", self.start.elapsed().as_secs_f64());
            let mut o = std::io::stdout().lock();
            let _ = writeln!(
                o,
                "[{t:>6}] {}{msg}{}",
                self.colour(tty, "green"),
                self.colour(tty, "restore")
            );
            let _ = o.flush();
        }
    }

    /// `gx-resize: TEXT` (the summary, the final word).
    pub fn info(&self, text: &str) {
        self.json("info", text);
        let tty = Self::stdout_tty();
        let mut o = std::io::stdout().lock();
        let line = self.wrapped(tty, &format!("{}: {text}", self.prog));
        let _ = writeln!(
            o,
            "{}{line}{}",
            self.colour(tty, "magenta"),
            self.colour(tty, "restore")
        );
        let _ = o.flush();
    }

    /// `gx-resize: warning: TEXT` (on stdout, as virt-resize prints it).
    pub fn warning(&self, text: &str) {
        self.json("warning", text);
        let tty = Self::stdout_tty();
        let mut o = std::io::stdout().lock();
        let line = self.wrapped(tty, &format!("{}: warning: {text}", self.prog));
        let _ = writeln!(
            o,
            "{}{line}{}",
            self.colour(tty, "blue"),
            self.colour(tty, "restore")
        );
        let _ = o.flush();
    }

    /// Plain lines on stdout (the summary's frame).
    pub fn print(&self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = write!(o, "{s}");
        let _ = o.flush();
    }

    /// `gx-resize: debug: ...` on stderr with `-v`.
    pub fn debug(&self, s: &str) {
        if self.verbose {
            eprintln!("{}: debug: {s}", self.prog);
        }
    }

    /// The error report virt-resize prints (on stderr), then the caller exits 1.
    pub fn error(&self, msg: &str) {
        self.json("error", msg);
        let tty = std::io::stderr().is_terminal();
        let mut text = format!("{}: error: {msg}", self.prog);
        if !(self.verbose) {
            text.push_str(&format!(
                "\n\nIf reporting bugs, run {} with debugging enabled and include the complete output:\n\n  {} -v -x [...]",
                self.prog, self.prog
            ));
        }
        let mut e = std::io::stderr().lock();
        let _ = writeln!(
            e,
            "{}{}{}",
            self.colour(tty, "red"),
            self.wrapped(tty, &text),
            self.colour(tty, "restore")
        );
    }

    /// A progress display for `total` bytes: a bar on a terminal, `N/M`
    /// lines with `--machine-readable`, nothing otherwise (or with `-q`).
    pub fn progress(&self, total: u64) -> Progress {
        let kind = if self.quiet {
            ProgressKind::None
        } else if self.machine_readable {
            ProgressKind::Lines { last: None }
        } else if Self::stdout_tty() {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            ProgressKind::Bar(bar)
        } else {
            ProgressKind::None
        };
        Progress { kind, total }
    }
}

enum ProgressKind {
    None,
    Lines { last: Option<Instant> },
    Bar(indicatif::ProgressBar),
}

/// A running progress display.
pub struct Progress {
    kind: ProgressKind,
    total: u64,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("total", &self.total)
            .finish()
    }
}

impl Progress {
    /// Show `done` bytes of the total (lines at most every half second).
    pub fn update(&mut self, done: u64) {
        match &mut self.kind {
            ProgressKind::None => {}
            ProgressKind::Lines { last } => {
                if last.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
                    *last = Some(Instant::now());
                    println!("{done}/{}", self.total);
                }
            }
            ProgressKind::Bar(b) => b.set_position(done),
        }
    }

    /// The end: a last `M/M` line, or the bar cleared.
    pub fn finish(&mut self, done: u64) {
        match &mut self.kind {
            ProgressKind::None => {}
            ProgressKind::Lines { .. } => println!("{done}/{}", self.total),
            ProgressKind::Bar(b) => b.finish_and_clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_virt_resize() {
        let s = "virt-resize: /dev/sda2: This partition will be resized from 40.0M to 109.8M.  The filesystem ext4 on /dev/sda2 will be expanded using the ‘resize2fs’ method.\n";
        let w = wrap(s);
        for line in w.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        assert_eq!(
            w.replace('\n', " ").split_whitespace().count(),
            s.split_whitespace().count()
        );
        assert_eq!(json_escape("a\"b\\\n"), "a\\\"b\\\\\\n");
        assert_eq!(
            rfc3339_now().len(),
            "2024-01-02T03:04:05.123456789+00:00".len()
        );
    }
}

//! Running helper programs (lvm, parted, mke2fs, tar, ...): one environment
//! for all of them, their standard input fed from memory or a file, and a
//! failure turned into an error that carries the program's own words.
//!
//! Must not: put secrets on a command line (keys go through `stdin`), or
//! log what a program was given on its standard input.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{R, err, helpers};

/// Where helper programs are looked up, in the appliance and in guests.
pub const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// The LVM configuration the agent writes (see `lvm::write_config`).
pub const LVM_SYSTEM_DIR: &str = "/run/gx-lvm";

/// A program to run: built like `Command`, run by [`Prog::run`] and friends.
pub struct Prog {
    name: String,
    args: Vec<String>,
    stdin: Input,
}

enum Input {
    Null,
    Bytes(Vec<u8>),
    File(std::fs::File),
}

/// `prog(name)`: a helper program with the agent's environment.
pub fn prog(name: &str) -> Prog {
    Prog {
        name: name.to_string(),
        args: Vec::new(),
        stdin: Input::Null,
    }
}

impl Prog {
    pub fn arg(mut self, a: impl AsRef<str>) -> Self {
        self.args.push(a.as_ref().to_string());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, a: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(a.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    pub fn arg_path(self, p: &Path) -> Self {
        let s = p.to_string_lossy().into_owned();
        self.arg(s)
    }

    /// Bytes for the program's standard input (a key, a config): never on
    /// the command line, where /proc would show it.
    pub fn stdin_bytes(mut self, b: Vec<u8>) -> Self {
        self.stdin = Input::Bytes(b);
        self
    }

    pub fn stdin_file(mut self, f: std::fs::File) -> Self {
        self.stdin = Input::File(f);
        self
    }

    /// The `Command`, environment set, standard input not yet.
    pub fn command(&self) -> Command {
        helpers::ensure();
        let mut c = Command::new(&self.name);
        c.args(&self.args)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", "/")
            .env("LC_ALL", "C")
            .env("LVM_SYSTEM_DIR", LVM_SYSTEM_DIR)
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            // No udev here: libdevmapper creates the /dev nodes itself.
            .env("DM_DISABLE_UDEV", "1");
        c
    }

    /// Runs it to the end; its output whatever the exit status.
    pub fn output(self) -> R<Output> {
        let mut c = self.command();
        let what = self.name.clone();
        let spawn = |c: &mut Command| c.spawn().map_err(|e| spawn_error(&what, &e));
        match self.stdin {
            Input::Null => {
                c.stdin(Stdio::null());
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                let child = spawn(&mut c)?;
                child.wait_with_output().map_err(|e| io_fail(&what, &e))
            }
            Input::File(f) => {
                c.stdin(Stdio::from(f));
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                let child = spawn(&mut c)?;
                child.wait_with_output().map_err(|e| io_fail(&what, &e))
            }
            Input::Bytes(b) => {
                c.stdin(Stdio::piped());
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                let mut child = spawn(&mut c)?;
                if let Some(mut w) = child.stdin.take() {
                    // A program that exits without reading it all is fine:
                    // its status says how it went.
                    let _ = w.write_all(&b);
                }
                child.wait_with_output().map_err(|e| io_fail(&what, &e))
            }
        }
    }

    /// Its standard output when it exits 0; else an error carrying its
    /// standard error (or output, for programs that complain there).
    pub fn run(self) -> R<String> {
        let what = self.display_short();
        let out = self.output()?;
        stdout_or_error(&what, &out)
    }

    /// Like [`Prog::run`], for programs whose output does not matter.
    pub fn run_ok(self) -> R<()> {
        self.run().map(|_| ())
    }

    /// Its exit status (`None` when killed by a signal) and output, never
    /// an error once it ran.
    pub fn status(self) -> R<(Option<i32>, String, String)> {
        let out = self.output()?;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// The program name and its first arguments: enough to say which
    /// command failed without repeating a long argument list.
    fn display_short(&self) -> String {
        let mut s = self.name.clone();
        for a in self.args.iter().take(3) {
            s.push(' ');
            s.push_str(a);
        }
        if self.args.len() > 3 {
            s.push_str(" ...");
        }
        s
    }
}

fn spawn_error(prog: &str, e: &io::Error) -> crate::CallError {
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    let hint = if e.kind() == io::ErrorKind::NotFound {
        " (not in this appliance: the host did not have it when the appliance was built)"
    } else {
        ""
    };
    err(errno, format!("{prog}: {}{hint}", super::strerror(e)))
}

fn io_fail(prog: &str, e: &io::Error) -> crate::CallError {
    err(
        e.raw_os_error().unwrap_or(libc::EIO),
        format!("{prog}: {}", super::strerror(e)),
    )
}

/// A finished program's stdout, or an EIO error naming `what`, its exit
/// status and what it said (stderr, else stdout).
pub fn stdout_or_error(what: &str, out: &Output) -> R<String> {
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(err(libc::EIO, failure(what, out)))
}

/// "`what`: exit status N: its words".
pub fn failure(what: &str, out: &Output) -> String {
    let said = {
        let e = String::from_utf8_lossy(&out.stderr);
        if e.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            e.into_owned()
        }
    };
    let status = match out.status.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    };
    format!("{what}: {status}{}", tail(&said))
}

/// `": text"` for a program's trimmed output, or nothing when it is empty.
pub fn tail(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

/// Whether the appliance has the program `prog`.
pub fn have(prog: &str) -> bool {
    which(prog).is_some()
}

/// Where `prog` is in [`PATH`].
pub fn which(prog: &str) -> Option<std::path::PathBuf> {
    helpers::ensure();
    PATH.split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.exists())
}

/// libguestfs's split of a program's output into lines: no empty last line
/// for a final newline, `""` gives no lines.
pub fn split_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split('\n').map(str::to_string).collect();
    if v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_libguestfs() {
        assert!(split_lines("").is_empty());
        assert_eq!(split_lines("\n"), vec![""]);
        assert_eq!(split_lines("a\nb"), vec!["a", "b"]);
        assert_eq!(split_lines("a\nb\n"), vec!["a", "b"]);
        assert_eq!(split_lines("a\nb\n\n"), vec!["a", "b", ""]);
    }
}

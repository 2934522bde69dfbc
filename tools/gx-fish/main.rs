//! gx-fish: the guestfish shell. Commands are the API table's calls (run by
//! the generated `generated::run_action`) plus the shell's own commands.
//!
//! This first version runs commands given on the command line (separated by
//! a lone `:`) or read one per line from stdin, with `-a`, `--format`,
//! `--ro`, `-i`, `-m`, `-x`, `-v`.

mod context;
mod generated;

use std::io::{BufRead, Write};

use context::{Fish, FishError};
use gx_guestfs::{AddDriveOpts, Engine, Handle};

/// The program name in messages.
pub(crate) const PROG: &str = "gx-fish";

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut g = Handle::new();
    let _ = g.set_engine(match std::env::var("GX_ENGINE").ok().as_deref() {
        Some("direct") => Engine::Direct,
        Some("appliance") => Engine::Appliance,
        _ => Engine::Auto,
    });
    let mut format: Option<String> = None;
    let mut ro = false;
    let mut inspect = false;
    let mut mounts: Vec<String> = Vec::new();
    let mut drives: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    let mut rest: Vec<String> = Vec::new();
    while i < args.len() {
        let a = &args[i];
        match a.as_str() {
            "-a" | "--add" => {
                i += 1;
                match args.get(i) {
                    Some(f) => drives.push((f.clone(), format.clone())),
                    None => return usage(),
                }
            }
            "--ro" | "-r" => ro = true,
            "--rw" | "-w" => ro = false,
            "-i" | "--inspector" => inspect = true,
            "-x" => {
                let _ = g.set_trace(true);
            }
            "-v" | "--verbose" => {
                let _ = g.set_verbose(true);
            }
            "-m" | "--mount" => {
                i += 1;
                match args.get(i) {
                    Some(m) => mounts.push(m.clone()),
                    None => return usage(),
                }
            }
            s if s.starts_with("--format=") => {
                let f = &s["--format=".len()..];
                format = (!f.is_empty() && f != "auto").then(|| f.to_string());
            }
            "--format" => format = None,
            _ => {
                rest = args[i..].to_vec();
                break;
            }
        }
        i += 1;
    }
    for (path, fmt) in drives {
        let r = g.add_drive(
            &path,
            AddDriveOpts {
                readonly: Some(ro),
                format: fmt,
                ..AddDriveOpts::default()
            },
        );
        if let Err(e) = r {
            eprintln!("libguestfs: error: {e}");
            return 1;
        }
    }
    let mut f = Fish::new(g, PROG);
    if inspect || !mounts.is_empty() {
        if let Err(e) = f.g.launch() {
            eprintln!("libguestfs: error: {e}");
            return 1;
        }
        if inspect {
            if let Err(e) = inspect_mount(&mut f.g) {
                eprintln!("{PROG}: {e}");
                return 1;
            }
        }
        for m in &mounts {
            let mut parts = m.splitn(2, ':');
            let dev = parts.next().unwrap_or_default();
            let mp = parts.next().unwrap_or("/");
            let r = if ro {
                f.g.mount_ro(dev, mp)
            } else {
                f.g.mount(dev, mp)
            };
            if let Err(e) = r {
                eprintln!("libguestfs: error: {e}");
                return 1;
            }
        }
    }
    if !rest.is_empty() {
        for cmd in rest.split(|w| w == ":") {
            if cmd.is_empty() {
                continue;
            }
            if !run_command(&mut f, cmd) {
                return 1;
            }
        }
        return finish(&mut f);
    }
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return 1 };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<String> = split_words(line);
        if !run_command(&mut f, &words) {
            return 1;
        }
    }
    finish(&mut f)
}

fn finish(f: &mut Fish) -> i32 {
    let _ = f.output.flush();
    match f.g.shutdown() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("libguestfs: error: {e}");
            1
        }
    }
}

fn usage() -> i32 {
    eprintln!("Try `{PROG} --help' for more information.");
    1
}

/// Quotes group words; nothing more (the full grammar is the parser's).
fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, ' ' | '\t') => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn inspect_mount(g: &mut Handle) -> Result<(), String> {
    let roots = g.inspect_os().map_err(|e| e.to_string())?;
    let [root] = roots.as_slice() else {
        return Err("no operating system or more than one was found".into());
    };
    let mut mps = g.inspect_get_mountpoints(root).map_err(|e| e.to_string())?;
    mps.sort_by_key(|(m, _)| m.len());
    for (mp, dev) in mps {
        let _ = g.mount(&dev, &mp);
    }
    Ok(())
}

/// Runs one command; false when it failed (after saying why).
fn run_command(f: &mut Fish, words: &[String]) -> bool {
    let Some(cmd) = words.first() else {
        return true;
    };
    let args = &words[1..];
    if cmd == "echo" {
        let _ = writeln!(f.output, "{}", args.join(" "));
        return true;
    }
    if cmd == "run" {
        if let Err(e) = f.g.launch() {
            eprintln!("libguestfs: error: {e}");
            return false;
        }
        return true;
    }
    let r = match gx_api::lookup(cmd) {
        Some(a) => generated::run_action(f, a.name, cmd, args),
        None => Err(FishError::Unknown),
    };
    let _ = f.output.flush();
    match r {
        Ok(()) => true,
        Err(FishError::WrongArgs) => {
            eprintln!("error: incorrect number of arguments");
            if let Some(a) = gx_api::lookup(cmd) {
                if !a.args.is_empty() {
                    eprintln!("usage: {}", a.synopsis());
                }
            }
            eprintln!("type 'help {cmd}' for more help on {cmd}");
            false
        }
        Err(FishError::Unknown) => {
            eprintln!("{cmd}: unknown command");
            false
        }
        Err(FishError::Msg(m)) => {
            eprintln!("{m}");
            false
        }
        Err(FishError::Api(e)) => {
            match std::error::Error::source(&e) {
                Some(src) => eprintln!("libguestfs: error: {e}: {src}"),
                None => eprintln!("libguestfs: error: {e}"),
            }
            false
        }
        Err(FishError::Io(e)) => {
            eprintln!("{PROG}: {}", context::os_error(&e));
            false
        }
    }
}

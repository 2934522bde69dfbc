//! The interactive shell: the banner, the `><fs> ` prompt (or
//! `$GUESTFISH_PS1`), line editing and history kept in `~/.guestfish`,
//! completion of command names (first word) and of guest devices and paths
//! (later words, through the handle, once it is launched). Errors never end
//! the session.

use std::borrow::Cow;

use gx_guestfs::{Handle, IsDirOpts};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::PROG;
use crate::context::Fish;
use crate::shell::{Exit, run_line};

const PROMPT: &str = "><fs> ";

/// What completion needs: the handle (lent for the time of one `readline`).
struct FishHelper {
    g: Option<Handle>,
    dest_paths: bool,
}

/// readline's word break characters.
fn is_break(c: char) -> bool {
    " \t\n\"\\'`@$><=;|&{(".contains(c)
}

impl Completer for FishHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .char_indices()
            .rev()
            .find(|(_, c)| is_break(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let text = &line[start..pos];
        let pairs = if start == 0 {
            let lower = text.to_ascii_lowercase();
            gx_api::doc::command_names()
                .into_iter()
                .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
                .map(|n| Pair {
                    display: n.clone(),
                    replacement: format!("{n} "),
                })
                .collect()
        } else if self.dest_paths {
            match &self.g {
                Some(g) if !g.is_config().unwrap_or(true) => complete_path(g, text),
                _ => Vec::new(),
            }
        } else {
            Vec::new()
        };
        Ok((start, pairs))
    }
}

/// Devices and guest paths starting with `text`, as guestfish offers them.
fn complete_path(g: &Handle, text: &str) -> Vec<Pair> {
    let mut words: Vec<(String, bool)> = Vec::new();
    if text.len() < 5 || text.starts_with("/dev/") {
        for list in [g.list_devices(), g.list_partitions(), g.lvs()] {
            words.extend(list.unwrap_or_default().into_iter().map(|d| (d, false)));
        }
    }
    if text.is_empty() || text.starts_with('/') {
        let dir = match text.rfind('/') {
            Some(i) if i > 0 => &text[..i],
            _ => "/",
        };
        for d in g.readdir(dir).unwrap_or_default() {
            if d.name == "." || d.name == ".." {
                continue;
            }
            let path = if dir == "/" {
                format!("/{}", d.name)
            } else {
                format!("{dir}/{}", d.name)
            };
            let is_dir = match d.ftyp {
                b'd' => true,
                b'u' | b'l' | b'?' => g
                    .is_dir(
                        &path,
                        IsDirOpts {
                            followsymlinks: Some(true),
                        },
                    )
                    .unwrap_or(false),
                _ => false,
            };
            words.push((path, is_dir));
        }
    }
    words.sort();
    words.dedup();
    words
        .into_iter()
        .filter(|(w, _)| w.starts_with(text))
        .map(|(w, is_dir)| Pair {
            display: w.clone(),
            replacement: if is_dir {
                format!("{w}/")
            } else {
                format!("{w} ")
            },
        })
        .collect()
}

impl Hinter for FishHelper {
    type Hint = String;
}

impl Highlighter for FishHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for FishHelper {}

impl Helper for FishHelper {}

/// `$GUESTFISH_PS1` and friends: `\\`, `\[`/`\]` (dropped: they only mark
/// zero-width text for readline), `\a`, `\e`, `\n`, `\r`, `\NNN`, `\xNN`.
pub(crate) fn decode_ps1(s: &str) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        if i + 1 < b.len() {
            i += 1;
        }
        match b[i] {
            b'\\' => out.push(b'\\'),
            b'[' | b']' => {}
            b'a' => out.push(0x07),
            b'e' => out.push(0x1b),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'0'..=b'7' => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
                continue;
            }
            b'x' => {
                i += 1;
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 2 && i < b.len() && b[i].is_ascii_hexdigit() {
                    v = v * 16 + (b[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                out.push(if n == 0 { b'?' } else { (v & 0xff) as u8 });
                continue;
            }
            _ => out.push(b'?'),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn history_file() -> Option<std::path::PathBuf> {
    crate::env::var("HOME").map(|h| std::path::Path::new(&h).join(".guestfish"))
}

/// The interactive session. Its errors were printed and never end it.
pub(crate) fn run(f: &mut Fish, complete_dest_paths: bool) -> Result<(), Exit> {
    let var = |n: &str| crate::env::var(n).map(|v| decode_ps1(&v));
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut rl: Editor<FishHelper, FileHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("{PROG}: cannot start line editing: {e}");
            return crate::shell::shell_script_interactive(f);
        }
    };
    rl.set_helper(Some(FishHelper {
        g: None,
        dest_paths: complete_dest_paths,
    }));
    let hist = history_file();
    if let Some(h) = &hist {
        load_history(&mut rl, h);
    }
    if let Some(init) = var("GUESTFISH_INIT") {
        print!("{init}");
    }
    print!(
        "\nWelcome to {PROG}, the guest filesystem shell for\n\
         editing virtual machine filesystems and disk images.\n\
         \n\
         Type: ‘help’ for help on commands\n      \
         ‘man’ to read the manual\n      \
         ‘quit’ to quit the shell\n\n"
    );
    if let Some(root) = f.root.clone() {
        print_inspect_prompt(f, &root);
        println!();
    }
    let prompt = var("GUESTFISH_PS1").unwrap_or_else(|| PROMPT.to_string());
    let mut added: Vec<String> = Vec::new();
    while !f.quit {
        let g = std::mem::take(&mut f.g);
        if let Some(h) = rl.helper_mut() {
            h.g = Some(g);
        }
        let line = rl.readline(&prompt);
        if let Some(g) = rl.helper_mut().and_then(|h| h.g.take()) {
            f.g = g;
        }
        let line = match line {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("{PROG}: {e}");
                break;
            }
        };
        if let Some(o) = var("GUESTFISH_OUTPUT") {
            print!("{o}");
        }
        if !line.is_empty() {
            let _ = rl.add_history_entry(line.as_str());
            added.push(line.clone());
        }
        f.lineno += 1;
        run_line(f, line.as_bytes(), false)?;
    }
    println!();
    if let Some(r) = var("GUESTFISH_RESTORE") {
        print!("{r}");
    }
    if let Some(h) = hist {
        save_history(&h, &added);
    }
    Ok(())
}

/// The history file as GNU readline keeps it (one line per entry), which
/// guestfish and gx-fish then share.
fn load_history(rl: &mut Editor<FishHelper, FileHistory>, path: &std::path::Path) {
    let Ok(text) = std::fs::read(path) else {
        return;
    };
    for line in String::from_utf8_lossy(&text).lines() {
        if !line.is_empty() && line != "#V2" {
            let _ = rl.add_history_entry(line);
        }
    }
}

/// Appends this session's lines to the history file (created private).
fn save_history(path: &std::path::Path, lines: &[String]) {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {}", path.display(), crate::context::os_error(&e));
            return;
        }
    };
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    if let Err(e) = std::io::Write::write_all(&mut file, text.as_bytes()) {
        eprintln!("{}: {}", path.display(), crate::context::os_error(&e));
    }
}

/// What `-i` found, for the banner.
pub(crate) fn print_inspect_prompt(f: &Fish, root: &str) {
    if let Ok(name) = f.g.inspect_get_product_name(root) {
        if name != "unknown" {
            println!("Operating system: {name}");
        }
    }
    let Ok(mut mps) = f.g.inspect_get_mountpoints(root) else {
        return;
    };
    mps.sort_by_key(|a| a.0.to_ascii_lowercase());
    for (mp, dev) in mps {
        println!("{} mounted on {mp}", f.g.canonical_device_name(&dev));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        assert_eq!(
            decode_ps1("\\[\\e[1;32m\\]><fs>\\[\\e[0;31m\\] "),
            "\x1b[1;32m><fs>\x1b[0;31m "
        );
        assert_eq!(decode_ps1("a\\nb\\\\c\\101\\x41\\xg\\q"), "a\nb\\cAA?g?");
    }
}

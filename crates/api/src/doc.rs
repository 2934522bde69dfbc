//! Documentation rendered from the table: `gx-fish help CMD`, the command
//! list of `help -l`, and the commands section of the gx-fish man page.
//!
//! Descriptions mark code with backticks; text output shows it in double
//! quotes (as guestfish's pod2text output does), the man page in bold.

use crate::{Action, FishCommand, Visibility, actions};

/// Width of wrapped help text, indent included.
const WIDTH: usize = 76;

/// Help for one command or alias, or `None` when there is no such command.
pub fn help(cmd: &str) -> Option<String> {
    if let Some(a) = crate::lookup(cmd) {
        return Some(help_action(a));
    }
    crate::lookup_fish_command(cmd).map(help_fish_command)
}

fn help_action(a: &Action) -> String {
    let mut out = String::new();
    out.push_str("NAME\n");
    out.push_str(&format!("    {} - {}\n\n", a.fish_name(), a.shortdesc));
    out.push_str("SYNOPSIS\n");
    out.push_str(&format!("     {}\n\n", a.synopsis()));
    out.push_str("DESCRIPTION\n");
    let mut body = a.longdesc.to_string();
    if a.args
        .iter()
        .any(|x| x.kind == crate::ArgKind::Str(crate::StrKind::Key))
    {
        body.push_str(
            "\n\nThis command has one or more key or passphrase parameters. gx-fish \
             prompts for them separately.",
        );
    }
    if let Some(by) = a.deprecated_by {
        body.push_str(&format!(
            "\n\nThis function is deprecated: in new code use `{}` instead. It stays \
             available for old scripts.",
            by.replace('_', "-")
        ));
    }
    let aliases = visible_aliases(a.aliases);
    if !aliases.is_empty() {
        let quoted: Vec<String> = aliases.iter().map(|s| format!("'{s}'")).collect();
        body.push_str(&format!(
            "\n\nYou can use {} as an alias for this command.",
            quoted.join(" or ")
        ));
    }
    out.push_str(&wrap_text(&body, "    "));
    out
}

fn help_fish_command(f: &FishCommand) -> String {
    let mut out = String::new();
    out.push_str("NAME\n");
    out.push_str(&format!("    {} - {}\n\n", f.name, f.shortdesc));
    out.push_str("SYNOPSIS\n");
    out.push_str(&format!("     {} {}\n\n", f.name, f.usage).replace(" \n", "\n"));
    out.push_str("DESCRIPTION\n");
    let mut body = f.longdesc.to_string();
    if !f.aliases.is_empty() {
        let quoted: Vec<String> = f.aliases.iter().map(|s| format!("'{s}'")).collect();
        body.push_str(&format!(
            "\n\nYou can use {} as an alias for this command.",
            quoted.join(" or ")
        ));
    }
    out.push_str(&wrap_text(&body, "    "));
    out
}

/// Aliases shown to people: the `-opts` spellings exist only for old scripts.
fn visible_aliases(aliases: &[&'static str]) -> Vec<&'static str> {
    aliases
        .iter()
        .copied()
        .filter(|a| !a.ends_with("-opts"))
        .collect()
}

/// One row per command and alias, sorted, as `help -l` prints them.
pub fn list_commands() -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    for a in actions().filter(|a| a.visibility == Visibility::Public) {
        rows.push((a.fish_name(), a.shortdesc.to_string()));
        for al in visible_aliases(a.aliases) {
            rows.push((al.to_string(), format!("alias for '{}'", a.fish_name())));
        }
    }
    for f in crate::FISH_COMMANDS {
        rows.push((f.name.to_string(), f.shortdesc.to_string()));
        for al in f.aliases {
            rows.push((al.to_string(), format!("alias for '{}'", f.name)));
        }
    }
    rows.sort();
    let mut out = format!("    {:<16}     {}\n", "Command", "Description");
    for (name, desc) in rows {
        out.push_str(&format!("{name:<20} {desc}\n"));
    }
    out.push_str("    Use -h <cmd> / help <cmd> to show detailed help for a command.\n");
    out
}

/// Every command name and alias gx-fish accepts, for completion.
pub fn command_names() -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for a in actions().filter(|a| a.visibility == Visibility::Public) {
        v.push(a.fish_name());
        v.extend(a.aliases.iter().map(|s| s.to_string()));
    }
    for f in crate::FISH_COMMANDS {
        v.push(f.name.to_string());
        v.extend(f.aliases.iter().map(|s| s.to_string()));
    }
    v.sort();
    v.dedup();
    v
}

/// The "COMMANDS" section of the gx-fish man page, in roff.
pub fn man_commands() -> String {
    let mut out = String::from(".SH COMMANDS\n");
    let mut entries: Vec<(String, String, String)> = Vec::new();
    for a in actions().filter(|a| a.visibility == Visibility::Public) {
        let mut body = a.longdesc.to_string();
        if let Some(by) = a.deprecated_by {
            body.push_str(&format!(
                "\n\nDeprecated: use `{}` instead.",
                by.replace('_', "-")
            ));
        }
        let aliases = visible_aliases(a.aliases);
        if !aliases.is_empty() {
            body.push_str(&format!("\n\nAliases: {}.", aliases.join(", ")));
        }
        entries.push((a.fish_name(), a.synopsis(), body));
    }
    for f in crate::FISH_COMMANDS {
        let mut body = f.longdesc.to_string();
        if !f.aliases.is_empty() {
            body.push_str(&format!("\n\nAliases: {}.", f.aliases.join(", ")));
        }
        entries.push((
            f.name.to_string(),
            format!("{} {}", f.name, f.usage).trim_end().to_string(),
            body,
        ));
    }
    entries.sort();
    for (name, synopsis, body) in entries {
        out.push_str(&format!(".SS {}\n", roff_escape(&name)));
        out.push_str(&format!(".nf\n{}\n.fi\n", roff_escape(&synopsis)));
        for para in body.split("\n\n") {
            out.push_str(".PP\n");
            out.push_str(&roff_code(&roff_escape(&unwrap(para))));
            out.push('\n');
        }
    }
    out
}

/// Joins a paragraph's lines into one.
fn unwrap(para: &str) -> String {
    para.split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    // A line starting with . or ' would be a request.
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// `code` -> bold.
fn roff_code(s: &str) -> String {
    let mut out = String::new();
    let mut open = false;
    for c in s.chars() {
        if c == '`' {
            out.push_str(if open { "\\fR" } else { "\\fB" });
            open = !open;
        } else {
            out.push(c);
        }
    }
    if open {
        out.push_str("\\fR");
    }
    out
}

/// Wraps paragraphs (separated by blank lines) at [`WIDTH`], each line
/// prefixed by `indent`; `code` becomes "code".
pub fn wrap_text(body: &str, indent: &str) -> String {
    let mut out = String::new();
    for (i, para) in body.split("\n\n").enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let text = unwrap(para).replace('`', "\"");
        let mut line = String::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
                out.push_str(indent);
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

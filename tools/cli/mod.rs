//! One module per tool, each with `command()`.

pub mod cat;
pub mod df;
pub mod edit;
pub mod filesystems;
pub mod inspector;
pub mod ls;
pub mod mount;
pub mod rescue;
pub mod unmount;
pub mod win_reg;

/// Every tool's command line, for man pages and completions.
pub fn all() -> Vec<clap::Command> {
    vec![
        ls::command(),
        cat::command(),
        df::command(),
        filesystems::command(),
        inspector::command(),
        win_reg::command(),
        edit::command(),
        rescue::command(),
        mount::command(),
        unmount::command(),
        // gx-resize's command line lives with its plan in crates/resize.
        gx_resize::cli::command(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The man page and both completions are made from each tool's
    /// definition: every long option is in them, and the bash script parses.
    #[test]
    fn man_pages_and_completions_cover_every_option() {
        for cmd in all() {
            let name = cmd.get_name().to_string();
            let mut man = Vec::new();
            clap_mangen::Man::new(cmd.clone())
                .render(&mut man)
                .expect("man page");
            let man = String::from_utf8(man).expect("utf-8");
            let mut bash = Vec::new();
            clap_complete::generate(
                clap_complete::Shell::Bash,
                &mut cmd.clone(),
                &name,
                &mut bash,
            );
            let bash = String::from_utf8(bash).expect("utf-8");
            let mut zsh = Vec::new();
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd.clone(), &name, &mut zsh);
            let zsh = String::from_utf8(zsh).expect("utf-8");
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if arg.is_hide_set() {
                    continue;
                }
                // roff escapes the dashes of options.
                assert!(
                    man.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))),
                    "{name}: --{long} missing from the man page"
                );
                assert!(
                    bash.contains(&format!("--{long}")),
                    "{name}: --{long} not in bash"
                );
                assert!(
                    zsh.contains(&format!("--{long}")),
                    "{name}: --{long} not in zsh"
                );
            }
            let check = std::process::Command::new("bash")
                .args(["-n", "-c", &bash])
                .output()
                .expect("bash");
            assert!(
                check.status.success(),
                "{name}: bash completion does not parse"
            );
        }
    }
}

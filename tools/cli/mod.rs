//! One module per tool, each with `command()`.

pub mod cat;
pub mod df;
pub mod filesystems;
pub mod inspector;
pub mod ls;
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
    ]
}

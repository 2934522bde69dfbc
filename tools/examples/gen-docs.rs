//! Writes every tool's man page and bash and zsh completions, generated from
//! the same clap definitions the tools parse with (gx_tools::cli), into
//! `OUTDIR/man1/*.1`, `OUTDIR/bash/<tool>` and `OUTDIR/zsh/_<tool>`.
//! `scripts/install` runs it; `cargo run -p gx-tools --example gen-docs -- OUTDIR`.

use clap_complete::Shell;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen-docs OUTDIR");
        std::process::exit(2);
    };
    for dir in ["man1", "bash", "zsh"] {
        std::fs::create_dir_all(out.join(dir))?;
    }
    for cmd in gx_tools::cli::all() {
        let name = cmd.get_name().to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .source(format!("guestx {}", env!("CARGO_PKG_VERSION")))
            .manual("guestx")
            .render(&mut page)?;
        std::fs::write(out.join("man1").join(format!("{name}.1")), page)?;
        for (shell, dir, file) in [
            (Shell::Bash, "bash", name.clone()),
            (Shell::Zsh, "zsh", format!("_{name}")),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), &name, &mut script);
            std::fs::write(out.join(dir).join(file), script)?;
        }
    }
    Ok(())
}

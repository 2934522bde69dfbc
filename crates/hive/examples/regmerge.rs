//! `regmerge HIVE FILE.reg... [--prefix P] [--encoding E]`: merges .reg
//! files into a hive file in place, like `hivexregedit --merge` (a
//! development aid for comparing with hivex; gx-win-reg is the tool).
use std::io::BufReader;

use gx_hive::{HiveEditor, ImportOptions, SingleHive, reg_import};

fn main() {
    if let Err(e) = run() {
        eprintln!("regmerge: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut prefix = None;
    let mut opts = ImportOptions::default();
    while let Some(i) = args
        .iter()
        .position(|a| a == "--prefix" || a == "--encoding")
    {
        let v = args.get(i + 1).ok_or("missing option value")?.clone();
        if args[i] == "--prefix" {
            prefix = Some(v);
        } else {
            opts.encoding = v.parse()?;
        }
        args.drain(i..i + 2);
    }
    let (hive, files) = args
        .split_first()
        .ok_or("usage: regmerge HIVE FILE.reg...")?;
    let mut ed = HiveEditor::open(std::fs::read(hive)?)?;
    let t = std::time::Instant::now();
    for f in files {
        let input = BufReader::new(std::fs::File::open(f)?);
        let mut target = SingleHive {
            editor: &mut ed,
            prefix: prefix.clone(),
        };
        reg_import(input, f, &mut target, &opts)?;
    }
    let merged = t.elapsed();
    let out = ed.commit()?;
    if std::env::var_os("REGMERGE_TIME").is_some() {
        // In-memory time only: reading and writing the files is left out.
        eprintln!(
            "regmerge: merge {:.3} ms, merge+commit {:.3} ms",
            merged.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    std::fs::write(hive, out)?;
    Ok(())
}

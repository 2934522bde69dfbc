//! gx-fish's generated part: one arm per public call that checks the
//! argument count, parses each word by its kind, calls the Handle and prints
//! the result the way guestfish prints that return kind.
//!
//! The hand-written side (tools/gx-fish/context.rs) provides `Fish` (the
//! handle `g`, the output stream, and how paths, local files and keys are
//! taken) and the parsers `parse_bool`, `parse_int`, `parse_int64`,
//! `parse_string_list`.

use super::*;
use crate::STRUCTS;

pub(crate) fn fish() -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        "//! gx-fish's command table: arguments parsed by kind, results printed as\n\
         //! guestfish prints each return kind.\n\n\
         use std::io::Write;\n\n\
         use crate::context::{\n    Fish, FishError, argc, dup_optarg, parse_bool, parse_int, parse_int64, parse_string_list,\n    unknown_optarg,\n};\n\n",
    );

    o.push_str(
        "/// Runs the API call `name` (the table's name, as [`gx_api::lookup`] gives\n\
         /// it) with the words `argv`; `cmd` is the name as the user typed it.\n",
    );
    o.push_str(
        "pub(crate) fn run_action(f: &mut Fish, name: &str, cmd: &str, argv: &[String]) -> Result<(), FishError> {\n",
    );
    o.push_str("    match name {\n");
    for a in public() {
        o.push_str(&format!("        \"{}\" => {{\n", a.name));
        o.push_str(&arm(a));
        o.push_str("        }\n");
    }
    o.push_str("        _ => Err(FishError::Unknown),\n    }\n}\n\n");

    // Struct printers.
    for s in STRUCTS {
        o.push_str(&format!(
            "#[allow(dead_code)]\nfn print_{}(out: &mut dyn Write, s: &gx_guestfs::{}, indent: &str) -> std::io::Result<()> {{\n",
            s.name, s.rust_name
        ));
        for (f, k) in s.fields {
            let fi = ident(f);
            let line = match k {
                FieldKind::Str | FieldKind::Device | FieldKind::Uuid => {
                    format!("    writeln!(out, \"{{indent}}{f}: {{}}\", s.{fi})?;\n")
                }
                FieldKind::Buffer => format!(
                    "    writeln!(out, \"{{indent}}{f}: {{}}\", crate::context::escape_buffer(&s.{fi}))?;\n"
                ),
                FieldKind::Char => {
                    format!("    writeln!(out, \"{{indent}}{f}: {{}}\", char::from(s.{fi}))?;\n")
                }
                FieldKind::OptPercent => format!(
                    "    if s.{fi} >= 0.0 {{\n        writeln!(out, \"{{indent}}{f}: {{}} %\", crate::context::format_g(f64::from(s.{fi})))?;\n    }} else {{\n        writeln!(out, \"{{indent}}{f}: \")?;\n    }}\n"
                ),
                _ => format!("    writeln!(out, \"{{indent}}{f}: {{}}\", s.{fi})?;\n"),
            };
            o.push_str(&line);
        }
        o.push_str("    Ok(())\n}\n\n");
    }
    o
}

fn arm(a: &Action) -> String {
    let mut o = String::new();
    let required = a
        .args
        .iter()
        .filter(|x| x.kind != ArgKind::Str(StrKind::Key))
        .count();
    let max = required + a.optargs.len();
    o.push_str(&format!("            argc(argv, {required}, {max})?;\n"));
    let mut i = 0;
    let mut call_args: Vec<String> = Vec::new();
    let mut flush: Vec<String> = Vec::new();
    for x in a.args {
        let n = format!("a_{}", x.name);
        let w = format!("argv[{i}]");
        let (decl, pass) = match x.kind {
            ArgKind::Str(StrKind::Key) => (
                format!("let {n} = f.key(\"{}\")?;", x.name),
                format!("&{n}"),
            ),
            ArgKind::Str(StrKind::Pathname | StrKind::DevOrPath | StrKind::MountableOrPath) => {
                (format!("let {n} = f.path_arg(&{w})?;"), format!("&{n}"))
            }
            ArgKind::Str(StrKind::FileIn) => (
                format!("let mut {n} = f.file_in(&{w})?;"),
                format!("&mut *{n}"),
            ),
            ArgKind::Str(StrKind::FileOut) => {
                flush.push(n.clone());
                (
                    format!("let mut {n} = f.file_out(&{w})?;"),
                    format!("&mut *{n}"),
                )
            }
            ArgKind::Str(_) => (format!("let {n} = {w}.as_str();"), n.clone()),
            ArgKind::OptStr => (
                format!("let {n} = Some({w}.as_str()).filter(|s| !s.is_empty());"),
                n.clone(),
            ),
            ArgKind::StrList(_) => (
                format!("let {n} = parse_string_list(&{w})?;"),
                format!("&{n}"),
            ),
            ArgKind::Bool => (format!("let {n} = parse_bool(&{w})?;"), n.clone()),
            ArgKind::Int => (
                format!("let {n} = parse_int(cmd, \"{}\", &{w})?;", x.name),
                n.clone(),
            ),
            ArgKind::Int64 => (
                format!("let {n} = parse_int64(cmd, \"{}\", &{w})?;", x.name),
                n.clone(),
            ),
            ArgKind::BufferIn => (format!("let {n} = {w}.as_bytes();"), n.clone()),
        };
        if x.kind != ArgKind::Str(StrKind::Key) {
            i += 1;
        }
        o.push_str(&format!("            {decl}\n"));
        call_args.push(pass);
    }
    if let Some(t) = opts_type(a) {
        o.push_str(&format!(
            "            let mut opts = gx_guestfs::{t}::default();\n            for w in &argv[{required}..] {{\n"
        ));
        for (k, oa) in a.optargs.iter().enumerate() {
            let kw = if k == 0 { "if" } else { "} else if" };
            let f = ident(oa.name);
            let parse = match oa.kind {
                OptKind::Bool => "parse_bool(v)?".to_string(),
                OptKind::Int => format!("parse_int(cmd, \"{}\", v)?", oa.name),
                OptKind::Int64 => format!("parse_int64(cmd, \"{}\", v)?", oa.name),
                OptKind::Str => "v.to_string()".to_string(),
                OptKind::StrList => "parse_string_list(v)?".to_string(),
            };
            o.push_str(&format!(
                "                {kw} let Some(v) = w.strip_prefix(\"{}:\") {{\n                    if opts.{f}.is_some() {{\n                        return Err(dup_optarg(cmd, \"{}\"));\n                    }}\n                    opts.{f} = Some({parse});\n",
                oa.name, oa.name
            ));
        }
        o.push_str(
            "                } else {\n                    return Err(unknown_optarg(cmd, w));\n                }\n            }\n",
        );
        call_args.push("opts".into());
    }
    o.push_str(&format!(
        "            #[allow(clippy::let_unit_value)]\n            let r = f.g.{}({})?;\n",
        ident(a.name),
        call_args.join(", ")
    ));
    for n in &flush {
        o.push_str(&format!("            {n}.flush()?;\n"));
    }
    o.push_str(&print(a));
    o.push_str("            Ok(())\n");
    o
}

fn print(a: &Action) -> String {
    let p = "            ";
    match a.ret {
        Ret::Unit => format!("{p}let () = r;\n"),
        Ret::Int | Ret::Int64 => match a.fish_output {
            crate::FishOutput::Decimal => format!("{p}writeln!(f.out(), \"{{r}}\")?;\n"),
            crate::FishOutput::Octal => format!(
                "{p}if r == 0 {{\n{p}    writeln!(f.out(), \"0\")?;\n{p}}} else {{\n{p}    writeln!(f.out(), \"0{{r:o}}\")?;\n{p}}}\n"
            ),
            crate::FishOutput::Hex => format!(
                "{p}if r == 0 {{\n{p}    writeln!(f.out(), \"0\")?;\n{p}}} else {{\n{p}    writeln!(f.out(), \"0x{{r:x}}\")?;\n{p}}}\n"
            ),
        },
        Ret::Bool => format!("{p}writeln!(f.out(), \"{{r}}\")?;\n"),
        Ret::String => format!("{p}writeln!(f.out(), \"{{r}}\")?;\n"),
        Ret::OptString => {
            format!("{p}writeln!(f.out(), \"{{}}\", r.as_deref().unwrap_or(\"(null)\"))?;\n")
        }
        Ret::StringList => format!(
            "{p}let out = f.out();\n{p}for s in &r {{\n{p}    writeln!(out, \"{{s}}\")?;\n{p}}}\n"
        ),
        Ret::Hashtable => format!(
            "{p}let out = f.out();\n{p}for (k, v) in &r {{\n{p}    writeln!(out, \"{{k}}: {{v}}\")?;\n{p}}}\n"
        ),
        Ret::Struct(s) => format!("{p}print_{s}(f.out(), &r, \"\")?;\n"),
        Ret::StructList(s) => format!(
            "{p}let out = f.out();\n{p}for (i, x) in r.iter().enumerate() {{\n{p}    writeln!(out, \"[{{i}}] = {{{{\")?;\n{p}    print_{s}(out, x, \"  \")?;\n{p}    writeln!(out, \"}}}}\")?;\n{p}}}\n"
        ),
        Ret::BufferOut => format!("{p}f.out().write_all(&r)?;\n"),
    }
}

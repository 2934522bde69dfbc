//! gx-guestfs's generated part: the Handle's methods for every call the
//! table does not leave to hand-written code, and the `DirectCalls` trait
//! listing what the direct engine must answer.

use super::*;
use crate::STRUCTS;

pub(crate) fn handle() -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        "//! The Handle's generated methods: engine dispatch for every call the table\n\
         //! marks `Both` or `Appliance`, and [`DirectCalls`], what the direct engine\n\
         //! implements. Policy (which engine, the `auto` fallback) lives in the\n\
         //! hand-written `read_call`/`read_call_out`/`appliance_call` of lib.rs.\n\n\
         #![allow(non_snake_case)] // libguestfs's names: mkswap_L, resize2fs_M\n\n\
         use crate::{Handle, Result};\n\n",
    );

    // Re-export the API types.
    let mut types: Vec<String> = STRUCTS.iter().map(|s| s.rust_name.to_string()).collect();
    for a in public() {
        if let Some(t) = opts_type(a) {
            types.push(t);
        }
    }
    types.sort();
    types.dedup();
    o.push_str("pub use gx_protocol::{\n");
    for t in &types {
        o.push_str(&format!("    {t},\n"));
    }
    o.push_str("};\n\n");

    // DirectCalls.
    o.push_str(
        "/// What the direct engine answers in-process: every call the table marks\n\
         /// `Both`. `Unsupported` errors send `auto` handles to the appliance.\n",
    );
    o.push_str("pub(crate) trait DirectCalls {\n");
    for a in generated_handle_calls().filter(|a| a.engine == Engine::Both) {
        o.push_str(&format!("    /// `{}`: {}.\n", a.name, a.shortdesc));
        let mut params: Vec<String> = vec!["&self".into()];
        for x in a.args {
            params.push(format!("{}: {}", ident(x.name), ref_type(x.kind)));
        }
        if let Some(t) = opts_type(a) {
            params.push(format!("opts: &{t}"));
        }
        o.push_str(&format!(
            "    fn {}({}) -> Result<{}>;\n",
            ident(a.name),
            params.join(", "),
            ret_type(a.ret, "")
        ));
    }
    o.push_str("}\n\n");

    o.push_str("impl Handle {\n");
    for a in generated_handle_calls() {
        doc_comment(&mut o, "    ", a);
        let recv = if a.writes { "&mut self" } else { "&self" };
        let mut params: Vec<String> = vec![recv.into()];
        for x in a.args {
            params.push(format!("{}: {}", ident(x.name), ref_type(x.kind)));
        }
        if let Some(t) = opts_type(a) {
            params.push(format!("opts: {t}"));
        }
        o.push_str(&format!(
            "    pub fn {}({}) -> Result<{}> {{\n",
            ident(a.name),
            params.join(", "),
            ret_type(a.ret, "")
        ));
        o.push_str(&trace_line(a));

        let out_arg = a
            .args
            .iter()
            .find(|x| x.kind == ArgKind::Str(StrKind::FileOut))
            .map(|x| ident(x.name));
        // Argument lists for the two engines.
        let direct_args: Vec<String> = a
            .args
            .iter()
            .map(|x| {
                if Some(ident(x.name)) == out_arg {
                    "o".to_string()
                } else {
                    ident(x.name)
                }
            })
            .chain(opts_type(a).map(|_| "&opts".to_string()))
            .collect();
        let app_args: Vec<String> = a
            .args
            .iter()
            .map(|x| {
                if Some(ident(x.name)) == out_arg {
                    "o".to_string()
                } else {
                    ident(x.name)
                }
            })
            .chain(opts_type(a).map(|_| {
                if a.engine == Engine::Both {
                    "opts.clone()".to_string()
                } else {
                    "opts".to_string()
                }
            }))
            .collect();
        let name = ident(a.name);
        match (a.engine, &out_arg) {
            (Engine::Both, None) => {
                let direct = if direct_args.is_empty() {
                    format!("DirectCalls::{name}")
                } else {
                    format!("|d| DirectCalls::{name}(d, {})", direct_args.join(", "))
                };
                o.push_str(&format!(
                    "        self.read_call(\"{}\", {direct}, |a| a.{name}({}))\n",
                    a.name,
                    app_args.join(", ")
                ))
            }
            (Engine::Both, Some(out)) => o.push_str(&format!(
                "        self.read_call_out(\"{}\", {out}, |d, o| DirectCalls::{name}(d, {}), |a, o| a.{name}({}))\n",
                a.name,
                direct_args.join(", "),
                app_args.join(", ")
            )),
            (_, _) => {
                let app_args: Vec<String> = a
                    .args
                    .iter()
                    .map(|x| ident(x.name))
                    .chain(opts_type(a).map(|_| "opts".to_string()))
                    .collect();
                o.push_str(&format!(
                    "        self.appliance_call(\"{}\", {}, |a| a.{name}({}))\n",
                    a.name,
                    a.writes,
                    app_args.join(", ")
                ))
            }
        }
        o.push_str("    }\n\n");
    }
    o.push_str("}\n");
    o
}

/// The `-x`/`set_trace` line for a call: its name and arguments, keys hidden.
fn trace_line(a: &Action) -> String {
    let mut fmt = a.name.to_string();
    let mut vals: Vec<String> = Vec::new();
    for x in a.args {
        let n = ident(x.name);
        match x.kind {
            ArgKind::Str(StrKind::Key) => fmt.push_str(" \\\"***\\\""),
            ArgKind::Str(StrKind::FileIn | StrKind::FileOut) => fmt.push_str(" <stream>"),
            ArgKind::Str(_) => {
                fmt.push_str(" \\\"{}\\\"");
                vals.push(n);
            }
            ArgKind::OptStr => {
                fmt.push_str(" {:?}");
                vals.push(n);
            }
            ArgKind::StrList(_) => {
                fmt.push_str(" \\\"{}\\\"");
                vals.push(format!("{n}.join(\" \")"));
            }
            ArgKind::Bool | ArgKind::Int | ArgKind::Int64 => {
                fmt.push_str(" {}");
                vals.push(n);
            }
            ArgKind::BufferIn => {
                fmt.push_str(" <{} bytes>");
                vals.push(format!("{n}.len()"));
            }
        }
    }
    if opts_type(a).is_some() {
        fmt.push_str("{}");
        vals.push("opts".into());
    }
    let mut args = String::new();
    for v in vals {
        args.push_str(", ");
        args.push_str(&v);
    }
    format!("        self.trace_call(format_args!(\"{fmt}\"{args}));\n")
}

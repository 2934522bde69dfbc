//! gx-guestfs's generated part: the Handle's public method for every call
//! (the `enter` event, the trace lines, then the engine dispatch or, for
//! calls the table leaves to hand-written code, their `impl_NAME`), how the
//! trace shows each struct, and the `DirectCalls` trait listing what the
//! direct engine must answer.

use super::*;
use crate::{FieldKind, STRUCTS};

pub(crate) fn handle() -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        "//! The Handle's generated methods, one per call: the `enter` event and the\n\
         //! trace lines around the call (see `events.rs`), which is the engine\n\
         //! dispatch for calls the table marks `Both` or `Appliance` and the\n\
         //! hand-written `impl_NAME` for the others; and [`DirectCalls`], what the\n\
         //! direct engine implements. Policy (which engine, the `auto` fallback)\n\
         //! lives in the hand-written `read_call`/`read_call_out`/`appliance_call`\n\
         //! of lib.rs.\n\n\
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

    // How the trace shows a struct result.
    for s in STRUCTS {
        o.push_str(&format!(
            "impl crate::events::TraceFields for {} {{\n    fn trace_fields(&self, out: &mut String) {{\n",
            s.rust_name
        ));
        o.push_str("        use std::fmt::Write;\n");
        for (f, k) in s.fields {
            let n = ident(f);
            let line = match k {
                FieldKind::Buffer => {
                    format!("crate::events::trace_field_bytes(out, \"{f}\", &self.{n});")
                }
                FieldKind::OptPercent => {
                    format!("crate::events::trace_field_percent(out, \"{f}\", self.{n});")
                }
                FieldKind::Char => {
                    format!("let _ = write!(out, \"{f}: {{}}, \", char::from(self.{n}));")
                }
                _ => format!("let _ = write!(out, \"{f}: {{}}, \", self.{n});"),
            };
            o.push_str(&format!("        {line}\n"));
        }
        o.push_str("    }\n}\n\n");
    }

    // `traced` and `r` are no argument's name (`set_trace` takes `trace`).
    o.push_str("impl Handle {\n");
    for a in handle_calls() {
        doc_comment(&mut o, "    ", a);
        let recv = if a.engine == Engine::Handle {
            a.handle_mut
        } else {
            a.writes
        };
        let recv = if recv { "&mut self" } else { "&self" };
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
        o.push_str(&format!(
            "        let traced = self.enter_call(\"{}\");\n        if traced {{\n            {}\n        }}\n",
            a.name,
            trace_line(a)
        ));
        o.push_str(&format!(
            "        let r = {};\n        self.leave_call();\n",
            body(a)
        ));
        o.push_str(&format!(
            "        if traced {{\n            self.trace_return(\"{}\", &r, \"{}\", {});\n        }}\n        r\n    }}\n\n",
            a.name,
            errcode(a.ret),
            trace_value(a.ret)
        ));
    }
    o.push_str("}\n");
    o
}

/// The call itself: the hand-written `impl_NAME` for `Engine::Handle`
/// rows, else the engine dispatch.
fn body(a: &Action) -> String {
    let name = ident(a.name);
    if a.engine == Engine::Handle {
        let args: Vec<String> = a
            .args
            .iter()
            .map(|x| ident(x.name))
            .chain(opts_type(a).map(|_| "opts".to_string()))
            .collect();
        return format!("self.impl_{}({})", a.name, args.join(", "));
    }
    let out_arg = a
        .args
        .iter()
        .find(|x| x.kind == ArgKind::Str(StrKind::FileOut))
        .map(|x| ident(x.name));
    // Argument lists for the two engines.
    let stream_as_o = |x: &crate::Arg| {
        if Some(ident(x.name)) == out_arg {
            "o".to_string()
        } else {
            ident(x.name)
        }
    };
    let direct_args: Vec<String> = a
        .args
        .iter()
        .map(stream_as_o)
        .chain(opts_type(a).map(|_| "&opts".to_string()))
        .collect();
    let app_args: Vec<String> = a
        .args
        .iter()
        .map(stream_as_o)
        .chain(opts_type(a).map(|_| {
            if a.engine == Engine::Both {
                "opts.clone()".to_string()
            } else {
                "opts".to_string()
            }
        }))
        .collect();
    match (a.engine, &out_arg) {
        (Engine::Both, None) => {
            let direct = if direct_args.is_empty() {
                format!("DirectCalls::{name}")
            } else {
                format!("|d| DirectCalls::{name}(d, {})", direct_args.join(", "))
            };
            format!(
                "self.read_call(\"{}\", {direct}, |a| a.{name}({}))",
                a.name,
                app_args.join(", ")
            )
        }
        (Engine::Both, Some(out)) => format!(
            "self.read_call_out(\"{}\", {out}, |d, o| DirectCalls::{name}(d, {}), |a, o| a.{name}({}))",
            a.name,
            direct_args.join(", "),
            app_args.join(", ")
        ),
        (_, _) => {
            let app_args: Vec<String> = a
                .args
                .iter()
                .map(|x| ident(x.name))
                .chain(opts_type(a).map(|_| "opts".to_string()))
                .collect();
            format!(
                "self.appliance_call(\"{}\", {}, |a| a.{name}({}))",
                a.name,
                a.writes,
                app_args.join(", ")
            )
        }
    }
}

/// What a failed call's return line shows (libguestfs's error code of the
/// return kind).
fn errcode(r: Ret) -> &'static str {
    match r {
        Ret::Unit | Ret::Int | Ret::Int64 | Ret::Bool => "-1",
        _ => "NULL",
    }
}

/// A closure from the result to its form on the return line, as
/// libguestfs's `trace_return` prints each return kind.
fn trace_value(r: Ret) -> String {
    match r {
        Ret::Unit => "|_| \"0\".to_string()".into(),
        Ret::Int | Ret::Int64 => "|v| v.to_string()".into(),
        Ret::Bool => "|v| i32::from(*v).to_string()".into(),
        Ret::String => "|v| format!(\"\\\"{v}\\\"\")".into(),
        Ret::OptString => "|v| format!(\"\\\"{}\\\"\", v.as_deref().unwrap_or(\"NULL\"))".into(),
        Ret::StringList => "|v| crate::events::trace_strings(v.iter().map(String::as_str))".into(),
        Ret::Hashtable => "|v| crate::events::trace_hashtable(v)".into(),
        Ret::Struct(s) => format!("|v| crate::events::trace_struct(\"{s}\", v)"),
        Ret::StructList(s) => format!("|v| crate::events::trace_struct_list(\"{s}\", v)"),
        Ret::BufferOut => "|v| crate::events::trace_buffer(v)".into(),
    }
}

/// The statement sending a call's trace line: its name and arguments as
/// libguestfs's `trace_call` prints them (strings quoted, a missing optional
/// string `null`, lists as one quoted word, buffers escaped, keys hidden,
/// optional arguments given as `"name:value"`). Streams show as `<stream>`:
/// the Handle sees a reader or writer, not the local file's name.
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
                fmt.push_str(" {}");
                vals.push(format!(
                    "{n}.map_or_else(|| \"null\".to_string(), |s| format!(\"\\\"{{s}}\\\"\"))"
                ));
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
                fmt.push_str(" {}");
                vals.push(format!("crate::events::trace_buffer({n})"));
            }
        }
    }
    if opts_type(a).is_some() {
        fmt.push_str("{}");
        vals.push("opts".into());
    }
    if vals.is_empty() {
        return format!("self.trace_line(\"{fmt}\");");
    }
    format!("self.trace_line(&format!(\"{fmt}\", {}));", vals.join(", "))
}

/// Calls the Handle has a method for, generated here: every call but the
/// host <-> agent ones.
fn handle_calls() -> impl Iterator<Item = &'static Action> {
    actions().filter(|a| a.visibility != Visibility::Internal)
}

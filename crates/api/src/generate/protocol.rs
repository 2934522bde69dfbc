//! gx-protocol's generated part (structs, optional-argument structs, the
//! wire messages, the agent's `Handler` and `dispatch`) and gx-appliance's
//! typed client methods.

use super::*;
use crate::STRUCTS;

pub(crate) fn protocol() -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        "//! The API table's wire side: structs, optional arguments, [`Call`], the\n\
         //! agent's [`Handler`] and [`dispatch`].\n\n\
         #![allow(non_snake_case)] // libguestfs's names: mkswap_L, resize2fs_M\n\n\
         use crate::wire::{Reader, Wire};\n\
         use crate::{CallError, CallInfo, ProtoError, StreamIo, StreamKind};\n\n",
    );

    // Structs.
    for s in STRUCTS {
        o.push_str(&format!("/// {}\n", s.doc));
        o.push_str("#[derive(Debug, Clone, Default, PartialEq)]\n");
        o.push_str(&format!("pub struct {} {{\n", s.rust_name));
        for (f, k) in s.fields {
            o.push_str(&format!("    pub {}: {},\n", ident(f), field_type(*k)));
        }
        o.push_str("}\n\n");
        wire_impl(
            &mut o,
            s.rust_name,
            &s.fields.iter().map(|(f, _)| ident(f)).collect::<Vec<_>>(),
        );
    }

    // Optional-argument structs.
    for a in agent_calls()
        .chain(generated_handle_calls())
        .chain(public())
    {
        let Some(t) = opts_type(a) else { continue };
        if o.contains(&format!("pub struct {t} ")) {
            continue;
        }
        o.push_str(&format!(
            "/// Optional arguments of `{}`: `None` leaves the default.\n",
            a.name
        ));
        o.push_str("#[derive(Debug, Clone, Default, PartialEq, Eq)]\n");
        o.push_str(&format!("pub struct {t} {{\n"));
        for oa in a.optargs {
            o.push_str(&format!(
                "    pub {}: {},\n",
                ident(oa.name),
                opt_type(oa.kind)
            ));
        }
        o.push_str("}\n\n");
        wire_impl(
            &mut o,
            &t,
            &a.optargs.iter().map(|x| ident(x.name)).collect::<Vec<_>>(),
        );
        trace_impl(&mut o, &t, a.optargs);
    }

    // The Call enum.
    o.push_str("/// A call with its arguments, as it travels host -> agent.\n");
    o.push_str("#[derive(Debug, Clone, PartialEq)]\npub enum Call {\n");
    for a in agent_calls() {
        o.push_str(&format!("    /// `{}`: {}.\n", a.name, a.shortdesc));
        let fields = call_fields(a);
        if fields.is_empty() {
            o.push_str(&format!("    {},\n", camel(a.name)));
        } else {
            o.push_str(&format!("    {} {{\n", camel(a.name)));
            for (n, t) in &fields {
                o.push_str(&format!("        {n}: {t},\n"));
            }
            o.push_str("    },\n");
        }
    }
    o.push_str("}\n\n");

    o.push_str("impl Call {\n");
    // proc_nr
    o.push_str("    /// The wire procedure number.\n");
    o.push_str("    pub fn proc_nr(&self) -> u32 {\n        match self {\n");
    for a in agent_calls() {
        o.push_str(&format!(
            "            {} => {},\n",
            any_pat(a),
            a.proc_nr.unwrap_or(0)
        ));
    }
    o.push_str("        }\n    }\n\n");
    // name
    o.push_str("    /// The libguestfs name.\n");
    o.push_str("    pub fn name(&self) -> &'static str {\n        match self {\n");
    for a in agent_calls() {
        o.push_str(&format!("            {} => \"{}\",\n", any_pat(a), a.name));
    }
    o.push_str("        }\n    }\n\n");
    // stream
    o.push_str("    /// Whether and which way the call streams data.\n");
    o.push_str("    pub fn stream(&self) -> StreamKind {\n        match self {\n");
    for a in agent_calls() {
        o.push_str(&format!(
            "            {} => StreamKind::{},\n",
            any_pat(a),
            stream_kind(a)
        ));
    }
    o.push_str("        }\n    }\n\n");
    // encode
    o.push_str("    /// The Call frame's payload: procedure number, then arguments.\n");
    o.push_str("    pub fn encode(&self) -> Vec<u8> {\n");
    o.push_str("        let mut out = Vec::new();\n        self.proc_nr().put(&mut out);\n");
    o.push_str("        match self {\n");
    for a in agent_calls() {
        let fields = call_fields(a);
        if fields.is_empty() {
            o.push_str(&format!("            Call::{} => {{}}\n", camel(a.name)));
        } else {
            let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
            o.push_str(&format!(
                "            Call::{} {{ {} }} => {{\n",
                camel(a.name),
                names.join(", ")
            ));
            for n in &names {
                o.push_str(&format!("                {n}.put(&mut out);\n"));
            }
            o.push_str("            }\n");
        }
    }
    o.push_str("        }\n        out\n    }\n\n");
    // decode
    o.push_str("    /// Parses a Call frame's payload; anything malformed is an error.\n");
    o.push_str("    pub fn decode(payload: &[u8]) -> Result<Call, ProtoError> {\n");
    o.push_str("        let mut r = Reader::new(payload);\n");
    o.push_str("        let nr = u32::get(&mut r)?;\n        let call = match nr {\n");
    for a in agent_calls() {
        let fields = call_fields(a);
        let nr = a.proc_nr.unwrap_or(0);
        if fields.is_empty() {
            o.push_str(&format!("            {nr} => Call::{},\n", camel(a.name)));
        } else {
            o.push_str(&format!("            {nr} => Call::{} {{\n", camel(a.name)));
            for (n, t) in &fields {
                o.push_str(&format!("                {n}: <{t}>::get(&mut r)?,\n"));
            }
            o.push_str("            },\n");
        }
    }
    o.push_str("            other => return Err(ProtoError::BadProc(other)),\n");
    o.push_str("        };\n        r.finish()?;\n        Ok(call)\n    }\n}\n\n");

    // Handler.
    o.push_str(
        "/// The agent implements this; the compiler then insists every call the\n\
         /// table gives the agent has an implementation.\n",
    );
    o.push_str("pub trait Handler {\n");
    for a in agent_calls() {
        doc_comment(&mut o, "    ", a);
        let mut params: Vec<String> = vec!["&mut self".into()];
        for (n, t) in call_fields(a) {
            params.push(format!("{n}: {t}"));
        }
        if a.file_in() {
            params.push("data: &mut dyn std::io::Read".into());
        }
        if a.file_out() {
            params.push("out: &mut dyn crate::FileOut".into());
        }
        o.push_str(&format!(
            "    fn {}({}) -> Result<{}, CallError>;\n",
            ident(a.name),
            params.join(", "),
            ret_type(a.ret, "")
        ));
    }
    o.push_str("}\n\n");

    // dispatch
    o.push_str("/// Runs one call on a handler and encodes its return value.\n");
    o.push_str(
        "pub fn dispatch<H: Handler + ?Sized>(h: &mut H, call: Call, io: StreamIo<'_>) -> Result<Vec<u8>, CallError> {\n",
    );
    o.push_str("    #[allow(unreachable_patterns)]\n    match (call, io) {\n");
    for a in agent_calls() {
        let fields = call_fields(a);
        let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
        let pat = if names.is_empty() {
            format!("Call::{}", camel(a.name))
        } else {
            format!("Call::{} {{ {} }}", camel(a.name), names.join(", "))
        };
        let (io_pat, extra) = if a.file_in() {
            ("StreamIo::In(r)", vec!["r".to_string()])
        } else if a.file_out() {
            ("StreamIo::Out(w)", vec!["w".to_string()])
        } else {
            ("_", vec![])
        };
        let args: Vec<String> = names.iter().cloned().chain(extra).collect();
        o.push_str(&format!(
            "        ({pat}, {io_pat}) => Ok(crate::wire::to_vec(&h.{}({})?)),\n",
            ident(a.name),
            args.join(", ")
        ));
    }
    o.push_str(
        "        (_, _) => Err(CallError::new(22, \"internal: a streamed call without its data stream\")),\n",
    );
    o.push_str("    }\n}\n\n");

    // CALLS
    o.push_str("/// Every call the agent serves, in table order.\n");
    o.push_str("pub static CALLS: &[CallInfo] = &[\n");
    for a in agent_calls() {
        o.push_str(&format!(
            "    CallInfo {{ nr: {}, name: \"{}\", stream: StreamKind::{}, doc: \"{}\" }},\n",
            a.proc_nr.unwrap_or(0),
            a.name,
            stream_kind(a),
            a.shortdesc.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    o.push_str("];\n");
    o
}

/// A pattern matching any value of the call's variant.
fn any_pat(a: &Action) -> String {
    if call_fields(a).is_empty() {
        format!("Call::{}", camel(a.name))
    } else {
        format!("Call::{} {{ .. }}", camel(a.name))
    }
}

fn stream_kind(a: &Action) -> &'static str {
    if a.file_in() {
        "FileIn"
    } else if a.file_out() {
        "FileOut"
    } else {
        "None"
    }
}

/// The fields of a call's message: its non-stream arguments, then `opts`.
pub(crate) fn call_fields(a: &Action) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = a
        .args
        .iter()
        .filter_map(|x| wire_type(x.kind).map(|t| (ident(x.name), t.to_string())))
        .collect();
    if let Some(t) = opts_type(a) {
        v.push(("opts".into(), t));
    }
    v
}

fn wire_impl(o: &mut String, ty: &str, fields: &[String]) {
    o.push_str(&format!("impl Wire for {ty} {{\n"));
    o.push_str("    fn put(&self, out: &mut Vec<u8>) {\n");
    if fields.is_empty() {
        o.push_str("        let _ = out;\n");
    }
    for f in fields {
        o.push_str(&format!("        self.{f}.put(out);\n"));
    }
    o.push_str("    }\n");
    o.push_str("    fn get(r: &mut Reader<'_>) -> Result<Self, ProtoError> {\n");
    if fields.is_empty() {
        o.push_str("        let _ = r;\n");
    }
    o.push_str(&format!("        Ok({ty} {{\n"));
    for f in fields {
        o.push_str(&format!("            {f}: Wire::get(r)?,\n"));
    }
    o.push_str("        })\n    }\n}\n\n");
}

/// gx-appliance's client: one method per agent call.
pub(crate) fn client() -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        "//! The host client's typed methods, one per call the agent serves.\n\n\
         #![allow(non_snake_case)] // libguestfs's names: mkswap_L, resize2fs_M\n\n\
         use gx_protocol::Call;\n\n\
         use crate::{Appliance, HostStream, Result};\n\n\
         impl Appliance {\n",
    );
    for a in agent_calls() {
        doc_comment(&mut o, "    ", a);
        let mut params: Vec<String> = vec!["&mut self".into()];
        for x in a.args {
            params.push(format!("{}: {}", ident(x.name), ref_type(x.kind)));
        }
        if let Some(t) = opts_type(a) {
            params.push(format!("opts: gx_protocol::{t}"));
        }
        o.push_str(&format!(
            "    pub fn {}({}) -> Result<{}> {{\n",
            ident(a.name),
            params.join(", "),
            ret_type(a.ret, "gx_protocol::")
        ));
        let mut inits: Vec<String> = Vec::new();
        for x in a.args {
            if wire_type(x.kind).is_some() {
                let owned = to_owned_expr(x.kind, &ident(x.name));
                inits.push(if owned == ident(x.name) {
                    owned
                } else {
                    format!("{}: {owned}", ident(x.name))
                });
            }
        }
        if opts_type(a).is_some() {
            inits.push("opts".into());
        }
        let call = if inits.is_empty() {
            format!("Call::{}", camel(a.name))
        } else {
            format!("Call::{} {{ {} }}", camel(a.name), inits.join(", "))
        };
        let stream = a
            .args
            .iter()
            .find_map(|x| match x.kind {
                ArgKind::Str(StrKind::FileIn) => Some(format!("HostStream::In({})", x.name)),
                ArgKind::Str(StrKind::FileOut) => Some(format!("HostStream::Out({})", x.name)),
                _ => None,
            })
            .unwrap_or_else(|| "HostStream::None".into());
        o.push_str(&format!(
            "        let v = self.call_raw({call}, {stream})?;\n        self.decode(v, \"{}\")\n    }}\n\n",
            a.name
        ));
    }
    o.push_str("}\n");
    o
}

/// `Display` for an optional-argument struct: the `-x` trace's form, as
/// libguestfs prints it (` "name:value"` for each argument given, in table
/// order; as there, a drive's `secret` too: tracing is asked for by hand).
fn trace_impl(o: &mut String, t: &str, optargs: &[crate::OptArg]) {
    o.push_str(&format!("impl std::fmt::Display for {t} {{\n"));
    o.push_str("    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n");
    for oa in optargs {
        let (n, name) = (ident(oa.name), oa.name);
        let v = match oa.kind {
            crate::OptKind::StrList => "v.join(\" \")",
            _ => "v",
        };
        o.push_str(&format!(
            "        if let Some(v) = &self.{n} {{\n            write!(f, \" \\\"{name}:{{}}\\\"\", {v})?;\n        }}\n"
        ));
    }
    o.push_str("        Ok(())\n    }\n}\n\n");
}

//! `--json`: the same inspection as the XML, as one JSON document whose
//! shape does not depend on what was found (every key always there, `null`
//! where the XML leaves an element out). Built from the XML tree, so the two
//! always agree; the schema is in the `--json` option's help.

use crate::xml::Element;
use gx_cli::json::Value;

/// Scalar fields of an operating system, in output order; the versions are numbers.
const FIELDS: &[&str] = &[
    "root",
    "name",
    "arch",
    "distro",
    "product_name",
    "product_variant",
    "major_version",
    "minor_version",
    "package_format",
    "package_management",
    "windows_systemroot",
    "windows_current_control_set",
    "hostname",
    "osinfo",
];

const APP_FIELDS: &[&str] = &[
    "name",
    "display_name",
    "epoch",
    "version",
    "release",
    "arch",
    "install_path",
    "publisher",
    "url",
    "source_package",
    "summary",
    "description",
];

fn child<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    e.children.iter().find(|c| c.name == name)
}

fn text(e: &Element, name: &str) -> Option<String> {
    child(e, name).and_then(|c| c.text.clone())
}

fn attr(e: &Element, name: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn number(s: Option<String>) -> Value {
    s.and_then(|s| s.parse::<i64>().ok())
        .map_or(Value::Null, Value::Int)
}

/// `{"operatingsystems": [...]}` from `<operatingsystems>`.
pub fn document(oses: &Element) -> Value {
    let list = oses
        .children
        .iter()
        .map(operating_system)
        .collect::<Vec<_>>();
    let mut doc = Value::object();
    doc.push("operatingsystems", list);
    doc
}

fn operating_system(os: &Element) -> Value {
    let mut o = Value::object();
    for &f in FIELDS {
        let v = text(os, f);
        if f.ends_with("_version") {
            o.push(f, number(v));
        } else {
            o.push(f, v);
        }
    }
    let items = |name: &str, each: &dyn Fn(&Element) -> Value| -> Value {
        child(os, name).map_or(Value::Array(Vec::new()), |c| {
            Value::Array(c.children.iter().map(each).collect())
        })
    };
    o.push(
        "mountpoints",
        items("mountpoints", &|m| {
            let mut v = Value::object();
            v.push("mountpoint", m.text.clone());
            v.push("device", attr(m, "dev"));
            v
        }),
    );
    o.push(
        "filesystems",
        items("filesystems", &|f| {
            let mut v = Value::object();
            v.push("device", attr(f, "dev"));
            for k in ["type", "label", "uuid"] {
                v.push(k, text(f, k));
            }
            v
        }),
    );
    o.push(
        "drive_mappings",
        items("drive_mappings", &|d| {
            let mut v = Value::object();
            v.push("name", attr(d, "name"));
            v.push("device", d.text.clone());
            v
        }),
    );
    let apps = child(os, "applications").map(|a| {
        Value::Array(
            a.children
                .iter()
                .map(|app| {
                    let mut v = Value::object();
                    for &f in APP_FIELDS {
                        if f == "epoch" {
                            v.push(f, number(Some(text(app, f).unwrap_or_else(|| "0".into()))));
                        } else {
                            v.push(f, text(app, f));
                        }
                    }
                    v
                })
                .collect(),
        )
    });
    o.push("applications", apps.unwrap_or(Value::Null));
    // The icon's base64 without the XML's line breaks.
    let icon = text(os, "icon").map(|t| t.replace(['\r', '\n'], ""));
    o.push("icon", icon);
    o
}

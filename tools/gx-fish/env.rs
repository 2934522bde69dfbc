//! `setenv` and `unsetenv` without touching the process environment (which
//! Rust 2024 only changes in `unsafe` code): an overlay that every program
//! gx-fish starts (`!cmd`, pipes, editors, pagers, `tar`) and every variable
//! it reads itself sees, as they would see guestfish's setenv(3).

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::Mutex;

/// name -> value, or `None` for a variable unset.
static OVERLAY: Mutex<Option<HashMap<OsString, Option<OsString>>>> = Mutex::new(None);

/// Sets (`Some`) or unsets (`None`) a variable.
pub(crate) fn set(name: &str, value: Option<&str>) {
    if let Ok(mut g) = OVERLAY.lock() {
        g.get_or_insert_with(HashMap::new)
            .insert(name.into(), value.map(OsString::from));
    }
}

/// A variable as gx-fish's commands see it.
pub(crate) fn var(name: &str) -> Option<String> {
    if let Ok(g) = OVERLAY.lock() {
        if let Some(v) = g.as_ref().and_then(|m| m.get(std::ffi::OsStr::new(name))) {
            return v.as_ref().and_then(|v| v.to_str()).map(str::to_string);
        }
    }
    std::env::var(name).ok()
}

/// A command with the overlay applied to its environment.
pub(crate) fn command(program: &str) -> std::process::Command {
    let mut c = std::process::Command::new(program);
    if let Ok(g) = OVERLAY.lock() {
        for (k, v) in g.iter().flatten() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
    }
    c
}

/// `/bin/sh -c CMD`, as system(3) and popen(3) run it.
pub(crate) fn shell(cmd: &std::ffi::OsStr) -> std::process::Command {
    let mut c = command("/bin/sh");
    c.arg("-c").arg(cmd);
    c
}

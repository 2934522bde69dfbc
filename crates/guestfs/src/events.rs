//! The handle's events, as libguestfs has them (`guestfs_set_event_callback`):
//! the event kinds, callback registration and deletion, firing, and the
//! `-x` trace lines, which are `trace` events that go to stderr only while
//! no callback takes them.
//!
//! Every API call fires `enter` (its name) on entry and, with tracing on,
//! a `trace` event for the call line and one for the return line. That
//! per-call code is generated (`generated.rs`, from the API table); this
//! module owns the mechanism and the formatting of each return kind, which
//! follows libguestfs's generator (`generator/c.ml`, `trace_return`) so that
//! lines match guestfish's word for word.
//!
//! It must not print anything but a trace line no callback takes, and must
//! not let a callback reach the handle (callbacks get the event's data only).

use std::cell::{Cell, RefCell};
use std::fmt::Write;

use crate::{Error, Handle, Result};

/// An event (libguestfs's `GUESTFS_EVENT_*`), in bit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The handle is being closed (dropped).
    Close,
    /// The appliance's process ended.
    SubprocessQuit,
    /// `launch` finished.
    LaunchDone,
    Progress,
    /// A message from the appliance (verbose mode).
    Appliance,
    /// A message from the library (verbose mode).
    Library,
    /// A trace line (`set_trace`): the call, then its result.
    Trace,
    /// An API call starts: the buffer is its name.
    Enter,
    LibvirtAuth,
    Warning,
}

impl Event {
    /// Every event, in bit order.
    pub const ALL: [Event; 10] = [
        Event::Close,
        Event::SubprocessQuit,
        Event::LaunchDone,
        Event::Progress,
        Event::Appliance,
        Event::Library,
        Event::Trace,
        Event::Enter,
        Event::LibvirtAuth,
        Event::Warning,
    ];

    /// The mask of every event (`GUESTFS_EVENT_ALL`).
    pub const ALL_BITS: u64 = (1 << Event::ALL.len()) - 1;

    /// The event's bit in a mask.
    pub fn bit(self) -> u64 {
        1 << (self as u32)
    }

    /// libguestfs's name (`guestfs_event_to_string`): `close`, `launch_done`...
    pub fn name(self) -> &'static str {
        match self {
            Event::Close => "close",
            Event::SubprocessQuit => "subprocess_quit",
            Event::LaunchDone => "launch_done",
            Event::Progress => "progress",
            Event::Appliance => "appliance",
            Event::Library => "library",
            Event::Trace => "trace",
            Event::Enter => "enter",
            Event::LibvirtAuth => "libvirt_auth",
            Event::Warning => "warning",
        }
    }
}

/// A callback: the event, the callback's own event handle, the message
/// (empty for events that carry none) and the array (progress numbers).
pub type EventCallback = Box<dyn FnMut(Event, i32, &[u8], &[u64]) + Send>;

/// libguestfs's bound on registered callbacks.
const MAX_CALLBACKS: usize = 1000;

struct Entry {
    mask: u64,
    /// Taken out while the callback runs, so firing needs no borrow held
    /// across user code.
    cb: Option<EventCallback>,
}

/// The callbacks of a handle. An event handle is the callback's index, as
/// in libguestfs: a deleted callback keeps its slot (mask 0) unless it was
/// the last one, so the numbers of the others never change.
#[derive(Default)]
pub(crate) struct Events {
    entries: RefCell<Vec<Entry>>,
    /// API calls under way: calls a call makes (a hand-written call built
    /// from others) are its implementation and fire nothing, so the events
    /// and the trace show the calls the caller made, as libguestfs's do
    /// for calls its daemon answers.
    depth: Cell<u32>,
}

impl Events {
    /// Calls every callback registered for `ev`; how many there were.
    fn fire(&self, ev: Event, buf: &[u8], array: &[u64]) -> usize {
        let mut n = 0;
        let mut i = 0;
        loop {
            let taken = {
                let Ok(mut v) = self.entries.try_borrow_mut() else {
                    return n;
                };
                let Some(e) = v.get_mut(i) else { break };
                if e.mask & ev.bit() != 0 {
                    e.cb.take()
                } else {
                    None
                }
            };
            if let Some(mut cb) = taken {
                n += 1;
                cb(ev, i32::try_from(i).unwrap_or(i32::MAX), buf, array);
                if let Ok(mut v) = self.entries.try_borrow_mut() {
                    if let Some(e) = v.get_mut(i) {
                        e.cb = Some(cb);
                    }
                }
            }
            i += 1;
        }
        n
    }
}

impl Handle {
    /// Registers `cb` for the events in `event_bitmask` (bits of
    /// [`Event::bit`]); returns its event handle.
    pub fn set_event_callback(&mut self, cb: EventCallback, event_bitmask: u64) -> Result<i32> {
        let v = self.events.entries.get_mut();
        if v.len() >= MAX_CALLBACKS {
            return Err(Error::invalid("too many event callbacks registered"));
        }
        v.push(Entry {
            mask: event_bitmask,
            cb: Some(cb),
        });
        Ok(i32::try_from(v.len() - 1).unwrap_or(i32::MAX))
    }

    /// Unregisters a callback; an unknown event handle is ignored.
    pub fn delete_event_callback(&mut self, event_handle: i32) {
        let v = self.events.entries.get_mut();
        let Ok(i) = usize::try_from(event_handle) else {
            return;
        };
        if i + 1 == v.len() {
            v.pop();
        } else if let Some(e) = v.get_mut(i) {
            e.mask = 0;
            e.cb = None;
        }
    }

    /// Fires an event that carries no message.
    pub(crate) fn fire_event(&self, ev: Event) {
        self.events.fire(ev, &[], &[]);
    }

    /// An API call starts: fires `enter` with its name and says whether
    /// the call traces (the setting as it was on entry, as in libguestfs:
    /// `set_trace false` traces itself, `set_trace true` does not). Calls
    /// made inside a call fire nothing and do not trace. Each call is
    /// followed by [`Handle::leave_call`].
    pub(crate) fn enter_call(&self, name: &str) -> bool {
        let d = self.events.depth.get();
        self.events.depth.set(d.saturating_add(1));
        if d > 0 {
            return false;
        }
        let trace = self.settings.trace;
        self.events.fire(Event::Enter, name.as_bytes(), &[]);
        trace
    }

    /// An API call ended (see [`Handle::enter_call`]).
    pub(crate) fn leave_call(&self) {
        self.events
            .depth
            .set(self.events.depth.get().saturating_sub(1));
    }

    /// Whether a call is under way (its inner calls do not trace).
    pub(crate) fn in_call(&self) -> bool {
        self.events.depth.get() > 0
    }

    /// Sends a trace line: to the `trace` callbacks, or to stderr as
    /// `libguestfs: trace: LINE` when there are none.
    pub(crate) fn trace_line(&self, line: &str) {
        if self.events.fire(Event::Trace, line.as_bytes(), &[]) == 0 {
            eprintln!("libguestfs: trace: {}", escape(line.as_bytes()));
        }
    }

    /// The return line of a traced call: `NAME = VALUE`, or
    /// `NAME = ERRCODE (error)` (`-1` or `NULL` by return kind).
    pub(crate) fn trace_return<T>(
        &self,
        name: &str,
        r: &Result<T>,
        errcode: &str,
        value: impl FnOnce(&T) -> String,
    ) {
        let line = match r {
            Ok(v) => format!("{name} = {}", value(v)),
            Err(_) => format!("{name} = {errcode} (error)"),
        };
        self.trace_line(&line);
    }
}

/// A trace line as libguestfs prints it on stderr: printable ASCII as is,
/// anything else escaped.
fn escape(buf: &[u8]) -> String {
    let mut s = String::with_capacity(buf.len());
    for &b in buf {
        match b {
            0x20..=0x7e => s.push(char::from(b)),
            0 => s.push_str("\\0"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            0x0c => s.push_str("\\f"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x0b => s.push_str("\\v"),
            _ => {
                let _ = write!(s, "\\x{b:x}");
            }
        }
    }
    s
}

/// A struct's fields as libguestfs traces them: `name: value, ` each.
pub(crate) trait TraceFields {
    fn trace_fields(&self, out: &mut String);
}

/// A string list (and a hashtable, flattened): `["a", "b"]`.
pub(crate) fn trace_strings<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::from("[");
    for (i, it) in items.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('"');
        s.push_str(it);
        s.push('"');
    }
    s.push(']');
    s
}

/// Key/value pairs, as libguestfs's flat list of keys and values.
pub(crate) fn trace_hashtable(v: &[(String, String)]) -> String {
    trace_strings(v.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
}

/// A buffer, argument or result: quoted, non-printables as `\xNN`, at most
/// 256 bytes (then the size).
pub(crate) fn trace_buffer(b: &[u8]) -> String {
    let shown = &b[..b.len().min(256)];
    let mut s = String::from("\"");
    for &c in shown {
        if (0x20..=0x7e).contains(&c) {
            s.push(char::from(c));
        } else {
            let _ = write!(s, "\\x{c:02x}");
        }
    }
    s.push('"');
    if b.len() > shown.len() {
        let _ = write!(s, "<truncated, original size {} bytes>", b.len());
    }
    s
}

/// One struct: `<struct guestfs_NAME = f: v, g: w, >`.
pub(crate) fn trace_struct(name: &str, v: &impl TraceFields) -> String {
    let mut s = format!("<struct guestfs_{name} = ");
    v.trace_fields(&mut s);
    s.push('>');
    s
}

/// A struct list: `<struct guestfs_NAME_list(N) = [0]{...} [1]{...}>`.
pub(crate) fn trace_struct_list<T: TraceFields>(name: &str, v: &[T]) -> String {
    let mut s = format!("<struct guestfs_{name}_list({})", v.len());
    if !v.is_empty() {
        s.push_str(" = ");
    }
    for (i, x) in v.iter().enumerate() {
        if i != 0 {
            s.push(' ');
        }
        let _ = write!(s, "[{i}]{{");
        x.trace_fields(&mut s);
        s.push('}');
    }
    s.push('>');
    s
}

/// A buffer field of a struct: printables as is, the rest `\xNN`.
pub(crate) fn trace_field_bytes(out: &mut String, name: &str, b: &[u8]) {
    let _ = write!(out, "{name}: ");
    for &c in b {
        if (0x20..=0x7e).contains(&c) {
            out.push(char::from(c));
        } else {
            let _ = write!(out, "\\x{c:02x}");
        }
    }
    out.push_str(", ");
}

/// An optional percentage field: `name: 12.5 %, `, or `name: , ` when
/// there is none (negative), as C's `%g`.
pub(crate) fn trace_field_percent(out: &mut String, name: &str, v: f32) {
    if v >= 0.0 {
        let _ = write!(out, "{name}: {} %, ", fmt_g(f64::from(v)));
    } else {
        let _ = write!(out, "{name}: , ");
    }
}

/// C's `%g` for the values a percentage takes: six significant digits,
/// trailing zeros dropped (exponent form for very small or large values).
fn fmt_g(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let s = format!("{v:.5e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = trim_zeros(m);
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = usize::try_from(5 - exp).unwrap_or(0);
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn percent_as_c_g() {
        // Values printf("%g") gives.
        for (v, want) in [
            (12.5, "12.5"),
            (100.0, "100"),
            (0.0, "0"),
            (1.0 / 3.0, "0.333333"),
            (99.99, "99.99"),
            (0.00001, "1e-05"),
            (1234567.0, "1.23457e+06"),
        ] {
            assert_eq!(fmt_g(v), want, "{v}");
        }
    }

    #[test]
    fn buffers_escape_and_truncate() {
        assert_eq!(trace_buffer(b"a\x01\"b"), "\"a\\x01\"b\"");
        let big = vec![b'x'; 300];
        let t = trace_buffer(&big);
        assert!(t.ends_with("\"<truncated, original size 300 bytes>"), "{t}");
        assert_eq!(escape(b"a\tb\x7f"), "a\\tb\\x7f");
    }

    /// What fish/test-events.sh of libguestfs expects of a call: `enter`,
    /// then the call and return lines as trace events (none on stderr);
    /// a call made inside another fires nothing.
    #[test]
    fn calls_fire_enter_and_trace() {
        let mut g = Handle::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        g.set_event_callback(
            Box::new(move |ev, _, buf, _| {
                s.lock()
                    .unwrap()
                    .push(format!("{} {}", ev.name(), String::from_utf8_lossy(buf)))
            }),
            Event::Enter.bit() | Event::Trace.bit(),
        )
        .unwrap();
        g.set_trace(true).unwrap();
        g.get_autosync().unwrap();
        // add_drive_ro is add_drive with readonly: only the outer call shows.
        g.add_drive_ro("/dev/null").unwrap();
        assert!(g.version().is_ok());
        let got = seen.lock().unwrap().clone();
        assert_eq!(
            got[..7],
            [
                "enter set_trace",
                "enter get_autosync",
                "trace get_autosync",
                "trace get_autosync = 1",
                "enter add_drive_ro",
                "trace add_drive_ro \"/dev/null\"",
                "trace add_drive_ro = 0",
            ]
        );
        assert!(
            got[9].starts_with("trace version = <struct guestfs_version = major: "),
            "{got:?}"
        );
        assert!(got[9].ends_with(", extra: guestx, >"), "{got:?}");
    }

    #[test]
    fn handles_are_indexes_kept_across_deletes() {
        let mut g = Handle::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reg = |g: &mut Handle, tag: &'static str, mask: u64| {
            let seen = seen.clone();
            g.set_event_callback(
                Box::new(move |ev, eh, buf, _| {
                    seen.lock().unwrap().push(format!(
                        "{tag} {eh} {} {}",
                        ev.name(),
                        String::from_utf8_lossy(buf)
                    ))
                }),
                mask,
            )
            .unwrap()
        };
        assert_eq!(reg(&mut g, "a", Event::ALL_BITS), 0);
        assert_eq!(reg(&mut g, "b", Event::Trace.bit()), 1);
        assert_eq!(reg(&mut g, "c", Event::Close.bit()), 2);
        g.delete_event_callback(0);
        g.delete_event_callback(2);
        // The last slot is reused, a middle one is not.
        assert_eq!(reg(&mut g, "d", Event::Enter.bit()), 2);
        g.trace_line("x = 1");
        g.enter_call("ping");
        assert_eq!(*seen.lock().unwrap(), ["b 1 trace x = 1", "d 2 enter ping"]);
    }
}

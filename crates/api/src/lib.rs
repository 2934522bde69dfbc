//! THE API table of guestx: every call, defined once, with libguestfs's
//! names, argument kinds and return kinds (see [`actions`] and [`STRUCTS`]).
//!
//! Everything else is generated from it by [`generate`] (run `cargo run -p gx-api
//! --bin gx-generate` after changing the table; a test fails while a generated
//! file is stale):
//! - `crates/protocol/src/generated.rs`: the structs, the optional-argument
//!   structs, the wire messages ([`Call`-enum]), the agent's `Handler` trait
//!   and `dispatch`;
//! - `appliance/host/src/generated.rs`: the host client's typed methods;
//! - `crates/guestfs/src/generated.rs`: the Handle's public method of every
//!   call (its `enter` event and trace lines, then the engine dispatch and
//!   the `auto` fallback, or the hand-written `impl_NAME`), how the trace
//!   prints each struct, and the `DirectCalls` trait the direct engine
//!   implements;
//! - `tools/gx-fish/generated.rs`: gx-fish's command table (arguments parsed
//!   by kind, results printed exactly as guestfish prints each return kind).
//!
//! At run time the table also serves `gx-fish help`, the command list, the
//! man page and command-name lookup ([`lookup`]).
//!
//! What a row says about *who answers* is [`Engine`]; hand-written code
//! remains only for policy (engine choice, mounts, drives, configuration),
//! inspection, and calls composed from other calls ([`Engine::Handle`]).
//!
//! This crate must not depend on anything: the agent, the protocol and every
//! tool can use it at no cost.
#![forbid(unsafe_code)]

pub mod doc;
pub mod generate;
mod table;

pub use table::{FISH_COMMANDS, LAST_PROC_NR, STRUCTS, actions};

/// What a string argument means (libguestfs's `stringt`). It decides how
/// gx-fish treats the word (`win:` paths, `-` for stdin/stdout, prompting
/// for keys) and documents what the call expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKind {
    /// Any string.
    Plain,
    /// A device name: `/dev/sda`, `/dev/sda1`, `/dev/VG/LV`.
    Device,
    /// Something mountable: a device (or, later, a btrfs subvolume).
    Mountable,
    /// An absolute path in the guest.
    Pathname,
    /// A device or a guest path.
    DevOrPath,
    /// A mountable or a guest path.
    MountableOrPath,
    /// A local file whose contents go to the guest (`-` is stdin).
    FileIn,
    /// A local file the guest's data goes to (`-` is stdout).
    FileOut,
    /// A key or passphrase: gx-fish prompts for it, never takes it as a word.
    Key,
    /// A GUID (`01234567-89AB-...`).
    Guid,
    /// A plain file name: no `/`.
    Filename,
}

/// A required argument's kind (libguestfs's `argt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Str(StrKind),
    /// A string that may be absent (an empty word in gx-fish).
    OptStr,
    StrList(StrKind),
    Bool,
    /// A signed 31-bit integer.
    Int,
    Int64,
    /// Bytes (a word in gx-fish).
    BufferIn,
}

/// A required argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgKind,
}

/// An optional argument's kind (libguestfs's `optargt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    Bool,
    Int,
    Int64,
    Str,
    StrList,
}

/// An optional argument (`name:value` in gx-fish).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptArg {
    pub name: &'static str,
    pub kind: OptKind,
}

/// What a call returns (libguestfs's `ret`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// Nothing but success or an error.
    Unit,
    Int,
    Int64,
    Bool,
    String,
    /// A string that may be absent (guestfish prints `(null)`).
    OptString,
    StringList,
    /// Key/value pairs in order (guestfish prints `key: value`).
    Hashtable,
    /// One struct of [`STRUCTS`], by name.
    Struct(&'static str),
    /// A list of structs of [`STRUCTS`], by name.
    StructList(&'static str),
    /// Bytes (guestfish writes them raw to stdout).
    BufferOut,
}

/// Who answers a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A read either engine can answer: the direct engine (in-process) does
    /// while it can; in `auto` a direct `Unsupported` moves the handle to the
    /// appliance, which then answers. Needs `proc_nr` and a direct-engine
    /// implementation (`DirectCalls`).
    Both,
    /// Only the appliance can: every write, and reads that need a kernel or
    /// the guest's programs. Needs `proc_nr`.
    Appliance,
    /// Written by hand in the Handle: policy (drives, mounts, configuration),
    /// inspection, and calls composed from other calls, which therefore work
    /// on whichever engine answers. A `proc_nr` may still be given when the
    /// hand-written code sends the call to the agent itself.
    Handle,
}

/// Who sees a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The Handle, gx-fish and the docs.
    Public,
    /// The Handle and the docs, but not a gx-fish command (gx-fish has its
    /// own command of that name: `copy-in` takes several files).
    NotInFish,
    /// Host <-> agent only (session set-up and tear-down).
    Internal,
}

/// How gx-fish prints an integer result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FishOutput {
    Decimal,
    /// With a leading `0` unless zero (modes).
    Octal,
    /// With a leading `0x` unless zero (MBR ids, fsck status).
    Hex,
}

/// One call of the API.
#[derive(Debug, Clone, Copy)]
pub struct Action {
    /// libguestfs's name, with underscores (`mount_ro`); gx-fish also takes
    /// `mount-ro`, any case.
    pub name: &'static str,
    pub args: &'static [Arg],
    pub optargs: &'static [OptArg],
    pub ret: Ret,
    pub engine: Engine,
    /// Wire procedure number when the agent implements the call. Never reuse
    /// or renumber one.
    pub proc_nr: Option<u32>,
    /// Changes a guest: never sent to an image opened read-only except into
    /// the appliance's throw-away overlay.
    pub writes: bool,
    /// The Handle's method takes `&mut self` (calls written by hand that
    /// change the handle itself: drives, settings, launch, the mount
    /// table). Generated calls take `&mut self` when they write.
    pub handle_mut: bool,
    pub visibility: Visibility,
    /// Other gx-fish names (`run` for `launch`).
    pub aliases: &'static [&'static str],
    pub fish_output: FishOutput,
    /// The optional group (`available`) this call belongs to, if any.
    pub group: Option<&'static str>,
    /// The call to use instead, if this one is deprecated.
    pub deprecated_by: Option<&'static str>,
    /// One line, lower case, no full stop (libguestfs's style).
    pub shortdesc: &'static str,
    /// The full description: plain text, paragraphs separated by blank
    /// lines; `C<name>` marks code, as in libguestfs's POD.
    pub longdesc: &'static str,
}

impl Action {
    /// The defaults the table's rows start from (`..Action::DEFAULT`).
    pub const DEFAULT: Action = Action {
        name: "",
        args: &[],
        optargs: &[],
        ret: Ret::Unit,
        engine: Engine::Handle,
        proc_nr: None,
        writes: false,
        handle_mut: false,
        visibility: Visibility::Public,
        aliases: &[],
        fish_output: FishOutput::Decimal,
        group: None,
        deprecated_by: None,
        shortdesc: "",
        longdesc: "",
    };

    /// The gx-fish spelling: `mount-ro`.
    pub fn fish_name(&self) -> String {
        self.name.replace('_', "-")
    }

    /// True when the call streams data to the agent after the call.
    pub fn file_in(&self) -> bool {
        self.args
            .iter()
            .any(|a| a.kind == ArgKind::Str(StrKind::FileIn))
    }

    /// True when the call streams data from the agent before its reply.
    pub fn file_out(&self) -> bool {
        self.args
            .iter()
            .any(|a| a.kind == ArgKind::Str(StrKind::FileOut))
    }

    /// The gx-fish synopsis, as guestfish builds it: the name, the required
    /// arguments but keys (prompted for), then `[opt:N]` for each optional
    /// argument (only when there is a required one, as guestfish does).
    pub fn synopsis(&self) -> String {
        let mut s = self.fish_name();
        if self.args.is_empty() {
            return s;
        }
        for a in self.args {
            if a.kind != ArgKind::Str(StrKind::Key) {
                s.push(' ');
                s.push_str(a.name);
            }
        }
        for o in self.optargs {
            let t = match o.kind {
                OptKind::Bool => "true|false",
                OptKind::Int | OptKind::Int64 => "N",
                OptKind::Str | OptKind::StrList => "..",
            };
            s.push_str(&format!(" [{}:{t}]", o.name));
        }
        s
    }
}

/// A struct field's kind (libguestfs's `field`), which decides its Rust
/// type and how gx-fish prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `String`.
    Str,
    /// A device name (`String`).
    Device,
    /// 32 characters, no dashes (`String`).
    Uuid,
    /// Bytes, printed with non-printables as `\xNN` (`Vec<u8>`).
    Buffer,
    /// A byte count (`u64`).
    Bytes,
    UInt64,
    Int64,
    UInt32,
    Int32,
    /// One ASCII character (`u8`).
    Char,
    /// A percentage, or -1 when there is none (`f32`).
    OptPercent,
}

/// A struct the API returns.
#[derive(Debug, Clone, Copy)]
pub struct StructDef {
    /// libguestfs's name (`statns`, `lvm_pv`).
    pub name: &'static str,
    /// The Rust type name (`StatNs`, `LvmPv`).
    pub rust_name: &'static str,
    pub fields: &'static [(&'static str, FieldKind)],
    pub doc: &'static str,
}

/// The struct definition of that name.
pub fn struct_def(name: &str) -> Option<&'static StructDef> {
    STRUCTS.iter().find(|s| s.name == name)
}

/// A gx-fish command name made canonical: lower case, `-` for `_`.
pub fn canonical(cmd: &str) -> String {
    cmd.to_ascii_lowercase().replace('_', "-")
}

/// The public action a gx-fish command name or alias means (`mount-ro`,
/// `MOUNT_RO`, `run`, `add-drive-opts`...).
pub fn lookup(cmd: &str) -> Option<&'static Action> {
    let c = canonical(cmd);
    actions().find(|a| {
        a.visibility == Visibility::Public
            && (canonical(a.name) == c || a.aliases.iter().any(|al| canonical(al) == c))
    })
}

/// A gx-fish built-in command (not an API call): alloc, copy-in, edit, ...
#[derive(Debug, Clone, Copy)]
pub struct FishCommand {
    /// With dashes: `copy-in`.
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// What follows the name in a usage line (may be empty).
    pub usage: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
}

/// The built-in gx-fish command a name or alias means.
pub fn lookup_fish_command(cmd: &str) -> Option<&'static FishCommand> {
    let c = canonical(cmd);
    FISH_COMMANDS
        .iter()
        .find(|f| f.name == c || f.aliases.iter().any(|a| canonical(a) == c))
}

#[cfg(test)]
mod tests;

//! gx-hive: Windows registry hive files (the "regf" format): reading them,
//! exporting a key tree in the `.reg` text format that `hivexregedit
//! --export` (and so `virt-win-reg`) prints, editing them in memory with
//! hivex's write semantics ([`HiveEditor`]), and merging `.reg` files into
//! them as `hivexregedit --merge` does ([`reg_import`]).
//!
//! What it owns: parsing a whole hive held in memory -- the base block
//! (signature, sequence numbers, checksum, version, root cell, hive bins data
//! size), the hive bins and their cells, and the key (nk), value (vk),
//! security (sk), subkey list (lf, lh, li, ri) and big data (db) records --
//! plus path lookup, a cycle-safe tree walk, value decoding helpers, the
//! `.reg` export, the editor (write.rs) and the `.reg` merge (merge.rs).
//!
//! What it must not do: trust any offset, length or count read from the hive
//! (every one is checked, every pointer must land on the start of a used cell
//! found by the hive bin walk, and every walk is bounded), panic on hostile
//! bytes, or let an edit exceed the format's or the readers' limits silently.
//! It does not find hives inside disk images or write files: callers hand it
//! the bytes and store what [`HiveEditor::commit`] returns.
//!
//! The format facts come from the public regf documentation (libyal's
//! "Windows NT Registry File (REGF) format") and hivex's observable
//! behaviour; hivex is the oracle the tests compare against.
//!
//! ```no_run
//! # fn main() -> Result<(), gx_hive::Error> {
//! let hive = gx_hive::Hive::open(std::fs::read("SOFTWARE").unwrap())?;
//! if let Some(key) = hive.lookup("Microsoft\\Windows NT\\CurrentVersion")? {
//!     if let Some(v) = key.value("ProductName")? {
//!         println!("{}", v.as_string()?);
//!     }
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod error;
mod export;
mod hive;
mod merge;
mod write;

pub use error::{Error, ErrorKind, Result};
pub use export::{ExportOptions, export, export_path, print_value};
pub use hive::{BaseBlock, Hive, Node, Value, Visit, WalkEntry, WalkOptions, types};
pub use merge::{
    ImportOptions, ImportStats, ImportTarget, MAX_LINE, SingleHive, StringEncoding, reg_import,
};
pub use write::{
    DEFAULT_MAX_HIVE_SIZE, HiveEditor, KeyId, MAX_CELL, MAX_KEY_NAME, MAX_SUBKEYS_PER_KEY,
    MAX_VALUE_DATA, MAX_VALUE_NAME, MAX_VALUES_PER_KEY, SetValue,
};

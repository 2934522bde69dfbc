//! The tools' command lines, built without running a tool: each binary
//! parses with its [`cli`] function, and man pages and shell completions
//! are generated from the same definitions (`examples/gen-docs.rs`, run by
//! `scripts/install`), so `--help`, the man page and the completions never
//! disagree. A new tool adds its module here and to [`cli::all`].
//!
//! [`fuse`] is the FUSE filesystem over a Handle, shared by gx-mount and
//! gx-fish's `mount-local`.

pub mod cli;
pub mod fuse;

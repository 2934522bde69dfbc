//! Errors of the hive parser: a small matchable kind plus a message that says
//! what was being read, where (cell offset) and why it was refused.

use std::fmt;

/// What went wrong, coarsely, so callers can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The hive's bytes break the regf format (bad signature, offset that is
    /// not a used cell, length past the end of a cell, cycle, ...).
    Corrupt,
    /// Valid but outside what we read (major version != 1, inline data > 4
    /// bytes, a limit such as the maximum value length or key depth).
    Unsupported,
    /// A key or value named by the caller does not exist.
    NotFound,
    /// The data does not have the shape a typed accessor asked for (e.g.
    /// `as_dword` on 2 bytes, a string that is not valid UTF-16LE).
    WrongType,
    /// Reading the hive or writing the export failed.
    Io,
    /// The caller's request or input is wrong: a `.reg` file that does not
    /// parse, a key that already exists, the root asked to be deleted, a
    /// parent key that does not exist.
    Invalid,
    /// A write would break a limit of the format or of the readers (cell,
    /// value, name or hive size, subkeys or values per key, key depth).
    Limit,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Corrupt => "corrupt hive",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::NotFound => "not found",
            ErrorKind::WrongType => "wrong type",
            ErrorKind::Io => "I/O error",
            ErrorKind::Invalid => "invalid request",
            ErrorKind::Limit => "limit exceeded",
        })
    }
}

/// An error from this crate.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    #[source]
    pub source: Option<std::io::Error>,
}

impl Error {
    /// An error of `kind` (for [`ImportTarget`](crate::ImportTarget)
    /// implementations, whose mapping can fail).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub(crate) fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Limit, message)
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Io,
            message: context.into(),
            source: Some(source),
        }
    }

    /// The matchable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

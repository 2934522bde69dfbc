//! One error type for the disk layer and the parsers above it.
//!
//! Every error carries a small matchable [`ErrorKind`] and a message that says
//! what failed, where (image, device, path, offset) and why. Callers add
//! context with [`Error::context`] as the error travels up.

use std::fmt;

/// What kind of failure this is; tools and the Handle match on it
/// (for example, `Unsupported` lets the Handle fall back to the appliance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The host could not read or write (the underlying `io::Error` is the source).
    Io,
    /// On-disk data is inconsistent: bad magic, checksum, offset or length.
    Corrupt,
    /// Valid data that this code does not handle (a feature, a format).
    Unsupported,
    /// A file, path, device or key that does not exist.
    NotFound,
    /// The host refused access.
    Permission,
    /// A write was attempted on something opened read-only.
    ReadOnly,
    /// The caller asked for something impossible (bad argument, out of range).
    InvalidArgument,
}

impl ErrorKind {
    /// The errno a libguestfs user would see for this kind.
    pub fn errno(self) -> i32 {
        match self {
            ErrorKind::Io => libc::EIO,
            ErrorKind::Corrupt => libc::EUCLEAN,
            ErrorKind::Unsupported => libc::ENOTSUP,
            ErrorKind::NotFound => libc::ENOENT,
            ErrorKind::Permission => libc::EACCES,
            ErrorKind::ReadOnly => libc::EROFS,
            ErrorKind::InvalidArgument => libc::EINVAL,
        }
    }
}

/// An error with a kind, a human message and an optional I/O source.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<std::io::Error>,
    /// The exact errno, when one is known (the appliance's guest kernel
    /// reported it): finer than the kind (ENOTEMPTY, EEXIST, ELOOP...).
    errno: Option<i32>,
}

/// Result alias used throughout the disk layer and the parsers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
            errno: None,
        }
    }

    /// An error whose exact errno is known (from the guest's kernel).
    pub fn with_errno(kind: ErrorKind, message: impl Into<String>, errno: i32) -> Self {
        Error {
            errno: Some(errno),
            ..Error::new(kind, message)
        }
    }

    /// The errno a libguestfs user would see: the exact one when known, the
    /// I/O source's, else the kind's.
    pub fn errno(&self) -> i32 {
        self.errno
            .or_else(|| self.source.as_ref().and_then(|s| s.raw_os_error()))
            .unwrap_or_else(|| self.kind.errno())
    }

    /// An I/O error, classified by its `io::ErrorKind` (not found, permission...).
    pub fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        let kind = match source.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::Permission,
            std::io::ErrorKind::ReadOnlyFilesystem => ErrorKind::ReadOnly,
            _ => ErrorKind::Io,
        };
        Error {
            kind,
            message: message.into(),
            source: Some(source),
            errno: None,
        }
    }

    /// Shorthand for a [`ErrorKind::Corrupt`] error.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Corrupt, message)
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for an [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for an [`ErrorKind::InvalidArgument`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// The kind, for matching.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefix the message with where this happened: `"{ctx}: {message}"`.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Add context to any `Result<T, Error>`.
pub trait ResultExt<T> {
    /// Prefix an error's message with `ctx` (computed only on error).
    fn with_context<C: fmt::Display>(self, ctx: impl FnOnce() -> C) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn with_context<C: fmt::Display>(self, ctx: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.context(ctx()))
    }
}

//! The core error: a kind that each dialect maps to its own status code, a stable code for
//! machine clients, and a message that is safe to show to the caller.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
    Unauthenticated,
    Forbidden,
    TooLarge,
    /// The client stopped sending a request body (HTTP 408).
    TimedOut,
    RateLimited,
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, thiserror::Error)]
pub struct Error {
    pub kind: ErrorKind,
    /// Stable, machine-readable code (`path_invalid`, `extension_not_allowed`, ...).
    pub code: &'static str,
    /// Caller-facing message. For `Internal` it is generic; the cause is logged once.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self { kind, code, message: message.into() }
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "unauthenticated", message)
    }
    /// An internal failure: logs `cause` once and returns an error whose message leaks nothing.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorKind::Internal, "internal", "Internal server error.")
    }
    /// A backend that is down or timing out.
    pub fn unavailable(what: &str, cause: impl fmt::Display) -> Self {
        tracing::warn!(%cause, "{what} unavailable");
        Self::new(ErrorKind::Unavailable, "unavailable", format!("The {what} is unavailable; try again shortly."))
    }
}

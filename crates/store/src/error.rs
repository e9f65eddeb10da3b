//! Typed storage errors. Each kind maps to a protocol answer in the servers: `Full` and
//! `Unavailable` are temporary (SMTP 452/451, IMAP NO [SERVERBUG]/[OVERQUOTA]), `NotFound`,
//! `AlreadyExists` and `Invalid` are the client's fault, `NewerFormat` stops the server.

use std::fmt;

/// What kind of failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The named thing does not exist.
    NotFound,
    /// Something with that name already exists.
    AlreadyExists,
    /// The request is not valid (bad name, would break an invariant).
    Invalid,
    /// The account's quota would be exceeded.
    OverQuota,
    /// The disk (or database) is full: temporary, nothing was written.
    Full,
    /// A conditional write lost (e.g. CONDSTORE UNCHANGEDSINCE), or a concurrent change.
    Conflict,
    /// The data directory was written by a newer Mailstead.
    NewerFormat,
    /// Stored data is damaged.
    Corrupt,
    /// I/O or database failure: temporary from the client's point of view.
    Unavailable,
}

/// A storage error: its kind and a message for logs and operators.
#[derive(Debug, Clone)]
pub struct StoreError {
    /// The kind, for callers that map it to a protocol reply.
    pub kind: StoreErrorKind,
    /// What happened, for the log.
    pub message: String,
}

impl StoreError {
    /// Builds an error.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError { kind, message: message.into() }
    }

    /// `NotFound` with a message.
    pub fn not_found(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::NotFound, message)
    }

    /// `Invalid` with a message.
    pub fn invalid(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Invalid, message)
    }

    /// `AlreadyExists` with a message.
    pub fn exists(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::AlreadyExists, message)
    }

    /// `Unavailable` with a message.
    pub fn unavailable(message: impl Into<String>) -> StoreError {
        StoreError::new(StoreErrorKind::Unavailable, message)
    }

    /// Whether retrying later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Full | StoreErrorKind::Unavailable | StoreErrorKind::Conflict)
    }

    /// Classifies an I/O error: a full disk or quota becomes `Full`, the rest `Unavailable`.
    pub fn from_io(context: &str, err: &std::io::Error) -> StoreError {
        // ENOSPC (28) and EDQUOT (122) on Linux.
        let kind = match err.raw_os_error() {
            Some(28) | Some(122) => StoreErrorKind::Full,
            _ if err.kind() == std::io::ErrorKind::StorageFull => StoreErrorKind::Full,
            _ => StoreErrorKind::Unavailable,
        };
        StoreError::new(kind, format!("{context}: {err}"))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

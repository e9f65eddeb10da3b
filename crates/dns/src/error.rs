//! Typed DNS errors: what a caller must tell apart to act correctly.

use std::fmt;

/// Why a lookup gave no records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnsErrorKind {
    /// NXDOMAIN: the name does not exist (RFC 1035 §4.1.1 RCODE 3). Permanent.
    NxDomain,
    /// NODATA: the name exists but has no records of this type (RFC 2308 §2.2). Permanent.
    NoRecords,
    /// Timeout, SERVFAIL, refused, network trouble: try again later.
    Temporary,
    /// The name cannot be a DNS name (label too long, empty label). Permanent.
    InvalidName,
}

/// A failed lookup: its kind, the name asked, and a detail for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsError {
    kind: DnsErrorKind,
    name: String,
    detail: String,
}

impl DnsError {
    /// An error of `kind` for `name`.
    pub fn new(kind: DnsErrorKind, name: impl Into<String>, detail: impl Into<String>) -> Self {
        DnsError { kind, name: name.into(), detail: detail.into() }
    }

    /// What went wrong.
    pub fn kind(&self) -> DnsErrorKind {
        self.kind
    }

    /// The name that was looked up.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// NXDOMAIN or NODATA: the records do not exist (a permanent answer).
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, DnsErrorKind::NxDomain | DnsErrorKind::NoRecords)
    }

    /// A temporary failure: asking again later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.kind == DnsErrorKind::Temporary
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            DnsErrorKind::NxDomain => "no such domain",
            DnsErrorKind::NoRecords => "no records",
            DnsErrorKind::Temporary => "temporary DNS failure",
            DnsErrorKind::InvalidName => "invalid DNS name",
        };
        write!(f, "{}: {what}", self.name)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for DnsError {}

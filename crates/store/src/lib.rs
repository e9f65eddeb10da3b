//! The storage layer's contract: the [`Store`] trait every backend implements, the model it
//! speaks ([`model`]), including the spam classifier's counts ([`SpamStore`]), typed errors ([`StoreError`]), per-account change notifications
//! ([`ChangeHub`]), password hashing ([`password`]), recipient resolution over the directory
//! ([`resolve`]) and a conformance suite any backend must pass ([`conformance`]).
//!
//! Invariants every backend keeps (the conformance suite checks them):
//! - A write returns `Ok` only after its data and metadata are durable (fsynced). Backends reach
//!   throughput by group commit, never by acknowledging early.
//! - UIDs in a mailbox strictly increase and are never reused under the same UIDVALIDITY.
//! - Every change to a mailbox raises its HIGHESTMODSEQ and gives the changed message that
//!   MODSEQ; expunged UIDs leave a tombstone with the MODSEQ of the expunge (QRESYNC).
//! - Change events are published only after the write committed.

pub mod auth;
pub mod conformance;
mod error;
pub mod journal_batch;
pub mod model;
mod notify;
pub mod password;
pub mod resolve;
mod traits;

pub use error::{StoreError, StoreErrorKind};
pub use notify::{Change, ChangeHub};
pub use traits::{DirectoryStore, JournalStore, MailStore, QueueStore, SpamStore, Store};

/// Result type of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The hierarchy separator of mailbox names, as IMAP shows it.
pub const HIERARCHY_SEPARATOR: char = '/';

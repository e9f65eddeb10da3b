//! SEARCH, SORT and THREAD as pure functions over the messages of the selected mailbox.
//!
//! The server drives a query in three steps, none of which does I/O here:
//! 1. For each message it builds a [`Candidate`] from the index (UID, flags, dates, size). When
//!    [`needs_content`] (or [`sort_needs_content`], or any THREAD) says so, it also reads the
//!    message bytes and parses them into a [`ParsedMessage`].
//! 2. [`matches`] decides whether one message satisfies the search program (RFC 9051 §6.4.4).
//! 3. [`sort`] orders the hits (RFC 5256 §3, RFC 5957), [`thread`] groups them into threads
//!    (RFC 5256 §3, §4), ready for `* SORT` and `* THREAD` responses.
//!
//! # Implementation notes / invariants
//! - No clock, no store: the current time for OLDER/YOUNGER (RFC 5032) comes in
//!   [`SearchContext::now`], the mailbox size for `*` in [`SearchContext::max_seq`] and
//!   [`SearchContext::max_uid`].
//! - Hostile input: a search program nested deeper than [`MAX_SEARCH_DEPTH`] matches no message
//!   (imap-codec already bounds nesting while parsing; this is a second, local bound, so every
//!   recursion here is bounded). Sequence sets are tested range by range and never expanded, so
//!   `1:4294967295` costs as much as `1`. THREAD walks its trees without recursion and renders
//!   at most [`MAX_THREAD_DEPTH`] levels of nesting.
//! - Text keys match case-insensitively on decoded text (the [`ParsedMessage`] helpers). The
//!   command's CHARSET is the caller's business: it accepts UTF-8 and US-ASCII and answers
//!   anything else with `NO [BADCHARSET]` (RFC 9051 §6.4.4).
//! - A content key evaluated without a [`ParsedMessage`] does not match: callers pass one
//!   whenever [`needs_content`] is true.
//! - `\Recent` does not exist in Mailstead (see `mailstead_types::Flags`): RECENT and NEW match
//!   nothing, OLD matches everything.
//! - The saved search result `$` (RFC 5182) has no `SearchKey` in imap-types 2.0.0-alpha.8, so
//!   it is not handled here; a caller that adds it substitutes the saved UIDs as a UID set.

mod search;
mod sort;
mod thread;

use mailstead_types::Flags;

#[cfg(doc)]
use crate::message::ParsedMessage;

pub use search::{MAX_SEARCH_DEPTH, matches, needs_content};
pub use sort::{sort, sort_needs_content};
pub use thread::{MAX_REFERENCES, MAX_THREAD_DEPTH, ThreadAlgorithm, thread};

/// What the server knows about one message of the selected mailbox without reading its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The message sequence number (1-based).
    pub seq: u32,
    /// The UID.
    pub uid: u32,
    /// The system flags (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`).
    pub flags: Flags,
    /// The keywords (user flags), as stored.
    pub keywords: &'a [String],
    /// The message's MODSEQ (RFC 7162).
    pub modseq: u64,
    /// INTERNALDATE in seconds since the epoch, UTC.
    pub internal_date: i64,
    /// RFC822.SIZE in octets.
    pub size: u64,
}

/// What a search needs to know about the mailbox and the moment, beside the messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchContext {
    /// The highest message sequence number, the value of `*` in a sequence set.
    pub max_seq: u32,
    /// The highest UID in the mailbox, the value of `*` in a UID set.
    pub max_uid: u32,
    /// The current time in seconds since the epoch, for OLDER and YOUNGER (RFC 5032).
    pub now: i64,
}

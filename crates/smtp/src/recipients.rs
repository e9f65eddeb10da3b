//! Recent recipient acceptances, reused for a second. Under load the same addresses come again
//! and again, and deciding on each RCPT took two database reads (the domain, then the account
//! or alias), each a read transaction with its locks and, after every commit, its pages read
//! again: about a twentieth of the server's CPU per 1 KiB delivery.
//!
//! Only acceptances are kept: an unknown address is looked up every time, so a new account or
//! alias works at once. A removal or a change made meanwhile (with the CLI, which is another
//! process) is seen within [`TTL`]; a mailbox that filled up within it is refused when the
//! message is stored rather than at RCPT.

use std::time::Duration;

use mailstead_store::resolve::Resolution;

use crate::ttl_map::TtlMap;

/// How long an acceptance is reused.
pub const TTL: Duration = Duration::from_secs(1);
/// Most addresses remembered (the map is cleared when it grows past this).
const MAX_ENTRIES: usize = 10_000;

/// Where mail for each recently accepted (normalised) address went; one per server.
pub type RecipientCache = TtlMap<String, Resolution>;

/// An empty cache.
pub fn cache() -> RecipientCache {
    TtlMap::new(TTL, MAX_ENTRIES)
}

//! Mail policy for Mailstead: what the server decides about a message before it stores or
//! sends it.
//!
//! - [`auth`]: sender authentication — SPF (RFC 7208), DKIM (RFC 6376), ARC (RFC 8617) and
//!   DMARC (RFC 7489) with mail-auth, the `Authentication-Results:` header (RFC 8601), and the
//!   DMARC policy decision (accept / Junk / reject) with an exception list for forwarders.
//! - [`bayes`]: the per-account statistical spam classifier, trained from the user's Junk
//!   folder and `mailstead spam train`, and sender reputation from the user's own history.
//! - [`dkim`]: DKIM signing of outgoing mail (Ed25519 and RSA) and the keys on disk; the only
//!   component that reads the private keys.
//! - [`spam`]: spam scoring — named, weighted rules from content heuristics, HELO/PTR sanity,
//!   DNS and URI blocklists, authentication results and each account's own classifier.
//!
//! Antivirus lives in its own crate; Sieve comes as a further module. Nothing here does
//! socket I/O of its own except DNS, which goes through [`mailstead_dns::Resolver`].

pub mod auth;
pub mod bayes;
pub mod dkim;
pub mod spam;

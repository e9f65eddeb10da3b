//! Inbound policy for Mailstead: what the server decides about a message before it stores it.
//!
//! - [`auth`]: sender authentication — SPF (RFC 7208), DKIM (RFC 6376), ARC (RFC 8617) and
//!   DMARC (RFC 7489) with mail-auth, the `Authentication-Results:` header (RFC 8601), and the
//!   DMARC policy decision (accept / Junk / reject) with an exception list for forwarders.
//! - [`bayes`]: the per-account statistical spam classifier, trained from the user's Junk
//!   folder and `mailstead spam train`, and sender reputation from the user's own history.
//!
//! Rule-based spam scoring, DNSBLs and Sieve come as further modules. Nothing here does
//! socket I/O of its own except DNS, which goes through [`mailstead_dns::Resolver`].

pub mod auth;
pub mod bayes;

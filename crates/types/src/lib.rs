//! Mailstead's shared vocabulary: the small value types every layer speaks, with no I/O.
//!
//! - [`Domain`] and [`Address`]: normalised mail domains and addresses (RFC 5321 §4.1.2).
//! - [`QueueId`]: the identifier printed in `250 2.0.0 Ok: queued as <id>` and used by `trace`.
//! - [`Flags`] and [`SpecialUse`]: IMAP system flags (as a bit set) and special-use roles.
//! - [`IpNetwork`]: CIDR networks for lists of trusted relays and forwarders.
//!
//! Everything here is pure and cheap to clone, so protocol state machines, storage and the
//! binary can share it without depending on each other.

mod address;
mod date;
mod flags;
mod network;
mod queue_id;

pub use address::{Address, AddressError, Domain, MAX_ADDRESS_LEN, MAX_DOMAIN_LEN, MAX_LOCAL_PART_LEN};
pub use date::{rfc5322_date, utc_date};
pub use flags::{Flag, Flags, SpecialUse};
pub use network::{IpNetwork, NetworkParseError};
pub use queue_id::QueueId;

//! The outbound queue runner: delivers what is in the store's queue.
//!
//! - [`route`]: where a domain's mail goes (MX, implicit MX, null MX, smart host).
//! - [`client`]: the SMTP client session with one server.
//! - [`tls`]: opportunistic and verified TLS client configurations.
//! - [`dane`]: DANE (RFC 7672): TLSA records and the certificate check they ask for.
//! - [`sts`]: MTA-STS policies (RFC 8461): fetched over HTTPS, cached in the store, enforced.
//! - [`pool`]: open sessions kept for the next message to the same server.
//! - [`schedule`]: backoff with jitter, the delay notice and expiry.
//! - [`dsn`]: delivery status notifications (RFC 3464).
//! - `endpoints`: the servers to try for a domain and the TLS each must give (smart host, MX,
//!   MTA-STS, DANE).
//! - [`runner`]: the loop that picks due messages, delivers them per destination within
//!   concurrency limits, records every outcome durably before acting on it, and sends DSNs.
//!
//! Invariants: a recipient the remote server accepted is recorded as delivered before the
//! message is looked at again, so a restart never delivers it twice; an outcome and the DSN it
//! causes are written in one transaction; the null sender never gets a DSN.

pub mod client;
pub mod dane;
pub mod dsn;
mod endpoints;
pub mod pool;
pub mod route;
pub mod runner;
pub mod schedule;
pub mod sts;
pub mod tls;

pub use runner::{QueueConfig, QueueHandle, Runner};

//! Antivirus for Mailstead: a ClamAV `clamd` client and a built-in attachment policy, combined
//! into one verdict per message.
//!
//! * [`clamd`]: `INSTREAM` scans and `PING` over a unix socket or TCP, with a size limit and
//!   timeouts; [`ClamdVerdict`] says Clean, Infected, Unavailable or TooLarge.
//! * [`policy`]: no clamd needed. Walks the MIME tree and zip archives and blocks executables
//!   and scripts (declared type, file name, real type), flags Office macros; bounded work.
//! * [`Scanner`]: both, configured by [`ScanConfig`]; [`Scanner::scan`] returns a [`Report`]
//!   whose [`Verdict`] maps to an SMTP reply ([`Verdict::reply`]).
//!
//! ```no_run
//! # async fn demo(message: &[u8]) {
//! use mailstead_antivirus::{ClamdAddr, ScanConfig, Scanner, Verdict};
//! let mut config = ScanConfig::default();
//! config.clamd = Some(ClamdAddr::parse("/run/clamav/clamd.ctl").expect("address"));
//! let report = Scanner::new(config).scan(message).await;
//! if let Some(reply) = report.verdict.reply() {
//!     println!("{} {} {}", reply.code, reply.enhanced, reply.text);
//! }
//! # }
//! ```
//!
//! Where it sits: a library below the SMTP server (which calls it at end of DATA); it knows
//! nothing of sessions or the store.

pub mod clamd;
pub mod filetype;
pub mod policy;
mod scan;
pub mod zip;

#[cfg(test)]
mod testdata;

pub use clamd::{Clamd, ClamdAddr, ClamdConfig, ClamdVerdict};
pub use policy::{Action, Finding, Limits, PolicyConfig, PolicyDecision, Rule};
pub use scan::{FailMode, Reply, Report, ScanConfig, Scanner, Verdict};

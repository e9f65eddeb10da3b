//! The SMTP / submission / LMTP server session as a sans-I/O state machine.
//!
//! A driver feeds the session the bytes it reads ([`Session::feed`]) and carries out the
//! [`Action`]s it returns, in order: write a reply, start TLS, ask a policy question
//! (sender, recipient, credentials), deliver a message, close. The session does no I/O, reads
//! no clock and resolves no names, so its whole behaviour is testable from byte strings.
//!
//! # Files
//! - `session.rs`: the [`Session`], its `State` enum and the input loop.
//! - `commands/`: one file per command, with the legality table in `commands/mod.rs`.
//! - `data.rs` (DATA terminator and dot-unstuffing), `body.rs` (line-end normalisation and
//!   message limits); command framing and SASL decoding are shared with POP3 in
//!   `crate::line` and `crate::sasl`.
//! - `reply.rs`, `action.rs`, `envelope.rs`, `config.rs`: the public vocabulary.
//!
//! # Invariants
//! - Replies come out in the order of the commands (RFC 2920 pipelining); after a question
//!   to the driver no further input is processed until the answer arrives.
//! - Memory is bounded: a command line by `max_line_length`, a message by
//!   `max_message_size`, input that waits for an answer by 1 MiB.
//! - Only CRLF.CRLF ends DATA (SMTP smuggling); nothing read in plaintext survives STARTTLS
//!   (CVE-2011-0411).
//! - Every 4xx/5xx reply the session sends, and every rejection from the driver's verdicts,
//!   counts towards `max_errors`; delivery outcomes from `message_done` do not.
//! - The session never panics on input.
//!
//! # RFCs
//! RFC 5321 (SMTP), 2033 (LMTP), 6409 (submission), 1870 (SIZE), 2920 (PIPELINING),
//! 3030 (CHUNKING), 6152 (8BITMIME), 6531 (SMTPUTF8), 2034 / 3463 / 5248 (enhanced status
//! codes), 3461 (DSN parameters), 3207 (STARTTLS), 4954 (AUTH), 4616 (PLAIN).

mod action;
mod body;
mod commands;
mod config;
mod data;
mod envelope;
mod reply;
mod session;

pub use action::{Action, AuthMechanism, AuthVerdict, Verdict};
pub use config::{Mode, SessionConfig};
pub use envelope::{Body, Envelope, MailParams, Notify, RcptParams, Recipient, Ret};
pub use reply::{BadEnhancedStatus, EnhancedStatus, Reply};
pub use session::Session;

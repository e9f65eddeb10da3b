//! The POP3 server session as a sans-I/O state machine.
//!
//! A driver feeds the session the bytes it reads ([`Session::feed`]) and carries out the
//! [`Action`]s it returns, in order: write a response, start TLS, check credentials (and lock
//! and open the maildrop), read a message, apply the deletions at QUIT, close. The session
//! does no I/O and reads no clock, so its whole behaviour is testable from byte strings.
//!
//! # Files
//! - `session.rs`: the [`Session`], its state enum (AUTHORIZATION, TRANSACTION, UPDATE) and
//!   the input loop.
//! - `commands/`: the command table (which command in which state, with which arguments) and
//!   one file per command group.
//! - `maildrop.rs` (the numbered snapshot and unique-ids), `reply.rs` (responses and
//!   byte-stuffing), `action.rs`, `config.rs`: the public vocabulary.
//!
//! # Invariants
//! - Nothing is deleted before QUIT in TRANSACTION (RFC 1939 §6): DELE only marks, and a
//!   session that ends any other way (drop, timeout, shutdown, too many errors) produces no
//!   [`Action::Update`].
//! - Responses come out in command order (RFC 2449 §6.6 PIPELINING); after a question to the
//!   driver no further input is processed until the answer arrives.
//! - Memory is bounded: a command line by `max_line_length`, input waiting for an answer by
//!   1 MiB.
//! - Passwords are refused outside TLS unless the driver allows plaintext (development mode
//!   on loopback); nothing read before STLS survives it.
//! - Multi-line bodies are byte-stuffed, so `.` CRLF inside a message never ends it early.
//! - The session never panics on input.
//!
//! # RFCs
//! RFC 1939 (POP3), 2449 (extension mechanism: CAPA, response codes, PIPELINING, EXPIRE,
//! LOGIN-DELAY, IMPLEMENTATION), 2595 (STLS), 5034 (SASL AUTH), 4616 (PLAIN), 3206 (SYS and
//! AUTH response codes).

mod action;
mod commands;
mod config;
mod maildrop;
mod reply;
mod session;

pub use action::{Action, AuthMechanism, AuthVerdict, FetchResult, UpdateResult};
pub use commands::retrieve::top_len;
pub use config::{Expire, SessionConfig};
pub use maildrop::{Maildrop, MessageInfo, unique_id};
pub use reply::{Reply, RespCode, stuff};
pub use session::Session;

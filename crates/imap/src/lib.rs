//! IMAP for Mailstead: an IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) server on imap-codec.
//!
//! - [`ImapServer`] is the listener's connection handler (ports 143 and 993); [`ImapConfig`]
//!   its settings.
//! - `session` holds the state machine (an enum whose variants carry their data) and the
//!   table of which command is legal in which state; `commands/` has one file per command.
//! - `conn` reads commands (lines and literals, with limits) and writes responses, and does
//!   STARTTLS and COMPRESS; `extended` rewrites the syntax imap-codec does not parse (LIST
//!   RETURN, SEARCH RETURN).
//! - `selected` is the session's view of its selected mailbox and keeps sequence numbers
//!   consistent while other sessions change the mailbox.
//! - `junk` trains the account's spam classifier when the user moves mail into or out of Junk.
//! - [`message`] knows everything IMAP needs about one stored message (ENVELOPE,
//!   BODYSTRUCTURE, `BODY[section]`, `BINARY[section]`); [`query`] evaluates SEARCH, SORT and
//!   THREAD without I/O.
//!
//! ```
//! use mailstead_imap::message::ParsedMessage;
//!
//! let message = ParsedMessage::parse(b"Subject: Re: [list] hello\r\n\r\nbody\r\n");
//! assert_eq!(message.text(), b"body\r\n");
//! assert_eq!(message.subject_base(), "hello");
//! let _envelope = message.envelope(); // imap_types::envelope::Envelope, ready for FETCH
//! ```

mod commands;
mod config;
mod conn;
pub mod extended;
mod flags;
mod junk;
pub mod message;
mod names;
pub mod query;
pub mod reader;
mod selected;
mod server;
mod session;

pub use config::ImapConfig;
pub use server::ImapServer;

//! IMAP for Mailstead.
//!
//! [`message`] knows everything IMAP needs about one stored message (ENVELOPE, BODYSTRUCTURE,
//! `BODY[section]`, `BINARY[section]`, search and sort helpers) as pure functions over its bytes.
//! [`query`] evaluates SEARCH, SORT and THREAD over the messages of a mailbox, without I/O.
//!
//! ```
//! use mailstead_imap::message::ParsedMessage;
//!
//! let message = ParsedMessage::parse(b"Subject: Re: [list] hello\r\n\r\nbody\r\n");
//! assert_eq!(message.text(), b"body\r\n");
//! assert_eq!(message.subject_base(), "hello");
//! let _envelope = message.envelope(); // imap_types::envelope::Envelope, ready for FETCH
//! ```

pub mod message;
pub mod query;

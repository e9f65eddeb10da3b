//! Sans-I/O protocol state machines for Mailstead's servers.
//!
//! Each module is a session that does no I/O, reads no clock and resolves no names: a driver
//! (in a server crate) feeds it the bytes it read and carries out the actions it returns. That
//! keeps the protocol logic testable from byte strings and fuzzable.
//!
//! - [`smtp`]: the SMTP (RFC 5321), submission (RFC 6409) and LMTP (RFC 2033) server session.
//! - [`pop3`]: the POP3 (RFC 1939) server session with CAPA (RFC 2449), STLS (RFC 2595) and
//!   SASL (RFC 5034).
//!
//! ```
//! use mailstead_proto::smtp::{Action, Mode, Session, SessionConfig};
//!
//! let mut session = Session::new(SessionConfig::new("mx.example.org", Mode::Smtp));
//! assert_eq!(session.greeting().to_string(), "220 mx.example.org ESMTP Mailstead\r\n");
//! let actions = session.feed(b"NOOP\r\n");
//! assert!(matches!(&actions[..], [Action::Reply(r)] if r.code == 250));
//! ```

mod line;
pub mod pop3;
pub mod sasl;
pub mod smtp;

//! What the session asks its driver to do, and the driver's answers.
//!
//! The driver carries out [`Action`]s strictly in order. Three of them are questions
//! ([`Action::CheckSender`], [`Action::CheckRecipient`], [`Action::Authenticate`]) and one is a
//! hand-over ([`Action::Deliver`]): each is the last action of its batch, the session processes
//! no further input until the matching answer method is called, and that method returns the
//! next batch.

use std::fmt;

use mailstead_types::Address;

use super::envelope::{Envelope, MailParams, RcptParams};
use super::reply::Reply;

/// One thing for the driver to do.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this reply. Replies of one batch are written in order; flush when the batch (and
    /// the batches returned by answers to its questions) is done, so pipelined commands get
    /// their replies in one write (RFC 2920 §3.2).
    Reply(Reply),
    /// Flush the replies written so far (the last is `220 2.0.0`), run the TLS handshake,
    /// then call [`Session::tls_started`](super::Session::tls_started). Do not feed the session
    /// plaintext read after this action: it would be discarded anyway (RFC 3207 §5).
    StartTls,
    /// May this sender start a transaction? Answer with
    /// [`Session::sender_verdict`](super::Session::sender_verdict).
    CheckSender {
        /// The reverse path; `None` is the null sender `<>`.
        sender: Option<Address>,
        /// Its MAIL FROM parameters (the declared SIZE was already checked).
        params: MailParams,
    },
    /// May this recipient be added? Answer with
    /// [`Session::recipient_verdict`](super::Session::recipient_verdict).
    CheckRecipient {
        /// The forward path.
        recipient: Address,
        /// Its RCPT TO parameters.
        params: RcptParams,
    },
    /// Check these credentials. Answer with
    /// [`Session::auth_verdict`](super::Session::auth_verdict). `Debug` redacts the password;
    /// never log it (DESIGN.md, security model).
    Authenticate {
        /// The SASL mechanism the client used.
        mechanism: AuthMechanism,
        /// The authentication identity (SASL PLAIN authcid, or LOGIN user name).
        username: String,
        /// The password.
        password: String,
    },
    /// VRFY with `vrfy_enabled`: write exactly one reply for it at this point of the batch
    /// (e.g. `252 2.5.0`, `250 2.1.5 <user@domain>`, `550 5.1.1`). The session does not wait.
    Verify(String),
    /// A complete message. Store it, then call
    /// [`Session::message_done`](super::Session::message_done) with one reply (SMTP,
    /// submission) or one reply per recipient in envelope order (LMTP, RFC 2033 §4.2).
    /// `message` is exactly as received: dot-unstuffed, CRLF line ends, nothing prepended
    /// (the driver adds `Received:`).
    Deliver {
        /// Sender, recipients and parameters.
        envelope: Envelope,
        /// The message bytes.
        message: Vec<u8>,
    },
    /// Flush what was written, then close the connection.
    Close,
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Reply(r) => f.debug_tuple("Reply").field(&r.to_string()).finish(),
            Action::StartTls => f.write_str("StartTls"),
            Action::CheckSender { sender, params } => {
                f.debug_struct("CheckSender").field("sender", sender).field("params", params).finish()
            }
            Action::CheckRecipient { recipient, params } => f
                .debug_struct("CheckRecipient")
                .field("recipient", recipient)
                .field("params", params)
                .finish(),
            Action::Authenticate { mechanism, username, .. } => f
                .debug_struct("Authenticate")
                .field("mechanism", mechanism)
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Action::Verify(what) => f.debug_tuple("Verify").field(what).finish(),
            Action::Deliver { envelope, message } => f
                .debug_struct("Deliver")
                .field("envelope", envelope)
                .field("message_len", &message.len())
                .finish(),
            Action::Close => f.write_str("Close"),
        }
    }
}

/// The driver's answer to [`Action::CheckSender`] or [`Action::CheckRecipient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on; the session sends `250 2.1.0 Ok` (sender) or `250 2.1.5 Ok` (recipient) itself.
    Accept,
    /// Refuse with this reply (4xx or 5xx); it counts towards `max_errors`. A `421` reply
    /// also closes the session (RFC 5321 §3.8).
    Reject(Reply),
}

/// The driver's answer to [`Action::Authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// The credentials are valid; `user` is the canonical account name (put in the envelope).
    Ok {
        /// The authenticated account.
        user: String,
    },
    /// Wrong credentials: `535 5.7.8` (RFC 4954 §6).
    Failed,
    /// The check could not be made (store unavailable): `454 4.7.0` (RFC 4954 §6).
    TemporaryFailure,
}

/// The SASL mechanisms the session implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (draft-murchison-sasl-login), still used by many clients.
    Login,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password() {
        let action = Action::Authenticate {
            mechanism: AuthMechanism::Plain,
            username: "alice".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{action:?}");
        assert!(shown.contains("alice") && !shown.contains("hunter2"), "{shown}");
    }
}

//! What the session asks its driver to do, and the driver's answers.

use std::fmt;
use std::sync::Arc;

use super::maildrop::Maildrop;
use super::reply::Reply;

/// One thing for the driver to do, in order.
pub enum Action {
    /// Write this response.
    Reply(Reply),
    /// Flush the replies so far, run the TLS handshake, then call
    /// [`Session::tls_started`](super::Session::tls_started) (or close if it fails).
    StartTls,
    /// Check these credentials, lock and open the maildrop, and answer with
    /// [`Session::auth_verdict`](super::Session::auth_verdict).
    Authenticate {
        /// How they were sent.
        mechanism: AuthMechanism,
        /// The user name as the client gave it.
        username: String,
        /// The password. Never log it.
        password: String,
    },
    /// Read the message with this UID and answer with
    /// [`Session::fetched`](super::Session::fetched).
    Fetch {
        /// The message's UID in the maildrop (INBOX).
        uid: u32,
    },
    /// The client sent QUIT in the TRANSACTION state: enter the UPDATE state (RFC 1939 §6).
    /// Remove exactly the `expunge` UIDs, atomically, mark `seen` as read, release the
    /// maildrop, and answer with [`Session::update_done`](super::Session::update_done).
    Update {
        /// UIDs the client deleted with DELE (not undone by RSET).
        expunge: Vec<u32>,
        /// UIDs retrieved with RETR and not deleted (to set `\Seen`, as IMAP would).
        seen: Vec<u32>,
    },
    /// Close the connection (after writing the replies before it).
    Close,
}

impl fmt::Debug for Action {
    /// Never shows the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Reply(r) => f.debug_tuple("Reply").field(r).finish(),
            Action::StartTls => f.write_str("StartTls"),
            Action::Authenticate { mechanism, username, .. } => f
                .debug_struct("Authenticate")
                .field("mechanism", mechanism)
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Action::Fetch { uid } => f.debug_struct("Fetch").field("uid", uid).finish(),
            Action::Update { expunge, seen } => {
                f.debug_struct("Update").field("expunge", expunge).field("seen", seen).finish()
            }
            Action::Close => f.write_str("Close"),
        }
    }
}

/// How the client sent its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMechanism {
    /// USER and PASS (RFC 1939 §7).
    UserPass,
    /// AUTH PLAIN (RFC 5034, RFC 4616).
    Plain,
    /// AUTH LOGIN (draft-murchison-sasl-login).
    Login,
}

/// The driver's answer to [`Action::Authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// Logged in, the maildrop is locked and this is its content: the TRANSACTION state.
    Ok {
        /// The canonical account name.
        user: String,
        /// The messages of the maildrop at login.
        maildrop: Maildrop,
    },
    /// Wrong user name or password: `-ERR [AUTH]` (RFC 3206 §5).
    Failed,
    /// Too many failures from this IP or against this account: `-ERR [AUTH]`, checked
    /// without looking at the password.
    Throttled,
    /// Another session holds the maildrop: `-ERR [IN-USE]` (RFC 2449 §8.1.2).
    InUse,
    /// Logged in again before the LOGIN-DELAY passed: `-ERR [LOGIN-DELAY]` (RFC 2449 §8.1.1).
    LoginDelay,
    /// The store failed: `-ERR [SYS/TEMP]` (RFC 3206 §4).
    TemporaryFailure,
}

/// The driver's answer to [`Action::Fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchResult {
    /// The message bytes (CRLF line ends), exactly as stored.
    Message(Arc<Vec<u8>>),
    /// The message was removed meanwhile (e.g. by an IMAP session).
    Gone,
    /// The store failed.
    TemporaryFailure,
}

/// The driver's answer to [`Action::Update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateResult {
    /// Every deletion was applied; `remaining` messages are left in the maildrop.
    Done {
        /// Messages left in the maildrop.
        remaining: usize,
    },
    /// Nothing was deleted (the store failed): `-ERR [SYS/TEMP]` (RFC 1939 §6).
    Failed,
}

//! The POP3 server driver: port 110 (STLS) and 995 (implicit TLS), on the sans-I/O session of
//! `mailstead_proto::pop3`. This crate does the I/O the session asks for — socket reads and
//! writes, STLS, timeouts — and the decisions it delegates: checking passwords with the
//! shared [`Authenticator`] (throttled per IP and account), locking the maildrop ([`lock`]),
//! reading INBOX and applying the deletions at QUIT ([`maildrop`]).
//!
//! One [`Pop3Server`] serves both listeners, so the maildrop lock covers them together; what
//! differs per connection (TLS already on, STLS offered) comes from the
//! [`Connection`](mailstead_net::Connection).
//!
//! Invariants:
//! - The maildrop is INBOX, numbered at login; unique-ids are derived from INBOX's UIDVALIDITY
//!   and each message's UID, so they are stable across sessions and name the same message IMAP
//!   shows.
//! - Nothing is deleted before QUIT. At QUIT exactly the DELE'd UIDs are removed in one store
//!   transaction (all or nothing); a session that ends any other way deletes nothing. IMAP sessions see the expunge through the store's change notifications.
//! - One POP3 session per account at a time (RFC 1939 §8); a second one gets `[IN-USE]`.
//! - Passwords are accepted only inside TLS, or on loopback in development mode.

mod driver;
pub mod lock;
pub mod maildrop;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailstead_net::{BoxFuture, Connection, ConnectionHandler, RefusedConnection};
pub use mailstead_proto::pop3::Expire;
use mailstead_store::Store;
use mailstead_store::auth::Authenticator;
use mailstead_store::model::AccountId;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::lock::MaildropLocks;

/// Settings of the POP3 server.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// Our host name (greeting, sign-off).
    pub hostname: String,
    /// Longest command line accepted, CRLF included (also bounds SASL responses).
    pub max_line_length: usize,
    /// Protocol errors (unknown commands, bad syntax, refused logins) before the session is
    /// closed.
    pub max_errors: usize,
    /// Development mode (`server.dev`): passwords may be sent without TLS, but only by clients
    /// on a loopback address.
    pub dev: bool,
    /// The retention policy announced as `EXPIRE` (RFC 2449 §6.7), and applied: with
    /// `Days(n)`, a message retrieved with RETR that is at least `n` days old is removed at the
    /// QUIT of that session (so `Days(0)` removes every retrieved message).
    pub expire: Option<Expire>,
    /// The minimum time between two logins of one account, announced as `LOGIN-DELAY`
    /// (RFC 2449 §6.5) and enforced with `[LOGIN-DELAY]`.
    pub login_delay: Option<Duration>,
}

impl Pop3Config {
    /// Defaults an administrator would expect: 4096-octet lines, 10 errors, no dev mode, no
    /// EXPIRE or LOGIN-DELAY.
    pub fn new(hostname: impl Into<String>) -> Pop3Config {
        Pop3Config {
            hostname: hostname.into(),
            max_line_length: 4096,
            max_errors: 10,
            dev: false,
            expire: None,
            login_delay: None,
        }
    }
}

/// The POP3 server: one for both POP3 listeners, shared by their sessions.
pub struct Pop3Server {
    config: Pop3Config,
    store: Arc<dyn Store>,
    auth: Authenticator,
    locks: MaildropLocks,
    /// Last successful login per account, for LOGIN-DELAY.
    logins: Mutex<HashMap<AccountId, Instant>>,
}

impl Pop3Server {
    /// A server over `store`, checking passwords with `auth` (share one [`Authenticator`]
    /// between all protocols so that throttling counts every failure).
    pub fn new(config: Pop3Config, store: Arc<dyn Store>, auth: Authenticator) -> Pop3Server {
        Pop3Server {
            config,
            store,
            auth,
            locks: MaildropLocks::default(),
            logins: Mutex::new(HashMap::new()),
        }
    }

    /// Records a login of `account` now; `false` if the previous one was less than the
    /// LOGIN-DELAY ago (the attempt is then refused and not recorded).
    fn login_allowed(&self, account: AccountId) -> bool {
        let Some(delay) = self.config.login_delay else { return true };
        let mut logins = self.logins.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if logins.get(&account).is_some_and(|last| now.duration_since(*last) < delay) {
            return false;
        }
        if logins.len() > 100_000 {
            logins.retain(|_, last| now.duration_since(*last) < delay);
        }
        logins.insert(account, now);
        true
    }
}

impl ConnectionHandler for Pop3Server {
    fn handle(self: Arc<Self>, conn: Connection, shutdown: CancellationToken) -> BoxFuture {
        Box::pin(async move { driver::run(&self, conn, shutdown).await })
    }

    fn refuse(self: Arc<Self>, refused: RefusedConnection) -> BoxFuture {
        Box::pin(async move {
            let mut stream = refused.stream;
            // RFC 3206 §4: a temporary system condition.
            let line =
                format!("-ERR [SYS/TEMP] Too many connections ({}), try again later\r\n", refused.reason);
            let _ = stream.write_all(line.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
    }
}

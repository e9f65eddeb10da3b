//! The SMTP server driver: port 25 (MX), message submission (587 and 465) and LMTP, on the
//! sans-I/O session of `mailstead_proto::smtp`. This crate does the I/O the session asks for —
//! socket reads and writes, STARTTLS, timeouts — and the decisions it delegates: recipient
//! policy against the store ([`policy`]), the antivirus verdict at end of DATA
//! ([`antivirus`]), sender authentication and spam scoring ([`screening`]), local delivery
//! with trace headers ([`delivery`], [`received`]), submission — AUTH, sender rules, rate
//! limits, DKIM signing, outbound scoring and the hand-over to the outbound queue
//! ([`submission`]) — and the event journal.
//!
//! Invariants:
//! - `250` after DATA/BDAT LAST (or each LMTP per-recipient `250`) is sent only after every
//!   copy is durable in the store (and, for submission, the queue entry for the remote
//!   recipients); any failure gives a 4xx so the sender retries. Local copies are appended in
//!   one transaction, so a failure stores none of them (no duplicates on retry).
//! - Unauthenticated sessions deliver only to local domains (no open relay); only submission
//!   sessions, after AUTH, reach other domains.
//! - Replies are flushed when the session has consumed all input read so far (RFC 2920).

pub mod antivirus;
mod delivery;
mod driver;
pub mod headers;
pub mod policy;
pub mod received;
mod recipients;
pub mod screening;
pub mod submission;
mod trained;
mod ttl_map;

use std::sync::Arc;
use std::time::Duration;

use mailstead_net::{BoxFuture, Connection, ConnectionHandler, RefusedConnection};
use mailstead_store::Store;
use mailstead_store::journal_batch::JournalBatcher;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// Which service a listener provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// SMTP from other servers (port 25).
    Mx,
    /// LMTP (RFC 2033) from a front MTA.
    Lmtp,
    /// Message submission by authenticated users (RFC 6409; ports 587 and 465).
    Submission,
}

/// Settings of one SMTP/LMTP server.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Our host name (greeting, Received).
    pub hostname: String,
    /// MX or LMTP.
    pub service: Service,
    /// Largest message accepted, in bytes.
    pub max_message_size: usize,
    /// Most recipients per transaction.
    pub max_recipients: usize,
    /// Error replies before the session is closed.
    pub max_errors: usize,
    /// Longest command line.
    pub max_line_length: usize,
    /// More `Received:` fields than this means a mail loop (RFC 5321 §6.3).
    pub max_received_headers: usize,
    /// Plus-addressing separator.
    pub plus_separator: Option<char>,
    /// Wait this long before the greeting and refuse clients that talk first (0: no wait).
    pub greet_delay: Duration,
    /// Antivirus at end of DATA (attachment policy and/or clamd); `None` scans nothing.
    pub antivirus: Option<mailstead_antivirus::Scanner>,
    /// Sender authentication and spam scoring (port 25 only).
    pub screening: screening::Screening,
    /// Wakes the outbound queue when a copy was queued (alias forwards).
    pub queue: mailstead_queue::QueueHandle,
    /// AUTH, sender rules, rate limits, signing and queueing ([`Service::Submission`] only;
    /// without it a submission listener offers no AUTH and so accepts no mail).
    pub submission: Option<submission::Submission>,
}

/// The SMTP/LMTP server: one per listener, shared by its sessions.
pub struct SmtpServer {
    config: SmtpConfig,
    store: Arc<dyn Store>,
    journal: JournalBatcher,
    trained: trained::TrainedAccounts,
    recipients: recipients::RecipientCache,
}

impl SmtpServer {
    /// A server over `store`; starts its journal writer, so call it inside a tokio runtime.
    pub fn new(config: SmtpConfig, store: Arc<dyn Store>) -> SmtpServer {
        let journal = JournalBatcher::start(store.clone());
        SmtpServer {
            config,
            store,
            journal,
            trained: trained::TrainedAccounts::default(),
            recipients: recipients::cache(),
        }
    }
}

impl ConnectionHandler for SmtpServer {
    fn handle(self: Arc<Self>, conn: Connection, shutdown: CancellationToken) -> BoxFuture {
        Box::pin(async move { driver::run(&self, conn, shutdown).await })
    }

    fn refuse(self: Arc<Self>, refused: RefusedConnection) -> BoxFuture {
        Box::pin(async move {
            let mut stream = refused.stream;
            let line = format!(
                "421 4.7.0 {} Too many connections ({}), try again later\r\n",
                self.config.hostname, refused.reason
            );
            let _ = stream.write_all(line.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
    }
}

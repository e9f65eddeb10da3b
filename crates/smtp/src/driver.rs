//! One SMTP/LMTP connection: feeds socket bytes to the sans-I/O session and carries out the
//! actions it returns (replies, STARTTLS, policy questions, delivery, close).
//!
//! Flushing: replies accumulate in `out` while the session works through the bytes of one
//! read; they are written when that input is used up, so pipelined commands (RFC 2920) get
//! their replies in one write and a lone command gets its reply at once.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use mailstead_net::{Connection, ConnectionLimits, IdleTimeout, MaybeTlsStream, TlsInfo};
use mailstead_proto::smtp::{Action, AuthVerdict, Mode, Reply, Session, SessionConfig, Verdict};
use mailstead_store::model::{Account, Event};
use mailstead_store::resolve::Resolution;
use mailstead_types::QueueId;

use crate::policy::{RecipientDecision, check_recipient};
use crate::{Service, SmtpServer};

/// Size of one socket read.
const READ_CHUNK: usize = 16 * 1024;

/// Whether the session goes on.
enum Flow {
    Continue,
    Close,
}

/// The current mail transaction, as the driver tracks it beside the session.
pub(crate) struct Transaction {
    /// Assigned at MAIL FROM; printed in the 250 reply and the Received field.
    pub queue_id: QueueId,
    /// Accepted recipients and where they deliver, by normalised address.
    pub resolutions: HashMap<String, Resolution>,
    /// Journal events collected so far.
    pub events: Vec<Event>,
}

pub(crate) struct Driver<'a> {
    pub server: &'a SmtpServer,
    io: Option<IdleTimeout<MaybeTlsStream>>,
    pub session: Session,
    out: Vec<u8>,
    pub peer: SocketAddr,
    pub tls: Option<TlsInfo>,
    starttls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    pub txn: Option<Transaction>,
    /// The account that authenticated (submission), until STARTTLS forgets it.
    pub account: Option<Account>,
}

/// Runs one session to its end.
pub async fn run(server: &SmtpServer, conn: Connection, shutdown: CancellationToken) {
    let Connection { stream, peer, permit, starttls, limits, listener, .. } = conn;
    let _permit = permit; // the connection slot is ours until we return
    let tls = stream.tls_info();
    let is_tls = stream.is_tls();
    let starttls = if is_tls { None } else { starttls };
    let session = Session::new(session_config(server, starttls.is_some(), is_tls, peer));
    let io = IdleTimeout::new(stream, limits.idle_timeout);
    let mut d = Driver {
        server,
        io: Some(io),
        session,
        out: Vec::new(),
        peer,
        tls,
        starttls,
        limits,
        txn: None,
        account: None,
    };
    tracing::debug!(%peer, listener = %listener, tls = is_tls, "smtp: connect");
    d.serve(shutdown).await;
    if let Some(txn) = d.txn.take() {
        d.write_journal(txn);
    }
    tracing::debug!(%peer, "smtp: disconnect");
}

fn session_config(
    server: &SmtpServer,
    starttls_offered: bool,
    tls_active: bool,
    peer: SocketAddr,
) -> SessionConfig {
    let c = &server.config;
    let submission = c.submission.as_ref().filter(|_| c.service == Service::Submission);
    // DESIGN.md security model: passwords only inside TLS, or on loopback in development.
    let auth_offered = submission.is_some_and(|s| {
        tls_active || (s.settings.plaintext_auth_on_loopback && peer.ip().to_canonical().is_loopback())
    });
    SessionConfig {
        hostname: c.hostname.clone(),
        mode: match c.service {
            Service::Mx => Mode::Smtp,
            Service::Lmtp => Mode::Lmtp,
            Service::Submission => Mode::Submission,
        },
        max_message_size: c.max_message_size,
        max_recipients: submission
            .map_or(c.max_recipients, |s| c.max_recipients.min(s.settings.max_recipients_per_message)),
        max_errors: c.max_errors,
        max_line_length: c.max_line_length,
        starttls_offered,
        tls_active,
        auth_offered,
        auth_required: c.service == Service::Submission,
        vrfy_enabled: false,
        max_received_headers: c.max_received_headers,
    }
}

impl Driver<'_> {
    async fn serve(&mut self, shutdown: CancellationToken) {
        if !self.greet().await {
            return;
        }
        // Not zeroed: a read fills what it returns (zeroing 16 KiB per connection showed).
        let mut buf = Vec::with_capacity(READ_CHUNK);
        let mut stopping = false;
        loop {
            let Some(io) = self.io.as_mut() else { return };
            buf.clear();
            let actions = tokio::select! {
                read = io.read_buf(&mut buf) => match read {
                    Ok(0) => return, // the client closed
                    Ok(_) => self.session.feed(&buf),
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        tracing::info!(peer = %self.peer, "smtp: idle timeout");
                        self.session.timeout()
                    }
                    Err(e) => {
                        tracing::debug!(peer = %self.peer, error = %e, "smtp: read failed");
                        return;
                    }
                },
                () = shutdown.cancelled(), if !stopping => {
                    stopping = true;
                    self.session.shutdown()
                }
            };
            if let Flow::Close = self.execute(actions).await {
                return;
            }
        }
    }

    /// Sends the greeting, after refusing early talkers when a greet delay is set.
    async fn greet(&mut self) -> bool {
        let delay = self.server.config.greet_delay;
        if !delay.is_zero()
            && let Some(io) = self.io.as_mut()
        {
            let mut probe = [0u8; 512];
            match tokio::time::timeout(delay, io.read(&mut probe)).await {
                Err(_) => {} // quiet, as a real SMTP client is
                Ok(Ok(0)) | Ok(Err(_)) => return false,
                Ok(Ok(_)) => {
                    tracing::info!(target: "mail", "early talker {} refused: sent data before the greeting", self.peer.ip());
                    let actions = self.session.early_talker();
                    let _ = self.execute(actions).await;
                    return false;
                }
            }
        }
        let greeting = self.session.greeting();
        self.out.extend_from_slice(greeting.to_string().as_bytes());
        self.flush().await
    }

    /// Carries out actions, including those produced by answering the session's questions.
    async fn execute(&mut self, actions: Vec<Action>) -> Flow {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            let more = match action {
                Action::Reply(reply) => {
                    self.out.extend_from_slice(reply.to_string().as_bytes());
                    continue;
                }
                Action::CheckSender { sender, params } => {
                    let verdict = if self.server.config.service == Service::Submission {
                        self.check_submitter(sender.as_ref(), &params).await
                    } else {
                        self.begin_transaction(sender.as_ref(), &params, "250 2.1.0");
                        Verdict::Accept
                    };
                    self.session.sender_verdict(verdict)
                }
                Action::CheckRecipient { recipient, params } => {
                    let verdict = self.check_recipient(&recipient, &params).await;
                    self.session.recipient_verdict(verdict)
                }
                Action::Authenticate { mechanism, username, password } => {
                    let verdict = match &self.server.config.submission {
                        Some(submission) => {
                            self.authenticate(submission, mechanism, &username, &password).await
                        }
                        None => AuthVerdict::Failed,
                    };
                    self.session.auth_verdict(verdict)
                }
                Action::Verify(_) => {
                    let reply = Reply::new(
                        252,
                        "2.5.0",
                        "Cannot VRFY user, but will accept message and attempt delivery",
                    );
                    self.out.extend_from_slice(reply.to_string().as_bytes());
                    continue;
                }
                Action::Deliver { envelope, message } => {
                    let replies = if self.server.config.service == Service::Submission {
                        self.submit(&envelope, message).await
                    } else {
                        self.deliver(&envelope, message).await
                    };
                    self.session.message_done(replies)
                }
                Action::StartTls => {
                    if !self.flush().await || !self.start_tls().await {
                        return Flow::Close;
                    }
                    // RFC 3207 §4.2: the session forgets the authentication; so do we.
                    self.account = None;
                    self.session.tls_started()
                }
                Action::Close => {
                    self.flush().await;
                    if let Some(io) = self.io.as_mut() {
                        let _ = io.shutdown().await;
                    }
                    return Flow::Close;
                }
            };
            queue.extend(more);
        }
        if self.flush().await { Flow::Continue } else { Flow::Close }
    }

    async fn flush(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let Some(io) = self.io.as_mut() else { return false };
        let ok = io.write_all(&self.out).await.is_ok() && io.flush().await.is_ok();
        self.out.clear();
        ok
    }

    async fn start_tls(&mut self) -> bool {
        let (Some(io), Some(acceptor)) = (self.io.take(), self.starttls.take()) else { return false };
        match io.into_inner().start_tls(&acceptor, self.limits.tls_handshake_timeout).await {
            Ok(stream) => {
                self.tls = stream.tls_info();
                tracing::debug!(peer = %self.peer, tls = ?self.tls, "smtp: STARTTLS done");
                self.io = Some(IdleTimeout::new(stream, self.limits.idle_timeout));
                true
            }
            Err(e) => {
                tracing::info!(peer = %self.peer, error = %e, "smtp: STARTTLS handshake failed");
                false
            }
        }
    }

    /// Opens the mail transaction with its `smtp.mail` event; `reply` is what MAIL gets.
    /// A transaction still open (the client sent MAIL after RSET) is journaled first.
    pub(crate) fn begin_transaction(
        &mut self,
        sender: Option<&mailstead_types::Address>,
        params: &mailstead_proto::smtp::MailParams,
        reply: &str,
    ) {
        if let Some(previous) = self.txn.take() {
            self.write_journal(previous);
        }
        let queue_id = QueueId::new(SystemTime::now(), rand::thread_rng().r#gen());
        let mut events = Vec::new();
        let helo = self.session.helo().unwrap_or("").to_string();
        events.push(crate::delivery::event(
            &queue_id,
            "smtp.mail",
            sender.map(|s| s.normalized()),
            serde_json::json!({
                "peer": self.peer.to_string(),
                "helo": helo,
                "tls": self.tls.as_ref().map(|t| t.to_string()),
                "service": format!("{:?}", self.server.config.service),
                "auth_user": self.session.auth_user(),
                "from": sender.map(|s| s.to_string()).unwrap_or_default(),
                "size": params.size,
                "body": params.body.map(|b| format!("{b:?}")),
                "smtputf8": params.smtputf8,
                "ret": params.ret.map(|r| format!("{r:?}")),
                "envid": params.envid,
                "reply": reply,
            }),
        ));
        self.txn = Some(Transaction { queue_id, resolutions: HashMap::new(), events });
    }

    async fn check_recipient(
        &mut self,
        rcpt: &mailstead_types::Address,
        params: &mailstead_proto::smtp::RcptParams,
    ) -> Verdict {
        let normalized = rcpt.normalized();
        let decision = match self.recipient_rate_limit() {
            Some(reply) => RecipientDecision::Reject(reply),
            None => self.decide_recipient(rcpt, &normalized).await,
        };
        let (verdict, reply_text, resolution) = match decision {
            RecipientDecision::Accept(resolution) => {
                (Verdict::Accept, "250 2.1.5 Ok".to_string(), Some(resolution))
            }
            RecipientDecision::Reject(reply) => {
                tracing::info!(target: "mail", "{}: reject RCPT from {}: {}", self.txn_id(), self.peer.ip(), reply.to_string().trim_end());
                let text = reply.to_string().trim_end().to_string();
                (Verdict::Reject(reply), text, None)
            }
        };
        if let Some(txn) = self.txn.as_mut() {
            txn.events.push(crate::delivery::event(
                &txn.queue_id,
                "smtp.rcpt",
                Some(normalized.clone()),
                serde_json::json!({
                    "to": rcpt.to_string(),
                    "notify": params.notify.as_ref().map(|n| format!("{n:?}")),
                    "orcpt": params.orcpt,
                    "reply": reply_text,
                }),
            ));
            if let Some(r) = resolution {
                txn.resolutions.insert(normalized, r);
            }
        }
        verdict
    }

    /// The policy's decision on `rcpt`, or an acceptance of it from the last second (see
    /// [`crate::recipients`]).
    async fn decide_recipient(&self, rcpt: &mailstead_types::Address, normalized: &str) -> RecipientDecision {
        if let Some(resolution) = self.server.recipients.get(normalized) {
            return RecipientDecision::Accept(resolution);
        }
        let config = &self.server.config;
        let decision =
            check_recipient(self.server.store.as_ref(), rcpt, config.plus_separator, config.service).await;
        if let RecipientDecision::Accept(resolution) = &decision {
            self.server.recipients.insert(normalized.to_string(), resolution.clone());
        }
        decision
    }

    pub(crate) fn txn_id(&self) -> String {
        self.txn.as_ref().map(|t| t.queue_id.to_string()).unwrap_or_else(|| "NOQUEUE".into())
    }

    pub fn now() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

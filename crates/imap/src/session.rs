//! One IMAP session: the state machine (RFC 9051 §3), the command loop and dispatch.
//!
//! # Implementation notes
//! - State is [`State`]; which commands are legal in which state is declared once, in
//!   [`needs`], and checked before dispatch.
//! - Each command lives in its own file under `commands/` and returns a [`Done`]: the tagged
//!   status. Untagged data is queued on the connection as it is produced.
//! - Before each tagged reply in the selected state the view is synchronised with the store
//!   (new mail, flag changes, expunges), but only when the account's change channel said
//!   something happened, so a busy FETCH loop costs no extra queries.
//! - Limits: commands before login, BAD commands in a row, failed logins per connection; the
//!   store-wide throttling of password guessing is in the shared authenticator.

use std::net::SocketAddr;
use std::time::Duration;

use imap_types::command::{Command, CommandBody};
use imap_types::core::Tag;
use imap_types::response::{Code, Greeting, Response, Status};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::TryRecvError;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use mailstead_net::Connection;
use mailstead_store::model::Account;
use mailstead_store::{Change, StoreErrorKind};

use crate::commands;
use crate::conn::{Conn, Input, LiteralPolicy};
use crate::extended::Extra;
use crate::names::NameCoding;
use crate::selected::{Reporting, Selected, SyncPoint};
use crate::server::ImapServer;

/// The session state (RFC 9051 §3).
pub enum State {
    /// Before LOGIN/AUTHENTICATE.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated(Auth),
    /// A mailbox is selected.
    Selected(Auth, Selected),
    /// LOGOUT done, or the connection is closing.
    Logout,
}

/// What a logged-in session carries.
pub struct Auth {
    /// The account.
    pub account: Account,
    /// The account's change notifications.
    pub changes: broadcast::Receiver<Change>,
}

/// The tagged status a command ends with.
pub struct Done {
    /// OK, NO or BAD.
    pub kind: DoneKind,
    /// Response code.
    pub code: Option<Code<'static>>,
    /// Human-readable text.
    pub text: String,
}

/// Kinds of tagged status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneKind {
    /// Success.
    Ok,
    /// Failure the client did nothing wrong for, or a refused operation.
    No,
    /// Protocol error.
    Bad,
    /// The command wrote its own tagged reply (STARTTLS, COMPRESS).
    Sent,
}

impl Done {
    /// `OK text`.
    pub fn ok(text: impl Into<String>) -> Done {
        Done { kind: DoneKind::Ok, code: None, text: text.into() }
    }
    /// `NO text`.
    pub fn no(text: impl Into<String>) -> Done {
        Done { kind: DoneKind::No, code: None, text: text.into() }
    }
    /// `BAD text`.
    pub fn bad(text: impl Into<String>) -> Done {
        Done { kind: DoneKind::Bad, code: None, text: text.into() }
    }
    /// The tagged reply was written by the command itself.
    pub fn sent() -> Done {
        Done { kind: DoneKind::Sent, code: None, text: String::new() }
    }
    /// With a response code.
    pub fn with(mut self, code: Code<'static>) -> Done {
        self.code = Some(code);
        self
    }
    /// NO for a store error: `[SERVERBUG]`-free wording, `[UNAVAILABLE]` for temporary ones.
    pub fn store_error(e: &mailstead_store::StoreError) -> Done {
        match e.kind {
            StoreErrorKind::NotFound => Done::no("No such mailbox").with(code("NONEXISTENT")),
            StoreErrorKind::AlreadyExists => Done::no("Mailbox already exists").with(code("ALREADYEXISTS")),
            StoreErrorKind::OverQuota => Done::no("Over quota").with(Code::OverQuota),
            StoreErrorKind::Invalid => Done::no(format!("Refused: {}", e.message)).with(code("CANNOT")),
            _ => {
                tracing::warn!(error = %e, "imap: store error");
                Done::no("Temporary failure, try again").with(code("UNAVAILABLE"))
            }
        }
    }
}

/// A response code imap-types has no variant for (RFC 5530 codes and the like).
pub fn code(atom: &'static str) -> Code<'static> {
    Code::Other(imap_types::response::CodeOther::unvalidated(atom.as_bytes()))
}

/// Where a command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Any,
    NotAuthenticated,
    Authenticated,
    Selected,
}

/// The state table (RFC 9051 §6): which commands are legal where.
fn needs(body: &CommandBody<'_>) -> Need {
    use CommandBody as C;
    match body {
        C::Capability | C::Noop | C::Logout | C::Id { .. } => Need::Any,
        C::StartTLS | C::Login { .. } | C::Authenticate { .. } => Need::NotAuthenticated,
        C::Select { .. }
        | C::Examine { .. }
        | C::Create { .. }
        | C::Delete { .. }
        | C::Rename { .. }
        | C::Subscribe { .. }
        | C::Unsubscribe { .. }
        | C::List { .. }
        | C::Lsub { .. }
        | C::Status { .. }
        | C::Append { .. }
        | C::Namespace
        | C::Enable { .. }
        | C::Idle
        | C::GetQuota { .. }
        | C::GetQuotaRoot { .. }
        | C::SetQuota { .. }
        | C::Compress { .. } => Need::Authenticated,
        C::Check
        | C::Close
        | C::Unselect
        | C::Expunge
        | C::ExpungeUid { .. }
        | C::Search { .. }
        | C::Sort { .. }
        | C::Thread { .. }
        | C::Fetch { .. }
        | C::Store { .. }
        | C::Copy { .. }
        | C::Move { .. } => Need::Selected,
    }
}

/// A session.
pub struct Session<'a> {
    /// The server.
    pub server: &'a ImapServer,
    /// The connection.
    pub conn: Conn,
    /// The client.
    pub peer: SocketAddr,
    /// STARTTLS acceptor while the connection is plaintext on a STARTTLS port.
    pub starttls: Option<TlsAcceptor>,
    /// Handshake timeout for STARTTLS.
    pub tls_timeout: Duration,
    /// The state.
    pub state: State,
    /// How mailbox names travel.
    pub coding: NameCoding,
    /// CONDSTORE/QRESYNC reporting.
    pub reporting: Reporting,
    /// IMAP4rev2 enabled (RFC 9051 §6.3.1).
    pub rev2: bool,
    /// Literal limits.
    pub policy: LiteralPolicy,
    /// Failed logins on this connection.
    pub auth_failures: u32,
    bad_in_a_row: u32,
    unauth_commands: u32,
    /// Set when a command's store write happened, so the next sync runs.
    pub dirty: bool,
    /// Cancelled when the server shuts down (IDLE watches it too).
    pub shutdown: CancellationToken,
}

/// Runs one connection to its end.
pub async fn run(server: &ImapServer, conn: Connection, shutdown: CancellationToken) {
    let Connection { stream, peer, permit, starttls, limits, listener, .. } = conn;
    let _permit = permit;
    let is_tls = stream.is_tls();
    let c = &server.config;
    let policy = LiteralPolicy {
        append_limit: c.append_limit,
        small_limit: c.max_small_literal,
        max_literals: c.max_literals,
        max_line: c.max_line_length,
    };
    let conn = Conn::new(stream, c.unauthenticated_timeout, &policy);
    let mut session = Session {
        server,
        conn,
        peer,
        starttls: if is_tls { None } else { starttls },
        tls_timeout: limits.tls_handshake_timeout,
        state: State::NotAuthenticated,
        coding: NameCoding::Utf7,
        reporting: Reporting::default(),
        rev2: false,
        policy,
        auth_failures: 0,
        bad_in_a_row: 0,
        unauth_commands: 0,
        dirty: false,
        shutdown: shutdown.clone(),
    };
    tracing::debug!(%peer, %listener, tls = is_tls, "imap: connect");
    session.serve().await;
    tracing::debug!(%peer, "imap: disconnect");
}

impl Session<'_> {
    async fn serve(&mut self) {
        let shutdown = self.shutdown.clone();
        let caps = commands::capability::list(self).join(" ");
        let text = format!("[CAPABILITY {caps}] {} Mailstead IMAP ready", self.server.config.hostname);
        let greeting = Greeting::ok(None, &text);
        match greeting {
            Ok(g) => {
                let bytes =
                    imap_codec::encode::Encoder::encode(&imap_codec::GreetingCodec::default(), &g).dump();
                self.conn.out.extend_from_slice(&bytes);
            }
            Err(_) => self.conn.send_line("* OK Mailstead IMAP ready"),
        }
        if self.conn.flush().await.is_err() {
            return;
        }
        loop {
            let input = tokio::select! {
                input = self.conn.next_command(&self.policy) => input,
                () = shutdown.cancelled() => {
                    self.bye("Server shutting down").await;
                    return;
                }
            };
            let command = match input {
                Input::Command(command, extra) => (command, extra),
                Input::Bad { tag, reason } => {
                    tracing::info!(peer = %self.peer, reason, "imap: bad command");
                    if self.bad(tag, reason).await.is_err() {
                        return;
                    }
                    continue;
                }
                Input::Overflow => {
                    tracing::info!(peer = %self.peer, "imap: line too long; closing");
                    self.bye("Command line too long").await;
                    return;
                }
                Input::TimedOut => {
                    tracing::info!(peer = %self.peer, "imap: idle timeout");
                    self.bye("Autologout; idle for too long").await;
                    return;
                }
                Input::Closed => return,
                Input::Failed(e) => {
                    tracing::debug!(peer = %self.peer, error = %e, "imap: read failed");
                    return;
                }
            };
            if !self.execute(command.0, command.1).await {
                self.conn.shutdown().await;
                return;
            }
            if self.conn.flush().await.is_err() {
                return;
            }
            if matches!(self.state, State::Logout) {
                self.conn.shutdown().await;
                return;
            }
        }
    }

    /// Sends `* BYE text` and closes.
    pub async fn bye(&mut self, text: &str) {
        if let Ok(bye) = Status::bye(None, text.to_string()) {
            self.conn.send(&Response::Status(bye));
        }
        self.conn.shutdown().await;
    }

    /// Answers a command that could not be parsed. Err when the connection must close.
    async fn bad(&mut self, tag: Option<Tag<'static>>, reason: &str) -> Result<(), ()> {
        self.bad_in_a_row += 1;
        if self.bad_in_a_row > self.server.config.max_bad_commands {
            self.bye("Too many invalid commands").await;
            return Err(());
        }
        let status = Status::bad(tag, None, reason.to_string()).map_err(|_| ())?;
        self.conn.send(&Response::Status(status));
        self.conn.flush().await.map_err(|_| ())
    }

    /// Runs one parsed command. `false` when the connection must close.
    async fn execute(&mut self, command: Command<'static>, extra: Extra) -> bool {
        let Command { tag, body } = command;
        let name = body.name();
        let need = needs(&body);
        let here = match &self.state {
            State::NotAuthenticated => Need::NotAuthenticated,
            State::Authenticated(_) => Need::Authenticated,
            State::Selected(..) => Need::Selected,
            State::Logout => return false,
        };
        if matches!(self.state, State::NotAuthenticated) {
            self.unauth_commands += 1;
            if self.unauth_commands > self.server.config.max_unauthenticated_commands {
                tracing::info!(peer = %self.peer, "imap: too many commands before login");
                self.bye("Too many commands without logging in").await;
                return false;
            }
        }
        let legal = match need {
            Need::Any => true,
            Need::NotAuthenticated => here == Need::NotAuthenticated,
            Need::Authenticated => here != Need::NotAuthenticated,
            Need::Selected => here == Need::Selected,
        };
        if !legal {
            let text = match (need, here) {
                (_, Need::NotAuthenticated) => format!("{name} needs you to log in first"),
                (Need::NotAuthenticated, _) => format!("{name}: already logged in"),
                (Need::Selected, _) => format!("{name} needs a selected mailbox"),
                _ => format!("{name} is not allowed now"),
            };
            return self.finish(tag, Done::bad(text), SyncPoint::NoExpunge).await;
        }
        let point = sync_point(&body);
        let done = match commands::dispatch(self, &tag, body, extra).await {
            Ok(done) => done,
            Err(commands::Close) => return false,
        };
        self.finish(tag, done, point).await
    }

    /// Synchronises the view (if selected) and sends the tagged status.
    async fn finish(&mut self, tag: Tag<'static>, done: Done, point: SyncPoint) -> bool {
        if done.kind == DoneKind::Sent {
            self.bad_in_a_row = 0;
            return true;
        }
        if done.kind == DoneKind::Bad {
            self.bad_in_a_row += 1;
            if self.bad_in_a_row > self.server.config.max_bad_commands {
                self.bye("Too many invalid commands").await;
                return false;
            }
        } else {
            self.bad_in_a_row = 0;
        }
        if !self.sync(point).await {
            return false;
        }
        let status = match done.kind {
            DoneKind::Ok => Status::ok(Some(tag), done.code, done.text),
            DoneKind::No => Status::no(Some(tag), done.code, done.text),
            DoneKind::Bad | DoneKind::Sent => Status::bad(Some(tag), done.code, done.text),
        };
        match status {
            Ok(status) => self.conn.send(&Response::Status(status)),
            Err(_) => self.conn.send_line("* BAD internal error"),
        }
        true
    }

    /// Brings the selected view up to date if anything happened. `false` if the mailbox is gone
    /// (the session is then closed with BYE, as Dovecot does).
    pub async fn sync(&mut self, point: SyncPoint) -> bool {
        let State::Selected(auth, selected) = &mut self.state else {
            if let State::Authenticated(auth) = &mut self.state {
                drain(&mut auth.changes, None);
            }
            return true;
        };
        let relevant = drain(&mut auth.changes, Some(selected.id));
        if !relevant && !self.dirty && selected.pending_expunges.is_empty() {
            return true;
        }
        self.dirty = false;
        match selected.sync(self.server.store.as_ref(), point, self.reporting).await {
            Ok(responses) => {
                for r in &responses {
                    self.conn.send(r);
                }
                true
            }
            Err(e) if e.kind == StoreErrorKind::NotFound => {
                self.bye("Selected mailbox was deleted, have to disconnect").await;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "imap: sync failed");
                true
            }
        }
    }

    /// The logged-in account, if any.
    pub fn account(&self) -> Option<&Account> {
        match &self.state {
            State::Authenticated(a) | State::Selected(a, _) => Some(&a.account),
            _ => None,
        }
    }

    /// Sends an untagged `OK [code] text`.
    pub fn untagged_ok(&mut self, code: Option<Code<'static>>, text: impl Into<String>) {
        if let Ok(status) = Status::ok(None, code, text.into()) {
            self.conn.send(&Response::Status(status));
        }
    }

    /// Whether STARTTLS/TLS rules allow a password now.
    pub fn plaintext_allowed(&self) -> bool {
        self.conn.is_tls() || (self.server.config.plaintext_auth_on_loopback && self.peer.ip().is_loopback())
    }
}

/// Empties the change channel; whether anything concerned `mailbox` (any change when `None`,
/// always true after lagging behind).
fn drain(rx: &mut broadcast::Receiver<Change>, mailbox: Option<i64>) -> bool {
    let mut relevant = false;
    loop {
        match rx.try_recv() {
            Ok(change) => {
                relevant |= match (mailbox, &change) {
                    (Some(id), Change::MessageAdded { mailbox, .. })
                    | (Some(id), Change::FlagsChanged { mailbox, .. })
                    | (Some(id), Change::Expunged { mailbox, .. }) => *mailbox == id,
                    (Some(_), Change::MailboxDeleted { .. } | Change::MailboxRenamed { .. }) => true,
                    _ => false,
                }
            }
            Err(TryRecvError::Lagged(_)) => relevant = true,
            Err(TryRecvError::Empty | TryRecvError::Closed) => return relevant,
        }
    }
}

/// Where a command allows untagged EXPUNGE (RFC 9051 §7.5.1).
fn sync_point(body: &CommandBody<'_>) -> SyncPoint {
    match body {
        CommandBody::Fetch { uid: false, .. }
        | CommandBody::Store { uid: false, .. }
        | CommandBody::Search { uid: false, .. }
        | CommandBody::Sort { uid: false, .. }
        | CommandBody::Thread { uid: false, .. } => SyncPoint::NoExpunge,
        _ => SyncPoint::Full,
    }
}

//! One POP3 connection: feeds socket bytes to the sans-I/O session and carries out the
//! actions it returns (responses, STLS, login, message reads, the update at QUIT, close).
//!
//! Flushing: responses accumulate in `out` while the session works through the bytes of one
//! read; they are written when that input is used up, so pipelined commands (RFC 2449 §6.6)
//! get their responses in one write and a lone command gets its response at once. A large
//! message is written as soon as it is rendered.

use std::collections::VecDeque;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use mailstead_net::{Connection, ConnectionLimits, IdleTimeout, MaybeTlsStream};
use mailstead_proto::pop3::{Action, AuthMechanism, AuthVerdict, Session, SessionConfig, UpdateResult};
use mailstead_store::auth::AuthError;

use crate::Pop3Server;
use crate::maildrop::OpenMaildrop;

/// Size of one socket read.
const READ_CHUNK: usize = 16 * 1024;
/// Output buffered before it is written even if input remains (a big RETR).
const FLUSH_AT: usize = 256 * 1024;

/// Whether the session goes on.
enum Flow {
    Continue,
    Close,
}

struct Driver<'a> {
    server: &'a Pop3Server,
    io: Option<IdleTimeout<MaybeTlsStream>>,
    session: Session,
    out: Vec<u8>,
    peer: SocketAddr,
    starttls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    /// The locked, open maildrop once logged in.
    maildrop: Option<OpenMaildrop>,
}

/// Runs one session to its end. Whatever the way it ends, the maildrop lock is released and
/// nothing is deleted unless the session reached QUIT.
pub async fn run(server: &Pop3Server, conn: Connection, shutdown: CancellationToken) {
    let Connection { stream, peer, permit, starttls, limits, listener, .. } = conn;
    let _permit = permit; // the connection slot is ours until we return
    let is_tls = stream.is_tls();
    let starttls = if is_tls { None } else { starttls };
    let config = SessionConfig {
        stls_offered: starttls.is_some(),
        tls_active: is_tls,
        // DESIGN.md: plaintext passwords only in development mode, and only from loopback.
        plaintext_auth_allowed: server.config.dev && peer.ip().to_canonical().is_loopback(),
        max_line_length: server.config.max_line_length,
        max_errors: server.config.max_errors,
        expire: server.config.expire,
        login_delay_secs: server.config.login_delay.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)),
        ..SessionConfig::new(server.config.hostname.clone())
    };
    let io = IdleTimeout::new(stream, limits.idle_timeout);
    let mut d = Driver {
        server,
        io: Some(io),
        session: Session::new(config),
        out: Vec::new(),
        peer,
        starttls,
        limits,
        maildrop: None,
    };
    tracing::debug!(%peer, listener = %listener, tls = is_tls, "pop3: connect");
    d.serve(shutdown).await;
    if let Some(open) = d.maildrop.take() {
        tracing::info!(target: "mail", "pop3: {} disconnected from {} without QUIT; nothing deleted", open.account.address, peer.ip());
    }
    tracing::debug!(%peer, "pop3: disconnect");
}

impl Driver<'_> {
    async fn serve(&mut self, shutdown: CancellationToken) {
        let greeting = self.session.greeting();
        greeting.write_to(&mut self.out);
        if !self.flush().await {
            return;
        }
        let mut buf = vec![0u8; READ_CHUNK];
        let mut stopping = false;
        loop {
            let Some(io) = self.io.as_mut() else { return };
            let actions = tokio::select! {
                read = io.read(&mut buf) => match read {
                    Ok(0) => return, // the client closed
                    Ok(n) => self.session.feed(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        tracing::info!(peer = %self.peer, "pop3: idle timeout");
                        self.session.timeout()
                    }
                    Err(e) => {
                        tracing::debug!(peer = %self.peer, error = %e, "pop3: read failed");
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

    /// Carries out actions, including those produced by answering the session's questions.
    async fn execute(&mut self, actions: Vec<Action>) -> Flow {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            let more = match action {
                Action::Reply(reply) => {
                    reply.write_to(&mut self.out);
                    if self.out.len() >= FLUSH_AT && !self.flush().await {
                        return Flow::Close;
                    }
                    continue;
                }
                Action::Authenticate { mechanism, username, password } => {
                    let verdict = self.login(mechanism, &username, &password).await;
                    self.session.auth_verdict(verdict)
                }
                Action::Fetch { uid } => {
                    let result = match &self.maildrop {
                        Some(open) => open.read(self.server.store.as_ref(), uid).await,
                        None => mailstead_proto::pop3::FetchResult::Gone,
                    };
                    self.session.fetched(result)
                }
                Action::Update { expunge, seen } => {
                    let result = match self.maildrop.take() {
                        Some(open) => {
                            open.update(self.server.store.as_ref(), expunge, seen, self.server.config.expire)
                                .await
                        }
                        None => UpdateResult::Failed,
                    };
                    self.session.update_done(result)
                }
                Action::StartTls => {
                    if !self.flush().await || !self.start_tls().await {
                        return Flow::Close;
                    }
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
            for (i, action) in more.into_iter().enumerate() {
                queue.insert(i, action);
            }
        }
        if self.flush().await { Flow::Continue } else { Flow::Close }
    }

    /// Checks the password (throttled), then LOGIN-DELAY, the maildrop lock, and reads INBOX.
    async fn login(&mut self, mechanism: AuthMechanism, username: &str, password: &str) -> AuthVerdict {
        let ip = self.peer.ip();
        let account = match self.server.auth.authenticate(ip, username, password).await {
            Ok(account) => account,
            Err(AuthError::Invalid) => {
                tracing::info!(target: "mail", "pop3: failed login for {username:?} from {ip} ({mechanism:?})");
                return AuthVerdict::Failed;
            }
            Err(e @ AuthError::Throttled { .. }) => {
                tracing::info!(target: "mail", "pop3: login for {username:?} from {ip} refused: {e}");
                return AuthVerdict::Throttled;
            }
            Err(e @ AuthError::Unavailable(_)) => {
                tracing::warn!(peer = %self.peer, error = %e, "pop3: login check failed");
                return AuthVerdict::TemporaryFailure;
            }
        };
        let user = account.address.to_string();
        // RFC 1939 §8: exclusive access to the maildrop.
        let Some(guard) = self.server.locks.try_lock(account.id) else {
            tracing::info!(target: "mail", "pop3: {user} from {ip}: maildrop in use");
            return AuthVerdict::InUse;
        };
        // RFC 2449 §8.1.1: checked after a valid password, so it tells nothing to a guesser.
        if !self.server.login_allowed(account.id) {
            return AuthVerdict::LoginDelay;
        }
        match OpenMaildrop::open(self.server.store.as_ref(), account, guard).await {
            Ok((open, maildrop)) => {
                tracing::info!(target: "mail", "pop3: {user} logged in from {ip} ({mechanism:?}, {} messages)", maildrop.messages.len());
                self.maildrop = Some(open);
                AuthVerdict::Ok { user, maildrop }
            }
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "pop3: opening the maildrop failed");
                AuthVerdict::TemporaryFailure
            }
        }
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
                tracing::debug!(peer = %self.peer, tls = ?stream.tls_info(), "pop3: STLS done");
                self.io = Some(IdleTimeout::new(stream, self.limits.idle_timeout));
                true
            }
            Err(e) => {
                tracing::info!(peer = %self.peer, error = %e, "pop3: STLS handshake failed");
                false
            }
        }
    }
}

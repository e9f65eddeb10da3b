//! Binding a listening socket and running its accept loop until shutdown.
//!
//! [`bind`] turns a [`ListenerSpec`] into a [`BoundListener`] (so `127.0.0.1:0` works and the
//! real port can be logged). [`run`] then accepts connections until the shutdown token is
//! cancelled. For each accepted socket it:
//!
//! 1. asks the shared [`ConnectionTracker`] for a permit; on refusal it logs the peer and the
//!    reason and lets [`ConnectionHandler::refuse`] answer (e.g. SMTP `421 4.7.0 Too many
//!    connections from your IP`) in a task of its own;
//! 2. for [`TlsMode::Implicit`], runs the TLS handshake bounded by
//!    [`ConnectionLimits::tls_handshake_timeout`](crate::ConnectionLimits) — in the spawned
//!    task, never in the accept loop, so a slow client cannot stall other clients. A failed
//!    handshake is logged at debug level and the socket dropped;
//! 3. spawns [`ConnectionHandler::handle`] on the [`TaskTracker`].
//!
//! # Graceful shutdown
//!
//! When `shutdown` is cancelled, `run` stops accepting, closes the listening socket and
//! returns. Sessions keep running: each handler receives the same token and should finish the
//! transaction in progress (an SMTP DATA being received, an IMAP APPEND), then say goodbye
//! (SMTP `421 4.3.2 Shutting down`, IMAP `* BYE`) and close. The caller closes the
//! `TaskTracker` and waits for it with a deadline, for instance with [`drain`].
//!
//! Accept errors such as EMFILE (out of file descriptors) are logged and followed by a short
//! pause, so the loop never spins on a persistent error.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::limits::{ConnectionLimits, ConnectionPermit, ConnectionTracker, Refusal};
use crate::stream::{MaybeTlsStream, accept_tls};

/// How long the accept loop pauses after an accept error that may persist (EMFILE, ENOBUFS).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Whether and how a listener speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Cleartext only (e.g. LMTP on a local socket, or port 25 without a certificate).
    Plain,
    /// Cleartext first, upgradable with STARTTLS (SMTP 25/587, IMAP 143, POP3 110).
    StartTls,
    /// TLS from the first byte (RFC 8314: submissions 465, IMAPS 993, POP3S 995).
    Implicit,
}

/// What to listen on: a service name for logs, an address, and the TLS mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// Service name used in logs and errors, e.g. `smtp`, `submission`, `imaps`.
    pub name: String,
    /// Address to bind; port 0 picks a free port (tests, `--dev`).
    pub addr: SocketAddr,
    /// TLS mode of the service.
    pub tls: TlsMode,
}

impl ListenerSpec {
    /// A spec for service `name` on `addr`.
    pub fn new(name: impl Into<String>, addr: SocketAddr, tls: TlsMode) -> Self {
        Self { name: name.into(), addr, tls }
    }
}

/// Errors from binding or starting a listener. Each names the service and the address.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The socket could not be bound (address in use, permission denied for a port below 1024).
    #[error("{service}: cannot listen on {addr}: {source}")]
    Bind {
        /// Service name from the spec.
        service: String,
        /// Address from the spec.
        addr: SocketAddr,
        /// The underlying error.
        source: io::Error,
    },
    /// A STARTTLS or implicit-TLS listener was started without a TLS configuration.
    #[error("{service} on {addr}: TLS mode {mode:?} needs a TLS certificate")]
    TlsMissing {
        /// Service name from the spec.
        service: String,
        /// Bound address.
        addr: SocketAddr,
        /// The mode that needs TLS.
        mode: TlsMode,
    },
}

/// A bound, listening socket with its spec and actual local address.
#[derive(Debug)]
pub struct BoundListener {
    listener: TcpListener,
    spec: ListenerSpec,
    local_addr: SocketAddr,
}

impl BoundListener {
    /// The address actually bound (the real port when the spec asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The spec this listener was bound from.
    pub fn spec(&self) -> &ListenerSpec {
        &self.spec
    }
}

/// Binds the listening socket for `spec`. The error names the service and the address.
pub async fn bind(spec: &ListenerSpec) -> Result<BoundListener, ListenError> {
    let err = |source| ListenError::Bind { service: spec.name.clone(), addr: spec.addr, source };
    let listener = TcpListener::bind(spec.addr).await.map_err(err)?;
    let local_addr = listener.local_addr().map_err(err)?;
    Ok(BoundListener { listener, spec: spec.clone(), local_addr })
}

/// A boxed, sendable future, as returned by [`ConnectionHandler`] methods.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An accepted connection, handed to [`ConnectionHandler::handle`].
pub struct Connection {
    /// The socket; already TLS on an implicit-TLS listener.
    pub stream: MaybeTlsStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address the client connected to.
    pub local: SocketAddr,
    /// Service name of the listener (`smtp`, `imaps`, ...).
    pub listener: Arc<str>,
    /// The connection's slot in the limits; keep it for as long as the session lives.
    pub permit: ConnectionPermit,
    /// The acceptor for STARTTLS; `Some` only on [`TlsMode::StartTls`] listeners, so a driver
    /// advertises STARTTLS exactly when this is set and the stream is not TLS yet.
    pub starttls: Option<TlsAcceptor>,
    /// The limits in force, for the idle and TLS handshake timeouts.
    pub limits: ConnectionLimits,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("stream", &self.stream)
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("listener", &self.listener)
            .field("permit", &self.permit)
            .field("starttls", &self.starttls.is_some())
            .field("limits", &self.limits)
            .finish()
    }
}

/// A connection the limits refused, handed to [`ConnectionHandler::refuse`].
#[derive(Debug)]
pub struct RefusedConnection {
    /// The socket; on an implicit-TLS listener the handshake has been done so the refusal is
    /// readable.
    pub stream: MaybeTlsStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// Service name of the listener.
    pub listener: Arc<str>,
    /// Why it was refused.
    pub reason: Refusal,
}

/// A protocol driver (SMTP, IMAP, POP3, LMTP) as seen by the listener.
///
/// Dyn-compatible without extra crates: methods take `self: Arc<Self>` and return a
/// `'static` boxed future, so the implementation moves the `Arc` into its `async move` block:
///
/// ```
/// # use std::sync::Arc;
/// # use mailstead_net::{BoxFuture, Connection, ConnectionHandler};
/// # use tokio_util::sync::CancellationToken;
/// struct SmtpServer { /* config, store, resolver, ... */ }
///
/// impl SmtpServer {
///     async fn session(&self, conn: Connection, shutdown: CancellationToken) { /* ... */ }
/// }
///
/// impl ConnectionHandler for SmtpServer {
///     fn handle(self: Arc<Self>, conn: Connection, shutdown: CancellationToken) -> BoxFuture {
///         Box::pin(async move { self.session(conn, shutdown).await })
///     }
/// }
/// ```
pub trait ConnectionHandler: Send + Sync + 'static {
    /// Runs one session to its end. Dropping `conn` (or its permit) frees the connection slot.
    ///
    /// When `shutdown` is cancelled, finish the current transaction, send the protocol's
    /// goodbye and return. Never panic on client input; errors end the session.
    fn handle(self: Arc<Self>, conn: Connection, shutdown: CancellationToken) -> BoxFuture;

    /// Answers a connection refused by the limits, then returns (the socket is closed on drop).
    ///
    /// Write one short reply (SMTP `421 4.7.0 ...`, IMAP `* BYE ...`, POP3 `-ERR [SYS/TEMP]
    /// ...`) and do not read. The listener bounds this call by the TLS handshake timeout. The
    /// default closes without a word.
    fn refuse(self: Arc<Self>, refused: RefusedConnection) -> BoxFuture {
        drop(refused);
        Box::pin(async {})
    }
}

/// Accepts connections on `listener` until `shutdown` is cancelled; see the module docs.
///
/// `tls` is required for [`TlsMode::StartTls`] and [`TlsMode::Implicit`] (an error otherwise)
/// and ignored for [`TlsMode::Plain`]. Sessions are spawned on `tasks`; `run` returns once it
/// stops accepting, without waiting for them.
pub async fn run(
    listener: BoundListener,
    tls: Option<TlsAcceptor>,
    tracker: ConnectionTracker,
    handler: Arc<dyn ConnectionHandler>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) -> Result<(), ListenError> {
    let BoundListener { listener, spec, local_addr } = listener;
    let tls = match (spec.tls, tls) {
        (TlsMode::Plain, _) => None,
        (mode, None) => {
            return Err(ListenError::TlsMissing { service: spec.name, addr: local_addr, mode });
        }
        (_, Some(acceptor)) => Some(acceptor),
    };
    let ctx =
        Arc::new(Accepted { name: Arc::from(spec.name.as_str()), mode: spec.tls, tls, tracker, handler });
    tracing::info!(listener = %ctx.name, addr = %local_addr, tls = ?spec.tls, "listening");
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let ctx = Arc::clone(&ctx);
                let shutdown = shutdown.clone();
                tasks.spawn(ctx.serve(tcp, peer, shutdown));
            }
            Err(e) if is_per_connection(&e) => {
                tracing::debug!(listener = %ctx.name, error = %e, "accept failed for one connection");
            }
            Err(e) => {
                tracing::warn!(listener = %ctx.name, error = %e, "accept failed; pausing");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    tracing::info!(listener = %ctx.name, addr = %local_addr, "stopped accepting");
    Ok(())
}

/// Closes `tasks` and waits up to `deadline` for every session to end; true if they all did.
pub async fn drain(tasks: &TaskTracker, deadline: Duration) -> bool {
    tasks.close();
    tokio::time::timeout(deadline, tasks.wait()).await.is_ok()
}

/// Errors that concern only the connection being accepted; retrying at once is right.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    )
}

/// What every accepted connection of one listener needs.
struct Accepted {
    name: Arc<str>,
    mode: TlsMode,
    tls: Option<TlsAcceptor>,
    tracker: ConnectionTracker,
    handler: Arc<dyn ConnectionHandler>,
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted").field("name", &self.name).field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl Accepted {
    /// Everything after `accept()`: limits, implicit TLS, then the handler or its refusal.
    async fn serve(self: Arc<Self>, tcp: TcpStream, peer: SocketAddr, shutdown: CancellationToken) {
        let limits = self.tracker.limits();
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(listener = %self.name, peer = %peer, error = %e, "cannot set TCP_NODELAY");
        }
        let local = match tcp.local_addr() {
            Ok(addr) => addr,
            Err(e) => {
                tracing::debug!(listener = %self.name, peer = %peer, error = %e, "connection gone at accept");
                return;
            }
        };
        let permit = self.tracker.try_acquire(peer.ip());
        if let Err(reason) = &permit {
            tracing::info!(listener = %self.name, peer = %peer.ip(), %reason, "connection refused");
        }
        let Some(stream) = self.secure(tcp, peer, limits.tls_handshake_timeout).await else { return };
        match permit {
            Ok(permit) => {
                let starttls = match self.mode {
                    TlsMode::StartTls => self.tls.clone(),
                    TlsMode::Plain | TlsMode::Implicit => None,
                };
                let listener = Arc::clone(&self.name);
                let conn = Connection { stream, peer, local, listener, permit, starttls, limits };
                Arc::clone(&self.handler).handle(conn, shutdown).await;
            }
            Err(reason) => {
                let refused = RefusedConnection { stream, peer, listener: Arc::clone(&self.name), reason };
                let answer = Arc::clone(&self.handler).refuse(refused);
                if tokio::time::timeout(limits.tls_handshake_timeout, answer).await.is_err() {
                    tracing::debug!(listener = %self.name, peer = %peer, "refusal reply timed out");
                }
            }
        }
    }

    /// The stream as the handler gets it: the TLS handshake done on implicit-TLS listeners.
    async fn secure(&self, tcp: TcpStream, peer: SocketAddr, timeout: Duration) -> Option<MaybeTlsStream> {
        let acceptor = match (self.mode, &self.tls) {
            (TlsMode::Implicit, Some(acceptor)) => acceptor,
            _ => return Some(MaybeTlsStream::Plain(tcp)),
        };
        match accept_tls(tcp, acceptor, timeout).await {
            Ok(stream) => {
                if let Some(info) = stream.tls_info() {
                    tracing::debug!(listener = %self.name, peer = %peer, tls = %info, "TLS established");
                }
                Some(stream)
            }
            Err(e) => {
                tracing::debug!(listener = %self.name, peer = %peer, error = %e, "TLS handshake failed");
                None
            }
        }
    }
}

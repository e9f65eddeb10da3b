//! Network plumbing shared by every Mailstead server: listeners, TLS, STARTTLS and limits.
//!
//! The SMTP (25/587/465), LMTP, IMAP (143/993) and POP3 (110/995) servers all accept TCP
//! connections the same way, so that code lives here once. This crate knows nothing about any
//! mail protocol: it hands a [`Connection`] to a protocol driver (a [`ConnectionHandler`]) and
//! gets out of the way.
//!
//! Main pieces, bottom up:
//!
//! - [`tls`]: self-signed certificate generation, loading PEM certificate/key pairs, an SNI
//!   certificate resolver, the rustls [`ServerConfig`](rustls::ServerConfig) (aws-lc-rs
//!   provider, TLS 1.2 and 1.3) and [`TlsInfo`] for `Received:` headers and logs.
//! - [`stream`]: [`MaybeTlsStream`], a socket that is plain or TLS, with the STARTTLS upgrade.
//! - [`limits`]: [`ConnectionTracker`], the total and per-IP connection limits shared by all
//!   listeners, handing out RAII [`ConnectionPermit`]s.
//! - [`idle`]: [`IdleTimeout`], a stream wrapper that fails a read or write with
//!   [`std::io::ErrorKind::TimedOut`] when the peer makes no progress for a while.
//! - [`listener`]: [`bind`] a [`ListenerSpec`] and [`run`] its accept loop until shutdown.
//!
//! A server is wired like this (error handling elided):
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! # use mailstead_net::*;
//! # use tokio_util::{sync::CancellationToken, task::TaskTracker};
//! # async fn demo(handler: Arc<dyn ConnectionHandler>, key: Arc<rustls::sign::CertifiedKey>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(vec![key])?);
//! let tracker = ConnectionTracker::new(ConnectionLimits::default());
//! let (shutdown, tasks) = (CancellationToken::new(), TaskTracker::new());
//! let spec = ListenerSpec::new("submission", "127.0.0.1:0".parse()?, TlsMode::StartTls);
//! let listener = bind(&spec).await?;
//! tokio::spawn(run(listener, Some(acceptor), tracker, handler, shutdown.clone(), tasks.clone()));
//! // ... on SIGTERM:
//! shutdown.cancel();
//! drain(&tasks, Duration::from_secs(30)).await;
//! # Ok(()) }
//! ```

pub mod idle;
pub mod limits;
pub mod listener;
pub mod stream;
pub mod tls;

pub use idle::IdleTimeout;
pub use limits::{ConnectionLimits, ConnectionPermit, ConnectionTracker, Refusal};
pub use listener::{
    BoundListener, BoxFuture, Connection, ConnectionHandler, ListenError, ListenerSpec, RefusedConnection,
    TlsMode, bind, drain, run,
};
pub use stream::{MaybeTlsStream, StartTlsError, accept_tls, discard_buffered};
pub use tls::{TlsError, TlsInfo};

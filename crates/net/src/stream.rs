//! A connection that is plaintext or TLS, and the STARTTLS upgrade between the two.
//!
//! [`MaybeTlsStream`] lets a protocol driver read and write without caring whether the
//! listener was plaintext, implicit TLS (465/993/995) or upgraded by STARTTLS (RFC 3207,
//! RFC 2595). [`MaybeTlsStream::start_tls`] performs the upgrade with a bounded handshake.
//!
//! # Invariant: nothing read before STARTTLS survives it
//!
//! Bytes the client sent after the STARTTLS command but before the handshake were sent in
//! plaintext and could have been injected by an attacker (CVE-2011-0411). A driver must throw
//! away everything it buffered from the plaintext phase — its line buffer, a [`BufReader`]'s
//! buffer, any parsed-but-unprocessed pipelined commands — before upgrading, and must reset the
//! protocol state learned before TLS (RFC 3207 §4.2: EHLO again, forget AUTH/MAIL). With a
//! tokio [`BufReader`], [`discard_buffered`] does the first part.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::tls::TlsInfo;

/// A server-side TCP connection, plaintext or TLS.
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// Plaintext: a cleartext port, or a STARTTLS port before the upgrade.
    Plain(TcpStream),
    /// TLS: an implicit-TLS port, or after STARTTLS. Boxed: the TLS state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

/// Why [`MaybeTlsStream::start_tls`] or [`accept_tls`] failed. The connection is gone either way.
#[derive(Debug, thiserror::Error)]
pub enum StartTlsError {
    /// The stream is already TLS; a second STARTTLS is a protocol error the driver should have
    /// answered itself (check [`MaybeTlsStream::is_tls`] first).
    #[error("connection is already using TLS")]
    AlreadyTls,
    /// The client did not complete the handshake in time.
    #[error("TLS handshake timed out after {0:?}")]
    Timeout(Duration),
    /// The handshake failed (no shared cipher, bad record, connection closed, ...).
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] io::Error),
}

impl MaybeTlsStream {
    /// True once the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The negotiated TLS parameters, or `None` for a plaintext connection.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(tls) => TlsInfo::from_connection(tls.get_ref().1),
        }
    }

    /// The underlying TCP socket (for peer/local addresses or socket options).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Upgrades a plaintext connection to TLS (STARTTLS), the handshake bounded by `timeout`.
    ///
    /// Call it after sending the protocol's "go ahead" reply (SMTP `220 2.0.0 Ready to start
    /// TLS`, IMAP `OK Begin TLS negotiation now`, POP3 `+OK Begin TLS negotiation`) and after
    /// discarding every byte buffered from the plaintext phase (see the module documentation).
    pub async fn start_tls(self, acceptor: &TlsAcceptor, timeout: Duration) -> Result<Self, StartTlsError> {
        match self {
            Self::Plain(tcp) => accept_tls(tcp, acceptor, timeout).await,
            Self::Tls(_) => Err(StartTlsError::AlreadyTls),
        }
    }
}

/// Runs the server side of a TLS handshake on `tcp`, bounded by `timeout`.
///
/// Used for implicit-TLS listeners and by [`MaybeTlsStream::start_tls`].
pub async fn accept_tls(
    tcp: TcpStream,
    acceptor: &TlsAcceptor,
    timeout: Duration,
) -> Result<MaybeTlsStream, StartTlsError> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Ok(MaybeTlsStream::Tls(Box::new(tls))),
        Ok(Err(e)) => Err(StartTlsError::Handshake(e)),
        Err(_) => Err(StartTlsError::Timeout(timeout)),
    }
}

/// Unwraps a [`BufReader`] and drops whatever it had buffered; returns the stream and how many
/// bytes were thrown away.
///
/// Use it right before [`MaybeTlsStream::start_tls`]: those bytes were pipelined after the
/// STARTTLS command in plaintext and must not be executed inside the TLS session
/// (CVE-2011-0411). A non-zero count is worth a log line: honest clients never do this.
pub fn discard_buffered<S: AsyncRead>(reader: BufReader<S>) -> (S, usize) {
    let discarded = reader.buffer().len();
    (reader.into_inner(), discarded)
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

//! Idle timeouts as a stream wrapper, so every protocol driver enforces them the same way.
//!
//! [`IdleTimeout`] wraps any `AsyncRead + AsyncWrite` (normally a
//! [`MaybeTlsStream`](crate::MaybeTlsStream)). A read that gets no byte for the timeout fails
//! with [`io::ErrorKind::TimedOut`]; so does a write, flush or shutdown the peer does not
//! drain (a client that stops reading must not pin a session forever).
//!
//! The clock starts when an operation starts waiting, not at the last byte: time the server
//! spends working between two reads (a slow delivery, a spam scan) never counts against the
//! client. Reads and writes have separate clocks.
//!
//! A driver typically wraps the stream once, reads with `BufReader`, and on `TimedOut` sends
//! its goodbye (SMTP `421 4.4.2 Idle timeout`, IMAP `* BYE Autologout`) and closes. For
//! STARTTLS it takes the stream out with [`IdleTimeout::into_inner`], upgrades, and wraps again.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A stream whose reads and writes fail with [`io::ErrorKind::TimedOut`] after `timeout` without
/// progress. See the [module documentation](self).
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    timeout: Duration,
    read: Clock,
    write: Clock,
}

/// A deadline armed when an operation first returns `Pending` and disarmed by any progress.
#[derive(Debug, Default)]
struct Clock {
    /// Created lazily: `tokio::time::sleep` needs a runtime, `IdleTimeout::new` does not.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Clock {
    /// Called when the inner operation is pending: `Ready` once `timeout` has passed.
    fn poll_expired(&mut self, cx: &mut Context<'_>, timeout: Duration) -> Poll<()> {
        if !self.armed {
            let deadline = Instant::now() + timeout;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl<S> IdleTimeout<S> {
    /// Wraps `inner` with the given idle timeout.
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self { inner, timeout, read: Clock::default(), write: Clock::default() }
    }

    /// The current timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the timeout from the next wait on, e.g. per protocol state (RFC 5321 §4.5.3.2
    /// gives different server timeouts for commands and for DATA blocks).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.read.disarm();
        self.write.disarm();
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the stream (e.g. for STARTTLS).
    pub fn into_inner(self) -> S {
        self.inner
    }
}

fn timed_out(what: &str, timeout: Duration) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("no {what} progress for {timeout:?}"))
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read.disarm();
                Poll::Ready(result)
            }
            Poll::Pending => match this.read.poll_expired(cx, this.timeout) {
                Poll::Ready(()) => Poll::Ready(Err(timed_out("read", this.timeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> IdleTimeout<S> {
    /// Runs one write-side poll of the inner stream under the write clock.
    fn poll_write_side<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match op(Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => {
                self.write.disarm();
                Poll::Ready(result)
            }
            Poll::Pending => match self.write.poll_expired(cx, self.timeout) {
                Poll::Ready(()) => Poll::Ready(Err(timed_out("write", self.timeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_side(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_side(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_side(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_side(cx, |s, cx| s.poll_shutdown(cx))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn silent_peer_times_out_and_talking_peer_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, Duration::from_millis(100));
        let mut client = client;
        let talker = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                client.write_all(b"x").await.unwrap();
            }
            client // kept open but silent from now on
        });
        let mut buf = [0u8; 1];
        for _ in 0..4 {
            server.read_exact(&mut buf).await.unwrap();
        }
        let _client = talker.await.unwrap();
        let started = std::time::Instant::now();
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(90), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn peer_that_does_not_read_times_out_the_writer() {
        let (_client, server) = tokio::io::duplex(16);
        let mut server = IdleTimeout::new(server, Duration::from_millis(100));
        let err = server.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}

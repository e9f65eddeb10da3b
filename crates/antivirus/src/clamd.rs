//! A small client for ClamAV's `clamd`: `INSTREAM` scans and the `PING` health check, over a
//! unix socket or TCP.
//!
//! The protocol is ClamAV's own (no RFC); it is described in `clamd(8)`, section COMMANDS:
//!
//! * Commands prefixed with `z` are NUL-terminated, and so is clamd's reply to them.
//! * `zINSTREAM\0`, then the data as chunks: a 4-byte unsigned length in network byte order
//!   followed by that many bytes; a zero-length chunk ends the stream. The reply is
//!   `stream: OK`, `stream: <Signature> FOUND` or `<text> ERROR`.
//! * clamd refuses streams longer than its `StreamMaxLength` (default 25 MiB) with
//!   `INSTREAM size limit exceeded. ERROR` and closes the connection, so we refuse larger input
//!   up front ([`ClamdVerdict::TooLarge`]) instead of sending megabytes for nothing.
//! * `zPING\0` is answered with `PONG`.
//!
//! Invariants: every network step has a timeout, a reply is read up to a fixed size, and no
//! failure panics: anything that keeps us from a verdict is [`ClamdVerdict::Unavailable`] with
//! the reason, so the caller decides between fail-open and fail-closed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::timeout;

/// Size of one `INSTREAM` chunk. clamd accepts any chunk size up to `StreamMaxLength`.
const CHUNK: usize = 64 * 1024;
/// Longest reply we read: a verdict line is short, anything longer is not clamd.
const MAX_REPLY: usize = 4096;
/// clamd's reply when a stream exceeds `StreamMaxLength` (clamd(8), INSTREAM).
const SIZE_LIMIT_REPLY: &str = "INSTREAM size limit exceeded";

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddr {
    /// A unix domain socket (clamd.conf `LocalSocket`).
    Unix(PathBuf),
    /// `host:port` (clamd.conf `TCPSocket` and `TCPAddr`).
    Tcp(String),
}

impl ClamdAddr {
    /// Parses a config value: an absolute path or `unix:PATH` is a unix socket, anything else
    /// must be `host:port`.
    pub fn parse(s: &str) -> Result<Self, AddrError> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if s.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(s)));
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Self::Tcp(s.to_string()))
            }
            _ => Err(AddrError(s.to_string())),
        }
    }
}

impl fmt::Display for ClamdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Tcp(a) => f.write_str(a),
        }
    }
}

/// A clamd address that is neither a socket path nor `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("clamd address {0:?} is neither a socket path (/path, unix:/path) nor host:port")]
pub struct AddrError(pub String);

/// How to reach clamd and how long to wait for it.
#[derive(Debug, Clone)]
pub struct ClamdConfig {
    /// The socket.
    pub addr: ClamdAddr,
    /// Limit for connecting.
    pub connect_timeout: Duration,
    /// Limit for sending the data and for clamd's verdict after the last chunk (scanning a
    /// large archive takes clamd a while).
    pub scan_timeout: Duration,
    /// Longest input we send; keep it at or below clamd.conf `StreamMaxLength` (25 MiB by
    /// default there).
    pub max_stream_len: usize,
}

impl ClamdConfig {
    /// clamd's defaults: 25 MiB streams, a 5 s connect and a 60 s scan limit.
    pub fn new(addr: ClamdAddr) -> Self {
        Self {
            addr,
            connect_timeout: Duration::from_secs(5),
            scan_timeout: Duration::from_secs(60),
            max_stream_len: 25 * 1024 * 1024,
        }
    }
}

/// What clamd said about one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdVerdict {
    /// `stream: OK`.
    Clean,
    /// `stream: <signature> FOUND`. Signature names from custom databases carry a suffix
    /// such as `.UNOFFICIAL`: match them by prefix, never exactly.
    Infected {
        /// The signature name as clamd reported it.
        signature: String,
    },
    /// No verdict: clamd unreachable, timed out, answered an error or garbage.
    Unavailable {
        /// What went wrong, for the log.
        reason: String,
    },
    /// The input is longer than [`ClamdConfig::max_stream_len`] (or clamd's own
    /// `StreamMaxLength`): not scanned.
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
}

/// Anything that carries the clamd conversation.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// A clamd client. Cheap to clone; every call opens its own connection (clamd handles one
/// command per connection unless IDSESSION is used, which we do not need).
#[derive(Debug, Clone)]
pub struct Clamd {
    config: ClamdConfig,
}

impl Clamd {
    /// A client for the configured clamd. Does no I/O.
    pub fn new(config: ClamdConfig) -> Self {
        Self { config }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClamdConfig {
        &self.config
    }

    /// `zPING`: `Ok(())` when clamd answers `PONG`, else why not.
    pub async fn ping(&self) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let exchange = async {
            conn.write_all(b"zPING\0").await.map_err(io_reason("send PING"))?;
            read_reply(&mut conn).await
        };
        let reply = timeout(self.config.scan_timeout, exchange).await.map_err(|_| {
            format!("no PONG from {} within {:?}", self.config.addr, self.config.scan_timeout)
        })??;
        if reply == "PONG" { Ok(()) } else { Err(format!("unexpected reply to PING: {reply:?}")) }
    }

    /// Scans `data` with `zINSTREAM`.
    pub async fn scan(&self, data: &[u8]) -> ClamdVerdict {
        let limit = self.config.max_stream_len;
        if data.len() > limit {
            return ClamdVerdict::TooLarge { size: data.len(), limit };
        }
        let mut conn = match self.connect().await {
            Ok(c) => c,
            Err(reason) => return ClamdVerdict::Unavailable { reason },
        };
        let exchange = async {
            let sent = send_stream(&mut conn, data).await;
            match (sent, read_reply(&mut conn).await) {
                (_, Ok(reply)) => Ok(reply),
                // clamd may answer and close early (size limit): its reply wins over our
                // failed write.
                (Err(write), Err(_)) => Err(write),
                (Ok(()), Err(read)) => Err(read),
            }
        };
        match timeout(self.config.scan_timeout, exchange).await {
            Err(_) => ClamdVerdict::Unavailable {
                reason: format!("no verdict from {} within {:?}", self.config.addr, self.config.scan_timeout),
            },
            Ok(Err(reason)) => ClamdVerdict::Unavailable { reason },
            Ok(Ok(reply)) => parse_reply(&reply, data.len(), limit),
        }
    }

    async fn connect(&self) -> Result<Box<dyn Conn>, String> {
        let addr = &self.config.addr;
        let connect = async {
            let conn: Box<dyn Conn> = match addr {
                ClamdAddr::Unix(path) => Box::new(UnixStream::connect(path).await?),
                ClamdAddr::Tcp(hostport) => Box::new(TcpStream::connect(hostport.as_str()).await?),
            };
            Ok::<_, std::io::Error>(conn)
        };
        match timeout(self.config.connect_timeout, connect).await {
            Err(_) => Err(format!("connecting to clamd at {addr} timed out")),
            Ok(Err(e)) => Err(format!("cannot connect to clamd at {addr}: {e}")),
            Ok(Ok(c)) => Ok(c),
        }
    }
}

/// Sends `zINSTREAM` and the data as chunks (clamd(8): "<length><data>", the length as a
/// 4-byte unsigned integer in network byte order), then the terminating zero-length chunk.
async fn send_stream(conn: &mut (impl AsyncWrite + Unpin + ?Sized), data: &[u8]) -> Result<(), String> {
    conn.write_all(b"zINSTREAM\0").await.map_err(io_reason("send INSTREAM"))?;
    for chunk in data.chunks(CHUNK) {
        let len = u32::try_from(chunk.len()).map_err(|_| "chunk too long".to_string())?;
        conn.write_all(&len.to_be_bytes()).await.map_err(io_reason("send chunk"))?;
        conn.write_all(chunk).await.map_err(io_reason("send chunk"))?;
    }
    conn.write_all(&0u32.to_be_bytes()).await.map_err(io_reason("end stream"))?;
    conn.flush().await.map_err(io_reason("flush"))
}

fn io_reason(step: &'static str) -> impl Fn(std::io::Error) -> String {
    move |e| format!("clamd: {step}: {e}")
}

/// Reads one NUL-terminated reply (or up to EOF), at most [`MAX_REPLY`] bytes.
async fn read_reply(conn: &mut (impl AsyncRead + Unpin + ?Sized)) -> Result<String, String> {
    let mut buf = Vec::with_capacity(128);
    let mut byte = [0u8; 512];
    loop {
        let n = conn.read(&mut byte).await.map_err(io_reason("read reply"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&byte[..n]);
        if let Some(end) = memchr::memchr(0, &buf) {
            buf.truncate(end);
            break;
        }
        if buf.len() > MAX_REPLY {
            return Err("clamd reply too long".to_string());
        }
    }
    if buf.is_empty() {
        return Err("clamd closed the connection without a reply".to_string());
    }
    Ok(String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string())
}

/// Interprets an `INSTREAM` reply (clamd(8)): `stream: OK`, `stream: NAME FOUND`,
/// `... ERROR`.
pub(crate) fn parse_reply(reply: &str, size: usize, limit: usize) -> ClamdVerdict {
    if reply.starts_with(SIZE_LIMIT_REPLY) {
        return ClamdVerdict::TooLarge { size, limit };
    }
    let Some(rest) = reply.strip_prefix("stream:") else {
        return ClamdVerdict::Unavailable { reason: format!("unexpected clamd reply: {reply:?}") };
    };
    let rest = rest.trim();
    if rest == "OK" {
        return ClamdVerdict::Clean;
    }
    if let Some(name) = rest.strip_suffix(" FOUND") {
        let signature = name.trim();
        if !signature.is_empty() {
            return ClamdVerdict::Infected { signature: signature.to_string() };
        }
    }
    ClamdVerdict::Unavailable { reason: format!("clamd: {rest}") }
}

#[cfg(test)]
mod tests;

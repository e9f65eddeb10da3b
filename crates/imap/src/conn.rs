//! One IMAP connection's bytes: reading commands (lines and literals) with every limit
//! applied, writing responses, STARTTLS and COMPRESS=DEFLATE.
//!
//! # Implementation notes
//! - imap-codec's `Fragmentizer` splits input into lines and literals before any parsing, so a
//!   malformed command is skipped at a clear boundary and literal bytes are never read as
//!   commands. The session decides per command what literal size is acceptable: APPEND up to
//!   APPENDLIMIT, anything else up to a few KiB.
//! - A synchronizing literal (`{n}`) gets `+ Ready` only after its size was accepted; a refused
//!   one gets a tagged `NO [TOOBIG]`/`BAD` and the client does not send it (RFC 9051 §7.5).
//!   A refused non-synchronizing literal (`{n+}`, RFC 7888) is read and thrown away.
//! - Output accumulates in `out` and is written by [`Conn::flush`]; with COMPRESS active it
//!   is deflated with a sync flush each time, so the client can always decode what it has.

use std::io;
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_types::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::reader::{CommandReader, Step};
pub use crate::reader::{Input, LiteralPolicy};
use mailstead_net::{IdleTimeout, MaybeTlsStream, StartTlsError};

/// Size of one socket read.
const READ_CHUNK: usize = 16 * 1024;
/// Read buffer of an idle TLS connection (commands are short; a full read switches to
/// [`READ_CHUNK`]).
const IDLE_TLS_READ: usize = 2048;
/// Output buffer capacity kept between commands.
const IDLE_OUT_CAPACITY: usize = 16 * 1024;
/// Output above this size is written out even in the middle of a command (a large FETCH).
pub const FLUSH_THRESHOLD: usize = 256 * 1024;

/// One raw line (IDLE's `DONE`, an AUTHENTICATE response), without its line end.
#[derive(Debug)]
pub enum Line {
    /// The line's bytes.
    Text(Vec<u8>),
    /// Same meanings as in [`Input`].
    Closed,
    /// Same meanings as in [`Input`].
    TimedOut,
    /// Same meanings as in [`Input`].
    Failed(io::Error),
    /// Over the line length limit.
    TooLong,
}

/// The connection: stream, input splitter, output buffer, compression.
pub struct Conn {
    io: Option<IdleTimeout<MaybeTlsStream>>,
    reader: CommandReader,
    /// Pending output.
    pub out: Vec<u8>,
    /// The last read filled its buffer: more may be waiting inside TLS.
    more_pending: bool,
    inflate: Option<Decompress>,
    deflate: Option<Compress>,
}

impl Conn {
    /// A connection over `stream`.
    pub fn new(stream: MaybeTlsStream, timeout: Duration, policy: &LiteralPolicy) -> Conn {
        Conn {
            io: Some(IdleTimeout::new(stream, timeout)),
            reader: CommandReader::new(policy),
            out: Vec::with_capacity(1024),
            more_pending: false,
            inflate: None,
            deflate: None,
        }
    }

    /// Whether the stream is TLS.
    pub fn is_tls(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.get_ref().is_tls())
    }

    /// Changes the inactivity timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        if let Some(io) = self.io.as_mut() {
            io.set_timeout(timeout);
        }
    }

    /// Queues one response.
    pub fn send(&mut self, response: &Response<'_>) {
        let bytes = ResponseCodec::default().encode(response).dump();
        self.out.extend_from_slice(&bytes);
    }

    /// Queues a raw line (without CRLF) for responses imap-codec cannot express.
    pub fn send_line(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Writes pending output.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.out);
        let data = match self.deflate.as_mut() {
            Some(deflate) => compress(deflate, &data)?,
            None => data,
        };
        let io = self.io.as_mut().ok_or_else(|| io::Error::other("connection closed"))?;
        io.write_all(&data).await?;
        io.flush().await?;
        self.out = data;
        self.out.clear();
        if self.out.capacity() > IDLE_OUT_CAPACITY {
            // Do not keep a large FETCH's buffer for the rest of the session.
            self.out = Vec::with_capacity(1024);
        }
        Ok(())
    }

    /// Writes pending output if it has grown large (inside long FETCH responses).
    pub async fn flush_if_large(&mut self) -> io::Result<()> {
        if self.out.len() >= FLUSH_THRESHOLD { self.flush().await } else { Ok(()) }
    }

    /// Reads socket bytes into the command reader. `Ok(false)` when the client closed.
    ///
    /// An idle connection holds little memory while it waits. A plaintext one holds no read
    /// buffer: it first waits for the socket to become readable (bounded by the idle timeout)
    /// and only then allocates one. TLS may already hold received bytes that the socket no
    /// longer shows (rustls reads whole records, e.g. a command sent right behind the
    /// handshake), so a TLS connection never waits on the socket: it waits in a small read
    /// instead, and reads in full-size chunks while the previous read filled its buffer.
    async fn fill(&mut self) -> io::Result<bool> {
        let io = self.io.as_mut().ok_or_else(|| io::Error::other("connection closed"))?;
        let tls = io.get_ref().is_tls();
        if !self.more_pending && !tls {
            let timeout = io.timeout();
            match tokio::time::timeout(timeout, io.get_ref().tcp().readable()).await {
                Ok(ready) => ready?,
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "client idle")),
            }
        }
        let size = if self.more_pending || !tls { READ_CHUNK } else { IDLE_TLS_READ };
        let mut buf = vec![0u8; size];
        let n = io.read(&mut buf).await?;
        self.more_pending = n == size;
        if n == 0 {
            return Ok(false);
        }
        let chunk = &buf[..n];
        match self.inflate.as_mut() {
            Some(inflate) => {
                let plain = decompress(inflate, chunk)?;
                self.reader.enqueue(&plain);
            }
            None => self.reader.enqueue(chunk),
        }
        Ok(true)
    }

    /// Reads the next command.
    pub async fn next_command(&mut self, policy: &LiteralPolicy) -> Input {
        loop {
            match self.reader.poll(policy) {
                Step::Ready(input) => return input,
                Step::Continue => {
                    self.send_line("+ Ready for literal data");
                    if let Err(e) = self.flush().await {
                        return Input::Failed(e);
                    }
                }
                Step::NeedMore => match self.fill().await {
                    Ok(true) => {}
                    Ok(false) => return Input::Closed,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Input::TimedOut,
                    Err(e) => return Input::Failed(e),
                },
            }
        }
    }

    /// Reads one raw line (IDLE `DONE`, AUTHENTICATE responses).
    pub async fn next_line(&mut self, max: usize) -> Line {
        loop {
            match self.reader.poll_line(max) {
                Some(Ok(line)) => return Line::Text(line),
                Some(Err(())) => return Line::TooLong,
                None => match self.fill().await {
                    Ok(true) => {}
                    Ok(false) => return Line::Closed,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Line::TimedOut,
                    Err(e) => return Line::Failed(e),
                },
            }
        }
    }

    /// STARTTLS: discards everything buffered (RFC 3501 §6.2.1, CVE-2011-0411) and upgrades.
    pub async fn start_tls(
        &mut self,
        acceptor: &TlsAcceptor,
        timeout: Duration,
    ) -> Result<(), StartTlsError> {
        self.reader.discard();
        let io = self.io.take().ok_or(StartTlsError::AlreadyTls)?;
        let idle = io.timeout();
        let stream = io.into_inner().start_tls(acceptor, timeout).await?;
        self.io = Some(IdleTimeout::new(stream, idle));
        Ok(())
    }

    /// Restores the fragmentizer ceiling after STARTTLS.
    pub fn reset_limits(&mut self, policy: &LiteralPolicy) {
        self.reader = CommandReader::new(policy);
    }

    /// COMPRESS=DEFLATE (RFC 4978): from the next byte on, both directions are raw deflate.
    /// Call after the tagged OK was flushed. Input already buffered was sent uncompressed by a
    /// client that did not wait, which RFC 4978 forbids; it is dropped.
    pub fn start_deflate(&mut self) {
        self.inflate = Some(Decompress::new(false));
        self.deflate = Some(Compress::new(Compression::fast(), false));
    }

    /// Whether COMPRESS is active.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// Closes the connection (best effort).
    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        if let Some(io) = self.io.as_mut() {
            let _ = io.shutdown().await;
        }
    }
}

fn compress(deflate: &mut Compress, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut input = data;
    loop {
        out.reserve(4096);
        let before_in = deflate.total_in();
        let status = deflate.compress_vec(input, &mut out, FlushCompress::Sync).map_err(io::Error::other)?;
        let used = usize::try_from(deflate.total_in() - before_in).unwrap_or(input.len());
        input = &input[used.min(input.len())..];
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(out);
        }
        if status == Status::StreamEnd {
            return Ok(out);
        }
    }
}

/// Most bytes one compressed read may expand to (a deflate bomb stops here).
const MAX_INFLATE: usize = 4 * 1024 * 1024;

fn decompress(inflate: &mut Decompress, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 4 + 64);
    let mut input = data;
    loop {
        out.reserve(16 * 1024);
        let before_in = inflate.total_in();
        inflate
            .decompress_vec(input, &mut out, FlushDecompress::Sync)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let used = usize::try_from(inflate.total_in() - before_in).unwrap_or(input.len());
        input = &input[used.min(input.len())..];
        if out.len() > MAX_INFLATE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "compressed input expands too much"));
        }
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trip() {
        let mut c = Compress::new(Compression::fast(), false);
        let mut d = Decompress::new(false);
        let text = b"* 1 FETCH (FLAGS (\\Seen))\r\n".repeat(1000);
        let packed = compress(&mut c, &text).unwrap_or_default();
        assert!(packed.len() < text.len() / 10);
        assert_eq!(decompress(&mut d, &packed).unwrap_or_default(), text);
        let again = compress(&mut c, b"A1 OK done\r\n").unwrap_or_default();
        assert_eq!(decompress(&mut d, &again).unwrap_or_default(), b"A1 OK done\r\n");
    }
}

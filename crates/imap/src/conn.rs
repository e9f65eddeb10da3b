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
use imap_codec::CommandCodec;
use imap_codec::ResponseCodec;
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::fragmentizer::{DecodeMessageError, FragmentInfo, Fragmentizer, LineEnding};
use imap_types::IntoStatic;
use imap_types::command::Command;
use imap_types::core::{LiteralMode, Tag};
use imap_types::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::extended::Extra;
use mailstead_net::{IdleTimeout, MaybeTlsStream, StartTlsError};

/// Size of one socket read.
const READ_CHUNK: usize = 16 * 1024;
/// Output above this size is written out even in the middle of a command (a large FETCH).
pub const FLUSH_THRESHOLD: usize = 256 * 1024;

/// What the reader produced.
#[derive(Debug)]
pub enum Input {
    /// A complete, well-formed command, with options imap-codec cannot carry.
    Command(Command<'static>, Extra),
    /// A complete message that is not a valid command; the tag if one could be read.
    Bad { tag: Option<Tag<'static>>, reason: &'static str },
    /// A line went past the limit without ending: the connection cannot be resynchronised.
    Overflow,
    /// The client closed the connection.
    Closed,
    /// No input within the idle timeout.
    TimedOut,
    /// Reading failed.
    Failed(io::Error),
}

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

/// Literal limits for the command being read.
#[derive(Debug, Clone, Copy)]
pub struct LiteralPolicy {
    /// Largest literal in an APPEND command.
    pub append_limit: u32,
    /// Largest literal elsewhere.
    pub small_limit: u32,
    /// Most literals per command.
    pub max_literals: usize,
    /// Longest line.
    pub max_line: usize,
}

/// The connection: stream, input splitter, output buffer, compression.
pub struct Conn {
    io: Option<IdleTimeout<MaybeTlsStream>>,
    frag: Fragmentizer,
    /// Pending output.
    pub out: Vec<u8>,
    read_buf: Vec<u8>,
    inflate: Option<Decompress>,
    deflate: Option<Compress>,
    /// State of the message being read.
    literals: usize,
    refused: Option<&'static str>,
    /// Where the current fragment starts in the message buffer.
    fragment_start: usize,
}

impl Conn {
    /// A connection over `stream`; the fragmentizer's ceiling is the append limit plus room
    /// for the command line.
    pub fn new(stream: MaybeTlsStream, timeout: Duration, policy: &LiteralPolicy) -> Conn {
        let ceiling = policy.append_limit.saturating_add(u32::try_from(policy.max_line).unwrap_or(u32::MAX));
        Conn {
            io: Some(IdleTimeout::new(stream, timeout)),
            frag: Fragmentizer::new(ceiling),
            out: Vec::with_capacity(1024),
            read_buf: Vec::new(),
            inflate: None,
            deflate: None,
            literals: 0,
            refused: None,
            fragment_start: 0,
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
        if self.out.capacity() > FLUSH_THRESHOLD * 2 {
            self.out = Vec::with_capacity(1024);
        }
        Ok(())
    }

    /// Writes pending output if it has grown large (inside long FETCH responses).
    pub async fn flush_if_large(&mut self) -> io::Result<()> {
        if self.out.len() >= FLUSH_THRESHOLD { self.flush().await } else { Ok(()) }
    }

    /// Whether input is buffered (pipelined commands already received).
    pub fn has_buffered_input(&self) -> bool {
        !self.read_buf.is_empty()
    }

    /// Reads socket bytes into the fragmentizer. `Ok(false)` when the client closed.
    async fn fill(&mut self) -> io::Result<bool> {
        let io = self.io.as_mut().ok_or_else(|| io::Error::other("connection closed"))?;
        self.read_buf.resize(READ_CHUNK, 0);
        let n = io.read(&mut self.read_buf).await?;
        if n == 0 {
            self.read_buf.clear();
            return Ok(false);
        }
        let chunk = &self.read_buf[..n];
        match self.inflate.as_mut() {
            Some(inflate) => {
                let plain = decompress(inflate, chunk)?;
                self.frag.enqueue_bytes(&plain);
            }
            None => self.frag.enqueue_bytes(chunk),
        }
        self.read_buf.clear();
        Ok(true)
    }

    /// Reads the next command.
    pub async fn next_command(&mut self, policy: &LiteralPolicy) -> Input {
        loop {
            let Some(fragment) = self.frag.progress() else {
                if self.frag.message_bytes().len().saturating_sub(self.fragment_start) > policy.max_line {
                    return Input::Overflow;
                }
                match self.fill().await {
                    Ok(true) => continue,
                    Ok(false) => return Input::Closed,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Input::TimedOut,
                    Err(e) => return Input::Failed(e),
                }
            };
            if let Some(early) = self.check_fragment(fragment, policy).await {
                return early;
            }
            self.fragment_start = fragment.range().end;
            if self.frag.is_message_complete() {
                let refused = self.refused.take();
                self.literals = 0;
                self.fragment_start = 0;
                if let Some(reason) = refused {
                    let tag = self.frag.decode_tag().map(IntoStatic::into_static);
                    return Input::Bad { tag, reason };
                }
                if let Some((rewritten, extra)) = crate::extended::rewrite(self.frag.message_bytes()) {
                    return match CommandCodec::default().decode(&rewritten) {
                        Ok((b"", command)) => Input::Command(command.into_static(), extra),
                        _ => Input::Bad {
                            tag: self.frag.decode_tag().map(IntoStatic::into_static),
                            reason: "syntax error in command",
                        },
                    };
                }
                return match self.frag.decode_message(&CommandCodec::default()) {
                    Ok(command) => Input::Command(command.into_static(), Extra::None),
                    Err(DecodeMessageError::MessageTooLong { .. }) => Input::Bad {
                        tag: self.frag.decode_tag().map(IntoStatic::into_static),
                        reason: "command too long",
                    },
                    Err(_) => Input::Bad {
                        tag: self.frag.decode_tag().map(IntoStatic::into_static),
                        reason: "syntax error in command",
                    },
                };
            }
        }
    }

    /// Applies the limits to one fragment. Returns an input to hand back at once (a refused
    /// synchronizing literal), or `None` to go on.
    async fn check_fragment(&mut self, fragment: FragmentInfo, policy: &LiteralPolicy) -> Option<Input> {
        let FragmentInfo::Line { start, end, announcement, ending } = fragment else {
            return None;
        };
        if end - start > policy.max_line {
            self.refused.get_or_insert("command line too long");
        }
        if ending == LineEnding::Lf {
            // Bare LF: tolerated (many scripts send it), as Dovecot does.
        }
        let announcement = announcement?;
        self.literals += 1;
        let is_append = is_append(self.frag.message_bytes());
        let limit = if is_append { policy.append_limit } else { policy.small_limit };
        let reason = if self.literals > policy.max_literals {
            Some("too many literals in one command")
        } else if announcement.length > limit {
            Some(if is_append { "message larger than APPENDLIMIT" } else { "literal too large" })
        } else {
            self.refused
        };
        match (reason, announcement.mode) {
            (None, LiteralMode::Sync) => {
                self.send_line("+ Ready for literal data");
                if let Err(e) = self.flush().await {
                    return Some(Input::Failed(e));
                }
                None
            }
            (None, LiteralMode::NonSync) => None,
            (Some(reason), LiteralMode::Sync) => {
                // The client waits for our go-ahead, which it will not get: the command ends here.
                let tag = self.frag.decode_tag().map(IntoStatic::into_static);
                self.frag.skip_message();
                self.literals = 0;
                self.refused = None;
                self.fragment_start = 0;
                Some(Input::Bad { tag, reason })
            }
            (Some(reason), LiteralMode::NonSync) => {
                // RFC 7888 §4: the data comes anyway; read and discard it.
                self.refused = Some(reason);
                self.frag.poison_message();
                None
            }
        }
    }

    /// Reads one raw line (IDLE `DONE`, AUTHENTICATE responses).
    pub async fn next_line(&mut self, max: usize) -> Line {
        loop {
            let Some(fragment) = self.frag.progress() else {
                if self.frag.message_bytes().len() > max {
                    return Line::TooLong;
                }
                match self.fill().await {
                    Ok(true) => continue,
                    Ok(false) => return Line::Closed,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Line::TimedOut,
                    Err(e) => return Line::Failed(e),
                }
            };
            if let FragmentInfo::Line { start, end, announcement, .. } = fragment {
                if announcement.is_some() {
                    // A literal where a plain line was due: drop the whole message.
                    self.frag.skip_message();
                    return Line::TooLong;
                }
                if end - start > max {
                    return Line::TooLong;
                }
                let mut line = self.frag.fragment_bytes(fragment).to_vec();
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                return Line::Text(line);
            }
        }
    }

    /// STARTTLS: discards everything buffered (RFC 3501 §6.2.1, CVE-2011-0411) and upgrades.
    pub async fn start_tls(
        &mut self,
        acceptor: &TlsAcceptor,
        timeout: Duration,
    ) -> Result<(), StartTlsError> {
        self.frag = Fragmentizer::new(u32::MAX / 2);
        let io = self.io.take().ok_or(StartTlsError::AlreadyTls)?;
        let idle = io.timeout();
        let stream = io.into_inner().start_tls(acceptor, timeout).await?;
        self.io = Some(IdleTimeout::new(stream, idle));
        Ok(())
    }

    /// Restores the fragmentizer ceiling after STARTTLS.
    pub fn reset_limits(&mut self, policy: &LiteralPolicy) {
        let ceiling = policy.append_limit.saturating_add(u32::try_from(policy.max_line).unwrap_or(u32::MAX));
        self.frag = Fragmentizer::new(ceiling);
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

/// Whether the message being read is an APPEND command (`tag APPEND ...`).
fn is_append(message: &[u8]) -> bool {
    let mut words = message.splitn(3, |b| *b == b' ');
    let _tag = words.next();
    words.next().is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"))
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

    #[test]
    fn append_is_recognised() {
        assert!(is_append(b"a1 APPEND INBOX {10}\r\n"));
        assert!(is_append(b"a1 append \"x\" (\\Seen) {10}\r\n"));
        assert!(!is_append(b"a1 LOGIN {3}\r\n"));
    }
}

//! Collects the octets of one message (from DATA or BDAT) and enforces the message limits.
//!
//! Invariants:
//! - Line ends are normalised to CRLF: a bare LF or a bare CR becomes CRLF. RFC 5321 §2.3.8
//!   and §4.1.1.4 say a server SHOULD NOT accept bare line ends; we normalise instead, like
//!   Postfix's default, because rejecting breaks legitimate (if sloppy) senders. This is safe
//!   only because *end of data* is decided before normalisation, on the raw octets (see
//!   `data.rs`): only CRLF.CRLF ends DATA.
//! - The size limit is enforced on the octets stored (after unstuffing and normalisation), not
//!   on the declared SIZE. Past the limit, or after a NUL or a mail loop is seen, nothing more
//!   is stored and the buffer is freed: memory stays bounded by `max_size`, and the rest of
//!   the message is still read so the dialogue stays in step.
//! - Loop detection counts `Received:` fields in the header section only (up to the first
//!   empty line), RFC 5321 §6.3.

use super::reply::Reply;

/// `Received:` matched case-insensitively at the start of a header line.
const RECEIVED: &[u8] = b"received:";

/// Why a message is refused after its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// More octets than the configured maximum.
    TooBig,
    /// A NUL octet (RFC 5321 §4.5.2 / RFC 6152 §3: not allowed in 7bit or 8bitmime data).
    Nul,
    /// More `Received:` fields than allowed.
    Loop,
}

impl BodyFailure {
    /// The reply for this failure.
    pub(crate) fn reply(self) -> Reply {
        match self {
            // RFC 1870 §6.3 / RFC 3463 §3.4: X.3.4 "Message too big for system".
            BodyFailure::TooBig => {
                Reply::new(552, "5.3.4", "Message size exceeds fixed maximum message size")
            }
            // RFC 3463 §3.7: X.6.0 "Other or undefined media error".
            BodyFailure::Nul => Reply::new(554, "5.6.0", "Message contains NUL characters"),
            // RFC 5321 §6.3, RFC 3463 §3.5: X.4.6 "Routing loop detected".
            BodyFailure::Loop => Reply::new(554, "5.4.6", "Too many Received headers: mail loop detected"),
        }
    }
}

/// The message being received.
#[derive(Debug)]
pub(crate) struct BodySink {
    data: Vec<u8>,
    size: usize,
    max_size: usize,
    max_received: usize,
    /// The last raw octet was a CR whose LF may still come.
    pending_cr: bool,
    failure: Option<BodyFailure>,
    headers: HeaderScan,
}

/// Where the header scan is within the current header line.
#[derive(Debug, Default)]
struct HeaderScan {
    done: bool,
    /// The first octets of the current line, enough to recognise `Received:`.
    prefix: [u8; 9],
    prefix_len: usize,
    /// Octets of the current line so far (saturating).
    line_len: usize,
    received: usize,
}

impl BodySink {
    /// A new, empty message with these limits.
    pub(crate) fn new(max_size: usize, max_received: usize) -> BodySink {
        BodySink {
            data: Vec::new(),
            size: 0,
            max_size,
            max_received,
            pending_cr: false,
            failure: None,
            headers: HeaderScan::default(),
        }
    }

    /// Adds raw message octets (already dot-unstuffed for DATA); normalises line ends. Text
    /// whose line ends are already CRLF is stored in one piece, however many lines it holds.
    pub(crate) fn push(&mut self, mut raw: &[u8]) {
        if self.pending_cr && !raw.is_empty() {
            self.pending_cr = false;
            if raw[0] == b'\n' {
                raw = &raw[1..];
            }
            self.emit(b"\r\n");
        }
        // `raw[..clean]` needs no change: every line end in it is a CRLF.
        let mut clean = 0;
        while let Some(pos) = memchr::memchr2(b'\r', b'\n', &raw[clean..]).map(|p| clean + p) {
            let next = raw.get(pos + 1).copied();
            if raw[pos] == b'\r' && next == Some(b'\n') {
                clean = pos + 2;
                continue;
            }
            self.emit(&raw[..pos]);
            if raw[pos] == b'\r' && next.is_none() {
                // A CR at the end of the input: its LF may come with the next octets.
                self.pending_cr = true;
                return;
            }
            self.emit(b"\r\n"); // a bare LF, or a bare CR
            raw = &raw[pos + 1..];
            clean = 0;
        }
        self.emit(raw);
    }

    /// Ends the message: its octets, or why it is refused.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, BodyFailure> {
        if self.pending_cr {
            self.pending_cr = false;
            self.emit(b"\r\n");
        }
        match self.failure {
            Some(failure) => Err(failure),
            None => Ok(self.data),
        }
    }

    /// The first failure seen so far, if any.
    pub(crate) fn failure(&self) -> Option<BodyFailure> {
        self.failure
    }

    /// Octets held in memory.
    pub(crate) fn buffered(&self) -> usize {
        self.data.len()
    }

    /// Stores normalised octets, checking the limits.
    fn emit(&mut self, bytes: &[u8]) {
        if self.failure.is_some() || bytes.is_empty() {
            return;
        }
        self.size = self.size.saturating_add(bytes.len());
        if self.size > self.max_size {
            self.fail(BodyFailure::TooBig);
            return;
        }
        if memchr::memchr(0, bytes).is_some() {
            self.fail(BodyFailure::Nul);
            return;
        }
        if !self.headers.done {
            self.headers.scan(bytes);
            if self.headers.received > self.max_received {
                self.fail(BodyFailure::Loop);
                return;
            }
        }
        self.data.extend_from_slice(bytes);
    }

    fn fail(&mut self, failure: BodyFailure) {
        self.failure = Some(failure);
        self.data = Vec::new();
    }
}

impl HeaderScan {
    /// Follows normalised (CRLF) header lines, counting `Received:` fields.
    fn scan(&mut self, mut bytes: &[u8]) {
        while !self.done && !bytes.is_empty() {
            let (part, rest, ended) = match memchr::memchr(b'\n', bytes) {
                Some(pos) => (&bytes[..pos], &bytes[pos + 1..], true),
                None => (bytes, &bytes[bytes.len()..], false),
            };
            let take = part.len().min(self.prefix.len() - self.prefix_len);
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&part[..take]);
            self.prefix_len += take;
            self.line_len = self.line_len.saturating_add(part.len());
            if ended {
                if self.line_len <= 1 {
                    // RFC 5322 §2.1: the empty line (just CRLF) ends the header section.
                    self.done = true;
                } else if self.prefix[..self.prefix_len].eq_ignore_ascii_case(RECEIVED) {
                    self.received += 1;
                }
                self.prefix_len = 0;
                self.line_len = 0;
            }
            bytes = rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&[u8]], max: usize) -> Result<Vec<u8>, BodyFailure> {
        let mut sink = BodySink::new(max, 3);
        for c in chunks {
            sink.push(c);
        }
        sink.finish()
    }

    #[test]
    fn normalises_bare_line_ends_across_chunks() {
        assert_eq!(body(&[b"a\nb\rc\r", b"\nd\r", b"\r\n"], 100), Ok(b"a\r\nb\r\nc\r\nd\r\n\r\n".to_vec()));
        assert_eq!(body(&[b"a\r"], 100), Ok(b"a\r\n".to_vec()));
    }

    proptest::proptest! {
        /// Storing octets in one piece gives what storing them one at a time does.
        #[test]
        fn one_piece_equals_octet_by_octet(
            octets in proptest::collection::vec(proptest::sample::select(&b"a\r\nR:"[..]), 0..200)
        ) {
            let bytes: Vec<&[u8]> = octets.chunks(1).collect();
            proptest::prop_assert_eq!(body(&[&octets], 150), body(&bytes, 150));
        }
    }

    #[test]
    fn size_is_counted_after_normalisation() {
        assert_eq!(body(&[b"12345\r\n"], 7), Ok(b"12345\r\n".to_vec()));
        assert_eq!(body(&[b"123456\n"], 7), Err(BodyFailure::TooBig));
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(body(&[b"a\0b\r\n"], 100), Err(BodyFailure::Nul));
    }

    #[test]
    fn received_fields_counted_in_header_only() {
        let head = b"Received: a\r\nreceived: b\r\nRECEIVED:c\r\nX: y\r\n\r\n";
        assert_eq!(body(&[head, b"Received: in body\r\n"], 1000).map(|_| ()), Ok(()));
        let four = [&head[..], b"Received: d\r\n"].concat();
        let mut sink = BodySink::new(1000, 3);
        for b in &four {
            sink.push(std::slice::from_ref(b)); // byte by byte across the prefix
        }
        assert_eq!(sink.failure(), None, "the empty line came before the fourth");
        let four = b"Received: a\r\nReceived: b\r\nReceived: c\r\nReceived: d\r\n\r\n";
        assert_eq!(body(&[four], 1000), Err(BodyFailure::Loop));
    }
}

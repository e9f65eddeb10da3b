//! Command-line framing with a hard length limit, shared by the SMTP and POP3 sessions.
//!
//! Invariant: the reader never holds more than `max` octets. A line that grows past the limit
//! is reported as [`Framed::TooLong`] at once and the rest of it is skipped up to its LF
//! without being stored, so a client sending megabytes without a line end costs no memory.
//! Lines end at LF; the CR before it is kept in the line (RFC 5321 §2.3.8 and RFC 1939 §3 want
//! CRLF, but accepting a bare LF at the end of a *command* is harmless and what every server
//! does).

/// The outcome of offering bytes to the reader.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framed {
    /// A complete line, LF included.
    Line(Vec<u8>),
    /// The current line exceeded the limit; it is being skipped up to its LF.
    TooLong,
    /// All bytes were taken; the line is not complete yet.
    Incomplete,
}

/// Frames command lines out of a byte stream.
#[derive(Debug, Default)]
pub(crate) struct LineReader {
    /// The start of a line whose end has not arrived yet (at most `max - 1` octets).
    partial: Vec<u8>,
    /// Skipping the rest of a line that was too long.
    skipping: bool,
}

impl LineReader {
    /// Takes bytes from `input` until one line is complete, the line overflows, or `input`
    /// is used up. Returns how many octets were consumed and what was found.
    pub(crate) fn take(&mut self, input: &[u8], max: usize) -> (usize, Framed) {
        let mut consumed = 0;
        if self.skipping {
            match memchr::memchr(b'\n', input) {
                Some(pos) => {
                    self.skipping = false;
                    consumed = pos + 1;
                }
                None => return (input.len(), Framed::Incomplete),
            }
        }
        let rest = &input[consumed..];
        if rest.is_empty() {
            return (consumed, Framed::Incomplete);
        }
        match memchr::memchr(b'\n', rest) {
            Some(pos) if self.partial.len() + pos < max => {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..=pos]);
                (consumed + pos + 1, Framed::Line(line))
            }
            Some(pos) => {
                // RFC 5321 §4.5.3.1.4: longer than we accept; the LF is already here.
                self.partial = Vec::new();
                (consumed + pos + 1, Framed::TooLong)
            }
            None if self.partial.len() + rest.len() < max => {
                self.partial.extend_from_slice(rest);
                (input.len(), Framed::Incomplete)
            }
            None => {
                // Even if the LF came next the line would be too long: report now, skip later.
                self.partial = Vec::new();
                self.skipping = true;
                (input.len(), Framed::TooLong)
            }
        }
    }

    /// Forgets any partial line (STARTTLS: nothing read in plaintext may survive).
    pub(crate) fn clear(&mut self) {
        self.partial = Vec::new();
        self.skipping = false;
    }

    /// Octets held for an incomplete line.
    pub(crate) fn buffered(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(reader: &mut LineReader, mut input: &[u8], max: usize) -> Vec<Framed> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let (n, framed) = reader.take(input, max);
            input = &input[n..];
            out.push(framed);
        }
        out
    }

    #[test]
    fn lines_across_chunks() {
        let mut r = LineReader::default();
        assert_eq!(all(&mut r, b"NO", 10), vec![Framed::Incomplete]);
        assert_eq!(
            all(&mut r, b"OP\r\nQUIT\r\n", 10),
            vec![Framed::Line(b"NOOP\r\n".to_vec()), Framed::Line(b"QUIT\r\n".to_vec())]
        );
    }

    #[test]
    fn limit_includes_crlf() {
        let mut r = LineReader::default();
        assert_eq!(all(&mut r, b"12345678\r\n", 10), vec![Framed::Line(b"12345678\r\n".to_vec())]);
        assert_eq!(
            all(&mut r, b"123456789\r\nOK\r\n", 10),
            vec![Framed::TooLong, Framed::Line(b"OK\r\n".to_vec())]
        );
    }

    #[test]
    fn overflow_without_lf_is_reported_once_and_skipped() {
        let mut r = LineReader::default();
        assert_eq!(all(&mut r, &[b'x'; 100], 10), vec![Framed::TooLong]);
        assert_eq!(r.buffered(), 0);
        assert_eq!(all(&mut r, &[b'x'; 100], 10), vec![Framed::Incomplete]);
        assert_eq!(all(&mut r, b"xx\nNOOP\n", 10), vec![Framed::Line(b"NOOP\n".to_vec())]);
    }
}

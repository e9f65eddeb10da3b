//! The DATA phase: finds the end of the message and undoes dot-stuffing (RFC 5321 §4.5.2).
//!
//! Invariants (SMTP smuggling, CVE-2023-51766 class):
//! - Only `CRLF . CRLF` ends the message, decided on the raw octets *before* line ends are
//!   normalised. `LF . LF`, `LF . CRLF`, `CRLF . LF`, `CR . CR` ... are message content. A
//!   receiver that ended DATA on one of them while the next hop does not (or the reverse) lets
//!   an attacker smuggle a second message; we agree with the strict reading every hop shares.
//! - A period at the start of a line is removed (transparency). Line starts are after CRLF and,
//!   because we normalise bare line ends, also after a bare LF or bare CR; a removed period at
//!   such a start is never the terminator.
//! - The message starts at a line start (just after the DATA command line).

use super::body::BodySink;

/// Where the reader stands in the raw octet stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// At the start of a line; `crlf` tells whether it followed a real CRLF.
    LineStart { crlf: bool },
    /// A period at a line start was seen and held back.
    Dot { crlf: bool },
    /// A period and a CR at a line start were seen and held back.
    DotCr { crlf: bool },
    /// Inside a line.
    Text,
    /// Inside a line, just after a CR (already passed on to the sink).
    Cr,
}

/// Reads the octets after `354` up to the terminating `CRLF.CRLF`.
#[derive(Debug)]
pub(crate) struct DataReader {
    scan: Scan,
}

impl DataReader {
    /// A reader positioned at the start of the message.
    pub(crate) fn new() -> DataReader {
        DataReader { scan: Scan::LineStart { crlf: true } }
    }

    /// Passes the message octets of `input` to `sink`. Returns how many octets were consumed
    /// and whether the terminator was found (then the octets after it are left unconsumed).
    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut BodySink) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            match self.scan {
                Scan::Text => {
                    // Fast path: pass on whole lines in one go, up to the first line end that
                    // needs a look (a bare CR or LF, a line starting with a period, or the end
                    // of the input). A CRLF followed by any other octet leads back to `Text`.
                    let rest = &input[i..];
                    let mut from = 0;
                    let pos = loop {
                        let Some(pos) = memchr::memchr2(b'\r', b'\n', &rest[from..]).map(|p| from + p) else {
                            sink.push(rest);
                            return (input.len(), false);
                        };
                        let plain_line_follows = rest[pos] == b'\r'
                            && rest.get(pos + 1) == Some(&b'\n')
                            && rest.get(pos + 2).is_some_and(|b| *b != b'.');
                        if !plain_line_follows {
                            break pos;
                        }
                        from = pos + 2;
                    };
                    sink.push(&rest[..=pos]);
                    self.scan = if rest[pos] == b'\r' {
                        Scan::Cr
                    } else {
                        Scan::LineStart { crlf: false } // bare LF
                    };
                    i += pos + 1;
                }
                Scan::Cr => match input[i] {
                    b'\n' => {
                        sink.push(b"\n");
                        self.scan = Scan::LineStart { crlf: true };
                        i += 1;
                    }
                    b'\r' => {
                        sink.push(b"\r"); // the previous CR was bare
                        i += 1;
                    }
                    // A bare CR ends a line (the sink makes it CRLF); look at this octet again.
                    _ => self.scan = Scan::LineStart { crlf: false },
                },
                Scan::LineStart { crlf } => {
                    if input[i] == b'.' {
                        self.scan = Scan::Dot { crlf };
                        i += 1;
                    } else {
                        self.scan = Scan::Text;
                    }
                }
                Scan::Dot { crlf } => {
                    if input[i] == b'\r' {
                        self.scan = Scan::DotCr { crlf };
                        i += 1;
                    } else {
                        // RFC 5321 §4.5.2: a leading period before other text is removed.
                        self.scan = Scan::Text;
                    }
                }
                Scan::DotCr { crlf } => {
                    if input[i] == b'\n' && crlf {
                        // RFC 5321 §4.1.1.4: CRLF.CRLF, and only that, ends the mail data.
                        return (i + 1, true);
                    }
                    // Not the terminator: the period was stuffing, the CR is content.
                    sink.push(b"\r");
                    self.scan = Scan::Cr;
                }
            }
        }
        (input.len(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks`; returns the message and the octets left after the terminator.
    fn read(chunks: &[&[u8]]) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut reader = DataReader::new();
        let mut sink = BodySink::new(1 << 20, 100);
        for (n, chunk) in chunks.iter().enumerate() {
            let (used, done) = reader.feed(chunk, &mut sink);
            if done {
                let mut rest = chunk[used..].to_vec();
                rest.extend(chunks[n + 1..].iter().flat_map(|c| c.iter()));
                return sink.finish().ok().map(|m| (m, rest));
            }
            assert_eq!(used, chunk.len());
        }
        None
    }

    #[test]
    fn terminator_and_unstuffing() {
        let (m, rest) = read(&[b"a\r\n..b\r\n.c\r\n.\r\nQUIT\r\n"]).unwrap_or_default();
        assert_eq!(m, b"a\r\n.b\r\nc\r\n");
        assert_eq!(rest, b"QUIT\r\n");
        assert_eq!(read(&[b".\r\n"]), Some((vec![], vec![])));
    }

    #[test]
    fn terminator_split_across_every_boundary() {
        let input = b"x\r\n..\r\n.\r\nNOOP";
        for cut in 0..input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(read(&[a, b]), Some((b"x\r\n.\r\n".to_vec(), b"NOOP".to_vec())), "{cut}");
        }
    }

    #[test]
    fn only_crlf_dot_crlf_ends_data() {
        for smuggle in [&b"a\n.\nb"[..], b"a\n.\r\nb", b"a\r\n.\nb", b"a\r.\rb", b"a\r.\r\nb"] {
            let mut chunk = smuggle.to_vec();
            chunk.extend_from_slice(b"\r\n.\r\n");
            let (m, rest) = read(&[&chunk]).unwrap_or_default();
            assert!(rest.is_empty(), "{smuggle:?} ended DATA early");
            assert!(m.ends_with(b"b\r\n"), "{smuggle:?}: {m:?}");
            assert!(!m.contains(&b'.'), "the line-start period is removed: {m:?}");
        }
    }

    proptest::proptest! {
        /// Reading a message in one piece (where whole lines are passed on together) gives
        /// exactly what reading it one octet at a time does, for any mix of line ends, periods
        /// and terminators.
        #[test]
        fn one_piece_equals_octet_by_octet(
            octets in proptest::collection::vec(proptest::sample::select(&b"a.\r\nX"[..]), 0..200)
        ) {
            let whole = read(&[&octets]);
            let bytes: Vec<&[u8]> = octets.chunks(1).collect();
            proptest::prop_assert_eq!(whole, read(&bytes));
        }
    }

    #[test]
    fn bare_line_ends_are_normalised() {
        let (m, _) = read(&[b"a\nb\rc\r\n.\r\n"]).unwrap_or_default();
        assert_eq!(m, b"a\r\nb\r\nc\r\n");
    }
}

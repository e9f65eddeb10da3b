//! Raw header fields, byte for byte.
//!
//! IMAP returns header text exactly as stored (ENVELOPE strings, `BODY[HEADER.FIELDS (..)]`), so
//! this module works on the raw header block, not on mail-parser's decoded values. It splits a
//! block into fields (a line that does not start with white space begins a field, RFC 5322 §2.2.3
//! continuation lines belong to it) and stops at the empty line that ends the header.
//!
//! Invariants: never allocates per field, never fails; a line without a colon is a field whose
//! name is the whole line (it matches no sensible field name but is kept by
//! `HEADER.FIELDS.NOT`).

/// One header field of a raw header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field name, without surrounding white space.
    pub(crate) name: &'a [u8],
    /// The raw value: everything after the colon, continuation lines included, without the final
    /// line end.
    pub(crate) value: &'a [u8],
    /// The whole field with its final line end, as it appears in the message.
    pub(crate) raw: &'a [u8],
}

/// Iterates over the fields of a header block; stops at the empty line (or the end of input).
pub(crate) fn fields(block: &[u8]) -> Fields<'_> {
    Fields { rest: block }
}

/// Iterator returned by [`fields`].
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let block = self.rest;
        // RFC 5322 §2.1: the header ends at the first empty line.
        if block.is_empty() || block.starts_with(b"\r\n") || block.starts_with(b"\n") {
            self.rest = &[];
            return None;
        }
        let mut end = line_end(block, 0);
        // RFC 5322 §2.2.3: a line starting with WSP continues the field.
        while end < block.len() && matches!(block[end], b' ' | b'\t') {
            end = line_end(block, end);
        }
        let raw = &block[..end];
        self.rest = &block[end..];
        let content = trim_line_end(raw);
        let (name, value) = match content.iter().position(|&b| b == b':') {
            Some(colon) => (trim(&content[..colon]), &content[colon + 1..]),
            None => (trim(content), &content[content.len()..]),
        };
        Some(Field { name, value, raw })
    }
}

/// The offset just past the line end of the line starting at `from` (or the input length).
fn line_end(data: &[u8], from: usize) -> usize {
    match data[from..].iter().position(|&b| b == b'\n') {
        Some(i) => from + i + 1,
        None => data.len(),
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Strips leading and trailing white space (SP, HTAB, CR, LF).
pub(crate) fn trim(value: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = value.iter().position(|b| !is_ws(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ws(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

/// Unfolds a raw value (RFC 5322 §2.2.3: remove the CRLF of each fold, keep the white space) and
/// trims it. This is the form IMAP servers put in ENVELOPE and BODYSTRUCTURE strings.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    trim(value).iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect()
}

/// The raw value of the first field called `name` (case-insensitive), if any.
pub(crate) fn first_value<'a>(block: &'a [u8], name: &str) -> Option<&'a [u8]> {
    fields(block).find(|f| f.name.eq_ignore_ascii_case(name.as_bytes())).map(|f| f.value)
}

/// The length of the header block at the start of `message`, with its empty line.
pub(crate) fn block_len(message: &[u8]) -> usize {
    let fields_len: usize = fields(message).map(|f| f.raw.len()).sum();
    let rest = &message[fields_len.min(message.len())..];
    fields_len + if rest.starts_with(b"\r\n") { 2 } else { usize::from(rest.starts_with(b"\n")) }
}

/// Which fields `HEADER.FIELDS` / `HEADER.FIELDS.NOT` keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Keep only the listed fields (`HEADER.FIELDS`).
    Only,
    /// Keep all but the listed fields (`HEADER.FIELDS.NOT`).
    Except,
}

/// RFC 9051 §6.4.5: `HEADER.FIELDS` returns the matching field lines, as they are, in message
/// order, followed by the empty line; `HEADER.FIELDS.NOT` the other lines.
pub(crate) fn filter(block: &[u8], names: &[&[u8]], mode: Filter) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields(block) {
        let listed = names.iter().any(|n| n.eq_ignore_ascii_case(field.name));
        if listed == (mode == Filter::Only) {
            out.extend_from_slice(field.raw);
        }
    }
    // The empty line that ends a header is part of the section, even when no field matched.
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &[u8] = b"From: a@b\r\nSubject: one\r\n\ttwo\r\nX-Empty:\r\nno colon\r\n\r\nbody";

    #[test]
    fn splits_fields_and_stops_at_blank_line() {
        let all: Vec<_> = fields(BLOCK).collect();
        assert_eq!(all.len(), 4);
        assert_eq!(all[1].name, b"Subject");
        assert_eq!(all[1].value, b" one\r\n\ttwo");
        assert_eq!(all[1].raw, b"Subject: one\r\n\ttwo\r\n");
        assert_eq!(all[2].value, b"");
        assert_eq!(all[3].name, b"no colon");
    }

    #[test]
    fn unfolds_and_trims() {
        assert_eq!(unfold(b" one\r\n\ttwo "), b"one\ttwo");
        assert_eq!(first_value(BLOCK, "subject"), Some(&b" one\r\n\ttwo"[..]));
        assert_eq!(first_value(BLOCK, "cc"), None);
    }

    #[test]
    fn filters_fields() {
        assert_eq!(filter(BLOCK, &[b"SUBJECT", b"cc"], Filter::Only), b"Subject: one\r\n\ttwo\r\n\r\n");
        assert_eq!(filter(BLOCK, &[b"subject", b"from"], Filter::Except), b"X-Empty:\r\nno colon\r\n\r\n");
        assert_eq!(filter(BLOCK, &[b"cc"], Filter::Only), b"\r\n");
    }

    #[test]
    fn header_block_length() {
        assert_eq!(block_len(BLOCK), BLOCK.len() - 4);
        assert_eq!(block_len(b"A: 1\nB: 2\n\nbody"), 11);
        assert_eq!(block_len(b"A: 1"), 4);
        assert_eq!(block_len(b""), 0);
        assert_eq!(block_len(b"\r\nbody"), 2);
    }

    #[test]
    fn bare_lf_and_missing_blank_line() {
        let block = b"A: 1\nB: 2\n continued";
        let all: Vec<_> = fields(block).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].raw, b"B: 2\n continued");
        assert_eq!(all[1].value, b" 2\n continued");
    }
}

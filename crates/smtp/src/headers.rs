//! Just enough header reading for the journal and the mail log: the first value of a named
//! header field in a message's header section, unfolded (RFC 5322 §2.2.3). Full MIME parsing
//! belongs to the filter and IMAP layers.

/// Longest header section scanned, so a hostile message cannot make this slow.
const MAX_SCAN: usize = 256 * 1024;

/// The first value of header `name` (case-insensitive), unfolded and trimmed, at most 998
/// characters; `None` if absent.
pub fn first_header(message: &[u8], name: &str) -> Option<String> {
    let head = &message[..message.len().min(MAX_SCAN)];
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None; // end of the header section
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        if !line[..colon].eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        let mut value = String::from_utf8_lossy(&line[colon + 1..]).into_owned();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                value.push_str(&String::from_utf8_lossy(next));
                lines.next();
            } else {
                break;
            }
        }
        let value: String = value.trim().chars().take(998).collect();
        return Some(value);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_unfolded_values() {
        let m = b"From: a@b\r\nMessage-ID:\r\n <x@y>\r\nSubject: hi\r\n\r\nMessage-ID: <body@no>\r\n";
        assert_eq!(first_header(m, "message-id").as_deref(), Some("<x@y>"));
        assert_eq!(first_header(m, "Subject").as_deref(), Some("hi"));
        assert_eq!(first_header(m, "To"), None);
        assert_eq!(first_header(b"no headers", "To"), None);
    }
}

//! Just enough header handling for the journal, the mail log and screening: the first value of
//! a named header field in a message's header section, unfolded (RFC 5322 §2.2.3), and the
//! removal of fields a sender must not be able to forge. Full MIME parsing belongs to the
//! filter and IMAP layers.

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

/// `message` without the header fields (with their continuation lines) for which `drop(name,
/// value)` is true; `None` when nothing is dropped. Only the header section is examined.
pub fn remove_fields(message: &[u8], drop: impl Fn(&str, &str) -> bool) -> Option<Vec<u8>> {
    let head_end = header_end(message);
    // The fields to drop, found first: most messages have none, and are not copied.
    let mut dropped: Vec<std::ops::Range<usize>> = Vec::new();
    let mut at = 0;
    while at < head_end {
        // One field: its first line and every continuation line.
        let mut end = next_line(message, at);
        while end < head_end && matches!(message.get(end), Some(b' ' | b'\t')) {
            end = next_line(message, end);
        }
        let field = &message[at..end];
        let drops = field.iter().position(|&b| b == b':').is_some_and(|colon| {
            let name = String::from_utf8_lossy(&field[..colon]);
            let value = String::from_utf8_lossy(&field[colon + 1..]);
            drop(name.trim(), value.trim())
        });
        if drops {
            dropped.push(at..end);
        }
        at = end;
    }
    if dropped.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(message.len());
    let mut kept_from = 0;
    for field in dropped {
        out.extend_from_slice(&message[kept_from..field.start]);
        kept_from = field.end;
    }
    out.extend_from_slice(&message[kept_from..]);
    Some(out)
}

/// Where the header section ends: the offset of the empty line (or the end).
fn header_end(message: &[u8]) -> usize {
    let limit = message.len().min(MAX_SCAN);
    let mut at = 0;
    while at < limit {
        if message[at..].starts_with(b"\r\n") || message[at..].starts_with(b"\n") {
            return at;
        }
        at = next_line(message, at);
    }
    limit
}

/// The offset just past the line starting at `at`.
fn next_line(message: &[u8], at: usize) -> usize {
    message[at..].iter().position(|&b| b == b'\n').map_or(message.len(), |i| at + i + 1)
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

    #[test]
    fn removes_fields_with_continuations() {
        let m = b"Authentication-Results: mx.example.test;\r\n spf=pass\r\nFrom: a@b\r\n\
                  Authentication-Results: other.example; dkim=pass\r\nX-Spam-Status: No\r\n\r\n\
                  Authentication-Results: mx.example.test; in the body\r\n";
        let ours = |name: &str, value: &str| {
            (name.eq_ignore_ascii_case("authentication-results") && value.starts_with("mx.example.test"))
                || name.eq_ignore_ascii_case("x-spam-status")
        };
        let out = remove_fields(m, ours).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From: a@b\r\nAuthentication-Results: other.example; dkim=pass\r\n\r\n\
             Authentication-Results: mx.example.test; in the body\r\n"
        );
        assert_eq!(remove_fields(b"From: a@b\r\n\r\nbody", ours), None);
        assert_eq!(remove_fields(b"", ours), None);
    }
}

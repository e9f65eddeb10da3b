//! The base subject of RFC 5256 §2.1, used by SORT SUBJECT and THREAD=ORDEREDSUBJECT /
//! REFERENCES to group messages of one conversation, and whether a subject marks a reply or
//! forward (RFC 5256 §3, THREAD=REFERENCES steps 5.B and 5.C).

/// Extracts the base subject of an already RFC 2047-decoded subject (RFC 5256 §2.1): white space
/// collapsed, reply/forward markers (`Re:`, `Fw:`, `Fwd:`, with `[blob]`s), leading `[blob]`s,
/// trailing `(fwd)` and `[fwd: ...]` wrappers removed. Case is kept; SORT and THREAD compare
/// base subjects with the i;ascii-casemap collation (RFC 5256 §2.1), e.g. via
/// `eq_ignore_ascii_case` or by comparing `to_ascii_uppercase()` forms.
pub fn base_subject(subject: &str) -> String {
    extract(subject).0
}

/// Whether extracting the base subject removed a reply or forward marker (`Re:`, `Fwd:`,
/// `(fwd)`, `[fwd: ...]`): RFC 5256 §3 (REFERENCES step 5.B) calls such a message "a reply or forward".
pub fn is_reply_or_forward(subject: &str) -> bool {
    extract(subject).1
}

/// The base subject and whether a reply/forward marker was removed on the way.
fn extract(subject: &str) -> (String, bool) {
    let mut reply = false;
    // Step 1: tabs and line ends become spaces, runs of spaces one space.
    let mut text = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if matches!(c, '\t' | '\r' | '\n') { ' ' } else { c };
        if !(c == ' ' && text.ends_with(' ')) {
            text.push(c);
        }
    }
    let mut text = text.trim().to_string();
    loop {
        // Step 2: remove trailing "(fwd)" and white space, repeatedly.
        loop {
            let trimmed = text.trim_end();
            let lower = trimmed.to_ascii_lowercase();
            if lower.ends_with("(fwd)") {
                text = trimmed[..trimmed.len() - "(fwd)".len()].to_string();
                reply = true;
            } else {
                text = trimmed.to_string();
                break;
            }
        }
        // Steps 3 to 5: strip leaders and leading blobs until nothing changes.
        loop {
            let before = text.len();
            if let Some((rest, refwd)) = strip_leader(&text) {
                reply |= refwd;
                text = rest.to_string();
            }
            // Step 4: a leading blob goes if something remains after it.
            if let Some(rest) = strip_blob(&text)
                && !rest.trim().is_empty()
            {
                text = rest.to_string();
            }
            if text.len() == before {
                break;
            }
        }
        // Step 6: "[fwd: ... ]" wraps a subject; unwrap and start again.
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("[fwd:") && text.ends_with(']') {
            text = text["[fwd:".len()..text.len() - 1].trim().to_string();
            reply = true;
            continue;
        }
        return (text, reply);
    }
}

/// Step 3: removes one subj-leader: `*subj-blob subj-refwd` or leading white space. Returns
/// what remains and whether a subj-refwd was removed, or `None` when there is no leader.
/// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
fn strip_leader(text: &str) -> Option<(&str, bool)> {
    let trimmed = text.trim_start();
    if trimmed.len() != text.len() {
        return Some((trimmed, false));
    }
    let mut rest = text;
    while let Some(after) = strip_blob(rest) {
        rest = after;
    }
    let lower = rest.to_ascii_lowercase();
    let marker = ["re", "fwd", "fw"].into_iter().find(|m| lower.starts_with(m))?;
    let mut after = rest[marker.len()..].trim_start();
    if let Some(blob_rest) = strip_blob(after) {
        after = blob_rest;
    }
    after.strip_prefix(':').map(|base| (base, true))
}

/// subj-blob = "[" *BLOBCHAR "]" *WSP; returns what follows it, if `text` starts with one.
fn strip_blob(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('[')?;
    let close = inner.find(['[', ']'])?;
    if !inner[close..].starts_with(']') {
        return None;
    }
    Some(inner[close + 1..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::{base_subject, is_reply_or_forward};

    #[test]
    fn rfc5256_examples() {
        let cases = [
            ("Hello", "Hello"),
            ("Re: Hello", "Hello"),
            ("RE: re: Fwd: Hello", "Hello"),
            ("Re[2]: Hello", "Hello"),
            ("[list] Re: Hello", "Hello"),
            ("Re: [list] Hello", "Hello"),
            ("Hello (fwd)", "Hello"),
            ("Hello (fwd) (FWD)", "Hello"),
            ("[Fwd: Re: Hello]", "Hello"),
            ("[fwd: [list] hello (fwd)]", "hello"),
            ("  Hello \t  world  ", "Hello world"),
            ("[only a blob]", "[only a blob]"),
            ("Re:", ""),
            ("", ""),
            ("Reply to this", "Reply to this"),
            ("Fwd:Re: [x] [y] z", "z"),
        ];
        for (subject, base) in cases {
            assert_eq!(base_subject(subject), base, "for {subject:?}");
        }
    }

    #[test]
    fn reply_or_forward_markers() {
        let cases = [
            ("Hello", false),
            ("Re: Hello", true),
            ("[list] Re: Hello", true),
            ("[list] Hello", false),
            ("Hello (fwd)", true),
            ("[Fwd: Hello]", true),
            ("  Hello", false),
            ("Reply to this", false),
            ("Re[2]: Hello", true),
        ];
        for (subject, reply) in cases {
            assert_eq!(is_reply_or_forward(subject), reply, "for {subject:?}");
        }
    }
}

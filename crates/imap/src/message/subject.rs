//! The base subject of RFC 5256 §2.1, used by SORT SUBJECT and THREAD=ORDEREDSUBJECT /
//! REFERENCES to group messages of one conversation.

/// Extracts the base subject of an already RFC 2047-decoded subject (RFC 5256 §2.1): white space
/// collapsed, reply/forward markers (`Re:`, `Fw:`, `Fwd:`, with `[blob]`s), leading `[blob]`s,
/// trailing `(fwd)` and `[fwd: ...]` wrappers removed. Case is kept; SORT and THREAD compare
/// base subjects with the i;ascii-casemap collation (RFC 5256 §2.1), e.g. via
/// `eq_ignore_ascii_case` or by comparing `to_ascii_uppercase()` forms.
pub fn base_subject(subject: &str) -> String {
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
            } else {
                text = trimmed.to_string();
                break;
            }
        }
        // Steps 3 to 5: strip leaders and leading blobs until nothing changes.
        loop {
            let before = text.len();
            text = strip_leader(&text).to_string();
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
            continue;
        }
        return text;
    }
}

/// Step 3: removes one subj-leader: `*subj-blob subj-refwd` or leading white space.
/// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
fn strip_leader(text: &str) -> &str {
    let trimmed = text.trim_start();
    if trimmed.len() != text.len() {
        return trimmed;
    }
    let mut rest = text;
    while let Some(after) = strip_blob(rest) {
        rest = after;
    }
    let lower = rest.to_ascii_lowercase();
    let marker = ["re", "fwd", "fw"].into_iter().find(|m| lower.starts_with(m));
    let Some(marker) = marker else {
        return text;
    };
    let mut after = rest[marker.len()..].trim_start();
    if let Some(blob_rest) = strip_blob(after) {
        after = blob_rest;
    }
    match after.strip_prefix(':') {
        Some(base) => base,
        None => text,
    }
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
    use super::base_subject;

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
}

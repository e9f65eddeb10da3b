//! LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9) with LIST-EXTENDED (RFC 5258), CHILDREN
//! (RFC 3348), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).

use imap_types::mailbox::{ListMailbox, Mailbox as ImapMailbox};

use mailstead_store::model::Mailbox;

use super::select::quoted;
use super::status::send_status;
use crate::extended::ListExtra;
use crate::names;
use crate::session::{Done, Session};

/// LIST (or LSUB when `lsub`).
pub async fn run(
    s: &mut Session<'_>,
    reference: &ImapMailbox<'_>,
    pattern: &ListMailbox<'_>,
    extra: Option<ListExtra>,
    lsub: bool,
) -> Done {
    let reference = match reference {
        ImapMailbox::Inbox => "INBOX".to_string(),
        ImapMailbox::Other(o) => match names::decode_bytes(o.as_ref(), s.coding) {
            Ok(r) => r,
            Err(e) => return Done::bad(e.to_string()),
        },
    };
    let extra = extra.unwrap_or_default();
    let patterns: Vec<String> = if extra.patterns.is_empty() {
        let raw: &[u8] = match pattern {
            ListMailbox::Token(t) => t.as_ref(),
            ListMailbox::String(s) => s.as_ref(),
        };
        match names::decode_bytes(raw, s.coding) {
            Ok(p) => vec![p],
            Err(e) => return Done::bad(e.to_string()),
        }
    } else {
        let mut out = Vec::new();
        for p in &extra.patterns {
            match names::decode_bytes(p.as_bytes(), s.coding) {
                Ok(p) => out.push(p),
                Err(e) => return Done::bad(e.to_string()),
            }
        }
        out
    };
    let verb = if lsub { "LSUB" } else { "LIST" };
    if patterns.len() == 1 && patterns[0].is_empty() && !extra.extended {
        // RFC 9051 §6.3.9: the hierarchy delimiter and root.
        s.conn.send_line(&format!("* {verb} (\\Noselect) \"/\" \"\""));
        return Done::ok(format!("{verb} completed"));
    }
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    let all = match s.server.store.list_mailboxes(account).await {
        Ok(all) => all,
        Err(e) => return Done::store_error(&e),
    };
    let full: Vec<String> = patterns.iter().map(|p| format!("{reference}{p}")).collect();
    let mut lines: Vec<(String, &Mailbox)> = Vec::new();
    for m in &all {
        if !full.iter().any(|p| matches(p, &m.name)) {
            continue;
        }
        if (lsub || extra.subscribed_only) && !m.subscribed {
            continue;
        }
        if extra.special_use_only && m.special_use.is_none() {
            continue;
        }
        let mut attrs: Vec<&str> = Vec::new();
        if !lsub {
            let prefix = format!("{}/", m.name);
            attrs.push(if all.iter().any(|c| c.name.starts_with(&prefix)) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            });
            if let Some(a) = m.special_use.and_then(|u| u.imap_attribute()) {
                attrs.push(a);
            }
            if extra.return_subscribed && m.subscribed {
                attrs.push("\\Subscribed");
            }
        }
        let line =
            format!("* {verb} ({}) \"/\" {}", attrs.join(" "), quoted(&names::encode(&m.name, s.coding)));
        lines.push((line, m));
    }
    for (line, m) in lines {
        s.conn.send_line(&line);
        if let Some(items) = &extra.status
            && let Err(done) = send_status(s, m, items).await
        {
            return done;
        }
        if s.conn.flush_if_large().await.is_err() {
            return Done::no("Connection failed");
        }
    }
    Done::ok(format!("{verb} completed"))
}

/// LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the
/// separator. `INBOX` matches case-insensitively.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (normalise_inbox(pattern), normalise_inbox(name));
    glob(pattern.as_bytes(), name.as_bytes())
}

/// Dynamic programming over (pattern position, name position): O(len(p) * len(n)), so no
/// pattern can make matching explode.
fn glob(p: &[u8], n: &[u8]) -> bool {
    // row[j]: whether p[..i] matches n[..j].
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; n.len() + 1];
        match c {
            b'*' => {
                let mut any = false;
                for j in 0..=n.len() {
                    any |= row[j];
                    next[j] = any;
                }
            }
            b'%' => {
                let mut any = false;
                for j in 0..=n.len() {
                    if j > 0 && n[j - 1] == b'/' {
                        any = false;
                    }
                    any |= row[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 1..=n.len() {
                    next[j] = row[j - 1] && n[j - 1] == c;
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

fn normalise_inbox(s: &str) -> String {
    match (s.get(..5), s.get(5..)) {
        (Some(head), Some(rest))
            if head.eq_ignore_ascii_case("INBOX") && (rest.is_empty() || rest.starts_with('/')) =>
        {
            format!("INBOX{rest}")
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        assert!(matches("*", "Archive/2024"));
        assert!(!matches("%", "Archive/2024"));
        assert!(matches("%", "Archive"));
        assert!(matches("Archive/%", "Archive/2024"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("Inbox/*", "INBOX/sub"));
        assert!(!matches("Sent", "Sent Items"));
        assert!(matches("S*s", "Sent Items"));
        // Pathological patterns stay cheap (no backtracking explosion).
        assert!(!matches(&format!("{}b", "*%".repeat(50)), &"a".repeat(200)));
        assert!(matches("%/%", "a/b") && !matches("%/%", "a/b/c"));
        // Regression: a multi-byte character across byte 5 must not panic.
        assert!(matches("*", "Entwürfe") && matches("Entw*", "Entwürfe"));
    }
}

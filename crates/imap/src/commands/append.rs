//! APPEND (RFC 9051 §6.3.12) with UIDPLUS's APPENDUID (RFC 4315) and APPENDLIMIT (RFC 7889).
//! OK is sent only once the message is durable in the store.

use std::sync::Arc;

use imap_types::datetime::DateTime;
use imap_types::extensions::binary::LiteralOrLiteral8;
use imap_types::flag::Flag;
use imap_types::mailbox::Mailbox;
use imap_types::response::Code;

use mailstead_store::StoreErrorKind;
use mailstead_store::model::{AppendTarget, BlobId, NewMessage};

use crate::flags::{MAX_KEYWORDS, from_imap};
use crate::message::ParsedMessage;
use crate::names;
use crate::session::{Done, Session, code};

/// APPEND.
pub async fn run(
    s: &mut Session<'_>,
    mailbox: &Mailbox<'_>,
    flags: &[Flag<'_>],
    date: Option<&DateTime>,
    message: &LiteralOrLiteral8<'_>,
) -> Done {
    let data: &[u8] = match message {
        LiteralOrLiteral8::Literal(l) => l.as_ref(),
        LiteralOrLiteral8::Literal8(l) => l.data.as_ref(),
    };
    if data.is_empty() {
        return Done::no("Cannot store an empty message").with(code("CANNOT"));
    }
    if data.len() > s.server.config.append_limit as usize {
        return Done::no("Message larger than APPENDLIMIT").with(Code::TooBig);
    }
    let name = match names::decode(mailbox, s.coding) {
        Ok(n) => n,
        Err(e) => return Done::no(e.to_string()).with(code("CANNOT")),
    };
    let (system, keywords) = from_imap(flags);
    if keywords.len() > MAX_KEYWORDS {
        return Done::no("Too many keywords").with(code("LIMIT"));
    }
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    let internal_date = date.map_or_else(now, |d| d.as_ref().timestamp());
    // Stored messages use CRLF everywhere, so sizes agree across IMAP and POP3.
    let data = crlf(data);
    if data.len() > s.server.config.append_limit as usize {
        return Done::no("Message larger than APPENDLIMIT").with(Code::TooBig);
    }
    let data = Arc::new(data.into_owned());
    // The message is at hand now: parse it once for the FETCH cache (off the async threads),
    // so the client's first FETCH ENVELOPE/BODYSTRUCTURE does not have to.
    let for_cache = data.clone();
    let cache =
        tokio::task::spawn_blocking(move || super::fetch::cache_entry(&ParsedMessage::parse(&for_cache)));
    let new = NewMessage { data, internal_date, flags: system, keywords };
    let target = AppendTarget { account, mailbox: name.clone() };
    let blob = BlobId::of(&new.data);
    let stored = s.server.store.append(new, vec![target]).await;
    if matches!(&stored, Ok(results) if matches!(results.first(), Some(Ok(_))))
        && let Ok(entry) = cache.await
    {
        let store = s.server.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.put_fetch_cache(vec![(blob, entry)]).await {
                tracing::warn!(error = %e, "imap: FETCH cache not written at APPEND");
            }
        });
    }
    match stored {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(appended)) => {
                s.dirty = true;
                match (
                    std::num::NonZeroU32::new(appended.uidvalidity),
                    std::num::NonZeroU32::new(appended.uid),
                ) {
                    (Some(uid_validity), Some(uid)) => {
                        Done::ok("APPEND completed").with(Code::AppendUid { uid_validity, uid })
                    }
                    _ => Done::ok("APPEND completed"),
                }
            }
            // RFC 9051 §6.3.12: TRYCREATE when the mailbox does not exist.
            Some(Err(e)) if e.kind == StoreErrorKind::NotFound => {
                Done::no(format!("Mailbox {name} does not exist")).with(Code::TryCreate)
            }
            Some(Err(e)) => Done::store_error(&e),
            None => Done::no("Nothing stored").with(code("SERVERBUG")),
        },
        Err(e) => Done::store_error(&e),
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Bare LF (and bare CR) line ends become CRLF; CRLF input is returned unchanged.
fn crlf(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare = data.iter().enumerate().any(|(i, &b)| {
        (b == b'\n' && (i == 0 || data[i - 1] != b'\r')) || (b == b'\r' && data.get(i + 1) != Some(&b'\n'))
    });
    if !bare {
        return std::borrow::Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::crlf;

    #[test]
    fn line_ends_are_normalised() {
        assert_eq!(&*crlf(b"a\r\nb\r\n"), b"a\r\nb\r\n");
        assert_eq!(&*crlf(b"a\nb\rc\r\n"), b"a\r\nb\r\nc\r\n");
    }
}

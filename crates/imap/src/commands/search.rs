//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731) and CONDSTORE's
//! MODSEQ (RFC 7162 §3.1.5); also the candidate loading SORT and THREAD share.

use std::num::{NonZeroU32, NonZeroU64};

use imap_types::core::{Charset, Tag};
use imap_types::response::{Code, Data, Response};
use imap_types::search::SearchKey;

use crate::extended::SearchReturn;
use crate::message::ParsedMessage;
use crate::query::{Candidate, SearchContext, matches, needs_content};
use crate::selected::{Selected, set_text};
use crate::session::{Done, Session, State};

/// Whether the charset is one we search in (RFC 9051 §6.4.4: UTF-8 and US-ASCII).
pub fn charset_ok(charset: Option<&Charset<'_>>) -> Result<(), Done> {
    match charset {
        None => Ok(()),
        Some(c) => {
            let name = c.as_ref().to_ascii_uppercase();
            if name == "UTF-8" || name == "US-ASCII" {
                Ok(())
            } else {
                let allowed =
                    ["UTF-8", "US-ASCII"].iter().filter_map(|c| Charset::try_from(*c).ok()).collect();
                Err(Done::no("Charset not supported").with(Code::BadCharset { allowed }))
            }
        }
    }
}

/// The message bytes of the messages at `indices`, parsed; `None` where a read failed.
pub async fn load(s: &Session<'_>, selected: &Selected, indices: &[usize]) -> Vec<Option<ParsedMessage>> {
    let mut out = Vec::with_capacity(indices.len());
    for &i in indices {
        let parsed = match s.server.store.read_message(&selected.messages[i].blob).await {
            Ok(bytes) => Some(ParsedMessage::parse(&bytes)),
            Err(e) => {
                tracing::warn!(error = %e, "imap: cannot read message for search");
                None
            }
        };
        out.push(parsed);
    }
    out
}

/// The candidates of the view.
pub fn candidates(selected: &Selected) -> Vec<Candidate<'_>> {
    selected
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| Candidate {
            seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
            uid: m.uid,
            flags: m.flags,
            keywords: &m.keywords,
            modseq: m.modseq,
            internal_date: m.internal_date,
            size: m.size,
        })
        .collect()
}

/// Indices of the messages matching all `keys`.
pub async fn matching(s: &Session<'_>, selected: &Selected, keys: &[SearchKey<'_>]) -> Vec<usize> {
    let ctx =
        SearchContext { max_seq: selected.exists(), max_uid: selected.max_uid(), now: super::append::now() };
    let all = candidates(selected);
    if needs_content(keys) {
        let indices: Vec<usize> = (0..all.len()).collect();
        // Read in slices so a huge mailbox does not hold every parsed message at once.
        let mut hits = Vec::new();
        for chunk in indices.chunks(256) {
            let parsed = load(s, selected, chunk).await;
            for (&i, p) in chunk.iter().zip(parsed.iter()) {
                if matches(keys, &all[i], p.as_ref(), &ctx) {
                    hits.push(i);
                }
            }
        }
        hits
    } else {
        (0..all.len()).filter(|&i| matches(keys, &all[i], None, &ctx)).collect()
    }
}

/// Whether the keys use MODSEQ (then results carry the highest MODSEQ).
fn uses_modseq(keys: &[SearchKey<'_>]) -> bool {
    keys.iter().any(|k| match k {
        SearchKey::ModSequence { .. } => true,
        SearchKey::And(v) => uses_modseq(v.as_ref()),
        SearchKey::Not(k) => uses_modseq(std::slice::from_ref(k.as_ref())),
        SearchKey::Or(a, b) => {
            uses_modseq(std::slice::from_ref(a.as_ref())) || uses_modseq(std::slice::from_ref(b.as_ref()))
        }
        _ => false,
    })
}

/// SEARCH / UID SEARCH.
pub async fn run(
    s: &mut Session<'_>,
    tag: &Tag<'_>,
    charset: Option<&Charset<'_>>,
    keys: &[SearchKey<'_>],
    uid: bool,
    ret: Option<SearchReturn>,
) -> Done {
    if let Err(done) = charset_ok(charset) {
        return done;
    }
    let modseq_used = uses_modseq(keys);
    if modseq_used {
        s.reporting.condstore = true;
    }
    let State::Selected(_, selected) = &s.state else { return Done::bad("No mailbox selected") };
    let hits = matching(s, selected, keys).await;
    let numbers: Vec<u32> = hits
        .iter()
        .map(|&i| if uid { selected.messages[i].uid } else { u32::try_from(i + 1).unwrap_or(u32::MAX) })
        .collect();
    let highest = hits.iter().map(|&i| selected.messages[i].modseq).max();
    let verb = if uid { "UID SEARCH completed" } else { "SEARCH completed" };
    match ret {
        Some(ret) => {
            // RFC 4731 §3.1.
            let mut line = format!("* ESEARCH (TAG \"{}\")", tag.as_ref());
            if uid {
                line.push_str(" UID");
            }
            if !numbers.is_empty() {
                if ret.min
                    && let Some(min) = numbers.first()
                {
                    line.push_str(&format!(" MIN {min}"));
                }
                if ret.max
                    && let Some(max) = numbers.last()
                {
                    line.push_str(&format!(" MAX {max}"));
                }
                if ret.all {
                    line.push_str(&format!(" ALL {}", set_text(&numbers)));
                }
            }
            if ret.count {
                line.push_str(&format!(" COUNT {}", numbers.len()));
            }
            if modseq_used
                && !numbers.is_empty()
                && let Some(m) = highest
            {
                line.push_str(&format!(" MODSEQ {m}"));
            }
            s.conn.send_line(&line);
        }
        None => {
            let ids: Vec<NonZeroU32> = numbers.iter().copied().filter_map(NonZeroU32::new).collect();
            let modseq = if modseq_used { highest.and_then(NonZeroU64::new) } else { None };
            s.conn.send(&Response::Data(Data::Search(ids, modseq)));
        }
    }
    Done::ok(verb)
}

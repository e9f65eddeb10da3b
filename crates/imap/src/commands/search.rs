//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731) and CONDSTORE's
//! MODSEQ (RFC 7162 §3.1.5); also the candidate loading SORT and THREAD share.

use std::num::{NonZeroU32, NonZeroU64};

use imap_types::core::{Charset, Tag};
use imap_types::response::{Code, Data, Response};
use imap_types::search::SearchKey;

use std::sync::Arc;

use imap_types::IntoStatic;
use mailstead_store::model::{MessageData, MessageEntry};

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

/// The message bytes of the messages at `indices`, parsed (off the async threads); `None`
/// where a read failed.
pub async fn load(s: &Session<'_>, selected: &Selected, indices: &[usize]) -> Vec<Option<ParsedMessage>> {
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(CHUNK) {
        let blobs = chunk.iter().map(|&i| selected.messages[i].blob.clone()).collect();
        let read = match s.server.store.read_messages(blobs).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(error = %e, "imap: cannot read messages");
                out.extend(chunk.iter().map(|_| None));
                continue;
            }
        };
        let parsed = tokio::task::spawn_blocking(move || {
            read.into_iter().map(|r| r.ok().map(|data| ParsedMessage::parse(&data))).collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        out.extend(parsed);
    }
    out.resize_with(indices.len(), || None);
    out
}

/// Messages read per store round trip when the bytes are needed.
const CHUNK: usize = 256;

/// The candidates of the view.
pub fn candidates(selected: &Selected) -> Vec<Candidate<'_>> {
    selected.messages.iter().enumerate().map(|(i, m)| candidate(i, m)).collect()
}

fn candidate(i: usize, m: &MessageEntry) -> Candidate<'_> {
    Candidate {
        seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
        uid: m.uid,
        flags: m.flags,
        keywords: &m.keywords,
        modseq: m.modseq,
        internal_date: m.internal_date,
        size: m.size,
    }
}

/// Indices of the messages matching all `keys`. Keys on the content read the messages in
/// batches and evaluate them on two blocking threads at a time, off the async runtime.
pub async fn matching(s: &Session<'_>, selected: &Selected, keys: &[SearchKey<'_>]) -> Vec<usize> {
    let ctx =
        SearchContext { max_seq: selected.exists(), max_uid: selected.max_uid(), now: super::append::now() };
    if !needs_content(keys) {
        let all = candidates(selected);
        return (0..all.len()).filter(|&i| matches(keys, &all[i], None, &ctx)).collect();
    }
    let keys: Arc<Vec<SearchKey<'static>>> =
        Arc::new(keys.iter().cloned().map(IntoStatic::into_static).collect());
    let mut hits = Vec::new();
    let indices: Vec<usize> = (0..selected.messages.len()).collect();
    for chunk in indices.chunks(CHUNK) {
        let blobs = chunk.iter().map(|&i| selected.messages[i].blob.clone()).collect();
        let read = match s.server.store.read_messages(blobs).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(error = %e, "imap: cannot read messages for SEARCH");
                continue;
            }
        };
        let mut work: Vec<(usize, MessageEntry, Option<MessageData>)> =
            chunk.iter().zip(read).map(|(&i, data)| (i, selected.messages[i].clone(), data.ok())).collect();
        let second = work.split_off(work.len() / 2);
        let evaluate = |part: Vec<(usize, MessageEntry, Option<MessageData>)>| {
            let keys = keys.clone();
            tokio::task::spawn_blocking(move || {
                part.into_iter()
                    .filter(|(i, entry, data)| {
                        let parsed = data.as_ref().map(|d| ParsedMessage::parse(d));
                        matches(&keys, &candidate(*i, entry), parsed.as_ref(), &ctx)
                    })
                    .map(|(i, _, _)| i)
                    .collect::<Vec<usize>>()
            })
        };
        let (a, b) = tokio::join!(evaluate(work), evaluate(second));
        hits.extend(a.unwrap_or_default());
        hits.extend(b.unwrap_or_default());
    }
    hits
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

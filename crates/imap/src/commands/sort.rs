//! SORT and THREAD (RFC 5256), with SORT=DISPLAY (RFC 5957).

use std::num::NonZeroU32;

use imap_types::core::Charset;
use imap_types::extensions::sort::SortCriterion;
use imap_types::extensions::thread::ThreadingAlgorithm;
use imap_types::response::{Data, Response};
use imap_types::search::SearchKey;

use super::search::{candidates, charset_ok, load, matching};
use crate::query::{ThreadAlgorithm, sort, sort_needs_content, thread};
use crate::session::{Done, Session, State};

/// SORT / UID SORT.
pub async fn run_sort(
    s: &mut Session<'_>,
    criteria: &[SortCriterion],
    charset: &Charset<'_>,
    keys: &[SearchKey<'_>],
    uid: bool,
) -> Done {
    if let Err(done) = charset_ok(Some(charset)) {
        return done;
    }
    let State::Selected(_, selected) = &s.state else { return Done::bad("No mailbox selected") };
    let hits = matching(s, selected, keys).await;
    let all = candidates(selected);
    let parsed = if sort_needs_content(criteria) { load(s, selected, &hits).await } else { Vec::new() };
    let items: Vec<_> =
        hits.iter().enumerate().map(|(k, &i)| (all[i], parsed.get(k).and_then(Option::as_ref))).collect();
    let order = sort(criteria, &items);
    let ids: Vec<NonZeroU32> = order
        .into_iter()
        .filter_map(|k| items.get(k))
        .filter_map(|(c, _)| NonZeroU32::new(if uid { c.uid } else { c.seq }))
        .collect();
    s.conn.send(&Response::Data(Data::Sort(ids, None)));
    Done::ok(if uid { "UID SORT completed" } else { "SORT completed" })
}

/// THREAD / UID THREAD.
pub async fn run_thread(
    s: &mut Session<'_>,
    algorithm: &ThreadingAlgorithm<'_>,
    charset: &Charset<'_>,
    keys: &[SearchKey<'_>],
    uid: bool,
) -> Done {
    let Some(algorithm) = ThreadAlgorithm::from_imap(algorithm) else {
        return Done::no("Unsupported threading algorithm; use REFERENCES or ORDEREDSUBJECT");
    };
    if let Err(done) = charset_ok(Some(charset)) {
        return done;
    }
    let State::Selected(_, selected) = &s.state else { return Done::bad("No mailbox selected") };
    let hits = matching(s, selected, keys).await;
    let all = candidates(selected);
    let parsed = load(s, selected, &hits).await;
    let items: Vec<_> =
        hits.iter().zip(parsed.iter()).filter_map(|(&i, p)| p.as_ref().map(|p| (all[i], p))).collect();
    let threads = thread(algorithm, &items, uid);
    s.conn.send(&Response::Data(Data::Thread(threads)));
    Done::ok(if uid { "UID THREAD completed" } else { "THREAD completed" })
}

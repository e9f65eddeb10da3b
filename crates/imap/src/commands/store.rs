//! STORE and UID STORE (RFC 9051 §6.4.6) with CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3).

use imap_types::command::StoreModifier;
use imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_types::sequence::SequenceSet;

use mailstead_store::model::{FlagOp, FlagUpdate};

use crate::flags::{MAX_KEYWORDS, from_imap};
use crate::selected::set_text;
use crate::session::{Done, Session, State, code};

/// STORE / UID STORE.
pub async fn run(
    s: &mut Session<'_>,
    set: &SequenceSet,
    kind: &StoreType,
    response: &StoreResponse,
    flags: &[Flag<'_>],
    uid: bool,
    modifiers: &[StoreModifier],
) -> Done {
    let unchanged_since = modifiers.iter().map(|StoreModifier::UnchangedSince(v)| *v).next();
    if unchanged_since.is_some() {
        s.reporting.condstore = true;
    }
    let reporting = s.reporting;
    let State::Selected(_, selected) = &mut s.state else { return Done::bad("No mailbox selected") };
    if selected.read_only {
        return Done::no("Mailbox is read-only").with(code("READ-ONLY"));
    }
    if !uid && selected.seq_out_of_range(set) {
        return Done::bad("Invalid message sequence number");
    }
    let (system, keywords) = from_imap(flags);
    if keywords.len() > MAX_KEYWORDS {
        return Done::no("Too many keywords").with(code("LIMIT"));
    }
    let indices = selected.resolve(set, uid);
    if indices.is_empty() {
        return Done::ok("STORE completed");
    }
    let uids: Vec<u32> = indices.iter().map(|&i| selected.messages[i].uid).collect();
    let op = match kind {
        StoreType::Replace => FlagOp::Replace,
        StoreType::Add => FlagOp::Add,
        StoreType::Remove => FlagOp::Remove,
    };
    let update = FlagUpdate { op, flags: system, keywords, unchanged_since };
    let id = selected.id;
    let result = match s.server.store.update_flags(id, uids, update).await {
        Ok(r) => r,
        Err(e) => return Done::store_error(&e),
    };
    let State::Selected(_, selected) = &mut s.state else { return Done::bad("No mailbox selected") };
    let mut changed = Vec::new();
    for entry in result.changed {
        if let Some(i) = selected.index_of(entry.uid) {
            changed.push(i);
            selected.messages_mut()[i] = entry;
        }
    }
    let silent = matches!(response, StoreResponse::Silent);
    for &i in &indices {
        let conflict = result.conflicts.contains(&selected.messages[i].uid);
        // RFC 7162 §3.1.3: with .SILENT, messages whose MODSEQ changed still get their MODSEQ.
        let report = !conflict && (!silent || (reporting.condstore && changed.contains(&i)));
        if report {
            let r = selected.flags_response(i, reporting.condstore, uid);
            s.conn.send(&r);
        }
    }
    if !result.conflicts.is_empty() {
        let mut numbers: Vec<u32> = if uid {
            result.conflicts.clone()
        } else {
            result.conflicts.iter().filter_map(|u| selected.seq_of(*u)).collect()
        };
        numbers.sort_unstable();
        let text = format!("MODIFIED {}", set_text(&numbers));
        return Done::ok("Conditional STORE failed for some messages").with(other_code(text));
    }
    Done::ok("STORE completed")
}

/// A response code written as text (`COPYUID 1 2:3 4:5`, `MODIFIED 7`).
pub fn other_code(text: String) -> imap_types::response::Code<'static> {
    imap_types::response::Code::Other(imap_types::response::CodeOther::unvalidated(text.into_bytes()))
}

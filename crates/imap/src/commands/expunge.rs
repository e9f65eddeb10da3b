//! EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).

use imap_types::sequence::SequenceSet;

use crate::session::{Done, Session, State, code};

/// EXPUNGE, or UID EXPUNGE when `uids` is given.
pub async fn run(s: &mut Session<'_>, uids: Option<&SequenceSet>) -> Done {
    let State::Selected(_, selected) = &mut s.state else { return Done::bad("No mailbox selected") };
    if selected.read_only {
        return Done::no("Mailbox is read-only").with(code("READ-ONLY"));
    }
    // Only messages in this session's view, so a message that arrived meanwhile is safe.
    let candidates: Vec<u32> = match uids {
        Some(set) => selected.resolve(set, true).into_iter().map(|i| selected.messages[i].uid).collect(),
        None => selected.messages.iter().map(|m| m.uid).collect(),
    };
    if candidates.is_empty() {
        return Done::ok("EXPUNGE completed");
    }
    let id = selected.id;
    match s.server.store.expunge(id, Some(candidates)).await {
        Ok(removed) => {
            let State::Selected(_, selected) = &mut s.state else { return Done::ok("EXPUNGE completed") };
            selected.pending_expunges.extend(removed);
            let responses = selected.report_expunges(s.reporting);
            for r in &responses {
                s.conn.send(r);
            }
            s.dirty = true;
            Done::ok("EXPUNGE completed")
        }
        Err(e) => Done::store_error(&e),
    }
}

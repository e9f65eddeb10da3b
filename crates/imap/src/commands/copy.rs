//! COPY, MOVE (RFC 6851) and their UID forms, with COPYUID (RFC 4315). Moves into and out of
//! the Junk mailbox train the spam classifier ([`crate::junk`]).

use imap_types::mailbox::Mailbox;
use imap_types::response::Code;
use imap_types::sequence::SequenceSet;

use super::store::other_code;
use crate::selected::set_text;
use crate::session::{Done, Session, State, code};
use crate::{junk, names};

/// COPY (`moving` false) or MOVE.
pub async fn run(
    s: &mut Session<'_>,
    set: &SequenceSet,
    mailbox: &Mailbox<'_>,
    uid: bool,
    moving: bool,
) -> Done {
    let verb = if moving { "MOVE" } else { "COPY" };
    let dest = match names::decode(mailbox, s.coding) {
        Ok(n) => n,
        Err(e) => return Done::no(e.to_string()).with(code("CANNOT")),
    };
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    let State::Selected(_, selected) = &s.state else { return Done::bad("No mailbox selected") };
    if moving && selected.read_only {
        return Done::no("Mailbox is read-only").with(code("READ-ONLY"));
    }
    if !uid && selected.seq_out_of_range(set) {
        return Done::bad("Invalid message sequence number");
    }
    let uids: Vec<u32> = selected.resolve(set, uid).into_iter().map(|i| selected.messages[i].uid).collect();
    let from = selected.id;
    let from_role = selected.special_use;
    if uids.is_empty() {
        return Done::ok(format!("{verb} completed (no messages)"));
    }
    let store = s.server.store.clone();
    let to = match store.get_mailbox(account, &dest).await {
        Ok(Some(m)) => m,
        Ok(None) => return Done::no(format!("Mailbox {dest} does not exist")).with(Code::TryCreate),
        Err(e) => return Done::store_error(&e),
    };
    let result = if moving {
        store.move_messages(from, uids, to.id).await
    } else {
        store.copy_messages(from, uids, to.id).await
    };
    let result = match result {
        Ok(r) => r,
        Err(e) => return Done::store_error(&e),
    };
    s.dirty = true;
    let (src, dst): (Vec<u32>, Vec<u32>) = result.mapping.iter().copied().unzip();
    // `src` is in UID order (CopyResult), so it can be searched.
    if let Some(class) = junk::class_for_transfer(from_role, to.special_use)
        && let State::Selected(_, selected) = &s.state
    {
        let blobs = selected
            .messages
            .iter()
            .filter(|m| src.binary_search(&m.uid).is_ok())
            .map(|m| m.blob.clone())
            .collect();
        junk::train_in_background(store, account, blobs, class);
    }
    let copyuid = if src.is_empty() {
        None
    } else {
        Some(other_code(format!("COPYUID {} {} {}", result.uidvalidity, set_text(&src), set_text(&dst))))
    };
    if moving {
        // RFC 6851 §4.3: COPYUID in an untagged OK, then the expunges, then the tagged OK.
        if let Some(c) = copyuid {
            s.untagged_ok(Some(c), "Moved UIDs");
        }
        let reporting = s.reporting;
        if let State::Selected(_, selected) = &mut s.state {
            selected.pending_expunges.extend(src);
            let responses = selected.report_expunges(reporting);
            for r in &responses {
                s.conn.send(r);
            }
        }
        return Done::ok("MOVE completed");
    }
    match copyuid {
        Some(c) => Done::ok("COPY completed").with(c),
        None => Done::ok("COPY completed"),
    }
}

//! CLOSE (RFC 9051 §6.4.1: expunge silently, then leave) and UNSELECT (RFC 3691).

use crate::session::{Done, Session, State};

/// CLOSE (`expunge` true) or UNSELECT.
pub async fn run(s: &mut Session<'_>, expunge: bool) -> Done {
    let State::Selected(auth, selected) = std::mem::replace(&mut s.state, State::Logout) else {
        return Done::bad("No mailbox selected");
    };
    let mut result = Done::ok(if expunge { "CLOSE completed" } else { "UNSELECT completed" });
    if expunge && !selected.read_only {
        // Only messages this session can see; no untagged EXPUNGE (RFC 9051 §6.4.1).
        let uids: Vec<u32> = selected.messages.iter().map(|m| m.uid).collect();
        if let Err(e) = s.server.store.expunge(selected.id, Some(uids)).await {
            result = Done::store_error(&e);
        }
    }
    s.state = State::Authenticated(auth);
    result
}

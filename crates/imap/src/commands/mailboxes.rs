//! CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.4-8).

use imap_types::mailbox::Mailbox;

use crate::names;
use crate::session::{Done, Session, State, code};

fn name_of(s: &Session<'_>, mailbox: &Mailbox<'_>) -> Result<String, Done> {
    names::decode(mailbox, s.coding).map_err(|e| Done::no(e.to_string()).with(code("CANNOT")))
}

/// CREATE. A trailing separator is allowed and ignored (RFC 9051 §6.3.4); missing parents are
/// created too.
pub async fn create(s: &mut Session<'_>, mailbox: &Mailbox<'_>) -> Done {
    let mailbox = match mailbox {
        Mailbox::Other(other) => {
            let raw = other.as_ref();
            let trimmed = raw.strip_suffix(b"/").unwrap_or(raw);
            match imap_types::core::AString::try_from(trimmed.to_vec()) {
                Ok(a) => Mailbox::from(a),
                Err(_) => return Done::no("Invalid mailbox name").with(code("CANNOT")),
            }
        }
        Mailbox::Inbox => return Done::no("INBOX always exists").with(code("ALREADYEXISTS")),
    };
    let name = match name_of(s, &mailbox) {
        Ok(n) => n,
        Err(done) => return done,
    };
    if name == "INBOX" {
        return Done::no("INBOX always exists").with(code("ALREADYEXISTS"));
    }
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    let store = s.server.store.clone();
    // Parents first (RFC 9051 §6.3.4: "create any superior hierarchical names").
    let levels: Vec<&str> = name.split('/').collect();
    for depth in 1..levels.len() {
        let parent = levels[..depth].join("/");
        match store.get_mailbox(account, &parent).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                if let Err(e) = store.create_mailbox(account, &parent, None).await
                    && e.kind != mailstead_store::StoreErrorKind::AlreadyExists
                {
                    return Done::store_error(&e);
                }
            }
            Err(e) => return Done::store_error(&e),
        }
    }
    match store.create_mailbox(account, &name, None).await {
        Ok(_) => Done::ok("CREATE completed"),
        Err(e) => Done::store_error(&e),
    }
}

/// DELETE. INBOX cannot be deleted; a mailbox with children... is deleted with its name only
/// when it has none (RFC 9051 §6.3.5 lets servers refuse; we refuse with [HASCHILDREN]).
pub async fn delete(s: &mut Session<'_>, mailbox: &Mailbox<'_>) -> Done {
    let name = match name_of(s, mailbox) {
        Ok(n) => n,
        Err(done) => return done,
    };
    if name == "INBOX" {
        return Done::no("INBOX cannot be deleted").with(code("CANNOT"));
    }
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    let store = s.server.store.clone();
    let all = match store.list_mailboxes(account).await {
        Ok(all) => all,
        Err(e) => return Done::store_error(&e),
    };
    let Some(target) = all.iter().find(|m| m.name == name) else {
        return Done::no(format!("Mailbox {name} does not exist")).with(code("NONEXISTENT"));
    };
    let prefix = format!("{name}/");
    if all.iter().any(|m| m.name.starts_with(&prefix)) {
        return Done::no("Delete the mailboxes inside it first").with(code("HASCHILDREN"));
    }
    let selected_here = matches!(&s.state, State::Selected(_, sel) if sel.id == target.id);
    match store.delete_mailbox(account, &name).await {
        Ok(()) => {
            if selected_here && let State::Selected(auth, _) = std::mem::replace(&mut s.state, State::Logout)
            {
                s.state = State::Authenticated(auth);
            }
            Done::ok("DELETE completed")
        }
        Err(e) => Done::store_error(&e),
    }
}

/// RENAME (INBOX semantics in the store: RFC 9051 §6.3.6).
pub async fn rename(s: &mut Session<'_>, from: &Mailbox<'_>, to: &Mailbox<'_>) -> Done {
    let (from, to) = match (name_of(s, from), name_of(s, to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(done), _) | (_, Err(done)) => return done,
    };
    if to == "INBOX" {
        return Done::no("Cannot rename to INBOX").with(code("ALREADYEXISTS"));
    }
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    let store = s.server.store.clone();
    if let Ok(Some(_)) = store.get_mailbox(account, &to).await {
        return Done::no(format!("Mailbox {to} already exists")).with(code("ALREADYEXISTS"));
    }
    match store.rename_mailbox(account, &from, &to).await {
        Ok(()) => {
            if let State::Selected(_, sel) = &mut s.state
                && (sel.name == from || sel.name.starts_with(&format!("{from}/")))
                && from != "INBOX"
            {
                sel.name = format!("{to}{}", &sel.name[from.len()..]);
            }
            Done::ok("RENAME completed")
        }
        Err(e) => Done::store_error(&e),
    }
}

/// SUBSCRIBE / UNSUBSCRIBE.
pub async fn subscribe(s: &mut Session<'_>, mailbox: &Mailbox<'_>, on: bool) -> Done {
    let name = match name_of(s, mailbox) {
        Ok(n) => n,
        Err(done) => return done,
    };
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    match s.server.store.set_subscribed(account, &name, on).await {
        Ok(()) => Done::ok(if on { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" }),
        // Unsubscribing a mailbox that no longer exists is fine (RFC 9051 §6.3.8).
        Err(e) if !on && e.kind == mailstead_store::StoreErrorKind::NotFound => {
            Done::ok("UNSUBSCRIBE completed")
        }
        Err(e) => Done::store_error(&e),
    }
}

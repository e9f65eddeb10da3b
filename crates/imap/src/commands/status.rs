//! STATUS (RFC 9051 §6.3.11), also used for LIST-STATUS (RFC 5819).

use imap_types::mailbox::Mailbox as ImapMailbox;
use imap_types::status::StatusDataItemName;

use mailstead_store::model::Mailbox;
use mailstead_types::Flag;

use super::select::quoted;
use crate::names;
use crate::session::{Done, Session, code};

/// The item names as text, in the client's order.
pub fn item_names(items: &[StatusDataItemName]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            match i {
                StatusDataItemName::Messages => "MESSAGES",
                StatusDataItemName::Recent => "RECENT",
                StatusDataItemName::UidNext => "UIDNEXT",
                StatusDataItemName::UidValidity => "UIDVALIDITY",
                StatusDataItemName::Unseen => "UNSEEN",
                StatusDataItemName::Deleted => "DELETED",
                StatusDataItemName::DeletedStorage => "DELETED-STORAGE",
                StatusDataItemName::Size => "SIZE",
                StatusDataItemName::HighestModSeq => "HIGHESTMODSEQ",
            }
            .to_string()
        })
        .collect()
}

/// Queues `* STATUS name (items)` for a mailbox.
pub async fn send_status(s: &mut Session<'_>, mailbox: &Mailbox, items: &[String]) -> Result<(), Done> {
    let needs_entries = items.iter().any(|i| i == "DELETED" || i == "DELETED-STORAGE");
    let (deleted, deleted_size) = if needs_entries {
        let entries = s.server.store.entries(mailbox.id).await.map_err(|e| Done::store_error(&e))?;
        let gone = entries.iter().filter(|e| e.flags.contains(Flag::Deleted));
        gone.fold((0u64, 0u64), |(n, size), e| (n + 1, size + e.size))
    } else {
        (0, 0)
    };
    let mut parts = Vec::new();
    for item in items {
        let value = match item.as_str() {
            "MESSAGES" => u64::from(mailbox.messages),
            "RECENT" => 0,
            "UIDNEXT" => u64::from(mailbox.uidnext),
            "UIDVALIDITY" => u64::from(mailbox.uidvalidity),
            "UNSEEN" => u64::from(mailbox.unseen),
            "DELETED" => deleted,
            "DELETED-STORAGE" => deleted_size,
            "SIZE" => mailbox.size,
            "HIGHESTMODSEQ" => mailbox.highest_modseq.max(1),
            _ => continue,
        };
        parts.push(format!("{item} {value}"));
    }
    let line = format!("* STATUS {} ({})", quoted(&names::encode(&mailbox.name, s.coding)), parts.join(" "));
    s.conn.send_line(&line);
    Ok(())
}

/// STATUS.
pub async fn run(s: &mut Session<'_>, mailbox: &ImapMailbox<'_>, items: &[StatusDataItemName]) -> Done {
    let name = match names::decode(mailbox, s.coding) {
        Ok(n) => n,
        Err(e) => return Done::no(e.to_string()).with(code("CANNOT")),
    };
    let Some(account) = s.account().map(|a| a.id) else { return Done::bad("Not logged in") };
    let mailbox = match s.server.store.get_mailbox(account, &name).await {
        Ok(Some(m)) => m,
        Ok(None) => return Done::no(format!("Mailbox {name} does not exist")).with(code("NONEXISTENT")),
        Err(e) => return Done::store_error(&e),
    };
    if items.iter().any(|i| matches!(i, StatusDataItemName::HighestModSeq)) {
        s.reporting.condstore = true;
    }
    match send_status(s, &mailbox, &item_names(items)).await {
        Ok(()) => Done::ok("STATUS completed"),
        Err(done) => done,
    }
}

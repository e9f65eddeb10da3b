//! SELECT and EXAMINE (RFC 9051 §6.3.2-3), with CONDSTORE and QRESYNC parameters (RFC 7162
//! §3.1.8, §3.2.5).

use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

use imap_types::command::SelectParameter;
use imap_types::mailbox::Mailbox;
use imap_types::response::{Code, Data, Response};

use crate::flags::{mailbox_flags, permanent_flags};
use crate::names;
use crate::selected::{Selected, set_text};
use crate::server::CachedView;
use crate::session::{Auth, Done, Session, State, code};

/// SELECT (`read_only` false) or EXAMINE.
pub async fn run(
    s: &mut Session<'_>,
    mailbox: &Mailbox<'_>,
    parameters: &[SelectParameter],
    read_only: bool,
) -> Done {
    let name = match names::decode(mailbox, s.coding) {
        Ok(name) => name,
        Err(e) => return Done::no(e.to_string()).with(code("CANNOT")),
    };
    let mut qresync = None;
    for p in parameters {
        match p {
            SelectParameter::CondStore => s.reporting.condstore = true,
            SelectParameter::QResync { uid_validity, mod_sequence_value, known_uids, .. } => {
                if !s.reporting.qresync {
                    // RFC 7162 §3.2.5: only after ENABLE QRESYNC.
                    return Done::bad("Use ENABLE QRESYNC first");
                }
                qresync = Some((*uid_validity, *mod_sequence_value, known_uids.clone()));
            }
        }
    }
    // Leaving the previous mailbox (RFC 7162 §3.2.11: [CLOSED] when one was selected).
    let auth = match std::mem::replace(&mut s.state, State::Logout) {
        State::Selected(auth, _) => {
            s.untagged_ok(Some(Code::Closed), "Previous mailbox closed");
            auth
        }
        State::Authenticated(auth) => auth,
        other => {
            s.state = other;
            return Done::bad("Not logged in");
        }
    };
    let account = auth.account.id;
    s.state = State::Authenticated(Auth { account: auth.account, changes: auth.changes });
    // Drain notifications from before the snapshot: the snapshot includes them.
    if let State::Authenticated(a) = &mut s.state {
        while a.changes.try_recv().is_ok() {}
    }
    let store = s.server.store.clone();
    let cached = s.server.cached_view(account, &name);
    let (mailbox, entries) = match store.open_mailbox(account, &name, cached.as_ref().map(|c| c.modseq)).await
    {
        Ok(Some((mailbox, Some(entries)))) => {
            let entries = Arc::new(entries);
            let view =
                CachedView { mailbox: mailbox.id, modseq: mailbox.highest_modseq, entries: entries.clone() };
            s.server.keep_view(account, &name, view);
            (mailbox, entries)
        }
        Ok(Some((mailbox, None))) => match cached {
            Some(view) if view.mailbox == mailbox.id => (mailbox, view.entries),
            // Same HIGHESTMODSEQ but another mailbox: read it for real.
            _ => match store.open_mailbox(account, &name, None).await {
                Ok(Some((mailbox, Some(entries)))) => (mailbox, Arc::new(entries)),
                Ok(_) => return Done::no(format!("Mailbox {name} does not exist")).with(code("NONEXISTENT")),
                Err(e) => return Done::store_error(&e),
            },
        },
        Ok(None) => return Done::no(format!("Mailbox {name} does not exist")).with(code("NONEXISTENT")),
        Err(e) => return Done::store_error(&e),
    };
    let mut keywords: Vec<String> = entries.iter().flat_map(|e| e.keywords.iter().cloned()).collect();
    keywords.sort();
    keywords.dedup();
    keywords.truncate(crate::flags::MAX_KEYWORDS);

    s.conn.send(&Response::Data(Data::Flags(mailbox_flags(&keywords))));
    s.conn.send_line(&format!("* {} EXISTS", entries.len()));
    if !s.rev2 {
        s.conn.send_line("* 0 RECENT");
    }
    if let Some(first_unseen) = entries.iter().position(|e| !e.flags.contains(mailstead_types::Flag::Seen))
        && !s.rev2
        && let Some(seq) = NonZeroU32::new(u32::try_from(first_unseen + 1).unwrap_or(u32::MAX))
    {
        s.untagged_ok(Some(Code::Unseen(seq)), format!("Message {seq} is the first unseen"));
    }
    if let Some(v) = NonZeroU32::new(mailbox.uidvalidity) {
        s.untagged_ok(Some(Code::UidValidity(v)), "UIDs valid");
    }
    let uidnext = entries.last().map_or(mailbox.uidnext, |e| mailbox.uidnext.max(e.uid + 1));
    if let Some(n) = NonZeroU32::new(uidnext) {
        s.untagged_ok(Some(Code::UidNext(n)), "Predicted next UID");
    }
    if read_only {
        s.untagged_ok(Some(Code::PermanentFlags(vec![])), "No permanent flags permitted");
    } else {
        s.untagged_ok(Some(Code::PermanentFlags(permanent_flags(&keywords))), "Flags permitted");
    }
    let highest = entries.iter().map(|e| e.modseq).max().unwrap_or(0).max(mailbox.highest_modseq).max(1);
    if let Some(h) = NonZeroU64::new(highest) {
        s.untagged_ok(Some(Code::HighestModSeq(h)), "Highest");
    }
    s.conn.send_line(&format!("* LIST () \"/\" {}", quoted(&names::encode(&mailbox.name, s.coding))));

    let selected = Selected::new(
        mailbox.id,
        mailbox.name.clone(),
        mailbox.special_use,
        uidnext,
        read_only,
        entries,
        highest,
    );
    if let Some((uid_validity, modseq, known)) = qresync
        && uid_validity.get() == mailbox.uidvalidity
    {
        // RFC 7162 §3.2.5.1: VANISHED (EARLIER) for known UIDs gone, FETCH for changes.
        match store.changes_since(mailbox.id, modseq.get()).await {
            Ok(changes) => {
                let known_ok = |uid: u32| {
                    known.as_ref().is_none_or(|set| set_contains(set, uid, selected.max_uid().max(uid)))
                };
                let mut vanished: Vec<u32> = changes.vanished.into_iter().filter(|u| known_ok(*u)).collect();
                vanished.sort_unstable();
                vanished.dedup();
                if !vanished.is_empty() {
                    s.conn.send_line(&format!("* VANISHED (EARLIER) {}", set_text(&vanished)));
                }
                for entry in changes.changed {
                    if let Some(i) = selected.index_of(entry.uid) {
                        let r = selected.flags_response(i, true, true);
                        s.conn.send(&r);
                    }
                }
            }
            Err(e) => return Done::store_error(&e),
        }
    }
    let State::Authenticated(auth) = std::mem::replace(&mut s.state, State::Logout) else {
        return Done::bad("Not logged in");
    };
    s.state = State::Selected(auth, selected);
    let (code_, what) =
        if read_only { (Code::ReadOnly, "EXAMINE completed") } else { (Code::ReadWrite, "SELECT completed") };
    Done::ok(what).with(code_)
}

/// Whether `uid` is in a UID set.
pub fn set_contains(set: &imap_types::sequence::SequenceSet, uid: u32, max: u32) -> bool {
    use imap_types::sequence::{SeqOrUid, Sequence};
    let v = |x: &SeqOrUid| match x {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => max,
    };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(x) => v(x) == uid,
        Sequence::Range(a, b) => {
            let (lo, hi) = if v(a) <= v(b) { (v(a), v(b)) } else { (v(b), v(a)) };
            (lo..=hi).contains(&uid)
        }
    })
}

/// An IMAP quoted string (or a literal when quoting cannot express it).
pub fn quoted(s: &str) -> String {
    if s.bytes().any(|b| b == b'\r' || b == b'\n') {
        return format!("{{{}}}\r\n{}", s.len(), s);
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

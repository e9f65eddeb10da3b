//! The session's view of its selected mailbox, and keeping it in step with the store.
//!
//! # Invariants
//! - `messages` is the client's view: sequence number n is `messages[n - 1]`, UIDs ascending.
//!   It changes only when the client is told (EXISTS, EXPUNGE/VANISHED), so sequence numbers
//!   the client holds always mean what it thinks.
//! - Expunges by other sessions are reported only where RFC 9051 §7.5.1 allows: never during
//!   FETCH, STORE or SEARCH (nor their non-UID forms' siblings), when they wait in
//!   `pending_expunges`; the messages stay in the view meanwhile, and reads of them still work
//!   because blobs outlive their last mailbox entry until the writer cleans up.
//! - `modseq` is the HIGHESTMODSEQ up to which the view is complete.

use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

use imap_types::core::Vec1;
use imap_types::fetch::MessageDataItem;
use imap_types::response::{Data, Response};
use imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use mailstead_store::model::{MailboxId, MessageEntry};
use mailstead_store::{MailStore, StoreError};
use mailstead_types::SpecialUse;

use crate::flags::to_fetch_flags;

/// The selected mailbox.
#[derive(Debug)]
pub struct Selected {
    /// Store id.
    pub id: MailboxId,
    /// Store name.
    pub name: String,
    /// EXAMINE (or a mailbox the user may not change).
    pub read_only: bool,
    /// The client's view, in sequence order. Shared (copy-on-write) with other sessions that
    /// selected the same mailbox state; change it through [`Selected::messages_mut`].
    pub messages: Arc<Vec<MessageEntry>>,
    /// HIGHESTMODSEQ the view is complete up to.
    pub modseq: u64,
    /// UIDs expunged elsewhere, not yet reported.
    pub pending_expunges: Vec<u32>,
    /// UIDNEXT as last seen.
    pub uidnext: u32,
    /// The mailbox's special-use role (a COPY or MOVE out of \Junk trains the classifier).
    pub special_use: Option<SpecialUse>,
}

/// What the client may be told at this point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPoint {
    /// After commands where expunges may be reported (NOOP, IDLE, CHECK, UID commands, ...).
    Full,
    /// After FETCH, STORE, SEARCH (by sequence number): no EXPUNGE.
    NoExpunge,
}

/// How the session reports things (from ENABLE).
#[derive(Debug, Clone, Copy, Default)]
pub struct Reporting {
    /// Include MODSEQ in unsolicited FETCH (CONDSTORE enabled or used).
    pub condstore: bool,
    /// Report expunges as VANISHED (QRESYNC enabled).
    pub qresync: bool,
}

impl Selected {
    /// A fresh view of `entries`.
    pub fn new(
        id: MailboxId,
        name: String,
        special_use: Option<SpecialUse>,
        uidnext: u32,
        read_only: bool,
        messages: Arc<Vec<MessageEntry>>,
        modseq: u64,
    ) -> Selected {
        Selected { id, name, read_only, messages, modseq, pending_expunges: Vec::new(), uidnext, special_use }
    }

    /// The view for changing (copied first if another session shares it).
    pub fn messages_mut(&mut self) -> &mut Vec<MessageEntry> {
        Arc::make_mut(&mut self.messages)
    }

    /// Number of messages in the view (EXISTS).
    pub fn exists(&self) -> u32 {
        u32::try_from(self.messages.len()).unwrap_or(u32::MAX)
    }

    /// Highest UID in the view (`*` in UID sets when the mailbox is not empty).
    pub fn max_uid(&self) -> u32 {
        self.messages.last().map_or(0, |m| m.uid)
    }

    /// Sequence number of a UID.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok().and_then(|i| u32::try_from(i + 1).ok())
    }

    /// Index into `messages` for a UID.
    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// Resolves a sequence set to indices into `messages`, ascending, without expanding the
    /// set into a list of numbers first (a hostile `1:4294967295` costs one pass).
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let mut hit = vec![false; self.messages.len()];
        for seq in set.0.as_ref() {
            let (a, b) = match seq {
                Sequence::Single(x) => (self.bound(x, uid), self.bound(x, uid)),
                Sequence::Range(x, y) => (self.bound(x, uid), self.bound(y, uid)),
            };
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            if uid {
                let start = self.messages.partition_point(|m| m.uid < lo);
                let end = self.messages.partition_point(|m| m.uid <= hi);
                hit[start..end].iter_mut().for_each(|h| *h = true);
            } else {
                let len = self.messages.len() as u64;
                let (lo, hi) = (u64::from(lo).max(1), u64::from(hi).min(len));
                if lo <= hi {
                    let (lo, hi) = (usize::try_from(lo - 1).unwrap_or(0), usize::try_from(hi).unwrap_or(0));
                    hit[lo..hi].iter_mut().for_each(|h| *h = true);
                }
            }
        }
        hit.iter().enumerate().filter(|(_, h)| **h).map(|(i, _)| i).collect()
    }

    /// Whether a sequence-number set names numbers beyond the view (RFC 9051 §6.4.4: BAD).
    pub fn seq_out_of_range(&self, set: &SequenceSet) -> bool {
        let max = self.exists();
        set.0.as_ref().iter().any(|seq| match seq {
            Sequence::Single(SeqOrUid::Value(v)) => v.get() > max,
            // `n:*` is fine even in an empty mailbox (what Dovecot and clients expect).
            Sequence::Range(SeqOrUid::Value(a), SeqOrUid::Value(b)) => a.get().min(b.get()) > max,
            Sequence::Range(..) => false,
            Sequence::Single(SeqOrUid::Asterisk) => false,
        })
    }

    fn bound(&self, x: &SeqOrUid, uid: bool) -> u32 {
        match x {
            SeqOrUid::Value(v) => v.get(),
            SeqOrUid::Asterisk if uid => self.max_uid(),
            SeqOrUid::Asterisk => self.exists(),
        }
    }

    /// Brings the view up to date with the store and returns the untagged responses to send.
    /// `Err` with kind NotFound means the mailbox is gone (deleted or renamed away).
    pub async fn sync(
        &mut self,
        store: &dyn MailStore,
        point: SyncPoint,
        reporting: Reporting,
    ) -> Result<Vec<Response<'static>>, StoreError> {
        let changes = store.changes_since(self.id, self.modseq).await?;
        let mut out = Vec::new();
        // Expunges first (their sequence numbers are the ones the client knows now).
        for uid in changes.vanished {
            if self.index_of(uid).is_some() && !self.pending_expunges.contains(&uid) {
                self.pending_expunges.push(uid);
            }
        }
        if point == SyncPoint::Full {
            out.extend(self.report_expunges(reporting));
        }
        // Flag changes of known messages, then new messages.
        let known_max = self.max_uid();
        let mut added = false;
        for entry in changes.changed {
            if entry.uid > known_max {
                if self.messages.last().is_none_or(|m| m.uid < entry.uid) {
                    self.messages_mut().push(entry);
                    added = true;
                }
                continue;
            }
            let Some(i) = self.index_of(entry.uid) else { continue };
            let old = &self.messages[i];
            let differs = old.flags != entry.flags || old.keywords != entry.keywords;
            let modseq_news = reporting.condstore && old.modseq != entry.modseq;
            self.messages_mut()[i] = entry;
            if differs || modseq_news {
                out.push(self.flags_response(i, reporting.condstore, false));
            }
        }
        if added {
            self.messages_mut().sort_by_key(|m| m.uid);
            out.push(Response::Data(Data::Exists(self.exists())));
        }
        self.modseq = self.modseq.max(changes.highest_modseq);
        if let Some(last) = self.messages.last() {
            self.uidnext = self.uidnext.max(last.uid.saturating_add(1));
        }
        Ok(out)
    }

    /// Removes pending expunges from the view and returns their EXPUNGE or VANISHED responses.
    pub fn report_expunges(&mut self, reporting: Reporting) -> Vec<Response<'static>> {
        let mut uids = std::mem::take(&mut self.pending_expunges);
        if uids.is_empty() {
            return Vec::new();
        }
        uids.sort_unstable();
        uids.dedup();
        if reporting.qresync {
            // RFC 7162 §3.2.10: VANISHED instead of EXPUNGE.
            self.messages_mut().retain(|m| uids.binary_search(&m.uid).is_err());
            return uid_set(&uids)
                .map(|known_uids| vec![Response::Data(Data::Vanished { earlier: false, known_uids })])
                .unwrap_or_default();
        }
        let mut out = Vec::new();
        // Highest first, so each number is still valid when the client applies it.
        for uid in uids.iter().rev() {
            if let Some(i) = self.index_of(*uid) {
                self.messages_mut().remove(i);
                if let Some(seq) = NonZeroU32::new(u32::try_from(i + 1).unwrap_or(u32::MAX)) {
                    out.push(Response::Data(Data::Expunge(seq)));
                }
            }
        }
        out
    }

    /// An untagged `FETCH (UID n FLAGS (...) [MODSEQ (m)])` for message index `i`.
    pub fn flags_response(&self, i: usize, with_modseq: bool, with_uid: bool) -> Response<'static> {
        let m = &self.messages[i];
        let seq = NonZeroU32::new(u32::try_from(i + 1).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        let mut items = Vec::new();
        if with_uid && let Some(uid) = NonZeroU32::new(m.uid) {
            items.push(MessageDataItem::Uid(uid));
        }
        items.push(MessageDataItem::Flags(to_fetch_flags(m.flags, &m.keywords)));
        if with_modseq && let Some(modseq) = NonZeroU64::new(m.modseq) {
            items.push(MessageDataItem::ModSeq(modseq));
        }
        let items = Vec1::try_from(items).unwrap_or_else(|_| Vec1::from(MessageDataItem::Rfc822Size(0)));
        Response::Data(Data::Fetch { seq, items })
    }
}

/// A compact UID set (`1:3,7`) for VANISHED, COPYUID and ESEARCH.
pub fn uid_set(uids: &[u32]) -> Option<SequenceSet> {
    let mut ranges: Vec<Sequence> = Vec::new();
    let mut iter = uids.iter().copied().filter_map(NonZeroU32::new).peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while let Some(next) = iter.peek().copied() {
            if next.get() == end.get().saturating_add(1) {
                end = next;
                iter.next();
            } else {
                break;
            }
        }
        ranges.push(if start == end {
            Sequence::Single(SeqOrUid::Value(start))
        } else {
            Sequence::Range(SeqOrUid::Value(start), SeqOrUid::Value(end))
        });
    }
    Vec1::try_from(ranges).ok().map(SequenceSet)
}

/// `1:3,7` as text (for lines written by hand).
pub fn set_text(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end.saturating_add(1) {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailstead_store::model::BlobId;
    use mailstead_types::Flags;

    fn view(uids: &[u32]) -> Selected {
        let messages = uids
            .iter()
            .map(|&uid| MessageEntry {
                uid,
                blob: BlobId(String::new()),
                size: 1,
                internal_date: 0,
                flags: Flags::EMPTY,
                keywords: vec![],
                modseq: 1,
            })
            .collect();
        Selected::new(1, "INBOX".into(), None, 100, false, Arc::new(messages), 1)
    }

    fn set(text: &str) -> SequenceSet {
        SequenceSet::try_from(text).unwrap_or_else(|_| SequenceSet::from(NonZeroU32::MIN))
    }

    #[test]
    fn resolves_sequence_and_uid_sets() {
        let v = view(&[3, 5, 9, 10, 20]);
        assert_eq!(v.resolve(&set("2:3"), false), vec![1, 2]);
        assert_eq!(v.resolve(&set("*"), false), vec![4]);
        assert_eq!(v.resolve(&set("4:*"), false), vec![3, 4]);
        assert_eq!(v.resolve(&set("5:9"), true), vec![1, 2]);
        assert_eq!(v.resolve(&set("9:5"), true), vec![1, 2], "ranges in either order");
        assert_eq!(v.resolve(&set("21:*"), true), vec![4], "RFC 9051: * is the highest UID");
        assert_eq!(v.resolve(&set("1:4294967295"), true).len(), 5);
        assert!(v.seq_out_of_range(&set("6")));
        assert!(v.seq_out_of_range(&set("6:7")));
        assert!(!v.seq_out_of_range(&set("5:9")), "a range reaching into the view is clipped");
        assert!(!v.seq_out_of_range(&set("1:*")));
    }

    #[test]
    fn sets_are_compact() {
        assert_eq!(set_text(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(set_text(&[]), "");
    }

    #[test]
    fn expunges_are_reported_highest_first() {
        let mut v = view(&[3, 5, 9]);
        v.pending_expunges = vec![3, 9];
        let out = v.report_expunges(Reporting::default());
        let seqs: Vec<u32> = out
            .iter()
            .filter_map(|r| match r {
                Response::Data(Data::Expunge(n)) => Some(n.get()),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, vec![3, 1]);
        assert_eq!(v.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![5]);
    }
}

//! SEARCH: evaluates a search program (RFC 9051 §6.4.4, RFC 3501 §6.4.4, with OLDER/YOUNGER of
//! RFC 5032 and MODSEQ of RFC 7162 §3.1.5) for one message.
//!
//! The program is the AND of the command's keys. Each key is answered from the [`Candidate`]
//! (flags, UID, dates, size) or, for header and body keys, from the [`ParsedMessage`].

use imap_types::datetime::NaiveDate;
use imap_types::search::SearchKey;
use imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use mailstead_types::Flag;

use super::{Candidate, SearchContext};
use crate::message::ParsedMessage;

/// Search programs nested deeper than this (NOT, OR and parenthesised lists) match nothing.
pub const MAX_SEARCH_DEPTH: usize = 64;

/// Whether evaluating `keys` needs the message bytes (a [`ParsedMessage`]): header, address,
/// subject, body and text keys, and the SENT* date keys.
pub fn needs_content(keys: &[SearchKey<'_>]) -> bool {
    keys.iter().all(|key| within_depth(key, 1)) && keys.iter().any(key_needs_content)
}

/// Evaluates the AND of `keys` for one message. `message` is the parsed message when
/// [`needs_content`] was true; content keys do not match without it.
pub fn matches(
    keys: &[SearchKey<'_>],
    candidate: &Candidate<'_>,
    message: Option<&ParsedMessage>,
    ctx: &SearchContext,
) -> bool {
    if !keys.iter().all(|key| within_depth(key, 1)) {
        return false;
    }
    let eval = Eval { candidate, message, ctx };
    keys.iter().all(|key| eval.key(key))
}

/// Whether `key` nests at most [`MAX_SEARCH_DEPTH`] levels, `depth` being its own level. Only
/// after this check do the other walks recurse, so their recursion is bounded too.
fn within_depth(key: &SearchKey<'_>, depth: usize) -> bool {
    if depth > MAX_SEARCH_DEPTH {
        return false;
    }
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().all(|key| within_depth(key, depth + 1)),
        SearchKey::Not(key) => within_depth(key, depth + 1),
        SearchKey::Or(left, right) => within_depth(left, depth + 1) && within_depth(right, depth + 1),
        _ => true,
    }
}

fn key_needs_content(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().any(key_needs_content),
        SearchKey::Not(key) => key_needs_content(key),
        SearchKey::Or(left, right) => key_needs_content(left) || key_needs_content(right),
        SearchKey::Bcc(_)
        | SearchKey::Body(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::Header(..)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_)
        | SearchKey::Subject(_)
        | SearchKey::Text(_)
        | SearchKey::To(_) => true,
        SearchKey::SequenceSet(_)
        | SearchKey::All
        | SearchKey::Answered
        | SearchKey::Before(_)
        | SearchKey::Deleted
        | SearchKey::Draft
        | SearchKey::Flagged
        | SearchKey::Keyword(_)
        | SearchKey::Larger(_)
        | SearchKey::New
        | SearchKey::Old
        | SearchKey::Older(_)
        | SearchKey::On(_)
        | SearchKey::Recent
        | SearchKey::Seen
        | SearchKey::Since(_)
        | SearchKey::Smaller(_)
        | SearchKey::Uid(_)
        | SearchKey::Unanswered
        | SearchKey::Undeleted
        | SearchKey::Undraft
        | SearchKey::Unflagged
        | SearchKey::Unkeyword(_)
        | SearchKey::Unseen
        | SearchKey::Younger(_)
        | SearchKey::ModSequence { .. } => false,
    }
}

/// One message under evaluation.
struct Eval<'e> {
    candidate: &'e Candidate<'e>,
    message: Option<&'e ParsedMessage>,
    ctx: &'e SearchContext,
}

impl Eval<'_> {
    /// Evaluates one key; the caller has checked its depth.
    fn key(&self, key: &SearchKey<'_>) -> bool {
        let c = self.candidate;
        let flag = |flag| c.flags.contains(flag);
        let internal_day = c.internal_date.div_euclid(SECONDS_PER_DAY);
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().all(|key| self.key(key)),
            SearchKey::Not(key) => !self.key(key),
            SearchKey::Or(left, right) => self.key(left) || self.key(right),
            SearchKey::All => true,
            SearchKey::SequenceSet(set) => contains(set, c.seq, self.ctx.max_seq),
            SearchKey::Uid(set) => contains(set, c.uid, self.ctx.max_uid),

            SearchKey::Answered => flag(Flag::Answered),
            SearchKey::Deleted => flag(Flag::Deleted),
            SearchKey::Draft => flag(Flag::Draft),
            SearchKey::Flagged => flag(Flag::Flagged),
            SearchKey::Seen => flag(Flag::Seen),
            SearchKey::Unanswered => !flag(Flag::Answered),
            SearchKey::Undeleted => !flag(Flag::Deleted),
            SearchKey::Undraft => !flag(Flag::Draft),
            SearchKey::Unflagged => !flag(Flag::Flagged),
            SearchKey::Unseen => !flag(Flag::Seen),
            SearchKey::Keyword(keyword) => has_keyword(c, keyword.as_ref()),
            SearchKey::Unkeyword(keyword) => !has_keyword(c, keyword.as_ref()),
            // RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT. No message is \Recent
            // here (IMAP4rev2 dropped it, RFC 9051 Appendix E).
            SearchKey::New | SearchKey::Recent => false,
            SearchKey::Old => true,

            // RFC 9051 §6.4.4: the internal date, disregarding time and time zone; we take its
            // calendar date in UTC.
            SearchKey::Before(date) => internal_day < day(date),
            SearchKey::On(date) => internal_day == day(date),
            SearchKey::Since(date) => internal_day >= day(date),
            // RFC 5032 §3: OLDER is "less recent than or equal to" now minus the interval,
            // YOUNGER "more recent than or equal to".
            SearchKey::Older(seconds) => {
                c.internal_date <= self.ctx.now.saturating_sub(i64::from(seconds.get()))
            }
            SearchKey::Younger(seconds) => {
                c.internal_date >= self.ctx.now.saturating_sub(i64::from(seconds.get()))
            }
            // RFC 9051 §6.4.4: the Date: header, disregarding time and time zone (the date as
            // written). A message without a usable Date: header matches none of the three.
            SearchKey::SentBefore(date) => self.sent_day().is_some_and(|sent| sent < day(date)),
            SearchKey::SentOn(date) => self.sent_day().is_some_and(|sent| sent == day(date)),
            SearchKey::SentSince(date) => self.sent_day().is_some_and(|sent| sent >= day(date)),

            SearchKey::Larger(octets) => c.size > u64::from(*octets),
            SearchKey::Smaller(octets) => c.size < u64::from(*octets),
            // RFC 7162 §3.1.5: MODSEQ matches messages whose mod-sequence is greater than or
            // equal to the value. We keep one mod-sequence per message, so the entry name and
            // type are ignored, as that section requires of such servers.
            SearchKey::ModSequence { modseq, .. } => c.modseq >= *modseq,

            SearchKey::Bcc(needle) => self.header("Bcc", needle.as_ref()),
            SearchKey::Cc(needle) => self.header("Cc", needle.as_ref()),
            SearchKey::From(needle) => self.header("From", needle.as_ref()),
            SearchKey::To(needle) => self.header("To", needle.as_ref()),
            SearchKey::Subject(needle) => self.header("Subject", needle.as_ref()),
            // RFC 9051 §6.4.4: with an empty string, HEADER matches every message that has the
            // field (ParsedMessage::header_contains does exactly this).
            SearchKey::Header(name, needle) => self.header(&text(name.as_ref()), needle.as_ref()),
            SearchKey::Body(needle) => self.message.is_some_and(|m| m.body_contains(&text(needle.as_ref()))),
            SearchKey::Text(needle) => self.message.is_some_and(|m| m.text_contains(&text(needle.as_ref()))),
        }
    }

    fn header(&self, name: &str, needle: &[u8]) -> bool {
        self.message.is_some_and(|m| m.header_contains(name, &text(needle)))
    }

    fn sent_day(&self) -> Option<i64> {
        self.message.and_then(ParsedMessage::sent_day)
    }
}

const SECONDS_PER_DAY: i64 = 86_400;

/// A search date as days since 1970-01-01.
fn day(date: &NaiveDate) -> i64 {
    i64::from(date.as_ref().to_epoch_days())
}

/// A search string as text; the caller has accepted the command's CHARSET (UTF-8 or US-ASCII).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// KEYWORD / UNKEYWORD: keywords compare case-insensitively (ASCII); a system flag name such as
/// `\Seen` tests the flag itself.
fn has_keyword(c: &Candidate<'_>, name: &str) -> bool {
    if name.starts_with('\\') {
        return Flag::from_imap(name).is_some_and(|flag| c.flags.contains(flag));
    }
    c.keywords.iter().any(|keyword| keyword.eq_ignore_ascii_case(name))
}

/// Whether `n` is in `set`, `*` standing for `largest`. Ranges count in either order (RFC 9051
/// §9, seq-range: "4:2" is "2:4"). Nothing is expanded: each range is a comparison.
pub(crate) fn contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|sequence| match sequence {
        Sequence::Single(v) => value(v) == n,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            a.min(b) <= n && n <= a.max(b)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use imap_types::core::Vec1;
    use mailstead_types::Flags;

    use super::*;

    fn nested(depth: usize) -> SearchKey<'static> {
        let mut key = SearchKey::All;
        for _ in 1..depth {
            key = SearchKey::Not(Box::new(SearchKey::Not(Box::new(key))));
        }
        key
    }

    #[test]
    fn depth_is_bounded() {
        let c = Candidate {
            seq: 1,
            uid: 1,
            flags: Default::default(),
            keywords: &[],
            modseq: 1,
            internal_date: 0,
            size: 1,
        };
        let ctx = SearchContext { max_seq: 1, max_uid: 1, now: 0 };
        // NOT NOT ... ALL: 2 * 31 + 1 = 63 levels match, 2 * 32 + 1 = 65 do not.
        assert!(matches(&[nested(32)], &c, None, &ctx));
        assert!(!matches(&[nested(33)], &c, None, &ctx));
        assert!(matches(&[SearchKey::And(Vec1::from(nested(32)))], &c, None, &ctx));
        let deep_and = SearchKey::And(Vec1::from(SearchKey::Not(Box::new(nested(32)))));
        assert!(!matches(std::slice::from_ref(&deep_and), &c, None, &ctx));
        // Negating a program that is too deep does not make it match.
        assert!(!matches(&[SearchKey::Not(Box::new(deep_and))], &c, None, &ctx));
        // Far beyond any stack: still answered, without recursion past the bound.
        let mut key = SearchKey::All;
        for _ in 0..100_000 {
            key = SearchKey::Not(Box::new(key));
        }
        assert!(!matches(std::slice::from_ref(&key), &c, None, &ctx));
        assert!(!needs_content(std::slice::from_ref(&key)));
        // Dropping a 100k-deep Box chain recurses; unwind it by hand.
        while let SearchKey::Not(inner) = key {
            key = *inner;
        }
    }

    #[test]
    fn system_flag_names_as_keywords() {
        // imap-codec cannot produce `KEYWORD \Seen` (a backslash is no atom char), but a key
        // built in code can carry it; it tests the flag, not a keyword of that name.
        let keywords = ["\\Seen".to_string(), "Work".to_string()];
        let c = Candidate {
            seq: 1,
            uid: 1,
            flags: Flags::EMPTY.with(Flag::Flagged),
            keywords: &keywords,
            modseq: 1,
            internal_date: 0,
            size: 1,
        };
        assert!(has_keyword(&c, "\\flagged"));
        assert!(!has_keyword(&c, "\\Seen"));
        assert!(!has_keyword(&c, "\\Recent"));
        assert!(has_keyword(&c, "wORK"));
    }

    #[test]
    fn sequence_set_membership_without_expansion() {
        let nz = |n| SeqOrUid::Value(NonZeroU32::new(n).unwrap());
        let set = SequenceSet(Vec1::from(Sequence::Range(nz(1), nz(u32::MAX))));
        assert!(contains(&set, u32::MAX - 1, 5));
        let set = SequenceSet(Vec1::from(Sequence::Range(nz(9), SeqOrUid::Asterisk)));
        assert!(contains(&set, 7, 7), "559:* includes the last message even below 559");
        assert!(!contains(&set, 6, 7));
        let set = SequenceSet(Vec1::from(Sequence::Single(SeqOrUid::Asterisk)));
        assert!(contains(&set, 7, 7) && !contains(&set, 6, 7));
    }
}

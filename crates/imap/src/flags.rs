//! Flags between imap-types and the store: system flags as a bit set, keywords as strings.

use imap_types::core::Atom;
use imap_types::flag::{Flag as ImapFlag, FlagFetch, FlagPerm};

use mailstead_types::{Flag, Flags};

/// Most keywords one message may carry; more are refused (a STORE bomb).
pub const MAX_KEYWORDS: usize = 100;

/// Splits command flags into system flags and keywords. `\Recent` and unknown `\` flags are
/// ignored (RFC 9051 §2.3.2: servers may refuse them; ignoring is what clients cope with).
pub fn from_imap(flags: &[ImapFlag<'_>]) -> (Flags, Vec<String>) {
    let mut system = Flags::EMPTY;
    let mut keywords = Vec::new();
    for flag in flags {
        match flag {
            ImapFlag::Seen => system = system.with(Flag::Seen),
            ImapFlag::Answered => system = system.with(Flag::Answered),
            ImapFlag::Flagged => system = system.with(Flag::Flagged),
            ImapFlag::Deleted => system = system.with(Flag::Deleted),
            ImapFlag::Draft => system = system.with(Flag::Draft),
            ImapFlag::Extension(_) => {}
            ImapFlag::Keyword(atom) => {
                let k = atom.as_ref().to_string();
                if !keywords.iter().any(|x: &String| x.eq_ignore_ascii_case(&k)) {
                    keywords.push(k);
                }
            }
        }
    }
    keywords.sort();
    (system, keywords)
}

/// The FLAGS list of a message for FETCH.
pub fn to_fetch_flags(flags: Flags, keywords: &[String]) -> Vec<FlagFetch<'static>> {
    let mut out: Vec<FlagFetch<'static>> = flags.iter().map(|f| FlagFetch::Flag(system(f))).collect();
    out.extend(keywords.iter().filter_map(|k| keyword(k)).map(FlagFetch::Flag));
    out
}

/// The FLAGS response of SELECT: system flags and the keywords in use.
pub fn mailbox_flags(keywords: &[String]) -> Vec<ImapFlag<'static>> {
    let mut out: Vec<ImapFlag<'static>> = ALL.iter().map(|f| system(*f)).collect();
    out.extend(keywords.iter().filter_map(|k| keyword(k)));
    out
}

/// PERMANENTFLAGS: the system flags and `\*` (any keyword may be created).
pub fn permanent_flags(keywords: &[String]) -> Vec<FlagPerm<'static>> {
    let mut out: Vec<FlagPerm<'static>> = mailbox_flags(keywords).into_iter().map(FlagPerm::Flag).collect();
    out.push(FlagPerm::Asterisk);
    out
}

const ALL: [Flag; 5] = [Flag::Answered, Flag::Flagged, Flag::Deleted, Flag::Seen, Flag::Draft];

fn system(flag: Flag) -> ImapFlag<'static> {
    match flag {
        Flag::Seen => ImapFlag::Seen,
        Flag::Answered => ImapFlag::Answered,
        Flag::Flagged => ImapFlag::Flagged,
        Flag::Deleted => ImapFlag::Deleted,
        Flag::Draft => ImapFlag::Draft,
    }
}

fn keyword(k: &str) -> Option<ImapFlag<'static>> {
    Atom::try_from(k.to_string()).ok().map(ImapFlag::Keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join() {
        let atom = |s: &str| {
            ImapFlag::Keyword(Atom::try_from(s.to_string()).unwrap_or_else(|_| Atom::unvalidated("x")))
        };
        let (f, k) =
            from_imap(&[ImapFlag::Seen, atom("$Junk"), atom("$junk"), ImapFlag::Deleted, atom("Work")]);
        assert!(f.contains(Flag::Seen) && f.contains(Flag::Deleted) && !f.contains(Flag::Draft));
        assert_eq!(k, vec!["$Junk".to_string(), "Work".to_string()]);
        assert_eq!(to_fetch_flags(f, &k).len(), 4);
    }
}

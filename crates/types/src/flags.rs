//! IMAP system flags as a compact bit set, and mailbox special-use roles (RFC 6154).
//!
//! `\Recent` is deliberately absent: it is session state (RFC 3501 §2.3.2), gone in IMAP4rev2,
//! and never stored. Keywords (user flags) are strings kept beside the bit set by the store.

use std::fmt;

/// One IMAP system flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
}

impl Flag {
    /// Every system flag, in display order.
    pub const ALL: [Flag; 5] = [Flag::Seen, Flag::Answered, Flag::Flagged, Flag::Deleted, Flag::Draft];

    const fn bit(self) -> u8 {
        match self {
            Flag::Seen => 1,
            Flag::Answered => 2,
            Flag::Flagged => 4,
            Flag::Deleted => 8,
            Flag::Draft => 16,
        }
    }

    /// The IMAP spelling, e.g. `\Seen`.
    pub const fn imap_name(self) -> &'static str {
        match self {
            Flag::Seen => "\\Seen",
            Flag::Answered => "\\Answered",
            Flag::Flagged => "\\Flagged",
            Flag::Deleted => "\\Deleted",
            Flag::Draft => "\\Draft",
        }
    }

    /// Parses an IMAP system flag name, case-insensitively.
    pub fn from_imap(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.imap_name().eq_ignore_ascii_case(name))
    }
}

/// A set of system flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flags.
    pub const EMPTY: Flags = Flags(0);

    /// Rebuilds a set from its stored bits; unknown bits are dropped.
    pub const fn from_bits(bits: u8) -> Flags {
        Flags(bits & 0b1_1111)
    }

    /// The stored representation.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether `flag` is set.
    pub const fn contains(self, flag: Flag) -> bool {
        self.0 & flag.bit() != 0
    }

    /// The set with `flag` added.
    pub const fn with(self, flag: Flag) -> Flags {
        Flags(self.0 | flag.bit())
    }

    /// Union.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Difference: `self` without the flags of `other`.
    pub const fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags that are set.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Self {
        iter.into_iter().fold(Flags::EMPTY, Flags::with)
    }
}

/// A mailbox's special-use role (RFC 6154), plus the INBOX itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    /// The INBOX (not a special-use attribute, but created with the others).
    Inbox,
    /// `\Sent`
    Sent,
    /// `\Drafts`
    Drafts,
    /// `\Trash`
    Trash,
    /// `\Junk`
    Junk,
    /// `\Archive`
    Archive,
}

impl SpecialUse {
    /// The mailboxes every new account gets, with their default names.
    pub const DEFAULTS: [(SpecialUse, &'static str); 6] = [
        (SpecialUse::Inbox, "INBOX"),
        (SpecialUse::Sent, "Sent"),
        (SpecialUse::Drafts, "Drafts"),
        (SpecialUse::Trash, "Trash"),
        (SpecialUse::Junk, "Junk"),
        (SpecialUse::Archive, "Archive"),
    ];

    /// The stored and displayed name (`inbox`, `sent`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            SpecialUse::Inbox => "inbox",
            SpecialUse::Sent => "sent",
            SpecialUse::Drafts => "drafts",
            SpecialUse::Trash => "trash",
            SpecialUse::Junk => "junk",
            SpecialUse::Archive => "archive",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<SpecialUse> {
        SpecialUse::DEFAULTS.into_iter().map(|(u, _)| u).find(|u| u.as_str().eq_ignore_ascii_case(s))
    }

    /// The RFC 6154 attribute, `None` for the INBOX.
    pub const fn imap_attribute(self) -> Option<&'static str> {
        match self {
            SpecialUse::Inbox => None,
            SpecialUse::Sent => Some("\\Sent"),
            SpecialUse::Drafts => Some("\\Drafts"),
            SpecialUse::Trash => Some("\\Trash"),
            SpecialUse::Junk => Some("\\Junk"),
            SpecialUse::Archive => Some("\\Archive"),
        }
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_set_algebra() {
        let f = Flags::EMPTY.with(Flag::Seen).with(Flag::Deleted);
        assert!(f.contains(Flag::Seen) && f.contains(Flag::Deleted) && !f.contains(Flag::Draft));
        assert_eq!(f.without(Flags::EMPTY.with(Flag::Seen)).iter().collect::<Vec<_>>(), vec![Flag::Deleted]);
        assert_eq!(Flags::from_bits(0xff).bits(), 0b1_1111);
        assert_eq!(Flag::from_imap("\\seen"), Some(Flag::Seen));
        assert_eq!(Flag::from_imap("\\Recent"), None);
    }

    #[test]
    fn special_use_round_trip() {
        for (u, _) in SpecialUse::DEFAULTS {
            assert_eq!(SpecialUse::parse(u.as_str()), Some(u));
        }
        assert_eq!(SpecialUse::parse("nope"), None);
    }
}

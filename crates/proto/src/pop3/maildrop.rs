//! The maildrop as a POP3 session sees it: the messages of INBOX at login, numbered from 1,
//! with their sizes and unique-ids.
//!
//! Invariant (RFC 1939 §5): message numbers and sizes do not change during the session; new
//! mail appears at the next login. Deletions are only marks until QUIT.

/// One message of the maildrop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    /// The message's UID in INBOX (the IMAP UID).
    pub uid: u32,
    /// Its exact size in octets, CRLF line ends counted as two (RFC 1939 §11).
    pub size: u64,
}

/// The maildrop at login: INBOX's UIDVALIDITY and its messages in UID order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Maildrop {
    /// INBOX's UIDVALIDITY, part of every unique-id.
    pub uidvalidity: u32,
    /// The messages; message number `n` is `messages[n - 1]`.
    pub messages: Vec<MessageInfo>,
}

impl Maildrop {
    /// The unique-id of a message (RFC 1939 §7 UIDL): the UID and the mailbox's UIDVALIDITY
    /// as 8 upper-case hex digits each (Dovecot's default `%08Xu%08Xv`, so clients that move
    /// from Dovecot keep recognising messages whose UIDs were kept). It is stable across
    /// sessions and tied to the IMAP identity of the message: the same (UIDVALIDITY, UID)
    /// never names another message.
    pub fn unique_id(&self, uid: u32) -> String {
        unique_id(self.uidvalidity, uid)
    }
}

/// The unique-id of message `uid` in a mailbox with `uidvalidity` (see [`Maildrop::unique_id`]).
/// RFC 1939 §7: 1 to 70 characters in the range 0x21 to 0x7E; this is always 16.
pub fn unique_id(uidvalidity: u32, uid: u32) -> String {
    format!("{uid:08X}{uidvalidity:08X}")
}

/// The session's view of the maildrop during TRANSACTION: the snapshot plus the marks.
#[derive(Debug)]
pub(crate) struct Marks {
    pub maildrop: Maildrop,
    /// `deleted[n - 1]`: message `n` was deleted with DELE (RFC 1939 §6).
    pub deleted: Vec<bool>,
    /// `retrieved[n - 1]`: message `n` was sent in full with RETR.
    pub retrieved: Vec<bool>,
}

impl Marks {
    pub fn new(maildrop: Maildrop) -> Marks {
        let n = maildrop.messages.len();
        Marks { maildrop, deleted: vec![false; n], retrieved: vec![false; n] }
    }

    /// The message numbered `number` (1-based) unless it is deleted.
    pub fn live(&self, number: usize) -> Option<&MessageInfo> {
        let index = number.checked_sub(1)?;
        match self.deleted.get(index) {
            Some(false) => self.maildrop.messages.get(index),
            _ => None,
        }
    }

    /// (number, message) of every message not deleted.
    pub fn live_messages(&self) -> impl Iterator<Item = (usize, &MessageInfo)> {
        self.maildrop.messages.iter().enumerate().filter(|(i, _)| !self.deleted[*i]).map(|(i, m)| (i + 1, m))
    }

    /// Count and total size of the messages not deleted (STAT, RSET).
    pub fn totals(&self) -> (usize, u64) {
        self.live_messages().fold((0, 0), |(n, size), (_, m)| (n + 1, size + m.size))
    }

    /// The UIDs marked for deletion.
    pub fn deleted_uids(&self) -> Vec<u32> {
        self.uids_where(|i| self.deleted[i])
    }

    /// The UIDs retrieved and not deleted.
    pub fn seen_uids(&self) -> Vec<u32> {
        self.uids_where(|i| self.retrieved[i] && !self.deleted[i])
    }

    fn uids_where(&self, pick: impl Fn(usize) -> bool) -> Vec<u32> {
        self.maildrop.messages.iter().enumerate().filter(|(i, _)| pick(*i)).map(|(_, m)| m.uid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_are_fixed_width_hex() {
        assert_eq!(unique_id(0x5f00_0001, 7), "000000075F000001");
        assert_eq!(unique_id(u32::MAX, u32::MAX).len(), 16);
    }

    #[test]
    fn marks() {
        let drop = Maildrop {
            uidvalidity: 1,
            messages: vec![MessageInfo { uid: 3, size: 10 }, MessageInfo { uid: 9, size: 5 }],
        };
        let mut m = Marks::new(drop);
        assert_eq!(m.totals(), (2, 15));
        m.deleted[0] = true;
        m.retrieved[0] = true;
        m.retrieved[1] = true;
        assert!(m.live(1).is_none() && m.live(3).is_none() && m.live(0).is_none());
        assert_eq!(m.live(2).map(|i| i.uid), Some(9));
        assert_eq!(m.totals(), (1, 5));
        assert_eq!(m.deleted_uids(), vec![3]);
        assert_eq!(m.seen_uids(), vec![9]);
    }
}

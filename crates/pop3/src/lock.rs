//! The maildrop lock (RFC 1939 §8: a POP3 server grants exclusive access to a maildrop).
//!
//! An in-process set of the accounts that have a POP3 session in TRANSACTION. A guard is
//! handed out on login and releases the account when dropped — at QUIT after the update, or
//! when the connection ends in any other way — so a crashed session cannot leave a stale lock.
//! The lock is per server process; IMAP sessions do not take it (they coexist with POP3 as
//! Dovecot's do: deletions reach them as expunges).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use mailstead_store::model::AccountId;

/// The accounts whose maildrop is locked. Cheap to clone; clones share the set.
#[derive(Debug, Clone, Default)]
pub struct MaildropLocks {
    held: Arc<Mutex<HashSet<AccountId>>>,
}

/// Holds one account's maildrop lock until dropped.
#[derive(Debug)]
pub struct MaildropGuard {
    locks: MaildropLocks,
    account: AccountId,
}

impl MaildropLocks {
    /// Locks `account`'s maildrop; `None` if another session holds it.
    pub fn try_lock(&self, account: AccountId) -> Option<MaildropGuard> {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.insert(account).then(|| MaildropGuard { locks: self.clone(), account })
    }

    /// Whether `account`'s maildrop is locked now.
    pub fn is_locked(&self, account: AccountId) -> bool {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(&account)
    }
}

impl Drop for MaildropGuard {
    fn drop(&mut self) {
        let mut held = self.locks.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.remove(&self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_release() {
        let locks = MaildropLocks::default();
        let first = locks.try_lock(7);
        assert!(first.is_some());
        assert!(locks.try_lock(7).is_none());
        assert!(locks.try_lock(8).is_some(), "other accounts are independent");
        drop(first);
        assert!(!locks.is_locked(7));
        assert!(locks.try_lock(7).is_some());
    }
}

//! Per-account change notifications: every committed store write publishes a [`Change`] on the
//! account's channel; IMAP IDLE and concurrent sessions subscribe. Channels are made on first
//! subscription and dropped when their last subscriber goes, so idle accounts cost nothing.
//!
//! A slow subscriber that falls more than [`CHANNEL_CAPACITY`] events behind gets
//! `RecvError::Lagged` from tokio and must resynchronise from the store (IMAP sessions do a full
//! recheck), so a stuck client can never make writers wait.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::model::{AccountId, MailboxId};

/// How many events a subscriber may fall behind before it must resynchronise.
pub const CHANNEL_CAPACITY: usize = 1024;

/// Something that changed in an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A message was added to a mailbox.
    MessageAdded {
        /// Mailbox.
        mailbox: MailboxId,
        /// Its UID.
        uid: u32,
        /// Its MODSEQ.
        modseq: u64,
    },
    /// A message's flags changed.
    FlagsChanged {
        /// Mailbox.
        mailbox: MailboxId,
        /// UID.
        uid: u32,
        /// New MODSEQ.
        modseq: u64,
    },
    /// Messages were expunged.
    Expunged {
        /// Mailbox.
        mailbox: MailboxId,
        /// UIDs removed.
        uids: Vec<u32>,
        /// MODSEQ of the expunge.
        modseq: u64,
    },
    /// A mailbox was created.
    MailboxCreated {
        /// Name.
        name: String,
    },
    /// A mailbox was deleted.
    MailboxDeleted {
        /// Name.
        name: String,
    },
    /// A mailbox was renamed.
    MailboxRenamed {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
}

/// The set of per-account channels.
#[derive(Debug, Default)]
pub struct ChangeHub {
    channels: Mutex<HashMap<AccountId, broadcast::Sender<Change>>>,
}

impl ChangeHub {
    /// An empty hub.
    pub fn new() -> ChangeHub {
        ChangeHub::default()
    }

    /// Subscribes to an account's changes.
    pub fn subscribe(&self, account: AccountId) -> broadcast::Receiver<Change> {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels.entry(account).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).subscribe()
    }

    /// Publishes committed changes. Never blocks.
    pub fn publish(&self, changes: impl IntoIterator<Item = (AccountId, Change)>) {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (account, change) in changes {
            if let Some(sender) = channels.get(&account)
                && sender.send(change).is_err()
            {
                // Nobody listens any more.
                channels.remove(&account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_only_their_account() {
        let hub = ChangeHub::new();
        let mut a = hub.subscribe(1);
        let mut b = hub.subscribe(2);
        hub.publish([(1, Change::MailboxCreated { name: "x".into() })]);
        assert_eq!(a.recv().await.ok(), Some(Change::MailboxCreated { name: "x".into() }));
        assert!(b.try_recv().is_err());
        drop(a);
        hub.publish([(1, Change::MailboxCreated { name: "y".into() })]);
        assert!(hub.channels.lock().map(|c| !c.contains_key(&1)).unwrap_or(false));
    }
}

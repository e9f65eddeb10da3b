//! The maildrop in the store: INBOX read at login, messages read for RETR/TOP, and the
//! UPDATE state at QUIT (RFC 1939 §6).
//!
//! # The update
//! 1. The UIDs to remove (the DELE'd ones, plus retrieved ones due under EXPIRE) are removed
//!    with `remove_messages(INBOX, those UIDs)`: exactly them, whatever their flags — never a
//!    message an IMAP client flagged `\Deleted` itself — in one store transaction, publishing
//!    the expunge to IMAP sessions. A crash or a failure leaves all of them in place.
//! 2. Retrieved messages left in place get `\Seen`, as an IMAP client reading them would set.
//!
//! If step 1 fails the client is told nothing was removed (`-ERR [SYS/TEMP]`); it may retry.

use std::collections::{BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use mailstead_proto::pop3::{Expire, FetchResult, Maildrop, MessageInfo, UpdateResult};
use mailstead_store::model::{Account, FlagOp, FlagUpdate, MailboxId, MessageEntry};
use mailstead_store::{Store, StoreError, StoreErrorKind};
use mailstead_types::{Flag, Flags};

use crate::lock::MaildropGuard;

/// The maildrop of a logged-in session: INBOX's id and the entries numbered at login, and the
/// lock, held for as long as this lives.
#[derive(Debug)]
pub struct OpenMaildrop {
    /// The account.
    pub account: Account,
    /// INBOX.
    pub mailbox: MailboxId,
    /// The messages at login by UID.
    entries: HashMap<u32, MessageEntry>,
    _guard: MaildropGuard,
}

impl OpenMaildrop {
    /// Reads INBOX for `account`, whose maildrop lock `guard` is.
    pub async fn open(
        store: &dyn Store,
        account: Account,
        guard: MaildropGuard,
    ) -> Result<(OpenMaildrop, Maildrop), StoreError> {
        let inbox = store
            .get_mailbox(account.id, "INBOX")
            .await?
            .ok_or_else(|| StoreError::not_found(format!("{} has no INBOX", account.address)))?;
        let entries = store.entries(inbox.id).await?;
        let maildrop = Maildrop {
            uidvalidity: inbox.uidvalidity,
            messages: entries.iter().map(|e| MessageInfo { uid: e.uid, size: e.size }).collect(),
        };
        let entries = entries.into_iter().map(|e| (e.uid, e)).collect();
        Ok((OpenMaildrop { account, mailbox: inbox.id, entries, _guard: guard }, maildrop))
    }

    /// The bytes of message `uid` (RETR, TOP).
    pub async fn read(&self, store: &dyn Store, uid: u32) -> FetchResult {
        let Some(entry) = self.entries.get(&uid) else { return FetchResult::Gone };
        match store.read_message(&entry.blob).await {
            Ok(data) => FetchResult::Message(data),
            Err(e) if e.kind == StoreErrorKind::NotFound => FetchResult::Gone,
            Err(e) => {
                tracing::warn!(account = %self.account.address, uid, error = %e, "pop3: reading a message failed");
                FetchResult::TemporaryFailure
            }
        }
    }

    /// The UPDATE state (see the module documentation). Consumes the maildrop, so the lock is
    /// released once the deletions are applied and before the client hears about it.
    pub async fn update(
        self,
        store: &dyn Store,
        expunge: Vec<u32>,
        seen: Vec<u32>,
        expire: Option<Expire>,
    ) -> UpdateResult {
        let mut remove: BTreeSet<u32> = expunge.into_iter().collect();
        if let Some(Expire::Days(days)) = expire {
            // RFC 2449 §6.7: our announced policy; retrieved messages this old go now.
            let cutoff = now().saturating_sub(i64::from(days) * 86_400);
            remove.extend(
                seen.iter().filter(|uid| self.entries.get(uid).is_some_and(|e| e.internal_date <= cutoff)),
            );
        }
        let seen: Vec<u32> = seen.into_iter().filter(|uid| !remove.contains(uid)).collect();
        let remove: Vec<u32> = remove.into_iter().collect();
        if let Err(e) = self.remove(store, &remove).await {
            tracing::warn!(account = %self.account.address, error = %e, "pop3: QUIT could not remove the deleted messages");
            return UpdateResult::Failed;
        }
        if !seen.is_empty()
            && let Err(e) = store.update_flags(self.mailbox, seen, flag_update(FlagOp::Add, Flag::Seen)).await
        {
            // The deletions are done; a missing \Seen is not worth failing the QUIT for.
            tracing::warn!(account = %self.account.address, error = %e, "pop3: could not set \\Seen");
        }
        if !remove.is_empty() {
            tracing::info!(target: "mail", "pop3: {} removed {} messages at QUIT", self.account.address, remove.len());
        }
        UpdateResult::Done { remaining: self.entries.len().saturating_sub(remove.len()) }
    }

    /// Removes exactly `uids`, in one store transaction (all or nothing).
    async fn remove(&self, store: &dyn Store, uids: &[u32]) -> Result<(), StoreError> {
        if uids.is_empty() {
            return Ok(());
        }
        store.remove_messages(self.mailbox, uids.to_vec()).await.map(|_| ())
    }
}

fn flag_update(op: FlagOp, flag: Flag) -> FlagUpdate {
    FlagUpdate { op, flags: Flags::EMPTY.with(flag), keywords: Vec::new(), unchanged_since: None }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

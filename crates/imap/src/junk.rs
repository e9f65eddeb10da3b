//! Training the account's spam classifier from the user's own sorting: a message COPY'd or
//! MOVE'd into the `\Junk` mailbox is learned as spam; one taken out of `\Junk` into any
//! mailbox but `\Trash` is learned as ham. Training is keyed by the message content, so a
//! repeat costs nothing and a move back out of Junk un-learns the spam before learning ham.
//!
//! Training never delays the command's reply: it runs in a spawned task, reading the messages
//! in small batches, and failures are only logged (the move itself has succeeded).

use std::sync::Arc;

use mailstead_filter::bayes::{self, Class};
use mailstead_store::Store;
use mailstead_store::model::{AccountId, BlobId};
use mailstead_types::SpecialUse;

/// Messages read from the store at once while training.
const BATCH: usize = 32;

/// What moving messages from a mailbox of role `from` to one of role `to` teaches.
pub fn class_for_transfer(from: Option<SpecialUse>, to: Option<SpecialUse>) -> Option<Class> {
    let junk = Some(SpecialUse::Junk);
    match (from == junk, to) {
        (false, Some(SpecialUse::Junk)) => Some(Class::Spam),
        (true, Some(SpecialUse::Junk | SpecialUse::Trash)) => None,
        (true, _) => Some(Class::Ham),
        (false, _) => None,
    }
}

/// Trains `blobs` as `class` for `account` in the background.
pub fn train_in_background(store: Arc<dyn Store>, account: AccountId, blobs: Vec<BlobId>, class: Class) {
    tokio::spawn(async move {
        let mut learned = 0usize;
        for batch in blobs.chunks(BATCH) {
            let messages = match store.read_messages(batch.to_vec()).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(account, error = %e, "spam training: cannot read the messages");
                    return;
                }
            };
            for (blob, data) in batch.iter().zip(messages) {
                let trained = match data {
                    Ok(bytes) => bayes::train(store.as_ref(), account, blob, &bytes, class).await,
                    Err(e) => Err(e),
                };
                match trained {
                    Ok(_) => learned += 1,
                    Err(e) => tracing::warn!(account, blob = %blob.0, error = %e, "spam training failed"),
                }
            }
        }
        tracing::debug!(account, learned, class = class.as_str(), "spam training from a mailbox move");
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use SpecialUse::*;

    #[test]
    fn what_a_transfer_teaches() {
        assert_eq!(class_for_transfer(Some(Inbox), Some(Junk)), Some(Class::Spam));
        assert_eq!(class_for_transfer(None, Some(Junk)), Some(Class::Spam));
        assert_eq!(class_for_transfer(Some(Junk), Some(Inbox)), Some(Class::Ham));
        assert_eq!(class_for_transfer(Some(Junk), None), Some(Class::Ham));
        assert_eq!(class_for_transfer(Some(Junk), Some(Archive)), Some(Class::Ham));
        assert_eq!(class_for_transfer(Some(Junk), Some(Trash)), None, "deleting spam is not ham");
        assert_eq!(class_for_transfer(Some(Junk), Some(Junk)), None);
        assert_eq!(class_for_transfer(Some(Inbox), Some(Archive)), None);
        assert_eq!(class_for_transfer(None, Some(Trash)), None);
    }
}

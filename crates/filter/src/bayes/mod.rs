//! The per-account statistical spam classifier (naive Bayes with Robinson/Fisher combining)
//! and sender reputation from the user's own history.
//!
//! - [`tokens`] turns a message into its [`Tokens`] (hashed, see [`tokenize`]).
//! - [`classify`] gives a spam probability from the account's trained counts, or `None` until
//!   the account has trained [`MIN_TRAINED`] spam and ham messages (see [`classify`](mod@classify)
//!   for the arithmetic).
//! - [`train`] learns a message as [`Class::Spam`] or [`Class::Ham`]. Training is keyed by the
//!   message content ([`BlobId`]): training the same content again as the same class does
//!   nothing, and training it as the other class first un-learns it (a message moved out of
//!   Junk stops counting as spam and counts as ham).
//! - [`known_correspondent`] says whether the user's history vouches for a sender.
//!
//! The counts live in the store ([`mailstead_store::SpamStore`]), one set per account.

pub mod classify;
mod text;
pub mod tokenize;

use mailstead_store::model::{AccountId, BlobId, SpamTraining};
use mailstead_store::{Result, Store};

pub use classify::MIN_TRAINED;
pub use mailstead_store::model::{SpamClass as Class, TrainOutcome};

/// The hashed token set of one message, and its normalised From address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    hashes: Vec<u64>,
    sender: Option<String>,
}

impl Tokens {
    /// The token hashes, sorted, each once.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// The From address, lowercased, if the message has a usable one.
    pub fn sender(&self) -> Option<&str> {
        self.sender.as_deref()
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the message gave no token at all.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// Tokenizes a message (see [`tokenize`] for what counts and the limits).
pub fn tokens(message: &[u8]) -> Tokens {
    let mut collector = tokenize::Collector::default();
    let sender = tokenize::message(message, &mut collector);
    Tokens { hashes: collector.into_hashes(), sender }
}

/// The token texts of a message in the order found, for explaining a verdict or a test.
pub fn token_texts(message: &[u8]) -> Vec<String> {
    let mut collector = tokenize::Collector::recording();
    tokenize::message(message, &mut collector);
    collector.recorded()
}

/// The spam probability of a message for an account, or `None` while the account has trained
/// fewer than [`MIN_TRAINED`] messages of either class.
pub async fn classify(store: &dyn Store, account: AccountId, tokens: &Tokens) -> Result<Option<f64>> {
    let counts = store.spam_counts(account, tokens.hashes.clone()).await?;
    Ok(classify::score(&counts))
}

/// Trains one message (its bytes and content address) as `class` for an account.
pub async fn train(
    store: &dyn Store,
    account: AccountId,
    blob: &BlobId,
    message: &[u8],
    class: Class,
) -> Result<TrainOutcome> {
    // The common repeat (the same message trained again) costs a read, not a tokenization
    // and a write; the store's own check in the write transaction keeps it exact.
    if store.spam_trained_as(account, blob).await? == Some(class) {
        return Ok(TrainOutcome::AlreadyKnown);
    }
    let Tokens { hashes, sender } = tokens(message);
    store.spam_train(account, SpamTraining { blob: blob.clone(), class, tokens: hashes, sender }).await
}

/// Whether the user's own history vouches for `sender`: the user has sent mail to them, or
/// has received (and kept, or trained as ham) at least two messages from them and trained
/// none of theirs as spam. Known correspondents pass the spam filter.
pub async fn known_correspondent(store: &dyn Store, account: AccountId, sender: &str) -> Result<bool> {
    let Some(address) = tokenize::normalize_address(sender) else { return Ok(false) };
    let Some(c) = store.correspondent(account, &address).await? else { return Ok(false) };
    let good = u64::from(c.ham_received) + u64::from(c.ham_trained);
    Ok(c.sent > 0 || (c.spam_trained == 0 && good >= 2))
}

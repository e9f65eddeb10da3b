//! Which accounts have a trained spam classifier, remembered for a short while: delivery
//! asks it for every copy, and most accounts' answer changes rarely (once, when training
//! reaches the minimum). A newly trained account is classified within [`TTL`].

use std::time::Duration;

use mailstead_filter::bayes;
use mailstead_store::Store;

use crate::ttl_map::TtlMap;

/// How long an answer is reused.
pub const TTL: Duration = Duration::from_secs(60);
/// Most accounts remembered (the map is cleared when it grows past this).
const MAX_ENTRIES: usize = 100_000;

/// The cache; one per server.
#[derive(Debug)]
pub struct TrainedAccounts {
    known: TtlMap<i64, bool>,
}

impl Default for TrainedAccounts {
    fn default() -> Self {
        TrainedAccounts { known: TtlMap::new(TTL, MAX_ENTRIES) }
    }
}

impl TrainedAccounts {
    /// Whether `account` has trained at least [`bayes::MIN_TRAINED`] spam and ham messages.
    pub async fn is_trained(&self, store: &dyn Store, account: i64) -> bool {
        if let Some(trained) = self.known.get(&account) {
            return trained;
        }
        let trained = match store.spam_counts(account, Vec::new()).await {
            Ok(t) => t.spam_messages >= bayes::MIN_TRAINED && t.ham_messages >= bayes::MIN_TRAINED,
            Err(e) => {
                tracing::warn!(account, error = %e, "spam classifier unavailable; scoring without it");
                return false;
            }
        };
        self.known.insert(account, trained);
        trained
    }
}

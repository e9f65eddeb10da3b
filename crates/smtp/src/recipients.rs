//! Recent recipient acceptances, reused for a second. Under load the same addresses come again
//! and again, and deciding on each RCPT took two database reads (the domain, then the account
//! or alias), each a read transaction with its locks and, after every commit, its pages read
//! again: about a twentieth of the server's CPU per 1 KiB delivery.
//!
//! Only acceptances are kept: an unknown address is looked up every time, so a new account or
//! alias works at once. A removal or a change made meanwhile (with the CLI, which is another
//! process) is seen within [`TTL`]; a mailbox that filled up within it is refused when the
//! message is stored rather than at RCPT.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mailstead_store::resolve::Resolution;

/// How long an acceptance is reused.
pub const TTL: Duration = Duration::from_secs(1);
/// Most addresses remembered (the map is cleared when it grows past this).
const MAX_ENTRIES: usize = 10_000;

/// The cache; one per server.
#[derive(Debug)]
pub struct RecipientCache {
    ttl: Duration,
    known: Mutex<HashMap<String, (Resolution, Instant)>>,
}

impl Default for RecipientCache {
    fn default() -> Self {
        RecipientCache::with_ttl(TTL)
    }
}

impl RecipientCache {
    /// A cache whose entries last `ttl`.
    pub fn with_ttl(ttl: Duration) -> RecipientCache {
        RecipientCache { ttl, known: Mutex::new(HashMap::new()) }
    }

    /// Where mail for `address` (normalised) went when it was last accepted, if that was
    /// within the time to live.
    pub fn get(&self, address: &str) -> Option<Resolution> {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        match known.get(address) {
            Some((resolution, at)) if at.elapsed() < self.ttl => Some(resolution.clone()),
            Some(_) => {
                known.remove(address);
                None
            }
            None => None,
        }
    }

    /// Remembers that `address` (normalised) was accepted with `resolution`.
    pub fn accepted(&self, address: String, resolution: &Resolution) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_ENTRIES {
            known.clear();
        }
        known.insert(address, (resolution.clone(), Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailstead_types::Address;

    fn remote(address: &str) -> Resolution {
        Resolution { local: vec![], remote: vec![Address::parse(address).expect("address")] }
    }

    #[test]
    fn an_acceptance_is_reused_until_it_expires() {
        let cache = RecipientCache::with_ttl(Duration::from_millis(100));
        assert_eq!(cache.get("u@example.test"), None);
        cache.accepted("u@example.test".into(), &remote("x@remote.test"));
        assert_eq!(cache.get("u@example.test"), Some(remote("x@remote.test")));
        assert_eq!(cache.get("v@example.test"), None, "another address is not");
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(cache.get("u@example.test"), None, "expired");
        assert!(cache.known.lock().expect("lock").is_empty(), "an expired entry is dropped");
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = RecipientCache::default();
        for i in 0..MAX_ENTRIES + 5 {
            cache.accepted(format!("u{i}@example.test"), &remote("x@remote.test"));
        }
        assert!(cache.known.lock().expect("lock").len() <= MAX_ENTRIES);
    }
}

//! A small shared map whose entries expire: answers worth reusing for a while (which accounts
//! have a trained classifier, which recipients were accepted), bounded in size.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries live for `ttl`; the map is cleared when it grows past `max` entries.
#[derive(Debug)]
pub struct TtlMap<K, V> {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    /// An empty map.
    pub fn new(ttl: Duration, max: usize) -> TtlMap<K, V> {
        TtlMap { ttl, max, entries: Mutex::new(HashMap::new()) }
    }

    /// The value stored for `key` within the time to live (an expired one is dropped).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some((value, at)) if at.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` for `key`, from now.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_reused_until_it_expires() {
        let map = TtlMap::new(Duration::from_millis(100), 10);
        assert_eq!(map.get("u@example.test"), None);
        map.insert("u@example.test".to_string(), 7);
        assert_eq!(map.get("u@example.test"), Some(7));
        assert_eq!(map.get("v@example.test"), None, "another key is not");
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(map.get("u@example.test"), None, "expired");
        assert_eq!(map.len(), 0, "an expired entry is dropped");
    }

    #[test]
    fn the_map_is_bounded() {
        let map = TtlMap::new(Duration::from_secs(1), 100);
        for i in 0..105 {
            map.insert(i, ());
        }
        assert!(map.len() <= 100);
    }
}

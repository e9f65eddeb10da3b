//! Queue identifiers: short, unique, sortable by creation time, safe in file names and logs.
//!
//! Format: 12 hex digits of milliseconds since the epoch followed by 8 random hex digits, e.g.
//! `0193a1b2c3d4e5f60718`. Sorting the strings sorts by arrival time, which is what a postmaster
//! reading `mailstead queue list` or a log expects.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A queue id (see the module documentation for the format).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct QueueId(String);

impl QueueId {
    /// Makes a new id from the current time and `random` (the caller supplies randomness so
    /// this crate stays free of I/O and global state).
    pub fn new(now: SystemTime, random: u32) -> QueueId {
        let millis = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        QueueId(format!("{:012x}{:08x}", millis & 0xffff_ffff_ffff, random))
    }

    /// Accepts a stored or user-typed id: 20 lower-case hex digits.
    pub fn parse(s: &str) -> Option<QueueId> {
        let ok = s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| QueueId(s.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_sort_by_time_and_parse_back() {
        let a = QueueId::new(UNIX_EPOCH + Duration::from_millis(1_700_000_000_000), 0xffff_ffff);
        let b = QueueId::new(UNIX_EPOCH + Duration::from_millis(1_700_000_000_001), 0);
        assert!(a < b);
        assert_eq!(QueueId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(QueueId::parse("xyz"), None);
        assert_eq!(QueueId::parse("0193A1B2C3D4E5F60718"), None);
    }
}

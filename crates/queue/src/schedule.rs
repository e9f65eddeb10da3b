//! When to try again: exponential backoff with jitter, and the two deadlines of a queued
//! message — the delay notice (default after 4 hours) and expiry (default after 5 days).

use std::time::Duration;

use rand::Rng;

/// Retry timing of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Wait after the first failed attempt.
    pub first_retry: Duration,
    /// Longest wait between attempts.
    pub max_retry: Duration,
    /// Age at which the sender is told the message is delayed.
    pub delay_warning: Duration,
    /// Age at which the queue gives up and bounces.
    pub expire: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            first_retry: Duration::from_secs(5 * 60),
            max_retry: Duration::from_secs(60 * 60),
            delay_warning: Duration::from_secs(4 * 3600),
            expire: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl Schedule {
    /// The time of the next attempt after `attempts` failed ones (1 for the first failure),
    /// from `now`: `first_retry * 2^(attempts-1)`, capped at `max_retry`, then moved by up to
    /// ±20% so that many messages deferred together do not all come back in the same second.
    pub fn next_attempt(&self, attempts: u32, now: i64) -> i64 {
        let doubling = attempts.saturating_sub(1).min(20);
        let base = self.first_retry.as_secs().saturating_mul(1u64 << doubling).min(self.max_retry.as_secs());
        let jitter = (base as f64 * rand::thread_rng().gen_range(-0.2..=0.2)) as i64;
        now + (base as i64 + jitter).max(1)
    }

    /// Whether a message created at `created` has expired at `now`.
    pub fn expired(&self, created: i64, now: i64) -> bool {
        now - created >= self.expire.as_secs() as i64
    }

    /// Whether a message created at `created` is due its delay notice at `now`.
    pub fn delay_due(&self, created: i64, now: i64) -> bool {
        now - created >= self.delay_warning.as_secs() as i64
    }

    /// When the queue gives up on a message created at `created` (for `Will-Retry-Until`).
    pub fn gives_up_at(&self, created: i64) -> i64 {
        created + self.expire.as_secs() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter() {
        let s = Schedule::default();
        for (attempts, base) in [(1, 300), (2, 600), (3, 1200), (4, 2400), (5, 3600), (30, 3600)] {
            for _ in 0..50 {
                let wait = s.next_attempt(attempts, 1000) - 1000;
                let (lo, hi) = ((base as f64 * 0.8) as i64 - 1, (base as f64 * 1.2) as i64 + 1);
                assert!(
                    (lo..=hi).contains(&wait),
                    "attempt {attempts}: waited {wait}, expected about {base}"
                );
            }
        }
        assert!(s.expired(0, 5 * 86400) && !s.expired(0, 5 * 86400 - 1));
        assert!(s.delay_due(0, 4 * 3600) && !s.delay_due(0, 4 * 3600 - 1));
        assert_eq!(s.gives_up_at(100), 100 + 5 * 86400);
    }
}

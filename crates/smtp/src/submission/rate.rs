//! Submission rate limits: messages per hour per account and per client IP, recipients per
//! hour per account, in sliding one-hour windows kept in memory. A compromised account (or a
//! password-guessing botnet that got in) can send at most this much before the postmaster
//! notices; the refusals are 4xx, so a legitimate client just sends the rest later.
//!
//! Recipients per message are limited by the session itself (`max_recipients`, 452 4.5.3).
//! Counting happens when a message is accepted ([`RateLimiter::record`]); the checks look at
//! what was accepted in the last hour, so concurrent sessions of one account can overshoot a
//! limit by at most the messages they have in flight. A restart forgets the windows.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mailstead_proto::smtp::Reply;
use mailstead_store::auth::ip_key;

/// The window every limit counts in.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// Most accounts or IPs tracked; beyond it, idle entries are dropped (bounds memory).
const MAX_TRACKED: usize = 100_000;

/// The limits, per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Messages one account may submit.
    pub messages_per_account: u32,
    /// Messages that may be submitted from one client IP (IPv6: its /64), over all accounts.
    pub messages_per_ip: u32,
    /// Recipients one account may address, over all its messages.
    pub recipients_per_account: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { messages_per_account: 200, messages_per_ip: 400, recipients_per_account: 1000 }
    }
}

/// Which limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// Messages per hour of the account.
    AccountMessages(u32),
    /// Messages per hour from the client's address.
    IpMessages(u32),
    /// Recipients per hour of the account.
    AccountRecipients(u32),
}

impl Exceeded {
    /// The reply: 451 4.7.1 (RFC 3463 X.7.1, delivery not authorized for now; a 4xx so a
    /// well-behaved client sends later, RFC 6409 §5 leaves the policy to the MSA).
    pub fn reply(self) -> Reply {
        let text = match self {
            Exceeded::AccountMessages(n) => {
                format!("Sending limit reached: {n} messages per hour for this account, try again later")
            }
            Exceeded::IpMessages(n) => {
                format!("Sending limit reached: {n} messages per hour from your address, try again later")
            }
            Exceeded::AccountRecipients(n) => {
                format!("Sending limit reached: {n} recipients per hour for this account, try again later")
            }
        };
        Reply::new(451, "4.7.1", text)
    }
}

/// Acceptance times (with recipient counts) per account and per IP.
#[derive(Debug, Default)]
struct Windows {
    accounts: HashMap<String, VecDeque<(Instant, u32)>>,
    ips: HashMap<IpAddr, VecDeque<Instant>>,
}

/// The shared counter of both submission listeners.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    windows: Mutex<Windows>,
}

impl RateLimiter {
    /// A limiter with nothing counted yet.
    pub fn new(limits: RateLimits) -> RateLimiter {
        RateLimiter { limits, windows: Mutex::default() }
    }

    /// The limits in force.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// May `account` (normalised address) start another message from `ip`?
    pub fn check_message(&self, account: &str, ip: IpAddr, now: Instant) -> Result<(), Exceeded> {
        let mut w = self.lock();
        let sent = w.accounts.get_mut(account).map_or(0, |q| expire(q, now, |e| e.0).len());
        if sent >= self.limits.messages_per_account as usize {
            return Err(Exceeded::AccountMessages(self.limits.messages_per_account));
        }
        let from_ip = w.ips.get_mut(&ip_key(ip)).map_or(0, |q| expire(q, now, |t| *t).len());
        if from_ip >= self.limits.messages_per_ip as usize {
            return Err(Exceeded::IpMessages(self.limits.messages_per_ip));
        }
        Ok(())
    }

    /// May `account` address one more recipient, with `pending` already accepted in the
    /// transaction under way?
    pub fn check_recipient(&self, account: &str, pending: usize, now: Instant) -> Result<(), Exceeded> {
        let mut w = self.lock();
        let sent: u64 = w
            .accounts
            .get_mut(account)
            .map_or(0, |q| expire(q, now, |e| e.0).iter().map(|e| u64::from(e.1)).sum());
        if sent + pending as u64 >= u64::from(self.limits.recipients_per_account) {
            return Err(Exceeded::AccountRecipients(self.limits.recipients_per_account));
        }
        Ok(())
    }

    /// Counts an accepted message of `account` from `ip` to `recipients` recipients.
    pub fn record(&self, account: &str, ip: IpAddr, recipients: usize, now: Instant) {
        let mut w = self.lock();
        if w.accounts.len() >= MAX_TRACKED || w.ips.len() >= MAX_TRACKED {
            w.accounts.retain(|_, q| !expire(q, now, |e| e.0).is_empty());
            w.ips.retain(|_, q| !expire(q, now, |t| *t).is_empty());
        }
        let recipients = u32::try_from(recipients).unwrap_or(u32::MAX);
        let q = w.accounts.entry(account.to_string()).or_default();
        expire(q, now, |e| e.0).push_back((now, recipients));
        let q = w.ips.entry(ip_key(ip)).or_default();
        expire(q, now, |t| *t).push_back(now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Drops the entries that left the window; returns the queue.
fn expire<T>(q: &mut VecDeque<T>, now: Instant, at: impl Fn(&T) -> Instant) -> &mut VecDeque<T> {
    while q.front().is_some_and(|e| now.saturating_duration_since(at(e)) >= WINDOW) {
        q.pop_front();
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn account_and_ip_message_limits_slide() {
        let limiter = RateLimiter::new(RateLimits {
            messages_per_account: 2,
            messages_per_ip: 3,
            recipients_per_account: 100,
        });
        let t0 = Instant::now();
        limiter.record("alice@example.test", ip("192.0.2.1"), 1, t0);
        limiter.record("alice@example.test", ip("192.0.2.1"), 1, t0 + Duration::from_secs(60));
        let later = t0 + Duration::from_secs(120);
        assert_eq!(
            limiter.check_message("alice@example.test", ip("192.0.2.9"), later),
            Err(Exceeded::AccountMessages(2))
        );
        limiter.record("bob@example.test", ip("192.0.2.1"), 1, later);
        assert_eq!(
            limiter.check_message("carol@example.test", ip("192.0.2.1"), later),
            Err(Exceeded::IpMessages(3))
        );
        assert_eq!(limiter.check_message("carol@example.test", ip("192.0.2.2"), later), Ok(()));
        // An hour after the first message one slot is free again.
        assert_eq!(limiter.check_message("alice@example.test", ip("192.0.2.9"), t0 + WINDOW), Ok(()));
        assert_eq!(Exceeded::IpMessages(3).reply().code, 451);
    }

    #[test]
    fn recipients_count_across_messages_and_the_transaction() {
        let limiter = RateLimiter::new(RateLimits {
            messages_per_account: 100,
            messages_per_ip: 100,
            recipients_per_account: 10,
        });
        let t0 = Instant::now();
        limiter.record("a@example.test", ip("2001:db8::1"), 7, t0);
        assert_eq!(limiter.check_recipient("a@example.test", 2, t0), Ok(()));
        assert_eq!(limiter.check_recipient("a@example.test", 3, t0), Err(Exceeded::AccountRecipients(10)));
        // IPv6 clients count by /64.
        limiter.record("b@example.test", ip("2001:db8::2"), 1, t0);
        let w = limiter.lock();
        assert_eq!(w.ips.len(), 1);
    }
}

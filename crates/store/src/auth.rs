//! Logging in: password checks against the account store, throttled per client IP and per
//! account. Every server that takes a password (IMAP, POP3, submission) shares one
//! [`Authenticator`], so a guesser cannot spread attempts over protocols.
//!
//! # Rules
//! - A failure from an IP counts in a sliding window ([`AuthLimits::window`]). After
//!   [`AuthLimits::max_failures_per_ip`] failures the IP is refused without checking the
//!   password until the window passes; likewise an account after
//!   [`AuthLimits::max_failures_per_account`] failures from anywhere (that protects a password
//!   against a botnet, at the price that an attacker can lock the account out for a window; a
//!   success from an IP that logged in before is still let through, so its owner is not).
//! - Unknown users cost the same Argon2 work as known ones (a dummy hash), so timing does not
//!   tell which addresses exist.
//! - Hashing runs on a few dedicated threads ([`AuthLimits::max_concurrent_checks`] of them),
//!   so a login flood cannot take every core, and memory stays bounded: each check allocates
//!   ~19 MiB, which each thread allocates once and reuses (freed and re-allocated, glibc kept
//!   such memory per thread, and checks on tokio's large blocking pool made the server grow by
//!   a few hundred MiB after a burst of logins).
//! - Throttle state is in memory: a restart lifts every block (as does `mailstead` 's operator
//!   reaching for a restart when they locked themselves out).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mailstead_types::Address;
use tokio::sync::oneshot;

use crate::model::Account;
use crate::{DirectoryStore, StoreError, password};

/// Throttling limits. The defaults suit a small server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Failures from one IP (IPv6: its /64) within the window before it is refused.
    pub max_failures_per_ip: usize,
    /// Failures against one account within the window before it is refused.
    pub max_failures_per_account: usize,
    /// The sliding window.
    pub window: Duration,
    /// Password checks running at once (each takes ~20 MiB and tens of milliseconds).
    pub max_concurrent_checks: usize,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            max_failures_per_ip: 10,
            max_failures_per_account: 30,
            window: Duration::from_secs(15 * 60),
            // One per core, at most 4: each holds ~19 MiB while it works.
            max_concurrent_checks: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
        }
    }
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong user name or password (deliberately not told apart).
    #[error("invalid credentials")]
    Invalid,
    /// Too many failures: refused without checking. `retry_after` is when the oldest failure
    /// leaves the window.
    #[error("too many failed logins; retry in {} s", retry_after.as_secs())]
    Throttled {
        /// How long until a new attempt is considered.
        retry_after: Duration,
        /// Whether the IP (rather than the account) is blocked.
        by_ip: bool,
    },
    /// The store failed: a temporary error, the client should retry.
    #[error("account store unavailable: {0}")]
    Unavailable(#[from] StoreError),
}

/// Checks passwords, with throttling. Cheap to clone; clones share their state.
#[derive(Clone)]
pub struct Authenticator {
    accounts: Arc<dyn DirectoryStore>,
    limits: AuthLimits,
    state: Arc<Mutex<Throttle>>,
    checks: Arc<HashWorkers>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over `accounts`.
    pub fn new(accounts: Arc<dyn DirectoryStore>, limits: AuthLimits) -> Authenticator {
        Authenticator {
            accounts,
            limits,
            state: Arc::new(Mutex::new(Throttle::default())),
            checks: Arc::new(HashWorkers::start(limits.max_concurrent_checks.max(1))),
        }
    }

    /// Checks `user`/`password` for a client at `ip`. The user name is the account address
    /// (case-insensitive local part).
    pub async fn authenticate(&self, ip: IpAddr, user: &str, password: &str) -> Result<Account, AuthError> {
        let key_ip = ip_key(ip);
        let key_user = user.trim().to_ascii_lowercase();
        let now = Instant::now();
        {
            let mut state = self.lock();
            let trusted = state.known_good.contains(&(key_ip, key_user.clone()));
            if let Some(retry_after) = state.blocked_ip(key_ip, now, &self.limits) {
                return Err(AuthError::Throttled { retry_after, by_ip: true });
            }
            if !trusted && let Some(retry_after) = state.blocked_account(&key_user, now, &self.limits) {
                return Err(AuthError::Throttled { retry_after, by_ip: false });
            }
        }
        let account = match Address::parse(user.trim()) {
            Ok(address) => self.accounts.get_account(&address).await?,
            Err(_) => None,
        };
        let stored = account.as_ref().map_or_else(|| dummy_hash().to_string(), |a| a.password_hash.clone());
        let password = password.to_string();
        let ok = self.checks.verify(password, stored).await;
        let mut state = self.lock();
        match account {
            Some(account) if ok => {
                state.known_good.insert((key_ip, key_user));
                Ok(account)
            }
            _ => {
                state.fail(key_ip, key_user, Instant::now(), &self.limits);
                Err(AuthError::Invalid)
            }
        }
    }

    /// Forgets every failure of an IP or account (an operator lifting a block).
    pub fn clear(&self, ip: Option<IpAddr>, user: Option<&str>) {
        let mut state = self.lock();
        if let Some(ip) = ip {
            state.by_ip.remove(&ip_key(ip));
        }
        if let Some(user) = user {
            state.by_account.remove(&user.trim().to_ascii_lowercase());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A verification job: password, stored hash, where to send the verdict.
type HashJob = (String, String, oneshot::Sender<bool>);

/// The threads that run Argon2. They end when the last [`Authenticator`] clone is dropped.
struct HashWorkers {
    jobs: tokio::sync::mpsc::Sender<HashJob>,
}

impl HashWorkers {
    fn start(threads: usize) -> HashWorkers {
        // A short queue: callers wait in async code, not in memory-holding jobs.
        let (jobs, rx) = tokio::sync::mpsc::channel::<HashJob>(threads * 4);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                // This thread's Argon2 working memory, allocated at the first check and reused.
                let mut memory = Vec::new();
                loop {
                    let job = match rx.lock() {
                        Ok(mut rx) => rx.blocking_recv(),
                        Err(poisoned) => poisoned.into_inner().blocking_recv(),
                    };
                    let Some((password, stored, reply)) = job else { return };
                    let _ = reply.send(password::verify_with_memory(&password, &stored, &mut memory));
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-check thread");
            }
        }
        HashWorkers { jobs }
    }

    /// Verifies on a worker thread; `false` if the workers are gone.
    async fn verify(&self, password: String, stored: String) -> bool {
        let (tx, rx) = oneshot::channel();
        // The queue is short: a caller waits here (asynchronously) for room.
        if self.jobs.send((password, stored, tx)).await.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }
}

/// Failure timestamps per IP and per account, plus who has logged in successfully from where.
#[derive(Debug, Default)]
struct Throttle {
    by_ip: HashMap<IpKey, VecDeque<Instant>>,
    by_account: HashMap<String, VecDeque<Instant>>,
    known_good: HashSet<(IpKey, String)>,
}

/// Most entries kept in each map; the oldest are dropped beyond (bounds memory under a flood
/// of distinct IPs or user names).
const MAX_TRACKED: usize = 100_000;

impl Throttle {
    fn blocked_ip(&mut self, ip: IpKey, now: Instant, limits: &AuthLimits) -> Option<Duration> {
        blocked(self.by_ip.get_mut(&ip), limits.max_failures_per_ip, now, limits.window)
    }

    fn blocked_account(&mut self, user: &str, now: Instant, limits: &AuthLimits) -> Option<Duration> {
        blocked(self.by_account.get_mut(user), limits.max_failures_per_account, now, limits.window)
    }

    fn fail(&mut self, ip: IpKey, user: String, now: Instant, limits: &AuthLimits) {
        if self.by_ip.len() >= MAX_TRACKED || self.by_account.len() >= MAX_TRACKED {
            self.by_ip.retain(|_, v| v.back().is_some_and(|t| now.duration_since(*t) < limits.window));
            self.by_account.retain(|_, v| v.back().is_some_and(|t| now.duration_since(*t) < limits.window));
            if self.by_ip.len() >= MAX_TRACKED || self.by_account.len() >= MAX_TRACKED {
                self.by_ip.clear();
                self.by_account.clear();
            }
        }
        if self.known_good.len() >= MAX_TRACKED {
            self.known_good.clear();
        }
        push(self.by_ip.entry(ip).or_default(), now, limits.max_failures_per_ip);
        push(self.by_account.entry(user).or_default(), now, limits.max_failures_per_account);
    }
}

/// Drops failures older than the window; if `max` remain, the time until the oldest expires.
fn blocked(
    failures: Option<&mut VecDeque<Instant>>,
    max: usize,
    now: Instant,
    window: Duration,
) -> Option<Duration> {
    let failures = failures?;
    while failures.front().is_some_and(|t| now.duration_since(*t) >= window) {
        failures.pop_front();
    }
    if failures.len() >= max {
        failures.front().map(|oldest| window.saturating_sub(now.duration_since(*oldest)))
    } else {
        None
    }
}

fn push(failures: &mut VecDeque<Instant>, now: Instant, max: usize) {
    failures.push_back(now);
    while failures.len() > max.max(1) {
        failures.pop_front();
    }
}

/// IPv4 addresses count alone; IPv6 ones by /64 (one customer's allocation).
type IpKey = IpAddr;

/// The key a client address is counted under by per-IP limits: an IPv4 address (also when
/// IPv4-mapped) as itself, an IPv6 address as its /64 (one customer's allocation). Other
/// per-IP limits (submission rates) use it too, so they agree on who one client is.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// A valid Argon2id hash of a random password, so unknown users cost a real verification.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(&format!("{:x}", rand::random::<u128>())).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_expires_failures() {
        let limits =
            AuthLimits { max_failures_per_ip: 2, window: Duration::from_secs(10), ..AuthLimits::default() };
        let mut t = Throttle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let start = Instant::now();
        t.fail(ip, "a".into(), start, &limits);
        assert!(t.blocked_ip(ip, start, &limits).is_none());
        t.fail(ip, "b".into(), start, &limits);
        let wait = t.blocked_ip(ip, start + Duration::from_secs(4), &limits);
        assert_eq!(wait, Some(Duration::from_secs(6)));
        assert!(t.blocked_ip(ip, start + Duration::from_secs(10), &limits).is_none());
    }

    #[test]
    fn ipv6_counts_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(ip_key(a), ip_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(ip_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0])));
    }
}

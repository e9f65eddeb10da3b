//! MTA-STS (RFC 8461): which destination domains ask for verified TLS to listed MX hosts.
//!
//! [`StsPolicies::policy`] answers for one domain: it reads the `_mta-sts.<domain>` TXT record,
//! and when its id differs from the cached policy's (or nothing usable is cached) fetches the
//! policy file over HTTPS ([`fetch`]) and caches it in the store for its `max_age`. A cached
//! policy that has not expired keeps applying when the TXT record disappears or the fetch
//! fails (§5.1): an attacker who blocks the fetch cannot turn enforcement off. A cached policy
//! is also fetched again after a day (or half its `max_age`), so it is refreshed long before it
//! expires (§5.1 "proactively refresh"). Answers are
//! also remembered in memory for a few minutes, so a busy queue does not look the record up
//! for every message.

pub mod fetch;
pub mod policy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailstead_dns::{DnsErrorKind, Resolver};
use mailstead_store::Store;
use mailstead_store::model::StsPolicyRecord;

pub use fetch::{FetchError, Fetcher};
pub use policy::{Mode, Policy};

/// How long an answer is remembered in memory.
const MEMO_TTL: Duration = Duration::from_secs(300);
/// Most domains remembered in memory.
const MEMO_LIMIT: usize = 10_000;

/// What memory holds for a domain: when it was looked up, and the answer.
type Memo = HashMap<String, (Instant, Option<Arc<ActivePolicy>>)>;

/// Whether a cached policy is old enough to fetch again although its id has not changed: after
/// a day, or half its `max_age` when that is shorter. A failed refresh keeps the cached policy,
/// so it never lapses just because the policy server was down when it expired (§5.1).
fn refresh_due(cached: Option<&StsPolicyRecord>, now: i64) -> bool {
    cached.is_some_and(|c| {
        let max_age = c.expires.saturating_sub(c.fetched);
        now.saturating_sub(c.fetched) >= (max_age / 2).min(REFRESH_AFTER_SECS)
    })
}

/// A cached policy is fetched again (same id) after at most this long.
const REFRESH_AFTER_SECS: i64 = 86_400;

/// A policy in force for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePolicy {
    /// The id it was published under.
    pub id: String,
    /// The policy.
    pub policy: Policy,
}

impl ActivePolicy {
    /// `mta-sts enforce (id X)`, for logs and the journal.
    pub fn describe(&self) -> String {
        format!("mta-sts {} (id {})", self.policy.mode.as_str(), self.id)
    }
}

/// The MTA-STS policies of destination domains.
pub struct StsPolicies {
    store: Arc<dyn Store>,
    resolver: Arc<dyn Resolver>,
    fetcher: Fetcher,
    memo: Mutex<Memo>,
    /// One lookup per domain at a time: a burst of messages to a new domain makes one fetch,
    /// the others wait for its answer.
    lookups: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl StsPolicies {
    /// Policies looked up through `resolver`, fetched by `fetcher`, cached in `store`.
    pub fn new(store: Arc<dyn Store>, resolver: Arc<dyn Resolver>, fetcher: Fetcher) -> StsPolicies {
        StsPolicies {
            store,
            resolver,
            fetcher,
            memo: Mutex::new(HashMap::new()),
            lookups: Mutex::new(HashMap::new()),
        }
    }

    /// The policy in force for `domain`, if any (mode `none` included: the caller ignores it).
    pub async fn policy(&self, domain: &str) -> Option<Arc<ActivePolicy>> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if let Some(answer) = self.remembered(&domain) {
            return answer;
        }
        let lock = {
            let mut lookups = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
            if lookups.len() >= MEMO_LIMIT {
                lookups.retain(|_, l| Arc::strong_count(l) > 1);
            }
            lookups.entry(domain.clone()).or_default().clone()
        };
        let _turn = lock.lock().await;
        // Another message's lookup may have finished while this one waited.
        if let Some(answer) = self.remembered(&domain) {
            return answer;
        }
        let answer = self.look_up(&domain).await.map(Arc::new);
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if memo.len() >= MEMO_LIMIT {
            memo.retain(|_, (at, _)| at.elapsed() < MEMO_TTL);
            if memo.len() >= MEMO_LIMIT {
                memo.clear();
            }
        }
        memo.insert(domain, (Instant::now(), answer.clone()));
        answer
    }

    /// The answer memory holds for `domain`, when fresh.
    fn remembered(&self, domain: &str) -> Option<Option<Arc<ActivePolicy>>> {
        let memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        memo.get(domain).filter(|(at, _)| at.elapsed() < MEMO_TTL).map(|(_, answer)| answer.clone())
    }

    /// Forgets what memory holds (after an operator changed something, and in tests).
    pub fn forget(&self) {
        self.memo.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    async fn look_up(&self, domain: &str) -> Option<ActivePolicy> {
        let now = now_secs();
        let cached = match self.store.sts_policy(domain).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(domain, error = %e, "mta-sts: cannot read the cached policy");
                None
            }
        };
        let usable_cache = cached
            .as_ref()
            .filter(|c| c.expires > now)
            .and_then(|c| Policy::parse(&c.text).ok().map(|p| ActivePolicy { id: c.id.clone(), policy: p }));
        let announced = match self.resolver.txt(&format!("_mta-sts.{domain}")).await {
            Ok(answer) => {
                let records: Vec<Vec<u8>> = answer.records.iter().map(|r| r.joined()).collect();
                policy::record_id(&records)
            }
            Err(e) if e.kind() == DnsErrorKind::Temporary => {
                tracing::info!(domain, error = %e, "mta-sts: TXT lookup failed; using the cached policy if any");
                return usable_cache;
            }
            Err(_) => None,
        };
        let Some(id) = announced else {
            // No (usable) announcement: a cached policy still applies until it expires.
            return usable_cache;
        };
        if let Some(active) = &usable_cache
            && active.id == id
            && !refresh_due(cached.as_ref(), now)
        {
            return usable_cache;
        }
        match self.fetcher.fetch(self.resolver.as_ref(), domain).await {
            Ok(text) => match Policy::parse(&text) {
                Ok(policy) => {
                    let record = StsPolicyRecord {
                        id: id.clone(),
                        text,
                        fetched: now,
                        expires: now.saturating_add(policy.max_age as i64),
                    };
                    if let Err(e) = self.store.put_sts_policy(domain, record).await {
                        tracing::warn!(domain, error = %e, "mta-sts: cannot cache the policy");
                    }
                    tracing::info!(domain, id, mode = policy.mode.as_str(), "mta-sts: policy fetched");
                    Some(ActivePolicy { id, policy })
                }
                Err(e) => {
                    tracing::warn!(domain, error = %e, "mta-sts: the served policy is invalid");
                    usable_cache
                }
            },
            Err(e) => {
                tracing::warn!(domain, error = %e, "mta-sts: policy fetch failed");
                usable_cache
            }
        }
    }
}

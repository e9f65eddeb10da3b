//! Connection limits shared by every listener: total connections and connections per client.
//!
//! One [`ConnectionTracker`] is created by the composition root and passed to every listener,
//! so the limits hold across SMTP, IMAP and POP3 together: a client holding 20 IMAP
//! connections counts against the same per-IP budget when it opens SMTP sessions.
//!
//! A connection is counted from accept until its [`ConnectionPermit`] is dropped (normally when
//! the protocol handler returns), including the TLS handshake of implicit-TLS ports.
//!
//! # What "per IP" means
//!
//! IPv4 clients are counted per address. IPv6 clients are counted per /64 prefix: a single
//! customer or host usually owns a whole /64 (RFC 6177) and can pick any address in it, so a
//! per-address limit would be no limit at all. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`,
//! seen on dual-stack sockets) count as their IPv4 address.
//!
//! A limit of 0 means "no limit", as in Postfix's `smtpd_client_connection_count_limit`.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Limits applied to every accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most simultaneous connections over all listeners (0: unlimited).
    pub max_total: usize,
    /// Most simultaneous connections from one IPv4 address or IPv6 /64 (0: unlimited).
    pub max_per_ip: usize,
    /// Default for how long a protocol driver waits for the client before closing (see
    /// [`IdleTimeout`](crate::IdleTimeout)). Drivers may use their own per state, e.g. IMAP's
    /// 30-minute autologout timer for authenticated sessions (RFC 9051 §5.4).
    pub idle_timeout: Duration,
    /// Longest a TLS handshake may take, implicit or after STARTTLS.
    pub tls_handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// 1000 connections in total, 50 per client, 5 minutes idle (RFC 5321 §4.5.3.2.7's server
    /// timeout), 30 seconds for a TLS handshake.
    fn default() -> Self {
        Self {
            max_total: 1000,
            max_per_ip: 50,
            idle_timeout: Duration::from_secs(5 * 60),
            tls_handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the tracker refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server-wide limit [`ConnectionLimits::max_total`] is reached.
    TooManyTotal,
    /// This client (its IPv4 address or IPv6 /64) is at [`ConnectionLimits::max_per_ip`]. The
    /// address is the connecting peer's own address, not the /64 prefix.
    TooManyFromIp(IpAddr),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyTotal => f.write_str("too many connections"),
            Self::TooManyFromIp(ip) => write!(f, "too many connections from {ip}"),
        }
    }
}

/// Counts live connections and enforces [`ConnectionLimits`]. Cheap to clone; clones share counts.
#[derive(Debug, Clone)]
pub struct ConnectionTracker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<ClientKey, usize>,
}

/// The unit counted against `max_per_ip`: an IPv4 address or the first 64 bits of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    V6Prefix(u64),
}

impl ClientKey {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.to_bits()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.to_bits()),
                None => Self::V6Prefix(prefix64(v6)),
            },
        }
    }
}

fn prefix64(ip: Ipv6Addr) -> u64 {
    // The high 64 bits; the truncating cast is the point.
    (ip.to_bits() >> 64) as u64
}

impl ConnectionTracker {
    /// A tracker with no connections yet.
    pub fn new(limits: ConnectionLimits) -> Self {
        Self { inner: Arc::new(Inner { limits, counts: Mutex::new(Counts::default()) }) }
    }

    /// The limits this tracker enforces.
    pub fn limits(&self) -> ConnectionLimits {
        self.inner.limits
    }

    /// Counts a new connection from `ip`, or refuses it. The count lasts as long as the permit.
    pub fn try_acquire(&self, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let limits = self.inner.limits;
        let key = ClientKey::of(ip);
        let mut counts = self.lock();
        if limits.max_total != 0 && counts.total >= limits.max_total {
            return Err(Refusal::TooManyTotal);
        }
        let from_client = counts.per_client.entry(key).or_insert(0);
        if limits.max_per_ip != 0 && *from_client >= limits.max_per_ip {
            return Err(Refusal::TooManyFromIp(ip));
        }
        *from_client += 1;
        counts.total += 1;
        Ok(ConnectionPermit { inner: Arc::clone(&self.inner), key, ip })
    }

    /// Live connections over all listeners.
    pub fn active(&self) -> usize {
        self.lock().total
    }

    /// Live connections counted against the same per-IP budget as `ip`.
    pub fn active_from(&self, ip: IpAddr) -> usize {
        self.lock().per_client.get(&ClientKey::of(ip)).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.inner.lock()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every update is a single step.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Proof that a connection is counted; dropping it releases the slot.
#[derive(Debug)]
pub struct ConnectionPermit {
    inner: Arc<Inner>,
    key: ClientKey,
    ip: IpAddr,
}

impl ConnectionPermit {
    /// The peer address this permit was granted to.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.inner.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_client.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_client.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
mod tests {
    use super::*;

    fn tracker(max_total: usize, max_per_ip: usize) -> ConnectionTracker {
        ConnectionTracker::new(ConnectionLimits { max_total, max_per_ip, ..ConnectionLimits::default() })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_ip_limit_and_release_on_drop() {
        let t = tracker(10, 2);
        let a1 = t.try_acquire(ip("192.0.2.1")).unwrap();
        let _a2 = t.try_acquire(ip("192.0.2.1")).unwrap();
        assert_eq!(t.try_acquire(ip("192.0.2.1")).unwrap_err(), Refusal::TooManyFromIp(ip("192.0.2.1")));
        // Another address is unaffected.
        let _b = t.try_acquire(ip("192.0.2.2")).unwrap();
        assert_eq!((t.active(), t.active_from(ip("192.0.2.1"))), (3, 2));
        drop(a1);
        assert_eq!((t.active(), t.active_from(ip("192.0.2.1"))), (2, 1));
        let _a3 = t.try_acquire(ip("192.0.2.1")).unwrap();
    }

    #[test]
    fn total_limit_is_shared_by_clones() {
        let t = tracker(2, 0);
        let other_listener = t.clone();
        let _a = t.try_acquire(ip("192.0.2.1")).unwrap();
        let _b = other_listener.try_acquire(ip("192.0.2.2")).unwrap();
        assert_eq!(t.try_acquire(ip("192.0.2.3")).unwrap_err(), Refusal::TooManyTotal);
        assert_eq!(Refusal::TooManyTotal.to_string(), "too many connections");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = tracker(0, 1);
        let _a = t.try_acquire(ip("2001:db8:1:2::1")).unwrap();
        let refused = t.try_acquire(ip("2001:db8:1:2:ffff::9")).unwrap_err();
        assert_eq!(refused, Refusal::TooManyFromIp(ip("2001:db8:1:2:ffff::9")));
        assert_eq!(refused.to_string(), "too many connections from 2001:db8:1:2:ffff::9");
        let _b = t.try_acquire(ip("2001:db8:1:3::1")).unwrap();
        let _c = t.try_acquire(ip("192.0.2.7")).unwrap();
        assert!(t.try_acquire(ip("::ffff:192.0.2.7")).is_err());
        assert_eq!(t.active(), 3);
    }

    #[test]
    fn zero_means_unlimited() {
        let t = tracker(0, 0);
        let permits: Vec<_> = (0..100).map(|_| t.try_acquire(ip("192.0.2.1")).unwrap()).collect();
        assert_eq!(t.active(), permits.len());
    }
}

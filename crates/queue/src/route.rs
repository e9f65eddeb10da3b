//! Where mail for a domain goes: a smart host when one is configured for it, else the
//! domain's MX hosts in preference order (equal preferences shuffled, RFC 5321 §5.1), the
//! domain itself when it has no MX record (the implicit MX), and nowhere when it publishes a
//! null MX (RFC 7505) or does not exist. Host addresses: AAAA and A, IPv6 and IPv4
//! interleaved, so a broken IPv6 path costs one connection attempt, not all of them.

use std::net::IpAddr;

use mailstead_dns::{DnsErrorKind, Resolver};
use rand::seq::SliceRandom;

/// How a smart host is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTls {
    /// TLS from the first byte (port 465).
    Implicit,
    /// STARTTLS, required.
    StartTls,
    /// No TLS (only for a relay on a trusted network).
    None,
}

/// A relay that takes our outbound mail (for providers that block port 25).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartHost {
    /// Host name (also the TLS server name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: RelayTls,
    /// AUTH PLAIN user and password.
    pub credentials: Option<(String, String)>,
    /// Recipient domains that go through it; empty means every domain.
    pub domains: Vec<String>,
}

impl SmartHost {
    /// Whether mail for `domain` goes through this relay.
    pub fn serves(&self, domain: &str) -> bool {
        self.domains.is_empty() || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// Why a domain has no route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// A null MX: the domain accepts no mail. Permanent.
    #[error("{0} does not accept mail (null MX, RFC 7505)")]
    NullMx(String),
    /// The domain does not exist. Permanent.
    #[error("domain {0} does not exist (NXDOMAIN)")]
    NoSuchDomain(String),
    /// DNS did not answer now. Try again later.
    #[error("DNS lookup for {0} failed for now: {1}")]
    Temporary(String, String),
    /// The domain's TLS policy (MTA-STS or DANE) leaves no server to deliver to securely.
    /// Temporary: the policy or the servers may be fixed.
    #[error("{0}")]
    Policy(String),
}

impl RouteError {
    /// Whether trying again later can help.
    pub fn is_temporary(&self) -> bool {
        matches!(self, RouteError::Temporary(..) | RouteError::Policy(_))
    }

    /// The enhanced status code for a DSN (RFC 3463, RFC 7505 §4.2).
    pub fn status(&self) -> &'static str {
        match self {
            RouteError::NullMx(_) => "5.1.10",
            RouteError::NoSuchDomain(_) => "5.1.2",
            RouteError::Temporary(..) => "4.4.3",
            RouteError::Policy(_) => "4.7.5",
        }
    }
}

/// The mail exchangers of `domain`, most preferred first.
pub async fn mx_hosts(resolver: &dyn Resolver, domain: &str) -> Result<Vec<String>, RouteError> {
    match resolver.mx(domain).await {
        Ok(answer) => {
            let mut records = answer.records;
            if records.iter().any(|r| r.exchange.is_empty() || r.exchange == ".") {
                return Err(RouteError::NullMx(domain.to_string()));
            }
            records.shuffle(&mut rand::thread_rng());
            records.sort_by_key(|r| r.preference);
            let mut hosts: Vec<String> = Vec::new();
            for r in records {
                if !hosts.contains(&r.exchange) {
                    hosts.push(r.exchange);
                }
            }
            Ok(hosts)
        }
        Err(e) => match e.kind() {
            DnsErrorKind::NoRecords => Ok(vec![domain.to_string()]),
            DnsErrorKind::NxDomain | DnsErrorKind::InvalidName => {
                Err(RouteError::NoSuchDomain(domain.to_string()))
            }
            DnsErrorKind::Temporary => Err(RouteError::Temporary(domain.to_string(), e.to_string())),
        },
    }
}

/// The addresses of `host`: IPv6 and IPv4 interleaved (IPv6 first). Empty when it has none;
/// an error only when DNS failed for now and nothing was found.
pub async fn addresses(resolver: &dyn Resolver, host: &str) -> Result<Vec<IpAddr>, RouteError> {
    host_addresses(resolver, host).await.map(|(ips, _)| ips)
}

/// [`addresses`], and whether an address answer was DNSSEC-validated: the condition for
/// looking up the host's TLSA records (RFC 7672 §2.2.2). An address literal counts as not.
pub async fn host_addresses(resolver: &dyn Resolver, host: &str) -> Result<(Vec<IpAddr>, bool), RouteError> {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok((vec![ip], false));
    }
    let (v6, v4) = tokio::join!(resolver.ipv6(host), resolver.ipv4(host));
    let secure = v6.as_ref().is_ok_and(|a| a.authentic) || v4.as_ref().is_ok_and(|a| a.authentic);
    let temporary = [v6.as_ref().err(), v4.as_ref().err()]
        .into_iter()
        .flatten()
        .find(|e| e.kind() == DnsErrorKind::Temporary)
        .map(|e| e.to_string());
    let v6: Vec<IpAddr> = v6.map(|a| a.records.into_iter().map(IpAddr::V6).collect()).unwrap_or_default();
    let v4: Vec<IpAddr> = v4.map(|a| a.records.into_iter().map(IpAddr::V4).collect()).unwrap_or_default();
    let mut out = Vec::with_capacity(v6.len() + v4.len());
    for i in 0..v6.len().max(v4.len()) {
        out.extend(v6.get(i));
        out.extend(v4.get(i));
    }
    match (out.is_empty(), temporary) {
        (true, Some(e)) => Err(RouteError::Temporary(host.to_string(), e)),
        _ => Ok((out, secure)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailstead_dns::MemoryResolver;

    #[tokio::test]
    async fn mx_order_implicit_mx_null_mx_and_failures() {
        let r = MemoryResolver::new();
        r.add_mx("multi.test", 20, "backup.multi.test")
            .add_mx("multi.test", 10, "a.multi.test")
            .add_mx("multi.test", 10, "b.multi.test")
            .add_ip("plain.test", "192.0.2.1".parse().unwrap())
            .add_mx("nullmx.test", 0, "")
            .fail("flaky.test", "MX", DnsErrorKind::Temporary);
        let hosts = mx_hosts(&r, "multi.test").await.unwrap();
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[2], "backup.multi.test");
        assert!(
            hosts[..2].contains(&"a.multi.test".to_string())
                && hosts[..2].contains(&"b.multi.test".to_string())
        );
        assert_eq!(mx_hosts(&r, "plain.test").await.unwrap(), ["plain.test"], "no MX: the implicit MX");
        assert_eq!(mx_hosts(&r, "nullmx.test").await, Err(RouteError::NullMx("nullmx.test".into())));
        assert_eq!(mx_hosts(&r, "missing.test").await, Err(RouteError::NoSuchDomain("missing.test".into())));
        assert!(mx_hosts(&r, "flaky.test").await.unwrap_err().is_temporary());
    }

    #[tokio::test]
    async fn addresses_interleave_families() {
        let r = MemoryResolver::new();
        r.add_ip("mx.test", "192.0.2.1".parse().unwrap())
            .add_ip("mx.test", "192.0.2.2".parse().unwrap())
            .add_ip("mx.test", "2001:db8::1".parse().unwrap());
        let a = addresses(&r, "mx.test").await.unwrap();
        assert_eq!(
            a,
            [
                "2001:db8::1".parse::<IpAddr>().unwrap(),
                "192.0.2.1".parse().unwrap(),
                "192.0.2.2".parse().unwrap()
            ]
        );
        assert!(addresses(&r, "none.test").await.unwrap().is_empty());
        assert_eq!(addresses(&r, "[192.0.2.9]").await.unwrap(), ["192.0.2.9".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn smart_host_domains() {
        let all = SmartHost {
            host: "relay".into(),
            port: 587,
            tls: RelayTls::StartTls,
            credentials: None,
            domains: vec![],
        };
        assert!(all.serves("anything.test"));
        let some = SmartHost { domains: vec!["Gmail.com".into()], ..all };
        assert!(some.serves("gmail.com") && !some.serves("example.org"));
    }
}

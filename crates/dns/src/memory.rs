//! An in-memory [`Resolver`] for tests: a table of records, failures injectable per name.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use crate::{
    Answer, DnsError, DnsErrorKind, DnsResult, MxRecord, Resolver, TlsaRecord, TxtRecord, normalize_name,
    reverse_name,
};

/// Record types the table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rtype {
    Txt,
    Mx,
    A,
    Aaaa,
    Ptr,
    Tlsa,
}

#[derive(Default)]
struct Table {
    txt: HashMap<String, Vec<TxtRecord>>,
    mx: HashMap<String, Vec<MxRecord>>,
    a: HashMap<String, Vec<Ipv4Addr>>,
    aaaa: HashMap<String, Vec<Ipv6Addr>>,
    ptr: HashMap<String, Vec<String>>,
    tlsa: HashMap<String, Vec<TlsaRecord>>,
    failures: HashMap<(String, Rtype), DnsErrorKind>,
    authentic: Vec<String>,
    queries: usize,
}

impl Table {
    /// Whether `name` has any record at all (to answer NODATA rather than NXDOMAIN).
    fn exists(&self, name: &str) -> bool {
        self.txt.contains_key(name)
            || self.mx.contains_key(name)
            || self.a.contains_key(name)
            || self.aaaa.contains_key(name)
            || self.ptr.contains_key(name)
            || self.tlsa.contains_key(name)
    }
}

/// A resolver answering from a table: names without records are NXDOMAIN, names with records
/// of another type are NODATA, and [`MemoryResolver::fail`] makes a lookup fail on purpose.
#[derive(Default)]
pub struct MemoryResolver {
    table: Mutex<Table>,
}

impl MemoryResolver {
    /// An empty table: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        // A poisoned lock only means another test thread panicked; the table is still usable.
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut table)
    }

    /// Adds a TXT record (one logical value, split into 255-byte strings).
    pub fn add_txt(&self, name: &str, value: &str) -> &Self {
        self.with(|t| {
            t.txt.entry(normalize_name(name)).or_default().push(TxtRecord::from_value(value.as_bytes()))
        });
        self
    }

    /// Adds an MX record.
    pub fn add_mx(&self, name: &str, preference: u16, exchange: &str) -> &Self {
        let exchange = normalize_name(exchange);
        self.with(|t| t.mx.entry(normalize_name(name)).or_default().push(MxRecord { preference, exchange }));
        self
    }

    /// Adds an A or AAAA record.
    pub fn add_ip(&self, name: &str, ip: IpAddr) -> &Self {
        let name = normalize_name(name);
        self.with(|t| match ip {
            IpAddr::V4(v4) => t.a.entry(name).or_default().push(v4),
            IpAddr::V6(v6) => t.aaaa.entry(name).or_default().push(v6),
        });
        self
    }

    /// Adds a PTR record for `ip`.
    pub fn add_ptr(&self, ip: IpAddr, name: &str) -> &Self {
        let target = normalize_name(name);
        self.with(|t| t.ptr.entry(reverse_name(ip)).or_default().push(target));
        self
    }

    /// Adds a TLSA record.
    pub fn add_tlsa(&self, name: &str, record: TlsaRecord) -> &Self {
        self.with(|t| t.tlsa.entry(normalize_name(name)).or_default().push(record));
        self
    }

    /// Removes every TXT record of `name` (to change a record while a test runs).
    pub fn remove_txt(&self, name: &str) -> &Self {
        self.with(|t| t.txt.remove(&normalize_name(name)));
        self
    }

    /// Makes lookups of `name` for `rtype` ("TXT", "MX", "A", "AAAA", "TLSA", "PTR" — for PTR give the
    /// reverse name) fail with `kind`.
    pub fn fail(&self, name: &str, rtype: &str, kind: DnsErrorKind) -> &Self {
        let rtype = match rtype.to_ascii_uppercase().as_str() {
            "TXT" => Rtype::Txt,
            "MX" => Rtype::Mx,
            "A" => Rtype::A,
            "AAAA" => Rtype::Aaaa,
            "TLSA" => Rtype::Tlsa,
            _ => Rtype::Ptr,
        };
        self.with(|t| t.failures.insert((normalize_name(name), rtype), kind));
        self
    }

    /// Marks answers for `name` as DNSSEC-validated (AD bit set).
    pub fn set_authentic(&self, name: &str) -> &Self {
        self.with(|t| t.authentic.push(normalize_name(name)));
        self
    }

    /// How many lookups were made so far.
    pub fn queries(&self) -> usize {
        self.with(|t| t.queries)
    }

    fn lookup<T: Clone>(
        &self,
        name: &str,
        rtype: Rtype,
        pick: impl FnOnce(&Table) -> Option<&Vec<T>>,
    ) -> DnsResult<T> {
        self.with(|t| {
            t.queries += 1;
            if let Some(kind) = t.failures.get(&(name.to_string(), rtype)) {
                return Err(DnsError::new(*kind, name, "injected by the test"));
            }
            match pick(t) {
                Some(records) if !records.is_empty() => {
                    Ok(Answer { records: records.clone(), authentic: t.authentic.iter().any(|n| n == name) })
                }
                _ if t.exists(name) => Err(DnsError::new(DnsErrorKind::NoRecords, name, "")),
                _ => Err(DnsError::new(DnsErrorKind::NxDomain, name, "")),
            }
        })
    }
}

#[async_trait::async_trait]
impl Resolver for MemoryResolver {
    async fn txt(&self, name: &str) -> DnsResult<TxtRecord> {
        let name = normalize_name(name);
        self.lookup(&name, Rtype::Txt, |t| t.txt.get(&name))
    }

    async fn mx(&self, name: &str) -> DnsResult<MxRecord> {
        let name = normalize_name(name);
        self.lookup(&name, Rtype::Mx, |t| t.mx.get(&name))
    }

    async fn ipv4(&self, name: &str) -> DnsResult<Ipv4Addr> {
        let name = normalize_name(name);
        self.lookup(&name, Rtype::A, |t| t.a.get(&name))
    }

    async fn ipv6(&self, name: &str) -> DnsResult<Ipv6Addr> {
        let name = normalize_name(name);
        self.lookup(&name, Rtype::Aaaa, |t| t.aaaa.get(&name))
    }

    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        let name = reverse_name(ip);
        self.lookup(&name, Rtype::Ptr, |t| t.ptr.get(&name))
    }

    async fn tlsa(&self, name: &str) -> DnsResult<TlsaRecord> {
        let name = normalize_name(name);
        self.lookup(&name, Rtype::Tlsa, |t| t.tlsa.get(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_nxdomain_nodata_and_injected_failures() {
        let r = MemoryResolver::new();
        r.add_txt("Example.COM.", "v=spf1 -all").add_ip("example.com", "192.0.2.1".parse().unwrap());
        r.fail("down.example", "TXT", DnsErrorKind::Temporary);
        r.add_ptr("192.0.2.1".parse().unwrap(), "mail.example.com.");

        let txt = r.txt("example.com").await.unwrap();
        assert_eq!(txt.records[0].joined(), b"v=spf1 -all");
        assert!(!txt.authentic);
        assert_eq!(r.mx("example.com").await.unwrap_err().kind(), DnsErrorKind::NoRecords);
        assert_eq!(r.mx("nowhere.example").await.unwrap_err().kind(), DnsErrorKind::NxDomain);
        assert!(r.txt("down.example").await.unwrap_err().is_temporary());
        assert_eq!(r.ptr("192.0.2.1".parse().unwrap()).await.unwrap().records, ["mail.example.com"]);
        r.set_authentic("example.com");
        assert!(r.ipv4("example.com").await.unwrap().authentic);
        assert_eq!(r.queries(), 6);
    }
}

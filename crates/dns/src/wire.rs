//! What the resolvers that ask real DNS servers share ([`HickoryResolver`](crate::HickoryResolver)
//! and [`AdResolver`](crate::AdResolver)): the [`Resolver`] methods on top of one
//! "records of this type" lookup, the name check, and the conversion from hickory's record
//! data to our records.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

use crate::{
    Answer, DnsError, DnsErrorKind, DnsResult, MxRecord, Resolver, TlsaRecord, TxtRecord, normalize_name,
    reverse_name,
};

/// Converts one record's data to our record, or `None` for a record of another type.
pub(crate) type Pick<T> = fn(&RData) -> Option<T>;

/// A resolver that asks DNS for records of one type and keeps those `pick` converts.
#[async_trait::async_trait]
pub(crate) trait WireLookup: Send + Sync + 'static {
    async fn records<T: Send + 'static>(&self, name: &str, rtype: RecordType, pick: Pick<T>) -> DnsResult<T>;
}

#[async_trait::async_trait]
impl<L: WireLookup> Resolver for L {
    async fn txt(&self, name: &str) -> DnsResult<TxtRecord> {
        self.records(name, RecordType::TXT, txt).await
    }

    async fn mx(&self, name: &str) -> DnsResult<MxRecord> {
        self.records(name, RecordType::MX, mx).await
    }

    async fn ipv4(&self, name: &str) -> DnsResult<Ipv4Addr> {
        self.records(name, RecordType::A, a).await
    }

    async fn ipv6(&self, name: &str) -> DnsResult<Ipv6Addr> {
        self.records(name, RecordType::AAAA, aaaa).await
    }

    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        self.records(&reverse_name(ip), RecordType::PTR, ptr).await
    }

    async fn tlsa(&self, name: &str) -> DnsResult<TlsaRecord> {
        self.records(name, RecordType::TLSA, tlsa).await
    }
}

/// `name` as a lookup key (lower case, no trailing dot) and as an absolute DNS name: the
/// trailing dot means no search-list expansion.
pub(crate) fn absolute_name(name: &str) -> Result<(String, Name), DnsError> {
    let key = normalize_name(name);
    let fqdn = Name::from_str_relaxed(format!("{key}."))
        .map_err(|e| DnsError::new(DnsErrorKind::InvalidName, key.clone(), e.to_string()))?;
    Ok((key, fqdn))
}

/// The records `pick` accepts among `answers`, whatever their owner name (the answer section
/// may hold a CNAME chain before them). None accepted: NODATA.
pub(crate) fn answer_of<'a, T>(
    key: &str,
    answers: impl IntoIterator<Item = &'a Record>,
    pick: Pick<T>,
    authentic: bool,
) -> DnsResult<T> {
    let records: Vec<T> = answers.into_iter().filter_map(|r| pick(&r.data)).collect();
    if records.is_empty() {
        // Only CNAMEs or other types in the answer: no records of the type asked.
        return Err(DnsError::new(DnsErrorKind::NoRecords, key, ""));
    }
    Ok(Answer { records, authentic })
}

pub(crate) fn txt(data: &RData) -> Option<TxtRecord> {
    match data {
        RData::TXT(txt) => Some(TxtRecord { strings: txt.txt_data.iter().map(|s| s.to_vec()).collect() }),
        _ => None,
    }
}

pub(crate) fn mx(data: &RData) -> Option<MxRecord> {
    match data {
        RData::MX(mx) => {
            Some(MxRecord { preference: mx.preference, exchange: normalize_name(&mx.exchange.to_ascii()) })
        }
        _ => None,
    }
}

pub(crate) fn a(data: &RData) -> Option<Ipv4Addr> {
    match data {
        RData::A(a) => Some(a.0),
        _ => None,
    }
}

pub(crate) fn aaaa(data: &RData) -> Option<Ipv6Addr> {
    match data {
        RData::AAAA(a) => Some(a.0),
        _ => None,
    }
}

pub(crate) fn ptr(data: &RData) -> Option<String> {
    match data {
        RData::PTR(ptr) => Some(normalize_name(&ptr.0.to_ascii())),
        _ => None,
    }
}

pub(crate) fn tlsa(data: &RData) -> Option<TlsaRecord> {
    match data {
        RData::TLSA(t) => Some(TlsaRecord {
            usage: t.cert_usage.into(),
            selector: t.selector.into(),
            matching: t.matching.into(),
            data: t.cert_data.clone(),
        }),
        _ => None,
    }
}

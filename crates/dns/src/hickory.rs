//! The real [`Resolver`], on hickory-resolver.
//!
//! By default it reads the system configuration (`/etc/resolv.conf`). With
//! [`ResolverSettings::nameservers`] set it asks exactly those servers (UDP, then TCP for
//! truncated answers), ignores `/etc/hosts` and search domains — what a mail server that
//! trusts a local validating resolver wants, and what tests need to reach a test zone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{TokioResolver, lookup::Lookup};

use crate::{
    Answer, DnsError, DnsErrorKind, DnsResult, MxRecord, Resolver, TlsaRecord, TxtRecord, normalize_name,
    reverse_name,
};

/// How to build a [`HickoryResolver`].
#[derive(Debug, Clone)]
pub struct ResolverSettings {
    /// Servers to ask (address and port). Empty: the system configuration.
    pub nameservers: Vec<SocketAddr>,
    /// Time allowed for one query to one server.
    pub timeout: Duration,
    /// Tries per server before a lookup fails as temporary.
    pub attempts: usize,
    /// Number of responses kept in the cache (0 turns caching off).
    pub cache_size: u64,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        ResolverSettings {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            cache_size: 8192,
        }
    }
}

/// hickory-resolver behind the [`Resolver`] trait.
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
    settings: ResolverSettings,
}

impl HickoryResolver {
    /// A resolver with the system configuration and default settings.
    pub fn system() -> Result<Self, DnsError> {
        Self::new(ResolverSettings::default())
    }

    /// A resolver built from `settings`.
    pub fn new(settings: ResolverSettings) -> Result<Self, DnsError> {
        let (config, mut opts) = if settings.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                DnsError::new(DnsErrorKind::Temporary, "", format!("system resolver configuration: {e}"))
            })?
        } else {
            let mut opts = ResolverOpts::default();
            opts.use_hosts_file = ResolveHosts::Never;
            opts.ndots = 0;
            (config_for(&settings.nameservers), opts)
        };
        opts.timeout = settings.timeout;
        opts.attempts = settings.attempts;
        opts.cache_size = settings.cache_size;
        opts.edns0 = true;
        let inner = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .map_err(|e| DnsError::new(DnsErrorKind::Temporary, "", format!("resolver setup: {e}")))?;
        Ok(HickoryResolver { inner, settings })
    }

    /// The settings this resolver was built from.
    pub fn settings(&self) -> &ResolverSettings {
        &self.settings
    }

    async fn lookup(&self, name: &str, rtype: RecordType) -> Result<(String, Lookup), DnsError> {
        let key = normalize_name(name);
        // A trailing dot makes the name absolute: no search-list expansion.
        let fqdn = Name::from_str_relaxed(format!("{key}."))
            .map_err(|e| DnsError::new(DnsErrorKind::InvalidName, key.clone(), e.to_string()))?;
        match self.inner.lookup(fqdn, rtype).await {
            Ok(lookup) => Ok((key, lookup)),
            Err(err) => Err(map_error(&key, &err)),
        }
    }

    async fn records<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> DnsResult<T> {
        let (key, lookup) = self.lookup(name, rtype).await?;
        let records: Vec<T> = lookup.answers().iter().filter_map(|r| pick(&r.data)).collect();
        if records.is_empty() {
            // Only CNAMEs or other types in the answer: no records of the type asked.
            return Err(DnsError::new(DnsErrorKind::NoRecords, key, ""));
        }
        Ok(Answer { records, authentic: lookup.message().metadata.authentic_data })
    }
}

/// A configuration asking `servers` over UDP and TCP on their own ports.
fn config_for(servers: &[SocketAddr]) -> ResolverConfig {
    let name_servers = servers
        .iter()
        .map(|addr| {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
        })
        .collect();
    ResolverConfig::from_name_servers(name_servers)
}

/// NXDOMAIN and NODATA are answers; everything else is worth a later retry.
fn map_error(name: &str, err: &NetError) -> DnsError {
    let kind = match err {
        NetError::Dns(HickoryDnsError::NoRecordsFound(nr)) if nr.response_code == ResponseCode::NXDomain => {
            DnsErrorKind::NxDomain
        }
        NetError::Dns(HickoryDnsError::NoRecordsFound(_)) => DnsErrorKind::NoRecords,
        NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::NXDomain)) => DnsErrorKind::NxDomain,
        _ => DnsErrorKind::Temporary,
    };
    DnsError::new(kind, name, err.to_string())
}

#[async_trait::async_trait]
impl Resolver for HickoryResolver {
    async fn txt(&self, name: &str) -> DnsResult<TxtRecord> {
        self.records(name, RecordType::TXT, |data| match data {
            RData::TXT(txt) => Some(TxtRecord { strings: txt.txt_data.iter().map(|s| s.to_vec()).collect() }),
            _ => None,
        })
        .await
    }

    async fn mx(&self, name: &str) -> DnsResult<MxRecord> {
        self.records(name, RecordType::MX, |data| match data {
            RData::MX(mx) => Some(MxRecord {
                preference: mx.preference,
                exchange: normalize_name(&mx.exchange.to_ascii()),
            }),
            _ => None,
        })
        .await
    }

    async fn ipv4(&self, name: &str) -> DnsResult<Ipv4Addr> {
        self.records(name, RecordType::A, |data| match data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    async fn ipv6(&self, name: &str) -> DnsResult<Ipv6Addr> {
        self.records(name, RecordType::AAAA, |data| match data {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    async fn ptr(&self, ip: IpAddr) -> DnsResult<String> {
        self.records(&reverse_name(ip), RecordType::PTR, |data| match data {
            RData::PTR(ptr) => Some(normalize_name(&ptr.0.to_ascii())),
            _ => None,
        })
        .await
    }

    async fn tlsa(&self, name: &str) -> DnsResult<TlsaRecord> {
        self.records(name, RecordType::TLSA, |data| match data {
            RData::TLSA(t) => Some(TlsaRecord {
                usage: t.cert_usage.into(),
                selector: t.selector.into(),
                matching: t.matching.into(),
                data: t.cert_data.clone(),
            }),
            _ => None,
        })
        .await
    }
}

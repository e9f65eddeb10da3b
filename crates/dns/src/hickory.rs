//! The real [`Resolver`], on hickory-resolver.
//!
//! By default it reads the system configuration (`/etc/resolv.conf`). With
//! [`ResolverSettings::nameservers`] set it asks exactly those servers (UDP, then TCP for
//! truncated answers), ignores `/etc/hosts` and search domains — what a mail server that
//! trusts a local validating resolver wants, and what tests need to reach a test zone.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;

use crate::wire::{Pick, WireLookup, absolute_name, answer_of};
use crate::{DnsError, DnsErrorKind, DnsResult};

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
            system_conf()?
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
}

#[async_trait::async_trait]
impl WireLookup for HickoryResolver {
    async fn records<T: Send + 'static>(&self, name: &str, rtype: RecordType, pick: Pick<T>) -> DnsResult<T> {
        let (key, fqdn) = absolute_name(name)?;
        let lookup = self.inner.lookup(fqdn, rtype).await.map_err(|err| map_error(&key, &err))?;
        answer_of(&key, lookup.answers(), pick, lookup.message().metadata.authentic_data)
    }
}

/// The system's resolver configuration (`/etc/resolv.conf`).
pub(crate) fn system_conf() -> Result<(ResolverConfig, ResolverOpts), DnsError> {
    hickory_resolver::system_conf::read_system_conf().map_err(|e| {
        DnsError::new(DnsErrorKind::Temporary, "", format!("system resolver configuration: {e}"))
    })
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

//! Where and how one domain's mail goes: the servers to try, in order, each with the TLS the
//! destination asks for. A smart host when `[relay]` serves the domain; else its MX hosts
//! ([`route`]), filtered and held to verified TLS by an MTA-STS `enforce` policy ([`sts`]),
//! and held to their TLSA records where DANE applies ([`dane`], which takes precedence for a
//! host that has both, RFC 8461 §2).

use std::sync::Arc;

use mailstead_dns::Resolver;
use mailstead_store::Store;

use crate::client::{Endpoint, TlsMode};
use crate::dane;
use crate::route::{self, RelayTls, RouteError};
use crate::runner::QueueConfig;
use crate::sts::{self, StsPolicies};

/// What DANE asks of one host: its TLS mode, the configuration checking its TLSA records, and
/// the policy's name for the journal.
type DaneTls = (TlsMode, Option<Arc<rustls::ClientConfig>>, String);

/// Chooses the servers and TLS policies for destination domains.
pub(crate) struct Router {
    resolver: Arc<dyn Resolver>,
    sts: StsPolicies,
}

impl Router {
    /// A router asking `resolver`, caching MTA-STS policies in `store`.
    pub(crate) fn new(store: Arc<dyn Store>, resolver: Arc<dyn Resolver>, config: &QueueConfig) -> Router {
        let mut fetcher = sts::Fetcher::new(&config.client.tls.verified);
        fetcher.port = config.mta_sts_port;
        Router { sts: StsPolicies::new(store, resolver.clone(), fetcher), resolver }
    }

    /// The servers to try for `domain`, in order.
    pub(crate) async fn endpoints(
        &self,
        config: &QueueConfig,
        domain: &str,
    ) -> Result<Vec<Endpoint>, RouteError> {
        if let Some(relay) = config.smart_hosts.iter().find(|h| h.serves(domain)) {
            let tls = match relay.tls {
                RelayTls::Implicit => TlsMode::Implicit,
                RelayTls::StartTls => TlsMode::RequireVerified,
                RelayTls::None => TlsMode::Off,
            };
            let ips = route::addresses(self.resolver.as_ref(), &relay.host).await?;
            return Ok(ips
                .into_iter()
                .map(|ip| Endpoint {
                    host: relay.host.clone(),
                    ip,
                    port: relay.port,
                    tls,
                    credentials: relay.credentials.clone(),
                    dane: None,
                    policy: "smart host".into(),
                })
                .collect());
        }
        let hosts = route::mx_hosts(self.resolver.as_ref(), domain).await?;
        let (hosts, sts_tls, sts_policy) = self.mta_sts(config, domain, hosts).await?;
        let mut endpoints = Vec::new();
        let mut temporary = None;
        for host in hosts {
            let (ips, secure_host) = match route::host_addresses(self.resolver.as_ref(), &host).await {
                Ok(found) => found,
                Err(e) => {
                    temporary = Some(e);
                    continue;
                }
            };
            // DANE, where the host has it, takes precedence over MTA-STS (RFC 8461 §2).
            let (tls, dane, policy) = match self.dane_for(config, &host, secure_host).await {
                Ok(Some(dane)) => dane,
                Ok(None) => (sts_tls, None, sts_policy.clone()),
                Err(e) => {
                    tracing::warn!(target: "mail", "{domain}: MX {host} skipped: {e}");
                    temporary = Some(e);
                    continue;
                }
            };
            endpoints.extend(ips.into_iter().map(|ip| Endpoint {
                host: host.clone(),
                ip,
                port: config.mx_port,
                tls,
                credentials: None,
                dane: dane.clone(),
                policy: policy.clone(),
            }));
        }
        match (endpoints.is_empty(), temporary) {
            (true, Some(e)) => Err(e),
            _ => Ok(endpoints),
        }
    }

    /// What DANE asks for with `host`: its TLS mode, the configuration that checks the TLSA
    /// records, and the policy's name; `None` when DANE does not apply (DANE off, the host's
    /// address answer not DNSSEC-validated, no TLSA records or only unvalidated ones; RFC 7672
    /// §2.2). The MX answer itself need not be validated (§2.2.1): a signed provider's hosts
    /// are protected for unsigned customer domains too. Validated records that are all
    /// unusable still make TLS mandatory, unauthenticated. A failed TLSA lookup for a host in a
    /// signed zone makes it unusable for now: delivering without it could be a downgrade by
    /// whoever made the lookup fail.
    async fn dane_for(
        &self,
        config: &QueueConfig,
        host: &str,
        secure_host: bool,
    ) -> Result<Option<DaneTls>, RouteError> {
        if !config.dane || !secure_host {
            return Ok(None);
        }
        match self.resolver.tlsa(&format!("_25._tcp.{host}")).await {
            Ok(answer) if answer.authentic => {
                let usable = dane::usable(&answer.records);
                if usable.is_empty() {
                    tracing::info!(target: "mail", "{host}: TLSA records published but none usable for SMTP (only DANE-TA/DANE-EE are); TLS required, unauthenticated");
                    return Ok(Some((
                        TlsMode::RequireEncrypted,
                        None,
                        "dane (no usable TLSA record: TLS required)".into(),
                    )));
                }
                let n = usable.len();
                let config = dane::client_config(usable)
                    .map_err(|e| RouteError::Policy(format!("DANE setup for {host}: {e}")))?;
                Ok(Some((TlsMode::RequireDane, Some(config), format!("dane ({n} TLSA record{})", plural(n)))))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == mailstead_dns::DnsErrorKind::Temporary => Err(RouteError::Policy(format!(
                "DANE: the TLSA lookup for {host} failed ({e}); a host in a signed zone is not used without it"
            ))),
            Err(_) => Ok(None),
        }
    }

    /// The MX hosts `domain`'s MTA-STS policy allows, the TLS they require, and the policy's
    /// name. `enforce`: only listed hosts, certificate verified, and none listed means a
    /// deferral (RFC 8461 §5); `testing`: mismatches are logged, delivery goes on as usual.
    async fn mta_sts(
        &self,
        config: &QueueConfig,
        domain: &str,
        hosts: Vec<String>,
    ) -> Result<(Vec<String>, TlsMode, String), RouteError> {
        let active = if config.mta_sts { self.sts.policy(domain).await } else { None };
        let Some(active) = active else {
            return Ok((hosts, TlsMode::Opportunistic, "opportunistic".into()));
        };
        let refused: Vec<String> = hosts.iter().filter(|h| !active.policy.allows(h)).cloned().collect();
        match active.policy.mode {
            sts::Mode::Enforce => {
                if !refused.is_empty() {
                    tracing::warn!(target: "mail", "{domain}: MX {} not in the MTA-STS policy, skipped", refused.join(", "));
                }
                let allowed: Vec<String> = hosts.into_iter().filter(|h| !refused.contains(h)).collect();
                if allowed.is_empty() {
                    return Err(RouteError::Policy(format!(
                        "the MTA-STS policy of {domain} ({}) allows none of its MX hosts ({}); mx patterns: {}",
                        active.describe(),
                        refused.join(", "),
                        active.policy.mx.join(", ")
                    )));
                }
                Ok((allowed, TlsMode::RequireVerified, active.describe()))
            }
            sts::Mode::Testing => {
                if !refused.is_empty() {
                    tracing::info!(target: "mail", "{domain}: MX {} not in the MTA-STS policy (testing mode: delivering anyway)", refused.join(", "));
                }
                Ok((hosts, TlsMode::Opportunistic, active.describe()))
            }
            sts::Mode::None => Ok((hosts, TlsMode::Opportunistic, "opportunistic".into())),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

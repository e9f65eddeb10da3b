//! Builds port 25's screening from `[dns]`, `[dmarc]`, `[spam]` and `[smtp] trusted_networks`:
//! one resolver shared by sender authentication and the spam checks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use mailstead_dns::{HickoryResolver, Resolver, ResolverSettings};
use mailstead_filter::auth::{AuthConfig, Authenticator, Forwarders};
use mailstead_filter::spam::{Blocklist, BlocklistKind, Checker, SpamConfig, Thresholds};
use mailstead_smtp::screening::{Screening, SpamSettings};
use mailstead_types::IpNetwork;

use crate::config::{Config, nameserver_addr, parse_blocklist};

/// Default points for a listing when an entry gives none.
const DNSBL_SCORE: f64 = 3.0;
const URIBL_SCORE: f64 = 2.5;

/// The resolver settings of `[dns]`.
pub fn resolver_settings(config: &Config) -> ResolverSettings {
    ResolverSettings {
        nameservers: config.dns.nameservers.iter().filter_map(|n| nameserver_addr(n)).collect(),
        timeout: Duration::from_secs(config.dns.timeout_secs),
        ..ResolverSettings::default()
    }
}

/// The resolver of `[dns]`.
pub fn resolver(config: &Config) -> Result<Arc<dyn Resolver>> {
    let resolver =
        HickoryResolver::new(resolver_settings(config)).context("setting up DNS resolution ([dns])")?;
    Ok(Arc::new(resolver))
}

/// The screening of a validated configuration.
pub async fn build(config: &Config, resolver: Arc<dyn Resolver>) -> Result<Screening> {
    let hostname = config.server.hostname.clone();
    let auth = if config.dmarc.verify {
        let mut auth_config = AuthConfig::new(hostname.clone());
        auth_config.forwarders =
            Forwarders::parse(&config.dmarc.trusted_forwarders).context("[dmarc] trusted_forwarders")?;
        auth_config.dns_timeout = Duration::from_secs(config.dns.timeout_secs);
        let authenticator = Authenticator::new(resolver.clone(), auth_config)
            .await
            .context("starting sender authentication")?;
        Some(Arc::new(authenticator))
    } else {
        None
    };
    let spam = config.spam.enabled.then(|| {
        let mut spam_config = SpamConfig::new(hostname);
        let lists = |entries: &[String], kind, default| {
            entries
                .iter()
                .filter_map(|e| parse_blocklist(e, default))
                .map(|(zone, score)| Blocklist { zone, kind, score })
                .collect::<Vec<_>>()
        };
        spam_config.blocklists = lists(&config.spam.dnsbl, BlocklistKind::Ip, DNSBL_SCORE);
        spam_config.blocklists.extend(lists(&config.spam.uribl, BlocklistKind::Domain, URIBL_SCORE));
        spam_config.deadline = Duration::from_secs(config.spam.checks_timeout_secs);
        Arc::new(SpamSettings {
            checker: Checker::new(resolver, spam_config),
            thresholds: Thresholds {
                junk: config.spam.junk_threshold.0,
                reject: config.spam.reject_threshold.0,
            },
        })
    });
    Ok(Screening {
        auth,
        enforce_dmarc: config.dmarc.enforce,
        spam,
        trusted_networks: config
            .smtp
            .trusted_networks
            .iter()
            .filter_map(|n| IpNetwork::parse(n).ok())
            .collect(),
    })
}

//! Starts the outbound queue runner from `[queue]`, `[relay]`, `[server] hostname` and
//! `[delivery]`, on the name servers of `[dns]`: with `[queue] dane`, through an
//! [`AdResolver`], which asks for and reports DNSSEC validation (the AD bit of a validating
//! resolver on loopback), as DANE needs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use mailstead_dns::{AdResolver, Resolver};
use mailstead_queue::client::ClientSettings;
use mailstead_queue::route::{RelayTls, SmartHost};
use mailstead_queue::schedule::Schedule;
use mailstead_queue::tls::TlsClients;
use mailstead_queue::{QueueConfig, QueueHandle, Runner};
use mailstead_store::Store;

use crate::config::{Config, OFF, RelayTlsMode, relay_addr};
use crate::datadir::DataDir;

/// Starts the runner; returns the handle that wakes it and its task.
pub fn start(
    data: &DataDir,
    config: &Config,
    store: Arc<dyn Store>,
    resolver: Arc<dyn Resolver>,
    shutdown: CancellationToken,
) -> Result<(QueueHandle, tokio::task::JoinHandle<()>)> {
    let q = &config.queue;
    let extra_ca = if q.extra_ca_file.is_empty() {
        None
    } else {
        let path = config.resolve_path(data.root(), &q.extra_ca_file);
        Some(
            std::fs::read(&path)
                .with_context(|| format!("reading [queue] extra_ca_file {}", path.display()))?,
        )
    };
    let tls = TlsClients::new(extra_ca.as_deref()).context("setting up outbound TLS")?;
    let resolver = if q.dane { dane_resolver(config, resolver)? } else { resolver };
    let queue_config = QueueConfig {
        hostname: config.server.hostname.clone(),
        schedule: Schedule {
            first_retry: Duration::from_secs(q.retry_first_secs),
            max_retry: Duration::from_secs(q.retry_max_secs.max(q.retry_first_secs)),
            delay_warning: Duration::from_secs(q.delay_warning_hours * 3600),
            expire: Duration::from_secs(q.expire_days * 86400),
        },
        mx_port: u16::try_from(q.mx_port).unwrap_or(25),
        max_connections: q.max_connections,
        max_per_domain: q.max_per_domain,
        poll_interval: Duration::from_secs(5),
        batch: 100,
        smart_hosts: smart_host(data, config)?.into_iter().collect(),
        client: ClientSettings {
            helo: config.server.hostname.clone(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            tls,
            source_addresses: q.source_addresses.iter().filter_map(|a| a.parse().ok()).collect(),
        },
        plus_separator: config.delivery.plus_separator(),
        mta_sts: q.mta_sts,
        mta_sts_port: u16::try_from(q.mta_sts_port).unwrap_or(443),
        dane: q.dane,
    };
    Ok(Runner::start(store, resolver, queue_config, shutdown))
}

/// The queue's resolver when DANE is on: the `[dns]` name servers, asked for DNSSEC
/// validation. With no name server on loopback no validation can be trusted, so DANE never
/// applies: the log says so and the queue keeps the shared (caching) resolver.
fn dane_resolver(config: &Config, shared: Arc<dyn Resolver>) -> Result<Arc<dyn Resolver>> {
    let resolver = AdResolver::new(crate::serve::screening::resolver_settings(config))
        .context("setting up DNS resolution for DANE ([dns])")?;
    if !resolver.nameservers().iter().any(|ns| ns.ip().is_loopback()) {
        tracing::warn!(
            nameservers = ?resolver.nameservers(),
            "[queue] dane: no name server on loopback, so no DNSSEC validation can be trusted and DANE never applies; run a validating resolver (unbound) locally and list it in [dns] nameservers"
        );
        return Ok(shared);
    }
    Ok(Arc::new(resolver))
}

/// The relay of `[relay]`, with its password read from `password_file`.
fn smart_host(data: &DataDir, config: &Config) -> Result<Option<SmartHost>> {
    let r = &config.relay;
    if r.host == OFF {
        return Ok(None);
    }
    let Some((host, port)) = relay_addr(&r.host) else {
        anyhow::bail!("[relay] host {:?} is not \"host:port\"", r.host);
    };
    let credentials = if r.username.is_empty() {
        None
    } else {
        let path = config.resolve_path(data.root(), &r.password_file);
        let password = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the relay password from {}", path.display()))?;
        Some((r.username.clone(), password.trim_end_matches(['\r', '\n']).to_string()))
    };
    Ok(Some(SmartHost {
        host,
        port,
        tls: match r.tls {
            RelayTlsMode::Starttls => RelayTls::StartTls,
            RelayTlsMode::Tls => RelayTls::Implicit,
            RelayTlsMode::None => RelayTls::None,
        },
        credentials,
        domains: r.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
    }))
}

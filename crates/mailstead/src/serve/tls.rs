//! Loads the certificates named in `[tls]` into one rustls server configuration that picks a
//! certificate by SNI.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::datadir::DataDir;

/// The loaded TLS setup.
pub struct LoadedTls {
    /// Acceptor for STARTTLS and implicit-TLS listeners.
    pub acceptor: TlsAcceptor,
    /// The DNS names the certificates cover, for logs and `check-config`.
    pub names: Vec<String>,
}

/// Loads `[tls] cert/key` and every `[[tls.extra]]`.
pub fn load(data: &DataDir, config: &Config) -> Result<LoadedTls> {
    let mut pairs = vec![(config.tls.cert.clone(), config.tls.key.clone())];
    pairs.extend(config.tls.extra.iter().map(|e| (e.cert.clone(), e.key.clone())));
    let mut keys = Vec::new();
    for (cert, key) in pairs {
        let (cert, key) = (data.resolve(&cert), data.resolve(&key));
        let loaded = mailstead_net::tls::load_certified_key(&cert, &key)
            .with_context(|| format!("loading {} and {}", cert.display(), key.display()))?;
        keys.push(loaded);
    }
    let names = mailstead_net::tls::SniResolver::new(keys.clone()).map(|r| r.names()).unwrap_or_default();
    let server_config = mailstead_net::tls::server_config(keys).context("building the TLS configuration")?;
    Ok(LoadedTls { acceptor: TlsAcceptor::from(Arc::clone(&server_config)), names })
}

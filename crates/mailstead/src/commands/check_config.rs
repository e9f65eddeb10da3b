//! `mailstead check-config`: validates everything `serve` would load — the config file, the
//! certificates and the store format — without binding a port. Exit status 0 means `serve`
//! will start (ports aside).

use anyhow::{Context, Result};

use mailstead_store::DirectoryStore;

use crate::commands::{load_config, open_store};
use crate::datadir::DataDir;

/// Runs `check-config`.
pub async fn run(data: &DataDir) -> Result<()> {
    let config = load_config(data)?;
    let tls = crate::serve::tls::load(data, &config).context("TLS certificates")?;
    let store = open_store(data)?;
    let domains = store.list_domains().await?;
    let accounts = store.list_accounts().await?.len();
    println!("{}: ok", data.config().display());
    println!(
        "  hostname:     {}{}",
        config.server.hostname,
        if config.server.dev { " (dev mode)" } else { "" }
    );
    for (service, addr) in config.listen.enabled() {
        println!("  {service:<12} {addr}");
    }
    println!("  certificates: {}", tls.names.join(", "));
    match config.delivery.plus_separator() {
        Some(sep) => println!("  plus-addressing: user{sep}tag@domain delivers to user@domain"),
        None => println!("  plus-addressing: off"),
    }
    let names: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
    println!(
        "  domains:      {}",
        if names.is_empty() { "(none: mailstead domain add …)".into() } else { names.join(", ") }
    );
    println!("  accounts:     {accounts}");
    if domains.is_empty() {
        println!("warning: no local domain, so no mail will be accepted");
    }
    Ok(())
}

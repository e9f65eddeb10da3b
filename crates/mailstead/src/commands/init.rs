//! `mailstead init`: makes a data directory ready to serve — the commented config, a
//! self-signed certificate for the host name, the store with the first domain and its DKIM
//! keys — and says what to do next.

use anyhow::{Context, Result, bail};

use mailstead_store::DirectoryStore;
use mailstead_store_sqlite::{OpenMode, SqliteStore};
use mailstead_types::Domain;

use crate::commands::store_options;
use crate::config::Config;
use crate::datadir::DataDir;

/// Runs `init`.
pub async fn run(data: &DataDir, domain: &str, hostname: Option<&str>, dev: bool) -> Result<()> {
    let domain =
        Domain::parse(domain).with_context(|| format!("--domain {domain:?} is not a valid domain name"))?;
    let hostname = match hostname {
        Some(h) => h.to_string(),
        None if dev => "localhost".to_string(),
        None => format!("mail.{domain}"),
    };
    let config_path = data.config();
    if config_path.exists() {
        bail!(
            "{} already exists: this data directory is set up. Edit it, or choose another --data directory",
            config_path.display()
        );
    }
    let config = Config::template_config(&hostname, dev);
    if let Some(problem) = config.findings().first() {
        bail!("--hostname {hostname:?}: {}; {}", problem.invalid.problem, problem.invalid.fix);
    }
    std::fs::create_dir_all(data.root()).with_context(|| format!("creating {}", data.root().display()))?;

    let mut names = vec![hostname.clone()];
    if dev && hostname != "localhost" {
        names.push("localhost".into());
    }
    let paths = mailstead_net::tls::generate_self_signed(&names, &data.tls_dir())
        .with_context(|| format!("generating a certificate in {}", data.tls_dir().display()))?;

    let store = SqliteStore::open(data.root(), store_options(&config, OpenMode::Tool))
        .with_context(|| format!("creating the store in {}", data.root().display()))?;
    match store.add_domain(&domain).await {
        Ok(()) => {}
        Err(e) if e.kind == mailstead_store::StoreErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).context("adding the domain"),
    }
    store.flush().await?;
    let dkim = mailstead_filter::dkim::KeyDir::new(data.dkim_dir());
    let selectors = dkim.ensure(&domain, crate::commands::now()).context("making the DKIM keys")?;

    write_atomically(&config_path, Config::template(&hostname, dev).as_bytes())?;

    let d = data.root().display();
    println!("Mailstead is set up in {d}");
    println!("  config:      {}", config_path.display());
    println!("  certificate: {} (self-signed for {})", paths.cert.display(), names.join(", "));
    println!("  domain:      {domain}");
    println!("  DKIM keys:   {} (selectors {})", dkim.domain_dir(&domain).display(), selectors.join(", "));
    println!();
    println!("Next:");
    println!("  mailstead account add you@{domain} --data {d}");
    println!("  mailstead dns --data {d}      # the DNS records to publish (MX, SPF, DKIM, DMARC)");
    println!("  mailstead serve --data {d}");
    if dev {
        println!("  (dev mode: SMTP on 127.0.0.1:2525, submission 2587, IMAP 2143, POP3 2110, LMTP 2024)");
    }
    Ok(())
}

/// Writes a file via a temp file, fsync and rename, so a crash never leaves half a config.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

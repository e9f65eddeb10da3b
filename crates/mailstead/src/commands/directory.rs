//! `mailstead domain|account|alias`: directory changes from the command line (`domain add`
//! also makes the domain's DKIM keys). They open the
//! store in tool mode beside a possibly running server (SQLite serialises the writers), so
//! changes take effect at once without a restart.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use rand::Rng;

use mailstead_store::model::{Alias, AliasSource, NewAccount};
use mailstead_store::{DirectoryStore, StoreErrorKind, password};
use mailstead_types::{Address, Domain};

use crate::cli::{AccountAction, AliasAction, DomainAction};
use crate::commands::open_store;
use crate::datadir::DataDir;

/// Runs `mailstead domain …`.
pub async fn domain(data: &DataDir, action: DomainAction) -> Result<()> {
    let store = open_store(data)?;
    match action {
        DomainAction::Add { domain } => {
            let d = parse_domain(&domain)?;
            // Keys first: the domain is live the moment the store has it.
            let keys = mailstead_filter::dkim::KeyDir::new(data.dkim_dir());
            let selectors = keys.ensure(&d, crate::commands::now()).context("making the DKIM keys")?;
            store.add_domain(&d).await.with_context(|| format!("adding domain {d}"))?;
            println!("domain {d} added");
            if !selectors.is_empty() {
                println!(
                    "DKIM keys made (selectors {}); publish the records: mailstead dns --domain {d}",
                    selectors.join(", ")
                );
            }
        }
        DomainAction::List => {
            for d in store.list_domains().await? {
                println!("{d}");
            }
        }
        DomainAction::Delete { domain } => {
            let d = parse_domain(&domain)?;
            store.delete_domain(&d).await.with_context(|| format!("deleting domain {d}"))?;
            println!("domain {d} deleted");
        }
    }
    Ok(())
}

/// Runs `mailstead account …`.
pub async fn account(data: &DataDir, action: AccountAction) -> Result<()> {
    let store = open_store(data)?;
    match action {
        AccountAction::Add { address, password_stdin, quota } => {
            let address = parse_address(&address)?;
            let quota_bytes = quota.as_deref().map(parse_size).transpose()?.unwrap_or(0);
            let (password, generated) = obtain_password(password_stdin)?;
            let password_hash = hash(password.clone()).await?;
            let new = NewAccount { address: address.clone(), password_hash, quota_bytes };
            match store.add_account(new).await {
                Ok(_) => {}
                Err(e) if e.kind == StoreErrorKind::NotFound => bail!(
                    "{e}\n  fix: mailstead domain add {} --data {}",
                    address.domain(),
                    data.root().display()
                ),
                Err(e) => return Err(e).with_context(|| format!("adding account {address}")),
            }
            println!("account {address} created");
            if generated {
                println!("password: {password}");
            }
        }
        AccountAction::List => {
            let accounts = store.list_accounts().await?;
            println!("{:<40} {:>12} {:>12}", "ADDRESS", "USED", "QUOTA");
            for a in accounts {
                let quota =
                    if a.quota_bytes == 0 { "unlimited".to_string() } else { human_size(a.quota_bytes) };
                println!("{:<40} {:>12} {:>12}", a.address.to_string(), human_size(a.used_bytes), quota);
            }
        }
        AccountAction::Passwd { address, password_stdin } => {
            let address = parse_address(&address)?;
            let (password, generated) = obtain_password(password_stdin)?;
            let password_hash = hash(password.clone()).await?;
            store
                .set_password(&address, password_hash)
                .await
                .with_context(|| format!("changing the password of {address}"))?;
            println!("password of {address} changed");
            if generated {
                println!("password: {password}");
            }
        }
        AccountAction::Delete { address, yes } => {
            let address = parse_address(&address)?;
            if !yes {
                bail!("deleting {address} deletes all of its mail; run again with --yes to confirm");
            }
            store.delete_account(&address).await.with_context(|| format!("deleting account {address}"))?;
            println!("account {address} and its mail deleted");
        }
    }
    Ok(())
}

/// Runs `mailstead alias …`.
pub async fn alias(data: &DataDir, action: AliasAction) -> Result<()> {
    let store = open_store(data)?;
    match action {
        AliasAction::Add { alias, targets } => {
            let source = parse_alias(&alias)?;
            let targets = targets.iter().map(|t| parse_address(t)).collect::<Result<Vec<_>>>()?;
            store
                .add_alias(Alias { source: source.clone(), targets })
                .await
                .with_context(|| format!("adding alias {source}"))?;
            println!("alias {source} added");
        }
        AliasAction::List => {
            for a in store.list_aliases().await? {
                let targets: Vec<String> = a.targets.iter().map(|t| t.to_string()).collect();
                println!("{} -> {}", a.source, targets.join(", "));
            }
        }
        AliasAction::Delete { alias } => {
            let source = parse_alias(&alias)?;
            store.delete_alias(&source).await.with_context(|| format!("deleting alias {source}"))?;
            println!("alias {source} deleted");
        }
    }
    Ok(())
}

fn parse_domain(s: &str) -> Result<Domain> {
    Domain::parse(s).with_context(|| format!("{s:?} is not a valid domain name"))
}

fn parse_address(s: &str) -> Result<Address> {
    Address::parse(s).with_context(|| format!("{s:?} is not a valid address (expected name@domain)"))
}

fn parse_alias(s: &str) -> Result<AliasSource> {
    AliasSource::parse(s)
        .with_context(|| format!("{s:?} is not a valid alias (expected name@domain or @domain)"))
}

/// Reads the password from stdin, or generates one (returned with `true`).
fn obtain_password(from_stdin: bool) -> Result<(String, bool)> {
    if !from_stdin {
        const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = rand::thread_rng();
        let password = (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
        return Ok((password, true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok((password, false))
}

async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .context("hashing task")?
        .context("hashing the password")
}

/// Parses `1234`, `500K`, `500M`, `2G` (binary units).
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 =
        digits.parse().with_context(|| format!("{s:?} is not a size (examples: 1048576, 500M, 2G)"))?;
    let factor = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => bail!("{s:?}: unknown size unit {unit:?} (use K, M, G or T)"),
    };
    n.checked_mul(factor).with_context(|| format!("{s:?} is too large"))
}

/// Formats a byte count for people.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("500M").unwrap(), 500 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(12), "12 B");
    }
}

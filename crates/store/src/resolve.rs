//! Recipient resolution: from an RCPT address to local accounts and remote addresses, through
//! accounts, aliases (possibly nested), plus-addressing and catch-all.
//!
//! Order, as Postfix's virtual maps and most servers do it:
//! 1. an account with exactly this address;
//! 2. an alias with exactly this address (targets expanded recursively);
//! 3. with plus-addressing on, steps 1–2 for the address without its `+detail`;
//! 4. the domain's catch-all alias `@domain`;
//! 5. otherwise unknown (SMTP answers 550 5.1.1).
//!
//! Expansion stops at [`MAX_DEPTH`] levels and [`MAX_TARGETS`] results; an address seen twice
//! (a loop) is skipped. Remote targets of local aliases are returned for the outbound queue.

use std::collections::HashSet;

use mailstead_types::Address;

use crate::Result;
use crate::model::{Account, AliasSource};
use crate::traits::DirectoryStore;

/// Maximum alias nesting.
pub const MAX_DEPTH: usize = 10;
/// Maximum number of final recipients one address may expand to.
pub const MAX_TARGETS: usize = 1000;

/// Where mail for one address goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Local accounts, without duplicates, in discovery order.
    pub local: Vec<Account>,
    /// Remote addresses (alias targets outside our domains).
    pub remote: Vec<Address>,
}

impl Resolution {
    /// Whether the address delivers nowhere (unknown user).
    pub fn is_empty(&self) -> bool {
        self.local.is_empty() && self.remote.is_empty()
    }
}

/// Resolves a recipient of a local domain. `plus_separator` is `None` when plus-addressing is
/// off. An address of a non-local domain resolves to itself as remote.
pub async fn resolve(
    store: &dyn DirectoryStore,
    rcpt: &Address,
    plus_separator: Option<char>,
) -> Result<Resolution> {
    resolve_from(store, rcpt, plus_separator, false).await
}

/// [`resolve`] for an address the caller has just found to be in a local domain (RCPT
/// checks that first): saves looking the domain up again.
pub async fn resolve_in_local_domain(
    store: &dyn DirectoryStore,
    rcpt: &Address,
    plus_separator: Option<char>,
) -> Result<Resolution> {
    resolve_from(store, rcpt, plus_separator, true).await
}

async fn resolve_from(
    store: &dyn DirectoryStore,
    rcpt: &Address,
    plus_separator: Option<char>,
    known_local: bool,
) -> Result<Resolution> {
    let mut out = Resolution::default();
    let mut seen = HashSet::new();
    let mut stack = vec![(rcpt.clone(), 0usize)];
    while let Some((address, depth)) = stack.pop() {
        if !seen.insert(address.normalized()) || out.local.len() + out.remote.len() >= MAX_TARGETS {
            continue;
        }
        let local = (known_local && depth == 0) || store.is_local_domain(address.domain()).await?;
        if !local {
            out.remote.push(address);
            continue;
        }
        match lookup_local(store, &address, plus_separator).await? {
            Found::Account(account) => {
                if !out.local.iter().any(|a| a.id == account.id) {
                    out.local.push(account);
                }
            }
            Found::Alias(targets) if depth < MAX_DEPTH => {
                // Reverse so targets are expanded in the order they were written.
                stack.extend(targets.into_iter().rev().map(|t| (t, depth + 1)));
            }
            Found::Alias(_) => {
                tracing::warn!(address = %address, "alias nesting deeper than {MAX_DEPTH}; ignoring");
            }
            Found::Nothing => {}
        }
    }
    Ok(out)
}

enum Found {
    Account(Account),
    Alias(Vec<Address>),
    Nothing,
}

async fn lookup_local(
    store: &dyn DirectoryStore,
    address: &Address,
    plus_separator: Option<char>,
) -> Result<Found> {
    if let Some(found) = lookup_exact(store, address).await? {
        return Ok(found);
    }
    if let Some((base, _detail)) = plus_separator.and_then(|sep| address.without_detail(sep))
        && let Some(found) = lookup_exact(store, &base).await?
    {
        return Ok(found);
    }
    let catch_all = AliasSource::CatchAll(address.domain().clone());
    Ok(match store.get_alias(&catch_all).await? {
        Some(alias) => Found::Alias(alias.targets),
        None => Found::Nothing,
    })
}

async fn lookup_exact(store: &dyn DirectoryStore, address: &Address) -> Result<Option<Found>> {
    if let Some(account) = store.get_account(address).await? {
        return Ok(Some(Found::Account(account)));
    }
    let source = AliasSource::Address(address.clone());
    Ok(store.get_alias(&source).await?.map(|alias| Found::Alias(alias.targets)))
}

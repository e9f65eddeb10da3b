//! Which addresses an authenticated user may send as: the envelope sender (MAIL FROM) and the
//! `From:`/`Sender:` header fields of the message are held to the same rule.
//!
//! By default ([`SenderPolicy::Own`]) an account may use its own address (also with a
//! `+detail`) and every address whose mail reaches it: aliases that point to it, directly or
//! through other aliases, including a catch-all. That is the set of addresses a user can
//! already receive as, so allowing them lets nobody impersonate anyone else. The other
//! policies widen it for servers where users trust each other.

use mailstead_store::model::Account;
use mailstead_store::resolve::resolve;
use mailstead_store::{DirectoryStore, StoreError};
use mailstead_types::Address;

/// The sender rule (`[submission] allowed_senders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SenderPolicy {
    /// The account's own address and the aliases that deliver to it.
    #[default]
    Own,
    /// Also any address of the account's domain.
    Domain,
    /// Also any address of any local domain.
    AnyLocal,
}

/// Why an address is allowed, for the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// The account's address, possibly with a `+detail`.
    OwnAddress,
    /// An alias (or catch-all) that delivers to the account.
    Alias,
    /// Allowed by [`SenderPolicy::Domain`].
    SameDomain,
    /// Allowed by [`SenderPolicy::AnyLocal`].
    LocalDomain,
}

impl Allowed {
    /// A word for the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Allowed::OwnAddress => "own address",
            Allowed::Alias => "alias of the account",
            Allowed::SameDomain => "address of the account's domain",
            Allowed::LocalDomain => "address of a local domain",
        }
    }
}

/// Decides whether `account` may send as `address`; `None` means no.
pub async fn may_send_as(
    store: &dyn DirectoryStore,
    account: &Account,
    address: &Address,
    policy: SenderPolicy,
    plus_separator: Option<char>,
) -> Result<Option<Allowed>, StoreError> {
    let own = |a: &Address| a.normalized() == account.address.normalized();
    if own(address)
        || plus_separator.and_then(|sep| address.without_detail(sep)).is_some_and(|(base, _)| own(&base))
    {
        return Ok(Some(Allowed::OwnAddress));
    }
    match policy {
        SenderPolicy::Domain if address.domain() == account.address.domain() => {
            return Ok(Some(Allowed::SameDomain));
        }
        SenderPolicy::AnyLocal if store.is_local_domain(address.domain()).await? => {
            return Ok(Some(Allowed::LocalDomain));
        }
        _ => {}
    }
    if !store.is_local_domain(address.domain()).await? {
        return Ok(None);
    }
    let reaches = resolve(store, address, plus_separator).await?;
    Ok(reaches.local.iter().any(|a| a.id == account.id).then_some(Allowed::Alias))
}

/// The addresses of the `From:` and `Sender:` fields (RFC 5322 §3.6.2); `None` when the
/// message has no `From:` field at all. Group syntax yields its members.
pub fn author_addresses(message: &[u8]) -> Option<Vec<String>> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message)?;
    let list = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| a.iter().filter_map(|addr| addr.address().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    parsed.from()?;
    let mut out = list(parsed.from());
    out.extend(list(parsed.sender()));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailstead_store::model::{Alias, AliasSource};

    #[tokio::test]
    async fn each_policy_widens_the_last() {
        let ts = mailstead_testkit::TestStore::new(
            &["example.test", "other.test"],
            &["alice@example.test", "bob@example.test", "carol@other.test"],
        )
        .await;
        let store = ts.store.as_ref();
        let addr = |s: &str| Address::parse(s).unwrap();
        let catch_all = Alias {
            source: AliasSource::parse("@other.test").unwrap(),
            targets: vec![addr("alice@example.test")],
        };
        store.add_alias(catch_all).await.unwrap();
        let alice = store.get_account(&addr("alice@example.test")).await.unwrap().unwrap();
        let check = |address: &'static str, policy| {
            let alice = alice.clone();
            async move { may_send_as(store, &alice, &addr(address), policy, Some('+')).await.unwrap() }
        };
        assert_eq!(check("alice+x@example.test", SenderPolicy::Own).await, Some(Allowed::OwnAddress));
        assert_eq!(
            check("anything@other.test", SenderPolicy::Own).await,
            Some(Allowed::Alias),
            "the catch-all reaches her"
        );
        assert_eq!(
            check("carol@other.test", SenderPolicy::Own).await,
            None,
            "an account is not covered by the catch-all"
        );
        assert_eq!(check("bob@example.test", SenderPolicy::Own).await, None);
        assert_eq!(check("bob@example.test", SenderPolicy::Domain).await, Some(Allowed::SameDomain));
        assert_eq!(check("carol@other.test", SenderPolicy::Domain).await, None);
        assert_eq!(check("carol@other.test", SenderPolicy::AnyLocal).await, Some(Allowed::LocalDomain));
        assert_eq!(check("x@remote.test", SenderPolicy::AnyLocal).await, None);
    }

    #[test]
    fn author_addresses_of_from_and_sender() {
        let m =
            b"From: Alice <alice@example.test>, bob@example.test\r\nSender: carol@example.test\r\n\r\nhi\r\n";
        assert_eq!(
            author_addresses(m),
            Some(vec!["alice@example.test".into(), "bob@example.test".into(), "carol@example.test".into()])
        );
        assert_eq!(author_addresses(b"Subject: none\r\n\r\nhi\r\n"), None);
        assert_eq!(author_addresses(b"From: undisclosed:;\r\n\r\nhi\r\n"), Some(vec![]));
    }
}

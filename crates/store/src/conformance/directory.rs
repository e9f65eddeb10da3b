//! Conformance cases for domains, accounts, aliases and recipient resolution.

use super::{StoreRef, account, addr, domain};
use crate::StoreErrorKind;
use crate::model::{Alias, AliasSource, NewAccount};
use crate::resolve::resolve;

pub async fn domains(store: StoreRef) {
    assert!(store.list_domains().await.unwrap().is_empty());
    store.add_domain(&domain("b.test")).await.unwrap();
    store.add_domain(&domain("A.test")).await.unwrap();
    let err = store.add_domain(&domain("a.TEST")).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::AlreadyExists);
    assert_eq!(store.list_domains().await.unwrap(), vec![domain("a.test"), domain("b.test")]);
    assert!(store.is_local_domain(&domain("A.Test")).await.unwrap());
    assert!(!store.is_local_domain(&domain("c.test")).await.unwrap());

    account(&store, "u@a.test").await;
    let err = store.delete_domain(&domain("a.test")).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Invalid, "a domain with accounts must not vanish");
    store.delete_domain(&domain("b.test")).await.unwrap();
    assert_eq!(store.list_domains().await.unwrap(), vec![domain("a.test")]);
    let err = store.delete_domain(&domain("b.test")).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::NotFound);
}

pub async fn accounts(store: StoreRef) {
    let new = |a: &str| NewAccount { address: addr(a), password_hash: "$h1$".into(), quota_bytes: 0 };
    let err = store.add_account(new("x@nowhere.test")).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::NotFound, "domain must be local");

    let alice = account(&store, "Alice@example.test").await;
    assert_eq!(alice.address.to_string(), "Alice@example.test");
    assert_eq!(alice.used_bytes, 0);
    let err = store.add_account(new("alice@EXAMPLE.test")).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::AlreadyExists);

    let found = store.get_account(&addr("ALICE@example.test")).await.unwrap().unwrap();
    assert_eq!(found.id, alice.id);
    assert_eq!(store.account_by_id(alice.id).await.unwrap().unwrap().address, alice.address);
    assert!(store.get_account(&addr("bob@example.test")).await.unwrap().is_none());

    store.set_password(&addr("alice@example.test"), "$h2$".into()).await.unwrap();
    assert_eq!(store.get_account(&alice.address).await.unwrap().unwrap().password_hash, "$h2$");
    let err = store.set_password(&addr("bob@example.test"), "$h$".into()).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::NotFound);
    store.set_quota(&alice.address, 1234).await.unwrap();
    assert_eq!(store.get_account(&alice.address).await.unwrap().unwrap().quota_bytes, 1234);

    account(&store, "bob@example.test").await;
    let all: Vec<String> =
        store.list_accounts().await.unwrap().into_iter().map(|a| a.address.normalized()).collect();
    assert_eq!(all, vec!["alice@example.test", "bob@example.test"]);

    store.delete_account(&addr("alice@example.test")).await.unwrap();
    assert!(store.get_account(&alice.address).await.unwrap().is_none());
    assert!(store.list_mailboxes(alice.id).await.unwrap().is_empty());
    let err = store.delete_account(&alice.address).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::NotFound);
}

pub async fn aliases(store: StoreRef) {
    account(&store, "alice@example.test").await;
    let postmaster = Alias {
        source: AliasSource::parse("postmaster@example.test").unwrap(),
        targets: vec![addr("alice@example.test")],
    };
    store.add_alias(postmaster.clone()).await.unwrap();
    let err = store.add_alias(postmaster.clone()).await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::AlreadyExists);
    let clash =
        Alias { source: AliasSource::parse("Alice@example.test").unwrap(), targets: vec![addr("x@y.test")] };
    assert_eq!(store.add_alias(clash).await.unwrap_err().kind, StoreErrorKind::AlreadyExists);
    let foreign = Alias {
        source: AliasSource::parse("a@other.test").unwrap(),
        targets: vec![addr("alice@example.test")],
    };
    assert_eq!(store.add_alias(foreign).await.unwrap_err().kind, StoreErrorKind::NotFound);
    let err = store
        .add_account(NewAccount {
            address: addr("postmaster@example.test"),
            password_hash: "$h$".into(),
            quota_bytes: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::AlreadyExists, "an account may not shadow an alias");

    let catch_all = Alias {
        source: AliasSource::parse("@example.test").unwrap(),
        targets: vec![addr("alice@example.test"), addr("ext@remote.test")],
    };
    store.add_alias(catch_all.clone()).await.unwrap();
    assert_eq!(store.get_alias(&catch_all.source).await.unwrap(), Some(catch_all.clone()));
    assert_eq!(
        store.get_alias(&AliasSource::parse("POSTMASTER@example.test").unwrap()).await.unwrap(),
        Some(postmaster.clone())
    );
    let listed: Vec<String> =
        store.list_aliases().await.unwrap().into_iter().map(|a| a.source.to_string()).collect();
    assert_eq!(listed, vec!["@example.test", "postmaster@example.test"]);
    store.delete_alias(&catch_all.source).await.unwrap();
    assert!(store.get_alias(&catch_all.source).await.unwrap().is_none());
    assert_eq!(store.delete_alias(&catch_all.source).await.unwrap_err().kind, StoreErrorKind::NotFound);
}

pub async fn resolution(store: StoreRef) {
    let alice = account(&store, "alice@example.test").await;
    let bob = account(&store, "bob@example.test").await;
    let add = |src: &str, targets: &[&str]| {
        let alias = Alias {
            source: AliasSource::parse(src).unwrap(),
            targets: targets.iter().map(|t| addr(t)).collect(),
        };
        let store = store.clone();
        async move { store.add_alias(alias).await.unwrap() }
    };
    add("team@example.test", &["alice@example.test", "bob@example.test", "friend@remote.test"]).await;
    add("all@example.test", &["team@example.test", "alice@example.test"]).await;
    add("loop1@example.test", &["loop2@example.test"]).await;
    add("loop2@example.test", &["loop1@example.test", "bob@example.test"]).await;

    let ids = |r: &crate::resolve::Resolution| r.local.iter().map(|a| a.id).collect::<Vec<_>>();
    let r = resolve(store.as_ref(), &addr("ALICE@example.test"), Some('+')).await.unwrap();
    assert_eq!(ids(&r), vec![alice.id]);
    let r = resolve(store.as_ref(), &addr("alice+news@example.test"), Some('+')).await.unwrap();
    assert_eq!(ids(&r), vec![alice.id], "plus-addressing");
    let r = resolve(store.as_ref(), &addr("alice+news@example.test"), None).await.unwrap();
    assert!(r.is_empty(), "plus-addressing off");
    let r = resolve(store.as_ref(), &addr("all@example.test"), Some('+')).await.unwrap();
    assert_eq!(ids(&r), vec![alice.id, bob.id], "nested aliases, duplicates removed");
    assert_eq!(r.remote, vec![addr("friend@remote.test")]);
    let r = resolve(store.as_ref(), &addr("loop1@example.test"), Some('+')).await.unwrap();
    assert_eq!(ids(&r), vec![bob.id], "loops end");
    let r = resolve(store.as_ref(), &addr("nobody@example.test"), Some('+')).await.unwrap();
    assert!(r.is_empty());
    let r = resolve(store.as_ref(), &addr("someone@remote.test"), Some('+')).await.unwrap();
    assert_eq!(r.remote, vec![addr("someone@remote.test")]);

    add("@example.test", &["bob@example.test"]).await;
    let r = resolve(store.as_ref(), &addr("nobody@example.test"), Some('+')).await.unwrap();
    assert_eq!(ids(&r), vec![bob.id], "catch-all");
    let r = resolve(store.as_ref(), &addr("alice+x@example.test"), Some('+')).await.unwrap();
    assert_eq!(ids(&r), vec![alice.id], "plus-addressing beats catch-all");
}

/// Logging in through [`crate::auth::Authenticator`]: right and wrong passwords, unknown users,
/// the per-IP block, and the account block that spares a client which logged in before.
pub async fn authentication(store: StoreRef) {
    use std::net::IpAddr;
    use std::time::Duration;

    use crate::auth::{AuthError, AuthLimits, Authenticator};

    store.add_domain(&domain("example.test")).await.unwrap();
    let hash = crate::password::hash("s3cret pass").unwrap();
    let new = NewAccount { address: addr("bob@example.test"), password_hash: hash, quota_bytes: 0 };
    let bob = store.add_account(new).await.unwrap();
    let limits = AuthLimits {
        max_failures_per_ip: 3,
        max_failures_per_account: 5,
        window: Duration::from_secs(60),
        max_concurrent_checks: 2,
    };
    let auth = Authenticator::new(store.clone(), limits);
    let home: IpAddr = "192.0.2.1".parse().unwrap();
    let account = auth.authenticate(home, "BOB@example.test", "s3cret pass").await.unwrap();
    assert_eq!(account.id, bob.id);

    let guesser: IpAddr = "198.51.100.9".parse().unwrap();
    for wrong in ["x", "y", "z"] {
        assert!(matches!(
            auth.authenticate(guesser, "bob@example.test", wrong).await,
            Err(AuthError::Invalid)
        ));
    }
    // Blocked by IP now, even with the right password.
    let blocked = auth.authenticate(guesser, "bob@example.test", "s3cret pass").await;
    assert!(matches!(blocked, Err(AuthError::Throttled { by_ip: true, .. })), "{blocked:?}");
    // Unknown users and malformed names fail the same way.
    let other: IpAddr = "198.51.100.10".parse().unwrap();
    assert!(matches!(auth.authenticate(other, "nobody@example.test", "x").await, Err(AuthError::Invalid)));
    assert!(matches!(auth.authenticate(other, "not an address", "x").await, Err(AuthError::Invalid)));
    // Two more failures for bob from elsewhere reach the account limit (3 + 2 = 5).
    let fourth: IpAddr = "198.51.100.11".parse().unwrap();
    for _ in 0..2 {
        assert!(matches!(auth.authenticate(fourth, "bob@example.test", "w").await, Err(AuthError::Invalid)));
    }
    let third: IpAddr = "203.0.113.5".parse().unwrap();
    let locked = auth.authenticate(third, "bob@example.test", "s3cret pass").await;
    assert!(matches!(locked, Err(AuthError::Throttled { by_ip: false, .. })), "{locked:?}");
    // Bob's usual client is not locked out of his own account.
    assert_eq!(auth.authenticate(home, "bob@example.test", "s3cret pass").await.unwrap().id, bob.id);
    // An operator can lift the block.
    auth.clear(Some(guesser), Some("bob@example.test"));
    assert_eq!(auth.authenticate(guesser, "bob@example.test", "s3cret pass").await.unwrap().id, bob.id);
}

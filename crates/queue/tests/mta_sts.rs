//! MTA-STS policy lookup against an HTTPS server on 127.0.0.1 with a test CA: fetch and cache
//! in the store, no new fetch while the announced id is unchanged, a new fetch when it
//! changes, the cached policy kept when the record disappears or the fetch fails, and every
//! way a fetch can fail (untrusted certificate, status, media type, broken policy).

#![allow(clippy::unwrap_used)]

mod policy_server;

use std::sync::Arc;

use mailstead_dns::{DnsErrorKind, MemoryResolver};
use mailstead_queue::sts::{Fetcher, Mode, StsPolicies};
use mailstead_queue::tls::TlsClients;
use mailstead_store::model::StsPolicyRecord;
use mailstead_testkit::TestStore;

const POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\nmx: *.backup.remote.test\r\nmax_age: 86400\r\n";

struct Setup {
    ts: TestStore,
    zone: Arc<MemoryResolver>,
    server: policy_server::PolicyServer,
    fetcher: Fetcher,
}

async fn setup() -> Setup {
    let ts = TestStore::new(&["example.test"], &[]).await;
    let server = policy_server::start("mta-sts.remote.test", POLICY).await;
    let zone = Arc::new(MemoryResolver::new());
    zone.add_txt("_mta-sts.remote.test", "v=STSv1; id=first1;")
        .add_ip("mta-sts.remote.test", "127.0.0.1".parse().unwrap());
    let tls = TlsClients::new(Some(server.ca_pem.as_bytes())).unwrap();
    let mut fetcher = Fetcher::new(&tls.verified);
    fetcher.port = server.port;
    Setup { ts, zone, server, fetcher }
}

fn policies(s: &Setup) -> StsPolicies {
    StsPolicies::new(s.ts.store.clone(), s.zone.clone(), s.fetcher.clone())
}

#[tokio::test]
async fn fetches_caches_and_refetches_on_a_new_id() {
    let s = setup().await;
    let p = policies(&s);
    let active = p.policy("remote.test").await.expect("a policy");
    assert_eq!(active.id, "first1");
    assert_eq!(active.policy.mode, Mode::Enforce);
    assert!(active.policy.allows("mx.remote.test") && active.policy.allows("b1.backup.remote.test"));
    assert_eq!(s.server.requests.lock().unwrap().as_slice(), ["GET /.well-known/mta-sts.txt HTTP/1.1"]);
    let stored = s.ts.store.sts_policy("remote.test").await.unwrap().expect("cached in the store");
    assert_eq!((stored.id.as_str(), stored.expires - stored.fetched), ("first1", 86400));

    // Same id: the cached policy, no request (a fresh instance, so memory does not answer).
    let again = policies(&s).policy("remote.test").await.unwrap();
    assert_eq!(again.id, "first1");
    assert_eq!(s.server.requests.lock().unwrap().len(), 1);

    // A new id: fetched again, and the new text replaces the old.
    s.zone.remove_txt("_mta-sts.remote.test").add_txt("_mta-sts.remote.test", "v=STSv1; id=second2");
    s.server.served.lock().unwrap().body = POLICY.replace("enforce", "testing");
    let p = policies(&s);
    let changed = p.policy("remote.test").await.unwrap();
    assert_eq!((changed.id.as_str(), changed.policy.mode), ("second2", Mode::Testing));
    assert_eq!(s.server.requests.lock().unwrap().len(), 2);

    // Remembered in memory: no TXT lookup for the next message.
    let before = s.zone.queries();
    p.policy("remote.test").await.unwrap();
    assert_eq!(s.zone.queries(), before);
}

#[tokio::test]
async fn a_cached_policy_outlives_a_missing_record_and_failed_fetches() {
    let s = setup().await;
    policies(&s).policy("remote.test").await.unwrap();

    // The record is gone (an attacker dropping it, say): the cached policy still applies.
    s.zone.remove_txt("_mta-sts.remote.test");
    assert_eq!(policies(&s).policy("remote.test").await.unwrap().id, "first1");
    // DNS failing: the same.
    s.zone.fail("_mta-sts.remote.test", "TXT", DnsErrorKind::Temporary);
    assert_eq!(policies(&s).policy("remote.test").await.unwrap().id, "first1");

    // A new id but the server fails: the cached policy stays in force.
    let s2 = setup().await;
    policies(&s2).policy("remote.test").await.unwrap();
    s2.zone.remove_txt("_mta-sts.remote.test").add_txt("_mta-sts.remote.test", "v=STSv1; id=third3");
    s2.server.served.lock().unwrap().status = "503 Service Unavailable".into();
    assert_eq!(policies(&s2).policy("remote.test").await.unwrap().id, "first1");

    // Once expired, a cached policy no longer applies.
    let mut old = s2.ts.store.sts_policy("remote.test").await.unwrap().unwrap();
    old.expires = old.fetched - 1;
    s2.ts.store.put_sts_policy("remote.test", StsPolicyRecord { ..old }).await.unwrap();
    assert_eq!(policies(&s2).policy("remote.test").await, None);
}

#[tokio::test]
async fn failed_fetches_give_no_policy() {
    type Change = fn(&mut policy_server::Served);
    let cases: [(&str, Change); 4] = [
        ("404", |s| s.status = "404 Not Found".into()),
        ("redirect", |s| s.status = "301 Moved Permanently".into()),
        ("html", |s| s.content_type = "text/html".into()),
        ("broken policy", |s| s.body = "version: STSv1\r\nmode: enforce\r\n".into()),
    ];
    for (what, change) in cases {
        let s = setup().await;
        change(&mut s.server.served.lock().unwrap());
        assert_eq!(policies(&s).policy("remote.test").await, None, "{what}");
        assert_eq!(s.ts.store.sts_policy("remote.test").await.unwrap(), None, "{what}: nothing cached");
    }

    // A certificate from a CA we do not trust.
    let s = setup().await;
    let mut untrusting = Fetcher::new(&TlsClients::new(None).unwrap().verified);
    untrusting.port = s.server.port;
    let p = StsPolicies::new(s.ts.store.clone(), s.zone.clone(), untrusting);
    assert_eq!(p.policy("remote.test").await, None);
    let err = s.fetcher.fetch(s.zone.as_ref(), "other.test").await.unwrap_err();
    assert!(err.to_string().contains("mta-sts.other.test"), "{err}");

    // No record at all: no fetch.
    let s = setup().await;
    s.zone.remove_txt("_mta-sts.remote.test");
    assert_eq!(policies(&s).policy("remote.test").await, None);
    assert!(s.server.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_old_policy_is_refreshed_and_kept_when_the_refresh_fails() {
    let s = setup().await;
    policies(&s).policy("remote.test").await.unwrap();
    assert_eq!(s.server.requests.lock().unwrap().len(), 1);
    // Fetched two days ago, for a week: due for a refresh under the same id.
    let mut old = s.ts.store.sts_policy("remote.test").await.unwrap().unwrap();
    let now = old.fetched;
    old.fetched = now - 2 * 86400;
    old.expires = old.fetched + 7 * 86400;
    s.ts.store.put_sts_policy("remote.test", old.clone()).await.unwrap();
    // The server is down: the cached policy stays in force, unchanged.
    s.server.served.lock().unwrap().status = "500 Internal Server Error".into();
    assert_eq!(policies(&s).policy("remote.test").await.unwrap().policy.mode, Mode::Enforce);
    assert_eq!(s.server.requests.lock().unwrap().len(), 2, "a refresh was tried");
    assert_eq!(s.ts.store.sts_policy("remote.test").await.unwrap(), Some(old));
    // The server is back with a changed policy under the same id: the refresh takes it.
    s.server.served.lock().unwrap().status = "200 OK".into();
    s.server.served.lock().unwrap().body = POLICY.replace("enforce", "testing");
    assert_eq!(policies(&s).policy("remote.test").await.unwrap().policy.mode, Mode::Testing);
    let fresh = s.ts.store.sts_policy("remote.test").await.unwrap().unwrap();
    assert!(fresh.fetched >= now, "fetched anew");
    // Fresh: no request for the next lookup.
    policies(&s).policy("remote.test").await.unwrap();
    assert_eq!(s.server.requests.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn concurrent_lookups_for_one_domain_fetch_once() {
    let s = setup().await;
    let p = Arc::new(policies(&s));
    let lookups: Vec<_> = (0..20)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.policy("remote.test").await })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(lookup.await.unwrap().unwrap().id, "first1");
    }
    assert_eq!(s.server.requests.lock().unwrap().len(), 1, "one fetch for twenty messages");
}

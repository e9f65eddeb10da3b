//! [`HickoryResolver`] against a real DNS server on loopback ([`LoopbackServer`] answering from
//! a [`MemoryResolver`]): both directions of the wire format, errors and truncation to TCP.

#![allow(clippy::unwrap_used)] // test setup: a failure is a test failure

mod common;

use std::time::Duration;

use mailstead_dns::{HickoryResolver, LoopbackServer, Resolver, ResolverSettings};

async fn setup() -> (LoopbackServer, HickoryResolver) {
    let server = common::serve_zone(|_| {}).await;
    let settings = ResolverSettings {
        nameservers: vec![server.addr()],
        timeout: Duration::from_secs(2),
        attempts: 1,
        cache_size: 0,
    };
    (server, HickoryResolver::new(settings).unwrap())
}

#[tokio::test]
async fn records_round_trip_through_the_wire() {
    let (_server, r) = setup().await;
    common::assert_records_round_trip(&r).await;
    assert!(r.txt("example.test").await.unwrap().authentic, "AD bit carried");
}

#[tokio::test]
async fn errors_keep_their_kind() {
    let (_server, r) = setup().await;
    common::assert_error_kinds(&r).await;
}

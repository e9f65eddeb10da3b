//! [`HickoryResolver`] against a real DNS server on loopback ([`LoopbackServer`] answering from
//! a [`MemoryResolver`]): both directions of the wire format, errors and truncation to TCP.

#![allow(clippy::unwrap_used)] // test setup: a failure is a test failure

use std::sync::Arc;
use std::time::Duration;

use mailstead_dns::{
    DnsErrorKind, HickoryResolver, LoopbackServer, MemoryResolver, Resolver, ResolverSettings, TlsaRecord,
};

fn tlsa() -> TlsaRecord {
    TlsaRecord { usage: 3, selector: 1, matching: 1, data: (0u8..32).collect() }
}

async fn setup() -> (LoopbackServer, HickoryResolver) {
    let table = MemoryResolver::new();
    table
        .add_txt("example.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .add_txt("big.example.test", &"k".repeat(3000))
        .add_mx("example.test", 10, "mx1.example.test.")
        .add_mx("example.test", 20, "MX2.example.test")
        .add_ip("mx1.example.test", "192.0.2.25".parse().unwrap())
        .add_ip("mx1.example.test", "2001:db8::25".parse().unwrap())
        .add_ptr("192.0.2.25".parse().unwrap(), "mx1.example.test")
        .add_tlsa("_25._tcp.mx1.example.test", tlsa())
        .set_authentic("example.test")
        .fail("broken.example.test", "TXT", DnsErrorKind::Temporary);
    let server = LoopbackServer::start(Arc::new(table)).await.unwrap();
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
    let txt = r.txt("example.test").await.unwrap();
    assert_eq!(txt.records[0].joined(), b"v=spf1 ip4:192.0.2.0/24 -all");
    assert!(txt.authentic, "AD bit carried");
    let mut mx = r.mx("EXAMPLE.test.").await.unwrap().records;
    mx.sort_by_key(|m| m.preference);
    assert_eq!(mx[0].exchange, "mx1.example.test");
    assert_eq!(mx[1].exchange, "mx2.example.test");
    assert_eq!(
        r.ipv4("mx1.example.test").await.unwrap().records,
        ["192.0.2.25".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert_eq!(
        r.ipv6("mx1.example.test").await.unwrap().records,
        ["2001:db8::25".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    assert_eq!(r.ptr("192.0.2.25".parse().unwrap()).await.unwrap().records, ["mx1.example.test"]);
    assert_eq!(r.tlsa("_25._tcp.mx1.example.test").await.unwrap().records, [tlsa()]);
    assert_eq!(r.tlsa("mx1.example.test").await.unwrap_err().kind(), DnsErrorKind::NoRecords);
}

#[tokio::test]
async fn large_answers_come_back_over_tcp() {
    let (_server, r) = setup().await;
    let txt = r.txt("big.example.test").await.unwrap();
    assert_eq!(txt.records[0].joined().len(), 3000);
}

#[tokio::test]
async fn errors_keep_their_kind() {
    let (_server, r) = setup().await;
    assert_eq!(r.txt("nowhere.example.test").await.unwrap_err().kind(), DnsErrorKind::NxDomain);
    assert_eq!(r.txt("mx1.example.test").await.unwrap_err().kind(), DnsErrorKind::NoRecords);
    assert_eq!(r.txt("broken.example.test").await.unwrap_err().kind(), DnsErrorKind::Temporary);
    assert_eq!(
        r.txt(&format!("{}.test", "a".repeat(70))).await.unwrap_err().kind(),
        DnsErrorKind::InvalidName
    );
}

//! What the wire tests of the resolvers share: the test zone, served by [`LoopbackServer`], and
//! the checks every resolver must pass against it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use mailstead_dns::{DnsErrorKind, LoopbackServer, MemoryResolver, Resolver, TlsaRecord};

/// The TLSA record of `_25._tcp.mx1.example.test`.
pub fn tlsa() -> TlsaRecord {
    TlsaRecord { usage: 3, selector: 1, matching: 1, data: (0u8..32).collect() }
}

/// Starts a [`LoopbackServer`] for the test zone: records of every type under example.test,
/// a 3000-byte TXT record (too big for UDP), `example.test` marked authentic, and a temporary
/// failure for the TXT records of `broken.example.test`. `extra` adds to it.
pub async fn serve_zone(extra: impl FnOnce(&MemoryResolver)) -> LoopbackServer {
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
    extra(&table);
    LoopbackServer::start(Arc::new(table)).await.unwrap()
}

/// Every record type of the zone comes back as it was put in.
pub async fn assert_records_round_trip(r: &dyn Resolver) {
    let txt = r.txt("example.test").await.unwrap();
    assert_eq!(txt.records[0].joined(), b"v=spf1 ip4:192.0.2.0/24 -all");
    let mut mx = r.mx("EXAMPLE.test.").await.unwrap().records;
    mx.sort_by_key(|m| m.preference);
    assert_eq!(mx[0].exchange, "mx1.example.test");
    assert_eq!(mx[1].exchange, "mx2.example.test");
    assert_eq!(
        r.ipv4("mx1.example.test").await.unwrap().records,
        ["192.0.2.25".parse::<Ipv4Addr>().unwrap()]
    );
    assert_eq!(
        r.ipv6("mx1.example.test").await.unwrap().records,
        ["2001:db8::25".parse::<Ipv6Addr>().unwrap()]
    );
    assert_eq!(r.ptr("192.0.2.25".parse().unwrap()).await.unwrap().records, ["mx1.example.test"]);
    assert_eq!(r.tlsa("_25._tcp.mx1.example.test").await.unwrap().records, [tlsa()]);
    assert_eq!(r.txt("big.example.test").await.unwrap().records[0].joined().len(), 3000, "over TCP");
}

/// NXDOMAIN, NODATA, SERVFAIL and a bad name each keep their kind.
pub async fn assert_error_kinds(r: &dyn Resolver) {
    assert_eq!(r.txt("nowhere.example.test").await.unwrap_err().kind(), DnsErrorKind::NxDomain);
    assert_eq!(r.txt("mx1.example.test").await.unwrap_err().kind(), DnsErrorKind::NoRecords);
    assert_eq!(r.tlsa("mx1.example.test").await.unwrap_err().kind(), DnsErrorKind::NoRecords);
    assert_eq!(r.txt("broken.example.test").await.unwrap_err().kind(), DnsErrorKind::Temporary);
    assert_eq!(
        r.txt(&format!("{}.test", "a".repeat(70))).await.unwrap_err().kind(),
        DnsErrorKind::InvalidName
    );
}

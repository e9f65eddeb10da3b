//! [`AdResolver`] on the wire: against [`LoopbackServer`] answering from a [`MemoryResolver`]
//! (records of every type, the AD bit, truncation to TCP, error kinds), and against scripted
//! UDP servers that show what the queries carry (AD, DO, EDNS payload) and how stray
//! datagrams, CNAME chains and silent or refusing servers are handled.

#![allow(clippy::unwrap_used)] // test setup: a failure is a test failure

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, CNAME};
use hickory_resolver::proto::rr::{Name, RData, Record};
use mailstead_dns::{AdResolver, DnsErrorKind, LoopbackServer, MemoryResolver, Resolver, ResolverSettings};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

fn settings(nameservers: Vec<SocketAddr>) -> ResolverSettings {
    ResolverSettings { nameservers, timeout: Duration::from_millis(500), attempts: 1, cache_size: 0 }
}

/// The shared test zone, with more names marked authentic and an insecure TLSA record.
async fn setup() -> (LoopbackServer, AdResolver) {
    let server = common::serve_zone(|table| {
        table
            .add_tlsa("_25._tcp.mx2.example.test", common::tlsa())
            .set_authentic("mx1.example.test")
            .set_authentic("_25._tcp.mx1.example.test")
            .set_authentic("big.example.test");
    })
    .await;
    let resolver = AdResolver::new(settings(vec![server.addr()])).unwrap();
    (server, resolver)
}

#[tokio::test]
async fn records_round_trip_through_the_wire() {
    let (_server, r) = setup().await;
    common::assert_records_round_trip(&r).await;
}

#[tokio::test]
async fn the_ad_bit_of_a_loopback_server_is_reported() {
    let (_server, r) = setup().await;
    assert!(r.txt("example.test").await.unwrap().authentic);
    assert!(r.mx("example.test").await.unwrap().authentic);
    assert!(r.ipv4("mx1.example.test").await.unwrap().authentic);
    assert!(r.ipv6("mx1.example.test").await.unwrap().authentic);
    assert!(!r.ptr("192.0.2.25".parse().unwrap()).await.unwrap().authentic, "not marked");
    let secure = r.tlsa("_25._tcp.mx1.example.test").await.unwrap();
    assert_eq!((secure.records, secure.authentic), (vec![common::tlsa()], true));
    let insecure = r.tlsa("_25._tcp.mx2.example.test").await.unwrap();
    assert_eq!((insecure.records, insecure.authentic), (vec![common::tlsa()], false));
    assert!(r.txt("big.example.test").await.unwrap().authentic, "the AD bit of the TCP answer");
}

#[tokio::test]
async fn errors_keep_their_kind() {
    let (_server, r) = setup().await;
    common::assert_error_kinds(&r).await;
}

/// A UDP server on 127.0.0.1 that hands each query to the test (parsed) and sends back the
/// datagrams `reply` makes of it (none: it stays silent).
async fn scripted(
    reply: impl Fn(&Message) -> Vec<Vec<u8>> + Send + 'static,
) -> (SocketAddr, mpsc::UnboundedReceiver<Message>) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            let query = Message::from_vec(&buf[..len]).unwrap();
            let datagrams = reply(&query);
            let _ = tx.send(query);
            for datagram in datagrams {
                socket.send_to(&datagram, peer).await.unwrap();
            }
        }
    });
    (addr, rx)
}

/// The response to `query` with `rcode`, AD set, and `answers`.
fn response(query: &Message, rcode: ResponseCode, answers: Vec<Record>) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.response_code = rcode;
    response.metadata.authentic_data = true;
    response.add_queries(query.queries.clone());
    response.add_answers(answers);
    response.set_edns(Edns::new());
    response
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

#[tokio::test]
async fn queries_ask_for_the_ad_bit_with_do_and_edns() {
    let (addr, mut queries) = scripted(|q| {
        let a = Record::from_rdata(name("mx.example.test."), 60, RData::A(A::new(192, 0, 2, 7)));
        vec![response(q, ResponseCode::NoError, vec![a]).to_vec().unwrap()]
    })
    .await;
    let r = AdResolver::new(settings(vec![addr])).unwrap();
    let answer = r.ipv4("MX.example.test").await.unwrap();
    assert_eq!(answer.records, [Ipv4Addr::new(192, 0, 2, 7)]);
    assert!(answer.authentic);

    let query = queries.recv().await.unwrap();
    assert!(query.metadata.recursion_desired, "RD");
    assert!(query.metadata.authentic_data, "AD (RFC 6840 §5.7)");
    assert!(!query.metadata.checking_disabled, "CD would turn validation off");
    let edns = query.edns.as_ref().expect("EDNS0");
    assert!(edns.flags().dnssec_ok, "DO");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(query.queries.len(), 1);
    assert_eq!(query.queries[0].name(), &name("mx.example.test."));
    let second = r.ipv4("mx.example.test").await.unwrap();
    assert!(second.authentic);
    assert_ne!(queries.recv().await.unwrap().metadata.id, query.metadata.id, "a fresh id per query");
}

#[tokio::test]
async fn stray_datagrams_are_ignored_and_cname_chains_followed() {
    let (addr, _queries) = scripted(|q| {
        let wrong_id = {
            let mut m = response(q, ResponseCode::NXDomain, vec![]);
            m.metadata.id = q.metadata.id.wrapping_add(1);
            m
        };
        let wrong_question = {
            let mut m = response(q, ResponseCode::NXDomain, vec![]);
            m.queries[0].set_name(name("other.example.test."));
            m
        };
        let chain = vec![
            Record::from_rdata(
                name("alias.example.test."),
                60,
                RData::CNAME(CNAME(name("mx.example.test."))),
            ),
            Record::from_rdata(name("mx.example.test."), 60, RData::A(A::new(192, 0, 2, 8))),
        ];
        let right = response(q, ResponseCode::NoError, chain);
        vec![
            b"garbage".to_vec(),
            wrong_id.to_vec().unwrap(),
            wrong_question.to_vec().unwrap(),
            right.to_vec().unwrap(),
        ]
    })
    .await;
    let r = AdResolver::new(settings(vec![addr])).unwrap();
    let answer = r.ipv4("alias.example.test").await.unwrap();
    assert_eq!(answer.records, [Ipv4Addr::new(192, 0, 2, 8)]);
    // Only the CNAME, not the type asked: NODATA.
    assert_eq!(r.mx("alias.example.test").await.unwrap_err().kind(), DnsErrorKind::NoRecords);
}

#[tokio::test]
async fn silent_and_refusing_servers_are_passed_over() {
    let (silent, mut asked) = scripted(|_| Vec::new()).await;
    let (refusing, mut refused) =
        scripted(|q| vec![response(q, ResponseCode::Refused, vec![]).to_vec().unwrap()]).await;
    let (_server, good) = setup().await;
    let good = good.nameservers()[0];

    let r = AdResolver::new(settings(vec![silent, refusing, good])).unwrap();
    let txt = r.txt("example.test").await.unwrap();
    assert!(txt.authentic);
    assert!(asked.try_recv().is_ok() && refused.try_recv().is_ok(), "both asked first");

    let mut two_tries = settings(vec![silent, refusing]);
    two_tries.attempts = 2;
    two_tries.timeout = Duration::from_millis(200);
    let err = AdResolver::new(two_tries).unwrap().txt("example.test").await.unwrap_err();
    assert_eq!(err.kind(), DnsErrorKind::Temporary);
    assert_eq!((asked.len(), refused.len()), (2, 1), "a timeout is retried, REFUSED is not");

    let servfail = MemoryResolver::new();
    servfail.fail("bogus.example.test", "TLSA", DnsErrorKind::Temporary);
    let server = LoopbackServer::start(Arc::new(servfail)).await.unwrap();
    let r = AdResolver::new(settings(vec![server.addr()])).unwrap();
    assert_eq!(r.tlsa("bogus.example.test").await.unwrap_err().kind(), DnsErrorKind::Temporary);
}

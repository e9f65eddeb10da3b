//! The queue runner against a scripted SMTP server on 127.0.0.1 and an in-memory DNS table:
//! delivery, per-recipient refusals with a DSN delivered to the local sender, deferral and
//! retry, expiry, null MX, the delay notice (once), no DSN for the null sender, the journal
//! of each attempt, MTA-STS enforcement (MX hosts outside the policy, no STARTTLS) and DANE
//! (TLSA match, mismatch, unvalidated records, failed TLSA lookups).

#![allow(clippy::unwrap_used)]

mod policy_server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use mailstead_dns::{DnsErrorKind, MemoryResolver, TlsaRecord};
use mailstead_queue::client::ClientSettings;
use mailstead_queue::schedule::Schedule;
use mailstead_queue::tls::TlsClients;
use mailstead_queue::{QueueConfig, Runner};
use mailstead_store::Store;
use mailstead_store::model::{JournalQuery, MessageData, NewQueued, NewRecipient, RecipientState};
use mailstead_testkit::TestStore;
use mailstead_types::{Address, QueueId};

/// What the scripted server answers, and what it received.
#[derive(Default)]
struct Script {
    /// RCPT replies by address (default `250 2.1.5 ok`).
    rcpt: HashMap<String, String>,
    /// Reply to the end of data (default `250 2.0.0 queued`).
    data: Option<String>,
    /// Messages received: (recipients, bytes).
    received: Vec<(Vec<String>, String)>,
    /// Connections accepted.
    connections: usize,
    /// When set, STARTTLS is offered with this certificate.
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Sessions that went through STARTTLS.
    tls_sessions: usize,
}

async fn scripted_server(script: Arc<Mutex<Script>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            script.lock().unwrap().connections += 1;
            let script = script.clone();
            tokio::spawn(async move {
                let acceptor = script.lock().unwrap().tls.clone();
                let mut io = BufReader::new(sock);
                io.get_mut().write_all(b"220 mx.remote.test ESMTP scripted\r\n").await.unwrap();
                if dialog(&mut io, &script, acceptor.is_some()).await
                    && let Some(acceptor) = acceptor
                {
                    let Ok(tls) = acceptor.accept(io.into_inner()).await else { return };
                    script.lock().unwrap().tls_sessions += 1;
                    dialog(&mut BufReader::new(tls), &script, false).await;
                }
            });
        }
    });
    port
}

/// One SMTP dialog; true when the client asked for STARTTLS (and got its 220).
async fn dialog<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    script: &Arc<Mutex<Script>>,
    offer_tls: bool,
) -> bool {
    let mut rcpts: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await.unwrap_or(0) == 0 {
            return false;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            let starttls = if offer_tls { "250-STARTTLS\r\n" } else { "" };
            format!(
                "250-mx.remote.test\r\n{starttls}250-PIPELINING\r\n250-SIZE 1000000\r\n250 ENHANCEDSTATUSCODES"
            )
        } else if upper == "STARTTLS" && offer_tls {
            io.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await.unwrap();
            return true;
        } else if upper.starts_with("MAIL") {
            rcpts.clear();
            "250 2.1.0 ok".into()
        } else if upper.starts_with("RCPT") {
            let addr = cmd.split('<').nth(1).and_then(|s| s.split('>').next()).unwrap_or("").to_string();
            let reply = script.lock().unwrap().rcpt.get(&addr).cloned().unwrap_or("250 2.1.5 ok".into());
            if reply.starts_with('2') {
                rcpts.push(addr);
            }
            reply
        } else if upper == "DATA" {
            if rcpts.is_empty() {
                "554 5.5.1 no valid recipients".into()
            } else {
                io.get_mut().write_all(b"354 go ahead\r\n").await.unwrap();
                let mut body = String::new();
                loop {
                    line.clear();
                    io.read_line(&mut line).await.unwrap();
                    if line == ".\r\n" {
                        break;
                    }
                    body.push_str(&line);
                }
                let mut s = script.lock().unwrap();
                let reply = s.data.clone().unwrap_or("250 2.0.0 queued as X1".into());
                if reply.starts_with('2') {
                    s.received.push((rcpts.clone(), body));
                }
                reply
            }
        } else if upper == "QUIT" {
            let _ = io.get_mut().write_all(b"221 2.0.0 bye\r\n").await;
            return false;
        } else {
            "250 ok".into()
        };
        io.get_mut().write_all(format!("{reply}\r\n").as_bytes()).await.unwrap();
    }
}

struct Harness {
    ts: TestStore,
    script: Arc<Mutex<Script>>,
    shutdown: CancellationToken,
    handle: mailstead_queue::QueueHandle,
}

async fn start() -> Harness {
    start_with(|_, _| {}).await
}

/// A harness whose configuration and DNS table `adjust` changes first.
async fn start_with(adjust: impl FnOnce(&mut QueueConfig, &MemoryResolver)) -> Harness {
    let ts = TestStore::new(&["example.test"], &["alice@example.test"]).await;
    let script = Arc::new(Mutex::new(Script::default()));
    let port = scripted_server(script.clone()).await;
    let zone = MemoryResolver::new();
    zone.add_mx("remote.test", 10, "mx.remote.test")
        .add_ip("mx.remote.test", "127.0.0.1".parse().unwrap())
        .add_mx("nullmx.test", 0, "");
    let mut config = QueueConfig {
        hostname: "mx.example.test".into(),
        schedule: Schedule::default(),
        mx_port: port,
        max_connections: 4,
        max_per_domain: 2,
        poll_interval: Duration::from_millis(100),
        batch: 50,
        smart_hosts: vec![],
        client: ClientSettings {
            helo: "mx.example.test".into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
            data_timeout: Duration::from_secs(5),
            tls: TlsClients::new(None).unwrap(),
            source_addresses: vec![],
        },
        plus_separator: Some('+'),
        mta_sts: true,
        mta_sts_port: 443,
        dane: true,
    };
    adjust(&mut config, &zone);
    let shutdown = CancellationToken::new();
    let (handle, _task) = Runner::start(ts.store.clone(), Arc::new(zone), config, shutdown.clone());
    Harness { ts, script, shutdown, handle }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn queued(sender: Option<&str>, to: &[&str], age_secs: i64) -> NewQueued {
    NewQueued {
        id: QueueId::new(SystemTime::now(), rand_u32()),
        sender: sender.map(|s| Address::parse(s).unwrap()),
        recipients: to
            .iter()
            .map(|a| NewRecipient { address: Address::parse(a).unwrap(), orcpt: None, notify: None })
            .collect(),
        envid: None,
        ret: None,
        auth_user: None,
        held: false,
        data: MessageData::from(
            b"From: alice@example.test\r\nSubject: outbound test\r\n\r\n.dot line\r\nbody\r\n".to_vec(),
        ),
        created: now() - age_secs,
    }
}

fn rand_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Waits until `cond` holds (up to 10 s).
async fn until<F: AsyncFn() -> bool>(what: &str, cond: F) {
    for _ in 0..200 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn inbox(store: &Arc<dyn Store>) -> Vec<String> {
    let account = store.get_account(&Address::parse("alice@example.test").unwrap()).await.unwrap().unwrap();
    let mailbox = store.get_mailbox(account.id, "INBOX").await.unwrap().unwrap();
    let mut out = Vec::new();
    for e in store.entries(mailbox.id).await.unwrap() {
        out.push(String::from_utf8(store.read_message(&e.blob).await.unwrap().to_vec()).unwrap());
    }
    out
}

#[tokio::test]
async fn delivers_and_bounces_refused_recipients_to_the_local_sender() {
    let h = start().await;
    h.script
        .lock()
        .unwrap()
        .rcpt
        .insert("ghost@remote.test".into(), "550 5.1.1 <ghost@remote.test>: no such user".into());
    let m = queued(Some("alice@example.test"), &["bob@remote.test", "ghost@remote.test"], 0);
    let id = m.id.clone();
    h.ts.store.enqueue(m).await.unwrap();
    h.handle.wake();

    let store = h.ts.store.clone();
    until("the message to leave the queue", async || store.queue_get(&id).await.unwrap().is_none()).await;
    let received = h.script.lock().unwrap().received.clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0, ["bob@remote.test"]);
    assert!(received[0].1.contains("\r\n..dot line\r\n"), "dot-stuffed on the wire: {:?}", received[0].1);

    let store = h.ts.store.clone();
    until("the DSN in alice's INBOX", async || !inbox(&store).await.is_empty()).await;
    let dsn = &inbox(&h.ts.store).await[0];
    for part in [
        "Return-Path: <>",
        "Subject: Undelivered Mail Returned to Sender",
        "Final-Recipient: rfc822; ghost@remote.test",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.remote.test",
        "Diagnostic-Code: smtp; 550 5.1.1 <ghost@remote.test>: no such user",
        "Subject: outbound test",
    ] {
        assert!(dsn.contains(part), "missing {part:?} in:\n{dsn}");
    }
    assert!(!dsn.contains("Final-Recipient: rfc822; bob@remote.test"), "bob was delivered");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = h.ts.store.journal_query(JournalQuery::QueueId(id), 100).await.unwrap();
    let attempt = events.iter().find(|e| e.kind == "outbound.attempt").unwrap();
    let transcript = attempt.data["transcript"].to_string();
    assert!(transcript.contains("550 5.1.1 <ghost@remote.test>: no such user"), "{transcript}");
    assert!(events.iter().any(|e| e.kind == "outbound.delivered" && e.data["to"] == "bob@remote.test"));
    assert!(events.iter().any(|e| e.kind == "outbound.failed" && e.data["status"] == "5.1.1"));
    h.shutdown.cancel();
}

#[tokio::test]
async fn deferrals_retry_with_backoff_then_deliver() {
    let h = start().await;
    h.script.lock().unwrap().data = Some("451 4.3.0 try again later".into());
    let (id, _) = send_one(&h, false).await;
    let m = h.ts.store.queue_get(&id).await.unwrap().unwrap();
    let r = &m.recipients[0];
    assert_eq!(r.state, RecipientState::Pending);
    assert_eq!(r.last_reply.as_deref(), Some("451 4.3.0 try again later"));
    let wait = r.next_attempt - now();
    assert!((200..=400).contains(&wait), "first retry about 5 minutes later, got {wait} s");
    assert!(inbox(&h.ts.store).await.is_empty(), "no DSN for a young deferral");

    h.script.lock().unwrap().data = None;
    h.ts.store.queue_retry(&id, now()).await.unwrap();
    h.handle.wake();
    let store = h.ts.store.clone();
    until("delivery after the retry", async || store.queue_get(&id).await.unwrap().is_none()).await;
    assert_eq!(h.script.lock().unwrap().received.len(), 1);
    h.shutdown.cancel();
}

#[tokio::test]
async fn expiry_null_mx_and_the_delay_notice() {
    let h = start().await;
    h.script.lock().unwrap().data = Some("421 4.4.2 overloaded".into());
    // Six days old: this deferral expires it.
    let old = queued(Some("alice@example.test"), &["old@remote.test"], 6 * 86400);
    // Five hours old: a delay notice, once.
    let slow = queued(Some("alice@example.test"), &["slow@remote.test"], 5 * 3600);
    // A null MX, and a bounce to the null sender that fails: no DSN for it.
    let nowhere = queued(Some("alice@example.test"), &["x@nullmx.test"], 0);
    let bounce = queued(None, &["y@nullmx.test"], 0);
    let slow_id = slow.id.clone();
    for m in [old, slow, nowhere, bounce] {
        h.ts.store.enqueue(m).await.unwrap();
    }
    h.handle.wake();
    let store = h.ts.store.clone();
    until("three notices", async || inbox(&store).await.len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mail = inbox(&h.ts.store).await;
    assert_eq!(mail.len(), 3, "no DSN to the null sender: {mail:#?}");
    assert!(mail.iter().any(|m| m.contains("Final-Recipient: rfc822; old@remote.test")
        && m.contains("Status: 4.4.7")
        && m.contains("expired after 5 days")));
    assert!(
        mail.iter()
            .any(|m| m.contains("Final-Recipient: rfc822; x@nullmx.test") && m.contains("Status: 5.1.10"))
    );
    assert!(
        mail.iter().any(|m| m.contains("Subject: Delayed Mail")
            && m.contains("Final-Recipient: rfc822; slow@remote.test"))
    );
    let slow = h.ts.store.queue_get(&slow_id).await.unwrap().unwrap();
    assert!(slow.delay_notified);

    // A second round of the slow one sends no second delay notice.
    h.ts.store.queue_retry(&slow_id, now()).await.unwrap();
    h.handle.wake();
    let store = h.ts.store.clone();
    until("the second attempt", async || {
        store.queue_get(&slow_id).await.unwrap().is_some_and(|m| m.recipients[0].attempts == 2)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox(&h.ts.store).await.len(), 3);
    h.shutdown.cancel();
}

#[tokio::test]
async fn one_connection_carries_consecutive_messages() {
    let h = start().await;
    for i in 0..4 {
        let m = queued(Some("alice@example.test"), &["bob@remote.test"], 0);
        let id = m.id.clone();
        h.ts.store.enqueue(m).await.unwrap();
        h.handle.wake();
        let store = h.ts.store.clone();
        until(&format!("message {i} delivered"), async || store.queue_get(&id).await.unwrap().is_none())
            .await;
    }
    let s = h.script.lock().unwrap();
    assert_eq!(s.received.len(), 4);
    assert_eq!(s.connections, 1, "the session was parked and reused (RSET) for the next messages");
    drop(s);
    h.shutdown.cancel();
}

/// Queues one message from alice to bob@remote.test and waits for its delivery or, when
/// `delivered` is false, for its first deferral; returns its id and last reply.
async fn send_one(h: &Harness, delivered: bool) -> (QueueId, String) {
    send_to(h, "bob@remote.test", delivered).await
}

/// [`send_one`] to `to`. A deferral must be temporary (still pending) with nothing received
/// since the message was queued.
async fn send_to(h: &Harness, to: &str, delivered: bool) -> (QueueId, String) {
    let received_before = h.script.lock().unwrap().received.len();
    let m = queued(Some("alice@example.test"), &[to], 0);
    let id = m.id.clone();
    h.ts.store.enqueue(m).await.unwrap();
    h.handle.wake();
    let store = h.ts.store.clone();
    if delivered {
        until("delivery", async || store.queue_get(&id).await.unwrap().is_none()).await;
        return (id, String::new());
    }
    until("a deferral", async || {
        store.queue_get(&id).await.unwrap().is_some_and(|m| m.recipients[0].attempts == 1)
    })
    .await;
    let m = h.ts.store.queue_get(&id).await.unwrap().unwrap();
    assert_eq!(m.recipients[0].state, RecipientState::Pending, "a policy failure is temporary");
    assert_eq!(h.script.lock().unwrap().received.len(), received_before, "nothing delivered");
    (id, m.recipients[0].last_reply.clone().unwrap_or_default())
}

/// Enforce mode: an MX host outside the policy is never contacted and the mail waits; a listed
/// host that offers no STARTTLS is not used either. Testing mode delivers as usual.
#[tokio::test]
async fn mta_sts_enforce_keeps_mail_off_unlisted_or_plaintext_hosts() {
    for (mode, mx_pattern, expect_delivery, reason) in [
        ("enforce", "mx.other.test", false, "allows none of its MX hosts"),
        ("enforce", "*.remote.test", false, "does not offer STARTTLS"),
        ("testing", "mx.other.test", true, ""),
    ] {
        let policy = format!("version: STSv1\r\nmode: {mode}\r\nmx: {mx_pattern}\r\nmax_age: 3600\r\n");
        let server = policy_server::start("mta-sts.remote.test", &policy).await;
        let ca = server.ca_pem.clone();
        let h = start_with(|config, zone| {
            config.client.tls = TlsClients::new(Some(ca.as_bytes())).unwrap();
            config.mta_sts_port = server.port;
            zone.add_txt("_mta-sts.remote.test", "v=STSv1; id=1")
                .add_ip("mta-sts.remote.test", "127.0.0.1".parse().unwrap());
        })
        .await;
        let (_, reply) = send_one(&h, expect_delivery).await;
        if expect_delivery {
            assert_eq!(h.script.lock().unwrap().received.len(), 1, "{mode} {mx_pattern}");
        } else {
            assert!(reply.contains(reason), "{mode} {mx_pattern}: {reply}");
        }
        assert_eq!(server.requests.lock().unwrap().len(), 1, "the policy was fetched once");
        h.shutdown.cancel();
    }
}

/// The data of a DANE-EE 3 1 1 record for a DER certificate.
fn spki_sha256(der: &[u8]) -> Vec<u8> {
    mailstead_queue::dane::spki_sha256(der).unwrap()
}

/// DANE: a matching TLSA record gets the mail over verified TLS (though the MX answer is not
/// validated, RFC 7672 §2.2.1: the host's zone is); a mismatch, or a failed TLSA lookup, keeps
/// it queued; records without DNSSEC validation are ignored; validated but unusable records
/// (PKIX-EE) still require TLS.
#[tokio::test]
async fn dane_requires_a_certificate_matching_validated_tlsa_records() {
    let (_, chain, key) = policy_server::ca_and_leaf(&["mx.remote.test"]);
    let good = spki_sha256(&chain[0]);
    let (_, other_chain, _) = policy_server::ca_and_leaf(&["mx.remote.test"]);
    let wrong = spki_sha256(&other_chain[0]);
    struct Case {
        what: &'static str,
        tlsa: Option<(u8, Vec<u8>)>,
        validated: bool,
        tlsa_fails: bool,
        delivered: bool,
        reason: &'static str,
    }
    let cases = [
        Case {
            what: "matching",
            tlsa: Some((3, good.clone())),
            validated: true,
            tlsa_fails: false,
            delivered: true,
            reason: "",
        },
        Case {
            what: "mismatch",
            tlsa: Some((3, wrong.clone())),
            validated: true,
            tlsa_fails: false,
            delivered: false,
            reason: "TLSA",
        },
        Case {
            what: "unvalidated",
            tlsa: Some((3, wrong.clone())),
            validated: false,
            tlsa_fails: false,
            delivered: true,
            reason: "",
        },
        Case {
            what: "only unusable records",
            tlsa: Some((1, wrong)),
            validated: true,
            tlsa_fails: false,
            delivered: true,
            reason: "",
        },
        Case {
            what: "lookup fails",
            tlsa: None,
            validated: true,
            tlsa_fails: true,
            delivered: false,
            reason: "TLSA lookup",
        },
    ];
    for case in cases {
        let (chain, key) = (chain.clone(), key.clone_key());
        let h = start_with(|_, zone| {
            if let Some((usage, data)) = &case.tlsa {
                zone.add_tlsa(
                    "_25._tcp.mx.remote.test",
                    TlsaRecord { usage: *usage, selector: 1, matching: 1, data: data.clone() },
                );
            }
            if case.tlsa_fails {
                zone.fail("_25._tcp.mx.remote.test", "TLSA", DnsErrorKind::Temporary);
            }
            if case.validated {
                zone.set_authentic("mx.remote.test").set_authentic("_25._tcp.mx.remote.test");
            }
        })
        .await;
        h.script.lock().unwrap().tls = Some(policy_server::acceptor(chain, key));
        let (id, reply) = send_one(&h, case.delivered).await;
        if case.delivered {
            let s = h.script.lock().unwrap();
            assert_eq!((s.received.len(), s.tls_sessions), (1, 1), "{}: delivered inside TLS", case.what);
        } else {
            assert!(reply.contains(case.reason), "{}: {reply}", case.what);
        }
        let expected = match &case.tlsa {
            Some((3, _)) if case.validated => Some("dane (1 TLSA record)"),
            Some(_) if case.validated => Some("dane (no usable TLSA record: TLS required)"),
            _ => None,
        };
        if let Some(expected) = expected {
            // The journal is written after the queue's state, by a background task: wait for it.
            let store = h.ts.store.clone();
            let what = format!("{}: the attempt naming the DANE policy in the journal", case.what);
            until(&what, async || {
                let events = store.journal_query(JournalQuery::QueueId(id.clone()), 50).await.unwrap();
                events.iter().any(|e| e.kind == "outbound.attempt" && e.data["policy"] == expected)
            })
            .await;
        }
        h.shutdown.cancel();
    }
}

/// A session opened without certificate checks (opportunistic, for a domain without a policy)
/// and parked for reuse never carries mail for a domain whose MTA-STS policy requires a
/// verified certificate, though both domains share the MX (the scripted server's certificate
/// comes from a CA the queue does not trust).
#[tokio::test]
async fn a_parked_opportunistic_session_is_not_reused_under_mta_sts() {
    let (_, chain, key) = policy_server::ca_and_leaf(&["mx.remote.test"]);
    let policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\nmax_age: 3600\r\n";
    let server = policy_server::start("mta-sts.strict.test", policy).await;
    let ca = server.ca_pem.clone();
    let h = start_with(|config, zone| {
        config.client.tls = TlsClients::new(Some(ca.as_bytes())).unwrap();
        config.mta_sts_port = server.port;
        zone.add_mx("strict.test", 10, "mx.remote.test")
            .add_txt("_mta-sts.strict.test", "v=STSv1; id=1")
            .add_ip("mta-sts.strict.test", "127.0.0.1".parse().unwrap());
    })
    .await;
    h.script.lock().unwrap().tls = Some(policy_server::acceptor(chain, key));
    // remote.test has no policy: delivered with opportunistic TLS, and the session parked.
    send_one(&h, true).await;
    assert_eq!(h.script.lock().unwrap().received.len(), 1);
    // strict.test, same MX at once: a new session must verify the certificate, and fails.
    let (_, reply) = send_to(&h, "carol@strict.test", false).await;
    assert!(reply.contains("certificate"), "{reply}");
    h.shutdown.cancel();
}

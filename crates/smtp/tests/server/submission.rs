//! Submission (587 with STARTTLS, 465 with implicit TLS) in process: AUTH only inside TLS (or
//! on loopback in development), wrong passwords, the sender rule on MAIL FROM and on the
//! From header, hourly and per-message limits, local copies next to the queue entry for other
//! domains, DKIM signatures that verify against the published keys, and the outbound hold.

use std::sync::Arc;

use mailstead_filter::dkim::{KeyDir, Signer};
use mailstead_filter::spam::outbound::OutboundPolicy;
use mailstead_smtp::submission::rate::RateLimits;
use mailstead_smtp::submission::senders::SenderPolicy;
use mailstead_smtp::submission::{Submission, SubmissionSettings};
use mailstead_store::auth::{AuthLimits, Authenticator};
use mailstead_store::model::{JournalQuery, QueuedMessage};
use mailstead_types::{Domain, QueueId};

use super::*;

const ALICE_PW: &str = "alice-secret-1";
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// A submission server over the test store: alice has a password, postmaster@ reaches bob,
/// example.test has DKIM keys. `adjust` changes the default settings (plaintext AUTH on
/// loopback allowed, as with `--dev`).
async fn start_submission(tls: TlsMode, adjust: impl FnOnce(&mut SubmissionSettings)) -> Harness {
    let ts = test_store().await;
    let hash = mailstead_store::password::hash(ALICE_PW).unwrap();
    ts.store.set_password(&Address::parse("alice@example.test").unwrap(), hash).await.unwrap();
    let postmaster = Alias {
        source: AliasSource::parse("postmaster@example.test").unwrap(),
        targets: vec![Address::parse("bob@example.test").unwrap()],
    };
    ts.store.add_alias(postmaster).await.unwrap();
    let keys = KeyDir::new(ts.dir.path().join("dkim"));
    keys.ensure(&Domain::parse("example.test").unwrap(), 1_795_437_296).unwrap();
    let mut settings = SubmissionSettings {
        plaintext_auth_on_loopback: true,
        senders: SenderPolicy::Own,
        limits: RateLimits::default(),
        max_recipients_per_message: 100,
        outbound: OutboundPolicy::default(),
        signer: Some(Arc::new(Signer::new(keys))),
    };
    adjust(&mut settings);
    let auth = Authenticator::new(ts.store.clone(), AuthLimits::default());
    let mut cfg = config(Service::Submission);
    cfg.submission = Some(Submission::new(auth, settings));
    listen(ts, cfg, tls).await
}

/// The AUTH PLAIN initial response (RFC 4616).
fn plain(user: &str, password: &str) -> String {
    base64(format!("\0{user}\0{password}").as_bytes())
}

/// A plaintext session (development mode on loopback) logged in as alice.
async fn login(h: &Harness) -> Client<TcpStream> {
    let mut c = connect(h.addr).await;
    c.cmd("EHLO laptop.example.test", "250").await;
    c.cmd(&format!("AUTH PLAIN {}", plain("alice@example.test", ALICE_PW)), "235 2.7.0").await;
    c
}

/// Sends one message; returns the reply to its end.
async fn submit<S>(c: &mut Client<S>, from: &str, to: &[&str], message: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    c.cmd(&format!("MAIL FROM:<{from}>"), "250").await;
    for rcpt in to {
        c.cmd(&format!("RCPT TO:<{rcpt}>"), "250").await;
    }
    c.cmd("DATA", "354").await;
    c.send(&format!("{message}.\r\n")).await;
    c.reply().await.remove(0)
}

fn letter(from: &str, to: &str, subject: &str, body: &str) -> String {
    format!("From: Alice <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n")
}

async fn queue(h: &Harness) -> Vec<QueuedMessage> {
    h.store.queue_list().await.unwrap()
}

async fn event_kinds(h: &Harness, queue_id: &str) -> Vec<(String, serde_json::Value)> {
    tokio::time::sleep(Duration::from_millis(300)).await; // the journal is written after the reply
    let q = JournalQuery::QueueId(QueueId::parse(queue_id).unwrap());
    h.store.journal_query(q, 100).await.unwrap().into_iter().map(|e| (e.kind, e.data)).collect()
}

#[tokio::test]
async fn auth_needs_tls_then_the_right_password_before_mail() {
    let h = start_submission(TlsMode::StartTls, |s| s.plaintext_auth_on_loopback = false).await;
    let mut c = connect(h.addr).await;
    let ehlo = c.cmd("EHLO laptop.example.test", "250").await;
    assert!(ehlo.iter().any(|l| l.ends_with("STARTTLS")), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("AUTH")), "no AUTH before TLS: {ehlo:?}");
    c.cmd(
        &format!("AUTH PLAIN {}", plain("alice@example.test", ALICE_PW)),
        "530 5.7.0 Must issue a STARTTLS",
    )
    .await;
    c.cmd("MAIL FROM:<alice@example.test>", "530 5.7.0 Authentication required").await;
    c.cmd("STARTTLS", "220").await;
    let tls = h.connector.connect("localhost".try_into().unwrap(), c.io.into_inner()).await.unwrap();
    let mut c = Client { io: BufReader::new(tls) };
    let ehlo = c.cmd("EHLO laptop.example.test", "250").await;
    assert!(ehlo.iter().any(|l| l.ends_with("AUTH PLAIN LOGIN")), "{ehlo:?}");
    c.cmd("MAIL FROM:<alice@example.test>", "530 5.7.0").await;
    c.cmd(&format!("AUTH PLAIN {}", plain("alice@example.test", "guess")), "535 5.7.8").await;
    c.cmd("AUTH LOGIN", "334").await;
    c.cmd(&base64(b"alice@example.test"), "334").await;
    c.cmd(&base64(ALICE_PW.as_bytes()), "235 2.7.0").await;
    let reply = submit(
        &mut c,
        "alice@example.test",
        &["bob@example.test"],
        &letter("alice@example.test", "bob@example.test", "tls", "hi"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    let m = &inbox(&h.store, "bob@example.test").await[0];
    assert!(m.contains("with ESMTPSA id") && m.contains("version=TLSv1.3"), "{m}");
    h.shutdown.cancel();
}

#[tokio::test]
async fn implicit_tls_offers_auth_at_once() {
    let h = start_submission(TlsMode::Implicit, |s| s.plaintext_auth_on_loopback = false).await;
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let tls = h.connector.connect("localhost".try_into().unwrap(), tcp).await.unwrap();
    let mut c = Client { io: BufReader::new(tls) };
    assert!(c.reply().await[0].starts_with("220 mx.example.test ESMTP"));
    let ehlo = c.cmd("EHLO laptop.example.test", "250").await;
    assert!(
        !ehlo.iter().any(|l| l.contains("STARTTLS")) && ehlo.iter().any(|l| l.ends_with("AUTH PLAIN LOGIN"))
    );
    c.cmd(&format!("AUTH PLAIN {}", plain("ALICE@example.test", ALICE_PW)), "235").await;
    let reply = submit(
        &mut c,
        "alice@example.test",
        &["bob@example.test"],
        &letter("alice@example.test", "bob", "465", "hi"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    h.shutdown.cancel();
}

#[tokio::test]
async fn users_send_only_as_themselves_and_their_aliases() {
    let h = start_submission(TlsMode::StartTls, |_| {}).await;
    let mut c = login(&h).await;
    c.cmd("MAIL FROM:<bob@example.test>", "553 5.7.1").await;
    c.cmd("MAIL FROM:<someone@elsewhere.test>", "553 5.7.1").await;
    for own in ["alice@example.test", "Alice+lists@example.test", "team@example.test", "<>"] {
        let path = if own == "<>" { String::new() } else { own.to_string() };
        c.cmd(&format!("MAIL FROM:<{path}>"), "250").await;
        c.cmd("RSET", "250").await;
    }
    // The From header is held to the same rule.
    c.cmd("MAIL FROM:<alice@example.test>", "250").await;
    c.cmd("RCPT TO:<bob@example.test>", "250").await;
    c.cmd("DATA", "354").await;
    let forged = "From: Bob <bob@example.test>\r\nTo: bob@example.test\r\nSubject: from bob?\r\n\r\nhi\r\n";
    c.cmd(&format!("{forged}."), "550 5.7.1 <bob@example.test>: From address not owned").await;
    assert!(inbox(&h.store, "bob@example.test").await.is_empty());
    // The team alias reaches alice, so she may write as it.
    let reply = submit(
        &mut c,
        "team@example.test",
        &["bob@example.test"],
        &letter("team@example.test", "bob", "team", "hi"),
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    h.shutdown.cancel();
}

#[tokio::test]
async fn hourly_and_per_message_limits_answer_4xx() {
    let h = start_submission(TlsMode::StartTls, |s| {
        s.limits = RateLimits { messages_per_account: 2, messages_per_ip: 100, recipients_per_account: 100 };
        s.max_recipients_per_message = 3;
    })
    .await;
    let mut c = login(&h).await;
    c.cmd("MAIL FROM:<alice@example.test>", "250").await;
    for rcpt in ["a@remote.test", "b@remote.test", "c@remote.test"] {
        c.cmd(&format!("RCPT TO:<{rcpt}>"), "250").await;
    }
    c.cmd("RCPT TO:<d@remote.test>", "452 4.5.3").await;
    c.cmd("DATA", "354").await;
    c.cmd(&format!("{}.", letter("alice@example.test", "many", "one", "hi")), "250").await;
    let reply = submit(
        &mut c,
        "alice@example.test",
        &["bob@example.test"],
        &letter("alice@example.test", "bob", "two", "hi"),
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    c.cmd("MAIL FROM:<alice@example.test>", "451 4.7.1 Sending limit reached: 2 messages per hour").await;
    h.shutdown.cancel();
}

#[tokio::test]
async fn local_recipients_get_copies_and_the_rest_is_queued_signed() {
    let h = start_submission(TlsMode::StartTls, |_| {}).await;
    let mut c = login(&h).await;
    c.cmd("MAIL FROM:<alice@example.test> RET=HDRS ENVID=env42", "250").await;
    c.cmd("RCPT TO:<bob@example.test>", "250").await;
    c.cmd("RCPT TO:<team@example.test>", "250").await;
    c.cmd("RCPT TO:<carol@remote.test> NOTIFY=SUCCESS,FAILURE", "250").await;
    c.cmd("RCPT TO:<nobody@example.test>", "550 5.1.1").await;
    c.cmd("RCPT TO:<not an address>", "501").await;
    c.cmd("DATA", "354").await;
    // No Date, no Message-ID: the MSA adds them (RFC 6409 §8).
    let message = letter("alice@example.test", "bob@example.test, carol@remote.test", "split", "Hello both.");
    let r = c.cmd(&format!("{message}."), "250 2.0.0 Ok: queued as ").await;
    let queue_id = r[0].rsplit(' ').next().unwrap().to_string();

    let bob = inbox(&h.store, "bob@example.test").await;
    assert_eq!(bob.len(), 1, "bob is addressed twice but gets one copy");
    let alice = inbox(&h.store, "alice@example.test").await;
    assert_eq!(alice.len(), 1, "the team alias reaches alice too");
    let m = &bob[0];
    assert!(m.starts_with("Return-Path: <alice@example.test>\r\nDelivered-To: bob@example.test\r\nReceived: from laptop.example.test"), "{m}");
    assert!(m.contains("with ESMTPA id"), "{m}");
    assert!(
        m.contains(&format!("Message-ID: <{queue_id}@mx.example.test>")) && m.contains("\r\nDate: "),
        "{m}"
    );
    assert_eq!(m.matches("DKIM-Signature: ").count(), 2, "{m}");

    let queued = queue(&h).await;
    assert_eq!(queued.len(), 1);
    let q = &queued[0];
    assert_eq!(q.id.to_string(), queue_id);
    assert_eq!(q.recipients.len(), 1);
    assert_eq!(q.recipients[0].address.to_string(), "carol@remote.test");
    assert_eq!(q.recipients[0].notify.as_deref(), Some("SUCCESS,FAILURE"));
    assert_eq!(q.recipients[0].orcpt.as_deref(), Some("rfc822;carol@remote.test"));
    assert_eq!((q.ret.as_deref(), q.envid.as_deref()), (Some("HDRS"), Some("env42")));
    assert_eq!(q.auth_user.as_deref(), Some("alice@example.test"));
    assert!(!q.held);
    let data = h.store.queue_read(&q.id).await.unwrap();
    let text = String::from_utf8_lossy(&data).to_string();
    assert!(text.starts_with("Received: from laptop.example.test"), "{text}");

    // The queued copy verifies against the published keys, both signatures.
    let zone = mailstead_dns::MemoryResolver::new();
    let domain = Domain::parse("example.test").unwrap();
    for key in KeyDir::new(h._ts.dir.path().join("dkim")).public_keys(&domain).unwrap() {
        zone.add_txt(&key.name(&domain), &key.record);
    }
    let verifier = mailstead_filter::auth::Authenticator::new(
        Arc::new(zone),
        mailstead_filter::auth::AuthConfig::new("mx.remote.test"),
    )
    .await
    .unwrap();
    let envelope = mailstead_filter::auth::Envelope {
        remote_ip: "192.0.2.1".parse().unwrap(),
        helo: "mx.example.test",
        mail_from: "alice@example.test",
    };
    let results = verifier.verify(&envelope, &data).await;
    assert_eq!(results.dkim.len(), 2, "{}", results.header());
    assert!(
        results.dkim.iter().all(|d| d.status == mailstead_filter::auth::DkimStatus::Pass),
        "{}",
        results.header()
    );

    let events = event_kinds(&h, &queue_id).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "smtp.mail",
        "submission.sender",
        "smtp.rcpt",
        "submission.from",
        "outbound.score",
        "dkim.sign",
        "delivery.local",
        "queue.enqueue",
        "smtp.data",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let mail = &events.iter().find(|(k, _)| k == "smtp.mail").unwrap().1;
    assert_eq!(mail["auth_user"], "alice@example.test");
    let data = &events.iter().find(|(k, _)| k == "smtp.data").unwrap().1;
    assert_eq!(data["added_headers"], serde_json::json!(["Date", "Message-ID"]));
    h.shutdown.cancel();
}

#[tokio::test]
async fn spam_to_the_internet_is_held_and_the_postmaster_told() {
    let h = start_submission(TlsMode::StartTls, |_| {}).await;
    let mut c = login(&h).await;
    let spam = letter("alice@example.test", "many", "offer", GTUBE);
    let reply =
        submit(&mut c, "alice@example.test", &["carol@remote.test", "alice@example.test"], &spam).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let queue_id = reply.rsplit(' ').next().unwrap().to_string();
    let queued = queue(&h).await;
    assert!(queued[0].held, "held for review");
    assert_eq!(inbox(&h.store, "alice@example.test").await.len(), 1, "local recipients are not held");
    let notice = inbox(&h.store, "bob@example.test").await;
    assert_eq!(notice.len(), 1, "postmaster@ reaches bob");
    assert!(
        notice[0].contains(&format!(
            "Subject: Outgoing message from alice@example.test held for review ({queue_id})"
        )),
        "{}",
        notice[0]
    );
    assert!(
        notice[0].contains("GTUBE") && notice[0].contains(&format!("mailstead queue retry {queue_id}")),
        "{}",
        notice[0]
    );
    let events = event_kinds(&h, &queue_id).await;
    let hold = &events.iter().find(|(k, _)| k == "submission.hold").unwrap().1;
    assert_eq!(hold["notified"], serde_json::json!(["bob@example.test"]));
    let score = &events.iter().find(|(k, _)| k == "outbound.score").unwrap().1;
    assert_eq!(score["verdict"], "hold");
    h.shutdown.cancel();
}

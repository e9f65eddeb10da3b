//! In-process tests of the SMTP/LMTP server: the real listener on 127.0.0.1:0, a real SQLite
//! store in a temp directory, and a raw-socket client speaking the protocol line by line.
//! Submission (587/465) has its own file, `server/submission.rs`, on the same harness.

#![allow(clippy::unwrap_used)]

#[path = "server/submission.rs"]
mod submission;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use mailstead_net::{ConnectionLimits, ConnectionTracker, ListenerSpec, TlsMode};
use mailstead_smtp::{Service, SmtpConfig, SmtpServer};
use mailstead_store::Store;
use mailstead_store::model::{Alias, AliasSource};
use mailstead_testkit::{TestStore, test_tls};
use mailstead_types::Address;

struct Harness {
    addr: std::net::SocketAddr,
    store: Arc<dyn Store>,
    connector: tokio_rustls::TlsConnector,
    _ts: TestStore,
    shutdown: CancellationToken,
}

fn config(service: Service) -> SmtpConfig {
    SmtpConfig {
        hostname: "mx.example.test".into(),
        service,
        max_message_size: 64 * 1024,
        max_recipients: 5,
        max_errors: 5,
        max_line_length: 1000,
        max_received_headers: 20,
        plus_separator: Some('+'),
        greet_delay: Duration::ZERO,
        antivirus: None,
        screening: Default::default(),
        queue: Default::default(),
        submission: None,
    }
}

/// The test store: domain example.test, accounts alice and bob, alias team -> alice, bob.
async fn test_store() -> TestStore {
    let ts = TestStore::new(&["example.test"], &["alice@example.test", "bob@example.test"]).await;
    let alias = Alias {
        source: AliasSource::parse("team@example.test").unwrap(),
        targets: vec![
            Address::parse("alice@example.test").unwrap(),
            Address::parse("bob@example.test").unwrap(),
        ],
    };
    ts.store.add_alias(alias).await.unwrap();
    ts
}

async fn start(config: SmtpConfig, tls: TlsMode) -> Harness {
    listen(test_store().await, config, tls).await
}

/// Serves `config` over the store of `ts`.
async fn listen(ts: TestStore, config: SmtpConfig, tls: TlsMode) -> Harness {
    let store = ts.store.clone();
    let t = test_tls(&ts.dir.path().join("tls"));
    let limits = ConnectionLimits { idle_timeout: Duration::from_secs(2), ..ConnectionLimits::default() };
    let listener =
        mailstead_net::bind(&ListenerSpec::new("smtp", "127.0.0.1:0".parse().unwrap(), tls)).await.unwrap();
    let addr = listener.local_addr();
    let shutdown = CancellationToken::new();
    let server = Arc::new(SmtpServer::new(config, store.clone()));
    let tracker = ConnectionTracker::new(limits);
    tokio::spawn(mailstead_net::run(
        listener,
        Some(t.acceptor),
        tracker,
        server,
        shutdown.clone(),
        TaskTracker::new(),
    ));
    Harness { addr, store, connector: t.connector, _ts: ts, shutdown }
}

/// A line-oriented client over any stream.
struct Client<S> {
    io: BufReader<S>,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Client<S> {
    /// Reads one whole (possibly multi-line) reply; returns its lines.
    async fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(5), self.io.read_line(&mut line))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed; got so far: {lines:?}");
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    async fn send(&mut self, data: &str) {
        self.io.get_mut().write_all(data.as_bytes()).await.unwrap();
    }

    /// Sends a command and asserts the reply starts with `expect`.
    async fn cmd(&mut self, line: &str, expect: &str) -> Vec<String> {
        self.send(&format!("{line}\r\n")).await;
        let r = self.reply().await;
        assert!(r.last().unwrap().starts_with(expect), "{line:?}: expected {expect:?}, got {r:?}");
        r
    }
}

async fn connect(addr: std::net::SocketAddr) -> Client<TcpStream> {
    let mut c = Client { io: BufReader::new(TcpStream::connect(addr).await.unwrap()) };
    let greeting = c.reply().await;
    assert!(greeting[0].starts_with("220 mx.example.test"), "{greeting:?}");
    c
}

async fn inbox(store: &Arc<dyn Store>, address: &str) -> Vec<String> {
    mailbox(store, address, "INBOX").await
}

async fn mailbox(store: &Arc<dyn Store>, address: &str, name: &str) -> Vec<String> {
    let account = store.get_account(&Address::parse(address).unwrap()).await.unwrap().unwrap();
    let mailbox = store.get_mailbox(account.id, name).await.unwrap().unwrap();
    let mut out = Vec::new();
    for e in store.entries(mailbox.id).await.unwrap() {
        out.push(String::from_utf8(store.read_message(&e.blob).await.unwrap().to_vec()).unwrap());
    }
    out
}

const MESSAGE: &str = "From: friend@remote.test\r\nTo: alice@example.test\r\nSubject: hello\r\nMessage-ID: <m1@remote.test>\r\n\r\nHi Alice,\r\n..leading dot\r\n";

#[tokio::test]
async fn receives_and_delivers_with_trace_headers() {
    let h = start(config(Service::Mx), TlsMode::StartTls).await;
    let mut c = connect(h.addr).await;
    let ehlo = c.cmd("EHLO client.remote.test", "250").await;
    for ext in [
        "PIPELINING",
        "SIZE 65536",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "STARTTLS",
    ] {
        assert!(ehlo.iter().any(|l| l[4..].starts_with(ext)), "{ext} missing from {ehlo:?}");
    }
    c.cmd("MAIL FROM:<friend@remote.test>", "250 2.1.0").await;
    c.cmd("RCPT TO:<alice+news@example.test>", "250 2.1.5").await;
    c.cmd("RCPT TO:<nobody@example.test>", "550 5.1.1").await;
    c.cmd("RCPT TO:<victim@elsewhere.test>", "554 5.7.1").await;
    c.cmd("DATA", "354").await;
    let r = c.cmd(&format!("{MESSAGE}."), "250 2.0.0 Ok: queued as ").await;
    let queue_id = r[0].rsplit(' ').next().unwrap().to_string();
    c.cmd("QUIT", "221").await;

    let mail = inbox(&h.store, "alice@example.test").await;
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert!(m.starts_with("Return-Path: <friend@remote.test>\r\nDelivered-To: alice@example.test\r\nReceived: from client.remote.test ([127.0.0.1])\r\n\tby mx.example.test (Mailstead) with ESMTP id "), "{m}");
    assert!(m.contains(&format!("id {queue_id}")));
    assert!(m.contains("\tfor <alice+news@example.test>;"));
    assert!(m.ends_with("Hi Alice,\r\n.leading dot\r\n"), "dot-unstuffed: {m:?}");

    tokio::time::sleep(Duration::from_millis(300)).await; // the journal is written after the reply
    let id = mailstead_types::QueueId::parse(&queue_id).unwrap();
    let events = h.store.journal_query(mailstead_store::model::JournalQuery::QueueId(id), 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for k in ["smtp.mail", "smtp.rcpt", "smtp.data", "delivery.local"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let data = events.iter().find(|e| e.kind == "smtp.data").unwrap();
    assert_eq!(data.message_id.as_deref(), Some("<m1@remote.test>"));
    let by_mid = h
        .store
        .journal_query(mailstead_store::model::JournalQuery::MessageId("<m1@remote.test>".into()), 100)
        .await
        .unwrap();
    assert_eq!(by_mid.len(), events.len(), "a Message-ID lookup finds every event of the queue id");
    h.shutdown.cancel();
}

#[tokio::test]
async fn alias_delivers_one_copy_per_account_and_pipelining_works() {
    let h = start(config(Service::Mx), TlsMode::StartTls).await;
    let mut c = connect(h.addr).await;
    c.cmd("EHLO pipeliner", "250").await;
    c.send("MAIL FROM:<>\r\nRCPT TO:<team@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n").await;
    for expect in ["250", "250", "250", "354"] {
        let r = c.reply().await;
        assert!(r[0].starts_with(expect), "{r:?}");
    }
    c.cmd(&format!("{MESSAGE}."), "250 2.0.0").await;
    assert_eq!(
        inbox(&h.store, "alice@example.test").await.len(),
        1,
        "alice is reached twice but gets one copy"
    );
    let bob = inbox(&h.store, "bob@example.test").await;
    assert!(bob[0].starts_with("Return-Path: <>\r\nDelivered-To: bob@example.test\r\n"), "{}", bob[0]);
    assert!(!bob[0].contains("\tfor <"), "no 'for' with several recipients");
}

#[tokio::test]
async fn starttls_then_delivery_records_tls() {
    let h = start(config(Service::Mx), TlsMode::StartTls).await;
    let mut c = connect(h.addr).await;
    c.cmd("EHLO tls.client", "250").await;
    c.cmd("STARTTLS", "220").await;
    let connector = h.connector.clone();
    let tcp = c.io.into_inner();
    let tls = connector.connect("localhost".try_into().unwrap(), tcp).await.unwrap();
    let mut c = Client { io: BufReader::new(tls) };
    let ehlo = c.cmd("EHLO tls.client", "250").await;
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "no STARTTLS after TLS: {ehlo:?}");
    c.cmd("MAIL FROM:<friend@remote.test>", "250").await;
    c.cmd("RCPT TO:<bob@example.test>", "250").await;
    c.cmd("DATA", "354").await;
    c.cmd(&format!("{MESSAGE}."), "250 2.0.0").await;
    let m = &inbox(&h.store, "bob@example.test").await[0];
    assert!(m.contains("with ESMTPS id"), "{m}");
    assert!(m.contains("(version=TLSv1.3 cipher=TLS13_"), "{m}");
}

#[tokio::test]
async fn lmtp_gives_one_reply_per_recipient() {
    let h = start(config(Service::Lmtp), TlsMode::Plain).await;
    let mut c = Client { io: BufReader::new(TcpStream::connect(h.addr).await.unwrap()) };
    assert!(c.reply().await[0].starts_with("220 mx.example.test LMTP"));
    c.cmd("EHLO front", "500").await;
    c.cmd("LHLO front.example.test", "250").await;
    c.cmd("MAIL FROM:<friend@remote.test>", "250").await;
    c.cmd("RCPT TO:<alice@example.test>", "250").await;
    c.cmd("RCPT TO:<ghost@example.test>", "550 5.1.1").await;
    c.cmd("RCPT TO:<bob@example.test>", "250").await;
    c.cmd("DATA", "354").await;
    c.send(&format!("{MESSAGE}.\r\n")).await;
    let first = c.reply().await;
    let second = c.reply().await;
    assert!(first[0].starts_with("250 2.1.5 <alice@example.test>"), "{first:?}");
    assert!(second[0].starts_with("250 2.1.5 <bob@example.test>"), "{second:?}");
    assert!(inbox(&h.store, "bob@example.test").await[0].contains("with LMTP id"));
}

#[tokio::test]
async fn hostile_clients_get_clear_errors_and_others_are_unaffected() {
    let h = start(config(Service::Mx), TlsMode::StartTls).await;
    // A client that only makes errors is disconnected when it exceeds max_errors (5).
    let mut bad = connect(h.addr).await;
    for _ in 0..5 {
        bad.cmd("FOO", "500").await;
    }
    bad.send("FOO\r\n").await;
    let r = bad.reply().await;
    assert!(r.last().unwrap().starts_with("421 4.7.0"), "{r:?}");

    // Meanwhile another session works; a huge line is refused without killing it.
    let mut good = connect(h.addr).await;
    good.cmd("EHLO good", "250").await;
    good.send(&format!("NOOP {}\r\n", "x".repeat(100_000))).await;
    let r = good.reply().await;
    assert!(r[0].starts_with("500 5.5.2"), "{r:?}");
    good.cmd("MAIL FROM:<a@remote.test> SIZE=999999999", "552 5.3.4").await;
    good.cmd("MAIL FROM:<a@remote.test>", "250").await;
    good.cmd("RCPT TO:<alice@example.test>", "250").await;
    good.cmd("DATA", "354").await;
    // SMTP smuggling: a bare-LF dot must not end the message.
    good.send("Subject: smuggle\r\n\r\nbody\n.\nMAIL FROM:<evil@x>\r\n.\r\n").await;
    let r = good.reply().await;
    assert!(r[0].starts_with("250 2.0.0"), "{r:?}");
    let m = &inbox(&h.store, "alice@example.test").await[0];
    assert!(m.contains("MAIL FROM:<evil@x>"), "the smuggled command stays inside the message: {m:?}");

    // Idle clients are dropped with 421.
    let mut idle = connect(h.addr).await;
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(5), idle.io.read_to_string(&mut rest)).await.unwrap().unwrap();
    assert!(rest.starts_with("421 4.4.2"), "{rest:?}");
}

#[tokio::test]
async fn early_talkers_are_refused() {
    let mut cfg = config(Service::Mx);
    cfg.greet_delay = Duration::from_millis(300);
    let h = start(cfg, TlsMode::StartTls).await;
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    s.write_all(b"EHLO too.early\r\n").await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("554 5.5.0"), "{answer:?}");
    let mut polite = connect(h.addr).await; // waits for the greeting
    polite.cmd("QUIT", "221").await;
}

/// Base64 (RFC 4648 §4), hand-rolled to keep the tests free of another dependency.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            s.push(if i <= c.len() { T[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    s
}

/// A multipart message with one base64 attachment.
fn with_attachment(message_id: &str, name: &str, data: &[u8]) -> String {
    let b64 = base64(data);
    format!(
        "From: friend@remote.test\r\nTo: alice@example.test\r\nSubject: files\r\nMessage-ID: {message_id}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {b64}\r\n--b--\r\n"
    )
}

async fn send_data(h: &Harness, message: &str, expect: &str) -> Vec<String> {
    let mut c = connect(h.addr).await;
    c.cmd("EHLO client.remote.test", "250").await;
    c.cmd("MAIL FROM:<friend@remote.test>", "250").await;
    c.cmd("RCPT TO:<alice@example.test>", "250").await;
    c.cmd("DATA", "354").await;
    let r = c.cmd(&format!("{message}."), expect).await;
    c.cmd("QUIT", "221").await;
    r
}

async fn antivirus_events(h: &Harness, message_id: &str) -> Vec<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(300)).await; // the journal is written after the reply
    let q = mailstead_store::model::JournalQuery::MessageId(message_id.into());
    let events = h.store.journal_query(q, 100).await.unwrap();
    events.into_iter().filter(|e| e.kind == "antivirus").map(|e| e.data).collect()
}

#[tokio::test]
async fn attachment_policy_refuses_executables_at_data() {
    use mailstead_antivirus::{ScanConfig, Scanner};
    let mut cfg = config(Service::Mx);
    cfg.antivirus = Some(Scanner::new(ScanConfig::default()));
    let h = start(cfg, TlsMode::StartTls).await;

    let exe = b"MZ\x90\x00\x03\x00\x00\x00This program cannot be run in DOS mode.";
    let r = send_data(&h, &with_attachment("<av1@remote.test>", "invoice.pdf", exe), "554 5.7.0").await;
    assert!(r[0].contains("invoice.pdf") && r[0].contains("Windows executable"), "{r:?}");
    assert!(inbox(&h.store, "alice@example.test").await.is_empty(), "nothing stored");
    let ev = antivirus_events(&h, "<av1@remote.test>").await;
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["verdict"], "blocked");

    send_data(&h, &with_attachment("<av2@remote.test>", "photo.png", b"\x89PNG\r\n\x1a\n"), "250 2.0.0")
        .await;
    assert_eq!(inbox(&h.store, "alice@example.test").await.len(), 1);
    assert_eq!(antivirus_events(&h, "<av2@remote.test>").await[0]["verdict"], "clean");
    h.shutdown.cancel();
}

#[tokio::test]
async fn clamd_down_temp_fails_or_accepts_as_configured() {
    use mailstead_antivirus::{ClamdAddr, FailMode, ScanConfig, Scanner};
    let dir = tempfile::tempdir().unwrap();
    let absent = ClamdAddr::Unix(dir.path().join("clamd.sock"));
    for (mode, expect) in [(FailMode::Closed, "451 4.7.0"), (FailMode::Open, "250 2.1.5")] {
        let mut cfg = config(Service::Lmtp);
        cfg.antivirus = Some(Scanner::new(ScanConfig {
            clamd: Some(absent.clone()),
            on_unavailable: mode,
            ..ScanConfig::default()
        }));
        let h = start(cfg, TlsMode::Plain).await;
        let mut c = Client { io: BufReader::new(TcpStream::connect(h.addr).await.unwrap()) };
        c.reply().await;
        c.cmd("LHLO front.example.test", "250").await;
        c.cmd("MAIL FROM:<friend@remote.test>", "250").await;
        c.cmd("RCPT TO:<alice@example.test>", "250").await;
        c.cmd("RCPT TO:<bob@example.test>", "250").await;
        c.cmd("DATA", "354").await;
        c.send(&format!("{MESSAGE}.\r\n")).await;
        for _ in 0..2 {
            let r = c.reply().await;
            assert!(r[0].starts_with(expect), "{mode:?}: {r:?}");
        }
        let ev = antivirus_events(&h, "<m1@remote.test>").await;
        assert!(ev[0]["clamd"].as_str().unwrap().starts_with("unavailable"), "{ev:?}");
        h.shutdown.cancel();
    }
}

/// Port 25 screening against a test zone: SPF/DMARC outcomes for three sender domains.
async fn screening(trusted: &[&str]) -> mailstead_smtp::screening::Screening {
    use mailstead_filter::auth::{AuthConfig, Authenticator};
    use mailstead_filter::spam::{Checker, SpamConfig, Thresholds};
    let zone = mailstead_dns::MemoryResolver::new();
    zone.add_txt("reject.test", "v=spf1 ip4:192.0.2.1 -all")
        .add_txt("_dmarc.reject.test", "v=DMARC1; p=reject")
        .add_txt("quar.test", "v=spf1 ip4:192.0.2.1 -all")
        .add_txt("_dmarc.quar.test", "v=DMARC1; p=quarantine")
        .add_txt("ok.test", "v=spf1 ip4:127.0.0.1 -all")
        .add_txt("_dmarc.ok.test", "v=DMARC1; p=reject");
    let resolver: Arc<dyn mailstead_dns::Resolver> = Arc::new(zone);
    let auth = Authenticator::new(resolver.clone(), AuthConfig::new("mx.example.test")).await.unwrap();
    mailstead_smtp::screening::Screening {
        auth: Some(Arc::new(auth)),
        enforce_dmarc: true,
        spam: Some(Arc::new(mailstead_smtp::screening::SpamSettings {
            checker: Checker::new(resolver, SpamConfig::new("mx.example.test")),
            thresholds: Thresholds::default(),
        })),
        trusted_networks: trusted.iter().map(|n| mailstead_types::IpNetwork::parse(n).unwrap()).collect(),
    }
}

/// One transaction to alice; returns the reply to the end of data.
async fn send_from(c: &mut Client<TcpStream>, domain: &str, message: &str) -> Vec<String> {
    c.cmd(&format!("MAIL FROM:<news@{domain}>"), "250").await;
    c.cmd("RCPT TO:<alice@example.test>", "250").await;
    c.cmd("DATA", "354").await;
    c.send(&format!("{message}.\r\n")).await;
    c.reply().await
}

fn letter(domain: &str, extra: &str, subject: &str) -> String {
    format!(
        "From: News <news@{domain}>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\
         Date: {}\r\nMessage-ID: <{subject}@{domain}>\r\n{extra}\r\nHello Alice.\r\n",
        mailstead_types::rfc5322_date(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
        )
    )
}

#[tokio::test]
async fn screening_enforces_dmarc_scores_spam_and_strips_forged_results() {
    let mut cfg = config(Service::Mx);
    cfg.screening = screening(&[]).await;
    let h = start(cfg, TlsMode::StartTls).await;
    let mut c = connect(h.addr).await;
    c.cmd("EHLO client.remote.test", "250").await;

    let r = send_from(&mut c, "reject.test", &letter("reject.test", "", "a")).await;
    assert!(r[0].starts_with("550 5.7.1 ") && r[0].contains("DMARC policy of reject.test"), "{r:?}");

    let gtube = letter("ok.test", "", "b")
        + "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";
    let r = send_from(&mut c, "ok.test", &gtube).await;
    assert!(
        r[0].starts_with("550 5.7.1 Message rejected as spam (score 99") && r[0].contains("GTUBE"),
        "{r:?}"
    );

    let r = send_from(&mut c, "quar.test", &letter("quar.test", "", "c")).await;
    assert!(r[0].starts_with("250 2.0.0"), "{r:?}");

    let forged = "Authentication-Results: mx.example.test; dmarc=pass header.from=ok.test\r\n\
                  X-Spam-Status: No, score=-100\r\nAuthentication-Results: elsewhere.example; spf=pass\r\n";
    let r = send_from(&mut c, "ok.test", &letter("ok.test", forged, "d")).await;
    assert!(r[0].starts_with("250 2.0.0"), "{r:?}");
    let queue_id = r[0].rsplit(' ').next().unwrap().to_string();

    let spammy = "From: \"security@bank.example\" <x@ok.test>\r\nTo: alice@example.test\r\n\
                  Subject: VERIFY YOUR ACCOUNT NOW!!!\r\nContent-Type: text/html\r\n\r\n\
                  <a href=\"http://192.0.2.66/login\">https://bank.example/login</a>\r\n";
    let r = send_from(&mut c, "ok.test", spammy).await;
    assert!(r[0].starts_with("250 2.0.0"), "{r:?}");
    c.cmd("QUIT", "221").await;

    let inbox = inbox(&h.store, "alice@example.test").await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let m = &inbox[0];
    assert_eq!(m.matches("Authentication-Results: mx.example.test").count(), 1, "{m}");
    assert!(m.contains("spf=pass") && m.contains("dmarc=pass"), "{m}");
    assert!(!m.contains("score=-100"), "a forged X-Spam-Status is removed: {m}");
    assert!(m.contains("Authentication-Results: elsewhere.example; spf=pass"), "others' results stay: {m}");
    assert!(m.contains("X-Spam-Status: No, score=-1.0 required=5.0 tests=DMARC_PASS=-1.0"), "{m}");

    let junk = mailbox(&h.store, "alice@example.test", "Junk").await;
    assert_eq!(junk.len(), 2, "{junk:?}");
    assert!(junk[0].contains("dmarc=fail") && junk[0].contains("Subject: c"), "quarantined: {}", junk[0]);
    assert!(junk[1].contains("X-Spam-Status: Yes") && junk[1].contains("FROM_DISPLAY_SPOOF"), "{}", junk[1]);
    for rule in ["URI_IP_LITERAL", "URI_TEXT_MISMATCH", "SUBJ_ALL_CAPS", "MISSING_MID", "HTML_ONLY"] {
        assert!(junk[1].contains(rule), "{rule} missing: {}", junk[1]);
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = mailstead_types::QueueId::parse(&queue_id).unwrap();
    let events = h.store.journal_query(mailstead_store::model::JournalQuery::QueueId(id), 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for k in ["auth", "spam", "delivery.local"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(
        !kinds.contains(&"spam.account"),
        "an inbox copy without account rules needs no own event: {kinds:?}"
    );
    let auth = events.iter().find(|e| e.kind == "auth").unwrap();
    assert_eq!(auth.data["dmarc"], "pass");
    // A copy filed into Junk records its own verdict.
    let junked = h
        .store
        .journal_query(mailstead_store::model::JournalQuery::Address("alice@example.test".into()), 500)
        .await
        .unwrap();
    assert!(
        junked.iter().any(|e| e.kind == "spam.account" && e.data["verdict"] == "junk"),
        "no spam.account event for the junked copy"
    );
    h.shutdown.cancel();
}

#[tokio::test]
async fn trusted_networks_skip_dns_checks_but_not_content_rules() {
    let mut cfg = config(Service::Mx);
    cfg.screening = screening(&["127.0.0.0/8"]).await;
    let h = start(cfg, TlsMode::StartTls).await;
    let mut c = connect(h.addr).await;
    c.cmd("EHLO client.remote.test", "250").await;
    let r = send_from(&mut c, "reject.test", &letter("reject.test", "", "a")).await;
    assert!(r[0].starts_with("250 2.0.0"), "a trusted relay is not checked against DMARC: {r:?}");
    let gtube = letter("reject.test", "", "b")
        + "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";
    let r = send_from(&mut c, "reject.test", &gtube).await;
    assert!(r[0].starts_with("550 5.7.1"), "content rules still apply: {r:?}");
    c.cmd("QUIT", "221").await;
    let inbox = inbox(&h.store, "alice@example.test").await;
    assert_eq!(inbox.len(), 1);
    assert!(!inbox[0].contains("Authentication-Results"), "{}", inbox[0]);
    assert!(inbox[0].contains("X-Spam-Status: No"), "{}", inbox[0]);
    h.shutdown.cancel();
}

#[tokio::test]
async fn the_accounts_own_classifier_and_correspondents_score_its_copy() {
    use mailstead_filter::bayes::{self, Class};
    use mailstead_store::model::BlobId;
    let mut cfg = config(Service::Mx);
    cfg.screening = screening(&[]).await;
    let h = start(cfg, TlsMode::StartTls).await;
    let alice = h.store.get_account(&Address::parse("alice@example.test").unwrap()).await.unwrap().unwrap();
    let learn = |raw: String, class| {
        let store = h.store.clone();
        async move {
            bayes::train(store.as_ref(), alice.id, &BlobId::of(raw.as_bytes()), raw.as_bytes(), class).await
        }
    };
    for i in 0..60 {
        let spam = format!(
            "From: seller{i}@pills.example\r\nSubject: cheap pills {i}\r\n\r\nbuy cheap pills discount pharmacy offer {i}\r\n"
        );
        learn(spam, Class::Spam).await.unwrap();
        let ham = format!(
            "From: colleague{i}@work.example\r\nSubject: meeting notes {i}\r\n\r\nthe project meeting agenda and minutes {i}\r\n"
        );
        learn(ham, Class::Ham).await.unwrap();
    }
    for i in 0..2 {
        let ham =
            format!("From: News <news@ok.test>\r\nSubject: issue {i}\r\n\r\nthe project newsletter {i}\r\n");
        learn(ham, Class::Ham).await.unwrap();
    }

    let mut c = connect(h.addr).await;
    c.cmd("EHLO client.remote.test", "250").await;
    let pills =
        letter("ok.test", "", "offer").replace("Hello Alice.", "buy cheap pills discount pharmacy offer");
    let r = send_from(&mut c, "ok.test", &pills.replace("news@ok.test", "seller@ok.test")).await;
    assert!(r[0].starts_with("250"), "{r:?}");
    let r = send_from(&mut c, "ok.test", &letter("ok.test", "", "newsletter")).await;
    assert!(r[0].starts_with("250"), "{r:?}");
    c.cmd("QUIT", "221").await;

    let all =
        [inbox(&h.store, "alice@example.test").await, mailbox(&h.store, "alice@example.test", "Junk").await]
            .concat();
    let offer = all.iter().find(|m| m.contains("Subject: offer")).unwrap();
    assert!(["BAYES_80=3.0", "BAYES_90=5.0", "BAYES_99=6.0"].iter().any(|b| offer.contains(b)), "{offer}");
    assert!(!offer.contains("KNOWN_CORRESPONDENT"), "{offer}");
    let news = all.iter().find(|m| m.contains("Subject: newsletter")).unwrap();
    assert!(
        news.contains("KNOWN_CORRESPONDENT=-5.0"),
        "the authenticated, known sender is vouched for: {news}"
    );
    h.shutdown.cancel();
}

#[tokio::test]
async fn an_alias_forwarding_off_site_queues_one_copy() {
    let h = start(config(Service::Mx), TlsMode::StartTls).await;
    let alias = Alias {
        source: AliasSource::parse("fwd@example.test").unwrap(),
        targets: vec![
            Address::parse("alice@example.test").unwrap(),
            Address::parse("someone@remote.test").unwrap(),
            Address::parse("other@remote.test").unwrap(),
        ],
    };
    h.store.add_alias(alias).await.unwrap();
    let mut c = connect(h.addr).await;
    c.cmd("EHLO client.remote.test", "250").await;
    c.cmd("MAIL FROM:<friend@remote.test> RET=HDRS ENVID=E1", "250").await;
    c.cmd("RCPT TO:<fwd@example.test>", "250 2.1.5").await;
    c.cmd("DATA", "354").await;
    let r = c.cmd(&format!("{MESSAGE}."), "250 2.0.0 Ok: queued as ").await;
    let queue_id = r[0].rsplit(' ').next().unwrap().to_string();
    c.cmd("QUIT", "221").await;
    assert_eq!(inbox(&h.store, "alice@example.test").await.len(), 1);
    let queued = h.store.queue_list().await.unwrap();
    assert_eq!(queued.len(), 1);
    let q = &queued[0];
    assert_eq!(q.id.to_string(), queue_id, "the forward keeps the transaction's queue id");
    let to: Vec<String> = q.recipients.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(to, ["someone@remote.test", "other@remote.test"]);
    assert_eq!((q.envid.as_deref(), q.ret.as_deref()), (Some("E1"), Some("HDRS")));
    assert_eq!(q.sender.as_ref().map(|s| s.to_string()).as_deref(), Some("friend@remote.test"));
    let data = String::from_utf8(h.store.queue_read(&q.id).await.unwrap().to_vec()).unwrap();
    assert!(data.starts_with("Received: from client.remote.test"), "{data}");
    assert!(!data.contains("Delivered-To"), "{data}");
    h.shutdown.cancel();
}

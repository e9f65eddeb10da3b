//! In-process tests of the POP3 server: the real listeners on 127.0.0.1:0 (STLS and implicit
//! TLS), a real SQLite store in a temp directory, the shared Authenticator, and a raw-socket
//! client. They check what only the whole stack can: UIDL matches the store's (UIDVALIDITY,
//! UID), octet counts match the stored bytes, deletions reach the store (and IMAP's view of
//! INBOX, including the change notification) only at QUIT, the maildrop lock, throttling.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use mailstead_net::{ConnectionLimits, ConnectionTracker, ListenerSpec, TlsMode};
use mailstead_pop3::{Pop3Config, Pop3Server};
use mailstead_proto::pop3::{Expire, unique_id};
use mailstead_store::auth::{AuthLimits, Authenticator};
use mailstead_store::model::{AppendTarget, MessageEntry, NewMessage};
use mailstead_store::{Change, Store};
use mailstead_testkit::{TestStore, test_tls};
use mailstead_types::{Address, Flag, Flags};

const ALICE: &str = "alice@example.test";
const PASSWORD: &str = "correct horse";

struct Harness {
    /// The STLS listener (port 110's role).
    plain: std::net::SocketAddr,
    /// The implicit-TLS listener (995's role).
    tls: std::net::SocketAddr,
    store: Arc<dyn Store>,
    connector: tokio_rustls::TlsConnector,
    _ts: TestStore,
    _shutdown: CancellationToken,
}

async fn start(config: Pop3Config, limits: AuthLimits) -> Harness {
    let ts = TestStore::new(&["example.test"], &[ALICE, "bob@example.test"]).await;
    let store = ts.store.clone();
    let hash = mailstead_store::password::hash(PASSWORD).unwrap();
    store.set_password(&Address::parse(ALICE).unwrap(), hash).await.unwrap();
    let t = test_tls(&ts.dir.path().join("tls"));
    let conn_limits =
        ConnectionLimits { idle_timeout: Duration::from_secs(2), ..ConnectionLimits::default() };
    let tracker = ConnectionTracker::new(conn_limits);
    let shutdown = CancellationToken::new();
    let auth = Authenticator::new(store.clone(), limits);
    let server = Arc::new(Pop3Server::new(config, store.clone(), auth));
    let mut addrs = Vec::new();
    for (name, mode) in [("pop3", TlsMode::StartTls), ("pop3s", TlsMode::Implicit)] {
        let spec = ListenerSpec::new(name, "127.0.0.1:0".parse().unwrap(), mode);
        let listener = mailstead_net::bind(&spec).await.unwrap();
        addrs.push(listener.local_addr());
        tokio::spawn(mailstead_net::run(
            listener,
            Some(t.acceptor.clone()),
            tracker.clone(),
            server.clone(),
            shutdown.clone(),
            TaskTracker::new(),
        ));
    }
    Harness { plain: addrs[0], tls: addrs[1], store, connector: t.connector, _ts: ts, _shutdown: shutdown }
}

fn config() -> Pop3Config {
    Pop3Config { max_errors: 20, ..Pop3Config::new("pop.example.test") }
}

/// Delivers messages to alice's INBOX.
async fn deliver(store: &Arc<dyn Store>, messages: &[&[u8]]) {
    let account = store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap();
    for m in messages {
        let message = NewMessage {
            data: mailstead_store::conformance::bytes(m),
            internal_date: 0,
            flags: Flags::EMPTY,
            keywords: vec![],
        };
        let target = AppendTarget { account: account.id, mailbox: "INBOX".into() };
        let r = store.append(message, vec![target]).await.unwrap();
        r.into_iter().next().unwrap().unwrap();
    }
}

/// Alice's INBOX: (id, UIDVALIDITY, entries).
async fn inbox(store: &Arc<dyn Store>) -> (i64, u32, Vec<MessageEntry>) {
    let account = store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap();
    let mailbox = store.get_mailbox(account.id, "INBOX").await.unwrap().unwrap();
    (mailbox.id, mailbox.uidvalidity, store.entries(mailbox.id).await.unwrap())
}

/// A line-oriented POP3 client over any stream.
struct Client<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn line(&mut self) -> String {
        let mut line = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), self.io.read_until(b'\n', &mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed");
        String::from_utf8_lossy(&line).trim_end_matches("\r\n").to_string()
    }

    /// Sends a command and asserts the status line starts with `expect`.
    async fn cmd(&mut self, line: &str, expect: &str) -> String {
        self.io.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        let status = self.line().await;
        assert!(status.starts_with(expect), "{line:?}: expected {expect:?}, got {status:?}");
        status
    }

    /// Sends a command expecting `+OK` and a multi-line body; returns the body's raw bytes
    /// (still stuffed, terminator removed).
    async fn multi(&mut self, line: &str) -> (String, Vec<u8>) {
        let status = self.cmd(line, "+OK").await;
        let mut body = Vec::new();
        loop {
            let mut l = Vec::new();
            self.io.read_until(b'\n', &mut l).await.unwrap();
            assert!(!l.is_empty(), "connection closed inside a multi-line response");
            if l == b".\r\n" {
                return (status, body);
            }
            body.extend_from_slice(&l);
        }
    }

    async fn login(&mut self) {
        self.cmd(&format!("USER {ALICE}"), "+OK").await;
        self.cmd(&format!("PASS {PASSWORD}"), "+OK Logged in").await;
    }

    /// Waits for the server to close the connection.
    async fn closed(&mut self) {
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), self.io.read_to_end(&mut rest)).await.unwrap();
        assert!(n.is_ok() && rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    }
}

async fn connect(addr: std::net::SocketAddr) -> Client<TcpStream> {
    let mut c = Client { io: BufReader::new(TcpStream::connect(addr).await.unwrap()) };
    let greeting = c.line().await;
    assert_eq!(greeting, "+OK pop.example.test Mailstead POP3 server ready");
    c
}

async fn connect_stls(h: &Harness) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut c = connect(h.plain).await;
    c.cmd("STLS", "+OK").await;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = h.connector.connect(name, c.io.into_inner()).await.unwrap();
    Client { io: BufReader::new(tls) }
}

async fn connect_tls(h: &Harness) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(h.tls).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = h.connector.connect(name, tcp).await.unwrap();
    let mut c = Client { io: BufReader::new(tls) };
    assert!(c.line().await.starts_with("+OK pop.example.test"));
    c
}

const DOTTED: &[u8] = b"Subject: dots\r\n\r\n.leading dot\r\n.\r\nlast\r\n";

#[tokio::test]
async fn full_session_over_stls() {
    let h = start(config(), AuthLimits::default()).await;
    deliver(&h.store, &[b"Subject: one\r\n\r\nfirst\r\n", DOTTED, b"Subject: three\r\n\r\nthird\r\n"]).await;
    let (mailbox, uidvalidity, entries) = inbox(&h.store).await;
    let mut events = h.store.changes().subscribe(account_id(&h.store).await);

    let mut c = connect(h.plain).await;
    let (_, caps) = c.multi("CAPA").await;
    let caps = String::from_utf8(caps).unwrap();
    assert!(caps.contains("STLS\r\n") && !caps.contains("USER\r\n"), "{caps}");
    // Not dev mode: no password before TLS (RFC 2595 §4).
    c.cmd(&format!("USER {ALICE}"), "-ERR [AUTH]").await;
    drop(c);

    let mut c = connect_stls(&h).await;
    let (_, caps) = c.multi("CAPA").await;
    assert!(String::from_utf8(caps).unwrap().contains("SASL PLAIN LOGIN\r\n"));
    c.login().await;
    let total: u64 = entries.iter().map(|e| e.size).sum();
    c.cmd("STAT", &format!("+OK 3 {total}")).await;
    let (_, list) = c.multi("LIST").await;
    let expected: String =
        entries.iter().enumerate().map(|(i, e)| format!("{} {}\r\n", i + 1, e.size)).collect();
    assert_eq!(String::from_utf8(list).unwrap(), expected);
    // UIDL is derived from (UIDVALIDITY, UID): the IMAP identity of each message.
    let (_, uidl) = c.multi("UIDL").await;
    let expected: String = entries
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{} {}\r\n", i + 1, unique_id(uidvalidity, e.uid)))
        .collect();
    assert_eq!(String::from_utf8(uidl).unwrap(), expected);
    // RETR: the octet count is the stored size, and the body is byte-stuffed.
    let (status, body) = c.multi("RETR 2").await;
    assert_eq!(status, format!("+OK {} octets", DOTTED.len()));
    assert_eq!(body, b"Subject: dots\r\n\r\n..leading dot\r\n..\r\nlast\r\n");
    let (_, top) = c.multi("TOP 1 0").await;
    assert_eq!(top, b"Subject: one\r\n\r\n");
    c.cmd("DELE 1", "+OK").await;
    c.cmd("DELE 3", "+OK").await;
    c.cmd("RSET", "+OK").await;
    c.cmd("DELE 1", "+OK").await;
    // Before QUIT nothing has changed in the store.
    assert_eq!(inbox(&h.store).await.2.len(), 3);
    c.cmd("QUIT", "+OK pop.example.test Mailstead POP3 server signing off (2 messages left)").await;
    c.closed().await;

    let (_, _, after) = inbox(&h.store).await;
    assert_eq!(after.iter().map(|e| e.uid).collect::<Vec<_>>(), vec![entries[1].uid, entries[2].uid]);
    // RETR'd message 2 is now \Seen, as an IMAP client would show it; message 3 is untouched.
    assert!(after[0].flags.contains(Flag::Seen));
    assert!(!after[1].flags.contains(Flag::Seen));
    assert!(after.iter().all(|e| !e.flags.contains(Flag::Deleted)));
    // The IMAP view: an expunge notification and a QRESYNC tombstone for exactly that UID.
    let vanished = h.store.changes_since(mailbox, 0).await.unwrap().vanished;
    assert_eq!(vanished, vec![entries[0].uid]);
    let mut expunged = Vec::new();
    while let Ok(change) = events.try_recv() {
        if let Change::Expunged { uids, .. } = change {
            expunged.extend(uids);
        }
    }
    assert_eq!(expunged, vec![entries[0].uid]);
}

async fn account_id(store: &Arc<dyn Store>) -> i64 {
    store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap().id
}

#[tokio::test]
async fn dropped_connection_deletes_nothing_and_releases_the_lock() {
    let h = start(config(), AuthLimits::default()).await;
    deliver(&h.store, &[b"A: 1\r\n\r\nx\r\n", b"A: 2\r\n\r\ny\r\n"]).await;
    let mut c = connect_tls(&h).await;
    c.login().await;
    c.cmd("DELE 1", "+OK").await;
    c.cmd("DELE 2", "+OK").await;
    drop(c); // no QUIT
    // The lock goes with the session; log in again (retrying while the server notices).
    let mut again = None;
    for _ in 0..50 {
        let mut c = connect_tls(&h).await;
        c.cmd(&format!("USER {ALICE}"), "+OK").await;
        let status = c.cmd(&format!("PASS {PASSWORD}"), "").await;
        if status.starts_with("+OK") {
            again = Some(c);
            break;
        }
        assert!(status.starts_with("-ERR [IN-USE]"), "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut c = again.unwrap();
    c.cmd("STAT", "+OK 2 ").await;
    assert_eq!(inbox(&h.store).await.2.len(), 2);
    assert!(inbox(&h.store).await.2.iter().all(|e| e.flags == Flags::EMPTY));
}

#[tokio::test]
async fn second_session_gets_in_use() {
    let h = start(config(), AuthLimits::default()).await;
    deliver(&h.store, &[b"A: 1\r\n\r\nx\r\n"]).await;
    let mut first = connect_tls(&h).await;
    first.login().await;
    let mut second = connect_tls(&h).await;
    second.cmd(&format!("USER {ALICE}"), "+OK").await;
    second.cmd(&format!("PASS {PASSWORD}"), "-ERR [IN-USE]").await;
    // Over the other listener too: one lock for both.
    let mut third = connect_stls(&h).await;
    third.cmd(&format!("USER {ALICE}"), "+OK").await;
    third.cmd(&format!("PASS {PASSWORD}"), "-ERR [IN-USE]").await;
    first.cmd("QUIT", "+OK").await;
    second.cmd(&format!("USER {ALICE}"), "+OK").await;
    second.cmd(&format!("PASS {PASSWORD}"), "+OK Logged in").await;
}

#[tokio::test]
async fn password_guessing_is_throttled_per_ip() {
    let limits = AuthLimits { max_failures_per_ip: 3, ..AuthLimits::default() };
    let h = start(config(), limits).await;
    let mut c = connect_tls(&h).await;
    for _ in 0..3 {
        c.cmd(&format!("USER {ALICE}"), "+OK").await;
        c.cmd("PASS guess", "-ERR [AUTH] Invalid user name or password").await;
    }
    // Now even the right password is refused without being checked.
    c.cmd(&format!("USER {ALICE}"), "+OK").await;
    c.cmd(&format!("PASS {PASSWORD}"), "-ERR [AUTH] Too many failed logins").await;
    // SASL goes through the same throttle.
    c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0IGhvcnNl", "-ERR [AUTH] Too many failed logins")
        .await;
}

#[tokio::test]
async fn password_guessing_is_throttled_per_account() {
    let limits = AuthLimits { max_failures_per_account: 2, ..AuthLimits::default() };
    let h = start(config(), limits).await;
    let mut c = connect_tls(&h).await;
    for _ in 0..2 {
        c.cmd("USER bob@example.test", "+OK").await;
        c.cmd("PASS guess", "-ERR [AUTH] Invalid").await;
    }
    c.cmd("USER bob@example.test", "+OK").await;
    c.cmd("PASS guess", "-ERR [AUTH] Too many failed logins").await;
    // Another account from the same IP is still checked.
    c.login().await;
}

#[tokio::test]
async fn dev_mode_allows_plaintext_on_loopback_only() {
    let h = start(Pop3Config { dev: true, ..config() }, AuthLimits::default()).await;
    let mut c = connect(h.plain).await;
    let (_, caps) = c.multi("CAPA").await;
    let caps = String::from_utf8(caps).unwrap();
    assert!(caps.contains("USER\r\n") && caps.contains("STLS\r\n"), "{caps}");
    c.login().await;
    c.cmd("QUIT", "+OK").await;
}

#[tokio::test]
async fn sasl_plain_and_login() {
    let h = start(config(), AuthLimits::default()).await;
    let mut c = connect_tls(&h).await;
    // base64("\0alice@example.test\0correct horse")
    c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0IGhvcnNl", "+OK Logged in").await;
    c.cmd("QUIT", "+OK").await;
    let mut c = connect_tls(&h).await;
    c.cmd("AUTH LOGIN", "+ VXNlcm5hbWU6").await;
    c.cmd("YWxpY2VAZXhhbXBsZS50ZXN0", "+ UGFzc3dvcmQ6").await;
    c.cmd("Y29ycmVjdCBob3JzZQ==", "+OK Logged in").await;
}

#[tokio::test]
async fn uidl_is_stable_and_new_mail_waits_for_the_next_session() {
    let h = start(config(), AuthLimits::default()).await;
    deliver(&h.store, &[b"A: 1\r\n\r\nx\r\n", b"A: 2\r\n\r\ny\r\n"]).await;
    let mut c = connect_tls(&h).await;
    c.login().await;
    let (_, first) = c.multi("UIDL").await;
    deliver(&h.store, &[b"A: 3\r\n\r\nz\r\n"]).await;
    // RFC 1939: the maildrop is fixed for the session.
    c.cmd("STAT", "+OK 2 ").await;
    c.cmd("DELE 1", "+OK").await;
    c.cmd("QUIT", "+OK").await;
    let mut c = connect_tls(&h).await;
    c.login().await;
    let (_, second) = c.multi("UIDL").await;
    let first = String::from_utf8(first).unwrap();
    let second = String::from_utf8(second).unwrap();
    let ids = |s: &str| s.lines().map(|l| l.split(' ').nth(1).unwrap_or("").to_string()).collect::<Vec<_>>();
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(b.len(), 2);
    assert_eq!(b[0], a[1], "the surviving message keeps its unique-id");
    assert!(!a.contains(&b[1]), "the new message has a new unique-id");
}

#[tokio::test]
async fn idle_timeout_closes_without_deleting() {
    let h = start(config(), AuthLimits::default()).await;
    deliver(&h.store, &[b"A: 1\r\n\r\nx\r\n"]).await;
    let mut c = connect_tls(&h).await;
    c.login().await;
    c.cmd("DELE 1", "+OK").await;
    // RFC 1939 §3: the autologout timer closes without a response and without UPDATE.
    c.closed().await;
    assert_eq!(inbox(&h.store).await.2.len(), 1);
}

#[tokio::test]
async fn expire_zero_removes_retrieved_messages_at_quit() {
    let h = start(Pop3Config { expire: Some(Expire::Days(0)), ..config() }, AuthLimits::default()).await;
    deliver(&h.store, &[b"A: 1\r\n\r\nx\r\n", b"A: 2\r\n\r\ny\r\n"]).await;
    let mut c = connect_tls(&h).await;
    let (_, caps) = c.multi("CAPA").await;
    assert!(String::from_utf8(caps).unwrap().contains("EXPIRE 0\r\n"));
    c.login().await;
    c.multi("RETR 2").await;
    c.cmd("QUIT", "+OK").await;
    let left = inbox(&h.store).await.2;
    assert_eq!(left.len(), 1);
    assert!(!left[0].flags.contains(Flag::Seen));
}

#[tokio::test]
async fn login_delay_is_enforced() {
    let config = Pop3Config { login_delay: Some(Duration::from_secs(300)), ..config() };
    let h = start(config, AuthLimits::default()).await;
    let mut c = connect_tls(&h).await;
    let (_, caps) = c.multi("CAPA").await;
    assert!(String::from_utf8(caps).unwrap().contains("LOGIN-DELAY 300\r\n"));
    c.login().await;
    c.cmd("QUIT", "+OK").await;
    let mut c = connect_tls(&h).await;
    c.cmd(&format!("USER {ALICE}"), "+OK").await;
    c.cmd(&format!("PASS {PASSWORD}"), "-ERR [LOGIN-DELAY]").await;
}

#[tokio::test]
async fn large_message_octet_count_and_stuffing() {
    let h = start(config(), AuthLimits::default()).await;
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..20_000 {
        big.extend_from_slice(if i % 3 == 0 {
            b".dotted line of text\r\n"
        } else {
            b"plain line of text\r\n"
        });
    }
    deliver(&h.store, &[&big]).await;
    let mut c = connect_tls(&h).await;
    c.login().await;
    c.cmd("LIST 1", &format!("+OK 1 {}", big.len())).await;
    let (status, body) = c.multi("RETR 1").await;
    assert_eq!(status, format!("+OK {} octets", big.len()));
    let mut unstuffed = Vec::new();
    for line in body.split_inclusive(|&b| b == b'\n') {
        unstuffed.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    assert_eq!(unstuffed, big);
}

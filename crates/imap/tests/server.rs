//! In-process tests of the IMAP server: the real listener on 127.0.0.1:0, a real SQLite store
//! in a temp directory, the shared Authenticator, and raw-socket clients driven by dialog
//! transcripts (`C:` what the client sends, `S:` what the server must answer; a line ending in
//! `...` matches by prefix). They check what needs the whole stack: sequence numbers under
//! concurrent expunges, literals and their limits, IDLE, a dropped APPEND, shutdown, and the
//! spam classifier trained by moves into and out of Junk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use mailstead_imap::{ImapConfig, ImapServer};
use mailstead_net::{ConnectionLimits, ConnectionTracker, ListenerSpec, TlsMode};
use mailstead_store::Store;
use mailstead_store::auth::{AuthLimits, Authenticator};
use mailstead_store::model::{AppendTarget, NewMessage};
use mailstead_testkit::{TestStore, test_tls};
use mailstead_types::{Address, Flags};

const ALICE: &str = "alice@example.test";
const PASSWORD: &str = "correct horse";

struct Harness {
    addr: std::net::SocketAddr,
    connector: tokio_rustls::TlsConnector,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
    _ts: TestStore,
}

async fn start() -> Harness {
    let ts = TestStore::new(&["example.test"], &[ALICE]).await;
    let store = ts.store.clone();
    let hash = mailstead_store::password::hash(PASSWORD).unwrap();
    store.set_password(&Address::parse(ALICE).unwrap(), hash).await.unwrap();
    let t = test_tls(&ts.dir.path().join("tls"));
    let tracker = ConnectionTracker::new(ConnectionLimits::default());
    let shutdown = CancellationToken::new();
    let auth = Authenticator::new(store.clone(), AuthLimits::default());
    let config = ImapConfig {
        hostname: "imap.example.test".into(),
        append_limit: 100_000,
        plaintext_auth_on_loopback: true,
        ..ImapConfig::default()
    };
    let server = Arc::new(ImapServer::new(config, store.clone(), auth));
    let spec = ListenerSpec::new("imap", "127.0.0.1:0".parse().unwrap(), TlsMode::StartTls);
    let listener = mailstead_net::bind(&spec).await.unwrap();
    let addr = listener.local_addr();
    tokio::spawn(mailstead_net::run(
        listener,
        Some(t.acceptor.clone()),
        tracker,
        server,
        shutdown.clone(),
        TaskTracker::new(),
    ));
    Harness { addr, connector: t.connector.clone(), store, shutdown, _ts: ts }
}

async fn deliver(store: &Arc<dyn Store>, subject: &str) {
    let account = store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap();
    let data = format!("From: x@remote.test\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n");
    let message = NewMessage {
        data: mailstead_store::conformance::bytes(data.as_bytes()),
        internal_date: 1_700_000_000,
        flags: Flags::EMPTY,
        keywords: vec![],
    };
    let target = AppendTarget { account: account.id, mailbox: "INBOX".into() };
    store.append(message, vec![target]).await.unwrap().remove(0).unwrap();
}

struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(h: &Harness) -> Client {
        let (r, w) = TcpStream::connect(h.addr).await.unwrap().into_split();
        let mut c = Client { reader: BufReader::new(r), writer: w };
        let greeting = c.line().await;
        assert!(greeting.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2"), "{greeting}");
        c
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(5), self.reader.read_line(&mut line))
            .await
            .expect("server answered within 5 s")
            .unwrap();
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Plays a transcript. Every `C:` line is sent; `S:` lines are read and compared in order.
    async fn dialog(&mut self, script: &str) {
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(c) = line.strip_prefix("C: ") {
                self.send(format!("{c}\r\n").as_bytes()).await;
            } else if let Some(s) = line.strip_prefix("S:").map(str::trim_start) {
                let got = self.line().await;
                match s.strip_suffix("...") {
                    Some(prefix) => assert!(got.starts_with(prefix), "expected {s:?}, got {got:?}"),
                    None => assert_eq!(got, s, "transcript mismatch"),
                }
            } else {
                panic!("bad transcript line {line:?}");
            }
        }
    }

    async fn login(&mut self) {
        self.dialog(&format!("C: L1 LOGIN {ALICE} \"{PASSWORD}\"\nS: L1 OK [CAPABILITY ...")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_paths_transcript() {
    let h = start().await;
    deliver(&h.store, "one").await;
    deliver(&h.store, "two").await;
    let mut c = Client::connect(&h).await;
    c.dialog(
        "C: a1 CAPABILITY
         S: * CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS AUTH=PLAIN AUTH=LOGIN SASL-IR LITERAL+ ENABLE ID UTF8=ACCEPT
         S: a1 OK CAPABILITY completed
         C: a2 SELECT INBOX
         S: a2 BAD SELECT needs you to log in first
         C: a3 LOGIN alice@example.test wrong
         S: a3 NO [AUTHENTICATIONFAILED] Invalid credentials",
    )
    .await;
    c.login().await;
    c.dialog(
        "C: b1 SELECT INBOX
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
         S: * 2 EXISTS
         S: * 0 RECENT
         S: * OK [UNSEEN 1] Message 1 is the first unseen
         S: * OK [UIDVALIDITY ...
         S: * OK [UIDNEXT 3] Predicted next UID
         S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted
         S: * OK [HIGHESTMODSEQ ...
         S: * LIST () \"/\" \"INBOX\"
         S: b1 OK [READ-WRITE] SELECT completed
         C: b2 FETCH 1:* (UID FLAGS RFC822.SIZE)
         S: * 1 FETCH (UID 1 FLAGS () RFC822.SIZE 50)
         S: * 2 FETCH (UID 2 FLAGS () RFC822.SIZE 50)
         S: b2 OK FETCH completed
         C: b3 STORE 2 +FLAGS (\\Deleted)
         S: * 2 FETCH (FLAGS (\\Deleted))
         S: b3 OK STORE completed
         C: b4 UID SEARCH DELETED
         S: * SEARCH 2
         S: b4 OK UID SEARCH completed
         C: b5 EXPUNGE
         S: * 2 EXPUNGE
         S: b5 OK EXPUNGE completed
         C: b6 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])
         S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {16}
         S: Subject: one
         S: 
         S: )
         S: b6 OK FETCH completed
         C: b7 LOGOUT
         S: * BYE Mailstead IMAP logging out
         S: b7 OK LOGOUT completed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expunges_wait_for_a_command_that_allows_them() {
    let h = start().await;
    for s in ["a", "b", "c"] {
        deliver(&h.store, s).await;
    }
    let mut a = Client::connect(&h).await;
    a.login().await;
    a.dialog("C: s SELECT INBOX\nS: * FLAGS...").await;
    while !a.line().await.starts_with("s OK") {}
    let mut b = Client::connect(&h).await;
    b.login().await;
    b.dialog("C: s SELECT INBOX\nS: * FLAGS...").await;
    while !b.line().await.starts_with("s OK") {}
    b.dialog(
        "C: x UID STORE 2 +FLAGS.SILENT (\\Deleted)
         S: x OK STORE completed
         C: y UID EXPUNGE 2
         S: * 2 EXPUNGE
         S: y OK EXPUNGE completed",
    )
    .await;
    // A FETCH by sequence number: the flag change may be reported, the expunge must not be, and
    // message 3 is still message 3 for this client.
    a.send(b"f FETCH 3 (UID)\r\n").await;
    let mut lines = Vec::new();
    loop {
        let l = a.line().await;
        let done = l.starts_with("f ");
        lines.push(l);
        if done {
            break;
        }
    }
    assert!(lines.iter().all(|l| !l.contains("EXPUNGE")), "{lines:?}");
    assert!(lines.contains(&"* 3 FETCH (UID 3)".to_string()), "{lines:?}");
    a.dialog("C: n NOOP\nS: * 2 EXPUNGE\nS: n OK NOOP completed").await;
    a.dialog("C: g FETCH 2 (UID)\nS: * 2 FETCH (UID 3)\nS: g OK FETCH completed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_and_their_limits() {
    let h = start().await;
    let mut c = Client::connect(&h).await;
    c.login().await;
    // Synchronizing literal: continuation first.
    c.dialog("C: a1 APPEND INBOX (\\Seen) {23}\nS: + Ready for literal data").await;
    c.send(b"Subject: lit\r\n\r\nhello\r\n\r\n").await;
    c.dialog("S: a1 OK [APPENDUID ...").await;
    // LITERAL+: no continuation.
    c.send(b"a2 APPEND INBOX {10+}\r\nSubject: x\r\n").await;
    c.dialog("S: a2 OK [APPENDUID ...").await;
    // Over APPENDLIMIT: refused before the data is sent.
    c.dialog("C: a3 APPEND INBOX {200000}\nS: a3 BAD message larger than APPENDLIMIT").await;
    // A big literal outside APPEND.
    c.dialog("C: a4 LOGIN {100000}\nS: a4 BAD literal too large").await;
    // Non-synchronizing and too big: the data is read and thrown away, then BAD.
    let mut big = b"a5 APPEND INBOX {150000+}\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 150_000));
    big.extend_from_slice(b"\r\n");
    c.send(&big).await;
    c.dialog("S: a5 BAD message larger than APPENDLIMIT\nC: a6 NOOP\nS: a6 OK NOOP completed").await;
    let account = h.store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap();
    let inbox = h.store.get_mailbox(account.id, "INBOX").await.unwrap().unwrap();
    assert_eq!(h.store.entries(inbox.id).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_append_stores_nothing() {
    let h = start().await;
    let mut c = Client::connect(&h).await;
    c.login().await;
    c.dialog("C: a1 APPEND INBOX {1000}\nS: + Ready for literal data").await;
    c.send(&[b'x'; 500]).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let account = h.store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap();
    let inbox = h.store.get_mailbox(account.id, "INBOX").await.unwrap().unwrap();
    assert!(h.store.entries(inbox.id).await.unwrap().is_empty());
    // The server still serves.
    let mut c = Client::connect(&h).await;
    c.login().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pushes_new_mail_and_shutdown_says_bye() {
    let h = start().await;
    let mut c = Client::connect(&h).await;
    c.login().await;
    c.send(b"s SELECT INBOX\r\n").await;
    while !c.line().await.starts_with("s OK") {}
    c.dialog("C: i IDLE\nS: + idling").await;
    let started = std::time::Instant::now();
    deliver(&h.store, "pushed").await;
    c.dialog("S: * 1 EXISTS").await;
    assert!(started.elapsed() < Duration::from_secs(1));
    c.dialog("C: DONE\nS: i OK IDLE terminated").await;
    // Shutdown reaches a session waiting for a command and one in IDLE alike.
    let mut idler = Client::connect(&h).await;
    idler.login().await;
    idler.dialog("C: j IDLE\nS: + idling").await;
    h.shutdown.cancel();
    c.dialog("S: * BYE Server shutting down").await;
    idler.dialog("S: * BYE Server shutting down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_and_bodystructure_from_the_cache_match_a_fresh_parse() {
    let h = start().await;
    deliver(&h.store, "cached \"quoted\" subject").await;
    let mut c = Client::connect(&h).await;
    c.login().await;
    c.send(b"s EXAMINE INBOX\r\n").await;
    while !c.line().await.starts_with("s OK") {}
    let account = h.store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap();
    let inbox = h.store.get_mailbox(account.id, "INBOX").await.unwrap().unwrap();
    let blob = h.store.entries(inbox.id).await.unwrap()[0].blob.clone();
    assert_eq!(h.store.fetch_cache(vec![blob.clone()]).await.unwrap(), vec![None]);
    let mut answers = Vec::new();
    for tag in ["f1", "f2"] {
        c.send(format!("{tag} FETCH 1 (UID ENVELOPE FLAGS BODYSTRUCTURE)\r\n").as_bytes()).await;
        let line = c.line().await;
        assert!(
            line.starts_with("* 1 FETCH (UID 1 ENVELOPE (NIL \"cached \\\"quoted\\\" subject\""),
            "{line}"
        );
        assert!(line.contains(" FLAGS () BODYSTRUCTURE (\"TEXT\" \"plain\""), "{line}");
        answers.push(line);
        c.dialog(&format!("S: {tag} OK FETCH completed")).await;
        // After the first FETCH the parse is cached in the store (written in the background).
        let mut cached = false;
        for _ in 0..100 {
            cached = h.store.fetch_cache(vec![blob.clone()]).await.unwrap()[0].is_some();
            if cached {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cached, "the FETCH cache was not filled");
    }
    assert_eq!(answers[0], answers[1], "cached and fresh answers differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_fills_the_fetch_cache() {
    let h = start().await;
    let mut c = Client::connect(&h).await;
    c.login().await;
    let message = b"Subject: appended\r\n\r\nhello\r\n";
    c.send(format!("a APPEND INBOX {{{}+}}\r\n", message.len()).as_bytes()).await;
    c.send(message).await;
    c.send(b"\r\n").await;
    c.dialog("S: a OK [APPENDUID ...").await;
    let blob = mailstead_store::model::BlobId::of(message);
    let mut cached = None;
    for _ in 0..100 {
        cached = h.store.fetch_cache(vec![blob.clone()]).await.unwrap().remove(0);
        if cached.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cached = cached.expect("APPEND filled the FETCH cache");
    assert!(String::from_utf8_lossy(&cached.envelope).contains("\"appended\""));
}

/// Regression: a command that arrives in the same TCP write as the client's last handshake
/// message sits inside rustls, not in the socket; the server must still answer it at once.
/// (An idle TLS connection once waited for socket readiness and timed out here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_in_the_handshakes_last_flight_is_answered() {
    let h = start().await;
    let config = h.connector.config().clone();
    let addr = h.addr;
    let answer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        use std::io::{BufRead, BufReader, Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut line = String::new();
        BufReader::new(&mut tcp).read_line(&mut line)?; // greeting (one line, nothing after it)
        tcp.write_all(b"s STARTTLS\r\n")?;
        let mut reply = Vec::new();
        while !reply.ends_with(b"\r\n") {
            let mut byte = [0u8; 1];
            tcp.read_exact(&mut byte)?;
            reply.push(byte[0]);
        }
        assert!(reply.starts_with(b"s OK"), "{}", String::from_utf8_lossy(&reply));
        let name = rustls::pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
        let mut tls = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        // Drive the handshake by hand, but keep the client's final flight unsent...
        while tls.is_handshaking() {
            if tls.wants_write() {
                tls.write_tls(&mut tcp)?;
            } else {
                tls.read_tls(&mut tcp)?;
                tls.process_new_packets().map_err(std::io::Error::other)?;
            }
        }
        // ...so that it leaves in one write together with the first command.
        tls.writer().write_all(b"c NOOP\r\n")?;
        while tls.wants_write() {
            tls.write_tls(&mut tcp)?;
        }
        let mut got = Vec::new();
        while !got.windows(2).any(|w| w == b"\r\n") {
            if tls.read_tls(&mut tcp)? == 0 {
                break;
            }
            tls.process_new_packets().map_err(std::io::Error::other)?;
            let mut buf = [0u8; 512];
            match tls.reader().read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(String::from_utf8_lossy(&got).into_owned())
    })
    .await
    .unwrap();
    let answer = answer.expect("the server answered within 5 s");
    assert!(answer.starts_with("c OK NOOP completed"), "{answer}");
}

/// Waits until the account's trained totals are `(spam, ham)` (training runs after the reply).
async fn wait_for_training(store: &Arc<dyn Store>, spam: u64, ham: u64) {
    let account = store.get_account(&Address::parse(ALICE).unwrap()).await.unwrap().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats = store.spam_stats(account.id).await.unwrap();
        if (stats.spam_messages, stats.ham_messages) == (spam, ham) {
            assert!(stats.tokens > 0);
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "training did not reach {spam}/{ham}: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Selects `from` and moves its first message to `to`.
async fn move_first(c: &mut Client, from: &str, to: &str) {
    c.send(format!("s SELECT {from}\r\n").as_bytes()).await;
    while !c.line().await.starts_with("s OK") {}
    c.dialog(&format!("C: m MOVE 1 {to}\nS: * OK [COPYUID ...\nS: * 1 EXPUNGE\nS: m OK MOVE completed"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_into_and_out_of_junk_trains_the_classifier() {
    let h = start().await;
    deliver(&h.store, "cheap pills").await;
    let mut c = Client::connect(&h).await;
    c.login().await;
    move_first(&mut c, "INBOX", "Junk").await;
    wait_for_training(&h.store, 1, 0).await;
    // Out of Junk: the spam is un-learned and the message learned as ham.
    move_first(&mut c, "Junk", "Archive").await;
    wait_for_training(&h.store, 0, 1).await;
    // A copy into Trash teaches nothing; a copy into Junk learns spam again.
    c.send(b"a SELECT Archive\r\n").await;
    while !c.line().await.starts_with("a OK") {}
    c.dialog("C: t COPY 1 Trash\nS: t OK [COPYUID ...\nC: k COPY 1 Junk\nS: k OK [COPYUID ...").await;
    wait_for_training(&h.store, 1, 0).await;
}

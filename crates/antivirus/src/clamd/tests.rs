//! Unit tests of the clamd client against an in-process fake clamd that speaks the INSTREAM
//! framing (clamd(8)) and checks what the client sends; the real clamd is in tests/clamd.rs.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

use super::*;

/// Serves one connection like clamd: reads the command, and for `zINSTREAM` the chunks.
/// Returns (command, reassembled data).
async fn serve_one(
    mut s: impl AsyncRead + AsyncWrite + Unpin,
    reply: &'static [u8],
) -> std::io::Result<(String, Vec<u8>)> {
    let mut cmd = Vec::new();
    loop {
        let b = s.read_u8().await?;
        if b == 0 {
            break;
        }
        cmd.push(b);
    }
    let cmd = String::from_utf8_lossy(&cmd).to_string();
    let mut data = Vec::new();
    if cmd == "zINSTREAM" {
        loop {
            let len = s.read_u32().await? as usize;
            if len == 0 {
                break;
            }
            let start = data.len();
            data.resize(start + len, 0);
            s.read_exact(&mut data[start..]).await?;
        }
    }
    s.write_all(reply).await?;
    Ok((cmd, data))
}

async fn tcp_fake(reply: &'static [u8]) -> (ClamdConfig, tokio::task::JoinHandle<(String, Vec<u8>)>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (s, _) = l.accept().await.expect("accept");
        serve_one(s, reply).await.expect("serve")
    });
    (ClamdConfig::new(ClamdAddr::Tcp(addr.to_string())), task)
}

#[tokio::test]
async fn clean_stream_is_sent_in_chunks_and_reassembled() {
    let (cfg, task) = tcp_fake(b"stream: OK\0").await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(Clamd::new(cfg).scan(&data).await, ClamdVerdict::Clean);
    let (cmd, got) = task.await.expect("join");
    assert_eq!(cmd, "zINSTREAM");
    assert_eq!(got, data, "chunks reassemble to the input");
}

#[tokio::test]
async fn infected_over_unix_socket_names_the_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clamd.sock");
    let l = UnixListener::bind(&path).expect("bind");
    let task = tokio::spawn(async move {
        let (s, _) = l.accept().await.expect("accept");
        serve_one(s, b"stream: Eicar-Test.UNOFFICIAL FOUND\0").await.expect("serve")
    });
    let v = Clamd::new(ClamdConfig::new(ClamdAddr::Unix(path))).scan(b"X5O!P%@AP").await;
    assert_eq!(v, ClamdVerdict::Infected { signature: "Eicar-Test.UNOFFICIAL".into() });
    task.await.expect("join");
}

#[tokio::test]
async fn ping_pong() {
    let (cfg, task) = tcp_fake(b"PONG\0").await;
    assert_eq!(Clamd::new(cfg).ping().await, Ok(()));
    assert_eq!(task.await.expect("join").0, "zPING");
}

#[tokio::test]
async fn too_large_is_refused_before_connecting() {
    // Nothing listens on this address: a connection attempt would be Unavailable.
    let mut cfg = ClamdConfig::new(ClamdAddr::Tcp("127.0.0.1:1".into()));
    cfg.max_stream_len = 10;
    let v = Clamd::new(cfg).scan(&[b'a'; 11]).await;
    assert_eq!(v, ClamdVerdict::TooLarge { size: 11, limit: 10 });
}

#[tokio::test]
async fn size_limit_reply_from_clamd_is_too_large() {
    let (cfg, task) = tcp_fake(b"INSTREAM size limit exceeded. ERROR\0").await;
    let v = Clamd::new(cfg.clone()).scan(b"data").await;
    assert_eq!(v, ClamdVerdict::TooLarge { size: 4, limit: cfg.max_stream_len });
    task.await.expect("join");
}

#[tokio::test]
async fn nobody_listening_is_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ClamdConfig::new(ClamdAddr::Unix(dir.path().join("absent.sock")));
    let v = Clamd::new(cfg.clone()).scan(b"data").await;
    assert!(matches!(&v, ClamdVerdict::Unavailable { reason } if reason.contains("cannot connect")), "{v:?}");
    assert!(Clamd::new(cfg).ping().await.is_err());
}

#[tokio::test]
async fn silent_clamd_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        // Read everything, never answer.
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
    });
    let mut cfg = ClamdConfig::new(ClamdAddr::Tcp(addr.to_string()));
    cfg.scan_timeout = Duration::from_millis(200);
    let v = Clamd::new(cfg).scan(b"data").await;
    assert!(matches!(&v, ClamdVerdict::Unavailable { reason } if reason.contains("within")), "{v:?}");
    task.abort();
}

#[test]
fn replies_parse() {
    assert_eq!(parse_reply("stream: OK", 1, 2), ClamdVerdict::Clean);
    assert_eq!(
        parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND", 1, 2),
        ClamdVerdict::Infected { signature: "Win.Test.EICAR_HDB-1".into() }
    );
    assert!(matches!(
        parse_reply("stream: Can't allocate memory ERROR", 1, 2),
        ClamdVerdict::Unavailable { .. }
    ));
    assert!(matches!(parse_reply("garbage", 1, 2), ClamdVerdict::Unavailable { .. }));
    assert!(matches!(parse_reply("stream:  FOUND", 1, 2), ClamdVerdict::Unavailable { .. }));
}

#[test]
fn addresses_parse() {
    assert_eq!(
        ClamdAddr::parse("/run/clamav/clamd.ctl"),
        Ok(ClamdAddr::Unix("/run/clamav/clamd.ctl".into()))
    );
    assert_eq!(ClamdAddr::parse("unix:relative.sock"), Ok(ClamdAddr::Unix("relative.sock".into())));
    assert_eq!(ClamdAddr::parse("127.0.0.1:3310"), Ok(ClamdAddr::Tcp("127.0.0.1:3310".into())));
    assert_eq!(ClamdAddr::parse("[::1]:3310"), Ok(ClamdAddr::Tcp("[::1]:3310".into())));
    assert!(ClamdAddr::parse("localhost").is_err());
    assert!(ClamdAddr::parse(":3310").is_err());
}

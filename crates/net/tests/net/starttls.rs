//! STARTTLS upgrade of a plaintext connection, and the plaintext-injection defence.

use std::sync::Arc;

use mailstead_net::{ListenError, ListenerSpec, TlsMode, bind, discard_buffered, run};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::common::*;

/// Sends `command` (may hold pipelined lines) on a fresh plain connection, expects the go-ahead,
/// and completes the TLS handshake.
async fn upgrade(server: &TestServer, cert: &TestCert, command: &str) -> TlsClient {
    let mut c = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
    send(&mut c, "INFO").await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("250 plain"));
    send(&mut c, command).await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 go ahead"));
    let (tcp, buffered) = discard_buffered(c);
    assert_eq!(buffered, 0, "server sent data after its go-ahead");
    let config = client_config(&[cert], &[&rustls::version::TLS13]);
    tls_handshake(config, tcp, "mail.example.test").await.unwrap()
}

#[tokio::test]
async fn starttls_upgrades_a_plain_connection() {
    let cert = TestCert::new(&["mail.example.test"]);
    let server = start(TlsMode::StartTls, Some(acceptor(&[&cert])), limits()).await;
    let mut c = upgrade(&server, &cert, "STARTTLS").await;
    send(&mut c, "INFO").await;
    assert_eq!(
        read_line(&mut c).await.as_deref(),
        Some("250 TLSv1.3 TLS13_AES_256_GCM_SHA384 sni=mail.example.test")
    );
    // A second STARTTLS inside TLS is refused by the protocol, the session goes on.
    send(&mut c, "STARTTLS").await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("502 not available"));
    send(&mut c, "ping").await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("250 echo ping"));
}

/// CVE-2011-0411: a command pipelined in plaintext after STARTTLS must not run inside TLS.
#[tokio::test]
async fn commands_injected_before_the_handshake_are_discarded() {
    let cert = TestCert::new(&["mail.example.test"]);
    let server = start(TlsMode::StartTls, Some(acceptor(&[&cert])), limits()).await;
    let mut c = upgrade(&server, &cert, "STARTTLS\nINJECTED").await;
    send(&mut c, "INFO").await;
    assert_eq!(
        read_line(&mut c).await.as_deref(),
        Some("250 TLSv1.3 TLS13_AES_256_GCM_SHA384 sni=mail.example.test")
    );
}

#[tokio::test]
async fn plain_listener_offers_no_starttls() {
    let server = start(TlsMode::Plain, None, limits()).await;
    let mut c = connect_plain(server.addr).await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
    send(&mut c, "STARTTLS").await;
    assert_eq!(read_line(&mut c).await.as_deref(), Some("502 not available"));
}

#[tokio::test]
async fn tls_modes_without_a_certificate_do_not_start() {
    let spec = ListenerSpec::new("submission", "127.0.0.1:0".parse().unwrap(), TlsMode::StartTls);
    let listener = bind(&spec).await.unwrap();
    let addr = listener.local_addr();
    let tracker = mailstead_net::ConnectionTracker::new(limits());
    let result =
        run(listener, None, tracker, Arc::new(LineHandler), CancellationToken::new(), TaskTracker::new())
            .await;
    let err = result.unwrap_err();
    assert!(matches!(err, ListenError::TlsMissing { mode: TlsMode::StartTls, .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("submission on {addr}: TLS mode StartTls needs a TLS certificate"));
}

//! Implicit TLS listeners, TlsInfo, and loading certificate/key files.

use mailstead_net::TlsMode;
use mailstead_net::tls::{TlsError, load_certified_key};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

#[tokio::test]
async fn implicit_tls_reports_version_cipher_and_sni() {
    let cert = TestCert::new(&["mail.example.test"]);
    let server = start(TlsMode::Implicit, Some(acceptor(&[&cert])), limits()).await;

    let tls13 = client_config(&[&cert], &[&rustls::version::TLS13]);
    let mut c = tls_handshake(tls13, TcpStream::connect(server.addr).await.unwrap(), "mail.example.test")
        .await
        .unwrap();
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
    send(&mut c, "INFO").await;
    assert_eq!(
        read_line(&mut c).await.as_deref(),
        Some("250 TLSv1.3 TLS13_AES_256_GCM_SHA384 sni=mail.example.test")
    );

    let tls12 = client_config(&[&cert], &[&rustls::version::TLS12]);
    let mut c = tls_handshake(tls12, TcpStream::connect(server.addr).await.unwrap(), "mail.example.test")
        .await
        .unwrap();
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
    send(&mut c, "INFO").await;
    assert_eq!(
        read_line(&mut c).await.as_deref(),
        Some("250 TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 sni=mail.example.test")
    );
}

#[tokio::test]
async fn failed_handshake_is_dropped_and_listener_keeps_serving() {
    let cert = TestCert::new(&["mail.example.test"]);
    let server = start(TlsMode::Implicit, Some(acceptor(&[&cert])), limits()).await;

    // A plaintext client on the TLS port: the server answers with a TLS alert and closes.
    let mut plain = connect_plain(server.addr).await;
    plain.get_mut().write_all(b"EHLO plaintext.example\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, plain.read_to_end(&mut answer)).await.unwrap().unwrap();
    assert_eq!(answer.first(), Some(&0x15), "expected a TLS alert record, got {answer:?}");

    let config = client_config(&[&cert], &[&rustls::version::TLS13]);
    let mut c = tls_handshake(config, TcpStream::connect(server.addr).await.unwrap(), "mail.example.test")
        .await
        .unwrap();
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
    assert!(!server.accept_loop.is_finished());
    assert_eq!(server.tracker.active(), 1);
}

#[test]
fn key_not_matching_certificate_is_refused_with_both_file_names() {
    let a = TestCert::new(&["a.example.test"]);
    let b = TestCert::new(&["b.example.test"]);
    let err = load_certified_key(&a.paths.cert, &b.paths.key).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "private key {} does not match certificate {}",
            b.paths.key.display(),
            a.paths.cert.display()
        )
    );
}

#[test]
fn missing_or_wrong_files_are_named() {
    let a = TestCert::new(&["a.example.test"]);
    let missing = a.paths.cert.with_file_name("nope.pem");
    let err = load_certified_key(&missing, &a.paths.key).unwrap_err();
    assert!(matches!(err, TlsError::Read { ref path, .. } if *path == missing), "{err:?}");
    assert!(err.to_string().starts_with(&format!("cannot read {}:", missing.display())), "{err}");

    // The key file holds no certificate, the certificate file no key.
    let err = load_certified_key(&a.paths.key, &a.paths.key).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: no certificate found in file", a.paths.key.display()));
    let err = load_certified_key(&a.paths.cert, &a.paths.cert).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: no private key found in file", a.paths.cert.display()));
}

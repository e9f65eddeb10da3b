//! The certificate is chosen by SNI, with the first one as default.

use mailstead_net::TlsMode;
use tokio::net::TcpStream;

use crate::common::*;

#[tokio::test]
async fn sni_picks_the_certificate_for_the_name_and_falls_back_to_the_default() {
    let default = TestCert::new(&["default.example.test", "127.0.0.1"]);
    let a = TestCert::new(&["a.example.test"]);
    let b = TestCert::new(&["*.b.example.test"]);
    let server = start(TlsMode::Implicit, Some(acceptor(&[&default, &a, &b])), limits()).await;

    for (name, expected, cert_name) in [
        ("a.example.test", a.der(), "a"),
        ("A.EXAMPLE.TEST", a.der(), "a (case-insensitive)"),
        ("imap.b.example.test", b.der(), "b (wildcard)"),
        ("unknown.example.test", default.der(), "default (unknown name)"),
        ("127.0.0.1", default.der(), "default (no SNI for an IP address)"),
    ] {
        let (verifier, config) = RecordingVerifier::client(&[&rustls::version::TLS13]);
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let mut c = tls_handshake(config, tcp, name).await.unwrap();
        assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
        assert!(verifier.last() == expected, "{name}: expected certificate {cert_name}");
    }

    // And a real client trusting only `a` verifies it by name.
    let config = client_config(&[&a], &[&rustls::version::TLS13]);
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut c = tls_handshake(config, tcp, "a.example.test").await.unwrap();
    assert_eq!(read_line(&mut c).await.as_deref(), Some("220 hello"));
}

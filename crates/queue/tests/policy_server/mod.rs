//! A test CA and an HTTPS server on 127.0.0.1 that serves one MTA-STS policy file, for the
//! MTA-STS tests: what it serves can be changed while it runs, and it counts requests.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server answers.
#[derive(Clone)]
pub struct Served {
    /// HTTP status line after "HTTP/1.1 ".
    pub status: String,
    /// Content-Type.
    pub content_type: String,
    /// Body.
    pub body: String,
}

/// A running policy server.
pub struct PolicyServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The CA that signed its certificate (PEM).
    pub ca_pem: String,
    /// What it serves now.
    pub served: Arc<Mutex<Served>>,
    /// Requests answered.
    pub requests: Arc<Mutex<Vec<String>>>,
}

/// A CA, and a certificate for `names` signed by it: (CA PEM, chain, key).
pub fn ca_and_leaf(names: &[&str]) -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Mailstead test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca.pem(), vec![leaf.der().clone()], key)
}

/// A TLS acceptor for `chain` and `key`.
pub fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> tokio_rustls::TlsAcceptor {
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Starts a server with a certificate for `host`, serving `policy` as text/plain.
pub async fn start(host: &str, policy: &str) -> PolicyServer {
    let (ca_pem, chain, key) = ca_and_leaf(&[host]);
    let acceptor = acceptor(chain, key);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(Mutex::new(Served {
        status: "200 OK".into(),
        content_type: "text/plain; charset=utf-8".into(),
        body: policy.to_string(),
    }));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (s, r) = (served.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let (acceptor, served, requests) = (acceptor.clone(), s.clone(), r.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else { return };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                requests.lock().unwrap().push(head.lines().next().unwrap_or("").to_string());
                let served = served.lock().unwrap().clone();
                let response = format!(
                    "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    served.status,
                    served.content_type,
                    served.body.len(),
                    served.body
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    PolicyServer { port, ca_pem, served, requests }
}

//! Fetching a domain's MTA-STS policy file (RFC 8461 §3.3): `GET
//! https://mta-sts.<domain>/.well-known/mta-sts.txt` over HTTP/1.1 (hyper) on TLS whose
//! certificate must be valid for `mta-sts.<domain>` under the trusted roots. Only a `200` with
//! a `text/plain` body counts; redirects are not followed (§3.3). The whole exchange has a
//! time limit and the body a size limit, so a slow or hostile web server cannot hold a
//! delivery.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use mailstead_dns::Resolver;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::route;

/// The largest policy file read (RFC 8461 §3.3 suggests 64 KiB).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// The path of the policy file.
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// How policies are fetched.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Verified TLS, ALPN `http/1.1`.
    pub tls: Arc<ClientConfig>,
    /// Time for the whole fetch (connect, TLS, request, body).
    pub timeout: Duration,
    /// The HTTPS port (443; tests use others).
    pub port: u16,
}

/// Why no policy text came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MTA-STS policy fetch from {host}: {detail}")]
pub struct FetchError {
    /// `mta-sts.<domain>`.
    pub host: String,
    /// What went wrong.
    pub detail: String,
}

impl Fetcher {
    /// A fetcher on `verified` (a copy gets ALPN `http/1.1`).
    pub fn new(verified: &ClientConfig) -> Fetcher {
        let mut tls = verified.clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Fetcher { tls: Arc::new(tls), timeout: Duration::from_secs(30), port: 443 }
    }

    /// The policy text of `domain`.
    pub async fn fetch(&self, resolver: &dyn Resolver, domain: &str) -> Result<String, FetchError> {
        let host = format!("mta-sts.{}", domain.trim_end_matches('.').to_ascii_lowercase());
        let err = |detail: String| FetchError { host: host.clone(), detail };
        match tokio::time::timeout(self.timeout, self.fetch_from(resolver, &host)).await {
            Ok(result) => result.map_err(err),
            Err(_) => Err(err(format!("no answer within {} s", self.timeout.as_secs()))),
        }
    }

    async fn fetch_from(&self, resolver: &dyn Resolver, host: &str) -> Result<String, String> {
        let ips = route::addresses(resolver, host).await.map_err(|e| e.to_string())?;
        if ips.is_empty() {
            return Err("the host has no address".into());
        }
        let mut last = String::new();
        let mut tcp = None;
        for ip in ips {
            match tokio::net::TcpStream::connect(SocketAddr::new(ip, self.port)).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = format!("cannot connect to [{ip}]:{}: {e}", self.port),
            }
        }
        let tcp = tcp.ok_or(last)?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("bad host name: {e}"))?;
        let tls =
            TlsConnector::from(self.tls.clone()).connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let driver = tokio::spawn(connection);
        let request = hyper::Request::get(POLICY_PATH)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, concat!("Mailstead/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        let result = async {
            let response = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"))?;
            if response.status() != hyper::StatusCode::OK {
                return Err(format!("HTTP status {} (only 200 is accepted)", response.status()));
            }
            let media = response
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media != "text/plain" {
                return Err(format!("content type {media:?}, not text/plain"));
            }
            let body = Limited::new(response.into_body(), MAX_POLICY_BYTES)
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            String::from_utf8(body.to_vec()).map_err(|_| "the policy is not UTF-8".to_string())
        }
        .await;
        driver.abort();
        result
    }
}

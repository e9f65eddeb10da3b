//! Helpers for Mailstead's tests: a real SQLite store in a temp directory with domains and
//! accounts, a self-signed TLS setup for `localhost` with a matching client configuration.
//! Tests use real components, never mocks; this crate only saves them the set-up lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use mailstead_store::Store;
use mailstead_store::model::NewAccount;
use mailstead_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};
use mailstead_types::{Address, Domain};

/// A store in a temp directory, removed when dropped.
pub struct TestStore {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The temp directory holding the data directory (`dir/data`) and TLS files (`dir/tls`).
    pub dir: tempfile::TempDir,
}

impl TestStore {
    /// Makes a store with `domains` and an account for each of `accounts` (password hash is a
    /// placeholder the store does not check; use [`mailstead_store::password::hash`] when a
    /// test logs in).
    pub async fn new(domains: &[&str], accounts: &[&str]) -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteOptions {
            inline_blob_max: 64 * 1024,
            group_commit_max_batch: 64,
            mode: OpenMode::Server,
            ..Default::default()
        };
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("data"), options).expect("open store"));
        for d in domains {
            store.add_domain(&Domain::parse(d).expect("domain")).await.expect("add domain");
        }
        for a in accounts {
            let new = NewAccount {
                address: Address::parse(a).expect("address"),
                password_hash: "$test$".into(),
                quota_bytes: 0,
            };
            store.add_account(new).await.expect("add account");
        }
        TestStore { store, dir }
    }
}

/// A self-signed certificate for `localhost`, its server acceptor and a client connector that
/// trusts it.
pub struct TestTls {
    /// Server side.
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// Client side, trusting only the test certificate.
    pub connector: tokio_rustls::TlsConnector,
    /// The certificate file (PEM).
    pub cert: PathBuf,
}

/// Makes the TLS setup in `dir`.
pub fn test_tls(dir: &std::path::Path) -> TestTls {
    use rustls::pki_types::pem::PemObject;
    let paths =
        mailstead_net::tls::generate_self_signed(&["localhost".to_string()], dir).expect("certificate");
    let key = mailstead_net::tls::load_certified_key(&paths.cert, &paths.key).expect("load certificate");
    let acceptor =
        tokio_rustls::TlsAcceptor::from(mailstead_net::tls::server_config(vec![key]).expect("server config"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(&paths.cert).expect("read certificate") {
        roots.add(cert.expect("certificate")).expect("trust certificate");
    }
    let client =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    TestTls { acceptor, connector: tokio_rustls::TlsConnector::from(Arc::new(client)), cert: paths.cert }
}

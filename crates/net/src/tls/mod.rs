//! TLS for the Mailstead servers: certificates, the SNI resolver and the rustls server config.
//!
//! Everything here uses the aws-lc-rs [`CryptoProvider`](rustls::crypto::CryptoProvider)
//! explicitly, never the process-wide default, so no global state is needed.
//!
//! - [`generate_self_signed`] writes `cert.pem` and `key.pem` for `mailstead init --dev`.
//! - [`load_certified_key`] reads an operator's PEM chain and key and checks they belong together.
//! - [`SniResolver`] picks a certificate by the name the client asked for (SNI).
//! - [`server_config`] builds the [`rustls::ServerConfig`] shared by all TLS listeners.
//! - [`TlsInfo`] describes a finished handshake for `Received:` headers and logs.
//!
//! The private keys are only ever held inside [`rustls::sign::CertifiedKey`]; protocol code
//! never sees them.

mod info;
mod load;
mod selfsigned;
mod sni;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::sign::CertifiedKey;

pub use info::TlsInfo;
pub use load::load_certified_key;
pub use selfsigned::{CertPaths, generate_self_signed};
pub use sni::SniResolver;

/// Errors from certificate generation, loading and TLS configuration.
///
/// Every variant that concerns a file names it, so an operator can fix the configuration from
/// the message alone.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A file is not valid PEM (broken base64, missing END line, ...).
    #[error("{}: invalid PEM: {detail}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser reported.
        detail: String,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("{}: no certificate found in file", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key section (PKCS#8, PKCS#1 or SEC1).
    #[error("{}: no private key found in file", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key could not be used (unsupported algorithm or malformed key).
    #[error("{}: unusable private key: {source}", path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What rustls reported.
        source: rustls::Error,
    },
    /// The end-entity certificate could not be parsed.
    #[error("{what}: cannot parse certificate: {detail}")]
    BadCertificate {
        /// The file, or a description of where the certificate came from.
        what: String,
        /// What the parser reported.
        detail: String,
    },
    /// The private key does not belong to the first certificate of the chain.
    #[error("private key {} does not match certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// Writing a generated certificate or key failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file (or directory) being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// rcgen could not generate the self-signed certificate (e.g. an invalid host name).
    #[error("cannot generate self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A TLS server needs at least one certificate.
    #[error("no TLS certificate configured")]
    NoCertificates,
    /// rustls rejected the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// The crypto provider used for every TLS server in Mailstead: aws-lc-rs with its defaults.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds the rustls server configuration shared by all TLS listeners (implicit and STARTTLS).
///
/// TLS 1.2 and 1.3 with the aws-lc-rs provider's safe defaults; no client certificates. The
/// certificate is chosen per handshake by an [`SniResolver`] over `certs`; the first one is the
/// default for clients that send no SNI or an unknown name. Errors if `certs` is empty or a
/// certificate cannot be parsed.
pub fn server_config(certs: Vec<Arc<CertifiedKey>>) -> Result<Arc<ServerConfig>, TlsError> {
    let resolver = SniResolver::new(certs)?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    Ok(Arc::new(config))
}

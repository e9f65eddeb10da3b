//! TLS for outbound connections. Two client configurations:
//!
//! - **opportunistic**: STARTTLS whenever the server offers it, certificate not checked (like
//!   Postfix's `smtp_tls_security_level = may`, RFC 7435): encryption against passive
//!   eavesdroppers, and never worse than plaintext. The handshake signatures are still
//!   verified, only the chain and name are not.
//! - **verified**: the system's trust roots (plus an optional extra CA file), certificate and
//!   name checked — for smart hosts and, later, MTA-STS `enforce` domains.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The two client configurations, built once.
#[derive(Debug, Clone)]
pub struct TlsClients {
    /// No certificate checks.
    pub opportunistic: Arc<ClientConfig>,
    /// System roots and the extra CA.
    pub verified: Arc<ClientConfig>,
}

/// Could not build the TLS configuration.
#[derive(Debug, thiserror::Error)]
#[error("outbound TLS setup: {0}")]
pub struct TlsSetupError(String);

impl TlsClients {
    /// Builds both; `extra_ca_pem` adds trusted roots (a private CA, or a test's own).
    pub fn new(extra_ca_pem: Option<&[u8]>) -> Result<TlsClients, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if let Some(pem) = extra_ca_pem {
            use rustls::pki_types::pem::PemObject;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| TlsSetupError(format!("extra CA file: {e}")))?;
                roots.add(cert).map_err(|e| TlsSetupError(format!("extra CA file: {e}")))?;
            }
        }
        let verified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let opportunistic = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        Ok(TlsClients { opportunistic: Arc::new(opportunistic), verified: Arc::new(verified) })
    }
}

/// Accepts any certificate chain but checks the handshake signatures (also the signature half
/// of other verifiers, such as DANE's).
#[derive(Debug)]
pub(crate) struct AnyCertificate(pub(crate) Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

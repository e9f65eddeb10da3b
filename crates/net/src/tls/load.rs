//! Loading an operator's certificate chain and private key from PEM files.
//!
//! The result is a [`CertifiedKey`]: the chain plus a signing key from the aws-lc-rs provider.
//! The key is checked against the end-entity certificate here, at startup, so a mismatched pair
//! is reported with both file names instead of failing every handshake later.

use std::path::Path;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls::{Error as RustlsError, InconsistentKeys};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{TlsError, provider};

/// Loads a certificate chain (`cert_path`, leaf first) and its private key (`key_path`).
///
/// The key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC); it may also sit in the certificate file
/// (pass the same path twice). Fails with the file name and the reason: missing file, no
/// certificate in file, no key in file, unsupported key, or key not matching the certificate.
/// Blocking file I/O: call it at startup (or from `spawn_blocking` on reload).
pub fn load_certified_key(cert_path: &Path, key_path: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = read_chain(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey { path: key_path.to_path_buf() },
        other => pem_error(key_path, other),
    })?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|source| TlsError::BadKey { path: key_path.to_path_buf(), source })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // Unknown: the key type cannot report its public key; nothing to compare.
        Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(Arc::new(certified)),
        Err(RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch { cert: cert_path.to_path_buf(), key: key_path.to_path_buf() })
        }
        Err(other) => {
            Err(TlsError::BadCertificate { what: cert_path.display().to_string(), detail: other.to_string() })
        }
    }
}

/// Reads every `CERTIFICATE` section of a PEM file, in order.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_path_buf() });
    }
    Ok(chain)
}

fn pem_error(path: &Path, err: pem::Error) -> TlsError {
    match err {
        pem::Error::Io(source) => TlsError::Read { path: path.to_path_buf(), source },
        other => TlsError::Pem { path: path.to_path_buf(), detail: other.to_string() },
    }
}

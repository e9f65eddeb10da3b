//! Choosing the server certificate by the name the client asked for (SNI, RFC 6066 §3).
//!
//! One Mailstead instance may serve several domains (`mail.example.com`, `mail.example.org`),
//! each with its own certificate. [`SniResolver`] indexes the certificates by the DNS names in
//! their subjectAltName extension and answers each ClientHello:
//!
//! 1. an exact name match (case-insensitive, trailing dot ignored);
//! 2. else a wildcard `*.example.com`, which covers exactly one extra label (RFC 6125 §6.4.3):
//!    `mail.example.com` but neither `example.com` nor `a.b.example.com`;
//! 3. else the default certificate (the first one given), also used when the client sends no
//!    SNI at all, as many SMTP clients do. Refusing the handshake instead would only push such
//!    clients back to plaintext.
//!
//! When two certificates claim the same name, the earlier one wins, so the order of the
//! configuration is the operator's priority. Names are read from subjectAltName only; the
//! subject common name is ignored, as browsers and the CA/Browser Forum rules do.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use x509_parser::extensions::GeneralName;

use super::TlsError;

/// A [`ResolvesServerCert`] that picks a certificate by SNI, with a default.
pub struct SniResolver {
    default: Arc<CertifiedKey>,
    /// Lowercase name → certificate.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Lowercase parent domain of a `*.` name (`example.com` for `*.example.com`) → certificate.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    /// Indexes `certs` by their subjectAltName DNS names; the first is the default.
    ///
    /// Errors if `certs` is empty or an end-entity certificate cannot be parsed. A certificate
    /// without DNS names is accepted (it can still be the default, e.g. for an IP-only setup).
    pub fn new(certs: Vec<Arc<CertifiedKey>>) -> Result<Self, TlsError> {
        let default = certs.first().cloned().ok_or(TlsError::NoCertificates)?;
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for (index, key) in certs.iter().enumerate() {
            for name in dns_names(key, index)? {
                let name = normalize(&name);
                let map = match name.strip_prefix("*.") {
                    Some(parent) => wildcard.entry(parent.to_owned()),
                    None => exact.entry(name),
                };
                map.or_insert_with(|| Arc::clone(key));
            }
        }
        Ok(Self { default, exact, wildcard })
    }

    /// The certificate for a client that asked for `server_name` (`None`: no SNI sent).
    pub fn lookup(&self, server_name: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = server_name else { return &self.default };
        let name = normalize(name);
        if let Some(key) = self.exact.get(&name) {
            return key;
        }
        let parent = name.split_once('.').map(|(_, parent)| parent);
        parent.and_then(|p| self.wildcard.get(p)).unwrap_or(&self.default)
    }

    /// Every name this resolver answers for, sorted (wildcards as `*.parent`); for diagnostics.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.exact.keys().cloned().chain(self.wildcard.keys().map(|p| format!("*.{p}"))).collect();
        names.sort();
        names
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(self.lookup(client_hello.server_name())))
    }
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver").field("names", &self.names()).finish_non_exhaustive()
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The DNS names in the subjectAltName of the end-entity certificate of `key`.
fn dns_names(key: &CertifiedKey, index: usize) -> Result<Vec<String>, TlsError> {
    let bad =
        |detail: String| TlsError::BadCertificate { what: format!("TLS certificate #{}", index + 1), detail };
    let der = key.end_entity_cert().map_err(|e| bad(e.to_string()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
    let Some(san) = cert.subject_alternative_name().map_err(|e| bad(e.to_string()))? else {
        return Ok(Vec::new());
    };
    Ok(san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(name) => Some((*name).to_owned()),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
mod tests {
    use super::*;

    fn key(names: &[&str]) -> Arc<CertifiedKey> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let ck = rcgen::generate_simple_self_signed(names).unwrap();
        let der = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
        let signing = super::super::provider().key_provider.load_private_key(der).unwrap();
        Arc::new(CertifiedKey::new(vec![ck.cert.der().clone()], signing))
    }

    #[test]
    fn exact_wildcard_and_default() {
        let default = key(&["mail.example.com", "127.0.0.1"]);
        let other = key(&["MAIL.example.org"]);
        let wild = key(&["*.example.net", "example.net"]);
        let r = SniResolver::new(vec![default.clone(), other.clone(), wild.clone()]).unwrap();
        assert_eq!(r.names(), ["*.example.net", "example.net", "mail.example.com", "mail.example.org"]);

        assert!(Arc::ptr_eq(r.lookup(Some("mail.example.com")), &default));
        assert!(Arc::ptr_eq(r.lookup(Some("Mail.Example.ORG.")), &other));
        assert!(Arc::ptr_eq(r.lookup(Some("imap.example.net")), &wild));
        assert!(Arc::ptr_eq(r.lookup(Some("example.net")), &wild));
        // A wildcard covers exactly one label.
        assert!(Arc::ptr_eq(r.lookup(Some("a.b.example.net")), &default));
        assert!(Arc::ptr_eq(r.lookup(Some("unknown.test")), &default));
        assert!(Arc::ptr_eq(r.lookup(None), &default));
    }

    #[test]
    fn exact_beats_wildcard_and_first_claim_wins() {
        let wild = key(&["*.example.com"]);
        let exact = key(&["mail.example.com"]);
        let dup = key(&["mail.example.com"]);
        let r = SniResolver::new(vec![wild.clone(), exact.clone(), dup]).unwrap();
        assert!(Arc::ptr_eq(r.lookup(Some("mail.example.com")), &exact));
        assert!(Arc::ptr_eq(r.lookup(Some("imap.example.com")), &wild));
    }

    #[test]
    fn empty_list_is_an_error() {
        assert!(matches!(SniResolver::new(Vec::new()), Err(TlsError::NoCertificates)));
    }
}

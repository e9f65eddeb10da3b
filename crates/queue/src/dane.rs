//! DANE for SMTP (RFC 7672): TLS to an MX host authenticated by the TLSA records its signed
//! zone publishes at `_25._tcp.<host>`, instead of by a certificate authority.
//!
//! - [`usable`] keeps the records SMTP may use (RFC 7672 §3.1): DANE-TA(2) and DANE-EE(3), with
//!   selector Cert(0) or SPKI(1) and matching Full(0), SHA2-256(1) or SHA2-512(2). PKIX usages
//!   (0, 1) are not usable for SMTP.
//! - [`DaneVerifier`] checks the server's chain against them: a DANE-EE record must match the
//!   server's own certificate, and then neither its names nor its dates are checked (§3.1.1);
//!   a DANE-TA record must match a certificate of the chain the server sent, which then serves
//!   as the only trust anchor for a normal chain check with the MX host name (§3.1.2).
//! - [`client_config`] builds the TLS configuration a session to that host uses.
//!
//! Whether DANE applies at all (a DNSSEC-validated MX and TLSA answer) is decided by the runner.

use std::sync::Arc;

use mailstead_dns::TlsaRecord;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256, Sha512};

use crate::tls::AnyCertificate;

/// DANE-TA: the record names a trust anchor of the server's chain.
pub const DANE_TA: u8 = 2;
/// DANE-EE: the record names the server's own certificate or key.
pub const DANE_EE: u8 = 3;

/// The records of `records` that SMTP can use.
pub fn usable(records: &[TlsaRecord]) -> Vec<TlsaRecord> {
    records
        .iter()
        .filter(|r| matches!(r.usage, DANE_TA | DANE_EE) && r.selector <= 1 && r.matching <= 2)
        .filter(|r| match r.matching {
            1 => r.data.len() == 32,
            2 => r.data.len() == 64,
            _ => !r.data.is_empty(),
        })
        .cloned()
        .collect()
}

/// The SHA-256 of a certificate's SubjectPublicKeyInfo (DER in): the data of a `3 1 1`
/// (DANE-EE, SPKI, SHA-256) TLSA record for it.
pub fn spki_sha256(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(Sha256::digest(parsed.tbs_certificate.subject_pki.raw).to_vec())
}

/// Whether `cert` (DER) matches `record`'s selector, matching type and data.
pub fn matches(record: &TlsaRecord, cert: &[u8]) -> bool {
    let selected: Vec<u8> = match record.selector {
        0 => cert.to_vec(),
        1 => match x509_parser::parse_x509_certificate(cert) {
            Ok((_, parsed)) => parsed.tbs_certificate.subject_pki.raw.to_vec(),
            Err(_) => return false,
        },
        _ => return false,
    };
    match record.matching {
        0 => selected == record.data,
        1 => Sha256::digest(&selected).as_slice() == record.data.as_slice(),
        2 => Sha512::digest(&selected).as_slice() == record.data.as_slice(),
        _ => false,
    }
}

/// Checks a server's certificate chain against TLSA records.
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<TlsaRecord>,
    provider: Arc<CryptoProvider>,
    signatures: AnyCertificate,
}

impl DaneVerifier {
    /// A verifier for `records` (already filtered by [`usable`]).
    pub fn new(records: Vec<TlsaRecord>, provider: Arc<CryptoProvider>) -> DaneVerifier {
        DaneVerifier { records, signatures: AnyCertificate(provider.clone()), provider }
    }

    fn mismatch() -> rustls::Error {
        rustls::Error::General("the certificate matches none of the TLSA records (DANE)".into())
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.records.iter().any(|r| r.usage == DANE_EE && matches(r, end_entity)) {
            return Ok(ServerCertVerified::assertion());
        }
        let mut last = Self::mismatch();
        for record in self.records.iter().filter(|r| r.usage == DANE_TA) {
            for (i, cert) in intermediates.iter().enumerate() {
                if !matches(record, cert) {
                    continue;
                }
                let mut roots = RootCertStore::empty();
                if roots.add(cert.clone().into_owned()).is_err() {
                    continue;
                }
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                        .build()
                        .map_err(|e| rustls::Error::General(format!("DANE-TA verifier: {e}")))?;
                match verifier.verify_server_cert(end_entity, &intermediates[..i], server_name, ocsp, now) {
                    Ok(ok) => return Ok(ok),
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}

/// The TLS client configuration for a host with `records` (usable ones).
pub fn client_config(records: Vec<TlsaRecord>) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(DaneVerifier::new(records, provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    fn rec(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> TlsaRecord {
        TlsaRecord { usage, selector, matching, data }
    }

    fn spki(der: &[u8]) -> Vec<u8> {
        let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
        c.tbs_certificate.subject_pki.raw.to_vec()
    }

    #[test]
    fn spki_sha256_is_the_3_1_1_data() {
        let (_, leaf) = chain("mx.example.test");
        let data = spki_sha256(&leaf).unwrap();
        assert_eq!(data, Sha256::digest(spki(&leaf)).to_vec());
        assert!(matches(&rec(3, 1, 1, data), &leaf));
        assert_eq!(spki_sha256(b"not a certificate"), None);
    }

    /// A CA and a leaf for `name` it signed: (ca DER, leaf DER).
    fn chain(name: &str) -> (CertificateDer<'static>, CertificateDer<'static>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        (ca.der().clone(), leaf.der().clone())
    }

    fn verify(
        records: Vec<TlsaRecord>,
        leaf: &CertificateDer<'_>,
        inter: &[CertificateDer<'_>],
        host: &str,
    ) -> bool {
        let v = DaneVerifier::new(usable(&records), Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let name = ServerName::try_from(host.to_string()).unwrap();
        v.verify_server_cert(leaf, inter, &name, &[], UnixTime::now()).is_ok()
    }

    #[test]
    fn usable_records_only() {
        let recs = vec![
            rec(0, 0, 1, vec![0; 32]),
            rec(1, 1, 1, vec![0; 32]),
            rec(2, 0, 1, vec![0; 32]),
            rec(3, 1, 1, vec![0; 32]),
            rec(3, 1, 1, vec![0; 31]),
            rec(3, 2, 1, vec![0; 32]),
            rec(3, 1, 3, vec![0; 32]),
            rec(3, 1, 2, vec![0; 64]),
        ];
        let u = usable(&recs);
        assert_eq!(u.len(), 3);
        assert!(u.iter().all(|r| r.usage >= 2));
    }

    #[test]
    fn dane_ee_matches_the_leaf_by_key_or_certificate_whatever_its_name() {
        let (_, leaf) = chain("mx.example.test");
        let key_sha256 = Sha256::digest(spki(&leaf)).to_vec();
        assert!(verify(vec![rec(3, 1, 1, key_sha256.clone())], &leaf, &[], "mx.example.test"));
        assert!(
            verify(vec![rec(3, 1, 1, key_sha256)], &leaf, &[], "other.example.test"),
            "no name check for DANE-EE"
        );
        assert!(verify(
            vec![rec(3, 0, 2, Sha512::digest(leaf.as_ref()).to_vec())],
            &leaf,
            &[],
            "mx.example.test"
        ));
        assert!(verify(vec![rec(3, 0, 0, leaf.to_vec())], &leaf, &[], "mx.example.test"));
        let (_, other) = chain("mx.example.test");
        assert!(!verify(
            vec![rec(3, 1, 1, Sha256::digest(spki(&other)).to_vec())],
            &leaf,
            &[],
            "mx.example.test"
        ));
        assert!(
            !verify(vec![rec(1, 1, 1, Sha256::digest(spki(&leaf)).to_vec())], &leaf, &[], "mx.example.test"),
            "PKIX-EE is not usable"
        );
    }

    #[test]
    fn dane_ta_anchors_a_chain_check_with_the_host_name() {
        let (ca, leaf) = chain("mx.example.test");
        let ta = vec![rec(2, 1, 1, Sha256::digest(spki(&ca)).to_vec())];
        assert!(verify(ta.clone(), &leaf, std::slice::from_ref(&ca), "mx.example.test"));
        assert!(
            !verify(ta.clone(), &leaf, std::slice::from_ref(&ca), "wrong.example.test"),
            "the name is checked"
        );
        assert!(!verify(ta.clone(), &leaf, &[], "mx.example.test"), "the anchor must be in the chain");
        let (other_ca, _) = chain("x.test");
        assert!(!verify(ta, &leaf, &[other_ca], "mx.example.test"));
    }
}

//! DKIM signing keys on disk: generation, the files, and the public halves to publish.
//!
//! Layout: `<dkim dir>/<domain>/<selector>.pem`, one PKCS#8 private key per file (mode 0600, in
//! directories of mode 0700). The selector is the file name, so an operator can drop in a key
//! of their own (PKCS#8, or PKCS#1 for RSA) under the selector they publish.
//!
//! Selector scheme of generated keys: `ms<yyyymm><a>` — `ms` for Mailstead, the UTC year and
//! month of creation, and `e` for Ed25519 or `r` for RSA (e.g. `ms202611e`, `ms202611r`). A
//! new pair for a rotation sorts after the old one, and the newest selector of each algorithm
//! signs (see [`super::Signer`]), so rotating is: generate, publish, wait for the DNS TTL,
//! restart, then remove the old files and records.
//!
//! Only this module and [`super::sign`] read the private key files (DESIGN.md security model:
//! the keys are read by one component).

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mailstead_types::Domain;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use super::DkimError;

/// The signature algorithms Mailstead signs with (RFC 8463 recommends both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAlgorithm {
    /// Ed25519-SHA256 (RFC 8463).
    Ed25519,
    /// RSA-SHA256 with a 2048-bit key (RFC 6376, RFC 8301).
    Rsa,
}

impl KeyAlgorithm {
    /// The last letter of generated selectors.
    fn suffix(self) -> char {
        match self {
            KeyAlgorithm::Ed25519 => 'e',
            KeyAlgorithm::Rsa => 'r',
        }
    }

    /// The `k=` tag of the DNS record (RFC 6376 §3.6.1, RFC 8463 §4).
    pub fn dns_name(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa => "rsa",
        }
    }
}

/// A key's public half as it is published in DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The selector (`s=` of signatures, the `<selector>._domainkey` label).
    pub selector: String,
    /// The algorithm.
    pub algorithm: KeyAlgorithm,
    /// The TXT record's value, e.g. `v=DKIM1; k=ed25519; p=…` (RFC 6376 §3.6.1).
    pub record: String,
}

impl PublicKey {
    /// The record's owner name: `<selector>._domainkey.<domain>`.
    pub fn name(&self, domain: &Domain) -> String {
        format!("{}._domainkey.{domain}", self.selector)
    }
}

/// A private key ready to sign.
pub(crate) enum SigningKey {
    Ed25519(Ed25519Key),
    Rsa(RsaKey<Sha256>),
}

/// One key file, loaded.
pub(crate) struct LoadedKey {
    pub selector: String,
    pub algorithm: KeyAlgorithm,
    pub key: SigningKey,
    /// Public key bytes for the record: raw for Ed25519, SubjectPublicKeyInfo DER for RSA.
    pub public: Vec<u8>,
}

/// The directory holding every domain's keys (`DIR/dkim`).
#[derive(Debug, Clone)]
pub struct KeyDir {
    root: PathBuf,
}

impl KeyDir {
    /// Keys under `root` (created when keys are generated).
    pub fn new(root: impl Into<PathBuf>) -> KeyDir {
        KeyDir { root: root.into() }
    }

    /// The directory of one domain's keys.
    pub fn domain_dir(&self, domain: &Domain) -> PathBuf {
        self.root.join(domain.as_str())
    }

    /// Generates the keys a domain lacks: an Ed25519 key unless it has one, an RSA-2048 key
    /// unless it has one. `now` (seconds since the epoch) names the selectors. Returns the
    /// selectors created (empty when the domain had both).
    pub fn ensure(&self, domain: &Domain, now: i64) -> Result<Vec<String>, DkimError> {
        let existing = self.load(domain)?;
        let (year, month, _) = mailstead_types::utc_date(now);
        let mut created = Vec::new();
        for algorithm in [KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa] {
            if existing.iter().any(|k| k.algorithm == algorithm) {
                continue;
            }
            let selector = format!("ms{year:04}{month:02}{}", algorithm.suffix());
            let der = generate(algorithm)?;
            self.write_key(domain, &selector, &der)?;
            created.push(selector);
        }
        Ok(created)
    }

    /// The public keys of a domain, sorted by selector.
    pub fn public_keys(&self, domain: &Domain) -> Result<Vec<PublicKey>, DkimError> {
        let engine = base64::engine::general_purpose::STANDARD;
        Ok(self
            .load(domain)?
            .into_iter()
            .map(|k| PublicKey {
                record: format!("v=DKIM1; k={}; p={}", k.algorithm.dns_name(), engine.encode(&k.public)),
                selector: k.selector,
                algorithm: k.algorithm,
            })
            .collect())
    }

    /// Every key of a domain, sorted by selector; none when the domain has no directory.
    pub(crate) fn load(&self, domain: &Domain) -> Result<Vec<LoadedKey>, DkimError> {
        let dir = self.domain_dir(domain);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(DkimError::Io { path: dir, source }),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry.map_err(|source| DkimError::Io { path: dir.clone(), source })?.path();
            let Some(selector) = selector_of(&path) else { continue };
            let pem = std::fs::read(&path).map_err(|source| DkimError::Io { path: path.clone(), source })?;
            keys.push(parse_key(&selector, &pem).map_err(|reason| DkimError::BadKey { path, reason })?);
        }
        keys.sort_by(|a, b| a.selector.cmp(&b.selector));
        Ok(keys)
    }

    /// Writes a PKCS#8 key as PEM: a private temp file, fsync, rename, fsync the directory.
    fn write_key(&self, domain: &Domain, selector: &str, pkcs8: &[u8]) -> Result<(), DkimError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = self.domain_dir(domain);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DkimError::Io { path, source }
        };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io(&dir))?;
        let path = dir.join(format!("{selector}.pem"));
        let tmp = dir.join(format!(".{selector}.pem.tmp"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        file.write_all(pem_encode("PRIVATE KEY", pkcs8).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io(&dir))?;
        Ok(())
    }
}

/// The selector a key file stands for: `<selector>.pem` with a valid DNS label as selector.
fn selector_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let selector = name.strip_suffix(".pem")?;
    let valid = !selector.is_empty()
        && selector.len() <= 63
        && !selector.starts_with('-')
        && selector.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then(|| selector.to_ascii_lowercase())
}

/// A new private key, PKCS#8 DER.
fn generate(algorithm: KeyAlgorithm) -> Result<Vec<u8>, DkimError> {
    let failed = |_| DkimError::Generate(algorithm);
    let der = match algorithm {
        KeyAlgorithm::Ed25519 => {
            aws_lc_rs::signature::Ed25519KeyPair::generate().and_then(|k| k.as_der()).map_err(failed)?
        }
        KeyAlgorithm::Rsa => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map_err(failed)?,
    };
    Ok(der.as_ref().to_vec())
}

/// Parses a PEM private key: Ed25519 (PKCS#8) or RSA (PKCS#8 or PKCS#1).
fn parse_key(selector: &str, pem: &[u8]) -> Result<LoadedKey, String> {
    let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("not a PEM private key: {e}"))?;
    let loaded =
        |algorithm, key, public| LoadedKey { selector: selector.to_string(), algorithm, key, public };
    if let PrivateKeyDer::Pkcs8(pkcs8) = &der
        && let Ok(key) = Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8.secret_pkcs8_der())
    {
        let public = key.public_key();
        return Ok(loaded(KeyAlgorithm::Ed25519, SigningKey::Ed25519(key), public));
    }
    let pair = match &der {
        PrivateKeyDer::Pkcs8(k) => aws_lc_rs::rsa::KeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => aws_lc_rs::rsa::KeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err("neither an Ed25519 nor an RSA key".into()),
    }
    .map_err(|e| format!("neither an Ed25519 nor an RSA key: {e}"))?;
    let public =
        pair.public_key().as_der().map_err(|_| "cannot encode the RSA public key")?.as_ref().to_vec();
    let key = RsaKey::<Sha256>::from_key_der(der.clone_key()).map_err(|e| e.to_string())?;
    Ok(loaded(KeyAlgorithm::Rsa, SigningKey::Rsa(key), public))
}

/// PEM text (RFC 7468): base64 in lines of 64 characters between the labels.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23.
    const NOW: i64 = 1_795_437_296;

    #[test]
    fn generates_both_keys_once_with_dated_selectors_and_private_files() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeyDir::new(tmp.path().join("dkim"));
        let domain = Domain::parse("example.test").unwrap();
        assert!(keys.public_keys(&domain).unwrap().is_empty());
        assert_eq!(keys.ensure(&domain, NOW).unwrap(), ["ms202611e", "ms202611r"]);
        assert!(keys.ensure(&domain, NOW + 86_400 * 90).unwrap().is_empty(), "a domain with keys keeps them");
        let dir = keys.domain_dir(&domain);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("ms202611r.pem")), 0o600);
        let pem = std::fs::read_to_string(dir.join("ms202611e.pem")).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");

        let public = keys.public_keys(&domain).unwrap();
        assert_eq!(public.len(), 2);
        assert_eq!(public[0].name(&domain), "ms202611e._domainkey.example.test");
        assert_eq!(public[0].algorithm, KeyAlgorithm::Ed25519);
        // RFC 8463 §4: the raw 32-byte key, 44 base64 characters.
        assert_eq!(public[0].record.len(), "v=DKIM1; k=ed25519; p=".len() + 44, "{}", public[0].record);
        // RSA: SubjectPublicKeyInfo of a 2048-bit key (MIIBIjAN... is its DER prefix).
        assert!(public[1].record.starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"), "{}", public[1].record);
    }

    #[test]
    fn ignores_other_files_and_reports_bad_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeyDir::new(tmp.path());
        let domain = Domain::parse("example.test").unwrap();
        let dir = keys.domain_dir(&domain);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("README"), "notes").unwrap();
        std::fs::write(dir.join(".x.pem.tmp"), "partial").unwrap();
        assert!(keys.public_keys(&domain).unwrap().is_empty());
        std::fs::write(dir.join("bad.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap();
        let err = keys.public_keys(&domain).unwrap_err();
        assert!(matches!(err, DkimError::BadKey { .. }), "{err}");
    }

    #[test]
    fn accepts_an_operators_own_key() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeyDir::new(tmp.path());
        let domain = Domain::parse("example.test").unwrap();
        std::fs::create_dir_all(keys.domain_dir(&domain)).unwrap();
        let der = generate(KeyAlgorithm::Ed25519).unwrap();
        std::fs::write(keys.domain_dir(&domain).join("default.pem"), pem_encode("PRIVATE KEY", &der))
            .unwrap();
        let public = keys.public_keys(&domain).unwrap();
        assert_eq!(public[0].selector, "default");
        assert_eq!(keys.ensure(&domain, NOW).unwrap(), ["ms202611r"], "only the missing algorithm is made");
    }
}

//! Signing outgoing mail: two DKIM signatures per message, Ed25519-SHA256 and RSA-SHA256
//! (RFC 8463 §3 recommends both until Ed25519 is verified everywhere), relaxed/relaxed
//! canonicalization (RFC 6376 §3.4: survives the header refolding and whitespace changes of
//! relays), with the newest key of each algorithm of the signing domain.
//!
//! Signed header fields ([`SIGNED_HEADERS`]): the ones a reader sees or a client acts on. Each
//! listed field is signed in every instance present; a listed field that is absent is signed
//! as absent (RFC 6376 §5.4.2), so nobody can add it later; `From` is listed once more than it
//! appears (oversigned), so a second `From:` cannot be added either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use mailstead_types::Domain;

use super::DkimError;
use super::keys::{KeyDir, LoadedKey, SigningKey};

/// The header fields signed, in `h=` order; `From` twice is the oversigning.
pub const SIGNED_HEADERS: [&str; 14] = [
    "From",
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
];

/// A signed message's new header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The `DKIM-Signature:` fields, folded, each ending in CRLF: prepend them to the message.
    pub headers: String,
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selectors that signed, Ed25519 first.
    pub selectors: Vec<String>,
}

/// One domain's ready signers.
struct DomainSigners {
    ed25519: Option<(String, DkimSigner<Ed25519Key, Done>)>,
    rsa: Option<(String, DkimSigner<RsaKey<Sha256>, Done>)>,
}

/// Signs messages with the keys of [`KeyDir`]. Keys are read once per domain and kept; a
/// domain without keys is looked up again at its next message (its keys may be generated
/// while the server runs, by `mailstead domain add`).
pub struct Signer {
    keys: KeyDir,
    loaded: Mutex<HashMap<Domain, Arc<DomainSigners>>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer over the keys in `keys`.
    pub fn new(keys: KeyDir) -> Signer {
        Signer { keys, loaded: Mutex::new(HashMap::new()) }
    }

    /// Signs `message` (header and body, CRLF line ends) for `domain`. `Err(NoKey)` when the
    /// domain has no key.
    pub fn sign(&self, domain: &Domain, message: &[u8]) -> Result<Signed, DkimError> {
        let signers = self.signers(domain)?;
        let mut out = Signed { headers: String::new(), domain: domain.to_string(), selectors: Vec::new() };
        let failed = |e: mail_auth::Error| DkimError::Sign(e.to_string());
        if let Some((selector, signer)) = &signers.ed25519 {
            out.headers.push_str(&signer.sign(message).map_err(failed)?.to_header());
            out.selectors.push(selector.clone());
        }
        if let Some((selector, signer)) = &signers.rsa {
            out.headers.push_str(&signer.sign(message).map_err(failed)?.to_header());
            out.selectors.push(selector.clone());
        }
        Ok(out)
    }

    /// The domain's signers, loading its keys on first use.
    fn signers(&self, domain: &Domain) -> Result<Arc<DomainSigners>, DkimError> {
        if let Some(s) = self.lock().get(domain) {
            return Ok(s.clone());
        }
        let mut signers = DomainSigners { ed25519: None, rsa: None };
        // Sorted by selector: the last key of each algorithm is the newest.
        for LoadedKey { selector, key, .. } in self.keys.load(domain)? {
            let d = domain.as_str();
            match key {
                SigningKey::Ed25519(key) => {
                    signers.ed25519 =
                        Some((selector.clone(), configure(DkimSigner::from_key(key), d, &selector)));
                }
                SigningKey::Rsa(key) => {
                    signers.rsa =
                        Some((selector.clone(), configure(DkimSigner::from_key(key), d, &selector)));
                }
            }
        }
        if signers.ed25519.is_none() && signers.rsa.is_none() {
            return Err(DkimError::NoKey(domain.to_string()));
        }
        let signers = Arc::new(signers);
        self.lock().insert(domain.clone(), signers.clone());
        Ok(signers)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Domain, Arc<DomainSigners>>> {
        self.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Domain, selector, signed fields and relaxed/relaxed canonicalization.
fn configure<T: mail_auth::common::crypto::SigningKey>(
    signer: DkimSigner<T>,
    domain: &str,
    selector: &str,
) -> DkimSigner<T, Done> {
    signer
        .domain(domain)
        .selector(selector)
        .headers(SIGNED_HEADERS)
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

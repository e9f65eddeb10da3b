//! DKIM signing of outgoing mail (RFC 6376, RFC 8463): the keys on disk ([`keys`]) and the
//! [`Signer`] ([`sign`]). Verification of incoming mail is in [`crate::auth`].
//!
//! This is the one component that reads the private keys; the rest of the server only asks it
//! to sign a message for a domain, and the operator's tools ask it for the public keys to
//! publish (`mailstead dns`).

pub mod keys;
pub mod sign;

use std::path::PathBuf;

pub use keys::{KeyAlgorithm, KeyDir, PublicKey};
pub use sign::{SIGNED_HEADERS, Signed, Signer};

/// Why keys could not be made or read, or a message not signed.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// A key file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not a usable private key.
    #[error("{}: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Key generation failed (the system's random source).
    #[error("cannot generate a {} key", .0.dns_name())]
    Generate(KeyAlgorithm),
    /// The domain has no key.
    #[error("no DKIM key for {0}")]
    NoKey(String),
    /// Signing failed.
    #[error("DKIM signing failed: {0}")]
    Sign(String),
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mailstead_dns::MemoryResolver;
    use mailstead_types::Domain;

    use super::*;
    use crate::auth::{AuthConfig, Authenticator, DkimStatus, Envelope};

    #[tokio::test]
    async fn both_signatures_verify_with_the_published_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeyDir::new(tmp.path());
        let domain = Domain::parse("example.test").unwrap();
        keys.ensure(&domain, 1_795_437_296).unwrap();
        let zone = MemoryResolver::new();
        for key in keys.public_keys(&domain).unwrap() {
            zone.add_txt(&key.name(&domain), &key.record);
        }

        let message = "From: Alice <alice@example.test>\r\nTo: bob@elsewhere.test\r\nSubject: hi\r\n\
                       Date: Mon, 23 Nov 2026 12:34:56 +0000\r\nMessage-ID: <1@example.test>\r\n\r\n\
                       Hello  Bob.  \r\n\r\n\r\n";
        let signer = Signer::new(keys);
        let signed = signer.sign(&domain, message.as_bytes()).unwrap();
        assert_eq!(signed.selectors, ["ms202611e", "ms202611r"]);
        assert_eq!(signed.headers.matches("DKIM-Signature: ").count(), 2, "{}", signed.headers);
        assert!(signed.headers.contains("a=ed25519-sha256; s=ms202611e; d=example.test; c=relaxed/relaxed"));
        assert!(signed.headers.contains("a=rsa-sha256; s=ms202611r; d=example.test; c=relaxed/relaxed"));
        let unfolded = signed.headers.replace("\r\n\t", "");
        assert!(unfolded.contains("h=Message-ID:Date:Subject:To:From:"), "{unfolded}");
        assert!(unfolded.contains(":From:Cc:Reply-To:"), "From oversigned, absent fields signed: {unfolded}");

        // A relay refolds a header and re-spaces the body: relaxed/relaxed still verifies.
        let relayed = format!("{}{}", signed.headers, message.replace("Subject: hi", "Subject:   hi"));
        let auth = Authenticator::new(Arc::new(zone), AuthConfig::new("mx.elsewhere.test")).await.unwrap();
        let envelope =
            Envelope { remote_ip: "192.0.2.1".parse().unwrap(), helo: "mail.example.test", mail_from: "" };
        let results = auth.verify(&envelope, relayed.as_bytes()).await;
        let verdicts: Vec<_> = results.dkim.iter().map(|d| (d.selector.clone(), d.status)).collect();
        assert_eq!(
            verdicts,
            [("ms202611e".to_string(), DkimStatus::Pass), ("ms202611r".to_string(), DkimStatus::Pass)],
            "{}",
            results.header()
        );

        // A second From added later breaks both.
        let forged = format!("{}From: ceo@example.test\r\n{message}", signed.headers);
        let results = auth.verify(&envelope, forged.as_bytes()).await;
        assert!(results.dkim.iter().all(|d| d.status != DkimStatus::Pass), "{}", results.header());
    }

    #[test]
    fn a_domain_without_keys_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let signer = Signer::new(KeyDir::new(tmp.path()));
        let err =
            signer.sign(&Domain::parse("nokeys.test").unwrap(), b"From: a@nokeys.test\r\n\r\n").unwrap_err();
        assert!(matches!(err, DkimError::NoKey(_)), "{err}");
    }
}

//! Builds message submission (587/465) from `[submission]` and `[server] dev`, and the DKIM
//! signer over `DIR/dkim`; at start, every local domain without keys gets them.

use std::sync::Arc;

use anyhow::{Context, Result};

use mailstead_filter::dkim::{KeyDir, Signer};
use mailstead_filter::spam::outbound::OutboundPolicy;
use mailstead_smtp::submission::rate::RateLimits;
use mailstead_smtp::submission::senders::SenderPolicy;
use mailstead_smtp::submission::{Submission, SubmissionSettings};
use mailstead_store::Store;
use mailstead_store::auth::Authenticator;

use crate::config::{AllowedSenders, Config};
use crate::datadir::DataDir;

/// The DKIM signer, after making the keys of local domains that have none; `None` when
/// `[submission] dkim_sign = false`.
pub async fn signer(config: &Config, data: &DataDir, store: &Arc<dyn Store>) -> Result<Option<Arc<Signer>>> {
    if !config.submission.dkim_sign {
        return Ok(None);
    }
    let keys = KeyDir::new(data.dkim_dir());
    let now = crate::commands::now();
    for domain in store.list_domains().await.context("listing local domains for DKIM keys")? {
        let made = keys.ensure(&domain, now).with_context(|| format!("making DKIM keys for {domain}"))?;
        if !made.is_empty() {
            tracing::warn!(
                domain = %domain,
                selectors = ?made,
                "DKIM keys created; publish them (mailstead dns) or receivers cannot verify the signatures"
            );
        }
    }
    Ok(Some(Arc::new(Signer::new(keys))))
}

/// The submission service both listeners share.
pub fn build(config: &Config, authenticator: Authenticator, signer: Option<Arc<Signer>>) -> Submission {
    let s = &config.submission;
    Submission::new(
        authenticator,
        SubmissionSettings {
            plaintext_auth_on_loopback: config.server.dev,
            senders: match s.allowed_senders {
                AllowedSenders::Own => SenderPolicy::Own,
                AllowedSenders::Domain => SenderPolicy::Domain,
                AllowedSenders::Local => SenderPolicy::AnyLocal,
            },
            limits: RateLimits {
                messages_per_account: s.max_messages_per_hour,
                messages_per_ip: s.max_messages_per_hour_per_ip,
                recipients_per_account: s.max_recipients_per_hour,
            },
            max_recipients_per_message: s.max_recipients_per_message as usize,
            outbound: OutboundPolicy { hold_threshold: s.hold_threshold.0, ..OutboundPolicy::default() },
            signer,
        },
    )
}

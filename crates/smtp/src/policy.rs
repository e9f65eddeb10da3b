//! Recipient policy at RCPT time: local domains only for unauthenticated clients (never an
//! open relay), known users only (accounts, aliases, plus-addressing, catch-all), mailbox not
//! full. Submission (authenticated) may address any domain; other domains and off-site alias
//! targets go to the outbound queue. Each refusal carries the reply the client gets.

use mailstead_proto::smtp::Reply;
use mailstead_store::Store;
use mailstead_store::resolve::{Resolution, resolve_in_local_domain};
use mailstead_types::Address;

use crate::Service;

/// What the policy decided for one recipient.
#[derive(Debug)]
pub enum RecipientDecision {
    /// Deliver to these accounts.
    Accept(Resolution),
    /// Refuse with this reply.
    Reject(Reply),
}

/// Decides on one recipient.
pub async fn check_recipient(
    store: &dyn Store,
    rcpt: &Address,
    plus_separator: Option<char>,
    service: Service,
) -> RecipientDecision {
    let temp_failure = |e: &dyn std::fmt::Display| {
        tracing::warn!(recipient = %rcpt, error = %e, "recipient lookup failed");
        RecipientDecision::Reject(Reply::new(451, "4.3.0", "Temporary lookup failure, try again later"))
    };
    match store.is_local_domain(rcpt.domain()).await {
        Ok(true) => {}
        // RFC 6409 §3.3: relaying is what an authenticated submission is for.
        Ok(false) if service == Service::Submission => {
            return RecipientDecision::Accept(Resolution { local: vec![], remote: vec![rcpt.clone()] });
        }
        Ok(false) if service == Service::Lmtp => {
            return RecipientDecision::Reject(Reply::new(
                550,
                "5.1.1",
                format!("<{rcpt}>: no such user here"),
            ));
        }
        // RFC 5321 §3.6.2 / §7.1: never relay for unauthenticated clients.
        Ok(false) => {
            return RecipientDecision::Reject(Reply::new(
                554,
                "5.7.1",
                format!("<{rcpt}>: Relay access denied"),
            ));
        }
        Err(e) => return temp_failure(&e),
    }
    let resolution = match resolve_in_local_domain(store, rcpt, plus_separator).await {
        Ok(r) => r,
        Err(e) => return temp_failure(&e),
    };
    if resolution.is_empty() {
        return RecipientDecision::Reject(Reply::new(
            550,
            "5.1.1",
            format!("<{rcpt}>: Recipient address rejected: User unknown"),
        ));
    }
    if let Some(full) = resolution.local.iter().find(|a| a.quota_bytes > 0 && a.used_bytes >= a.quota_bytes) {
        tracing::info!(target: "mail", "recipient {rcpt} refused: mailbox of {} is full", full.address);
        return RecipientDecision::Reject(Reply::new(
            452,
            "4.2.2",
            format!("<{rcpt}>: Mailbox full, try again later"),
        ));
    }
    RecipientDecision::Accept(resolution)
}

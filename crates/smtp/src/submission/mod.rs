//! Message submission (RFC 6409) on ports 587 (STARTTLS) and 465 (implicit TLS, RFC 8314):
//! what the driver does differently when a user's mail client, not another server, talks.
//!
//! A submission, step by step (*check → filter → proceed*):
//! 1. AUTH PLAIN or LOGIN, checked by the [`Authenticator`] IMAP and POP3 share, so password
//!    guessing is throttled across protocols. Passwords only travel inside TLS (or, in
//!    development, on loopback); the session refuses MAIL before AUTH with `530 5.7.0`.
//! 2. MAIL FROM: the account's hourly limits ([`rate`]) and the sender rule ([`senders`]):
//!    `451 4.7.1` when a limit is reached, `553 5.7.1` for an address the user may not use.
//! 3. RCPT TO: any syntactically valid address; local ones must exist (as on port 25), the
//!    account's recipients per hour are counted (`451 4.7.1`), and the session caps the
//!    recipients of one message (`452 4.5.3`).
//! 4. End of DATA ([`finish`]): the `From:` field is held to the sender rule, `Message-ID:`
//!    and `Date:` are added when missing (RFC 6409 §8), the message is DKIM-signed for the
//!    From domain, scored for outbound spam, stamped with an authenticated `Received:`; local
//!    recipients get their copies now (no network hop), the rest goes into the outbound
//!    queue — held, with a notice to the postmaster, when the outbound score says so. Only
//!    then `250 2.0.0 Ok: queued as <id>`.
//!
//! Invariant: nothing leaves this server for another domain except through the queue entry
//! written here, and every such entry names the account that submitted it (`auth_user`).

pub mod finish;
mod notice;
pub mod rate;
pub mod senders;

use std::sync::Arc;
use std::time::Instant;

use mailstead_filter::dkim::Signer;
use mailstead_filter::spam::outbound::{OutboundPolicy, RateTracker};
use mailstead_proto::smtp::{AuthMechanism, AuthVerdict, MailParams, Reply, Verdict};
use mailstead_store::auth::{AuthError, Authenticator};
use mailstead_types::Address;

use crate::delivery::event;
use crate::driver::Driver;
use rate::{RateLimiter, RateLimits};
use senders::{SenderPolicy, may_send_as};

/// Submission settings, fixed at start.
#[derive(Debug, Clone)]
pub struct SubmissionSettings {
    /// Offer AUTH without TLS to clients on loopback (`--dev`).
    pub plaintext_auth_on_loopback: bool,
    /// Which addresses a user may send as.
    pub senders: SenderPolicy,
    /// Hourly limits per account and per client address.
    pub limits: RateLimits,
    /// Recipients one message may have (the session answers `452 4.5.3` beyond).
    pub max_recipients_per_message: usize,
    /// Outbound scoring: hold threshold and rate-anomaly rules.
    pub outbound: OutboundPolicy,
    /// DKIM signing; `None` sends unsigned.
    pub signer: Option<Arc<Signer>>,
}

/// Everything the submission listeners share: give both the same value (clones share the
/// authenticator's throttling, the rate windows and the outbound history).
#[derive(Clone)]
pub struct Submission {
    /// Password checks (shared with IMAP and POP3).
    pub authenticator: Authenticator,
    /// The settings.
    pub settings: Arc<SubmissionSettings>,
    /// Hourly limits' windows.
    pub rates: Arc<RateLimiter>,
    /// Each sender's hourly history, for the outbound rate-anomaly rules.
    pub outbound_rates: Arc<RateTracker>,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Submission {
    /// Submission with fresh rate windows and outbound history.
    pub fn new(authenticator: Authenticator, settings: SubmissionSettings) -> Submission {
        Submission {
            authenticator,
            rates: Arc::new(RateLimiter::new(settings.limits)),
            settings: Arc::new(settings),
            outbound_rates: Arc::new(RateTracker::new()),
        }
    }
}

impl Driver<'_> {
    /// Checks AUTH credentials (RFC 4954 §6 replies: 235, 535 5.7.8, 454 4.7.0).
    pub(crate) async fn authenticate(
        &mut self,
        submission: &Submission,
        mechanism: AuthMechanism,
        username: &str,
        password: &str,
    ) -> AuthVerdict {
        let ip = self.peer.ip();
        match submission.authenticator.authenticate(ip, username, password).await {
            Ok(account) => {
                tracing::info!(target: "mail", "submission: {ip} authenticated as {} ({mechanism:?})", account.address);
                let user = account.address.to_string();
                self.account = Some(account);
                AuthVerdict::Ok { user }
            }
            Err(AuthError::Invalid) => {
                tracing::info!(target: "mail", "submission: authentication failed for {username:?} from {ip}");
                AuthVerdict::Failed
            }
            Err(e @ AuthError::Throttled { .. }) => {
                tracing::info!(target: "mail", "submission: authentication for {username:?} from {ip} refused: {e}");
                AuthVerdict::TemporaryFailure
            }
            Err(e @ AuthError::Unavailable(_)) => {
                tracing::warn!(peer = %self.peer, error = %e, "submission: authentication check failed");
                AuthVerdict::TemporaryFailure
            }
        }
    }

    /// MAIL FROM on submission: the hourly limits, then the sender rule. Opens the
    /// transaction either way, so the journal shows refusals too.
    pub(crate) async fn check_submitter(&mut self, sender: Option<&Address>, params: &MailParams) -> Verdict {
        let (decision, reason) = self.submitter_decision(sender).await;
        let reply = match &decision {
            Ok(()) => "250 2.1.0".to_string(),
            Err(reply) => reply.to_string().trim_end().to_string(),
        };
        self.begin_transaction(sender, params, &reply);
        let user = self.account.as_ref().map(|a| a.address.normalized());
        if let Some(txn) = self.txn.as_mut() {
            txn.events.push(event(
                &txn.queue_id,
                "submission.sender",
                user.clone(),
                serde_json::json!({
                    "auth_user": user,
                    "from": sender.map(|s| s.to_string()).unwrap_or_default(),
                    "allowed": decision.is_ok(),
                    "reason": reason,
                }),
            ));
        }
        match decision {
            Ok(()) => Verdict::Accept,
            Err(reply) => {
                tracing::info!(target: "mail", "{}: reject MAIL from {}: {}", self.txn_id(), self.peer.ip(), reply.to_string().trim_end());
                if let Some(txn) = self.txn.take() {
                    self.write_journal(txn);
                }
                Verdict::Reject(reply)
            }
        }
    }

    /// The decision on MAIL FROM and its reason for the journal.
    async fn submitter_decision(&self, sender: Option<&Address>) -> (Result<(), Reply>, String) {
        let (Some(submission), Some(account)) = (&self.server.config.submission, &self.account) else {
            return (Err(Reply::new(530, "5.7.0", "Authentication required")), "not authenticated".into());
        };
        let now = Instant::now();
        if let Err(exceeded) =
            submission.rates.check_message(&account.address.normalized(), self.peer.ip(), now)
        {
            return (Err(exceeded.reply()), format!("{exceeded:?}"));
        }
        // RFC 5321 §4.5.5: the null sender is for automatic replies; the From check applies.
        let Some(sender) = sender else { return (Ok(()), "null sender".into()) };
        match self.may_use(submission, sender).await {
            Ok(Some(allowed)) => (Ok(()), allowed.as_str().into()),
            Ok(None) => (
                // RFC 3463 X.7.1: delivery not authorized; 553: mailbox name not allowed.
                Err(Reply::new(
                    553,
                    "5.7.1",
                    format!("<{sender}>: Sender address not owned by {}", account.address),
                )),
                "not the account's address or alias".into(),
            ),
            Err(reply) => (Err(reply), "lookup failed".into()),
        }
    }

    /// Whether the authenticated account may use `address` as a sender; `Err` for a lookup
    /// failure (451 4.3.0).
    pub(crate) async fn may_use(
        &self,
        submission: &Submission,
        address: &Address,
    ) -> Result<Option<senders::Allowed>, Reply> {
        let Some(account) = &self.account else { return Ok(None) };
        let store = self.server.store.as_ref();
        let plus = self.server.config.plus_separator;
        may_send_as(store, account, address, submission.settings.senders, plus).await.map_err(|e| {
            tracing::warn!(error = %e, "submission: sender lookup failed");
            Reply::new(451, "4.3.0", "Temporary lookup failure, try again later")
        })
    }

    /// The account's recipients per hour, counting those already accepted in this
    /// transaction; `Some(reply)` refuses one more. Not a submission session: `None`.
    pub(crate) fn recipient_rate_limit(&self) -> Option<Reply> {
        let submission = self.server.config.submission.as_ref()?;
        let account = self.account.as_ref()?;
        let pending = self.session.envelope().map_or(0, |e| e.recipients.len());
        let account = account.address.normalized();
        submission.rates.check_recipient(&account, pending, Instant::now()).err().map(|e| e.reply())
    }
}

//! Screening at end of DATA on port 25: sender authentication (SPF, DKIM, ARC, DMARC) and spam
//! scoring, after the antivirus step and before delivery.
//!
//! Order and outcomes:
//! 1. Forged trust headers are removed: `Authentication-Results:` fields carrying our
//!    authserv-id (RFC 8601 §5) and any `X-Spam-Score:`/`X-Spam-Status:`.
//! 2. Authentication; DMARC `p=reject` failures get 550 5.7.1 (when enforced), `quarantine`
//!    files the message into Junk. Our `Authentication-Results:` goes on every copy.
//! 3. Message-wide spam rules; at or above the reject threshold 550 5.7.1.
//! 4. Per recipient account (in [`crate::delivery`]): that account's classifier and
//!    correspondents are added, and the total picks INBOX or Junk; `X-Spam-*` fields go on
//!    that account's copy.
//!
//! Clients in the trusted networks (local relays, like Postfix's `mynetworks`) skip the DNS
//! checks — authentication, blocklists, HELO/PTR — but not the content rules. Trust never
//! allows relaying. Every verdict goes into the journal (`auth` and `spam` events).

use std::net::IpAddr;
use std::sync::Arc;

use mailstead_filter::auth::{AuthResults, Authenticator, Disposition, Envelope as AuthEnvelope};
use mailstead_filter::spam::{Checker, Context, Hit, Report, Thresholds, Verdict};
use mailstead_proto::smtp::{Envelope, Reply};
use mailstead_types::IpNetwork;

use crate::delivery::event;
use crate::driver::Transaction;

/// Spam scoring settings.
pub struct SpamSettings {
    /// The message-wide checks.
    pub checker: Checker,
    /// Junk and reject scores.
    pub thresholds: Thresholds,
}

/// What port 25 checks besides viruses. The default checks nothing.
#[derive(Clone, Default)]
pub struct Screening {
    /// SPF/DKIM/ARC/DMARC; `None` skips authentication.
    pub auth: Option<Arc<Authenticator>>,
    /// Whether DMARC `reject`/`quarantine` are applied (else only recorded).
    pub enforce_dmarc: bool,
    /// Spam scoring; `None` skips it.
    pub spam: Option<Arc<SpamSettings>>,
    /// Clients whose mail skips the DNS-based checks.
    pub trusted_networks: Vec<IpNetwork>,
}

impl std::fmt::Debug for Screening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screening")
            .field("auth", &self.auth.is_some())
            .field("enforce_dmarc", &self.enforce_dmarc)
            .field("spam", &self.spam.as_ref().map(|s| s.thresholds))
            .field("trusted_networks", &self.trusted_networks)
            .finish()
    }
}

/// What screening decided for the message as a whole.
#[derive(Debug, Default)]
pub(crate) struct Screened {
    /// The message with forged trust headers removed, when any were.
    pub cleaned: Option<Vec<u8>>,
    /// Our `Authentication-Results:` field (CRLF-terminated), when authentication ran.
    pub auth_header: Option<String>,
    /// DMARC asked for quarantine (and it is enforced).
    pub quarantine: bool,
    /// DMARC passed: the From domain is authenticated.
    pub dmarc_pass: bool,
    /// SPF passed for the (non-null) MAIL FROM address.
    pub spf_pass: bool,
    /// The message-wide spam report, when scoring ran.
    pub report: Option<Report>,
}

impl Screening {
    /// Whether anything is checked.
    pub fn is_active(&self) -> bool {
        self.auth.is_some() || self.spam.is_some()
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_networks.iter().any(|n| n.contains(ip))
    }

    /// Screens `message`; `Err(reply)` refuses it.
    pub(crate) async fn screen(
        &self,
        hostname: &str,
        txn: &mut Transaction,
        envelope: &Envelope,
        peer: IpAddr,
        message: &[u8],
        parsed: Option<&mail_parser::Message<'_>>,
    ) -> Result<Screened, Reply> {
        let mut out = Screened { cleaned: strip_forged(message, hostname), ..Screened::default() };
        // The caller's parse is of the message as received: with forged fields removed, the
        // content rules parse the cleaned message themselves.
        let parsed = if out.cleaned.is_some() { None } else { Some(parsed) };
        let message = out.cleaned.as_deref().unwrap_or(message);
        let trusted = self.trusted(peer);
        let mail_from = envelope.sender.as_ref().map(|s| s.to_string()).unwrap_or_default();
        let queue_id = txn.queue_id.clone();

        let auth = match (&self.auth, trusted) {
            (Some(auth), false) => {
                let results = auth
                    .verify(
                        &AuthEnvelope { remote_ip: peer, helo: &envelope.helo, mail_from: &mail_from },
                        message,
                    )
                    .await;
                txn.events.push(event(&queue_id, "auth", None, auth_journal(&results)));
                Some(results)
            }
            _ => None,
        };
        if let Some(results) = &auth {
            out.auth_header = Some(results.header().to_string());
            out.dmarc_pass = results.dmarc.status == mailstead_filter::auth::DmarcStatus::Pass;
            out.spf_pass = results.spf == mailstead_filter::auth::SpfStatus::Pass && !mail_from.is_empty();
            if self.enforce_dmarc {
                if let Some(reject) = results.reject_reply() {
                    tracing::info!(target: "mail", "{queue_id}: DMARC reject for {}", results.dmarc.from_domain);
                    return Err(Reply::new(reject.code, reject.status, reject.text));
                }
                out.quarantine = results.disposition == Disposition::Junk;
            }
        }

        if let Some(spam) = &self.spam {
            let report = if trusted {
                let mut report = Report::default();
                let analysis = match parsed {
                    Some(parsed) => {
                        mailstead_filter::spam::content::analyze_parsed(message, parsed, now_secs())
                    }
                    None => mailstead_filter::spam::content::analyze(message, now_secs()),
                };
                report.extend(analysis.hits);
                report
            } else {
                spam.checker
                    .check(&Context {
                        remote_ip: peer,
                        helo: &envelope.helo,
                        mail_from: &mail_from,
                        message,
                        parsed: parsed.flatten(),
                        auth: auth.as_ref(),
                        received_at: now_secs(),
                    })
                    .await
            };
            txn.events.push(event(&queue_id, "spam", None, report.journal(&spam.thresholds)));
            if report.verdict(&spam.thresholds) == Verdict::Reject {
                let rules: Vec<&str> =
                    report.hits.iter().filter(|h| h.score > 0.0).map(|h| h.rule.as_str()).take(8).collect();
                tracing::info!(target: "mail", "{queue_id}: spam score {:.1}, rejected ({})", report.score(), rules.join(","));
                return Err(Reply::new(
                    550,
                    "5.7.1",
                    format!("Message rejected as spam (score {:.1}: {})", report.score(), rules.join(", ")),
                ));
            }
            out.report = Some(report);
        }
        Ok(out)
    }
}

/// One account's final spam decision and the header fields for its copy.
#[derive(Debug, Clone)]
pub(crate) struct AccountVerdict {
    /// Deliver into Junk rather than INBOX.
    pub junk: bool,
    /// `X-Spam-*` fields for this copy (empty when scoring is off).
    pub headers: String,
    /// The journal's view of the decision, when it is written: for a copy the account's own
    /// rules scored or that goes to Junk (else the message-wide `spam` event says it all).
    pub journal: Option<serde_json::Value>,
}

impl Screened {
    /// Adds the account's own hits (classifier, correspondents) to the message-wide report
    /// and decides INBOX or Junk.
    pub(crate) fn for_account(&self, spam: Option<&SpamSettings>, account_hits: Vec<Hit>) -> AccountVerdict {
        let (Some(report), Some(spam)) = (&self.report, spam) else {
            return AccountVerdict {
                junk: self.quarantine,
                headers: String::new(),
                journal: self.quarantine.then(|| serde_json::json!({ "dmarc_quarantine": true })),
            };
        };
        let own_hits = !account_hits.is_empty();
        let mut report = report.clone();
        report.extend(account_hits);
        let junk = self.quarantine || report.verdict(&spam.thresholds) != Verdict::Inbox;
        // Built only when written: an inbox copy scored by the message-wide rules alone (nearly
        // every one) has its `spam` event already.
        let journal = (own_hits || junk).then(|| {
            let mut journal = report.journal(&spam.thresholds);
            journal["dmarc_quarantine"] = serde_json::json!(self.quarantine);
            journal
        });
        AccountVerdict { junk, headers: report.headers(&spam.thresholds), journal }
    }
}

fn auth_journal(results: &AuthResults) -> serde_json::Value {
    serde_json::json!({
        "spf": format!("{:?}", results.spf).to_lowercase(),
        "spf_domain": results.spf_domain,
        "dkim": results.dkim.iter().map(|d| serde_json::json!({
            "result": format!("{:?}", d.status).to_lowercase(), "domain": d.domain, "selector": d.selector,
        })).collect::<Vec<_>>(),
        "arc": format!("{:?}", results.arc).to_lowercase(),
        "dmarc": format!("{:?}", results.dmarc.status).to_lowercase(),
        "from_domain": results.dmarc.from_domain,
        "policy": results.dmarc.policy.map(|p| format!("{p:?}").to_lowercase()),
        "disposition": format!("{:?}", results.disposition).to_lowercase(),
        "override": results.dmarc.overridden.as_ref().map(|o| format!("{o:?}")),
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The message without `Authentication-Results:` fields of our authserv-id and without
/// `X-Spam-Score:`/`X-Spam-Status:`, which a sender must not be able to set; `None` when there
/// were none.
fn strip_forged(message: &[u8], hostname: &str) -> Option<Vec<u8>> {
    crate::headers::remove_fields(message, |name, value| {
        if name.eq_ignore_ascii_case("x-spam-score") || name.eq_ignore_ascii_case("x-spam-status") {
            return true;
        }
        name.eq_ignore_ascii_case("authentication-results")
            && value
                .split(|c: char| c == ';' || c.is_whitespace())
                .next()
                .is_some_and(|id| id.eq_ignore_ascii_case(hostname))
    })
}

//! The postmaster's notice of a held outgoing message: a short plain-text message delivered
//! into the INBOX of whoever `postmaster@<the sender's domain>` reaches (an account, or an
//! alias of accounts). Without such a mailbox the hold is logged as a warning instead.

use mailstead_filter::spam::Report;
use mailstead_store::model::{Account, AppendTarget, MessageData, NewMessage, NewRecipient};
use mailstead_store::resolve::resolve;
use mailstead_types::{Address, rfc5322_date};

use super::Submission;
use crate::delivery::event;
use crate::driver::{Driver, Transaction};

impl Driver<'_> {
    /// Tells the postmaster of the account's domain that the queue holds this message.
    pub(crate) async fn notify_postmaster(
        &self,
        account: &Account,
        txn: &mut Transaction,
        report: &Report,
        remote: &[NewRecipient],
        submission: &Submission,
    ) {
        let queue_id = txn.queue_id.clone();
        let postmaster = Address::parse(&format!("postmaster@{}", account.address.domain()));
        let store = self.server.store.as_ref();
        let reached = match &postmaster {
            Ok(p) => resolve(store, p, None).await.map(|r| r.local).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let threshold = submission.settings.outbound.hold_threshold;
        let text = notice_text(
            &self.server.config.hostname,
            &queue_id.to_string(),
            account,
            report,
            remote,
            threshold,
        );
        let now = Driver::now();
        let items: Vec<(NewMessage, AppendTarget)> = reached
            .iter()
            .map(|a| {
                let new = NewMessage {
                    data: MessageData::from(format!("Delivered-To: {}\r\n{text}", a.address).into_bytes()),
                    internal_date: now,
                    flags: Default::default(),
                    keywords: vec![],
                };
                (new, AppendTarget { account: a.id, mailbox: "INBOX".into() })
            })
            .collect();
        let notified: Vec<String> = if items.is_empty() {
            Vec::new()
        } else {
            match store.append_each(items).await {
                Ok(results) => reached
                    .iter()
                    .zip(results)
                    .filter(|(_, r)| r.is_ok())
                    .map(|(a, _)| a.address.to_string())
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot deliver the hold notice");
                    Vec::new()
                }
            }
        };
        if notified.is_empty() {
            tracing::warn!(
                target: "mail",
                "{queue_id}: outgoing message of {} held (score {:.1}); no postmaster@{} mailbox to tell — release with `mailstead queue retry {queue_id}`",
                account.address,
                report.score(),
                account.address.domain()
            );
        } else {
            tracing::info!(target: "mail", "{queue_id}: held; postmaster notified ({})", notified.join(","));
        }
        txn.events.push(event(
            &queue_id,
            "submission.hold",
            Some(account.address.normalized()),
            serde_json::json!({ "score": (report.score() * 10.0).round() / 10.0, "notified": notified }),
        ));
    }
}

/// The notice itself, header and body, CRLF line ends.
fn notice_text(
    hostname: &str,
    queue_id: &str,
    account: &Account,
    report: &Report,
    remote: &[NewRecipient],
    threshold: f64,
) -> String {
    let user = &account.address;
    let to: Vec<String> = remote.iter().map(|r| r.address.to_string()).collect();
    let mut rules = String::new();
    for hit in report.hits.iter().filter(|h| h.score != 0.0) {
        rules.push_str(&format!("  {:<22} {:>6.1}  {}\r\n", hit.rule, hit.score, hit.detail));
    }
    let now = Driver::now();
    format!(
        "From: Mailstead <MAILER-DAEMON@{hostname}>\r\n\
         To: postmaster@{domain}\r\n\
         Subject: Outgoing message from {user} held for review ({queue_id})\r\n\
         Date: {date}\r\n\
         Message-ID: <{queue_id}.hold@{hostname}>\r\n\
         Auto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         A message {user} submitted scored {score:.1} (hold at {threshold:.1}) as possible spam.\r\n\
         It was not sent to: {to}.\r\n\
         Recipients on this server, if any, got their copies.\r\n\
         \r\n\
         Rules that matched:\r\n\
         {rules}\
         \r\n\
         Send it anyway:   mailstead queue retry {queue_id}\r\n\
         Delete it:        mailstead queue cancel {queue_id}\r\n\
         Its whole story:  mailstead trace {queue_id}\r\n\
         \r\n\
         If {user} did not send this, the password may be stolen:\r\n\
         mailstead account passwd {user}\r\n",
        domain = user.domain(),
        date = rfc5322_date(now),
        score = report.score(),
        to = to.join(", "),
    )
}

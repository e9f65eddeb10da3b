//! The end of a submitted message: author check, completed header, DKIM signature, outbound
//! score, `Received:`, local copies, the queue entry for everything else, the reply.
//!
//! Order matters:
//! - The outbound score looks at the message as the client sent it: a missing `Date:` or
//!   `Message-ID:` is a sign of a script, which the completed header would hide.
//! - The signature covers the completed header (RFC 6409 §8 fields included) and is made
//!   before `Received:` is prepended; `Received:` is not signed (relays add their own).
//! - Local copies are stored first, then the queue entry; a failure of either answers 4xx.
//!   A queue failure after the local copies were stored makes duplicates of those on retry
//!   (rare: both are writes to the same store).
//! - A hold (outbound score at or above the threshold) keeps the *remote* recipients' copy in
//!   the queue, held; local recipients still get theirs — a hold protects the Internet and
//!   the server's reputation, mail between local users harms neither.

use std::time::Instant;

use mailstead_filter::spam::Report;
use mailstead_filter::spam::outbound::{self, OutboundVerdict};
use mailstead_proto::smtp::{Envelope, Reply};
use mailstead_store::model::{Account, NewQueued};
use mailstead_types::{Address, Domain, rfc5322_date};

use super::Submission;
use super::senders::author_addresses;
use crate::delivery::{LocalCopies, data_event, event, queue_entry, split_recipients};
use crate::driver::{Driver, Transaction};
use crate::screening::Screened;

/// What the outbound check decided, for the queue entry and the journal.
struct Outbound {
    report: Report,
    held: bool,
}

impl Driver<'_> {
    /// Handles a complete submitted message; returns the one reply.
    pub(crate) async fn submit(&mut self, envelope: &Envelope, message: Vec<u8>) -> Vec<Reply> {
        let Some(mut txn) = self.txn.take() else {
            return vec![Reply::new(451, "4.3.0", "Local error: no transaction")];
        };
        let (Some(submission), Some(account)) = (self.server.config.submission.clone(), self.account.clone())
        else {
            return self.refuse(envelope, &message, txn, Reply::new(530, "5.7.0", "Authentication required"));
        };
        let now = Driver::now();
        let (message, author) =
            match self.check_authors(&submission, &account, envelope, &mut txn, message).await {
                Ok(checked) => checked,
                Err((message, reply)) => return self.refuse(envelope, &message, txn, reply),
            };
        let outbound = self.score_outbound(&submission, &account, envelope, &mut txn, &message, now);
        let (message, added) = complete_header(message, &txn.queue_id, &self.server.config.hostname, now);
        let signatures = self.sign(&submission, &author, &mut txn, &message);
        let message = [signatures.as_bytes(), &message].concat();
        let received = self.received_field(envelope, &txn.queue_id, now);

        let (local, remote) = split_recipients(&txn, envelope);
        if !local.is_empty() {
            let copies = LocalCopies {
                recipients: &local,
                sender: envelope.sender.as_ref(),
                received: &received,
                message: &message,
                screened: &Screened::default(),
                now,
            };
            if let Some(failed) =
                self.store_copies(&mut txn, copies).await.into_iter().find(|r| r.code != 250)
            {
                return self.finish(envelope, &message, txn, failed, &added);
            }
        }
        if !remote.is_empty() {
            let data = [received.as_bytes(), &message].concat();
            let mut entry = queue_entry(envelope, &txn, &remote, data, now);
            entry.auth_user = Some(account.address.to_string());
            entry.held = outbound.held;
            if let Err(reply) = self.enqueue(&mut txn, entry).await {
                return self.finish(envelope, &message, txn, reply, &added);
            }
            if outbound.held {
                self.notify_postmaster(&account, &mut txn, &outbound.report, &remote, &submission).await;
            }
        }
        let recipients = envelope.recipients.len();
        submission.rates.record(&account.address.normalized(), self.peer.ip(), recipients, Instant::now());
        let reply = Reply::new(250, "2.0.0", format!("Ok: queued as {}", txn.queue_id));
        self.finish(envelope, &message, txn, reply, &added)
    }

    /// Holds the `From:` and `Sender:` addresses to the sender rule (`550 5.7.1` otherwise).
    /// A message without `From:` gets one: the envelope sender, else the account's address.
    /// Returns the message and the author address that picks the signing domain.
    async fn check_authors(
        &self,
        submission: &Submission,
        account: &Account,
        envelope: &Envelope,
        txn: &mut Transaction,
        message: Vec<u8>,
    ) -> Result<(Vec<u8>, Address), (Vec<u8>, Reply)> {
        let journal = |txn: &mut Transaction, data: serde_json::Value| {
            txn.events.push(event(
                &txn.queue_id,
                "submission.from",
                Some(account.address.normalized()),
                data,
            ));
        };
        let Some(authors) = author_addresses(&message) else {
            let author = envelope.sender.clone().unwrap_or_else(|| account.address.clone());
            journal(txn, serde_json::json!({ "from": author.to_string(), "added": true, "allowed": true }));
            let message = [format!("From: <{author}>\r\n").as_bytes(), &message].concat();
            return Ok((message, author));
        };
        let mut first = None;
        for author in &authors {
            let refusal = match Address::parse(author) {
                Ok(address) => match self.may_use(submission, &address).await {
                    Ok(Some(_)) => {
                        first.get_or_insert(address);
                        None
                    }
                    Ok(None) => Some(Reply::new(
                        550,
                        "5.7.1",
                        format!("<{author}>: From address not owned by {}", account.address),
                    )),
                    Err(reply) => Some(reply),
                },
                Err(_) => Some(Reply::new(550, "5.7.1", format!("From address {author:?} is not valid"))),
            };
            if let Some(reply) = refusal {
                journal(txn, serde_json::json!({ "from": authors, "allowed": false, "refused": author }));
                return Err((message, reply));
            }
        }
        journal(txn, serde_json::json!({ "from": authors, "allowed": first.is_some() }));
        match first {
            Some(author) => Ok((message, author)),
            // RFC 5322 §3.6.2: From names the author; a group without members names nobody.
            None => Err((message, Reply::new(550, "5.7.1", "The From header names no address of yours"))),
        }
    }

    /// Scores the message as submitted, with the sender's recent activity.
    fn score_outbound(
        &self,
        submission: &Submission,
        account: &Account,
        envelope: &Envelope,
        txn: &mut Transaction,
        message: &[u8],
        now: i64,
    ) -> Outbound {
        let user = account.address.normalized();
        let recipients = u32::try_from(envelope.recipients.len()).unwrap_or(u32::MAX);
        let activity = submission.outbound_rates.record(&user, recipients, now);
        let policy = &submission.settings.outbound;
        let (report, verdict) = outbound::score(message, &activity, policy, now);
        let held = verdict == OutboundVerdict::Hold;
        txn.events.push(event(
            &txn.queue_id,
            "outbound.score",
            Some(user),
            serde_json::json!({
                "score": (report.score() * 10.0).round() / 10.0,
                "verdict": if held { "hold" } else { "send" },
                "hold_threshold": policy.hold_threshold,
                "messages_this_hour": activity.messages_this_hour,
                "rules": report.hits.iter().map(|h| serde_json::json!({
                    "rule": h.rule, "score": h.score, "detail": h.detail,
                })).collect::<Vec<_>>(),
            }),
        ));
        Outbound { report, held }
    }

    /// The `DKIM-Signature:` fields for the author's domain; empty when signing is off or
    /// the domain has no key (logged and journaled: the message goes out unsigned).
    fn sign(
        &self,
        submission: &Submission,
        author: &Address,
        txn: &mut Transaction,
        message: &[u8],
    ) -> String {
        let Some(signer) = &submission.settings.signer else { return String::new() };
        let domain: &Domain = author.domain();
        let (headers, data) = match signer.sign(domain, message) {
            Ok(signed) => {
                let data = serde_json::json!({ "domain": signed.domain, "selectors": signed.selectors });
                (signed.headers, data)
            }
            Err(e) => {
                tracing::warn!(target: "mail", "{}: not DKIM-signed: {e}", txn.queue_id);
                (String::new(), serde_json::json!({ "domain": domain.to_string(), "error": e.to_string() }))
            }
        };
        txn.events.push(event(&txn.queue_id, "dkim.sign", None, data));
        headers
    }

    /// Puts the remote recipients' copy on the outbound queue; durable on return.
    async fn enqueue(&self, txn: &mut Transaction, queued: NewQueued) -> Result<(), Reply> {
        let held = queued.held;
        let to: Vec<String> = queued.recipients.iter().map(|r| r.address.to_string()).collect();
        match self.server.store.enqueue(queued).await {
            Ok(()) => {
                self.server.config.queue.wake();
                let status = if held { "held" } else { "queued" };
                for address in &to {
                    tracing::info!(target: "mail", "{}: to=<{address}>, status={status}", txn.queue_id);
                }
                txn.events.push(event(
                    &txn.queue_id,
                    "queue.enqueue",
                    None,
                    serde_json::json!({ "to": to, "held": held }),
                ));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(target: "mail", "{}: enqueue failed, sender asked to retry: {e}", txn.queue_id);
                txn.events.push(event(
                    &txn.queue_id,
                    "queue.failed",
                    None,
                    serde_json::json!({ "error": e.to_string() }),
                ));
                Err(Reply::new(451, "4.3.0", "Local error in processing, try again later"))
            }
        }
    }

    /// The mail log line, the `smtp.data` event and the journal; returns the reply.
    fn finish(
        &self,
        envelope: &Envelope,
        message: &[u8],
        mut txn: Transaction,
        reply: Reply,
        added: &[&str],
    ) -> Vec<Reply> {
        let message_id = crate::headers::first_header(message, "message-id");
        tracing::info!(
            target: "mail",
            "{}: from=<{}>, auth={}, size={}, nrcpt={}, client={}[{}], tls={}, message-id={}, reply={}",
            txn.queue_id,
            envelope.sender.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            envelope.auth_user.as_deref().unwrap_or("-"),
            message.len(),
            envelope.recipients.len(),
            envelope.helo,
            self.peer.ip(),
            self.tls.as_ref().map(|t| t.version.as_str()).unwrap_or("none"),
            message_id.as_deref().unwrap_or("-"),
            reply.code,
        );
        let mut data = data_event(&txn.queue_id, message, message_id, envelope, std::slice::from_ref(&reply));
        data.data["added_headers"] = serde_json::json!(added);
        txn.events.push(data);
        self.write_journal(txn);
        vec![reply]
    }
}

/// Adds `Message-ID:` and `Date:` when missing (RFC 6409 §8.2, §8.3); returns the message and
/// the names of the fields added. Also used for mail handed over by `sendmail`.
pub fn complete_header(
    message: Vec<u8>,
    queue_id: &mailstead_types::QueueId,
    hostname: &str,
    now: i64,
) -> (Vec<u8>, Vec<&'static str>) {
    let mut fields = String::new();
    let mut added = Vec::new();
    if crate::headers::first_header(&message, "date").is_none() {
        fields.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
        added.push("Date");
    }
    if crate::headers::first_header(&message, "message-id").is_none() {
        fields.push_str(&format!("Message-ID: <{queue_id}@{hostname}>\r\n"));
        added.push("Message-ID");
    }
    if fields.is_empty() {
        return (message, added);
    }
    ([fields.as_bytes(), &message].concat(), added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_only_missing_fields() {
        let id = mailstead_types::QueueId::parse("0193a1b2c3d4e5f60718").unwrap();
        let (m, added) = complete_header(b"From: a@b.test\r\n\r\nhi\r\n".to_vec(), &id, "mail.b.test", 0);
        assert_eq!(added, ["Date", "Message-ID"]);
        assert_eq!(
            String::from_utf8_lossy(&m),
            "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\nMessage-ID: <0193a1b2c3d4e5f60718@mail.b.test>\r\nFrom: a@b.test\r\n\r\nhi\r\n"
        );
        let full = b"Date: x\r\nMessage-ID: <1@b>\r\n\r\n".to_vec();
        assert_eq!(complete_header(full.clone(), &id, "h", 0), (full, vec![]));
    }
}

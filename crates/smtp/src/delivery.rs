//! Local delivery of an accepted message: one copy per account, each with `Return-Path:`,
//! `Delivered-To:`, its spam verdict (`X-Spam-*`), `Authentication-Results:` and the shared
//! `Received:` field, appended to INBOX (or Junk) in a single store transaction; then the
//! replies (one for SMTP, one per recipient for LMTP), the journal and the mail log.

use mailstead_filter::bayes;
use mailstead_filter::spam as spam_rules;
use mailstead_proto::smtp::{Envelope, Notify, Recipient, Reply, Ret};
use mailstead_store::model::{AppendTarget, Event, MessageData, NewMessage, NewQueued, NewRecipient};
use mailstead_store::{StoreError, StoreErrorKind};
use mailstead_types::QueueId;

use crate::Service;
use crate::driver::{Driver, Transaction};
use crate::received::{self, ReceivedInfo};
use crate::screening::{AccountVerdict, Screened};

/// Builds a journal event of this transaction.
pub fn event(queue_id: &QueueId, kind: &str, address: Option<String>, data: serde_json::Value) -> Event {
    let ts_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Event { ts_ms, queue_id: Some(queue_id.clone()), message_id: None, address, kind: kind.into(), data }
}

/// The `smtp.data` event: the end of the message and the replies it got. It alone carries the
/// Message-ID (see [`Driver::write_journal`]).
pub(crate) fn data_event(
    queue_id: &QueueId,
    message: &[u8],
    message_id: Option<String>,
    envelope: &Envelope,
    replies: &[Reply],
) -> Event {
    let replies: Vec<String> = replies.iter().map(|r| r.to_string().trim_end().to_string()).collect();
    let data = serde_json::json!({
        "size": message.len(),
        "message_id": message_id,
        "recipients": envelope.recipients.len(),
        "replies": replies,
    });
    Event { message_id, ..event(queue_id, "smtp.data", None, data) }
}

/// The recipients delivered here and the queue's recipients (other domains, and off-site
/// targets of local aliases, each once), with their DSN parameters (RFC 3461). Shared by
/// port 25 (alias forwards) and submission.
pub(crate) fn split_recipients(
    txn: &Transaction,
    envelope: &Envelope,
) -> (Vec<Recipient>, Vec<NewRecipient>) {
    let mut local = Vec::new();
    let mut remote: Vec<NewRecipient> = Vec::new();
    for rcpt in &envelope.recipients {
        let Some(resolution) = txn.resolutions.get(&rcpt.address.normalized()) else { continue };
        if !resolution.local.is_empty() {
            local.push(rcpt.clone());
        }
        for address in &resolution.remote {
            if remote.iter().any(|r| r.address.normalized() == address.normalized()) {
                continue;
            }
            remote.push(NewRecipient {
                address: address.clone(),
                // RFC 3461 §4.2: the original recipient, as the client gave it or as addressed.
                orcpt: Some(format!(
                    "rfc822;{}",
                    rcpt.params.orcpt.as_deref().unwrap_or(&rcpt.address.to_string())
                )),
                notify: rcpt.params.notify.as_ref().map(|n| notify_keywords(n)),
            });
        }
    }
    (local, remote)
}

/// `NOTIFY=` keywords as written on the wire (RFC 3461 §4.1).
fn notify_keywords(notify: &[Notify]) -> String {
    let words: Vec<&str> = notify
        .iter()
        .map(|n| match n {
            Notify::Never => "NEVER",
            Notify::Success => "SUCCESS",
            Notify::Failure => "FAILURE",
            Notify::Delay => "DELAY",
        })
        .collect();
    words.join(",")
}

/// The queue entry for `remote` under the transaction's queue id, with the envelope's DSN
/// ENVID and RET (RFC 3461 §4.3, §4.4); not held, no submitting account.
pub(crate) fn queue_entry(
    envelope: &Envelope,
    txn: &Transaction,
    remote: &[NewRecipient],
    data: Vec<u8>,
    now: i64,
) -> NewQueued {
    let params = &envelope.mail_params;
    NewQueued {
        id: txn.queue_id.clone(),
        sender: envelope.sender.clone(),
        recipients: remote.to_vec(),
        envid: params.envid.clone(),
        ret: params.ret.map(|r| match r {
            Ret::Full => "FULL".to_string(),
            Ret::Hdrs => "HDRS".to_string(),
        }),
        auth_user: None,
        held: false,
        data: MessageData::from(data),
        created: now,
    }
}

/// The reply for a failed store write.
fn failure_reply(e: &StoreError) -> Reply {
    match e.kind {
        StoreErrorKind::OverQuota => Reply::new(452, "4.2.2", "Mailbox full, try again later"),
        StoreErrorKind::Full => Reply::new(452, "4.3.1", "Insufficient system storage, try again later"),
        StoreErrorKind::NotFound => Reply::new(550, "5.1.1", "Mailbox unavailable"),
        _ => Reply::new(451, "4.3.0", "Local error in processing, try again later"),
    }
}

/// What [`Driver::store_copies`] stores.
pub(crate) struct LocalCopies<'a> {
    /// The recipients to deliver to (each resolved to local accounts in the transaction).
    pub recipients: &'a [Recipient],
    /// The envelope sender, for `Return-Path:`.
    pub sender: Option<&'a mailstead_types::Address>,
    /// The `Received:` field every copy gets.
    pub received: &'a str,
    /// The message as received (after screening's clean-up).
    pub message: &'a [u8],
    /// Screening's verdicts (default for mail that is not screened).
    pub screened: &'a Screened,
    /// Seconds since the epoch (internal date).
    pub now: i64,
}

impl Driver<'_> {
    /// Delivers the message of the current transaction and returns the session's replies.
    pub(crate) async fn deliver(&mut self, envelope: &Envelope, message: Vec<u8>) -> Vec<Reply> {
        let Some(mut txn) = self.txn.take() else {
            return vec![Reply::new(451, "4.3.0", "Local error: no transaction")];
        };
        let config = &self.server.config;
        let now = Driver::now();
        let lmtp = config.service == Service::Lmtp;
        // One parse for the antivirus policy and the content rules.
        let screens = !lmtp && config.screening.is_active();
        let parsed = if config.antivirus.is_some() || screens {
            mail_parser::MessageParser::default().parse(&message)
        } else {
            None
        };
        if let Some(reply) =
            crate::antivirus::check(config.antivirus.as_ref(), &mut txn, &message, parsed.as_ref()).await
        {
            return self.refuse(envelope, &message, txn, reply);
        }
        let mut screened = Screened::default();
        if screens {
            match config
                .screening
                .screen(&config.hostname, &mut txn, envelope, self.peer.ip(), &message, parsed.as_ref())
                .await
            {
                Ok(s) => screened = s,
                Err(reply) => return self.refuse(envelope, &message, txn, reply),
            }
        }
        let message = screened.cleaned.take().unwrap_or(message);
        let received = self.received_field(envelope, &txn.queue_id, now);
        let message_id = crate::headers::first_header(&message, "message-id");
        let accounts_of: Vec<String> = txn
            .resolutions
            .values()
            .flat_map(|r| r.local.iter().map(|a| a.address.to_string()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        // Recipients with local accounts get their copies; alias targets outside our domains
        // get one copy on the outbound queue, under this transaction's queue id. Both are
        // durable before the reply.
        let (local, forward_to) = split_recipients(&txn, envelope);
        let local_replies = if local.is_empty() {
            Vec::new()
        } else {
            let copies = LocalCopies {
                recipients: &local,
                sender: envelope.sender.as_ref(),
                received: &received,
                message: &message,
                screened: &screened,
                now,
            };
            self.store_copies(&mut txn, copies).await
        };
        let mut per_rcpt: Vec<Reply> = envelope
            .recipients
            .iter()
            .map(|r| match local.iter().position(|l| l.address == r.address) {
                Some(i) => {
                    local_replies.get(i).cloned().unwrap_or_else(|| Reply::new(451, "4.3.0", "Local error"))
                }
                None => {
                    Reply::new(250, "2.1.5", format!("<{}> Ok: forwarded as {}", r.address, txn.queue_id))
                }
            })
            .collect();
        if !forward_to.is_empty()
            && per_rcpt.iter().all(|r| r.code == 250)
            && let Err(e) = self.forward(&mut txn, envelope, &forward_to, &received, &message, now).await
        {
            tracing::warn!(target: "mail", "{}: forward not queued, sender asked to retry: {e}", txn.queue_id);
            record_failure(&mut txn, &e, None);
            per_rcpt = vec![failure_reply(&e); envelope.recipients.len()];
        }
        let queue_id = txn.queue_id.clone();
        let replies = if lmtp {
            per_rcpt
        } else if per_rcpt.iter().all(|r| r.code == 250) {
            vec![Reply::new(250, "2.0.0", format!("Ok: queued as {queue_id}"))]
        } else {
            // SMTP has one reply after DATA: ask to retry all rather than lose some.
            // The copies that were stored make duplicates on retry; per-account
            // failures (a full mailbox) are rare since RCPT already checked quota.
            per_rcpt.into_iter().find(|r| r.code != 250).into_iter().collect()
        };
        tracing::info!(
            target: "mail",
            "{queue_id}: from=<{}>, size={}, nrcpt={}, client={}[{}], tls={}, accounts={}, message-id={}, reply={}",
            envelope.sender.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            message.len(),
            envelope.recipients.len(),
            envelope.helo,
            self.peer.ip(),
            self.tls.as_ref().map(|t| t.version.as_str()).unwrap_or("none"),
            accounts_of.join(","),
            message_id.as_deref().unwrap_or("-"),
            replies.first().map(|r| r.code).unwrap_or(0),
        );
        txn.events.push(data_event(&queue_id, &message, message_id, envelope, &replies));
        self.write_journal(txn);
        replies
    }

    /// Stores one copy per distinct account of `copies.recipients` (each with `Return-Path:`,
    /// `Delivered-To:`, its spam verdict and the shared `Received:`) in one transaction, and
    /// returns one reply per recipient: `250` when all its copies are durable, else the
    /// failure. Recipients must have local accounts in `txn.resolutions`.
    pub(crate) async fn store_copies(
        &mut self,
        txn: &mut Transaction,
        copies: LocalCopies<'_>,
    ) -> Vec<Reply> {
        let LocalCopies { recipients, sender, received, message, screened, now } = copies;
        // The classifier's tokens: made when the first trained account needs them.
        let mut tokens = None;
        let return_path = received::return_path(sender);
        // One copy per distinct account; `owners[i]` lists the copies recipient i needs.
        let mut items: Vec<(NewMessage, AppendTarget)> = Vec::new();
        let mut copy_of_account: Vec<i64> = Vec::new();
        let mut mailboxes: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for rcpt in recipients {
            let mut mine = Vec::new();
            let accounts =
                txn.resolutions.get(&rcpt.address.normalized()).map(|r| r.local.clone()).unwrap_or_default();
            for account in accounts {
                let index = match copy_of_account.iter().position(|id| *id == account.id) {
                    Some(i) => i,
                    None => {
                        let verdict =
                            self.account_verdict(screened, account.id, sender, message, &mut tokens).await;
                        let mailbox = if verdict.junk {
                            self.junk_mailbox(account.id).await
                        } else {
                            "INBOX".to_string()
                        };
                        let auth_header = screened.auth_header.as_deref().unwrap_or("");
                        let mut data = Vec::with_capacity(
                            return_path.len() + received.len() + message.len() + verdict.headers.len() + 512,
                        );
                        data.extend_from_slice(return_path.as_bytes());
                        data.extend_from_slice(received::delivered_to(&account.address).as_bytes());
                        data.extend_from_slice(verdict.headers.as_bytes());
                        data.extend_from_slice(auth_header.as_bytes());
                        data.extend_from_slice(received.as_bytes());
                        data.extend_from_slice(message);
                        let new = NewMessage {
                            data: MessageData::from(data),
                            internal_date: now,
                            flags: Default::default(),
                            keywords: vec![],
                        };
                        if let Some(journal) = &verdict.journal {
                            txn.events.push(event(
                                &txn.queue_id,
                                "spam.account",
                                Some(account.address.normalized()),
                                journal.clone(),
                            ));
                        }
                        mailboxes.push(mailbox.clone());
                        items.push((new, AppendTarget { account: account.id, mailbox }));
                        copy_of_account.push(account.id);
                        items.len() - 1
                    }
                };
                mine.push(index);
            }
            owners.push(mine);
        }

        let outcome = if items.is_empty() {
            Err(StoreError::new(StoreErrorKind::NotFound, "no local account to deliver to"))
        } else {
            self.server.store.append_each(items).await
        };

        let queue_id = txn.queue_id.clone();
        match outcome {
            Err(e) => {
                tracing::warn!(target: "mail", "{queue_id}: delivery failed, sender asked to retry: {e}");
                record_failure(txn, &e, None);
                vec![failure_reply(&e); recipients.len()]
            }
            Ok(results) => {
                let mut per_rcpt = Vec::with_capacity(recipients.len());
                for (rcpt, copies) in recipients.iter().zip(&owners) {
                    let failed =
                        copies.iter().filter_map(|i| results.get(*i).and_then(|r| r.as_ref().err())).next();
                    match failed {
                        None => {
                            for i in copies {
                                if let Some(Ok(a)) = results.get(*i) {
                                    let account = copy_of_account.get(*i).copied().unwrap_or_default();
                                    let mailbox = mailboxes.get(*i).map_or("INBOX", String::as_str);
                                    tracing::info!(target: "mail", "{queue_id}: to=<{}>, status=delivered ({mailbox} uid {} of account {account})", rcpt.address, a.uid);
                                    txn.events.push(event(
                                        &queue_id,
                                        "delivery.local",
                                        Some(rcpt.address.normalized()),
                                        serde_json::json!({ "to": rcpt.address.to_string(), "mailbox": mailbox, "uid": a.uid, "uidvalidity": a.uidvalidity }),
                                    ));
                                }
                            }
                            per_rcpt.push(Reply::new(
                                250,
                                "2.1.5",
                                format!("<{}> Ok: delivered as {queue_id}", rcpt.address),
                            ));
                        }
                        Some(e) => {
                            tracing::warn!(target: "mail", "{queue_id}: to=<{}>, status=deferred ({e})", rcpt.address);
                            record_failure(txn, e, Some(rcpt.address.normalized()));
                            per_rcpt.push(failure_reply(e));
                        }
                    }
                }
                per_rcpt
            }
        }
    }

    /// Queues one copy for off-site alias targets (with our `Received:`, without
    /// `Delivered-To:`) and wakes the queue.
    async fn forward(
        &self,
        txn: &mut Transaction,
        envelope: &Envelope,
        to: &[NewRecipient],
        received: &str,
        message: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let data = [received.as_bytes(), message].concat();
        let queued = queue_entry(envelope, txn, to, data, now);
        self.server.store.enqueue(queued).await?;
        let to: Vec<String> = to.iter().map(|r| r.address.to_string()).collect();
        tracing::info!(target: "mail", "{}: forwarded to {} (queued)", txn.queue_id, to.join(", "));
        txn.events.push(event(&txn.queue_id, "forward.queued", None, serde_json::json!({ "to": to })));
        self.server.config.queue.wake();
        Ok(())
    }

    /// The spam decision for one recipient account: the message-wide report plus the
    /// account's own rules. The message is tokenized only for an account whose classifier is
    /// trained, and at most once (`tokens`).
    async fn account_verdict(
        &self,
        screened: &Screened,
        account: i64,
        sender: Option<&mailstead_types::Address>,
        message: &[u8],
        tokens: &mut Option<bayes::Tokens>,
    ) -> AccountVerdict {
        let spam = self.server.config.screening.spam.as_deref();
        let mut hits = Vec::new();
        if spam.is_some() && screened.report.is_some() {
            let store = self.server.store.as_ref();
            if self.server.trained.is_trained(store, account).await {
                let tokens = tokens.get_or_insert_with(|| bayes::tokens(message));
                match bayes::classify(store, account, tokens).await {
                    Ok(p) => hits.extend(spam_rules::account::bayes_hit(p)),
                    Err(e) => {
                        tracing::warn!(account, error = %e, "spam classifier unavailable; scoring without it")
                    }
                }
            }
            // Only an authenticated From address can be vouched for: DMARC passed for it, or
            // SPF passed for an envelope sender that is the same address.
            let envelope_sender = sender.map(|s| s.normalized());
            let from = (screened.dmarc_pass || screened.spf_pass).then(|| header_from(message)).flatten();
            if let Some(from) = from
                && (screened.dmarc_pass || envelope_sender.as_deref() == Some(from.as_str()))
                && bayes::known_correspondent(store, account, &from).await.unwrap_or(false)
            {
                hits.push(spam_rules::account::known_correspondent_hit(&from));
            }
        }
        screened.for_account(spam, hits)
    }

    /// The account's Junk mailbox (special-use `\Junk`), or INBOX when it has none.
    async fn junk_mailbox(&self, account: i64) -> String {
        match self.server.store.list_mailboxes(account).await {
            Ok(list) => list
                .into_iter()
                .find(|m| m.special_use == Some(mailstead_types::SpecialUse::Junk))
                .map_or_else(|| "INBOX".to_string(), |m| m.name),
            Err(e) => {
                tracing::warn!(account, error = %e, "cannot list mailboxes to find Junk; delivering to INBOX");
                "INBOX".to_string()
            }
        }
    }

    /// Refuses the whole message after DATA (one reply, or one per recipient for LMTP), with
    /// the mail log line and the journal.
    pub(crate) fn refuse(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
        txn: Transaction,
        reply: Reply,
    ) -> Vec<Reply> {
        let lmtp = self.server.config.service == Service::Lmtp;
        let message_id = crate::headers::first_header(message, "message-id");
        let text = reply.to_string().trim_end().to_string();
        tracing::info!(
            target: "mail",
            "{}: from=<{}>, size={}, client={}[{}], message-id={}, status=rejected ({text})",
            txn.queue_id,
            envelope.sender.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            message.len(),
            envelope.helo,
            self.peer.ip(),
            message_id.as_deref().unwrap_or("-"),
        );
        let mut txn = txn;
        txn.events.push(data_event(
            &txn.queue_id,
            message,
            message_id,
            envelope,
            std::slice::from_ref(&reply),
        ));
        self.write_journal(txn);
        vec![reply; if lmtp { envelope.recipients.len() } else { 1 }]
    }

    /// The `Received:` field of this session's message (RFC 5321 §4.4), naming the one
    /// recipient when there is exactly one.
    pub(crate) fn received_field(&self, envelope: &Envelope, queue_id: &QueueId, now: i64) -> String {
        let config = &self.server.config;
        let single = if envelope.recipients.len() == 1 {
            envelope.recipients.first().map(|r| &r.address)
        } else {
            None
        };
        received::received(&ReceivedInfo {
            helo: &envelope.helo,
            peer: self.peer.ip(),
            hostname: &config.hostname,
            protocol: received::protocol(
                config.service == Service::Lmtp,
                true,
                self.tls.is_some(),
                envelope.auth_user.is_some(),
            ),
            queue_id,
            tls: self.tls.as_ref(),
            single_recipient: single,
            now,
        })
    }

    /// Writes the transaction's events without delaying the reply: the journal is a record,
    /// the message itself is already durable. Only the `smtp.data` event carries the
    /// Message-ID: a lookup by Message-ID finds the queue id there, then every event of it.
    pub(crate) fn write_journal(&self, txn: Transaction) {
        self.server.journal.record(txn.events);
    }
}

fn record_failure(txn: &mut Transaction, e: &StoreError, address: Option<String>) {
    let queue_id = txn.queue_id.clone();
    txn.events.push(event(
        &queue_id,
        "delivery.failed",
        address,
        serde_json::json!({ "error": e.to_string() }),
    ));
}

/// The normalised address of the message's `From:` field.
fn header_from(message: &[u8]) -> Option<String> {
    let value = crate::headers::first_header(message, "from")?;
    let address = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.as_str(),
    };
    bayes::tokenize::normalize_address(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_keywords_as_on_the_wire() {
        assert_eq!(notify_keywords(&[Notify::Success, Notify::Failure]), "SUCCESS,FAILURE");
    }
}

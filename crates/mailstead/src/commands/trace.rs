//! `mailstead trace QUERY`: the journey of a message, from the event journal, on one screen.
//! QUERY is a queue id, a Message-ID (with or without angle brackets) or an address. Each
//! transaction ends with one plain sentence saying what became of the message.

use std::collections::BTreeMap;

use anyhow::Result;

use mailstead_store::JournalStore;
use mailstead_store::model::{Event, JournalQuery};
use mailstead_types::{QueueId, rfc5322_date};

use crate::commands::open_store;
use crate::datadir::DataDir;

/// Most events shown for one query.
const LIMIT: usize = 2000;

/// Runs `trace`.
pub async fn run(data: &DataDir, query: &str) -> Result<()> {
    let store = open_store(data)?;
    let query = query.trim();
    let mut events = Vec::new();
    if let Some(id) = QueueId::parse(query) {
        events = store.journal_query(JournalQuery::QueueId(id), LIMIT).await?;
    } else if query.starts_with('<') || !query.contains('@') || query.contains('>') {
        events = store.journal_query(JournalQuery::MessageId(query.to_string()), LIMIT).await?;
    } else {
        events.extend(store.journal_query(JournalQuery::Address(query.to_lowercase()), LIMIT).await?);
        if events.is_empty() {
            events = store.journal_query(JournalQuery::MessageId(format!("<{query}>")), LIMIT).await?;
        }
    }
    if events.is_empty() {
        println!("nothing in the journal for {query:?}");
        return Ok(());
    }
    let mut by_queue: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for e in events {
        let key = e.queue_id.as_ref().map(|q| q.to_string()).unwrap_or_else(|| "-".into());
        by_queue.entry(key).or_default().push(e);
    }
    for (queue_id, events) in by_queue {
        print_transaction(&queue_id, &events);
    }
    Ok(())
}

fn print_transaction(queue_id: &str, events: &[Event]) {
    let first = events.first().map(|e| e.ts_ms / 1000).unwrap_or(0);
    let message_id = events.iter().find_map(|e| e.message_id.clone()).unwrap_or_else(|| "-".into());
    println!("{queue_id}  {}  message-id {message_id}", rfc5322_date(first));
    for e in events {
        let secs = e.ts_ms.rem_euclid(86_400_000) as f64 / 1000.0;
        let (h, m, s) = ((secs / 3600.0) as u32, ((secs % 3600.0) / 60.0) as u32, secs % 60.0);
        println!("  {h:02}:{m:02}:{s:06.3}  {:<16} {}", e.kind, describe(&e.data));
    }
    println!("  => {}\n", verdict(events));
}

/// `key=value` pairs of an event's data, in a stable order.
fn describe(data: &serde_json::Value) -> String {
    match data {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// One sentence on the final state of a transaction.
pub fn verdict(events: &[Event]) -> String {
    let delivered: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "delivery.local")
        .map(|e| match text(e, "mailbox").as_str() {
            "INBOX" | "" => text(e, "to"),
            mailbox => format!("{} (into {mailbox}{})", text(e, "to"), junk_reason(events, &text(e, "to"))),
        })
        .collect();
    let failed: Vec<&Event> = events.iter().filter(|e| e.kind == "delivery.failed").collect();
    let rejected: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "smtp.rcpt" && !text(e, "reply").starts_with('2'))
        .map(|e| format!("{} ({})", text(e, "to"), text(e, "reply")))
        .collect();
    let has_data = events.iter().any(|e| e.kind == "smtp.data");
    if let Some(outbound) = outbound_verdict(events) {
        return if delivered.is_empty() {
            outbound
        } else {
            format!("delivered to {}; {outbound}", delivered.join(", "))
        };
    }
    if !failed.is_empty() {
        return format!(
            "not delivered: storing failed ({}); the sender was told to retry and will send it again",
            text(failed[0], "error")
        );
    }
    let queued = queued(events);
    if !delivered.is_empty() || queued.is_some() {
        let mut parts = Vec::new();
        if !delivered.is_empty() {
            parts.push(format!("delivered to {}", delivered.join(", ")));
        }
        parts.extend(queued);
        if !rejected.is_empty() {
            parts.push(format!("refused for {}", rejected.join(", ")));
        }
        return parts.join("; ");
    }
    if !rejected.is_empty() {
        return format!(
            "refused at RCPT for {}; the sending server returns it to its sender",
            rejected.join(", ")
        );
    }
    if !has_data {
        return "the client ended the session before sending the message".into();
    }
    let data_reply = events
        .iter()
        .filter(|e| e.kind == "smtp.data")
        .find_map(|e| e.data.get("replies")?.get(0)?.as_str().map(str::to_string))
        .unwrap_or_default();
    if data_reply.starts_with('5') {
        return format!("refused after DATA: {data_reply}; the sending server returns it to its sender");
    }
    if data_reply.starts_with('4') {
        return format!("deferred after DATA: {data_reply}; the sending server will try again");
    }
    "received, no delivery recorded".into()
}

/// What the outbound queue got of a submitted message: queued, or held for review.
fn queued(events: &[Event]) -> Option<String> {
    let e = events.iter().find(|e| e.kind == "queue.enqueue")?;
    let to: Vec<&str> = e.data.get("to")?.as_array()?.iter().filter_map(|t| t.as_str()).collect();
    let to = to.join(", ");
    if e.data.get("held").and_then(|v| v.as_bool()) != Some(true) {
        return Some(format!("queued for {to}"));
    }
    let score = events
        .iter()
        .find(|e| e.kind == "outbound.score")
        .and_then(|e| e.data.get("score")?.as_f64())
        .map(|s| format!(" (outbound spam score {s:.1})"))
        .unwrap_or_default();
    let id = e.queue_id.as_ref().map(|q| q.to_string()).unwrap_or_default();
    Some(format!("held for review{score}, not sent to {to}; send it with `mailstead queue retry {id}`"))
}

/// Why a copy went to Junk: the account's spam score, or DMARC quarantine.
fn junk_reason(events: &[Event], to: &str) -> String {
    let Some(spam) =
        events.iter().find(|e| e.kind == "spam.account" && e.address.as_deref() == Some(&to.to_lowercase()))
    else {
        return String::new();
    };
    if spam.data.get("dmarc_quarantine").and_then(|v| v.as_bool()) == Some(true) {
        return ": the sender's DMARC policy asks for quarantine".into();
    }
    match spam.data.get("score").and_then(|v| v.as_f64()) {
        Some(score) => format!(": spam score {score:.1}"),
        None => String::new(),
    }
}

/// The outcome of outbound delivery, when the transaction went to the queue: per recipient,
/// its latest state, with a plain reason for common refusals.
fn outbound_verdict(events: &[Event]) -> Option<String> {
    let mut latest: Vec<(String, &Event)> = Vec::new();
    let outcome_kinds = ["outbound.delivered", "outbound.deferred", "outbound.failed"];
    for e in events.iter().filter(|e| outcome_kinds.contains(&e.kind.as_str())) {
        let to = text(e, "to");
        match latest.iter_mut().find(|(t, _)| *t == to) {
            Some(slot) => slot.1 = e,
            None => latest.push((to, e)),
        }
    }
    if latest.is_empty() {
        return None;
    }
    let parts: Vec<String> = latest
        .iter()
        .map(|(to, e)| {
            let reply = text(e, "reply");
            let remote = text(e, "remote");
            let host = remote.split(' ').next().unwrap_or("").to_string();
            match e.kind.as_str() {
                "outbound.delivered" if host.is_empty() => format!("{to}: delivered locally"),
                "outbound.delivered" => format!("{to}: sent to {host} ({reply})"),
                "outbound.failed" => {
                    let by = if host.is_empty() { String::new() } else { format!("rejected by {host}: ") };
                    let why = explain(&reply).map(|w| format!(" — {w}")).unwrap_or_default();
                    format!("{to}: bounced, {by}{reply}{why}; the sender got a delivery status notification")
                }
                _ => {
                    let why = explain(&reply).map(|w| format!(" — {w}")).unwrap_or_default();
                    format!("{to}: still in the queue, last try: {reply}{why}; retried automatically")
                }
            }
        })
        .collect();
    Some(parts.join("\n     "))
}

/// A plain explanation of a remote refusal, for the common classes.
pub fn explain(reply: &str) -> Option<&'static str> {
    let r = reply.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
    if has(&["5.7.26", "5.7.25", "5.7.27", "unauthenticated", "dmarc", "spf", "dkim"]) {
        Some(
            "the receiver could not authenticate your domain: your SPF/DKIM/DMARC records are missing or wrong (see `mailstead dns`)",
        )
    } else if has(&["spamhaus", "blocklist", "blacklist", "listed", "rbl", "dnsbl", "poor reputation"]) {
        Some("your server's IP address is on a blocklist the receiver uses; check it and request delisting")
    } else if has(&[
        "5.1.1",
        "user unknown",
        "no such user",
        "does not exist",
        "unknown recipient",
        "recipient address rejected",
    ]) {
        Some("the recipient's address does not exist: check it for typos")
    } else if has(&["5.2.2", "mailbox full", "quota", "over quota", "insufficient storage"]) {
        Some("the recipient's mailbox is full")
    } else if has(&["null mx", "does not accept mail", "nxdomain", "does not exist (nxdomain)"]) {
        Some("the recipient's domain does not receive mail")
    } else if has(&["expired after"]) {
        Some("the receiving server could not be reached for days; the queue gave up")
    } else if has(&["mta-sts", "tlsa", "dane", "certificate", "tls is required"]) {
        Some(
            "the recipient's domain requires verified TLS (MTA-STS or DANE) and its mail server does not meet it; the mail waits in the queue until the receiver fixes its certificate or policy",
        )
    } else if has(&["cannot connect", "timed out", "connection refused", "no address found"]) {
        Some("the receiving server cannot be reached from here (is outbound port 25 blocked? see [relay])")
    } else if has(&["greylist", "try again later", "4.7.1"]) {
        Some("the receiver asks to try later (greylisting or rate limiting); nothing to do")
    } else {
        None
    }
}

/// A string field of an event's data, `""` when absent.
fn text(e: &Event, key: &str) -> String {
    e.data.get(key).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, data: serde_json::Value) -> Event {
        Event { ts_ms: 0, queue_id: None, message_id: None, address: None, kind: kind.into(), data }
    }

    #[test]
    fn outbound_outcomes_are_explained() {
        let events = vec![
            ev(
                "outbound.deferred",
                serde_json::json!({"to": "a@gmail.example", "reply": "421 4.7.0 try again later", "remote": "mx1.gmail.example [192.0.2.1]"}),
            ),
            ev(
                "outbound.failed",
                serde_json::json!({"to": "a@gmail.example", "reply": "550 5.7.26 Unauthenticated email is not accepted", "remote": "mx1.gmail.example [192.0.2.1]"}),
            ),
            ev(
                "outbound.delivered",
                serde_json::json!({"to": "b@example.org", "reply": "250 2.0.0 Ok", "remote": "mx.example.org [192.0.2.2]"}),
            ),
        ];
        let v = verdict(&events);
        assert!(v.contains("a@gmail.example: bounced, rejected by mx1.gmail.example: 550 5.7.26"), "{v}");
        assert!(v.contains("SPF/DKIM/DMARC records are missing"), "{v}");
        assert!(v.contains("b@example.org: sent to mx.example.org (250 2.0.0 Ok)"), "{v}");
        assert_eq!(
            explain("550 5.1.1 <x@y>: Recipient address rejected: User unknown"),
            Some("the recipient's address does not exist: check it for typos")
        );
        assert!(
            explain("554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org")
                .unwrap()
                .contains("blocklist")
        );
        assert!(
            explain(
                "the MTA-STS policy of gmail.example (mta-sts enforce (id 1)) allows none of its MX hosts"
            )
            .unwrap()
            .contains("requires verified TLS")
        );
        assert!(
            explain("TLS handshake failed: invalid peer certificate: UnknownIssuer (at starttls)")
                .unwrap()
                .contains("requires verified TLS")
        );
        assert_eq!(explain("250 ok"), None);
    }

    fn event(kind: &str, data: serde_json::Value) -> Event {
        Event {
            ts_ms: 0,
            queue_id: QueueId::parse("0193a1b2c3d4e5f60718"),
            message_id: None,
            address: None,
            kind: kind.into(),
            data,
        }
    }

    #[test]
    fn submitted_mail_is_delivered_here_and_queued_or_held() {
        let local =
            event("delivery.local", serde_json::json!({ "to": "bob@example.test", "mailbox": "INBOX" }));
        let queued =
            event("queue.enqueue", serde_json::json!({ "to": ["carol@remote.test"], "held": false }));
        let data = event("smtp.data", serde_json::json!({ "replies": ["250 2.0.0 Ok"] }));
        assert_eq!(
            verdict(&[local.clone(), queued, data.clone()]),
            "delivered to bob@example.test; queued for carol@remote.test"
        );
        let held = event("queue.enqueue", serde_json::json!({ "to": ["carol@remote.test"], "held": true }));
        let score = event("outbound.score", serde_json::json!({ "score": 1000.0, "verdict": "hold" }));
        assert_eq!(
            verdict(&[score, held, data]),
            "held for review (outbound spam score 1000.0), not sent to carol@remote.test; send it with \
             `mailstead queue retry 0193a1b2c3d4e5f60718`"
        );
    }
}

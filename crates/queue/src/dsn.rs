//! Delivery status notifications (RFC 3464, RFC 3461, RFC 6522): the `multipart/report`
//! message sent to the envelope sender when recipients failed, are delayed, or — when asked
//! with NOTIFY=SUCCESS — were relayed. Three parts: a plain explanation, the
//! `message/delivery-status` fields per recipient, and the original message (or only its
//! header with RET=HDRS, or when it is large).

use std::fmt::Write as _;

use mailstead_types::rfc5322_date;

/// Largest original returned whole; beyond it only the header goes back.
pub const MAX_RETURNED: usize = 256 * 1024;

/// What happened to a recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Permanent failure or expiry.
    Failed,
    /// Still being retried.
    Delayed,
    /// Handed to a server that does not send DSNs itself.
    Relayed,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Relayed => "relayed",
        }
    }

    /// The NOTIFY keyword that asks for it (RFC 3461 §4.1).
    fn notify_keyword(self) -> &'static str {
        match self {
            Action::Failed => "FAILURE",
            Action::Delayed => "DELAY",
            Action::Relayed => "SUCCESS",
        }
    }
}

/// Whether a recipient's NOTIFY parameter asks for a notice of `action`: without NOTIFY,
/// failures and delays are reported and successes are not; `NEVER` silences all.
pub fn wanted(notify: Option<&str>, action: Action) -> bool {
    match notify {
        None => action != Action::Relayed,
        Some(list) => list.split(',').any(|k| k.trim().eq_ignore_ascii_case(action.notify_keyword())),
    }
}

/// One recipient's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedRecipient {
    /// The address we tried.
    pub address: String,
    /// ORCPT as given by the submitter (`rfc822;addr`).
    pub orcpt: Option<String>,
    /// What happened.
    pub action: Action,
    /// Enhanced status (`5.1.1`).
    pub status: String,
    /// The server that answered, `dns; mx.example.org`.
    pub remote_mta: Option<String>,
    /// What it said, one line (`550 5.1.1 No such user`), or our own reason.
    pub diagnostic: String,
    /// When we last tried.
    pub last_attempt: i64,
}

/// Everything a report needs.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// Our host name (Reporting-MTA, the From address's domain).
    pub hostname: &'a str,
    /// The queue id of the original.
    pub queue_id: &'a str,
    /// Who gets the report (the original's envelope sender).
    pub to: &'a str,
    /// ENVID of the original.
    pub envid: Option<&'a str>,
    /// RET of the original (`HDRS` returns only the header).
    pub ret: Option<&'a str>,
    /// When the original arrived.
    pub arrival: i64,
    /// When the queue gives up (for delayed recipients).
    pub retry_until: Option<i64>,
    /// Now.
    pub now: i64,
    /// The recipients reported on (all of one action).
    pub recipients: Vec<ReportedRecipient>,
    /// The original message.
    pub original: &'a [u8],
}

/// The enhanced status for a reply: its own when it has one, else the class of its code.
pub fn status_of(code: u16, enhanced: Option<&str>) -> String {
    match enhanced {
        Some(s) => s.to_string(),
        None => format!("{}.0.0", (code / 100).clamp(2, 5)),
    }
}

/// The whole DSN message, CRLF line endings.
pub fn build(report: &Report<'_>) -> Vec<u8> {
    let action = report.recipients.first().map_or(Action::Failed, |r| r.action);
    let boundary = format!("{}/{}", report.queue_id, report.hostname);
    let subject = match action {
        Action::Failed => "Undelivered Mail Returned to Sender",
        Action::Delayed => "Delayed Mail (still being retried)",
        Action::Relayed => "Successful Mail Delivery Report",
    };
    let mut m = String::new();
    let _ = write!(
        m,
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: {date}\r\nMessage-ID: <{qid}.{kind}@{host}>\r\nAuto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n\
         --{boundary}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        host = report.hostname,
        to = report.to,
        date = rfc5322_date(report.now),
        qid = report.queue_id,
        kind = action.as_str(),
    );
    m.push_str(&explanation(report, action));
    let _ = write!(
        m,
        "\r\n--{boundary}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; {host}\r\nX-Mailstead-Queue-ID: {qid}\r\n",
        host = report.hostname,
        qid = report.queue_id,
    );
    if let Some(envid) = report.envid {
        let _ = write!(m, "Original-Envelope-Id: {envid}\r\n");
    }
    let _ = write!(m, "Arrival-Date: {}\r\n", rfc5322_date(report.arrival));
    for r in &report.recipients {
        m.push_str("\r\n");
        let _ = write!(m, "Final-Recipient: rfc822; {}\r\n", r.address);
        if let Some(orcpt) = &r.orcpt {
            let orcpt =
                if orcpt.contains(';') { orcpt.replacen(';', "; ", 1) } else { format!("rfc822; {orcpt}") };
            let _ = write!(m, "Original-Recipient: {orcpt}\r\n");
        }
        let _ = write!(m, "Action: {}\r\nStatus: {}\r\n", r.action.as_str(), r.status);
        if let Some(mta) = &r.remote_mta {
            let _ = write!(m, "Remote-MTA: {mta}\r\n");
        }
        let _ = write!(m, "Diagnostic-Code: smtp; {}\r\n", one_line(&r.diagnostic));
        let _ = write!(m, "Last-Attempt-Date: {}\r\n", rfc5322_date(r.last_attempt));
        if r.action == Action::Delayed
            && let Some(until) = report.retry_until
        {
            let _ = write!(m, "Will-Retry-Until: {}\r\n", rfc5322_date(until));
        }
    }
    let headers_only = report.ret.is_some_and(|r| r.eq_ignore_ascii_case("HDRS"))
        || report.original.len() > MAX_RETURNED
        || action == Action::Relayed;
    let mut out = m.into_bytes();
    if headers_only {
        let end = header_end(report.original);
        let _ = write_str(
            &mut out,
            &format!(
                "\r\n--{boundary}\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            ),
        );
        out.extend_from_slice(&report.original[..end]);
    } else {
        let _ = write_str(
            &mut out,
            &format!(
                "\r\n--{boundary}\r\nContent-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n\r\n"
            ),
        );
        out.extend_from_slice(report.original);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    let _ = write_str(&mut out, &format!("\r\n--{boundary}--\r\n"));
    out
}

fn explanation(report: &Report<'_>, action: Action) -> String {
    let mut t = String::new();
    let _ = write!(t, "This is the mail system at host {}.\r\n\r\n", report.hostname);
    match action {
        Action::Failed => t.push_str(
            "I'm sorry to have to inform you that your message could not be delivered to one or\r\n\
             more recipients. The reasons are below.\r\n",
        ),
        Action::Delayed => {
            let _ = write!(
                t,
                "Your message could not be delivered yet. It is still in the queue and delivery will be\r\n\
                 retried{}. You do not need to send it again.\r\n",
                report.retry_until.map(|u| format!(" until {}", rfc5322_date(u))).unwrap_or_default()
            );
        }
        Action::Relayed => {
            t.push_str(
                "Your message was handed to the recipients' mail servers, which do not report further.\r\n",
            );
        }
    }
    t.push_str("\r\n");
    for r in &report.recipients {
        let _ = write!(
            t,
            "<{}>: {}{}\r\n",
            r.address,
            r.remote_mta
                .as_deref()
                .map(|m| format!("{} said: ", m.trim_start_matches("dns; ")))
                .unwrap_or_default(),
            one_line(&r.diagnostic)
        );
    }
    t
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

fn write_str(out: &mut Vec<u8>, s: &str) -> std::fmt::Result {
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// The length of the header section including its empty line (or all of it).
fn header_end(message: &[u8]) -> usize {
    if let Some(i) = message.windows(4).position(|w| w == b"\r\n\r\n") {
        return i + 4;
    }
    message.windows(2).position(|w| w == b"\n\n").map_or(message.len(), |i| i + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(action: Action, ret: Option<&'static str>) -> Vec<u8> {
        build(&Report {
            hostname: "mx.example.test",
            queue_id: "01abc",
            to: "alice@example.test",
            envid: Some("ENV-7"),
            ret,
            arrival: 1_800_000_000,
            retry_until: Some(1_800_432_000),
            now: 1_800_000_600,
            recipients: vec![ReportedRecipient {
                address: "bob@remote.test".into(),
                orcpt: Some("rfc822;bob@remote.test".into()),
                action,
                status: "5.1.1".into(),
                remote_mta: Some("dns; mx.remote.test".into()),
                diagnostic: "550 5.1.1 <bob@remote.test>: Recipient address rejected".into(),
                last_attempt: 1_800_000_500,
            }],
            original: b"From: alice@example.test\r\nSubject: hi\r\n\r\nthe body\r\n",
        })
    }

    #[test]
    fn failure_report_has_the_three_parts() {
        let text = String::from_utf8(report(Action::Failed, None)).unwrap();
        for part in [
            "Subject: Undelivered Mail Returned to Sender\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "Content-Type: multipart/report; report-type=delivery-status;",
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n",
            "Original-Envelope-Id: ENV-7\r\n",
            "Final-Recipient: rfc822; bob@remote.test\r\nOriginal-Recipient: rfc822; bob@remote.test\r\n\
             Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.remote.test\r\n\
             Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: Recipient address rejected\r\n",
            "<bob@remote.test>: mx.remote.test said: 550 5.1.1",
            "Content-Type: message/rfc822\r\n\r\nFrom: alice@example.test\r\nSubject: hi\r\n\r\nthe body\r\n",
            "--01abc/mx.example.test--\r\n",
        ] {
            assert!(text.contains(part), "missing {part:?} in:\n{text}");
        }
        // It parses as the report it claims to be.
        let parsed = mail_parser_check(&text);
        assert!(parsed, "{text}");
    }

    /// A minimal structural check: three boundary-separated parts and a closing boundary.
    fn mail_parser_check(text: &str) -> bool {
        text.matches("\r\n--01abc/mx.example.test\r\n").count() == 3
            && text.ends_with("--01abc/mx.example.test--\r\n")
    }

    #[test]
    fn headers_only_and_delay_reports() {
        let text = String::from_utf8(report(Action::Failed, Some("HDRS"))).unwrap();
        assert!(text.contains(
            "Content-Type: text/rfc822-headers\r\n\r\nFrom: alice@example.test\r\nSubject: hi\r\n\r\n"
        ));
        assert!(!text.contains("the body"));
        let text = String::from_utf8(report(Action::Delayed, None)).unwrap();
        assert!(
            text.contains("Subject: Delayed Mail (still being retried)") && text.contains("Action: delayed")
        );
        assert!(text.contains("Will-Retry-Until: "));
    }

    #[test]
    fn notify_semantics() {
        assert!(
            wanted(None, Action::Failed) && wanted(None, Action::Delayed) && !wanted(None, Action::Relayed)
        );
        assert!(!wanted(Some("NEVER"), Action::Failed));
        assert!(
            wanted(Some("SUCCESS,FAILURE"), Action::Relayed)
                && !wanted(Some("SUCCESS,FAILURE"), Action::Delayed)
        );
        assert_eq!(status_of(550, None), "5.0.0");
        assert_eq!(status_of(451, Some("4.7.1")), "4.7.1");
    }
}

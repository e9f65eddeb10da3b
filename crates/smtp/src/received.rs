//! The trace header fields Mailstead adds (RFC 5321 §4.4): `Received:` when it accepts a
//! message, `Return-Path:` and `Delivered-To:` when it delivers one into a mailbox.

use std::net::IpAddr;

use mailstead_net::TlsInfo;
use mailstead_types::{Address, QueueId, rfc5322_date};

/// What the `Received:` field describes.
#[derive(Debug, Clone)]
pub struct ReceivedInfo<'a> {
    /// The client's EHLO/HELO/LHLO argument.
    pub helo: &'a str,
    /// The client's IP address.
    pub peer: IpAddr,
    /// Our host name.
    pub hostname: &'a str,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA`, `LMTP`, … (RFC 3848).
    pub protocol: &'a str,
    /// The queue id of the transaction.
    pub queue_id: &'a QueueId,
    /// TLS parameters, if the session is encrypted.
    pub tls: Option<&'a TlsInfo>,
    /// The recipient, named only when there is exactly one (privacy, as Postfix does).
    pub single_recipient: Option<&'a Address>,
    /// Seconds since the epoch.
    pub now: i64,
}

/// Formats the `Received:` field, folded, with CRLF line ends.
pub fn received(info: &ReceivedInfo<'_>) -> String {
    let helo = sanitize(info.helo);
    let mut out = format!(
        "Received: from {helo} ([{}])\r\n\tby {} (Mailstead) with {} id {}",
        info.peer, info.hostname, info.protocol, info.queue_id
    );
    if let Some(tls) = info.tls {
        out.push_str(&format!("\r\n\t(version={} cipher={})", tls.version, tls.cipher));
    }
    if let Some(rcpt) = info.single_recipient {
        out.push_str(&format!("\r\n\tfor <{rcpt}>"));
    }
    out.push_str(&format!(";\r\n\t{}\r\n", rfc5322_date(info.now)));
    out
}

/// `Return-Path: <sender>` (empty for the null sender).
pub fn return_path(sender: Option<&Address>) -> String {
    match sender {
        Some(s) => format!("Return-Path: <{s}>\r\n"),
        None => "Return-Path: <>\r\n".to_string(),
    }
}

/// `Delivered-To: <address>`: the account the copy was delivered to.
pub fn delivered_to(address: &Address) -> String {
    format!("Delivered-To: {address}\r\n")
}

/// The RFC 3848 protocol keyword.
pub fn protocol(lmtp: bool, esmtp: bool, tls: bool, authenticated: bool) -> &'static str {
    match (lmtp, esmtp, tls, authenticated) {
        (true, _, true, _) => "LMTPS",
        (true, _, false, _) => "LMTP",
        (false, false, _, _) => "SMTP",
        (false, true, false, false) => "ESMTP",
        (false, true, true, false) => "ESMTPS",
        (false, true, false, true) => "ESMTPA",
        (false, true, true, true) => "ESMTPSA",
    }
}

/// Keeps a client-supplied word safe inside a header: printable ASCII without parentheses,
/// at most 100 characters.
fn sanitize(s: &str) -> String {
    let cleaned: String =
        s.chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | '\\')).take(100).collect();
    if cleaned.is_empty() { "unknown".to_string() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_field() {
        let id = QueueId::parse("0193a1b2c3d4e5f60718").unwrap();
        let rcpt = Address::parse("bob@example.test").unwrap();
        let tls = TlsInfo { version: "TLSv1.3".into(), cipher: "TLS13_AES_256_GCM_SHA384".into(), sni: None };
        let info = ReceivedInfo {
            helo: "client.example (evil)\r\nX: y",
            peer: "192.0.2.7".parse().unwrap(),
            hostname: "mx.example.test",
            protocol: protocol(false, true, true, false),
            queue_id: &id,
            tls: Some(&tls),
            single_recipient: Some(&rcpt),
            now: 0,
        };
        assert_eq!(
            received(&info),
            "Received: from client.exampleevilX:y ([192.0.2.7])\r\n\tby mx.example.test (Mailstead) with ESMTPS id 0193a1b2c3d4e5f60718\r\n\t(version=TLSv1.3 cipher=TLS13_AES_256_GCM_SHA384)\r\n\tfor <bob@example.test>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        assert_eq!(return_path(None), "Return-Path: <>\r\n");
        assert_eq!(protocol(true, true, false, false), "LMTP");
        assert_eq!(protocol(false, true, true, true), "ESMTPSA");
    }
}

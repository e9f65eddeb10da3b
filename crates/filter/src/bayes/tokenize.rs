//! A message's tokens: what the classifier counts. Header tokens carry the header's name as a
//! prefix (`subject:free`, `from:domain:example.com`), body words carry none.
//!
//! Headers used: the names of all headers present (`header:list-id`: which headers a message
//! has says much about the software that wrote it), except the fields that mailing-list
//! software adds together with List-Id ([`LIST_FAMILY`]: one fact, counted once); Subject words
//! and style (all capitals, padding spaces, `!`, `$`, `%`, `?`); From (address, domain, the
//! shape of the local part, display-name words, or the lack of a name); the domains of To, Cc,
//! Reply-To and Return-Path and the number of recipients; host names and IP prefixes (/24 and
//! /16) in Received, the shape of each HELO name, whether a hop was `unknown`, and the number
//! of hops; the domain and the shape of Message-ID (or its absence); the time zone and shape of
//! Date; X-Mailer, User-Agent and X-MimeOLE as a whole and by word; List-Id; the MIME type,
//! charset, transfer encoding and attachment file extension of every part. A *shape* is the
//! text with digits as `9` and letters as `a` (`u` beyond ASCII), runs cut to two (see
//! [`text::shape`]): bulk mailers stamp generated IDs and forged names with a shape of their
//! own while the values never repeat. Bodies: text/* parts as text, text/html rendered to text (see [`super::text`]),
//! nested messages likewise, down to [`MAX_DEPTH`].
//!
//! Limits against hostile input: only the first [`MAX_BYTES`] of a message are read, at most
//! [`MAX_TOKENS`] distinct tokens are kept, text parts are read up to [`MAX_TEXT_BYTES`] each.
//! A leading mbox `From ` line is skipped. A message mail-parser cannot read (or that makes it
//! panic) is tokenized as plain text.
//!
//! Each token is hashed to 64 bits: the first 8 bytes (big-endian) of the SHA-256 of its text.
//! The hashes are stored in the database, so the hash function and the token spelling must
//! never change silently: changing them makes every trained count meaningless.

use std::collections::HashSet;

use mail_parser::{Addr, Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use super::text;

/// Bytes of a message read; the rest is ignored.
pub const MAX_BYTES: usize = 512 * 1024;
/// Distinct tokens kept per message.
pub const MAX_TOKENS: usize = 4000;
/// Bytes of each text part read.
pub const MAX_TEXT_BYTES: usize = 128 * 1024;
/// Depth of nested messages (message/rfc822) read.
pub const MAX_DEPTH: usize = 3;
/// Most Received headers read (the newest first: those our own servers and the sender's
/// first hops wrote).
const MAX_RECEIVED: usize = 12;
/// Fields that mailing-list software adds along with `List-Id`: their names are not tokens of
/// their own (seven tokens for one fact would outweigh the body of spam sent to a list).
const LIST_FAMILY: &[&str] = &[
    "list-help",
    "list-post",
    "list-subscribe",
    "list-unsubscribe",
    "list-archive",
    "list-owner",
    "x-beenthere",
    "x-mailman-version",
    "errors-to",
];

/// Collects distinct token hashes up to [`MAX_TOKENS`], optionally keeping their texts.
#[derive(Debug, Default)]
pub struct Collector {
    hashes: HashSet<u64>,
    order: Vec<u64>,
    texts: Option<Vec<String>>,
    scratch: String,
}

impl Collector {
    /// A collector that also keeps each new token's text (for explaining a verdict).
    pub fn recording() -> Collector {
        Collector { texts: Some(Vec::new()), ..Collector::default() }
    }

    /// The kept texts, in the order first seen (empty unless made by [`Collector::recording`]).
    pub fn recorded(self) -> Vec<String> {
        self.texts.unwrap_or_default()
    }

    /// Whether no more tokens are taken.
    pub fn is_full(&self) -> bool {
        self.hashes.len() >= MAX_TOKENS
    }

    /// Adds the token `prefix:word`.
    pub fn add(&mut self, prefix: &str, word: &str) {
        let mut token = std::mem::take(&mut self.scratch);
        token.clear();
        token.push_str(prefix);
        token.push(':');
        token.push_str(word);
        self.add_bare(&token);
        self.scratch = token;
    }

    /// Adds a token as it is.
    pub fn add_bare(&mut self, token: &str) {
        if self.is_full() {
            return;
        }
        let hash = hash(token);
        if self.hashes.insert(hash) {
            self.order.push(hash);
            if let Some(texts) = &mut self.texts {
                texts.push(token.to_string());
            }
        }
    }

    /// The hashes, sorted.
    pub fn into_hashes(self) -> Vec<u64> {
        let mut hashes = self.order;
        hashes.sort_unstable();
        hashes
    }
}

/// The stored hash of a token: the first 8 bytes of its SHA-256, big-endian.
pub fn hash(token: &str) -> u64 {
    let digest = Sha256::digest(token.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Tokenizes a message into `out`; returns the normalised From address, if any.
pub fn message(raw: &[u8], out: &mut Collector) -> Option<String> {
    let raw = skip_mbox_line(&raw[..raw.len().min(MAX_BYTES)]);
    let parse = || MessageParser::default().parse(raw);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).ok().flatten() {
        Some(parsed) if !parsed.parts.is_empty() => {
            headers(&parsed, out);
            bodies(&parsed, out, 0);
            parsed.from().and_then(first_address)
        }
        _ => {
            out.add_bare("unparsable");
            text::plain(&String::from_utf8_lossy(bounded(raw)), None, out);
            None
        }
    }
}

/// Lowercase `local@domain`: how correspondents are keyed.
pub fn normalize_address(address: &str) -> Option<String> {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase();
    let (local, domain) = a.rsplit_once('@')?;
    (!local.is_empty() && domain.contains('.') && !a.contains(char::is_whitespace)).then_some(a)
}

fn first_address(from: &Address<'_>) -> Option<String> {
    from.first().and_then(Addr::address).and_then(normalize_address)
}

fn skip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        let end = raw.iter().position(|&b| b == b'\n').map_or(raw.len(), |i| i + 1);
        &raw[end..]
    } else {
        raw
    }
}

fn bounded(data: &[u8]) -> &[u8] {
    &data[..data.len().min(MAX_TEXT_BYTES)]
}

fn bounded_str(text: &str) -> &str {
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn headers(message: &Message<'_>, out: &mut Collector) {
    let mut received = 0;
    let mut has_message_id = false;
    for header in message.headers() {
        let name = header.name().to_ascii_lowercase();
        if !LIST_FAMILY.contains(&name.as_str()) {
            out.add("header", &name);
        }
        match (name.as_str(), header.value()) {
            ("subject", HeaderValue::Text(s)) => text::plain(s, Some("subject"), out),
            ("from", HeaderValue::Address(a)) => from(a, out),
            ("to" | "cc", HeaderValue::Address(a)) => recipients(&name, a, out),
            ("reply-to" | "return-path" | "sender", value) => domain_of(&name, value, out),
            ("received", _) if received < MAX_RECEIVED => {
                received += 1;
                if let Some(raw) = raw_value(message, header) {
                    trace_hosts(raw, out);
                    trace_shape(raw, out);
                }
            }
            ("message-id", value) => {
                has_message_id = true;
                let id = value.as_text().unwrap_or_default();
                out.add("message-id", id.rsplit_once('@').map_or("none", |(_, d)| d.trim_end_matches('>')));
                out.add("message-id:shape", &text::shape(raw_value(message, header).unwrap_or(id).trim()));
            }
            ("date", _) => {
                let raw = raw_value(message, header).unwrap_or_default().trim();
                out.add("date:zone", raw.split_whitespace().last().unwrap_or("none"));
                out.add("date:shape", &text::shape(raw));
            }
            ("x-mailer" | "user-agent" | "x-mimeole" | "list-id", value) => {
                if let Some(v) = value.as_text().or_else(|| raw_value(message, header)) {
                    let v = v.trim().to_lowercase();
                    out.add(&name, &v);
                    text::plain(&v, Some(&name), out);
                }
            }
            _ => {}
        }
    }
    if !has_message_id {
        out.add_bare("message-id:missing");
    }
    out.add("received:count", &received.to_string());
    if let Some(subject) = message.subject() {
        subject_style(subject, out);
    }
}

/// How a subject is written, apart from its words.
fn subject_style(subject: &str, out: &mut Collector) {
    let mut letters = subject.chars().filter(|c| c.is_alphabetic()).peekable();
    if letters.peek().is_some() && letters.all(char::is_uppercase) {
        out.add("subject:style", "capitals");
    }
    if subject.ends_with(char::is_whitespace) || subject.contains("   ") {
        out.add("subject:style", "padded");
    }
    for mark in ["!", "$", "%", "?"] {
        if subject.contains(mark) {
            out.add("subject:style", mark);
        }
    }
}

/// The raw (undecoded) value of a header of the message.
fn raw_value<'a>(message: &'a Message<'_>, header: &mail_parser::Header<'_>) -> Option<&'a str> {
    let bytes = message.raw_message().get(header.offset_start() as usize..header.offset_end() as usize)?;
    std::str::from_utf8(bytes).ok()
}

fn from(address: &Address<'_>, out: &mut Collector) {
    let Some(first) = address.first() else { return };
    match first.address().and_then(normalize_address) {
        Some(a) => {
            if let Some((local, domain)) = a.rsplit_once('@') {
                out.add("from:domain", domain);
                out.add("from:local-shape", &text::shape(local));
            }
            out.add("from:addr", &a);
        }
        None => out.add_bare("from:addr:invalid"),
    }
    match first.name() {
        Some(name) if !name.trim().is_empty() => text::plain(name, Some("from:name"), out),
        _ => out.add_bare("from:no-name"),
    }
}

fn recipients(name: &str, address: &Address<'_>, out: &mut Collector) {
    let addresses: Vec<String> =
        address.iter().filter_map(|a| a.address().and_then(normalize_address)).collect();
    let count = match addresses.len() {
        0 => "0",
        1 => "1",
        2..=5 => "2-5",
        6..=20 => "6-20",
        _ => "many",
    };
    out.add(&format!("{name}:count"), count);
    for a in addresses.iter().take(20) {
        if let Some((_, domain)) = a.rsplit_once('@') {
            out.add(&format!("{name}:domain"), domain);
        }
    }
}

fn domain_of(name: &str, value: &HeaderValue<'_>, out: &mut Collector) {
    let address = match value {
        HeaderValue::Address(a) => a.first().and_then(Addr::address).map(str::to_string),
        HeaderValue::Text(t) => Some(t.to_string()),
        _ => None,
    };
    let domain = address
        .as_deref()
        .and_then(normalize_address)
        .and_then(|a| a.rsplit_once('@').map(|(_, d)| d.to_string()));
    out.add(&format!("{name}:domain"), domain.as_deref().unwrap_or("none"));
}

/// Host names and IP address prefixes in a Received header.
fn trace_hosts(raw: &str, out: &mut Collector) {
    for word in raw.split(|c: char| c.is_whitespace() || "()[];<>=".contains(c)) {
        let word = word.trim_matches(|c: char| c == '.' || c == ',').to_ascii_lowercase();
        let labels: Vec<&str> = word.split('.').collect();
        if labels.len() == 4
            && labels.iter().all(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()))
        {
            out.add("received:ip", &labels[..3].join("."));
            out.add("received:ip", &labels[..2].join("."));
        } else if labels.len() >= 2
            && labels
                .iter()
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            && labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_alphabetic()))
            && !word.contains('@')
        {
            out.add("received", &labels[labels.len() - 2..].join("."));
            out.add("received", &word);
        }
    }
}

/// The shape of the HELO name of a Received header, and whether the receiving server could
/// not name the sending one (`unknown`).
fn trace_shape(raw: &str, out: &mut Collector) {
    let lower = raw.to_ascii_lowercase();
    if let Some(rest) = lower.trim_start().strip_prefix("from ") {
        out.add("received:helo-shape", &text::shape(rest.split_whitespace().next().unwrap_or_default()));
    }
    if lower.contains("unknown") {
        out.add("received", "unknown");
    }
}

fn bodies(message: &Message<'_>, out: &mut Collector, depth: usize) {
    for part in &message.parts {
        if out.is_full() {
            return;
        }
        if let Some(ct) = part.content_type() {
            let mime = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase();
            out.add("content-type", &mime);
            if let Some(charset) = ct.attribute("charset") {
                out.add("charset", &charset.to_ascii_lowercase());
            }
        }
        if let Some(cte) = part.content_transfer_encoding() {
            out.add("content-transfer-encoding", &cte.to_ascii_lowercase());
        }
        if let Some(name) = part.attachment_name() {
            let ext = name.rsplit_once('.').map_or("none", |(_, e)| e);
            out.add("filename:ext", &ext.to_ascii_lowercase());
        }
        match &part.body {
            PartType::Text(t) => text::plain(bounded_str(t), None, out),
            PartType::Html(h) => text::html(bounded_str(h), out),
            PartType::Message(inner) if depth < MAX_DEPTH => {
                out.add_bare("part:message");
                bodies(inner, out, depth + 1);
            }
            PartType::Message(_) | PartType::Multipart(_) => {}
            PartType::Binary(_) | PartType::InlineBinary(_) => out.add_bare("part:binary"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(raw: &[u8]) -> Vec<String> {
        let mut c = Collector::recording();
        message(raw, &mut c);
        c.recorded()
    }

    #[test]
    fn hash_is_stable() {
        // Stored on disk: these values must never change (SHA-256 of "subject:free" and of "").
        assert_eq!(hash("subject:free"), 0x11c8_5b55_a73d_e0f6);
        assert_eq!(hash(""), 0xe3b0_c442_98fc_1c14);
    }

    #[test]
    fn headers_and_body() {
        let raw = b"From mbox-line Thu Aug 22 13:17:22 2002\nFrom: \"Big Deals\" <Deals@Spam.Example>\nTo: a@x.test, b@y.test\nSubject: FREE $$$\nReceived: from mx.spam.example (mx.spam.example [192.0.2.7]) by mail.x.test\nX-Mailer: Bulk 1.0\nContent-Type: text/plain; charset=us-ascii\n\nClick now http://buy.example.net/x\n";
        let got = texts(raw);
        for want in [
            "header:from",
            "from:domain:spam.example",
            "from:addr:deals@spam.example",
            "from:name:big",
            "to:count:2-5",
            "to:domain:y.test",
            "subject:free",
            "subject:$$$",
            "received:spam.example",
            "received:mx.spam.example",
            "received:ip:192.0.2",
            "received:ip:192.0",
            "received:helo-shape:aa.aa.aa",
            "received:count:1",
            "from:local-shape:aa",
            "subject:style:capitals",
            "subject:style:$",
            "x-mailer:bulk 1.0",
            "x-mailer:bulk",
            "content-type:text/plain",
            "charset:us-ascii",
            "click",
            "url:buy.example.net",
            "message-id:missing",
        ] {
            assert!(got.iter().any(|t| t == want), "missing {want} in {got:?}");
        }
        assert!(!got.iter().any(|t| t.contains("mbox-line")), "the mbox From line is skipped");
        let got = texts(b"Message-ID: <20020822.ABC123@mx.example>\nDate: Thu, 22 Aug 2002 13:17:22 +0100\nList-Id: <l.example>\nList-Post: <mailto:l@example>\nX-BeenThere: l@example\n\nhi\n");
        for want in [
            "message-id:mx.example",
            "message-id:shape:<99.aa99@aa.aa>",
            "date:zone:+0100",
            "date:shape:aa, 99 aa 99 99:99:99 +99",
            "header:list-id",
            "received:count:0",
        ] {
            assert!(got.iter().any(|t| t == want), "missing {want} in {got:?}");
        }
        assert!(!got.iter().any(|t| t == "header:list-post" || t == "header:x-beenthere"), "{got:?}");
    }

    #[test]
    fn sender_and_sorted_unique_hashes() {
        let mut c = Collector::default();
        let sender = message(b"From: Someone <Some.One@Example.ORG>\r\n\r\nhello hello hello\r\n", &mut c);
        assert_eq!(sender.as_deref(), Some("some.one@example.org"));
        let hashes = c.into_hashes();
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
        assert!(hashes.contains(&hash("hello")));
    }

    #[test]
    fn limits_hold_on_hostile_input() {
        let mut raw = b"Subject: x\r\n\r\n".to_vec();
        for i in 0..200_000 {
            raw.extend_from_slice(format!("w{i:07} ").as_bytes());
        }
        let mut c = Collector::default();
        message(&raw, &mut c);
        assert_eq!(c.into_hashes().len(), MAX_TOKENS);
        let mut c = Collector::default();
        assert_eq!(message(b"\xff\xfe\x00garbage", &mut c), None);
        let deep = "Content-Type: message/rfc822\r\n\r\n".repeat(50) + "Subject: deep\r\n\r\nbody\r\n";
        let mut c = Collector::default();
        message(deep.as_bytes(), &mut c);
    }

    #[test]
    fn addresses_normalise() {
        assert_eq!(normalize_address(" <A@B.Example> ").as_deref(), Some("a@b.example"));
        assert_eq!(normalize_address("nobody"), None);
        assert_eq!(normalize_address("a b@c.example"), None);
    }
}

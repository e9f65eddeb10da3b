//! What SEARCH, SORT and THREAD need from a message (RFC 9051 §6.4.4, RFC 5256, RFC 5957).
//!
//! Matching is on decoded text (RFC 2047 words and charsets decoded by mail-parser) and ignores
//! case with Unicode lower-casing, close to the i;unicode-casemap comparator Dovecot uses.

use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderValue, Message};

use super::ParsedMessage;
use super::header::fields;
use super::subject::{base_subject, is_reply_or_forward};

/// The first address of From, To or Cc, decoded, for SORT (RFC 5256 §3, RFC 5957).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressKey {
    /// The display name, RFC 2047-decoded, if any.
    pub name: Option<String>,
    /// The local part (SORT FROM/TO/CC compare this, RFC 5256 §3).
    pub mailbox: Option<String>,
    /// The domain.
    pub domain: Option<String>,
}

impl AddressKey {
    /// The DISPLAYFROM / DISPLAYTO sort key (RFC 5957 §3): the display name, else the address.
    pub fn display(&self) -> String {
        match (&self.name, &self.mailbox, &self.domain) {
            (Some(name), _, _) if !name.trim().is_empty() => name.trim().to_string(),
            (_, Some(mailbox), Some(domain)) => format!("{mailbox}@{domain}"),
            (_, Some(mailbox), None) => mailbox.clone(),
            _ => String::new(),
        }
    }
}

/// Decoded root-header data, extracted once at parse time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    subject: Option<String>,
    sent_date: Option<i64>,
    /// The Date header's calendar date in its own zone, as days since 1970-01-01.
    sent_day: Option<i64>,
    message_id: Option<String>,
    references: Vec<String>,
    in_reply_to: Vec<String>,
    from: Option<AddressKey>,
    to: Option<AddressKey>,
    cc: Option<AddressKey>,
}

impl Summary {
    pub(crate) fn of(message: Option<&Message<'_>>) -> Summary {
        let Some(message) = message.filter(|m| !m.parts.is_empty()) else {
            return Summary::default();
        };
        let date = message.date().filter(|d| d.is_valid());
        Summary {
            subject: message.subject().map(str::to_string),
            sent_date: date.map(|d| d.to_timestamp()),
            sent_day: date.map(|d| d.to_timestamp_local().div_euclid(86_400)),
            message_id: message.message_id().map(str::to_string),
            references: ids(message.references()),
            in_reply_to: ids(message.in_reply_to()),
            from: message.from().and_then(first_address),
            to: message.to().and_then(first_address),
            cc: message.cc().and_then(first_address),
        }
    }
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn first_address(address: &Address<'_>) -> Option<AddressKey> {
    // RFC 5256 §3: the first address; in group syntax, the first member.
    let addr = address.iter().next()?;
    let (mailbox, domain) = match addr.address.as_deref() {
        Some(spec) => match spec.rsplit_once('@') {
            Some((local, domain)) => (Some(local.to_string()), Some(domain.to_string())),
            None => (Some(spec.to_string()), None),
        },
        None => (None, None),
    };
    Some(AddressKey { name: addr.name.as_deref().map(str::to_string), mailbox, domain })
}

/// Case-insensitive containment; an empty needle matches everything.
fn contains(haystack: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty() || haystack.to_lowercase().contains(needle_lower)
}

impl ParsedMessage {
    /// SEARCH HEADER (RFC 9051 §6.4.4): some `name` field of the message header contains
    /// `needle` (decoded, case-insensitive). An empty needle matches any message that has the
    /// field.
    pub fn header_contains(&self, name: &str, needle: &str) -> bool {
        let needle = needle.to_lowercase();
        self.decoded_header()
            .iter()
            .any(|(field, value)| field.eq_ignore_ascii_case(name) && contains(value, &needle))
    }

    /// SEARCH BODY: some text part (decoded transfer encoding and charset; HTML as text)
    /// contains `needle`, case-insensitively.
    pub fn body_contains(&self, needle: &str) -> bool {
        let needle = needle.to_lowercase();
        self.texts.iter().any(|text| contains(text, &needle))
    }

    /// SEARCH TEXT: the header (field names and decoded values) or the body contains `needle`.
    pub fn text_contains(&self, needle: &str) -> bool {
        let lower = needle.to_lowercase();
        self.decoded_header().iter().any(|(field, value)| contains(&format!("{field}: {value}"), &lower))
            || self.body_contains(needle)
    }

    /// The Date header in seconds since the epoch (SEARCH SENTBEFORE/SENTON/SENTSINCE, SORT
    /// DATE); `None` when absent or unparsable (SORT then uses the internal date, RFC 5256 §3).
    pub fn sent_date(&self) -> Option<i64> {
        self.summary.sent_date
    }

    /// The Date header's calendar date as written, in the header's own time zone, as days since
    /// 1970-01-01: SEARCH SENTBEFORE/SENTON/SENTSINCE disregard time and time zone (RFC 9051
    /// §6.4.4). `None` when absent or unparsable.
    pub fn sent_day(&self) -> Option<i64> {
        self.summary.sent_day
    }

    /// The decoded Subject, if any.
    pub fn subject(&self) -> Option<&str> {
        self.summary.subject.as_deref()
    }

    /// The base subject for SORT SUBJECT and THREAD (RFC 5256 §2.1); empty without Subject.
    pub fn subject_base(&self) -> String {
        base_subject(self.subject().unwrap_or_default())
    }

    /// Whether the Subject marks a reply or forward (`Re:`, `Fwd:`, ...), for THREAD=REFERENCES
    /// (RFC 5256 §3, REFERENCES step 5).
    pub fn subject_is_reply(&self) -> bool {
        is_reply_or_forward(self.subject().unwrap_or_default())
    }

    /// The Message-ID without angle brackets (THREAD, RFC 5256 §3).
    pub fn message_id(&self) -> Option<&str> {
        self.summary.message_id.as_deref()
    }

    /// The message ids of References, oldest first, without angle brackets.
    pub fn references(&self) -> &[String] {
        &self.summary.references
    }

    /// The message ids of In-Reply-To, without angle brackets. RFC 5256 §3 (REFERENCES step
    /// 1.A): without valid References, the first of these is the only parent reference.
    pub fn in_reply_to(&self) -> &[String] {
        &self.summary.in_reply_to
    }

    /// The first From address (SORT FROM, DISPLAYFROM).
    pub fn first_from(&self) -> Option<&AddressKey> {
        self.summary.from.as_ref()
    }

    /// The first To address (SORT TO, DISPLAYTO).
    pub fn first_to(&self) -> Option<&AddressKey> {
        self.summary.to.as_ref()
    }

    /// The first Cc address (SORT CC).
    pub fn first_cc(&self) -> Option<&AddressKey> {
        self.summary.cc.as_ref()
    }

    /// The root header as (name, decoded value) pairs, computed on first use.
    fn decoded_header(&self) -> &[(String, String)] {
        self.decoded_header.get_or_init(|| {
            fields(self.header_of(&self.root))
                .map(|field| {
                    let mut value = field.value.to_vec();
                    value.extend_from_slice(b"\r\n");
                    let decoded = match MessageStream::new(&value).parse_unstructured() {
                        HeaderValue::Text(text) => text.into_owned(),
                        _ => String::new(),
                    };
                    (String::from_utf8_lossy(field.name).into_owned(), decoded)
                })
                .collect()
        })
    }
}

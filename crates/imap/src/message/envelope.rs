//! ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) from a raw header block.
//!
//! Every string is the header's raw text, unfolded and trimmed: encoded words stay encoded (the
//! client decodes them), as Dovecot and Cyrus do. The first occurrence of a field wins.

use imap_types::envelope::{Address, Envelope};

use super::address::{RawAddress, parse_list};
use super::header::{first_value, unfold};
use super::strings::nstring;

/// Builds the ENVELOPE of the message whose header block is `block`.
pub(crate) fn envelope(block: &[u8]) -> Envelope<'static> {
    let text = |name: &str| nstring(first_value(block, name).map(unfold));
    let addresses = |name: &str| -> Vec<Address<'static>> {
        first_value(block, name)
            .map(|value| parse_list(value).into_iter().map(to_imap).collect())
            .unwrap_or_default()
    };
    let from = addresses("From");
    let mut sender = addresses("Sender");
    let mut reply_to = addresses("Reply-To");
    // RFC 9051 §7.5.2: "If the Sender or Reply-To header lines are absent in the [RFC-5322]
    // header, or are present but empty, the server sets the corresponding member of the envelope
    // to be the same value as the from member."
    if sender.is_empty() {
        sender = from.clone();
    }
    if reply_to.is_empty() {
        reply_to = from.clone();
    }
    Envelope {
        date: text("Date"),
        subject: text("Subject"),
        from,
        sender,
        reply_to,
        to: addresses("To"),
        cc: addresses("Cc"),
        bcc: addresses("Bcc"),
        in_reply_to: text("In-Reply-To"),
        message_id: text("Message-ID"),
    }
}

fn to_imap(address: RawAddress) -> Address<'static> {
    Address {
        name: nstring(address.name),
        adl: nstring(address.adl),
        mailbox: nstring(address.mailbox),
        host: nstring(address.host),
    }
}

#[cfg(test)]
mod tests {
    use imap_types::core::NString;

    use super::*;

    fn s(value: &str) -> NString<'static> {
        nstring(Some(value))
    }

    #[test]
    fn defaults_and_raw_values() {
        let block = b"Date: Mon, 7 Feb 1994 21:52:25\r\n -0800\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\
            From: Fred <fred@example.com>\r\nSender:\r\nTo: a@x, b@y\r\n\r\n";
        let env = envelope(block);
        assert_eq!(env.date, s("Mon, 7 Feb 1994 21:52:25 -0800"));
        assert_eq!(env.subject, s("=?utf-8?q?caf=C3=A9?="));
        assert_eq!(env.from.len(), 1);
        assert_eq!(env.sender, env.from);
        assert_eq!(env.reply_to, env.from);
        assert_eq!(env.to.len(), 2);
        assert!(env.cc.is_empty());
        assert_eq!(env.message_id, NString(None));
        assert_eq!(env.from[0].name, s("Fred"));
        assert_eq!(env.from[0].host, s("example.com"));
    }

    #[test]
    fn empty_header() {
        let env = envelope(b"");
        assert_eq!(env.subject, NString(None));
        assert!(env.from.is_empty() && env.sender.is_empty());
    }
}

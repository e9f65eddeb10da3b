//! Everything IMAP needs to know about one stored message, as pure functions over its bytes.
//!
//! [`ParsedMessage::parse`] takes the raw RFC 5322 bytes (as the store keeps them, CRLF line
//! ends) and never fails; it answers:
//! - FETCH ENVELOPE, BODY, BODYSTRUCTURE as imap-types values ([`ParsedMessage::envelope`],
//!   [`ParsedMessage::body`], [`ParsedMessage::body_structure`]);
//! - FETCH `BODY[section]`, `BINARY[part]`, `BINARY.SIZE[part]` octets
//!   ([`ParsedMessage::section`], [`ParsedMessage::binary`], [`apply_partial`]);
//! - SEARCH, SORT and THREAD keys ([`ParsedMessage::header_contains`],
//!   [`ParsedMessage::subject_base`], [`ParsedMessage::references`], ...).
//!
//! # Implementation notes
//! - MIME parsing is mail-parser's (0.11): boundaries, offsets, transfer and charset decoding,
//!   RFC 2231 parameters, dates, message ids. What IMAP needs raw (ENVELOPE strings, header
//!   field lines) is read from the bytes here (`header`, `address`), because mail-parser
//!   returns those decoded.
//! - Broken MIME degrades the way Dovecot's does: a missing closing boundary ends the part at the
//!   end of its parent, an unusable multipart is a text/plain leaf, broken base64 is reported as
//!   declared (BINARY then fails). Containers nested deeper than [`MAX_DEPTH`] are leaves.
//! - No function here panics on message content; ranges are clamped to the bytes.
//! - mail-parser is guarded: a message with more than [`MAX_PARTS`] possible parts is not split,
//!   its result is dropped without recursion, and a panic inside it is contained.
//! - The message bytes are copied once; encoded message/rfc822 parts keep their decoded bytes in
//!   extra buffers, which their sub-parts' sections read from.

mod address;
mod envelope;
mod header;
mod search;
mod section;
mod strings;
mod structure;
mod subject;
mod tree;

use std::sync::OnceLock;

use imap_types::body::BodyStructure;
use imap_types::envelope::Envelope;
use mail_parser::MessageParser;

pub use search::AddressKey;
pub use section::{BinaryError, apply_partial};
pub use strings::{binary_nstring8, body_nstring, istring, nstring};
pub use subject::{base_subject, is_reply_or_forward};
pub use tree::MAX_DEPTH;

use search::Summary;
use structure::{Extensions, render};
use tree::Node;

/// One message, parsed for IMAP. Cheap to query; build it once per message and FETCH/SEARCH.
#[derive(Debug)]
pub struct ParsedMessage {
    /// Buffer 0 is the message; the others hold decoded encapsulated messages.
    buffers: Vec<Vec<u8>>,
    /// The message as a MIME tree (its header is the message header).
    root: Node,
    /// Decoded text of every text/* part, for SEARCH BODY/TEXT.
    texts: Vec<String>,
    /// Decoded header data for SEARCH/SORT/THREAD.
    summary: Summary,
    /// The root header's fields, decoded, computed on first use by a SEARCH key.
    decoded_header: OnceLock<Vec<(String, String)>>,
}

/// Messages that may have more MIME parts than this are not split into parts: they are served
/// as one text/plain body (parsing costs about 1.5 KiB of memory per part).
pub const MAX_PARTS: usize = 20_000;

/// mail-parser's parse, with a non-empty part list, or `None`. A panic inside mail-parser (it has
/// `debug_assert!`s on inconsistent states) is contained and treated as "could not parse".
fn guarded_parse(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    let parse = || MessageParser::default().parse(raw);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse))
        .ok()
        .flatten()
        .filter(|message| !message.parts.is_empty())
}

impl ParsedMessage {
    /// Parses `raw`. Never fails: whatever the bytes, there is a structure (at worst a single
    /// text/plain part).
    pub fn parse(raw: &[u8]) -> ParsedMessage {
        // Dovecot likewise stops splitting after a maximum number of MIME parts.
        let full = if tree::part_bound(raw) <= MAX_PARTS { guarded_parse(raw) } else { None };
        let (tree, summary) = match full {
            Some(message) => {
                let result = (tree::build(raw, &message), Summary::of(Some(&message)));
                tree::dismantle(message);
                result
            }
            None => {
                let header_end = header::block_len(raw);
                let header = guarded_parse(raw.get(..header_end).unwrap_or_default());
                let result = (tree::flat(raw, header_end, header.as_ref()), Summary::of(header.as_ref()));
                if let Some(message) = header {
                    tree::dismantle(message);
                }
                result
            }
        };
        ParsedMessage {
            buffers: tree.buffers,
            root: tree.root,
            texts: tree.texts,
            summary,
            decoded_header: OnceLock::new(),
        }
    }

    /// The message bytes as given to [`Self::parse`] (`RFC822`, `BODY[]`).
    pub fn raw(&self) -> &[u8] {
        self.bytes(0, 0..self.buffers.first().map_or(0, Vec::len))
    }

    /// RFC822.SIZE: the size in octets.
    pub fn size(&self) -> u32 {
        u32::try_from(self.raw().len()).unwrap_or(u32::MAX)
    }

    /// The message header with the empty line that ends it (`RFC822.HEADER`, `BODY[HEADER]`).
    pub fn header(&self) -> &[u8] {
        self.header_of(&self.root)
    }

    /// The message body (`RFC822.TEXT`, `BODY[TEXT]`).
    pub fn text(&self) -> &[u8] {
        self.body_of(&self.root)
    }

    /// FETCH ENVELOPE (RFC 9051 §7.5.2).
    pub fn envelope(&self) -> Envelope<'static> {
        envelope::envelope(self.header())
    }

    /// FETCH BODYSTRUCTURE (RFC 9051 §7.5.2): with extension data.
    pub fn body_structure(&self) -> BodyStructure<'static> {
        render(&self.root, &self.buffers, Extensions::With)
    }

    /// FETCH BODY (RFC 9051 §7.5.2): the non-extensible form, without extension data.
    pub fn body(&self) -> BodyStructure<'static> {
        render(&self.root, &self.buffers, Extensions::Without)
    }
}

#[cfg(test)]
mod tests {
    use super::ParsedMessage;

    #[test]
    fn can_be_shared_between_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ParsedMessage>();
    }
}

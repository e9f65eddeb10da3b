//! `BODY[section]<partial>` and `BINARY[part]` (RFC 9051 §6.4.5, RFC 3516).
//!
//! Part numbers (RFC 9051 §6.4.5): the parts of a multipart are numbered from 1; a non-multipart
//! message (the top level, or one encapsulated in message/rfc822) has a single part 1, its body;
//! the parts of a message/rfc822 part are the parts of the message it encapsulates. `HEADER`,
//! `HEADER.FIELDS`, `HEADER.FIELDS.NOT` and `TEXT` after a part number need a message/rfc822 part
//! and refer to the encapsulated message; `MIME` is the part's own MIME header.

use std::num::NonZeroU32;

use imap_types::core::AString;
use imap_types::fetch::Section;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;

use super::ParsedMessage;
use super::header::{Filter, filter};
use super::tree::{Kind, Node};

/// Why `BINARY[...]` cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// The part does not exist (answer NIL, or `NO` as Dovecot does).
    #[error("no such part")]
    NoSuchPart,
    /// RFC 3516 §4.3: a transfer encoding the server cannot decode: answer `NO [UNKNOWN-CTE]`.
    #[error("unknown content-transfer-encoding {0:?}")]
    UnknownEncoding(String),
    /// The encoded data is broken (invalid base64 or quoted-printable); answer `NO`
    /// (`[UNKNOWN-CTE]` is the only code clients know for BINARY failures).
    #[error("corrupt {0} data")]
    Corrupt(String),
}

/// Applies a partial fetch `<origin.count>` (RFC 9051 §6.4.5): the octets from `origin`, at most
/// `count` of them; empty when `origin` is past the end. The response names only the origin
/// (`BODY[]<origin>`).
pub fn apply_partial(data: &[u8], partial: Option<(u32, NonZeroU32)>) -> &[u8] {
    let Some((origin, count)) = partial else {
        return data;
    };
    let start = (origin as usize).min(data.len());
    let end = start.saturating_add(count.get() as usize).min(data.len());
    &data[start..end]
}

impl ParsedMessage {
    /// The octets of `BODY[section]` (`None` is `BODY[]`, the whole message), before any
    /// partial. `None` when the section does not exist (the server then returns NIL or an
    /// empty string, as it prefers).
    pub fn section(&self, section: Option<&Section<'_>>) -> Option<Vec<u8>> {
        let root = &self.root;
        let bytes = match section {
            None => self.bytes(root.buf, 0..self.buf_len(root.buf)),
            Some(Section::Header(None)) => self.header_of(root),
            Some(Section::Text(None)) => self.body_of(root),
            Some(Section::HeaderFields(None, names)) => return Some(self.fields(root, names, Filter::Only)),
            Some(Section::HeaderFieldsNot(None, names)) => {
                return Some(self.fields(root, names, Filter::Except));
            }
            Some(Section::Part(part)) => self.body_of(self.part(part.0.as_ref())?),
            Some(Section::Mime(part)) => self.header_of(self.part(part.0.as_ref())?),
            Some(Section::Header(Some(part))) => self.header_of(self.message_part(part.0.as_ref())?),
            Some(Section::Text(Some(part))) => self.body_of(self.message_part(part.0.as_ref())?),
            Some(Section::HeaderFields(Some(part), names)) => {
                return Some(self.fields(self.message_part(part.0.as_ref())?, names, Filter::Only));
            }
            Some(Section::HeaderFieldsNot(Some(part), names)) => {
                return Some(self.fields(self.message_part(part.0.as_ref())?, names, Filter::Except));
            }
        };
        Some(bytes.to_vec())
    }

    /// `BINARY[part]` (RFC 3516 §4.2): the part's body with its Content-Transfer-Encoding
    /// removed. An empty `part` is the whole message, returned as it is.
    pub fn binary(&self, part: &[NonZeroU32]) -> Result<Vec<u8>, BinaryError> {
        if part.is_empty() {
            return Ok(self.bytes(0, 0..self.buf_len(0)).to_vec());
        }
        let node = self.part(part).ok_or(BinaryError::NoSuchPart)?;
        let body = self.body_of(node);
        let Some(encoding) = node.mime.encoding.as_deref() else {
            return Ok(body.to_vec());
        };
        match encoding.to_ascii_lowercase().as_str() {
            // RFC 2045 §6.2: identity encodings.
            "7bit" | "8bit" | "binary" => Ok(body.to_vec()),
            "base64" => base64_decode(body).ok_or_else(|| BinaryError::Corrupt(encoding.into())),
            "quoted-printable" => {
                quoted_printable_decode(body).ok_or_else(|| BinaryError::Corrupt(encoding.into()))
            }
            _ => Err(BinaryError::UnknownEncoding(encoding.into())),
        }
    }

    /// `BINARY.SIZE[part]` (RFC 3516 §4.2): the size of what [`Self::binary`] returns.
    pub fn binary_size(&self, part: &[NonZeroU32]) -> Result<u32, BinaryError> {
        let len = self.binary(part)?.len();
        Ok(u32::try_from(len).unwrap_or(u32::MAX))
    }

    /// Resolves a part number (RFC 9051 §6.4.5).
    fn part(&self, path: &[NonZeroU32]) -> Option<&Node> {
        let (first, rest) = path.split_first()?;
        let mut node = part_of_message(&self.root, *first)?;
        for &number in rest {
            node = match &node.kind {
                Kind::Multipart(children) => children.get(index(number))?,
                Kind::Message(inner) => part_of_message(inner, number)?,
                Kind::Leaf => return None,
            };
        }
        Some(node)
    }

    /// Resolves a part number that must name a message/rfc822 part; returns the encapsulated
    /// message.
    fn message_part(&self, path: &[NonZeroU32]) -> Option<&Node> {
        match &self.part(path)?.kind {
            Kind::Message(inner) => Some(inner),
            _ => None,
        }
    }

    fn fields(&self, node: &Node, names: &imap_types::core::Vec1<AString<'_>>, mode: Filter) -> Vec<u8> {
        let names: Vec<&[u8]> = names.as_ref().iter().map(AsRef::as_ref).collect();
        filter(self.header_of(node), &names, mode)
    }

    fn buf_len(&self, buf: usize) -> usize {
        self.buffers.get(buf).map_or(0, Vec::len)
    }

    pub(crate) fn bytes(&self, buf: usize, range: std::ops::Range<usize>) -> &[u8] {
        self.buffers.get(buf).and_then(|b| b.get(range)).unwrap_or_default()
    }

    pub(crate) fn header_of(&self, node: &Node) -> &[u8] {
        self.bytes(node.buf, node.header.clone())
    }

    pub(crate) fn body_of(&self, node: &Node) -> &[u8] {
        self.bytes(node.buf, node.body.clone())
    }
}

/// Part `number` of a message whose top part is `top`: a child of a multipart, or the body
/// itself (part 1) of a non-multipart message.
fn part_of_message(top: &Node, number: NonZeroU32) -> Option<&Node> {
    match &top.kind {
        Kind::Multipart(children) => children.get(index(number)),
        _ if number.get() == 1 => Some(top),
        _ => None,
    }
}

fn index(number: NonZeroU32) -> usize {
    number.get() as usize - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_ranges() {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        assert_eq!(apply_partial(b"0123456789", None), b"0123456789");
        assert_eq!(apply_partial(b"0123456789", Some((2, n(3)))), b"234");
        assert_eq!(apply_partial(b"0123456789", Some((8, n(5)))), b"89");
        assert_eq!(apply_partial(b"0123456789", Some((20, n(5)))), b"");
        assert_eq!(apply_partial(b"0123456789", Some((0, n(u32::MAX)))), b"0123456789");
    }
}
